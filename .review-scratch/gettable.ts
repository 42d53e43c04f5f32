import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CatenaNode } from '/work/main/src/server/node.ts';
import { Client } from '/work/main/src/client/client.ts';

const dir = mkdtempSync(join(tmpdir(), 'gt-'));
const node = await CatenaNode.start({ dataDir: dir, port: 0, durability: 'fsync' });
const c = await Client.connect({ port: node.port });
for (let i = 0; i < 3; i++) await c.put(`v${i}`, Buffer.alloc(8 * 1024 * 1024, 1));
await c.put('small', 'x');
const other = c.get('small');
try { const t = await c.gettable(); console.log('gettable ok', t.entries.length); } catch (e) { console.log('gettable failed:', (e as any).code, (e as Error).message); }
try { console.log('concurrent get on same client:', (await other)?.value.toString()); } catch (e) { console.log('concurrent get failed:', (e as any).code); }
try { await c.get('small'); } catch (e) { console.log('later call on same client:', (e as any).code); }
// scan/getkeys with an over-long prefix/after (no key-size check on them)
const c2 = await Client.connect({ port: node.port });
for (const [what, fn] of [
  ['scan prefix 3000B', () => c2.scan({ prefix: Buffer.alloc(3000, 0x61) })],
  ['scan after 3000B', () => c2.scan({ after: Buffer.alloc(3000, 0x61) })],
  ['getkeys prefix 3000B', () => c2.getkeys({ prefix: Buffer.alloc(3000, 0x61) })],
] as const) {
  try { const r = await fn(); console.log(what, 'ok', JSON.stringify(r).slice(0, 80)); } catch (e) { console.log(what, 'failed:', (e as any).code, (e as Error).message.slice(0, 120)); }
}
await c2.close(); await c.close(); await node.stop();
