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
//    has not closed by the deadline.
//
// The session keeps: its 'data' and 'drain' listeners, its parser and whether it is inside a
// request (passed in, never read from here), its backlog and budget (when to pause and when
// resuming is allowed), reply order and what is ready to write (its flush, which gathers the
// buffers and calls write(); every session schedules it, once per microtask burst), when it
// is idle (it calls drained()), and anything to do before close() ends the socket (a last
// flush). Nothing here allocates per request or per reply (write() joins a small batch into
// one buffer once per burst).

import type { Socket } from 'node:net';
import { frameTimeoutMs, replyConcatBytesMax } from '../core/limits.js';
import type { Logger } from '../core/log.js';

export interface SessionIoOptions {
  /** Logged (debug) with the error's message when the socket fails. */
  readonly socketErrorMessage: string;
  /** Logged (info) when a request misses its deadline and the connection is closed. */
  readonly requestTimeoutMessage: string;
  /** The session's flush: writes out what is ready. scheduleFlush() runs it once per microtask burst. */
  readonly flush?: () => void;
  /** Runs when the socket has closed, after SessionIo's own bookkeeping. */
  readonly onClose?: () => void;
}

export class SessionIo {
  private isClosed = false;
  private isStopping = false;
  private flushQueued = false;
  private deadline: NodeJS.Timeout | undefined;
  private draining: (() => void) | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly log: Logger,
    private readonly options: SessionIoOptions,
  ) {
    socket.setNoDelay(true);
    socket.on('error', (error) => log.log('debug', options.socketErrorMessage, { error: error.message }));
    socket.on('close', () => this.onClose());
  }

  /** The socket has closed: nothing more is written. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** drain() was called (the node is stopping): the socket must never be resumed again. */
  get stopping(): boolean {
    return this.isStopping;
  }

  /** Writes `buffers` (`bytes` in all, at least one buffer) out as one socket write. */
  write(buffers: readonly Uint8Array[], bytes: number): void {
    const socket = this.socket;
    if (buffers.length === 1) {
      socket.write(buffers[0]!);
    } else if (bytes <= replyConcatBytesMax) {
      socket.write(Buffer.concat(buffers, bytes)); // one small write beats many tiny ones
    } else {
      socket.cork(); // large replies go out as they are: one writev, no copy
      for (const buffer of buffers) socket.write(buffer);
      socket.uncork();
    }
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
  };

  /**
   * After a chunk was parsed: `inRequest`, a request is started and not complete; `completed`,
   * the chunk completed at least one request. A client that starts a request must finish it
   * within frameTimeoutMs; each completed request restarts the clock.
   */
  watchRequest(inRequest: boolean, completed: boolean): void {
    if (completed || !inRequest) this.clearDeadline();
    if (inRequest) this.deadline ??= setTimeout(this.expire, frameTimeoutMs);
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

  private clearDeadline(): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  private onClose(): void {
    this.isClosed = true;
    this.clearDeadline();
    this.options.onClose?.();
    this.drained();
  }
}
