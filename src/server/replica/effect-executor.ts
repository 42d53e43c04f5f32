// Carries out the core's effects in the order effects.ts documents (docs/design.md §4):
//
//   persist ─▶ append each entry's record + move the log position (one durability point for
//              everything issued in the burst: group fsync) ─▶ durable ─▶ core.persisted
//   apply   ─▶ committed entries, from memory or the durable log, to the data and the client
//              table; the results go to the clients waiting for them (the data holds committed
//              state only: docs/design.md §3.5)
//   send    ─▶ the peer network (entries frames of one burst to one peer go as one batch, large
//              batches split into frames, each continuing the last)
//   reply   ─▶ the clients waiting for that sequence
//   catch-up ─▶ decideCatchUp: entries from the log, a snapshot stream, or nothing yet
//   caught-up ─▶ the manager, through the node's coordinator session

import { errorResult } from '../../commands/execute.js';
import { assert } from '../../core/assert.js';
import { LatencyHistogram } from '../../core/histogram.js';
import { catchUpBytesMax, catchUpDeferralsMax, peerBatchBytesTarget } from '../../core/limits.js';
import type { ResponseResult } from '../../protocol/native/codec.js';
import { decideCatchUp, type CatchUpLog } from '../../replication/catch-up.js';
import type { Effect } from '../../replication/effects.js';
import type { LogEntry } from '../../replication/log-entry.js';
import type { ChainMessage } from '../../replication/messages.js';
import type { LogPosition } from '../../storage/log-store.js';
import type { ReplicatedOp } from '../chain-wire.js';
import { entryOf, logRecord, type Applier } from './applier.js';
import type { ReplicaShell } from './shell.js';
import type { SnapshotSender } from './snapshot-sender.js';

type Reply = (result: ResponseResult) => void;
type Sendable = Exclude<ChainMessage<ReplicatedOp>, { kind: 'snapshot' }>;

export interface ExecutorOptions {
  readonly catchUpEntriesMax: number;
  /** This tail found its joiner caught up: tell the manager. */
  onCaughtUp(joiner: string, epoch: number): void;
  /** The core suspects these neighbours now, at this epoch (none: it withdraws its report). */
  onSuspect(peers: readonly string[], epoch: number): void;
  /** Called after the core heard of newly durable entries (log trimming runs then). */
  afterPersisted(): void;
  /** The last entry applied when the replica started. */
  readonly applied: LogPosition;
  /** Simulator only: apply entries as soon as they are logged, committed or not (a broken variant). */
  readonly applyAtPersist?: boolean;
}

export class EffectExecutor {
  /** At the head: log sequence -> the clients waiting for it to commit. */
  private readonly waiters = new Map<number, Reply[]>();
  /** Results of applied entries someone waits for, by sequence. */
  private readonly results = new Map<number, ResponseResult>();
  /** Joiners whose log was longer than this tail's, and how often their catch-up was put off. */
  private readonly deferrals = new Map<string, number>();
  /** The highest sequence a durability point covered, not yet told to the core. */
  private persistedUpTo = 0;
  private persistedQueued = false;
  /** The last entry applied to the data. */
  private applied: LogPosition;
  /** Entries logged by this process and not applied yet, in sequence order from `unappliedHead`. */
  private unapplied: LogEntry<ReplicatedOp>[] = [];
  private unappliedHead = 0;
  /** Entries frames waiting for the end of the burst, by peer (sent as one batch, in order). */
  private outbox = new Map<string, Sendable[]>();
  /**
   * Time from an entry's arrival in this node's log to its commit being known here, sampled: one
   * entry at a time (the next persist after the sample commits starts the next), so the write path
   * pays one clock read per commit round, not one per entry.
   */
  readonly commitUs = new LatencyHistogram();
  private commitSample: { sequence: number; startedMs: number } | undefined;
  private outboxQueued = false;

  constructor(
    private readonly shell: ReplicaShell,
    private readonly applier: Applier,
    private readonly snapshots: SnapshotSender,
    private readonly options: ExecutorOptions,
  ) {
    this.applied = options.applied;
  }

  run(effects: readonly Effect<ReplicatedOp>[]): void {
    for (const effect of effects) {
      switch (effect.kind) {
        case 'persist':
          this.persist(effect.entries);
          break;
        case 'apply':
          this.apply(effect.upTo);
          this.noteCommitted(effect.upTo);
          break;
        case 'send':
          this.send(effect.to, effect.message);
          break;
        case 'reply':
          this.reply(effect.sequence);
          break;
        case 'reject':
          break; // only a client write produces it, and the replica answers it there
        case 'catch-up':
          this.catchUp(effect);
          break;
        case 'install':
          // The snapshot is already in the store (snapshot-receiver.ts): the data is at its sequence.
          this.forgetState({ lastSequence: effect.sequence, lastEpoch: effect.lastEpoch });
          break;
        case 'caught-up':
          this.options.onCaughtUp(effect.joiner, this.shell.core().epoch);
          break;
        case 'suspect':
          this.options.onSuspect(effect.peers, effect.epoch);
          break;
      }
    }
  }

  /** A client waits for `sequence` to commit. */
  wait(sequence: number, reply: Reply): void {
    const list = this.waiters.get(sequence);
    if (list === undefined) this.waiters.set(sequence, [reply]);
    else list.push(reply);
  }

  /** Answers every waiting client with an error (the chain changed, or the node stops). */
  failWaiters(code: 'ERR_UNAVAILABLE' | 'ERR_SHUTTING_DOWN', message?: string): void {
    this.commitSample = undefined; // its entry may never commit now
    for (const [sequence, waiters] of this.waiters) {
      for (const reply of waiters) reply(errorResult(code, message));
      this.waiters.delete(sequence);
      this.results.delete(sequence);
    }
  }

  /** The state was replaced (its data is now at `applied`): results and pending persistence belong to the old one. */
  forgetState(applied: LogPosition): void {
    this.results.clear();
    this.commitSample = undefined;
    this.persistedUpTo = 0;
    this.applied = applied;
    this.unapplied = [];
    this.unappliedHead = 0;
  }

  /** The last entry applied to the data. */
  get appliedPosition(): LogPosition {
    return this.applied;
  }

  private persist(entries: readonly LogEntry<ReplicatedOp>[]): void {
    assert(entries.length > 0, 'a persist effect carries entries');
    const store = this.shell.store;
    for (const entry of entries) {
      store.appendEntry(entry.sequence, logRecord(entry));
      this.unapplied.push(entry);
    }
    const last = entries[entries.length - 1]!;
    this.commitSample ??= { sequence: last.sequence, startedMs: performance.now() };
    if (this.options.applyAtPersist === true) this.apply(last.sequence);
    this.shell.store.writeMeta('position', { lastSequence: last.sequence, lastEpoch: last.epoch });
    const generation = this.shell.generation();
    // The log is the durability point: what is applied later follows the log (log-store.ts).
    this.shell.store.whenLogDurable((error) => {
      if (error !== undefined) return this.shell.fatal(error);
      if (!this.shell.active() || generation !== this.shell.generation()) return;
      this.notePersisted(last.sequence);
    });
  }

  /**
   * Every persist that one durability point covered completes in the same burst: tell the core
   * once, at the end of the burst, so the successor gets one frame with all of them (and the
   * predecessor one ack) rather than a frame per entry.
   */
  private notePersisted(sequence: number): void {
    if (sequence > this.persistedUpTo) this.persistedUpTo = sequence;
    if (this.persistedQueued) return;
    this.persistedQueued = true;
    const generation = this.shell.generation();
    this.shell.env.defer(() => {
      this.persistedQueued = false;
      if (!this.shell.active() || generation !== this.shell.generation()) return;
      this.shell.run(this.shell.core().persisted(this.persistedUpTo));
      this.options.afterPersisted();
    });
  }

  /** The sampled entry is committed: its time from log to commit goes into `commitUs`. */
  private noteCommitted(upTo: number): void {
    const sample = this.commitSample;
    if (sample === undefined || upTo < sample.sequence) return;
    this.commitUs.record((performance.now() - sample.startedMs) * 1000);
    this.commitSample = undefined;
  }

  /** Applies every committed entry up to `upTo` not applied yet, in order, and records where the data stands. */
  private apply(upTo: number): void {
    if (upTo <= this.applied.lastSequence) return;
    const store = this.shell.store;
    let position = this.applied;
    while (position.lastSequence < upTo) {
      const sequence = position.lastSequence + 1;
      const entry = this.takeUnapplied(sequence) ?? this.loggedEntry(sequence);
      if (entry === undefined) {
        // Trimmed, or never written: the data cannot go on. Stop rather than serve a gap.
        this.shell.fatal(new Error(`committed entry ${sequence} is missing from the log: cannot apply it`));
        break;
      }
      const result = this.applier.apply(entry);
      if (this.waiters.has(sequence)) {
        this.results.set(sequence, result ?? errorResult('ERR_UNAVAILABLE', 'a newer write of this client won'));
      }
      position = { lastSequence: sequence, lastEpoch: entry.epoch };
    }
    this.applied = position;
    store.writeMeta('applied', position);
  }

  /** The entry at `sequence` if this process logged it (it is the next one to apply). */
  private takeUnapplied(sequence: number): LogEntry<ReplicatedOp> | undefined {
    while (this.unappliedHead < this.unapplied.length && this.unapplied[this.unappliedHead]!.sequence < sequence) {
      this.unappliedHead += 1;
    }
    const entry = this.unapplied[this.unappliedHead];
    if (entry?.sequence !== sequence) return undefined;
    this.unappliedHead += 1;
    if (this.unappliedHead >= 1024 && this.unappliedHead * 2 >= this.unapplied.length) {
      this.unapplied = this.unapplied.slice(this.unappliedHead);
      this.unappliedHead = 0;
    }
    return entry;
  }

  /** An entry logged before this process started (a restart replays the log after the data). */
  private loggedEntry(sequence: number): LogEntry<ReplicatedOp> | undefined {
    const record = this.shell.store.entry(sequence);
    return record === undefined ? undefined : entryOf(sequence, record);
  }

  private reply(sequence: number): void {
    const waiters = this.waiters.get(sequence);
    const result = this.results.get(sequence);
    this.waiters.delete(sequence);
    this.results.delete(sequence);
    if (waiters === undefined) return;
    for (const reply of waiters) reply(result ?? errorResult('ERR_INTERNAL', 'no result recorded'));
  }

  /**
   * Sends a message to a peer at the end of the burst, with what else goes to that peer in it:
   * consecutive entries frames of one epoch become one (the last mark wins), so a burst of writes
   * travels as one batch, and messages keep their order.
   */
  send(to: string, message: ChainMessage<ReplicatedOp>): void {
    if (message.kind === 'snapshot') return; // snapshots are streamed (snapshot-sender.ts), never sent whole
    let queue = this.outbox.get(to);
    if (queue === undefined) this.outbox.set(to, (queue = []));
    const previous = queue[queue.length - 1];
    if (
      message.kind === 'entries' &&
      previous?.kind === 'entries' &&
      previous.epoch === message.epoch &&
      previous.from === message.from &&
      continues(previous.entries, message.entries)
    ) {
      // The outbox owns the batch's array (made below): append, rather than copy it per write.
      (previous.entries as LogEntry<ReplicatedOp>[]).push(...message.entries);
      queue[queue.length - 1] = { ...previous, mark: Math.max(previous.mark, message.mark) };
    } else {
      queue.push(message.kind === 'entries' ? { ...message, entries: [...message.entries] } : message);
    }
    if (this.outboxQueued) return;
    this.outboxQueued = true;
    this.shell.env.defer(this.flushOutbox);
  }

  private readonly flushOutbox = (): void => {
    this.outboxQueued = false;
    const outbox = this.outbox;
    this.outbox = new Map();
    for (const [to, messages] of outbox) for (const message of messages) this.sendNow(to, message);
  };

  private sendNow(to: string, message: Sendable): void {
    const peers = this.shell.peers();
    if (peers === undefined) return;
    if (message.kind !== 'entries') {
      peers.send(to, message);
      return;
    }
    // Large batches go in several frames, each continuing the last.
    let batch: LogEntry<ReplicatedOp>[] = [];
    let bytes = 0;
    for (const entry of message.entries) {
      batch.push(entry);
      bytes += entry.operation.request.length + 64;
      if (bytes >= peerBatchBytesTarget) {
        peers.send(to, { ...message, entries: batch });
        batch = [];
        bytes = 0;
      }
    }
    if (batch.length > 0 || message.entries.length === 0) peers.send(to, { ...message, entries: batch });
  }

  // ---- catching a peer up (docs/design.md §3.7, §3.8) --------------------------------------

  private catchUp(effect: Extract<Effect<ReplicatedOp>, { kind: 'catch-up' }>): void {
    const { to, from, upTo, epoch } = effect;
    const deltaEntriesMax = this.options.catchUpEntriesMax;
    const decision = decideCatchUp(
      {
        from,
        upTo,
        trusted: effect.trusted,
        deferrals: this.deferrals.get(to) ?? 0,
        deferralsMax: catchUpDeferralsMax,
        deltaEntriesMax,
      },
      storeCatchUpLog(this.shell),
    );
    if (decision.kind === 'defer') {
      // The peer's log is longer than this one: it may hold entries still on their way here (a
      // restarted middle node), or a divergent suffix. Let it ask again (it retries) before
      // replacing its whole state with a snapshot.
      this.deferrals.set(to, (this.deferrals.get(to) ?? 0) + 1);
      return;
    }
    this.deferrals.delete(to);
    if (decision.kind === 'snapshot') {
      this.snapshots.send(to, epoch);
      return;
    }
    const entries: LogEntry<ReplicatedOp>[] = [];
    let bytes = 0;
    for (const { sequence, record, bytes: size } of this.shell.store.entries(from.sequence, upTo)) {
      entries.push(entryOf(sequence, record));
      bytes += size;
      // The rest follows the peer's acknowledgement (a joiner) or its next hello (a member).
      if (bytes > catchUpBytesMax || entries.length >= deltaEntriesMax) break;
    }
    this.send(to, { kind: 'entries', epoch, from: this.shell.self, entries, mark: effect.mark });
  }
}

/** True when `next` continues `previous` (or either is empty): the two can travel as one frame. */
function continues(previous: readonly LogEntry<ReplicatedOp>[], next: readonly LogEntry<ReplicatedOp>[]): boolean {
  if (previous.length === 0 || next.length === 0) return true;
  return next[0]!.sequence === previous[previous.length - 1]!.sequence + 1;
}

/** The catch-up rule's view of the replica's durable log. */
function storeCatchUpLog(shell: ReplicaShell): CatchUpLog {
  const store = shell.store;
  // The installed position is read (and checked) once per decision, when first needed.
  let read = false;
  let installed: LogPosition | undefined;
  const installedPosition = (): LogPosition | undefined => {
    if (!read) [read, installed] = [true, store.readMeta().installed];
    return installed;
  };
  return {
    firstHeld: () => store.logBounds()?.first,
    installedAt: () => installedPosition()?.lastSequence,
    epochAt: (sequence) => {
      const record = store.entry(sequence);
      if (record !== undefined) return record.epoch;
      const position = installedPosition();
      return position?.lastSequence === sequence ? position.lastEpoch : undefined;
    },
  };
}
