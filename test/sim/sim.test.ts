// The deterministic simulator: a bounded sweep of seeds on the real chain-node core, exact
// replay, and deliberately broken variants that the checks must catch (each naming its seed).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Effect } from '../../src/replication/effects.js';
import type { ReplicatedOp } from '../../src/server/chain-wire.js';
import { checkRun } from '../../src/testing/sim/checks.js';
import { defaultSimOptions, simulate, type SimOptions, type SimVariant } from '../../src/testing/sim/cluster.js';

const sweepSeeds = 300;
/** Runs that force the replica's rare paths, and how many of them a test sweeps. */
const rarePaths: Partial<SimOptions> = { replica: { logEntriesKept: 1 }, installCrashRate: 0.2 };
/** Every joiner that receives a snapshot crashes in the middle of it, once. */
const installCrashes: Partial<SimOptions> = { installCrashRate: 1 };
const rarePathSeeds = 150;

/** The first seed (up to `limit`) whose run fails the checks, with its failures. */
function firstFailure(
  makeVariant: () => SimVariant,
  limit = 300,
  options: Partial<SimOptions> = {},
): { seed: number; failures: string[] } | undefined {
  for (let seed = 1; seed <= limit; seed++) {
    const failures = checkRun(simulate({ ...defaultSimOptions, ...options, seed }, makeVariant()));
    if (failures.length > 0) return { seed, failures };
  }
  return undefined;
}

describe('simulator', () => {
  it(`the real core passes every check on ${sweepSeeds} seeds`, () => {
    for (let seed = 1; seed <= sweepSeeds; seed++) {
      const failures = checkRun(simulate({ ...defaultSimOptions, seed }));
      assert.deepEqual(failures, [], `seed ${seed} (replay: npm run sim -- --seed ${seed})`);
    }
  });

  it('a seed replays exactly: same trace hash, same history', () => {
    const a = simulate({ ...defaultSimOptions, seed: 42 });
    const b = simulate({ ...defaultSimOptions, seed: 42 });
    assert.equal(a.traceHash, b.traceHash);
    assert.deepEqual(
      a.history.map((o) => [o.client, o.key, o.callAt, o.returnAt]),
      b.history.map((o) => [o.client, o.key, o.callAt, o.returnAt]),
    );
    assert.notEqual(simulate({ ...defaultSimOptions, seed: 43 }).traceHash, a.traceHash);
  });

  it('the runs exercise failures: reconfigurations, timeouts and retries happen', () => {
    let reconfigured = 0;
    let unknown = 0;
    for (let seed = 1; seed <= 50; seed++) {
      const result = simulate({ ...defaultSimOptions, seed });
      if (result.config.epoch > 1) reconfigured += 1;
      unknown += result.history.filter((o) => o.output === undefined).length;
    }
    assert.ok(reconfigured >= 40, `${reconfigured} of 50 runs changed the chain`);
    assert.ok(unknown > 0, 'some operations timed out');
  });
});

describe('simulator: broken variants are caught', () => {
  it('a tail that answers reads while disconnected from the coordinator', () => {
    const found = firstFailure(() => ({
      faults: () => ({ canServeReads: (core) => core.role === 'tail' || core.role === 'head-and-tail' }),
    }));
    assert.ok(found !== undefined, 'no seed exposed the stale tail');
    assert.match(found.failures.join('\n'), /not linearizable/, `seed ${found.seed}`);
  });

  it('a predecessor that never re-sends entries after a reconfiguration', () => {
    const forgetful = (): SimVariant => ({
      faults: () => {
        const sentUpTo = new Map<string, number>();
        return {
          effects: (_core, effects) =>
            effects.filter((effect) => {
              if (effect.kind !== 'send' || effect.message.kind !== 'entries') return true;
              const entries = effect.message.entries;
              if (entries.length === 0) return true;
              const first = entries[0]!.sequence;
              if (first <= (sentUpTo.get(effect.to) ?? 0)) return false; // a re-send: forgotten
              sentUpTo.set(effect.to, entries[entries.length - 1]!.sequence);
              return true;
            }),
        };
      },
    });
    const found = firstFailure(forgetful);
    assert.ok(found !== undefined, 'no seed exposed the missing re-send');
    assert.match(found.failures.join('\n'), /no progress|not linearizable|differ|did not finish/, `seed ${found.seed}`);
  });

  it('a head that applies and answers a write as soon as it has logged it, before it is committed', () => {
    const found = firstFailure(() => ({
      faults: () => ({
        effects: (core, effects) =>
          core.role !== 'head'
            ? effects
            : effects.flatMap((effect): Effect<ReplicatedOp>[] =>
                effect.kind !== 'persist'
                  ? [effect]
                  : [
                      effect,
                      { kind: 'apply', upTo: effect.entries[effect.entries.length - 1]!.sequence },
                      ...effect.entries.map((entry): Effect<ReplicatedOp> => ({
                        kind: 'reply',
                        requestId: entry.requestId,
                        sequence: entry.sequence,
                      })),
                    ],
              ),
      }),
    }));
    assert.ok(found !== undefined, 'no seed exposed the early answer');
    assert.match(found.failures.join('\n'), /not linearizable/, `seed ${found.seed}`);
  });

  // Overlapped persistence (docs/design.md §3.3): entries go down the chain before they are
  // durable, so commit must wait until they are durable on every member, and reads must see
  // committed entries only. Power failures (every node of a chain at once, right after a node
  // answered) and stalled fsyncs are in every run; the check that a read sees nothing a crash of
  // the other members could take back runs on every read answered.

  it('a tail that commits what is durable on itself before its predecessor mark covers it', () => {
    const found = firstFailure(() => ({ faults: () => ({ core: { commitWithoutMark: true } }) }));
    assert.ok(found !== undefined, 'no seed exposed the early commit');
    assert.match(found.failures.join('\n'), /not durable everywhere|not linearizable/, `seed ${found.seed}`);
  });

  it('a replica that applies entries as soon as they are logged (reads see uncommitted entries)', () => {
    const found = firstFailure(() => ({ faults: () => ({ applyAtPersist: true }) }));
    assert.ok(found !== undefined, 'no seed exposed the uncommitted read');
    assert.match(found.failures.join('\n'), /not durable everywhere|not linearizable/, `seed ${found.seed}`);
  });

  it('a restarted node that resumes as a member, with entries it forwarded but never made durable', () => {
    // Two crashes, slow disks, and sessions that outlive a quick restart: the restarted node is
    // still in the configuration when it comes back.
    const found = firstFailure(() => ({ faults: () => ({ core: { resumeAfterRestart: true } }) }), 400, {
      crashes: 2,
      diskStallRate: 0.5,
      sessionTimeoutMs: 1000,
    });
    assert.ok(found !== undefined, 'no seed exposed the resumed member');
    assert.match(
      found.failures.join('\n'),
      /prefix property|not linearizable|not durable everywhere|differ/,
      `seed ${found.seed}`,
    );
  });

  it('a tail that trusts a joiner log instead of checking it (a divergent suffix survives)', () => {
    const found = firstFailure(() => ({
      faults: () => ({
        effects: (_core, effects) =>
          effects.map((effect): Effect<ReplicatedOp> =>
            effect.kind === 'catch-up' ? { ...effect, trusted: true } : effect,
          ),
      }),
    }));
    assert.ok(found !== undefined, 'no seed exposed the divergent suffix');
    assert.match(found.failures.join('\n'), /prefix property|differ|not linearizable/, `seed ${found.seed}`);
  });

  // Broken variants in the replica shell itself (src/server/replica/), not in the core. Their
  // rare paths are forced: a log trimmed behind one entry (so joiners get snapshots), and joiners
  // crashing in the middle of an install (installCrashRate). The honest replica passes the same runs.

  it('the real replica passes the runs that force its rare paths', () => {
    for (const options of [rarePaths, installCrashes]) {
      for (let seed = 1; seed <= rarePathSeeds; seed++) {
        const failures = checkRun(simulate({ ...defaultSimOptions, ...options, seed }));
        assert.deepEqual(failures, [], `seed ${seed} with ${JSON.stringify(options)}`);
      }
    }
  });

  it('a log trimmed past what the successor or the joiner acknowledged', () => {
    const found = firstFailure(() => ({ faults: () => ({ ignorePeers: true }) }), rarePathSeeds, rarePaths);
    assert.ok(found !== undefined, 'no seed exposed the early trim');
    assert.match(
      found.failures.join('\n'),
      /never rejoined|differ|not linearizable|no progress|missing from the log/,
      `seed ${found.seed}`,
    );
  });

  it('a joiner that keeps a partial snapshot after a restart', () => {
    const found = firstFailure(() => ({ faults: () => ({ keepPartialInstall: true }) }), rarePathSeeds, installCrashes);
    assert.ok(found !== undefined, 'no seed exposed the partial snapshot');
    assert.match(
      found.failures.join('\n'),
      /never rejoined|differ|not linearizable|no progress|prefix/,
      `seed ${found.seed}`,
    );
  });

  it('a snapshot sender that skips a chunk', () => {
    const found = firstFailure(() => ({ faults: () => ({ skipPart: 1 }) }), 300, {
      replica: { snapshotChunkRecords: 1 },
    });
    assert.ok(found !== undefined, 'no seed exposed the missing chunk');
    assert.match(found.failures.join('\n'), /differ|not linearizable|no progress|did not finish/, `seed ${found.seed}`);
  });

  // Failover on a report (docs/design.md §3.5, §3.7). The lease paths are rare at the default
  // timings (a suspected tail has lost its lease by the time it is reported): these runs make
  // them likely with long leases, fast suspicion after a connection reset, several partitions
  // and late watches. The real code passes the same runs.
  const leasePaths: Partial<SimOptions> = {
    partitions: 3,
    watchDelayMsMax: 200,
    replica: { liveness: { heartbeatMs: 40, suspicionMs: 400, leaseMs: 300, peerLossGraceMs: 20 } },
  };
  const leasePathSeeds = 400;

  it('the real replica passes the runs that force the lease paths', () => {
    for (let seed = 1; seed <= leasePathSeeds; seed++) {
      const failures = checkRun(simulate({ ...defaultSimOptions, ...leasePaths, seed }));
      assert.deepEqual(failures, [], `seed ${seed}`);
    }
  });

  it('a tail that replaces a removed one without waiting out the lease it granted it', () => {
    const found = firstFailure(() => ({ faults: () => ({ core: { noLeaseWait: true } }) }), leasePathSeeds, leasePaths);
    assert.ok(found !== undefined, 'no seed exposed the new tail serving during the old lease');
    assert.match(found.failures.join('\n'), /not linearizable/, `seed ${found.seed}`);
  });

  it('a node that goes on renewing the lease of its former successor', () => {
    // Tails paused just past the suspicion timeout, that hear of their removal late, while their
    // old predecessor, now the tail, still heartbeats them at the old epoch.
    const pausedTails: Partial<SimOptions> = {
      sessionTimeoutMs: 1000,
      pauses: 3,
      pauseMs: [420, 520],
      watchDelayMsMax: 600,
      replica: leasePaths.replica!,
    };
    const found = firstFailure(
      () => ({ faults: () => ({ core: { renewFormerSuccessor: true } }) }),
      leasePathSeeds,
      pausedTails,
    );
    assert.ok(found !== undefined, 'no seed exposed the lease renewed by a node no longer the predecessor');
    assert.match(found.failures.join('\n'), /not linearizable/, `seed ${found.seed}`);
    for (let seed = 1; seed <= found.seed; seed++) {
      assert.deepEqual(
        checkRun(simulate({ ...defaultSimOptions, ...pausedTails, seed })),
        [],
        `real code, seed ${seed}`,
      );
    }
  });

  it('a manager that acts on stale reports (from another epoch)', () => {
    // Nodes cut off from the coordinator keep their sessions a while and hear of no new epoch.
    const stale: Partial<SimOptions> = { sessionTimeoutMs: 1000, coordinatorPartitions: 3 };
    const found = firstFailure(() => ({ staleReports: true }), leasePathSeeds, stale);
    assert.ok(found !== undefined, 'no seed exposed the removal on a stale report');
    assert.match(found.failures.join('\n'), /not linearizable/, `seed ${found.seed}`);
    for (let seed = 1; seed <= found.seed; seed++) {
      assert.deepEqual(checkRun(simulate({ ...defaultSimOptions, ...stale, seed })), [], `real code, seed ${seed}`);
    }
  });
});
