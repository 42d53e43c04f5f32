// The deterministic simulator (docs/design.md §4): a cluster of one or more chains running the
// production code, under faults, on one seeded Prng and virtual time (event-queue.ts), so a seed
// replays a run exactly.
//
//   clients ──(slot map and configurations, late)──▶ head / tail of the owning chain
//   each node: the real replica (sim-node.ts) behind the node's own admission checks
//              (node-process.ts, src/server/admission.ts), over an in-memory store that loses
//              unsynced writes on a crash
//   coordinator: chain configurations (the manager's `decide`, coordination/manager.ts) and the
//              slot map; nodes and clients learn both late, each at its own time
//   manager (two chains or more): the real MigrationRunner moving slots (sim-manager.ts)
//
// Faults, the same for every number of chains: lost, duplicated, delayed and reordered messages;
// crashes (the disk keeps what was durable, and perhaps some whole turns written after it) and
// restarts (a restarted node rejoins through the join protocol, §3.8); symmetric
// and one-way partitions between members of a chain (a partition may reset the connections
// across it: each side notices at once); nodes paused as under SIGSTOP (their neighbours report
// them and the manager removes them on the report); skewed clock rates; nodes cut off from the
// coordinator (their session disconnects, then expires, and the manager removes them); late configuration and
// slot map watches, and missed slot map watches (the node catches up at its periodic re-read);
// lost coordinator calls of the manager. Every run's history is checked for linearizability over
// every key, with a final read of each key at its owner (checks.ts).
//
// The runner is async code (promises): after an event that settled one of its promises, the
// asynchronous driver lets the process run every promise job before the next event (one
// macrotask turn), which is deterministic because nothing else in the process touches the
// simulation. A run of one chain has no manager and never waits: `simulate` runs it
// synchronously.

import { commandByName } from '../../commands/index.js';
import { assert } from '../../core/assert.js';
import type { Clock } from '../../core/clock.js';
import {
  clockRateErrorMax,
  clusterClientRefreshIntervalMsDefault,
  membershipRefreshIntervalMs,
} from '../../core/limits.js';
import type { ChainReport } from '../../coordination/cluster-paths.js';
import { Prng } from '../../core/prng.js';
import { decide } from '../../coordination/manager.js';
import type { Request, ResponseResult } from '../../protocol/native/codec.js';
import type { ChainConfig } from '../../replication/chain-config.js';
import type { PeerFrame } from '../../server/chain-wire.js';
import { evenSlotMap, SlotTable } from '../../sharding/slot-map.js';
import { keySlot } from '../../sharding/slots.js';
import { applyToStore } from '../linearizability/generate.js';
import type { Operation, Output } from '../linearizability/history.js';
import { EventQueue } from './event-queue.js';
import { NodeProcess } from './node-process.js';
import { SimClient, simClientLimits } from './sim-client.js';
import { managerId, noManagerCounts, SimManager } from './sim-manager.js';
import {
  describeFrame,
  frameOverTheWire,
  noRefusals,
  replyOverTheWire,
  requestOverTheWire,
  type SimNetwork,
  type SimPacket,
} from './sim-network.js';
import { SimNode, type SimWorld } from './sim-node.js';
import { probeOperations, simKeys, type SimOptions, type SimResult, type SimVariant } from './sim-options.js';

export {
  probeOperations,
  simKeys,
  type SimCounts,
  type SimOptions,
  type SimResult,
  type SimVariant,
} from './sim-options.js';

/** Virtual time as a wall clock: the replica stamps writes and keys expire by it. */
const clockOriginMs = 1_700_000_000_000;
/** After the probe, the run goes on this long so the members converge (the repair runs every second). */
const settleMs = 3_000;
const limitMs = 600_000;
/** After settling, how long the run waits at most for every chain's tail to serve reads. */
const tailsServeMsMax = 10_000;
/** After the final reads, every live node must be a member of its chain again within this. */
const rejoinMsMax = 30_000;

/** Runs one chain synchronously (it never waits on a promise). */
export function simulate(options: SimOptions, variant: SimVariant = {}): SimResult {
  assert((options.chains ?? 1) === 1, 'simulate runs one chain: use simulateAsync for more');
  const simulation = new Simulation(options, variant);
  const steps = simulation.run();
  while (steps.next().done !== true) assert(false, 'a run of one chain never waits on a promise');
  return simulation.result();
}

/** Runs any number of chains, letting promise jobs (the migration runner's) run between events. */
export async function simulateAsync(options: SimOptions, variant: SimVariant = {}): Promise<SimResult> {
  const simulation = new Simulation(options, variant);
  const steps = simulation.run();
  while (steps.next().done !== true) await new Promise<void>((resolve) => setImmediate(resolve));
  return simulation.result();
}

class Simulation implements SimWorld, SimNetwork {
  readonly random: Prng;
  readonly clock: Clock;
  private readonly queue = new EventQueue();
  private readonly chainIds: string[];
  private readonly keys: string[];
  private readonly processes: NodeProcess[] = [];
  private readonly byId = new Map<string, NodeProcess>();
  /** The coordinator's configuration of each chain. */
  private readonly configs = new Map<string, ChainConfig>();
  private readonly manager: SimManager | undefined;
  /** The slot map of a run without a manager (one chain owns every slot, for ever). */
  private readonly fixedMap: SlotTable;
  private deferred: (() => void)[] = [];
  /** A promise was settled during the current event: its jobs run before the next one. */
  private promisesSettled = false;
  private readonly diskFreeAt = new Map<string, number>();
  private readonly fatals: string[] = [];
  private readonly undurableReads: string[] = [];
  /** Every scheduled fault has happened and healed by then. */
  private faultsOverAtMs = 0;
  /** powerFailureRate: the first write acknowledged after this time triggers the power failure. */
  private powerFailureArmedAtMs = Number.POSITIVE_INFINITY;
  /** Whether that is the first read answered after it (else the first write). */
  private powerFailureAfterRead = false;
  /** Nodes crashed by installCrashRate (once each). */
  private readonly installCrashed = new Set<string>();
  /** Set when a live node was still out of its chain long after the faults (SimResult.unhealed). */
  private unhealed: string | undefined;
  private readonly sessionExpired = new Set<string>();
  private readonly partitioned = new Set<string>();
  /** Joiners their tail reported caught up (the coordinator's view). */
  private readonly caughtUp = new Map<string, { tail: string; epoch: number }>();
  /** Restarted nodes still listed as members: the manager must remove them so they rejoin. */
  private readonly staleMembers = new Set<string>();
  /** Nodes cut off from the coordinator: no watches reach them, their sessions lapse. */
  private readonly cutOff = new Set<string>();
  /** What each node last published about its chain (the coordinator's copy). */
  private readonly reports = new Map<string, ChainReport>();
  /** Paused nodes, until when. */
  private readonly pausedUntil = new Map<string, number>();
  private readonly history: Operation[] = [];
  private readonly clients: SimClient[] = [];
  private readonly refusals = noRefusals();
  private mainClients = 0;
  private reconfigurations = 0;
  private tags = 0;
  private trace = 0x811c9dc5;
  private probeOutputs: (Output | undefined)[] = [];
  private unreadKeys: string[] = [];
  private readonly watchDelayMsMax: number;
  /** Nodes and clients whose slot map watch was missed, until their next periodic re-read. */
  private readonly watchLostUntil = new Map<string, number>();

  constructor(
    private readonly options: SimOptions,
    private readonly variant: SimVariant,
  ) {
    const chains = options.chains ?? 1;
    assert(chains >= 1 && options.nodes >= 1 && options.keys >= 1, 'a chain, a node per chain and a key at least');
    this.random = new Prng(options.seed);
    const queue = this.queue;
    this.clock = { nowMs: () => clockOriginMs + queue.now };
    this.watchDelayMsMax = options.watchDelayMsMax ?? 60;
    this.chainIds = Array.from({ length: chains }, (_, i) => `c${i}`);
    this.keys = simKeys(options.keys, chains);
    const initial = evenSlotMap(this.chainIds, 1);
    this.fixedMap = new SlotTable(initial);
    for (const chainId of this.chainIds) {
      const ids = Array.from({ length: options.nodes }, (_, i) => (chains === 1 ? `n${i}` : `${chainId}n${i}`));
      for (const id of ids) {
        const node = new SimNode(id, this, variant.faults?.(id) ?? {}, options.replica ?? {});
        const process = new NodeProcess(node, chainId, variant.admission);
        this.processes.push(process);
        this.byId.set(id, process);
      }
      this.configs.set(chainId, { chainId, epoch: 1, members: ids, joining: undefined, readsAllowedAtMs: 0 });
    }
    this.manager =
      chains === 1
        ? undefined
        : new SimManager(initial, this, {
            chains: this.chainIds,
            batchSlots: options.batchSlots ?? 2048,
            pageRecords: options.pageRecords ?? 1,
            requestTimeoutMs: options.clientTimeoutMs,
            attemptsMax: 3,
            refusalsMax: 30,
            coordinatorFailureRate: options.dropRate,
            rebalancingsMax: options.rebalancingsMax ?? 8,
            faults: variant.migration ?? {},
          });
  }

  /** The slot map as the coordinator holds it. */
  private get map(): SlotTable {
    return this.manager?.map ?? this.fixedMap;
  }

  /** The run, phase by phase; it yields when promise jobs must run before the next event. */
  *run(): Generator<void> {
    for (const process of this.processes) {
      process.learnMap(this.map);
      this.connectSession(process);
      this.configure(process, this.configs.get(process.chainId)!);
    }
    this.scheduleFaults();
    for (let i = 0; i < this.options.clients; i++) this.startClient(this.options.operationsPerClient);
    this.mainClients = this.options.clients;
    this.manager?.start();
    const clientsDone = (): boolean => this.clients.every((c) => c.done >= c.total);
    const busy = (): boolean => this.manager?.busy ?? false;
    yield* this.runWhile(() => !clientsDone() || this.queue.now < this.faultsOverAtMs || busy(), limitMs);
    // Progress: with every fault healed and no move left, a fresh client's operations all complete.
    const probe = this.startClient(probeOperations);
    yield* this.runWhile(() => !clientsDone(), limitMs * 2);
    this.probeOutputs = this.history.filter((o) => o.client === probe.id).map((o) => o.output);
    const settled = this.queue.now + settleMs;
    yield* this.runWhile(() => this.queue.now < settled, settled);
    // A reconfiguration late in the settling (a rejoin) may still be repairing a lost message: give
    // every owner's tail a while more to serve reads (the repair runs every second).
    yield* this.runWhile(() => !this.tailsServe(), this.queue.now + tailsServeMsMax);
    this.finalReads();
    // Every live node must be back in its chain: a joiner stuck for ever is a failure too.
    yield* this.runWhile(() => this.outOfChain().length > 0, this.queue.now + rejoinMsMax);
    const out = this.outOfChain();
    if (out.length > 0) this.unhealed = out.map((p) => this.describe(p)).join('; ');
  }

  result(): SimResult {
    const user = this.history.filter((o) => o.client >= 0);
    return {
      seed: this.options.seed,
      chains: this.chainIds.length,
      history: this.history,
      nodes: this.processes.map((p) => p.node),
      processes: this.processes,
      config: this.configs.get(this.chainIds[0]!)!,
      configs: [...this.configs.values()],
      map: this.map,
      traceHash: (this.trace >>> 0).toString(16).padStart(8, '0'),
      endedAtMs: this.queue.now,
      unfinishedClients: this.clients.filter((c) => c.done < c.total).length,
      probeOutputs: this.probeOutputs,
      fatals: this.fatals,
      undurableReads: this.undurableReads,
      unreadKeys: this.unreadKeys,
      unhealed: this.unhealed,
      counts: {
        operations: user.length,
        unknown: user.filter((o) => o.output === undefined).length,
        moves: this.manager?.counts ?? noManagerCounts(),
        reconfigurations: this.reconfigurations,
        refusals: { ...this.refusals },
      },
    };
  }

  /** Runs events (each followed by what it deferred) while `more` holds and time is before `untilMs`. */
  private *runWhile(more: () => boolean, untilMs: number): Generator<void> {
    while (more() && this.queue.step(untilMs)) {
      this.drainDeferred();
      this.record(`t${this.queue.now}`);
      if (this.promisesSettled) {
        this.promisesSettled = false;
        yield;
        this.drainDeferred();
      }
      // The end of a node's event turn: what it wrote in it is one LMDB transaction.
      for (const process of this.processes) if (process.node.alive) process.node.store.endTurn();
    }
  }

  private drainDeferred(): void {
    for (let rounds = 0; this.deferred.length > 0; rounds++) {
      assert(rounds < 10_000, 'deferred work ends');
      const batch = this.deferred;
      this.deferred = [];
      for (const run of batch) run();
    }
  }

  // ---- the world the nodes, clients and manager see ----------------------------------------------

  now(): number {
    return this.queue.now;
  }

  after(delayMs: number, run: () => void): void {
    this.queue.after(delayMs, run);
  }

  defer(run: () => void): void {
    this.deferred.push(run);
  }

  settled(): void {
    this.promisesSettled = true;
  }

  nextTag(): number {
    this.tags += 1;
    return this.tags;
  }

  /** A notable event: part of the trace hash, and logged when asked. */
  note(event: string): void {
    this.record(event);
    this.options.log?.(`${this.queue.now} ${event}`);
  }

  disk(node: SimNode, flush: () => void): void {
    // Now and then an fsync stalls far longer than a network hop (as real ones do): then entries
    // are durable downstream before they are durable here.
    const stalled = (this.options.diskStallRate ?? 0) > 0 && this.random.chance(this.options.diskStallRate ?? 0);
    const latencyMs = stalled ? this.random.int(20, 100) : this.random.int(1, this.options.diskMsMax ?? 5);
    const done = Math.max(this.diskFreeAt.get(node.id) ?? 0, this.queue.now) + latencyMs;
    this.diskFreeAt.set(node.id, done);
    const incarnation = node.incarnation;
    this.queue.at(done, () =>
      this.whenAwake(node, () => {
        if (node.alive && node.incarnation === incarnation) flush();
      }),
    );
  }

  send(from: string, to: string, frame: PeerFrame): void {
    this.options.log?.(`${this.queue.now} ${from}->${to} ${describeFrame(frame)}`);
    this.transmit(from, to, { kind: 'frame', frame: frameOverTheWire(frame) });
  }

  monotonicClock(): () => number {
    const startedAtMs = this.queue.now;
    const originMs = this.random.int(0, 1_000_000);
    const rate = 1 + (this.random.next() * 2 - 1) * clockRateErrorMax;
    return () => Math.floor(originMs + (this.queue.now - startedAtMs) * rate);
  }

  whenAwake(node: SimNode, run: () => void): void {
    const until = this.pausedUntil.get(node.id);
    if (until === undefined || until <= this.queue.now) return run();
    this.queue.at(until, () => this.whenAwake(node, run));
  }

  /** A node's published report reaches the coordinator a little later (unless it is cut off). */
  reportChanged(node: SimNode): void {
    const process = this.byId.get(node.id)!;
    const incarnation = node.incarnation;
    this.queue.after(this.random.int(1, this.watchDelayMsMax), () => {
      if (!node.alive || node.incarnation !== incarnation || this.cutOff.has(node.id)) return;
      const report = node.replica.report;
      if (report === undefined) this.reports.delete(node.id);
      else this.reports.set(node.id, report);
      this.reconfigure(process.chainId);
    });
  }

  reportCaughtUp(tail: SimNode, joiner: string, epoch: number): void {
    const chainId = this.byId.get(tail.id)!.chainId;
    this.queue.after(this.random.int(1, 30), () => {
      if (this.configs.get(chainId)!.joining !== joiner) return;
      this.caughtUp.set(joiner, { tail: tail.id, epoch });
      this.reconfigure(chainId);
    });
  }

  log(node: SimNode, line: string): void {
    this.options.log?.(`${this.queue.now} ${node.id} ${line}`);
  }

  fatal(node: SimNode, error: unknown): void {
    this.fatals.push(`${node.id} stopped: ${error instanceof Error ? error.message : String(error)}`);
    node.crash();
  }

  config(chainId: string): ChainConfig {
    return this.configs.get(chainId)!;
  }

  planning(): boolean {
    return this.clients.slice(0, this.mainClients).some((c) => c.done < c.total);
  }

  /**
   * The coordinator's slot map changed: nodes' watches arrive late, and not at the same time
   * everywhere. Clients watch nothing: as the ClusterClient, they ask nodes for the topology
   * after a failed attempt and every clusterClientRefreshIntervalMsDefault (refreshMaps).
   */
  publish(map: SlotTable): void {
    this.note(`map ${map.version}${map.map.migration === undefined ? '' : ` ${JSON.stringify(map.map.migration)}`}`);
    const late = this.watchDelayMsMax;
    for (const process of this.processes) {
      if (this.watchLost(process.id, membershipRefreshIntervalMs, () => this.learnByReread(process))) continue;
      this.queue.after(this.random.int(1, late), () => {
        if (!process.node.alive || this.cutOff.has(process.id)) return;
        if (process.learnMap(map)) this.note(`${process.id} learns map ${map.version}`);
      });
    }
  }

  /**
   * True when `who` hears of no slot map change now: its watch was missed (now, with
   * watchMissRate, or earlier), and it learns the map only at its next periodic re-read, within
   * `rereadMs`, which `reread` is scheduled to be.
   */
  private watchLost(who: string, rereadMs: number, reread: () => void): boolean {
    const until = this.watchLostUntil.get(who);
    if (until !== undefined && until > this.queue.now) return true;
    if (!this.random.chance(this.options.watchMissRate ?? 0)) return false;
    const at = this.queue.now + this.random.int(1, rereadMs);
    this.watchLostUntil.set(who, at);
    this.queue.at(at, reread);
    return true;
  }

  private learnByReread(process: NodeProcess): void {
    if (!process.node.alive || this.cutOff.has(process.id)) return;
    if (process.learnMap(this.map)) this.note(`${process.id} re-reads map ${this.map.version}`);
  }

  private record(event: string): void {
    for (let i = 0; i < event.length; i++) {
      this.trace ^= event.charCodeAt(i);
      this.trace = Math.imul(this.trace, 0x01000193);
    }
  }

  // ---- clients -------------------------------------------------------------------------------------

  private startClient(total: number): SimClient {
    const client = new SimClient(
      this.clients.length,
      total,
      this.keys,
      this.map,
      new Map(this.configs),
      this,
      {
        finished: (operation) => this.history.push(operation),
        refresh: (c) => this.refresh(c),
        refusals: this.refusals,
      },
      { ...simClientLimits, timeoutMs: this.options.clientTimeoutMs },
    );
    this.clients.push(client);
    client.start();
    if (this.manager !== undefined) this.refreshMaps(client);
    return client;
  }

  /** A client's periodic topology refresh, as the ClusterClient's refresh timer. */
  private refreshMaps(client: SimClient): void {
    this.queue.after(clusterClientRefreshIntervalMsDefault, () => {
      if (client.done >= client.total) return;
      this.refresh(client);
      this.refreshMaps(client);
    });
  }

  /** A failed attempt: the client asks two nodes for their maps and keeps the newest (if newer than its own). */
  private refresh(client: SimClient): void {
    if (this.manager === undefined) return; // one chain: the map never changes
    this.queue.after(this.random.int(1, 30), () => {
      for (let i = 0; i < 2; i++) {
        const process = this.random.pick(this.processes);
        if (process.node.alive && process.slots !== undefined) client.learnMap(process.slots);
      }
    });
  }

  /** Live nodes that are not members of their chain. */
  private outOfChain(): NodeProcess[] {
    return this.processes.filter((p) => p.node.alive && !this.configs.get(p.chainId)!.members.includes(p.node.id));
  }

  private describe(process: NodeProcess): string {
    const config = this.configs.get(process.chainId)!;
    const status = process.node.replica.status();
    return (
      `${process.node.id} ${status.role} e${status.epoch} last ${status.last} committed ${status.committed}, ` +
      `chain ${config.chainId} e${config.epoch} [${config.members.join(',')}] joining ${config.joining ?? '-'}`
    );
  }

  /** True when every chain's tail can serve reads. */
  private tailsServe(): boolean {
    return [...this.configs.values()].every((config) => {
      const tail = this.byId.get(config.members[config.members.length - 1]!)!.node;
      return tail.alive && tail.replica.canServeReads();
    });
  }

  /** After everything settled, read every key at the tail of its owner: no acknowledged write may be missing. */
  private finalReads(): void {
    const at = this.queue.now + 1;
    for (const key of this.keys) {
      const config = this.configs.get(this.map.ownerOf(keySlot(Buffer.from(key))))!;
      const tail = this.byId.get(config.members[config.members.length - 1]!)!.node;
      if (!tail.alive || !tail.replica.canServeReads()) {
        this.unreadKeys.push(key);
        continue;
      }
      const output = applyToStore(tail.store, key, { f: 'get' });
      this.history.push({ client: -1, key, input: { f: 'get' }, output, callAt: at, returnAt: at });
    }
  }

  // ---- faults and the coordinator ------------------------------------------------------------------

  private scheduleFaults(): void {
    const perChain = new Map<string, number>();
    const shuffled = [...this.processes].sort(() => this.random.next() - 0.5);
    let crashes = 0;
    this.faultsOverAtMs = 1500 + 2000 + this.options.sessionTimeoutMs;
    for (const victim of shuffled) {
      if (crashes >= this.options.crashes) break;
      const count = perChain.get(victim.chainId) ?? 0;
      if (count >= this.options.nodes - 1) continue;
      perChain.set(victim.chainId, count + 1);
      crashes += 1;
      this.queue.at(this.random.int(50, 1500), () => this.crash(victim));
    }
    // A power failure strikes right after a node answered a request ("buggify"): the moment at
    // which an acknowledgement given too early, or a read of an entry not yet durable on every
    // member, would be taken back.
    const powerFailureRate = this.options.powerFailureRate ?? 0;
    if (powerFailureRate > 0 && this.random.chance(powerFailureRate)) {
      this.powerFailureArmedAtMs = this.random.int(50, 1500);
      this.powerFailureAfterRead = this.random.chance(0.5);
    }
    for (let p = 0; p < this.options.coordinatorPartitions; p++) {
      const process = this.random.pick(this.processes);
      const from = this.random.int(50, 1500);
      const healAt = from + this.random.int(100, 1500);
      this.faultsOverAtMs = Math.max(this.faultsOverAtMs, healAt + this.options.sessionTimeoutMs);
      this.queue.at(from, () => this.cutFromCoordinator(process, healAt));
    }
    for (let p = 0; p < this.options.partitions + this.options.oneWayPartitions; p++) {
      const a = this.random.pick(this.processes);
      const others = this.processes.filter((n) => n.chainId === a.chainId && n.id !== a.id);
      if (others.length === 0) continue;
      const b = this.random.pick(others);
      const symmetric = p < this.options.partitions;
      const link = symmetric ? `${a.id}|${b.id}` : `${a.id}>${b.id}`;
      const from = this.random.int(50, 1500);
      // A partition may reset the connections across it (each side sees its connection close).
      const reset = symmetric && this.random.chance(0.5);
      this.queue.at(from, () => {
        this.partitioned.add(link);
        this.note(`partition ${link}${reset ? ' (connections reset)' : ''}`);
        if (!reset) return;
        for (const [x, y] of [
          [a, b],
          [b, a],
        ] as const) {
          this.whenAwake(x.node, () => x.node.alive && x.node.replica.peerLost(y.id));
        }
      });
      this.queue.at(from + this.random.int(50, 800), () => this.partitioned.delete(link));
    }
    // A pause: longer than the suspicion timeout, shorter than the session's disconnect (2/3 of it).
    for (let p = 0; p < (this.options.pauses ?? 0); p++) {
      const victim = this.random.pick(this.processes);
      const from = this.random.int(50, 1500);
      const [shortest, longest] = this.options.pauseMs ?? [
        130,
        Math.floor((this.options.sessionTimeoutMs * 2) / 3) - 10,
      ];
      const lengthMs = this.random.int(shortest, longest);
      this.queue.at(from, () => {
        if (!victim.node.alive || this.pausedUntil.has(victim.id)) return;
        this.note(`pause ${victim.id} for ${lengthMs} ms`);
        this.pausedUntil.set(victim.id, this.queue.now + lengthMs);
        this.queue.after(lengthMs, () => this.pausedUntil.delete(victim.id));
      });
    }
  }

  /** A new session: after the configuration it read (configure, called first), as Membership.openSession does. */
  private connectSession(process: NodeProcess): void {
    const node = process.node;
    const incarnation = node.incarnation;
    this.whenAwake(node, () => {
      if (!node.alive || node.incarnation !== incarnation) return;
      node.sessionConnected = true;
      node.replica.sessionChanged(true);
    });
  }

  private configure(process: NodeProcess, config: ChainConfig): void {
    process.placed = true;
    const node = process.node;
    const incarnation = node.incarnation;
    this.whenAwake(node, () => {
      if (node.alive && node.incarnation === incarnation) node.replica.configure(config);
    });
  }

  /**
   * The node loses the coordinator: it notices after 2/3 of the session timeout and stops
   * serving (§3.5); the coordinator expires the session after the whole timeout and the manager
   * removes the node. It hears of no configuration or slot map until the partition heals.
   */
  private cutFromCoordinator(process: NodeProcess, healAt: number): void {
    const { node, id } = process;
    if (this.cutOff.has(id)) return;
    this.note(`cut ${id}`);
    this.cutOff.add(id);
    const timeout = this.options.sessionTimeoutMs;
    this.queue.after(Math.floor((timeout * 2) / 3), () => {
      if (!this.cutOff.has(id) || !node.alive) return;
      node.sessionConnected = false;
      node.replica.sessionChanged(false);
    });
    this.queue.after(timeout, () => {
      if (!this.cutOff.has(id)) return;
      this.sessionExpired.add(id);
      this.reports.delete(id);
      this.reconfigure(process.chainId);
    });
    this.queue.at(Math.max(healAt, this.queue.now + 1), () => {
      this.cutOff.delete(id);
      this.note(`heal ${id}`);
      if (!node.alive) return;
      // A new session re-reads everything (docs/design.md §12): the slot map and the configuration.
      process.learnMap(this.map);
      this.configure(process, this.configs.get(process.chainId)!);
      // A new session; a node whose old session expired is no longer a member: it rejoins.
      this.connectSession(process);
      this.sessionExpired.delete(id);
      this.reconfigure(process.chainId);
    });
  }

  /** powerFailureRate: every node of the chain crashes at once (its reply is on its way), if the failure is due. */
  private maybePowerFailure(chainId: string, request: Request): void {
    if (this.queue.now < this.powerFailureArmedAtMs) return;
    const name = request.command.case;
    if (name === undefined || commandByName(name).mutates === this.powerFailureAfterRead) return;
    this.powerFailureArmedAtMs = Number.POSITIVE_INFINITY;
    this.note(`power failure of chain ${chainId}`);
    // The sessions expire in any order (the coordinator's expiry runs in ticks): which member
    // the manager keeps as the chain's last is up to chance.
    for (const process of this.processes) {
      if (process.chainId === chainId && process.node.alive) this.crash(process, this.random.int(0, 100));
    }
  }

  /** installCrashRate: a crash in the middle of a snapshot install, once the part's turn is over. */
  private maybeCrashInstalling(process: NodeProcess): void {
    const rate = this.options.installCrashRate ?? 0;
    if (rate === 0 || this.installCrashed.has(process.node.id) || !this.random.chance(rate)) return;
    this.installCrashed.add(process.node.id);
    this.queue.after(0, () => {
      if (process.node.alive) this.crash(process);
    });
  }

  private crash(process: NodeProcess, expiryJitterMs = 0): void {
    const node = process.node;
    if (!node.alive) return; // already down (a power failure came first)
    // The disk may have written back some of the unsynced turns before the power went (each whole).
    const surviving = this.random.int(0, node.store.unsyncedTurns);
    this.note(`crash ${node.id} (${surviving} of ${node.store.unsyncedTurns} unsynced turns survive)`);
    node.crash(surviving);
    this.pausedUntil.delete(node.id);
    const incarnation = node.incarnation;
    this.queue.after(this.options.sessionTimeoutMs + expiryJitterMs, () => {
      if (node.incarnation !== incarnation) return; // it restarted with a new session meanwhile
      this.sessionExpired.add(node.id);
      this.reports.delete(node.id); // its znode is gone with its session
      this.reconfigure(process.chainId);
    });
    this.queue.after(this.random.int(100, 2000), () => this.restart(process));
  }

  /** The node comes back with its durable state and a new session; it rejoins (§3.8). */
  private restart(process: NodeProcess): void {
    const node = process.node;
    this.note(`restart ${node.id}`);
    node.restart();
    // Its new session replaces its znode: what the old process reported is gone with it.
    this.reports.delete(node.id);
    for (const [joiner, report] of this.caughtUp) if (report.tail === node.id) this.caughtUp.delete(joiner);
    process.restarted();
    this.sessionExpired.delete(node.id);
    const members = this.configs.get(process.chainId)!.members;
    if (members.includes(node.id) && members.length > 1) this.staleMembers.add(node.id);
    this.connectSession(process);
    if (!this.cutOff.has(node.id)) {
      process.learnMap(this.map);
      this.configure(process, this.configs.get(process.chainId)!);
    }
    this.reconfigure(process.chainId);
  }

  /** The manager's decisions for one chain (coordination/manager.ts). */
  private reconfigure(chainId: string): void {
    for (;;) {
      const current = this.configs.get(chainId)!;
      for (const id of this.staleMembers) {
        if (this.byId.get(id)!.chainId === chainId && !current.members.includes(id)) this.staleMembers.delete(id);
      }
      const own = this.processes.filter((p) => p.chainId === chainId);
      const liveNodes = new Set(own.filter((p) => !this.sessionExpired.has(p.id)).map((p) => p.id));
      const candidates = [...liveNodes].filter((id) => !current.members.includes(id) && !this.cutOff.has(id));
      const reports = new Map<string, ChainReport>();
      for (const [id, report] of this.reports) {
        if (report.chainId !== chainId) continue;
        // The broken variant takes every report as if made at the current epoch.
        reports.set(id, this.variant.staleReports === true ? { ...report, epoch: current.epoch } : report);
      }
      const decision = decide(current, {
        liveNodes,
        reports,
        suspectedNodes: this.staleMembers,
        // As the manager's driver: a joiner counts as caught up on the report of the current
        // tail at the current epoch only (a removed tail may have reported it).
        caughtUp: new Set(
          [...this.caughtUp]
            .filter(([, r]) => r.epoch === current.epoch && r.tail === current.members[current.members.length - 1])
            .map(([joiner]) => joiner),
        ),
        candidates,
        nowMs: this.queue.now,
        sessionTimeoutMs: this.options.sessionTimeoutMs,
      });
      if (decision.kind === 'none') return;
      const config = decision.config;
      this.configs.set(chainId, config);
      this.reconfigurations += 1;
      for (const id of config.members) this.caughtUp.delete(id);
      this.note(`epoch ${chainId} ${config.epoch} ${config.members.join(',')} (${decision.why})`);
      // Watches arrive late, and not at the same time everywhere.
      for (const process of own) {
        this.queue.after(this.random.int(1, this.watchDelayMsMax), () => {
          if (process.node.alive && !this.cutOff.has(process.id)) this.configure(process, config);
        });
      }
      for (const client of this.clients) {
        this.queue.after(this.random.int(1, 4 * this.watchDelayMsMax), () => client.learnConfig(config));
      }
    }
  }

  // ---- the network -----------------------------------------------------------------------------------

  transmit(from: string, to: string, packet: SimPacket): void {
    if (this.random.chance(this.options.dropRate)) return;
    const copies = this.random.chance(this.options.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.queue.after(this.random.int(1, this.options.networkMsMax ?? 20), () => this.arrive(from, to, packet));
    }
  }

  private arrive(from: string, to: string, packet: SimPacket): void {
    if (this.partitioned.has(`${from}|${to}`) || this.partitioned.has(`${to}|${from}`)) return;
    if (this.partitioned.has(`${from}>${to}`)) return;
    if (to === managerId) return this.manager?.receive(packet);
    if (to.startsWith('client')) return this.clients[Number(to.slice('client'.length))]!.receive(packet);
    const process = this.byId.get(to)!;
    if (!process.node.alive) return;
    const until = this.pausedUntil.get(to);
    if (until !== undefined) {
      // A paused process reads what waited in its socket buffers when it resumes.
      const incarnation = process.node.incarnation;
      this.queue.at(until, () => process.node.incarnation === incarnation && this.arrive(from, to, packet));
      return;
    }
    switch (packet.kind) {
      case 'frame':
        if (packet.frame.kind !== 'peer') process.node.replica.frame(packet.frame);
        if (packet.frame.kind === 'snapshot-records') this.maybeCrashInstalling(process);
        return;
      case 'request': {
        const request = requestOverTheWire(packet.request);
        return process.execute(request, (result) => {
          this.served(process, from, request, result);
          this.checkReadDurable(process, request, result);
          this.transmit(to, from, { kind: 'reply', tag: packet.tag, result: replyOverTheWire(result) });
          if (result.case !== 'error') this.maybePowerFailure(process.chainId, request);
        });
      }
      case 'reply':
        assert(false, 'a node never receives a reply');
    }
  }

  /**
   * A read answered from the data: everything applied there must be durable on every member of
   * the chain the node serves in (what a crash of all the others could not take back). Omniscient,
   * as a check may be: it reads every member's durable log position.
   */
  private checkReadDurable(process: NodeProcess, request: Request, result: ResponseResult): void {
    const name = request.command.case;
    if (name === undefined || commandByName(name).mutates || result.case === 'error') return;
    const replica = process.node.replica;
    const applied = replica.appliedPosition.lastSequence;
    for (const member of replica.config()?.members ?? []) {
      const durable = this.byId.get(member)?.node.store.readMeta().position.lastSequence ?? 0;
      if (durable < applied && this.undurableReads.length < 10) {
        this.undurableReads.push(
          `${process.id} served a read at ${this.queue.now} ms with ${applied} applied, durable on ${member} only to ${durable}`,
        );
      }
    }
  }

  /** A request answered: logged when asked (it is what a replay most needs to show). */
  private served(process: NodeProcess, from: string, request: Request, result: ResponseResult): void {
    const log = this.options.log;
    if (log === undefined) return;
    const value = request.command.value as { key?: Uint8Array; first?: number; last?: number } | undefined;
    const what = value?.key !== undefined ? Buffer.from(value.key).toString() : `${value?.first}..${value?.last}`;
    const outcome = result.case === 'error' ? `${result.value.code} ${result.value.message}` : 'ok';
    log(
      `${this.queue.now} ${process.id} (map ${process.slots?.version ?? '-'}) ${request.command.case} ${what} from ${from}: ${outcome}`,
    );
  }
}
