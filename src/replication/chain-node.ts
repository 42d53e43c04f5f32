// One member of one chain, as a pure state machine (DESIGN.md §3, §4): inputs are method calls,
// outputs are effects (effects.ts) in the order they must be carried out. No I/O, no clock, no
// randomness: time arrives with `tick`, everything else as messages and shell reports.
//
//   client write ──▶ head: sequence it, persist ──(persisted)──▶ send entries to successor
//   entries ──▶ middle/tail: append, persist ──(persisted)──▶ middle: send on; tail: commit, ack up
//   ack(s) ──▶ every node: committed = s, drop pending <= s, head replies, pass the ack up
//
// Reconfiguration (§3.7): a node with a new successor re-sends every pending entry (the
// successor drops what it has); a node with a new predecessor says `hello` with the end of its
// log, and the predecessor re-sends from there. Whichever of the two learns the new epoch last
// triggers the transfer that succeeds, so neither order of learning loses entries. A node that
// becomes tail commits everything it has persisted and acknowledges it at once.
//
// Not yet here (issue #3): joining by snapshot + delta (a joiner is not a member, so this core
// ignores it), restart catch-up, and read-lease renewal by heartbeats.

import { assert } from '../core/assert.js';
import type { ChainConfig } from '../coordination/chain-config.js';
import type { Effect } from './effects.js';
import type { LogEntry, RequestId } from './log-entry.js';
import type { ChainMessage } from './messages.js';

export type Role = 'head' | 'middle' | 'tail' | 'head-and-tail' | 'outside';

export interface ChainNodeOptions {
  readonly self: string;
  /** End of the durable log found at start (0, 0 for an empty node). */
  readonly lastSequence?: number;
  readonly lastEpoch?: number;
}

export class ChainNode<Op = unknown> {
  readonly self: string;
  private config: ChainConfig | undefined;
  /** Last entry in the local log (persisted or being persisted). */
  private lastSequence: number;
  private lastEpoch: number;
  /** Last entry known durable here. */
  private persistedSequence: number;
  /** Last entry known applied at the tail. */
  private committedSequence: number;
  /** Entries after `committedSequence`, in order: kept to re-send after a reconfiguration. */
  private pending: LogEntry<Op>[] = [];
  /** Highest sequence sent to the current successor. */
  private sentSequence = 0;
  /** At the head: sequence -> the client write waiting for it to commit. */
  private readonly waiting = new Map<number, RequestId>();
  private sessionConnected = false;
  private nowMs = 0;

  constructor(options: ChainNodeOptions) {
    this.self = options.self;
    this.lastSequence = options.lastSequence ?? 0;
    this.lastEpoch = options.lastEpoch ?? 0;
    this.persistedSequence = this.lastSequence;
    this.committedSequence = 0;
  }

  // ---- queries ------------------------------------------------------------------------------

  get role(): Role {
    const members = this.config?.members ?? [];
    const index = members.indexOf(this.self);
    if (index < 0) return 'outside';
    if (members.length === 1) return 'head-and-tail';
    if (index === 0) return 'head';
    return index === members.length - 1 ? 'tail' : 'middle';
  }

  get epoch(): number {
    return this.config?.epoch ?? 0;
  }

  get progress(): { last: number; lastEpoch: number; persisted: number; committed: number; pending: number } {
    return {
      last: this.lastSequence,
      lastEpoch: this.lastEpoch,
      persisted: this.persistedSequence,
      committed: this.committedSequence,
      pending: this.pending.length,
    };
  }

  /** Reads are linearizable only at the tail, while its session is connected, after any lease wait (§3.5). */
  canServeReads(): boolean {
    const role = this.role;
    if (role !== 'tail' && role !== 'head-and-tail') return false;
    return this.sessionConnected && this.nowMs >= (this.config?.readsAllowedAtMs ?? 0);
  }

  private get predecessor(): string | undefined {
    const members = this.config?.members ?? [];
    const index = members.indexOf(this.self);
    return index > 0 ? members[index - 1] : undefined;
  }

  private get successor(): string | undefined {
    const members = this.config?.members ?? [];
    const index = members.indexOf(this.self);
    return index >= 0 && index + 1 < members.length ? members[index + 1] : undefined;
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
    return [{ kind: 'persist', entries: [entry] }];
  }

  /** The shell made every entry up to `sequence` durable (persists complete in order). */
  persisted(sequence: number): Effect<Op>[] {
    assert(sequence <= this.lastSequence, 'only issued entries can be persisted');
    if (sequence <= this.persistedSequence) return [];
    this.persistedSequence = sequence;
    if (this.isTail) return this.commit(sequence);
    return this.forward();
  }

  message(message: ChainMessage<Op>): Effect<Op>[] {
    if (this.config === undefined || message.epoch !== this.config.epoch) return []; // fenced (§3.4)
    switch (message.kind) {
      case 'entries':
        return message.from === this.predecessor ? this.receive(message.entries) : [];
      case 'ack':
        return message.from === this.successor ? this.commit(message.sequence) : [];
      case 'hello':
        return message.from === this.successor ? this.resendAfter(message.lastSequence) : [];
    }
  }

  /** A new configuration of this node's chain (epochs only go up). */
  configure(config: ChainConfig): Effect<Op>[] {
    if (this.config !== undefined && config.epoch <= this.config.epoch) return [];
    const before = { predecessor: this.predecessor, successor: this.successor, tail: this.isTail };
    this.config = config;
    const effects: Effect<Op>[] = [];
    if (this.role === 'outside') {
      this.waiting.clear(); // removed: its clients will time out and retry at the new head
      return effects;
    }
    if (this.role !== 'head' && this.role !== 'head-and-tail') this.waiting.clear();
    const predecessor = this.predecessor;
    if (predecessor !== undefined && predecessor !== before.predecessor) {
      effects.push(
        this.send(predecessor, { kind: 'hello', lastSequence: this.lastSequence, lastEpoch: this.lastEpoch }),
      );
    }
    if (this.isTail && !before.tail) {
      effects.push(...this.commit(this.persistedSequence)); // the tail's state is the committed state
    } else if (this.isTail && predecessor !== undefined && predecessor !== before.predecessor) {
      effects.push(this.send(predecessor, { kind: 'ack', sequence: this.committedSequence }));
    }
    const successor = this.successor;
    if (successor !== undefined && successor !== before.successor) {
      this.sentSequence = this.committedSequence; // it has at least what is committed
      effects.push(...this.forward());
    }
    return effects;
  }

  sessionChanged(connected: boolean): Effect<Op>[] {
    this.sessionConnected = connected;
    return [];
  }

  tick(nowMs: number): Effect<Op>[] {
    this.nowMs = Math.max(this.nowMs, nowMs);
    return [];
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
    const fresh = entries.filter((entry) => entry.sequence > this.lastSequence);
    if (fresh.length === 0) return [];
    if (fresh[0]!.sequence !== this.lastSequence + 1) {
      // A gap: something before was lost with an old connection. Ask again from our end.
      return [
        this.send(this.predecessor!, { kind: 'hello', lastSequence: this.lastSequence, lastEpoch: this.lastEpoch }),
      ];
    }
    this.append(fresh);
    return [{ kind: 'persist', entries: fresh }];
  }

  /** Sends the successor every persisted entry it has not been sent. */
  private forward(): Effect<Op>[] {
    const successor = this.successor;
    if (successor === undefined || this.sentSequence >= this.persistedSequence) return [];
    const entries = this.pending.filter((e) => e.sequence > this.sentSequence && e.sequence <= this.persistedSequence);
    if (entries.length === 0) return [];
    this.sentSequence = entries[entries.length - 1]!.sequence;
    return [this.send(successor, { kind: 'entries', entries })];
  }

  private resendAfter(lastSequence: number): Effect<Op>[] {
    assert(lastSequence <= this.persistedSequence, 'a successor holds only what this node sent it');
    this.sentSequence = Math.max(lastSequence, this.committedSequence);
    return this.forward();
  }

  private commit(sequence: number): Effect<Op>[] {
    const upTo = Math.min(sequence, this.persistedSequence);
    if (upTo <= this.committedSequence) return [];
    this.committedSequence = upTo;
    this.pending = this.pending.filter((entry) => entry.sequence > upTo);
    const effects: Effect<Op>[] = [];
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
