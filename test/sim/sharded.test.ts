// The two-chain simulator (src/testing/sim/sharded.ts): slots moved back and forth between two
// chains under faults, every run checked for linearizability over every key.
//
// What the first sweeps found in the protocol as first written (both since fixed in the real
// node and in docs/sharding.md, and part of `documentedProtocol`), each kept here as a named
// scenario with the safeguard switched off, and the change that makes it pass:
//   1. versions go back across a move: a key deleted on the source is not exported, and the
//      target raises its revision counter only to the highest imported record's version, so a
//      later write of the key on the target can get a version below one a client already saw
//      (and a compare-and-set on an old version can succeed again: ABA). Fix modelled by
//      `revisionCarried`: the export carries the source's revision and the import raises to it.
//   2. a dropped slot is served by a source node whose slot map is older than the hand-over: the
//      last drop page unfreezes the slot on every replica, but each node refuses it as "moved"
//      only once its own map shows the hand-over; until then (a late watch) a tail serves the
//      slot as empty, a head accepts writes that no one will ever read. Fix modelled by
//      `droppedSlotsFenced`: the drop records the hand-over's map version and a node refuses the
//      slot while its map is older.
// The main sweep runs the protocol as documented (with both).
//
// Longer sweeps: npx tsx scripts/sim-sharded.ts --seeds 5000 --rules revisionCarried,droppedSlotsFenced

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Operation } from '../../src/testing/linearizability/history.js';
import {
  defaultShardedOptions,
  runShardedSim,
  type ShardedResult,
  type ShardedRules,
} from '../../src/testing/sim/sharded.js';

const sweepSeeds = 500;
const fixed: Partial<ShardedRules> = {}; // the documented protocol, both fixes in
const unfixed: Partial<ShardedRules> = { revisionCarried: false, droppedSlotsFenced: false };

const run = (seed: number, rules: Partial<ShardedRules>): ShardedResult =>
  runShardedSim({ ...defaultShardedOptions, seed }, rules);

/** The first seed (up to `limit`) whose run fails its checks. */
function firstFailure(rules: Partial<ShardedRules>, limit = 300): ShardedResult | undefined {
  for (let seed = 1; seed <= limit; seed++) {
    const result = run(seed, rules);
    if (!result.ok) return result;
  }
  return undefined;
}

const replay = (rules: Partial<ShardedRules>): string =>
  `--rules ${
    Object.entries(rules)
      .filter(([, on]) => on)
      .map(([name]) => name)
      .join(',') || '(none)'
  }`;

/** The version a client was told, if any. */
function reportedVersion(operation: Operation): number | undefined {
  const output = operation.output;
  if (output === undefined) return undefined;
  if (output.f === 'get') return output.found ? output.version : undefined;
  if (output.f === 'put') return output.version;
  if (output.f === 'cas') return output.swapped ? output.version : output.currentVersion || undefined;
  return undefined;
}

/** Two operations on one key, the second called after the first returned, told a lower version. */
function versionWentBack(history: readonly Operation[]): [Operation, Operation] | undefined {
  const told = history.filter((o) => reportedVersion(o) !== undefined);
  for (const a of told) {
    for (const b of told) {
      if (a.key === b.key && b.callAt > a.returnAt && reportedVersion(b)! < reportedVersion(a)!) return [a, b];
    }
  }
  return undefined;
}

describe('sharded simulator: slots moving between two chains', () => {
  it(`the protocol (with both fixes) passes every check on ${sweepSeeds} seeds, moving slots in every run`, () => {
    const started = performance.now();
    let moves = 0;
    let withMoves = 0;
    let operations = 0;
    let unknown = 0;
    let restarts = 0;
    let reconfigured = 0;
    const refusals = new Map<string, number>();
    for (let seed = 1; seed <= sweepSeeds; seed++) {
      const result = run(seed, fixed);
      assert.deepEqual(
        result.failures,
        [],
        `seed ${seed} (replay: npx tsx scripts/sim-sharded.ts --seed ${seed} ${replay(fixed)})`,
      );
      moves += result.counts.moves.completed;
      if (result.counts.moves.completed > 0) withMoves += 1;
      operations += result.counts.operations;
      unknown += result.counts.unknown;
      restarts += result.counts.moves.restarts;
      if (result.counts.reconfigurations > 0) reconfigured += 1;
      for (const [reason, count] of Object.entries(result.counts.refusals))
        refusals.set(reason, (refusals.get(reason) ?? 0) + count);
      for (const [reason, count] of Object.entries(result.counts.moves.refusals))
        refusals.set(`manager ${reason}`, (refusals.get(`manager ${reason}`) ?? 0) + (count ?? 0));
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `${sweepSeeds} seeds in ${seconds.toFixed(1)} s: ${(moves / sweepSeeds).toFixed(1)} moves completed per run ` +
        `(${withMoves} runs with at least one), ${restarts} manager stage restarts, ${reconfigured} runs reconfigured a chain, ` +
        `${operations} operations (${unknown} unknown), refusals ${JSON.stringify(Object.fromEntries(refusals))}`,
    );
    assert.ok(withMoves >= sweepSeeds * 0.9, `${withMoves} of ${sweepSeeds} runs completed a move`);
    assert.ok(moves >= sweepSeeds * 3, `${moves} moves in ${sweepSeeds} runs`);
    assert.ok(restarts > 0 && reconfigured > sweepSeeds / 2, 'faults interrupt moves and reconfigure chains');
    assert.ok((refusals.get('moved') ?? 0) > 0 && (refusals.get('moving') ?? 0) > 0, 'clients meet moved and moving');
  });

  it('a seed replays exactly: same trace hash, same history', () => {
    const a = run(42, fixed);
    const b = run(42, fixed);
    assert.equal(a.traceHash, b.traceHash);
    assert.deepEqual(
      a.history.map((o) => [o.client, o.key, o.callAt, o.returnAt]),
      b.history.map((o) => [o.client, o.key, o.callAt, o.returnAt]),
    );
    assert.notEqual(run(43, fixed).traceHash, a.traceHash);
  });
});

describe('sharded simulator: what the sweep found in the protocol as first written', () => {
  it('without both safeguards the protocol fails some seeds', () => {
    const found = firstFailure(unfixed, 100);
    assert.ok(found !== undefined, 'the unfixed protocol passed 100 seeds: has the model lost the findings?');
    console.log(`unfixed protocol: first failing seed ${found.seed}: ${found.failures.join('; ')}`);
  });

  it('finding 1: a key deleted on the source comes back on the target with a lower version', () => {
    const rules = { revisionCarried: false, droppedSlotsFenced: true }; // finding 2 fixed, so only this one shows
    const found = firstFailure(rules, 100);
    assert.ok(found !== undefined, 'no seed showed versions going back');
    const pair = versionWentBack(found.history);
    assert.ok(pair !== undefined, `seed ${found.seed} failed otherwise: ${found.failures.join('; ')}`);
    console.log(
      `seed ${found.seed} (${replay(rules)}): ${pair[0].key} was told version ${reportedVersion(pair[0])} ` +
        `at ${pair[0].returnAt} ms, then ${reportedVersion(pair[1])} at ${pair[1].returnAt} ms`,
    );
    assert.ok(run(found.seed, { ...rules, revisionCarried: true }).ok, 'carrying the revision fixes that seed');
  });

  it('finding 2: a source node whose slot map is older than the hand-over serves the dropped slot', () => {
    const rules = { revisionCarried: true, droppedSlotsFenced: false }; // finding 1 fixed, so only this one shows
    const found = firstFailure(rules, 200);
    assert.ok(found !== undefined, 'no seed showed a dropped slot served');
    assert.match(found.failures.join('\n'), /not linearizable/, `seed ${found.seed}`);
    console.log(`seed ${found.seed} (${replay(rules)}): ${found.failures.join('; ')}`);
    assert.ok(run(found.seed, { ...rules, droppedSlotsFenced: true }).ok, 'fencing dropped slots fixes that seed');
  });
});

describe('sharded simulator: broken variants are caught', () => {
  it('a source that serves reads of frozen slots until it drops them', () => {
    const found = firstFailure({ ...fixed, frozenReadsServed: true });
    assert.ok(found !== undefined, 'no seed exposed the stale reads');
    assert.match(found.failures.join('\n'), /not linearizable/, `seed ${found.seed}`);
  });

  it("an import that does not merge the source's client table (a retried write applies twice)", () => {
    const found = firstFailure({ ...fixed, clientTableNotMerged: true });
    assert.ok(found !== undefined, 'no seed exposed the double apply');
    assert.match(found.failures.join('\n'), /not linearizable/, `seed ${found.seed}`);
  });

  it('a source that drops (and unfreezes) the slots before the hand-over', () => {
    const found = firstFailure({ ...fixed, dropBeforeHandOver: true });
    assert.ok(found !== undefined, 'no seed exposed the early drop');
    assert.match(found.failures.join('\n'), /not linearizable/, `seed ${found.seed}`);
  });
});
