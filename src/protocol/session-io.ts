// The socket plumbing every client session (native, RESP, memcached) shares. A session composes
// one SessionIo over its socket and keeps everything that depends on its protocol.
//
// SessionIo owns:
//  * the socket's setup: no Nagle delay, socket errors logged at debug level, and the 'close'
//    bookkeeping (closed set, the request deadline cleared, drain() released, then the
//    session's own onClose);
//  * writing replies out: write() sends a batch of reply buffers as one socket write (small
//    batches joined into one buffer, large ones corked into one writev without copying), and
//    scheduleFlush() runs the session's flush once per microtask burst, so the replies produced
//    in one burst (one chunk of requests, one sync, one batch of answers) leave together;
//  * the request deadline (slow loris): watchRequest() after each parsed chunk keeps a timer
//    armed while a request is started and incomplete (each completed request restarts it) and
//    destroys the socket when it fires; pauseReading() (backpressure: waiting on us is not a
//    slow client) stops the clock, resumeReading() restarts it;
//  * drain() and close(deadlineMs): stop reading for good and wait until the session says it
//    has answered everything it read (drained()); end the socket gently, destroying it if it
//    has not closed by the deadline;
//  * the node-wide limits (options.limits, ./client-budget.ts): the connection's share of the
//    client budget, measured where its bytes change (a write, a flush, a drain, a parsed chunk:
//    the session's pending bytes, the socket's unread output, the request being received);
//    overNodeBudget() tells the session to pause, and the budget resumes or cuts it; and the idle
//    deadline (nothing received or sent for idleTimeoutMs while nothing is in flight: closed).
//
// The session keeps: its 'data' and 'drain' listeners, its parser and whether it is inside a
// request (passed in, never read from here), its backlog and budget (when to pause and when
// resuming is allowed), reply order and what is ready to write (its flush, which gathers the
// buffers and calls write(); every session schedules it, once per microtask burst), when it
// is idle (it calls drained()), and anything to do before close() ends the socket (a last
// flush). Nothing here allocates per request or per reply (write() joins a small batch into
// one buffer once per burst).

import type { Socket } from 'node:net';
import { frameTimeoutMs, readReserveBytes, replyConcatBytesMax } from '../core/limits.js';
import type { Logger } from '../core/log.js';
import type { BudgetShare, ClientBudget } from './client-budget.js';

/** The node-wide limits every client session takes part in. */
export interface ClientLimits {
  readonly budget: ClientBudget;
  /** A connection with nothing in flight that receives and sends nothing for this long is closed; 0: never. */
  readonly idleTimeoutMs: number;
}

export interface SessionIoOptions {
  /** Logged (debug) with the error's message when the socket fails. */
  readonly socketErrorMessage: string;
  /** Logged (info) when a request misses its deadline and the connection is closed. */
  readonly requestTimeoutMessage: string;
  /** The session's flush: writes out what is ready. scheduleFlush() runs it once per microtask burst. */
  readonly flush?: () => void;
  /** Runs when the socket has closed, after SessionIo's own bookkeeping. */
  readonly onClose?: () => void;
  /** The node-wide budget and idle deadline; absent: neither (a session on its own, in tests). */
  readonly limits?: ClientLimits;
  /** Bytes the session holds outside its socket: replies not yet written, reads in flight at their reserve. */
  readonly pendingBytes?: () => number;
  /** True while requests are unanswered: the idle deadline waits. */
  readonly busy?: () => boolean;
  /** The node-wide budget has room again: the session reads on if its own limits allow. */
  readonly resume?: () => void;
}

export class SessionIo {
  private isClosed = false;
  private isStopping = false;
  private flushQueued = false;
  private deadline: NodeJS.Timeout | undefined;
  private draining: (() => void) | undefined;
  private readonly share: BudgetShare | undefined;
  /** Bytes received since the parser last held no partial request (about: a request being received). */
  private inputBytes = 0;
  private lastChunkBytes = 0;

  constructor(
    private readonly socket: Socket,
    private readonly log: Logger,
    private readonly options: SessionIoOptions,
  ) {
    socket.setNoDelay(true);
    socket.on('error', (error) => log.log('debug', options.socketErrorMessage, { error: error.message }));
    socket.on('close', () => this.onClose());
    const limits = options.limits;
    if (limits === undefined) return;
    this.share = limits.budget.join({
      measure: () => this.account(),
      resume: () => options.resume?.(),
      cut: (fields) => this.cut(fields),
    });
    // Registered before the session's own 'data' listener, so a chunk is counted before it is parsed.
    socket.on('data', (chunk: Buffer) => {
      this.inputBytes += chunk.length;
      this.lastChunkBytes = chunk.length;
    });
    socket.on('drain', () => this.account());
    if (limits.idleTimeoutMs > 0) socket.setTimeout(limits.idleTimeoutMs, this.onIdle);
  }

  /**
   * True while the node's client connections together are over their budget: the session pauses
   * reading, and is resumed (options.resume) once there is room. Measures this connection first.
   */
  overNodeBudget(): boolean {
    if (this.share === undefined) return false;
    this.account();
    return this.options.limits!.budget.exceeded(this.share);
  }

  /** The socket has closed: nothing more is written. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** drain() was called (the node is stopping): the socket must never be resumed again. */
  get stopping(): boolean {
    return this.isStopping;
  }

  /** What a read in flight counts for against the node-wide budget (ClientBudget.readReserveBytes). */
  get readReserveBytes(): number {
    return this.options.limits?.budget.readReserveBytes ?? readReserveBytes;
  }

  /** Writes `buffers` (`bytes` in all, at least one buffer) out as one socket write. */
  write(buffers: readonly Uint8Array[], bytes: number): void {
    const socket = this.socket;
    if (this.share !== undefined) {
      let largest = 0;
      for (const buffer of buffers) largest = Math.max(largest, buffer.length);
      this.options.limits!.budget.noteReply(largest);
    }
    if (buffers.length === 1) {
      socket.write(buffers[0]!);
    } else if (bytes <= replyConcatBytesMax) {
      socket.write(Buffer.concat(buffers, bytes)); // one small write beats many tiny ones
    } else {
      socket.cork(); // large replies go out as they are: one writev, no copy
      for (const buffer of buffers) socket.write(buffer);
      socket.uncork();
    }
    this.account();
  }

  /** Runs the session's flush at the end of this burst (once, however often it is asked for). */
  scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(this.runFlush);
  }

  private readonly runFlush = (): void => {
    this.flushQueued = false;
    this.options.flush!();
    this.account();
  };

  /**
   * After a chunk was parsed: `inRequest`, a request is started and not complete; `completed`,
   * the chunk completed at least one request. A client that starts a request must finish it
   * within frameTimeoutMs; each completed request restarts the clock.
   */
  watchRequest(inRequest: boolean, completed: boolean): void {
    if (completed || !inRequest) this.clearDeadline();
    if (inRequest) this.deadline ??= setTimeout(this.expire, frameTimeoutMs);
    if (!inRequest) this.inputBytes = 0;
    else if (completed) this.inputBytes = Math.min(this.inputBytes, this.lastChunkBytes);
    this.account();
  }

  /** Stops reading for backpressure; the client cannot send, so its request deadline stops too. */
  pauseReading(): void {
    this.socket.pause();
    this.clearDeadline();
  }

  /** Reads again; the request deadline restarts if a request is started (`inRequest`). */
  resumeReading(inRequest: boolean): void {
    this.socket.resume();
    this.watchRequest(inRequest, false);
  }

  /**
   * Stops reading for good. Resolves at once if `idle` (nothing read is unanswered) or the socket
   * has closed; otherwise once the session calls drained() or the socket closes.
   */
  drain(idle: boolean): Promise<void> {
    this.isStopping = true;
    this.socket.pause();
    if (this.isClosed || idle) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.draining;
      this.draining =
        previous === undefined
          ? resolve
          : () => {
              previous();
              resolve();
            };
    });
  }

  /** The session has answered everything it read: releases drain(), if it waits. */
  drained(): void {
    const done = this.draining;
    if (done === undefined) return;
    this.draining = undefined;
    done();
  }

  /** Ends the socket gently (queued writes go first); destroys it if it is not closed within deadlineMs. */
  close(deadlineMs: number): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.socket.destroy(), deadlineMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end();
    });
  }

  private readonly expire = (): void => {
    this.log.log('info', this.options.requestTimeoutMessage, { frameTimeoutMs });
    this.socket.destroy();
  };

  /** Reports this connection's bytes to the node-wide budget. */
  private account(): void {
    const share = this.share;
    if (share === undefined || this.isClosed) return;
    const unread = this.socket.writableLength;
    const held = (this.options.pendingBytes?.() ?? 0) + unread + this.inputBytes;
    this.options.limits!.budget.update(share, held, unread);
  }

  private cut(fields: Record<string, unknown>): void {
    this.log.log(
      'warn',
      'closing a client connection that does not read its replies: the node-wide client budget is exceeded',
      { remoteAddress: this.socket.remoteAddress ?? '', ...fields },
    );
    this.socket.destroy();
  }

  private readonly onIdle = (): void => {
    const idleTimeoutMs = this.options.limits!.idleTimeoutMs;
    if (this.options.busy?.() === true) {
      this.socket.setTimeout(idleTimeoutMs); // busy, not idle: look again later
      return;
    }
    this.log.log('info', 'closing an idle client connection', { idleTimeoutMs });
    this.socket.destroy();
  };

  private clearDeadline(): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  private onClose(): void {
    this.isClosed = true;
    this.clearDeadline();
    if (this.share !== undefined) this.options.limits!.budget.leave(this.share);
    this.options.onClose?.();
    this.drained();
  }
}
