// A deterministic simulation of two chains that move hash slots between them while clients run
// (docs/sharding.md, "moving slots online"). Like cluster.ts, everything runs on one seeded Prng
// and virtual time (event-queue.ts), so a seed replays a run exactly.
//
//   clients ──(slot map, late)──▶ head / tail of the owning chain       chain c0: c0n0 → c0n1 → c0n2
//   manager ──freeze, import, drop (logged)──▶ heads; export (read) ──▶ tails   chain c1: c1n0 → c1n1 → c1n2
//   coordinator: chain configurations (manager.ts `decide`, as cluster.ts) and the slot map;
//                nodes and clients learn both late, each at its own time
//
// Each node runs the real chain-node core (src/replication/); the freeze, import and drop are
// entries of the chain's log, so the frozen slots, the records and the client table are
// replicated state (shard-node.ts). Faults are cluster.ts's (ported here, for two chains): lost,
// duplicated and delayed messages, crashes and restarts through the join protocol, partitions
// between members, nodes cut off from the coordinator. Every run's history is checked for
// linearizability over every key, with a final read of every key at its owner (shard-checks.ts).

import { assert } from '../../core/assert.js';
import { Prng } from '../../core/prng.js';
import type { ChainConfig } from '../../replication/chain-config.js';
import { decide } from '../../coordination/manager.js';
import type { Effect } from '../../replication/effects.js';
import type { LogEntry } from '../../replication/log-entry.js';
import type { ChainMessage } from '../../replication/messages.js';
import { applyToStore } from '../linearizability/generate.js';
import type { Operation, Output } from '../linearizability/history.js';
import { EventQueue } from './event-queue.js';
import { checkSharded } from './shard-checks.js';
import { noRefusals, ShardClient, shardClientLimits, type RefusalCounts } from './shard-client.js';
import { managerId, SlotMover, type MoverCounts } from './shard-mover.js';
import { ShardNode, type NodeRules, type ShardMap, type ShardOp } from './shard-node.js';
import type { ShardPacket, ShardWorld } from './shard-wire.js';

export interface ShardedOptions {
  seed: number;
  nodesPerChain: number;
  /** Slots, one key each (k0, k1, ...); the first half starts on chain c0, the rest on c1. */
  slots: number;
  clients: number;
  operationsPerClient: number;
  /** Network faults, as probabilities per message. */
  dropRate: number;
  duplicateRate: number;
  /** Node crashes (at most nodesPerChain - 1 per chain); each crashed node restarts and rejoins. */
  crashes: number;
  /** Symmetric partitions between two members of a chain, each healed later. */
  partitions: number;
  /** Nodes cut off from the coordinator (their sessions disconnect, then expire). */
  coordinatorPartitions: number;
  oneWayPartitions: number;
  sessionTimeoutMs: number;
  clientTimeoutMs: number;
  /** Moves the manager starts at most (it starts them while the clients run). */
  movesMax: number;
  /** Records (or client-table entries) per export, import and drop page. */
  pageRecords: number;
  /** A node learns a new slot map or configuration within this many ms; a client within 4 times it. */
  watchDelayMsMax: number;
  /** Receives a line for each notable event (moves, maps, faults, requests served), for replaying a seed. */
  log?: (line: string) => void;
}

export const defaultShardedOptions: Omit<ShardedOptions, 'seed'> = {
  nodesPerChain: 3,
  slots: 6,
  clients: 5,
  operationsPerClient: 30,
  dropRate: 0.02,
  duplicateRate: 0.02,
  crashes: 1,
  partitions: 1,
  coordinatorPartitions: 1,
  oneWayPartitions: 1,
  sessionTimeoutMs: 300,
  clientTimeoutMs: 150,
  movesMax: 30,
  pageRecords: 1,
  watchDelayMsMax: 60,
};

/**
 * Protocol variants. `documentedProtocol` is the protocol as docs/sharding.md describes it and
 * the real node implements it; the broken variants switch a safeguard off (or a bug on).
 */
export type ShardedRules = NodeRules;

export const documentedProtocol: ShardedRules = {
  frozenReadsServed: false,
  clientTableNotMerged: false,
  dropBeforeHandOver: false,
  revisionCarried: true,
  droppedSlotsFenced: true,
};

export interface ShardedCounts {
  operations: number;
  /** Operations whose outcome is unknown (given up on). */
  unknown: number;
  moves: MoverCounts;
  /** Configuration changes over both chains. */
  reconfigurations: number;
  mapVersion: number;
  refusals: RefusalCounts;
}

export interface ShardedResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly failures: string[];
  readonly counts: ShardedCounts;
  readonly traceHash: string;
  readonly endedAtMs: number;
  readonly history: Operation[];
  readonly map: ShardMap;
}

/** Operations of the client that checks progress once every fault has healed. */
export const shardedProbeOperations = 4;

/** Runs one seeded simulation and checks it. A thrown assertion is reported as a failure of the seed. */
export function runShardedSim(options: ShardedOptions, rules: Partial<ShardedRules> = {}): ShardedResult {
  return new ShardedSimulation(options, { ...documentedProtocol, ...rules }).run();
}

class ShardedSimulation implements ShardWorld {
  readonly random: Prng;
  private readonly queue = new EventQueue();
  private readonly chainIds = ['c0', 'c1'];
  private readonly nodes: ShardNode[] = [];
  /** The coordinator's configuration of each chain. */
  private readonly configs = new Map<string, ChainConfig>();
  private readonly mover: SlotMover;
  private readonly sessionExpired = new Set<string>();
  private readonly partitioned = new Set<string>();
  /** Joiners their tail reported caught up (the coordinator's view). */
  private readonly caughtUp = new Set<string>();
  /** Restarted nodes still listed as members: the manager must remove them so they rejoin. */
  private readonly staleMembers = new Set<string>();
  /** Nodes cut off from the coordinator: no watches reach them, their sessions lapse. */
  private readonly cutOff = new Set<string>();
  private readonly history: Operation[] = [];
  private readonly clients: ShardClient[] = [];
  private readonly refusals = noRefusals();
  private mainClients = 0;
  private reconfigurations = 0;
  private reads = 0;
  private trace = 0x811c9dc5;

  constructor(
    private readonly options: ShardedOptions,
    rules: ShardedRules,
  ) {
    assert(options.slots >= 2 && options.nodesPerChain >= 1, 'two slots and a node per chain at least');
    this.random = new Prng(options.seed);
    const half = Math.floor(options.slots / 2);
    const owners = Array.from({ length: options.slots }, (_, slot) => (slot < half ? 'c0' : 'c1'));
    const map: ShardMap = { version: 1, owners, move: undefined };
    for (const chainId of this.chainIds) {
      const members = Array.from({ length: options.nodesPerChain }, (_, i) => `${chainId}n${i}`);
      for (const id of members) this.nodes.push(new ShardNode(id, chainId, map, rules));
      this.configs.set(chainId, { chainId, epoch: 1, members, joining: undefined, readsAllowedAtMs: 0 });
    }
    this.mover = new SlotMover(
      map,
      this.chainIds,
      this,
      {
        config: (chainId) => this.configs.get(chainId)!,
        publish: (next) => this.publishMap(next),
        planning: () => this.mover.counts.started < options.movesMax && this.mainClientsRunning(),
      },
      {
        pageRecords: options.pageRecords,
        requestTimeoutMs: options.clientTimeoutMs,
        attemptsMax: 3,
        refusalsMax: 30,
        dropBeforeHandOver: rules.dropBeforeHandOver,
      },
    );
  }

  now(): number {
    return this.queue.now;
  }

  after(delayMs: number, run: () => void): void {
    this.queue.after(delayMs, run);
  }

  nextReadId(): number {
    this.reads += 1;
    return this.reads;
  }

  /** A notable event: part of the trace hash, and logged when asked. */
  note(event: string): void {
    this.record(event);
    this.options.log?.(`${this.queue.now} ${event}`);
  }

  private record(event: string): void {
    for (let i = 0; i < event.length; i++) {
      this.trace ^= event.charCodeAt(i);
      this.trace = Math.imul(this.trace, 0x01000193);
    }
  }

  run(): ShardedResult {
    let failures: string[];
    try {
      failures = this.runChecked();
    } catch (error) {
      // A broken invariant inside a node or the core: the seed replays it.
      failures = [`threw at ${this.queue.now} ms: ${error instanceof Error ? error.message : String(error)}`];
    }
    return {
      seed: this.options.seed,
      ok: failures.length === 0,
      failures,
      counts: {
        operations: this.history.filter((o) => o.client >= 0).length,
        unknown: this.history.filter((o) => o.output === undefined).length,
        moves: { ...this.mover.counts, refusals: { ...this.mover.counts.refusals } },
        reconfigurations: this.reconfigurations,
        mapVersion: this.mover.map.version,
        refusals: { ...this.refusals },
      },
      traceHash: (this.trace >>> 0).toString(16).padStart(8, '0'),
      endedAtMs: this.queue.now,
      history: this.history,
      map: this.mover.map,
    };
  }

  private runChecked(): string[] {
    for (const node of this.nodes) {
      this.execute(node, node.core.sessionChanged(true));
      this.execute(node, node.core.configure(this.configs.get(node.chainId)!));
    }
    this.scheduleFaults();
    for (let i = 0; i < this.options.clients; i++) this.startClient(this.options.operationsPerClient);
    this.mainClients = this.options.clients;
    this.mover.start();
    const limitMs = 600_000;
    while (this.queue.step(limitMs)) this.record(`t${this.queue.now}`);
    // Progress: with every fault healed and no move left, a fresh client's operations all complete.
    const probe = this.startClient(shardedProbeOperations);
    while (this.queue.step(limitMs * 2)) this.record(`t${this.queue.now}`);
    const probeOutputs = this.history.filter((o) => o.client === probe.id).map((o) => o.output);
    const failures = this.finalReads();
    failures.push(
      ...checkSharded({
        history: this.history,
        nodes: this.nodes,
        configs: [...this.configs.values()],
        map: this.mover.map,
        unfinishedClients: this.clients.filter((c) => c.done < c.total).length,
        probeOutputs,
        probeOperations: shardedProbeOperations,
      }),
    );
    return failures;
  }

  private mainClientsRunning(): boolean {
    return this.clients.slice(0, this.mainClients).some((c) => c.done < c.total);
  }

  private startClient(total: number): ShardClient {
    const client = new ShardClient(
      this.clients.length,
      total,
      this.mover.map,
      new Map(this.configs),
      this,
      {
        finished: (operation) => this.history.push(operation),
        refresh: (c) => this.refresh(c),
        refusals: this.refusals,
      },
      { ...shardClientLimits, timeoutMs: this.options.clientTimeoutMs },
    );
    this.clients.push(client);
    client.start();
    return client;
  }

  /** A failed attempt: the client asks two nodes for their maps and keeps the newest (if newer than its own). */
  private refresh(client: ShardClient): void {
    this.queue.after(this.random.int(1, 30), () => {
      for (let i = 0; i < 2; i++) {
        const node = this.random.pick(this.nodes);
        if (node.alive) client.learnMap(node.view);
      }
    });
  }

  /**
   * After everything settled, read every key at the tail of the chain that owns it: the history
   * then shows any acknowledged write that was lost.
   */
  private finalReads(): string[] {
    const at = this.queue.now + 1;
    const failures: string[] = [];
    this.mover.map.owners.forEach((owner, slot) => {
      const config = this.configs.get(owner)!;
      const tail = this.node(config.members[config.members.length - 1]!);
      if (!tail.alive || !tail.core.canServeReads()) {
        failures.push(`no final read of k${slot}: the tail ${tail.id} of ${owner} cannot serve reads`);
        return;
      }
      const key = `k${slot}`;
      const output: Output = applyToStore(tail.store, key, { f: 'get' });
      this.history.push({ client: -1, key, input: { f: 'get' }, output, callAt: at, returnAt: at });
    });
    return failures;
  }

  private node(id: string): ShardNode {
    return this.nodes.find((n) => n.id === id)!;
  }

  // ---- the coordinator: slot map, configurations, faults -----------------------------------------

  /** Watches arrive late, and not at the same time everywhere. */
  private publishMap(map: ShardMap): void {
    this.note(`map ${map.version}`);
    for (const node of this.nodes) {
      this.queue.after(this.random.int(1, this.options.watchDelayMsMax), () => {
        if (!node.alive || this.cutOff.has(node.id) || node.view.version >= map.version) return;
        node.learn(map);
        this.note(`${node.id} learns map ${map.version}`);
      });
    }
    for (const client of this.clients) {
      this.queue.after(this.random.int(1, 4 * this.options.watchDelayMsMax), () => client.learnMap(map));
    }
  }

  private scheduleFaults(): void {
    const perChain = new Map<string, number>();
    const shuffled = [...this.nodes].sort(() => this.random.next() - 0.5);
    let crashes = 0;
    for (const victim of shuffled) {
      if (crashes >= this.options.crashes) break;
      const count = perChain.get(victim.chainId) ?? 0;
      if (count >= this.options.nodesPerChain - 1) continue;
      perChain.set(victim.chainId, count + 1);
      crashes += 1;
      this.queue.at(this.random.int(50, 1500), () => this.crash(victim));
    }
    for (let p = 0; p < this.options.coordinatorPartitions; p++) {
      const node = this.random.pick(this.nodes);
      const from = this.random.int(50, 1500);
      this.queue.at(from, () => this.cutFromCoordinator(node, from + this.random.int(100, 1500)));
    }
    for (let p = 0; p < this.options.partitions + this.options.oneWayPartitions; p++) {
      const a = this.random.pick(this.nodes);
      const others = this.nodes.filter((n) => n.chainId === a.chainId && n.id !== a.id);
      if (others.length === 0) continue;
      const b = this.random.pick(others);
      const link = p < this.options.partitions ? `${a.id}|${b.id}` : `${a.id}>${b.id}`;
      const from = this.random.int(50, 1500);
      this.queue.at(from, () => this.partitioned.add(link));
      this.queue.at(from + this.random.int(50, 800), () => this.partitioned.delete(link));
    }
  }

  /** As cluster.ts: the node stops serving after 2/3 of the session timeout, expires after all of it. */
  private cutFromCoordinator(node: ShardNode, healAt: number): void {
    if (this.cutOff.has(node.id)) return;
    this.note(`cut ${node.id}`);
    this.cutOff.add(node.id);
    const timeout = this.options.sessionTimeoutMs;
    this.queue.after(Math.floor((timeout * 2) / 3), () => {
      if (this.cutOff.has(node.id) && node.alive) this.execute(node, node.core.sessionChanged(false));
    });
    this.queue.after(timeout, () => {
      if (!this.cutOff.has(node.id)) return;
      this.sessionExpired.add(node.id);
      this.reconfigure(node.chainId);
    });
    this.queue.at(Math.max(healAt, this.queue.now + 1), () => {
      this.cutOff.delete(node.id);
      this.note(`heal ${node.id}`);
      if (!node.alive) return;
      // A new session re-reads everything (DESIGN.md §12): the configuration and the slot map.
      node.learn(this.mover.map);
      this.execute(node, node.core.configure(this.configs.get(node.chainId)!));
      this.execute(node, node.core.sessionChanged(true));
      this.sessionExpired.delete(node.id);
      this.reconfigure(node.chainId);
    });
  }

  private crash(node: ShardNode): void {
    this.note(`crash ${node.id}`);
    node.alive = false;
    node.store.crash();
    const incarnation = node.incarnation;
    this.queue.after(this.options.sessionTimeoutMs, () => {
      if (node.incarnation !== incarnation) return; // it restarted with a new session meanwhile
      this.sessionExpired.add(node.id);
      this.reconfigure(node.chainId);
    });
    this.queue.after(this.random.int(100, 2000), () => this.restart(node));
  }

  /** The node comes back with its durable state and a new session; it rejoins (§3.8). */
  private restart(node: ShardNode): void {
    this.note(`restart ${node.id}`);
    const cut = this.cutOff.has(node.id);
    node.restart(cut ? node.view : this.mover.map);
    this.sessionExpired.delete(node.id);
    const members = this.configs.get(node.chainId)!.members;
    if (members.includes(node.id) && members.length > 1) this.staleMembers.add(node.id);
    this.execute(node, node.core.sessionChanged(true));
    if (!cut) this.execute(node, node.core.configure(this.configs.get(node.chainId)!));
    this.reconfigure(node.chainId);
  }

  /** The manager's decisions for one chain (coordination/manager.ts), as cluster.ts makes them. */
  private reconfigure(chainId: string): void {
    for (;;) {
      const current = this.configs.get(chainId)!;
      for (const id of this.staleMembers) {
        if (this.node(id).chainId === chainId && !current.members.includes(id)) this.staleMembers.delete(id);
      }
      const own = this.nodes.filter((n) => n.chainId === chainId);
      const liveNodes = new Set(own.filter((n) => !this.sessionExpired.has(n.id)).map((n) => n.id));
      const candidates = [...liveNodes].filter((id) => !current.members.includes(id) && !this.cutOff.has(id));
      const decision = decide(current, {
        liveNodes,
        suspectedNodes: this.staleMembers,
        caughtUp: this.caughtUp,
        candidates,
        nowMs: this.queue.now,
        sessionTimeoutMs: this.options.sessionTimeoutMs,
      });
      if (decision.kind === 'none') return;
      const config = decision.config;
      this.configs.set(chainId, config);
      this.reconfigurations += 1;
      for (const id of config.members) this.caughtUp.delete(id);
      this.note(`epoch ${chainId} ${config.epoch} ${config.members.join(',')}`);
      for (const node of own) {
        this.queue.after(this.random.int(1, this.options.watchDelayMsMax), () => {
          if (node.alive && !this.cutOff.has(node.id)) this.execute(node, node.core.configure(config));
        });
      }
      for (const client of this.clients) {
        this.queue.after(this.random.int(1, 4 * this.options.watchDelayMsMax), () => client.learnConfig(config));
      }
    }
  }

  // ---- nodes -------------------------------------------------------------------------------------

  /** A node waiting on a message that may be lost (a joiner, a new tail) has a timer to ask again. */
  private keepTicking(node: ShardNode): void {
    if (node.ticking || !node.alive || !node.core.needsTicks) return;
    node.ticking = true;
    const incarnation = node.incarnation;
    this.queue.after(100, () => {
      node.ticking = false;
      if (!node.alive || node.incarnation !== incarnation) return;
      this.execute(node, node.core.tick(this.queue.now));
    });
  }

  private execute(node: ShardNode, effects: Effect<ShardOp>[]): void {
    this.keepTicking(node);
    for (const effect of effects) {
      switch (effect.kind) {
        case 'persist': {
          const done = Math.max(node.diskFreeAt, this.queue.now) + this.random.int(1, 5);
          node.diskFreeAt = done;
          const generation = node.diskGeneration;
          const incarnation = node.incarnation;
          this.queue.at(done, () => {
            if (!node.alive || node.incarnation !== incarnation || node.diskGeneration !== generation) return;
            node.apply(effect.entries);
            for (const entry of effect.entries) {
              const op = entry.operation;
              if (op.kind !== 'client')
                this.note(`${node.id} applies ${op.kind} ${op.first}..${op.last} #${entry.sequence}`);
            }
            this.execute(node, node.core.persisted(effect.entries[effect.entries.length - 1]!.sequence));
          });
          break;
        }
        case 'send':
          this.transmit(node.id, effect.to, { kind: 'chain', message: effect.message });
          break;
        case 'reply': {
          const result = node.results.get(effect.sequence);
          this.transmit(node.id, effect.requestId.clientId, {
            kind: 'write-reply',
            requestId: effect.requestId,
            result,
          });
          break;
        }
        case 'reject': {
          const refused: ShardPacket = {
            kind: 'refused',
            requestId: effect.requestId,
            readId: undefined,
            reason: 'not-head',
          };
          this.transmit(node.id, effect.requestId.clientId, refused);
          break;
        }
        case 'catch-up':
          this.catchUp(node, effect);
          break;
        case 'install':
          node.install(effect.state as LogEntry<ShardOp>[]);
          break;
        case 'caught-up':
          this.queue.after(this.random.int(1, 30), () => {
            if (this.configs.get(node.chainId)!.joining !== effect.joiner) return;
            this.caughtUp.add(effect.joiner);
            this.reconfigure(node.chainId);
          });
          break;
      }
    }
  }

  /** As cluster.ts: entries from the durable log when they continue the peer's log, else a snapshot. */
  private catchUp(node: ShardNode, effect: Extract<Effect<ShardOp>, { kind: 'catch-up' }>): void {
    const { from, upTo } = effect;
    const anchor = from.sequence === 0 ? undefined : node.log[from.sequence - 1];
    const continues = effect.trusted || from.sequence === 0 || (anchor !== undefined && anchor.epoch === from.epoch);
    if (continues && from.sequence <= upTo) {
      const entries = node.log.slice(from.sequence, upTo);
      this.transmit(node.id, effect.to, {
        kind: 'chain',
        message: { kind: 'entries', epoch: effect.epoch, from: node.id, entries },
      });
      return;
    }
    const state = node.log.slice(0, upTo);
    const lastEpoch = state[state.length - 1]?.epoch ?? 0;
    const message: ChainMessage<ShardOp> = {
      kind: 'snapshot',
      epoch: effect.epoch,
      from: node.id,
      sequence: upTo,
      lastEpoch,
      state,
    };
    this.transmit(node.id, effect.to, { kind: 'chain', message });
  }

  transmit(from: string, to: string, packet: ShardPacket): void {
    if (this.random.chance(this.options.dropRate)) return;
    const copies = this.random.chance(this.options.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.queue.after(this.random.int(1, 20), () => this.arrive(from, to, packet));
    }
  }

  private arrive(from: string, to: string, packet: ShardPacket): void {
    if (this.partitioned.has(`${from}|${to}`) || this.partitioned.has(`${to}|${from}`)) return;
    if (this.partitioned.has(`${from}>${to}`)) return;
    if (to === managerId) return this.mover.receive(packet);
    if (to.startsWith('client')) return this.clients[Number(to.slice('client'.length))]!.receive(packet);
    const node = this.node(to);
    if (!node.alive) return;
    node.core.tick(this.queue.now); // the node's clock: virtual time
    const refuse = (reason: Extract<ShardPacket, { kind: 'refused' }>['reason']) => {
      const requestId = packet.kind === 'write' ? packet.requestId : undefined;
      const readId = packet.kind === 'read' || packet.kind === 'export' ? packet.readId : undefined;
      this.transmit(node.id, from, { kind: 'refused', requestId, readId, reason });
    };
    switch (packet.kind) {
      case 'chain':
        return this.execute(node, node.core.message(packet.message));
      case 'write': {
        const op = packet.op;
        const refusal = op.kind === 'client' ? node.refusal(op.key, 'write') : node.slotCommandRefusal(op);
        if (refusal !== undefined) return refuse(refusal);
        if (op.kind === 'client')
          this.note(`${node.id} (map ${node.view.version}) takes a write of ${op.key} from ${from}`);
        return this.execute(node, node.core.write(packet.requestId, op));
      }
      case 'read': {
        const refusal = node.refusal(packet.key, 'read');
        if (refusal !== undefined) return refuse(refusal);
        if (!node.core.canServeReads()) return refuse('not-tail');
        const output = applyToStore(node.store, packet.key, { f: 'get' });
        this.note(`${node.id} (map ${node.view.version}) serves read ${packet.key}: ${JSON.stringify(output)}`);
        return this.transmit(node.id, from, { kind: 'read-reply', readId: packet.readId, output });
      }
      case 'export': {
        if (!node.core.canServeReads()) return refuse('not-tail');
        const page = node.exportPage(packet.request);
        if (page === undefined) return refuse('not-frozen');
        return this.transmit(node.id, from, { kind: 'export-reply', readId: packet.readId, page });
      }
      default:
        assert(false, `a node never receives ${packet.kind}`);
    }
  }
}
