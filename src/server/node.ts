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
}

export class CatenaNode {
  readonly stats = new NodeStats();
  private readonly sessions = new Set<NativeSession>();
  private readonly server: Server;
  private reclaimTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly store: Store,
    private readonly options: Required<Pick<NodeOptions, 'durability' | 'valueBytesMax' | 'clock' | 'log'>> &
      NodeOptions,
    readonly nodeId: string,
  ) {
    const context = this.commandContext();
    const host: SessionHost = {
      context,
      durable: options.durability === 'fsync',
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
    const store = options.openStore?.() ?? new LmdbStore({ dataDir: options.dataDir, clock, durability, onFatal });
    const nodeId = store instanceof LmdbStore ? store.nodeId() : 'local';
    const node = new CatenaNode(store, { ...options, durability, valueBytesMax, clock, log }, nodeId);
    onStoreFailure = (error) => node.fatal(error);
    await node.listen();
    node.reclaimTimer = setInterval(() => node.reclaim(), expiryReclaimIntervalMs);
    node.reclaimTimer.unref();
    log.log('info', 'node started', {
      nodeId,
      port: node.port,
      dataDir: options.dataDir,
      durability,
      keys: store.size(),
    });
    return node;
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
    };
    assert(commandNames.length > 0, 'the command table is not empty');
    return { store: this.store, clock: this.options.clock, valueBytesMax: this.options.valueBytesMax, node };
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
    await this.store.close();
    this.options.log.log('info', 'node stopped');
  }
}
