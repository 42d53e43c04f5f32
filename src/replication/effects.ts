// What the chain-node core asks its shell to do. The core returns effects in the order they must
// be carried out, and this ordering contract is what makes chain replication safe:
//
//   1. `persist` before anything that depends on it: an entry is sent downstream only after the
//      shell has reported it persisted (the core emits the `send` only on `persisted` input), so
//      an acknowledged write is on the disk of every replica (§3.9);
//   2. `send` messages to one peer in the order returned (the shell keeps one FIFO connection per
//      peer and drops a connection rather than reorder);
//   3. `reply` only for committed sequences: the shell answers the client with the result it
//      recorded when it applied that entry.
//
// The shell reports back with inputs: `persisted` once a `persist` is durable (persists complete
// in order), and messages as they arrive.

import type { LogEntry, RequestId } from './log-entry.js';
import type { ChainMessage } from './messages.js';

export type Effect<Op = unknown> =
  /** Append these entries to the local log and apply them to the store, in one transaction. */
  | { kind: 'persist'; entries: readonly LogEntry<Op>[] }
  | { kind: 'send'; to: string; message: ChainMessage<Op> }
  /** The write with this request id is committed at this sequence: answer its client. */
  | { kind: 'reply'; requestId: RequestId; sequence: number }
  /**
   * Bring a peer from `from` up to `upTo` using the durable log: if the log holds the entry
   * `from.sequence` with epoch `from.epoch` (or `from.sequence` is 0), send the entries after it
   * as `entries` messages; otherwise (a divergent or trimmed log) send a `snapshot` of the state
   * at `upTo`. Messages are stamped with `epoch`. With `trusted`, the peer's log is known to be a
   * prefix of this one (no check needed).
   */
  | {
      kind: 'catch-up';
      to: string;
      from: { sequence: number; epoch: number };
      upTo: number;
      epoch: number;
      trusted: boolean;
    }
  /** Replace the local state and log with this snapshot (durably) before anything after it. */
  | { kind: 'install'; sequence: number; lastEpoch: number; state: unknown }
  /** Tell the coordinator that this joiner holds everything this tail has (§3.8). */
  | { kind: 'caught-up'; joiner: string }
  /** The write cannot be taken here (not the head, no configuration): the client should retry elsewhere. */
  | { kind: 'reject'; requestId: RequestId; reason: 'not-head' | 'no-configuration' };
