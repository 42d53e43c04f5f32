// The simulator's runs of several chains moving slots (scripts/sim-sharded.ts,
// test/sim/sharded.test.ts): the one simulator (simulation.ts) with two chains by default, the
// real MigrationRunner moving slots between them while clients run, and the protocol's broken
// variants as named rules. Each rule switches on a deliberate fault in the real code path it
// names (admission.ts, migration-runner.ts), for the simulator's broken variants only.

import { checkRun } from './checks.js';
import { simulateAsync, type SimCounts, type SimOptions, type SimVariant } from './simulation.js';
import type { Operation } from '../linearizability/history.js';
import type { SlotTable } from '../../sharding/slot-map.js';

export const defaultShardedOptions: Omit<SimOptions, 'seed'> = {
  chains: 2,
  nodes: 3,
  clients: 5,
  operationsPerClient: 30,
  keys: 6,
  dropRate: 0.02,
  duplicateRate: 0.02,
  crashes: 1,
  partitions: 1,
  coordinatorPartitions: 1,
  oneWayPartitions: 1,
  sessionTimeoutMs: 300,
  clientTimeoutMs: 150,
  diskStallRate: 0.1,
  powerFailureRate: 0.1,
  watchDelayMsMax: 60,
  watchMissRate: 0.1,
  rebalancingsMax: 8,
  batchSlots: 2048,
  pageRecords: 4,
};

/**
 * Protocol variants. `documentedProtocol` is the protocol as docs/sharding.md describes it and
 * the node implements it; each other setting switches a safeguard off (or a bug on).
 */
export interface ShardedRules {
  /** Admission: a source serves reads of slots it has frozen until it drops them, whatever its map says. */
  readonly frozenReadsServed: boolean;
  /** The runner does not copy the source's client table (a retried write applies twice). */
  readonly clientTableNotMerged: boolean;
  /** The runner drops the source's copy before the hand-over, and admission lets the drop in. */
  readonly dropBeforeHandOver: boolean;
  /** The runner carries the source's revision to the target (switched off: versions may go back). */
  readonly revisionCarried: boolean;
  /** Admission refuses a dropped slot at a node whose map is older than its hand-over (switched off: served as empty). */
  readonly droppedSlotsFenced: boolean;
}

export const documentedProtocol: ShardedRules = {
  frozenReadsServed: false,
  clientTableNotMerged: false,
  dropBeforeHandOver: false,
  revisionCarried: true,
  droppedSlotsFenced: true,
};

export function variantOf(rules: ShardedRules): SimVariant {
  return {
    admission: {
      frozenReadsServed: rules.frozenReadsServed,
      dropBeforeHandOver: rules.dropBeforeHandOver,
      droppedSlotsUnfenced: !rules.droppedSlotsFenced,
    },
    migration: {
      clientTableNotMerged: rules.clientTableNotMerged,
      dropBeforeHandOver: rules.dropBeforeHandOver,
      revisionNotCarried: !rules.revisionCarried,
    },
  };
}

export interface ShardedResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly failures: string[];
  readonly counts: SimCounts;
  readonly traceHash: string;
  readonly endedAtMs: number;
  readonly history: Operation[];
  readonly map: SlotTable;
}

/** Runs one seeded simulation and checks it. A thrown assertion is reported as a failure of the seed. */
export async function runShardedSim(options: SimOptions, rules: Partial<ShardedRules> = {}): Promise<ShardedResult> {
  const result = await simulateAsync(options, variantOf({ ...documentedProtocol, ...rules }));
  const failures = checkRun(result);
  return {
    seed: options.seed,
    ok: failures.length === 0,
    failures,
    counts: result.counts,
    traceHash: result.traceHash,
    endedAtMs: result.endedAtMs,
    history: result.history,
    map: result.map,
  };
}
