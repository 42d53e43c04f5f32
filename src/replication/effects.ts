// What the chain-node core asks its shell to do. The core returns effects in the order they must
// be carried out, and this ordering contract is what makes chain replication safe (docs/design.md
// §3.3, §3.5):
//
//   1. `persist` appends entries to the local log; the shell reports `persisted` once they are
//      durable (persists complete in order). The entries travel downstream at once, in a `send`
//      that may come before the persist is durable: the durable mark carried with them says what
//      is durable above, and the tail commits only what is durable on every member.
//   2. `apply` makes committed entries visible: the readable state holds committed entries only,
//      so nothing a crash could still lose is ever read. It comes before the `reply` and the
//      `ack` of the same commit.
//   3. `send` messages to one peer in the order returned (the shell keeps one FIFO connection per
//      peer and drops a connection rather than reorder);
//   4. `reply` only for committed sequences: the shell answers the client with the result it
//      recorded when it applied that entry.

import type { LogEntry, RequestId } from './log-entry.js';
import type { ChainMessage } from './messages.js';

export type Effect<Op = unknown> =
  /** Append these entries to the local log (durably: report `persisted`), without applying them. */
  | { kind: 'persist'; entries: readonly LogEntry<Op>[] }
  /**
   * Every entry up to `upTo` is committed: apply those not applied yet, in sequence order, to the
   * readable state (from the shell's memory or its durable log; all of them are durable here).
   */
  | { kind: 'apply'; upTo: number }
  | { kind: 'send'; to: string; message: ChainMessage<Op> }
  /** The write with this request id is committed at this sequence: answer its client. */
  | { kind: 'reply'; requestId: RequestId; sequence: number }
  /**
   * Bring a peer from `from` up to `upTo` using the durable log: if the log holds the entry
   * `from.sequence` with epoch `from.epoch` (or `from.sequence` is 0), send the entries after it
   * as `entries` messages carrying `mark`; otherwise (a divergent or trimmed log) send a
   * `snapshot` of the committed state. Messages are stamped with `epoch`. With `trusted`, the
   * peer's log is known to be a prefix of this one (no check needed).
   */
  | {
      kind: 'catch-up';
      to: string;
      from: { sequence: number; epoch: number };
      upTo: number;
      epoch: number;
      mark: number;
      trusted: boolean;
    }
  /** Replace the local state and log with this snapshot (durably) before anything after it. */
  | { kind: 'install'; sequence: number; lastEpoch: number; state: unknown }
  /** Tell the coordinator that this joiner holds everything this tail has (§3.8). */
  | { kind: 'caught-up'; joiner: string }
  /**
   * The neighbours this node now suspects (heard nothing from for the suspicion timeout, or
   * their connection closed and did not come back), at this epoch: the shell reports them to the
   * manager (replacing its last report; none withdraws it).
   */
  | { kind: 'suspect'; peers: readonly string[]; epoch: number }
  /** The write cannot be taken here (not the head, no configuration): the client should retry elsewhere. */
  | { kind: 'reject'; requestId: RequestId; reason: 'not-head' | 'no-configuration' };
