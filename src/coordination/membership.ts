// A node's side of the coordinator (docs/design.md §2): its session, its ephemeral znode (NodeInfo),
// the manager election, and watches on the cluster that keep a local copy of the topology (the
// nodes and their addresses, the chain configuration, who is manager) up to date. None of this
// is on a request's path: requests read the local copy.
//
// Session: `connected` and `disconnected` are passed on to the replica at once (a tail stops
// serving reads the moment its session is disconnected, §3.5). An expired session is replaced
// by a new one: the node registers again and stands for election again.
//
// Election: every node creates `manager/lock-<seq>` (ephemeral, sequential, holding its id); the
// lowest is the manager and runs the ManagerDriver whenever something changes, and every few
// seconds in case a change was missed.

import { assert } from '../core/assert.js';
import type { Logger } from '../core/log.js';
import {
  leaseConfirmationsPerTimeout,
  leaseTimeoutFraction,
  membershipFirstSessionTimeoutMs,
  membershipReconnectDelayMs,
  membershipRefreshIntervalMs,
  nodePositionPublishMs,
} from '../core/limits.js';
import type { ChainConfig } from '../replication/chain-config.js';
import { decodeSlotMap, SlotTable } from '../sharding/slot-map.js';
import {
  chainIdDefault,
  clusterPaths,
  decodeChainConfig,
  decodeNodeInfo,
  encodeJson,
  type ClusterPaths,
  type NodeInfo,
} from './cluster-paths.js';
import { connectCoordinator } from './connect.js';
import { notify } from './notify.js';
import { anyVersion, CoordinatorError, type Coordinator, type SessionState } from './coordinator.js';
import { chainOrder, chainReports, ManagerDriver } from './manager-driver.js';
import { reportedMember, type ClusterView } from './manager.js';
import { behindError, behindReason, readChainConfigs, writeRecoveryRecord } from './recovery.js';
import { CatenaError } from '../core/errors.js';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { ChainTransport, MigrationOptions } from './migration-runner.js';

export interface MembershipOptions {
  readonly coordinatorUrl: string;
  readonly cluster: string;
  readonly nodeId: string;
  readonly sessionTimeoutMs: number;
  /** The cluster secret: the coordinator session proves it (coordinator.ts ConnectOptions). */
  readonly secret?: Uint8Array;
  /** What this node publishes now (caughtUp is added here). */
  info(): Omit<NodeInfo, 'caughtUp'>;
  onConfig(config: ChainConfig): void;
  onSession(connected: boolean): void;
  /** After each read of the cluster that succeeded (the local copy may have changed): the dashboard's event log. */
  readonly onRefreshed?: () => void;
  readonly log: Logger;
  /** How the manager (when this node is elected) sends the slot-moving commands to chains. */
  readonly transport?: () => Promise<ChainTransport>;
  /** How the manager moves slots (batch size, page size, copy rate). */
  readonly migration?: MigrationOptions;
  /**
   * This node's data directory: with the host, it tells an earlier process of this node (whose
   * znode it replaces) from another node started from a copy of its data (which it must not evict).
   */
  readonly dataDir?: string;
}

// Read lease (docs/design.md §3.5): the session is confirmed by a round trip to the coordinator
// leaseConfirmationsPerTimeout times per session timeout, and a confirmation sent at t holds until
// t + leaseTimeoutFraction (⅔) of the timeout (both in core/limits.ts). A node whose session
// expired is removed no sooner than a whole timeout after the server last heard from it, so a tail
// whose lease holds cannot have been replaced, even if its process was frozen (SIGSTOP, a long
// pause) and its session library has not noticed yet.

export class Membership {
  readonly paths: ClusterPaths;
  private coordinator: Coordinator | undefined;
  private nodes = new Map<string, NodeInfo>();
  /** The configuration of this node's chain: the one it is a member or the joiner of, else the last one it was in. */
  private config: ChainConfig | undefined;
  /** Every chain's newest configuration, by id. */
  private configs = new Map<string, ChainConfig>();
  private slotTable: SlotTable | undefined;
  private managerId: string | undefined;
  private lockPath: string | undefined;
  private driver: ManagerDriver | undefined;
  private caughtUp: NodeInfo['caughtUp'];
  private readonly watched = new Set<string>();
  private readonly holderOfLock = new Map<string, string>();
  private refreshQueued = false;
  private publishQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private leaseUntilMs = 0;
  /**
   * False from a session's expiry until a refresh in the new session has delivered the current
   * configuration: until then this node may believe it is a tail it no longer is (no reads).
   */
  private configCurrent = false;
  /** The node info last written to the coordinator, to write again whenever it differs. */
  private published = '';
  /** The same without the log position, and when it was published. */
  private publishedBesidesPosition = '';
  private publishedAtMs = 0;
  private stopped = false;
  /** This process, in its published info (`instance`): host, data directory, pid. */
  private readonly instance: NodeInstance;
  /** A configuration below this node's log was refused (logged once per epoch). */
  private refusedEpoch = -1;
  /**
   * The session whose znode is this node's: until then the znode at our path may be another
   * node's (register waits for it to go), and nothing is published to it or confirmed from it.
   */
  private registeredOn: Coordinator | undefined;

  constructor(private readonly options: MembershipOptions) {
    this.paths = clusterPaths(options.cluster);
    this.instance = {
      host: hostname(),
      dataDir: options.dataDir === undefined ? '' : resolve(options.dataDir),
      pid: process.pid,
    };
  }

  async start(): Promise<void> {
    const deadline = Date.now() + membershipFirstSessionTimeoutMs;
    for (;;) {
      try {
        await this.openSession();
        break;
      } catch (error) {
        if (Date.now() > deadline || !(error instanceof CoordinatorError)) throw error;
        this.options.log.log('warn', 'coordinator not reachable yet', { error: error.message });
        await sleep(membershipReconnectDelayMs);
      }
    }
    this.timer = setInterval(() => this.scheduleRefresh(), membershipRefreshIntervalMs);
    const confirmEveryMs = Math.max(50, Math.floor(this.options.sessionTimeoutMs / leaseConfirmationsPerTimeout));
    this.leaseTimer = setInterval(() => void this.confirmSession(), confirmEveryMs);
  }

  /** True while this node's session is confirmed recently enough that it may serve reads. */
  get readLeaseValid(): boolean {
    return this.configCurrent && performance.now() < this.leaseUntilMs;
  }

  private async confirmSession(): Promise<void> {
    const coordinator = this.coordinator;
    if (coordinator === undefined || coordinator.state !== 'connected' || this.registeredOn !== coordinator) return;
    const sentAtMs = performance.now();
    try {
      // Our own ephemeral znode exists only while our session lives.
      const version = await coordinator.exists(this.paths.node(this.options.nodeId));
      if (version === undefined || coordinator !== this.coordinator) return;
      const until = sentAtMs + coordinator.sessionTimeoutMs * leaseTimeoutFraction;
      if (until > this.leaseUntilMs) this.leaseUntilMs = until;
    } catch (error) {
      this.options.log.log('debug', 'session confirmation failed', { error: String(error) });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    void this.driver?.stop(); // a move in progress is resumed by the next manager
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.leaseTimer !== undefined) clearInterval(this.leaseTimer);
    await this.coordinator?.close().catch(() => undefined);
  }

  // ---- the local copy ------------------------------------------------------------------------

  get manager(): string | undefined {
    return this.managerId;
  }

  get isManager(): boolean {
    return this.driver !== undefined;
  }

  get chain(): ChainConfig | undefined {
    return this.config;
  }

  /** Every chain's configuration, in chain order. */
  allChains(): ChainConfig[] {
    return [...this.configs.values()].sort((a, b) => chainOrder(a.chainId, b.chainId));
  }

  /** The slot map, once the manager has written one. */
  get slots(): SlotTable | undefined {
    return this.slotTable;
  }

  /**
   * Coordinator sessions since start (for metrics): opened (the first and each replacing an expired
   * one), connections lost, reconnected within the session, expired.
   */
  readonly sessionEvents = { opened: 0, disconnects: 0, reconnects: 0, expirations: 0 };

  get sessionState(): SessionState | 'none' {
    return this.coordinator?.state ?? 'none';
  }

  nodeInfo(nodeId: string): NodeInfo | undefined {
    return this.nodes.get(nodeId);
  }

  allNodes(): NodeInfo[] {
    return [...this.nodes.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  }

  /** Publishes this node's info again (its state changed). */
  publish(): void {
    if (this.publishQueued) return;
    this.publishQueued = true;
    setImmediate(() => {
      this.publishQueued = false;
      void this.write();
    });
  }

  reportCaughtUp(joiner: string, epoch: number): void {
    this.caughtUp = { chainId: this.config?.chainId ?? chainIdDefault, joiner, epoch };
    this.publish();
  }

  // ---- session -------------------------------------------------------------------------------

  private async openSession(): Promise<void> {
    const coordinator = await connectCoordinator(this.options.coordinatorUrl, {
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      // The node's own logger: its client's records carry the node id and the node's format.
      log: this.options.log,
      ...(this.options.secret === undefined ? {} : { secret: this.options.secret }),
    });
    try {
      this.coordinator = coordinator;
      this.watched.clear();
      coordinator.onStateChange((state) => this.sessionChanged(coordinator, state));
      for (const path of [this.paths.nodes, this.paths.manager, this.paths.chains]) await coordinator.ensurePath(path);
      await this.refuseGoingBack(coordinator);
      await this.register(coordinator);
      this.lockPath = await coordinator.create(
        `${this.paths.manager}/lock-`,
        encodeJson(this.options.nodeId),
        'ephemeral-sequential',
      );
      // The configuration first: a node coming back from an expired session may have been removed.
      if (!(await this.refresh())) throw new CoordinatorError('connection-loss', 'could not read the cluster');
      this.configCurrent = true;
      this.sessionEvents.opened += 1;
      this.options.onSession(true);
      void this.confirmSession();
      this.options.log.log('info', 'coordinator session open', { timeoutMs: coordinator.sessionTimeoutMs });
    } catch (error) {
      // Leave nothing of a half-opened session behind (its lock znode would confuse the election).
      if (this.coordinator === coordinator) this.coordinator = undefined;
      await coordinator.close().catch(() => undefined);
      throw error;
    }
  }

  private sessionChanged(coordinator: Coordinator, state: SessionState): void {
    if (coordinator !== this.coordinator || this.stopped) return;
    this.options.log.log(state === 'connected' ? 'info' : 'warn', `coordinator session ${state}`);
    if (state === 'connected') this.sessionEvents.reconnects += 1;
    else if (state === 'expired') this.sessionEvents.expirations += 1;
    else this.sessionEvents.disconnects += 1;
    if (state === 'connected') {
      this.options.onSession(true);
      this.scheduleRefresh();
      return;
    }
    this.options.onSession(false);
    this.leaseUntilMs = 0;
    if (state === 'expired') {
      this.configCurrent = false;
      void this.driver?.stop();
      this.driver = undefined;
      this.coordinator = undefined;
      void this.replaceSession();
    }
  }

  private async replaceSession(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.openSession();
        return;
      } catch (error) {
        this.options.log.log('warn', 'cannot open a new coordinator session', { error: String(error) });
        await sleep(membershipReconnectDelayMs);
      }
    }
  }

  /**
   * Refuses to join when the coordinator's state is behind this node's log (recovery.ts): lost or
   * reset, it would start the chain again below epochs already logged. Records where the log ends
   * first, for `catena chain rebuild`.
   */
  private async refuseGoingBack(coordinator: Coordinator): Promise<void> {
    const info = this.options.info();
    const position = { chainId: info.chainId, lastEpoch: info.lastEpoch, lastSequence: info.lastSequence };
    const reason = behindReason(position, await readChainConfigs(coordinator, this.paths));
    if (reason === undefined) return;
    await writeRecoveryRecord(coordinator, this.paths, {
      nodeId: this.options.nodeId,
      chainId: position.chainId === '' ? chainIdDefault : position.chainId,
      lastEpoch: position.lastEpoch,
      lastSequence: position.lastSequence,
      where: `${this.instance.host}:${this.instance.dataDir}`,
      atMs: Date.now(),
    });
    throw behindError(reason, this.options.cluster);
  }

  /** What this node publishes, as text: its info, what it caught up, and this process. */
  private infoObject(): object {
    return { ...this.options.info(), caughtUp: this.caughtUp, instance: this.instance };
  }

  /**
   * Creates this node's ephemeral znode. One already there is replaced when an earlier process of
   * this node left it (same host and data directory: that directory is locked by this process, so
   * that process is dead). Another data directory holding this node id is a copy of this node's
   * data (or this node moved): its znode is waited for to go with its session; if it stays, a live
   * node has this id, and two nodes with one id would evict each other: this one refuses to start.
   */
  private async register(coordinator: Coordinator): Promise<void> {
    const path = this.paths.node(this.options.nodeId);
    const text = JSON.stringify(this.infoObject());
    const data = new TextEncoder().encode(text);
    this.published = text;
    const waitUntilMs = Date.now() + 2 * Math.max(coordinator.sessionTimeoutMs, this.options.sessionTimeoutMs);
    let waiting = false;
    for (;;) {
      try {
        await coordinator.create(path, data, 'ephemeral');
        this.registeredOn = coordinator;
        return;
      } catch (error) {
        if (!(error instanceof CoordinatorError) || error.code !== 'node-exists') throw error;
      }
      const found = await coordinator.get(path);
      const holder = found === undefined ? undefined : instanceOf(found.data);
      if (holder === undefined || (holder.host === this.instance.host && holder.dataDir === this.instance.dataDir)) {
        await coordinator.delete(path, anyVersion).catch(() => undefined);
        continue;
      }
      if (Date.now() > waitUntilMs) throw duplicateError(this.options.nodeId, holder, this.instance);
      if (!waiting) {
        this.options.log.log('warn', 'another data directory holds this node id: waiting for its session to end', {
          holder: `${holder.host}:${holder.dataDir} (pid ${holder.pid})`,
        });
      }
      waiting = true;
      await sleep(membershipReconnectDelayMs);
    }
  }

  /**
   * True when what this node would publish differs from what it did. A log position that moved,
   * and nothing else, is published at most every nodePositionPublishMs: under writes it moves all
   * the time, and every publication wakes every node's watches (and, with the embedded
   * coordinator, rewrites and fsyncs its data file) — a storm of coordinator traffic on the same
   * cores and disk as the writes. Placement only needs it roughly.
   */
  private publishDue(): boolean {
    const info = this.infoObject();
    const text = JSON.stringify(info);
    if (text === this.published) return false;
    if (besidesPosition(info) !== this.publishedBesidesPosition) return true;
    return Date.now() - this.publishedAtMs >= nodePositionPublishMs;
  }

  private async write(): Promise<void> {
    const coordinator = this.coordinator;
    if (coordinator === undefined || coordinator.state !== 'connected' || this.registeredOn !== coordinator) return;
    if (this.stopped) return;
    try {
      // Inside the try: a node stopping has closed its listeners, and its info may no longer be read.
      const info = this.infoObject();
      const text = JSON.stringify(info);
      await coordinator.set(this.paths.node(this.options.nodeId), new TextEncoder().encode(text), anyVersion);
      this.published = text;
      this.publishedBesidesPosition = besidesPosition(info);
      this.publishedAtMs = Date.now();
    } catch (error) {
      this.options.log.log('debug', 'cannot publish node info', { error: String(error) });
    }
  }

  // ---- watching --------------------------------------------------------------------------------

  private scheduleRefresh(): void {
    if (this.refreshQueued || this.stopped) return;
    this.refreshQueued = true;
    setTimeout(() => {
      this.refreshQueued = false;
      void this.refresh();
    }, 5);
  }

  /** A watcher for `key`, unless one is already waiting there (watches are one-shot). */
  private watch(key: string): (() => void) | undefined {
    if (this.watched.has(key)) return undefined;
    this.watched.add(key);
    return () => {
      this.watched.delete(key);
      this.scheduleRefresh();
    };
  }

  /** Re-reads the cluster; false when it could not (the next refresh tries again). */
  private async refresh(): Promise<boolean> {
    const coordinator = this.coordinator;
    if (coordinator === undefined || coordinator.state !== 'connected' || this.stopped) return false;
    try {
      const [names, chainNames, slots, locks] = await Promise.all([
        coordinator.children(this.paths.nodes, this.watch(`children:${this.paths.nodes}`)),
        coordinator.children(this.paths.chains, this.watch(`children:${this.paths.chains}`)),
        coordinator.get(this.paths.slots, this.watch(this.paths.slots)),
        coordinator.children(this.paths.manager, this.watch(`children:${this.paths.manager}`)),
      ]);
      const [infos, chains] = await Promise.all([
        Promise.all(names.map((name) => coordinator.get(this.paths.node(name), this.watch(this.paths.node(name))))),
        Promise.all(
          chainNames.map((name) => coordinator.get(this.paths.chain(name), this.watch(this.paths.chain(name)))),
        ),
      ]);
      const nodes = new Map<string, NodeInfo>();
      for (const found of infos) {
        const info = found === undefined ? undefined : decodeNodeInfo(found.data);
        if (info !== undefined) nodes.set(info.nodeId, info);
      }
      this.nodes = nodes;
      await this.election(coordinator, locks);
      const configs = new Map<string, ChainConfig>();
      for (const found of chains) {
        const config = found === undefined ? undefined : decodeChainConfig(found.data);
        if (config === undefined) continue;
        const known = this.configs.get(config.chainId);
        configs.set(config.chainId, known !== undefined && known.epoch > config.epoch ? known : config);
      }
      this.configs = configs; // a retired chain's configuration is gone
      const map = slots === undefined ? undefined : decodeSlotMap(slots.data);
      if (map !== undefined && (this.slotTable === undefined || map.version > this.slotTable.version)) {
        this.slotTable = new SlotTable(map);
      }
      this.followChain();
      if (this.options.onRefreshed !== undefined) notify(this.options.onRefreshed, undefined);
      if (this.driver !== undefined) await this.driver.evaluate();
      if (this.publishDue()) this.publish();
      return true;
    } catch (error) {
      // Watches set by a failed call may not be armed: arm them again next time.
      this.watched.clear();
      const level = error instanceof CoordinatorError ? 'debug' : 'error';
      this.options.log.log(level, 'cluster refresh interrupted', { error: String(error) });
      return false;
    }
  }

  /**
   * Hands the replica the configuration of this node's chain: the chain it is a member or the
   * joiner of, else the newest configuration of the chain it was last in (which shows it left).
   */
  private followChain(): void {
    const self = this.options.nodeId;
    const configs = [...this.configs.values()];
    const mine =
      configs.find((c) => c.members.includes(self) || c.joining === self) ??
      (this.config === undefined ? undefined : this.configs.get(this.config.chainId));
    if (mine === undefined) return;
    const current = this.config;
    if (current !== undefined && mine.chainId === current.chainId && mine.epoch <= current.epoch) return;
    const info = this.options.info();
    if (behindReason(info, mine.chainId === info.chainId ? [mine] : [...this.configs.values()]) !== undefined) {
      // The coordinator went back below this node's log while it ran (state lost): never follow it.
      if (this.refusedEpoch !== mine.epoch) {
        this.refusedEpoch = mine.epoch;
        this.options.log.log('error', "refusing a configuration below this node's log (coordinator state lost?)", {
          chain: mine.chainId,
          epoch: mine.epoch,
          loggedEpoch: info.lastEpoch,
        });
      }
      return;
    }
    this.config = mine;
    this.options.onConfig(mine);
  }

  /** The node holding each lock (lock znodes never change: read once, then cached). */
  private async lockHolders(coordinator: Coordinator, names: readonly string[]): Promise<Map<string, string>> {
    const missing = names.filter((name) => !this.holderOfLock.has(name));
    const found = await Promise.all(missing.map((name) => coordinator.get(`${this.paths.manager}/${name}`)));
    missing.forEach((name, i) => {
      const holder = found[i] === undefined ? undefined : lockHolder(found[i]!.data);
      if (holder !== undefined) this.holderOfLock.set(name, holder);
    });
    const known = new Set(names);
    for (const name of this.holderOfLock.keys()) if (!known.has(name)) this.holderOfLock.delete(name);
    return this.holderOfLock;
  }

  /** True when the manager would remove `nodeId` from its chain on its neighbours' reports now. */
  private reportedDead(nodeId: string): boolean {
    const config = [...this.configs.values()].find((c) => c.members.includes(nodeId));
    if (config === undefined) return false;
    const reports = chainReports(this.nodes.values(), config.chainId);
    const view: ClusterView = {
      liveNodes: new Set(this.nodes.keys()),
      suspectedNodes: new Set(),
      caughtUp: new Set(),
      candidates: [],
      nowMs: Date.now(),
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      reports,
    };
    return reportedMember(config, view) === nodeId;
  }

  private async election(coordinator: Coordinator, locks: readonly string[]): Promise<void> {
    const sorted = [...locks].sort(); // lock-<10 digits>: name order is creation order
    if (this.lockPath !== undefined && !sorted.includes(this.lockPath.slice(this.paths.manager.length + 1))) {
      // Our lock was taken from us (we were reported dead while manager): stand again.
      this.lockPath = await coordinator.create(
        `${this.paths.manager}/lock-`,
        encodeJson(this.options.nodeId),
        'ephemeral-sequential',
      );
      sorted.push(this.lockPath.slice(this.paths.manager.length + 1));
    }
    const holders = await this.lockHolders(coordinator, sorted);
    const mineName = this.lockPath?.slice(this.paths.manager.length + 1);
    // Locks of an earlier process of this node (its session has not expired yet) would make that
    // dead process manager, or next in line: ours to delete (our data directory is locked by us).
    const stale = sorted.filter((name) => holders.get(name) === this.options.nodeId && name !== mineName);
    if (stale.length > 0) {
      await Promise.all(
        stale.map((name) => coordinator.delete(`${this.paths.manager}/${name}`, anyVersion).catch(() => undefined)),
      );
      this.scheduleRefresh();
      return;
    }
    const lowest = sorted[0];
    if (lowest === undefined) return;
    this.managerId = holders.get(lowest);
    const mine = this.lockPath !== undefined && `${this.paths.manager}/${lowest}` === this.lockPath;
    // Next in line: the first lock after the manager's held by a registered node other than it.
    const next = sorted.slice(1).find((name) => {
      const holder = holders.get(name);
      return holder !== undefined && holder !== this.managerId && this.nodes.has(holder);
    });
    const nextInLine = next !== undefined && next === mineName;
    if (nextInLine && this.managerId !== undefined && this.reportedDead(this.managerId)) {
      // The manager's chain neighbours report it dead: waiting for its session to expire would
      // stall every failover for the session timeout. Deleting its lock fences it (each of its
      // writes checks its lock) and makes this node the manager now (docs/design.md §2, §3.7).
      this.options.log.log('warn', 'the manager is reported dead by its chain neighbours: taking over', {
        manager: this.managerId,
      });
      await coordinator.delete(`${this.paths.manager}/${lowest}`, anyVersion).catch(() => undefined);
      this.scheduleRefresh();
      return;
    }
    if (mine && this.driver === undefined) {
      assert(this.lockPath !== undefined, 'a manager holds a lock');
      this.options.log.log('info', 'elected manager');
      this.driver = new ManagerDriver(
        coordinator,
        this.paths,
        this.lockPath,
        this.options.log,
        this.options.transport,
        this.options.migration,
      );
    } else if (!mine && this.driver !== undefined) {
      this.options.log.log('info', 'no longer manager');
      void this.driver.stop();
      this.driver = undefined;
    }
  }
}

/** The node id in a lock znode, or undefined when it is not one. */
function lockHolder(data: Uint8Array): string | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(data));
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The process a node's znode was published by (absent in znodes of older versions). */
interface NodeInstance {
  readonly host: string;
  readonly dataDir: string;
  readonly pid: number;
}

function instanceOf(data: Uint8Array): NodeInstance | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(data));
    const instance = (value as { instance?: unknown } | null)?.instance;
    if (typeof instance !== 'object' || instance === null) return undefined;
    const { host, dataDir, pid } = instance as Record<string, unknown>;
    if (typeof host !== 'string' || typeof dataDir !== 'string' || typeof pid !== 'number') return undefined;
    return { host, dataDir, pid };
  } catch {
    return undefined;
  }
}

function duplicateError(nodeId: string, holder: NodeInstance, self: NodeInstance): CatenaError {
  return new CatenaError(
    'ERR_COORDINATOR',
    `node id ${nodeId} is in use by a live node (pid ${holder.pid} on ${holder.host}, data directory ` +
      `${holder.dataDir}); this node (data directory ${self.dataDir} on ${self.host}) has the same id, so its ` +
      `data directory is a copy of that node's. Two nodes with one id would evict each other: this one ` +
      `refuses to start. To add a node, start it with an empty data directory (it joins and copies the data).`,
  );
}

/** A node's published info without its log position, as text. */
function besidesPosition(info: object): string {
  return JSON.stringify(info, (key, value: unknown) =>
    key === 'lastSequence' || key === 'lastEpoch' ? undefined : value,
  );
}
