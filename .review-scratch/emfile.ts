import { connect } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CatenaNode } from '/work/main/src/server/node.ts';
import { Client } from '/work/main/src/client/client.ts';

const dir = mkdtempSync(join(tmpdir(), 'emfile-'));
const node = await CatenaNode.start({ dataDir: dir, port: 0, durability: 'fsync',
  log: { log: (l, m, f) => console.error('LOG', l, m, JSON.stringify(f)) },
  onFatal: (e) => console.error('FATAL', e) });
const c0 = await Client.connect({ port: node.port });
await c0.put('k', 'v');
const sockets = [];
process.on('uncaughtException', (e) => { console.error('UNCAUGHT', e.message); });
for (let i = 0; i < 300; i++) {
  const s = connect({ port: node.port });
  s.on('error', () => {});
  sockets.push(s);
}
await new Promise((r) => setTimeout(r, 1000));
for (const s of sockets) s.destroy();
await new Promise((r) => setTimeout(r, 300));
try { console.log('get after EMFILE:', (await c0.get('k'))?.value.toString()); } catch (e) { console.log('get failed:', (e as Error).message); }
try { console.log('put after EMFILE:', await c0.put('k2', 'v2')); } catch (e) { console.log('put failed:', (e as Error).message); }
process.exit(0);
