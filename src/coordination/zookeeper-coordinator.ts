// The ZooKeeper backend of `Coordinator`, on the pure-JS `node-zookeeper-client` library.
// URL: zk://host:port[,host:port...][/chroot] (a missing chroot znode is created at connect).
//
// What this layer adds to the library, and why:
// * Liveness. The library never notices a silent server: it pings every ⅓ timeout but has no
//   read timeout, so through a partition it stays "connected" forever. A watchdog here declares
//   `disconnected` when nothing has been read for ⅔ of the negotiated timeout and destroys the
//   socket, so the library reconnects (and re-sends its watches); a handshake that gets no answer
//   is abandoned after ⅓ timeout and tried again, as the Java client does.
// * States: SYNC_CONNECTED → connected, DISCONNECTED → disconnected, EXPIRED → expired (terminal;
//   the library reports DISCONNECTED after EXPIRED, which is ignored).
// * Calls made while not connected fail at once with 'connection-loss' (the library would queue
//   them until a reconnect); a call with no answer within the session timeout fails the same way.
// * Library quirks worked around: Transaction.check/setData/remove turn version 0 into -1
//   (`version || -1`), so versions are written into the ops afterwards; getData on a missing
//   znode sets no watch, so `get` falls back to `exists` for the creation watch; path errors are
//   thrown synchronously as AssertionError (mapped to 'bad-arguments'); children come unsorted.
// * Every library callback is wrapped in a promise and every synchronous throw is caught.

import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import {
  ACL,
  createClient,
  CreateMode as LibraryCreateMode,
  Id,
  Permission,
  Event as LibraryEvent,
  Exception,
  State,
  type Client,
  type Event as ZooKeeperEvent,
} from 'node-zookeeper-client';
import { assert, unreachable } from '../core/assert.js';
import { CatenaError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/log.js';
import { deriveKey } from '../core/secret.js';
import {
  coordinatorLivenessChecksPerTimeout,
  zooKeeperConnectTimeoutMsDefault,
  zooKeeperReconnectSpinDelayMs,
} from '../core/limits.js';
import {
  CoordinatorError,
  type ConnectOptions,
  type Coordinator,
  type CoordinatorErrorCode,
  type CreateMode,
  type MultiOp,
  type SessionState,
  type WatchEventType,
  type Watcher,
  type ZnodeData,
} from './coordinator.js';
import { invalidPathReason } from './embedded-tree.js';
import { notify, StateListeners } from './notify.js';

/** ZooKeeper's default client port, used when a host in the URL has none. */
const zooKeeperPortDefault = 2181;

export interface ZooKeeperConnectOptions extends ConnectOptions {
  readonly log?: Logger;
}

/** The few private fields of the library this layer needs (checked at connect). */
interface ConnectionManagerInternals {
  readonly state: number;
  readonly socket?: Socket;
}
const libraryStates = { connecting: 1, closing: -1, closed: -2 } as const;

interface TransactionInternals {
  readonly ops: Array<{ version?: number }>;
}

export interface ZooKeeperTarget {
  /** host:port,host:port — without the chroot. */
  readonly hosts: string;
  readonly chroot: string | undefined;
}

/** Parses zk://host:port[,host:port...][/chroot]. */
export function parseZooKeeperUrl(url: string): ZooKeeperTarget {
  const invalid = (why: string) =>
    new CatenaError('ERR_INVALID_ARGUMENT', `expected zk://host:port[,host:port...][/chroot], got ${url}: ${why}`);
  if (!url.startsWith('zk://')) throw invalid('wrong scheme');
  const rest = url.slice('zk://'.length);
  const slash = rest.indexOf('/');
  const hostList = slash < 0 ? rest : rest.slice(0, slash);
  const chroot = slash < 0 || rest.slice(slash) === '/' ? undefined : rest.slice(slash);
  const hosts = hostList.split(',').map((entry) => {
    const match = /^([A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(entry);
    const port = Number(match?.[2] ?? zooKeeperPortDefault);
    if (match === null || !(port > 0 && port < 65536)) throw invalid(`bad host "${entry}"`);
    return `${match[1]}:${port}`;
  });
  if (chroot !== undefined) {
    const reason = invalidPathReason(chroot);
    if (reason !== undefined) throw invalid(`bad chroot: ${reason}`);
  }
  return { hosts: hosts.join(','), chroot };
}

export async function connectZooKeeper(url: string, options: ZooKeeperConnectOptions): Promise<Coordinator> {
  const target = parseZooKeeperUrl(url);
  if (!(Number.isSafeInteger(options.sessionTimeoutMs) && options.sessionTimeoutMs > 0)) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `invalid session timeout ${options.sessionTimeoutMs} ms`);
  }
  const log = options.log ?? createLogger({ node: 'coordinator-client', level: 'warn' });
  const connectTimeoutMs = options.connectTimeoutMs ?? zooKeeperConnectTimeoutMsDefault;
  if (target.chroot !== undefined) {
    const root = await open(target.hosts, options.sessionTimeoutMs, connectTimeoutMs, log);
    try {
      await root.ensurePath(target.chroot);
    } finally {
      await root.close();
    }
  }
  return open(
    `${target.hosts}${target.chroot ?? ''}`,
    options.sessionTimeoutMs,
    connectTimeoutMs,
    log,
    options.secret === undefined ? undefined : zooKeeperCredential(options.secret),
  );
}

/**
 * The digest credential a cluster's nodes share (derived from the cluster secret), and the ACLs
 * of what they create: znodes below the top level are theirs alone (read, write, create, delete,
 * admin); a top-level znode (`/catena`, shared by every cluster on the ensemble) is theirs and
 * open to anyone to read and create children in.
 */
interface ZooKeeperCredential {
  readonly auth: Buffer;
  readonly own: ACL[];
  readonly shared: ACL[];
}

const zooKeeperUser = 'catena';

export function zooKeeperCredential(secret: Uint8Array): ZooKeeperCredential {
  const password = deriveKey(secret, 'catena zookeeper digest v1').toString('base64');
  const digest = createHash('sha1').update(`${zooKeeperUser}:${password}`).digest('base64');
  const own = new ACL(Permission.ALL, new Id('digest', `${zooKeeperUser}:${digest}`));
  return {
    auth: Buffer.from(`${zooKeeperUser}:${password}`),
    own: [own],
    shared: [own, new ACL(Permission.READ | Permission.CREATE, new Id('world', 'anyone'))],
  };
}

async function open(
  connectString: string,
  sessionTimeoutMs: number,
  connectTimeoutMs: number,
  log: Logger,
  credential?: ZooKeeperCredential,
) {
  const client = createClient(connectString, {
    sessionTimeout: sessionTimeoutMs,
    spinDelay: zooKeeperReconnectSpinDelayMs,
    retries: 0,
  });
  // Sent with every (re)connection's handshake by the library.
  if (credential !== undefined) client.addAuthInfo('digest', credential.auth);
  const coordinator = new ZooKeeperCoordinator(client, log, credential);
  await coordinator.start(connectTimeoutMs, connectString);
  return coordinator;
}

const libraryModes: Record<CreateMode, number> = {
  persistent: LibraryCreateMode.PERSISTENT,
  ephemeral: LibraryCreateMode.EPHEMERAL,
  'persistent-sequential': LibraryCreateMode.PERSISTENT_SEQUENTIAL,
  'ephemeral-sequential': LibraryCreateMode.EPHEMERAL_SEQUENTIAL,
};

const errorCodesByLibraryCode = new Map<number, CoordinatorErrorCode>([
  [Exception.NO_NODE, 'no-node'],
  [Exception.NODE_EXISTS, 'node-exists'],
  [Exception.BAD_VERSION, 'bad-version'],
  [Exception.NOT_EMPTY, 'not-empty'],
  [Exception.NO_CHILDREN_FOR_EPHEMERALS, 'no-children-for-ephemerals'],
  [Exception.BAD_ARGUMENTS, 'bad-arguments'],
  [Exception.API_ERROR, 'bad-arguments'],
  [Exception.INVALID_ACL, 'bad-arguments'],
  [Exception.INVALID_CALLBACK, 'bad-arguments'],
  // A znode of a cluster whose secret this client does not hold (zooKeeperCredential).
  [Exception.NO_AUTH, 'bad-arguments'],
  [Exception.AUTH_FAILED, 'bad-arguments'],
  [Exception.SESSION_EXPIRED, 'session-expired'],
  // CONNECTION_LOSS, OPERATION_TIMEOUT and server-side failures (SYSTEM_ERROR, MARSHALLING_ERROR,
  // RUNTIME_INCONSISTENCY, ...) all leave the call's effect unknown: 'connection-loss'.
]);

function eventType(event: ZooKeeperEvent): WatchEventType | undefined {
  switch (event.type) {
    case LibraryEvent.NODE_CREATED:
      return 'created';
    case LibraryEvent.NODE_DELETED:
      return 'deleted';
    case LibraryEvent.NODE_DATA_CHANGED:
      return 'data-changed';
    case LibraryEvent.NODE_CHILDREN_CHANGED:
      return 'children-changed';
    default:
      return undefined;
  }
}

function monotonicNowMs(): number {
  return performance.now();
}

type Done<T> = (error: Error | Exception | null, value: T) => void;

class ZooKeeperCoordinator implements Coordinator {
  state: SessionState = 'disconnected';
  private readonly internals: ConnectionManagerInternals;
  private readonly stateListeners = new StateListeners();
  private readonly wrappedWatchers = new WeakMap<Watcher, (event: ZooKeeperEvent) => void>();
  private readonly listenedSockets = new WeakSet<Socket>();
  private readonly handshakeStartMs = new WeakMap<Socket, number>();
  private lastHeardMs = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly client: Client,
    private readonly log: Logger,
    private readonly credential?: ZooKeeperCredential,
  ) {
    const internals = (client as unknown as { connectionManager?: ConnectionManagerInternals }).connectionManager;
    assert(
      internals !== undefined && typeof internals.state === 'number',
      'node-zookeeper-client internals changed: connectionManager.state is missing',
    );
    this.internals = internals;
    client.on('state', (state) => this.libraryState(state));
  }

  get sessionTimeoutMs(): number {
    return this.client.getSessionTimeout();
  }

  /** Connects; fails with 'connection-loss' (and stops the library) after `timeoutMs`. */
  async start(timeoutMs: number, connectString: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let removeListener: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () =>
            reject(new CoordinatorError('connection-loss', `no ZooKeeper at ${connectString} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        removeListener = this.onStateChange((state) => {
          if (state === 'connected') resolve();
          if (state === 'expired') reject(new CoordinatorError('session-expired', 'session expired while connecting'));
        });
        this.client.connect();
      });
    } catch (error) {
      await this.close();
      throw error;
    } finally {
      clearTimeout(timer);
      removeListener?.();
    }
  }

  onStateChange(listener: (state: SessionState) => void): () => void {
    return this.stateListeners.add(listener);
  }

  // ---- session state -------------------------------------------------------------------------

  private libraryState(state: State): void {
    if (this.closed || this.state === 'expired') return;
    switch (state.code) {
      case State.SYNC_CONNECTED.code:
        this.lastHeardMs = monotonicNowMs();
        this.listenToSocket();
        this.startWatchdog();
        this.setState('connected');
        return;
      case State.DISCONNECTED.code:
        this.setState('disconnected');
        return;
      case State.EXPIRED.code:
        this.expire();
        return;
      default:
        this.log.log('warn', `ZooKeeper client state ${state.name} is not used by Catena`);
    }
  }

  private listenToSocket(): void {
    const socket = this.internals.socket;
    if (socket === undefined || this.listenedSockets.has(socket)) return;
    this.listenedSockets.add(socket);
    socket.on('data', () => {
      if (socket === this.internals.socket) this.lastHeardMs = monotonicNowMs();
    });
  }

  private startWatchdog(): void {
    clearInterval(this.watchdog);
    const timeoutMs = this.sessionTimeoutMs;
    const checkEveryMs = Math.max(10, Math.floor(timeoutMs / coordinatorLivenessChecksPerTimeout));
    this.watchdog = setInterval(() => this.checkLiveness(timeoutMs), checkEveryMs);
  }

  private checkLiveness(timeoutMs: number): void {
    const socket = this.internals.socket;
    const nowMs = monotonicNowMs();
    if (this.state === 'connected') {
      if (nowMs - this.lastHeardMs <= (timeoutMs * 2) / 3) return;
      this.setState('disconnected');
      socket?.destroy(); // the library fails what is in flight and reconnects
      return;
    }
    if (socket === undefined || socket.destroyed || this.internals.state !== libraryStates.connecting) return;
    const startedMs = this.handshakeStartMs.get(socket);
    if (startedMs === undefined) this.handshakeStartMs.set(socket, nowMs);
    else if (nowMs - startedMs > timeoutMs / 3) socket.destroy(); // unanswered handshake: try again
  }

  private setState(state: SessionState): void {
    if (this.state === state) return;
    this.state = state;
    this.stateListeners.emit(state);
  }

  private expire(): void {
    clearInterval(this.watchdog);
    this.setState('expired');
    this.internals.socket?.destroy(); // the library does not reconnect an expired session
  }

  // ---- calls ---------------------------------------------------------------------------------

  private refusal(): CoordinatorError | undefined {
    if (this.closed) return new CoordinatorError('closed', 'the coordinator client is closed');
    if (this.state === 'expired') return new CoordinatorError('session-expired', 'the ZooKeeper session expired');
    if (this.state !== 'connected') return new CoordinatorError('connection-loss', 'not connected to ZooKeeper');
    return undefined;
  }

  /** Runs one library call as a promise, bounded by the session timeout. */
  private call<T>(invoke: (done: Done<T>) => void): Promise<T> {
    const refusal = this.refusal();
    if (refusal !== undefined) return Promise.reject(refusal);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        outcome();
      };
      const fail = (error: unknown) => finish(() => reject(this.toCoordinatorError(error)));
      const timer = setTimeout(
        () => fail(new CoordinatorError('connection-loss', 'no answer from ZooKeeper within the session timeout')),
        this.sessionTimeoutMs,
      );
      try {
        invoke((error, value) => (error === null || error === undefined ? finish(() => resolve(value)) : fail(error)));
      } catch (error) {
        fail(error);
      }
    });
  }

  private toCoordinatorError(error: unknown): CoordinatorError {
    if (error instanceof CoordinatorError) return error;
    if (error instanceof Exception) {
      if (this.closed && error.code === Exception.CONNECTION_LOSS) {
        return new CoordinatorError('closed', 'the coordinator client is closed');
      }
      return new CoordinatorError(
        errorCodesByLibraryCode.get(error.code) ?? 'connection-loss',
        `ZooKeeper: ${error.name}`,
      );
    }
    if (error instanceof Error && error.name === 'AssertionError') {
      return new CoordinatorError('bad-arguments', error.message); // the library's argument checks
    }
    return new CoordinatorError('connection-loss', `ZooKeeper client failure: ${String(error)}`);
  }

  private wrap(watcher: Watcher): (event: ZooKeeperEvent) => void {
    let wrapped = this.wrappedWatchers.get(watcher);
    if (wrapped === undefined) {
      wrapped = (event: ZooKeeperEvent) => {
        const type = eventType(event);
        if (this.closed || this.state === 'expired' || type === undefined) return;
        notify(watcher, { type, path: event.path });
      };
      this.wrappedWatchers.set(watcher, wrapped);
    }
    return wrapped;
  }

  // ---- the Coordinator interface -------------------------------------------------------------

  create(path: string, data: Uint8Array, mode: CreateMode): Promise<string> {
    const acls = aclsFor(this.credential, path);
    if (acls === undefined) {
      return this.call<string>((done) => this.client.create(path, Buffer.from(data), libraryModes[mode], done));
    }
    return this.call<string>((done) => this.client.create(path, Buffer.from(data), acls, libraryModes[mode], done));
  }

  async ensurePath(path: string): Promise<void> {
    if (path === '/') return;
    if (this.credential === undefined) {
      await this.call<string>((done) => this.client.mkdirp(path, done));
      return;
    }
    // Level by level, each with its own ACL (mkdirp would give every level the same one). A
    // level below the top that exists already must be this cluster's alone: one made by someone
    // without the secret (before the cluster first started) would let them read and rewrite it.
    const parts = path.split('/').filter((part) => part !== '');
    for (let depth = 1; depth <= parts.length; depth++) {
      const prefix = `/${parts.slice(0, depth).join('/')}`;
      if ((await this.exists(prefix)) === undefined) {
        const created = await this.create(prefix, new Uint8Array(0), 'persistent').then(
          () => true,
          (error: unknown) => {
            if (!(error instanceof CoordinatorError && error.code === 'node-exists')) throw error;
            return false;
          },
        );
        if (created) continue;
      }
      if (depth >= 2) await this.checkOwnAcl(prefix, this.credential);
    }
  }

  /** Refuses a znode whose ACL is not exactly the cluster's digest (zooKeeperCredential). */
  private async checkOwnAcl(path: string, credential: ZooKeeperCredential): Promise<void> {
    const acls = await this.call<ACL[]>((done) => this.client.getACL(path, (error, found) => done(error, found)));
    const own = credential.own[0]!;
    const only =
      acls.length === 1 &&
      acls[0]!.id.scheme === own.id.scheme &&
      acls[0]!.id.id === own.id.id &&
      acls[0]!.perms === own.perms;
    if (!only) {
      throw new CoordinatorError(
        'bad-arguments',
        `${path} exists with an ACL other than this cluster's (${acls.map((a) => `${a.id.scheme}:${a.id.id}`).join(', ')}): ` +
          'it was created without the cluster secret (by an older Catena, or by someone else); refusing to use it (docs/security.md)',
      );
    }
  }

  async get(path: string, watcher?: Watcher): Promise<ZnodeData | undefined> {
    const wrapped = watcher === undefined ? undefined : this.wrap(watcher);
    const first = await this.getData(path, wrapped);
    if (first !== undefined || wrapped === undefined) return first;
    // getData sets no watch on a missing znode: watch for its creation with exists instead. If
    // it appeared in between, exists has set a data watch and a second read returns it.
    if ((await this.existsStat(path, wrapped)) === undefined) return undefined;
    return this.getData(path, undefined);
  }

  private async getData(path: string, watcher?: (event: ZooKeeperEvent) => void): Promise<ZnodeData | undefined> {
    try {
      return await this.call<ZnodeData>((done) => {
        const callback = (
          error: Error | Exception | null,
          data: Buffer | null | undefined,
          stat: { version: number },
        ) =>
          done(
            error,
            error === null
              ? { data: data ?? Buffer.alloc(0), version: stat.version }
              : { data: Buffer.alloc(0), version: -1 },
          );
        if (watcher === undefined) this.client.getData(path, callback);
        else this.client.getData(path, watcher, callback);
      });
    } catch (error) {
      if (error instanceof CoordinatorError && error.code === 'no-node') return undefined;
      throw error;
    }
  }

  private existsStat(path: string, watcher?: (event: ZooKeeperEvent) => void): Promise<number | undefined> {
    return this.call<number | undefined>((done) => {
      const callback = (error: Error | Exception | null, stat: { version: number } | null) =>
        done(error, stat === null || stat === undefined ? undefined : stat.version);
      if (watcher === undefined) this.client.exists(path, callback);
      else this.client.exists(path, watcher, callback);
    });
  }

  exists(path: string, watcher?: Watcher): Promise<number | undefined> {
    return this.existsStat(path, watcher === undefined ? undefined : this.wrap(watcher));
  }

  async children(path: string, watcher?: Watcher): Promise<string[]> {
    const names = await this.call<string[]>((done) => {
      const callback = (error: Error | Exception | null, children: string[]) => done(error, children);
      if (watcher === undefined) this.client.getChildren(path, callback);
      else this.client.getChildren(path, this.wrap(watcher), callback);
    });
    return [...names].sort();
  }

  set(path: string, data: Uint8Array, version: number): Promise<number> {
    return this.call<number>((done) =>
      this.client.setData(path, Buffer.from(data), version, (error, stat) => done(error, stat?.version ?? -1)),
    );
  }

  delete(path: string, version: number): Promise<void> {
    return this.call<void>((done) => this.client.remove(path, version, (error) => done(error, undefined)));
  }

  async multi(ops: readonly MultiOp[]): Promise<void> {
    if (ops.length === 0) return;
    await this.call<void>((done) => {
      const transaction = this.client.transaction();
      for (const op of ops) addToTransaction(transaction, op, this.credential);
      transaction.commit((error) => done(error, undefined));
    });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /**
   * Ends the session when connected (its ephemerals go at once), waiting at most the session
   * timeout for ZooKeeper to confirm; otherwise the session is left to expire on the server.
   * Then makes sure the library holds no socket, so nothing keeps the process alive.
   */
  private async shutdown(): Promise<void> {
    const wasConnected = this.state === 'connected';
    this.closed = true;
    clearInterval(this.watchdog);
    try {
      this.client.close();
    } catch (error) {
      // The library writes CLOSE_SESSION to a socket it may not have yet; the reaper below ends it.
      this.log.log('debug', 'ZooKeeper client close threw', { error: `${error}` });
    }
    if (wasConnected) await this.until(() => this.internals.state === libraryStates.closed, this.sessionTimeoutMs);
    // A reconnect the library had scheduled may still open a socket: destroy any for a while.
    await this.until(
      () => {
        const socket = this.internals.socket;
        if (socket !== undefined && !socket.destroyed) socket.destroy();
        return false;
      },
      wasConnected && this.internals.state === libraryStates.closed ? 0 : zooKeeperReconnectSpinDelayMs * 2,
    );
    this.stateListeners.clear();
  }

  private until(condition: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = monotonicNowMs() + timeoutMs;
    return new Promise((resolve) => {
      const check = () => {
        if (condition() || monotonicNowMs() >= deadline) resolve();
        else setTimeout(check, 10);
      };
      check();
    });
  }
}

/** The ACLs a znode at `path` is created with, or undefined (the library's open ACL) without a credential. */
function aclsFor(credential: ZooKeeperCredential | undefined, path: string): ACL[] | undefined {
  if (credential === undefined) return undefined;
  return path.split('/').filter((part) => part !== '').length <= 1 ? credential.shared : credential.own;
}

function addToTransaction(
  transaction: ReturnType<Client['transaction']>,
  op: MultiOp,
  credential: ZooKeeperCredential | undefined,
): void {
  switch (op.kind) {
    case 'create': {
      const acls = aclsFor(credential, op.path);
      if (acls === undefined) transaction.create(op.path, Buffer.from(op.data), libraryModes[op.mode]);
      else transaction.create(op.path, Buffer.from(op.data), acls, libraryModes[op.mode]);
      return;
    }
    case 'set':
      transaction.setData(op.path, Buffer.from(op.data), op.version);
      break;
    case 'delete':
      transaction.remove(op.path, op.version);
      break;
    case 'check':
      transaction.check(op.path, op.version);
      break;
    default:
      unreachable(op, 'multi op');
  }
  // The library stores `version || -1`, which turns version 0 into "any version": put it back.
  const ops = (transaction as unknown as TransactionInternals).ops;
  assert(Array.isArray(ops) && ops.length > 0, 'node-zookeeper-client internals changed: Transaction.ops is missing');
  ops[ops.length - 1]!.version = op.version;
}
