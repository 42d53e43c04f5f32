// A sharded cluster of real processes (issue #5, docs/design.md §6): 9 `catena server` nodes on the
// embedded coordinator with the layout "3 chains of 3". The manager must place three distinct
// nodes in each chain and spread the 16384 slots over them; every key must live only on the
// chain owning its slot; any node must answer any request (native and RESP); requests that
// span chains (size, scan, getkeys, mget, DBSIZE, SCAN, MGET) must be answered as one chain
// would, MSET across chains refused with CROSSSLOT (native mput: mput-crossslot.test.ts); and a checked load over keys of every
// chain must stay linearizable while the head of one chain is killed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Client } from '../../src/client/client.js';
import { ClusterClient, type Topology } from '../../src/client/cluster-client.js';
import { CatenaError } from '../../src/core/errors.js';
import { evenSlotMap, SlotTable } from '../../src/sharding/slot-map.js';
import { keySlot } from '../../src/sharding/slots.js';
import { assertLinearizable, finalReads, startCluster, startLoad, type TestCluster } from '../helpers/cluster.js';
import { killLeftoverServers } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const layout = { chains: 3, replicas: 3 };
const keyCount = 300;
const keys = Array.from({ length: keyCount }, (_, i) => `key:${i}`);
const slotsOf = (topology: Topology) =>
  new SlotTable({
    version: Number(topology.slotsVersion),
    ranges: topology.slots.map((r) => [r.first, r.last, r.chainId] as const),
  });
const ownerOf = (table: SlotTable, key: string) => table.ownerOf(keySlot(Buffer.from(key)));

describe('a sharded cluster: 9 nodes, 3 chains of 3', { concurrency: 1 }, () => {
  let dir: { path: string; remove: () => void };
  let cluster: TestCluster;
  let topology: Topology;
  let client: ClusterClient;

  const chain = (chainId: string) => topology.chains.find((c) => c.chainId === chainId)!;

  before(async () => {
    dir = tempDir();
    cluster = await startCluster({ nodes: 9, coordinator: 'embedded', dir: dir.path, layout, durability: 'memory' });
    topology = (await cluster.topology())!;
    client = await ClusterClient.connect({ seeds: [cluster.seeds()[0]!], timeoutMs: 15_000 });
  });
  after(async () => {
    await client?.close();
    await cluster?.stop();
    await killLeftoverServers();
    dir.remove();
  });

  it('places three distinct nodes in each chain and spreads the slots evenly', () => {
    assert.deepEqual(
      topology.chains.map((c) => c.chainId),
      ['c0', 'c1', 'c2'],
    );
    const members = topology.chains.flatMap((c) => c.members);
    assert.equal(new Set(members).size, 9, `every node in exactly one chain: ${JSON.stringify(members)}`);
    assert.deepEqual(
      topology.slots.map((r) => [r.first, r.last, r.chainId]),
      evenSlotMap(['c0', 'c1', 'c2'], 1).ranges,
    );
  });

  it('stores every key only on the chain that owns its slot, whichever node took the write', async () => {
    // Writes enter through clients seeded at different nodes (each routes by slot).
    const clients = await Promise.all(
      cluster.seeds().map((seed) => ClusterClient.connect({ seeds: [seed], timeoutMs: 15_000 })),
    );
    try {
      await Promise.all(keys.map((key, i) => clients[i % clients.length]!.put(key, `value-${i}`)));
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    const table = slotsOf(topology);
    const seen: string[] = [];
    for (const c of topology.chains) {
      // Ask each chain's tail directly (no routing): what this chain holds.
      const tail = await Client.connect({ port: cluster.byId(c.members.at(-1)!).port });
      try {
        const held = (await tailRead(() => tail.getkeys({ limit: 10_000 }))).keys.map((k) => Buffer.from(k).toString());
        assert(held.length > keyCount / 6, `chain ${c.chainId} holds a fair share (${held.length})`);
        for (const key of held) assert.equal(ownerOf(table, key), c.chainId, `${key} is on its owner`);
        seen.push(...held);
      } finally {
        await tail.close();
      }
    }
    assert.deepEqual(seen.sort(), [...keys].sort());
  });

  it('answers a read of any key from any node', async () => {
    for (const seed of cluster.seeds()) {
      const reader = await ClusterClient.connect({ seeds: [seed], timeoutMs: 15_000 });
      try {
        for (const i of [0, 101, 202, 299]) {
          const found = await reader.get(keys[i]!);
          assert.equal(found?.value.toString(), `value-${i}`);
        }
      } finally {
        await reader.close();
      }
    }
  });

  it('refuses a key of another chain with ERR_MOVED at a head that does not own it', async () => {
    const table = slotsOf(topology);
    const foreign = keys.find((key) => ownerOf(table, key) !== 'c0')!;
    const head = await Client.connect({ port: cluster.byId(chain('c0').members[0]!).port });
    try {
      await assert.rejects(
        head.put(foreign, 'x'),
        (error: unknown) => error instanceof CatenaError && error.code === 'ERR_MOVED',
      );
    } finally {
      await head.close();
    }
    assert.equal((await client.get(foreign))?.value.toString(), `value-${keys.indexOf(foreign)}`, 'nothing changed');
  });

  it('answers size, getkeys, scan and mget across chains, and mput within one', async () => {
    assert.equal((await client.size()).keys, keyCount);
    const listed = (await client.getkeys({ prefix: 'key:', limit: 10_000 })).keys.map((k) => Buffer.from(k).toString());
    assert.deepEqual(listed, [...keys].sort());
    // Page through with a small page: every key once, in byte order.
    const paged: string[] = [];
    for await (const entry of client.entries({ prefix: 'key:', pageSize: 7 })) paged.push(entry.key.toString());
    assert.deepEqual(paged, [...keys].sort());
    const asked = ['key:3', 'missing', 'key:150', 'key:299', 'key:0'];
    const items = (await client.send('mget', { keys: asked.map((k) => Buffer.from(k)) })).items;
    assert.deepEqual(
      items.map((item) => (item.found ? Buffer.from(item.value).toString() : null)),
      ['value-3', null, 'value-150', 'value-299', 'value-0'],
    );
    // mput is atomic, so its keys share a chain (a hash tag); keys of several are refused.
    const entries = Array.from({ length: 30 }, (_, i) => ({
      key: Buffer.from(`{m}:${i}`),
      value: Buffer.from(`mv-${i}`),
    }));
    await client.send('mput', { entries });
    const back = await client.send('mget', { keys: entries.map((e) => e.key) });
    assert.deepEqual(
      back.items.map((item) => Buffer.from(item.value).toString()),
      entries.map((e) => e.value.toString()),
    );
    assert.equal((await client.size()).keys, keyCount + entries.length);
  });

  it('speaks RESP on every node: MGET, DBSIZE and SCAN across chains, CROSSSLOT for MSET', async () => {
    const table = slotsOf(topology);
    for (const server of cluster.live) {
      const redis = new Redis({ port: server.respPort!, lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await redis.connect();
        assert.deepEqual(await redis.mget('key:1', 'key:2', 'key:3', 'nope'), ['value-1', 'value-2', 'value-3', null]);
        assert.equal(await redis.dbsize(), keyCount + 30);
      } finally {
        redis.disconnect();
      }
    }
    const redis = new Redis({ port: cluster.live[4]!.respPort!, lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await redis.connect();
      const scanned: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', 'key:*', 'COUNT', 25);
        scanned.push(...found);
        cursor = next;
      } while (cursor !== '0');
      assert.deepEqual(scanned.sort(), [...keys].sort());
      const [a, b] = [keys.find((k) => ownerOf(table, k) === 'c0')!, keys.find((k) => ownerOf(table, k) === 'c2')!];
      await assert.rejects(redis.mset(a, '1', b, '2'), /CROSSSLOT/);
      assert.equal(await redis.get(a), `value-${keys.indexOf(a)}`, 'a refused MSET changes nothing');
      assert.equal(await redis.mset('{tag}x', '1', '{tag}y', '2'), 'OK', 'keys sharing a hashtag share a slot');
      assert.deepEqual(await redis.mget('{tag}x', '{tag}y'), ['1', '2']);
      const shards = (await redis.call('CLUSTER', 'SLOTS')) as [number, number, ...unknown[]][];
      assert.deepEqual(
        shards.map(([first, last]) => [first, last]),
        topology.slots.map((r) => [r.first, r.last]),
      );
    } finally {
      redis.disconnect();
    }
  });

  it('keeps a checked load over every chain linearizable while one chain loses its head', async () => {
    const loadKeys = 9; // k0..k8: spread over the three chains
    const table = slotsOf(topology);
    const owners = new Set(Array.from({ length: loadKeys }, (_, k) => ownerOf(table, `k${k}`)));
    assert.equal(owners.size, 3, 'the load touches every chain');
    const load = startLoad(cluster, { clients: 4, keys: loadKeys });
    await load.progress(60);
    const victimChain = ownerOf(table, 'k0');
    const victim = chain(victimChain).members[0]!;
    cluster.byId(victim).kill('SIGKILL');
    await cluster.waitForTopology(
      (t) => t.chains.find((c) => c.chainId === victimChain)?.members.includes(victim) === false,
      `the head of ${victimChain} removed`,
    );
    await load.progress(60, 20_000);
    const result = await load.stop();
    await finalReads(cluster, loadKeys, result.operations);
    assertLinearizable(result.operations);
    process.stderr.write(`[sharded] kill a head: ${result.ok} operations, ${result.unknown} unknown\n`);
    // The other chains never noticed: their heads are where they were.
    const now = (await cluster.topology())!;
    for (const c of topology.chains.filter((c) => c.chainId !== victimChain)) {
      assert.equal(now.chains.find((n) => n.chainId === c.chainId)?.members[0], c.members[0]);
    }
  });
});

/**
 * A read asked of a tail directly (no client routing, so no retry): a tail whose read lease is
 * being renewed answers ERR_NOT_TAIL "cannot serve reads yet" for a moment (a loaded machine
 * delays the renewal); ask again for a few seconds, as a client would.
 */
async function tailRead<T>(read: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof CatenaError && error.code === 'ERR_NOT_TAIL') || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
