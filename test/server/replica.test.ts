// The replica shell (src/server/replica/) with real LMDB stores, driven through a fake peer
// network (replica-harness.ts) with the test playing the manager. Each test checks one rule of
// docs/design.md §3 (chain replication) or §5 (storage: the log, snapshots for joiners) on the I/O
// side: what is on disk, what goes over the wire, and what clients are answered.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { RequestSchema, type Request } from '../../src/protocol/native/gen/catena_pb.js';
import { withTimeout } from '../helpers/server-process.js';
import {
  TestCluster,
  del,
  errorCode,
  errorMessage,
  get,
  incr,
  put,
  replyOf,
  waitFor,
  type SentFrame,
} from './replica-harness.js';

const text = (value: Uint8Array): string => Buffer.from(value).toString();

/** Starts a, b, c and configures the chain [a, b, c]; resolves once c serves reads. */
async function threeChain(cluster: TestCluster, options: Parameters<TestCluster['start']>[1] = {}): Promise<void> {
  for (const id of ['a', 'b', 'c']) cluster.start(id, options);
  cluster.configure(['a', 'b', 'c']);
  await waitFor('c to serve reads', () => cluster.replica('c').status().servingReads);
}

/** A native request (the command and its fields) for cluster.write. */
function command(init: NonNullable<Parameters<typeof create<typeof RequestSchema>>[1]>['command']): Request['command'] {
  return create(RequestSchema, { command: init }).command;
}

/** A chain [a, b, c] whose tail keeps 10 log entries and streams chunks of 7: 61 keys written. */
async function snapshotSource(cluster: TestCluster): Promise<void> {
  cluster.start('a');
  cluster.start('b');
  cluster.start('c', { logEntriesKept: 10, snapshotChunkRecords: 7 });
  cluster.configure(['a', 'b', 'c']);
  await waitFor('c to serve reads', () => cluster.replica('c').status().servingReads);
  await cluster.write('a', incr('counter', 1n), { clientId: 'early', clientSequence: 1 });
  await putInGroups(cluster, 60, (i) => `v${i}`);
  await cluster.settle();
}

/**
 * Puts key-000, key-001, ... at the head, ten at a time: each group is a commit of its own, in a
 * log segment of its own (the harness makes segments small), so the tail can trim whole ones.
 */
async function putInGroups(cluster: TestCluster, count: number, value: (i: number) => string): Promise<void> {
  for (let from = 0; from < count; from += 10) {
    const writes: Promise<unknown>[] = [];
    for (let i = from; i < Math.min(count, from + 10); i++) {
      writes.push(cluster.write('a', put(`key-${String(i).padStart(3, '0')}`, value(i))));
    }
    await Promise.all(writes);
  }
}

/**
 * Drops every frame to `joiner` once a snapshot stream has sent it a begin and one chunk (the
 * stream goes on, into the void). Returns the repair: frames flow again, on new connections.
 */
function cutAfterOneChunk(cluster: TestCluster, joiner: string): () => void {
  let cut = false;
  cluster.network.filter = (sent) => {
    if (sent.to !== joiner) return true;
    if (cut) return false;
    if (sent.frame.kind === 'snapshot-records') cut = true;
    return true;
  };
  return () => {
    cluster.network.filter = undefined;
    cluster.network.reconnect(joiner);
  };
}

describe('replica: chain replication over real stores', () => {
  it('answers a write at the head only once the tail has applied it; reads only at the tail', async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster, { durability: 'fsync' });
      const seenAtTail: (string | undefined)[] = [];
      for (let i = 0; i < 5; i++) {
        const key = `k${i}`;
        const reply = await cluster.write('a', put(key, `v${i}`)).then((result) => {
          // At the moment the head answers, the tail must hold the write already.
          const record = cluster.store('c').get(Buffer.from(key));
          seenAtTail.push(record === undefined ? undefined : text(record.value));
          return result;
        });
        assert.equal(replyOf(reply, 'put').version, BigInt(i + 1));
      }
      assert.deepEqual(seenAtTail, ['v0', 'v1', 'v2', 'v3', 'v4']);

      const read = await cluster.read('c', get('k3'));
      assert.equal(text(replyOf(read, 'get').value), 'v3');
      assert.equal(replyOf(read, 'get').version, 4n);

      assert.equal(errorCode(await cluster.read('a', get('k3'))), 'ERR_NOT_TAIL');
      assert.equal(errorCode(await cluster.read('b', get('k3'))), 'ERR_NOT_TAIL');
      assert.equal(errorCode(await cluster.write('b', put('k9', 'x'))), 'ERR_NOT_HEAD');
      assert.equal(errorCode(await cluster.write('c', put('k9', 'x'))), 'ERR_NOT_HEAD');
      assert.equal(cluster.store('b').get(Buffer.from('k9')), undefined, 'a refused write is not applied');
      // The refusals name the address to use, not only a node id (issue 19: a user cannot use an id).
      assert.match(errorMessage(await cluster.write('c', put('k9', 'x'))), /the head is a\.test:7000 \(node a\)/);
      assert.match(errorMessage(await cluster.read('a', get('k3'))), /the tail is c\.test:7000 \(node c\)/);

      // The tail stops serving the moment its coordinator session is down...
      cluster.replica('c').sessionChanged(false);
      assert.equal(errorCode(await cluster.read('c', get('k3'))), 'ERR_NOT_TAIL');
      cluster.replica('c').sessionChanged(true);
      assert.equal(text(replyOf(await cluster.read('c', get('k3')), 'get').value), 'v3');
      // ...and while its read lease is not valid.
      cluster.member('c').leaseValid = false;
      assert.equal(errorCode(await cluster.read('c', get('k3'))), 'ERR_NOT_TAIL');
      assert.equal(cluster.replica('c').status().servingReads, false);
      cluster.member('c').leaseValid = true;
      assert.equal(replyOf(await cluster.read('c', get('k1')), 'get').found, true);
    } finally {
      await cluster.close();
    }
  });

  it('applies a retried write once, at the head and after the head is removed (exactly-once)', async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      const x = (clientSequence: number) => ({ clientId: 'client-x', clientSequence });
      // The same request twice while the first is pending, then again after it committed.
      const first = cluster.write('a', incr('n', 5n), x(1));
      const second = cluster.write('a', incr('n', 5n), x(1));
      const [r1, r2] = await Promise.all([first, second]);
      assert.equal(replyOf(r1, 'incr').value, 5n);
      assert.equal(replyOf(r2, 'incr').value, 5n);
      assert.equal(replyOf(await cluster.write('a', incr('n', 5n), x(1)), 'incr').value, 5n);
      assert.equal(replyOf(await cluster.write('a', incr('n', 5n), x(2)), 'incr').value, 10n);
      assert.equal(replyOf(await cluster.write('a', incr('n', 5n), x(2)), 'incr').value, 10n);
      await cluster.settle();
      for (const id of ['a', 'b', 'c']) {
        assert.equal(text(cluster.store(id).get(Buffer.from('n'))!.value), '10', `${id} applied each request once`);
      }
      const version = cluster.store('c').get(Buffer.from('n'))!.version;
      assert.equal(version, 2, 'two applications, two versions');
      assert.equal(cluster.store('b').get(Buffer.from('n'))!.version, version);

      // The head goes; the client retries its last write at the new head, which has the table too.
      cluster.configure(['b', 'c']);
      const retried = await cluster.write('b', incr('n', 5n), x(2));
      assert.equal(replyOf(retried, 'incr').value, 10n, 'the saved result, not a second increment');
      await cluster.settle();
      for (const id of ['b', 'c']) assert.equal(text(cluster.store(id).get(Buffer.from('n'))!.value), '10');
      assert.equal(cluster.store('c').get(Buffer.from('n'))!.version, version, 'the retry changed nothing');
      // A new write of the same client is applied.
      assert.equal(replyOf(await cluster.write('b', incr('n', 5n), x(3)), 'incr').value, 15n);
      assert.equal(text(replyOf(await cluster.read('c', get('n')), 'get').value), '15');
      // The removed head takes no writes.
      assert.equal(errorCode(await cluster.write('a', incr('n', 5n), x(4))), 'ERR_NOT_HEAD');
    } finally {
      await cluster.close();
    }
  });

  it('answers a retry at the new head with the one result when the head fails before its write commits', async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      await cluster.write('a', put('k', 'v'));
      await cluster.settle();
      // c misses the write: it reaches b, but is not committed when a goes.
      cluster.network.isolate('c');
      const y = { clientId: 'client-y', clientSequence: 1 };
      const logged = cluster.replica('b').status().last;
      const atOldHead = cluster.write('a', incr('n', 3n), y);
      await waitFor('b to log the write', () => cluster.replica('b').status().persisted > logged);
      assert.equal(cluster.store('b').get(Buffer.from('n')), undefined, 'not committed: not applied');
      cluster.configure(['b', 'c']);
      assert.equal(errorCode(await atOldHead), 'ERR_UNAVAILABLE', 'the removed head tells its client to retry');
      cluster.network.heal('c');

      const retried = await cluster.write('b', incr('n', 3n), y);
      assert.equal(replyOf(retried, 'incr').value, 3n, 'the result of the first application');
      await cluster.settle();
      for (const id of ['b', 'c']) assert.equal(text(cluster.store(id).get(Buffer.from('n'))!.value), '3');
      assert.equal(
        cluster.store('c').get(Buffer.from('n'))!.version,
        cluster.store('b').get(Buffer.from('n'))!.version,
      );
      assert.deepEqual(cluster.dump('c'), cluster.dump('b'));
      assert.equal(text(replyOf(await cluster.read('c', get('n')), 'get').value), '3');
    } finally {
      await cluster.close();
    }
  });

  it('a sole member resumes after a restart, with its data and its client table', async () => {
    const cluster = new TestCluster();
    try {
      cluster.start('a', { durability: 'fsync' });
      cluster.configure(['a']);
      await waitFor('a to serve reads', () => cluster.replica('a').status().servingReads);
      const z = { clientId: 'client-z', clientSequence: 1 };
      assert.equal(replyOf(await cluster.write('a', incr('n', 4n)), 'incr').value, 4n);
      assert.equal(replyOf(await cluster.write('a', incr('n', 4n), z), 'incr').value, 8n);
      await cluster.write('a', put('k', 'v'));
      const before = cluster.dump('a');

      await cluster.restart('a');
      cluster.tellConfig('a');
      assert.equal(cluster.replica('a').status().awaitingRemoval, false);
      assert.equal(cluster.replica('a').status().role, 'head-and-tail');
      assert.deepEqual(cluster.replica('a').lastLogPosition, { lastSequence: 3, lastEpoch: 1 });
      assert.deepEqual(cluster.dump('a'), before);
      assert.equal(replyOf(await cluster.write('a', incr('n', 4n), z), 'incr').value, 8n, 'the saved result');
      assert.equal(replyOf(await cluster.write('a', put('k2', 'v2')), 'put').version, 4n);
      await waitFor('a to serve reads', () => cluster.replica('a').status().servingReads);
      assert.equal(text(replyOf(await cluster.read('a', get('n')), 'get').value), '8');
    } finally {
      await cluster.close();
    }
  });

  it('applies deterministically: expiry from the head clock, versions from the replicated counter', async () => {
    const cluster = new TestCluster();
    try {
      // Every replica's own clock is off by seconds: only the head's clock may decide expiries.
      cluster.start('a', { clockSkewMs: 0 });
      cluster.start('b', { clockSkewMs: 5_000 });
      cluster.start('c', { clockSkewMs: -7_000 });
      cluster.configure(['a', 'b', 'c']);
      await waitFor('c to serve reads', () => cluster.replica('c').status().servingReads);
      const before = Date.now();
      await cluster.write('a', put('ttl', 'x', 60_000n));
      const after = Date.now();
      await cluster.write('a', put('plain', 'y'));
      await cluster.write('a', incr('ttl-counter', 1n));
      await cluster.write('a', put('gone', 'z'));
      await cluster.write('a', del('gone'));
      await cluster.write('a', del('never-there'));
      await cluster.write('a', put('ttl', 'x2', 30_000n));
      await cluster.settle();

      const head = cluster.store('a').get(Buffer.from('ttl'))!;
      assert.ok(head.expiresAtMs >= before + 30_000 && head.expiresAtMs <= after + 60_000 + 1_000);
      for (const id of ['b', 'c']) {
        const record = cluster.store(id).get(Buffer.from('ttl'))!;
        assert.equal(record.expiresAtMs, head.expiresAtMs, `${id} computed the same expiry as the head`);
        assert.equal(record.version, head.version, `${id} has the same version`);
      }
      const dumpA = cluster.dump('a');
      assert.deepEqual(
        dumpA.map((d) => [d.key, d.value, d.version]),
        [
          ['plain', 'y', 2],
          ['ttl', 'x2', 6],
          ['ttl-counter', '1', 3],
        ],
      );
      assert.deepEqual(cluster.dump('b'), dumpA);
      assert.deepEqual(cluster.dump('c'), dumpA);
      assert.equal(cluster.store('b').currentRevision, cluster.store('a').currentRevision);
      assert.equal(cluster.store('c').currentRevision, cluster.store('a').currentRevision);
    } finally {
      await cluster.close();
    }
  });

  it('reclaims expired keys through the log: every replica removes the same keys', async () => {
    const cluster = new TestCluster();
    try {
      cluster.start('a', { clockSkewMs: 0 });
      cluster.start('b', { clockSkewMs: 5_000 });
      cluster.start('c', { clockSkewMs: -7_000 });
      cluster.configure(['a', 'b', 'c']);
      await waitFor('c to serve reads', () => cluster.replica('c').status().servingReads);
      for (let i = 0; i < 20; i++) await cluster.write('a', put(`short-${i}`, 'v', 30n));
      await cluster.write('a', put('kept', 'v'));
      await cluster.write('a', put('later', 'v', 600_000n));
      // Replicas never reclaim on their own (node.ts runs no reclamation timer in a cluster): only
      // the head's log entries remove keys.
      await waitFor('the head to reclaim the expired keys', () =>
        ['a', 'b', 'c'].every((id) => cluster.store(id).size() === 2),
      );
      await cluster.settle();
      const dumpA = cluster.dump('a');
      assert.deepEqual(
        dumpA.map((d) => d.key),
        ['kept', 'later'],
      );
      assert.deepEqual(cluster.dump('b'), dumpA);
      assert.deepEqual(cluster.dump('c'), dumpA);
      assert.equal(cluster.store('b').currentRevision, cluster.store('a').currentRevision);
      assert.equal(cluster.store('c').currentRevision, cluster.store('a').currentRevision);
      // Writes go on after a reclamation entry, with versions agreeing.
      await cluster.write('a', put('short-3', 'again'));
      await cluster.settle();
      assert.deepEqual(cluster.dump('c'), cluster.dump('a'));
    } finally {
      await cluster.close();
    }
  });

  it('moves every revision alike when an expired key is deleted or overwritten', async () => {
    const cluster = new TestCluster();
    try {
      // The head's reclamation (through the log) is held off: it would race the delete below.
      await threeChain(cluster, { expiryReclaimIntervalMs: 3_600_000 });
      await cluster.write('a', put('short-lived', 'v', 1n));
      await cluster.write('a', put('also-short', 'v', 1n));
      await waitFor('the keys to expire', () => cluster.store('a').get(Buffer.from('also-short')) === undefined);
      // Expired keys stay in every store until overwritten (no replica reclaims on its own).
      const deleted = await cluster.write('a', del('short-lived'));
      assert.equal(replyOf(deleted, 'del').deleted, false, 'an expired key counts as absent');
      await cluster.write('a', incr('also-short', 2n));
      const reply = await cluster.write('a', put('next', 'n'));
      await cluster.settle();
      assert.equal(replyOf(reply, 'put').version, 5n);
      for (const id of ['b', 'c']) {
        assert.equal(cluster.store(id).currentRevision, cluster.store('a').currentRevision, `${id} agrees`);
      }
      assert.deepEqual(
        cluster.dump('c').map((d) => [d.key, d.value, d.version, d.expiresAtMs]),
        [
          ['also-short', '2', 4, 0],
          ['next', 'n', 5, 0],
        ],
      );
      assert.deepEqual(cluster.dump('b'), cluster.dump('a'));
      assert.deepEqual(cluster.dump('c'), cluster.dump('a'));
    } finally {
      await cluster.close();
    }
  });

  // Regression: entries read back from the stored log for a catch-up lost the key list of an
  // expiry reclamation, and the joiner stopped on "only writes are logged".
  it('catches a joiner up by delta through entries that reclaimed expired keys', async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      for (let i = 0; i < 5; i++) await cluster.write('a', put(`short${i}`, 'v', 30n));
      await cluster.write('a', put('kept', 'v'));
      await waitFor('the head to reclaim the expired keys', () => cluster.store('a').size() === 1);
      await cluster.settle();
      cluster.start('d');
      cluster.configure(['a', 'b', 'c'], { joining: 'd' });
      await waitFor('c to report d caught up', () => cluster.caughtUp.some((c) => c.joiner === 'd'));
      await cluster.settle();
      assert.deepEqual(cluster.fatals, []);
      assert.deepEqual(cluster.dump('d'), cluster.dump('c'));
      assert.deepEqual(
        cluster.dump('d').map((d) => d.key),
        ['kept'],
      );
    } finally {
      await cluster.close();
    }
  });

  it('brings a new node up by delta when the tail still has its whole log, then appends it', async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      for (let i = 0; i < 20; i++) await cluster.write('a', put(`k${i}`, `v${i}`));
      cluster.start('d');
      const joinConfig = cluster.configure(['a', 'b', 'c'], { joining: 'd' });
      assert.equal(cluster.replica('d').status().role, 'joining');
      // A write while d joins reaches it too (in the catch-up or forwarded after it).
      await cluster.write('a', put('during', 'join'));
      await waitFor('c to report d caught up', () => cluster.caughtUp.some((c) => c.joiner === 'd'));
      assert.deepEqual(cluster.caughtUp[0], { tail: 'c', joiner: 'd', epoch: joinConfig.epoch });
      assert.equal(cluster.replica('d').status().servingReads, false, 'a joiner serves no reads');
      assert.equal(errorCode(await cluster.read('d', get('k1'))), 'ERR_NOT_TAIL');
      const toD = cluster.network.framesTo('d');
      assert.ok(
        toD.some((f) => f.frame.kind === 'entries' && f.from === 'c'),
        'the tail sent d entries',
      );
      assert.deepEqual(
        toD.filter((f) => f.frame.kind.startsWith('snapshot')),
        [],
        'no snapshot: the log was enough',
      );
      await cluster.settle();
      assert.deepEqual(cluster.dump('d'), cluster.dump('c'));
      assert.equal(cluster.replica('d').status().last, 21);

      cluster.configure(['a', 'b', 'c', 'd']);
      await waitFor('d to serve reads', () => cluster.replica('d').status().servingReads);
      assert.equal(cluster.replica('c').status().servingReads, false, 'the old tail stops serving reads');
      assert.equal(errorCode(await cluster.read('c', get('k1'))), 'ERR_NOT_TAIL');
      for (let i = 0; i < 20; i++) {
        const reply = replyOf(await cluster.read('d', get(`k${i}`)), 'get');
        assert.equal(text(reply.value), `v${i}`);
        assert.equal(reply.version, BigInt(i + 1));
      }
      assert.equal(text(replyOf(await cluster.read('d', get('during')), 'get').value), 'join');
      // New writes are answered once d, the new tail, has them.
      const answered = await cluster.write('a', put('after', 'append')).then((result) => {
        assert.equal(text(cluster.store('d').get(Buffer.from('after'))!.value), 'append');
        return result;
      });
      assert.equal(replyOf(answered, 'put').version, 22n);
      assert.equal(text(replyOf(await cluster.read('d', get('after')), 'get').value), 'append');
    } finally {
      await cluster.close();
    }
  });

  it('streams a snapshot in chunks to a joiner when the log is trimmed, client table included', async () => {
    const cluster = new TestCluster();
    try {
      cluster.start('a');
      cluster.start('b');
      cluster.start('c', { logEntriesKept: 10, snapshotChunkRecords: 7 });
      cluster.configure(['a', 'b', 'c']);
      await waitFor('c to serve reads', () => cluster.replica('c').status().servingReads);
      const early = { clientId: 'early', clientSequence: 1 };
      assert.equal(replyOf(await cluster.write('a', incr('counter', 7n), early), 'incr').value, 7n);
      await putInGroups(cluster, 100, (i) => `value-${i}`);
      await cluster.settle();
      assert.ok((cluster.store('c').logBounds()?.first ?? 0) > 1, 'the tail trimmed its log');

      cluster.start('d');
      const joinConfig = cluster.configure(['a', 'b', 'c'], { joining: 'd' });
      await waitFor('c to report d caught up', () => cluster.caughtUp.some((c) => c.joiner === 'd'));
      assert.equal(cluster.caughtUp[0]!.epoch, joinConfig.epoch);
      // The snapshot that completed: begin, its chunks, end, all with one stream number.
      type Part<K> = Extract<SentFrame['frame'], { kind: K }>;
      const parts = cluster.network.framesTo('d', ['snapshot-begin', 'snapshot-records', 'snapshot-end']);
      assert.ok(parts.every((p) => p.from === 'c' && !p.dropped));
      const ended = parts.filter((p) => p.frame.kind === 'snapshot-end');
      assert.equal(ended.length, 1, 'one snapshot completed');
      const stream = (ended[0]!.frame as Part<'snapshot-end'>).stream;
      const ofStream = parts.filter((p) => (p.frame as Part<'snapshot-end'>).stream === stream);
      assert.equal(ofStream[0]!.frame.kind, 'snapshot-begin');
      assert.equal(ofStream[ofStream.length - 1]!.frame.kind, 'snapshot-end');
      const chunks = ofStream.slice(1, -1).map((p) => (p.frame as Part<'snapshot-records'>).records.length);
      assert.deepEqual(chunks, [...Array<number>(14).fill(7), 3], '101 records in chunks of at most 7');
      assert.equal((ofStream[0]!.frame as Part<'snapshot-begin'>).sequence, 101);
      await cluster.settle();
      assert.deepEqual(cluster.dump('d'), cluster.dump('c'), 'every key, value, version and expiry');
      assert.equal(cluster.dump('d').length, 101);
      assert.equal(cluster.store('d').currentRevision, cluster.store('c').currentRevision);
      assert.deepEqual(cluster.clientTable('d'), cluster.clientTable('c'));
      assert.ok(cluster.clientTable('d').some(([name]) => name === 'early'));
      assert.deepEqual(cluster.replica('d').lastLogPosition, cluster.replica('c').lastLogPosition);

      cluster.configure(['a', 'b', 'c', 'd']);
      await waitFor('d to serve reads', () => cluster.replica('d').status().servingReads);
      // Writes flow on to d, now the tail.
      for (let i = 0; i < 5; i++) {
        const reply = await cluster.write('a', put(`later-${i}`, `L${i}`));
        assert.equal(errorCode(reply), undefined);
        assert.equal(text(replyOf(await cluster.read('d', get(`later-${i}`)), 'get').value), `L${i}`);
      }
      await cluster.settle();
      assert.deepEqual(cluster.dump('d'), cluster.dump('a'));

      // a, b and c go; d alone is the chain. The early client's retry gets its saved result from
      // the table d received in the snapshot.
      cluster.configure(['d']);
      const retried = await cluster.write('d', incr('counter', 7n), early);
      assert.equal(replyOf(retried, 'incr').value, 7n, 'the saved result');
      assert.equal(text(replyOf(await cluster.read('d', get('counter')), 'get').value), '7');
      assert.equal(
        replyOf(await cluster.write('d', incr('counter', 7n), { clientId: 'early', clientSequence: 2 }), 'incr').value,
        14n,
      );
    } finally {
      await cluster.close();
    }
  });

  it('carries client flags to a joiner in a snapshot, and through the log to every replica', async () => {
    const cluster = new TestCluster();
    try {
      cluster.start('a');
      cluster.start('b');
      cluster.start('c', { logEntriesKept: 10, snapshotChunkRecords: 7 });
      cluster.configure(['a', 'b', 'c']);
      await waitFor('c to serve reads', () => cluster.replica('c').status().servingReads);
      const key = (name: string) => Buffer.from(name);
      const flagged: [string, number][] = [
        ['flag-max', 0xffff_ffff],
        ['flag-counter', 0x8000_0001],
        ['flag-appended', 7],
        ['flag-expiring', 1],
      ];
      for (const [name, flags] of flagged) {
        const reply = await cluster.write(
          'a',
          command({ case: 'set', value: { key: key(name), value: key('10'), flags } }),
        );
        assert.equal(replyOf(reply, 'set').stored, true, name);
      }
      // Writes that keep the flags they find, applied on every replica through the log.
      const counted = await cluster.write(
        'a',
        command({ case: 'incr', value: { key: key('flag-counter'), delta: 1n, memcached: true, decrement: true } }),
      );
      assert.deepEqual([replyOf(counted, 'incr').value, replyOf(counted, 'incr').found], [9n, true]);
      await cluster.write('a', command({ case: 'append', value: { key: key('flag-appended'), value: key('!') } }));
      await cluster.write('a', command({ case: 'expire', value: { key: key('flag-expiring'), ttlMs: 3_600_000n } }));
      // A flagged key overwritten by a put loses its flags.
      await cluster.write('a', command({ case: 'set', value: { key: key('flag-reset'), value: key('x'), flags: 5 } }));
      await cluster.write('a', put('flag-reset', 'y'));
      for (let i = 0; i < 30; i++) await cluster.write('a', put(`key-${String(i).padStart(3, '0')}`, `v${i}`));
      await cluster.settle();
      assert.ok((cluster.store('c').logBounds()?.first ?? 0) > 1, 'the tail trimmed its log');

      const expected = new Map<string, number>([
        ['flag-max', 0xffff_ffff],
        ['flag-counter', 0x8000_0001],
        ['flag-appended', 7],
        ['flag-expiring', 1],
        ['flag-reset', 0],
      ]);
      for (const id of ['a', 'b', 'c']) {
        for (const [name, flags] of expected) {
          assert.equal(cluster.store(id).get(key(name))?.flags, flags, `${name} on ${id}`);
        }
      }
      assert.equal(Buffer.from(cluster.store('c').get(key('flag-counter'))!.value).toString(), '9 ');

      cluster.start('d');
      cluster.configure(['a', 'b', 'c'], { joining: 'd' });
      await waitFor('c to report d caught up', () => cluster.caughtUp.some((c) => c.joiner === 'd'));
      await cluster.settle();
      type Records = Extract<SentFrame['frame'], { kind: 'snapshot-records' }>['records'];
      const records: Records = cluster.network
        .framesTo('d', ['snapshot-records'])
        .flatMap((f) => (f.frame as { records: Records }).records);
      assert.equal(records.length, 35, 'd was brought up by a snapshot of every record');
      const sentFlags = new Map(records.map((r) => [Buffer.from(r[0]).toString(), r]));
      assert.equal(sentFlags.get('flag-max')?.[4], 0xffff_ffff);
      assert.equal(sentFlags.get('flag-reset')?.length, 4, 'a record without flags travels without the fifth element');
      assert.equal(sentFlags.get('key-000')?.length, 4);

      for (const [name, flags] of expected) {
        const onD = cluster.store('d').get(key(name));
        const onC = cluster.store('c').get(key(name));
        assert.equal(onD?.flags, flags, `${name} on d`);
        assert.deepEqual(
          [Buffer.from(onD!.value).toString(), onD!.version, onD!.expiresAtMs],
          [Buffer.from(onC!.value).toString(), onC!.version, onC!.expiresAtMs],
          name,
        );
      }
      assert.deepEqual(cluster.dump('d'), cluster.dump('c'));

      // After the install, d applies flag-keeping writes like the others.
      cluster.configure(['a', 'b', 'c', 'd']);
      await waitFor('d to serve reads', () => cluster.replica('d').status().servingReads);
      await cluster.write(
        'a',
        command({ case: 'append', value: { key: key('flag-max'), value: key('!'), prepend: true } }),
      );
      await cluster.settle();
      const read = replyOf(
        await cluster.read('d', command({ case: 'mget', value: { keys: [key('flag-max')] } })),
        'mget',
      );
      assert.deepEqual([Buffer.from(read.items[0]!.value).toString(), read.items[0]!.flags], ['!10', 0xffff_ffff]);
    } finally {
      await cluster.close();
    }
  });

  it('replicates a set whose value is larger than a keyless request', async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      const value = Buffer.alloc(5000, 0x61);
      const reply = await cluster.write(
        'a',
        command({ case: 'set', value: { key: Buffer.from('big'), value, flags: 3 } }),
      );
      assert.equal(replyOf(reply, 'set').stored, true);
      await cluster.settle();
      assert.equal(cluster.store('c').get(Buffer.from('big'))?.value.length, 5000);
    } finally {
      await cluster.close();
    }
  });

  it("a restarted tail waits to be removed, then rejoins by delta when its log is a prefix of the tail's", async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      for (let i = 0; i < 10; i++) await cluster.write('a', put(`k${i}`, `v${i}`));
      await cluster.settle();
      await cluster.restart('c');
      cluster.tellConfig('c'); // the coordinator still lists it as the tail
      const c = cluster.replica('c');
      assert.equal(c.status().awaitingRemoval, true);
      assert.equal(c.status().role, 'outside');
      assert.equal(c.status().servingReads, false);
      assert.equal(
        errorCode(await cluster.read('c', get('k1'))),
        'ERR_NOT_TAIL',
        'session up, lease valid: still no reads',
      );
      const restartedAt = cluster.network.sent.length;

      // A write now reaches b, but the restarted tail does not take it: it is not answered.
      let answered = false;
      const logged = cluster.replica('b').status().last;
      const pending = cluster.write('a', put('pending', 'p')).then((result) => {
        answered = true;
        return result;
      });
      await waitFor('b to log the write', () => cluster.replica('b').status().persisted > logged);
      await cluster.settle();
      assert.equal(answered, false, 'not committed while the tail is a restarted node');
      assert.equal(cluster.store('c').get(Buffer.from('pending')), undefined);
      const fromC = cluster.network.sent.slice(restartedAt).filter((s) => s.from === 'c');
      assert.deepEqual(
        fromC.map((s) => s.frame.kind),
        [],
        'it neither acknowledges nor asks for anything',
      );

      // The manager removes it: b becomes the tail and commits what it has.
      cluster.configure(['a', 'b']);
      assert.equal(replyOf(await pending, 'put').version, 11n);
      assert.equal(c.status().awaitingRemoval, false);

      const joinConfig = cluster.configure(['a', 'b'], { joining: 'c' });
      await waitFor('b to report c caught up', () => cluster.caughtUp.some((u) => u.joiner === 'c'));
      assert.deepEqual(cluster.caughtUp[0], { tail: 'b', joiner: 'c', epoch: joinConfig.epoch });
      const toC = cluster.network.sent.slice(restartedAt).filter((f) => f.to === 'c');
      assert.deepEqual(
        toC.filter((f) => f.frame.kind.startsWith('snapshot')).map((f) => f.frame.kind),
        [],
        'delta, not a snapshot',
      );
      const sentEntries = toC
        .filter((f) => f.frame.kind === 'entries' && f.from === 'b')
        .flatMap((f) => (f.frame as Extract<SentFrame['frame'], { kind: 'entries' }>).entries.map((e) => e.sequence));
      assert.ok(
        sentEntries.length > 0 && sentEntries.every((s) => s === 11),
        `only the missing entry: ${sentEntries.join(',')}`,
      );
      await cluster.settle();
      assert.deepEqual(cluster.dump('c'), cluster.dump('b'));

      cluster.configure(['a', 'b', 'c']);
      await waitFor('c to serve reads', () => cluster.replica('c').status().servingReads);
      assert.equal(text(replyOf(await cluster.read('c', get('pending')), 'get').value), 'p');
      assert.equal(text(replyOf(await cluster.read('c', get('k9')), 'get').value), 'v9');
      assert.equal(replyOf(await cluster.write('a', put('after', 'x')), 'put').version, 12n);
      assert.equal(text(replyOf(await cluster.read('c', get('after')), 'get').value), 'x');
    } finally {
      await cluster.close();
    }
  });

  it('a restarted middle node forwards nothing until removed, then rejoins by delta', async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      for (let i = 0; i < 5; i++) await cluster.write('a', put(`k${i}`, `v${i}`));
      await cluster.settle();
      await cluster.restart('b');
      cluster.tellConfig('b');
      assert.equal(cluster.replica('b').status().awaitingRemoval, true);
      const restartedAt = cluster.network.sent.length;
      let answered = false;
      const pending = cluster.write('a', put('pending', 'p')).then((result) => {
        answered = true;
        return result;
      });
      await waitFor('a to send the write to b', () =>
        cluster.network.sent
          .slice(restartedAt)
          .some((s) => s.from === 'a' && s.to === 'b' && s.frame.kind === 'entries'),
      );
      await cluster.settle();
      assert.equal(answered, false);
      assert.equal(cluster.store('b').get(Buffer.from('pending')), undefined, 'the restarted node does not apply it');
      assert.equal(cluster.store('c').get(Buffer.from('pending')), undefined, 'nor forward it');
      assert.deepEqual(
        cluster.network.sent.slice(restartedAt).filter((s) => s.from === 'b'),
        [],
      );

      // Removed: a re-sends to its new successor c, and the write commits.
      cluster.configure(['a', 'c']);
      assert.equal(replyOf(await pending, 'put').version, 6n);
      cluster.configure(['a', 'c'], { joining: 'b' });
      await waitFor('c to report b caught up', () => cluster.caughtUp.some((u) => u.joiner === 'b'));
      assert.deepEqual(
        cluster.network.framesTo('b', ['snapshot-begin', 'snapshot-records', 'snapshot-end']),
        [],
        'delta, not a snapshot',
      );
      await cluster.settle();
      assert.deepEqual(cluster.dump('b'), cluster.dump('c'));
      cluster.configure(['a', 'c', 'b']);
      await waitFor('b to serve reads', () => cluster.replica('b').status().servingReads);
      assert.equal(text(replyOf(await cluster.read('b', get('pending')), 'get').value), 'p');
    } finally {
      await cluster.close();
    }
  });

  it('gives a restarted node with a divergent log a snapshot, and it ends identical to the tail', async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      for (let i = 0; i < 3; i++) await cluster.write('a', put(`k${i}`, `v${i}`));
      await cluster.settle();
      // The head is cut off and takes one more write (sequence 4, epoch 1) that goes nowhere.
      cluster.network.isolate('a');
      const lost = cluster.write('a', put('lost', 'never committed'));
      await waitFor('a to log its lonely write', () => cluster.replica('a').status().persisted === 4);
      assert.equal(cluster.store('a').get(Buffer.from('lost')), undefined, 'not committed: not applied');
      await cluster.settle();
      const cut = cluster.configure(['b', 'c'], { except: ['a'] });
      // The new head writes sequences 4 and 5 with the new epoch.
      assert.equal(replyOf(await cluster.write('b', put('new1', 'n1')), 'put').version, 4n);
      assert.equal(replyOf(await cluster.write('b', put('new2', 'n2')), 'put').version, 5n);
      await cluster.settle();

      await cluster.restart('a');
      assert.ok(errorCode(await lost) !== undefined, 'the lonely write was never acknowledged');
      cluster.network.heal('a');
      assert.deepEqual(cluster.replica('a').lastLogPosition, { lastSequence: 4, lastEpoch: 1 });
      cluster.tellConfig('a');
      assert.equal(cluster.config?.epoch, cut.epoch);
      const joinConfig = cluster.configure(['b', 'c'], { joining: 'a' });
      await waitFor('c to report a caught up', () => cluster.caughtUp.some((u) => u.joiner === 'a'));
      assert.deepEqual(cluster.caughtUp[0], { tail: 'c', joiner: 'a', epoch: joinConfig.epoch });
      assert.ok(
        cluster.network.framesTo('a', ['snapshot-end']).some((f) => !f.dropped),
        'the divergent node got a snapshot',
      );
      await cluster.settle();
      assert.deepEqual(cluster.dump('a'), cluster.dump('c'));
      assert.equal(cluster.store('a').get(Buffer.from('lost')), undefined, 'the divergent suffix is gone');
      assert.equal(cluster.store('a').currentRevision, cluster.store('c').currentRevision);
      assert.deepEqual(cluster.replica('a').lastLogPosition, { lastSequence: 5, lastEpoch: cut.epoch });

      cluster.configure(['b', 'c', 'a']);
      await waitFor('a to serve reads', () => cluster.replica('a').status().servingReads);
      assert.equal(replyOf(await cluster.read('a', get('lost')), 'get').found, false);
      assert.equal(text(replyOf(await cluster.read('a', get('new2')), 'get').value), 'n2');
      assert.equal(replyOf(await cluster.write('b', put('new3', 'n3')), 'put').version, 6n);
      assert.equal(text(replyOf(await cluster.read('a', get('new3')), 'get').value), 'n3');
      await cluster.settle();
      assert.deepEqual(cluster.dump('a'), cluster.dump('b'));
    } finally {
      await cluster.close();
    }
  });

  it('discards a snapshot interrupted by a reconfiguration, then catches up from scratch', async () => {
    const cluster = new TestCluster();
    try {
      await snapshotSource(cluster);
      cluster.start('d');
      const repair = cutAfterOneChunk(cluster, 'd');
      cluster.configure(['a', 'b', 'c'], { joining: 'd' });
      // The next chunk follows a yield of the sender: wait until it was sent (and cut) too.
      await waitFor('d to hold one chunk of a snapshot in progress, the stream cut after it', () => {
        const store = cluster.store('d');
        const cut = cluster.network.framesTo('d', ['snapshot-records']).some((f) => f.dropped);
        return cut && store.size() === 7 && store.readMeta().installing === true;
      });
      assert.equal(cluster.replica('d').status().role, 'joining');
      assert.equal(cluster.caughtUp.length, 0);

      repair();
      const rejoin = cluster.configure(['a', 'b', 'c'], { joining: 'd' });
      assert.equal(cluster.store('d').size(), 0, 'the partial state is discarded at once');
      assert.deepEqual(cluster.replica('d').lastLogPosition, { lastSequence: 0, lastEpoch: 0 });
      await waitFor('c to report d caught up', () => cluster.caughtUp.some((u) => u.joiner === 'd'));
      assert.equal(cluster.caughtUp[0]!.epoch, rejoin.epoch);
      await cluster.settle();
      assert.equal(cluster.store('d').readMeta().installing, false);
      assert.deepEqual(cluster.dump('d'), cluster.dump('c'));
      assert.equal(cluster.dump('d').length, 61);
      assert.equal(cluster.store('d').currentRevision, cluster.store('c').currentRevision);
      assert.deepEqual(cluster.clientTable('d'), cluster.clientTable('c'));

      cluster.configure(['a', 'b', 'c', 'd']);
      await waitFor('d to serve reads', () => cluster.replica('d').status().servingReads);
      assert.equal(replyOf(await cluster.write('a', put('after', 'x')), 'put').version, 62n);
      assert.equal(text(replyOf(await cluster.read('d', get('after')), 'get').value), 'x');
    } finally {
      await cluster.close();
    }
  });

  it('starts empty when reopened on a data dir whose snapshot install was interrupted', async () => {
    const cluster = new TestCluster();
    try {
      await snapshotSource(cluster);
      cluster.start('d');
      const repair = cutAfterOneChunk(cluster, 'd');
      cluster.configure(['a', 'b', 'c'], { joining: 'd' });
      await waitFor('d to hold one chunk of a snapshot in progress', () => {
        const store = cluster.store('d');
        return store.size() === 7 && store.readMeta().installing === true;
      });
      await cluster.stop('d');
      repair();

      const d = cluster.start('d');
      assert.equal(d.store.size(), 0);
      assert.deepEqual(cluster.dump('d'), []);
      assert.deepEqual(d.replica.lastLogPosition, { lastSequence: 0, lastEpoch: 0 });
      await d.store.sync();
      assert.equal(d.store.readMeta().installing, false);
      assert.deepEqual(cluster.clientTable('d'), []);
      assert.equal(d.store.logBounds(), undefined);

      cluster.tellConfig('d');
      assert.equal(d.replica.status().awaitingRemoval, false);
      await waitFor('c to report d caught up', () => cluster.caughtUp.some((u) => u.joiner === 'd'));
      await cluster.settle();
      assert.deepEqual(cluster.dump('d'), cluster.dump('c'));
      assert.deepEqual(cluster.clientTable('d'), cluster.clientTable('c'));
    } finally {
      await cluster.close();
    }
  });

  /** A data dir as a crash mid-install could leave it: records, a log, a log position, a client table, and the mark. */
  async function interruptedInstallDir(cluster: TestCluster): Promise<void> {
    const d0 = cluster.start('d');
    d0.store.put(Buffer.from('partial'), Buffer.from('state'));
    d0.store.appendEntry(1, {
      epoch: 1,
      clientId: 'x',
      clientSequence: 3,
      nowMs: 0,
      request: new Uint8Array(),
      reclaim: undefined,
      result: undefined,
    });
    d0.store.writeMeta('position', { lastSequence: 5, lastEpoch: 1 });
    d0.store.putClient('x', { clientSequence: 3, result: undefined, sequence: 5 });
    d0.store.writeMeta('installing', true);
    await cluster.stop('d');
  }

  it('clears the records, log and mark of a data dir marked installing', async () => {
    const cluster = new TestCluster();
    try {
      await interruptedInstallDir(cluster);
      const d = cluster.start('d');
      assert.equal(d.store.size(), 0);
      assert.equal(d.store.get(Buffer.from('partial')), undefined);
      await d.store.sync();
      assert.equal(d.store.readMeta().installing, false);
      assert.equal(d.store.logBounds(), undefined);
      assert.deepEqual(cluster.clientTable('d'), []);
      assert.deepEqual(d.store.readMeta().position, { lastSequence: 0, lastEpoch: 0 });
    } finally {
      await cluster.close();
    }
  });

  it('resets the log position and client table of a data dir marked installing', {}, async () => {
    const cluster = new TestCluster();
    try {
      await interruptedInstallDir(cluster);
      const d = cluster.start('d');
      assert.deepEqual(d.replica.lastLogPosition, { lastSequence: 0, lastEpoch: 0 }, 'its log position is reset');
      // A sole member starting over: client x's next write is new, not a stale copy of a forgotten one.
      cluster.configure(['d']);
      const reply = await cluster.write('d', incr('n', 1n), { clientId: 'x', clientSequence: 2 });
      assert.equal(replyOf(reply, 'incr').value, 1n, 'applied, not taken for a stale retry');
      assert.deepEqual(d.replica.lastLogPosition, { lastSequence: 1, lastEpoch: 1 });
    } finally {
      await cluster.close();
    }
  });

  it('refuses a client id too long for its table key, and the node goes on (no failed commit)', {}, async () => {
    const cluster = new TestCluster();
    try {
      cluster.start('a');
      cluster.configure(['a']);
      await waitFor('a to serve reads', () => cluster.replica('a').status().servingReads);
      const innocent = cluster.write('a', put('innocent', 'v'), { clientId: 'good', clientSequence: 1 });
      const hostile = cluster.write('a', put('k', 'v'), { clientId: 'x'.repeat(2_000), clientSequence: 1 });
      // Answered at all: a failed commit would leave both unanswered (and the node stopped).
      const answers = await withTimeout(Promise.all([hostile, innocent]), 10_000);
      assert.ok(answers !== undefined, `both writes answered (fatal: ${String(cluster.fatals[0])})`);
      assert.equal(errorCode(answers[0]), 'ERR_INVALID_ARGUMENT');
      assert.equal(replyOf(answers[1], 'put').version, 1n);
      assert.equal(replyOf(await cluster.write('a', put('after', 'v')), 'put').version, 2n);
      assert.deepEqual(cluster.fatals, []);
    } finally {
      await cluster.close();
    }
  });

  it('a tail holds back writes its reported joiner lacks, and they reach it once it is appended', {}, async () => {
    const cluster = new TestCluster();
    try {
      cluster.start('a');
      cluster.start('b');
      cluster.start('c', { logEntriesKept: 10, snapshotChunkRecords: 7 });
      cluster.configure(['a', 'b', 'c']);
      await waitFor('c to serve reads', () => cluster.replica('c').status().servingReads);
      for (let i = 0; i < 5; i++) await cluster.write('a', put(`k${i}`, `v${i}`));
      cluster.start('d');
      cluster.configure(['a', 'b', 'c'], { joining: 'd' });
      await waitFor('c to report d caught up', () => cluster.caughtUp.some((u) => u.joiner === 'd'));
      await cluster.settle();
      // Between "caught up" and the append, d is cut off: the manager may append it at any
      // moment, so c must not commit (nor answer, nor serve reads of) what d has not got.
      cluster.network.isolate('d');
      let answered = 0;
      const writes = Array.from({ length: 30 }, (_, i) =>
        cluster.write('a', put(`m${i}`, `w${i}`)).then((result) => {
          answered += 1;
          return result;
        }),
      );
      await waitFor('c to persist the 30 writes', () => cluster.replica('c').status().persisted === 35);
      await cluster.settle();
      assert.equal(cluster.replica('c').status().committed, 5);
      assert.equal(answered, 0);
      // It still serves reads: of the committed state, which holds none of them.
      assert.equal(errorCode(await cluster.read('c', get('m0'))), undefined);
      assert.equal(replyOf(await cluster.read('c', get('m0')), 'get').found, false);
      cluster.network.heal('d');
      cluster.configure(['a', 'b', 'c', 'd']);
      const after = cluster.write('a', put('after', 'x'));
      await waitFor('d to serve reads', () => cluster.replica('d').status().servingReads, 1_500);
      const versions = (await Promise.all(writes)).map((result) => replyOf(result, 'put').version);
      assert.deepEqual(
        versions,
        Array.from({ length: 30 }, (_, i) => BigInt(6 + i)),
      );
      assert.equal(replyOf(await after, 'put').version, 36n);
      await cluster.settle();
      assert.deepEqual(cluster.dump('d'), cluster.dump('c'));
    } finally {
      cluster.configure(['a', 'b', 'c']); // removing d lets any stuck write commit, so close() is clean
      await cluster.close();
    }
  });

  it('a tail whose reported joiner leaves unappended commits what it held back', {}, async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      cluster.start('d');
      cluster.configure(['a', 'b', 'c'], { joining: 'd' });
      await waitFor('c to report d caught up', () => cluster.caughtUp.some((u) => u.joiner === 'd'));
      await cluster.settle();
      cluster.network.isolate('d');
      const held = cluster.write('a', put('held', 'x'));
      await waitFor('c to persist the write', () => cluster.replica('c').status().persisted === 1);
      await cluster.settle();
      assert.equal(cluster.replica('c').status().committed, 0);
      cluster.configure(['a', 'b', 'c']); // the manager drops the joiner (its session expired)
      assert.equal(replyOf(await held, 'put').version, 1n);
      await waitFor('c to serve reads', () => cluster.replica('c').status().servingReads);
    } finally {
      await cluster.close();
    }
  });

  it('a joiner asking again while an entry of a newer epoch is being persisted still gets a delta', {}, async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      for (let i = 0; i < 5; i++) await cluster.write('a', put(`k${i}`, `v${i}`)); // epoch 1
      cluster.start('d');
      cluster.configure(['a', 'b', 'c'], { joining: 'd' });
      await waitFor('c to report d caught up', () => cluster.caughtUp.some((u) => u.joiner === 'd'));
      // The tail forwards sequence 6 (epoch 2); while d persists it, a new connection from the
      // tail arrives and d asks to join again.
      cluster.network.afterDelivery = (sent) => {
        if (sent.to !== 'd' || sent.frame.kind !== 'entries') return;
        if (!sent.frame.entries.some((e) => e.sequence === 6)) return;
        cluster.network.afterDelivery = undefined;
        cluster.replica('d').peerConnected('c');
      };
      await cluster.write('a', put('k5', 'v5'));
      await cluster.settle();
      const asked = cluster.network.sent.filter((s) => s.from === 'd' && s.frame.kind === 'join').at(-1)!.frame;
      assert.deepEqual(cluster.network.framesTo('d', ['snapshot-begin']), [], `join ${JSON.stringify(asked)}`);
      assert.deepEqual(cluster.dump('d'), cluster.dump('c'));
    } finally {
      await cluster.close();
    }
  });
  it(
    'a joiner whose acknowledgement was lost, then left far behind, is caught up by entries, not wiped',
    {},
    async () => {
      const cluster = new TestCluster();
      try {
        cluster.start('a', { catchUpEntriesMax: 5 });
        cluster.configure(['a']);
        cluster.replica('a').sessionChanged(true);
        for (let i = 0; i < 3; i++) await cluster.write('a', put(`k${i}`, `v${i}`));
        cluster.start('j', { catchUpEntriesMax: 5 });
        let dropped = 0;
        cluster.network.filter = (sent) => {
          if (sent.from !== 'j' || sent.to !== 'a' || sent.frame.kind !== 'ack' || dropped > 0) return true;
          dropped += 1; // the first acknowledgement is lost with a connection
          return false;
        };
        cluster.configure(['a'], { joining: 'j' });
        await waitFor('j to persist the delta', () => cluster.replica('j').status().persisted === 3);
        // The tail, not having heard j, commits alone; j falls further behind than a delta serves an
        // unknown joiner (5 entries): its next join would get a snapshot, which must not wipe it.
        for (let i = 3; i < 15; i++) await cluster.write('a', put(`k${i}`, `v${i}`));
        await waitFor('the tail to report j caught up', () => cluster.caughtUp.some((u) => u.joiner === 'j'), 8_000);
        assert.equal(dropped, 1);
        assert.equal(cluster.replica('j').status().persisted, 15);
        assert.deepEqual(cluster.dump('j'), cluster.dump('a'));
      } finally {
        cluster.network.filter = undefined;
        await cluster.close();
      }
    },
  );
});
