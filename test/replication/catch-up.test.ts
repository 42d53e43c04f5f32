// The catch-up rule (src/replication/catch-up.ts) branch by branch: a node asked to bring a peer
// whose log ends at `from` up to `upTo` sends a delta, a snapshot, or puts it off.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  arrayCatchUpLog,
  decideCatchUp,
  type CatchUpLog,
  type CatchUpRequest,
} from '../../src/replication/catch-up.js';

/** A log holding sequences 1..epochs.length, the entry at sequence i written in epochs[i - 1]. */
const logOf = (...epochs: number[]): CatchUpLog =>
  arrayCatchUpLog(epochs.map((epoch, i) => ({ sequence: i + 1, epoch })));

/** A log that continues a snapshot installed at `installedAt` (whose last entry had `installedEpoch`). */
function afterSnapshot(installedAt: number, installedEpoch: number, ...epochs: number[]): CatchUpLog {
  const entries = arrayCatchUpLog(epochs.map((epoch, i) => ({ sequence: installedAt + 1 + i, epoch })));
  return {
    firstHeld: () => entries.firstHeld(),
    installedAt: () => installedAt,
    epochAt: (sequence) => (sequence === installedAt ? installedEpoch : entries.epochAt(sequence)),
  };
}

const request = (
  from: [sequence: number, epoch: number],
  upTo: number,
  options: Partial<Pick<CatchUpRequest, 'trusted' | 'deferrals' | 'deferralsMax' | 'deltaEntriesMax'>> = {},
): CatchUpRequest => ({
  from: { sequence: from[0], epoch: from[1] },
  upTo,
  trusted: false,
  deferrals: 0,
  deferralsMax: 3,
  deltaEntriesMax: 10_000,
  ...options,
});

describe('catch-up rule (decideCatchUp)', () => {
  it('a peer whose log is longer is put off while deferrals < max, then gets a snapshot', () => {
    const log = logOf(1, 1);
    for (const deferrals of [0, 1, 2]) {
      assert.deepEqual(
        decideCatchUp(request([3, 1], 2, { deferrals }), log),
        { kind: 'defer' },
        `deferral ${deferrals}`,
      );
    }
    assert.deepEqual(decideCatchUp(request([3, 1], 2, { deferrals: 3 }), log), { kind: 'snapshot' });
    assert.deepEqual(decideCatchUp(request([3, 1], 2, { deferralsMax: 0 }), log), { kind: 'snapshot' });
  });

  it('a delta when the entry the peer ends at has the epoch the peer says', () => {
    assert.deepEqual(decideCatchUp(request([2, 1], 4), logOf(1, 1, 2, 2)), { kind: 'delta' });
    // Nothing to add (the peer holds all of it): an empty delta, which the peer acknowledges.
    assert.deepEqual(decideCatchUp(request([4, 2], 4), logOf(1, 1, 2, 2)), { kind: 'delta' });
  });

  it("a snapshot when that entry has another epoch here (the peer's suffix diverged)", () => {
    assert.deepEqual(decideCatchUp(request([2, 1], 4), logOf(1, 2, 2, 2)), { kind: 'snapshot' });
    assert.deepEqual(decideCatchUp(request([4, 1], 4), logOf(1, 1, 2, 2)), { kind: 'snapshot' });
  });

  it('a peer with an empty log gets the whole log as a delta', () => {
    assert.deepEqual(decideCatchUp(request([0, 0], 3), logOf(1, 1, 2)), { kind: 'delta' });
    assert.deepEqual(decideCatchUp(request([0, 0], 0), logOf()), { kind: 'delta' });
  });

  it('a snapshot when entries the peer needs were trimmed here (firstHeld > from + 1)', () => {
    const trimmed = arrayCatchUpLog([5, 6, 7].map((sequence) => ({ sequence, epoch: 1 })));
    assert.deepEqual(decideCatchUp(request([2, 1], 7), trimmed), { kind: 'snapshot' });
    assert.deepEqual(decideCatchUp(request([3, 0], 7, { trusted: true }), trimmed), { kind: 'snapshot' });
    // The first entry it needs is still held: a delta.
    assert.deepEqual(decideCatchUp(request([4, 0], 7, { trusted: true }), trimmed), { kind: 'delta' });
  });

  it('a snapshot for a peer with an empty log when this log continues an installed snapshot', () => {
    assert.deepEqual(decideCatchUp(request([0, 0], 6), afterSnapshot(3, 1, 2, 2, 2)), { kind: 'snapshot' });
    assert.deepEqual(decideCatchUp(request([0, 0], 3), afterSnapshot(3, 1)), { kind: 'snapshot' });
    // A peer that ends where the snapshot does, at its epoch, continues this log: a delta.
    assert.deepEqual(decideCatchUp(request([3, 1], 6), afterSnapshot(3, 1, 2, 2, 2)), { kind: 'delta' });
    assert.deepEqual(decideCatchUp(request([3, 2], 6), afterSnapshot(3, 1, 2, 2, 2)), { kind: 'snapshot' });
  });

  it('a trusted peer gets a delta without the epoch check', () => {
    // The core marks a trusted peer's `from` with epoch 0: its log is known to continue this one.
    assert.deepEqual(decideCatchUp(request([2, 0], 4, { trusted: true }), logOf(1, 1, 2, 2)), { kind: 'delta' });
  });

  it('an untrusted peer further behind than deltaEntriesMax gets a snapshot; a trusted one a delta', () => {
    const log = logOf(1, 1, 1, 1, 1);
    assert.deepEqual(decideCatchUp(request([1, 1], 5, { deltaEntriesMax: 3 }), log), { kind: 'snapshot' });
    assert.deepEqual(decideCatchUp(request([2, 1], 5, { deltaEntriesMax: 3 }), log), { kind: 'delta' });
    assert.deepEqual(decideCatchUp(request([1, 0], 5, { deltaEntriesMax: 3, trusted: true }), log), {
      kind: 'delta',
    });
  });

  it('a trusted peer claiming more than upTo is never put off: it gets a snapshot', () => {
    assert.deepEqual(decideCatchUp(request([3, 0], 2, { trusted: true }), logOf(1, 1)), { kind: 'snapshot' });
  });

  it('arrayCatchUpLog reads an array of entries (possibly starting after sequence 1)', () => {
    const log = logOf(1, 2);
    assert.equal(log.firstHeld(), 1);
    assert.equal(log.installedAt(), undefined);
    assert.deepEqual(
      [0, 1, 2, 3].map((s) => log.epochAt(s)),
      [undefined, 1, 2, undefined],
    );
    const later = arrayCatchUpLog([{ sequence: 5, epoch: 3 }]);
    assert.deepEqual([later.firstHeld(), later.epochAt(4), later.epochAt(5)], [5, undefined, 3]);
    assert.equal(arrayCatchUpLog([]).firstHeld(), undefined);
  });
});
