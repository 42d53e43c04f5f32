// The manager's decisions, pure: from what the coordinator says (which nodes have live
// sessions, which joiners have caught up, the time) and the current configuration of a chain,
// compute the next configuration, or none. The elected manager's thin driver writes it with a
// compare-and-set that also checks it still holds the manager lock (docs/design.md §2).
//
// Rules (docs/design.md §3.7, §3.8):
//   * a member whose session is gone is removed; the last live member of a chain is never
//     removed: if every member is down the chain waits for one to come back;
//   * a node that is neither member nor joining, and is live, may become the joiner (one at a time);
//   * a joiner that has caught up with the tail is appended as the new tail;
//   * when a tail is removed while it may still be serving (on a peer's report, before its
//     session expired), the new tail serves reads only after the old one's read lease has run
//     out. Appending a joiner needs no wait: once the tail has reported the joiner caught up it
//     commits (and serves reads of) only what the joiner has acknowledged, so the new tail holds
//     every committed entry even if the old tail dies before forwarding more ('joiner caught up
//     old tail dies' and 'join under load' scenarios);
//   * every change raises the epoch by exactly one, and one decision makes one change, so each
//     step is small and every node sees every configuration in order.

import { assert } from '../core/assert.js';
import type { ChainConfig } from '../replication/chain-config.js';

export interface ClusterView {
  /** Nodes whose coordinator sessions are live. */
  readonly liveNodes: ReadonlySet<string>;
  /** Nodes reported dead by a peer whose sessions have not expired yet (faster failover). */
  readonly suspectedNodes: ReadonlySet<string>;
  /** Joiners that report they have caught up with the tail of this chain. */
  readonly caughtUp: ReadonlySet<string>;
  /** Live nodes waiting to join this chain, in the order they asked. */
  readonly candidates: readonly string[];
  readonly nowMs: number;
  /** The coordinator session timeout: an old tail has stopped serving reads this long after the change. */
  readonly sessionTimeoutMs: number;
  /**
   * Members that restarted and wait to be removed before they rejoin (live, but not in
   * `liveNodes`). Dead members are removed before them, so that when a chain is down to one
   * member it is one that holds the data rather than one that may never return.
   */
  readonly restartedNodes?: ReadonlySet<string>;
}

export type Decision = { kind: 'none'; reason: string } | { kind: 'change'; config: ChainConfig; why: string };

function next(config: ChainConfig, change: Partial<ChainConfig>, why: string): Decision {
  const updated: ChainConfig = { ...config, ...change, epoch: config.epoch + 1 };
  assert(updated.members.length > 0, 'a chain always keeps at least one member');
  assert(new Set(updated.members).size === updated.members.length, 'members are distinct');
  assert(updated.joining === undefined || !updated.members.includes(updated.joining), 'a joiner is not a member');
  return { kind: 'change', config: updated, why };
}

export function decide(config: ChainConfig, view: ClusterView): Decision {
  assert(config.members.length > 0, 'a running chain has members');
  const alive = (node: string) => view.liveNodes.has(node) && !view.suspectedNodes.has(node);
  const dead = config.members.filter((node) => !alive(node));
  if (dead.length > 0) {
    const gone = dead.find((node) => view.restartedNodes?.has(node) !== true);
    return removeDead(config, view, gone ?? dead[0]!);
  }
  if (config.joining !== undefined && !alive(config.joining)) {
    return next(config, { joining: undefined }, `joiner ${config.joining} is gone`);
  }
  if (config.joining !== undefined && view.caughtUp.has(config.joining)) {
    return next(
      config,
      {
        members: [...config.members, config.joining],
        joining: undefined,
      },
      `joiner ${config.joining} caught up: appended as tail`,
    );
  }
  if (config.joining === undefined) {
    const candidate = view.candidates.find((node) => alive(node) && !config.members.includes(node));
    if (candidate !== undefined) return next(config, { joining: candidate }, `${candidate} starts joining`);
  }
  return { kind: 'none', reason: 'the chain is as it should be' };
}

function removeDead(config: ChainConfig, view: ClusterView, node: string): Decision {
  const remaining = config.members.filter((member) => member !== node);
  if (remaining.length === 0) {
    return { kind: 'none', reason: `${node} is the last member: the chain waits for it to return` };
  }
  const wasTail = config.members[config.members.length - 1] === node;
  // A tail removed on suspicion may still be serving reads until its lease runs out.
  const leaseRunning = wasTail && view.suspectedNodes.has(node) && view.liveNodes.has(node);
  return next(
    config,
    {
      members: remaining,
      readsAllowedAtMs: leaseRunning
        ? Math.max(config.readsAllowedAtMs, view.nowMs + view.sessionTimeoutMs)
        : config.readsAllowedAtMs,
    },
    `${node} removed (${wasTail ? 'tail' : node === config.members[0] ? 'head' : 'middle'})`,
  );
}
