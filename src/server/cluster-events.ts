// What happened to the cluster, as this node saw it: failovers, joins, nodes coming and going, a
// new manager, chains added or retired, slot moves (docs/dashboard.md). Every node already keeps a
// copy of the topology up to date through its coordinator watches (coordination/membership.ts);
// after each refresh the node hands a snapshot of that copy to `ClusterEventLog.observe`, which
// compares it with the previous one and appends one event per change, with the time it was seen.
// The log is bounded (clusterEventsKept, oldest dropped), so a page opened after a failover still
// lists it. The comparison is pure (snapshots and times in, events out), tested on made-up
// snapshots.
//
// A rebalancing moves slots one batch at a time, and the slot map holds no move record between
// two batches; the log follows the batches so the dashboard can show one move with its progress
// from the first batch to the last: it ends when a batch's slots were the last still to move.

import { assert } from '../core/assert.js';
import { clusterEventsKept } from '../core/limits.js';
import type { Membership } from '../coordination/membership.js';
import type { Migration } from '../sharding/slot-map.js';

export interface ChainSnapshot {
  readonly chainId: string;
  readonly epoch: number;
  /** Head first, tail last. */
  readonly members: readonly string[];
  /** '' when no node is joining. */
  readonly joining: string;
}

/** One batch of a slot move, as the slot map records it. */
export type BatchSnapshot = Migration;

export interface TopologySnapshot {
  /** '' when no manager is elected. */
  readonly manager: string;
  /** Registered nodes (their sessions are live). */
  readonly nodes: readonly string[];
  readonly chains: readonly ChainSnapshot[];
  readonly batch: BatchSnapshot | undefined;
}

export type ClusterEventKind =
  | 'watching'
  | 'node-up'
  | 'node-down'
  | 'manager'
  | 'chain-added'
  | 'chain-removed'
  | 'failover'
  | 'join-started'
  | 'joined'
  | 'move-started'
  | 'slots-moved'
  | 'move-finished';

export interface ClusterEvent {
  /** Raised by one for each event this node logs (a page can tell new ones from seen ones). */
  readonly seq: number;
  /** Wall-clock time this node saw the change (ms since the epoch). */
  readonly atMs: number;
  readonly kind: ClusterEventKind;
  readonly chainId: string | null;
  readonly nodeId: string | null;
  /** One line for people. */
  readonly text: string;
}

/** A rebalancing under way: the batch moving now (or the last one, between batches) and the whole move's progress. */
export interface MoveProgress {
  readonly first: number;
  readonly last: number;
  readonly from: string;
  readonly to: string;
  /** 'copy' or 'drop' while a batch is recorded; 'next-batch' between two batches. */
  readonly stage: 'copy' | 'drop' | 'next-batch';
  readonly remaining: number;
  readonly planned: number;
  /** When this node saw the first batch; null when the move was under way when it started watching. */
  readonly startedAtMs: number | null;
}

type EventInit = Omit<ClusterEvent, 'seq' | 'atMs'>;

const batchSize = (batch: BatchSnapshot) => batch.last - batch.first + 1;
const sameBatch = (a: BatchSnapshot, b: BatchSnapshot) =>
  a.first === b.first && a.last === b.last && a.from === b.from && a.to === b.to;
const slotsText = (batch: BatchSnapshot) =>
  batch.first === batch.last ? `slot ${batch.first}` : `slots ${batch.first}-${batch.last}`;

export class ClusterEventLog {
  private readonly log: ClusterEvent[] = [];
  private nextSeq = 1;
  private previous: TopologySnapshot | undefined;
  /** The batch last seen, and whether its hand-over was logged. */
  private batch: { snapshot: BatchSnapshot; handedOver: boolean } | undefined;
  private move: { planned: number; remaining: number; startedAtMs: number | null } | undefined;

  /** Compares `snapshot` with the last one observed and logs each change at `atMs`. */
  observe(snapshot: TopologySnapshot, atMs: number): void {
    const previous = this.previous;
    this.previous = snapshot;
    const events =
      previous === undefined
        ? [this.firstLook(snapshot)]
        : [
            // A node registers before it joins a chain, and leaves one before its session ends.
            ...nodesUp(previous, snapshot),
            ...chainEvents(previous, snapshot),
            ...nodesDown(previous, snapshot),
            ...managerEvents(previous, snapshot),
            ...this.moveEvents(snapshot.batch, atMs),
          ];
    for (const event of events) this.append(event, atMs);
  }

  /** Oldest first. */
  events(): ClusterEvent[] {
    return [...this.log];
  }

  /** The rebalancing under way, if any. */
  progress(): MoveProgress | null {
    const move = this.move;
    const batch = this.batch?.snapshot;
    if (move === undefined || batch === undefined) return null;
    const between = this.previous?.batch === undefined;
    return {
      first: batch.first,
      last: batch.last,
      from: batch.from,
      to: batch.to,
      stage: between ? 'next-batch' : batch.stage,
      remaining: move.remaining,
      planned: move.planned,
      startedAtMs: move.startedAtMs,
    };
  }

  private append(event: EventInit, atMs: number): void {
    this.log.push({ seq: this.nextSeq++, atMs, ...event });
    if (this.log.length > clusterEventsKept) this.log.shift();
    assert(this.log.length <= clusterEventsKept, 'the event log is bounded');
  }

  private firstLook(snapshot: TopologySnapshot): EventInit {
    const batch = snapshot.batch;
    if (batch !== undefined) {
      this.batch = { snapshot: batch, handedOver: batch.stage === 'drop' };
      this.move = { planned: batch.planned, remaining: remainingOf(batch, batch.stage === 'drop'), startedAtMs: null };
    }
    const chains = snapshot.chains.length;
    const manager = snapshot.manager === '' ? 'no manager elected' : `manager ${snapshot.manager}`;
    return {
      kind: 'watching',
      chainId: null,
      nodeId: null,
      text:
        `watching the cluster: ${chains} chain${chains === 1 ? '' : 's'}, ${snapshot.nodes.length} nodes, ${manager}` +
        (batch === undefined ? '' : `, a slot move under way (${slotsText(batch)} ${batch.from} → ${batch.to})`),
    };
  }

  /** A batch appearing, handed over, or cleared; a rebalancing starting or ending. */
  private moveEvents(current: BatchSnapshot | undefined, atMs: number): EventInit[] {
    const events: EventInit[] = [];
    const seen = this.batch;
    if (seen !== undefined && !seen.handedOver && (current === undefined || !sameBatch(seen.snapshot, current))) {
      events.push(handedOver(seen.snapshot)); // its drop stage came and went between two refreshes
      seen.handedOver = true;
    }
    if (current === undefined) {
      if (seen !== undefined) this.batchCleared(seen.snapshot, events);
      return events;
    }
    const fresh = seen === undefined || !sameBatch(seen.snapshot, current);
    if (this.move === undefined) {
      this.move = { planned: current.planned, remaining: current.remaining, startedAtMs: atMs };
      events.push({
        kind: 'move-started',
        chainId: current.from,
        nodeId: null,
        text: `slot move started: ${current.planned} slots to move, first ${slotsText(current)} ${current.from} → ${current.to}`,
      });
    }
    const handed = current.stage === 'drop';
    if (handed && (fresh || seen?.handedOver !== true)) events.push(handedOver(current));
    this.batch = { snapshot: current, handedOver: handed || (!fresh && seen?.handedOver === true) };
    this.move.planned = Math.max(this.move.planned, current.planned);
    this.move.remaining = remainingOf(current, handed);
    return events;
  }

  /** The slot map has no move record: between two batches, or the rebalancing is over. */
  private batchCleared(last: BatchSnapshot, events: EventInit[]): void {
    const remaining = remainingOf(last, true);
    if (this.move !== undefined && remaining > 0) {
      this.move.remaining = remaining;
      return;
    }
    this.batch = undefined;
    if (this.move === undefined) return;
    events.push({
      kind: 'move-finished',
      chainId: last.to,
      nodeId: null,
      text: `slot move finished: ${this.move.planned} slots moved`,
    });
    this.move = undefined;
  }
}

function remainingOf(batch: BatchSnapshot, handedOverAlready: boolean): number {
  return Math.max(0, batch.remaining - (handedOverAlready ? batchSize(batch) : 0));
}

function handedOver(batch: BatchSnapshot): EventInit {
  return {
    kind: 'slots-moved',
    chainId: batch.to,
    nodeId: null,
    text: `${slotsText(batch)} handed over from ${batch.from} to ${batch.to}`,
  };
}

function nodesUp(before: TopologySnapshot, after: TopologySnapshot): EventInit[] {
  const had = new Set(before.nodes);
  return after.nodes
    .filter((id) => !had.has(id))
    .map((id) => ({ kind: 'node-up', chainId: null, nodeId: id, text: `node ${id} registered` }));
}

function nodesDown(before: TopologySnapshot, after: TopologySnapshot): EventInit[] {
  const has = new Set(after.nodes);
  return before.nodes
    .filter((id) => !has.has(id))
    .map((id) => ({
      kind: 'node-down',
      chainId: null,
      nodeId: id,
      text: `node ${id} is gone (its coordinator session ended)`,
    }));
}

function managerEvents(before: TopologySnapshot, after: TopologySnapshot): EventInit[] {
  if (after.manager === before.manager || after.manager === '') return [];
  const was = before.manager === '' ? '' : ` (was ${before.manager})`;
  return [{ kind: 'manager', chainId: null, nodeId: after.manager, text: `${after.manager} is the manager${was}` }];
}

function chainEvents(before: TopologySnapshot, after: TopologySnapshot): EventInit[] {
  const earlier = new Map(before.chains.map((chain) => [chain.chainId, chain]));
  const later = new Set(after.chains.map((chain) => chain.chainId));
  const events: EventInit[] = [];
  for (const chain of after.chains) {
    const old = earlier.get(chain.chainId);
    if (old === undefined) {
      const first = chain.members.length === 0 ? '' : ` with ${chain.members.join(', ')}`;
      events.push({
        kind: 'chain-added',
        chainId: chain.chainId,
        nodeId: null,
        text: `chain ${chain.chainId} started${first}`,
      });
    } else if (chain.epoch > old.epoch) {
      events.push(...memberEvents(old, chain));
    }
    if (chain.joining !== '' && chain.joining !== old?.joining) {
      events.push({
        kind: 'join-started',
        chainId: chain.chainId,
        nodeId: chain.joining,
        text: `${chain.joining} is catching up to join ${chain.chainId}`,
      });
    }
  }
  for (const chain of before.chains) {
    if (!later.has(chain.chainId)) {
      events.push({
        kind: 'chain-removed',
        chainId: chain.chainId,
        nodeId: null,
        text: `chain ${chain.chainId} retired`,
      });
    }
  }
  return events;
}

/** Members removed (a failover: the manager removes a member only when it failed or restarted) and added (a joiner that caught up). */
function memberEvents(before: ChainSnapshot, after: ChainSnapshot): EventInit[] {
  const events: EventInit[] = [];
  const stays = new Set(after.members);
  const was = new Set(before.members);
  const head = after.members[0];
  const tail = after.members.at(-1);
  before.members.forEach((id, index) => {
    if (stays.has(id)) return;
    const role = roleAt(index, before.members.length);
    const now =
      role === 'head' && head !== undefined
        ? `; ${head} is the head`
        : role === 'tail' && tail !== undefined
          ? `; ${tail} is the tail`
          : '';
    events.push({
      kind: 'failover',
      chainId: after.chainId,
      nodeId: id,
      text: `failover in ${after.chainId}: ${role} ${id} removed (epoch ${after.epoch})${now}`,
    });
  });
  for (const id of after.members) {
    if (was.has(id)) continue;
    events.push({
      kind: 'joined',
      chainId: after.chainId,
      nodeId: id,
      text: `${id} joined ${after.chainId} as ${id === tail ? 'its tail' : 'a member'} (epoch ${after.epoch})`,
    });
  }
  return events;
}

function roleAt(index: number, length: number): 'head' | 'middle' | 'tail' | 'only member' {
  if (length === 1) return 'only member';
  if (index === 0) return 'head';
  return index === length - 1 ? 'tail' : 'middle';
}

/** The snapshot of a node's local copy of the topology (what its coordinator watches keep current). */
export function snapshotOf(membership: Membership): TopologySnapshot {
  const migration = membership.slots?.map.migration;
  return {
    manager: membership.manager ?? '',
    nodes: membership.allNodes().map((node) => node.nodeId),
    chains: membership.allChains().map((chain) => ({
      chainId: chain.chainId,
      epoch: chain.epoch,
      members: [...chain.members],
      joining: chain.joining ?? '',
    })),
    batch:
      migration === undefined
        ? undefined
        : {
            first: migration.first,
            last: migration.last,
            from: migration.from,
            to: migration.to,
            stage: migration.stage,
            remaining: migration.remaining,
            planned: migration.planned,
          },
  };
}
