// A single Catena node: one LMDB store, one native-protocol listener, stats, expiry
// reclamation, and an orderly stop (drain in-flight requests, then close LMDB cleanly).

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { TlsMaterial } from './tls.js';
import type { ClientTls } from '../client/client.js';
import { commandNames, type CommandContext, type NodeFacts } from '../commands/index.js';
import { assert } from '../core/assert.js';
import { systemClock, type Clock } from '../core/clock.js';
import { CatenaError } from '../core/errors.js';
import {
  checkValueBytesMax,
  clientBuffersBytesMaxDefault,
  clientIdleTimeoutMsDefault,
  connectionsMax,
  respBulkBytesMaxFor,
  respRequestBytesMaxFor,
  expiryReclaimBatchMax,
  expiryReclaimIntervalMs,
  shutdownCloseMsMax,
  shutdownDrainMsMax,
  valueBytesMaxDefault,
  migrationCallTimeoutMs,
  relayDrainMs,
  respScanCursorsMax,
  heartbeatIntervalMsDefault,
  leaseTimeoutFraction,
  readLeaseFraction,
  suspicionTimeoutMsDefault,
  frameTimeoutMs,
  clusterViewNodeTimeoutMs,
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
import { ApplyClock } from './replica/apply-clock.js';
import { Replica, type LivenessTuning } from './replica/replica.js';
import { systemEnvironment } from './system-environment.js';
import { PeerNetwork } from './peers.js';
import { Membership } from '../coordination/membership.js';
import { splitAddress } from '../core/address.js';
import { AdminServer, type Readiness } from './admin.js';
import { ClusterView } from './cluster-view.js';
import { ClusterEventLog, snapshotOf } from './cluster-events.js';
import { ThroughputSeries } from './throughput-series.js';
import { dumpToFile, writeDump } from './dump.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandRouter } from '../protocol/command-router.js';
import { clusterRouter, localRouter, nodeClusterClient, settle } from './router.js';
import type { ClusterClient } from '../client/cluster-client.js';
import { MigrationProgress, migrationOptionsDefault, type ChainTransport } from '../coordination/migration-runner.js';
import { nodeMetrics, type MetricsSource, type Protocol } from './metrics.js';
import { RespSession } from '../protocol/resp/session.js';
import { MemcachedSession } from '../protocol/memcached/session.js';
import { redisCompatibleVersion, type RespShard } from '../protocol/resp/commands.js';
import { keySlot, slotCount } from '../sharding/slots.js';
import { admissionRefusal } from './admission.js';
import { ClientAdmission, clientsMaxFor, readOpenFilesLimit, type ClientsMax } from './client-limit.js';
import { ClientBudget } from '../protocol/client-budget.js';
import type { ClientLimits } from '../protocol/session-io.js';
import { Acl } from '../protocol/acl.js';
import type { Credentials } from '../client/client.js';
import type { ResponseResult } from '../protocol/native/codec.js';

/** Keyless reads that list keys: a node leaves out keys of slots its chain does not own. */
const listingCommands: ReadonlySet<CommandName> = new Set<CommandName>(['scan', 'getkeys', 'gettable']);
import type { CommandName } from '../commands/index.js';

/** A listener for clients: TLS only when the node has a certificate, plain TCP otherwise. */
function clientServer(tls: TlsMaterial | undefined, onSocket: (socket: Socket) => void): Server {
  if (tls === undefined) return createServer({ noDelay: true }, onSocket);
  const server = createTlsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: frameTimeoutMs }, (socket) => {
    socket.setNoDelay(true);
    onSocket(socket);
  });
  // A handshake that failed or did not finish in time: Node leaves the socket open for us to close.
  server.on('tlsClientError', (_error, socket) => socket.destroy());
  return server;
}

export interface ClusterOptions {
  /** The cluster's name: its znodes live under /catena/<name>. */
  readonly name: string;
  /** zk://host:port[,host:port...] or embedded://host:port */
  readonly coordinator: string;
  /** Port for chain traffic from other nodes; 0 picks a free one. */
  readonly peerPort: number;
  /** The peer port listens on this address instead of the node's host (a private interface). */
  readonly peerHost?: string;
  readonly sessionTimeoutMs: number;
  /** Copy rate when this node, as manager, moves slots between chains (default: migration-runner.ts). */
  readonly moveBytesPerSecond?: number;
  /** host:port other nodes reach this node's peer port at (behind NAT or a proxy); default: its own. */
  readonly peerAnnounce?: string;
  /** Heartbeats to chain neighbours, and how long a silent neighbour takes to be reported (limits.ts defaults). */
  readonly heartbeatMs?: number;
  readonly suspicionTimeoutMs?: number;
  /**
   * The cluster secret (server/peer-auth.ts): peers prove they hold it. Undefined: chain
   * connections are accepted from loopback addresses only, unauthenticated (logged at start).
   */
  readonly secret?: Uint8Array;
}

export interface NodeOptions {
  dataDir: string;
  /**
   * The folder of the dashboard page's files (the package's dashboard/; `catena server` finds it).
   * Without it the admin port serves the dashboard's data but not its page.
   */
  dashboardAssets?: string;
  host?: string;
  /** The admin port listens on this address instead of `host` (a private interface). */
  adminHost?: string;
  /** 0 picks a free port; read it back from `node.port`. */
  port: number;
  durability?: 'fsync' | 'memory';
  valueBytesMax?: number;
  /** @internal The node's clock (tests: a simulated one). */
  clock?: Clock;
  log?: Logger;
  /**
   * Opens the store instead of LMDB in `dataDir` (tests: an in-memory store with a simulated
   * disk). The node closes it on stop.
   * @internal
   */
  openStore?: () => Store;
  /** Called on a storage failure (a failed fsync): the node can no longer promise durability. */
  onFatal?: (error: unknown) => void;
  /** Join a cluster (chain replication through a coordinator); absent: a standalone node. */
  cluster?: ClusterOptions;
  /** Admin HTTP port (GET /health, /status); 0 picks a free one; absent: no admin listener. */
  adminPort?: number;
  /** Redis RESP port; 0 picks a free one; absent: no RESP listener. */
  respPort?: number;
  /** memcached text-protocol port; 0 picks a free one; absent: no memcached listener. */
  memcachedPort?: number;
  /** On stop, write this node's table to `<dumpOnExitDir>/<nodeId>.jsonl` (server/dump.ts; `catena dump` reads the same format). */
  dumpOnExitDir?: string;
  /** Client connections (native, RESP, memcached) at most; default, and never above: from the open-file limit (client-limit.ts). */
  maxClients?: number;
  /** Bytes all client connections together may hold buffered (protocol/client-budget.ts); default clientBuffersBytesMaxDefault. */
  clientBuffersBytesMax?: number;
  /** A client connection idle this long is closed; 0: never; default clientIdleTimeoutMsDefault. */
  idleTimeoutMs?: number;
  /** Client authentication (docs/security.md); absent: every client port is open, as before. */
  auth?: NodeAuth;
  /**
   * TLS (server/tls.ts): the native, RESP, memcached and admin ports serve TLS only; with a CA,
   * chain traffic is mutual TLS and relays check other nodes against it. Absent: plain TCP.
   */
  tls?: TlsMaterial;
}

/** Who may use the client ports and the admin listener, and how this node relays. */
export interface NodeAuth {
  /** Users of the native, RESP and memcached ports (protocol/acl.ts). */
  readonly acl: Acl;
  /** Every admin path but /health needs this bearer token; absent: none does. */
  readonly adminToken?: string;
  /**
   * The user this node's relays (RESP and memcached commands served by other nodes) and slot
   * moves authenticate as on other nodes' native ports; it needs +@all. Required in a cluster
   * whose ACL requires authentication.
   */
  readonly relay?: Credentials;
}

/** A session of one of the secondary protocols: drained and closed on stop like native ones. */
interface ProtocolSession {
  drain(): Promise<void>;
  close(deadlineMs: number): Promise<void>;
}

/** The memcached release whose text protocol Catena follows (reported by `version`). */
const memcachedCompatibleVersion = '1.6.18';

/** The parts a cluster node has and a standalone one does not. */
interface ClusterParts {
  readonly replica: Replica;
  readonly membership: Membership;
  peers: PeerNetwork | undefined;
}

export class CatenaNode {
  /** @internal Per-command counters and latencies (stats command, metrics). */
  readonly stats = new NodeStats();
  /** The dashboard's per-second throughput and latency (a timer diffs `stats`; requests pay nothing). */
  private readonly series = new ThroughputSeries(() => this.stats.totals());
  /** The dashboard's cluster events, in a cluster (fed after each membership refresh), and its /cluster. */
  private events: ClusterEventLog | undefined;
  private view: ClusterView | undefined;
  private readonly sessions = new Set<NativeSession>();
  private readonly server: Server;
  private reclaimTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  private cluster: ClusterParts | undefined;
  private context: CommandContext | undefined;
  private admin: AdminServer | undefined;
  private router: CommandRouter | undefined;
  private readonly listeners = new Map<'resp' | 'memcached', Server>();
  private readonly protocolSessions = new Set<ProtocolSession>();
  /** This process's event-loop stalls since start (10 ms resolution). */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  private readonly scanCursors = new Map<bigint, Uint8Array>();
  private nextScanCursor = 1n;
  private nextRespClientId = 1;
  private migrationClient: Promise<ClusterClient> | undefined;
  /** Client connections by protocol: the open sockets, and what closed ones accepted and carried (metrics). */
  private readonly traffic = new Map<
    Protocol,
    { open: Set<Socket>; accepted: number; bytesIn: number; bytesOut: number }
  >(
    (['native', 'resp', 'memcached'] as const).map((protocol) => [
      protocol,
      { open: new Set(), accepted: 0, bytesIn: 0, bytesOut: 0 },
    ]),
  );
  /** What this node moved between chains while it was the manager (metrics). */
  private readonly migrationProgress = new MigrationProgress();
  /** @internal RESP and memcached commands answered, and how many failed (INFO). */
  readonly protocolCommands = { calls: 0, failed: 0 };
  /** The node-wide client budget and idle deadline every client session takes part in. */
  private readonly clientLimits: ClientLimits;
  /** @internal maxclients: client connections counted across the three client listeners. */
  readonly admission: ClientAdmission;
  private readonly clientsMax: ClientsMax;
  /** Client authentication's users (an open one when none is configured: it still counts refusals). */
  private readonly acl: Acl;

  private constructor(
    private readonly store: Store,
    private readonly options: Required<Pick<NodeOptions, 'durability' | 'valueBytesMax' | 'clock' | 'log'>> &
      NodeOptions,
    readonly nodeId: string,
  ) {
    this.acl = options.auth?.acl ?? Acl.open();
    const context = this.commandContext();
    // In both durability modes a reply waits for the transaction holding what it observed: with
    // memory durability that transaction skips only the fsync (commands/execute.ts).
    const durable = true;
    this.clientLimits = {
      budget: new ClientBudget({
        bytesMax: options.clientBuffersBytesMax ?? clientBuffersBytesMaxDefault,
        log: options.log,
      }),
      idleTimeoutMs: options.idleTimeoutMs ?? clientIdleTimeoutMsDefault,
    };
    this.clientsMax = clientsMaxFor({
      ...(options.maxClients === undefined ? {} : { requested: options.maxClients }),
      openFilesLimit: readOpenFilesLimit(),
    });
    this.admission = new ClientAdmission(this.clientsMax.max, options.log);
    const host: SessionHost = {
      clientLimits: this.clientLimits,
      context,
      execute: (request) => this.execute(context, request, durable),
      log: options.log,
      acl: this.acl,
      recordCommand: (name, latencyUs, failed) => this.stats.record(name, latencyUs, failed),
      recordProtocolError: () => {
        this.stats.protocolErrors += 1;
      },
      fatal: (error) => this.fatal(error),
    };
    this.server = clientServer(options.tls, (socket) => this.accept(socket, host));
    this.server.maxConnections = connectionsMax;
  }

  static async start(options: NodeOptions): Promise<CatenaNode> {
    const valueBytesMax = options.valueBytesMax ?? valueBytesMaxDefault;
    const problem = checkValueBytesMax(valueBytesMax);
    if (problem !== undefined) throw new CatenaError('ERR_INVALID_ARGUMENT', problem);
    if (options.cluster !== undefined && options.auth?.acl.required === true && options.auth.relay === undefined) {
      throw new CatenaError(
        'ERR_INVALID_ARGUMENT',
        'a cluster node that requires authentication needs a credential to relay with (--relay-auth-file, or a --requirepass-file)',
      );
    }
    const durability = options.durability ?? 'fsync';
    const clock = options.clock ?? systemClock;
    const log = options.log ?? silentLogger;
    let onStoreFailure = (error: unknown): void => log.log('error', 'storage failure', { error: String(error) });
    const onFatal = (error: unknown): void => onStoreFailure(error);
    // In a cluster, commands and the store read the clock through ApplyClock, so a replicated
    // write computes expiries from the head's clock on every replica.
    const applyClock = options.cluster === undefined ? undefined : new ApplyClock(clock);
    const storeClock = applyClock ?? clock;
    const store =
      options.openStore?.() ?? new LmdbStore({ dataDir: options.dataDir, clock: storeClock, durability, onFatal });
    const nodeId = store instanceof LmdbStore ? store.nodeId() : 'local';
    const node = new CatenaNode(store, { ...options, durability, valueBytesMax, clock: storeClock, log }, nodeId);
    node.loopDelay.enable();
    onStoreFailure = (error) => node.fatal(error);
    try {
      await node.listen();
      node.series.begin();
      if (options.adminPort !== undefined) {
        node.view = node.clusterView();
        node.admin = await AdminServer.start({
          host: options.adminHost ?? node.host,
          port: options.adminPort,
          log,
          ...(options.auth?.adminToken === undefined ? {} : { token: options.auth.adminToken }),
          ...(options.tls === undefined ? {} : { tls: options.tls }),
          sources: {
            nodeId,
            dump: (out) => writeDump(out, { nodeId, store, clock: storeClock }),
            status: () => ({
              node: node.nodeStatus(),
              topology: node.topology(),
              stats: commandByName('stats').execute(node.context!, {}),
              liveness: node.liveness(),
            }),
            metrics: nodeMetrics(node.metricsSource()),
            ready: () => node.readiness(),
            dashboard: node.view,
            ...(options.dashboardAssets === undefined ? {} : { dashboardAssets: options.dashboardAssets }),
          },
        });
      }
      if (options.respPort !== undefined) await node.listenFor('resp', options.respPort);
      if (options.memcachedPort !== undefined) await node.listenFor('memcached', options.memcachedPort);
      if (options.cluster !== undefined) {
        assert(store instanceof LmdbStore && applyClock !== undefined, 'a cluster node keeps its log in LMDB');
        await node.joinCluster(options.cluster, store, applyClock);
      }
      await node.startRouter();
    } catch (error) {
      await node.stop().catch(() => undefined);
      throw error;
    }
    if (options.cluster === undefined) {
      // In a cluster, replicas reclaiming at different moments would diverge (a reclaimed key
      // applies differently from an expired one still present): the head reclaims through the
      // log instead (replica/expiry-reclaimer.ts).
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
    node.logClientLimits();
    return node;
  }

  private async joinCluster(cluster: ClusterOptions, store: LmdbStore, applyClock: ApplyClock): Promise<void> {
    const log = this.options.log;
    const replica = new Replica({
      self: this.nodeId,
      store,
      environment: systemEnvironment(applyClock.base),
      applyClock,
      context: this.context!,
      durable: this.options.durability === 'fsync',
      log,
      onCaughtUp: (joiner, epoch) => parts.membership.reportCaughtUp(joiner, epoch),
      onStateChanged: () => parts.membership.publish(),
      readLeaseValid: () => parts.membership.readLeaseValid,
      nativeAddressOf: (nodeId) => parts.membership.nodeInfo(nodeId)?.native,
      fatal: (error) => this.fatal(error),
      liveness: livenessOf(cluster),
    });
    const membership = new Membership({
      ...(cluster.secret === undefined ? {} : { secret: cluster.secret }),
      coordinatorUrl: cluster.coordinator,
      cluster: cluster.name,
      nodeId: this.nodeId,
      sessionTimeoutMs: cluster.sessionTimeoutMs,
      dataDir: this.options.dataDir,
      info: () => {
        const position = replica.lastLogPosition;
        return {
          nodeId: this.nodeId,
          native: `${this.host}:${this.port}`,
          peer:
            parts.peers === undefined
              ? ''
              : (cluster.peerAnnounce ?? `${cluster.peerHost ?? this.host}:${parts.peers.port}`),
          admin: this.admin === undefined ? '' : `${this.options.adminHost ?? this.host}:${this.admin.port}`,
          resp: this.respPort === undefined ? '' : `${this.host}:${this.respPort}`,
          memcached: this.memcachedPort === undefined ? '' : `${this.host}:${this.memcachedPort}`,
          lastSequence: position.lastSequence,
          lastEpoch: position.lastEpoch,
          chainId: replica.chainId,
          awaitingRemoval: replica.status().awaitingRemoval,
          report: replica.report,
        };
      },
      onConfig: (config) => replica.configure(config),
      onSession: (connected) => replica.sessionChanged(connected),
      onRefreshed: () => this.events?.observe(snapshotOf(membership), Date.now()),
      transport: () => this.migrationTransport(),
      migration: {
        ...migrationOptionsDefault,
        ...(cluster.moveBytesPerSecond === undefined ? {} : { bytesPerSecond: cluster.moveBytesPerSecond }),
        progress: this.migrationProgress,
      },
      log,
    });
    const parts: ClusterParts = { replica, membership, peers: undefined };
    this.cluster = parts;
    parts.peers = await PeerNetwork.start({
      self: this.nodeId,
      cluster: cluster.name,
      host: cluster.peerHost ?? this.host,
      port: cluster.peerPort,
      resolve: (nodeId) => splitAddress(membership.nodeInfo(nodeId)?.peer ?? ''),
      ...(cluster.secret === undefined ? {} : { secret: cluster.secret }),
      ...(this.options.tls === undefined ? {} : { tls: this.options.tls }),
      onFrame: (frame) => {
        replica.frame(frame);
        return undefined;
      },
      onPeerConnected: (peer) => replica.peerConnected(peer),
      onPeerLost: (peer) => replica.peerLost(peer),
      log,
    });
    if (cluster.secret === undefined) {
      log.log(
        'warn',
        'no cluster secret (--cluster-secret-file): chain traffic is accepted from loopback only, unauthenticated',
      );
    }
    replica.start(parts.peers);
    await membership.start();
  }

  /** Other nodes serve TLS like this one: relays and slot moves check them against the CA given (else the system's). */
  private relayTls(): { tls?: ClientTls } {
    const tls = this.options.tls;
    if (tls === undefined) return {};
    return { tls: tls.ca === undefined ? {} : { ca: tls.ca } };
  }

  /** The manager's way to send slot-moving commands to chains: a cluster client made on first use. */
  private migrationTransport(): Promise<ChainTransport> {
    this.migrationClient ??= nodeClusterClient({
      address: `${this.host}:${this.port}`,
      ...(this.options.auth?.relay === undefined ? {} : { auth: this.options.auth.relay }),
      ...this.relayTls(),
      execute: (request) => this.execute(this.context!, request, true),
      timeoutMs: migrationCallTimeoutMs,
    });
    const client = this.migrationClient;
    return client.then((c) => ({ send: (chainId, name, request) => c.sendToChain(chainId, name, request) }));
  }

  /** The dashboard's data (cluster-view.ts): in a cluster it asks every node through an internal cluster client. */
  private clusterView(): ClusterView {
    const tls = this.options.tls;
    this.events = this.options.cluster === undefined ? undefined : new ClusterEventLog();
    return new ClusterView({
      nodeId: this.nodeId,
      series: this.series,
      ...(this.events === undefined ? {} : { events: this.events }),
      ...(this.options.cluster === undefined
        ? {}
        : {
            client: () =>
              nodeClusterClient({
                address: `${this.host}:${this.port}`,
                ...(this.options.auth?.relay === undefined ? {} : { auth: this.options.auth.relay }),
                ...this.relayTls(),
                execute: (request) => this.execute(this.context!, request, true),
                timeoutMs: clusterViewNodeTimeoutMs,
              }),
          }),
      localStatus: () => this.nodeStatus(),
      nativeAddress: () => `${this.host}:${this.port}`,
      fetch: {
        ...(this.options.auth?.adminToken === undefined ? {} : { token: this.options.auth.adminToken }),
        ...(tls === undefined ? {} : { tls: tls.ca === undefined ? {} : { ca: tls.ca } }),
      },
    });
  }

  /** Admin HTTP port, when it listens. */
  get adminPort(): number | undefined {
    return this.admin?.port;
  }

  /** RESP port, when it listens. */
  get respPort(): number | undefined {
    return this.listenerPort('resp');
  }

  /** memcached port, when it listens. */
  get memcachedPort(): number | undefined {
    return this.listenerPort('memcached');
  }

  private listenerPort(kind: 'resp' | 'memcached'): number | undefined {
    const address = this.listeners.get(kind)?.address();
    return address !== null && typeof address === 'object' ? address.port : undefined;
  }

  /** How RESP and memcached sessions run commands: here, or routed through the cluster. */
  private async startRouter(): Promise<void> {
    if (this.listeners.size === 0) return;
    const durable = true; // both durability modes (see the constructor)
    const execute = (request: Request): Execution => {
      const execution = this.execute(this.context!, request, durable);
      // Relayed commands count in `stats` (and RESP INFO) like native ones.
      const name = request.command.case;
      if (name !== undefined) {
        const started = performance.now();
        void settle(execution).then((result) =>
          this.stats.record(name, (performance.now() - started) * 1000, result.case === 'error'),
        );
      }
      return execution;
    };
    this.router =
      this.cluster === undefined
        ? localRouter(execute)
        : await clusterRouter({
            address: `${this.host}:${this.port}`,
            execute,
            ...(this.options.auth?.relay === undefined ? {} : { auth: this.options.auth.relay }),
            ...this.relayTls(),
          });
  }

  private listenFor(kind: 'resp' | 'memcached', port: number): Promise<void> {
    const server = clientServer(this.options.tls, (socket) => this.acceptProtocol(kind, socket));
    server.maxConnections = connectionsMax;
    this.listeners.set(kind, server);
    return new Promise((resolve, reject) => {
      server.once('error', (error) =>
        reject(
          new CatenaError('ERR_LISTEN_FAILED', `cannot listen on ${this.host}:${port} (${kind}): ${error.message}`),
        ),
      );
      server.listen(port, this.host, () => {
        server.removeAllListeners('error');
        server.on('error', (error) =>
          this.options.log.log('error', `${kind} listener error`, { error: error.message }),
        );
        resolve();
      });
    });
  }

  private acceptProtocol(kind: 'resp' | 'memcached', socket: Socket): void {
    const router = this.router;
    if (this.stopping !== undefined || router === undefined) {
      socket.destroy(); // not started yet, or stopping
      return;
    }
    if (!this.admission.admit(socket, kind)) return;
    this.stats.connectionsOpen += 1;
    this.stats.connectionsTotal += 1;
    this.countTraffic(kind, socket);
    const session: ProtocolSession =
      kind === 'resp' ? this.respSession(socket, router) : this.memcachedSession(socket, router);
    this.protocolSessions.add(session);
    socket.on('close', () => {
      this.admission.release();
      this.stats.connectionsOpen -= 1;
      this.protocolSessions.delete(session);
    });
  }

  /** Counts the connection, and its bytes once it closes (open ones are read at each scrape). */
  private countTraffic(protocol: Protocol, socket: Socket): void {
    const traffic = this.traffic.get(protocol)!;
    traffic.accepted += 1;
    traffic.open.add(socket);
    socket.once('close', () => {
      traffic.open.delete(socket);
      traffic.bytesIn += socket.bytesRead;
      traffic.bytesOut += socket.bytesWritten;
    });
  }

  /** What `/metrics` reads, at each scrape (metrics.ts). */
  private metricsSource(): MetricsSource {
    const store = this.store;
    return {
      info: () => ({
        nodeId: this.nodeId,
        chain: this.cluster?.membership.chain?.chainId ?? '',
        version: catenaVersion,
        durability: this.options.durability,
      }),
      commands: () => this.stats.commandCounters(),
      protocolErrors: () => this.stats.protocolErrors,
      connections: () =>
        [...this.traffic].map(([protocol, traffic]) => {
          let bytesIn = traffic.bytesIn;
          let bytesOut = traffic.bytesOut;
          for (const socket of traffic.open) {
            bytesIn += socket.bytesRead;
            bytesOut += socket.bytesWritten;
          }
          return { protocol, open: traffic.open.size, accepted: traffic.accepted, bytesIn, bytesOut };
        }),
      store: () => ({ keys: store.size(), bytes: store.bytes() }),
      storage: () => (store instanceof LmdbStore ? store.storageStats() : undefined),
      chain: () => {
        const cluster = this.cluster;
        if (cluster === undefined) return undefined;
        const status = cluster.replica.status();
        return {
          role: status.awaitingRemoval ? 'restarted' : status.role,
          epoch: status.epoch,
          last: status.last,
          persisted: status.persisted,
          committed: status.committed,
          servingReads: status.servingReads,
          commitUs: cluster.replica.commitLatencyUs,
          suspicions: cluster.replica.suspicions,
          peerRefusals: cluster.peers?.refused().connections ?? 0,
        };
      },
      coordinator: () => {
        const membership = this.cluster?.membership;
        if (membership === undefined) return undefined;
        return { state: membership.sessionState, manager: membership.isManager, ...membership.sessionEvents };
      },
      slotMoves: () => {
        const membership = this.cluster?.membership;
        if (membership === undefined) return undefined;
        const migration = membership.slots?.map.migration;
        return {
          ...this.migrationProgress,
          remaining: migration?.remaining ?? 0,
          inFlight: migration === undefined ? 0 : migration.last - migration.first + 1,
        };
      },
    };
  }

  private recordProtocolCommand = (failed: boolean): void => {
    this.protocolCommands.calls += 1;
    if (failed) this.protocolCommands.failed += 1;
  };

  private respSession(socket: Socket, router: CommandRouter): ProtocolSession {
    return new RespSession(socket, {
      router,
      log: this.options.log,
      clientLimits: this.clientLimits,
      requestLimits: {
        bulkBytesMax: respBulkBytesMaxFor(this.options.valueBytesMax),
        requestBytesMax: respRequestBytesMaxFor(this.options.valueBytesMax),
      },
      acl: this.acl,
      nextClientId: () => this.nextRespClientId++,
      recordCommand: this.recordProtocolCommand,
      recordProtocolError: () => {
        this.stats.protocolErrors += 1;
      },
      server: {
        nodeId: this.nodeId,
        info: () => this.respInfo(router),
        shards: () => this.respShards(),
        saveCursor: (after) => {
          const cursor = this.nextScanCursor++;
          this.scanCursors.set(cursor, Buffer.from(after));
          if (this.scanCursors.size > respScanCursorsMax)
            this.scanCursors.delete(this.scanCursors.keys().next().value!);
          return cursor;
        },
        loadCursor: (cursor) => this.scanCursors.get(cursor),
        chainsOf: (keys) => {
          const slots = this.cluster?.membership.slots;
          return slots === undefined ? 1 : new Set(keys.map((key) => slots.ownerOf(keySlot(key)))).size;
        },
      },
    });
  }

  private memcachedSession(socket: Socket, router: CommandRouter): ProtocolSession {
    return new MemcachedSession(socket, {
      router,
      log: this.options.log,
      clientLimits: this.clientLimits,
      acl: this.acl,
      itemBytesMax: this.options.valueBytesMax,
      // memcached's version first: clients parse it (libmemcached refuses a major version 0).
      version: `${memcachedCompatibleVersion}-catena-${catenaVersion}`,
      nowMs: () => Date.now(),
      stats: () => this.memcachedStats(router),
      recordProtocolError: () => {
        this.stats.protocolErrors += 1;
      },
    });
  }

  /** `stats`: memcached's general statistics where Catena has them, then Catena's own. */
  private async memcachedStats(router: CommandRouter): Promise<[string, string | number | bigint][]> {
    const size = await router.send('size', {});
    const nowMs = Date.now();
    const uptimeS = Math.floor((this.options.clock.nowMs() - this.context!.node.startedAtMs) / 1000);
    const usage = process.resourceUsage();
    return [
      ['pid', process.pid],
      ['uptime', uptimeS],
      ['time', Math.floor(nowMs / 1000)],
      ['version', `${memcachedCompatibleVersion}-catena-${catenaVersion}`],
      ['pointer_size', 64],
      ['rusage_user', (usage.userCPUTime / 1e6).toFixed(6)],
      ['rusage_system', (usage.systemCPUTime / 1e6).toFixed(6)],
      ['max_connections', this.admission.max],
      ['curr_connections', this.stats.connectionsOpen],
      ['total_connections', this.stats.connectionsTotal],
      ['curr_items', size.keys],
      ['bytes', size.bytes],
      ['limit_maxbytes', 0],
      ['item_size_max', this.options.valueBytesMax],
      ['threads', 1],
      ['catena_node_id', this.nodeId],
      ['catena_durability', this.options.durability],
      ['catena_protocol_errors', this.stats.protocolErrors],
    ];
  }

  /** INFO's sections: Redis's field names where they mean the same, Catena's own after them. */
  private async respInfo(router: CommandRouter): Promise<[string, [string, string | number | bigint][]][]> {
    const size = await router.send('size', {});
    const status = this.nodeStatus();
    const uptimeS = Math.floor((this.options.clock.nowMs() - this.context!.node.startedAtMs) / 1000);
    const memory = process.memoryUsage();
    return [
      [
        'Server',
        [
          ['redis_version', redisCompatibleVersion],
          ['catena_version', catenaVersion],
          ['redis_mode', 'standalone'],
          ['os', `${process.platform} ${process.arch}`],
          ['process_id', process.pid],
          ['tcp_port', this.respPort ?? 0],
          ['uptime_in_seconds', uptimeS],
          ['uptime_in_days', Math.floor(uptimeS / 86400)],
          ['catena_node_id', this.nodeId],
        ],
      ],
      [
        'Clients',
        [
          ['connected_clients', this.stats.connectionsOpen],
          ['maxclients', this.admission.max],
          ['catena_clients_refused', this.admission.refused],
          ['catena_client_buffers_bytes', this.clientLimits.budget.heldBytes],
          ['catena_client_buffers_bytes_max', this.clientLimits.budget.bytesMax],
          ['catena_client_buffer_pauses', this.clientLimits.budget.pauses],
          ['catena_clients_cut', this.clientLimits.budget.cuts],
        ],
      ],
      [
        'Memory',
        [
          ['used_memory', memory.heapUsed + memory.external],
          ['used_memory_rss', memory.rss],
          ['catena_stored_bytes', size.bytes],
        ],
      ],
      [
        'Persistence',
        [
          ['loading', 0],
          ['catena_durability', this.options.durability],
        ],
      ],
      [
        'Stats',
        [
          ['total_connections_received', this.stats.connectionsTotal],
          ['total_commands_processed', this.protocolCommands.calls],
          ['total_error_replies', this.protocolCommands.failed],
          ['acl_access_denied_auth', this.acl.denied.auth],
          ['acl_access_denied_cmd', this.acl.denied.commands],
          ['catena_protocol_errors', this.stats.protocolErrors],
        ],
      ],
      [
        'Replication',
        [
          ['role', 'master'],
          ['connected_slaves', 0],
          ['catena_role', status.role ?? ''],
          ['catena_chain', status.chainId ?? ''],
          ['catena_epoch', status.epoch ?? 0n],
        ],
      ],
      [
        'Commandstats',
        (this.stats.commandStats() ?? []).map((c) => [
          `cmdstat_catena_${c.name}`,
          `calls=${c.calls ?? 0},failed_calls=${c.errors ?? 0},p50_usec=${c.p50Us ?? 0},p99_usec=${c.p99Us ?? 0},p999_usec=${c.p999Us ?? 0},max_usec=${c.maxUs ?? 0}`,
        ]),
      ],
      ['Keyspace', size.keys > 0n ? [['db0', `keys=${size.keys},expires=0,avg_ttl=0`]] : []],
    ];
  }

  /** The chains as Redis Cluster shards: each slot range with its chain's members (head first). */
  private respShards(): RespShard[] {
    const topology = this.topology();
    const self = { id: this.nodeId, host: this.host, port: this.respPort ?? 0 };
    const chains = new Map((topology.chains ?? []).map((chain) => [chain.chainId, chain]));
    if (chains.size === 0) return [{ slotStart: 0, slotEnd: slotCount - 1, nodes: [self] }];
    const resp = new Map((topology.nodes ?? []).map((node) => [node.nodeId, splitAddress(node.resp ?? '')]));
    const ranges =
      topology.slots !== undefined && topology.slots.length > 0
        ? topology.slots.map((r) => ({ first: r.first ?? 0, last: r.last ?? 0, chainId: r.chainId ?? '' }))
        : [...chains.keys()].slice(0, 1).map((chainId) => ({ first: 0, last: slotCount - 1, chainId }));
    return ranges.map((range) => ({
      slotStart: range.first,
      slotEnd: range.last,
      nodes: (chains.get(range.chainId)?.members ?? []).flatMap((id) => {
        const address = resp.get(id);
        return address === undefined ? [] : [{ id, host: address.host, port: address.port }];
      }),
    }));
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
    const view = {
      slots: cluster.membership.slots,
      chainId: cluster.membership.chain?.chainId,
      replica: cluster.replica,
    };
    const refused = admissionRefusal(view, name, request.command.value);
    if (refused !== undefined) return { kind: 'now', result: refused, command: name };
    if (commandByName(name).mutates) return { kind: 'later', result: cluster.replica.write(request), command: name };
    const execution = cluster.replica.read(request);
    return listingCommands.has(name) ? this.ownedOnly(cluster.membership, execution) : execution;
  }

  /** A listing (scan, getkeys, gettable) keeps only keys whose slots this chain owns (a move leaves copies). */
  private ownedOnly(membership: Membership, execution: Execution): Execution {
    const slots = membership.slots;
    const chainId = membership.chain?.chainId;
    if (slots === undefined || chainId === undefined || slots.chains.length === 1) return execution;
    const owned = (key: Uint8Array) => slots.ownerOf(keySlot(key)) === chainId;
    const filter = (result: ResponseResult): ResponseResult => {
      const value = result.value as { entries?: { key: Uint8Array }[]; keys?: Uint8Array[] };
      if (value.entries !== undefined) value.entries = value.entries.filter((entry) => owned(entry.key));
      if (value.keys !== undefined) value.keys = value.keys.filter(owned);
      return result;
    };
    switch (execution.kind) {
      case 'now':
        return { ...execution, result: filter(execution.result) };
      case 'after-sync':
        return { ...execution, result: filter(execution.result) };
      case 'later':
        return { ...execution, result: execution.result.then(filter) };
    }
  }

  private topology(): ReplyInit<'topology'> {
    const membership = this.cluster?.membership;
    if (membership === undefined) return { cluster: '', manager: '', chains: [], nodes: [] };
    const slots = membership.slots;
    return {
      cluster: this.options.cluster?.name ?? '',
      coordinator: this.options.cluster?.coordinator ?? '',
      manager: membership.manager ?? '',
      chains: membership.allChains().map((chain) => ({
        chainId: chain.chainId,
        epoch: BigInt(chain.epoch),
        members: [...chain.members],
        joining: chain.joining ?? '',
      })),
      nodes: membership.allNodes().map((n) => ({
        nodeId: n.nodeId,
        native: n.native,
        resp: n.resp,
        memcached: n.memcached,
        admin: n.admin,
      })),
      slots: (slots?.map.ranges ?? []).map(([first, last, chainId]) => ({ first, last, chainId })),
      slotsVersion: BigInt(slots?.version ?? 0),
      ...(slots?.map.migration === undefined
        ? {}
        : {
            migration: {
              first: slots.map.migration.first,
              last: slots.map.migration.last,
              fromChain: slots.map.migration.from,
              toChain: slots.map.migration.to,
              stage: slots.map.migration.stage,
              remaining: slots.map.migration.remaining,
              planned: slots.map.migration.planned,
            },
          }),
    };
  }

  /**
   * Failure detection as this node sees it: the neighbours it reports now, how many it has
   * suspected since start, and its own event loop's stalls (a stall longer than the suspicion
   * timeout would get a live node removed: docs/operations.md, failover).
   */
  private liveness(): object {
    const delay = this.loopDelay;
    const report = this.cluster?.replica.report;
    return {
      suspects: report?.suspects ?? [],
      suspicions: this.cluster?.replica.suspicions ?? 0,
      standing: report === undefined ? null : { chain: report.chainId, epoch: report.epoch, settled: report.settled },
      // Chain connections closed for what they sent (a stranger without the secret, a bad frame).
      peerRefusals: this.cluster?.peers?.refused() ?? null,
      // The histogram samples the interval of a 10 ms timer: the stall is what exceeds 10 ms.
      eventLoopDelayMs: {
        p50: stallMs(delay.percentile(50)),
        p99: stallMs(delay.percentile(99)),
        max: stallMs(delay.max),
      },
    };
  }

  /**
   * Ready while the node serves its role: a standalone node once it listens; a cluster node while
   * its coordinator session is connected, it is a member of a chain (not joining, not a standby,
   * not a restarted node waiting to be removed), and, as the tail, serves reads.
   */
  readiness(): Readiness {
    const cluster = this.cluster;
    if (this.stopping !== undefined) return { ready: false, role: 'stopping', reason: 'the node is stopping' };
    if (cluster === undefined) return { ready: true, role: 'standalone' };
    const status = cluster.replica.status();
    const role = status.awaitingRemoval ? 'restarted' : status.role;
    const session = cluster.membership.sessionState;
    const chainId = cluster.membership.chain?.chainId;
    const not = (reason: string): Readiness => ({ ready: false, role, reason });
    if (session !== 'connected') return not(`coordinator session ${session === 'none' ? 'not open yet' : session}`);
    if (role === 'restarted')
      return not('restarted with entries it may not have made durable: waiting to be removed, then rejoins');
    if (role === 'outside') return not('in no chain: a standby, or not placed yet');
    if (role === 'joining') return not(`joining chain ${chainId ?? '?'}: catching up from its tail`);
    if ((role === 'tail' || role === 'head-and-tail') && !status.servingReads) {
      return not('the tail does not serve reads yet (waiting for its read lease or committed entries)');
    }
    return { ready: true, role };
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

  /** The client limits, once at start: maxclients (and why), the budget, the idle deadline. */
  private logClientLimits(): void {
    const { max, reason, reduced } = this.clientsMax;
    const fields = {
      maxClients: max,
      why: reason,
      clientBuffersBytesMax: this.clientLimits.budget.bytesMax,
      idleTimeoutMs: this.clientLimits.idleTimeoutMs,
    };
    if (reduced) {
      this.options.log.log(
        'warn',
        `maxclients reduced to ${max}: raise the open-file limit (ulimit -n) for more`,
        fields,
      );
    } else {
      this.options.log.log('info', 'client connections', fields);
    }
  }

  private accept(socket: Socket, host: SessionHost): void {
    if (this.stopping !== undefined) {
      socket.destroy();
      return;
    }
    if (!this.admission.admit(socket, 'native')) return;
    this.stats.connectionsOpen += 1;
    this.stats.connectionsTotal += 1;
    this.countTraffic('native', socket);
    const session = new NativeSession(socket, host);
    this.sessions.add(session);
    socket.on('close', () => {
      this.admission.release();
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
    const self = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the getter below reads the replica made later
    this.context = {
      store: this.store,
      clock: this.options.clock,
      valueBytesMax: this.options.valueBytesMax,
      node,
      get slots() {
        return self.cluster?.replica;
      },
    };
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

  private async dumpOnExit(dir: string): Promise<void> {
    const path = join(dir, `${this.nodeId}.jsonl`);
    try {
      mkdirSync(dir, { recursive: true });
      const summary = await dumpToFile(path, { nodeId: this.nodeId, store: this.store, clock: this.options.clock });
      this.options.log.log('info', 'table dumped', { path, keys: summary.keys, bytes: summary.bytes });
    } catch (error) {
      this.options.log.log('error', 'could not dump the table on exit', { path, error: String(error) });
    }
  }

  /** Stops accepting, answers every request already read (up to a deadline), closes LMDB. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.loopDelay.disable();
    this.series.stop();
    this.clientLimits.budget.close();
    if (this.reclaimTimer !== undefined) clearInterval(this.reclaimTimer);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const listenersClosed = [...this.listeners.values()].map(
      (server) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    const sessions: ProtocolSession[] = [...this.sessions, ...this.protocolSessions];
    const drained = Promise.all(sessions.map((session) => session.drain()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, shutdownDrainMsMax);
    });
    if (this.router !== undefined) {
      // A relayed command aimed at this node itself now gets ERR_SHUTTING_DOWN and would retry
      // until the drain deadline: give relays a moment, then close the relay, which fails what is
      // left (RESP -TRYAGAIN, memcached SERVER_ERROR) so it is answered rather than cut off.
      let relayTimer: NodeJS.Timeout | undefined;
      const relayDeadline = new Promise<void>((resolve) => {
        relayTimer = setTimeout(resolve, relayDrainMs);
      });
      await Promise.race([drained, deadline, relayDeadline]);
      clearTimeout(relayTimer);
      await this.router.close();
    }
    await Promise.race([drained, deadline]);
    clearTimeout(timer);
    await Promise.all(sessions.map((session) => session.close(shutdownCloseMsMax)));
    await closed;
    await Promise.all(listenersClosed);
    await this.admin?.close();
    await this.view?.close();
    await this.migrationClient?.then(
      (client) => client.close(),
      () => undefined,
    );
    if (this.cluster !== undefined) {
      this.cluster.replica.stop();
      await this.cluster.membership.stop();
      await this.cluster.peers?.close();
    }
    if (this.options.dumpOnExitDir !== undefined) await this.dumpOnExit(this.options.dumpOnExitDir);
    await this.store.close();
    this.options.log.log('info', 'node stopped');
  }
}

/**
 * Failure detection from a node's options. The read lease follows the suspicion timeout, and
 * stays under the third of the session timeout between a session's disconnect (when the node
 * stops granting leases) and its expiry (docs/design.md §3.5).
 */
function livenessOf(cluster: ClusterOptions): LivenessTuning {
  const suspicionMs = cluster.suspicionTimeoutMs ?? suspicionTimeoutMsDefault;
  const sessionBoundMs = cluster.sessionTimeoutMs * (1 - leaseTimeoutFraction) * 0.9;
  return {
    heartbeatMs: cluster.heartbeatMs ?? heartbeatIntervalMsDefault,
    suspicionMs,
    leaseMs: Math.floor(Math.min(suspicionMs * readLeaseFraction, sessionBoundMs)),
  };
}

/** An event-loop delay sample (ns, of the 10 ms sampling timer) as the stall beyond the timer, in ms. */
function stallMs(sampleNs: number): number {
  return Math.max(0, Math.round((sampleNs / 1e6 - 10) * 100) / 100);
}
