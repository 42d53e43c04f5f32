// The real-process fault suite (issue #4), run once per coordinator backend: a 3-node chain of
// `catena server` processes under a concurrent read/write load through the cluster client; one
// fault per test; afterwards every key is read again and the whole history must be
// linearizable (so no acknowledged write was lost), and the load must have kept going: no
// stretch without a completed operation longer than the session timeout plus 2 s (plus the
// client's attempt timeout when the fault freezes the node a request is waiting on).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  assertLinearizable,
  finalReads,
  sleep,
  startCluster,
  startLoad,
  type CoordinatorKind,
  type TestCluster,
} from '../helpers/cluster.js';
import { killLeftoverServers } from '../helpers/server-process.js';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';

const sessionTimeoutMs = 2_000;
const keys = 4;
/** The cluster client gives up on one attempt after this long and tries elsewhere. */
const attemptTimeoutMs = 1_000;
const serviceGapMaxMs = sessionTimeoutMs + 2_000 + attemptTimeoutMs;

type Scenario = (cluster: TestCluster) => Promise<void>;

export function faultSuite(kind: CoordinatorKind, skip: string | false): void {
  describe(`cluster faults on the ${kind} coordinator`, { skip, concurrency: 1 }, () => {
    let dir: { path: string; remove: () => void };
    const sub = (name: string) => join(dir.path, name);
    before(() => {
      dir = tempDir();
    });
    after(async () => {
      await killLeftoverServers();
      dir.remove();
    });

    const withCluster = async (name: string, scenario: Scenario, nodes = 3, peerProxies = false): Promise<void> => {
      const cluster = await startCluster({ nodes, coordinator: kind, dir: sub(name), sessionTimeoutMs, peerProxies });
      try {
        const load = startLoad(cluster, { clients: 4, keys });
        await load.progress(50);
        await scenario(cluster);
        await load.progress(50, 20_000);
        const result = await load.stop();
        process.stderr.write(
          `[faults ${kind}] ${name}: ${result.ok} operations, ${result.unknown} unknown, longest gap ${result.longestGapMs} ms\n`,
        );
        await finalReads(cluster, keys, result.operations);
        assertLinearizable(result.operations);
        assert(result.ok > 100, `the load made progress (${result.ok} operations)`);
        assert(
          result.longestGapMs <= serviceGapMaxMs,
          `service came back within ${serviceGapMaxMs} ms (longest gap ${result.longestGapMs} ms)`,
        );
      } finally {
        await cluster.stop();
      }
    };

    const killRole =
      (role: 'head' | 'middle' | 'tail'): Scenario =>
      async (cluster) => {
        const chain = await cluster.waitForMembers(3);
        const victim = role === 'head' ? chain.members[0]! : role === 'tail' ? chain.members[2]! : chain.members[1]!;
        cluster.byId(victim).kill('SIGKILL');
        await cluster.waitForChain((c) => c.members.length === 2 && !c.members.includes(victim), `${role} removed`);
      };

    it('SIGKILL the head', () => withCluster('kill-head', killRole('head')));
    it('SIGKILL a middle node', () => withCluster('kill-middle', killRole('middle')));
    it('SIGKILL the tail', () => withCluster('kill-tail', killRole('tail')));

    it('SIGSTOP the tail past the session timeout, then SIGCONT: no stale read', () =>
      withCluster('stop-tail', async (cluster) => {
        const chain = await cluster.waitForMembers(3);
        const tail = cluster.byId(chain.members[2]!);
        await tail.freeze();
        await cluster.waitForChain((c) => !c.members.includes(tail.nodeId), 'the frozen tail removed');
        await sleep(500); // writes go on through the new tail
        tail.kill('SIGCONT');
        // It comes back with an expired session, and must rejoin rather than serve.
        await cluster.waitForMembers(3);
      }));

    // A cut chain link is seen by nobody's coordinator session: only the neighbours' heartbeats
    // notice it. Without them the chain's writes would stall until the link heals.
    const cutLink =
      (upper: number, lower: number): Scenario =>
      async (cluster) => {
        const chain = await cluster.waitForMembers(3);
        const [a, b] = [chain.members[upper]!, chain.members[lower]!];
        cluster.cutLink(a, b);
        // b is removed on a's report (it may rejoin behind another node at once: a and b are
        // no longer neighbours either way).
        const apart = (c: { members: string[] }) => Math.abs(c.members.indexOf(a) - c.members.indexOf(b)) !== 1;
        await cluster.waitForChain((c) => apart(c) || !c.members.includes(b), `${b} removed on ${a}'s report`, 10_000);
        await sleep(1_000); // writes go on while the link stays cut
        cluster.healLink(a, b);
        await cluster.waitForMembers(3);
      };

    it('cut the link between head and middle, every session kept: the middle is removed, writes go on', () =>
      withCluster('cut-head-middle', cutLink(0, 1), 3, true));
    it('cut the link between middle and tail, every session kept: the tail is removed, writes go on', () =>
      withCluster('cut-middle-tail', cutLink(1, 2), 3, true));

    it('kill the manager: another node takes over', () =>
      withCluster('kill-manager', async (cluster) => {
        const chain = await cluster.waitForMembers(3);
        const manager = chain.manager;
        assert.notEqual(manager, '');
        cluster.byId(manager).kill('SIGKILL');
        const next = await cluster.waitForChain(
          (c) => c.manager !== manager && c.manager !== '' && !c.members.includes(manager),
          'a new manager that removed the old one',
        );
        assert.notEqual(next.manager, manager);
      }));

    it('a killed node restarts and rejoins by delta catch-up', () =>
      withCluster('restart-node', async (cluster) => {
        const chain = await cluster.waitForMembers(3);
        const victim = chain.members[1]!;
        const index = cluster.indexOf(victim);
        const server = cluster.byId(victim);
        server.kill('SIGKILL');
        await server.exited;
        await cluster.waitForChain((c) => !c.members.includes(victim), 'the killed node removed');
        await sleep(300);
        const restarted = await cluster.startNode(index);
        assert.equal(restarted.nodeId, victim, 'same data directory, same node id');
        const back = await cluster.waitForMembers(3);
        assert.equal(back.members[2], victim, 'it rejoined as the tail');
        assert.doesNotMatch(restarted.stderr(), /receiving a snapshot/, 'caught up by delta, not by snapshot');
      }));

    it('a fourth node added under load becomes the tail', () =>
      withCluster('add-node', async (cluster) => {
        await cluster.waitForMembers(3);
        const added = await cluster.startNode(3);
        const chain = await cluster.waitForMembers(4);
        assert.equal(chain.members[3], added.nodeId);
      }));

    it('the whole cluster restarts with its data', async () => {
      const cluster = await startCluster({ nodes: 3, coordinator: kind, dir: sub('restart-all'), sessionTimeoutMs });
      try {
        const load = startLoad(cluster, { clients: 4, keys });
        await load.progress(100);
        const before = await load.stop();
        await finalReads(cluster, keys, before.operations);
        const last = new Map(
          before.operations
            .filter((op) => op.client === 1_000)
            .map((op) => [op.key, op.output?.f === 'get' && op.output.found ? op.output.value : undefined]),
        );
        await Promise.all(cluster.live.map((s) => s.stop()));
        await Promise.all([0, 1, 2].map((i) => cluster.startNode(i)));
        await cluster.waitForMembers(3, 60_000);
        const again: typeof before.operations = [];
        await finalReads(cluster, keys, again);
        for (const op of again) {
          const value = op.output?.f === 'get' && op.output.found ? op.output.value : undefined;
          assert.equal(value, last.get(op.key), `${op.key} survived the restart`);
        }
      } finally {
        await cluster.stop();
      }
    });
  });
}
