// The log store contract (src/storage/log-store.ts), run against every engine: the replica's log,
// its typed meta records and client table, durability points, and snapshot readers behave
// exactly as the interface documents, whatever keeps them.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import type { LogRecord, ReplicaStore } from '../../src/storage/log-store.js';
import { bytes, text } from '../helpers/tmp.js';

export interface LogStoreHarness {
  /** Opens a store on fresh, empty storage. */
  open(clock: ManualClock): ReplicaStore;
  /** Closes and reopens the same storage, as after a clean restart. */
  reopen(store: ReplicaStore, clock: ManualClock): Promise<ReplicaStore>;
  cleanup(): void;
}

export const record = (n: number, extra: Partial<LogRecord> = {}): LogRecord => ({
  epoch: 1 + (n % 3),
  clientId: `client-${n}`,
  clientSequence: n,
  nowMs: 1_700_000_000_000 + n,
  request: bytes(`request ${n}`),
  reclaim: undefined,
  result: bytes(`result ${n}`),
  ...extra,
});

const durable = (store: ReplicaStore): Promise<void> =>
  new Promise((resolve, reject) => store.whenDurable((error) => (error === undefined ? resolve() : reject(error))));

const sequences = (store: ReplicaStore, from = 0, to = 1_000_000): number[] =>
  [...store.entries(from, to)].map((e) => e.sequence);

export function logStoreContract(name: string, harness: () => LogStoreHarness): void {
  describe(`log store contract: ${name}`, () => {
    const withStore = async (body: (store: ReplicaStore, h: LogStoreHarness, clock: ManualClock) => Promise<void>) => {
      const h = harness();
      const clock = new ManualClock();
      const store = h.open(clock);
      try {
        await body(store, h, clock);
      } finally {
        await store.close();
        h.cleanup();
      }
    };

    it('reads back appended entries once durable, in order, each as it was written', () =>
      withStore(async (store) => {
        const reclaim = { reclaim: [bytes('k1'), bytes('')], result: undefined, request: new Uint8Array() };
        store.appendEntry(1, record(1));
        store.appendEntry(2, record(2, { clientId: 'ünïcødé', ...reclaim }));
        store.appendEntry(3, record(3));
        assert.equal(store.entry(1), undefined, 'reads see durable entries only');
        await durable(store);
        assert.deepEqual(normal(store.entry(1)), normal(record(1)));
        assert.deepEqual(normal(store.entry(2)), normal(record(2, { clientId: 'ünïcødé', ...reclaim })));
        assert.deepEqual(sequences(store), [1, 2, 3]);
        assert.deepEqual(sequences(store, 1, 2), [2], 'entries(from, to) is from < sequence <= to');
        assert.ok(
          [...store.entries(0, 3)].every((e) => e.bytes > 0),
          'each entry says its stored size',
        );
        assert.deepEqual(store.logBounds(), { first: 1, last: 3 });
        assert.equal(store.entry(4), undefined);
      }));

    it('replaces an entry appended again at the same sequence', () =>
      withStore(async (store) => {
        store.appendEntry(1, record(1));
        await durable(store);
        store.appendEntry(1, record(7));
        await durable(store);
        assert.equal(store.entry(1)?.clientSequence, 7);
        assert.deepEqual(sequences(store), [1]);
      }));

    it('trims below a sequence, and clears', () =>
      withStore(async (store) => {
        for (let s = 1; s <= 5; s++) store.appendEntry(s, record(s));
        await durable(store);
        store.trimLog(3);
        await durable(store);
        // An engine may keep more (LMDB trims whole segment files), never less.
        assert.deepEqual(
          sequences(store).filter((s) => s >= 3),
          [3, 4, 5],
        );
        assert.ok((store.logBounds()?.first ?? 0) <= 3, 'nothing at or above the bound is trimmed');
        assert.equal(store.logBounds()?.last, 5);
        store.clearLog();
        await durable(store);
        assert.equal(store.logBounds(), undefined);
        assert.deepEqual(sequences(store), []);
      }));

    it('keeps typed meta records, with defaults for those never written, and removes one set to undefined', () =>
      withStore(async (store) => {
        assert.deepEqual(store.readMeta(), {
          position: { lastSequence: 0, lastEpoch: 0 },
          applied: undefined,
          installed: undefined,
          installing: false,
          chain: undefined,
          frozen: [],
        });
        const frozen = [
          { first: 1, last: 9, to: 'c1' },
          { first: 10, last: 10, to: 'c2', handedAt: 4 },
        ];
        for (let sequence = 1; sequence <= 5; sequence++) store.appendEntry(sequence, record(sequence, { epoch: 2 }));
        store.writeMeta('position', { lastSequence: 5, lastEpoch: 2 });
        store.writeMeta('applied', { lastSequence: 4, lastEpoch: 2 });
        store.writeMeta('installed', { lastSequence: 3, lastEpoch: 1 });
        store.writeMeta('installing', true);
        store.writeMeta('chain', 'c7');
        store.writeMeta('frozen', frozen);
        assert.equal(store.readMeta().chain, undefined, 'meta reads see the durable state only');
        await durable(store);
        assert.deepEqual(store.readMeta(), {
          position: { lastSequence: 5, lastEpoch: 2 },
          applied: { lastSequence: 4, lastEpoch: 2 },
          installed: { lastSequence: 3, lastEpoch: 1 },
          installing: true,
          chain: 'c7',
          frozen,
        });
        store.writeMeta('installed', undefined);
        store.writeMeta('installing', false);
        await durable(store);
        assert.equal(store.readMeta().installed, undefined);
        assert.equal(store.readMeta().installing, false);
      }));

    it('keeps the client table, listed by client id', () =>
      withStore(async (store) => {
        store.putClient('b', { clientSequence: 2, result: bytes('r'), sequence: 9 });
        store.putClient('a', { clientSequence: 1, result: undefined, sequence: 8 });
        store.putClient('c', { clientSequence: 3, result: undefined, sequence: 10 });
        store.removeClient('c');
        await durable(store);
        const clients = [...store.clients()].map(([id, r]) => [
          id,
          r.clientSequence,
          r.sequence,
          r.result && text(r.result),
        ]);
        assert.deepEqual(clients, [
          ['a', 1, 8, undefined],
          ['b', 2, 9, 'r'],
        ]);
      }));

    it('clears the client table, records written since the last durability point included', () =>
      withStore(async (store) => {
        store.putClient('a', { clientSequence: 1, result: undefined, sequence: 1 });
        await durable(store);
        store.putClient('b', { clientSequence: 1, result: undefined, sequence: 2 });
        store.clearClients();
        store.putClient('c', { clientSequence: 1, result: undefined, sequence: 3 });
        await durable(store);
        assert.deepEqual(
          [...store.clients()].map(([id]) => id),
          ['c'],
        );
      }));

    it('a snapshot reader sees one durable moment, and goes on seeing it while later writes land', () =>
      withStore(async (store) => {
        store.put(bytes('k1'), bytes('v1'));
        store.put(bytes('k2'), bytes('v2'));
        store.writeMeta('position', { lastSequence: 2, lastEpoch: 1 });
        store.putClient('a', { clientSequence: 1, result: undefined, sequence: 2 });
        await durable(store);
        const reader = store.snapshotReader();
        try {
          store.put(bytes('k3'), bytes('v3'));
          store.delete(bytes('k1'));
          store.writeMeta('position', { lastSequence: 4, lastEpoch: 1 });
          store.putClient('b', { clientSequence: 1, result: undefined, sequence: 4 });
          await durable(store);
          assert.deepEqual(reader.meta.position, { lastSequence: 2, lastEpoch: 1 });
          assert.deepEqual(
            reader.clients().map(([id]) => id),
            ['a'],
          );
          const first = reader.records(undefined, 1, 1 << 20);
          assert.deepEqual(
            first.records.map((r) => text(r.key)),
            ['k1'],
          );
          assert.equal(first.more, true);
          const rest = reader.records(first.records[0]!.key, 10, 1 << 20);
          assert.deepEqual(
            rest.records.map((r) => [text(r.key), text(r.value)]),
            [['k2', 'v2']],
          );
          assert.equal(rest.more, false);
          assert.ok(reader.revision >= 2);
        } finally {
          reader.done();
        }
      }));

    it('keeps everything durable across a reopen', () =>
      withStore(async (store, h, clock) => {
        store.appendEntry(1, record(1));
        store.writeMeta('chain', 'c3');
        store.putClient('x', { clientSequence: 4, result: bytes('ok'), sequence: 1 });
        await durable(store);
        const again = await h.reopen(store, clock);
        try {
          assert.equal(again.entry(1)?.clientId, 'client-1');
          assert.equal(again.readMeta().chain, 'c3');
          assert.deepEqual(
            [...again.clients()].map(([id, r]) => [id, r.clientSequence]),
            [['x', 4]],
          );
        } finally {
          if (again !== store) await again.close();
        }
      }));
  });
}

/** A record with its byte fields as plain arrays, for deepEqual across Buffer and Uint8Array. */
function normal(r: LogRecord | undefined): unknown {
  if (r === undefined) return undefined;
  return {
    ...r,
    request: [...r.request],
    result: r.result === undefined ? undefined : [...r.result],
    reclaim: r.reclaim?.map((k) => [...k]),
  };
}
