// Client of the embedded coordinator (embedded-coordinator.ts), implementing `Coordinator`
// over the line protocol of embedded-wire.ts.
//
//   connect ──hello──▶ connected ──nothing heard for ⅔ timeout, or socket closed──▶ disconnected
//                         ▲                                                            │
//                         └──── welcome (same session) ◀── reconnect, short backoff ◀──┘
//                                                      server says `expired` ──▶ expired (terminal)
//
// * Pings go out every ⅓ of the granted timeout; anything from the server counts as hearing it.
// * Reconnects resume the session by id and password and acknowledge the last watch event
//   seen, so the server re-sends any event that was lost with the old connection.
// * Calls made while not connected fail at once with 'connection-loss' (they do not wait for a
//   reconnect: callers such as the manager must re-read state after a reconnect anyway). Calls
//   in flight when the connection drops fail with 'connection-loss' too: their effect is unknown.
//   Once expired, every call fails with 'session-expired'; after close(), with 'closed'.
// * close() ends the session on the server when connected (its ephemerals go at once); when not
//   connected it only stops this client, and the server expires the session after its timeout.
// * Watchers are kept on both sides: the server keeps which session watches what, this client
//   keeps the functions, registered before the call's promise resolves so no event can slip by.

import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { assert, unreachable } from '../core/assert.js';
import { CatenaError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/log.js';
import {
  coordinatorLivenessChecksPerTimeout,
  embeddedConnectTimeoutMsDefault,
  embeddedFrameBytesMax,
  embeddedReconnectDelayMsMax,
  embeddedReconnectDelayMsMin,
} from '../core/limits.js';
import {
  CoordinatorError,
  type ConnectOptions,
  type Coordinator,
  type CreateMode,
  type MultiOp,
  type SessionState,
  type WatchEvent,
  type WatchEventType,
  type Watcher,
  type ZnodeData,
} from './coordinator.js';
import {
  coordinatorProof,
  decodeServerMessage,
  encodeMessage,
  LineSplitter,
  type ClientMessage,
  type ServerMessage,
  type WireMultiOp,
  type WireOp,
  type WireResult,
} from './embedded-wire.js';
import { notify, StateListeners } from './notify.js';

export interface EmbeddedConnectOptions extends ConnectOptions {
  /** Where protocol errors are reported; warnings and errors go to stderr by default. */
  readonly log?: Logger;
}

interface Pending {
  readonly op: WireOp | { kind: 'close' };
  readonly watcher: Watcher | undefined;
  readonly resolve: (result: WireResult) => void;
  readonly reject: (error: CoordinatorError) => void;
}

function monotonicNowMs(): number {
  return performance.now();
}

/** Parses `embedded://host:port`. */
export function parseEmbeddedUrl(url: string): { host: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `not a coordinator URL: ${url}`);
  }
  const port = Number(parsed.port);
  const extra = (parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search !== '' || parsed.hash !== '';
  if (parsed.protocol !== 'embedded:' || parsed.hostname === '' || !(port > 0 && port < 65536) || extra) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `expected embedded://host:port, got ${url}`);
  }
  return { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

export async function connectEmbedded(url: string, options: EmbeddedConnectOptions): Promise<Coordinator> {
  const address = parseEmbeddedUrl(url);
  if (!(Number.isSafeInteger(options.sessionTimeoutMs) && options.sessionTimeoutMs > 0)) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `invalid session timeout ${options.sessionTimeoutMs} ms`);
  }
  const client = new EmbeddedClient(address, options);
  await client.start(options.connectTimeoutMs ?? embeddedConnectTimeoutMsDefault);
  return client;
}

function toBase64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

function toWireMultiOp(op: MultiOp): WireMultiOp {
  switch (op.kind) {
    case 'create':
    case 'set':
      return { ...op, data: toBase64(op.data) };
    case 'delete':
    case 'check':
      return { kind: op.kind, path: op.path, version: op.version };
    default:
      return unreachable(op, 'multi op');
  }
}

class EmbeddedClient implements Coordinator {
  sessionTimeoutMs: number;
  state: SessionState = 'disconnected';
  private readonly log: Logger;
  private readonly stateListeners = new StateListeners();
  private session: { id: string; password: string } | undefined;
  private lastEventSeq = 0;
  private socket: Socket | undefined;
  private handshaking = false;
  private lastHeardMs = 0;
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  private readonly dataWatchers = new Map<string, Set<Watcher>>();
  private readonly existWatchers = new Map<string, Set<Watcher>>();
  private readonly childWatchers = new Map<string, Set<Watcher>>();
  private reconnectAttempts = 0;
  private timers: NodeJS.Timeout[] = [];
  private reconnectTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private started: { resolve: () => void; reject: (error: CoordinatorError) => void } | undefined;
  private lastConnectError = '';
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly address: { host: string; port: number },
    private readonly options: EmbeddedConnectOptions,
  ) {
    this.sessionTimeoutMs = options.sessionTimeoutMs;
    this.log = options.log ?? createLogger({ node: 'coordinator-client', level: 'warn' });
  }

  /** Resolves on the first welcome; fails with 'connection-loss' after `timeoutMs`. */
  start(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => {
        this.started = undefined;
        this.closed = true;
        this.teardown('closed');
        const target = `${this.address.host}:${this.address.port}`;
        reject(
          new CoordinatorError(
            'connection-loss',
            `no embedded coordinator at ${target} within ${timeoutMs} ms${this.lastConnectError}`,
          ),
        );
      }, timeoutMs);
      this.started = {
        resolve: () => {
          clearTimeout(deadline);
          resolve();
        },
        reject: (error) => {
          clearTimeout(deadline);
          reject(error);
        },
      };
      this.dial();
    });
  }

  onStateChange(listener: (state: SessionState) => void): () => void {
    return this.stateListeners.add(listener);
  }

  // ---- the connection ------------------------------------------------------------------------

  private dial(): void {
    this.reconnectTimer = undefined;
    const socket = netConnect({ host: this.address.host, port: this.address.port });
    const splitter = new LineSplitter();
    this.socket = socket;
    this.handshaking = true;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(socket, splitter, chunk));
    socket.on('error', (error) => {
      this.lastConnectError = ` (last error: ${error.message})`;
    });
    socket.on('close', () => this.connectionLost(socket));
    // A handshake that gets no answer (a partition) is abandoned and tried again.
    this.handshakeTimer = setTimeout(() => socket.destroy(), Math.max(50, Math.floor(this.sessionTimeoutMs / 3)));
  }

  private write(socket: Socket, message: ClientMessage): void {
    socket.write(encodeMessage(message));
  }

  private receive(socket: Socket, splitter: LineSplitter, chunk: Buffer): void {
    if (socket !== this.socket) return;
    const split = splitter.push(chunk);
    if ('error' in split) {
      this.protocolError(socket, 'line longer than the frame limit');
      return;
    }
    this.lastHeardMs = monotonicNowMs();
    for (const line of split.lines) {
      if (socket !== this.socket) return;
      const message = decodeServerMessage(line);
      if (message === undefined) {
        this.protocolError(socket, 'malformed message');
        return;
      }
      this.handle(socket, message);
    }
  }

  private protocolError(socket: Socket, reason: string): void {
    this.log.log('error', `embedded coordinator client: ${reason} from the server; reconnecting`, {
      server: `${this.address.host}:${this.address.port}`,
    });
    socket.destroy();
  }

  /** The server's first message: the hello answers its challenge (with a proof when this client has the secret). */
  private challenged(socket: Socket, nonce: string): void {
    if (!this.handshaking) {
      this.protocolError(socket, 'unexpected challenge');
      return;
    }
    const timeoutMs = this.options.sessionTimeoutMs;
    const session = this.session;
    const secret = this.options.secret;
    const proof = secret === undefined ? {} : { proof: coordinatorProof(secret, nonce) };
    this.write(
      socket,
      session === undefined
        ? { t: 'hello', timeoutMs, ...proof }
        : {
            t: 'hello',
            timeoutMs,
            session: session.id,
            password: session.password,
            ack: this.lastEventSeq,
            ...proof,
          },
    );
  }

  /** The server wants a proof of the cluster secret this client cannot give: retrying will not help. */
  private refused(reason: string): void {
    const error = new CoordinatorError(
      'bad-arguments',
      `the embedded coordinator at ${this.address.host}:${this.address.port} refused this client: ${reason} (--cluster-secret-file)`,
    );
    this.log.log('error', error.message);
    const started = this.started;
    this.started = undefined;
    this.closed = true;
    this.teardown(started === undefined ? 'expired' : 'closed');
    started?.reject(error);
  }

  private handle(socket: Socket, message: ServerMessage): void {
    switch (message.t) {
      case 'challenge':
        this.challenged(socket, message.nonce);
        return;
      case 'refused':
        this.refused(message.reason);
        return;
      case 'welcome':
        this.welcome(socket, message);
        return;
      case 'expired':
        this.expire();
        return;
      case 'res':
        this.response(message);
        return;
      case 'pong':
        return;
      case 'event':
        if (message.seq <= this.lastEventSeq) return; // re-sent after a resume; already seen
        this.lastEventSeq = message.seq;
        this.dispatch(message.type, message.path);
        return;
      default:
        unreachable(message, 'server message');
    }
  }

  private welcome(socket: Socket, message: ServerMessage & { t: 'welcome' }): void {
    if (!this.handshaking || (this.session !== undefined && this.session.id !== message.session)) {
      this.protocolError(socket, 'unexpected welcome');
      return;
    }
    clearTimeout(this.handshakeTimer);
    this.handshaking = false;
    this.reconnectAttempts = 0;
    this.session = { id: message.session, password: message.password };
    this.sessionTimeoutMs = message.timeoutMs;
    this.startTimers();
    this.setState('connected');
    this.started?.resolve();
    this.started = undefined;
  }

  private startTimers(): void {
    for (const timer of this.timers) clearInterval(timer);
    const pingEveryMs = Math.max(10, Math.floor(this.sessionTimeoutMs / 3));
    const checkEveryMs = Math.max(10, Math.floor(this.sessionTimeoutMs / coordinatorLivenessChecksPerTimeout));
    const silenceMsMax = (this.sessionTimeoutMs * 2) / 3;
    this.timers = [
      setInterval(() => {
        if (this.state === 'connected' && this.socket !== undefined && !this.handshaking) {
          this.write(this.socket, { t: 'ping', ack: this.lastEventSeq });
        }
      }, pingEveryMs),
      setInterval(() => {
        if (this.state === 'connected' && monotonicNowMs() - this.lastHeardMs > silenceMsMax) this.socket?.destroy();
      }, checkEveryMs),
    ];
  }

  private connectionLost(socket: Socket): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    clearTimeout(this.handshakeTimer);
    this.failPending(new CoordinatorError('connection-loss', 'the connection to the coordinator was lost'));
    if (this.closed || this.state === 'expired') return;
    this.setState('disconnected');
    const delayMs = Math.min(embeddedReconnectDelayMsMax, embeddedReconnectDelayMsMin * 2 ** this.reconnectAttempts);
    this.reconnectAttempts = Math.min(this.reconnectAttempts + 1, 16);
    this.reconnectTimer = setTimeout(() => this.dial(), delayMs);
  }

  private setState(state: SessionState): void {
    if (this.state === state) return;
    assert(this.state !== 'expired', 'expired is terminal');
    this.state = state;
    this.stateListeners.emit(state);
  }

  private expire(): void {
    if (this.state === 'expired') return;
    this.teardown('expired');
    this.setState('expired');
    this.started?.reject(new CoordinatorError('session-expired', 'the coordinator session expired'));
    this.started = undefined;
  }

  /** Stops timers and the connection; fails what is pending. */
  private teardown(why: 'expired' | 'closed'): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.handshakeTimer);
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    const error =
      why === 'expired'
        ? new CoordinatorError('session-expired', 'the coordinator session expired')
        : new CoordinatorError('closed', 'the coordinator client is closed');
    this.failPending(error);
    this.dataWatchers.clear();
    this.existWatchers.clear();
    this.childWatchers.clear();
  }

  private failPending(error: CoordinatorError): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const call of pending) call.reject(error);
  }

  // ---- requests and watches ------------------------------------------------------------------

  private call(op: WireOp, watcher?: Watcher): Promise<WireResult> {
    if (this.closed) return Promise.reject(new CoordinatorError('closed', 'the coordinator client is closed'));
    if (this.state === 'expired') {
      return Promise.reject(new CoordinatorError('session-expired', 'the coordinator session expired'));
    }
    const socket = this.socket;
    if (this.state !== 'connected' || socket === undefined || this.handshaking) {
      return Promise.reject(new CoordinatorError('connection-loss', 'not connected to the coordinator'));
    }
    const id = this.nextRequestId++;
    const line = encodeMessage({ t: 'req', id, op });
    if (Buffer.byteLength(line) - 1 > embeddedFrameBytesMax) {
      return Promise.reject(
        new CoordinatorError('bad-arguments', `request is larger than ${embeddedFrameBytesMax} bytes`),
      );
    }
    return new Promise<WireResult>((resolve, reject) => {
      this.pending.set(id, { op, watcher, resolve, reject });
      socket.write(line);
    });
  }

  private response(message: ServerMessage & { t: 'res' }): void {
    const call = this.pending.get(message.id);
    if (call === undefined) return; // a request already failed locally (connection-loss)
    this.pending.delete(message.id);
    if (!message.ok) {
      call.reject(new CoordinatorError(message.code, message.message));
      return;
    }
    if (call.watcher !== undefined) this.registerWatcher(call.op, message.result, call.watcher);
    call.resolve(message.result);
  }

  /** Registered synchronously with the response, before any later event is read. */
  private registerWatcher(op: Pending['op'], result: WireResult, watcher: Watcher): void {
    const add = (table: Map<string, Set<Watcher>>, path: string) => {
      const set = table.get(path) ?? new Set<Watcher>();
      set.add(watcher);
      table.set(path, set);
    };
    if (op.kind === 'get' || op.kind === 'exists')
      add(result === null ? this.existWatchers : this.dataWatchers, op.path);
    else if (op.kind === 'children') add(this.childWatchers, op.path);
  }

  private dispatch(type: WatchEventType, path: string): void {
    const watchers = new Set<Watcher>();
    const take = (table: Map<string, Set<Watcher>>) => {
      for (const watcher of table.get(path) ?? []) watchers.add(watcher);
      table.delete(path);
    };
    if (type === 'created' || type === 'data-changed') {
      take(this.dataWatchers);
      take(this.existWatchers);
    } else if (type === 'deleted') {
      take(this.dataWatchers);
      take(this.childWatchers);
    } else {
      take(this.childWatchers);
    }
    const event: WatchEvent = { type, path };
    for (const watcher of watchers) notify(watcher, event);
  }

  // ---- the Coordinator interface -------------------------------------------------------------

  async create(path: string, data: Uint8Array, mode: CreateMode): Promise<string> {
    const result = await this.call({ kind: 'create', path, data: toBase64(data), mode });
    assert(typeof result === 'string', 'create returns the path');
    return result;
  }

  async ensurePath(path: string): Promise<void> {
    if (!path.startsWith('/')) throw new CoordinatorError('bad-arguments', `a path must start with /: ${path}`);
    let prefix = '';
    for (const segment of path.split('/').slice(1)) {
      if (segment === '' && path === '/') return;
      prefix = `${prefix}/${segment}`;
      try {
        await this.create(prefix, new Uint8Array(0), 'persistent');
      } catch (error) {
        if (!(error instanceof CoordinatorError && error.code === 'node-exists')) throw error;
      }
    }
  }

  async get(path: string, watcher?: Watcher): Promise<ZnodeData | undefined> {
    const result = await this.call({ kind: 'get', path, watch: watcher !== undefined }, watcher);
    if (result === null) return undefined;
    assert(typeof result === 'object' && !Array.isArray(result), 'get returns data and version');
    return { data: Buffer.from(result.data, 'base64'), version: result.version };
  }

  async exists(path: string, watcher?: Watcher): Promise<number | undefined> {
    const result = await this.call({ kind: 'exists', path, watch: watcher !== undefined }, watcher);
    if (result === null) return undefined;
    assert(typeof result === 'number', 'exists returns a version');
    return result;
  }

  async children(path: string, watcher?: Watcher): Promise<string[]> {
    const result = await this.call({ kind: 'children', path, watch: watcher !== undefined }, watcher);
    assert(Array.isArray(result), 'children returns names');
    return result;
  }

  async set(path: string, data: Uint8Array, version: number): Promise<number> {
    const result = await this.call({ kind: 'set', path, data: toBase64(data), version });
    assert(typeof result === 'number', 'set returns the new version');
    return result;
  }

  async delete(path: string, version: number): Promise<void> {
    await this.call({ kind: 'delete', path, version });
  }

  async multi(ops: readonly MultiOp[]): Promise<void> {
    if (ops.length === 0) return;
    await this.call({ kind: 'multi', ops: ops.map(toWireMultiOp) });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Ends the session on the server when connected (bounded by the timeout), then locally. */
  private async shutdown(): Promise<void> {
    const socket = this.socket;
    const wasConnected = this.state === 'connected' && socket !== undefined && !this.handshaking;
    this.closed = true;
    if (wasConnected) {
      const id = this.nextRequestId++;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.pending.set(id, {
          op: { kind: 'close' },
          watcher: undefined,
          resolve: () => resolve(),
          reject: () => resolve(),
        });
        this.write(socket, { t: 'close', id });
        timer = setTimeout(resolve, this.sessionTimeoutMs);
      });
      clearTimeout(timer);
    }
    this.teardown('closed');
    this.stateListeners.clear();
  }
}
