// The simulator's options, variants and results (simulation.ts), and where its keys are.

import type { MigrationFaults } from '../../coordination/migration-runner.js';
import type { ChainConfig } from '../../replication/chain-config.js';
import type { AdmissionFaults } from '../../server/admission.js';
import type { ReplicaFaults } from '../../server/replica/replica.js';
import { evenSlotMap, type SlotTable } from '../../sharding/slot-map.js';
import { keySlot } from '../../sharding/slots.js';
import type { Operation, Output } from '../linearizability/history.js';
import type { NodeProcess } from './node-process.js';
import type { ManagerCounts } from './sim-manager.js';
import type { RefusalCounts } from './sim-network.js';
import type { SimNode, SimReplicaTuning } from './sim-node.js';

export interface SimOptions {
  seed: number;
  /** Chains (default 1); with two or more, the manager moves slots between them while clients run. */
  chains?: number;
  /** Nodes per chain. */
  nodes: number;
  clients: number;
  operationsPerClient: number;
  /** Keys the clients use (with several chains, spread so that slots holding keys move). */
  keys: number;
  /** Network faults, as probabilities per message. */
  dropRate: number;
  duplicateRate: number;
  /** Node crashes (at most nodes - 1 per chain); each crashed node restarts later and rejoins. */
  crashes: number;
  /** Symmetric partitions between two members of a chain, each healed later. */
  partitions: number;
  /** Partitions between one node and the coordinator (its session disconnects, then expires). */
  coordinatorPartitions: number;
  /** One-way partitions: messages from one node to another are lost, the other way they pass. */
  oneWayPartitions: number;
  /**
   * Pauses: a node stops (as under SIGSTOP, or a long GC) for longer than the suspicion timeout
   * but less than its session's disconnect time; what arrives meanwhile waits for it. Its
   * neighbours report it; the manager removes it while it still believes it is a member.
   */
  pauses?: number;
  /** How long a pause lasts: default 130 ms up to 10 ms short of the session's disconnect (2/3 of its timeout). */
  pauseMs?: readonly [min: number, max: number];
  sessionTimeoutMs: number;
  clientTimeoutMs: number;
  /** A node learns a new configuration or slot map within this many ms; a client within 4 times it. */
  watchDelayMsMax?: number;
  /**
   * The probability that a node's slot map watch is missed: it hears of no change until its next
   * periodic re-read (within membershipRefreshIntervalMs), which gives it the map of that moment.
   */
  watchMissRate?: number;
  /** Layout changes the manager makes at most, each moving the last chain's slots away or back. */
  rebalancingsMax?: number;
  /** Slots per move (the runner's batch). */
  batchSlots?: number;
  /** Records (or client-table entries) per export, import and drop page. */
  pageRecords?: number;
  /** Replica limits lowered for the run (default: the node's). */
  replica?: SimReplicaTuning;
  /**
   * Forces a rare path ("buggify"): the probability that a node crashes right after it applied a
   * part of a snapshot it is receiving (at most once per node and run).
   */
  installCrashRate?: number;
  /**
   * The chance that every node of one chain crashes at the same instant (a power failure), each
   * keeping what was durable and perhaps some whole unsynced turns. Commit must mean durable on
   * every member (docs/design.md §3.3): any survivor holds every acknowledged write.
   */
  powerFailureRate?: number;
  /** A durability point takes 1..diskMsMax ms (default 5). */
  diskMsMax?: number;
  /** A message takes 1..networkMsMax ms (default 20). */
  networkMsMax?: number;
  /** The chance that a durability point stalls for 20..100 ms instead (default 0). */
  diskStallRate?: number;
  /** Receives a line for each notable event (faults, configurations, maps, requests served, chain traffic), for replaying a seed. */
  log?: (line: string) => void;
}

/** Deliberately broken variants: of the replica (made fresh for each node), the admission checks, the runner. */
export interface SimVariant {
  faults?: (nodeId: string) => ReplicaFaults;
  /** The manager takes reports from any epoch (as if every report were current). */
  staleReports?: boolean;
  admission?: AdmissionFaults;
  migration?: MigrationFaults;
}

export interface SimCounts {
  operations: number;
  /** Operations whose outcome is unknown (given up on). */
  unknown: number;
  moves: ManagerCounts;
  /** Configuration changes over every chain. */
  reconfigurations: number;
  /** Refusals clients met, by reason. */
  refusals: RefusalCounts;
}

export interface SimResult {
  readonly seed: number;
  readonly chains: number;
  readonly history: Operation[];
  readonly nodes: SimNode[];
  /** Every node with its process's view (slot map, chain). */
  readonly processes: NodeProcess[];
  /** The first chain's configuration (the only one with one chain). */
  readonly config: ChainConfig;
  readonly configs: ChainConfig[];
  /** The slot map as the coordinator holds it at the end. */
  readonly map: SlotTable;
  readonly traceHash: string;
  readonly endedAtMs: number;
  readonly unfinishedClients: number;
  /** Outputs of the operations of the client started after every fault had healed. */
  readonly probeOutputs: (Output | undefined)[];
  /** Nodes that stopped on a broken invariant or a disk failure (a node must never). */
  readonly fatals: string[];
  /**
   * Reads served from state not yet durable on every member of the chain (docs/design.md §3.3,
   * §3.5: the readable state holds committed entries only), checked as each read is answered.
   */
  readonly undurableReads: string[];
  /** Keys whose final read could not be made (their owner's tail cannot serve reads). */
  readonly unreadKeys: string[];
  /** Set when, long after the faults, a live node was still not a member of its chain: who, and where it stood. */
  readonly unhealed: string | undefined;
  readonly counts: SimCounts;
}

/** Operations of the client that checks progress once every fault has healed. */
export const probeOperations = 4;

/** The keys clients use: k0, k1, ... with one chain; else one on each chain that stays, the rest spread over the last chain's slots (the ones that move). */
export function simKeys(count: number, chains: number): string[] {
  if (chains === 1) return Array.from({ length: count }, (_, i) => `k${i}`);
  const ranges = evenSlotMap(
    Array.from({ length: chains }, (_, i) => `c${i}`),
    1,
  ).ranges;
  const staying = Math.min(chains - 1, count - 1);
  const windows: [number, number][] = [];
  for (let c = 0; c < staying; c++) {
    const [first, last] = ranges[c]!;
    windows.push([first, last]);
  }
  const [first, last] = ranges[chains - 1]!;
  const moving = count - staying;
  const width = (last - first + 1) / moving;
  for (let j = 0; j < moving; j++) windows.push([Math.ceil(first + j * width), Math.ceil(first + (j + 1) * width) - 1]);
  return windows.map(([lo, hi], i) => {
    for (let n = 0; ; n++) {
      const key = n === 0 ? `k${i}` : `k${i}.${n}`;
      const slot = keySlot(Buffer.from(key));
      if (slot >= lo && slot <= hi) return key;
    }
  });
}
