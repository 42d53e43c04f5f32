// The embedded coordinator: a small ZooKeeper-like server that runs inside the `catena up`
// supervisor process and is reached over loopback TCP (wire protocol: embedded-wire.ts), so a
// cluster on one machine needs no ZooKeeper. Its client, `connectEmbedded`, lives in
// embedded-client.ts and is re-exported here. Both follow coordinator.ts's ZooKeeper semantics
// and pass the same contract suite as the ZooKeeper backend.
//
// Contract of the server:
// * The znode tree (embedded-tree.ts) lives in memory. With `dataFile`, every persistent znode
//   (with its child version, the sequence counter) is written to that file atomically
//   (embedded-data-file.ts) after each change, one write per event-loop turn however many
//   changes it held, and loaded on start: a restarted supervisor keeps its chain
//   configurations. Ephemerals and sessions are never persisted.
// * Durability before acknowledgement: while a write is pending, every outgoing message waits
//   behind it in one FIFO outbox, so a client never sees the effect of a change (a response or
//   an event) that a crash could still undo, and messages keep their order.
// * A session expires when the server has heard nothing on it for its whole granted timeout
//   (checked every ~timeout/10). Expiry or close deletes its ephemerals at once, fires the
//   watches that deletion triggers, and drops the session's own watches.
// * Watch events for a session whose connection is down are kept (unacknowledged events, see
//   embedded-wire.ts) and delivered when it resumes; they are dropped with the session.
// * Bad input (a line over 1 MiB, malformed JSON, an unknown message) closes that connection
//   and logs an error; it never throws out of the server.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { assert, unreachable } from '../core/assert.js';
import { CatenaError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/log.js';
import {
  embeddedConnectionOutputBytesMax,
  embeddedConnectionsMax,
  embeddedExpiryChecksPerTimeout,
  embeddedSessionTimeoutMsMaxDefault,
  embeddedSessionTimeoutMsMinDefault,
  embeddedSessionsMax,
  embeddedUnackedEventsPerSessionMax,
  embeddedHelloBytesMax,
  embeddedHelloMs,
  embeddedUnwelcomedConnectionsMax,
  repeatedWarningIntervalMs,
} from '../core/limits.js';
import type { MultiOp } from './coordinator.js';
import { loadTree, writeTreeFile } from './embedded-data-file.js';
import { ZnodeTree, type TreeResult, type WatchDelivery } from './embedded-tree.js';
import {
  decodeClientMessage,
  encodeMessage,
  verifyCoordinatorProof,
  LineSplitter,
  type ClientMessage,
  type ServerMessage,
  type WireMultiOp,
  type WireOp,
  type WireResult,
} from './embedded-wire.js';

export { connectEmbedded } from './embedded-client.js';

export interface EmbeddedCoordinatorOptions {
  /** Listen address; loopback by default. */
  readonly host?: string;
  /** 0 picks a free port; read it back from `server.port`. */
  readonly port: number;
  /** Where persistent znodes are kept across restarts; in memory only when absent. */
  readonly dataFile?: string;
  readonly sessionTimeoutMsMin?: number;
  readonly sessionTimeoutMsMax?: number;
  readonly log?: Logger;
  /** Called when the data file cannot be written; the server has stopped by then. */
  readonly onFatal?: (error: unknown) => void;
  /**
   * The cluster secret: a client must prove it holds it (embedded-wire.ts) to open or resume a
   * session. Absent: any client that reaches the port is served.
   */
  readonly secret?: Uint8Array;
}

interface UnackedEvent {
  readonly seq: number;
  readonly message: ServerMessage & { t: 'event' };
}

interface ServerSession {
  readonly id: string;
  readonly password: string;
  readonly timeoutMs: number;
  lastHeardMs: number;
  connection: Connection | undefined;
  eventSeq: number;
  unacked: UnackedEvent[];
}

interface Connection {
  readonly socket: Socket;
  readonly remote: string;
  readonly splitter: LineSplitter;
  session: ServerSession | undefined;
  /** The challenge sent on this connection (base64): a hello proves the secret over it. */
  readonly nonce: string;
}

type Outgoing =
  { readonly connection: Connection; readonly line: string } | { readonly connection: Connection; readonly end: true };

interface DataFileState {
  readonly path: string;
  dirty: boolean;
  scheduled: boolean;
  writing: Promise<void> | undefined;
}

function monotonicNowMs(): number {
  return performance.now();
}

export class EmbeddedCoordinatorServer {
  readonly url: string;
  private readonly sessions = new Map<string, ServerSession>();
  private readonly connections = new Set<Connection>();
  /** Connections that have no session yet, oldest first. */
  private readonly unwelcomed = new Set<Connection>();
  private rejectLoggedAtMs = Number.NEGATIVE_INFINITY;
  private rejectsUnlogged = 0;
  private readonly outbox: Outgoing[] = [];
  private readonly file: DataFileState | undefined;
  private readonly expiryTimer: NodeJS.Timeout;
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    private readonly tree: ZnodeTree,
    readonly host: string,
    readonly port: number,
    private readonly options: EmbeddedCoordinatorOptions & { log: Logger; timeoutMsMin: number; timeoutMsMax: number },
  ) {
    this.url = `embedded://${host}:${port}`;
    this.file =
      options.dataFile === undefined
        ? undefined
        : { path: options.dataFile, dirty: false, scheduled: false, writing: undefined };
    const checkEveryMs = Math.max(10, Math.floor(options.timeoutMsMin / embeddedExpiryChecksPerTimeout));
    this.expiryTimer = setInterval(() => this.expireSilentSessions(), checkEveryMs);
    server.on('connection', (socket) => this.accept(socket));
    server.on('error', (error) =>
      options.log.log('error', 'embedded coordinator: listener error', { error: `${error}` }),
    );
  }

  static async start(options: EmbeddedCoordinatorOptions): Promise<EmbeddedCoordinatorServer> {
    const timeoutMsMin = options.sessionTimeoutMsMin ?? embeddedSessionTimeoutMsMinDefault;
    const timeoutMsMax = options.sessionTimeoutMsMax ?? Math.max(timeoutMsMin, embeddedSessionTimeoutMsMaxDefault);
    if (!(Number.isSafeInteger(timeoutMsMin) && timeoutMsMin > 0 && timeoutMsMin <= timeoutMsMax)) {
      throw new CatenaError(
        'ERR_INVALID_ARGUMENT',
        `session timeout bounds ${timeoutMsMin}..${timeoutMsMax} ms are invalid`,
      );
    }
    const log = options.log ?? createLogger({ node: 'coordinator', level: 'warn' });
    const tree = options.dataFile === undefined ? new ZnodeTree() : await loadTree(options.dataFile);
    const host = options.host ?? '127.0.0.1';
    const server = createServer();
    server.maxConnections = embeddedConnectionsMax;
    const port = await listen(server, host, options.port);
    log.log('info', 'embedded coordinator listening', { host, port, dataFile: options.dataFile });
    return new EmbeddedCoordinatorServer(server, tree, host, port, { ...options, log, timeoutMsMin, timeoutMsMax });
  }

  /** Ids of live sessions (tests). */
  sessionIds(): string[] {
    return [...this.sessions.keys()];
  }

  /** Expires a session now, as if its timeout had run out (tests). */
  expireSession(id: string): void {
    const session = this.sessions.get(id);
    if (session !== undefined) this.endSession(session, 'expired');
  }

  /** Stops listening, drops every connection and waits for the data file to be up to date. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    clearInterval(this.expiryTimer);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.connections) connection.socket.destroy();
    await closed;
    if (this.file !== undefined) {
      await this.file.writing;
      if (this.file.dirty) await this.writeDataFile();
    }
    this.outbox.length = 0;
  }

  // ---- connections ---------------------------------------------------------------------------

  private accept(socket: Socket): void {
    if (this.stopping !== undefined) {
      socket.destroy();
      return;
    }
    const connection: Connection = {
      socket,
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
      splitter: new LineSplitter(),
      session: undefined,
      nonce: randomBytes(32).toString('base64'),
    };
    this.connections.add(connection);
    // Connections without a session yet get a deadline and few places (a new one closes the
    // oldest): a stranger cannot hold the port, or memory, by connecting and saying nothing.
    this.unwelcomed.add(connection);
    const helloDeadline = setTimeout(() => {
      if (connection.session === undefined) this.reject(connection, 'no hello in time');
    }, embeddedHelloMs);
    socket.on('close', () => {
      clearTimeout(helloDeadline);
      this.unwelcomed.delete(connection);
    });
    if (this.unwelcomed.size > embeddedUnwelcomedConnectionsMax) {
      const oldest = this.unwelcomed.values().next().value;
      if (oldest !== undefined && oldest !== connection) this.reject(oldest, 'too many connections without a session');
    }
    socket.setNoDelay(true);
    this.send(connection, { t: 'challenge', nonce: connection.nonce });
    socket.on('data', (chunk: Buffer) => this.receive(connection, chunk));
    socket.on('error', (error) =>
      this.options.log.log('debug', 'embedded coordinator: connection error', {
        remote: connection.remote,
        error: `${error}`,
      }),
    );
    socket.on('close', () => {
      this.connections.delete(connection);
      if (connection.session?.connection === connection) connection.session.connection = undefined;
    });
  }

  private receive(connection: Connection, chunk: Buffer): void {
    const split = connection.splitter.push(chunk);
    if ('error' in split) {
      this.reject(connection, 'line longer than the frame limit');
      return;
    }
    // Before its hello a connection has proved nothing: it may hold a few KiB, not a frame's worth.
    if (connection.session === undefined && connection.splitter.pendingBytes > embeddedHelloBytesMax) {
      this.reject(connection, 'no hello within the first bytes');
      return;
    }
    for (const line of split.lines) {
      if (connection.socket.destroyed) return;
      if (connection.session === undefined && line.length > embeddedHelloBytesMax) {
        this.reject(connection, 'a line before the hello is too long');
        return;
      }
      const message = decodeClientMessage(line);
      if (message === undefined) {
        this.reject(connection, 'malformed message');
        return;
      }
      this.handle(connection, message);
    }
  }

  /** Closes a connection; logs the first in each repeatedWarningIntervalMs, then how many followed. */
  private reject(connection: Connection, reason: string): void {
    connection.socket.destroy();
    const nowMs = Date.now();
    if (nowMs - this.rejectLoggedAtMs < repeatedWarningIntervalMs) {
      this.rejectsUnlogged += 1;
      return;
    }
    this.options.log.log('error', `embedded coordinator: ${reason}; closing the connection`, {
      remote: connection.remote,
      session: connection.session?.id,
      ...(this.rejectsUnlogged > 0 ? { closedSinceLastLine: this.rejectsUnlogged } : {}),
    });
    this.rejectLoggedAtMs = nowMs;
    this.rejectsUnlogged = 0;
  }

  private handle(connection: Connection, message: ClientMessage): void {
    if (message.t === 'hello') {
      this.hello(connection, message);
      return;
    }
    const session = connection.session;
    if (session === undefined || session.connection !== connection) {
      this.reject(connection, `'${message.t}' before a session was established`);
      return;
    }
    session.lastHeardMs = monotonicNowMs();
    switch (message.t) {
      case 'ping':
        acknowledge(session, message.ack);
        this.send(connection, { t: 'pong' });
        return;
      case 'req':
        this.request(session, connection, message.id, message.op);
        return;
      case 'close':
        this.endSession(session, 'closed');
        this.send(connection, { t: 'res', id: message.id, ok: true, result: null });
        this.endConnection(connection);
        return;
      default:
        unreachable(message, 'client message');
    }
  }

  private hello(connection: Connection, hello: ClientMessage & { t: 'hello' }): void {
    if (connection.session !== undefined) {
      this.reject(connection, 'second hello on one connection');
      return;
    }
    const secret = this.options.secret;
    if (secret !== undefined && !verifyCoordinatorProof(secret, connection.nonce, hello.proof)) {
      this.options.log.log('warn', 'embedded coordinator: a client did not prove the cluster secret', {
        remote: connection.remote,
      });
      this.send(connection, { t: 'refused', reason: 'this coordinator needs the cluster secret' });
      this.endConnection(connection);
      return;
    }
    if (hello.session === undefined) {
      if (this.sessions.size >= embeddedSessionsMax) {
        this.reject(connection, `session limit ${embeddedSessionsMax} reached`);
        return;
      }
      const timeoutMs = Math.min(Math.max(hello.timeoutMs, this.options.timeoutMsMin), this.options.timeoutMsMax);
      const session: ServerSession = {
        id: randomBytes(8).toString('hex'),
        password: randomBytes(16).toString('hex'),
        timeoutMs,
        lastHeardMs: monotonicNowMs(),
        connection: undefined,
        eventSeq: 0,
        unacked: [],
      };
      this.sessions.set(session.id, session);
      this.attach(session, connection);
      return;
    }
    const session = this.sessions.get(hello.session);
    if (session === undefined || !samePassword(session.password, hello.password ?? '')) {
      this.send(connection, { t: 'expired' });
      this.endConnection(connection);
      return;
    }
    acknowledge(session, hello.ack ?? 0);
    this.attach(session, connection);
  }

  /** Binds a session to a connection (taking it from an older one) and resends missed events. */
  private attach(session: ServerSession, connection: Connection): void {
    const previous = session.connection;
    if (previous !== undefined && previous !== connection) {
      previous.session = undefined;
      previous.socket.destroy();
    }
    session.connection = connection;
    session.lastHeardMs = monotonicNowMs();
    connection.session = session;
    this.unwelcomed.delete(connection);
    this.send(connection, {
      t: 'welcome',
      session: session.id,
      password: session.password,
      timeoutMs: session.timeoutMs,
    });
    for (const event of session.unacked) this.send(connection, event.message);
  }

  // ---- requests ------------------------------------------------------------------------------

  private request(session: ServerSession, connection: Connection, id: number, op: WireOp): void {
    const { result, fired, mutated } = this.execute(session, op);
    if (mutated) this.markDirty();
    this.deliver(fired);
    this.send(
      connection,
      result.ok
        ? { t: 'res', id, ok: true, result: result.value }
        : { t: 'res', id, ok: false, code: result.code, message: result.message },
    );
  }

  private execute(
    session: ServerSession,
    op: WireOp,
  ): { result: TreeResult<WireResult>; fired: WatchDelivery[]; mutated: boolean } {
    const read = (result: TreeResult<WireResult>) => ({ result, fired: [], mutated: false });
    const write = <T extends WireResult>(mutation: { result: TreeResult<T>; fired: WatchDelivery[] }) => ({
      ...mutation,
      mutated: mutation.result.ok,
    });
    switch (op.kind) {
      case 'get':
      case 'exists':
        return read(this.read(session, op.kind, op.path, op.watch));
      case 'children': {
        const result = this.tree.children(op.path);
        if (!result.ok || !op.watch) return read(result);
        const watched = this.tree.watchChildren(session.id, op.path);
        return read(watched.ok ? result : watched);
      }
      case 'create':
        return write(this.tree.create(op.path, Buffer.from(op.data, 'base64'), op.mode, session.id));
      case 'set':
        return write(this.tree.set(op.path, Buffer.from(op.data, 'base64'), op.version));
      case 'delete':
        return write(this.tree.delete(op.path, op.version));
      case 'check':
        return write(this.tree.multi([op], session.id));
      case 'multi':
        return write(this.tree.multi(op.ops.map(toMultiOp), session.id));
      default:
        return unreachable(op, 'request op');
    }
  }

  private read(session: ServerSession, kind: 'get' | 'exists', path: string, watch: boolean): TreeResult<WireResult> {
    const result = this.tree.get(path);
    if (!result.ok) return result;
    if (watch) {
      const watched = this.tree.watchData(session.id, path);
      if (!watched.ok) return watched;
    }
    const node = result.value;
    if (node === undefined) return { ok: true, value: null };
    return {
      ok: true,
      value: kind === 'get' ? { data: node.data.toString('base64'), version: node.version } : node.version,
    };
  }

  // ---- sessions and watch events -------------------------------------------------------------

  private deliver(fired: readonly WatchDelivery[]): void {
    const overflowing: ServerSession[] = [];
    for (const { sessionId, type, path } of fired) {
      const session = this.sessions.get(sessionId);
      if (session === undefined) continue;
      session.eventSeq += 1;
      const message = { t: 'event', seq: session.eventSeq, type, path } as const;
      session.unacked.push({ seq: session.eventSeq, message });
      if (session.unacked.length > embeddedUnackedEventsPerSessionMax) overflowing.push(session);
      else if (session.connection !== undefined) this.send(session.connection, message);
    }
    for (const session of overflowing) {
      this.options.log.log('warn', 'embedded coordinator: session left too many events unacknowledged', {
        session: session.id,
      });
      if (this.sessions.has(session.id)) this.endSession(session, 'expired');
    }
  }

  /** Ends a session (expired or closed): its ephemerals go at once, their watches fire. */
  private endSession(session: ServerSession, why: 'expired' | 'closed'): void {
    assert(this.sessions.get(session.id) === session, 'ending a live session');
    this.sessions.delete(session.id);
    this.tree.dropWatches(session.id);
    const { deleted, fired } = this.tree.deleteEphemerals(session.id);
    if (deleted > 0) this.markDirty();
    this.options.log.log('info', `embedded coordinator: session ${why}`, { session: session.id, ephemerals: deleted });
    const connection = session.connection;
    session.connection = undefined;
    if (connection !== undefined) connection.session = undefined;
    if (why === 'expired' && connection !== undefined) {
      this.send(connection, { t: 'expired' });
      this.endConnection(connection);
    }
    this.deliver(fired);
  }

  private expireSilentSessions(): void {
    const nowMs = monotonicNowMs();
    for (const session of [...this.sessions.values()]) {
      if (nowMs - session.lastHeardMs > session.timeoutMs && this.sessions.has(session.id)) {
        this.endSession(session, 'expired');
      }
    }
  }

  // ---- output, gated by durability -----------------------------------------------------------

  private gateClosed(): boolean {
    return this.file !== undefined && (this.file.dirty || this.file.writing !== undefined);
  }

  private send(connection: Connection, message: ServerMessage): void {
    const line = encodeMessage(message);
    if (this.gateClosed()) this.outbox.push({ connection, line });
    else this.write({ connection, line });
  }

  private endConnection(connection: Connection): void {
    if (this.gateClosed()) this.outbox.push({ connection, end: true });
    else this.write({ connection, end: true });
  }

  private write(outgoing: Outgoing): void {
    const socket = outgoing.connection.socket;
    if (socket.destroyed) return;
    if ('end' in outgoing) {
      socket.end();
      return;
    }
    socket.write(outgoing.line);
    if (socket.writableLength > embeddedConnectionOutputBytesMax)
      this.reject(outgoing.connection, 'client does not read its replies');
  }

  // ---- the data file -------------------------------------------------------------------------

  private markDirty(): void {
    const file = this.file;
    if (file === undefined) return;
    file.dirty = true;
    if (file.scheduled || file.writing !== undefined) return;
    file.scheduled = true;
    setImmediate(() => {
      file.scheduled = false;
      if (file.writing === undefined && file.dirty) void this.writeDataFile();
    });
  }

  /** Writes the tree, then releases the messages that waited for it; never rejects. */
  private writeDataFile(): Promise<void> {
    const file = this.file;
    assert(file !== undefined && file.writing === undefined, 'one data file write at a time');
    file.dirty = false;
    const covered = this.outbox.splice(0);
    const znodes = this.tree.persistentZnodes();
    const writing = writeTreeFile(file.path, znodes).then(
      () => {
        file.writing = undefined;
        for (const outgoing of covered) this.write(outgoing);
        if (file.dirty && this.stopping === undefined) return this.writeDataFile();
        if (!file.dirty) for (const outgoing of this.outbox.splice(0)) this.write(outgoing);
        return undefined;
      },
      (error: unknown) => {
        file.writing = undefined;
        this.fatal(error);
      },
    );
    file.writing = writing;
    return writing;
  }

  private fatal(error: unknown): void {
    this.options.log.log('error', 'embedded coordinator: cannot write the data file; stopping', {
      dataFile: this.file?.path,
      error: `${error}`,
    });
    if (this.file !== undefined) this.file.dirty = false;
    void this.stop().then(() => this.options.onFatal?.(error));
  }
}

function toMultiOp(op: WireMultiOp): MultiOp {
  switch (op.kind) {
    case 'create':
    case 'set':
      return { ...op, data: Buffer.from(op.data, 'base64') };
    case 'delete':
    case 'check':
      return op;
    default:
      return unreachable(op, 'multi op');
  }
}

function acknowledge(session: ServerSession, ack: number): void {
  while (session.unacked.length > 0 && session.unacked[0]!.seq <= ack) session.unacked.shift();
}

function samePassword(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) =>
      reject(
        new CatenaError('ERR_LISTEN_FAILED', `embedded coordinator cannot listen on ${host}:${port}: ${error.message}`),
      );
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      assert(address !== null && typeof address === 'object', 'a TCP listener has an address');
      resolve(address.port);
    });
  });
}
