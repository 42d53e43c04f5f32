// Moving slots between chains on the replica (src/server/replica/slot-mover.ts, docs/sharding.md), over real
// LMDB stores and the fake peer network of replica-harness.ts, the test playing the manager: it
// writes slotfreeze, slotimport and slotdrop at a chain's head and reads slotexport at its tail,
// as migration-runner.ts does. Each test checks one rule of the move: a freeze is a logged write
// every replica applies and keeps; an export is a read of a frozen range only, paging through
// exactly its records (or the client table) once; an import keeps versions, raises the revision
// and merges client records so a retried write is not applied twice; a drop removes only the
// range, a page at a time, and unfreezes it on its last page; a joiner inherits frozen slots.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import type { RequestInit } from '../../src/commands/index.js';
import { CatenaError } from '../../src/core/errors.js';
import { decodeResponse, encodeResponse, type ResponseResult } from '../../src/protocol/native/codec.js';
import {
  RequestSchema,
  SlotDropRequestSchema,
  SlotExportRequestSchema,
  type Request,
} from '../../src/protocol/native/gen/catena_pb.js';
import type { FrozenRange } from '../../src/server/chain-wire.js';
import { keySlot } from '../../src/sharding/slots.js';
import {
  TestCluster,
  errorCode,
  get,
  incr,
  put,
  replyOf,
  waitFor,
  type Member,
  type MemberOptions,
  type SentFrame,
} from './replica-harness.js';

const text = (value: Uint8Array): string => Buffer.from(value).toString();
const bytes = (value: string): Buffer => Buffer.from(value);
const ids = ['a', 'b', 'c'];

function startMover(cluster: TestCluster, id: string, options: MemberOptions = {}): Member {
  return cluster.start(id, options);
}

/** Starts a, b, c (slot commands wired) and configures the chain [a, b, c]; resolves once c serves reads. */
async function threeChain(cluster: TestCluster, options: Partial<Record<string, MemberOptions>> = {}): Promise<void> {
  for (const id of ids) startMover(cluster, id, options[id]);
  cluster.configure(ids);
  await waitFor('c to serve reads', () => cluster.replica('c').status().servingReads);
}

/**
 * A result as a client receives it: through the response codec. A reply computed in this process
 * is the command's ReplyInit (fields left at their default are absent, cursors are Buffers), while
 * a retried write is answered with the decoded saved result; the wire makes both alike.
 */
function onWire(result: ResponseResult): ResponseResult {
  const decoded = decodeResponse(encodeResponse(0, result));
  assert.ok(decoded.ok, 'a reply encodes and decodes');
  return decoded.message.result;
}

/** A logged write at `id` (the head), its answer as the client sees it. */
async function write(
  cluster: TestCluster,
  id: string,
  request: Request['command'],
  by?: { clientId: string; clientSequence: number },
): Promise<ResponseResult> {
  return onWire(await cluster.write(id, request, by));
}

/** A read at `id` (the tail), its answer as the client sees it. */
async function read(cluster: TestCluster, id: string, request: Request['command']): Promise<ResponseResult> {
  return onWire(await cluster.read(id, request));
}

/** A native request (the command and its fields). */
function command(init: NonNullable<Parameters<typeof create<typeof RequestSchema>>[1]>['command']): Request['command'] {
  return create(RequestSchema, { command: init }).command;
}

type SlotRecord = ReturnType<typeof replyOf<'slotexport'>>['records'][number];
type SlotRecordInit = NonNullable<RequestInit<'slotimport'>['records']>[number];
type ClientRecordInit = NonNullable<RequestInit<'slotimport'>['clients']>[number];

const slotfreeze = (first: number, last: number, toChain = 'chain-1') =>
  command({ case: 'slotfreeze', value: { first, last, toChain } });
const slotexport = (
  first: number,
  last: number,
  page: { after?: Uint8Array; limit?: number; clients?: boolean } = {},
) => command({ case: 'slotexport', value: { first, last, ...page } });
const slotimport = (
  first: number,
  last: number,
  records: SlotRecordInit[],
  clients: ClientRecordInit[] = [],
  revision = 0n,
) => command({ case: 'slotimport', value: { first, last, records, clients, revision } });
const slotdrop = (
  first: number,
  last: number,
  page: { after?: Uint8Array; limit?: number; mapVersion?: bigint } = {},
) => command({ case: 'slotdrop', value: { first, last, ...page } });

/** Request ids of one writer, numbered from 1. */
function writer(clientId: string): () => { clientId: string; clientSequence: number } {
  let sequence = 0;
  return () => ({ clientId, clientSequence: ++sequence });
}

/** The first `<prefix><i>` whose slot is (or is not) within first..last. */
function keyWhere(prefix: string, inside: boolean, first: number, last: number): string {
  for (let i = 0; i < 100_000; i++) {
    const slot = keySlot(bytes(`${prefix}${i}`));
    if ((slot >= first && slot <= last) === inside) return `${prefix}${i}`;
  }
  assert.fail(`no key ${prefix}* ${inside ? 'inside' : 'outside'} ${first}..${last}`);
}

const inRange = (key: Uint8Array, first: number, last: number) => {
  const slot = keySlot(key);
  return slot >= first && slot <= last;
};

/** A record as it is stored: key, value, version, absolute expiry, flags. */
interface Raw {
  key: string;
  value: string;
  version: number;
  expiresAtMs: number;
  flags: number;
}

/** Every live record of `id`'s store in key order, with flags (TestCluster.dump leaves them out). */
function records(cluster: TestCluster, id: string, filter: (key: Uint8Array) => boolean = () => true): Raw[] {
  return cluster
    .store(id)
    .scan({ limit: 100_000, examineMax: 100_000 })
    .entries.filter((e) => filter(e.key))
    .map((e) => ({
      key: text(e.key),
      value: text(e.value),
      version: e.version,
      expiresAtMs: e.expiresAtMs,
      flags: e.flags,
    }));
}

const rawOf = (r: SlotRecord): Raw => ({
  key: text(r.key),
  value: text(r.value),
  version: Number(r.version),
  expiresAtMs: Number(r.expiresAtMs),
  flags: r.flags,
});

/** The half of the slots the moves below take. */
const first = 0;
const last = 8191;

/**
 * 90 keys through the log, some with flags and an expiry (`set`), some with an expiry only, the
 * rest plain; about half fall in slots first..last.
 */
async function writeData(cluster: TestCluster, next: () => { clientId: string; clientSequence: number }) {
  for (let i = 0; i < 90; i++) {
    const key = bytes(`key-${String(i).padStart(3, '0')}`);
    const value = bytes(`value-${i}`);
    const cmd =
      i % 3 === 0
        ? command({ case: 'set', value: { key, value, flags: (i + 1) * 0x0101_0101, ttlMs: 3_600_000n } })
        : i % 3 === 1
          ? command({ case: 'put', value: { key, value, ttlMs: 7_200_000n } })
          : command({ case: 'put', value: { key, value } });
    assert.equal(errorCode(await write(cluster, 'a', cmd, next())), undefined);
  }
}

/** Reads export pages at `id` until the cursor is empty (at most 1000 pages). */
async function exportAll(
  cluster: TestCluster,
  id: string,
  page: { limit: number; clients?: boolean },
): Promise<{ pages: ReturnType<typeof replyOf<'slotexport'>>[] }> {
  const pages: ReturnType<typeof replyOf<'slotexport'>>[] = [];
  let after: Uint8Array = new Uint8Array();
  do {
    const reply = replyOf(await read(cluster, id, slotexport(first, last, { ...page, after })), 'slotexport');
    pages.push(reply);
    after = reply.cursor;
    assert.ok(pages.length < 1000, 'the export ends');
  } while (after.length > 0);
  return { pages };
}

describe('replica: moving slots between chains', () => {
  it('a freeze written at the head is applied on every replica, kept in meta, and survives a restart', async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      for (const id of ids) assert.equal(cluster.replica(id).anyFrozen(), false, `${id} starts with nothing frozen`);
      const mover = writer('manager');
      const reply = await write(cluster, 'a', slotfreeze(100, 199), mover());
      assert.equal(errorCode(reply), undefined, JSON.stringify(reply.value));
      assert.equal(reply.case, 'slotfreeze');
      await cluster.settle();
      const frozen: FrozenRange[] = [{ first: 100, last: 199, to: 'chain-1' }];
      for (const id of ids) {
        const replica = cluster.replica(id);
        assert.deepEqual(
          [
            replica.isFrozen(99),
            replica.isFrozen(100),
            replica.isFrozen(150),
            replica.isFrozen(199),
            replica.isFrozen(200),
          ],
          [false, true, true, true, false],
          id,
        );
        assert.equal(replica.rangeFrozen(100, 199), true, id);
        assert.equal(replica.rangeFrozen(120, 130), true, id);
        assert.equal(replica.rangeFrozen(99, 199), false, id);
        assert.equal(replica.rangeFrozen(100, 200), false, id);
        assert.equal(replica.anyFrozen(), true, id);
        assert.deepEqual(cluster.store(id).readMeta().frozen, frozen, `${id} keeps the frozen ranges in meta`);
      }

      // A repeat (a new request for the same range) changes nothing; another range adds to the list.
      assert.equal(errorCode(await write(cluster, 'a', slotfreeze(100, 199), mover())), undefined);
      assert.equal(errorCode(await write(cluster, 'a', slotfreeze(16000, 16383, 'chain-2'), mover())), undefined);
      await cluster.settle();
      frozen.push({ first: 16000, last: 16383, to: 'chain-2' });
      for (const id of ids) {
        assert.deepEqual(cluster.store(id).readMeta().frozen, frozen, id);
        assert.equal(cluster.replica(id).isFrozen(16383), true);
        assert.equal(cluster.replica(id).isFrozen(15999), false);
      }

      for (const id of ['b', 'c']) {
        await cluster.restart(id);
        const replica = cluster.replica(id);
        assert.equal(replica.rangeFrozen(100, 199), true, `${id} reloads the frozen slots`);
        assert.equal(replica.rangeFrozen(16000, 16383), true, id);
        assert.equal(replica.isFrozen(200), false, id);
      }
    } finally {
      await cluster.close();
    }
  });

  it('exports only a range frozen whole, and only at the tail', async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      const unfrozen = await read(cluster, 'c', slotexport(first, last));
      assert.equal(errorCode(unfrozen), 'ERR_INVALID_ARGUMENT');
      assert.match(unfrozen.case === 'error' ? unfrozen.value.message : '', /not frozen/);
      assert.throws(
        () => cluster.replica('c').exportPage(create(SlotExportRequestSchema, { first: 0, last: 0 })),
        (error: unknown) => error instanceof CatenaError && error.code === 'ERR_INVALID_ARGUMENT',
      );
      await write(cluster, 'a', slotfreeze(first, 4095));
      await cluster.settle();
      assert.equal(errorCode(await read(cluster, 'c', slotexport(first, last))), 'ERR_INVALID_ARGUMENT', 'half frozen');
      assert.equal(
        errorCode(await read(cluster, 'c', slotexport(first, last, { clients: true }))),
        'ERR_INVALID_ARGUMENT',
        'the client table only with a frozen range',
      );
      assert.equal(errorCode(await read(cluster, 'c', slotexport(first, 4095))), undefined);
      assert.equal(errorCode(await read(cluster, 'c', slotexport(10, 20))), undefined, 'a part of a frozen range');
      assert.equal(errorCode(await read(cluster, 'b', slotexport(first, 4095))), 'ERR_NOT_TAIL');
    } finally {
      await cluster.close();
    }
  });

  it("exports exactly the range's records in key order, with versions, expiries and flags, each once", async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      await writeData(cluster, writer('load'));
      // Writes before the freeze in the log are in the export; so is a delete (the key is not).
      const inside = keyWhere('late-', true, first, last);
      await write(cluster, 'a', put(inside, 'late'), { clientId: 'late', clientSequence: 1 });
      await write(cluster, 'a', command({ case: 'del', value: { key: bytes('key-000') } }), {
        clientId: 'late',
        clientSequence: 2,
      });
      await write(cluster, 'a', slotfreeze(first, last), { clientId: 'manager', clientSequence: 1 });
      await cluster.settle();

      const expected = records(cluster, 'c', (key) => inRange(key, first, last));
      const outside = records(cluster, 'c', (key) => !inRange(key, first, last));
      assert.ok(expected.length >= 20 && outside.length >= 20, `both halves hold keys (${expected.length})`);
      assert.ok(expected.some((r) => r.flags !== 0 && r.expiresAtMs > 0));
      assert.ok(expected.some((r) => r.flags === 0 && r.expiresAtMs > 0));
      assert.ok(expected.some((r) => r.flags === 0 && r.expiresAtMs === 0));
      assert.ok(expected.some((r) => r.key === inside));
      assert.ok(!expected.some((r) => r.key === 'key-000'));

      // One page with room for all.
      const whole = replyOf(await read(cluster, 'c', slotexport(first, last, { limit: 1000 })), 'slotexport');
      assert.deepEqual(whole.records.map(rawOf), expected);
      assert.equal(whole.cursor.length, 0, 'nothing more');
      assert.deepEqual(whole.clients, []);

      // Pages of 7: each at most 7, together every record once, in order; the last cursor empty.
      const { pages } = await exportAll(cluster, 'c', { limit: 7 });
      assert.ok(pages.every((p) => p.records.length <= 7));
      assert.ok(pages.slice(0, -1).every((p) => p.cursor.length > 0 && p.records.length === 7));
      assert.deepEqual(
        pages.flatMap((p) => p.records.map(rawOf)),
        expected,
      );
      assert.equal(pages.length, Math.floor(expected.length / 7) + 1);
      // The cursor is the last key of its page.
      for (const page of pages.slice(0, -1)) assert.equal(text(page.cursor), text(page.records.at(-1)!.key));

      // A sub-range of the frozen one exports only its own slots.
      const slot = keySlot(bytes(inside));
      const one = replyOf(await read(cluster, 'c', slotexport(slot, slot)), 'slotexport');
      assert.ok(one.records.some((r) => text(r.key) === inside));
      assert.ok(one.records.every((r) => keySlot(r.key) === slot));
    } finally {
      await cluster.close();
    }
  });

  it('exports the client table a page at a time, sorted by client id', async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      for (let i = 0; i < 11; i++) {
        const id = { clientId: `client-${String(i).padStart(2, '0')}`, clientSequence: i + 1 };
        assert.equal(replyOf(await write(cluster, 'a', incr(`n-${i}`, BigInt(i)), id), 'incr').value, BigInt(i));
      }
      await write(cluster, 'a', slotfreeze(first, last), { clientId: 'manager', clientSequence: 1 });
      await cluster.settle();

      const table = new Map(
        cluster
          .clientTable('c')
          .map(([name, record]) => [name, record as { clientSequence: number; result: Uint8Array | undefined }]),
      );
      assert.equal(table.size, 12, 'eleven writers and the manager');
      const { pages } = await exportAll(cluster, 'c', { limit: 5, clients: true });
      assert.deepEqual(
        pages.map((p) => p.clients.length),
        [5, 5, 2],
      );
      assert.ok(
        pages.every((p) => p.records.length === 0),
        'no records in a client page',
      );
      assert.deepEqual(
        pages.map((p) => text(p.cursor)),
        ['client-04', 'client-09', ''],
      );
      const exported = pages.flatMap((p) => p.clients);
      assert.deepEqual(
        exported.map((c) => c.clientId),
        [...table.keys()].sort(),
      );
      for (const client of exported) {
        const record = table.get(client.clientId)!;
        assert.equal(client.clientSequence, BigInt(record.clientSequence), client.clientId);
        assert.equal(client.hasResult, true, client.clientId);
        assert.deepEqual(Buffer.from(client.result), Buffer.from(record.result!), client.clientId);
      }
    } finally {
      await cluster.close();
    }
  });

  it('imports pages on another chain: records as they were, the revision raised, client records merged', async () => {
    const source = new TestCluster();
    const target = new TestCluster();
    try {
      await Promise.all([threeChain(source), threeChain(target)]);
      const movedKey = keyWhere('moved-', true, first, last);
      // On the source: data, then the writes of clients whose records travel.
      await writeData(source, writer('load'));
      assert.equal(
        replyOf(await write(source, 'a', incr(movedKey, 5n), { clientId: 'mover', clientSequence: 3 }), 'incr').value,
        5n,
      );
      await write(source, 'a', put(keyWhere('old-', true, first, last), 'o'), { clientId: 'old', clientSequence: 2 });
      await write(source, 'a', put(keyWhere('same-', true, first, last), 's'), { clientId: 'same', clientSequence: 4 });
      await write(source, 'a', put(keyWhere('fresh-', true, first, last), 'f'), {
        clientId: 'fresh',
        clientSequence: 1,
      });
      await write(source, 'a', slotfreeze(first, last), { clientId: 'source-manager', clientSequence: 1 });
      // On the target, before: keys of its own (outside the range) and other writes of those clients.
      const own = keyWhere('own-', false, first, last);
      await write(target, 'a', put(own, 'mine'), { clientId: 'mover', clientSequence: 1 });
      await write(target, 'a', put(keyWhere('own-old-', false, first, last), 'x'), {
        clientId: 'old',
        clientSequence: 5,
      });
      const sameOnTarget = await write(target, 'a', put(keyWhere('own-same-', false, first, last), 'y'), {
        clientId: 'same',
        clientSequence: 4,
      });
      await Promise.all([source.settle(), target.settle()]);
      const targetBefore = records(target, 'c');
      const revisionBefore = target.store('a').currentRevision;
      const moved = records(source, 'c', (key) => inRange(key, first, last));
      const newest = Math.max(...moved.map((r) => r.version));
      assert.ok(newest > revisionBefore, 'the source is further along than the target');

      // Copy: record pages, then client pages, each page one import at the target's head.
      const manager = writer('target-manager');
      let imported = 0;
      for (const clients of [false, true]) {
        const { pages } = await exportAll(source, 'c', { limit: 10, clients });
        for (const page of pages) {
          if (page.records.length === 0 && page.clients.length === 0) continue;
          const reply = await write(target, 'a', slotimport(first, last, page.records, page.clients), manager());
          assert.equal(replyOf(reply, 'slotimport').records, BigInt(page.records.length));
          imported += page.records.length;
        }
      }
      assert.equal(imported, moved.length);
      await target.settle();

      for (const id of ids) {
        assert.deepEqual(
          records(target, id, (key) => inRange(key, first, last)),
          moved,
          `${id} holds the range as it was`,
        );
        assert.deepEqual(
          records(target, id, (key) => !inRange(key, first, last)),
          targetBefore,
          `${id} kept its own records`,
        );
        assert.ok(target.store(id).currentRevision >= newest, `${id} raised its revision`);
        assert.equal(target.store(id).currentRevision, target.store('a').currentRevision);
      }
      // A later write gets a version above every imported one.
      const later = replyOf(await write(target, 'a', put('later', 'L'), manager()), 'put');
      assert.ok(Number(later.version) > newest, `version ${later.version} > ${newest}`);

      // mover: the source's record (3) replaced the target's (1). Its retry gets the saved result
      // and is not applied again; its next write is.
      const retry = await write(target, 'a', incr(movedKey, 5n), { clientId: 'mover', clientSequence: 3 });
      assert.equal(replyOf(retry, 'incr').value, 5n, 'the result the source gave');
      await target.settle();
      const movedRecord = moved.find((r) => r.key === movedKey)!;
      for (const id of ids) {
        const stored = target.store(id).get(bytes(movedKey))!;
        assert.deepEqual([text(stored.value), stored.version], ['5', movedRecord.version], `${id}: not applied twice`);
      }
      const next = await write(target, 'a', incr(movedKey, 5n), { clientId: 'mover', clientSequence: 4 });
      assert.equal(replyOf(next, 'incr').value, 10n);
      // An older write of mover (its target-side sequence 1) is now stale there.
      assert.equal(
        errorCode(await write(target, 'a', put(own, 'again'), { clientId: 'mover', clientSequence: 1 })),
        'ERR_UNAVAILABLE',
      );
      // old: the source's record (2) is older than the target's (5) and did not replace it.
      const oldRetry = await write(target, 'a', put(keyWhere('own-old-', false, first, last), 'x'), {
        clientId: 'old',
        clientSequence: 5,
      });
      assert.equal(errorCode(oldRetry), undefined);
      // same: equal sequences, the target's own record stays (its result, not the source's).
      const sameRetry = await write(target, 'a', put('whatever', 'z'), { clientId: 'same', clientSequence: 4 });
      assert.deepEqual(sameRetry, sameOnTarget);
      assert.equal(target.store('a').get(bytes('whatever')), undefined, 'a duplicate is not applied');
      await target.settle();
      const tables = ids.map((id) => new Map(target.clientTable(id)));
      for (const table of tables) {
        assert.equal((table.get('mover') as { clientSequence: number }).clientSequence, 4);
        assert.equal((table.get('old') as { clientSequence: number }).clientSequence, 5);
        assert.equal((table.get('same') as { clientSequence: number }).clientSequence, 4);
        assert.equal((table.get('fresh') as { clientSequence: number }).clientSequence, 1);
      }
      assert.deepEqual(target.clientTable('b'), target.clientTable('a'));
      assert.deepEqual(target.clientTable('c'), target.clientTable('a'));
      // fresh: a client the target never saw gets the source's result for its retry.
      const freshRetry = await write(target, 'a', put('not-applied', 'f'), { clientId: 'fresh', clientSequence: 1 });
      assert.equal(errorCode(freshRetry), undefined);
      assert.equal(target.store('a').get(bytes('not-applied')), undefined);
    } finally {
      await source.close();
      await target.close();
    }
  });

  it('keeps the revision when imported versions are older, and refuses a record outside the range whole', async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      for (let i = 0; i < 20; i++) await write(cluster, 'a', put(keyWhere(`pad-${i}-`, false, first, last), 'p'));
      await cluster.settle();
      const revision = cluster.store('a').currentRevision;
      const key = keyWhere('imported-', true, first, last);
      const record = (name: string, version: number) => ({
        key: bytes(name),
        value: bytes(`v${version}`),
        version: BigInt(version),
        expiresAtMs: 0n,
        flags: 3,
      });
      const manager = writer('manager');
      const reply = await write(cluster, 'a', slotimport(first, last, [record(key, 4)]), manager());
      assert.equal(replyOf(reply, 'slotimport').records, 1n);
      await cluster.settle();
      for (const id of ids) {
        assert.equal(
          cluster.store(id).currentRevision,
          revision + 0,
          `${id}: an old version does not lower the revision`,
        );
        assert.deepEqual(
          records(cluster, id, (k) => text(k) === key),
          [{ key, value: 'v4', version: 4, expiresAtMs: 0, flags: 3 }],
        );
      }

      const outside = keyWhere('stray-', false, first, last);
      const other = keyWhere('imported-ok-', true, first, last);
      const refused = await write(
        cluster,
        'a',
        slotimport(first, last, [record(other, 99), record(outside, 99)]),
        manager(),
      );
      assert.equal(errorCode(refused), 'ERR_INVALID_ARGUMENT');
      await cluster.settle();
      for (const id of ids) {
        assert.equal(cluster.store(id).get(bytes(other)), undefined, `${id}: nothing of a refused page is stored`);
        assert.equal(cluster.store(id).get(bytes(outside)), undefined);
        assert.equal(cluster.store(id).currentRevision, revision);
      }
    } finally {
      await cluster.close();
    }
  });

  it("drops only the range's keys, a page at a time, and unfreezes on the last page; a no-op when not frozen", async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      await writeData(cluster, writer('load'));
      const manager = writer('manager');
      await cluster.settle();
      const outside = records(cluster, 'c', (key) => !inRange(key, first, last));
      const inside = records(cluster, 'c', (key) => inRange(key, first, last));

      // Not frozen: nothing removed, nothing frozen after (called directly too, outside the log).
      assert.deepEqual(cluster.replica('c').dropPage(create(SlotDropRequestSchema, { first, last })), {
        removed: 0n,
        cursor: new Uint8Array(),
      });
      const early = replyOf(await write(cluster, 'a', slotdrop(first, last, { limit: 5 }), manager()), 'slotdrop');
      assert.deepEqual([early.removed, early.cursor.length], [0n, 0]);
      await write(cluster, 'a', slotfreeze(first, last), manager());
      await write(cluster, 'a', slotfreeze(16000, 16383), manager());
      // A range that is not one frozen as such (a part of it) is not dropped either.
      const part = replyOf(await write(cluster, 'a', slotdrop(first, 100), manager()), 'slotdrop');
      assert.equal(part.removed, 0n);
      await cluster.settle();
      assert.deepEqual(records(cluster, 'c'), records(cluster, 'a'));
      assert.equal(records(cluster, 'c', (key) => inRange(key, first, last)).length, inside.length);

      let after: Uint8Array = new Uint8Array();
      let removed = 0;
      let pages = 0;
      do {
        const sent = manager();
        const reply = replyOf(await write(cluster, 'a', slotdrop(first, last, { after, limit: 5 }), sent), 'slotdrop');
        assert.ok(reply.removed <= 5n);
        removed += Number(reply.removed);
        pages += 1;
        after = reply.cursor;
        await cluster.settle();
        for (const id of ids) {
          assert.equal(cluster.replica(id).rangeFrozen(first, last), after.length > 0, `${id} after page ${pages}`);
          assert.equal(records(cluster, id, (key) => inRange(key, first, last)).length, inside.length - removed, id);
        }
        // A retry of the same request is answered with its result and removes nothing more.
        const retried = replyOf(
          await write(cluster, 'a', slotdrop(first, last, { after, limit: 5 }), sent),
          'slotdrop',
        );
        assert.deepEqual(retried, reply);
        assert.ok(pages < 100, 'the drop ends');
      } while (after.length > 0);
      assert.equal(removed, inside.length);
      assert.equal(pages, Math.floor(inside.length / 5) + 1);
      await cluster.settle();
      for (const id of ids) {
        assert.deepEqual(records(cluster, id), outside, `${id} lost only the range`);
        assert.equal(cluster.replica(id).isFrozen(first), false);
        assert.equal(cluster.replica(id).rangeFrozen(16000, 16383), true, `${id}: the other range stays frozen`);
        assert.deepEqual(cluster.store(id).readMeta().frozen, [{ first: 16000, last: 16383, to: 'chain-1' }]);
      }

      // A late copy of a drop finds the range unfrozen: it removes nothing, even new keys there.
      const fresh = keyWhere('fresh-', true, first, last);
      await write(cluster, 'a', put(fresh, 'new'), manager());
      const late = replyOf(await write(cluster, 'a', slotdrop(first, last), manager()), 'slotdrop');
      assert.deepEqual([late.removed, late.cursor.length], [0n, 0]);
      assert.equal(text(replyOf(await read(cluster, 'c', get(fresh)), 'get').value), 'new');
    } finally {
      await cluster.close();
    }
  });

  // Found by the two-chain simulator (test/sim/sharded.test.ts, finding 1): a key deleted on the
  // source is not exported, so the target must take the source's revision, not only the
  // versions of the records it gets.
  it("carries the source's revision: an export reports it and an import raises to it", async () => {
    const source = new TestCluster();
    try {
      await threeChain(source);
      const next = writer('source');
      const gone = keyWhere('deleted-', true, 0, 99);
      await write(source, 'a', put(gone, 'v'), next());
      await write(source, 'a', command({ case: 'del', value: { key: bytes(gone) } }), next());
      await write(source, 'a', slotfreeze(0, 99), next());
      await source.settle();
      const page = replyOf(await read(source, 'c', slotexport(0, 99)), 'slotexport');
      assert.deepEqual(page.records, [], 'the deleted key is not exported');
      assert.equal(page.revision, BigInt(source.store('c').currentRevision));
      assert.ok(page.revision >= 2n, 'but its version is counted in the revision');
    } finally {
      await source.close();
    }
    const target = new TestCluster();
    try {
      await threeChain(target);
      const next = writer('importer');
      await write(target, 'a', slotimport(0, 8191, [], [], 500n), next());
      await target.settle();
      for (const id of ids) assert.equal(target.store(id).currentRevision, 500, `${id} took the source's revision`);
      const key = keyWhere('after-import-', true, 0, 8191);
      assert.equal(replyOf(await write(target, 'a', put(key, 'v'), next()), 'put').version, 501n);
      await write(target, 'a', slotimport(0, 8191, [], [], 10n), next());
      assert.equal(target.store('a').currentRevision, 501, 'an older revision never lowers it');
    } finally {
      await target.close();
    }
  });

  // Found by the two-chain simulator (finding 2): once dropped, a slot must stay refused by a
  // node whose slot map is older than the hand-over.
  it('leaves a fence at the hand-over version when the last drop page unfreezes the range', async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      const next = writer('manager');
      const key = keyWhere('fenced-', true, 40, 49);
      await write(cluster, 'a', put(key, 'v'), next());
      await write(cluster, 'a', slotfreeze(40, 49), next());
      assert.equal(
        replyOf(await write(cluster, 'a', slotdrop(40, 49, { mapVersion: 7n }), next()), 'slotdrop').removed,
        1n,
      );
      await cluster.settle();
      for (const id of ids) {
        const replica = cluster.replica(id);
        assert.equal(replica.isFrozen(45), false, `${id}: unfrozen`);
        assert.equal(replica.anyFrozen(), false);
        assert.equal(replica.handedOverSince(45, 6), true, `${id}: a map older than the hand-over is fenced`);
        assert.equal(replica.handedOverSince(45, 7), false, `${id}: the hand-over's map is not`);
        assert.equal(replica.handedOverSince(50, 0), false, 'only the range');
      }
      await cluster.restart('c');
      assert.equal(cluster.replica('c').handedOverSince(45, 6), true, 'the fence is kept on disk');
    } finally {
      await cluster.close();
    }
  });

  it("survives an import carrying the importing client's own record at its sequence or later", async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster);
      for (const sequence of [9n, 5n]) {
        const clients = [{ clientId: 'importer', clientSequence: sequence, hasResult: false }];
        const reply = await write(cluster, 'a', slotimport(first, last, [], clients), {
          clientId: 'importer',
          clientSequence: 5,
        });
        assert.ok(reply.case === 'slotimport' || reply.case === 'error', reply.case);
      }
      await cluster.settle();
      assert.deepEqual(cluster.clientTable('c'), cluster.clientTable('a'));
    } finally {
      await cluster.close();
    }
  });

  it('a joiner brought up by the log, or by a snapshot, ends with the same frozen slots', async () => {
    const cluster = new TestCluster();
    try {
      await threeChain(cluster, { c: { logEntriesKept: 10, snapshotChunkRecords: 7 } });
      // A few records in the range to be frozen (later writes to it are refused).
      const early = writer('early');
      const inRange = Array.from({ length: 40 }, (_, i) => `early-${i}`).filter((k) => keySlot(Buffer.from(k)) <= 4095);
      for (const key of inRange.slice(0, 4)) {
        const result = await write(
          cluster,
          'a',
          command({ case: 'put', value: { key: bytes(key), value: bytes('e') } }),
          early(),
        );
        assert.equal(errorCode(result), undefined);
      }
      const manager = writer('manager');
      await write(cluster, 'a', slotfreeze(first, 4095), manager());
      await write(cluster, 'a', slotfreeze(9000, 9001, 'chain-2'), manager());
      await write(cluster, 'a', slotfreeze(12000, 12000, 'chain-3'), manager());
      const dropped = replyOf(await write(cluster, 'a', slotdrop(12000, 12000), manager()), 'slotdrop');
      assert.deepEqual([dropped.removed, dropped.cursor.length], [0n, 0], 'an empty range unfreezes at once');
      await cluster.settle();
      const frozen: FrozenRange[] = [
        { first, last: 4095, to: 'chain-1' },
        { first: 9000, last: 9001, to: 'chain-2' },
      ];
      assert.deepEqual(cluster.store('c').readMeta().frozen, frozen);

      // e joins while c still holds its whole log: it replays the freezes and the drop.
      startMover(cluster, 'e');
      cluster.configure(ids, { joining: 'e' });
      await waitFor('c to report e caught up', () => cluster.caughtUp.some((c) => c.joiner === 'e'));
      await cluster.settle();
      assert.deepEqual(cluster.network.framesTo('e', ['snapshot-begin']), [], 'e came up by delta');
      assert.deepEqual(cluster.store('e').readMeta().frozen, frozen);
      assert.equal(cluster.replica('e').rangeFrozen(first, 4095), true);
      assert.equal(cluster.replica('e').rangeFrozen(9000, 9001), true);
      assert.equal(cluster.replica('e').isFrozen(12000), false);
      cluster.configure(ids);
      await cluster.stop('e');

      // Then the log moves on past the freezes, and the tail trims them away. Writes to a frozen
      // slot that reach the log are refused where they are applied, in log order, on every replica.
      const load = writer('load');
      let refused = 0;
      for (let i = 0; i < 90; i++) {
        const key = `load-${i}`;
        const result = await write(
          cluster,
          'a',
          command({ case: 'put', value: { key: bytes(key), value: bytes('v') } }),
          load(),
        );
        const slot = keySlot(Buffer.from(key));
        const expected = slot <= 4095 || slot === 9000 || slot === 9001 ? 'ERR_SLOT_MOVING' : undefined;
        assert.equal(errorCode(result), expected, key);
        if (expected !== undefined) refused += 1;
      }
      assert.ok(refused > 0, 'some of the writes fell in frozen slots');
      await cluster.settle();
      assert.ok((cluster.store('c').logBounds()?.first ?? 0) > 4, 'the tail trimmed the freezes from its log');

      startMover(cluster, 'd');
      cluster.configure(ids, { joining: 'd' });
      await waitFor('c to report d caught up', () => cluster.caughtUp.some((c) => c.joiner === 'd'));
      await cluster.settle();
      type End = Extract<SentFrame['frame'], { kind: 'snapshot-end' }>;
      const ends = cluster.network.framesTo('d', ['snapshot-end']).map((f) => f.frame as End);
      assert.equal(ends.length, 1, 'd got a snapshot');
      assert.deepEqual(ends[0]!.frozen, frozen, 'the snapshot carries the frozen ranges');
      assert.deepEqual(cluster.store('d').readMeta().frozen, frozen);
      assert.equal(cluster.replica('d').rangeFrozen(first, 4095), true);
      assert.equal(cluster.replica('d').rangeFrozen(9000, 9001), true);
      assert.equal(cluster.replica('d').isFrozen(4096), false);
      assert.equal(cluster.replica('d').isFrozen(8999), false);
      assert.equal(cluster.replica('d').isFrozen(12000), false);

      // d, the new tail, exports what c did; after a restart it still has them frozen.
      const before = replyOf(await read(cluster, 'c', slotexport(first, 4095, { limit: 1000 })), 'slotexport');
      cluster.configure([...ids, 'd']);
      await waitFor('d to serve reads', () => cluster.replica('d').status().servingReads);
      const fromD = replyOf(await read(cluster, 'd', slotexport(first, 4095, { limit: 1000 })), 'slotexport');
      assert.ok(fromD.records.length > 0);
      assert.deepEqual(fromD.records.map(rawOf), before.records.map(rawOf));
      await cluster.restart('d');
      assert.equal(cluster.replica('d').rangeFrozen(9000, 9001), true);
      assert.deepEqual(cluster.store('d').readMeta().frozen, frozen);
    } finally {
      await cluster.close();
    }
  });
});
