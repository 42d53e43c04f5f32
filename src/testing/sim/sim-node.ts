// One simulated node: the real replica (src/server/replica/) over an in-memory store that loses
// unsynced writes on a crash, on the simulator's virtual clock, disk and network. This file is
// only the adapter: what the node process does around its replica (wiring the environment,
// turning client requests into native requests and results back into outputs).

import { create } from '@bufbuild/protobuf';
import type { CommandContext, NodeFacts } from '../../commands/index.js';
import type { Clock } from '../../core/clock.js';
import { valueBytesMaxDefault } from '../../core/limits.js';
import type { ResponseResult } from '../../protocol/native/codec.js';
import { RequestSchema, type Request } from '../../protocol/native/gen/catena_pb.js';
import type { PeerFrame } from '../../server/chain-wire.js';
import { ApplyClock } from '../../server/replica/apply-clock.js';
import type { ReplicaEnvironment } from '../../server/replica/environment.js';
import { Replica, type LivenessTuning, type ReplicaFaults } from '../../server/replica/replica.js';
import type { LogEntry } from '../../replication/log-entry.js';
import { MemoryStore } from '../../storage/memory-store.js';
import type { Input, Output } from '../linearizability/history.js';

/** A write as a client asks it: the key and the client's input. */
export interface SimOp {
  readonly key: string;
  readonly input: Exclude<Input, { f: 'get' }>;
}

/** What a node needs from the simulation around it. */
export interface SimWorld {
  readonly clock: Clock;
  /**
   * A new process's monotonic clock: its own origin, and a rate within the bound the nodes
   * assume (core/limits.ts clockRateErrorMax) of real (virtual) time.
   */
  monotonicClock(): () => number;
  after(delayMs: number, run: () => void): void;
  /** Runs `run` now, or when `node` resumes if it is paused (as a stopped process: SIGSTOP). */
  whenAwake(node: SimNode, run: () => void): void;
  /** Runs `run` after the current event (as a microtask runs after the current callback). */
  defer(run: () => void): void;
  /** The disk finishes a durability point of `node` some time later: call `flush` then. */
  disk(node: SimNode, flush: () => void): void;
  send(from: string, to: string, frame: PeerFrame): void;
  reportCaughtUp(tail: SimNode, joiner: string, epoch: number): void;
  /** What the node publishes about its chain changed (where it stands, whom it suspects). */
  reportChanged(node: SimNode): void;
  /** What the replica logs (ignored unless the run is being replayed with a log). */
  log(node: SimNode, line: string): void;
  /** The replica asked to stop the node (a broken invariant or a disk failure): a failure of the run. */
  fatal(node: SimNode, error: unknown): void;
}

/** Replica limits a run may lower, to reach rare paths (snapshots in many parts, early trims). */
export interface SimReplicaTuning {
  /** Heartbeats, suspicion and leases (default: simLiveness, scaled to the simulator's sessions). */
  readonly liveness?: LivenessTuning;
  readonly snapshotStallMs?: number;
  readonly logEntriesKept?: number;
  readonly snapshotChunkRecords?: number;
  readonly catchUpEntriesMax?: number;
}

/** A joiner gives up on a silent snapshot stream after this long (the node's: 10 s). */
const simSnapshotStallMs = 1_000;

/**
 * Failure detection scaled as the simulator's sessions (300 ms against the node's 4 s): a
 * heartbeat every tick (40 ms: due at every 50 ms tick even on a clock 5 % slow), suspicion after 150 ms of silence (30 ms after a connection reset), a
 * 60 ms read lease (its wait, 67 ms, shorter than the suspicion timeout, as core/limits.ts asserts
 * of the node's).
 */
export const simLiveness: LivenessTuning = { heartbeatMs: 40, suspicionMs: 150, leaseMs: 60, peerLossGraceMs: 30 };

export class SimNode {
  readonly store: MemoryStore;
  readonly applyClock: ApplyClock;
  replica: Replica;
  alive = true;
  /** Raised by every restart: events of an older incarnation are ignored. */
  incarnation = 0;
  /** The node's coordinator session as the node sees it (a read lease is valid while connected). */
  sessionConnected = false;

  constructor(
    readonly id: string,
    private readonly world: SimWorld,
    private readonly faults: ReplicaFaults = {},
    private readonly tuning: SimReplicaTuning = {},
  ) {
    this.applyClock = new ApplyClock(world.clock);
    const disk = (flush: () => void): void => world.disk(this, flush);
    this.store = new MemoryStore(this.applyClock, { disk });
    this.replica = this.newReplica();
  }

  /** The node dies: its memory is gone, its disk keeps what was durable and `survivingTurns` turns more. */
  crash(survivingTurns = 0): void {
    this.alive = false;
    this.incarnation += 1;
    this.store.crash(survivingTurns);
  }

  /** A new process on the same durable state, with a new replica. */
  restart(): void {
    this.incarnation += 1;
    this.alive = true;
    this.sessionConnected = false;
    this.replica = this.newReplica();
  }

  private newReplica(): Replica {
    const incarnation = this.incarnation;
    const live = (): boolean => this.alive && this.incarnation === incarnation;
    const world = this.world;
    const monotonicMs = world.monotonicClock();
    const environment: ReplicaEnvironment = {
      clock: world.clock,
      monotonicMs,
      after: (delayMs, run) => {
        let cancelled = false;
        world.after(delayMs, () => {
          // A paused process runs its timers when it resumes.
          world.whenAwake(this, () => {
            if (!cancelled && live()) run();
          });
        });
        return { cancel: () => (cancelled = true) };
      },
      defer: (run) => world.defer(() => live() && run()),
    };
    const self = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the getter reads the replica made below
    const context: CommandContext = {
      store: this.store,
      clock: this.applyClock,
      valueBytesMax: valueBytesMaxDefault,
      node: simFacts(this.id),
      get slots() {
        return self.replica;
      },
    };
    const replica = new Replica({
      self: this.id,
      store: this.store,
      environment,
      applyClock: this.applyClock,
      context,
      durable: true,
      log: {
        log: (level, message, fields) =>
          world.log(this, `${level} ${message}${fields === undefined ? '' : ` ${JSON.stringify(fields)}`}`),
      },
      onCaughtUp: (joiner, epoch) => live() && world.reportCaughtUp(this, joiner, epoch),
      readLeaseValid: () => this.sessionConnected,
      onStateChanged: () => live() && world.reportChanged(this),
      fatal: (error) => world.fatal(this, error),
      faults: this.faults,
      // The simulator's timeouts are scaled down (sessions of 300 ms): so is the stall timeout.
      snapshotStallMs: simSnapshotStallMs,
      liveness: simLiveness,
      ...this.tuning,
    });
    replica.start({
      send: (to, frame) => live() && world.send(this.id, to, frame),
      backlogBytes: () => 0,
    });
    return replica;
  }

  /** The durable log, in order (what a crash would leave). */
  log(): LogEntry<undefined>[] {
    const out: LogEntry<undefined>[] = [];
    for (const { sequence, record } of this.store.entries(0, Number.MAX_SAFE_INTEGER)) {
      out.push({
        sequence,
        epoch: record.epoch,
        requestId: { clientId: record.clientId, clientSequence: record.clientSequence },
        operation: undefined,
      });
    }
    return out;
  }

  digest(): string {
    return this.store
      .scan({ limit: 100_000 })
      .entries.map((e) => `${Buffer.from(e.key).toString()}=${Buffer.from(e.value).toString()}@${e.version}`)
      .join(',');
  }
}

function simFacts(id: string): NodeFacts {
  return {
    nodeId: id,
    version: 'sim',
    startedAtMs: 0,
    durability: 'fsync',
    connections: () => 0,
    stats: () => ({}) as never,
  } as unknown as NodeFacts;
}

/** The native request for a client's operation. */
export function requestFor(key: string, input: Input, clientId: string, clientSequence: number): Request {
  const k = Buffer.from(key);
  const ids = { clientId, clientSequence: BigInt(clientSequence) };
  switch (input.f) {
    case 'get':
      return create(RequestSchema, { ...ids, command: { case: 'get', value: { key: k } } });
    case 'put':
      return create(RequestSchema, {
        ...ids,
        command: { case: 'put', value: { key: k, value: Buffer.from(input.value) } },
      });
    case 'del':
      return create(RequestSchema, { ...ids, command: { case: 'del', value: { key: k } } });
    case 'cas': {
      const value = { key: k, expectedVersion: BigInt(input.expectedVersion), value: Buffer.from(input.value) };
      return create(RequestSchema, { ...ids, command: { case: 'cas', value } });
    }
    case 'incr':
      return create(RequestSchema, { ...ids, command: { case: 'incr', value: { key: k, delta: input.delta } } });
    case 'append':
      return create(RequestSchema, {
        ...ids,
        command: { case: 'append', value: { key: k, value: Buffer.from(input.value) } },
      });
  }
}

/**
 * A result as the client's output; 'retry' for a refusal that changed nothing (not the head, the
 * chain changed): the client tries again with the same request id.
 */
export function outputOf(result: ResponseResult): Output | 'retry' {
  switch (result.case) {
    case 'get':
      return result.value.found
        ? {
            f: 'get',
            found: true,
            value: Buffer.from(result.value.value).toString(),
            version: Number(result.value.version),
          }
        : { f: 'get', found: false };
    case 'put':
      return { f: 'put', version: Number(result.value.version) };
    case 'del':
      return { f: 'del', deleted: result.value.deleted };
    case 'cas':
      return result.value.swapped
        ? { f: 'cas', swapped: true, version: Number(result.value.version) }
        : { f: 'cas', swapped: false, currentVersion: Number(result.value.version) };
    case 'incr':
      return { f: 'incr', value: result.value.value };
    case 'append':
      return { f: 'append', length: Number(result.value.length) };
    case 'error':
      if (result.value.code === 'ERR_NOT_AN_INTEGER') return { f: 'error', reason: 'not-an-integer' };
      if (result.value.code === 'ERR_OVERFLOW') return { f: 'error', reason: 'overflow' };
      return 'retry';
    default:
      return 'retry';
  }
}
