// A single Catena node: one LMDB store, one native-protocol listener, stats, expiry
// reclamation, and an orderly stop (drain in-flight requests, then close LMDB cleanly).

import { createServer, type Server, type Socket } from 'node:net';
import { commandNames, type CommandContext, type NodeFacts } from '../commands/index.js';
import { assert } from '../core/assert.js';
import { systemClock, type Clock } from '../core/clock.js';
import { CatenaError } from '../core/errors.js';
import {
  checkValueBytesMax,
  connectionsMax,
  expiryReclaimBatchMax,
  expiryReclaimIntervalMs,
  shutdownCloseMsMax,
  shutdownDrainMsMax,
  valueBytesMaxDefault,
} from '../core/limits.js';
import { silentLogger, type Logger } from '../core/log.js';
import { NativeSession, type SessionHost } from '../protocol/native/session.js';
import { LmdbStore } from '../storage/lmdb-store.js';
import type { Store } from '../storage/store.js';
import { NodeStats } from './stats.js';
import { catenaVersion } from '../core/version.js';
import { errorResult, execute, type Execution } from '../commands/execute.js';
import type { ReplyInit } from '../commands/index.js';
import { commandByName, nodeLocalCommands } from '../commands/index.js';
import type { Request } from '../protocol/native/codec.js';
import { ApplyClock, Replica } from './replica.js';
import { PeerNetwork } from './peers.js';
import { Membership } from '../coordination/membership.js';
import { splitAddress } from '../core/address.js';
import { AdminServer } from './admin.js';

export interface ClusterOptions {
  /** The cluster's name: its znodes live under /catena/<name>. */
  readonly name: string;
  /** zk://host:port[,host:port...] or embedded://host:port */
  readonly coordinator: string;
  /** Port for chain traffic from other nodes; 0 picks a free one. */
  readonly peerPort: number;
  readonly sessionTimeoutMs: number;
}

export interface NodeOptions {
  dataDir: string;
  host?: string;
  /** 0 picks a free port; read it back from `node.port`. */
  port: number;
  durability?: 'fsync' | 'memory';
  valueBytesMax?: number;
  clock?: Clock;
  log?: Logger;
  /**
   * Opens the store instead of LMDB in `dataDir` (tests: an in-memory store with a simulated
   * disk). The node closes it on stop.
   */
  openStore?: () => Store;
  /** Called on a storage failure (a failed fsync): the node can no longer promise durability. */
  onFatal?: (error: unknown) => void;
  /** Join a cluster (chain replication through a coordinator); absent: a standalone node. */
  cluster?: ClusterOptions;
  /** Admin HTTP port (GET /health, /status); 0 picks a free one; absent: no admin listener. */
  adminPort?: number;
}

/** The parts a cluster node has and a standalone one does not. */
interface ClusterParts {
  readonly replica: Replica;
  readonly membership: Membership;
  peers: PeerNetwork | undefined;
}

export class CatenaNode {
  readonly stats = new NodeStats();
  private readonly sessions = new Set<NativeSession>();
  private readonly server: Server;
  private reclaimTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  private cluster: ClusterParts | undefined;
  private context: CommandContext | undefined;
  private admin: AdminServer | undefined;

  private constructor(
    private readonly store: Store,
    private readonly options: Required<Pick<NodeOptions, 'durability' | 'valueBytesMax' | 'clock' | 'log'>> &
      NodeOptions,
    readonly nodeId: string,
  ) {
    const context = this.commandContext();
    const durable = options.durability === 'fsync';
    const host: SessionHost = {
      context,
      execute: (request) => this.execute(context, request, durable),
      log: options.log,
      recordCommand: (name, latencyUs, failed) => this.stats.record(name, latencyUs, failed),
      recordProtocolError: () => {
        this.stats.protocolErrors += 1;
      },
      fatal: (error) => this.fatal(error),
    };
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket, host));
    this.server.maxConnections = connectionsMax;
  }

  static async start(options: NodeOptions): Promise<CatenaNode> {
    const valueBytesMax = options.valueBytesMax ?? valueBytesMaxDefault;
    const problem = checkValueBytesMax(valueBytesMax);
    if (problem !== undefined) throw new CatenaError('ERR_INVALID_ARGUMENT', problem);
    const durability = options.durability ?? 'fsync';
    const clock = options.clock ?? systemClock;
    const log = options.log ?? silentLogger;
    let onStoreFailure = (error: unknown): void => log.log('error', 'storage failure', { error: String(error) });
    const onFatal = (error: unknown): void => onStoreFailure(error);
    // In a cluster, commands and the store read the clock through ApplyClock, so a replicated
    // write computes expiries from the head's clock on every replica.
    const applyClock = options.cluster === undefined ? undefined : new ApplyClock();
    const storeClock = applyClock ?? clock;
    const store =
      options.openStore?.() ?? new LmdbStore({ dataDir: options.dataDir, clock: storeClock, durability, onFatal });
    const nodeId = store instanceof LmdbStore ? store.nodeId() : 'local';
    const node = new CatenaNode(store, { ...options, durability, valueBytesMax, clock: storeClock, log }, nodeId);
    onStoreFailure = (error) => node.fatal(error);
    try {
      await node.listen();
      if (options.adminPort !== undefined) {
        node.admin = await AdminServer.start({
          host: node.host,
          port: options.adminPort,
          log,
          sources: {
            nodeId,
            status: () => ({
              node: node.nodeStatus(),
              topology: node.topology(),
              stats: commandByName('stats').execute(node.context!, {}),
            }),
          },
        });
      }
      if (options.cluster !== undefined) {
        assert(store instanceof LmdbStore && applyClock !== undefined, 'a cluster node keeps its log in LMDB');
        await node.joinCluster(options.cluster, store, applyClock);
      }
    } catch (error) {
      await node.stop().catch(() => undefined);
      throw error;
    }
    if (options.cluster === undefined) {
      // In a cluster, replicas reclaiming at different moments would diverge (a reclaimed key
      // applies differently from an expired one still present): the head reclaims through the
      // log instead (replica.ts reclaimAtHead).
      node.reclaimTimer = setInterval(() => node.reclaim(), expiryReclaimIntervalMs);
      node.reclaimTimer.unref();
    }
    log.log('info', 'node started', {
      nodeId,
      port: node.port,
      dataDir: options.dataDir,
      durability,
      keys: store.size(),
    });
    return node;
  }

  private async joinCluster(cluster: ClusterOptions, store: LmdbStore, applyClock: ApplyClock): Promise<void> {
    const log = this.options.log;
    const replica = new Replica({
      self: this.nodeId,
      store,
      applyClock,
      context: this.context!,
      durable: this.options.durability === 'fsync',
      log,
      onCaughtUp: (joiner, epoch) => parts.membership.reportCaughtUp(joiner, epoch),
      onStateChanged: () => parts.membership.publish(),
      readLeaseValid: () => parts.membership.readLeaseValid,
      fatal: (error) => this.fatal(error),
    });
    const membership = new Membership({
      coordinatorUrl: cluster.coordinator,
      cluster: cluster.name,
      nodeId: this.nodeId,
      sessionTimeoutMs: cluster.sessionTimeoutMs,
      info: () => {
        const position = replica.lastLogPosition;
        return {
          nodeId: this.nodeId,
          native: `${this.host}:${this.port}`,
          peer: parts.peers === undefined ? '' : `${this.host}:${parts.peers.port}`,
          admin: this.admin === undefined ? '' : `${this.host}:${this.admin.port}`,
          resp: '',
          memcached: '',
          lastSequence: position.lastSequence,
          lastEpoch: position.lastEpoch,
          awaitingRemoval: replica.status().awaitingRemoval,
        };
      },
      onConfig: (config) => replica.configure(config),
      onSession: (connected) => replica.sessionChanged(connected),
      log,
    });
    const parts: ClusterParts = { replica, membership, peers: undefined };
    this.cluster = parts;
    parts.peers = await PeerNetwork.start({
      self: this.nodeId,
      cluster: cluster.name,
      host: this.host,
      port: cluster.peerPort,
      resolve: (nodeId) => splitAddress(membership.nodeInfo(nodeId)?.peer ?? ''),
      onFrame: (frame) => replica.frame(frame),
      onPeerConnected: (peer) => replica.peerConnected(peer),
      log,
    });
    replica.start(parts.peers);
    await membership.start();
  }

  /** Admin HTTP port, when it listens. */
  get adminPort(): number | undefined {
    return this.admin?.port;
  }

  /** Chain traffic port (cluster mode), else undefined. */
  get peerPort(): number | undefined {
    return this.cluster?.peers?.port;
  }

  private execute(context: CommandContext, request: Request, durable: boolean): Execution {
    const cluster = this.cluster;
    const name = request.command.case;
    if (cluster === undefined || name === undefined || nodeLocalCommands.has(name)) {
      return execute(context, request, durable);
    }
    if (this.stopping !== undefined) {
      return { kind: 'now', result: errorResult('ERR_SHUTTING_DOWN'), command: name };
    }
    if (commandByName(name).mutates) return { kind: 'later', result: cluster.replica.write(request), command: name };
    return cluster.replica.read(request);
  }

  private topology(): ReplyInit<'topology'> {
    const membership = this.cluster?.membership;
    if (membership === undefined) return { cluster: '', manager: '', chains: [], nodes: [] };
    const chain = membership.chain;
    return {
      cluster: this.options.cluster?.name ?? '',
      manager: membership.manager ?? '',
      chains:
        chain === undefined
          ? []
          : [
              {
                chainId: chain.chainId,
                epoch: BigInt(chain.epoch),
                members: [...chain.members],
                joining: chain.joining ?? '',
              },
            ],
      nodes: membership.allNodes().map((n) => ({
        nodeId: n.nodeId,
        native: n.native,
        resp: n.resp,
        memcached: n.memcached,
        admin: n.admin,
      })),
    };
  }

  private nodeStatus(): ReplyInit<'nodestatus'> {
    const cluster = this.cluster;
    if (cluster === undefined) {
      return {
        nodeId: this.nodeId,
        chainId: '',
        role: 'standalone',
        sessionConnected: false,
        servingReads: true,
        manager: false,
      };
    }
    const status = cluster.replica.status();
    return {
      nodeId: this.nodeId,
      chainId: cluster.membership.chain?.chainId ?? '',
      role: status.awaitingRemoval ? 'restarted' : status.role,
      epoch: BigInt(status.epoch),
      lastSequence: BigInt(status.last),
      persistedSequence: BigInt(status.persisted),
      committedSequence: BigInt(status.committed),
      sessionConnected: cluster.membership.sessionState === 'connected',
      servingReads: status.servingReads,
      manager: cluster.membership.isManager,
    };
  }

  get port(): number {
    const address = this.server.address();
    assert(address !== null && typeof address === 'object', 'server is listening on TCP');
    return address.port;
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onListenError = (error: Error) => {
        void this.store.close();
        reject(
          new CatenaError('ERR_LISTEN_FAILED', `cannot listen on ${this.host}:${this.options.port}: ${error.message}`),
        );
      };
      this.server.once('error', onListenError);
      this.server.listen(this.options.port, this.host, () => {
        this.server.off('error', onListenError);
        // Later listener errors (rare: the kernel refusing accept) are logged; clients' own
        // errors arrive on their sockets, not here.
        this.server.on('error', (error) => this.options.log.log('error', 'listener error', { error: error.message }));
        resolve();
      });
    });
  }

  private accept(socket: Socket, host: SessionHost): void {
    if (this.stopping !== undefined) {
      socket.destroy();
      return;
    }
    this.stats.connectionsOpen += 1;
    this.stats.connectionsTotal += 1;
    const session = new NativeSession(socket, host);
    this.sessions.add(session);
    socket.on('close', () => {
      this.stats.connectionsOpen -= 1;
      this.sessions.delete(session);
    });
  }

  private commandContext(): CommandContext {
    const startedAtMs = this.options.clock.nowMs();
    const node: NodeFacts = {
      nodeId: this.nodeId,
      durability: this.options.durability,
      startedAtMs,
      version: catenaVersion,
      connections: () => ({ open: this.stats.connectionsOpen, total: this.stats.connectionsTotal }),
      commandStats: () => this.stats.commandStats(),
      protocolErrors: () => this.stats.protocolErrors,
      topology: () => this.topology(),
      nodeStatus: () => this.nodeStatus(),
    };
    assert(commandNames.length > 0, 'the command table is not empty');
    this.context = { store: this.store, clock: this.options.clock, valueBytesMax: this.options.valueBytesMax, node };
    return this.context;
  }

  private reclaim(): void {
    try {
      this.store.reclaimExpired(expiryReclaimBatchMax);
    } catch (error) {
      this.fatal(error);
    }
  }

  private fatal(error: unknown): void {
    this.options.log.log('error', 'fatal storage failure: stopping the node', { error: String(error) });
    if (this.options.onFatal !== undefined) this.options.onFatal(error);
    else throw error;
  }

  /** Stops accepting, answers every request already read (up to a deadline), closes LMDB. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.reclaimTimer !== undefined) clearInterval(this.reclaimTimer);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const drained = Promise.all([...this.sessions].map((session) => session.drain()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, shutdownDrainMsMax);
    });
    await Promise.race([drained, deadline]);
    clearTimeout(timer);
    await Promise.all([...this.sessions].map((session) => session.close(shutdownCloseMsMax)));
    await closed;
    await this.admin?.close();
    if (this.cluster !== undefined) {
      this.cluster.replica.stop();
      await this.cluster.membership.stop();
      await this.cluster.peers?.close();
    }
    await this.store.close();
    this.options.log.log('info', 'node stopped');
  }
}
