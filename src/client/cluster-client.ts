// The cluster-aware client. It learns the cluster's topology from any node, sends each request
// to the node that can serve it (a write to the head of its key's chain, a read to the tail,
// stats/ping/nodestatus/topology to any node), and retries around failovers, so a caller gets
// one answer per call while nodes die and chains are reconfigured.
//
//   const client = await ClusterClient.connect({ seeds: ['10.0.0.1:7000', '10.0.0.2:7000'] });
//   await client.incr('visits');   // applied once, even if the head dies during the call
//
// Contract:
//  * every call settles within `timeoutMs` (default 10 s), retries included. An attempt that
//    fails with a routing or transport error (`retryableCodes`) refreshes the topology from any
//    reachable node, backs off (50 ms doubling to 500 ms, jittered) and tries again; the last
//    such error is thrown at the deadline. Any other error is the answer and returns at once.
//  * exactly-once writes (docs/design.md §3.6): a write gets its (client id, client sequence) pair
//    before its first attempt and every retry sends the same pair, so a node that already
//    applied it answers with the first result. Nodes remember one result per client id, which
//    is enough only while a client id has one write in flight; concurrent writes therefore use
//    distinct writer "lanes" (`<clientId>`, `<clientId>/1`, ...), each with its own sequence and
//    at most one write in flight, and at most `writeLanesMax` lanes.
//  * a topology reply is adopted only if no chain in it is older (a lower epoch) than the one
//    known, so a stale node cannot send the client back to a removed head.
//  * a standalone node (topology cluster '') is used exactly like `Client`: one node, one
//    connection, no routing and no retries (there is no other node to fail over to).
//  * an atomic multi-key write (mput) whose keys are in several chains is refused with
//    ERR_CROSSSLOT before anything is sent (after one refresh, in case the slot map it read is
//    old); a node refuses it too, by its own slot map (server/admission.ts).

import { create } from '@bufbuild/protobuf';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { splitAddress } from '../core/address.js';
import { commandByName, nodeLocalCommands, type CommandName, type RequestInit } from '../commands/index.js';
import { assert } from '../core/assert.js';
import { CatenaError, type ErrorCode } from '../core/errors.js';
import {
  clusterClientAttemptTimeoutMsDefault,
  clusterClientBackoffMsInitial,
  clusterClientFollowAfterMs,
  clusterClientFollowPollMs,
  clusterClientBackoffMsMax,
  clusterClientIdBytes,
  clusterClientRefreshFanoutMax,
  clusterClientRefreshIntervalMsDefault,
  clusterClientRefreshSettleMs,
  clusterClientTimeoutMsDefault,
  clusterClientWriteLanesMaxDefault,
} from '../core/limits.js';
import type { ReplyOf, WriterIds } from '../protocol/native/codec.js';
import { TopologyReplySchema } from '../protocol/native/gen/catena_pb.js';
import { Client, type ClientTls, type Credentials } from './client.js';
import { ClientCommands, type NodeStatus, type Topology } from './client-commands.js';
import { crossChainKeys, requestKeys, singleChainCommands } from '../commands/keys.js';
import {
  everyChainCommands,
  groupByChain,
  joinFlush,
  joinKeys,
  joinMget,
  joinScan,
  joinSize,
  joinTable,
  listLimit,
  splitCommands,
} from './fan-out.js';
import { keySlot } from '../sharding/slots.js';
import { SlotTable, validRanges, type SlotRange } from '../sharding/slot-map.js';

export interface ClusterClientOptions {
  /** Native-protocol addresses (`host:port`) of any nodes, tried in order by `connect`. */
  seeds: readonly string[];
  /** Deadline of each call in ms, retries included (default 10000). */
  timeoutMs?: number;
  /** Names this client for exactly-once writes (default: 16 random hex digits). */
  clientId?: string;
  /** Deadline of one attempt in ms, capped by what is left of the call's (default 1000). */
  attemptTimeoutMs?: number;
  /** How often the topology is refreshed while the client is in use, in ms (default 1000). */
  refreshIntervalMs?: number;
  /** Writes in flight at once, one per writer lane (default 256). */
  writeLanesMax?: number;
  /** Every connection to a node authenticates as this user first (docs/security.md). */
  auth?: Credentials;
  /** Connect to the nodes with TLS (nodes started with --tls-cert). */
  tls?: ClientTls;
  /**
   * The node this client runs inside (a node relaying RESP and memcached requests): requests for
   * its address run in-process instead of over a connection to itself.
   * @internal
   */
  local?: LocalNode;
}

/** A node reachable without a connection: runs one request and settles like `Client.sendWith`. */
export interface LocalNode {
  readonly address: string;
  send(name: CommandName, request: object, writer: WriterIds | undefined, timeoutMs: number): Promise<unknown>;
}

export type { Topology };
export type ChainInfo = Topology['chains'][number];

/** Where a command goes: writes to the head, reads to the tail, node commands to any node. */
export type Route = 'write' | 'read' | 'node';

/** A topology reply with its node id → native address index and its slot map. */
export interface TopologyView {
  readonly reply: Topology;
  readonly natives: ReadonlyMap<string, string>;
  /** Slot → chain; undefined when the reply has no (valid) slot map: the first chain owns everything. */
  readonly slots: SlotTable | undefined;
}

export type Target = { ok: true; address: string } | { ok: false; reason: string };

/** Errors that mean "this node cannot answer now, ask again elsewhere or later". */
export const retryableCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_NOT_HEAD',
  'ERR_NOT_TAIL',
  'ERR_UNAVAILABLE',
  // The slot map changed (or this client's copy is old): refresh it and ask the owner.
  'ERR_MOVED',
  // The slot is between chains for a moment (frozen for a move): back off and retry.
  'ERR_SLOT_MOVING',
  'ERR_CONNECTION_CLOSED',
  'ERR_CONNECTION_FAILED',
  'ERR_TIMEOUT',
  // A node draining on SIGTERM: its chain is about to be reconfigured without it.
  'ERR_SHUTTING_DOWN',
]);

/** Writes to the head, reads to the tail, commands about a node itself to any node. */
export function routeOf(name: CommandName): Route {
  if (commandByName(name).mutates) return 'write';
  return nodeLocalCommands.has(name) ? 'node' : 'read';
}

/**
 * The chain that owns a key (docs/design.md §6): its hash slot's owner in the slot map. A request
 * naming no key goes to `chainId` when given (a part of a request fanned out over every chain),
 * else to the first chain.
 */
export function chainFor(view: TopologyView, key: Uint8Array | undefined, chainId?: string): ChainInfo | undefined {
  const chains = view.reply.chains;
  const owner =
    chainId ?? (key !== undefined && view.slots !== undefined ? view.slots.ownerOf(keySlot(key)) : undefined);
  if (owner === undefined)
    return view.slots === undefined ? chains[0] : chains.find((c) => c.chainId === view.slots!.chains[0]);
  return chains.find((chain) => chain.chainId === owner);
}

/** The node address a request should go to, or why there is none now. */
export function targetFor(
  view: TopologyView,
  route: Route,
  key: Uint8Array | undefined,
  anyAddress: string,
  chainId?: string,
): Target {
  if (route === 'node') return { ok: true, address: anyAddress };
  const chain = chainFor(view, key, chainId);
  if (chain === undefined) {
    const owner = chainId ?? (key !== undefined ? view.slots?.ownerOf(keySlot(key)) : undefined);
    return {
      ok: false,
      reason:
        owner === undefined
          ? `cluster ${view.reply.cluster} has no chain configured yet`
          : `chain ${owner} has not started yet`,
    };
  }
  const role = route === 'write' ? 'head' : 'tail';
  const nodeId = route === 'write' ? chain.members[0] : chain.members.at(-1);
  if (nodeId === undefined) return { ok: false, reason: `chain ${chain.chainId} has no members` };
  const address = view.natives.get(nodeId);
  if (address === undefined)
    return { ok: false, reason: `node ${nodeId} (${role} of ${chain.chainId}) has no address` };
  return { ok: true, address };
}

/** Indexes a topology reply; a node without a usable native address is left out (unroutable). */
export function viewOf(reply: Topology): TopologyView {
  const natives = new Map<string, string>();
  for (const node of reply.nodes) if (splitAddress(node.native)) natives.set(node.nodeId, node.native);
  const ranges: SlotRange[] = reply.slots.map((r) => [r.first, r.last, r.chainId]);
  const slots =
    reply.slotsVersion > 0n && validRanges(ranges)
      ? new SlotTable({ version: Number(reply.slotsVersion), ranges })
      : undefined;
  return { reply, natives, slots };
}

/** True when `incoming` may replace `current`: same cluster, no older slot map, and no chain in it is older. */
export function supersedes(incoming: TopologyView, current: TopologyView): boolean {
  if (incoming.reply.cluster !== current.reply.cluster) return false;
  if (incoming.reply.chains.length === 0 && current.reply.chains.length > 0) return false;
  if (incoming.reply.slotsVersion < current.reply.slotsVersion) return false;
  for (const chain of current.reply.chains) {
    const next = incoming.reply.chains.find((c) => c.chainId === chain.chainId);
    if (next !== undefined && next.epoch < chain.epoch) return false;
  }
  return true;
}

/** `host:port` or `[v6]:port` → its parts; ERR_INVALID_ARGUMENT otherwise. */
export function parseAddress(address: string): { host: string; port: number } {
  const parsed = splitAddress(address);
  if (parsed === undefined) throw new CatenaError('ERR_INVALID_ARGUMENT', `"${address}" is not a host:port address`);
  return parsed;
}

/** The next backoff after `previousMs`, and the jittered wait to use now (half to all of it). */
export function backoffStep(previousMs: number | undefined, random: number): { baseMs: number; waitMs: number } {
  const baseMs =
    previousMs === undefined ? clusterClientBackoffMsInitial : Math.min(previousMs * 2, clusterClientBackoffMsMax);
  return { baseMs, waitMs: baseMs / 2 + (random * baseMs) / 2 };
}

/** The key a request is routed by: its key, or its first (mget is split by chain first; mput's keys share a chain). */
const keyOf = (name: CommandName, request: object): Uint8Array | undefined => requestKeys(name, request)[0];

const clientClosed = (): CatenaError => new CatenaError('ERR_CONNECTION_CLOSED', 'the client is closed');

/** Closes a connection once it is open; one that failed to open has nothing to close. */
const closeWhenOpen = (connecting: Promise<Client>): Promise<void> =>
  connecting.then(
    (client) => client.close(),
    () => undefined,
  );

const asCatenaError = (name: CommandName, error: unknown): CatenaError =>
  error instanceof CatenaError
    ? error
    : new CatenaError('ERR_INVALID_ARGUMENT', `invalid ${name} request: ${String(error)}`);

/** A node from before the topology command answers it as unknown: it is a standalone node. */
const standaloneView: TopologyView = viewOf(create(TopologyReplySchema));

type TopologyAnswer =
  { ok: true; address: string; view: TopologyView } | { ok: false; address: string; error: CatenaError };
type Outcome = { ok: true; reply: unknown } | { ok: false; error: CatenaError; moved?: boolean };
type RefreshOutcome = { ok: true } | { ok: false; error: CatenaError };

interface NodeConnection {
  readonly connecting: Promise<Client>;
  client: Client | undefined;
}

/**
 * A client for a cluster: it learns the topology from any seed, sends a write to the head of its
 * key's chain and a read to its tail, follows failovers and slot moves, and applies a retried
 * write once. Each call settles within `timeoutMs`, retries included. Pointed at a standalone
 * node it works like {@link Client}. Its methods are those of {@link ClientCommands}.
 *
 * ```ts
 * const db = await ClusterClient.connect({ seeds: ['127.0.0.1:7000', '127.0.0.1:7010'] });
 * await db.incr('visits'); // applied once, even if the head dies during the call
 * ```
 */
export class ClusterClient extends ClientCommands {
  readonly clientId: string;
  private readonly seeds: readonly string[];
  private readonly timeoutMs: number;
  private readonly auth: Credentials | undefined;
  private readonly tls: ClientTls | undefined;
  private readonly attemptTimeoutMs: number;
  private readonly refreshIntervalMs: number;
  private readonly lanes: WriterLanes;
  private readonly local: LocalNode | undefined;
  /** One connection per node address, opened on first use. */
  private readonly nodes = new Map<string, NodeConnection>();
  private view: TopologyView = standaloneView;
  /** Set when the seed that answered is a standalone node: everything goes to it. */
  private standalone: Client | undefined;
  /** The node that last answered a topology request: where node commands go. */
  private preferred = '';
  private refreshing: Promise<RefreshOutcome> | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private usedSinceRefresh = false;
  /** When the topology was last adopted (a request over every chain refreshes an older one first). */
  private adoptedAtMs = 0;
  private closing = false;

  private constructor(options: ClusterClientOptions) {
    super();
    if (options.seeds.length === 0) throw new CatenaError('ERR_INVALID_ARGUMENT', 'give at least one seed address');
    for (const seed of options.seeds) parseAddress(seed);
    this.seeds = [...new Set(options.seeds)];
    this.timeoutMs = options.timeoutMs ?? clusterClientTimeoutMsDefault;
    this.auth = options.auth;
    this.tls = options.tls;
    this.attemptTimeoutMs = Math.min(options.attemptTimeoutMs ?? clusterClientAttemptTimeoutMsDefault, this.timeoutMs);
    this.refreshIntervalMs = options.refreshIntervalMs ?? clusterClientRefreshIntervalMsDefault;
    this.clientId = options.clientId ?? randomBytes(clusterClientIdBytes).toString('hex');
    const timings = [this.timeoutMs, this.attemptTimeoutMs, this.refreshIntervalMs];
    if (!timings.every((ms) => Number.isFinite(ms) && ms > 0)) {
      throw new CatenaError(
        'ERR_INVALID_ARGUMENT',
        'timeoutMs, attemptTimeoutMs and refreshIntervalMs must be positive',
      );
    }
    if (this.clientId === '') throw new CatenaError('ERR_INVALID_ARGUMENT', 'clientId must not be empty');
    this.lanes = new WriterLanes(this.clientId, options.writeLanesMax ?? clusterClientWriteLanesMaxDefault);
    this.local = options.local;
  }

  /**
   * Asks the seeds, in order, for the topology and connects to the first that answers. Fails
   * with the last seed's error when none answers (each seed is tried once: nothing has been
   * sent yet, and a wrong address should be reported at once).
   */
  static async connect(options: ClusterClientOptions): Promise<ClusterClient> {
    const client = new ClusterClient(options);
    try {
      await client.discover();
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /** True when the seed that answered is a standalone node (no cluster). */
  get isStandalone(): boolean {
    return this.standalone !== undefined;
  }

  /** The newest topology this client knows (cluster '' for a standalone node). */
  get knownTopology(): Topology {
    return this.view.reply;
  }

  /** The address node commands go to: the node that last answered a topology request. */
  get anyNodeAddress(): string {
    return this.preferred;
  }

  /** The cluster's topology, freshly asked of the reachable nodes (the newest answer wins). */
  override async topology(): Promise<Topology> {
    if (this.standalone !== undefined) return super.topology();
    const outcome = await waitAtMost(this.refresh(), this.timeoutMs);
    if (outcome === undefined) throw new CatenaError('ERR_TIMEOUT', `no node answered within ${this.timeoutMs} ms`);
    if (!outcome.ok) throw outcome.error;
    return this.view.reply;
  }

  /**
   * One command to a chain chosen by id rather than by key (the slot-moving commands): a write to
   * its head, a read to its tail, with the usual retries and exactly-once writer ids.
   */
  async sendToChain<C extends CommandName>(chainId: string, name: C, request: RequestInit<C>): Promise<ReplyOf<C>> {
    if (this.closing) throw clientClosed();
    this.usedSinceRefresh = true;
    return (await this.routed(name, request, Date.now() + this.timeoutMs, chainId)) as ReplyOf<C>;
  }

  /** The replication state of the node at `nodeAddress` (one attempt), or of any node. */
  override async nodeStatus(nodeAddress?: string): Promise<NodeStatus> {
    if (nodeAddress === undefined) return super.nodeStatus();
    return this.sendTo(nodeAddress, 'nodestatus', {});
  }

  /**
   * Sends a command to one node, once: no routing, no retries, no writer ids (so a write sent
   * this way has no retry protection). For node commands (stats, nodestatus) of a chosen node.
   */
  async sendTo<C extends CommandName>(
    address: string,
    name: C,
    request: RequestInit<C>,
    options: { timeoutMs?: number } = {},
  ): Promise<ReplyOf<C>> {
    if (this.closing) throw clientClosed();
    const timeoutMs = options.timeoutMs ?? this.attemptTimeoutMs;
    return (await this.sendVia(address, name, request, undefined, timeoutMs)) as ReplyOf<C>;
  }

  /** One request to one node: in-process for the local node, else over its connection. */
  private async sendVia(
    address: string,
    name: CommandName,
    request: object,
    writer: WriterIds | undefined,
    timeoutMs: number,
  ): Promise<unknown> {
    if (this.local !== undefined && address === this.local.address) {
      return this.local.send(name, request, writer, timeoutMs);
    }
    const node = await this.clientFor(address, timeoutMs);
    return node.sendWith(name, request as never, { writer, timeoutMs });
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.refreshTimer);
    const connections = [...this.nodes.values()];
    this.nodes.clear();
    await Promise.all(connections.map((connection) => closeWhenOpen(connection.connecting)));
  }

  protected call<T>(name: CommandName, build: () => object, convert: (reply: unknown) => T): Promise<T> {
    let request: object;
    try {
      request = build();
    } catch (error) {
      return Promise.reject(asCatenaError(name, error));
    }
    if (this.standalone !== undefined) {
      return this.standalone.sendWith(name, request as never, { timeoutMs: this.timeoutMs }).then(convert);
    }
    return this.callRouted(name, request, convert);
  }

  private async callRouted<T>(name: CommandName, request: object, convert: (reply: unknown) => T): Promise<T> {
    if (this.closing) throw clientClosed();
    this.usedSinceRefresh = true;
    const deadlineMs = Date.now() + this.timeoutMs;
    if (
      (everyChainCommands.has(name) || splitCommands.has(name)) &&
      Date.now() - this.adoptedAtMs > this.refreshIntervalMs
    ) {
      // Nothing tells a request over every chain that the chains changed (no ERR_MOVED for a
      // keyless request): an old slot map would leave a new chain out.
      await waitAtMost(this.refresh(), deadlineMs - Date.now());
    }
    const chains = this.view.slots?.chains ?? [];
    if (chains.length > 1 && everyChainCommands.has(name)) {
      return convert(await this.onEveryChain(name, request, chains, deadlineMs));
    }
    if (chains.length > 1 && splitCommands.has(name))
      return convert(await this.splitByChain(name, request, deadlineMs));
    if (chains.length > 1 && singleChainCommands.has(name)) await this.refuseCrossChain(name, request, deadlineMs);
    return convert(await this.routed(name, request, deadlineMs));
  }

  /** Throws ERR_CROSSSLOT when the request's keys are in several chains, by a fresh slot map. */
  private async refuseCrossChain(name: CommandName, request: object, deadlineMs: number): Promise<void> {
    const split = () => {
      const slots = this.view.slots;
      return slots === undefined ? undefined : crossChainKeys(name, request, (slot) => slots.ownerOf(slot));
    };
    if (split() === undefined) return;
    // The copy may be old (a move since put the keys in one chain): ask again before refusing.
    await waitAtMost(this.refresh(), deadlineMs - Date.now());
    const reason = split();
    if (reason !== undefined) throw new CatenaError('ERR_CROSSSLOT', reason);
  }

  /** One request, routed by its key (or to `chainId`), with retries; writes take a writer lane. */
  private async routed(name: CommandName, request: object, deadlineMs: number, chainId?: string): Promise<unknown> {
    const route = routeOf(name);
    if (route !== 'write') return this.withRetries(name, request, route, undefined, deadlineMs, chainId);
    const lane = await this.lanes.acquire();
    try {
      return await this.withRetries(name, request, route, lane.next(), deadlineMs, chainId);
    } finally {
      this.lanes.release(lane);
    }
  }

  /** A keyless command asked of every chain that owns slots, the answers joined (fan-out.ts). */
  private async onEveryChain(
    name: CommandName,
    request: object,
    chains: readonly string[],
    deadlineMs: number,
  ): Promise<unknown> {
    const replies = await Promise.all(chains.map((chainId) => this.routed(name, request, deadlineMs, chainId)));
    const limit = listLimit((request as { limit?: number }).limit);
    switch (name) {
      case 'size':
        return joinSize(replies as ReplyOf<'size'>[]);
      case 'flush':
        return joinFlush(replies as ReplyOf<'flush'>[]);
      case 'getkeys':
        return joinKeys(replies as ReplyOf<'getkeys'>[], limit);
      case 'gettable':
        return joinTable(replies as ReplyOf<'gettable'>[], limit);
      case 'scan':
        return joinScan(replies as ReplyOf<'scan'>[], limit);
      default:
        throw new CatenaError('ERR_INTERNAL', `${name} is not asked of every chain`);
    }
  }

  /** mget: one request per owning chain, the answers put back together. */
  private async splitByChain(name: CommandName, request: object, deadlineMs: number): Promise<unknown> {
    assert(name === 'mget', `only mget is split by chain, not ${name}`);
    const slots = this.view.slots!;
    const keys = requestKeys(name, request);
    const groups = [...groupByChain(keys, (key) => slots.ownerOf(keySlot(key))).values()];
    if (groups.length <= 1) return this.routed(name, request, deadlineMs);
    const parts = await Promise.all(
      groups.map(async (indices) => ({
        indices,
        reply: (await this.routed(name, { keys: indices.map((i) => keys[i]!) }, deadlineMs)) as ReplyOf<'mget'>,
      })),
    );
    return joinMget(keys.length, parts);
  }

  /** Attempts until one succeeds, fails for good, or the deadline passes. */
  private async withRetries(
    name: CommandName,
    request: object,
    route: Route,
    writer: WriterIds | undefined,
    deadlineMs: number,
    chainId?: string,
  ): Promise<unknown> {
    const key = keyOf(name, request);
    let lastError: CatenaError | undefined;
    let backoffMs: number | undefined;
    // Bounded by the deadline: every failed attempt waits at least clusterClientBackoffMsInitial / 2.
    for (let attempts = 0; ; attempts++) {
      const remainingMs = deadlineMs - Date.now();
      if (this.closing) throw clientClosed();
      if (remainingMs <= 0) throw this.giveUp(lastError, attempts);
      const outcome = await this.attempt({ name, request, route, key, writer, remainingMs, chainId });
      if (outcome.ok) return outcome.reply;
      lastError = outcome.error;
      if (outcome.moved === true) continue; // the new head or tail is known: go there at once
      await waitAtMost(this.refresh(), deadlineMs - Date.now());
      const step = backoffStep(backoffMs, Math.random());
      backoffMs = step.baseMs;
      await delay(Math.max(0, Math.min(step.waitMs, deadlineMs - Date.now())));
    }
  }

  private async attempt(a: {
    name: CommandName;
    request: object;
    route: Route;
    key: Uint8Array | undefined;
    writer: WriterIds | undefined;
    remainingMs: number;
    chainId: string | undefined;
  }): Promise<Outcome> {
    const target = targetFor(this.view, a.route, a.key, this.preferred, a.chainId);
    if (!target.ok) return { ok: false, error: new CatenaError('ERR_UNAVAILABLE', target.reason) };
    const timeoutMs = Math.min(this.attemptTimeoutMs, a.remainingMs);
    const follow = { done: false, timer: undefined as NodeJS.Timeout | undefined };
    try {
      const sent = this.sendVia(target.address, a.name, a.request, a.writer, timeoutMs);
      const moved = new Promise<'moved'>((resolve) => {
        follow.timer = setTimeout(
          () => void this.followRole(target.address, a, follow, resolve),
          clusterClientFollowAfterMs,
        );
      });
      const reply = await Promise.race([sent, moved]);
      if (reply !== 'moved') return { ok: true, reply };
      sent.catch(() => undefined); // abandoned: its answer or error is no longer wanted
      const error = new CatenaError(
        'ERR_UNAVAILABLE',
        `the ${a.route === 'write' ? 'head' : 'tail'} changed during the attempt`,
      );
      return { ok: false, error, moved: true };
    } catch (error) {
      if (error instanceof CatenaError && retryableCodes.has(error.code)) return { ok: false, error };
      throw error;
    } finally {
      follow.done = true;
      clearTimeout(follow.timer);
    }
  }

  /**
   * While an attempt waits, re-reads the topology now and then; resolves once the request would
   * go to another node than `address` (its head or tail was replaced).
   */
  private async followRole(
    address: string,
    a: { route: Route; key: Uint8Array | undefined; chainId: string | undefined },
    follow: { done: boolean },
    moved: (value: 'moved') => void,
  ): Promise<void> {
    while (!follow.done && !this.closing) {
      await this.refresh();
      if (follow.done) return;
      const now = targetFor(this.view, a.route, a.key, this.preferred, a.chainId);
      if (now.ok && now.address !== address) return moved('moved');
      await delay(clusterClientFollowPollMs);
    }
  }

  private giveUp(lastError: CatenaError | undefined, attempts: number): CatenaError {
    if (lastError === undefined) {
      return new CatenaError('ERR_TIMEOUT', `no attempt could start within ${this.timeoutMs} ms`);
    }
    const message = `${lastError.message} (gave up after ${attempts} attempts in ${this.timeoutMs} ms)`;
    return new CatenaError(lastError.code, message, { cause: lastError });
  }

  // -------------------------------------------------------------------------------------------
  // Topology: discovery, refresh, adoption.

  private async discover(): Promise<void> {
    const deadlineMs = Date.now() + this.timeoutMs;
    let lastError: CatenaError | undefined;
    for (const seed of this.seeds) {
      const remainingMs = deadlineMs - Date.now();
      if (remainingMs <= 0) break;
      const answer = await this.askTopology(seed, Math.min(this.attemptTimeoutMs, remainingMs));
      if (!answer.ok) {
        lastError = answer.error;
        continue;
      }
      if (answer.view.reply.cluster === '') {
        this.standalone = await this.clientFor(seed, this.attemptTimeoutMs);
        this.preferred = seed;
        return;
      }
      this.adopt(answer);
      this.startRefreshTimer();
      return;
    }
    throw lastError ?? new CatenaError('ERR_TIMEOUT', `no seed answered within ${this.timeoutMs} ms`);
  }

  private startRefreshTimer(): void {
    this.refreshTimer = setInterval(() => {
      if (!this.usedSinceRefresh || this.closing) return;
      this.usedSinceRefresh = false;
      // refresh() reports failures as values; a rejection would be a bug, left to crash loudly.
      void this.refresh();
    }, this.refreshIntervalMs);
    this.refreshTimer.unref();
  }

  /** Asks reachable nodes for the topology and adopts the newest answer. One refresh at a time. */
  private refresh(): Promise<RefreshOutcome> {
    this.refreshing ??= this.refreshOnce().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /**
   * Two waves: the nodes of the known topology (the last good one first, then the chains'
   * members), then the seeds if none of those answered.
   */
  private async refreshOnce(): Promise<RefreshOutcome> {
    const memberIds = this.view.reply.chains.flatMap((chain) => [...chain.members, chain.joining]);
    const known = [...memberIds, ...this.view.natives.keys()].map((id) => this.view.natives.get(id));
    const firstWave = [...new Set([this.preferred, ...known])]
      .filter((address): address is string => address !== undefined && address !== '')
      .slice(0, clusterClientRefreshFanoutMax);
    const secondWave = this.seeds.filter((seed) => !firstWave.includes(seed)).slice(0, clusterClientRefreshFanoutMax);
    let lastError = new CatenaError('ERR_UNAVAILABLE', 'no node to ask for the topology');
    for (const wave of [firstWave, secondWave]) {
      const asks = wave.map((address) => this.askTopology(address, this.attemptTimeoutMs));
      const answers = await gatherAnswers(asks, clusterClientRefreshSettleMs);
      const newest = newestAnswer(answers, this.view);
      if (newest !== undefined) this.adopt(newest);
      if (answers.some((answer) => answer.ok)) return { ok: true };
      for (const answer of answers) if (!answer.ok) lastError = answer.error;
    }
    return { ok: false, error: lastError };
  }

  private adopt(answer: { address: string; view: TopologyView }): void {
    this.adoptedAtMs = Date.now();
    this.view = answer.view;
    this.preferred = answer.address;
    const live = new Set(answer.view.natives.values());
    live.add(answer.address);
    for (const address of [...this.nodes.keys()]) if (!live.has(address)) this.dropConnection(address);
  }

  private async askTopology(address: string, timeoutMs: number): Promise<TopologyAnswer> {
    try {
      const reply = (await this.sendVia(address, 'topology', {}, undefined, timeoutMs)) as Topology;
      return { ok: true, address, view: viewOf(reply) };
    } catch (error) {
      if (!(error instanceof CatenaError)) throw error;
      if (error.code === 'ERR_UNKNOWN_COMMAND') return { ok: true, address, view: standaloneView };
      return { ok: false, address, error };
    }
  }

  // -------------------------------------------------------------------------------------------
  // Connections: one Client per node address, opened on first use, reopened after a failure.

  private clientFor(address: string, connectTimeoutMs: number): Promise<Client> {
    const existing = this.nodes.get(address);
    if (existing !== undefined && existing.client?.closed !== true) return existing.connecting;
    if (this.closing) return Promise.reject(clientClosed());
    const { host, port } = parseAddress(address);
    const connecting = Client.connect({
      host,
      port,
      connectTimeoutMs,
      timeoutMs: this.attemptTimeoutMs,
      ...(this.auth === undefined ? {} : { auth: this.auth }),
      ...(this.tls === undefined ? {} : { tls: this.tls }),
    });
    const connection: NodeConnection = { connecting, client: undefined };
    this.nodes.set(address, connection);
    void connecting.then(
      (client) => {
        if (this.nodes.get(address) === connection) connection.client = client;
        else void client.close(); // dropped (or the client closed) while connecting
      },
      () => {
        if (this.nodes.get(address) === connection) this.nodes.delete(address);
      },
    );
    return connecting;
  }

  private dropConnection(address: string): void {
    const connection = this.nodes.get(address);
    if (connection === undefined) return;
    this.nodes.delete(address);
    // Requests in flight on it reject with ERR_CONNECTION_CLOSED and are retried elsewhere.
    void closeWhenOpen(connection.connecting);
  }
}

/**
 * Writer lanes: a lane is a client id with at most one write in flight, numbering its writes
 * 1, 2, 3, ... Free lanes are reused most recent first, so a client with little concurrency
 * keeps using the same few ids (nodes keep a bounded table of client ids).
 */
class WriterLanes {
  private readonly free: Lane[] = [];
  private readonly waiting: ((lane: Lane) => void)[] = [];
  private created = 0;

  constructor(
    private readonly clientId: string,
    private readonly lanesMax: number,
  ) {}

  acquire(): Promise<Lane> {
    const lane = this.free.pop();
    if (lane !== undefined) return Promise.resolve(lane);
    if (this.created < this.lanesMax) {
      const id = this.created === 0 ? this.clientId : `${this.clientId}/${this.created}`;
      this.created += 1;
      return Promise.resolve(new Lane(id));
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(lane: Lane): void {
    const next = this.waiting.shift();
    if (next !== undefined) next(lane);
    else this.free.push(lane);
    assert(this.free.length <= this.created, 'a lane is released once');
  }
}

class Lane {
  private sequence = 0n;

  constructor(readonly id: string) {}

  next(): WriterIds {
    this.sequence += 1n;
    return { clientId: this.id, clientSequence: this.sequence };
  }
}

/** The answers in when all have settled, or `settleMs` after the first good one. */
function gatherAnswers(asks: readonly Promise<TopologyAnswer>[], settleMs: number): Promise<TopologyAnswer[]> {
  return new Promise((resolve, reject) => {
    const answers: TopologyAnswer[] = [];
    let pending = asks.length;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      resolve([...answers]);
    };
    if (pending === 0) finish();
    for (const ask of asks) {
      void ask.then((answer) => {
        answers.push(answer);
        pending -= 1;
        if (pending === 0) finish();
        else if (answer.ok && timer === undefined) timer = setTimeout(finish, settleMs);
      }, reject);
    }
  });
}

/**
 * Among the answers that may replace `current`, the newest; between equally new ones, one from
 * a node the topology lists (a node that left answers too, but should not become the node that
 * node commands go to).
 */
function newestAnswer(
  answers: readonly TopologyAnswer[],
  current: TopologyView,
): { address: string; view: TopologyView } | undefined {
  let newest: { address: string; view: TopologyView } | undefined;
  const listed = (a: { address: string; view: TopologyView }) => [...a.view.natives.values()].includes(a.address);
  for (const answer of answers) {
    if (!answer.ok || !supersedes(answer.view, current)) continue;
    if (newest === undefined) newest = answer;
    else if (!supersedes(newest.view, answer.view))
      newest = answer; // strictly newer
    else if (supersedes(answer.view, newest.view) && listed(answer) && !listed(newest)) newest = answer;
  }
  return newest;
}

/** The promise's value, or undefined when it takes longer than `ms`. */
async function waitAtMost<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  if (ms <= 0) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
