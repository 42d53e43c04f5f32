// Messages between the members of one chain. Every message carries the sender's epoch; a node
// accepts a message only from its current predecessor (entries, hello-from-below is the
// successor's) or successor (acks, hello) in its current configuration, and only at its own
// epoch (docs/design.md §3.4). A message from another epoch is dropped, never answered.

import type { LogEntry } from './log-entry.js';

export type ChainMessage<Op = unknown> =
  /**
   * Predecessor -> successor (or tail -> joiner): entries in sequence order, continuing the
   * successor's log, possibly none. `mark` is the sender's durable mark: every sequence <= mark is
   * durable on the sender and on every node above it (docs/design.md §3.3). A frame with no
   * entries carries only the mark (the sender's fsync finished and nothing else was going down).
   */
  | { kind: 'entries'; epoch: number; from: string; entries: readonly LogEntry<Op>[]; mark: number }
  /** Successor -> predecessor: every sequence <= `sequence` is committed (durable on every member). */
  | { kind: 'ack'; epoch: number; from: string; sequence: number }
  /**
   * Successor -> predecessor, on every configuration change that gives it a new predecessor:
   * "my log ends here". The predecessor re-sends everything after it (the middle-failure rule,
   * §3.7) and acknowledges what it already knows is committed.
   */
  | { kind: 'hello'; epoch: number; from: string; lastSequence: number; lastEpoch: number }
  /**
   * Predecessor -> a new successor: everything <= `sequence` is committed. A joiner that just
   * became tail serves no read before it holds all of it (it may still be receiving it).
   */
  | { kind: 'committed'; epoch: number; from: string; sequence: number }
  /** Joiner -> tail (§3.8): "my durable log ends at (lastSequence, lastEpoch); bring me up to date". */
  | { kind: 'join'; epoch: number; from: string; lastSequence: number; lastEpoch: number }
  /**
   * Tail -> joiner, when the joiner's log is not a prefix of the tail's (or is too old): the
   * tail's whole state at `sequence`, opaque to the core. The joiner discards its own first.
   */
  | { kind: 'snapshot'; epoch: number; from: string; sequence: number; lastEpoch: number; state: unknown }
  /**
   * Member -> its predecessor and its successor, every heartbeat interval (§3.5, §3.7): "I am
   * alive". `stampMs` is the sender's monotonic clock. To its successor a node also echoes the
   * last stamp it received from it (`echoMs`, -1 for none): the successor's read lease runs
   * until that stamp + the lease time, on its own clock. `wantEcho` asks the predecessor to echo
   * at once (the lease is running low, or a new predecessor has not granted one yet).
   */
  | { kind: 'heartbeat'; epoch: number; from: string; stampMs: number; echoMs: number; wantEcho: boolean };
