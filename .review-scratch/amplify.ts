import { connect } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CatenaNode } from '/work/main/src/server/node.ts';
import { Client } from '/work/main/src/client/client.ts';
import { encodeRequestFrame } from '/work/main/src/protocol/native/codec.ts';

const dir = mkdtempSync(join(tmpdir(), 'amp-'));
const node = await CatenaNode.start({ dataDir: dir, port: 0, durability: 'memory' });
const c = await Client.connect({ port: node.port });
await c.put('big', Buffer.alloc(4 * 1024 * 1024, 1));
const frames = [];
for (let i = 1; i <= 400; i++) frames.push(encodeRequestFrame(i, { case: 'get', value: { key: Buffer.from('big') } } as never));
const batch = Buffer.concat(frames);
console.log('request bytes sent:', batch.length);
const before = process.memoryUsage().arrayBuffers;
const s = connect({ port: node.port });
s.on('connect', () => { s.write(batch); s.pause(); }); // never read replies
await new Promise((r) => setTimeout(r, 2000));
const after = process.memoryUsage().arrayBuffers;
console.log('server-process arrayBuffers grew by MiB:', ((after - before) / 2 ** 20).toFixed(0), '(connectionOutputBytesMax is 16 MiB)');
s.destroy(); await c.close(); await node.stop();
