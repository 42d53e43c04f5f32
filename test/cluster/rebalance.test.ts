// Moving slots between chains under a checked load (issue #5: "a 9-node, 3-chain cluster serves
// a checked load while a chain is added and another removed, with nothing lost and every history
// linearizable"). Real processes on the embedded coordinator:
//
//   1. 9 nodes with the layout "3 chains of 3": c0, c1 and c2 form;
//   2. a data set of 600 keys is written, and a concurrent load (get, put, incr, cas over keys
//      of every chain, recorded for the linearizability checker) starts;
//   3. chain remove c1: c1 hands its slots to c0 and c2, and in the middle of that move its head
//      is SIGKILLed; the move resumes, c1 is retired and its nodes become spare;
//   4. chain add: the killed node restarts, c3 forms from the three spare nodes, and a third of
//      the slots move to it;
//   5. the load stops; every key is read again; the history must be linearizable, and every key
//      of the data set must hold its value, once, on the chain owning its slot.
// The manager copies slowly here (--move-rate) so the kill lands inside a move.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '../../src/client/client.js';
import { ClusterClient, type Topology } from '../../src/client/cluster-client.js';
import { SlotTable } from '../../src/sharding/slot-map.js';
import { keySlot } from '../../src/sharding/slots.js';
import { assertLinearizable, finalReads, startCluster, startLoad, type TestCluster } from '../helpers/cluster.js';
import { killLeftoverServers } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const dataKeys = Array.from({ length: 600 }, (_, i) => `data:${i}`);
const valueOf = (i: number) => `value-${i}-${'x'.repeat(200)}`;
const loadKeys = 12;

const tableOf = (topology: Topology) =>
  new SlotTable({
    version: Number(topology.slotsVersion),
    ranges: topology.slots.map((r) => [r.first, r.last, r.chainId] as const),
  });

/** Every chain of the list has 3 live members, owns a fair share of the slots, and nothing moves. */
const settled = (chains: string[], live: () => Set<string>) => (t: Topology) =>
  t.migration === undefined &&
  t.chains.length === chains.length &&
  t.chains.every(
    (c) => chains.includes(c.chainId) && c.members.length === 3 && c.members.every((m) => live().has(m)),
  ) &&
  chains.every((id) => {
    const owned = t.slots.filter((r) => r.chainId === id).reduce((n, r) => n + r.last - r.first + 1, 0);
    return Math.abs(owned - 16384 / chains.length) <= 1;
  });

describe('moving slots between chains under a checked load: a 9-node, 3-chain cluster', { concurrency: 1 }, () => {
  let dir: { path: string; remove: () => void };
  let cluster: TestCluster;

  before(async () => {
    dir = tempDir();
    cluster = await startCluster({
      nodes: 9,
      coordinator: 'embedded',
      dir: dir.path,
      layout: { chains: 3, replicas: 3 },
      serverArgs: ['--move-rate', String(40 * 1024)],
    });
  });
  after(async () => {
    await cluster?.stop();
    await killLeftoverServers();
    dir.remove();
  });

  it('removes a chain (its head killed mid-move) and adds another: nothing lost, every history linearizable', async () => {
    const live = () => new Set(cluster.live.map((s) => s.nodeId));
    const writer = await ClusterClient.connect({ seeds: cluster.seeds(), timeoutMs: 30_000 });
    try {
      await Promise.all(dataKeys.map((key, i) => writer.put(key, valueOf(i))));
    } finally {
      await writer.close();
    }
    const load = startLoad(cluster, { clients: 4, keys: loadKeys });
    await load.progress(40);

    const before = (await cluster.topology())!;

    // Remove c1; kill its head while a move away from it is under way.
    await cluster.setLayout({ chains: 2, replicas: 3, retired: ['c1'] });
    const moving = await cluster.waitForTopology((t) => t.migration?.fromChain === 'c1', 'a move away from c1', 60_000);
    const victim = before.chains.find((c) => c.chainId === 'c1')!.members[0]!;
    const victimIndex = cluster.indexOf(victim);
    cluster.byId(victim).kill('SIGKILL');
    await cluster.byId(victim).exited;
    process.stderr.write(
      `[rebalance] killed ${victim} (head of c1) during the move of slots ${moving.migration!.first}-${moving.migration!.last} (${moving.migration!.stage})\n`,
    );
    await cluster.waitForTopology(
      (t) =>
        t.migration === undefined &&
        t.chains.every((c) => c.chainId !== 'c1') &&
        t.slots.every((r) => r.chainId !== 'c1'),
      'c1 emptied and retired',
      120_000,
    );
    await load.progress(40, 30_000);

    // Add a chain: the killed node comes back, and c3 forms from the three spare nodes.
    await cluster.startNode(victimIndex);
    await cluster.setLayout({ chains: 3, replicas: 3, retired: ['c1'] });
    const final = await cluster.waitForTopology(
      settled(['c0', 'c2', 'c3'], live),
      'c3 formed and the slots spread',
      120_000,
    );
    await load.progress(40, 30_000);
    const result = await load.stop();
    process.stderr.write(
      `[rebalance] ${result.ok} operations, ${result.unknown} unknown, longest gap ${result.longestGapMs} ms\n`,
    );

    await finalReads(cluster, loadKeys, result.operations);
    assertLinearizable(result.operations);

    // The data set: every value readable, and held only by the chain owning its slot.
    const reader = await ClusterClient.connect({
      seeds: cluster.live.map((s) => `127.0.0.1:${s.port}`),
      timeoutMs: 30_000,
    });
    try {
      const found = await Promise.all(dataKeys.map((key) => reader.get(key)));
      found.forEach((entry, i) => assert.equal(entry?.value.toString(), valueOf(i), `${dataKeys[i]} kept its value`));
    } finally {
      await reader.close();
    }
    const table = tableOf(final);
    const held: string[] = [];
    for (const chain of final.chains) {
      const tail = await Client.connect({ port: cluster.byId(chain.members.at(-1)!).port });
      try {
        const keys = (await tail.getkeys({ prefix: 'data:', limit: 10_000 })).keys.map((k) => k.toString());
        for (const key of keys)
          assert.equal(table.ownerOf(keySlot(Buffer.from(key))), chain.chainId, `${key} on its owner`);
        held.push(...keys);
      } finally {
        await tail.close();
      }
    }
    assert.deepEqual(held.sort(), [...dataKeys].sort(), 'every key once, on the chain owning its slot');
  });
});
