// The store contract, run against every engine. An engine passes only if it behaves exactly as
// the interface in src/storage/store.ts documents.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ManualClock } from '../../src/core/clock.js';
import type { Store } from '../../src/storage/store.js';
import { bytes, text } from '../helpers/tmp.js';

export interface EngineHarness {
  /** Opens a store on fresh, empty storage. */
  open(clock: ManualClock): Store;
  /** Closes and reopens the same storage, as after a clean restart. */
  reopen(store: Store, clock: ManualClock): Promise<Store>;
  cleanup(): void;
}

export function storeContract(name: string, harness: () => EngineHarness): void {
  describe(`store contract: ${name}`, () => {
    const withStore = async (body: (store: Store, clock: ManualClock, h: EngineHarness) => Promise<void> | void) => {
      const h = harness();
      const clock = new ManualClock();
      const store = h.open(clock);
      try {
        await body(store, clock, h);
      } finally {
        await store.close();
        h.cleanup();
      }
    };

    it('gets what was put, and nothing for a missing key', () =>
      withStore((store) => {
        assert.equal(store.get(bytes('missing')), undefined);
        const version = store.put(bytes('k'), bytes('v'));
        assert.ok(version >= 1);
        const got = store.get(bytes('k'));
        assert.equal(text(got?.value), 'v');
        assert.equal(got?.version, version);
        assert.equal(got?.expiresAtMs, 0);
      }));

    it('stores binary keys and values byte for byte, including empty values', () =>
      withStore((store) => {
        const key = Buffer.from([0, 255, 10, 13, 0]);
        const value = Buffer.from([0, 1, 2, 255, 254, 0]);
        store.put(key, value);
        store.put(bytes('empty'), Buffer.alloc(0));
        assert.deepEqual(Buffer.from(store.get(key)!.value), value);
        assert.equal(store.get(bytes('empty'))?.value.length, 0);
      }));

    it('does not keep a reference to the caller buffer', () =>
      withStore((store) => {
        const value = bytes('abc');
        store.put(bytes('k'), value);
        value[0] = 0x7a;
        assert.equal(text(store.get(bytes('k'))?.value), 'abc');
      }));

    it('versions increase on every mutation and are never reused after delete', () =>
      withStore((store) => {
        const v1 = store.put(bytes('k'), bytes('1'));
        const v2 = store.put(bytes('k'), bytes('2'));
        assert.ok(v2 > v1);
        assert.equal(store.delete(bytes('k')), true);
        const v3 = store.put(bytes('k'), bytes('3'));
        assert.ok(v3 > v2);
      }));

    it('delete reports whether the key existed', () =>
      withStore((store) => {
        assert.equal(store.delete(bytes('k')), false);
        store.put(bytes('k'), bytes('v'));
        assert.equal(store.delete(bytes('k')), true);
        assert.equal(store.get(bytes('k')), undefined);
        assert.equal(store.delete(bytes('k')), false);
      }));

    it('compare-and-set succeeds only on the current version (0 = absent)', () =>
      withStore((store) => {
        const created = store.cas(bytes('k'), 0, bytes('a'));
        assert.equal(created.ok, true);
        assert.ok(created.ok);
        const stale = store.cas(bytes('k'), 0, bytes('b'));
        assert.deepEqual(stale, { ok: false, currentVersion: created.version });
        const swapped = store.cas(bytes('k'), created.version, bytes('c'));
        assert.ok(swapped.ok);
        assert.equal(text(store.get(bytes('k'))?.value), 'c');
        const old = store.cas(bytes('k'), created.version, bytes('d'));
        assert.equal(old.ok, false);
        assert.equal(text(store.get(bytes('k'))?.value), 'c');
      }));

    it('incr treats a missing key as 0, keeps decimal text, rejects non-integers and overflow', () =>
      withStore((store) => {
        const first = store.incr(bytes('n'), 5n);
        assert.ok(first.ok);
        assert.equal(first.value, 5n);
        const second = store.incr(bytes('n'), -7n);
        assert.ok(second.ok);
        assert.equal(second.value, -2n);
        assert.equal(text(store.get(bytes('n'))?.value), '-2');
        store.put(bytes('s'), bytes('abc'));
        assert.deepEqual(store.incr(bytes('s'), 1n), { ok: false, reason: 'not-an-integer' });
        store.put(bytes('lead'), bytes('007'));
        assert.deepEqual(store.incr(bytes('lead'), 1n), { ok: false, reason: 'not-an-integer' });
        store.put(bytes('max'), bytes('9223372036854775807'));
        assert.deepEqual(store.incr(bytes('max'), 1n), { ok: false, reason: 'overflow' });
        assert.equal(text(store.get(bytes('max'))?.value), '9223372036854775807');
        store.put(bytes('min'), bytes('-9223372036854775808'));
        assert.deepEqual(store.incr(bytes('min'), -1n), { ok: false, reason: 'overflow' });
      }));

    it('append creates or extends the value', () =>
      withStore((store) => {
        assert.equal(store.append(bytes('a'), bytes('he')).length, 2);
        assert.equal(store.append(bytes('a'), bytes('llo')).length, 5);
        assert.equal(text(store.get(bytes('a'))?.value), 'hello');
      }));

    it('expired keys are never returned, by get, scan or compare-and-set', () =>
      withStore((store, clock) => {
        store.put(bytes('t'), bytes('v'), { expiresAtMs: clock.nowMs() + 1000 });
        store.put(bytes('u'), bytes('w'));
        clock.advance(999);
        assert.equal(text(store.get(bytes('t'))?.value), 'v');
        clock.advance(1);
        assert.equal(store.get(bytes('t')), undefined);
        assert.deepEqual(
          store.scan({ limit: 10 }).entries.map((e) => text(e.key)),
          ['u'],
        );
        assert.equal(store.cas(bytes('t'), 0, bytes('new')).ok, true);
        assert.equal(text(store.get(bytes('t'))?.value), 'new');
      }));

    it('incr and append keep the expiry; put clears it; expire sets and removes it', () =>
      withStore((store, clock) => {
        const at = clock.nowMs() + 5000;
        store.put(bytes('n'), bytes('1'), { expiresAtMs: at });
        store.incr(bytes('n'), 1n);
        assert.equal(store.get(bytes('n'))?.expiresAtMs, at);
        store.append(bytes('n'), bytes('0'));
        assert.equal(store.get(bytes('n'))?.expiresAtMs, at);
        store.put(bytes('n'), bytes('x'));
        assert.equal(store.get(bytes('n'))?.expiresAtMs, 0);
        assert.equal(store.expire(bytes('n'), at), true);
        assert.equal(store.get(bytes('n'))?.expiresAtMs, at);
        assert.equal(store.expire(bytes('n'), 0), true);
        assert.equal(store.get(bytes('n'))?.expiresAtMs, 0);
        assert.equal(store.expire(bytes('absent'), at), false);
      }));

    it('flags round-trip through put, cas, get and scan: 0 when not given, any u32 otherwise', () =>
      withStore((store) => {
        store.put(bytes('none'), bytes('v'));
        assert.equal(store.get(bytes('none'))?.flags, 0);
        for (const flags of [1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]) {
          store.put(bytes('k'), bytes('v'), { flags });
          assert.equal(store.get(bytes('k'))?.flags, flags, `flags ${flags}`);
        }
        store.put(bytes('k'), bytes('v'), { flags: 0 });
        assert.equal(store.get(bytes('k'))?.flags, 0, 'explicit 0');
        const created = store.cas(bytes('c'), 0, bytes('v'), { flags: 9 });
        assert.ok(created.ok);
        assert.equal(store.get(bytes('c'))?.flags, 9);
        assert.ok(store.cas(bytes('c'), created.version, bytes('w')).ok);
        assert.equal(store.get(bytes('c'))?.flags, 0, 'a swap without flags stores 0');
        store.put(bytes('s'), bytes('v'), { flags: 0xabcdef01, expiresAtMs: 0 });
        assert.deepEqual(
          store.scan({ limit: 10 }).entries.map((e) => [text(e.key), e.flags]),
          [
            ['c', 0],
            ['k', 0],
            ['none', 0],
            ['s', 0xabcdef01],
          ],
        );
      }));

    it('incr, append and expire keep the flags (and the expiry); a put without flags resets them to 0', () =>
      withStore((store, clock) => {
        const at = clock.nowMs() + 5000;
        store.put(bytes('n'), bytes('1'), { expiresAtMs: at, flags: 0xffff_fffe });
        const check = (what: string, flags: number, expiresAtMs: number) => {
          const got = store.get(bytes('n'));
          assert.deepEqual([got?.flags, got?.expiresAtMs], [flags, expiresAtMs], what);
        };
        assert.ok(store.incr(bytes('n'), 41n).ok);
        check('after incr', 0xffff_fffe, at);
        store.append(bytes('n'), bytes('0'));
        check('after append', 0xffff_fffe, at);
        assert.equal(text(store.get(bytes('n'))?.value), '420');
        assert.equal(store.expire(bytes('n'), at + 1000), true);
        check('after expire', 0xffff_fffe, at + 1000);
        assert.equal(store.expire(bytes('n'), 0), true);
        check('after removing the expiry', 0xffff_fffe, 0);
        store.put(bytes('n'), bytes('x'));
        check('after a put without flags', 0, 0);
        store.put(bytes('n'), bytes('y'), { flags: 5 });
        check('after a put with flags', 5, 0);
      }));

    it('incr and append on an expired key start a new record, without the old flags', () =>
      withStore((store, clock) => {
        store.put(bytes('n'), bytes('41'), { expiresAtMs: clock.nowMs() + 10, flags: 3 });
        store.put(bytes('a'), bytes('x'), { expiresAtMs: clock.nowMs() + 10, flags: 3 });
        clock.advance(10);
        assert.ok(store.incr(bytes('n'), 1n).ok);
        store.append(bytes('a'), bytes('y'));
        assert.deepEqual([store.get(bytes('n'))?.flags, text(store.get(bytes('n'))?.value)], [0, '1']);
        assert.deepEqual([store.get(bytes('a'))?.flags, text(store.get(bytes('a'))?.value)], [0, 'y']);
      }));

    it('records with and without flags survive a reopen side by side, values and versions intact', () =>
      withStore(async (store, clock, h) => {
        const at = clock.nowMs() + 60_000;
        const plain = store.put(bytes('plain'), bytes('p'), { expiresAtMs: at });
        const flagged = store.put(bytes('flagged'), bytes('f'), { expiresAtMs: at, flags: 0xdead_beef });
        const emptyFlagged = store.put(bytes('empty'), new Uint8Array(0), { flags: 1 });
        const binary = Buffer.from([0, 1, 2, 0xff]);
        store.put(bytes('binary'), binary, { flags: 0x8000_0000 });
        store.put(bytes('reset'), bytes('r'), { flags: 7 });
        const reset = store.put(bytes('reset'), bytes('r2'));
        await store.sync();
        const reopened = await h.reopen(store, clock);
        try {
          const view = (key: string) => {
            const got = reopened.get(bytes(key));
            return got === undefined ? undefined : [text(got.value), got.version, got.expiresAtMs, got.flags];
          };
          assert.deepEqual(view('plain'), ['p', plain, at, 0]);
          assert.deepEqual(view('flagged'), ['f', flagged, at, 0xdead_beef]);
          assert.deepEqual(view('empty'), ['', emptyFlagged, 0, 1]);
          assert.deepEqual(view('reset'), ['r2', reset, 0, 0]);
          assert.deepEqual(Buffer.from(reopened.get(bytes('binary'))!.value), binary);
          assert.equal(reopened.get(bytes('binary'))?.flags, 0x8000_0000);
          assert.equal(reopened.size(), 5);
          assert.equal(reopened.bytes(), 5 + 1 + 7 + 1 + 5 + 0 + 6 + 4 + 5 + 2);
          assert.deepEqual(
            reopened.scan({ limit: 10 }).entries.map((e) => [text(e.key), e.flags]),
            [
              ['binary', 0x8000_0000],
              ['empty', 1],
              ['flagged', 0xdead_beef],
              ['plain', 0],
              ['reset', 0],
            ],
          );
          // After the reopen, incr and append still keep the flags they find.
          reopened.put(bytes('n'), bytes('1'), { flags: 11 });
          assert.ok(reopened.incr(bytes('n'), 1n).ok);
          reopened.append(bytes('flagged'), bytes('!'));
          assert.equal(reopened.get(bytes('n'))?.flags, 11);
          assert.equal(reopened.get(bytes('flagged'))?.flags, 0xdead_beef);
        } finally {
          await reopened.close();
        }
      }));

    it('incr on an expired key starts again from 0', () =>
      withStore((store, clock) => {
        store.put(bytes('n'), bytes('41'), { expiresAtMs: clock.nowMs() + 10 });
        clock.advance(10);
        const result = store.incr(bytes('n'), 1n);
        assert.ok(result.ok);
        assert.equal(result.value, 1n);
        assert.equal(store.get(bytes('n'))?.expiresAtMs, 0);
      }));

    it('reclaimExpired removes exactly the keys that are due, oldest first, up to the limit', () =>
      withStore((store, clock) => {
        const now = clock.nowMs();
        store.put(bytes('a'), bytes('1'), { expiresAtMs: now + 30 });
        store.put(bytes('b'), bytes('1'), { expiresAtMs: now + 10 });
        store.put(bytes('c'), bytes('1'), { expiresAtMs: now + 20 });
        store.put(bytes('d'), bytes('1'));
        store.put(bytes('e'), bytes('1'), { expiresAtMs: now + 10_000 });
        assert.equal(store.size(), 5);
        assert.equal(store.reclaimExpired(100), 0);
        clock.advance(30);
        assert.equal(store.reclaimExpired(2), 2);
        assert.equal(store.size(), 3);
        assert.equal(store.reclaimExpired(100), 1);
        assert.equal(store.size(), 2);
        assert.deepEqual(
          store.scan({ limit: 10 }).entries.map((e) => text(e.key)),
          ['d', 'e'],
        );
      }));

    it('a key whose expiry was removed or extended is not reclaimed at its old time', () =>
      withStore((store, clock) => {
        const now = clock.nowMs();
        store.put(bytes('a'), bytes('1'), { expiresAtMs: now + 10 });
        store.expire(bytes('a'), now + 1000);
        store.put(bytes('b'), bytes('1'), { expiresAtMs: now + 10 });
        store.put(bytes('b'), bytes('2'));
        clock.advance(20);
        assert.equal(store.reclaimExpired(100), 0);
        assert.equal(store.size(), 2);
      }));

    it('scan returns keys in byte order, with prefix, cursor and limit', () =>
      withStore((store) => {
        for (const key of ['b2', 'a', 'b1', 'c', 'b3', 'ba']) store.put(bytes(key), bytes(`v-${key}`));
        const all = store.scan({ limit: 100 });
        assert.deepEqual(
          all.entries.map((e) => text(e.key)),
          ['a', 'b1', 'b2', 'b3', 'ba', 'c'],
        );
        assert.equal(all.cursor, undefined);
        const page1 = store.scan({ prefix: bytes('b'), limit: 2 });
        assert.deepEqual(
          page1.entries.map((e) => text(e.key)),
          ['b1', 'b2'],
        );
        assert.ok(page1.cursor !== undefined);
        const page2 = store.scan({ prefix: bytes('b'), after: page1.cursor, limit: 10 });
        assert.deepEqual(
          page2.entries.map((e) => text(e.key)),
          ['b3', 'ba'],
        );
        assert.equal(page2.cursor, undefined);
        assert.equal(text(page2.entries[0]?.value), 'v-b3');
      }));

    it('scan stays within the byte budget but always returns at least one entry', () =>
      withStore((store) => {
        for (const key of ['a', 'b', 'c']) store.put(bytes(key), Buffer.alloc(100));
        const two = store.scan({ limit: 10, bytesMax: 202 });
        assert.deepEqual(
          two.entries.map((e) => text(e.key)),
          ['a', 'b'],
        );
        assert.equal(text(two.cursor), 'b');
        const one = store.scan({ limit: 10, bytesMax: 150 });
        assert.deepEqual(
          one.entries.map((e) => text(e.key)),
          ['a'],
        );
        assert.equal(text(one.cursor), 'a');
        const oversized = store.scan({ limit: 10, bytesMax: 10 });
        assert.deepEqual(
          oversized.entries.map((e) => text(e.key)),
          ['a'],
        );
        const rest = store.scan({ limit: 10, bytesMax: 1000, after: one.cursor });
        assert.deepEqual(
          rest.entries.map((e) => text(e.key)),
          ['b', 'c'],
        );
        assert.equal(rest.cursor, undefined);
      }));

    it('scan steps over at most examineMax records, expired ones included, and returns a cursor', () =>
      withStore((store, clock) => {
        for (let i = 0; i < 10; i++) store.put(bytes(`e${i}`), bytes('x'), { expiresAtMs: clock.nowMs() + 1 });
        store.put(bytes('live'), bytes('y'));
        clock.advance(1);
        const short = store.scan({ limit: 5, examineMax: 4 });
        assert.deepEqual(short.entries, []);
        assert.equal(text(short.cursor), 'e3');
        const long = store.scan({ limit: 5, examineMax: 100 });
        assert.deepEqual(
          long.entries.map((e) => text(e.key)),
          ['live'],
        );
        assert.equal(long.cursor, undefined);
      }));

    it('size and bytes count keys and their bytes', () =>
      withStore((store) => {
        assert.equal(store.size(), 0);
        store.put(bytes('ab'), bytes('xyz'));
        store.put(bytes('c'), bytes('1'));
        assert.equal(store.size(), 2);
        assert.equal(store.bytes(), 2 + 3 + 1 + 1);
        store.put(bytes('ab'), bytes('x'));
        assert.equal(store.bytes(), 2 + 1 + 1 + 1);
        store.delete(bytes('c'));
        assert.equal(store.size(), 1);
        assert.equal(store.bytes(), 3);
      }));

    it('clear removes everything, and later writes survive it', () =>
      withStore(async (store, clock, h) => {
        store.put(bytes('a'), bytes('1'));
        store.put(bytes('b'), bytes('1'), { expiresAtMs: clock.nowMs() + 5 });
        await store.sync();
        store.put(bytes('c'), bytes('1'));
        store.clear();
        assert.equal(store.size(), 0);
        assert.equal(store.get(bytes('a')), undefined);
        assert.equal(store.get(bytes('c')), undefined);
        assert.deepEqual(store.scan({ limit: 10 }).entries, []);
        store.put(bytes('d'), bytes('after'));
        assert.deepEqual(
          store.scan({ limit: 10 }).entries.map((e) => text(e.key)),
          ['d'],
        );
        await store.sync();
        const reopened = await h.reopen(store, clock);
        try {
          assert.deepEqual(
            reopened.scan({ limit: 10 }).entries.map((e) => text(e.key)),
            ['d'],
          );
          assert.equal(reopened.size(), 1);
          clock.advance(10);
          assert.equal(reopened.reclaimExpired(10), 0);
        } finally {
          await reopened.close();
        }
      }));

    it('reads see unsynced writes, and synced writes survive a reopen with their versions and counts', () =>
      withStore(async (store, clock, h) => {
        store.put(bytes('a'), bytes('1'));
        const version = store.put(bytes('b'), bytes('2'), { expiresAtMs: clock.nowMs() + 60_000 });
        store.delete(bytes('a'));
        assert.equal(text(store.get(bytes('b'))?.value), '2');
        await store.sync();
        const reopened = await h.reopen(store, clock);
        try {
          const got = reopened.get(bytes('b'));
          assert.equal(text(got?.value), '2');
          assert.equal(got?.version, version);
          assert.equal(reopened.get(bytes('a')), undefined);
          assert.equal(reopened.size(), 1);
          assert.equal(reopened.bytes(), 2);
          assert.ok(reopened.put(bytes('c'), bytes('3')) > version, 'revision continues after reopen');
        } finally {
          await reopened.close();
        }
      }));

    it('agrees with a simple model under random operations (property)', () =>
      withStore((store, clock) => {
        const keys = ['a', 'b', 'ab', 'b\u0000', 'c'];
        const op = fc.oneof(
          fc.record({
            kind: fc.constant('put' as const),
            key: fc.constantFrom(...keys),
            value: fc.string(),
            ttl: fc.option(fc.integer({ min: 1, max: 50 })),
            flags: fc.option(fc.oneof(fc.constantFrom(1, 0xffff_ffff), fc.nat({ max: 0xffff_ffff }))),
          }),
          fc.record({
            kind: fc.constant('expire' as const),
            key: fc.constantFrom(...keys),
            ttl: fc.integer({ min: 0, max: 50 }),
          }),
          fc.record({ kind: fc.constant('del' as const), key: fc.constantFrom(...keys) }),
          fc.record({
            kind: fc.constant('incr' as const),
            key: fc.constantFrom(...keys),
            delta: fc.integer({ min: -5, max: 5 }),
          }),
          fc.record({
            kind: fc.constant('append' as const),
            key: fc.constantFrom(...keys),
            value: fc.string({ maxLength: 3 }),
          }),
          fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 30 }) }),
          fc.record({ kind: fc.constant('reclaim' as const) }),
        );
        fc.assert(
          fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
            store.clear();
            const model = new Map<string, { value: string; at: number; flags: number }>();
            const live = (k: string) => {
              const e = model.get(k);
              return e !== undefined && (e.at === 0 || e.at > clock.nowMs()) ? e : undefined;
            };
            for (const o of ops) {
              switch (o.kind) {
                case 'put': {
                  const at = o.ttl === null ? 0 : clock.nowMs() + o.ttl;
                  if (o.flags === null) store.put(bytes(o.key), bytes(o.value), { expiresAtMs: at });
                  else store.put(bytes(o.key), bytes(o.value), { expiresAtMs: at, flags: o.flags });
                  model.set(o.key, { value: o.value, at, flags: o.flags ?? 0 });
                  break;
                }
                case 'expire': {
                  const cur = live(o.key);
                  const at = o.ttl === 0 ? 0 : clock.nowMs() + o.ttl;
                  assert.equal(store.expire(bytes(o.key), at), cur !== undefined);
                  if (cur !== undefined) model.set(o.key, { ...cur, at });
                  break;
                }
                case 'del':
                  assert.equal(store.delete(bytes(o.key)), live(o.key) !== undefined);
                  model.delete(o.key);
                  break;
                case 'incr': {
                  const cur = live(o.key);
                  const r = store.incr(bytes(o.key), BigInt(o.delta));
                  const parsed =
                    cur === undefined ? 0 : /^(0|-?[1-9][0-9]*)$/.test(cur.value) ? Number(cur.value) : undefined;
                  if (parsed === undefined) {
                    assert.equal(r.ok, false);
                  } else {
                    assert.ok(r.ok);
                    model.set(o.key, { value: String(parsed + o.delta), at: cur?.at ?? 0, flags: cur?.flags ?? 0 });
                  }
                  break;
                }
                case 'append': {
                  const cur = live(o.key);
                  store.append(bytes(o.key), bytes(o.value));
                  model.set(o.key, { value: (cur?.value ?? '') + o.value, at: cur?.at ?? 0, flags: cur?.flags ?? 0 });
                  break;
                }
                case 'tick':
                  clock.advance(o.ms);
                  break;
                case 'reclaim':
                  store.reclaimExpired(100);
                  for (const [k, e] of model) if (e.at !== 0 && e.at <= clock.nowMs()) model.delete(k);
                  break;
              }
              for (const k of keys) {
                const got = store.get(bytes(k));
                assert.equal(text(got?.value), live(k)?.value);
                assert.equal(got?.flags, live(k)?.flags, `flags of ${k}`);
              }
            }
            const expected = [...model.keys()]
              .filter((k) => live(k) !== undefined)
              .sort((a, b) => Buffer.compare(bytes(a), bytes(b)));
            assert.deepEqual(
              store.scan({ limit: 100 }).entries.map((e) => text(e.key)),
              expected,
            );
          }),
          { numRuns: 60 },
        );
      }));
  });
}
