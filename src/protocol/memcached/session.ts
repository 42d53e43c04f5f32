// One client connection speaking memcached's text protocol: the I/O shell around the pure parser
// and reply encoders (codec.ts). Each memcached request becomes native Catena commands sent
// through the node's router (standalone: this node's command table; in a cluster: the owning
// chain's head or tail), and each native reply becomes memcached's reply line. It owns:
//  * reply order: replies leave in request order, whatever order the commands finish in, and
//    the replies ready in one burst leave in one write (batched per microtask);
//  * program order in a cluster (router.inOrder false): a request is not sent before the earlier
//    requests of this connection it must follow have finished, by the rule of OrderGate
//    (../order-gate.ts): a read follows every earlier write of the connection, a write the
//    earlier write and reads of its keys, flush_all everything (and everything after it
//    follows it); stats, version and verbosity follow nothing. Each request sends all its
//    native commands before its first await, so with an in-order router the order they are
//    sent in is the program order;
//  * limits: requests not yet answered and reply bytes queued are bounded (past either, the
//    socket is paused: backpressure, not errors), each read in flight counting as
//    readReserveBytes of reply bytes until it answers; a started request must be complete
//    within frameTimeoutMs (slow loris). Parse errors are answered and the connection goes on;
//    only an over-long line (the parser's `fatal`) closes it, after its reply.
// The socket plumbing all client sessions share (batched reply writes, the request-deadline
// timer, drain and close) is SessionIo's (../session-io.ts).
//
// memcached semantics (1.6 as reference) and where Catena's mapping chooses:
//  * exptime: 0 never; negative: already expired (expires_at_ms 1); up to 30 days: relative
//    seconds (ttl_ms); larger: absolute unix seconds (expires_at_ms), and a time not after this
//    node's clock is sent as expires_at_ms 1, already expired, as memcached's realtime() does
//    (the head's clock may lag this node's; the item must not live a moment longer).
//  * gat/gats send one native `expire` with return_value per key, all at once; each is a write.
//    gats reports the version the expire gave the key, so a `cas` with it succeeds, as in
//    memcached. Unlike memcached, touch and gat give the key a new cas unique (Catena's expire
//    writes a new version), so a unique read before them no longer matches.
//  * flush_all with a delay > 0 is answered `CLIENT_ERROR flush_all with a delay is not
//    supported` (memcached supports it; a timer in one connection could not give its meaning,
//    which outlives the connection and covers items stored before the deadline). A delay <= 0
//    flushes at once, as memcached does.
//  * stats: no argument: the host's general stats. `stats items|slabs|sizes`: a bare END (the
//    answer memcached gives when no slab class is in use: Catena has no slabs, and monitoring
//    tools that poll these groups keep working). Any other group, `reset` included: ERROR, what
//    memcached answers for a group it does not know (a RESET that reset nothing would mislead).
//  * append/prepend ignore the request's flags and exptime, as memcached does.

import type { Socket } from 'node:net';
import { CatenaError } from '../../core/errors.js';
import {
  connectionOutputBytesMax,
  memcachedGatKeysMaxFor,
  memcachedGetKeysMax,
  mgetReplyBytesMax,
  multiKeysMax,
  pipelineDepthMax,
  memcachedRelativeExptimeSecondsMax,
  readReserveBytes,
} from '../../core/limits.js';
import type { Logger } from '../../core/log.js';
import type { CommandRouter } from '../command-router.js';
import { SetCondition } from '../native/gen/catena_pb.js';
import { OrderGate, type GateKeys } from '../order-gate.js';
import { SessionIo, type ClientLimits } from '../session-io.js';
import { warnOfCrossProtocol } from '../cross-protocol.js';
import { ConnectionAuth, openAcl, type Acl } from '../acl.js';
import { authenticateWithData, permissionRefusal, unauthenticated } from './auth.js';
import {
  encodeCatenaError,
  encodeClientError,
  encodeNumber,
  encodeRetrieval,
  encodeServerError,
  encodeStats,
  encodeVersion,
  MemcachedParser,
  replies,
  type MemcachedEvent,
  type MemcachedItem,
  type MemcachedRequest,
  type StorageCommand,
} from './codec.js';

export interface MemcachedHost {
  readonly router: CommandRouter;
  readonly log: Logger;
  /** Client authentication (./auth.ts); absent: none, every connection is the open default user. */
  readonly acl?: Acl;
  /** Largest data block of a storage command (memcached's -I); passed to the parser. */
  readonly itemBytesMax: number;
  /** Reported by `version`. */
  readonly version: string;
  /** name/value pairs for `stats` (general stats); the session adds nothing. */
  stats(): Promise<[string, string | number | bigint][]>;
  recordProtocolError(): void;
  /** wall clock in ms (Date.now in production) — for memcached's absolute exptimes */
  nowMs(): number;
  /** The node-wide client budget and idle deadline (../session-io.ts); absent: neither. */
  readonly clientLimits?: ClientLimits;
}

/** Stats groups memcached has that hold nothing in Catena: answered with a bare END. */
const emptyStatsGroups: ReadonlySet<string> = new Set(['items', 'slabs', 'sizes']);

const flushDelayUnsupported = encodeClientError('flush_all with a delay is not supported');
const internalError = encodeServerError('internal error');
const tooManyGetKeys = encodeClientError(`at most ${memcachedGetKeysMax} keys in one get`);

/** A get's reply, unless its values add up to more than mgetReplyBytesMax (then an error naming the limit). */
function retrievalWithin(items: readonly MemcachedItem[]): Buffer {
  let bytes = 0;
  for (const item of items) bytes += item.data.length;
  if (bytes > mgetReplyBytesMax) {
    return encodeServerError(`the values add up to more than ${mgetReplyBytesMax} bytes; get fewer keys at once`);
  }
  return encodeRetrieval(items);
}

/** A native expiry: at most one of the two is not 0 (both 0: never expires). */
export interface NativeExpiry {
  ttlMs: bigint;
  expiresAtMs: bigint;
}

/** memcached's exptime as a native expiry, at wall-clock time `nowMs`. */
export function nativeExpiry(exptime: number, nowMs: number): NativeExpiry {
  if (exptime === 0) return { ttlMs: 0n, expiresAtMs: 0n };
  if (exptime < 0) return { ttlMs: 0n, expiresAtMs: 1n };
  if (exptime <= memcachedRelativeExptimeSecondsMax) return { ttlMs: BigInt(exptime) * 1000n, expiresAtMs: 0n };
  const atMs = exptime * 1000;
  return { ttlMs: 0n, expiresAtMs: atMs <= nowMs ? 1n : BigInt(atMs) };
}

interface Slot {
  /** undefined while the request runs; null when it is answered with nothing (noreply, quit). */
  reply: Buffer | null | undefined;
  /** quit or a fatal error: close once this slot is reached. */
  closeAfter: boolean;
}

/** The keys (latin1) a request touches, or 'all' (flush_all), and whether it writes them. */
interface Footprint {
  readonly keys: GateKeys;
  readonly write: boolean;
}

export class MemcachedSession {
  private readonly parser: MemcachedParser;
  private readonly io: SessionIo;
  private readonly auth: ConnectionAuth;
  private readonly slots: Slot[] = [];
  /** Program order when the router does not keep it (a cluster). */
  private readonly gate = new OrderGate();
  /** Reads started and not yet answered (each holds readReserveBytes of the budget). */
  private readsInFlight = 0;
  /** Events parsed but not yet handled, because the connection was over its budget. */
  private backlog: MemcachedEvent[] = [];
  private backlogNext = 0;
  /** Reply bytes ready but not yet handed to the socket (waiting for an earlier reply, or a flush). */
  private queuedBytes = 0;
  /** No more requests are handled: quit, a fatal error, close(), or the socket closing. */
  private finished = false;

  constructor(
    private readonly socket: Socket,
    private readonly host: MemcachedHost,
  ) {
    this.parser = new MemcachedParser({ itemBytesMax: host.itemBytesMax });
    this.auth = new ConnectionAuth(host.acl ?? openAcl);
    this.io = new SessionIo(socket, host.log, {
      socketErrorMessage: 'memcached client socket error',
      requestTimeoutMessage: 'closing a memcached connection whose request did not complete in time',
      flush: this.flush,
      ...(host.clientLimits === undefined ? {} : { limits: host.clientLimits }),
      pendingBytes: () => this.queuedBytes + this.readsInFlight * this.io.readReserveBytes,
      busy: () => !this.idle(),
      resume: () => this.maybeResume(),
      onClose: () => {
        this.finished = true;
      },
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.maybeResume());
  }

  /** Stops reading; resolves once every request already read has been answered. */
  drain(): Promise<void> {
    return this.io.drain(this.idle());
  }

  /** Closes gently: replies ready are written first; destroyed if that takes past the deadline. */
  close(deadlineMs: number): Promise<void> {
    if (!this.io.closed) {
      this.finished = true;
      this.flush();
    }
    return this.io.close(deadlineMs);
  }

  private idle(): boolean {
    return this.slots.length === 0 && (this.finished || this.backlogNext >= this.backlog.length);
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    let events: MemcachedEvent[];
    try {
      events = this.parser.push(chunk);
    } catch (error) {
      // A broken parser invariant: this connection cannot go on, the node can.
      this.host.log.log('error', 'memcached parser failed; closing the connection', { error: String(error) });
      this.finished = true;
      this.socket.destroy();
      return;
    }
    this.io.watchRequest(this.parser.inRequest, events.length > 0);
    if (events.length === 0) return;
    this.backlog =
      this.backlogNext < this.backlog.length ? [...this.backlog.slice(this.backlogNext), ...events] : events;
    this.backlogNext = 0;
    this.processBacklog();
  }

  /**
   * Handles parsed events one at a time while the connection is within its budget (requests
   * not yet answered, reply bytes queued); past it, stops reading the socket and keeps the rest
   * (at most one chunk's events) until replies have drained.
   */
  private processBacklog(): void {
    while (this.backlogNext < this.backlog.length && !this.finished) {
      if (this.overBudget()) {
        this.io.pauseReading(); // the request deadline restarts when reading does
        return;
      }
      const event = this.backlog[this.backlogNext++]!;
      try {
        this.dispatch(event);
      } catch (error) {
        this.host.log.log('error', 'memcached request failed unexpectedly', { error: String(error) });
        this.enqueue(internalError, false);
      }
    }
    this.backlog = [];
    this.backlogNext = 0;
  }

  private overBudget(): boolean {
    const held = this.queuedBytes + this.socket.writableLength + this.readsInFlight * readReserveBytes;
    return this.slots.length >= pipelineDepthMax || held > connectionOutputBytesMax || this.io.overNodeBudget();
  }

  private dispatch(event: MemcachedEvent): void {
    const request = event.kind === 'request' ? event.request : undefined;
    if (this.auth.user === undefined && event.kind !== 'fatal' && request?.command !== 'quit') {
      // memcached -Y: before authentication only an authenticating set is served (./auth.ts).
      this.enqueue(request?.command === 'set' ? authenticateWithData(this.auth, request.data) : unauthenticated, false);
      return;
    }
    switch (event.kind) {
      case 'fatal':
        this.host.recordProtocolError();
        this.finished = true;
        if (event.code === 'cross-protocol') {
          warnOfCrossProtocol(this.host.log, 'memcached', 'http-request-line', this.socket.remoteAddress);
        }
        this.enqueue(event.reply, true);
        return;
      case 'error': {
        this.host.recordProtocolError();
        const reply = event.reply;
        const key = event.invalidateKey;
        if (key === undefined || this.auth.check('write') !== 'ok') {
          this.enqueue(event.noreply ? null : reply, false);
          return;
        }
        // A too-large set: memcached drops the key's old value so it is never read after the failed set.
        this.start({ keys: [latin1(key)], write: true }, event.noreply, false, () =>
          this.host.router.send('del', { key }).then(
            () => reply,
            (error: unknown) => {
              this.host.log.log('info', 'memcached: could not drop the value of a too-large set', {
                error: String(error),
              });
              return reply;
            },
          ),
        );
        return;
      }
      case 'request': {
        const request = event.request;
        if (request.command === 'quit') {
          this.finished = true;
          this.enqueue(null, true);
          return;
        }
        const noreply = 'noreply' in request && request.noreply;
        const refused = permissionRefusal(this.auth, request);
        if (refused !== undefined) {
          this.enqueue(noreply ? null : refused, false);
          return;
        }
        this.start(footprintOf(request), noreply, returnsValues(request), () => this.run(request));
        return;
      }
    }
  }

  /** A reply known now: nothing runs. */
  private enqueue(reply: Buffer | null, closeAfter: boolean): void {
    this.slots.push({ reply, closeAfter });
    if (reply !== null) this.queuedBytes += reply.length;
    this.io.scheduleFlush();
  }

  /**
   * Runs `task` in the request's slot, once the earlier requests it must follow have finished.
   * `read`: it returns values (its reply may be large), so it holds readReserveBytes until done.
   */
  private start(footprint: Footprint | undefined, silent: boolean, read: boolean, task: () => Promise<Buffer>): void {
    const slot: Slot = { reply: undefined, closeAfter: false };
    this.slots.push(slot);
    if (read) this.readsInFlight += 1;
    let ready: Promise<unknown> | undefined;
    let release: (() => void) | undefined;
    if (!this.host.router.inOrder && footprint !== undefined) {
      ({ ready, release } = this.gate.enter(footprint.keys, footprint.write));
    }
    const complete = (reply: Buffer): void => {
      if (slot.reply !== undefined) return; // answered once
      release?.();
      if (read) this.readsInFlight -= 1;
      slot.reply = silent ? null : reply;
      if (slot.reply !== null) this.queuedBytes += slot.reply.length;
      this.io.scheduleFlush();
    };
    const go = (): void => {
      let promise: Promise<Buffer>;
      try {
        promise = task();
      } catch (error) {
        promise = Promise.reject(error);
      }
      promise
        .then(complete, (error: unknown) => complete(this.errorReply(error)))
        .catch((error: unknown) => {
          this.host.log.log('error', 'memcached session failed; closing the connection', { error: String(error) });
          this.socket.destroy();
        });
    };
    if (ready === undefined) go();
    else void ready.then(go);
  }

  private errorReply(error: unknown): Buffer {
    if (error instanceof CatenaError) return encodeCatenaError(error.code);
    this.host.log.log('error', 'memcached request failed unexpectedly', { error: String(error) });
    return internalError;
  }

  /** One request's native commands, all sent before the first await (program order), and its reply. */
  private async run(request: Exclude<MemcachedRequest, { command: 'quit' }>): Promise<Buffer> {
    const { router } = this.host;
    switch (request.command) {
      case 'get':
      case 'gets': {
        if (request.keys.length > memcachedGetKeysMax) return tooManyGetKeys;
        const chunks: Buffer[][] = [];
        for (let i = 0; i < request.keys.length; i += multiKeysMax)
          chunks.push(request.keys.slice(i, i + multiKeysMax));
        const answers = await Promise.all(chunks.map((keys) => router.send('mget', { keys })));
        const items: MemcachedItem[] = [];
        answers.forEach((answer, c) => {
          const keys = chunks[c]!;
          keys.forEach((key, i) => {
            const item = answer.items[i];
            if (item?.found !== true) return;
            items.push({
              key,
              flags: item.flags,
              data: item.value,
              cas: request.command === 'gets' ? item.version : undefined,
            });
          });
        });
        return retrievalWithin(items);
      }
      case 'gat':
      case 'gats': {
        const gatKeysMax = memcachedGatKeysMaxFor(this.host.itemBytesMax);
        if (request.keys.length > gatKeysMax) {
          return encodeClientError(
            `at most ${gatKeysMax} keys in one ${request.command} (each returns its value; together at most ${mgetReplyBytesMax} bytes)`,
          );
        }
        const expiry = this.expiry(request.exptime);
        const answers = await Promise.all(
          request.keys.map((key) => router.send('expire', { key, ...expiry, returnValue: true })),
        );
        const items: MemcachedItem[] = [];
        answers.forEach((answer, i) => {
          if (!answer.found) return;
          items.push({
            key: request.keys[i]!,
            flags: answer.flags,
            data: answer.value,
            cas: request.command === 'gats' ? answer.version : undefined,
          });
        });
        return encodeRetrieval(items);
      }
      case 'set':
      case 'add':
      case 'replace': {
        const reply = await router.send('set', {
          key: request.key,
          value: request.data,
          condition: storageConditions[request.command],
          flags: request.flags,
          ...this.expiry(request.exptime),
        });
        return reply.stored ? replies.stored : replies.notStored;
      }
      case 'cas': {
        const reply = await router.send('set', {
          key: request.key,
          value: request.data,
          condition: SetCondition.SET_IF_VERSION,
          expectedVersion: request.casUnique,
          flags: request.flags,
          ...this.expiry(request.exptime),
        });
        if (reply.stored) return replies.stored;
        return reply.version === 0n ? replies.notFound : replies.exists;
      }
      case 'append':
      case 'prepend': {
        // memcached answers NOT_STORED when the item would outgrow the item size limit.
        const reply = await router
          .send('append', {
            key: request.key,
            value: request.data,
            prepend: request.command === 'prepend',
            mustExist: true,
          })
          .catch((error: unknown) => {
            if (error instanceof CatenaError && error.code === 'ERR_VALUE_TOO_LARGE') return { stored: false };
            throw error;
          });
        return reply.stored ? replies.stored : replies.notStored;
      }
      case 'delete': {
        const reply = await router.send('del', { key: request.key });
        return reply.deleted ? replies.deleted : replies.notFound;
      }
      case 'incr':
      case 'decr': {
        const reply = await router.send('incr', {
          key: request.key,
          delta: BigInt.asIntN(64, request.delta),
          memcached: true,
          decrement: request.command === 'decr',
        });
        return reply.found ? encodeNumber(BigInt.asUintN(64, reply.value)) : replies.notFound;
      }
      case 'touch': {
        const reply = await router.send('expire', { key: request.key, ...this.expiry(request.exptime) });
        return reply.found ? replies.touched : replies.notFound;
      }
      case 'flush_all':
        if (request.exptime > 0) return flushDelayUnsupported;
        await router.send('flush', {});
        return replies.ok;
      case 'stats':
        if (request.args.length === 0) return encodeStats(await this.host.stats());
        return emptyStatsGroups.has(request.args[0]!) ? replies.end : replies.error;
      case 'version':
        return encodeVersion(this.host.version);
      case 'verbosity':
        return replies.ok;
    }
  }

  private expiry(exptime: number): NativeExpiry {
    return nativeExpiry(exptime, this.host.nowMs());
  }

  /**
   * Writes out every reply at the front of the queue that is ready. Scheduled (io.scheduleFlush)
   * so that the replies ready in one burst (one chunk of requests, or one batch of answers) leave
   * in one write.
   */
  private readonly flush = (): void => {
    if (this.io.closed) return;
    const out: Buffer[] = [];
    let bytes = 0;
    let taken = 0;
    let closeAfter = false;
    while (taken < this.slots.length && this.slots[taken]!.reply !== undefined) {
      const slot = this.slots[taken++]!;
      if (slot.reply !== null && slot.reply !== undefined) {
        out.push(slot.reply);
        bytes += slot.reply.length;
      }
      if (slot.closeAfter) {
        closeAfter = true;
        break;
      }
    }
    if (taken === 0) return;
    this.slots.splice(0, taken);
    this.queuedBytes -= bytes;
    // Once the socket is ended (close(), quit, a fatal error), late replies are dropped, not written after the end.
    if (out.length > 0 && !this.socket.writableEnded) this.io.write(out, bytes);
    if (closeAfter) {
      this.finished = true;
      this.slots.length = 0;
      this.socket.end();
    }
    if (this.idle()) this.io.drained();
    this.maybeResume();
  };

  private maybeResume(): void {
    if (this.io.closed || this.finished) return;
    // Requests already read are handled even while the node stops (drain waits for them).
    this.processBacklog();
    if (this.io.stopping || this.backlogNext < this.backlog.length || this.overBudget()) return;
    this.io.resumeReading(this.parser.inRequest);
  }
}

const storageConditions: Record<Exclude<StorageCommand, 'append' | 'prepend'>, SetCondition> = {
  set: SetCondition.SET_ALWAYS,
  add: SetCondition.SET_IF_ABSENT,
  replace: SetCondition.SET_IF_PRESENT,
};

const latin1 = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');

/** Whether a request's reply carries values: get, gets, gat, gats (one read however many keys). */
function returnsValues(request: Exclude<MemcachedRequest, { command: 'quit' }>): boolean {
  const { command } = request;
  return command === 'get' || command === 'gets' || command === 'gat' || command === 'gats';
}

/** What a request touches, for program order in a cluster; undefined: it follows nothing. */
function footprintOf(request: Exclude<MemcachedRequest, { command: 'quit' }>): Footprint | undefined {
  switch (request.command) {
    case 'get':
    case 'gets':
      return { keys: request.keys.map(latin1), write: false };
    case 'gat':
    case 'gats':
      return request.keys.length === 0 ? undefined : { keys: request.keys.map(latin1), write: true };
    case 'set':
    case 'add':
    case 'replace':
    case 'append':
    case 'prepend':
    case 'cas':
    case 'delete':
    case 'incr':
    case 'decr':
    case 'touch':
      return { keys: [latin1(request.key)], write: true };
    case 'flush_all':
      return request.exptime > 0 ? undefined : { keys: 'all', write: true };
    case 'stats':
    case 'version':
    case 'verbosity':
      return undefined;
  }
}
