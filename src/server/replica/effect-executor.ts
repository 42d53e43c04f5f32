// Carries out the core's effects in the order effects.ts documents (docs/design.md §4):
//
//   persist ─▶ apply each entry + append its record + move the log position (one durability
//              point for everything issued in the burst: group fsync) ─▶ durable ─▶ core.persisted
//   send    ─▶ the peer network (large entry batches split into frames, each continuing the last)
//   reply   ─▶ the clients waiting for that sequence
//   catch-up ─▶ decideCatchUp: entries from the log, a snapshot stream, or nothing yet
//   caught-up ─▶ the manager, through the node's coordinator session

import { errorResult } from '../../commands/execute.js';
import { assert } from '../../core/assert.js';
import { catchUpBytesMax, catchUpDeferralsMax, peerBatchBytesTarget } from '../../core/limits.js';
import type { ResponseResult } from '../../protocol/native/codec.js';
import { decideCatchUp, type CatchUpLog } from '../../replication/catch-up.js';
import type { Effect } from '../../replication/effects.js';
import type { LogEntry } from '../../replication/log-entry.js';
import type { ChainMessage } from '../../replication/messages.js';
import type { LogPosition } from '../../storage/log-store.js';
import type { ReplicatedOp } from '../chain-wire.js';
import { entryOf, type Applier } from './applier.js';
import type { ReplicaShell } from './shell.js';
import type { SnapshotSender } from './snapshot-sender.js';

type Reply = (result: ResponseResult) => void;

export interface ExecutorOptions {
  readonly catchUpEntriesMax: number;
  /** This tail found its joiner caught up: tell the manager. */
  onCaughtUp(joiner: string, epoch: number): void;
  /** Called after the core heard of newly durable entries (log trimming runs then). */
  afterPersisted(): void;
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

  constructor(
    private readonly shell: ReplicaShell,
    private readonly applier: Applier,
    private readonly snapshots: SnapshotSender,
    private readonly options: ExecutorOptions,
  ) {}

  run(effects: readonly Effect<ReplicatedOp>[]): void {
    for (const effect of effects) {
      switch (effect.kind) {
        case 'persist':
          this.persist(effect.entries);
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
          break; // the snapshot is already in the store (snapshot-receiver.ts): only the core's view moves
        case 'caught-up':
          this.options.onCaughtUp(effect.joiner, this.shell.core().epoch);
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
    for (const [sequence, waiters] of this.waiters) {
      for (const reply of waiters) reply(errorResult(code, message));
      this.waiters.delete(sequence);
      this.results.delete(sequence);
    }
  }

  /** The state was replaced: results and pending persistence belong to the old one. */
  forgetState(): void {
    this.results.clear();
    this.persistedUpTo = 0;
  }

  private persist(entries: readonly LogEntry<ReplicatedOp>[]): void {
    assert(entries.length > 0, 'a persist effect carries entries');
    for (const entry of entries) {
      const result = this.applier.apply(entry);
      if (this.waiters.has(entry.sequence)) {
        this.results.set(entry.sequence, result ?? errorResult('ERR_UNAVAILABLE', 'a newer write of this client won'));
      }
    }
    const last = entries[entries.length - 1]!;
    this.shell.store.writeMeta('position', { lastSequence: last.sequence, lastEpoch: last.epoch });
    const generation = this.shell.generation();
    this.shell.store.whenDurable((error) => {
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

  private reply(sequence: number): void {
    const waiters = this.waiters.get(sequence);
    const result = this.results.get(sequence);
    this.waiters.delete(sequence);
    this.results.delete(sequence);
    if (waiters === undefined) return;
    for (const reply of waiters) reply(result ?? errorResult('ERR_INTERNAL', 'no result recorded'));
  }

  send(to: string, message: ChainMessage<ReplicatedOp>): void {
    const peers = this.shell.peers();
    if (peers === undefined) return;
    if (message.kind === 'snapshot') return; // snapshots are streamed (snapshot-sender.ts), never sent whole
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
    this.send(to, { kind: 'entries', epoch, from: this.shell.self, entries });
  }
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
