// `GET /metrics`: the node's state in Prometheus's text format, through prom-client's registry
// and formatter (and its process and Node.js runtime metrics).
//
// Nothing here is on a request's path. The node already counts what it serves (per-command
// calls, errors and latency in NodeStats; the log's group commits; the replica's sequences), and
// every metric below reads those at scrape time: a scrape costs the scraper, not the requests.
// So the metrics are prom-client metric objects whose `get()` reads a source instead of values
// recorded into them (the registry formats whatever `get()` returns).
//
// Conventions (prometheus.io/docs/practices/naming): `catena_` prefix, base units (seconds,
// bytes), `_total` for counters, labels only for bounded sets (command names, protocols, roles,
// states). Which node it is comes from the scrape target (the `instance` label); its id, chain and
// version are on `catena_node_info`. docs/operations.md lists every metric and the alerts worth
// having.

import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';
import type { LatencyHistogram } from '../core/histogram.js';
import type { ReplicaStatus } from './replica/replica.js';

/** One sample of a metric: its labels (none: `{}`) and value. */
export interface Sample {
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** A histogram as the node keeps it (µs or plain counts), for one set of labels. */
export interface HistogramSample {
  readonly labels: Record<string, string>;
  readonly histogram: LatencyHistogram;
}

export type Protocol = 'native' | 'resp' | 'memcached';

/** What the node tells the metrics, read at each scrape. */
export interface MetricsSource {
  info(): { nodeId: string; chain: string; version: string; durability: string };
  commands(): Iterable<{ name: string; calls: number; errors: number; latencyUs: LatencyHistogram }>;
  /** Requests refused before reaching a command (undecodable, unknown, too large). */
  protocolErrors(): number;
  connections(): Iterable<{ protocol: Protocol; open: number; accepted: number; bytesIn: number; bytesOut: number }>;
  store(): { keys: number; bytes: number };
  /** Absent without the log (a node whose store has none, e.g. in memory for tests). */
  storage():
    | {
        logCommitUs: LatencyHistogram;
        logCommitRecords: LatencyHistogram;
        lmdbTransactionUs: LatencyHistogram;
        logSegments: number;
        logBytes: number;
      }
    | undefined;
  /** Absent on a standalone node. */
  chain():
    | (Pick<ReplicaStatus, 'role' | 'epoch' | 'last' | 'persisted' | 'committed' | 'servingReads'> & {
        commitUs: LatencyHistogram;
        suspicions: number;
        peerRefusals: number;
      })
    | undefined;
  /** Absent on a standalone node. */
  coordinator():
    | {
        state: string;
        manager: boolean;
        opened: number;
        disconnects: number;
        reconnects: number;
        expirations: number;
      }
    | undefined;
  /** Absent on a standalone node. */
  slotMoves():
    | {
        moves: number;
        slots: number;
        records: number;
        bytes: number;
        copying: number;
        /** From the slot map every node watches: the move under way, if any. */
        remaining: number;
        inFlight: number;
      }
    | undefined;
}

/** Roles a chain member can have (a state set: one is 1, the others 0). */
const chainRoles = ['head', 'middle', 'tail', 'head-and-tail', 'joining', 'outside', 'restarted'] as const;
const sessionStates = ['connected', 'disconnected', 'expired', 'none'] as const;

/** Latency buckets, in seconds: 50 µs to 10 s (a cached read is tens of µs, a failover seconds). */
export const latencyBucketsSeconds = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** Records per group commit. */
const batchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];

type Read = () => Iterable<Sample>;

/**
 * What the registry reads of a metric at each scrape: prom-client's own metrics return their
 * recorded values from `get()`; these return what the node counts. (prom-client's typings omit
 * `name`/`help` on metric objects and want a `collect` the registry never calls: hence the cast.)
 */
function snapshot<M extends { get(): Promise<unknown> }>(
  configuration: { name: string; help: string },
  type: 'counter' | 'gauge' | 'histogram',
  values: unknown[],
): ReturnType<M['get']> {
  return Promise.resolve({
    name: configuration.name,
    help: configuration.help,
    type,
    aggregator: 'sum',
    values,
  }) as ReturnType<M['get']>;
}

/** A counter whose value is read from the node at each scrape. */
class CounterView extends Counter {
  constructor(
    private readonly configuration: CounterConfiguration<string>,
    private readonly read: Read,
  ) {
    super(configuration);
  }

  override get(): ReturnType<Counter['get']> {
    return snapshot<Counter>(this.configuration, 'counter', [...this.read()]);
  }
}

/** A gauge whose value is read from the node at each scrape. */
class GaugeView extends Gauge {
  constructor(
    private readonly configuration: GaugeConfiguration<string>,
    private readonly read: Read,
  ) {
    super(configuration);
  }

  override get(): ReturnType<Gauge['get']> {
    return snapshot<Gauge>(this.configuration, 'gauge', [...this.read()]);
  }
}

/**
 * A histogram whose buckets are read from one of the node's log-linear histograms at each scrape.
 * `scale` turns the recorded unit into the exposed one (µs to seconds: 1e-6; counts: 1).
 */
class HistogramView extends Histogram {
  private readonly bounds: readonly number[];

  constructor(
    private readonly configuration: HistogramConfiguration<string> & { buckets: number[] },
    private readonly scale: number,
    private readonly read: () => Iterable<HistogramSample>,
  ) {
    super(configuration);
    this.bounds = configuration.buckets.map((bucket) => bucket / scale);
  }

  override get(): ReturnType<Histogram['get']> {
    const name = this.configuration.name;
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const { labels, histogram } of this.read()) {
      const counts = histogram.countsAtMost(this.bounds);
      counts.forEach((count, index) =>
        values.push({
          labels: { ...labels, le: this.configuration.buckets[index]! },
          value: count,
          metricName: `${name}_bucket`,
        }),
      );
      values.push({ labels: { ...labels, le: '+Inf' }, value: histogram.count, metricName: `${name}_bucket` });
      values.push({ labels, value: histogram.sum * this.scale, metricName: `${name}_sum` });
      values.push({ labels, value: histogram.count, metricName: `${name}_count` });
    }
    return snapshot<Histogram>(this.configuration, 'histogram', values);
  }

  /** The registry formats a histogram from this one when it has it (prom-client's own merges buckets there). */
  getForPromString(): ReturnType<Histogram['get']> {
    return this.get();
  }
}

const one = (value: number, labels: Record<string, string> = {}): Sample[] => [{ labels, value }];
const none: Sample[] = [];
const seconds = 1e-6; // the node's histograms are in µs

/** A registry holding every Catena metric for one node, and the process's. */
export function nodeMetrics(source: MetricsSource): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters (prom-client's; `promtool check metrics` rejects the names): the
  // same counts are in nodejs_active_handles / _requests / _resources, by type.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  const registers = [registry];
  const counter = (name: string, help: string, labelNames: string[], read: Read) =>
    new CounterView({ name, help, labelNames, registers }, read);
  const gauge = (name: string, help: string, labelNames: string[], read: Read) =>
    new GaugeView({ name, help, labelNames, registers }, read);
  const histogram = (
    name: string,
    help: string,
    labelNames: string[],
    buckets: number[],
    scale: number,
    read: () => Iterable<HistogramSample>,
  ) => new HistogramView({ name, help, labelNames, buckets, registers }, scale, read);

  gauge(
    'catena_node_info',
    'The node: its id, chain, version and durability mode (value 1).',
    ['node_id', 'chain', 'version', 'durability'],
    () => {
      const info = source.info();
      return one(1, { node_id: info.nodeId, chain: info.chain, version: info.version, durability: info.durability });
    },
  );

  // Commands, whichever protocol carried them (RESP and memcached commands count as the command they run).
  const commands = () => [...source.commands()].filter((command) => command.calls > 0);
  counter('catena_commands_total', 'Commands executed, by command.', ['command'], () =>
    commands().map((c) => ({ labels: { command: c.name }, value: c.calls })),
  );
  counter('catena_command_errors_total', 'Commands answered with an error, by command.', ['command'], () =>
    commands().map((c) => ({ labels: { command: c.name }, value: c.errors })),
  );
  histogram(
    'catena_command_duration_seconds',
    'Time from a command reaching the node to its reply (a write: until committed), by command.',
    ['command'],
    latencyBucketsSeconds,
    seconds,
    () => commands().map((c) => ({ labels: { command: c.name }, histogram: c.latencyUs })),
  );
  counter(
    'catena_protocol_errors_total',
    'Requests refused before reaching a command: undecodable, unknown or too large.',
    [],
    () => one(source.protocolErrors()),
  );

  const connections = () => [...source.connections()];
  gauge('catena_client_connections', 'Client connections open, by protocol.', ['protocol'], () =>
    connections().map((c) => ({ labels: { protocol: c.protocol }, value: c.open })),
  );
  counter('catena_client_connections_accepted_total', 'Client connections accepted, by protocol.', ['protocol'], () =>
    connections().map((c) => ({ labels: { protocol: c.protocol }, value: c.accepted })),
  );
  counter('catena_client_received_bytes_total', 'Bytes received from clients, by protocol.', ['protocol'], () =>
    connections().map((c) => ({ labels: { protocol: c.protocol }, value: c.bytesIn })),
  );
  counter('catena_client_sent_bytes_total', 'Bytes sent to clients, by protocol.', ['protocol'], () =>
    connections().map((c) => ({ labels: { protocol: c.protocol }, value: c.bytesOut })),
  );

  gauge('catena_store_keys', 'Keys stored on this node.', [], () => one(source.store().keys));
  gauge('catena_store_bytes', 'Bytes of keys and values stored on this node.', [], () => one(source.store().bytes));
  gauge('catena_log_bytes', "The chain log's segment files on disk, in bytes.", [], () => {
    const storage = source.storage();
    return storage === undefined ? none : one(storage.logBytes);
  });
  gauge('catena_log_segments', "The chain log's segment files.", [], () => {
    const storage = source.storage();
    return storage === undefined ? none : one(storage.logSegments);
  });
  const storageHistogram = (pick: (storage: NonNullable<ReturnType<MetricsSource['storage']>>) => LatencyHistogram) => {
    const storage = source.storage();
    return storage === undefined ? [] : [{ labels: {}, histogram: pick(storage) }];
  };
  histogram(
    'catena_log_sync_duration_seconds',
    'Each group commit of the chain log: its write and fdatasync (the write only with --durability memory).',
    [],
    latencyBucketsSeconds,
    seconds,
    () => storageHistogram((storage) => storage.logCommitUs),
  );
  histogram('catena_log_group_commit_entries', 'Log entries each group commit made durable.', [], batchBuckets, 1, () =>
    storageHistogram((storage) => storage.logCommitRecords),
  );
  histogram(
    'catena_lmdb_commit_duration_seconds',
    'Each LMDB transaction applying state behind the log (its sync included with --durability fsync).',
    [],
    latencyBucketsSeconds,
    seconds,
    () => storageHistogram((storage) => storage.lmdbTransactionUs),
  );

  const chainGauge = (
    name: string,
    help: string,
    pick: (chain: NonNullable<ReturnType<MetricsSource['chain']>>) => number,
  ) =>
    gauge(name, help, [], () => {
      const chain = source.chain();
      return chain === undefined ? none : one(pick(chain));
    });
  gauge('catena_chain_role', "This node's role in its chain (a state set: the current role is 1).", ['role'], () => {
    const chain = source.chain();
    if (chain === undefined) return none;
    return chainRoles.map((role) => ({ labels: { role }, value: chain.role === role ? 1 : 0 }));
  });
  chainGauge('catena_chain_epoch', "The chain configuration's epoch this node follows.", (chain) => chain.epoch);
  chainGauge('catena_chain_last_sequence', 'The last log entry this node holds (durable or not).', (c) => c.last);
  chainGauge('catena_chain_persisted_sequence', 'The last log entry durable on this node.', (c) => c.persisted);
  chainGauge(
    'catena_chain_committed_sequence',
    'The last log entry this node knows committed (durable on every member) and applied.',
    (chain) => chain.committed,
  );
  chainGauge(
    'catena_chain_uncommitted_entries',
    'Entries this node holds that are not yet known committed: the lag between this node and the tail.',
    (chain) => Math.max(0, chain.last - chain.committed),
  );
  chainGauge(
    'catena_chain_serving_reads',
    '1 while this node serves linearizable reads (a tail with its lease).',
    (c) => (c.servingReads ? 1 : 0),
  );
  counter('catena_chain_suspicions_total', 'Chain neighbours this node suspected of being down.', [], () => {
    const chain = source.chain();
    return chain === undefined ? none : one(chain.suspicions);
  });
  counter(
    'catena_peer_refusals_total',
    'Chain connections closed for what they sent (no cluster secret, a bad frame).',
    [],
    () => {
      const chain = source.chain();
      return chain === undefined ? none : one(chain.peerRefusals);
    },
  );
  histogram(
    'catena_commit_duration_seconds',
    "Time from an entry's arrival in this node's log to its commit being known here (sampled: one entry per commit round).",
    [],
    latencyBucketsSeconds,
    seconds,
    () => {
      const chain = source.chain();
      return chain === undefined ? [] : [{ labels: {}, histogram: chain.commitUs }];
    },
  );

  gauge(
    'catena_coordinator_session_state',
    "The coordinator session's state (a state set: the current state is 1).",
    ['state'],
    () => {
      const coordinator = source.coordinator();
      if (coordinator === undefined) return none;
      return sessionStates.map((state) => ({ labels: { state }, value: coordinator.state === state ? 1 : 0 }));
    },
  );
  const coordinatorCounter = (
    name: string,
    help: string,
    pick: (coordinator: NonNullable<ReturnType<MetricsSource['coordinator']>>) => number,
  ) =>
    counter(name, help, [], () => {
      const coordinator = source.coordinator();
      return coordinator === undefined ? none : one(pick(coordinator));
    });
  coordinatorCounter(
    'catena_coordinator_sessions_opened_total',
    'Coordinator sessions opened (the first, and one after each expiry).',
    (c) => c.opened,
  );
  coordinatorCounter(
    'catena_coordinator_disconnects_total',
    'Times the coordinator connection was lost (the session may survive).',
    (c) => c.disconnects,
  );
  coordinatorCounter(
    'catena_coordinator_reconnects_total',
    'Times the connection came back within the same session.',
    (c) => c.reconnects,
  );
  coordinatorCounter(
    'catena_coordinator_session_expirations_total',
    'Sessions expired (the node left its chain and rejoins).',
    (c) => c.expirations,
  );
  gauge('catena_manager', '1 while this node is the cluster manager.', [], () => {
    const coordinator = source.coordinator();
    return coordinator === undefined ? none : one(coordinator.manager ? 1 : 0);
  });

  const moves = (pick: (moves: NonNullable<ReturnType<MetricsSource['slotMoves']>>) => number): Sample[] => {
    const slotMoves = source.slotMoves();
    return slotMoves === undefined ? none : one(pick(slotMoves));
  };
  counter('catena_slot_moves_total', 'Slot ranges this node, as manager, handed over to another chain.', [], () =>
    moves((m) => m.moves),
  );
  counter('catena_slots_moved_total', 'Slots this node, as manager, handed over to another chain.', [], () =>
    moves((m) => m.slots),
  );
  counter('catena_slot_move_records_total', 'Records this node, as manager, copied between chains.', [], () =>
    moves((m) => m.records),
  );
  counter(
    'catena_slot_move_bytes_total',
    'Bytes (keys and values) this node, as manager, copied between chains.',
    [],
    () => moves((m) => m.bytes),
  );
  gauge('catena_slot_move_copying_slots', 'Slots this node, as manager, is copying now.', [], () =>
    moves((m) => m.copying),
  );
  gauge(
    'catena_slot_move_in_flight_slots',
    "Slots in the move the cluster's slot map shows under way (0: none).",
    [],
    () => moves((m) => m.inFlight),
  );
  gauge(
    'catena_slot_move_remaining_slots',
    "Slots not yet where the layout wants them, per the cluster's slot map (0: balanced).",
    [],
    () => moves((m) => m.remaining),
  );
  return registry;
}
