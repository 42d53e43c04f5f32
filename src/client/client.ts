// The TypeScript client: one TCP connection, many requests in flight on it (pipelining is the
// default: every call writes at once and the replies are matched by id), a deadline per request,
// and typed errors carrying the stable codes of src/core/errors.ts.
//
//   const client = await Client.connect({ port: 7000 });
//   await client.put('greeting', 'hello');
//   (await client.get('greeting'))?.value.toString();   // 'hello'
//
// The typed methods (put, get, set, mget, incr, scan, ...) live in `ClientCommands`
// (client-commands.ts), written once over one abstract `call`; `Client` implements it with one
// connection, `ClusterClient` (cluster-client.ts) with routing and retries over one `Client` per
// node. A `Client` talks to one node: in a cluster, a write sent to a node that is not its chain's
// head fails with ERR_NOT_HEAD naming the head's address (a read: ERR_NOT_TAIL); ClusterClient
// finds the head and the tail itself.

import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { CatenaError, isErrorCode } from '../core/errors.js';
import {
  replyFrameBytesMax,
  requestTimeoutMsDefault,
  clientCloseTimeoutMs,
  clientSweepIntervalMs,
  connectTimeoutMsDefault,
} from '../core/limits.js';
import type { CommandName, RequestInit } from '../commands/index.js';
import {
  decodeResponse,
  encodeAuthRequestFrame,
  encodeRequestFrame,
  encodeWriterRequestFrame,
  type ReplyOf,
  type WriterIds,
} from '../protocol/native/codec.js';
import { FrameDecoder } from '../protocol/native/frame.js';
import { ClientCommands, toBuffer, type Bytes } from './client-commands.js';

export { ClientCommands, type Bytes, type Entry } from './client-commands.js';

export interface ClientOptions {
  host?: string;
  port: number;
  /** Deadline for each request, in ms (default 5000). */
  timeoutMs?: number;
  /** Deadline for establishing the connection, in ms (default 5000). */
  connectTimeoutMs?: number;
  /** Authenticate as this user before any request (a node started with a password or ACL file). */
  auth?: Credentials;
  /** Connect with TLS (a node started with --tls-cert): the CA to trust, else the system's. */
  tls?: ClientTls;
}

/** TLS for a client connection (docs/security.md, TLS). */
export interface ClientTls {
  /** PEM of the CA that signed the nodes' certificates (`catena up --tls`: <data-dir>/tls/ca.pem); absent: the system's CAs. */
  ca?: string | Buffer;
}

/**
 * A user and password (docs/security.md, client authentication). `user` absent: the default
 * user, whose password is the node's `--requirepass-file`.
 */
export interface Credentials {
  user?: string;
  password: Bytes;
}

/** Per-request options of `Client.sendWith` (ClusterClient's retries use them). */
export interface SendOptions {
  /** Names the writer for exactly-once writes; a retry of one write sends the same pair. */
  writer?: WriterIds;
  /** Deadline for this request, in ms, instead of the client's `timeoutMs`. */
  timeoutMs?: number;
}

interface Pending {
  resolve(reply: unknown): void;
  reject(error: CatenaError): void;
  deadlineMs: number;
  timeoutMs: number;
}

/**
 * One pipelined connection to one node: a standalone `catena server`, or a cluster node you chose.
 * A cluster node serves writes only as its chain's head and reads only as its tail; elsewhere a
 * request fails with ERR_NOT_HEAD or ERR_NOT_TAIL naming the node to use. For a cluster, use
 * {@link ClusterClient}. Its methods are those of {@link ClientCommands}.
 *
 * ```ts
 * const client = await Client.connect({ host: '127.0.0.1', port: 7000 });
 * await client.put('greeting', 'hello');
 * await client.getString('greeting'); // 'hello'
 * ```
 */
export class Client extends ClientCommands {
  private readonly pending = new Map<number, Pending>();
  private readonly decoder = new FrameDecoder(replyFrameBytesMax);
  private readonly timeoutMs: number;
  private nextId = 1;
  private output: Uint8Array[] = [];
  private flushQueued = false;
  private closedError: CatenaError | undefined;
  private readonly sweeper: NodeJS.Timeout;

  private constructor(
    private readonly socket: Socket,
    options: ClientOptions,
  ) {
    super();
    this.timeoutMs = options.timeoutMs ?? requestTimeoutMsDefault;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) =>
      this.fail(new CatenaError('ERR_CONNECTION_CLOSED', `connection error: ${error.message}`)),
    );
    socket.on('close', () => this.fail(new CatenaError('ERR_CONNECTION_CLOSED')));
    this.sweeper = setInterval(() => this.expireOverdue(), clientSweepIntervalMs);
    this.sweeper.unref();
  }

  static connect(options: ClientOptions): Promise<Client> {
    const host = options.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const socket =
        options.tls === undefined
          ? connect({ host, port: options.port })
          : tlsConnect({ host, port: options.port, ...(options.tls.ca === undefined ? {} : { ca: options.tls.ca }) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new CatenaError(
            'ERR_CONNECTION_FAILED',
            `could not connect to ${host}:${options.port} within ${options.connectTimeoutMs ?? connectTimeoutMsDefault} ms`,
          ),
        );
      }, options.connectTimeoutMs ?? connectTimeoutMsDefault);
      // With TLS, ready once the handshake checked the node's certificate.
      socket.once(options.tls === undefined ? 'connect' : 'secureConnect', () => {
        clearTimeout(timer);
        const client = new Client(socket, options);
        if (options.auth === undefined) {
          resolve(client);
          return;
        }
        // The auth request goes first; a refusal (ERR_WRONGPASS) closes the connection.
        client.authenticate(options.auth).then(
          () => resolve(client),
          (error: unknown) => {
            socket.destroy();
            reject(error);
          },
        );
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(
          new CatenaError('ERR_CONNECTION_FAILED', `could not connect to ${host}:${options.port}: ${error.message}`, {
            cause: error,
          }),
        );
      });
    });
  }

  /**
   * Sends a command from the table with per-request options: the writer ids of an exactly-once
   * write, a deadline of its own. Resolves with the reply as decoded.
   */
  sendWith<C extends CommandName>(name: C, request: RequestInit<C>, options: SendOptions): Promise<ReplyOf<C>> {
    return this.call(
      name,
      () => request,
      (reply) => reply as ReplyOf<C>,
      options,
    );
  }

  /**
   * Authenticates this connection as `credentials.user` (default: the default user). Rejects with
   * ERR_WRONGPASS on a wrong pair; the connection then keeps the user it had.
   */
  authenticate(credentials: Credentials): Promise<void> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    const id = this.allocateId();
    const frame = encodeAuthRequestFrame(id, {
      user: credentials.user ?? '',
      password: toBuffer(credentials.password),
    });
    return this.enqueue(id, frame, this.timeoutMs, () => undefined);
  }

  /** True once the connection is closed or failed: every later request rejects. */
  get closed(): boolean {
    return this.closedError !== undefined || this.socket.destroyed;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      // A server that does not answer the close (stopped, partitioned) must not hang the caller.
      const timer = setTimeout(() => this.socket.destroy(), clientCloseTimeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end();
    });
  }

  /**
   * Sends one request. The request is built and encoded here, so bad arguments (a negative or
   * fractional TTL, a number out of range) reject the returned promise rather than throw.
   */
  protected call<T>(
    name: CommandName,
    build: () => object,
    convert: (reply: unknown) => T,
    options?: SendOptions,
  ): Promise<T> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    const id = this.allocateId();
    const timeoutMs = options?.timeoutMs ?? this.timeoutMs;
    let frame: Uint8Array;
    try {
      const command = { case: name, value: build() } as Parameters<typeof encodeRequestFrame>[1];
      const writer = options?.writer;
      frame = writer === undefined ? encodeRequestFrame(id, command) : encodeWriterRequestFrame(id, command, writer);
    } catch (error) {
      if (error instanceof CatenaError) return Promise.reject(error);
      return Promise.reject(new CatenaError('ERR_INVALID_ARGUMENT', `invalid ${name} request: ${String(error)}`));
    }
    return this.enqueue(id, frame, timeoutMs, convert);
  }

  /** Queues an encoded request frame and resolves with its converted reply. */
  private enqueue<T>(id: number, frame: Uint8Array, timeoutMs: number, convert: (reply: unknown) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, {
        resolve: (reply) => resolve(convert(reply)),
        reject,
        deadlineMs: Date.now() + timeoutMs,
        timeoutMs,
      });
      this.output.push(frame);
      if (!this.flushQueued) {
        this.flushQueued = true;
        queueMicrotask(this.flushOutput);
      }
    });
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
      if (!this.pending.has(id)) return id;
    }
  }

  private readonly flushOutput = (): void => {
    this.flushQueued = false;
    if (this.output.length === 0 || this.socket.destroyed) return;
    const batch = this.output.length === 1 ? this.output[0]! : Buffer.concat(this.output);
    this.output = [];
    this.socket.write(batch);
  };

  private onData(chunk: Buffer): void {
    for (const event of this.decoder.push(chunk)) {
      if (event.kind === 'too-large') {
        this.fail(new CatenaError('ERR_FRAME_TOO_LARGE', 'the server sent a reply larger than the client accepts'));
        this.socket.destroy();
        return;
      }
      const decoded = decodeResponse(event.body);
      if (!decoded.ok) {
        this.fail(new CatenaError('ERR_MALFORMED_FRAME', `undecodable reply: ${decoded.reason}`));
        this.socket.destroy();
        return;
      }
      const response = decoded.message;
      const waiter = this.pending.get(response.id);
      if (waiter === undefined) continue; // a reply after its deadline, or a connection-level notice
      this.pending.delete(response.id);
      const result = response.result;
      if (result.case === 'error') {
        const code = isErrorCode(result.value.code) ? result.value.code : 'ERR_INTERNAL';
        waiter.reject(new CatenaError(code, result.value.message));
      } else {
        waiter.resolve(result.value);
      }
    }
  }

  private expireOverdue(): void {
    const now = Date.now();
    for (const [id, waiter] of this.pending) {
      if (waiter.deadlineMs > now) continue;
      this.pending.delete(id);
      waiter.reject(new CatenaError('ERR_TIMEOUT', `request timed out after ${waiter.timeoutMs} ms`));
    }
  }

  private fail(error: CatenaError): void {
    this.closedError ??= error;
    clearInterval(this.sweeper);
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
