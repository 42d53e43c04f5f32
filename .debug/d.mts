import { startCluster, sleep } from '/work/main/test/helpers/cluster.js';
import { connectCoordinator } from '/work/main/src/coordination/connect.js';
const t0 = Date.now();
const log = (...a: unknown[]) => console.log(Date.now() - t0, ...a);
const cluster = await startCluster({ nodes: 3, coordinator: 'embedded', dir: '/tmp/dbg' + Date.now(), sessionTimeoutMs: 4000 });
const zk = await connectCoordinator(cluster.coordinatorUrl, { sessionTimeoutMs: 4000 });
const dump = async () => {
  for (const n of await zk.children('/catena/test/nodes')) {
    const d = await zk.get('/catena/test/nodes/' + n);
    const info = JSON.parse(Buffer.from(d!.data).toString());
    console.log('  ', n, JSON.stringify(info.report), 'v', d!.version);
  }
  const c = await zk.get('/catena/test/chains/c0');
  console.log('  chain', Buffer.from(c!.data).toString());
};
let chain = await cluster.waitForMembers(3);
const victim = chain.members[1]!;
const idx = cluster.indexOf(victim);
cluster.byId(victim).kill('SIGKILL');
await cluster.waitForChain((c) => !c.members.includes(victim), 'removed');
await sleep(200);
await cluster.startNode(idx);
await cluster.waitForChain((c) => c.members.length === 3 && c.members[2] === victim, 'back');
log('back; dump:');
await dump();
cluster.byId(victim).kill('SIGKILL');
log('killed tail');
await sleep(1000);
log('after 1 s:');
await dump();
await zk.close();
await cluster.stop();
