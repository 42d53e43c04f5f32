// One client connection speaking the native protocol: the I/O shell around the pure frame and
// message codecs. It owns the limits that protect the node from one client: frame size (checked
// before buffering), requests in flight and queued reply bytes (past either it stops reading the
// socket: backpressure, not errors), a deadline for finishing a started frame (slow loris), and
// an idle deadline. Bad input gets an error reply and the connection goes on (an oversized
// frame is skipped, not buffered); only a client that misses a deadline is disconnected. The
// socket plumbing all client sessions share (batched reply writes, the request-deadline timer,
// drain and close) is SessionIo's (../session-io.ts).

import type { Socket } from 'node:net';
import { errorResult, type Execution } from '../../commands/execute.js';
import type { CommandContext, CommandName } from '../../commands/index.js';
import { connectionOutputBytesMax, frameBytesMax, idleTimeoutMs, pipelineDepthMax } from '../../core/limits.js';
import type { Logger } from '../../core/log.js';
import { SessionIo, type ClientLimits } from '../session-io.js';
import { accessOfCommand, ConnectionAuth, openAcl, type Acl } from '../acl.js';
import { decodeRequest, encodeResponseFrame, peekRequestId, type Request, type ResponseResult } from './codec.js';
import { FrameDecoder, type FrameEvent } from './frame.js';

export interface SessionHost {
  readonly context: CommandContext;
  /** Runs one decoded request (standalone: the command table; in a cluster: through the chain). */
  execute(request: Request): Execution;
  readonly log: Logger;
  /** Client authentication (../acl.ts); absent: none, every connection is the open default user. */
  readonly acl?: Acl;
  recordCommand(name: CommandName, latencyUs: number, failed: boolean): void;
  recordProtocolError(): void;
  /** A storage failure: the node must stop. */
  fatal(error: unknown): void;
  /** The node-wide client budget and idle deadline (../session-io.ts); absent: no budget, idleTimeoutMs. */
  readonly clientLimits?: ClientLimits;
}

interface PendingReply {
  frame: Uint8Array;
  command: CommandName | undefined;
  failed: boolean;
  receivedAt: number;
}

/** Replies waiting for one sync of the store (group fsync): one promise reaction per group. */
interface SyncGroup {
  sync: Promise<void>;
  replies: PendingReply[];
}

export class NativeSession {
  private readonly decoder: FrameDecoder;
  private readonly io: SessionIo;
  private readonly auth: ConnectionAuth;
  private inFlight = 0;
  private output: Uint8Array[] = [];
  private waiting: SyncGroup | undefined;
  /** Reply bytes encoded but not yet handed to the socket (waiting for a sync, or a flush). */
  private queuedBytes = 0;
  /** Frames received but not yet handled, because the connection was over its budget. */
  private backlog: FrameEvent[] = [];
  private backlogNext = 0;
  private backlogReceivedAt = 0;

  constructor(
    private readonly socket: Socket,
    private readonly host: SessionHost,
  ) {
    this.decoder = new FrameDecoder(frameBytesMax(host.context.valueBytesMax));
    this.auth = new ConnectionAuth(host.acl ?? openAcl);
    this.io = new SessionIo(socket, host.log, {
      socketErrorMessage: 'client socket error',
      requestTimeoutMessage: 'closing a connection whose frame did not complete in time',
      flush: this.flush,
      ...(host.clientLimits === undefined ? {} : { limits: host.clientLimits }),
      pendingBytes: () => this.queuedBytes,
      busy: () => this.inFlight > 0,
      resume: () => this.maybeResume(),
    });
    if (host.clientLimits === undefined) {
      socket.setTimeout(idleTimeoutMs, () => {
        if (this.inFlight === 0) socket.destroy();
        else socket.setTimeout(idleTimeoutMs); // busy, not idle: look again later
      });
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.maybeResume());
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  /** Stops reading new requests; resolves once every request already read has been answered. */
  drain(): Promise<void> {
    return this.io.drain(this.inFlight === 0);
  }

  /** Closes gently: queued replies are written out first; destroyed if that takes past the deadline. */
  close(deadlineMs: number): Promise<void> {
    if (!this.io.closed) this.flush();
    return this.io.close(deadlineMs);
  }

  private onData(chunk: Buffer): void {
    const events = this.decoder.push(chunk);
    this.io.watchRequest(this.decoder.inFrame, events.length > 0);
    if (events.length === 0) return;
    this.backlog =
      this.backlogNext < this.backlog.length ? [...this.backlog.slice(this.backlogNext), ...events] : events;
    this.backlogNext = 0;
    this.backlogReceivedAt = performance.now();
    this.processBacklog();
  }

  /**
   * Handles received frames one at a time while the connection is within its budget (requests
   * in flight, reply bytes queued); past it, stops reading the socket and keeps the rest (at most
   * one chunk's frames) until replies have drained.
   */
  private processBacklog(): void {
    while (this.backlogNext < this.backlog.length) {
      if (this.overBudget()) {
        this.io.pauseReading(); // the request deadline restarts when reading does
        return;
      }
      const event = this.backlog[this.backlogNext++]!;
      if (event.kind === 'frame') {
        this.handleFrame(event.body, this.backlogReceivedAt);
        continue;
      }
      this.host.recordProtocolError();
      const limit = frameBytesMax(this.host.context.valueBytesMax);
      this.reply(
        peekRequestId(event.head),
        errorResult('ERR_FRAME_TOO_LARGE', `frame of ${event.declaredBytes} bytes is over the ${limit}-byte limit`),
      );
    }
    this.backlog = [];
    this.backlogNext = 0;
  }

  private overBudget(): boolean {
    return (
      this.inFlight >= pipelineDepthMax ||
      this.queuedBytes + this.socket.writableLength > connectionOutputBytesMax ||
      this.io.overNodeBudget()
    );
  }

  private handleFrame(body: Uint8Array, receivedAt: number): void {
    const decoded = decodeRequest(body);
    if (!decoded.ok) {
      this.host.recordProtocolError();
      this.reply(
        peekRequestId(body),
        errorResult('ERR_MALFORMED_FRAME', `frame could not be decoded: ${decoded.reason}`),
      );
      return;
    }
    const request = decoded.message;
    const answer = this.authAnswer(request);
    if (answer !== undefined) {
      this.reply(request.id, answer);
      return;
    }
    let execution: Execution;
    try {
      execution = this.host.execute(request);
    } catch (error) {
      this.host.fatal(error);
      return;
    }
    if (execution.kind === 'later') {
      this.inFlight += 1;
      const command = execution.command;
      void execution.result.then((result) => {
        this.inFlight -= 1;
        const frame = encodeResponseFrame(request.id, result);
        this.queuedBytes += frame.length;
        this.send({ frame, command, failed: result.case === 'error', receivedAt });
        this.maybeResume();
      });
      return;
    }
    // Encoded at once: a reply may hold views of storage buffers that later requests reuse.
    const reply: PendingReply = {
      frame: encodeResponseFrame(request.id, execution.result),
      command: execution.command,
      failed: execution.result.case === 'error',
      receivedAt,
    };
    this.queuedBytes += reply.frame.length;
    if (execution.kind === 'now') {
      this.send(reply);
      return;
    }
    this.inFlight += 1;
    if (this.waiting?.sync !== execution.sync) {
      const group: SyncGroup = { sync: execution.sync, replies: [] };
      this.waiting = group;
      execution.sync.then(
        () => this.release(group),
        (error: unknown) => this.host.fatal(error),
      );
    }
    this.waiting.replies.push(reply);
  }

  /**
   * Client authentication (../acl.ts): the answer to an auth request, or the refusal of a command
   * this connection may not run (not authenticated yet, or outside its user's categories);
   * undefined when the request runs.
   */
  private authAnswer(request: Request): ResponseResult | undefined {
    if (request.auth !== undefined) {
      const user = request.auth.user === '' ? 'default' : request.auth.user;
      if (!this.auth.login(user, request.auth.password)) return errorResult('ERR_WRONGPASS');
      return { case: 'auth', value: { $typeName: 'catena.v1.AuthReply', user } };
    }
    const name = request.command.case;
    if (name === undefined) return undefined; // answered ERR_UNKNOWN_COMMAND
    switch (this.auth.check(accessOfCommand(name))) {
      case 'ok':
        return undefined;
      case 'noauth':
        return errorResult('ERR_NOAUTH');
      case 'noperm':
        return errorResult('ERR_NOPERM', `this user has no permissions to run the '${name}' command`);
    }
  }

  /** A sync completed: every reply that waited for it leaves, in arrival order. */
  private release(group: SyncGroup): void {
    if (this.waiting === group) this.waiting = undefined;
    this.inFlight -= group.replies.length;
    for (const reply of group.replies) this.send(reply);
    this.maybeResume();
  }

  private send(reply: PendingReply): void {
    if (reply.command === undefined) this.host.recordProtocolError();
    else this.host.recordCommand(reply.command, (performance.now() - reply.receivedAt) * 1000, reply.failed);
    this.push(reply.frame);
  }

  private reply(id: number, result: ResponseResult): void {
    const frame = encodeResponseFrame(id, result);
    this.queuedBytes += frame.length;
    this.push(frame);
  }

  private push(frame: Uint8Array): void {
    if (this.io.closed) return;
    this.output.push(frame);
    // Replies produced in one burst (one chunk of requests, or one sync) leave in one write.
    this.io.scheduleFlush();
  }

  private readonly flush = (): void => {
    if (this.output.length === 0 || this.io.closed) return;
    const frames = this.output;
    this.output = [];
    let bytes = 0;
    for (const frame of frames) bytes += frame.length;
    this.queuedBytes -= bytes;
    this.io.write(frames, bytes);
    if (this.inFlight === 0) this.io.drained();
  };

  private maybeResume(): void {
    if (this.io.stopping || this.io.closed) return;
    this.processBacklog();
    if (this.backlogNext >= this.backlog.length && !this.overBudget()) this.io.resumeReading(this.decoder.inFrame);
  }
}
