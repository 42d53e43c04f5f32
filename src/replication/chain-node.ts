// One member of one chain, as a pure state machine (docs/design.md §3, §4): inputs are method calls,
// outputs are effects (effects.ts) in the order they must be carried out. No I/O, no clock, no
// randomness: time arrives with `tick`, everything else as messages and shell reports.
//
//   client write ──▶ head: sequence it, persist, and send it down at once (with the durable mark)
//   entries ──▶ middle/tail: append, persist, and (middle) send on at once
//   persisted ──▶ the node's durable mark may rise: min(own durable end, predecessor's mark);
//     a middle sends it down (a mark-only frame when no entry is going), the tail commits up to it
//   commit(s) ──▶ apply everything <= s to the readable state, reply, ack s up; an ack makes
//     every node above commit the same way
//
// Commit means durable on every member (§3.3): the tail commits s only once s is durable on
// itself and its predecessor's mark covers s, so an acknowledged write survives the loss of every
// member but one, although no node waits for its own fsync before forwarding. Only committed
// entries are applied (§3.5): nothing a read sees can be lost by a crash. Because a node may have
// forwarded entries it never made durable, a restarted node never resumes as a member of a chain
// of several, and only its durable log counts when it asks to join.
//
// Reconfiguration (§3.7): a node with a new successor re-sends every pending entry (the
// successor drops what it has); a node with a new predecessor says `hello` with the end of its
// log, and the predecessor re-sends from there. Whichever of the two learns the new epoch last
// triggers the transfer that succeeds, so neither order of learning loses entries. A node that
// becomes tail commits what is durable on itself and covered by its predecessor's mark (all it
// has made durable, when it has no predecessor) and acknowledges it at once. Marks stay valid
// across reconfigurations: they say what is durable on nodes that are still above (nodes are only
// ever removed, or appended at the tail).
//
// Joining (§3.8): the configuration names a joiner; it sends the tail `join` with the end of its
// durable log; the tail's shell brings it up to date (`catch-up`: the missing entries when the
// joiner's log is a prefix of the tail's, else a snapshot that replaces the joiner's state and
// discards its divergent suffix), then the tail forwards each new durable entry to it, with its
// mark, so the joiner applies what is committed; when the joiner acknowledges everything the tail
// has, the tail reports it caught up and the manager appends it as the new tail. From that report
// on, the tail commits only what the joiner has acknowledged: the manager may append the joiner
// at any moment, and if the old tail then died, the new tail must not lack an acknowledged write.
// A restarted node never acts as a member of a chain of several: it waits to be removed and joins
// like any new node; only the sole member of a chain resumes (§3.7).
//
// Failure detection (§3.7): every member heartbeats its predecessor and successor; a neighbour
// heard nothing from (at this epoch) for the suspicion timeout, or whose connection closed and did
// not come back soon, is suspected, and the `suspect` effect has the shell report it to the
// manager. A node whose own event loop stalled (ticks far apart) suspects no one for it.
//
// Read leases (§3.5): a node with a predecessor serves reads only while its lease holds. It
// stamps each heartbeat with its own monotonic clock; its predecessor echoes the last stamp it
// received; the lease runs until that stamp + leaseMs. The granter knows when it last received a
// stamp from its successor: when that successor is removed and it becomes the tail, it commits
// nothing and serves no read until leaseWaitMs (core/limits.ts: clock rates may differ) after
// that, so a removed tail that has not heard of its removal never answers a read after the new
// tail acknowledged a write. A sole member has no predecessor: the shell's coordinator-session
// lease (src/coordination/membership.ts) is its only one, and every tail needs that one too.

import { assert } from '../core/assert.js';
import {
  clockRateErrorMax,
  heartbeatIntervalMsDefault,
  leaseWaitMs,
  peerLossGraceMs,
  readLeaseMsDefault,
  suspicionTimeoutMsDefault,
} from '../core/limits.js';
import type { ChainConfig } from './chain-config.js';
import type { Effect } from './effects.js';
import type { LogEntry, RequestId } from './log-entry.js';
import type { ChainMessage } from './messages.js';

export type Role = 'head' | 'middle' | 'tail' | 'head-and-tail' | 'joining' | 'outside';

export interface ChainNodeOptions {
  readonly self: string;
  /** End of the durable log found at start (0, 0 for an empty node). */
  readonly lastSequence?: number;
  readonly lastEpoch?: number;
  /** True when this process restarted with a log from before: it must rejoin, not resume. */
  readonly restarted?: boolean;
  /** Last entry applied at start (every entry applied was committed). */
  readonly appliedSequence?: number;
  /** A joiner with no progress for this long asks the tail again (its request or reply may be lost). */
  readonly joinRetryMs?: number;
  /** Failure detection and read leases (defaults: core/limits.ts). */
  readonly heartbeatMs?: number;
  readonly suspicionMs?: number;
  readonly leaseMs?: number;
  readonly clockRateError?: number;
  readonly peerLossGraceMs?: number;
  /** Deliberate faults, for the simulator's broken variants only. */
  readonly faults?: ChainNodeFaults;
}

/** Deliberate faults for the simulator's broken variants (never set in a node): the sweep must catch each. */
export interface ChainNodeFaults {
  /** The tail commits what is durable on itself, without waiting for its predecessor's mark. */
  commitWithoutMark?: boolean;
  /** A restarted node resumes as a member (with entries it may have forwarded but never made durable). */
  resumeAfterRestart?: boolean;
  /** A node that becomes tail in place of a removed one commits and serves at once, without waiting out its lease. */
  noLeaseWait?: boolean;
  /**
   * A node goes on renewing the lease of the successor it had before a reconfiguration (it
   * heartbeats it at the old epoch and echoes its stamps), though it is no longer its predecessor.
   */
  renewFormerSuccessor?: boolean;
}

export class ChainNode<Op = unknown> {
  readonly self: string;
  private config: ChainConfig | undefined;
  /** Last entry in the local log (persisted or being persisted). */
  private lastSequence: number;
  private lastEpoch: number;
  /** Last entry known durable here, and its epoch. */
  private persistedSequence: number;
  private persistedEpoch: number;
  /** Last entry known committed (durable on every member), and applied here. */
  private committedSequence: number;
  /** The highest durable mark the predecessor (a joiner: the tail) sent: durable on it and above. */
  private predecessorMark = 0;
  /** The last mark sent to the current successor. */
  private markSent = 0;
  /** Entries after `committedSequence`, in order: kept to re-send after a reconfiguration. */
  private pending: LogEntry<Op>[] = [];
  /** Highest sequence sent to the current successor. */
  private sentSequence = 0;
  /** At the head: sequence -> the client write waiting for it to commit. */
  private readonly waiting = new Map<number, RequestId>();
  private sessionConnected = false;
  private nowMs = 0;
  /** A restarted node must not act as a member until it has been removed (or is the sole member). */
  private mustRejoin: boolean;
  /**
   * At the tail: the joiner being brought up to date. `sent` is the last sequence sent to it, or
   * undefined until it has acknowledged a catch-up (before that its log may still diverge, so
   * nothing may be forwarded on top of it); `acked` the highest sequence it acknowledged;
   * `reported` whether this tail told the manager it caught up (from then on the manager may
   * append it, so this tail commits nothing the joiner lacks).
   */
  private joiner:
    { id: string; sent: number | undefined; acked: number; reported: boolean; markSent: number } | undefined;
  /** Reads wait until this much is persisted here (a joiner that became tail may still lack committed entries). */
  private readFloor = 0;
  private readonly joinRetryMs: number;
  private joinAskedAtMs = Number.NEGATIVE_INFINITY;
  /**
   * Where a joiner stands with its tail: `waiting-disk` until its whole log is durable (it asks
   * with its whole log, so that the tail's answer covers every entry it holds: an entry beyond
   * the point it asked from could differ from the tail's and never be checked), `asked`, then
   * `answered` (entries or a snapshot came: from then on it acknowledges what it makes durable).
   */
  private joinPhase: 'idle' | 'waiting-disk' | 'asked' | 'answered' = 'idle';
  private readonly faults: ChainNodeFaults;
  private readonly heartbeatMs: number;
  private readonly suspicionMs: number;
  private readonly leaseMs: number;
  private readonly leaseWaitMs: number;
  private readonly peerLossGraceMs: number;
  /** When each current neighbour was last heard from at this epoch (monotonic ms). */
  private readonly heardAtMs = new Map<string, number>();
  /** The neighbours suspected now, as last reported (sorted). */
  private suspected: readonly string[] = [];
  private heartbeatSentAtMs = Number.NEGATIVE_INFINITY;
  private lastTickMs: number | undefined;
  /** Reads may be served until this (own clock), from the predecessor's echoes. */
  private leaseUntilMs = Number.NEGATIVE_INFINITY;
  /** Echoes of stamps from before this are not taken: they answer heartbeats to an earlier predecessor. */
  private leaseFromMs = Number.NEGATIVE_INFINITY;
  /** The newest stamp the successor sent, and when it arrived here: echoed to it, and owed (its lease). */
  private successorStamp: { stampMs: number; heardAtMs: number } | undefined;
  /** A tail that replaced a removed one commits and serves nothing before this (the old tail's lease). */
  private holdUntilMs = Number.NEGATIVE_INFINITY;
  /** A commit was held back by the lease wait: do it when the wait ends. */
  private holdPending = false;
  /** renewFormerSuccessor (a broken variant): the successor before the last change, at its epoch. */
  private former: { id: string; epoch: number; stampMs: number } | undefined;

  constructor(options: ChainNodeOptions) {
    this.self = options.self;
    this.lastSequence = options.lastSequence ?? 0;
    this.lastEpoch = options.lastEpoch ?? 0;
    this.persistedSequence = this.lastSequence;
    this.persistedEpoch = this.lastEpoch;
    this.committedSequence = options.appliedSequence ?? 0;
    this.faults = options.faults ?? {};
    this.mustRejoin = (options.restarted ?? false) && this.faults.resumeAfterRestart !== true;
    this.joinRetryMs = options.joinRetryMs ?? 200;
    this.heartbeatMs = options.heartbeatMs ?? heartbeatIntervalMsDefault;
    this.suspicionMs = options.suspicionMs ?? suspicionTimeoutMsDefault;
    this.leaseMs = options.leaseMs ?? readLeaseMsDefault;
    this.leaseWaitMs = leaseWaitMs(this.leaseMs, options.clockRateError ?? clockRateErrorMax);
    this.peerLossGraceMs = options.peerLossGraceMs ?? peerLossGraceMs;
    assert(this.leaseWaitMs < this.suspicionMs, 'a tail suspected for silence has lost its lease');
  }

  // ---- queries ------------------------------------------------------------------------------

  get role(): Role {
    const members = this.config?.members ?? [];
    const index = members.indexOf(this.self);
    if (index < 0) return this.config?.joining === this.self && !this.mustRejoin ? 'joining' : 'outside';
    if (this.mustRejoin) return 'outside';
    if (members.length === 1) return 'head-and-tail';
    if (index === 0) return 'head';
    return index === members.length - 1 ? 'tail' : 'middle';
  }

  get epoch(): number {
    return this.config?.epoch ?? 0;
  }

  get progress(): {
    last: number;
    lastEpoch: number;
    persisted: number;
    committed: number;
    mark: number;
    pending: number;
  } {
    return {
      last: this.lastSequence,
      lastEpoch: this.lastEpoch,
      persisted: this.persistedSequence,
      committed: this.committedSequence,
      mark: this.durableMark(),
      pending: this.pending.length,
    };
  }

  /**
   * Reads are linearizable only at the tail, while its session is connected, after any lease wait,
   * once it holds everything its predecessor said is committed (§3.5). They see the applied state,
   * which holds committed entries only.
   */
  canServeReads(): boolean {
    const role = this.role;
    if (role !== 'tail' && role !== 'head-and-tail') return false;
    // (After a lease wait, the commit it held back is still owed until the next tick makes it:
    // entries the old tail acknowledged may be among them.)
    if (this.committedSequence < this.readFloor || this.holding || this.holdPending) return false;
    if (this.predecessor !== undefined && this.nowMs >= this.leaseUntilMs) return false;
    return this.sessionConnected;
  }

  /** A tail waiting out the read lease of the tail it replaced: no commit, no read. */
  private get holding(): boolean {
    return this.nowMs < this.holdUntilMs && this.faults.noLeaseWait !== true;
  }

  /**
   * The epoch this node acts on as a member, and whether it is settled there (not a tail waiting
   * out its predecessor's lease): the manager removes a member on a peer's report only once it
   * has published that it is at the current epoch, settled (docs/design.md §3.7).
   */
  get settled(): { epoch: number; settled: boolean; joining?: true } | undefined {
    const role = this.role;
    if (this.config === undefined || role === 'outside') return undefined;
    // A joiner holds no lease: appended at the next epoch, it can hold only its new predecessor's.
    if (role === 'joining') return { epoch: this.config.epoch, settled: true, joining: true };
    return { epoch: this.config.epoch, settled: !this.isTail || (!this.holding && !this.holdPending) };
  }

  /**
   * Every sequence <= this is durable here and on every node above (docs/design.md §3.3): the
   * smaller of this node's durable end and its predecessor's mark (a joiner's: the tail's).
   */
  private durableMark(): number {
    const upstream = this.predecessor !== undefined || this.role === 'joining';
    return upstream ? Math.min(this.persistedSequence, this.predecessorMark) : this.persistedSequence;
  }

  private get predecessor(): string | undefined {
    if (this.mustRejoin) return undefined;
    const members = this.config?.members ?? [];
    const index = members.indexOf(this.self);
    return index > 0 ? members[index - 1] : undefined;
  }

  private get successor(): string | undefined {
    if (this.mustRejoin) return undefined;
    const members = this.config?.members ?? [];
    const index = members.indexOf(this.self);
    return index >= 0 && index + 1 < members.length ? members[index + 1] : undefined;
  }

  private get tailId(): string | undefined {
    const members = this.config?.members ?? [];
    return members[members.length - 1];
  }

  private get isTail(): boolean {
    return this.role === 'tail' || this.role === 'head-and-tail';
  }

  // ---- inputs -------------------------------------------------------------------------------

  /** A client write arrived at this node. */
  write(requestId: RequestId, operation: Op): Effect<Op>[] {
    const role = this.role;
    if (this.config === undefined) return [{ kind: 'reject', requestId, reason: 'no-configuration' }];
    if (role !== 'head' && role !== 'head-and-tail') return [{ kind: 'reject', requestId, reason: 'not-head' }];
    const entry: LogEntry<Op> = { sequence: this.lastSequence + 1, epoch: this.config.epoch, requestId, operation };
    this.append([entry]);
    this.waiting.set(entry.sequence, requestId);
    return [{ kind: 'persist', entries: [entry] }, ...this.forward()];
  }

  /** The shell made every entry up to `sequence` durable (persists complete in order). */
  persisted(sequence: number): Effect<Op>[] {
    assert(sequence <= this.lastSequence, 'only issued entries can be persisted');
    if (sequence <= this.persistedSequence) return [];
    this.persistedEpoch =
      sequence === this.lastSequence
        ? this.lastEpoch
        : (this.pending.find((entry) => entry.sequence === sequence)?.epoch ?? this.persistedEpoch);
    this.persistedSequence = sequence;
    if (this.role === 'joining') {
      this.joinAskedAtMs = this.nowMs; // progress: no need to ask again yet
      if (this.joinPhase === 'waiting-disk') return sequence === this.lastSequence ? this.askToJoin() : [];
      if (this.joinPhase !== 'answered') return [];
      return [this.send(this.tailId!, { kind: 'ack', sequence }), ...this.commit(this.durableMark())];
    }
    return this.markRose();
  }

  /**
   * The durable mark may have risen (an fsync finished, or the predecessor's mark arrived): the
   * tail commits up to it; a node with a successor sends it down (a mark-only frame if no entry
   * is going); a joiner applies what its tail says is durable on every member.
   */
  private markRose(): Effect<Op>[] {
    if (this.role === 'joining') return this.commit(this.durableMark());
    if (this.isTail) {
      const limit = this.faults.commitWithoutMark === true ? this.persistedSequence : this.durableMark();
      return [...this.tailCommit(limit), ...this.forwardToJoiner()];
    }
    return this.forward();
  }

  message(message: ChainMessage<Op>): Effect<Op>[] {
    const former = this.former;
    if (message.kind === 'heartbeat' && message.from === former?.id && message.epoch === former.epoch) {
      former.stampMs = Math.max(former.stampMs, message.stampMs);
    }
    if (this.config === undefined || message.epoch !== this.config.epoch) return []; // fenced (§3.4)
    if (this.heardAtMs.has(message.from)) this.heardAtMs.set(message.from, this.nowMs);
    const fromUpstream = message.from === this.predecessor || (this.role === 'joining' && message.from === this.tailId);
    const fromJoiner = this.isTail && message.from === this.config.joining;
    switch (message.kind) {
      case 'entries': {
        if (!fromUpstream) return [];
        // A joiner takes nothing from the tail, its mark included, before the tail has checked
        // its whole log (the mark could otherwise cover entries of its own that differ).
        if (this.role === 'joining' && this.joinPhase !== 'asked' && this.joinPhase !== 'answered') return [];
        const marked = message.mark > this.predecessorMark;
        if (marked) this.predecessorMark = message.mark;
        const effects = this.receive(message.entries);
        return marked || effects.length > 0 ? [...effects, ...this.markRose()] : effects;
      }
      case 'ack':
        if (fromJoiner) return this.joinerAcked(message.sequence);
        return message.from === this.successor ? this.commit(message.sequence) : [];
      case 'hello':
        return message.from === this.successor ? this.resendAfter(message.lastSequence) : [];
      case 'join':
        return fromJoiner ? this.startCatchUp(message.from, message.lastSequence, message.lastEpoch) : [];
      case 'snapshot':
        return fromUpstream && this.role === 'joining' ? this.install(message) : [];
      case 'heartbeat':
        return this.heartbeat(message);
      case 'committed':
        if (message.from !== this.predecessor) return [];
        this.readFloor =
          this.readFloor === Number.POSITIVE_INFINITY ? message.sequence : Math.max(this.readFloor, message.sequence);
        return [];
    }
  }

  /** A new configuration of this node's chain (epochs only go up). */
  configure(config: ChainConfig): Effect<Op>[] {
    if (this.config !== undefined && config.epoch <= this.config.epoch) return [];
    const beforeEpoch = this.epoch;
    const before = {
      predecessor: this.predecessor,
      successor: this.successor,
      tail: this.isTail,
      joiningTo: this.role === 'joining' ? this.tailId : undefined,
      member: this.role !== 'joining' && this.role !== 'outside',
    };
    this.config = config;
    if (this.mustRejoin && (!config.members.includes(this.self) || config.members.length === 1)) {
      this.mustRejoin = false; // removed (so it may join), or the chain's last member (so it resumes)
    }
    const effects: Effect<Op>[] = [];
    if (before.member && (this.role === 'joining' || this.role === 'outside')) {
      // A mark says what is durable above on the log of the chain this node was a member of. A
      // node that left may come back (as a joiner) after entries it holds were replaced above
      // (an uncommitted suffix the head lost): its old predecessor's mark would cover entries at
      // those sequences that are not durable anywhere above. It starts again from its tail's.
      this.predecessorMark = 0;
    }
    if (this.successor !== before.successor && this.faults.renewFormerSuccessor === true) {
      const stampMs = this.successorStamp?.stampMs ?? -1;
      this.former = before.successor === undefined ? undefined : { id: before.successor, epoch: beforeEpoch, stampMs };
    }
    if (this.successor !== before.successor) {
      // The successor was removed and this node is the tail now: that old tail may still hold a
      // read lease this node granted it (it may not know it was removed). Wait it out.
      const owed = this.successorStamp;
      if (this.isTail && !before.tail && before.successor !== undefined && owed !== undefined) {
        this.holdUntilMs = Math.max(this.holdUntilMs, owed.heardAtMs + this.leaseWaitMs);
      }
      // Removed without a report, the old tail may itself have granted a lease (at an epoch it
      // never left) to a node removed before: wait from now, when this node learns of it.
      if (this.isTail && !before.tail && before.successor !== undefined && config.leaseWait === true) {
        this.holdUntilMs = Math.max(this.holdUntilMs, this.nowMs + this.leaseWaitMs);
      }
      this.successorStamp = undefined;
    }
    if (this.predecessor !== before.predecessor) {
      // A lease is the predecessor's promise: a new one has promised nothing yet.
      this.leaseUntilMs = Number.NEGATIVE_INFINITY;
      this.leaseFromMs = this.nowMs;
    }
    effects.push(...this.neighboursChanged());
    const heldForJoiner = this.joiner?.reported === true;
    if (!this.isTail || config.joining === undefined) this.joiner = undefined;
    else if (config.joining !== this.joiner?.id) this.joiner = this.newJoiner(config.joining);
    if (this.role === 'joining') {
      const tail = this.tailId!;
      if (tail !== before.joiningTo) effects.push(...this.askToJoin());
      return effects;
    }
    if (this.role === 'outside') {
      this.waiting.clear(); // removed: its clients will time out and retry at the new head
      return effects;
    }
    if (this.role !== 'head' && this.role !== 'head-and-tail') this.waiting.clear();
    const predecessor = this.predecessor;
    // Without a predecessor (head, or sole member) no one can say more is committed and nothing
    // more can arrive: this node's log is the chain's (as tail it commits on it already). A floor
    // still waiting for a `committed` from a removed predecessor would stop its reads, and the
    // committed mark it owes its successors, for good.
    if (predecessor === undefined) this.readFloor = 0;
    if (predecessor !== undefined && predecessor !== before.predecessor) {
      effects.push(
        this.send(predecessor, { kind: 'hello', lastSequence: this.lastSequence, lastEpoch: this.lastEpoch }),
      );
    }
    // A node that becomes tail without having been a member (a joiner, or a node that skipped
    // configurations) may lack committed entries: no reads until its predecessor says what is committed.
    if (this.isTail && !before.member && this.predecessor !== undefined) this.readFloor = Number.POSITIVE_INFINITY;
    if (this.isTail && !before.tail) {
      // What is durable here and above is durable on every member now: committed.
      effects.push(...this.tailCommit(this.durableMark()));
    } else if (this.isTail && heldForJoiner && this.joiner?.reported !== true) {
      // The reported joiner left without being appended (or another took its place): release the hold.
      effects.push(...this.tailCommit(this.durableMark()));
    } else if (this.isTail && predecessor !== undefined && predecessor !== before.predecessor) {
      effects.push(this.send(predecessor, { kind: 'ack', sequence: this.committedSequence }));
    }
    const successor = this.successor;
    if (successor !== undefined && successor !== before.successor) {
      this.sentSequence = this.committedSequence; // it has at least what is committed (else its hello says so)
      this.markSent = 0; // a new successor has not heard this node's mark
      const mark = this.committedMark();
      if (mark !== undefined) effects.push(this.send(successor, { kind: 'committed', sequence: mark }));
      effects.push(...this.forward());
    }
    return effects;
  }

  /**
   * The shell has a new connection from `peer` (its earlier messages may have been lost with the
   * old one). A successor asks its predecessor to re-send after its log and repeats its ack; a
   * joiner asks its tail again. Safe at any time: both are idempotent.
   */
  peerConnected(peer: string): Effect<Op>[] {
    if (this.config === undefined) return [];
    if (this.heardAtMs.has(peer)) this.heardAtMs.set(peer, this.nowMs); // its greeting: it is alive
    if (this.role === 'joining' && peer === this.tailId) {
      // The tail's first answer usually opens the connection: ask again only if it has been a while.
      return this.nowMs - this.joinAskedAtMs < this.joinRetryMs ? [] : this.askToJoin();
    }
    if (peer !== this.predecessor) return [];
    const effects = [this.send(peer, { kind: 'hello', lastSequence: this.lastSequence, lastEpoch: this.lastEpoch })];
    if (this.isTail && this.committedSequence > 0) {
      effects.push(this.send(peer, { kind: 'ack', sequence: this.committedSequence }));
    }
    return effects;
  }

  /** True while this restarted node waits to be removed from its chain before it may join again. */
  get awaitingRemoval(): boolean {
    return this.mustRejoin && this.config !== undefined && this.config.members.includes(this.self);
  }

  sessionChanged(connected: boolean): Effect<Op>[] {
    this.sessionConnected = connected;
    return [];
  }

  /** True while this node waits on a message that may be lost, so its shell must keep ticking it. */
  get needsTicks(): boolean {
    return this.role === 'joining' || (this.predecessor !== undefined && this.committedSequence < this.readFloor);
  }

  /** The time (monotonic ms) as the shell last saw it: before a message or a read. */
  observe(nowMs: number): void {
    if (nowMs > this.nowMs) this.nowMs = nowMs;
  }

  tick(nowMs: number): Effect<Op>[] {
    const previous = this.lastTickMs;
    this.observe(nowMs);
    this.lastTickMs = this.nowMs;
    // This node's own event loop stalled: it heard nothing because it listened to nothing.
    // Only the stall beyond a tick is forgiven (stalls that keep coming still add up).
    const gap = previous === undefined ? 0 : this.nowMs - previous;
    if (gap > this.suspicionMs / 2) {
      const stall = gap - this.heartbeatMs;
      for (const [peer, heardAtMs] of this.heardAtMs) this.heardAtMs.set(peer, Math.min(this.nowMs, heardAtMs + stall));
    }
    const effects = [...this.liveness(), ...this.retries()];
    return effects;
  }

  /** The connection from or to a neighbour closed: silence from it counts as longer (it may be dead). */
  peerLost(peer: string): Effect<Op>[] {
    const heard = this.heardAtMs.get(peer);
    if (heard === undefined) return [];
    this.heardAtMs.set(peer, Math.min(heard, this.nowMs - this.suspicionMs + this.peerLossGraceMs));
    return [];
  }

  private retries(): Effect<Op>[] {
    if (this.nowMs - this.joinAskedAtMs < this.joinRetryMs) return [];
    if (this.role === 'joining') return this.askToJoin();
    if (this.predecessor !== undefined && this.committedSequence < this.readFloor) {
      // Committed entries (or the mark that covers them) are missing here: ask the predecessor.
      this.joinAskedAtMs = this.nowMs;
      return [
        this.send(this.predecessor, { kind: 'hello', lastSequence: this.lastSequence, lastEpoch: this.lastEpoch }),
      ];
    }
    return [];
  }

  // ---- failure detection and leases ----------------------------------------------------------

  /** Heartbeats when due, suspicions, and the end of a lease wait. */
  private liveness(): Effect<Op>[] {
    const effects: Effect<Op>[] = [];
    if (this.holdPending && !this.holding) {
      this.holdPending = false;
      effects.push(...this.tailCommit(this.durableMark()), ...this.reportJoinerIfCaughtUp());
    }
    if (this.nowMs - this.heartbeatSentAtMs >= this.heartbeatMs) {
      this.heartbeatSentAtMs = this.nowMs;
      for (const peer of this.heardAtMs.keys()) effects.push(this.heartbeatTo(peer));
      const former = this.former;
      if (former !== undefined && !this.heardAtMs.has(former.id)) {
        const message = { kind: 'heartbeat' as const, epoch: former.epoch, from: this.self, stampMs: this.nowMs };
        effects.push({ kind: 'send', to: former.id, message: { ...message, echoMs: former.stampMs, wantEcho: false } });
      }
    }
    const suspected = [...this.heardAtMs]
      .filter(([, heardAtMs]) => this.nowMs - heardAtMs >= this.suspicionMs)
      .map(([peer]) => peer)
      .sort();
    if (suspected.join(' ') !== this.suspected.join(' ')) {
      this.suspected = suspected;
      effects.push({ kind: 'suspect', peers: suspected, epoch: this.epoch });
    }
    return effects;
  }

  /**
   * The neighbours changed (or the epoch did): a new neighbour counts as heard now; one that
   * stays keeps its time (silence at the last epoch is silence). Suspicions are repeated at the
   * new epoch (the manager takes reports at the current epoch only), or withdrawn.
   */
  private neighboursChanged(): Effect<Op>[] {
    const member = this.role !== 'joining' && this.role !== 'outside';
    const now = new Map<string, number>();
    for (const peer of [this.predecessor, this.successor]) {
      if (peer !== undefined && member) now.set(peer, this.heardAtMs.get(peer) ?? this.nowMs);
    }
    this.heardAtMs.clear();
    for (const [peer, heardAtMs] of now) this.heardAtMs.set(peer, heardAtMs);
    const suspected = this.suspected.filter((peer) => now.has(peer));
    if (suspected.length === 0 && this.suspected.length === 0) return [];
    this.suspected = suspected;
    return [{ kind: 'suspect', peers: suspected, epoch: this.epoch }];
  }

  private heartbeatTo(peer: string): Effect<Op> {
    const toSuccessor = peer === this.successor;
    // A node grants a lease only while its own coordinator session is connected: one that lost
    // the coordinator may have been removed without hearing of it (its session then expires a
    // third of the timeout later, and the lease is shorter than that: core/limits.ts).
    const granting = toSuccessor && this.sessionConnected && this.successorStamp !== undefined;
    const echoMs = granting ? this.successorStamp!.stampMs : -1;
    const wantEcho = !toSuccessor && this.isTail && this.leaseUntilMs - this.nowMs < this.leaseMs / 2;
    return this.send(peer, { kind: 'heartbeat', stampMs: this.nowMs, echoMs, wantEcho });
  }

  private heartbeat(message: Extract<ChainMessage<Op>, { kind: 'heartbeat' }>): Effect<Op>[] {
    if (message.from === this.predecessor) {
      this.renewLease(message.echoMs);
      return [];
    }
    if (message.from !== this.successor) return [];
    if (this.successorStamp === undefined || message.stampMs > this.successorStamp.stampMs) {
      this.successorStamp = { stampMs: message.stampMs, heardAtMs: this.nowMs };
    }
    return message.wantEcho ? [this.heartbeatTo(message.from)] : [];
  }

  /** The predecessor echoed a stamp of this node's: reads may be served until it + the lease. */
  private renewLease(echoMs: number): void {
    if (echoMs < this.leaseFromMs || echoMs > this.nowMs) return; // not an answer to this relation, or garbage
    this.leaseUntilMs = Math.max(this.leaseUntilMs, echoMs + this.leaseMs);
  }

  /** The tail commits up to `limit` (see tailCommitLimit), unless it waits out an old tail's lease. */
  private tailCommit(limit: number): Effect<Op>[] {
    if (this.holding) {
      this.holdPending = true;
      return [];
    }
    return this.commit(this.tailCommitLimit(limit));
  }

  private reportJoinerIfCaughtUp(): Effect<Op>[] {
    const joiner = this.joiner;
    if (joiner === undefined || joiner.reported || joiner.sent === undefined) return [];
    if (joiner.acked < this.persistedSequence) return [];
    joiner.reported = true;
    return [{ kind: 'caught-up', joiner: joiner.id }];
  }

  /** What this node knows to be committed in the chain (it may not hold all of it yet). */
  private committedMark(): number | undefined {
    if (this.readFloor === Number.POSITIVE_INFINITY) return undefined;
    return Math.max(this.committedSequence, this.readFloor);
  }

  /** Asks the tail to bring this joiner up to date from the end of its log, once all of it is durable. */
  private askToJoin(): Effect<Op>[] {
    this.joinAskedAtMs = this.nowMs;
    if (this.persistedSequence < this.lastSequence) {
      this.joinPhase = 'waiting-disk'; // `persisted` asks once the disk has caught up
      return [];
    }
    this.joinPhase = 'asked';
    return [
      this.send(this.tailId!, { kind: 'join', lastSequence: this.persistedSequence, lastEpoch: this.persistedEpoch }),
    ];
  }

  // ---- steps --------------------------------------------------------------------------------

  private append(entries: readonly LogEntry<Op>[]): void {
    for (const entry of entries) {
      assert(entry.sequence === this.lastSequence + 1, 'the log has no gaps (prefix property)');
      assert(entry.epoch >= this.lastEpoch, 'epochs never go down along the log');
      this.pending.push(entry);
      this.lastSequence = entry.sequence;
      this.lastEpoch = entry.epoch;
    }
  }

  private receive(entries: readonly LogEntry<Op>[]): Effect<Op>[] {
    let answer = false;
    if (this.role === 'joining') {
      answer = this.joinPhase === 'asked';
      this.joinPhase = 'answered';
    }
    const fresh = entries.filter((entry) => entry.sequence > this.lastSequence);
    if (fresh.length === 0) {
      // The tail found this joiner's log continues its own and had nothing to add (an empty
      // catch-up): acknowledging what is durable here is how it learns the joiner caught up.
      // (Later empty frames carry only the tail's mark: no answer to them.)
      if (answer && this.persistedSequence === this.lastSequence) {
        return [this.send(this.tailId!, { kind: 'ack', sequence: this.persistedSequence })];
      }
      return [];
    }
    if (fresh[0]!.sequence !== this.lastSequence + 1) {
      // A gap: something before was lost with an old connection. Ask again from our end.
      const ask = { lastSequence: this.lastSequence, lastEpoch: this.lastEpoch };
      if (this.role === 'joining') return this.askToJoin();
      return [this.send(this.predecessor!, { kind: 'hello', ...ask })];
    }
    this.append(fresh);
    // Forwarded in the same step (markRose, called next): no wait for this node's own fsync.
    return [{ kind: 'persist', entries: fresh }];
  }

  /**
   * Sends the successor every entry it has not been sent, durable here or not, with the durable
   * mark; or the mark alone when it rose and no entry is going.
   */
  private forward(): Effect<Op>[] {
    const successor = this.successor;
    if (successor === undefined) return [];
    const mark = this.durableMark();
    let entries: LogEntry<Op>[] = [];
    if (this.sentSequence < this.lastSequence) {
      const first = this.pending.findIndex((e) => e.sequence > this.sentSequence);
      entries = first < 0 ? [] : this.pending.slice(first);
    }
    if (entries.length === 0 && mark <= this.markSent) return [];
    if (entries.length > 0) this.sentSequence = entries[entries.length - 1]!.sequence;
    this.markSent = Math.max(this.markSent, mark);
    return [this.send(successor, { kind: 'entries', entries, mark })];
  }

  private resendAfter(lastSequence: number): Effect<Op>[] {
    // A successor holds only what this node sent it; a claim beyond this node's log is not from
    // this chain's history (or is garbage): ignore it.
    if (lastSequence > this.lastSequence) return [];
    const effects: Effect<Op>[] = [];
    if (lastSequence < this.committedSequence) {
      // Committed entries are no longer pending (a new tail that was a joiner may lack some):
      // they come from the durable log.
      const from = { sequence: lastSequence, epoch: 0 };
      effects.push({
        kind: 'catch-up',
        to: this.successor!,
        from,
        upTo: this.committedSequence,
        epoch: this.epoch,
        mark: this.durableMark(),
        trusted: true,
      });
    }
    this.sentSequence = Math.max(lastSequence, this.committedSequence);
    this.markSent = 0; // said again with what follows: the successor may have missed it
    // Repeated for a successor that missed it: what it must hold before it may serve reads.
    const mark = this.committedMark();
    if (mark !== undefined) effects.push(this.send(this.successor!, { kind: 'committed', sequence: mark }));
    return [...effects, ...this.forward()];
  }

  private newJoiner(id: string): NonNullable<ChainNode['joiner']> {
    return { id, sent: undefined, acked: 0, reported: false, markSent: 0 };
  }

  /** How far the tail may commit: once a joiner was reported caught up, only what it acknowledged. */
  private tailCommitLimit(sequence: number): number {
    const joiner = this.joiner;
    return joiner?.reported === true ? Math.min(sequence, joiner.acked) : sequence;
  }

  /** At the tail: a joiner said where its log ends. Nothing is forwarded until it confirms the catch-up. */
  private startCatchUp(joiner: string, lastSequence: number, lastEpoch: number): Effect<Op>[] {
    // Asking again (a lost reply, a new connection) keeps what it acknowledged and whether it was
    // reported: the manager may still append it.
    const known = this.joiner?.id === joiner ? this.joiner : undefined;
    this.joiner = { ...(known ?? this.newJoiner(joiner)), sent: undefined, markSent: 0 };
    const from = { sequence: lastSequence, epoch: lastEpoch };
    // A joiner that acknowledged entries from this tail holds a log that continues this one (it
    // takes entries from nowhere else), at least up to what it acknowledged: it is brought up by
    // entries, never by a snapshot that would wipe what it acknowledged (it may have been
    // reported caught up, and the manager may append it at any moment).
    const trusted = known !== undefined && known.acked > 0 && lastSequence >= known.acked;
    return [
      {
        kind: 'catch-up',
        to: joiner,
        from,
        upTo: this.persistedSequence,
        epoch: this.epoch,
        mark: this.durableMark(),
        trusted,
      },
    ];
  }

  /**
   * At the tail: new durable entries go to a joiner whose log is known to follow this one, from
   * the durable log, with the mark (so the joiner applies what is committed); the mark alone when
   * only it rose.
   */
  private forwardToJoiner(): Effect<Op>[] {
    const joiner = this.joiner;
    if (joiner?.sent === undefined) return [];
    const mark = this.durableMark();
    if (joiner.sent >= this.persistedSequence) {
      if (mark <= joiner.markSent) return [];
      joiner.markSent = mark;
      return [this.send(joiner.id, { kind: 'entries', entries: [], mark })];
    }
    const from = { sequence: joiner.sent, epoch: 0 };
    joiner.sent = this.persistedSequence;
    joiner.markSent = mark;
    return [
      { kind: 'catch-up', to: joiner.id, from, upTo: this.persistedSequence, epoch: this.epoch, mark, trusted: true },
    ];
  }

  private joinerAcked(sequence: number): Effect<Op>[] {
    const joiner = this.joiner;
    if (joiner === undefined) return [];
    // An acknowledgement means its log is a prefix of this one up to `sequence`.
    if (joiner.sent === undefined || joiner.sent < sequence) joiner.sent = sequence;
    if (sequence > joiner.acked) joiner.acked = sequence;
    const effects: Effect<Op>[] = [];
    if (joiner.reported) effects.push(...this.tailCommit(this.durableMark()));
    if (sequence >= this.persistedSequence && !this.holding) {
      // (A tail waiting out a lease reports no joiner: appended, it would commit at once.)
      joiner.reported = true;
      effects.push({ kind: 'caught-up', joiner: joiner.id });
      return effects;
    }
    effects.push(...this.forwardToJoiner());
    return effects;
  }

  /** At a joiner: the tail's state replaces this node's, divergent suffix and all. */
  private install(snapshot: Extract<ChainMessage<Op>, { kind: 'snapshot' }>): Effect<Op>[] {
    this.pending = [];
    this.lastSequence = snapshot.sequence;
    this.lastEpoch = snapshot.lastEpoch;
    this.persistedSequence = snapshot.sequence;
    this.persistedEpoch = snapshot.lastEpoch;
    this.committedSequence = snapshot.sequence; // a snapshot holds committed state only
    this.predecessorMark = Math.max(this.predecessorMark, snapshot.sequence);
    this.joinAskedAtMs = this.nowMs;
    this.joinPhase = 'answered';
    return [
      { kind: 'install', sequence: snapshot.sequence, lastEpoch: snapshot.lastEpoch, state: snapshot.state },
      this.send(snapshot.from, { kind: 'ack', sequence: snapshot.sequence }),
    ];
  }

  /** Everything <= `sequence` (and durable here) is committed: apply it, answer its clients, ack it up. */
  private commit(sequence: number): Effect<Op>[] {
    const upTo = Math.min(sequence, this.persistedSequence);
    if (upTo <= this.committedSequence) return [];
    this.committedSequence = upTo;
    let kept = 0;
    while (kept < this.pending.length && this.pending[kept]!.sequence <= upTo) kept += 1;
    if (kept > 0) this.pending = this.pending.slice(kept);
    const effects: Effect<Op>[] = [{ kind: 'apply', upTo }];
    for (const [seq, requestId] of this.waiting) {
      if (seq > upTo) continue;
      this.waiting.delete(seq);
      effects.push({ kind: 'reply', requestId, sequence: seq });
    }
    const predecessor = this.predecessor;
    if (predecessor !== undefined) effects.push(this.send(predecessor, { kind: 'ack', sequence: upTo }));
    return effects;
  }

  private send(to: string, body: DistributiveOmit<ChainMessage<Op>, 'epoch' | 'from'>): Effect<Op> {
    return { kind: 'send', to, message: { ...body, epoch: this.epoch, from: this.self } as ChainMessage<Op> };
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
