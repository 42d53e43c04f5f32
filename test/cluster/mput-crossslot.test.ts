// Multi-key writes on a sharded cluster say the truth (issue 19): a native mput is atomic, and two
// chains cannot apply one request together, so an mput whose keys are in two chains is refused
// with ERR_CROSSSLOT and writes nothing: by the cluster client before it sends (the CLI's
// `catena mput` too), and by a node that receives one directly. Keys that share a hash tag
// share a slot, so their mput is applied, atomically, by one chain. Two real `catena server`
// processes on the embedded coordinator, laid out as two chains of one.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '../../src/client/client.js';
import { ClusterClient } from '../../src/client/cluster-client.js';
import { CatenaError } from '../../src/core/errors.js';
import { SlotTable } from '../../src/sharding/slot-map.js';
import { keySlot } from '../../src/sharding/slots.js';
import { runCli } from '../helpers/cli.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { killLeftoverServers } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const crossSlot = (error: unknown) =>
  error instanceof CatenaError && error.code === 'ERR_CROSSSLOT' && /atomic only within one chain/.test(error.message);

describe('mput on two chains', { concurrency: 1 }, () => {
  let dir: { path: string; remove: () => void };
  let cluster: TestCluster;
  let client: ClusterClient;
  let table: SlotTable;
  /** A key owned by chain c0 and one owned by c1. */
  let inC0: string;
  let inC1: string;

  const ownerOf = (key: string) => table.ownerOf(keySlot(Buffer.from(key)));
  const absent = async (...keys: string[]) => {
    for (const key of keys) assert.equal(await client.get(key), undefined, `${key} was not written`);
  };

  before(async () => {
    dir = tempDir();
    cluster = await startCluster({
      nodes: 2,
      coordinator: 'embedded',
      dir: dir.path,
      layout: { chains: 2, replicas: 1 },
      durability: 'memory',
    });
    const topology = (await cluster.topology())!;
    table = new SlotTable({
      version: Number(topology.slotsVersion),
      ranges: topology.slots.map((r) => [r.first, r.last, r.chainId] as const),
    });
    assert.deepEqual(table.chains, ['c0', 'c1']);
    const candidates = Array.from({ length: 64 }, (_, i) => `k${i}`);
    inC0 = candidates.find((key) => ownerOf(key) === 'c0')!;
    inC1 = candidates.find((key) => ownerOf(key) === 'c1')!;
    client = await ClusterClient.connect({ seeds: cluster.seeds(), timeoutMs: 15_000 });
  });
  after(async () => {
    await client?.close();
    await cluster?.stop();
    await killLeftoverServers();
    dir.remove();
  });

  it('the cluster client refuses keys of two chains with ERR_CROSSSLOT, and writes neither', async () => {
    await assert.rejects(
      client.send('mput', {
        entries: [
          { key: Buffer.from(inC0), value: Buffer.from('a') },
          { key: Buffer.from(inC1), value: Buffer.from('b') },
        ],
      }),
      crossSlot,
    );
    await absent(inC0, inC1);
  });

  it('a node refuses them too, when a plain client sends the mput to the chain owning the first key', async () => {
    const topology = (await cluster.topology())!;
    const head = topology.chains.find((c) => c.chainId === 'c0')!.members[0]!;
    const direct = await Client.connect({ port: cluster.byId(head).port });
    try {
      await assert.rejects(
        direct.send('mput', {
          entries: [
            { key: Buffer.from(inC0), value: Buffer.from('a') },
            { key: Buffer.from(inC1), value: Buffer.from('b') },
          ],
        }),
        crossSlot,
      );
    } finally {
      await direct.close();
    }
    await absent(inC0, inC1);
  });

  it('`catena mput` exits 1 with the error, and writes nothing', async () => {
    const run = await runCli(['mput', inC0, 'a', inC1, 'b', '--seeds', cluster.seeds().join(',')]);
    assert.equal(run.code, 1, `stdout: ${run.stdout}\nstderr: ${run.stderr}`);
    assert.match(run.stderr, /ERR_CROSSSLOT: mput is atomic only within one chain/);
    assert.equal(run.stdout, '');
    await absent(inC0, inC1);
  });

  it('keys sharing a hash tag are in one chain: mput applies them together', async () => {
    const keys = ['{x}a', '{x}b', '{x}c'];
    assert.equal(new Set(keys.map(ownerOf)).size, 1);
    await client.send('mput', {
      entries: keys.map((key, i) => ({ key: Buffer.from(key), value: Buffer.from(`v${i}`) })),
    });
    for (const [i, key] of keys.entries()) assert.equal((await client.get(key))?.value.toString(), `v${i}`);
    const run = await runCli(['mput', '{y}a', '1', '{y}b', '2', '--seeds', cluster.seeds().join(',')]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await client.get('{y}b'))?.value.toString(), '2');
  });

  it('mget still reads keys of both chains', async () => {
    await client.put(inC0, 'a');
    await client.put(inC1, 'b');
    const { items } = await client.send('mget', { keys: [Buffer.from(inC1), Buffer.from(inC0)] });
    assert.deepEqual(
      items.map((item) => Buffer.from(item.value).toString()),
      ['b', 'a'],
    );
  });
});
