// The replica: the shell around one node's chain-replication core (docs/design.md §3-§5). It turns
// what happens (a client write or read, a frame from a peer, a durability point, a new
// configuration, a tick) into the core's inputs, and hands the core's effects to the executor.
//
//   client write ─▶ submit(): core.write ─▶ persist (effect-executor.ts: the log record, one
//     durability point for the burst: group fsync) and, at once, send downstream with the durable
//     mark ... commit at the tail ─▶ ack ─▶ apply (the data) ─▶ reply: answer the client
//   client read ─▶ read(): only while the core says this node may serve reads (the tail, session
//     connected), from the data, which holds committed entries only (no wait for a sync)
//
// Applying is deterministic (applier.ts), so every replica reaches the same state from the same
// log. The replica takes its whole environment (environment.ts: clock, timers, peers) and its
// store (storage/log-store.ts): a node passes LMDB and the system's, the simulator in-memory
// stores and virtual time, and both run this very code.
//
// A node belongs to one chain at a time. Sequences and epochs are per chain, so a node placed in
// another chain than the one its store holds first discards its state and starts that chain's
// log from nothing: its log position must never be compared with another chain's log.
//
// The parts: applier.ts (applying entries), effect-executor.ts (the effects, catch-up),
// snapshot-sender.ts / snapshot-receiver.ts, slot-mover.ts (moving slots), log-trimmer.ts,
// expiry-reclaimer.ts.

import type { CommandContext, ReplyInit, SlotMover } from '../../commands/index.js';
import { errorResult, execute, type Execution } from '../../commands/execute.js';
import { assert } from '../../core/assert.js';
import {
  catchUpEntriesMax,
  chainRepairIntervalMs,
  chainTickMs,
  clientIdBytesMax,
  expiryReclaimIntervalMs,
  joinRetryMs,
  logEntriesKept,
  snapshotChunkRecords,
  snapshotStallMs,
} from '../../core/limits.js';
import type { Logger } from '../../core/log.js';
import type { LatencyHistogram } from '../../core/histogram.js';
import { encodeRequest, type Request, type RequestOf, type ResponseResult } from '../../protocol/native/codec.js';
import type { ChainConfig } from '../../replication/chain-config.js';
import { ChainNode, type ChainNodeFaults } from '../../replication/chain-node.js';
import type { Effect } from '../../replication/effects.js';
import type { RequestId } from '../../replication/log-entry.js';
import type { ChainMessage } from '../../replication/messages.js';
import { ClientTable } from '../../replication/client-table.js';
import { emptyLogPosition, type FrozenRange, type LogPosition, type ReplicaStore } from '../../storage/log-store.js';
import { chainIdDefault, type ChainReport } from '../../coordination/cluster-paths.js';
import type { PeerFrame, ReplicatedOp } from '../chain-wire.js';
import type { ApplyClock } from './apply-clock.js';
import { Applier, clientTableLimits, type Clients } from './applier.js';
import { EffectExecutor } from './effect-executor.js';
import type { ReplicaEnvironment, ReplicaPeers, Timer } from './environment.js';
import { ExpiryReclaimer } from './expiry-reclaimer.js';
import { LogTrimmer, type LogTrimmerFaults } from './log-trimmer.js';
import type { ReceiverHost } from './snapshot-receiver.js';
import { SnapshotReceiver } from './snapshot-receiver.js';
import { SnapshotSender, type SnapshotSenderFaults } from './snapshot-sender.js';
import { ReplicaSlots } from './slot-mover.js';

export type { ReplicaPeers } from './environment.js';

/** Deliberate faults, for the simulator's broken variants only: the sweep must catch each. */
export interface ReplicaFaults extends SnapshotSenderFaults, LogTrimmerFaults {
  /** On restart, keeps the state of an interrupted snapshot install instead of discarding it. */
  keepPartialInstall?: boolean;
  /** Rewrites the core's effects before they are carried out. */
  effects?: (
    core: ChainNode<ReplicatedOp>,
    effects: readonly Effect<ReplicatedOp>[],
  ) => readonly Effect<ReplicatedOp>[];
  /** Overrides the decision to serve a read (`honest` is the real one). */
  canServeReads?: (core: ChainNode<ReplicatedOp>, honest: boolean) => boolean;
  /** Applies entries as soon as they are logged, before they are committed (reads may see them). */
  applyAtPersist?: boolean;
  /** Faults of the core itself. */
  core?: ChainNodeFaults;
}

export interface ReplicaOptions {
  readonly self: string;
  readonly store: ReplicaStore;
  readonly environment: ReplicaEnvironment;
  readonly applyClock: ApplyClock;
  /** The command context; its store is `store`, its clock `applyClock`. */
  readonly context: CommandContext;
  readonly durable: boolean;
  readonly log: Logger;
  /** This tail found its joiner caught up: tell the manager (through the coordinator). */
  onCaughtUp(joiner: string, epoch: number): void;
  /** The coordinator confirmed this node's session recently enough for it to serve reads (§3.5). */
  readLeaseValid(): boolean;
  /**
   * Something the coordinator shows changed (role, awaiting removal, the epoch it stands at and
   * whether it is settled there, the neighbours it suspects): publish it again.
   */
  onStateChanged(): void;
  fatal(error: unknown): void;
  /**
   * A member's native (client) address, from the membership's node info, so ERR_NOT_HEAD and
   * ERR_NOT_TAIL name where to go instead of a bare node id (absent or unknown: the id alone).
   */
  nativeAddressOf?(nodeId: string): string | undefined;
  /** Overrides for tests (defaults: limits.ts logEntriesKept, catchUpEntriesMax, snapshotChunkRecords, expiryReclaimIntervalMs). */
  readonly logEntriesKept?: number;
  readonly catchUpEntriesMax?: number;
  readonly snapshotChunkRecords?: number;
  readonly expiryReclaimIntervalMs?: number;
  /** Scaled down with the other timeouts by the simulator (default: limits.ts snapshotStallMs). */
  readonly snapshotStallMs?: number;
  /** Failure detection and read leases (defaults: limits.ts heartbeatIntervalMsDefault, ...). */
  readonly liveness?: LivenessTuning;
  readonly faults?: ReplicaFaults;
}

export interface LivenessTuning {
  readonly heartbeatMs?: number;
  readonly suspicionMs?: number;
  readonly leaseMs?: number;
  readonly peerLossGraceMs?: number;
}

export interface ReplicaStatus {
  role: string;
  epoch: number;
  last: number;
  persisted: number;
  committed: number;
  servingReads: boolean;
  awaitingRemoval: boolean;
  /** The epoch this node acts on as a member, and whether it is settled there (chain-node.ts `settled`). */
  standing: { epoch: number; settled: boolean } | undefined;
  /** The neighbours it reports to the manager, at this epoch (docs/design.md §3.7). */
  suspects: { peers: readonly string[]; epoch: number };
}

export class Replica implements ReceiverHost, SlotMover {
  readonly self: string;
  readonly store: ReplicaStore;
  readonly env: ReplicaEnvironment;
  readonly log: Logger;
  /** The slot commands (freeze, export, import, drop) and the frozen ranges. */
  readonly slots: ReplicaSlots;
  private readonly applier: Applier;
  private readonly executor: EffectExecutor;
  private readonly receiver: SnapshotReceiver;
  private readonly trimmer: LogTrimmer;
  private readonly reclaimer: ExpiryReclaimer;
  private chainNode: ChainNode<ReplicatedOp>;
  private configuration: ChainConfig | undefined;
  private network: ReplicaPeers | undefined;
  private timer: Timer | undefined;
  private coreGeneration = 0;
  private lastRole = '';
  private lastRepairMs = 0;
  private sessionConnected = false;
  private isStopped = false;
  /** The chain whose log and data the store holds ('' when it holds none). */
  private dataChain: string;
  private suspicion: { peers: readonly string[]; epoch: number } = { peers: [], epoch: 0 };
  /** Suspicions and removals seen since start (the node's status shows them). */
  private suspicionCount = 0;

  constructor(private readonly options: ReplicaOptions) {
    this.self = options.self;
    this.store = options.store;
    this.env = options.environment;
    this.log = options.log;
    const store = options.store;
    let meta = store.readMeta();
    // A data directory from before entries were applied at commit applied every logged entry.
    const applied = meta.applied ?? meta.position;
    this.dataChain = meta.chain ?? (meta.position.lastSequence > 0 ? chainIdDefault : '');
    this.applier = new Applier(store, options.context, options.applyClock, () => this.slots);
    this.slots = new ReplicaSlots({
      store,
      clients: () => this.applier.clients,
      applying: () => this.applier.applying,
      valueBytesMax: options.context.valueBytesMax,
    });
    const faults = options.faults ?? {};
    const sender = new SnapshotSender(this, options.snapshotChunkRecords ?? snapshotChunkRecords, faults);
    this.trimmer = new LogTrimmer(this, options.logEntriesKept ?? logEntriesKept, faults);
    this.executor = new EffectExecutor(this, this.applier, sender, {
      catchUpEntriesMax: options.catchUpEntriesMax ?? catchUpEntriesMax,
      onCaughtUp: (joiner, epoch) => options.onCaughtUp(joiner, epoch),
      onSuspect: (peers, epoch) => this.suspected(peers, epoch),
      afterPersisted: () => this.trimmer.trim(),
      applied,
      ...(faults.applyAtPersist === true ? { applyAtPersist: true } : {}),
    });
    this.receiver = new SnapshotReceiver(this, options.snapshotStallMs ?? snapshotStallMs);
    this.reclaimer = new ExpiryReclaimer(
      this,
      this.applier,
      options.expiryReclaimIntervalMs ?? expiryReclaimIntervalMs,
    );
    if (meta.installing && faults.keepPartialInstall !== true) {
      this.log.log('warn', 'a snapshot install was interrupted: discarding the partial state');
      this.discardState();
      meta = { ...meta, position: emptyLogPosition, applied: emptyLogPosition };
    } else {
      this.slots.set(meta.frozen);
    }
    const appliedSequence = (meta.applied ?? meta.position).lastSequence;
    this.chainNode = this.newCore(meta.position, meta.position.lastSequence > 0, appliedSequence);
  }

  start(peers: ReplicaPeers): void {
    this.network = peers;
    const every = (): void => {
      this.timer = this.env.after(chainTickMs, () => {
        this.tick();
        if (!this.isStopped) every();
      });
    };
    every();
  }

  stop(): void {
    this.isStopped = true;
    this.timer?.cancel();
    this.executor.failWaiters('ERR_SHUTTING_DOWN');
  }

  // ---- what the parts see (shell.ts) -------------------------------------------------------

  core(): ChainNode<ReplicatedOp> {
    return this.chainNode;
  }
  config(): ChainConfig | undefined {
    return this.configuration;
  }
  peers(): ReplicaPeers | undefined {
    return this.network;
  }
  generation(): number {
    return this.coreGeneration;
  }
  active(): boolean {
    return !this.isStopped && !this.receiver.active;
  }
  stopped(): boolean {
    return this.isStopped;
  }
  run(effects: readonly Effect<ReplicatedOp>[]): void {
    if (this.chainNode.role === 'joining') {
      for (const effect of effects) {
        if (effect.kind === 'send' && effect.message.kind === 'ack')
          this.receiver.noteAcknowledged(effect.to, effect.message.epoch);
      }
    }
    const rewrite = this.options.faults?.effects;
    this.executor.run(rewrite === undefined ? effects : rewrite(this.chainNode, effects));
  }
  fatal(error: unknown): void {
    this.options.fatal(error);
  }

  // ---- what the node asks ------------------------------------------------------------------

  status(): ReplicaStatus {
    const progress = this.chainNode.progress;
    return {
      role: this.receiver.active ? 'joining' : this.chainNode.role,
      epoch: this.chainNode.epoch,
      last: progress.last,
      persisted: progress.persisted,
      committed: progress.committed,
      servingReads: this.canServeReads(),
      awaitingRemoval: this.chainNode.awaitingRemoval,
      standing: this.receiver.active ? undefined : this.chainNode.settled,
      suspects: this.suspicion,
    };
  }

  /** What this node tells the manager about its chain, or undefined when it is no member. */
  get report(): ChainReport | undefined {
    const standing = this.receiver.active ? undefined : this.chainNode.settled;
    const chainId = this.configuration?.chainId;
    if (standing === undefined || chainId === undefined) return undefined;
    const suspects = this.suspicion.epoch === standing.epoch ? this.suspicion.peers : [];
    return {
      chainId,
      epoch: standing.epoch,
      settled: standing.settled,
      suspects,
      ...(standing.joining ? { joining: true } : {}),
    };
  }

  /** Neighbours suspected since start (each suspicion counted once). */
  /** Sampled time from an entry's arrival in this node's log to its commit (effect-executor.ts). */
  get commitLatencyUs(): LatencyHistogram {
    return this.executor.commitUs;
  }

  get suspicions(): number {
    return this.suspicionCount;
  }

  private suspected(peers: readonly string[], epoch: number): void {
    const before = new Set(this.suspicion.epoch === epoch ? this.suspicion.peers : []);
    for (const peer of peers) {
      if (before.has(peer)) continue;
      this.suspicionCount += 1;
      this.log.log('warn', 'suspecting a chain neighbour: reporting it to the manager', { peer, epoch });
    }
    for (const peer of before) {
      if (!peers.includes(peer)) this.log.log('info', 'chain neighbour heard again: report withdrawn', { peer, epoch });
    }
    this.suspicion = { peers, epoch };
    this.noteStateChange();
  }

  /** The last entry applied to the data (what reads see). */
  get appliedPosition(): LogPosition {
    return this.executor.appliedPosition;
  }

  get lastLogPosition(): LogPosition {
    const progress = this.chainNode.progress;
    return { lastSequence: progress.last, lastEpoch: progress.lastEpoch };
  }

  /** The chain whose log and data this node's store holds ('' when none). */
  get chainId(): string {
    return this.dataChain;
  }

  /** A write from a client: answered once committed (or at once with an error to retry elsewhere). */
  write(request: Request): Promise<ResponseResult> {
    // submit() runs outside the promise: what it throws (a broken invariant) reaches the caller
    // synchronously, as the node expects, rather than becoming a rejection nobody handles.
    let reply!: (result: ResponseResult) => void;
    const answered = new Promise<ResponseResult>((resolve) => (reply = resolve));
    this.submit(request, reply);
    return answered;
  }

  /** `write` with a callback: `reply` is called once, when the write commits or fails. */
  submit(request: Request, reply: (result: ResponseResult) => void): void {
    // meta 'client:<id>' is an LMDB key: refuse an id that cannot be one here, before it is
    // sequenced, rather than fail the whole end-of-turn transaction (fatal) when it lands.
    if (Buffer.byteLength(request.clientId) > clientIdBytesMax) {
      reply(errorResult('ERR_INVALID_ARGUMENT', `a client id is at most ${clientIdBytesMax} bytes`));
      return;
    }
    const requestId: RequestId = { clientId: request.clientId, clientSequence: Number(request.clientSequence) };
    // The head's clock, never going back along the log: replicas apply with it, so expiry
    // decisions agree even if this machine's clock steps backwards.
    this.applier.lastStampMs = Math.max(this.applier.lastStampMs, this.env.clock.nowMs());
    const operation: ReplicatedOp = { request: encodeRequest(0, request.command), nowMs: this.applier.lastStampMs };
    const effects = this.chainNode.write(requestId, operation);
    const first = effects[0];
    if (first?.kind === 'reject') {
      const code = first.reason === 'not-head' ? 'ERR_NOT_HEAD' : 'ERR_UNAVAILABLE';
      reply(errorResult(code, this.rejection(code)));
      return;
    }
    assert(first?.kind === 'persist' && first.entries.length === 1, 'a write is persisted first');
    this.executor.wait(first.entries[0]!.sequence, reply);
    this.run(effects);
  }

  /** A read: executed only where and when reads are linearizable. */
  read(request: Request): Execution {
    this.chainNode.observe(this.env.monotonicMs());
    if (!this.canServeReads()) {
      const code = this.configuration === undefined ? 'ERR_UNAVAILABLE' : 'ERR_NOT_TAIL';
      return { kind: 'now', result: errorResult(code, this.rejection(code)), command: request.command.case };
    }
    // The data holds committed entries only, each durable on every member: nothing to wait for.
    return execute(this.options.context, request, false);
  }

  canServeReads(): boolean {
    const honest = !this.receiver.active && this.chainNode.canServeReads() && this.options.readLeaseValid();
    const override = this.options.faults?.canServeReads;
    return override === undefined ? honest : override(this.chainNode, honest);
  }

  private rejection(code: 'ERR_NOT_HEAD' | 'ERR_NOT_TAIL' | 'ERR_UNAVAILABLE'): string {
    const config = this.configuration;
    const members = config?.members ?? [];
    if (code === 'ERR_NOT_HEAD') {
      return `not the head of chain ${config?.chainId}: the head is ${this.where(members[0])}; send writes there, or use ClusterClient (it finds the head itself)`;
    }
    if (code === 'ERR_NOT_TAIL') {
      const tail = members[members.length - 1];
      return tail === this.self
        ? 'the tail cannot serve reads yet (coordinator session down, or waiting for committed entries)'
        : `not the tail of chain ${config?.chainId}: the tail is ${this.where(tail)}; send reads there, or use ClusterClient (it finds the tail itself)`;
    }
    return 'no chain configuration yet';
  }

  /** `host:port (node <id>)` when the member's native address is known, else `node <id>`. */
  private where(nodeId: string | undefined): string {
    if (nodeId === undefined) return 'unknown (the chain has no members)';
    const address = this.options.nativeAddressOf?.(nodeId);
    return address === undefined || address === '' ? `node ${nodeId}` : `${address} (node ${nodeId})`;
  }

  // ---- slots (the node's admission checks read these) ---------------------------------------

  isFrozen(slot: number): boolean {
    return this.slots.isFrozen(slot);
  }
  handedOverSince(slot: number, mapVersion: number): boolean {
    return this.slots.handedOverSince(slot, mapVersion);
  }
  anyFrozen(): boolean {
    return this.slots.anyFrozen();
  }
  rangeFrozen(first: number, last: number): boolean {
    return this.slots.rangeFrozen(first, last);
  }
  freeze(request: RequestOf<'slotfreeze'>): ReplyInit<'slotfreeze'> {
    return this.slots.freeze(request);
  }
  exportPage(request: RequestOf<'slotexport'>): ReplyInit<'slotexport'> {
    return this.slots.exportPage(request);
  }
  importPage(request: RequestOf<'slotimport'>): ReplyInit<'slotimport'> {
    return this.slots.importPage(request);
  }
  dropPage(request: RequestOf<'slotdrop'>): ReplyInit<'slotdrop'> {
    return this.slots.dropPage(request);
  }

  // ---- inputs from the node ----------------------------------------------------------------

  configure(config: ChainConfig): void {
    if (config.chainId !== this.dataChain) return this.switchChain(config);
    const current = this.configuration;
    if (current !== undefined && current.chainId === config.chainId && config.epoch <= current.epoch) return;
    this.configuration = config;
    if (current === undefined || config.epoch > current.epoch) this.trimmer.newEpoch();
    if (this.receiver.active) {
      // The snapshot was for an older configuration: start over from nothing.
      this.receiver.abandon('the configuration changed during a snapshot');
      return;
    }
    this.run(this.chainNode.configure(config));
    if (this.chainNode.role !== 'head' && this.chainNode.role !== 'head-and-tail') {
      // Writes this node took as head may still commit, or not: their clients retry at the new
      // head with the same request id and get the one result (exactly-once).
      this.executor.failWaiters('ERR_UNAVAILABLE', 'the chain changed before this write was confirmed: retry it');
    }
    this.noteStateChange();
  }

  /**
   * Placed in a chain whose data this store does not hold (a new node, or one moved after it
   * left another chain): start from nothing, as that chain's joiner or its first member.
   */
  private switchChain(config: ChainConfig): void {
    if (this.dataChain !== '') {
      this.log.log('warn', 'placed in another chain: discarding the data of the old one', {
        from: this.dataChain,
        to: config.chainId,
      });
    }
    this.executor.failWaiters('ERR_UNAVAILABLE', 'the chain changed before this write was confirmed: retry it');
    this.receiver.reset();
    this.trimmer.newEpoch();
    this.discardState();
    this.dataChain = config.chainId;
    this.store.writeMeta('chain', config.chainId);
    this.configuration = config;
    this.restartCore(emptyLogPosition);
  }

  sessionChanged(connected: boolean): void {
    this.sessionConnected = connected;
    this.run(this.chainNode.sessionChanged(connected));
  }

  peerConnected(peer: string): void {
    if (this.receiver.active) return;
    this.chainNode.observe(this.env.monotonicMs());
    this.run(this.chainNode.peerConnected(peer));
  }

  /** A connection from or to `peer` closed (a neighbour that died resets its connections at once). */
  peerLost(peer: string): void {
    if (this.isStopped || this.receiver.active) return;
    this.chainNode.observe(this.env.monotonicMs());
    this.run(this.chainNode.peerLost(peer));
  }

  frame(frame: Exclude<PeerFrame, { kind: 'peer' }>): void {
    if (this.isStopped) return;
    switch (frame.kind) {
      case 'snapshot-begin':
      case 'snapshot-records':
      case 'snapshot-end':
        this.receiver.part(frame);
        return;
      default:
        if (this.receiver.active) return; // nothing but the snapshot until it is in
        this.chainNode.observe(this.env.monotonicMs());
        if (frame.kind === 'ack' && frame.epoch === this.chainNode.epoch)
          this.trimmer.noteAck(frame.from, frame.sequence);
        this.run(this.chainNode.message(frame as ChainMessage<ReplicatedOp>));
    }
  }

  /** The replica's timer (every chainTickMs), and before each read. */
  tick(): void {
    if (this.isStopped) return;
    const nowMs = this.env.clock.nowMs();
    if (this.receiver.active) return this.receiver.tick(nowMs);
    this.run(this.chainNode.tick(this.env.monotonicMs()));
    this.noteStateChange(); // a lease wait may have ended: settled
    this.reclaimer.tick(nowMs);
    if (nowMs - this.lastRepairMs >= chainRepairIntervalMs) {
      this.lastRepairMs = nowMs;
      // As if the connection to the predecessor were new: `hello` makes it re-send what this node
      // lacks, and the repeated ack answers writes whose ack was lost. Both are idempotent.
      const members = this.configuration?.members ?? [];
      const index = members.indexOf(this.self);
      if (index > 0) this.run(this.chainNode.peerConnected(members[index - 1]!));
    }
  }

  private noteStateChange(): void {
    const standing = this.chainNode.settled;
    const role = `${this.chainNode.role}/${this.chainNode.awaitingRemoval}/${standing?.epoch}/${standing?.settled}/${this.suspicion.epoch}/${this.suspicion.peers.join(',')}`;
    if (role === this.lastRole) return;
    this.lastRole = role;
    this.options.onStateChanged();
  }

  // ---- replacing the state (snapshot-receiver.ts calls these) --------------------------------

  replaceState(): void {
    this.coreGeneration += 1;
    this.executor.forgetState(emptyLogPosition);
  }

  /** A new core on the state in the store, whose data stands at `position` (a snapshot's, or nothing). */
  restartCore(position: LogPosition): void {
    this.replaceState();
    this.executor.forgetState(position);
    this.chainNode = this.newCore(position, false, position.lastSequence);
    this.chainNode.sessionChanged(this.sessionConnected);
    if (this.configuration !== undefined) this.run(this.chainNode.configure(this.configuration));
    this.noteStateChange();
  }

  discardState(): void {
    const store = this.store;
    store.clear();
    store.clearLog();
    store.clearClients();
    store.restoreRevision(0);
    store.writeMeta('position', emptyLogPosition);
    store.writeMeta('applied', emptyLogPosition);
    store.writeMeta('installed', undefined);
    store.writeMeta('frozen', []);
    store.writeMeta('installing', false);
    this.slots.set([]);
    this.applier.clients = new ClientTable(clientTableLimits);
    this.executor.forgetState(emptyLogPosition);
  }

  private newCore(position: LogPosition, restarted: boolean, appliedSequence: number): ChainNode<ReplicatedOp> {
    const faults: ChainNodeFaults | undefined = this.options.faults?.core;
    const core = new ChainNode<ReplicatedOp>({
      self: this.self,
      lastSequence: position.lastSequence,
      lastEpoch: position.lastEpoch,
      appliedSequence,
      ...(restarted ? { restarted: true } : {}),
      ...(faults === undefined ? {} : { faults }),
      joinRetryMs,
      ...this.options.liveness,
    });
    core.observe(this.env.monotonicMs());
    return core;
  }

  acknowledgeAgain(tail: string): void {
    const core = this.chainNode;
    if (core.role !== 'joining') return;
    this.network?.send(tail, { kind: 'ack', epoch: core.epoch, from: this.self, sequence: core.progress.persisted });
  }

  adopt(clients: Clients, frozen: readonly FrozenRange[]): void {
    this.applier.clients = clients;
    this.slots.set(frozen);
  }
}
