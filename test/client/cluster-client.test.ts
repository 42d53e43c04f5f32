// ClusterClient: the pure routing helpers, then the client against fake nodes (fake-cluster.ts):
// where each command goes, which errors are retried and which are answers, that a retried write
// carries the same (client id, client sequence) and so is applied once, the overall deadline,
// seeds, stale topologies, background refresh and dropped connections.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  backoffStep,
  ClusterClient,
  parseAddress,
  routeOf,
  supersedes,
  targetFor,
  viewOf,
  type Topology,
} from '../../src/client/cluster-client.js';
import { CatenaError } from '../../src/core/errors.js';
import { FakeCluster, result, type Seen } from './fake-cluster.js';
import { freePort } from '../helpers/ports.js';

const topology = (chains: { members: string[]; epoch: bigint }[], cluster = 'test'): Topology =>
  result({
    case: 'topology',
    value: {
      cluster,
      chains: chains.map((c) => ({ chainId: 'c0', epoch: c.epoch, members: c.members })),
      nodes: ['a', 'b', 'c'].map((id, i) => ({ nodeId: id, native: `10.0.0.${i + 1}:7000` })),
    },
  }).value as Topology;

const pairs = (seen: readonly Seen[]) => seen.map((s) => `${s.nodeId} ${s.clientId}#${s.clientSequence}`);

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function rejection(promise: Promise<unknown>): Promise<CatenaError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof CatenaError, `expected a CatenaError, got ${String(error)}`);
    return error;
  }
  return assert.fail('expected a rejection');
}

describe('ClusterClient routing helpers (pure)', () => {
  it('routes writes to the head, data reads to the tail, node commands to any node', () => {
    for (const name of ['put', 'del', 'cas', 'incr', 'append', 'expire'] as const) assert.equal(routeOf(name), 'write');
    for (const name of ['get', 'ttl', 'scan', 'size', 'getkeys', 'gettable'] as const)
      assert.equal(routeOf(name), 'read');
    for (const name of ['stats', 'ping', 'nodestatus', 'topology'] as const) assert.equal(routeOf(name), 'node');
  });

  it('finds the head and tail addresses of the only chain, or says why not', () => {
    const view = viewOf(topology([{ members: ['a', 'b', 'c'], epoch: 3n }]));
    const key = Buffer.from('k');
    assert.deepEqual(targetFor(view, 'write', key, 'any:1'), { ok: true, address: '10.0.0.1:7000' });
    assert.deepEqual(targetFor(view, 'read', key, 'any:1'), { ok: true, address: '10.0.0.3:7000' });
    assert.deepEqual(targetFor(view, 'read', undefined, 'any:1'), { ok: true, address: '10.0.0.3:7000' });
    assert.deepEqual(targetFor(view, 'node', undefined, 'any:1'), { ok: true, address: 'any:1' });
    const empty = targetFor(viewOf(topology([])), 'write', key, 'any:1');
    assert.equal(empty.ok, false);
    const unknown = targetFor(viewOf(topology([{ members: ['z'], epoch: 1n }])), 'write', key, 'any:1');
    assert.deepEqual(unknown, { ok: false, reason: 'node z (head of c0) has no address' });
  });

  it('adopts a topology only if no chain in it is older, and never another cluster or an empty one', () => {
    const at = (epoch: bigint, cluster = 'test') => viewOf(topology([{ members: ['a'], epoch }], cluster));
    assert.equal(supersedes(at(4n), at(3n)), true);
    assert.equal(supersedes(at(3n), at(3n)), true);
    assert.equal(supersedes(at(2n), at(3n)), false);
    assert.equal(supersedes(at(4n, 'other'), at(3n)), false);
    assert.equal(supersedes(viewOf(topology([])), at(3n)), false);
    assert.equal(supersedes(at(1n), viewOf(topology([]))), true);
  });

  it('parses host:port and [v6]:port addresses and rejects others', () => {
    assert.deepEqual(parseAddress('127.0.0.1:7000'), { host: '127.0.0.1', port: 7000 });
    assert.deepEqual(parseAddress('[::1]:7010'), { host: '::1', port: 7010 });
    assert.deepEqual(parseAddress('node-3.example:1'), { host: 'node-3.example', port: 1 });
    for (const bad of ['', '7000', ':7000', 'host:', 'host:0', 'host:65536', 'host:7x'])
      assert.throws(() => parseAddress(bad), { code: 'ERR_INVALID_ARGUMENT' }, bad);
  });

  it('backs off from 50 ms doubling to 500 ms, waiting half to all of the step', () => {
    const bases: number[] = [];
    let previous: number | undefined;
    for (let i = 0; i < 7; i++) {
      const low = backoffStep(previous, 0);
      const high = backoffStep(previous, 1);
      assert.equal(low.waitMs, low.baseMs / 2);
      assert.equal(high.waitMs, high.baseMs);
      previous = low.baseMs;
      bases.push(low.baseMs);
    }
    assert.deepEqual(bases, [50, 100, 200, 400, 500, 500, 500]);
  });
});

describe('ClusterClient against fake nodes', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function cluster(ids: readonly string[], options: { cluster?: string } = {}): Promise<FakeCluster> {
    const fake = await FakeCluster.start(ids, options);
    cleanups.push(() => fake.close());
    return fake;
  }

  async function connect(
    seeds: readonly string[],
    options: { timeoutMs?: number; attemptTimeoutMs?: number; refreshIntervalMs?: number } = {},
  ): Promise<ClusterClient> {
    const client = await ClusterClient.connect({ seeds, clientId: 'cid', ...options });
    cleanups.push(() => client.close());
    return client;
  }

  it('uses a standalone node as is: everything to it, no writer ids, no retries', async () => {
    const fake = await cluster(['s'], { cluster: '' });
    const client = await connect([fake.node('s').address]);
    assert.equal(client.isStandalone, true);
    await client.put('k', '41');
    assert.equal(await client.incr('k'), 42n);
    assert.equal((await client.get('k'))?.value.toString(), '42');
    assert.equal((await client.stats()).nodeId, 's');
    assert.deepEqual(pairs(fake.seen.filter((s) => s.command !== 'topology')), ['s #0', 's #0', 's #0', 's #0']);

    fake.node('s').intercept = () => ({ kind: 'close' });
    const error = await rejection(client.incr('k'));
    assert.equal(error.code, 'ERR_CONNECTION_CLOSED');
    assert.equal(fake.seenFor('incr').length, 2, 'a standalone write is not retried');
  });

  it('sends writes to the head with a new sequence each, reads to the tail, node commands to any node', async () => {
    const fake = await cluster(['a', 'b', 'c']);
    const client = await connect([fake.node('b').address]);
    assert.equal(client.isStandalone, false);
    assert.equal(client.clientId, 'cid');
    await client.put('k', '1');
    assert.equal(await client.incr('k', 5), 6n);
    assert.equal((await client.get('k'))?.value.toString(), '6');
    assert.deepEqual(await client.size(), { keys: 1, bytes: 0 });
    assert.equal((await client.stats()).nodeId, 'b', 'node commands go to the node that answered the topology');
    assert.equal((await client.nodeStatus(fake.node('a').address)).role, 'head');
    assert.deepEqual(pairs([...fake.seenFor('put'), ...fake.seenFor('incr')]), ['a cid#1', 'a cid#2']);
    assert.deepEqual(pairs([...fake.seenFor('get'), ...fake.seenFor('size')]), ['c #0', 'c #0']);
  });

  it('retries a write refused with ERR_NOT_HEAD on the new head, with the same client id and sequence', async () => {
    const fake = await cluster(['a', 'b', 'c']);
    const client = await connect([fake.node('a').address]);
    fake.node('a').intercept = (request) => {
      if (request.command.case !== 'incr') return { kind: 'serve' };
      fake.setChain(['b', 'c']);
      return { kind: 'error', code: 'ERR_NOT_HEAD' };
    };
    assert.equal(await client.incr('n'), 1n);
    assert.deepEqual(pairs(fake.seenFor('incr')), ['a cid#1', 'b cid#1']);
    assert.equal(await client.incr('n'), 2n);
    assert.deepEqual(pairs(fake.seenFor('incr')).slice(2), ['b cid#2']);
  });

  it('applies an incr once when the head applies it and dies before answering', async () => {
    const fake = await cluster(['a', 'b', 'c']);
    const client = await connect([fake.node('a').address]);
    fake.node('a').intercept = (request, node) => {
      if (request.command.case !== 'incr') return { kind: 'serve' };
      node.serve(request); // applied and replicated...
      fake.setChain(['b', 'c']);
      return { kind: 'close' }; // ...but the answer is lost with the head
    };
    assert.equal(await client.incr('n'), 1n);
    assert.deepEqual(pairs(fake.seenFor('incr')), ['a cid#1', 'b cid#1']);
    assert.equal(fake.data.get('n')?.toString(), '1', 'the retry was not applied a second time');
  });

  it('gives concurrent writes their own lanes, so retried pipelined incrs still apply once each', async () => {
    const fake = await cluster(['a', 'b', 'c']);
    const client = await connect([fake.node('a').address]);
    let closing = false;
    fake.node('a').intercept = (request, node) => {
      if (request.command.case !== 'incr') return { kind: 'serve' };
      node.serve(request);
      if (!closing) {
        closing = true;
        // Close once every incr has been applied: all five answers are lost.
        setTimeout(() => {
          fake.setChain(['b', 'c']);
          for (const socket of node.sockets) socket.destroy();
        }, 50);
      }
      return { kind: 'silent' };
    };
    const values = await Promise.all(Array.from({ length: 5 }, () => client.incr('n')));
    assert.deepEqual(
      values.map(Number).sort((x, y) => x - y),
      [1, 2, 3, 4, 5],
    );
    assert.equal(fake.data.get('n')?.toString(), '5', 'each write applied exactly once');
    const first = fake.seenFor('incr').filter((s) => s.nodeId === 'a');
    const retried = fake.seenFor('incr').filter((s) => s.nodeId === 'b');
    assert.equal(new Set(pairs(first).map((p) => p.slice(2))).size, 5, 'five distinct (id, sequence) pairs');
    assert.deepEqual(
      pairs(retried)
        .map((p) => p.slice(2))
        .sort(),
      pairs(first)
        .map((p) => p.slice(2))
        .sort(),
      'each retry carries its own first pair',
    );
    assert.deepEqual([...new Set(first.map((s) => s.clientId))].sort(), ['cid', 'cid/1', 'cid/2', 'cid/3', 'cid/4']);
  });

  it('retries after a per-attempt timeout and lands on the new head with the same pair', async () => {
    const fake = await cluster(['a', 'b', 'c']);
    const client = await connect([fake.node('a').address], { attemptTimeoutMs: 200 });
    fake.node('a').intercept = (request) => {
      if (request.command.case !== 'put') return { kind: 'serve' };
      fake.setChain(['b', 'c']);
      return { kind: 'silent' };
    };
    const started = Date.now();
    await client.put('k', 'v');
    assert.ok(Date.now() - started >= 150, 'waited for the attempt to time out');
    assert.deepEqual(pairs(fake.seenFor('put')), ['a cid#1', 'b cid#1']);
  });

  it('rides out a killed head: connection errors refresh the topology and retry', async () => {
    const fake = await cluster(['a', 'b', 'c']);
    const client = await connect([fake.node('a').address, fake.node('b').address]);
    await client.put('k', '1');
    await fake.kill('a');
    fake.unregistered.add('a');
    fake.setChain(['b', 'c']);
    await client.put('k', '2');
    assert.equal((await client.get('k'))?.value.toString(), '2');
    assert.deepEqual(pairs(fake.seenFor('put')).at(-1), 'b cid#2');
  });

  it('answers at once with an error that is not about routing', async () => {
    const fake = await cluster(['a', 'b', 'c']);
    const client = await connect([fake.node('a').address]);
    await client.put('word', 'hello');
    const error = await rejection(client.incr('word'));
    assert.equal(error.code, 'ERR_NOT_AN_INTEGER');
    assert.equal(fake.seenFor('incr').length, 1);
  });

  it('gives up at the deadline with the last error, after several attempts', async () => {
    const fake = await cluster(['a', 'b', 'c']);
    const client = await connect([fake.node('a').address], { timeoutMs: 1_500 });
    for (const node of fake.nodes.values()) {
      node.intercept = (request) =>
        request.command.case === 'put'
          ? { kind: 'error', code: 'ERR_UNAVAILABLE', message: 'no session' }
          : { kind: 'serve' };
    }
    const started = Date.now();
    const error = await rejection(client.put('k', 'v'));
    const elapsed = Date.now() - started;
    assert.equal(error.code, 'ERR_UNAVAILABLE');
    assert.match(error.message, /^no session \(gave up after \d+ attempts in 1500 ms\)$/);
    assert.ok(elapsed >= 1_490 && elapsed < 4_000, `gave up after ${elapsed} ms`);
    const attempts = fake.seenFor('put');
    assert.ok(attempts.length >= 3, `only ${attempts.length} attempts`);
    assert.ok(
      attempts.every((s) => s.clientId === 'cid' && s.clientSequence === 1n),
      'every attempt carries the same pair',
    );
  });

  it('starts from any seed that answers, and fails at once when none does', async () => {
    const fake = await cluster(['a', 'b']);
    const dead = `127.0.0.1:${await freePort()}`;
    const client = await connect([dead, fake.node('b').address]);
    assert.equal(client.anyNodeAddress, fake.node('b').address);
    await client.put('k', 'v');

    const started = Date.now();
    const error = await rejection(ClusterClient.connect({ seeds: [dead], timeoutMs: 5_000 }));
    assert.equal(error.code, 'ERR_CONNECTION_FAILED');
    assert.match(error.message, new RegExp(`^could not connect to ${dead}`));
    assert.ok(Date.now() - started < 1_000, 'did not wait for the deadline');
    await assert.rejects(ClusterClient.connect({ seeds: [] }), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(ClusterClient.connect({ seeds: ['nonsense'] }), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(ClusterClient.connect({ seeds: [dead], timeoutMs: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
  });

  it('does not go back to an older configuration that a stale node reports', async () => {
    const fake = await cluster(['a', 'b', 'c']);
    fake.setChain(['b', 'c'], { epoch: 5n });
    // c still believes in epoch 2 with a as head, and is the seed.
    fake.node('c').topologyOverride = fake.topologyResult({ epoch: 2n, members: ['a', 'b', 'c'] });
    const client = await connect([fake.node('c').address]);
    await client.put('k', '1');
    assert.deepEqual(pairs(fake.seenFor('put')), ['a cid#1', 'b cid#1']);
    assert.equal(client.knownTopology.chains[0]?.epoch, 5n);
    await client.put('k', '2');
    assert.deepEqual(pairs(fake.seenFor('put')).at(-1), 'b cid#2');
  });

  it('refreshes the topology in the background while in use, and drops nodes that left', async () => {
    const fake = await cluster(['a', 'b', 'c', 'd']);
    fake.setChain(['a', 'b', 'c']);
    const client = await connect([fake.node('a').address], { refreshIntervalMs: 50 });
    await client.put('k', '1');
    await waitFor(() => fake.node('d').sockets.size === 1, 'a connection to d (refreshes ask every node)');

    fake.setChain(['b', 'c', 'd']);
    fake.unregistered.add('a');
    await client.put('k', '1'); // in use: the next tick refreshes
    await waitFor(() => client.knownTopology.chains[0]?.members[0] === 'b', 'the new head');
    await client.put('k', '2');
    assert.deepEqual(pairs(fake.seenFor('put')).at(-1), 'b cid#3', 'straight to the new head');
    await waitFor(() => fake.node('a').sockets.size === 0, 'the connection to a, no longer a node, to close');
  });

  it('rejects calls after close and closes its connections', async () => {
    const fake = await cluster(['a', 'b']);
    const client = await ClusterClient.connect({ seeds: [fake.node('a').address] });
    await client.put('k', 'v');
    await client.get('k');
    await client.close();
    await assert.rejects(client.put('k', 'v'), { code: 'ERR_CONNECTION_CLOSED' });
    await waitFor(() => [...fake.nodes.values()].every((n) => n.sockets.size === 0), 'every connection closed');
    assert.match(client.clientId, /^[0-9a-f]{16}$/);
  });
});
