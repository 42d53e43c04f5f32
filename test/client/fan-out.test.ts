// Requests that span chains (docs/design.md §6): a sharded cluster must answer them as one chain
// would. The key property is for scan: chains are modelled as disjoint sorted key sets, each
// paged as the store pages it (keys after the cursor in byte order, at most `limit`, stopping
// early with a cursor as a byte budget or expired keys make it), and paging the merged answers
// from the start to an empty cursor must give every key exactly once, in order.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import fc from 'fast-check';
import {
  everyChainCommands,
  groupByChain,
  joinFlush,
  joinKeys,
  joinMget,
  joinScan,
  joinSize,
  joinTable,
  listLimit,
  splitCommands,
} from '../../src/client/fan-out.js';
import { scanCountDefault, scanReplyBytesMax } from '../../src/core/limits.js';
import { Prng } from '../../src/core/prng.js';
import {
  FlushReplySchema,
  GetKeysReplySchema,
  GetTableReplySchema,
  MgetReplySchema,
  ScanReplySchema,
  SizeReplySchema,
  type Entry,
  type ScanReply,
} from '../../src/protocol/native/gen/catena_pb.js';

const b = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const byKey = (x: Uint8Array, y: Uint8Array) => Buffer.compare(x, y);
const empty = new Uint8Array();

/** A value derived from its key, so a joined entry can be checked against its key. */
const valueOf = (key: Uint8Array) => Uint8Array.from([key.length, ...key].reverse());
const entry = (key: Uint8Array) => ({ key, value: valueOf(key), version: BigInt(key.length), ttlMs: 0n });

const scanReply = (keys: string[], cursor = '') =>
  create(ScanReplySchema, { entries: keys.map((k) => entry(b(k))), cursor: b(cursor) });
const keysOf = (entries: readonly Entry[]) => entries.map((e) => text(e.key));

// ---- The model of a chain --------------------------------------------------------------------

interface Rec {
  key: Uint8Array;
  /** Expired: skipped by a scan, but still examined (it may become the cursor). */
  expired: boolean;
}

/**
 * One chain's scan page, as BaseStore.scan pages (src/storage/store.ts): records after `after`
 * in byte order; stops before the limit, or after `examineMax` records examined, or (chosen by
 * the generator, standing in for the byte budget) early once it holds at least one entry; the
 * cursor is the last key examined, empty when no record remains.
 */
function chainScan(records: readonly Rec[], after: Uint8Array, limit: number, prng: Prng): ScanReply {
  const stopAt = prng.chance(0.3) ? prng.int(1, limit) : limit;
  const examineMax = limit * 4;
  const entries: ReturnType<typeof entry>[] = [];
  let examined = 0;
  let lastKey: Uint8Array = empty;
  for (const record of records) {
    if (after.length > 0 && byKey(record.key, after) <= 0) continue;
    const stop = entries.length >= stopAt || examined >= examineMax;
    if (stop) return create(ScanReplySchema, { entries, cursor: lastKey });
    examined += 1;
    lastKey = record.key;
    if (!record.expired) entries.push(entry(record.key));
  }
  return create(ScanReplySchema, { entries, cursor: empty });
}

/** Chains as disjoint sorted record sets: up to 4 chains, up to 60 distinct short binary keys. */
const chainsArb = fc
  .tuple(
    fc.integer({ min: 1, max: 4 }),
    fc.uniqueArray(fc.uint8Array({ minLength: 1, maxLength: 3 }), { maxLength: 60, selector: hex }),
    fc.array(fc.tuple(fc.nat(3), fc.nat(9)), { minLength: 60, maxLength: 60 }),
  )
  .map(([count, keys, owners]) => {
    const chains: Rec[][] = Array.from({ length: count }, () => []);
    keys.forEach((key, i) => {
      const [chain, fate] = owners[i]!;
      chains[chain % count]!.push({ key, expired: fate === 0 });
    });
    for (const records of chains) records.sort((x, y) => byKey(x.key, y.key));
    return chains;
  });

const liveUnion = (chains: readonly Rec[][]) =>
  chains
    .flat()
    .filter((r) => !r.expired)
    .map((r) => r.key)
    .sort(byKey);

// ---- Tests -----------------------------------------------------------------------------------

describe('which commands fan out', () => {
  it('keyless whole-table commands go to every chain; multi-key reads are split', () => {
    assert.deepEqual([...everyChainCommands].sort(), ['flush', 'getkeys', 'gettable', 'scan', 'size']);
    assert.deepEqual([...splitCommands].sort(), ['mget']);
  });
});

describe('listLimit', () => {
  it('0 and no limit mean the default page; any other limit is kept', () => {
    assert.equal(listLimit(undefined), scanCountDefault);
    assert.equal(listLimit(0), scanCountDefault);
    assert.equal(listLimit(1), 1);
    assert.equal(listLimit(7), 7);
    assert.equal(listLimit(10_000), 10_000);
  });
});

describe('groupByChain', () => {
  const chainOf = (key: Uint8Array) => `c${key[0]! % 3}`;

  it('groups indices by owner, each group in key order, groups in order of first appearance', () => {
    const keys = [Uint8Array.of(4), Uint8Array.of(3), Uint8Array.of(1), Uint8Array.of(6), Uint8Array.of(2)];
    assert.deepEqual(
      [...groupByChain(keys, chainOf)],
      [
        ['c1', [0, 2]],
        ['c0', [1, 3]],
        ['c2', [4]],
      ],
    );
  });

  it('no keys: no groups', () => {
    assert.equal(groupByChain([], chainOf).size, 0);
  });

  it('the same key twice is asked twice, in its own group', () => {
    assert.deepEqual([...groupByChain([b('k'), b('k')], () => 'c0')], [['c0', [0, 1]]]);
  });

  it('every index once, with its owner, in ascending order per group (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 4 }), { maxLength: 40 }), (keys) => {
        const groups = groupByChain(keys, chainOf);
        const all = [...groups.values()].flat().sort((x, y) => x - y);
        assert.deepEqual(
          all,
          keys.map((_, i) => i),
        );
        for (const [chain, indices] of groups) {
          assert.ok(indices.length > 0);
          assert.ok(indices.every((i, n) => chainOf(keys[i]!) === chain && (n === 0 || indices[n - 1]! < i)));
        }
        const firstSeen = [...new Set(keys.map(chainOf))];
        assert.deepEqual([...groups.keys()], firstSeen);
      }),
      { numRuns: 200 },
    );
  });
});

describe('joinSize and joinFlush', () => {
  it('sum keys and bytes over chains, past 2^53', () => {
    const big = 2n ** 60n;
    const joined = joinSize([
      create(SizeReplySchema, { keys: 3n, bytes: 100n }),
      create(SizeReplySchema, { keys: big, bytes: big }),
      create(SizeReplySchema, {}),
    ]);
    assert.equal(joined.keys, big + 3n);
    assert.equal(joined.bytes, big + 100n);
    assert.equal(
      joinFlush([create(FlushReplySchema, { keys: 4n }), create(FlushReplySchema, { keys: big })]).keys,
      big + 4n,
    );
  });

  it('no chains: zero', () => {
    const size = joinSize([]);
    assert.deepEqual([size.keys, size.bytes], [0n, 0n]);
    assert.equal(joinFlush([]).keys, 0n);
  });

  it('are replies of the right message type', () => {
    assert.equal(joinSize([]).$typeName, SizeReplySchema.typeName);
    assert.equal(joinFlush([]).$typeName, FlushReplySchema.typeName);
  });

  it('sum exactly whatever the chains answer (property)', () => {
    const u64 = fc.bigInt({ min: 0n, max: 2n ** 58n });
    fc.assert(
      fc.property(fc.array(fc.tuple(u64, u64), { maxLength: 8 }), (parts) => {
        const size = joinSize(parts.map(([keys, bytes]) => create(SizeReplySchema, { keys, bytes })));
        assert.equal(
          size.keys,
          parts.reduce((s, [k]) => s + k, 0n),
        );
        assert.equal(
          size.bytes,
          parts.reduce((s, [, n]) => s + n, 0n),
        );
        const flush = joinFlush(parts.map(([keys]) => create(FlushReplySchema, { keys })));
        assert.equal(flush.keys, size.keys);
      }),
      { numRuns: 100 },
    );
  });
});

describe('joinKeys and joinTable', () => {
  const keysReply = (keys: string[], truncated = false) => create(GetKeysReplySchema, { keys: keys.map(b), truncated });
  const tableReply = (keys: string[], truncated = false) =>
    create(GetTableReplySchema, { entries: keys.map((k) => entry(b(k))), truncated });

  it('merge in byte order and cut to the limit', () => {
    const joined = joinKeys([keysReply(['b', 'd']), keysReply(['a', 'c', 'e'])], 4);
    assert.deepEqual(joined.keys.map(text), ['a', 'b', 'c', 'd']);
    assert.equal(joined.truncated, true);
    const table = joinTable([tableReply(['b', 'd']), tableReply(['a', 'c', 'e'])], 4);
    assert.deepEqual(keysOf(table.entries), ['a', 'b', 'c', 'd']);
    assert.deepEqual(table.entries[2]!.value, valueOf(b('c')));
    assert.equal(table.truncated, true);
  });

  it('order is unsigned bytes, a prefix before its extensions', () => {
    const joined = joinKeys([keysReply(['\xff', 'ab']), keysReply(['a', '\x00', 'a\x00'])], 10);
    assert.deepEqual(joined.keys.map(text), ['\x00', 'a', 'a\x00', 'ab', '\xff']);
    assert.equal(joined.truncated, false);
  });

  it('not truncated when everything fits exactly; truncated when a chain says it holds more', () => {
    assert.equal(joinKeys([keysReply(['a']), keysReply(['b'])], 2).truncated, false);
    assert.equal(joinKeys([keysReply(['a'], true), keysReply([])], 5).truncated, true);
    assert.equal(joinTable([tableReply(['a'], true)], 5).truncated, true);
    assert.equal(joinKeys([], 5).truncated, false);
    assert.equal(joinTable([], 5).entries.length, 0);
  });

  it('give exactly the first `limit` keys of the union, truncated iff there are more (property)', () => {
    fc.assert(
      fc.property(chainsArb, fc.integer({ min: 1, max: 25 }), (chains, limit) => {
        // Each chain answers its own first `limit` keys, and whether it holds more.
        const perChain = chains.map((records) => records.map((r) => r.key));
        const union = perChain.flat().sort(byKey);
        const expected = union.slice(0, limit).map(hex);
        const joined = joinKeys(
          perChain.map((keys) =>
            create(GetKeysReplySchema, { keys: keys.slice(0, limit), truncated: keys.length > limit }),
          ),
          limit,
        );
        assert.deepEqual(joined.keys.map(hex), expected);
        assert.equal(joined.truncated, union.length > limit);
        const table = joinTable(
          perChain.map((keys) =>
            create(GetTableReplySchema, { entries: keys.slice(0, limit).map(entry), truncated: keys.length > limit }),
          ),
          limit,
        );
        assert.deepEqual(
          table.entries.map((e) => hex(e.key)),
          expected,
        );
        assert.ok(
          table.entries.every((e) => hex(e.value) === hex(valueOf(e.key))),
          'each value stays with its key',
        );
        assert.equal(table.truncated, union.length > limit);
      }),
      { numRuns: 200 },
    );
  });
});

describe('joinScan', () => {
  it('a page no chain cut short: every entry, in order, and the end', () => {
    const page = joinScan([scanReply(['b', 'e']), scanReply(['a', 'c', 'd'])], 10);
    assert.deepEqual(keysOf(page.entries), ['a', 'b', 'c', 'd', 'e']);
    assert.equal(page.cursor.length, 0);
  });

  it('stops at the lowest key where some chain cut its page, so nothing between is skipped', () => {
    // Chain 1 stopped at c: it may hold d, which would come before chain 2's e.
    const page = joinScan([scanReply(['a', 'c'], 'c'), scanReply(['b', 'e', 'f'])], 10);
    assert.deepEqual(keysOf(page.entries), ['a', 'b', 'c']);
    assert.equal(text(page.cursor), 'c');
  });

  it('a chain that cut its page with no entry (it stepped over expired keys) still bounds the page', () => {
    const page = joinScan([scanReply([], 'c'), scanReply(['b', 'd'])], 10);
    assert.deepEqual(keysOf(page.entries), ['b']);
    assert.equal(text(page.cursor), 'c');
    const nothing = joinScan([scanReply([], 'a'), scanReply(['b'])], 10);
    assert.deepEqual([nothing.entries.length, text(nothing.cursor)], [0, 'a'], 'an empty page that still moves on');
  });

  it('more entries than the limit: the page ends at the limit and its last key is the cursor', () => {
    const page = joinScan([scanReply(['a', 'c', 'e']), scanReply(['b', 'd', 'f'])], 4);
    assert.deepEqual(keysOf(page.entries), ['a', 'b', 'c', 'd']);
    assert.equal(text(page.cursor), 'd');
  });

  it('values, versions and ttls travel with their keys', () => {
    const page = joinScan([scanReply(['b']), scanReply(['a'])], 10);
    assert.deepEqual(page.entries[0]!.value, valueOf(b('a')));
    assert.equal(page.entries[1]!.version, 1n);
    assert.equal(page.$typeName, ScanReplySchema.typeName);
  });

  it('cuts a merged page at the reply byte budget, always giving at least one entry', () => {
    // Five entries of exactly a quarter of the budget each (1-byte keys): four fit, not five.
    const quarter = new Uint8Array(scanReplyBytesMax / 4 - 1);
    const big = (k: string) => ({ key: b(k), value: quarter, version: 1n, ttlMs: 0n });
    const page = joinScan(
      [
        create(ScanReplySchema, { entries: [big('a'), big('c'), big('e')] }),
        create(ScanReplySchema, { entries: [big('b'), big('d')] }),
      ],
      10,
    );
    assert.deepEqual(keysOf(page.entries), ['a', 'b', 'c', 'd']);
    assert.equal(text(page.cursor), 'd');
    const huge = { key: b('a'), value: new Uint8Array(scanReplyBytesMax + 1), version: 1n, ttlMs: 0n };
    const alone = joinScan([create(ScanReplySchema, { entries: [huge] }), scanReply(['b'])], 10);
    assert.deepEqual([keysOf(alone.entries), text(alone.cursor)], [['a'], 'a']);
  });

  it('no chains, or chains with nothing: an empty last page', () => {
    for (const replies of [[], [scanReply([])], [scanReply([]), scanReply([])]]) {
      const page = joinScan(replies, 10);
      assert.deepEqual([page.entries.length, page.cursor.length], [0, 0]);
    }
  });

  it('paging from the start to an empty cursor gives every key exactly once, in order (property)', () => {
    fc.assert(
      fc.property(chainsArb, fc.integer({ min: 1, max: 8 }), fc.integer(), (chains, limit, seed) => {
        const prng = new Prng(seed);
        const total = chains.reduce((sum, records) => sum + records.length, 0);
        const seen: string[] = [];
        let after: Uint8Array = empty;
        let pages = 0;
        for (;;) {
          pages += 1;
          // Every call moves the cursor to a key further on, so there are at most total + 1 pages.
          assert.ok(pages <= total + 1, `${pages} pages for ${total} records`);
          const page = joinScan(
            chains.map((records) => chainScan(records, after, limit, prng)),
            limit,
          );
          assert.ok(page.entries.length <= limit, 'a page holds at most `limit` entries');
          const last = page.entries[page.entries.length - 1];
          for (const e of page.entries) {
            assert.ok(after.length === 0 || byKey(e.key, after) > 0, 'every entry is after the cursor asked');
            assert.equal(hex(e.value), hex(valueOf(e.key)));
            seen.push(hex(e.key));
          }
          if (page.cursor.length === 0) break;
          assert.ok(after.length === 0 || byKey(page.cursor, after) > 0, 'the cursor moves forward');
          assert.ok(last === undefined || byKey(page.cursor, last.key) >= 0, 'the cursor is at or past the page');
          after = page.cursor;
        }
        assert.deepEqual(seen, liveUnion(chains).map(hex));
      }),
      { numRuns: 300 },
    );
  });

  it('the first page is the union up to the lowest key a chain cut at, at most `limit`, with a cursor iff more remain (property)', () => {
    fc.assert(
      fc.property(chainsArb, fc.integer({ min: 1, max: 8 }), (chains, limit) => {
        const live = chains.map((records) => records.filter((r) => !r.expired));
        const union = liveUnion(live);
        const pageOf = (after: Uint8Array) =>
          joinScan(
            live.map((records) => {
              const rest = records.filter((r) => after.length === 0 || byKey(r.key, after) > 0);
              const page = rest.slice(0, limit);
              const more = rest.length > limit;
              return create(ScanReplySchema, {
                entries: page.map((r) => entry(r.key)),
                cursor: more ? page[page.length - 1]!.key : empty,
              });
            }),
            limit,
          );
        // The first page: exactly the first `limit` keys of the union, with a cursor iff more remain.
        const first = pageOf(empty);
        const lowestCut = live
          .filter((records) => records.length > limit)
          .map((records) => records[limit - 1]!.key)
          .sort(byKey)[0];
        const expected = union.filter((k) => lowestCut === undefined || byKey(k, lowestCut) <= 0).slice(0, limit);
        assert.deepEqual(
          first.entries.map((e) => hex(e.key)),
          expected.map(hex),
        );
        assert.equal(first.cursor.length === 0, union.length === expected.length);
      }),
      { numRuns: 200 },
    );
  });
});

describe('joinMget', () => {
  const item = (key: Uint8Array) => ({ found: key[0]! % 2 === 0, value: valueOf(key), version: 1n, flags: key[0]! });

  it('puts the answers of each chain back where their keys were asked', () => {
    const joined = joinMget(4, [
      {
        indices: [1, 3],
        reply: create(MgetReplySchema, { items: [{ found: true, value: b('B') }, { found: false }] }),
      },
      {
        indices: [0, 2],
        reply: create(MgetReplySchema, {
          items: [
            { found: true, value: b('A') },
            { found: true, value: b('C') },
          ],
        }),
      },
    ]);
    assert.deepEqual(
      joined.items.map((i) => (i.found ? text(i.value) : null)),
      ['A', 'B', 'C', null],
    );
    assert.equal(joined.$typeName, MgetReplySchema.typeName);
  });

  it('no keys: no items', () => {
    assert.equal(joinMget(0, []).items.length, 0);
  });

  it('split by groupByChain and joined again, every key gets its own answer (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 4 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 5 }),
        (keys, chainCount) => {
          const chainOf = (key: Uint8Array) => `c${(key[0]! + key.length) % chainCount}`;
          const parts = [...groupByChain(keys, chainOf).values()].map((indices) => ({
            indices,
            reply: create(MgetReplySchema, { items: indices.map((i) => item(keys[i]!)) }),
          }));
          const joined = joinMget(keys.length, parts);
          assert.equal(joined.items.length, keys.length);
          joined.items.forEach((got, i) => {
            const want = item(keys[i]!);
            assert.deepEqual([got.found, hex(got.value), got.flags], [want.found, hex(want.value), want.flags]);
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});
