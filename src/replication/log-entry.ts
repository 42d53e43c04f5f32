// The unit of replication: one write, placed in a chain's log by the head (docs/design.md §3.1).
// The operation is opaque to the replication core: the node's storage layer applies it, and
// keeps the per-client table that makes a retried write return its first result (§3.6).

export interface RequestId {
  readonly clientId: string;
  /** Increases with each new write of that client; a retry reuses it. */
  readonly clientSequence: number;
}

export interface LogEntry<Op = unknown> {
  /** Position in the chain's log: 1, 2, 3, ... without gaps. */
  readonly sequence: number;
  /** The configuration epoch of the head that placed it. */
  readonly epoch: number;
  readonly requestId: RequestId;
  readonly operation: Op;
}

export const sameRequest = (a: RequestId, b: RequestId): boolean =>
  a.clientId === b.clientId && a.clientSequence === b.clientSequence;
