// Rebalancing, pure (docs/design.md §6, src/sharding/rebalance.ts): the target owner of every slot when
// the chains change, and the batches that get there. The target must be fair (each chain its
// floor/ceil share, the first chains the extra slot) and move as little as possible (a chain keeps
// what it holds up to its share, losing only its highest slots past it, and only the slots of
// chains that leave move besides); the batches must take the lowest misplaced slots first, in
// contiguous runs of one source and one target, never more than the batch limit, and reach the
// target. The slot map document carries the move in progress; a malformed one is never trusted.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AssertionError } from '../../src/core/assert.js';
import { Prng } from '../../src/core/prng.js';
import { applyMove, misplaced, nextMove, rangesOf, targetOwners, type Move } from '../../src/sharding/rebalance.js';
import {
  decodeSlotMap,
  encodeSlotMap,
  evenSlotMap,
  SlotTable,
  validRanges,
  type Migration,
  type SlotMap,
  type SlotRange,
} from '../../src/sharding/slot-map.js';
import { slotCount } from '../../src/sharding/slots.js';

const lastSlot = slotCount - 1;
const utf8 = (text: string) => new TextEncoder().encode(text);
const document = (value: unknown) => utf8(JSON.stringify(value));

/** The owner list of an even map over `chains`. */
const evenOwners = (chains: readonly string[]) => new SlotTable(evenSlotMap(chains, 1)).ownerList();

/** The fair share of the chain at `index` among `n`: floor(16384 / n), the first 16384 % n one more. */
const shareOf = (index: number, n: number) => Math.floor(slotCount / n) + (index < slotCount % n ? 1 : 0);

const countBy = (owners: readonly string[]) => {
  const counts = new Map<string, number>();
  for (const owner of owners) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  return counts;
};

/** The slots whose owner differs between two lists. */
const changed = (before: readonly string[], after: readonly string[]) =>
  before.flatMap((owner, slot) => (owner === after[slot] ? [] : [slot]));

/** Expands ranges back into one owner per slot. */
const expand = (ranges: readonly SlotRange[]) =>
  ranges.flatMap(([first, last, chain]) => Array<string>(last - first + 1).fill(chain));

const listed = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];
const unlisted = ['gone-0', 'gone-1'];

function ownersRunsArb(): fc.Arbitrary<string[]> {
  return fc
    .tuple(
      fc.uniqueArray(fc.integer({ min: 1, max: lastSlot }), { maxLength: 24 }),
      fc.array(fc.constantFrom(...listed, ...unlisted), { minLength: 25, maxLength: 25 }),
    )
    .map(([cuts, chains]) => {
      const starts = [0, ...[...cuts].sort((a, b) => a - b)];
      return expand(starts.map((first, i) => [first, (starts[i + 1] ?? slotCount) - 1, chains[i]!] as const));
    });
}

/**
 * An owner list: up to 24 contiguous runs (cut points anywhere) owned by chains of the list and by
 * chains about to leave, or, a third of the time, one owner per slot drawn from a seeded generator
 * (a map fragmented slot by slot, as many moves leave it).
 */
const ownersArb: fc.Arbitrary<string[]> = fc.oneof(
  ownersRunsArb(),
  ownersRunsArb(),
  fc.tuple(fc.integer(), fc.integer({ min: 1, max: 8 })).map(([seed, owners]) => {
    const prng = new Prng(seed);
    const pool = [...listed, ...unlisted].slice(0, owners);
    return Array.from({ length: slotCount }, () => prng.pick(pool));
  }),
);

/**
 * An owner list for walking to the target batch by batch: contiguous runs, with up to 200 slots
 * somewhere re-owned one by one (a fully fragmented map would take ~16384 batches of O(16384)).
 */
const walkableArb: fc.Arbitrary<string[]> = fc
  .tuple(ownersRunsArb(), fc.integer({ min: 0, max: lastSlot }), fc.integer({ min: 0, max: 200 }), fc.integer())
  .map(([runs, start, length, seed]) => {
    const prng = new Prng(seed);
    const owners = [...runs]; // fast-check may hand the same runs out again while shrinking
    for (let slot = start; slot < Math.min(slotCount, start + length); slot++) {
      owners[slot] = prng.pick([...listed, ...unlisted]);
    }
    return owners;
  });

/** The chains wanted: 1 to 6 distinct chains of the list, in any order (some may hold nothing yet). */
const chainsArb = fc
  .shuffledSubarray(listed, { minLength: 1, maxLength: listed.length })
  .chain((chains) => fc.shuffledSubarray(chains, { minLength: chains.length, maxLength: chains.length }));

describe('targetOwners', () => {
  it('adding a fourth chain to three even ones moves exactly 4096 slots, the highest of each, a third from each', () => {
    const current = evenOwners(['c0', 'c1', 'c2']);
    const target = targetOwners(current, ['c0', 'c1', 'c2', 'c3']);
    assert.equal(misplaced(current, target), 4096);
    assert.deepEqual(rangesOf(target), [
      [0, 4095, 'c0'],
      [4096, 5461, 'c3'],
      [5462, 9557, 'c1'],
      [9558, 10922, 'c3'],
      [10923, 15018, 'c2'],
      [15019, lastSlot, 'c3'],
    ]);
    const given = countBy(changed(current, target).map((slot) => current[slot]!));
    assert.deepEqual(Object.fromEntries(given), { c0: 1366, c1: 1365, c2: 1365 });
    assert.deepEqual(Object.fromEntries(countBy(target)), { c0: 4096, c1: 4096, c2: 4096, c3: 4096 });
  });

  it('removing a chain moves exactly its slots, lowest first to the chains in list order', () => {
    const current = evenOwners(['c0', 'c1', 'c2', 'c3']);
    const target = targetOwners(current, ['c0', 'c2', 'c3']);
    assert.deepEqual(rangesOf(target), [
      [0, 5461, 'c0'],
      [5462, 6826, 'c2'],
      [6827, 8191, 'c3'],
      [8192, 12287, 'c2'],
      [12288, lastSlot, 'c3'],
    ]);
    assert.deepEqual(
      changed(current, target),
      Array.from({ length: 4096 }, (_, i) => 4096 + i),
    );
  });

  it('removing any one of n even chains moves exactly its slots (every n from 2 to 9)', () => {
    for (let n = 2; n <= 9; n++) {
      const chains = Array.from({ length: n }, (_, i) => `c${i}`);
      const current = evenOwners(chains);
      for (const leaving of chains) {
        const target = targetOwners(
          current,
          chains.filter((c) => c !== leaving),
        );
        const moved = changed(current, target);
        assert.ok(
          moved.every((slot) => current[slot] === leaving),
          `n=${n}, ${leaving} leaves: only its slots move`,
        );
        assert.equal(moved.length, countBy(current).get(leaving), `n=${n}, ${leaving} leaves: all its slots move`);
        assert.ok(!target.includes(leaving));
      }
    }
  });

  it('one chain takes every slot; a map already fair is left as it is', () => {
    assert.deepEqual(rangesOf(targetOwners(evenOwners(['c0', 'c1', 'c2']), ['c1'])), [[0, lastSlot, 'c1']]);
    const fair = evenOwners(['c0', 'c1', 'c2', 'c3', 'c4']);
    assert.deepEqual(targetOwners(fair, ['c0', 'c1', 'c2', 'c3', 'c4']), fair);
    // Listed in another order, the shares change hands: the first chains of the list get the extra.
    const reordered = targetOwners(evenOwners(['c0', 'c1', 'c2']), ['c2', 'c1', 'c0']);
    assert.deepEqual(Object.fromEntries(countBy(reordered)), { c2: 5462, c1: 5461, c0: 5461 });
    assert.deepEqual(rangesOf(reordered), [
      [0, 5460, 'c0'],
      [5461, 5461, 'c2'],
      [5462, 10922, 'c1'],
      [10923, lastSlot, 'c2'],
    ]);
  });

  it('a chain over its share gives up its highest slots, and they go lowest first to the chains below theirs', () => {
    // c0 holds 0..9999 and c1 10000..16383 (6384); the new list [c1, c0, c2] gives c1 5462, c0 5461,
    // c2 5461. c0 keeps 0..5460 and gives 5461..9999; c1 keeps 10000..15461, gives 15462..16383.
    const current = expand([
      [0, 9999, 'c0'],
      [10000, lastSlot, 'c1'],
    ]);
    const target = targetOwners(current, ['c1', 'c0', 'c2']);
    assert.deepEqual(rangesOf(target), [
      [0, 5460, 'c0'],
      [5461, 9999, 'c2'],
      [10000, 15461, 'c1'],
      [15462, lastSlot, 'c2'],
    ]);
  });

  it('refuses an owner list of the wrong length, no chains, and a chain listed twice', () => {
    const current = evenOwners(['c0']);
    assert.throws(() => targetOwners(current.slice(1), ['c0']), AssertionError);
    assert.throws(() => targetOwners([...current, 'c0'], ['c0']), AssertionError);
    assert.throws(() => targetOwners(current, []), AssertionError);
    assert.throws(() => targetOwners(current, ['c0', 'c1', 'c0']), AssertionError);
  });

  it('gives every slot a chain of the list, each its fair share, the first chains the extra (property)', () => {
    fc.assert(
      fc.property(ownersArb, chainsArb, (current, chains) => {
        const target = targetOwners(current, chains);
        assert.equal(target.length, slotCount);
        const counts = countBy(target);
        assert.deepEqual([...counts.keys()].sort(), [...chains].sort(), 'only listed chains, each with slots');
        chains.forEach((chain, i) => assert.equal(counts.get(chain), shareOf(i, chains.length), chain));
      }),
      { numRuns: 150 },
    );
  });

  it('moves only what it must: the changed slots are the excess of each chain and the slots of chains that leave (property)', () => {
    fc.assert(
      fc.property(ownersArb, chainsArb, (current, chains) => {
        const target = targetOwners(current, chains);
        const held = countBy(current);
        let expected = 0;
        for (const [owner, count] of held) {
          const index = chains.indexOf(owner);
          expected += index < 0 ? count : Math.max(0, count - shareOf(index, chains.length));
        }
        assert.equal(misplaced(current, target), expected);
        // Which slots stay: all of a chain within its share; the lowest `share` of a chain above it.
        chains.forEach((chain, i) => {
          const mine = current.flatMap((owner, slot) => (owner === chain ? [slot] : []));
          const kept = mine.slice(0, shareOf(i, chains.length));
          assert.ok(
            kept.every((slot) => target[slot] === chain),
            `${chain} keeps its lowest slots up to its share`,
          );
          assert.ok(
            mine.slice(kept.length).every((slot) => target[slot] !== chain),
            `${chain} gives up the rest`,
          );
        });
        // A slot that moves goes to a chain that was below its share.
        for (const slot of changed(current, target)) {
          const to = target[slot]!;
          assert.ok((held.get(to) ?? 0) < shareOf(chains.indexOf(to), chains.length), `slot ${slot} to ${to}`);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('is idempotent, and does not modify its input (property)', () => {
    fc.assert(
      fc.property(ownersArb, chainsArb, (current, chains) => {
        const copy = [...current];
        const target = targetOwners(current, chains);
        assert.deepEqual(current, copy);
        assert.deepEqual(targetOwners(target, chains), target);
      }),
      { numRuns: 100 },
    );
  });
});

describe('misplaced', () => {
  it('counts the slots whose owner is not their target', () => {
    const current = evenOwners(['c0', 'c1']);
    assert.equal(misplaced(current, current), 0);
    assert.equal(misplaced(current, evenOwners(['c1', 'c0'])), slotCount);
    const target = [...current];
    target[0] = 'c9';
    target[lastSlot] = 'c9';
    target[8192] = 'c0';
    assert.equal(misplaced(current, target), 3);
  });
});

/** The number of batches that reach the target: ceil(run / batchMax) over maximal runs of one (from, to). */
function batchesNeeded(current: readonly string[], target: readonly string[], batchMax: number): number {
  let batches = 0;
  let slot = 0;
  while (slot < slotCount) {
    if (current[slot] === target[slot]) {
      slot += 1;
      continue;
    }
    let end = slot + 1;
    while (end < slotCount && current[end] === current[slot] && target[end] === target[slot]) end += 1;
    batches += Math.ceil((end - slot) / batchMax);
    slot = end;
  }
  return batches;
}

describe('nextMove', () => {
  const current = expand([
    [0, 99, 'c0'],
    [100, 199, 'c1'],
    [200, lastSlot, 'c2'],
  ]);

  it('is undefined when nothing is misplaced', () => {
    assert.equal(nextMove(current, current, 100), undefined);
  });

  it('takes the lowest misplaced slot and the run after it with the same source and target', () => {
    const target = [...current];
    for (let slot = 150; slot < 400; slot++) target[slot] = 'c3'; // c1 150..199 and c2 200..399 to c3
    for (let slot = 500; slot < 510; slot++) target[slot] = 'c0';
    assert.deepEqual(nextMove(current, target, 1000), { first: 150, last: 199, from: 'c1', to: 'c3' });
    // The run stops where the target changes too, not only the source.
    const split = [...target];
    for (let slot = 160; slot < 200; slot++) split[slot] = 'c0';
    assert.deepEqual(nextMove(current, split, 1000), { first: 150, last: 159, from: 'c1', to: 'c3' });
    // And where a slot is already in place.
    const gap = [...target];
    gap[170] = 'c1';
    assert.deepEqual(nextMove(current, gap, 1000), { first: 150, last: 169, from: 'c1', to: 'c3' });
  });

  it('takes at most batchMax slots', () => {
    const target = [...current];
    for (let slot = 300; slot < 1300; slot++) target[slot] = 'c1';
    assert.deepEqual(nextMove(current, target, 64), { first: 300, last: 363, from: 'c2', to: 'c1' });
    assert.deepEqual(nextMove(current, target, 1), { first: 300, last: 300, from: 'c2', to: 'c1' });
    // A run that ends at the last slot.
    const tail = [...current];
    tail[lastSlot - 1] = 'c0';
    tail[lastSlot] = 'c0';
    assert.deepEqual(nextMove(current, tail, 10), { first: lastSlot - 1, last: lastSlot, from: 'c2', to: 'c0' });
  });

  it('passes over the moves `allowed` refuses, and is undefined when it refuses all', () => {
    const target = [...current];
    for (let slot = 0; slot < 50; slot++) target[slot] = 'c3'; // c0 -> c3
    for (let slot = 120; slot < 130; slot++) target[slot] = 'c0'; // c1 -> c0
    const asked: [string, string][] = [];
    const noC3 = (from: string, to: string) => {
      asked.push([from, to]);
      return to !== 'c3';
    };
    assert.deepEqual(nextMove(current, target, 100, noC3), { first: 120, last: 129, from: 'c1', to: 'c0' });
    assert.ok(
      asked.every(([from, to]) => from !== to),
      'asked only about slots that move',
    );
    assert.equal(
      nextMove(current, target, 100, () => false),
      undefined,
    );
    assert.deepEqual(
      nextMove(current, target, 100, (from) => from !== 'c1'),
      { first: 0, last: 49, from: 'c0', to: 'c3' },
    );
  });

  it('applied until undefined, reaches the target in one batch per batchMax of each run, each batch valid (property)', () => {
    fc.assert(
      fc.property(walkableArb, chainsArb, fc.integer({ min: 64, max: 8192 }), (current, chains, batchMax) => {
        const target = targetOwners(current, chains);
        const expected = batchesNeeded(current, target, batchMax);
        let owners = current;
        let steps = 0;
        let previousFirst = -1;
        for (let move = nextMove(owners, target, batchMax); move !== undefined;) {
          checkMove(owners, target, move, batchMax);
          assert.ok(move.first >= previousFirst, 'batches go up through the slots');
          previousFirst = move.first;
          owners = applyMove(owners, move);
          steps += 1;
          assert.ok(steps <= expected, `no more than ${expected} batches`);
          move = nextMove(owners, target, batchMax);
        }
        assert.equal(steps, expected);
        assert.deepEqual(owners, target);
      }),
      { numRuns: 40 },
    );
  });

  it('with a refusal, moves everything else and leaves exactly the refused slots misplaced (property)', () => {
    fc.assert(
      fc.property(walkableArb, chainsArb, fc.constantFrom(...listed), (current, chains, blocked) => {
        const target = targetOwners(current, chains);
        const allowed = (from: string, to: string) => from !== blocked && to !== blocked;
        let owners = current;
        for (let move = nextMove(owners, target, 4096, allowed); move !== undefined;) {
          assert.ok(allowed(move.from, move.to));
          owners = applyMove(owners, move);
          move = nextMove(owners, target, 4096, allowed);
        }
        const left = changed(owners, target);
        assert.equal(
          left.length,
          changed(current, target).filter((slot) => !allowed(current[slot]!, target[slot]!)).length,
        );
        assert.ok(left.every((slot) => owners[slot] === blocked || target[slot] === blocked));
      }),
      { numRuns: 60 },
    );
  });
});

/** A batch: within the slots, every slot of it misplaced from `from` to `to`, no more than batchMax, the lowest first. */
function checkMove(owners: readonly string[], target: readonly string[], move: Move, batchMax: number): void {
  assert.ok(0 <= move.first && move.first <= move.last && move.last < slotCount, `a range: ${JSON.stringify(move)}`);
  assert.ok(move.last - move.first + 1 <= batchMax);
  assert.notEqual(move.from, move.to);
  for (let slot = move.first; slot <= move.last; slot++) {
    assert.equal(owners[slot], move.from);
    assert.equal(target[slot], move.to);
  }
  assert.equal(
    owners.findIndex((owner, slot) => owner !== target[slot]),
    move.first,
    'the lowest misplaced slot',
  );
  const next = move.last + 1;
  if (next < slotCount && move.last - move.first + 1 < batchMax) {
    assert.ok(owners[next] !== move.from || target[next] !== move.to, 'the run is taken whole');
  }
}

describe('applyMove', () => {
  it('gives the range to the target and leaves the input alone', () => {
    const owners = evenOwners(['c0', 'c1']);
    const moved = applyMove(owners, { first: 10, last: 12, from: 'c0', to: 'c1' });
    assert.deepEqual(rangesOf(moved), [
      [0, 9, 'c0'],
      [10, 12, 'c1'],
      [13, 8191, 'c0'],
      [8192, lastSlot, 'c1'],
    ]);
    assert.deepEqual(owners, evenOwners(['c0', 'c1']));
  });
});

describe('rangesOf', () => {
  it('merges neighbouring slots of one chain', () => {
    assert.deepEqual(rangesOf(evenOwners(['c0', 'c1', 'c2'])), evenSlotMap(['c0', 'c1', 'c2'], 1).ranges);
    const owners = evenOwners(['c0']);
    owners[0] = 'c1';
    owners[2] = 'c1';
    owners[lastSlot] = 'c2';
    assert.deepEqual(rangesOf(owners), [
      [0, 0, 'c1'],
      [1, 1, 'c0'],
      [2, 2, 'c1'],
      [3, lastSlot - 1, 'c0'],
      [lastSlot, lastSlot, 'c2'],
    ]);
  });

  it('gives valid ranges, no two neighbours of one chain, that expand back to the owners (property)', () => {
    fc.assert(
      fc.property(ownersArb, (owners) => {
        const ranges = rangesOf(owners);
        assert.ok(validRanges(ranges));
        for (let i = 1; i < ranges.length; i++) assert.notEqual(ranges[i - 1]![2], ranges[i]![2]);
        assert.deepEqual(expand(ranges), owners);
      }),
      { numRuns: 100 },
    );
  });
});

describe('slot map document with a move in progress', () => {
  const migration: Migration = {
    first: 4096,
    last: 4351,
    from: 'c0',
    to: 'c3',
    stage: 'copy',
    remaining: 4096,
    planned: 4096,
  };
  const map: SlotMap = { version: 7, ranges: evenSlotMap(['c0', 'c1', 'c2'], 7).ranges, migration };

  it('writes the move next to the ranges and reads it back', () => {
    const json = JSON.parse(new TextDecoder().decode(encodeSlotMap(map))) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json), ['version', 'ranges', 'migration']);
    assert.deepEqual(json.migration, migration);
    assert.deepEqual(decodeSlotMap(encodeSlotMap(map)), map);
    const dropping: SlotMap = { ...map, migration: { ...migration, stage: 'drop', remaining: 0 } };
    assert.deepEqual(decodeSlotMap(encodeSlotMap(dropping)), dropping);
    // No move: no field (and null reads as none).
    const still: SlotMap = { version: map.version, ranges: map.ranges };
    assert.deepEqual(Object.keys(JSON.parse(new TextDecoder().decode(encodeSlotMap(still))) as object), [
      'version',
      'ranges',
    ]);
    assert.deepEqual(decodeSlotMap(document({ version: 7, ranges: map.ranges, migration: null })), still);
  });

  it('keeps only the fields it knows of a move', () => {
    const decoded = decodeSlotMap(document({ ...map, migration: { ...migration, note: 'x' } }));
    assert.deepEqual(decoded, map);
  });

  it('rejects a malformed move', () => {
    const bad: [string, unknown][] = [
      ['from = to', { ...migration, to: 'c0' }],
      ['stage neither copy nor drop', { ...migration, stage: 'move' }],
      ['stage missing', { ...migration, stage: undefined }],
      ['first > last', { ...migration, first: 4352, last: 4351 }],
      ['first negative', { ...migration, first: -1 }],
      ['last past the slots', { ...migration, last: slotCount }],
      ['first not an integer', { ...migration, first: 1.5 }],
      ['first a string', { ...migration, first: '4096' }],
      ['remaining negative', { ...migration, remaining: -1 }],
      ['planned negative', { ...migration, planned: -1 }],
      ['remaining past the slots', { ...migration, remaining: slotCount + 1 }],
      ['planned not an integer', { ...migration, planned: 0.5 }],
      ['planned missing', { ...migration, planned: undefined }],
      ['from empty', { ...migration, from: '' }],
      ['to empty', { ...migration, to: '' }],
      ['to a number', { ...migration, to: 3 }],
      ['a string', 'c0->c3'],
      ['a number', 4096],
      ['a boolean', true],
    ];
    for (const [what, value] of bad) {
      assert.equal(decodeSlotMap(document({ version: 7, ranges: map.ranges, migration: value })), undefined, what);
    }
    // The ranges are still checked when the move is fine.
    assert.equal(decodeSlotMap(document({ version: 7, ranges: map.ranges.slice(1), migration })), undefined);
  });

  it('round-trips every valid map with a valid move (property)', () => {
    const migrationArb: fc.Arbitrary<Migration> = fc
      .record({
        a: fc.integer({ min: 0, max: lastSlot }),
        b: fc.integer({ min: 0, max: lastSlot }),
        chains: fc.uniqueArray(fc.constantFrom('c0', 'c1', 'c2', 'chain-δ'), { minLength: 2, maxLength: 2 }),
        stage: fc.constantFrom('copy' as const, 'drop' as const),
        remaining: fc.integer({ min: 0, max: slotCount }),
        planned: fc.integer({ min: 0, max: slotCount }),
      })
      .map(({ a, b, chains, stage, remaining, planned }) => ({
        first: Math.min(a, b),
        last: Math.max(a, b),
        from: chains[0]!,
        to: chains[1]!,
        stage,
        remaining,
        planned,
      }));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        ownersArb,
        migrationArb,
        (version, owners, move) => {
          const withMove: SlotMap = { version, ranges: rangesOf(owners), migration: move };
          assert.deepEqual(decodeSlotMap(encodeSlotMap(withMove)), withMove);
        },
      ),
      { numRuns: 100 },
    );
  });
});
