// A deterministic simulation of one chain: nodes running the real replica (src/server/replica/,
// with the real chain-node core inside) over in-memory stores, a coordinator whose sessions expire and whose watches arrive late, a network that
// delays, drops, duplicates, reorders and partitions, crashes, and clients with timeouts and
// retries whose history is checked for linearizability. Everything runs on one seeded Prng and
// virtual time (event-queue.ts), so a seed replays a run exactly (DESIGN.md §4).
//
// One chain is simulated (sharding comes later). The manager (coordination/manager.ts) removes
// crashed and expired members; crashed nodes restart with their durable state, and they and
// healed nodes rejoin through the join protocol (§3.8).

import { assert } from '../../core/assert.js';
import type { Clock } from '../../core/clock.js';
import { Prng } from '../../core/prng.js';
import type { ChainConfig } from '../../replication/chain-config.js';
import { decide } from '../../coordination/manager.js';
import type { RequestId } from '../../replication/log-entry.js';
import { decodePeerFrame, encodePeerFrame, type PeerFrame } from '../../server/chain-wire.js';
import type { ReplicaFaults } from '../../server/replica/replica.js';
import { applyToStore } from '../linearizability/generate.js';
import type { Input, Operation, Output } from '../linearizability/history.js';
import { EventQueue } from './event-queue.js';
import { outputOf, requestFor, SimNode, type SimOp, type SimReplicaTuning, type SimWorld } from './sim-node.js';

export { SimNode, type SimOp } from './sim-node.js';

export interface SimOptions {
  seed: number;
  nodes: number;
  clients: number;
  operationsPerClient: number;
  keys: number;
  /** Network faults, as probabilities per message. */
  dropRate: number;
  duplicateRate: number;
  /** Node crashes during the run (at most nodes - 1); each crashed node restarts later and rejoins. */
  crashes: number;
  /** Symmetric partitions between two nodes, each healed later. */
  partitions: number;
  /** Partitions between one node and the coordinator (its session disconnects, then expires). */
  coordinatorPartitions: number;
  /** One-way partitions: messages from one node to another are lost, the other way they pass. */
  oneWayPartitions: number;
  sessionTimeoutMs: number;
  clientTimeoutMs: number;
  /** Replica limits lowered for the run (default: the node's). */
  replica?: SimReplicaTuning;
  /** Receives a line for each notable event (faults, configurations, chain traffic), for replaying a seed. */
  log?: (line: string) => void;
}

export const defaultSimOptions: Omit<SimOptions, 'seed'> = {
  nodes: 3,
  clients: 5,
  operationsPerClient: 30,
  keys: 3,
  dropRate: 0.02,
  duplicateRate: 0.02,
  crashes: 1,
  partitions: 1,
  coordinatorPartitions: 1,
  oneWayPartitions: 1,
  sessionTimeoutMs: 300,
  clientTimeoutMs: 150,
};

/** Deliberately broken variants of the replica (ReplicaFaults), made fresh for each node. */
export interface SimVariant {
  faults?: (nodeId: string) => ReplicaFaults;
}

type Packet =
  | { kind: 'frame'; frame: PeerFrame }
  | { kind: 'write'; requestId: RequestId; op: SimOp; client: number }
  | { kind: 'read'; key: string; client: number; readId: number }
  | { kind: 'write-reply'; requestId: RequestId; output: Output | undefined }
  | { kind: 'write-rejected'; requestId: RequestId }
  | { kind: 'read-reply'; client: number; readId: number; output: Output | undefined };

export interface SimResult {
  readonly seed: number;
  readonly history: Operation[];
  readonly nodes: SimNode[];
  readonly config: ChainConfig;
  readonly traceHash: string;
  readonly endedAtMs: number;
  readonly unfinishedClients: number;
  /** Outputs of the operations of the client started after every fault had healed. */
  readonly probeOutputs: (Output | undefined)[];
  /** Nodes that stopped on a broken invariant or a disk failure (a node must never). */
  readonly fatals: string[];
}

interface ClientState {
  id: number;
  /** The configuration as this client last heard it (watches arrive late). */
  view: ChainConfig;
  /** Operations this client runs in all. */
  total: number;
  /** Last version seen per key (for compare-and-set). */
  seen: Map<string, number>;
  done: number;
  clientSequence: number;
  /** The operation in progress. */
  current:
    | { kind: 'write'; requestId: RequestId; op: SimOp; callAt: number; attempts: number }
    | { kind: 'read'; key: string; callAt: number; attempts: number; readId: number }
    | undefined;
}

/** Operations of the client that checks progress once every fault has healed. */
export const probeOperations = 4;

export function simulate(options: SimOptions, variant: SimVariant = {}): SimResult {
  return new Simulation(options, variant).run();
}

/** Virtual time as a wall clock: the replica stamps writes and keys expire by it. */
const clockOriginMs = 1_700_000_000_000;
/** After the probe, the run goes on this long so the members converge (the repair runs every second). */
const settleMs = 3_000;

class Simulation implements SimWorld {
  private readonly random: Prng;
  readonly clock: Clock;
  private deferred: (() => void)[] = [];
  private readonly diskFreeAt = new Map<string, number>();
  private readonly fatals: string[] = [];
  /** Every scheduled fault has happened and healed by then. */
  private faultsOverAtMs = 0;
  private readonly queue = new EventQueue();
  private readonly nodes: SimNode[];
  private config: ChainConfig;
  private readonly sessionExpired = new Set<string>();
  private readonly partitioned = new Set<string>();
  private readonly history: Operation[] = [];
  private readonly clients: ClientState[] = [];
  private trace = 0x811c9dc5;
  /** Read ids, unique in the run: a late reply to an earlier read must not answer a later one. */
  private reads = 0;
  /** Joiners their tail reported caught up (the coordinator's view). */
  private readonly caughtUp = new Set<string>();
  /** Restarted nodes still listed as members: the manager must remove them so they rejoin. */
  private readonly staleMembers = new Set<string>();
  /** Nodes cut off from the coordinator: no watches reach them, their sessions lapse. */
  private readonly cutOff = new Set<string>();
  private probeOutputs: (Output | undefined)[] = [];

  constructor(
    private readonly options: SimOptions,
    variant: SimVariant,
  ) {
    this.random = new Prng(options.seed);
    const queue = this.queue;
    this.clock = { nowMs: () => clockOriginMs + queue.now };
    this.nodes = Array.from({ length: options.nodes }, (_, i) => {
      const id = `n${i}`;
      return new SimNode(id, this, variant.faults?.(id) ?? {}, options.replica ?? {});
    });
    this.config = {
      chainId: 'c0',
      epoch: 1,
      members: this.nodes.map((n) => n.id),
      joining: undefined,
      readsAllowedAtMs: 0,
    };
  }

  run(): SimResult {
    for (const node of this.nodes) {
      this.connectSession(node);
      node.replica.configure(this.config);
    }
    this.scheduleFaults();
    for (let i = 0; i < this.options.clients; i++) this.startClient(this.options.operationsPerClient);
    const limitMs = 600_000;
    const clientsDone = (): boolean => this.clients.every((c) => c.done >= c.total);
    // The old chain-only simulator ran until no event was left; replicas tick forever, so the
    // run waits instead for the clients, the faults' end, and a chain with every live node in it.
    const healed = (): boolean =>
      this.queue.now >= this.faultsOverAtMs &&
      this.config.joining === undefined &&
      this.nodes.every((n) => !n.alive || this.config.members.includes(n.id)) &&
      this.quiescent();
    this.runWhile(() => !clientsDone() || !healed(), limitMs);
    // Progress: with every fault healed, a fresh client's writes and reads must all complete.
    const probe = this.startClient(probeOperations);
    this.runWhile(() => !clientsDone(), limitMs * 2);
    this.probeOutputs = this.history.filter((o) => o.client === probe.id).map((o) => o.output);
    const settled = this.queue.now + settleMs;
    this.runWhile(() => this.queue.now < settled, settled);
    this.finalReads();
    return {
      seed: this.options.seed,
      history: this.history,
      nodes: this.nodes,
      config: this.config,
      traceHash: (this.trace >>> 0).toString(16).padStart(8, '0'),
      endedAtMs: this.queue.now,
      unfinishedClients: this.clients.filter((c) => c.done < c.total).length,
      probeOutputs: this.probeOutputs,
      fatals: this.fatals,
    };
  }

  /** Every member is alive, at the current epoch, holds the same log end, all of it committed, and the tail serves reads. */
  private quiescent(): boolean {
    const members = this.config.members.map((id) => this.node(id));
    const tail = members[members.length - 1];
    if (tail === undefined || !tail.alive || !tail.replica.canServeReads()) return false;
    const ends = new Set<string>();
    for (const node of members) {
      const status = node.replica.status();
      if (!node.alive || status.epoch !== this.config.epoch || status.committed !== status.last) return false;
      ends.add(`${status.last}`);
    }
    return ends.size === 1;
  }

  /** Runs events (each followed by what it deferred) while `more` holds and time is before `untilMs`. */
  private runWhile(more: () => boolean, untilMs: number): void {
    while (more() && this.queue.step(untilMs)) {
      this.drainDeferred();
      this.record(`t${this.queue.now}`);
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

  // ---- the world the nodes see (sim-node.ts SimWorld) ------------------------------------------

  after(delayMs: number, run: () => void): void {
    this.queue.after(delayMs, run);
  }

  defer(run: () => void): void {
    this.deferred.push(run);
  }

  disk(node: SimNode, flush: () => void): void {
    const done = Math.max(this.diskFreeAt.get(node.id) ?? 0, this.queue.now) + this.random.int(1, 5);
    this.diskFreeAt.set(node.id, done);
    const incarnation = node.incarnation;
    this.queue.at(done, () => {
      if (node.alive && node.incarnation === incarnation) flush();
    });
  }

  send(from: string, to: string, frame: PeerFrame): void {
    if (this.options.log !== undefined) this.record(`${from}->${to} ${describeFrame(frame)}`);
    // Through the real wire codec: what arrives is a decoded copy, never the sender's objects.
    const decoded = decodePeerFrame(encodePeerFrame(frame).subarray(4));
    assert(decoded.ok, `a peer frame round-trips (${frame.kind})`);
    this.transmit(from, to, { kind: 'frame', frame: decoded.frame });
  }

  reportCaughtUp(_tail: SimNode, joiner: string): void {
    this.queue.after(this.random.int(1, 30), () => {
      if (this.config.joining !== joiner) return;
      this.caughtUp.add(joiner);
      this.reconfigure();
    });
  }

  log(node: SimNode, line: string): void {
    if (this.options.log !== undefined) this.record(`${node.id} ${line}`);
  }

  fatal(node: SimNode, error: unknown): void {
    this.fatals.push(`${node.id} stopped: ${error instanceof Error ? error.message : String(error)}`);
    node.crash();
  }

  private connectSession(node: SimNode): void {
    node.sessionConnected = true;
    node.replica.sessionChanged(true);
  }

  private startClient(total: number): ClientState {
    const client: ClientState = {
      id: this.clients.length,
      view: this.config,
      total,
      seen: new Map(),
      done: 0,
      clientSequence: 0,
      current: undefined,
    };
    this.clients.push(client);
    this.queue.after(this.random.int(0, 20), () => this.nextOperation(client));
    return client;
  }

  /** After everything settled, read every key at the tail: no acknowledged write may be missing. */
  private finalReads(): void {
    const tail = this.node(this.config.members[this.config.members.length - 1]!);
    if (!tail.alive || !tail.replica.canServeReads()) return;
    const at = this.queue.now + 1;
    for (let k = 0; k < this.options.keys; k++) {
      const key = `k${k}`;
      const output = applyToStore(tail.store, key, { f: 'get' });
      this.history.push({ client: -1, key, input: { f: 'get' }, output, callAt: at, returnAt: at });
    }
  }

  private record(event: string): void {
    if (this.options.log !== undefined && !event.startsWith('t')) this.options.log(`${this.queue.now} ${event}`);
    for (let i = 0; i < event.length; i++) {
      this.trace ^= event.charCodeAt(i);
      this.trace = Math.imul(this.trace, 0x01000193);
    }
  }

  private node(id: string): SimNode {
    return this.nodes.find((n) => n.id === id)!;
  }

  // ---- faults and the coordinator ------------------------------------------------------------

  private scheduleFaults(): void {
    const crashes = Math.min(this.options.crashes, this.options.nodes - 1);
    const victims = [...this.nodes].sort(() => this.random.next() - 0.5).slice(0, crashes);
    this.faultsOverAtMs = 1500 + 2000 + this.options.sessionTimeoutMs;
    for (const victim of victims) this.queue.at(this.random.int(50, 1500), () => this.crash(victim));
    for (let p = 0; p < this.options.coordinatorPartitions; p++) {
      const node = this.random.pick(this.nodes);
      const from = this.random.int(50, 1500);
      const healAt = from + this.random.int(100, 1500);
      this.faultsOverAtMs = Math.max(this.faultsOverAtMs, healAt + this.options.sessionTimeoutMs);
      this.queue.at(from, () => this.cutFromCoordinator(node, healAt));
    }
    for (let p = 0; p < this.options.partitions; p++) {
      const a = this.random.pick(this.nodes).id;
      const b = this.random.pick(this.nodes.filter((n) => n.id !== a)).id;
      const from = this.random.int(50, 1500);
      this.queue.at(from, () => this.partitioned.add(`${a}|${b}`));
      this.queue.at(from + this.random.int(50, 800), () => this.partitioned.delete(`${a}|${b}`));
    }
    for (let p = 0; p < this.options.oneWayPartitions; p++) {
      const a = this.random.pick(this.nodes).id;
      const b = this.random.pick(this.nodes.filter((n) => n.id !== a)).id;
      const from = this.random.int(50, 1500);
      this.queue.at(from, () => this.partitioned.add(`${a}>${b}`));
      this.queue.at(from + this.random.int(50, 800), () => this.partitioned.delete(`${a}>${b}`));
    }
  }

  /**
   * The node loses the coordinator: it notices after 2/3 of the session timeout and stops
   * serving (§3.5); the coordinator expires the session after the whole timeout and the manager
   * removes the node. It hears of no configuration until the partition heals.
   */
  private cutFromCoordinator(node: SimNode, healAt: number): void {
    if (this.cutOff.has(node.id)) return;
    this.record(`cut ${node.id}`);
    this.cutOff.add(node.id);
    const timeout = this.options.sessionTimeoutMs;
    this.queue.after(Math.floor((timeout * 2) / 3), () => {
      if (!this.cutOff.has(node.id) || !node.alive) return;
      node.sessionConnected = false;
      node.replica.sessionChanged(false);
    });
    this.queue.after(timeout, () => {
      if (!this.cutOff.has(node.id)) return;
      this.sessionExpired.add(node.id);
      this.reconfigure();
    });
    this.queue.at(Math.max(healAt, this.queue.now + 1), () => {
      this.cutOff.delete(node.id);
      this.record(`heal ${node.id}`);
      if (!node.alive) return;
      node.replica.configure(this.config);
      // A new session; a node whose old session expired is no longer a member: it rejoins.
      this.connectSession(node);
      this.sessionExpired.delete(node.id);
      this.reconfigure();
    });
  }

  private crash(node: SimNode): void {
    this.record(`crash ${node.id}`);
    node.crash();
    const incarnation = node.incarnation;
    this.queue.after(this.options.sessionTimeoutMs, () => {
      if (node.incarnation !== incarnation) return; // it restarted with a new session meanwhile
      this.sessionExpired.add(node.id);
      this.reconfigure();
    });
    this.queue.after(this.random.int(100, 2000), () => this.restart(node));
  }

  /** The node comes back with its durable state and a new session; it rejoins (§3.8). */
  private restart(node: SimNode): void {
    this.record(`restart ${node.id}`);
    node.restart();
    this.sessionExpired.delete(node.id);
    const members = this.config.members;
    if (members.includes(node.id) && members.length > 1) this.staleMembers.add(node.id);
    this.connectSession(node);
    if (!this.cutOff.has(node.id)) node.replica.configure(this.config);
    this.reconfigure();
  }

  private reconfigure(): void {
    for (;;) {
      for (const id of this.staleMembers) if (!this.config.members.includes(id)) this.staleMembers.delete(id);
      const liveNodes = new Set(this.nodes.filter((n) => !this.sessionExpired.has(n.id)).map((n) => n.id));
      const candidates = [...liveNodes].filter((id) => !this.config.members.includes(id) && !this.cutOff.has(id));
      const decision = decide(this.config, {
        liveNodes,
        suspectedNodes: this.staleMembers,
        caughtUp: this.caughtUp,
        candidates,
        nowMs: this.queue.now,
        sessionTimeoutMs: this.options.sessionTimeoutMs,
      });
      if (decision.kind === 'none') return;
      this.config = decision.config;
      for (const id of this.config.members) this.caughtUp.delete(id);
      this.record(`epoch ${this.config.epoch} ${this.config.members.join(',')}`);
      const config = this.config;
      // Watches arrive late, and not at the same time everywhere.
      for (const node of this.nodes) {
        this.queue.after(this.random.int(1, 60), () => {
          if (node.alive && !this.cutOff.has(node.id)) node.replica.configure(config);
        });
      }
      for (const client of this.clients) {
        this.queue.after(this.random.int(1, 200), () => {
          if (client.view.epoch < config.epoch) client.view = config;
        });
      }
    }
  }

  // ---- the network ------------------------------------------------------------------------------

  private transmit(from: string, to: string, packet: Packet): void {
    if (this.random.chance(this.options.dropRate)) return;
    const copies = this.random.chance(this.options.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.queue.after(this.random.int(1, 20), () => this.arrive(from, to, packet));
    }
  }

  private arrive(from: string, to: string, packet: Packet): void {
    if (this.partitioned.has(`${from}|${to}`) || this.partitioned.has(`${to}|${from}`)) return;
    if (this.partitioned.has(`${from}>${to}`)) return;
    if (to.startsWith('client')) {
      this.clientReceives(this.clients[Number(to.slice('client'.length))]!, packet);
      return;
    }
    const node = this.node(to);
    if (!node.alive) return;
    switch (packet.kind) {
      case 'frame':
        if (packet.frame.kind !== 'peer') node.replica.frame(packet.frame);
        break;
      case 'write':
        this.write(node, packet);
        break;
      case 'read':
        this.read(node, packet);
        break;
      default:
        assert(false, `a node never receives ${packet.kind}`);
    }
  }

  /** A client's write at a node: through the replica, answered when it commits (or refused). */
  private write(node: SimNode, packet: Extract<Packet, { kind: 'write' }>): void {
    const { requestId, op } = packet;
    const request = requestFor(op.key, op.input, requestId.clientId, requestId.clientSequence);
    const incarnation = node.incarnation;
    node.replica.submit(request, (result) => {
      if (!node.alive || node.incarnation !== incarnation) return; // the process that would answer is gone
      const output = outputOf(result);
      const client = requestId.clientId;
      if (output === 'retry') this.transmit(node.id, client, { kind: 'write-rejected', requestId });
      else this.transmit(node.id, client, { kind: 'write-reply', requestId, output });
    });
  }

  /** A client's read at a node: served only where and when the replica says it may be. */
  private read(node: SimNode, packet: Extract<Packet, { kind: 'read' }>): void {
    const execution = node.replica.read(requestFor(packet.key, { f: 'get' }, `client${packet.client}`, 0));
    assert(execution.kind !== 'later', 'a read is answered from the store');
    const output = outputOf(execution.result);
    const reply = (): void =>
      this.transmit(node.id, `client${packet.client}`, {
        kind: 'read-reply',
        client: packet.client,
        readId: packet.readId,
        output: output === 'retry' ? undefined : output,
      });
    if (execution.kind === 'now') return reply();
    const incarnation = node.incarnation;
    node.store.whenDurable(() => {
      if (node.alive && node.incarnation === incarnation) reply();
    });
  }

  // ---- clients ---------------------------------------------------------------------------------

  private nextOperation(client: ClientState): void {
    if (client.done >= client.total) return;
    const key = `k${this.random.int(0, this.options.keys - 1)}`;
    const r = this.random.next();
    if (r < 0.4) {
      this.reads += 1;
      client.current = { kind: 'read', key, callAt: this.queue.now, attempts: 0, readId: this.reads };
    } else {
      client.clientSequence += 1;
      const value = `c${client.id}-${client.clientSequence}`;
      const input: SimOp['input'] =
        r < 0.55
          ? { f: 'put', value }
          : r < 0.65
            ? { f: 'cas', expectedVersion: client.seen.get(key) ?? 0, value }
            : r < 0.8
              ? { f: 'incr', delta: 1n }
              : r < 0.9
                ? { f: 'append', value: String.fromCharCode(97 + client.id) }
                : { f: 'del' };
      const requestId = { clientId: `client${client.id}`, clientSequence: client.clientSequence };
      client.current = { kind: 'write', requestId, op: { key, input }, callAt: this.queue.now, attempts: 0 };
    }
    this.attempt(client);
  }

  private attempt(client: ClientState): void {
    const current = client.current;
    if (current === undefined) return;
    current.attempts += 1;
    const members = client.view.members; // clients watch the configuration too, late
    const attempt = current.attempts;
    if (current.kind === 'write') {
      this.transmit(`client${client.id}`, members[0]!, {
        kind: 'write',
        requestId: current.requestId,
        op: current.op,
        client: client.id,
      });
    } else {
      const tail = members[members.length - 1]!;
      this.transmit(`client${client.id}`, tail, {
        kind: 'read',
        key: current.key,
        client: client.id,
        readId: current.readId,
      });
    }
    this.queue.after(this.options.clientTimeoutMs, () => {
      if (client.current !== current || current.attempts !== attempt) return;
      if (current.attempts < 6) this.attempt(client);
      else this.finish(client, undefined); // gave up: the outcome is unknown
    });
  }

  private clientReceives(client: ClientState, packet: Packet): void {
    const current = client.current;
    if (current === undefined) return;
    if (
      packet.kind === 'write-reply' &&
      current.kind === 'write' &&
      packet.requestId.clientSequence === current.requestId.clientSequence
    ) {
      this.finish(client, packet.output);
    } else if (
      packet.kind === 'write-rejected' &&
      current.kind === 'write' &&
      packet.requestId.clientSequence === current.requestId.clientSequence
    ) {
      // Not the head (any more): the timeout retries, by then the configuration may have moved.
    } else if (
      packet.kind === 'read-reply' &&
      current.kind === 'read' &&
      packet.readId === current.readId &&
      packet.output !== undefined
    ) {
      this.finish(client, packet.output);
    }
  }

  /** The version a client last saw for a key: what its next compare-and-set expects. */
  private remember(client: ClientState, key: string, output: Output | undefined): void {
    if (output === undefined) return;
    if (output.f === 'get') {
      if (output.found && output.version !== undefined) client.seen.set(key, output.version);
      else client.seen.delete(key);
    } else if (output.f === 'put' || (output.f === 'cas' && output.swapped)) {
      if (output.version !== undefined) client.seen.set(key, output.version);
    } else if (output.f === 'cas') {
      client.seen.set(key, output.currentVersion);
    } else if (output.f === 'del') {
      client.seen.delete(key);
    }
  }

  private finish(client: ClientState, output: Output | undefined): void {
    const current = client.current!;
    const input: Input = current.kind === 'write' ? current.op.input : { f: 'get' };
    const key = current.kind === 'write' ? current.op.key : current.key;
    // A read nobody answered tells nothing; keep it out of the history.
    if (!(current.kind === 'read' && output === undefined)) {
      this.history.push({ client: client.id, key, input, output, callAt: current.callAt, returnAt: this.queue.now });
    }
    this.remember(client, key, output);
    client.current = undefined;
    client.done += 1;
    this.record(`done c${client.id}`);
    this.queue.after(this.random.int(0, 10), () => this.nextOperation(client));
  }
}

/** One line for a frame between nodes, for a replay's log. */
function describeFrame(frame: PeerFrame): string {
  switch (frame.kind) {
    case 'entries': {
      const first = frame.entries[0]?.sequence;
      const last = frame.entries[frame.entries.length - 1]?.sequence;
      return `entries e${frame.epoch} ${first === undefined ? '[]' : `[${first}..${last}]`}`;
    }
    case 'ack':
      return `ack e${frame.epoch} @${frame.sequence}`;
    case 'snapshot-begin':
      return `snapshot-begin e${frame.epoch} #${frame.stream} @${frame.sequence}/${frame.lastEpoch}`;
    case 'snapshot-records':
      return `snapshot-records e${frame.epoch} #${frame.stream} part ${frame.part} (${frame.records.length})`;
    case 'snapshot-end':
      return `snapshot-end e${frame.epoch} #${frame.stream} parts ${frame.parts}`;
    default:
      return JSON.stringify(frame, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  }
}
