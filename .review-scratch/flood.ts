import { connect } from 'node:net';
import { Client } from '/work/main/src/client/client.ts';
const port = Number(process.argv[2]);
const c0 = await Client.connect({ port });
await c0.put('k', 'v');
const sockets = [];
for (let i = 0; i < 300; i++) { const s = connect({ port }); s.on('error', () => {}); sockets.push(s); }
await new Promise((r) => setTimeout(r, 1500));
for (const s of sockets) s.destroy();
await new Promise((r) => setTimeout(r, 500));
try { console.log('get after flood:', (await c0.get('k'))?.value.toString()); } catch (e) { console.log('get failed:', (e as Error).message); }
try { console.log('put after flood:', await c0.put('k2', 'v2')); } catch (e) { console.log('put failed:', (e as Error).message); }
try { const c1 = await Client.connect({ port }); console.log('new client put:', await c1.put('k3','v')); } catch (e) { console.log('new client failed:', (e as Error).message); }
process.exit(0);
