// The catch-up rule (docs/design.md §3.7, §3.8), in one place: when the core asks a node to bring a
// peer up to date (the `catch-up` effect), does the node send the entries the peer lacks (a
// delta), stream it a snapshot of its state, or let it ask again first?
//
//   peer's log ends at (s, e)        this node's log holds ... (s, e') ... upTo
//     s > upTo, untrusted ───────────▶ defer (a few times), then snapshot
//     entries s+1..upTo all held, and the entry at s has epoch e (or s = 0, or trusted) ──▶ delta
//     anything else ─────────────────▶ snapshot (the peer's suffix diverged, or was trimmed here)
//
// Pure: the node's log is read through `CatchUpLog`, so the replica (over its log store), the
// scenario runner (over an array) and any test decide with the very same function.

/** What the rule needs to know of the deciding node's log. */
export interface CatchUpLog {
  /** The first sequence still held (entries below were trimmed, or came in a snapshot); undefined when the log is empty. */
  firstHeld(): number | undefined;
  /** The sequence of the snapshot this node's log continues, if it installed one. */
  installedAt(): number | undefined;
  /**
   * The epoch of the entry at `sequence`: from the log, or from the installed snapshot's position
   * when the log continues it there; undefined when neither holds it.
   */
  epochAt(sequence: number): number | undefined;
}

export interface CatchUpRequest {
  /** Where the peer's log ends. */
  readonly from: { readonly sequence: number; readonly epoch: number };
  /** The last sequence the peer should get (this node's committed or persisted end). */
  readonly upTo: number;
  /** The peer is a member this node already sent entries to: its log is known to continue ours. */
  readonly trusted: boolean;
  /** How often this peer's catch-up was put off already because its log was longer. */
  readonly deferrals: number;
  readonly deferralsMax: number;
  /** An untrusted peer further behind than this gets a snapshot rather than a long delta. */
  readonly deltaEntriesMax: number;
}

export type CatchUpDecision =
  | { readonly kind: 'delta' }
  | { readonly kind: 'snapshot' }
  /** The peer's log is longer than this one: it may hold entries still on their way here. */
  | { readonly kind: 'defer' };

export function decideCatchUp(request: CatchUpRequest, log: CatchUpLog): CatchUpDecision {
  const { from, upTo, trusted } = request;
  if (!trusted && from.sequence > upTo && request.deferrals < request.deferralsMax) return { kind: 'defer' };
  return deltaPossible(request, log) ? { kind: 'delta' } : { kind: 'snapshot' };
}

function deltaPossible(request: CatchUpRequest, log: CatchUpLog): boolean {
  const { from, upTo, trusted } = request;
  if (from.sequence > upTo) return false;
  // A joiner far behind is better served by a snapshot; a member cannot take one (only a joiner
  // installs snapshots), so it gets the entries a bounded batch at a time (it asks again).
  if (!trusted && upTo - from.sequence > request.deltaEntriesMax) return false;
  // Every entry after `from` must still be held (not trimmed, not before a snapshot).
  const firstHeld = log.firstHeld() ?? upTo + 1;
  if (from.sequence < upTo && firstHeld > from.sequence + 1) return false;
  if (from.sequence === 0 && upTo > 0 && log.installedAt() !== undefined) return false;
  if (trusted || from.sequence === 0) return true;
  return log.epochAt(from.sequence) === from.epoch;
}

/** The rule's view of a log kept as an array of entries from sequence 1 (never trimmed, no snapshot). */
export function arrayCatchUpLog(entries: readonly { readonly sequence: number; readonly epoch: number }[]): CatchUpLog {
  return {
    firstHeld: () => entries[0]?.sequence,
    installedAt: () => undefined,
    epochAt: (sequence) => entries[sequence - (entries[0]?.sequence ?? 1)]?.epoch,
  };
}
