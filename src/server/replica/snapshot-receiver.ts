// Receiving a snapshot, as a joiner (docs/design.md §3.8): the state is discarded at
// `snapshot-begin` and the meta record `installing` set, records land as their parts arrive (a
// gap in the part numbers abandons the install), and `snapshot-end` brings the client table, the
// frozen ranges and the log position; once that is durable the core hears of the snapshot. A
// stream that stalls, a new configuration, or a restart mid-install (`installing` still set)
// discards the partial state and the joiner starts over from an empty store.

import { snapshotStallMs } from '../../core/limits.js';
import { ClientTable } from '../../replication/client-table.js';
import type { FrozenRange, LogPosition } from '../../storage/log-store.js';
import type { SnapshotPart } from '../chain-wire.js';
import { clientTableLimits, type Clients } from './applier.js';
import type { ReplicaShell } from './shell.js';

interface Receiving {
  readonly stream: number;
  readonly from: string;
  readonly epoch: number;
  readonly sequence: number;
  readonly lastEpoch: number;
  readonly revision: number;
  /** The number the next records part must carry: a gap means a part was lost. */
  nextPart: number;
  lastFrameAtMs: number;
}

export interface ReceiverHost extends ReplicaShell {
  /** Empties the store, the log and the client table (a new core follows). */
  discardState(): void;
  /** A new core on what the store holds now, told the latest configuration. */
  restartCore(position: LogPosition): void;
  /** The state was replaced: raise the generation, forget results of the old state. */
  replaceState(): void;
  /** Repeats this joiner's acknowledgement of what it holds to its tail. */
  acknowledgeAgain(tail: string): void;
  /** The snapshot's client table and frozen ranges are the replica's now. */
  adopt(clients: Clients, frozen: readonly FrozenRange[]): void;
}

export class SnapshotReceiver {
  private receiving: Receiving | undefined;
  /** The newest stream begun, per sender: an older or repeated `snapshot-begin` is stale. */
  private readonly newestStream = new Map<string, number>();
  /**
   * The tail and epoch this joiner last acknowledged entries to (after a delta or a snapshot).
   * From then on its log continues that tail's, and the tail counts on what it acknowledged (it
   * reports the joiner caught up, and the manager appends it): a stream from the same tail at the
   * same epoch (answering a join sent before the catch-up was in) must not wipe that state.
   */
  private acknowledgedTo: { tail: string; epoch: number } | undefined;

  constructor(
    private readonly host: ReceiverHost,
    private readonly stallMs: number = snapshotStallMs,
  ) {}

  get active(): boolean {
    return this.receiving !== undefined;
  }

  /** The joiner acknowledged entries to its tail at `epoch` (replica.ts sees the core's acks go). */
  noteAcknowledged(tail: string, epoch: number): void {
    this.acknowledgedTo = { tail, epoch };
  }

  /** Forgets a stream in progress and what this node acknowledged (it moves to another chain). */
  reset(): void {
    this.receiving = undefined;
    this.newestStream.clear();
    this.acknowledgedTo = undefined;
  }

  part(part: SnapshotPart): void {
    if (part.kind === 'snapshot-begin') return this.begin(part);
    const receiving = this.receiving;
    if (receiving === undefined || part.stream !== receiving.stream || part.from !== receiving.from) return;
    receiving.lastFrameAtMs = this.host.env.clock.nowMs();
    const expected = receiving.nextPart;
    if (part.kind === 'snapshot-records' ? part.part !== expected : part.parts !== expected) {
      return this.abandon(`snapshot part lost (expected part ${expected})`);
    }
    if (part.kind === 'snapshot-records') {
      receiving.nextPart += 1;
      for (const [key, value, version, expiresAtMs, flags] of part.records) {
        this.host.store.restoreRecord(key, { value, version, expiresAtMs, flags: flags ?? 0 });
      }
      return;
    }
    this.end(receiving, part);
  }

  /** On every tick while receiving: a stream that sends nothing for too long is abandoned. */
  tick(nowMs: number): void {
    const receiving = this.receiving;
    if (receiving !== undefined && nowMs - receiving.lastFrameAtMs > this.stallMs) {
      this.abandon('the snapshot stream stalled');
    }
  }

  abandon(reason: string): void {
    this.host.log.log('warn', 'abandoning a snapshot install', { reason });
    this.receiving = undefined;
    this.host.discardState();
    this.host.restartCore({ lastSequence: 0, lastEpoch: 0 });
  }

  private begin(part: Extract<SnapshotPart, { kind: 'snapshot-begin' }>): void {
    const core = this.host.core();
    const config = this.host.config();
    if (core.role !== 'joining' || part.epoch !== core.epoch) return;
    if (config?.members[config.members.length - 1] !== part.from) return;
    // A stale stream (its begin repeated, or overtaken by a newer one) must not wipe what a
    // newer stream installed: this joiner may have acknowledged it, and be appended for it.
    if (part.stream <= (this.newestStream.get(part.from) ?? 0)) return;
    const acknowledged = this.acknowledgedTo;
    if (acknowledged !== undefined && acknowledged.tail === part.from && acknowledged.epoch === part.epoch) {
      // The tail may not have heard the acknowledgement (lost with a connection): say it again,
      // so it goes on with entries (chain-node.ts trusts a joiner that acknowledged).
      this.host.acknowledgeAgain(part.from);
      return;
    }
    this.newestStream.set(part.from, part.stream);
    this.host.log.log('info', 'receiving a snapshot', { from: part.from, sequence: part.sequence });
    this.host.replaceState(); // persists in flight belong to the state being replaced
    this.host.discardState();
    this.host.store.writeMeta('installing', true);
    this.receiving = { ...part, nextPart: 0, lastFrameAtMs: this.host.env.clock.nowMs() };
  }

  private end(receiving: Receiving, part: Extract<SnapshotPart, { kind: 'snapshot-end' }>): void {
    const store = this.host.store;
    store.restoreRevision(receiving.revision);
    for (const [clientId, record] of part.clients.clients) store.putClient(clientId, record);
    const frozen = part.frozen ?? [];
    store.writeMeta('frozen', frozen);
    const position: LogPosition = { lastSequence: receiving.sequence, lastEpoch: receiving.lastEpoch };
    store.writeMeta('position', position);
    store.writeMeta('applied', position);
    store.writeMeta('installed', position);
    store.writeMeta('installing', false);
    const ordered = [...part.clients.clients].sort((a, b) => a[1].sequence - b[1].sequence); // oldest first
    this.host.adopt(ClientTable.restore(clientTableLimits, { clients: ordered }), frozen);
    store.whenDurable((error) => {
      if (error !== undefined) return this.host.fatal(error);
      if (this.receiving !== receiving || this.host.stopped()) return;
      this.receiving = undefined;
      const effects = this.host.core().message({
        kind: 'snapshot',
        epoch: receiving.epoch,
        from: receiving.from,
        sequence: receiving.sequence,
        lastEpoch: receiving.lastEpoch,
        state: undefined,
      });
      if (!effects.some((e) => e.kind === 'install')) {
        // The core no longer takes it (its configuration moved on): begin again from what is on disk.
        this.host.restartCore(position);
        return;
      }
      this.host.log.log('info', 'snapshot installed', { sequence: receiving.sequence });
      this.host.run(effects);
    });
  }
}
