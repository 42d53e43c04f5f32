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
//   * a member is removed on a peer's report (docs/design.md §3.7) — faster than its session
//     expires — when the report is at the current epoch and comes from its judge: its
//     predecessor, or for the head its successor; and only once the member has published that
//     it stands at the current epoch, settled (not a new tail still waiting out the old tail's
//     lease). Then every read lease it may hold was granted by its judge, which stopped granting
//     when it stopped hearing from it, and if it was the tail, the judge is the new tail and
//     waits out that lease itself (chain-node.ts) before it commits or serves. Of several nodes
//     reported, the one with most accusers goes (a node that reports every neighbour counts as
//     accused once more: it is likelier the one cut off), ties to the one further down. At most
//     reportRemovalsPerNodeMax removals of one node per window: past them, its session decides;
//   * appending a joiner needs no wait: once the tail has reported the joiner caught up it
//     commits (and serves reads of) only what the joiner has acknowledged, so the new tail holds
//     every committed entry even if the old tail dies before forwarding more ('joiner caught up
//     old tail dies' and 'join under load' scenarios);
//   * every change raises the epoch by exactly one, and one decision makes one change, so each
//     step is small and every node sees every configuration in order.

import { assert } from '../core/assert.js';
import { reportRemovalsPerNodeMax, reportRemovalWindowMs } from '../core/limits.js';
import type { ChainConfig } from '../replication/chain-config.js';

/** What a member published about its chain: the epoch it stands at, settled or not, and whom it suspects. */
export interface MemberReport {
  readonly epoch: number;
  readonly settled: boolean;
  readonly suspects: readonly string[];
  /** It stood at `epoch` as the chain's joiner. */
  readonly joining?: boolean;
}

export interface ClusterView {
  /** Nodes whose coordinator sessions are live. */
  readonly liveNodes: ReadonlySet<string>;
  /** Nodes to treat as gone although their sessions live (restarted members, in the simulator). */
  readonly suspectedNodes: ReadonlySet<string>;
  /** What each node published about this chain, by node (absent: nothing). */
  readonly reports?: ReadonlyMap<string, MemberReport>;
  /** Removals on report per window (defaults: core/limits.ts). */
  readonly reportRemovalsPerNodeMax?: number;
  readonly reportRemovalWindowMs?: number;
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
  // leaseWait says how the tail changed in that one step: it is not carried on.
  const kept: ChainConfig = { ...config };
  delete (kept as { leaseWait?: boolean }).leaseWait;
  const updated: ChainConfig = { ...kept, ...change, epoch: config.epoch + 1 };
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
    return removeDead(config, gone ?? dead[0]!);
  }
  const reported = removeOnReport(config, view);
  if (reported !== undefined) return reported;
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

function removeDead(config: ChainConfig, node: string): Decision {
  const remaining = config.members.filter((member) => member !== node);
  if (remaining.length === 0) {
    return { kind: 'none', reason: `${node} is the last member: the chain waits for it to return` };
  }
  // A new tail waits out the leases it granted the old tail itself (chain-node.ts); removed
  // without a report, the old tail may have granted one to a node removed before that never
  // heard of it: the new tail waits from when it learns this configuration (leaseWait).
  const wasTail = config.members[config.members.length - 1] === node;
  return next(
    config,
    { members: remaining, ...(wasTail ? { leaseWait: true } : {}) },
    `${node} removed (${position(config, node)})`,
  );
}

function position(config: ChainConfig, node: string): string {
  const index = config.members.indexOf(node);
  if (index === config.members.length - 1) return 'tail';
  return index === 0 ? 'head' : 'middle';
}

/**
 * The member the manager would remove on peers' reports now, or undefined. (A node next in line
 * for the manager lock uses it to take over at once from a manager its neighbours report dead.)
 */
export function reportedMember(config: ChainConfig, view: ClusterView): string | undefined {
  const decision = removeOnReport(config, view);
  if (decision?.kind !== 'change') return undefined;
  return config.members.find((member) => !decision.config.members.includes(member));
}

/** The member to remove on peers' reports (see the rules above), or undefined. */
function removeOnReport(config: ChainConfig, view: ClusterView): Decision | undefined {
  const reports = view.reports;
  if (reports === undefined || config.members.length < 2) return undefined;
  const members = config.members;
  const accusers = new Map<string, string[]>();
  const accusesAll = new Set<string>();
  members.forEach((reporter, index) => {
    const report = reports.get(reporter);
    if (report === undefined || report.epoch !== config.epoch || !view.liveNodes.has(reporter)) return;
    const neighbours = [members[index - 1], members[index + 1]].filter((n): n is string => n !== undefined);
    const named = neighbours.filter((n) => report.suspects.includes(n));
    for (const suspect of named) accusers.set(suspect, [...(accusers.get(suspect) ?? []), reporter]);
    if (neighbours.length >= 2 && named.length === neighbours.length) accusesAll.add(reporter);
  });
  const windowMs = view.reportRemovalWindowMs ?? reportRemovalWindowMs;
  const recent = (config.reportRemovals ?? []).filter(([, at]) => at <= view.nowMs && view.nowMs - at < windowMs);
  const flapping = (node: string) =>
    recent.filter(([removed]) => removed === node).length >=
    (view.reportRemovalsPerNodeMax ?? reportRemovalsPerNodeMax);
  const removable = [...accusers.keys()].filter((node) => {
    const index = members.indexOf(node);
    const judge = index === 0 ? members[1] : members[index - 1];
    const own = reports.get(node);
    const standsHere = own?.epoch === config.epoch && own.settled && own.joining !== true;
    // The tail appended at this epoch, last heard as the joiner, holds no lease but its judge's.
    const justAppended = own?.joining === true && own.epoch === config.epoch - 1 && index === members.length - 1;
    // A node removed too often lately goes only when its session expires.
    return accusers.get(node)!.includes(judge!) && (standsHere || justAppended) && !flapping(node);
  });
  if (removable.length === 0) return undefined;
  const score = (node: string) => accusers.get(node)!.length + (accusesAll.has(node) ? 1 : 0);
  const victim = removable.sort((a, b) => score(b) - score(a) || members.indexOf(b) - members.indexOf(a))[0]!;
  return next(
    config,
    { members: members.filter((member) => member !== victim), reportRemovals: [...recent, [victim, view.nowMs]] },
    `${victim} removed on report by ${accusers.get(victim)!.join(', ')} (${position(config, victim)})`,
  );
}
