// The slot map (docs/design.md §2, §6): the table that answers "which chain owns this slot", the even
// spread the manager writes first, and the stored document, which is never trusted: every kind of
// malformed document (gaps, overlaps, out of range, wrong types, a version below 1, not JSON) must
// decode to undefined, and every valid one must survive a round trip unchanged.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AssertionError } from '../../src/core/assert.js';
import { Prng } from '../../src/core/prng.js';
import {
  decodeSlotMap,
  encodeSlotMap,
  evenSlotMap,
  mergeRanges,
  SlotTable,
  validRanges,
  type SlotMap,
  type SlotRange,
} from '../../src/sharding/slot-map.js';
import { keySlot, slotCount } from '../../src/sharding/slots.js';

const lastSlot = slotCount - 1;
const utf8 = (text: string) => new TextEncoder().encode(text);
const document = (value: unknown) => utf8(JSON.stringify(value));

/** Ranges from sorted cut points (each the first slot of a new range) and an owner per range. */
function rangesFrom(cuts: readonly number[], owners: readonly string[]): SlotRange[] {
  const starts = [0, ...cuts];
  return starts.map((first, i) => [first, (starts[i + 1] ?? slotCount) - 1, owners[i % owners.length]!]);
}

/** A valid list of ranges: up to 12 cuts, owners from a small alphabet so neighbours often match. */
const validRangesArb = fc
  .tuple(
    fc.uniqueArray(fc.integer({ min: 1, max: lastSlot }), { maxLength: 12 }),
    fc.array(fc.constantFrom('c0', 'c1', 'c2', 'chain-δ'), { minLength: 13, maxLength: 13 }),
  )
  .map(([cuts, owners]) =>
    rangesFrom(
      [...cuts].sort((a, b) => a - b),
      owners,
    ),
  );

const slotMapArb: fc.Arbitrary<SlotMap> = fc
  .tuple(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), validRangesArb)
  .map(([version, ranges]) => ({ version, ranges }));

/** The owner of a slot by walking the ranges: the reference for SlotTable.ownerOf. */
const ownerByRanges = (ranges: readonly SlotRange[], slot: number) =>
  ranges.find(([first, last]) => first <= slot && slot <= last)?.[2];

const sizeOf = ([first, last]: SlotRange) => last - first + 1;

describe('SlotTable', () => {
  const map: SlotMap = {
    version: 3,
    ranges: [
      [0, 99, 'c1'],
      [100, 8191, 'c0'],
      [8192, 8192, 'c2'],
      [8193, lastSlot, 'c1'],
    ],
  };

  it('looks up the owner of the first, last and every boundary slot', () => {
    const table = new SlotTable(map);
    assert.equal(table.version, 3);
    assert.equal(table.map, map);
    const expected: [number, string][] = [
      [0, 'c1'],
      [99, 'c1'],
      [100, 'c0'],
      [8191, 'c0'],
      [8192, 'c2'],
      [8193, 'c1'],
      [lastSlot, 'c1'],
    ];
    for (const [slot, chain] of expected) assert.equal(table.ownerOf(slot), chain, `slot ${slot}`);
  });

  it('lists each owning chain once, in order of its first slot', () => {
    assert.deepEqual(new SlotTable(map).chains, ['c1', 'c0', 'c2']);
  });

  it('counts slots per chain, adding up the ranges a chain holds', () => {
    const counts = new SlotTable(map).slotCounts();
    assert.deepEqual(
      [...counts],
      [
        ['c1', 100 + (lastSlot - 8193 + 1)],
        ['c0', 8092],
        ['c2', 1],
      ],
    );
    assert.equal(
      [...counts.values()].reduce((a, b) => a + b, 0),
      slotCount,
    );
  });

  it('a single chain owning everything', () => {
    const table = new SlotTable({ version: 1, ranges: [[0, lastSlot, 'only']] });
    assert.deepEqual(table.chains, ['only']);
    assert.equal(table.ownerOf(0), 'only');
    assert.equal(table.ownerOf(lastSlot), 'only');
    assert.deepEqual([...table.slotCounts()], [['only', slotCount]]);
  });

  it('refuses to be built from an invalid map', () => {
    const bad: SlotRange[][] = [[], [[0, 100, 'c0']], [[1, lastSlot, 'c0']], [[0, lastSlot, '']]];
    for (const ranges of bad) assert.throws(() => new SlotTable({ version: 1, ranges }), AssertionError);
  });

  it('agrees with the ranges on every slot, and its counts add up (property)', () => {
    fc.assert(
      fc.property(slotMapArb, fc.array(fc.integer({ min: 0, max: lastSlot }), { maxLength: 50 }), (m, slots) => {
        const table = new SlotTable(m);
        for (const slot of [0, lastSlot, ...slots, ...m.ranges.flatMap(([f, l]) => [f, l])]) {
          assert.equal(table.ownerOf(slot), ownerByRanges(m.ranges, slot));
        }
        const firstSeen = [...new Set(m.ranges.map(([, , chain]) => chain))];
        assert.deepEqual(table.chains, firstSeen);
        const counts = table.slotCounts();
        assert.deepEqual([...counts.keys()].sort(), [...firstSeen].sort());
        for (const chain of firstSeen) {
          const expected = m.ranges.filter((r) => r[2] === chain).reduce((sum, r) => sum + sizeOf(r), 0);
          assert.equal(counts.get(chain), expected);
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('validRanges', () => {
  it('accepts a cover of 0..16383 in one or many ranges', () => {
    assert.equal(validRanges([[0, lastSlot, 'a']]), true);
    assert.equal(
      validRanges([
        [0, 0, 'a'],
        [1, lastSlot - 1, 'b'],
        [lastSlot, lastSlot, 'a'],
      ]),
      true,
    );
  });

  it('rejects an empty list, gaps, overlaps, disorder, reversed ranges, slots out of range and empty chain ids', () => {
    const cases: [string, SlotRange[]][] = [
      ['empty', []],
      ['does not start at 0', [[1, lastSlot, 'a']]],
      ['stops short', [[0, lastSlot - 1, 'a']]],
      ['runs past the end', [[0, slotCount, 'a']]],
      [
        'gap',
        [
          [0, 10, 'a'],
          [12, lastSlot, 'b'],
        ],
      ],
      [
        'overlap',
        [
          [0, 10, 'a'],
          [10, lastSlot, 'b'],
        ],
      ],
      [
        'duplicate range',
        [
          [0, lastSlot, 'a'],
          [0, lastSlot, 'a'],
        ],
      ],
      [
        'out of order',
        [
          [8192, lastSlot, 'b'],
          [0, 8191, 'a'],
        ],
      ],
      [
        'reversed range',
        [
          [0, 10, 'a'],
          [11, 5, 'b'],
          [6, lastSlot, 'c'],
        ],
      ],
      ['negative first', [[-1, lastSlot, 'a']]],
      ['empty chain id', [[0, lastSlot, '']]],
      ['NaN bound', [[0, Number.NaN, 'a']]],
    ];
    for (const [what, ranges] of cases) assert.equal(validRanges(ranges), false, what);
  });

  it('any single bound moved breaks the cover (property)', () => {
    fc.assert(
      fc.property(
        validRangesArb,
        fc.nat(),
        fc.boolean(),
        fc.integer({ min: -20, max: 20 }).filter((d) => d !== 0),
        (ranges, pick, moveFirst, delta) => {
          const i = pick % ranges.length;
          const [first, last, chain] = ranges[i]!;
          const moved = ranges.slice();
          moved[i] = moveFirst ? [first + delta, last, chain] : [first, last + delta, chain];
          return validRanges(ranges) && !validRanges(moved);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('evenSlotMap', () => {
  it('three chains: the Redis Cluster spread, first chain one slot larger', () => {
    assert.deepEqual(evenSlotMap(['c0', 'c1', 'c2'], 1), {
      version: 1,
      ranges: [
        [0, 5461, 'c0'],
        [5462, 10922, 'c1'],
        [10923, lastSlot, 'c2'],
      ],
    });
  });

  it('one chain owns everything; 16384 chains own one slot each', () => {
    assert.deepEqual(evenSlotMap(['c0'], 7).ranges, [[0, lastSlot, 'c0']]);
    const chains = Array.from({ length: slotCount }, (_, i) => `c${i}`);
    const map = evenSlotMap(chains, 2);
    assert.equal(map.ranges.length, slotCount);
    assert.ok(map.ranges.every(([first, last, chain], i) => first === i && last === i && chain === `c${i}`));
  });

  it('refuses no chains and more chains than slots', () => {
    assert.throws(() => evenSlotMap([], 1), AssertionError);
    const tooMany = Array.from({ length: slotCount + 1 }, (_, i) => `c${i}`);
    assert.throws(() => evenSlotMap(tooMany, 1), AssertionError);
  });

  it('a chain named twice in a row gets both shares as one range', () => {
    assert.deepEqual(evenSlotMap(['a', 'a', 'b'], 1).ranges, [
      [0, 10922, 'a'],
      [10923, lastSlot, 'b'],
    ]);
  });

  it('every slot owned exactly once, sizes within one, in chain order, version kept (property)', () => {
    const chainsArb = fc.oneof(
      fc.integer({ min: 1, max: 64 }),
      fc.constantFrom(100, 1024, 4095, 4096, 4097, 16383, 16384),
    );
    fc.assert(
      fc.property(chainsArb, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (n, version) => {
        const chains = Array.from({ length: n }, (_, i) => `c${i}`);
        const map = evenSlotMap(chains, version);
        assert.equal(map.version, version);
        assert.ok(validRanges(map.ranges), 'every slot owned exactly once');
        assert.deepEqual(
          map.ranges.map(([, , chain]) => chain),
          chains,
          'one range per chain, in the order given',
        );
        const sizes = map.ranges.map(sizeOf);
        assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, 'sizes differ by at most one');
        const extra = slotCount % n;
        sizes.forEach((size, i) => assert.equal(size, Math.floor(slotCount / n) + (i < extra ? 1 : 0)));
        // SlotTable finds each chain's index by a linear search: only built at layout sizes (≤ 1024).
        if (n <= 1024) assert.deepEqual(new SlotTable(map).chains, chains);
      }),
      { numRuns: 100 },
    );
  });

  it('keySlot over an even map of 3 chains spreads 3000 random keys over all three', () => {
    const table = new SlotTable(evenSlotMap(['c0', 'c1', 'c2'], 1));
    const prng = new Prng(20240611);
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const key = Uint8Array.from({ length: prng.int(1, 24) }, () => prng.int(0, 255));
      const chain = table.ownerOf(keySlot(key));
      counts.set(chain, (counts.get(chain) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), ['c0', 'c1', 'c2']);
    // About 1000 each; the spread of a fair three-way split is ±26, so 800 is far outside chance.
    for (const [chain, count] of counts) assert.ok(count > 800 && count < 1200, `${chain}: ${count} keys`);
  });

  it('keys sharing a hashtag land on the same chain', () => {
    const table = new SlotTable(evenSlotMap(['c0', 'c1', 'c2'], 1));
    const owner = (key: string) => table.ownerOf(keySlot(utf8(key)));
    assert.equal(owner('{user:1}.name'), owner('{user:1}.email'));
    assert.equal(owner('{user:1}.name'), owner('user:1'));
  });
});

describe('mergeRanges', () => {
  it('joins neighbours of the same chain, and only neighbours', () => {
    assert.deepEqual(
      mergeRanges([
        [0, 9, 'a'],
        [10, 19, 'a'],
        [20, 29, 'b'],
        [30, 39, 'a'],
        [40, 49, 'a'],
        [50, 59, 'a'],
      ]),
      [
        [0, 19, 'a'],
        [20, 29, 'b'],
        [30, 59, 'a'],
      ],
    );
  });

  it('leaves ranges of the same chain alone when they do not touch', () => {
    const ranges: SlotRange[] = [
      [0, 5, 'a'],
      [7, 9, 'a'],
    ];
    assert.deepEqual(mergeRanges(ranges), ranges);
  });

  it('an empty list stays empty, and the input is not modified', () => {
    assert.deepEqual(mergeRanges([]), []);
    const input: SlotRange[] = [
      [0, 1, 'a'],
      [2, lastSlot, 'a'],
    ];
    const copy = structuredClone(input);
    assert.deepEqual(mergeRanges(input), [[0, lastSlot, 'a']]);
    assert.deepEqual(input, copy);
  });

  it('keeps every slot with its owner, leaves no two touching ranges of one chain, is idempotent (property)', () => {
    fc.assert(
      fc.property(
        validRangesArb,
        fc.array(fc.integer({ min: 0, max: lastSlot }), { maxLength: 40 }),
        (ranges, slots) => {
          const merged = mergeRanges(ranges);
          assert.ok(validRanges(merged));
          assert.ok(merged.length <= ranges.length);
          for (const slot of [...slots, ...ranges.flatMap(([f, l]) => [f, l])]) {
            assert.equal(ownerByRanges(merged, slot), ownerByRanges(ranges, slot), `slot ${slot}`);
          }
          for (let i = 1; i < merged.length; i++) assert.notEqual(merged[i]![2], merged[i - 1]![2]);
          assert.deepEqual(mergeRanges(merged), merged);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('slot map document', () => {
  it('is the readable JSON the module comment shows', () => {
    const text = new TextDecoder().decode(encodeSlotMap(evenSlotMap(['c0', 'c1', 'c2'], 3)));
    assert.equal(text, '{"version":3,"ranges":[[0,5461,"c0"],[5462,10922,"c1"],[10923,16383,"c2"]]}');
  });

  it('decodes the documented example', () => {
    const text = '{"version": 3, "ranges": [[0, 5460, "c0"], [5461, 10922, "c1"], [10923, 16383, "c2"]]}';
    assert.deepEqual(decodeSlotMap(utf8(text)), {
      version: 3,
      ranges: [
        [0, 5460, 'c0'],
        [5461, 10922, 'c1'],
        [10923, lastSlot, 'c2'],
      ],
    });
  });

  it('ignores fields it does not know and writes only version and ranges', () => {
    const decoded = decodeSlotMap(document({ version: 1, ranges: [[0, lastSlot, 'c0']], note: 'x' }));
    assert.deepEqual(decoded, { version: 1, ranges: [[0, lastSlot, 'c0']] });
    const extra = { version: 1, ranges: [[0, lastSlot, 'c0']] as SlotRange[], note: 'x' };
    assert.deepEqual(JSON.parse(new TextDecoder().decode(encodeSlotMap(extra))), {
      version: 1,
      ranges: [[0, lastSlot, 'c0']],
    });
  });

  it('round-trips every valid map (property)', () => {
    fc.assert(
      fc.property(slotMapArb, (map) => {
        assert.deepEqual(decodeSlotMap(encodeSlotMap(map)), map);
      }),
      { numRuns: 200 },
    );
  });

  const whole = [[0, lastSlot, 'c0']];
  const rejected: [string, Uint8Array][] = [
    // Not JSON at all.
    ['empty document', utf8('')],
    ['garbage', utf8('slots please')],
    ['truncated JSON', utf8('{"version": 1, "ranges": [[0, 16383, "c0"]')],
    ['invalid UTF-8', Uint8Array.of(0xff, 0xfe, 0x7b, 0x7d)],
    // JSON, but not an object.
    ['null', document(null)],
    ['a number', document(42)],
    ['a string', document('{"version":1}')],
    ['an array', document([1, whole])],
    ['true', document(true)],
    // The version.
    ['no version', document({ ranges: whole })],
    ['version 0', document({ version: 0, ranges: whole })],
    ['negative version', document({ version: -1, ranges: whole })],
    ['fractional version', document({ version: 1.5, ranges: whole })],
    ['version as a string', document({ version: '1', ranges: whole })],
    ['null version', document({ version: null, ranges: whole })],
    ['unsafe version', document({ version: 2 ** 53, ranges: whole })],
    ['infinite version', utf8(`{"version": 1e400, "ranges": ${JSON.stringify(whole)}}`)],
    // The ranges container.
    ['no ranges', document({ version: 1 })],
    ['ranges an object', document({ version: 1, ranges: { 0: [0, lastSlot, 'c0'] } })],
    ['ranges a string', document({ version: 1, ranges: '0-16383 c0' })],
    ['ranges null', document({ version: 1, ranges: null })],
    ['no range at all', document({ version: 1, ranges: [] })],
    // A range of the wrong shape or types.
    ['a range not an array', document({ version: 1, ranges: [{ first: 0, last: lastSlot, chain: 'c0' }] })],
    ['a range of two', document({ version: 1, ranges: [[0, lastSlot]] })],
    ['a range of four', document({ version: 1, ranges: [[0, lastSlot, 'c0', 'extra']] })],
    ['first as a string', document({ version: 1, ranges: [['0', lastSlot, 'c0']] })],
    ['last null', document({ version: 1, ranges: [[0, null, 'c0']] })],
    ['chain id a number', document({ version: 1, ranges: [[0, lastSlot, 0]] })],
    ['chain id null', document({ version: 1, ranges: [[0, lastSlot, null]] })],
    ['empty chain id', document({ version: 1, ranges: [[0, lastSlot, '']] })],
    [
      'fractional bounds',
      document({
        version: 1,
        ranges: [
          [0, 0.5, 'c0'],
          [1.5, lastSlot, 'c1'],
        ],
      }),
    ],
    // Slots out of range.
    ['negative first', document({ version: 1, ranges: [[-1, lastSlot, 'c0']] })],
    ['last past the end', document({ version: 1, ranges: [[0, slotCount, 'c0']] })],
    ['huge last', document({ version: 1, ranges: [[0, 1e9, 'c0']] })],
    // Gaps, overlaps and disorder.
    ['does not start at 0', document({ version: 1, ranges: [[1, lastSlot, 'c0']] })],
    ['stops short of the last slot', document({ version: 1, ranges: [[0, lastSlot - 1, 'c0']] })],
    [
      'a gap',
      document({
        version: 1,
        ranges: [
          [0, 100, 'c0'],
          [102, lastSlot, 'c1'],
        ],
      }),
    ],
    [
      'an overlap',
      document({
        version: 1,
        ranges: [
          [0, 100, 'c0'],
          [100, lastSlot, 'c1'],
        ],
      }),
    ],
    [
      'out of order',
      document({
        version: 1,
        ranges: [
          [8192, lastSlot, 'c1'],
          [0, 8191, 'c0'],
        ],
      }),
    ],
    [
      'a reversed range',
      document({
        version: 1,
        ranges: [
          [0, 99, 'c0'],
          [200, 100, 'c1'],
          [201, lastSlot, 'c2'],
        ],
      }),
    ],
    [
      'covered twice',
      document({
        version: 1,
        ranges: [
          [0, lastSlot, 'c0'],
          [0, lastSlot, 'c1'],
        ],
      }),
    ],
  ];

  for (const [what, bytes] of rejected) {
    it(`rejects a document with ${what}`, () => {
      assert.equal(decodeSlotMap(bytes), undefined);
    });
  }

  it('rejects a valid map with one bound moved, one range dropped, or two ranges swapped (property)', () => {
    fc.assert(
      fc.property(
        slotMapArb,
        fc.nat(),
        fc.nat(),
        fc.integer({ min: -3, max: 3 }).filter((d) => d !== 0),
        fc.constantFrom('move-first', 'move-last', 'drop', 'swap'),
        (map, i, j, delta, how) => {
          const ranges = map.ranges.map((r) => [...r] as [number, number, string]);
          const a = i % ranges.length;
          const b = j % ranges.length;
          switch (how) {
            case 'move-first':
              ranges[a]![0] += delta;
              break;
            case 'move-last':
              ranges[a]![1] += delta;
              break;
            case 'drop':
              ranges.splice(a, 1);
              break;
            case 'swap':
              fc.pre(a !== b);
              [ranges[a], ranges[b]] = [ranges[b]!, ranges[a]!];
              break;
          }
          assert.equal(decodeSlotMap(document({ version: map.version, ranges })), undefined);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('any bytes or any JSON decode to undefined or to a valid map (property)', () => {
    const valid = (map: SlotMap | undefined) =>
      map === undefined || (Number.isSafeInteger(map.version) && map.version >= 1 && validRanges(map.ranges));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => valid(decodeSlotMap(bytes))),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.json({ maxDepth: 3 }), (text) => valid(decodeSlotMap(utf8(text)))),
      { numRuns: 300 },
    );
  });
});
