// The TypeScript client: one TCP connection, many requests in flight on it (pipelining is the
// default: every call writes at once and the replies are matched by id), a deadline per request,
// and typed errors carrying the stable codes of src/core/errors.ts.
//
//   const client = await Client.connect({ port: 7000 });
//   await client.put('greeting', 'hello');
//   (await client.get('greeting'))?.value.toString();   // 'hello'
//
// The typed methods (put, get, incr, scan, ...) live in `ClientCommands`, written once over one
// abstract `call`; `Client` implements it with one connection, `ClusterClient`
// (cluster-client.ts) with routing and retries over one `Client` per node.

import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { CatenaError, isErrorCode } from '../core/errors.js';
import {
  replyFrameBytesMax,
  requestTimeoutMsDefault,
  clientCloseTimeoutMs,
  clientEntriesPageRecordsDefault,
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

export type Bytes = string | Uint8Array;

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

export interface Entry {
  key: Buffer;
  value: Buffer;
  version: bigint;
  /** Remaining time to live in ms; 0n when the key does not expire. */
  ttlMs: bigint;
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

/** A non-negative integer as a uint64 field, or ERR_INVALID_ARGUMENT. */
function toUint64(value: number | bigint, what: string): bigint {
  if (typeof value === 'bigint' ? value < 0n : !Number.isSafeInteger(value) || value < 0) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `${what} must be a non-negative integer`);
  }
  return BigInt(value);
}

const toBuffer = (value: Bytes): Buffer =>
  typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value.buffer, value.byteOffset, value.length);

/**
 * The typed methods every Catena client offers, written once over `call`: build the request
 * (bad arguments reject, never throw), send it somewhere, convert the reply.
 */
export abstract class ClientCommands {
  /**
   * Sends one request and converts its reply. `build` runs once per call, so arguments are
   * checked once and a retry sends the very same request.
   */
  protected abstract call<T>(name: CommandName, build: () => object, convert: (reply: unknown) => T): Promise<T>;

  /** Sends any command from the table and resolves with its reply (the shell and CLI use this). */
  send<C extends CommandName>(name: C, request: RequestInit<C>): Promise<ReplyOf<C>> {
    return this.call(
      name,
      () => request,
      (reply) => reply as ReplyOf<C>,
    );
  }

  // The hot commands convert their reply inside the one promise each call makes (no async
  // wrapper, no second promise): this is most of the client's cost per request.

  put(key: Bytes, value: Bytes, options: { ttlMs?: number } = {}): Promise<{ version: bigint }> {
    return this.call(
      'put',
      () => ({ key: toBuffer(key), value: toBuffer(value), ttlMs: toUint64(options.ttlMs ?? 0, 'ttlMs') }),
      (reply) => ({ version: (reply as ReplyOf<'put'>).version }),
    );
  }

  /** The entry stored under key, or undefined when there is none. Its buffers are the client's own. */
  get(key: Bytes): Promise<Entry | undefined> {
    const keyBytes = toBuffer(key);
    return this.call(
      'get',
      () => ({ key: keyBytes }),
      (result) => {
        const reply = result as ReplyOf<'get'>;
        if (!reply.found) return undefined;
        // The value is a view of the reply frame, which nothing else holds or reuses.
        const value = reply.value;
        return {
          key: keyBytes,
          value: Buffer.from(value.buffer, value.byteOffset, value.length),
          version: reply.version,
          ttlMs: reply.ttlMs,
        };
      },
    );
  }

  del(key: Bytes): Promise<boolean> {
    return this.call(
      'del',
      () => ({ key: toBuffer(key) }),
      (reply) => (reply as ReplyOf<'del'>).deleted,
    );
  }

  async size(): Promise<{ keys: number; bytes: number }> {
    const reply = await this.send('size', {});
    return { keys: Number(reply.keys), bytes: Number(reply.bytes) };
  }

  async getkeys(options: { prefix?: Bytes; limit?: number } = {}): Promise<{ keys: Buffer[]; truncated: boolean }> {
    const reply = await this.send('getkeys', {
      prefix: options.prefix === undefined ? undefined : toBuffer(options.prefix),
      limit: options.limit ?? 0,
    });
    return { keys: reply.keys.map((k) => Buffer.from(k)), truncated: reply.truncated };
  }

  async gettable(options: { prefix?: Bytes; limit?: number } = {}): Promise<{ entries: Entry[]; truncated: boolean }> {
    const reply = await this.send('gettable', {
      prefix: options.prefix === undefined ? undefined : toBuffer(options.prefix),
      limit: options.limit ?? 0,
    });
    return { entries: reply.entries.map(toEntry), truncated: reply.truncated };
  }

  async stats(): Promise<ReplyOf<'stats'>> {
    return this.send('stats', {});
  }

  /** Writes only if the key is at expectedVersion (0n: only if absent). */
  async cas(
    key: Bytes,
    expectedVersion: bigint,
    value: Bytes,
    options: { ttlMs?: number } = {},
  ): Promise<{ swapped: boolean; version: bigint }> {
    const reply = await this.send('cas', {
      key: toBuffer(key),
      expectedVersion,
      value: toBuffer(value),
      ttlMs: toUint64(options.ttlMs ?? 0, 'ttlMs'),
    });
    return { swapped: reply.swapped, version: reply.version };
  }

  async incr(key: Bytes, delta: bigint | number = 1n): Promise<bigint> {
    return (await this.send('incr', { key: toBuffer(key), delta: BigInt(delta) })).value;
  }

  /** Appends and returns the new length. */
  async append(key: Bytes, value: Bytes): Promise<number> {
    return Number((await this.send('append', { key: toBuffer(key), value: toBuffer(value) })).length);
  }

  /** Sets the key's TTL (0 removes it); false when the key does not exist. */
  async expire(key: Bytes, ttlMs: number): Promise<boolean> {
    return (await this.send('expire', { key: toBuffer(key), ttlMs: toUint64(ttlMs, 'ttlMs') })).found;
  }

  /** Remaining TTL in ms (0n: no expiry), or undefined when the key does not exist. */
  async ttl(key: Bytes): Promise<bigint | undefined> {
    const reply = await this.send('ttl', { key: toBuffer(key) });
    return reply.found ? reply.ttlMs : undefined;
  }

  async scan(
    options: { prefix?: Bytes; after?: Bytes; limit?: number; keysOnly?: boolean } = {},
  ): Promise<{ entries: Entry[]; cursor: Buffer | undefined }> {
    const reply = await this.send('scan', {
      prefix: options.prefix === undefined ? undefined : toBuffer(options.prefix),
      after: options.after === undefined ? undefined : toBuffer(options.after),
      limit: options.limit ?? 0,
      keysOnly: options.keysOnly ?? false,
    });
    return {
      entries: reply.entries.map(toEntry),
      cursor: reply.cursor.length === 0 ? undefined : Buffer.from(reply.cursor),
    };
  }

  /** Every entry, in key order, paging with scan. */
  async *entries(options: { prefix?: Bytes; pageSize?: number } = {}): AsyncIterable<Entry> {
    let after: Buffer | undefined;
    do {
      const page = await this.scan({
        prefix: options.prefix,
        after,
        limit: options.pageSize ?? clientEntriesPageRecordsDefault,
      });
      yield* page.entries;
      after = page.cursor;
    } while (after !== undefined);
  }

  async ping(message?: Bytes): Promise<Buffer> {
    return Buffer.from(
      (await this.send('ping', { message: message === undefined ? undefined : toBuffer(message) })).message,
    );
  }

  /** The cluster as the node describes it (a standalone node: cluster '' and no chains). */
  async topology(): Promise<ReplyOf<'topology'>> {
    return this.send('topology', {});
  }

  /** The replication state of the node that answers. */
  async nodeStatus(): Promise<ReplyOf<'nodestatus'>> {
    return this.send('nodestatus', {});
  }
}

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
        queueMicrotask(this.flush);
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

  private readonly flush = (): void => {
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

function toEntry(entry: ReplyOf<'scan'>['entries'][number]): Entry {
  return { key: Buffer.from(entry.key), value: Buffer.from(entry.value), version: entry.version, ttlMs: entry.ttlMs };
}
