// A chain's configuration, as the replication core reads it and the coordinator stores it
// (docs/design.md §2): its members in order (head first, tail last), the joining node catching up to
// become the new tail, and the epoch, raised by every change. The manager computes new configurations from old ones (manager.ts).

export interface ChainConfig {
  readonly chainId: string;
  /** Raised by one on every change; nodes reject messages from lower epochs. */
  readonly epoch: number;
  /** Head first, tail last. Never empty once the chain has started. */
  readonly members: readonly string[];
  /** A node receiving state from the tail, not yet a member. */
  readonly joining: string | undefined;
  /**
   * Time (ms, the manager's clock) before which the tail must not serve reads: set when a tail
   * is appended or promoted while the old tail's session may still be alive, so an isolated old
   * tail's read lease has surely run out first (docs/design.md §3.5).
   */
  readonly readsAllowedAtMs: number;
  /**
   * Which members were removed on peers' reports, and when (the manager's clock, ms), within the
   * last window (core/limits.ts reportRemovalWindowMs): a node removed reportRemovalsPerNodeMax
   * times in it is removed again only when its session expires, so a flapping node or link
   * cannot make the chain churn.
   */
  readonly reportRemovals?: readonly (readonly [node: string, atMs: number])[];
  /**
   * Set when this change removed the tail without a report (its session expired, or it
   * restarted): the new tail commits and serves nothing until leaseWaitMs after it learned this
   * configuration, since the old tail may have granted a lease to a node removed earlier that
   * never heard of it (docs/design.md §3.5).
   */
  readonly leaseWait?: boolean;
}

export const head = (config: ChainConfig): string | undefined => config.members[0];
export const tail = (config: ChainConfig): string | undefined => config.members[config.members.length - 1];
