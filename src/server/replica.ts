// The replica: the I/O shell around one node's chain-replication core (DESIGN.md §3-§5). It
// carries out the core's effects in the order effects.ts documents, on the LMDB store and the
// peer network, and turns what happens (a write, a frame from a peer, a finished fsync, a new
// configuration, a tick) into the core's inputs.
//
//   client write ─▶ write(): core.write ─▶ persist: apply to the store + log record + meta, one
//     LMDB transaction (every write of the event turn shares it and its fsync: group commit)
//     ─▶ sync resolves ─▶ core.persisted ─▶ send downstream ... ack ─▶ reply: answer the client
//   client read ─▶ read(): only while the core says this node may serve reads (the tail, session
//     connected), answered after the store is durable
//
// Applying is deterministic, so every replica reaches the same state from the same log: the
// operation carries the head's clock (expiries are computed from it, not from each replica's),
// versions come from the replicated revision counter, and the exactly-once client table
// (client-table.ts) is kept durably in `meta` (`client:<id>`), updated in the same transaction.
//
// Durable records (LMDB `log` and `meta`, lmdb-store.ts):
//   log[sequence]      LogRecord: epoch, request id, the head's clock, the request, its result
//   meta 'replica'     { lastSequence, lastEpoch }  the end of the log, moved with each batch
//   meta 'installed'   { sequence, lastEpoch }      the snapshot this node's log continues, if any
//   meta 'installing'  true while a snapshot is being received: on restart the state is discarded
//   meta 'chain'       the chain whose log and data this store holds (absent: c0, or none if empty)
//
// A node belongs to one chain at a time (DESIGN.md §1). Sequences and epochs are per chain, so
// a node placed in another chain than the one its store holds first discards its state and
// starts that chain's log from nothing: its log position must never be compared with another
// chain's log.
//   meta 'client:<id>' { clientSequence, result, sequence }
//
// Snapshots (a joiner whose log does not continue the tail's, §3.8) are streamed in chunks from
// one LMDB read transaction, yielding to the event loop between chunks. While a joiner receives
// one, its core is left alone (no ticks, no configurations); a stream that is interrupted
// discards the partial state and starts the joiner over from an empty store.

import { Packr } from 'msgpackr';
import { commandByName, type CommandContext } from '../commands/index.js';
import { errorResult, execute, type Execution } from '../commands/execute.js';
import { AssertionError, assert } from '../core/assert.js';
import type { ClientRecord } from '../replication/client-table.js';
import { ClientTable } from '../replication/client-table.js';
import { ChainNode } from '../replication/chain-node.js';
import type { Effect } from '../replication/effects.js';
import type { LogEntry, RequestId } from '../replication/log-entry.js';
import type { ChainMessage } from '../replication/messages.js';
import type { ChainConfig } from '../replication/chain-config.js';
import { chainIdDefault } from '../coordination/cluster-paths.js';
import { CatenaError } from '../core/errors.js';
import {
  catchUpEntriesMax,
  expiryReclaimBatchMax,
  expiryReclaimIntervalMs,
  chainTickMs,
  logEntriesKept,
  peerBatchBytesTarget,
  snapshotChunkRecords,
} from '../core/limits.js';
import type { Logger } from '../core/log.js';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type Request,
  type ResponseResult,
} from '../protocol/native/codec.js';
import type { LmdbStore } from '../storage/lmdb-store.js';
import type { FrozenRange, PeerFrame, ReplicatedOp, SnapshotPart, SnapshotRecord } from './chain-wire.js';
import type { ReplyInit, SlotMover } from '../commands/index.js';
import type { RequestOf } from '../protocol/native/codec.js';
import { checkLimit } from '../commands/arguments.js';
import { keySlot, slotCount } from '../sharding/slots.js';

/** The clock commands and the store see: the head's clock while an entry is applied, else the system's. */
export class ApplyClock {
  private pinnedMs: number | undefined;
  nowMs(): number {
    return this.pinnedMs ?? Date.now();
  }
  pin(nowMs: number | undefined): void {
    this.pinnedMs = nowMs;
  }
}

interface LogRecord {
  e: number; // epoch
  c: string; // clientId
  s: number; // clientSequence
  t: number; // the head's clock
  r: Uint8Array; // request body
  g?: Uint8Array[]; // reclaim: keys to remove if expired at t (ReplicatedOp.reclaim)
  x: Uint8Array | undefined; // encoded result (a Response with id 0), undefined for a stale copy
}

interface ReplicaMeta {
  lastSequence: number;
  lastEpoch: number;
}

const clientTableLimits = { clientsMax: 100_000, idleEntriesMax: 100_000 };
const clientKeyPrefix = 'client:';
/** Longest client id taken (its meta key must fit LMDB's key limit with room to spare). */
const clientIdBytesMax = 256;
const packr = new Packr({ useRecords: false, mapsAsObjects: true });
/** A joiner whose log is longer than the tail's asks this many times before it gets a snapshot. */
const aheadDeferralsMax = 3;
/** A joiner receiving a snapshot gives up on a stream that sends nothing for this long. */
const snapshotStallMs = 10_000;
/** A snapshot stream that takes longer than this is abandoned (the joiner asks again). */
const snapshotStreamMsMax = 10 * 60_000;
/** A delta catch-up sends at most this many bytes at once; the peer's acknowledgement asks for the rest. */
const catchUpBytesMax = 64 * 1024 * 1024;
/** Every node repeats `hello` and its ack to its predecessor this often, repairing lost frames on an idle chain. */
const repairIntervalMs = 1_000;
/** Moving slots: keys one export or drop page steps over at most (values unread), and bytes of one export page. */
const migrationExamineMax = 1_000_000;
const migrationPageBytesMax = 4 * 1024 * 1024;
/** Hand-over fences a replica keeps (dropPage): the oldest are forgotten past this. */
const fencesKept = 1024;
/** A snapshot stream waits for its connection to drain below this before the next chunk. */
const snapshotBacklogBytesMax = 8 * 1024 * 1024;

export interface ReplicaPeers {
  send(to: string, frame: PeerFrame): void;
  backlogBytes(to: string): number;
}

export interface ReplicaOptions {
  readonly self: string;
  readonly store: LmdbStore;
  readonly applyClock: ApplyClock;
  readonly context: CommandContext;
  readonly durable: boolean;
  readonly log: Logger;
  /** This tail found its joiner caught up: tell the manager (through the coordinator). */
  onCaughtUp(joiner: string, epoch: number): void;
  /** The coordinator confirmed this node's session recently enough for it to serve reads (§3.5). */
  readLeaseValid(): boolean;
  /** Something `status()` reports changed (role, awaiting removal): refresh what the coordinator shows. */
  onStateChanged(): void;
  fatal(error: unknown): void;
  /** Overrides for tests (defaults: limits.ts logEntriesKept, catchUpEntriesMax, snapshotChunkRecords, expiryReclaimIntervalMs). */
  readonly logEntriesKept?: number;
  readonly catchUpEntriesMax?: number;
  readonly snapshotChunkRecords?: number;
  readonly expiryReclaimIntervalMs?: number;
}

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

export class Replica implements SlotMover {
  private core: ChainNode<ReplicatedOp>;
  private clients: ClientTable<Uint8Array | undefined>;
  private config: ChainConfig | undefined;
  /** At the head: log sequence -> the clients waiting for it to commit. */
  private readonly waiters = new Map<number, ((result: ResponseResult) => void)[]>();
  /** Results of applied entries someone waits for, by sequence. */
  private readonly results = new Map<number, ResponseResult>();
  private peers: ReplicaPeers | undefined;
  private timer: NodeJS.Timeout | undefined;
  private receiving: Receiving | undefined;
  private streamCounter = 0;
  /** Snapshot streams this node is sending, by joiner: a newer one cancels the older. */
  private readonly sending = new Map<string, number>();
  /** Joiners whose log was longer than this tail's, and how often their catch-up was put off. */
  private readonly aheadDeferrals = new Map<string, number>();
  /** The highest acknowledgement each peer sent at the current epoch (for log trimming). */
  private readonly acked = new Map<string, number>();
  /** The log was last trimmed below this sequence. */
  private trimmedBelow = 0;
  private lastRole = '';
  /** The newest head clock stamp applied or issued here. */
  private lastStampMs = 0;
  /** Raised whenever the core is replaced: completions for an older core are ignored. */
  private coreGeneration = 0;
  /** The highest sequence a finished commit made durable, not yet told to the core (notePersisted). */
  private persistedUpTo = 0;
  private persistedQueued = false;
  private lastRepairMs = 0;
  private lastReclaimMs = 0;
  private sessionConnected = false;
  private stopped = false;
  /** The chain whose log and data the store holds ('' when it holds none). */
  private dataChain: string;
  /** Slots frozen for a move to another chain (slotfreeze), until dropped (slotdrop); meta 'frozen'. */
  private frozen: FrozenRange[] = [];
  private readonly frozenSlots = new Uint8Array(slotCount);
  /** Per slot, the slot map version that handed it to another chain once dropped here (0: none). */
  private readonly handedAt = new Uint32Array(slotCount);
  /** The log sequence and client of the entry being applied (client records merged by slotimport take the sequence). */
  private applyingSequence = 0;
  private applyingClient = '';

  constructor(private readonly options: ReplicaOptions) {
    const store = options.store;
    let meta = (store.getMeta('replica') as ReplicaMeta | undefined) ?? { lastSequence: 0, lastEpoch: 0 };
    const chain = store.getMeta('chain');
    this.dataChain = typeof chain === 'string' ? chain : meta.lastSequence > 0 ? chainIdDefault : '';
    if (store.getMeta('installing') === true) {
      options.log.log('warn', 'a snapshot install was interrupted: discarding the partial state');
      this.discardState(); // queued: reads of meta below would still see the old records
      meta = { lastSequence: 0, lastEpoch: 0 };
      this.clients = new ClientTable(clientTableLimits);
    } else {
      this.clients = this.loadClients();
      this.setFrozen((store.getMeta('frozen') as FrozenRange[] | undefined) ?? []);
    }
    this.core = new ChainNode<ReplicatedOp>({
      self: options.self,
      lastSequence: meta.lastSequence,
      lastEpoch: meta.lastEpoch,
      restarted: meta.lastSequence > 0,
      joinRetryMs: 1_000,
    });
  }

  start(peers: ReplicaPeers): void {
    this.peers = peers;
    this.timer = setInterval(() => this.tick(), chainTickMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const [sequence, waiters] of this.waiters) {
      for (const resolve of waiters) resolve(errorResult('ERR_SHUTTING_DOWN'));
      this.waiters.delete(sequence);
    }
  }

  // ---- what the node asks ------------------------------------------------------------------

  status(): {
    role: string;
    epoch: number;
    last: number;
    persisted: number;
    committed: number;
    servingReads: boolean;
    awaitingRemoval: boolean;
  } {
    const progress = this.core.progress;
    return {
      role: this.receiving !== undefined ? 'joining' : this.core.role,
      epoch: this.core.epoch,
      last: progress.last,
      persisted: progress.persisted,
      committed: progress.committed,
      servingReads: this.canServeReads(),
      awaitingRemoval: this.core.awaitingRemoval,
    };
  }

  get lastLogPosition(): ReplicaMeta {
    const progress = this.core.progress;
    return { lastSequence: progress.last, lastEpoch: progress.lastEpoch };
  }

  /** The chain whose log and data this node's store holds ('' when none). */
  get chainId(): string {
    return this.dataChain;
  }

  /** A write from a client: answered once committed (or at once with an error to retry elsewhere). */
  write(request: Request): Promise<ResponseResult> {
    // meta 'client:<id>' is an LMDB key (at most 1978 bytes): refuse an id that cannot be one here,
    // before it is sequenced, rather than fail the whole end-of-turn commit (fatal) when it lands.
    if (Buffer.byteLength(request.clientId) > clientIdBytesMax) {
      return Promise.resolve(errorResult('ERR_INVALID_ARGUMENT', `a client id is at most ${clientIdBytesMax} bytes`));
    }
    const requestId: RequestId = { clientId: request.clientId, clientSequence: Number(request.clientSequence) };
    // The head's clock, never going back along the log: replicas apply with it, so expiry
    // decisions agree even if this machine's clock steps backwards.
    this.lastStampMs = Math.max(this.lastStampMs, Date.now());
    const operation: ReplicatedOp = { request: encodeRequest(0, request.command), nowMs: this.lastStampMs };
    const effects = this.core.write(requestId, operation);
    const first = effects[0];
    if (first?.kind === 'reject') {
      const code = first.reason === 'not-head' ? 'ERR_NOT_HEAD' : 'ERR_UNAVAILABLE';
      return Promise.resolve(errorResult(code, this.rejection(code)));
    }
    assert(first?.kind === 'persist' && first.entries.length === 1, 'a write is persisted first');
    const sequence = first.entries[0]!.sequence;
    const answered = new Promise<ResponseResult>((resolve) => {
      const list = this.waiters.get(sequence);
      if (list === undefined) this.waiters.set(sequence, [resolve]);
      else list.push(resolve);
    });
    this.run(effects);
    return answered;
  }

  /** A read: executed only where and when reads are linearizable. */
  read(request: Request): Execution {
    this.tick();
    if (!this.canServeReads()) {
      const code = this.config === undefined ? 'ERR_UNAVAILABLE' : 'ERR_NOT_TAIL';
      return { kind: 'now', result: errorResult(code, this.rejection(code)), command: request.command.case };
    }
    return execute(this.options.context, request, this.options.durable);
  }

  canServeReads(): boolean {
    return this.receiving === undefined && this.core.canServeReads() && this.options.readLeaseValid();
  }

  private rejection(code: 'ERR_NOT_HEAD' | 'ERR_NOT_TAIL' | 'ERR_UNAVAILABLE'): string {
    const members = this.config?.members ?? [];
    if (code === 'ERR_NOT_HEAD') return `not the head of chain ${this.config?.chainId}: the head is ${members[0]}`;
    if (code === 'ERR_NOT_TAIL') {
      const tail = members[members.length - 1];
      return tail === this.options.self
        ? 'the tail cannot serve reads yet (coordinator session down, or waiting for committed entries)'
        : `not the tail of chain ${this.config?.chainId}: the tail is ${tail}`;
    }
    return 'no chain configuration yet';
  }

  // ---- inputs from the node ----------------------------------------------------------------

  configure(config: ChainConfig): void {
    if (config.chainId !== this.dataChain) {
      this.switchChain(config);
      return;
    }
    if (this.config !== undefined && this.config.chainId === config.chainId && config.epoch <= this.config.epoch)
      return;
    this.config = config;
    if (this.receiving !== undefined) {
      // The snapshot was for an older configuration: start over from nothing.
      this.abandonInstall('the configuration changed during a snapshot');
      return;
    }
    this.run(this.core.configure(config));
    if (this.core.role !== 'head' && this.core.role !== 'head-and-tail') {
      // Writes this node took as head may still commit, or not: their clients retry at the new
      // head with the same request id and get the one result (exactly-once).
      this.failWaiters('ERR_UNAVAILABLE', 'the chain changed before this write was confirmed: retry it');
    }
    this.noteStateChange();
  }

  /**
   * Placed in a chain whose data this store does not hold (a new node, or one moved after it
   * left another chain): start from nothing, as that chain's joiner or its first member.
   */
  private switchChain(config: ChainConfig): void {
    if (this.dataChain !== '') {
      this.options.log.log('warn', 'placed in another chain: discarding the data of the old one', {
        from: this.dataChain,
        to: config.chainId,
      });
    }
    this.failWaiters('ERR_UNAVAILABLE', 'the chain changed before this write was confirmed: retry it');
    this.receiving = undefined;
    this.discardState();
    this.dataChain = config.chainId;
    this.options.store.putMeta('chain', config.chainId);
    this.config = config;
    this.restartCore({ lastSequence: 0, lastEpoch: 0 });
  }

  sessionChanged(connected: boolean): void {
    this.sessionConnected = connected;
    this.run(this.core.sessionChanged(connected));
  }

  peerConnected(peer: string): void {
    if (this.receiving !== undefined) return;
    this.run(this.core.peerConnected(peer));
  }

  frame(frame: Exclude<PeerFrame, { kind: 'peer' }>): void {
    if (this.stopped) return;
    switch (frame.kind) {
      case 'snapshot-begin':
      case 'snapshot-records':
      case 'snapshot-end':
        this.snapshotPart(frame);
        return;
      default:
        if (this.receiving !== undefined) return; // nothing but the snapshot until it is in
        if (frame.kind === 'ack' && frame.epoch === this.core.epoch) {
          this.acked.set(frame.from, Math.max(this.acked.get(frame.from) ?? 0, frame.sequence));
        }
        this.run(this.core.message(frame as ChainMessage<ReplicatedOp>));
    }
  }

  private tick(): void {
    if (this.stopped) return;
    const nowMs = Date.now();
    if (this.receiving !== undefined) {
      if (nowMs - this.receiving.lastFrameAtMs > snapshotStallMs) this.abandonInstall('the snapshot stream stalled');
      return;
    }
    this.run(this.core.tick(nowMs));
    this.reclaimAtHead(nowMs);
    if (nowMs - this.lastRepairMs >= repairIntervalMs) {
      this.lastRepairMs = nowMs;
      // As if the connection to the predecessor were new: `hello` makes it re-send what this node
      // lacks, and the repeated ack answers writes whose ack was lost. Both are idempotent.
      const members = this.config?.members ?? [];
      const index = members.indexOf(this.options.self);
      if (index > 0) this.run(this.core.peerConnected(members[index - 1]!));
    }
  }

  /**
   * At the head, now and then: when keys have expired, a log entry that removes them on every
   * replica alike (replicas reclaiming on their own clocks would diverge).
   */
  private reclaimAtHead(nowMs: number): void {
    if (nowMs - this.lastReclaimMs < (this.options.expiryReclaimIntervalMs ?? expiryReclaimIntervalMs)) return;
    const role = this.core.role;
    if (role !== 'head' && role !== 'head-and-tail') return;
    this.lastReclaimMs = nowMs;
    const keys = this.options.store.expiredKeys(expiryReclaimBatchMax);
    if (keys.length === 0) return;
    // The stamp is at least the head's clock when it found them expired: they are expired then too.
    this.lastStampMs = Math.max(this.lastStampMs, Date.now());
    const copies = keys.map((key) => Buffer.from(key));
    const operation: ReplicatedOp = { request: new Uint8Array(0), nowMs: this.lastStampMs, reclaim: copies };
    this.run(this.core.write({ clientId: '', clientSequence: 0 }, operation));
  }

  private noteStateChange(): void {
    const role = `${this.core.role}/${this.core.awaitingRemoval}`;
    if (role === this.lastRole) return;
    this.lastRole = role;
    this.options.onStateChanged();
  }

  // ---- effects -----------------------------------------------------------------------------

  private run(effects: readonly Effect<ReplicatedOp>[]): void {
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
          break; // only `write` produces it, and handles it there
        case 'catch-up':
          this.catchUp(effect);
          break;
        case 'install':
          // The snapshot is already in the store (snapshotPart): only the core's view moves.
          break;
        case 'caught-up':
          this.options.onCaughtUp(effect.joiner, this.core.epoch);
          break;
      }
    }
  }

  private persist(entries: readonly LogEntry<ReplicatedOp>[]): void {
    const store = this.options.store;
    for (const entry of entries) this.apply(entry);
    const last = entries[entries.length - 1]!;
    store.putMeta('replica', { lastSequence: last.sequence, lastEpoch: last.epoch } satisfies ReplicaMeta);
    const generation = this.coreGeneration;
    store.sync().then(
      () => {
        if (this.stopped || this.receiving !== undefined || generation !== this.coreGeneration) return;
        this.notePersisted(last.sequence);
      },
      (error: unknown) => this.options.fatal(error),
    );
  }

  /**
   * Every persist that one commit covered resolves in the same microtask burst: tell the core
   * once, at the end of the burst, so the successor gets one frame with all of them (and the
   * predecessor one ack) rather than a frame per entry.
   */
  private notePersisted(sequence: number): void {
    if (sequence > this.persistedUpTo) this.persistedUpTo = sequence;
    if (this.persistedQueued) return;
    this.persistedQueued = true;
    const generation = this.coreGeneration;
    queueMicrotask(() => {
      this.persistedQueued = false;
      if (this.stopped || this.receiving !== undefined || generation !== this.coreGeneration) return;
      this.run(this.core.persisted(this.persistedUpTo));
      this.trimLog();
    });
  }

  /** Applies one entry: once per request id (§3.6), deterministically (the head's clock). */
  private apply(entry: LogEntry<ReplicatedOp>): void {
    const store = this.options.store;
    const id = entry.requestId;
    const seen = id.clientId === '' ? ({ kind: 'new' } as const) : this.clients.lookup(id);
    let result: ResponseResult | undefined;
    let encoded: Uint8Array | undefined;
    if (seen.kind === 'new') {
      this.applyingSequence = entry.sequence;
      this.applyingClient = id.clientId;
      result = this.execute(entry.operation);
      encoded = encodeResponse(0, result);
      if (id.clientId !== '') {
        const forgotten = this.clients.record(id, encoded, entry.sequence);
        store.putMeta(clientKeyPrefix + id.clientId, this.clients.entry(id.clientId));
        for (const clientId of forgotten) store.removeMeta(clientKeyPrefix + clientId);
      }
    } else if (seen.kind === 'duplicate') {
      encoded = seen.result;
      if (encoded !== undefined) {
        const decoded = decodeResponse(encoded);
        result = decoded.ok ? decoded.message.result : errorResult('ERR_INTERNAL', 'unreadable saved result');
      }
    }
    const record: LogRecord = {
      e: entry.epoch,
      c: id.clientId,
      s: id.clientSequence,
      t: entry.operation.nowMs,
      r: entry.operation.request,
      ...(entry.operation.reclaim === undefined ? {} : { g: entry.operation.reclaim }),
      x: encoded,
    };
    store.putLogRecord(entry.sequence, packr.pack(record));
    if (this.waiters.has(entry.sequence)) {
      this.results.set(entry.sequence, result ?? errorResult('ERR_UNAVAILABLE', 'a newer write of this client won'));
    }
  }

  /** Runs a logged operation with the head's clock pinned, so every replica decides alike. */
  private execute(operation: ReplicatedOp): ResponseResult {
    if (operation.nowMs > this.lastStampMs) this.lastStampMs = operation.nowMs;
    this.options.applyClock.pin(operation.nowMs);
    try {
      return this.executePinned(operation);
    } finally {
      this.options.applyClock.pin(undefined);
    }
  }

  private executePinned(operation: ReplicatedOp): ResponseResult {
    if (operation.reclaim !== undefined) {
      const removed = this.options.store.reclaimKeys(operation.reclaim);
      return { case: 'del', value: { deleted: removed > 0 } } as ResponseResult;
    }
    const decoded = decodeRequest(operation.request);
    assert(decoded.ok, 'a logged request decodes');
    const request = decoded.message;
    const name = request.command.case;
    assert(name !== undefined && commandByName(name).mutates, 'only writes are logged');
    try {
      return {
        case: name,
        value: commandByName(name).execute(this.options.context, request.command.value),
      } as ResponseResult;
    } catch (error) {
      if (error instanceof AssertionError) throw error;
      if (error instanceof CatenaError) return errorResult(error.code, error.message);
      return errorResult('ERR_INTERNAL', error instanceof Error ? error.message : String(error));
    }
  }

  private reply(sequence: number): void {
    const waiters = this.waiters.get(sequence);
    const result = this.results.get(sequence);
    this.waiters.delete(sequence);
    this.results.delete(sequence);
    if (waiters === undefined) return;
    for (const resolve of waiters) resolve(result ?? errorResult('ERR_INTERNAL', 'no result recorded'));
  }

  private failWaiters(code: 'ERR_UNAVAILABLE', message: string): void {
    for (const [sequence, waiters] of this.waiters) {
      for (const resolve of waiters) resolve(errorResult(code, message));
      this.waiters.delete(sequence);
      this.results.delete(sequence);
    }
  }

  private send(to: string, message: ChainMessage<ReplicatedOp>): void {
    const peers = this.peers;
    if (peers === undefined) return;
    if (message.kind === 'snapshot') return; // snapshots are streamed by catchUp, never sent whole
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

  /** Trims the log (now and then: after every `trimEvery` sequences) to what peers may still need. */
  private trimLog(): void {
    const kept = this.options.logEntriesKept ?? logEntriesKept;
    const trimEvery = Math.min(1024, kept);
    const below = Math.min(this.core.progress.persisted - kept, this.neededByPeers());
    if (below - this.trimmedBelow < trimEvery) return;
    this.trimmedBelow = below;
    this.options.store.trimLog(below);
  }

  /**
   * Entries after this may still be needed by the successor or the joiner (their logs end no
   * earlier than what they acknowledged): the log is never trimmed past it (DESIGN.md §5).
   */
  private neededByPeers(): number {
    const members = this.config?.members ?? [];
    const index = members.indexOf(this.options.self);
    const peers: string[] = [];
    if (index >= 0 && index + 1 < members.length) peers.push(members[index + 1]!);
    if (index === members.length - 1 && this.config?.joining !== undefined) peers.push(this.config.joining);
    // Keep the entry at each bound too: a joiner's catch-up checks its last entry's epoch there.
    let bound = this.core.progress.committed;
    for (const peer of peers) bound = Math.min(bound, this.acked.get(peer) ?? 0);
    return bound;
  }

  // ---- moving slots between chains (docs/sharding.md) ---------------------------------------

  /** True when the slot is frozen here: no reads or writes until it is dropped. */
  isFrozen(slot: number): boolean {
    return this.frozenSlots[slot] === 1;
  }

  /**
   * True when the slot was handed to another chain by a slot map newer than `mapVersion` and
   * dropped here: a node whose map is that old must not take it for its own (it would serve the
   * dropped slot as empty, or take writes for it that the new owner never sees).
   */
  handedOverSince(slot: number, mapVersion: number): boolean {
    return this.handedAt[slot]! > mapVersion;
  }

  /** True when some slot is frozen here. */
  anyFrozen(): boolean {
    return this.frozen.some((range) => range.handedAt === undefined);
  }

  /** True when every slot of the range is frozen here. */
  rangeFrozen(first: number, last: number): boolean {
    for (let slot = first; slot <= last; slot++) if (this.frozenSlots[slot] !== 1) return false;
    return true;
  }

  private setFrozen(ranges: readonly FrozenRange[]): void {
    this.frozen = ranges.map((r) => ({ ...r }));
    this.frozenSlots.fill(0);
    this.handedAt.fill(0);
    for (const { first, last, handedAt } of this.frozen) {
      if (handedAt === undefined) this.frozenSlots.fill(1, first, last + 1);
      else for (let slot = first; slot <= last; slot++) this.handedAt[slot] = Math.max(this.handedAt[slot]!, handedAt);
    }
  }

  private isFrozenRange(first: number, last: number): boolean {
    return this.frozen.some((r) => r.first === first && r.last === last && r.handedAt === undefined);
  }

  /** Logged write: the range stops serving here (a repeat changes nothing). */
  freeze(request: RequestOf<'slotfreeze'>): ReplyInit<'slotfreeze'> {
    const { first, last, toChain } = request;
    if (!this.isFrozenRange(first, last)) {
      this.setFrozen([...this.frozen, { first, last, to: toChain }]);
      this.options.store.putMeta('frozen', this.frozen);
    }
    return {};
  }

  /** Read at the tail: a page of the frozen range's records, or of the client table. */
  exportPage(request: RequestOf<'slotexport'>): ReplyInit<'slotexport'> {
    const { first, last } = request;
    if (!this.rangeFrozen(first, last)) {
      throw new CatenaError('ERR_INVALID_ARGUMENT', `slots ${first}..${last} are not frozen on this chain`);
    }
    const limit = checkLimit(request.limit);
    if (request.clients) {
      const after = Buffer.from(request.after).toString();
      const ids = [...this.clients.snapshot().clients]
        .filter(([id]) => id > after)
        .sort((a, b) => (a[0] < b[0] ? -1 : 1));
      const page = ids.slice(0, limit);
      return {
        clients: page.map(([clientId, record]) => ({
          clientId,
          clientSequence: BigInt(record.clientSequence),
          result: record.result,
          hasResult: record.result !== undefined,
        })),
        cursor: page.length < ids.length ? Buffer.from(page[page.length - 1]![0]) : new Uint8Array(),
      };
    }
    const bytesMax = Math.min(this.options.context.valueBytesMax, migrationPageBytesMax);
    const store = this.options.store;
    const records: { key: Buffer; value: Uint8Array; version: bigint; expiresAtMs: bigint; flags: number }[] = [];
    let bytes = 0;
    const cursor = this.rangeKeys(first, last, request.after, (key) => {
      const record = store.get(key); // undefined once expired
      if (record === undefined) return true;
      records.push({
        key: Buffer.from(key),
        value: record.value,
        version: BigInt(record.version),
        expiresAtMs: BigInt(record.expiresAtMs),
        flags: record.flags,
      });
      bytes += key.length + record.value.length + 64;
      return records.length < limit && bytes < bytesMax;
    });
    return { records, cursor: cursor ?? new Uint8Array(), revision: BigInt(this.options.store.currentRevision) };
  }

  /** Logged write: records of slots this chain is about to own, and the other chain's client table merged. */
  importPage(request: RequestOf<'slotimport'>): ReplyInit<'slotimport'> {
    const store = this.options.store;
    let newest = store.currentRevision;
    for (const record of request.records) {
      const slot = keySlot(record.key);
      if (slot < request.first || slot > request.last) {
        throw new CatenaError(
          'ERR_INVALID_ARGUMENT',
          `a record of slot ${slot} is outside ${request.first}..${request.last}`,
        );
      }
    }
    for (const record of request.records) {
      const version = Number(record.version);
      store.restoreRecord(record.key, {
        value: record.value,
        version,
        expiresAtMs: Number(record.expiresAtMs),
        flags: record.flags,
      });
      if (version > newest) newest = version;
    }
    // Versions stay what they were (a client's compare-and-set goes on working); new writes here
    // must get higher ones than any the source gave, a deleted key's included (so its revision).
    newest = Math.max(newest, Number(request.revision));
    if (newest > store.currentRevision) store.restoreRevision(newest);
    for (const client of request.clients) {
      const id = { clientId: client.clientId, clientSequence: Number(client.clientSequence) };
      // The importing client's own record is written right after this entry applies.
      if (id.clientId === '' || id.clientId === this.applyingClient || this.clients.lookup(id).kind !== 'new') continue;
      // A write this client made on the other chain: a retry of it here gets that result.
      const forgotten = this.clients.record(id, client.hasResult ? client.result : undefined, this.applyingSequence);
      store.putMeta(clientKeyPrefix + id.clientId, this.clients.entry(id.clientId));
      for (const clientId of forgotten) store.removeMeta(clientKeyPrefix + clientId);
    }
    return { records: BigInt(request.records.length) };
  }

  /**
   * Logged write: removes a page of a range another chain now owns. The last page unfreezes it,
   * leaving a fence at the hand-over's map version (handedOverSince).
   */
  dropPage(request: RequestOf<'slotdrop'>): ReplyInit<'slotdrop'> {
    const { first, last } = request;
    const limit = checkLimit(request.limit);
    // Only a frozen range is dropped: a late copy of an old drop finds it unfrozen and does nothing.
    if (!this.isFrozenRange(first, last)) return { removed: 0n, cursor: new Uint8Array() };
    const doomed: Buffer[] = [];
    const cursor = this.rangeKeys(first, last, request.after, (key) => {
      doomed.push(Buffer.from(key));
      return doomed.length < limit;
    });
    const store = this.options.store;
    for (const key of doomed) store.delete(key); // expired records go too
    if (cursor === undefined) {
      const handedAt = Number(request.mapVersion);
      const to = this.frozen.find((r) => r.first === first && r.last === last && r.handedAt === undefined)!.to;
      // Fences this one covers go; the oldest go past fencesKept (a node that many moves behind
      // has long since refreshed its map).
      const kept = this.frozen.filter(
        (r) => !(r.first >= first && r.last <= last) && !(r.first === first && r.last === last),
      );
      const fences = kept.filter((r) => r.handedAt !== undefined);
      const excess = Math.max(0, fences.length + 1 - fencesKept);
      const dropped = new Set(fences.slice(0, excess));
      const next = kept.filter((r) => !dropped.has(r));
      if (handedAt > 0) next.push({ first, last, to, handedAt });
      this.setFrozen(next);
      store.putMeta('frozen', this.frozen);
    }
    return { removed: BigInt(doomed.length), cursor: cursor ?? new Uint8Array() };
  }

  /**
   * Keys of slots first..last after `after`, in order, from the table as this replica's log has
   * made it (pending writes included, values unread): the same on every replica that applied the
   * same entries, so a logged drop removes the same keys everywhere. `take` is called for each
   * and returns false to end the page there; at most migrationExamineMax keys are stepped over.
   * The cursor is undefined when no key is left.
   */
  private rangeKeys(
    first: number,
    last: number,
    after: Uint8Array,
    take: (key: Uint8Array) => boolean,
  ): Uint8Array | undefined {
    let examined = 0;
    for (const key of this.options.store.keysAfter(after.length > 0 ? after : undefined)) {
      examined += 1;
      const slot = keySlot(key);
      if (slot >= first && slot <= last && !take(key)) return Buffer.from(key);
      if (examined >= migrationExamineMax) return Buffer.from(key);
    }
    return undefined;
  }

  // ---- catching a peer up (§3.7, §3.8) -------------------------------------------------------

  private catchUp(effect: Extract<Effect<ReplicatedOp>, { kind: 'catch-up' }>): void {
    const { to, from, upTo, epoch } = effect;
    if (!effect.trusted && from.sequence > upTo && (this.aheadDeferrals.get(to) ?? 0) < aheadDeferralsMax) {
      // The peer's log is longer than this one: it may hold entries still on their way here (a
      // restarted middle node), or a divergent suffix. Let it ask again (it retries) before
      // replacing its whole state with a snapshot.
      this.aheadDeferrals.set(to, (this.aheadDeferrals.get(to) ?? 0) + 1);
      return;
    }
    this.aheadDeferrals.delete(to);
    if (this.canSendDelta(from, upTo, effect.trusted)) {
      const entries: LogEntry<ReplicatedOp>[] = [];
      let bytes = 0;
      for (const { sequence, record } of this.options.store.logRecords(from.sequence, upTo)) {
        entries.push(toEntry(sequence, packr.unpack(record) as LogRecord));
        bytes += record.length;
        // The rest follows the peer's acknowledgement (a joiner) or its next hello (a member).
        if (bytes > catchUpBytesMax || entries.length >= (this.options.catchUpEntriesMax ?? catchUpEntriesMax)) break;
      }
      this.send(to, { kind: 'entries', epoch, from: this.options.self, entries });
      return;
    }
    void this.streamSnapshot(to, epoch);
  }

  private canSendDelta(from: { sequence: number; epoch: number }, upTo: number, trusted: boolean): boolean {
    if (from.sequence > upTo) return false;
    // A joiner far behind is better served by a snapshot; a member cannot take one (only a joiner
    // installs snapshots), so it gets the entries a bounded batch at a time (its hello asks again).
    if (!trusted && upTo - from.sequence > (this.options.catchUpEntriesMax ?? catchUpEntriesMax)) return false;
    const store = this.options.store;
    const installed = store.getMeta('installed') as ReplicaMeta | undefined;
    const firstHeld = store.logBounds()?.first ?? upTo + 1;
    // Every entry after `from` must still be in the log (not trimmed, not before a snapshot).
    if (from.sequence < upTo && firstHeld > from.sequence + 1) return false;
    if (from.sequence === 0 && upTo > 0 && installed !== undefined) return false;
    if (trusted || from.sequence === 0) return true;
    const anchor = store.logRecord(from.sequence);
    const anchorEpoch =
      anchor !== undefined
        ? (packr.unpack(anchor) as LogRecord).e
        : installed?.lastSequence === from.sequence
          ? installed.lastEpoch
          : undefined;
    return anchorEpoch === from.epoch;
  }

  private async streamSnapshot(to: string, epoch: number): Promise<void> {
    const peers = this.peers;
    if (peers === undefined) return;
    const stream = ++this.streamCounter;
    this.sending.set(to, stream);
    const reader = this.options.store.snapshotReader();
    const self = this.options.self;
    const cancelled = () => this.stopped || this.sending.get(to) !== stream || this.core.epoch !== epoch;
    try {
      // The reader sees committed transactions only, and a commit includes its fsync, so what it
      // hands out is durable; waiting for this turn's commit as well keeps the stream behind it.
      await this.options.store.sync();
      if (cancelled()) return;
      const meta = (reader.meta('replica') as ReplicaMeta | undefined) ?? { lastSequence: 0, lastEpoch: 0 };
      this.options.log.log('info', 'streaming a snapshot', { to, sequence: meta.lastSequence });
      peers.send(to, {
        kind: 'snapshot-begin',
        epoch,
        from: self,
        stream,
        sequence: meta.lastSequence,
        lastEpoch: meta.lastEpoch,
        revision: reader.revision,
      });
      let after: Uint8Array | undefined;
      let part = 0;
      const deadline = Date.now() + snapshotStreamMsMax;
      for (;;) {
        const chunkRecords = this.options.snapshotChunkRecords ?? snapshotChunkRecords;
        const { records, more } = reader.records(after, chunkRecords, peerBatchBytesTarget);
        const chunk: SnapshotRecord[] = records.map((r) =>
          r.flags === 0
            ? [r.key, r.value, r.version, r.expiresAtMs]
            : [r.key, r.value, r.version, r.expiresAtMs, r.flags],
        );
        if (chunk.length > 0) {
          peers.send(to, { kind: 'snapshot-records', epoch, from: self, stream, part, records: chunk });
          part += 1;
          after = records[records.length - 1]!.key;
        }
        if (!more) break;
        // Yield, and let the connection drain, before the next chunk.
        do await new Promise((resolve) => setTimeout(resolve, 1));
        while (peers.backlogBytes(to) > snapshotBacklogBytesMax && !cancelled() && Date.now() < deadline);
        if (cancelled()) return;
        if (Date.now() > deadline) {
          this.options.log.log('warn', 'snapshot stream too slow: giving up (the joiner asks again)', { to });
          return;
        }
      }
      const clients: [string, ClientRecord<Uint8Array | undefined>][] = [];
      for (const [name, value] of reader.metaRange(clientKeyPrefix)) {
        clients.push([name.slice(clientKeyPrefix.length), value as ClientRecord<Uint8Array | undefined>]);
      }
      const frozen = (reader.meta('frozen') as FrozenRange[] | undefined) ?? [];
      peers.send(to, { kind: 'snapshot-end', epoch, from: self, stream, parts: part, clients: { clients }, frozen });
    } catch (error) {
      this.options.log.log('error', 'snapshot stream failed', { to, error: String(error) });
    } finally {
      try {
        reader.done();
      } catch (error) {
        this.options.log.log('debug', 'snapshot reader already closed', { error: String(error) });
      }
      if (this.sending.get(to) === stream) this.sending.delete(to);
    }
  }

  // ---- receiving a snapshot (joiner) ---------------------------------------------------------

  private snapshotPart(part: SnapshotPart): void {
    const store = this.options.store;
    if (part.kind === 'snapshot-begin') {
      if (this.core.role !== 'joining' || part.epoch !== this.core.epoch) return;
      if (this.config?.members[this.config.members.length - 1] !== part.from) return;
      this.options.log.log('info', 'receiving a snapshot', { from: part.from, sequence: part.sequence });
      this.coreGeneration += 1; // persists in flight belong to the state being replaced
      this.persistedUpTo = 0;
      this.discardState();
      store.putMeta('installing', true);
      this.receiving = { ...part, nextPart: 0, lastFrameAtMs: Date.now() };
      return;
    }
    const receiving = this.receiving;
    if (receiving === undefined || part.stream !== receiving.stream || part.from !== receiving.from) return;
    receiving.lastFrameAtMs = Date.now();
    const expectedParts = receiving.nextPart;
    if (part.kind === 'snapshot-records' ? part.part !== expectedParts : part.parts !== expectedParts) {
      this.abandonInstall(`snapshot part lost (expected part ${expectedParts})`);
      return;
    }
    if (part.kind === 'snapshot-records') {
      receiving.nextPart += 1;
      for (const [key, value, version, expiresAtMs, flags] of part.records) {
        store.restoreRecord(key, { value, version, expiresAtMs, flags: flags ?? 0 });
      }
      return;
    }
    store.restoreRevision(receiving.revision);
    for (const [clientId, record] of part.clients.clients) store.putMeta(clientKeyPrefix + clientId, record);
    store.putMeta('frozen', part.frozen ?? []);
    this.setFrozen(part.frozen ?? []);
    const position: ReplicaMeta = { lastSequence: receiving.sequence, lastEpoch: receiving.lastEpoch };
    store.putMeta('replica', position);
    store.putMeta('installed', position);
    store.putMeta('installing', false);
    const ordered = [...part.clients.clients].sort((a, b) => a[1].sequence - b[1].sequence); // oldest first
    this.clients = ClientTable.restore(clientTableLimits, { clients: ordered });
    store.sync().then(
      () => {
        if (this.receiving !== receiving || this.stopped) return;
        this.receiving = undefined;
        const effects = this.core.message({
          kind: 'snapshot',
          epoch: receiving.epoch,
          from: receiving.from,
          sequence: receiving.sequence,
          lastEpoch: receiving.lastEpoch,
          state: undefined,
        });
        if (!effects.some((e) => e.kind === 'install')) {
          // The core no longer takes it (its configuration moved on): begin again from what is on disk.
          this.restartCore(position);
          return;
        }
        this.options.log.log('info', 'snapshot installed', { sequence: receiving.sequence });
        this.run(effects);
      },
      (error: unknown) => this.options.fatal(error),
    );
  }

  private abandonInstall(reason: string): void {
    this.options.log.log('warn', 'abandoning a snapshot install', { reason });
    this.receiving = undefined;
    this.discardState();
    this.restartCore({ lastSequence: 0, lastEpoch: 0 });
  }

  /** A new core on what the store holds now, told the latest configuration. */
  private restartCore(position: ReplicaMeta): void {
    this.coreGeneration += 1;
    this.persistedUpTo = 0;
    this.core = new ChainNode<ReplicatedOp>({
      self: this.options.self,
      lastSequence: position.lastSequence,
      lastEpoch: position.lastEpoch,
      joinRetryMs: 1_000,
    });
    this.core.sessionChanged(this.sessionConnected);
    if (this.config !== undefined) this.run(this.core.configure(this.config));
    this.noteStateChange();
  }

  /** Empties the store, the log and the client table (before a snapshot, or after a broken one). */
  private discardState(): void {
    const store = this.options.store;
    store.clear();
    store.clearLog();
    for (const [name] of store.metaEntries(clientKeyPrefix)) store.removeMeta(name);
    store.restoreRevision(0);
    store.putMeta('replica', { lastSequence: 0, lastEpoch: 0 } satisfies ReplicaMeta);
    store.removeMeta('installed');
    store.removeMeta('frozen');
    this.setFrozen([]);
    store.putMeta('installing', false);
    this.clients = new ClientTable(clientTableLimits);
    this.results.clear();
  }

  private loadClients(): ClientTable<Uint8Array | undefined> {
    const clients: [string, ClientRecord<Uint8Array | undefined>][] = [];
    for (const [name, value] of this.options.store.metaEntries(clientKeyPrefix)) {
      clients.push([name.slice(clientKeyPrefix.length), value as ClientRecord<Uint8Array | undefined>]);
    }
    clients.sort((a, b) => a[1].sequence - b[1].sequence); // the table keeps the oldest first
    return ClientTable.restore(clientTableLimits, { clients });
  }
}

function toEntry(sequence: number, record: LogRecord): LogEntry<ReplicatedOp> {
  return {
    sequence,
    epoch: record.e,
    requestId: { clientId: record.c, clientSequence: record.s },
    operation:
      record.g !== undefined
        ? { request: record.r, nowMs: record.t, reclaim: record.g }
        : { request: record.r, nowMs: record.t },
  };
}
