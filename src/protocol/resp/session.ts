// One client connection speaking RESP: the I/O shell around the pure parser (codec.ts) and the
// command mapping (commands.ts). It owns:
//  * reply order: replies leave in request order, whatever order the commands finish in;
//  * program order in a cluster: a command is not sent while an earlier command of this
//    connection that conflicts with it is in flight (one of them writes and they share a key,
//    or one of them spans every key), so a pipelined SET k / GET k reads its own write;
//  * limits: commands in flight and reply bytes queued are bounded (past either, the socket is
//    paused: backpressure, not errors); a started request must complete within frameTimeoutMs
//    (slow loris); a protocol error is answered with Redis's `-ERR Protocol error: ...` and the
//    connection is closed, since the stream cannot be resynchronised; so is an HTTP request (a
//    web page's cross-protocol request, ../cross-protocol.ts), silently. The node-wide client
//    budget and idle deadline come through SessionIo (host.clientLimits).
// The socket plumbing all client sessions share (reply writes, the request-deadline timer, drain
// and close) is SessionIo's (../session-io.ts).

import type { Socket } from 'node:net';
import { AssertionError } from '../../core/assert.js';
import { CatenaError } from '../../core/errors.js';
import { connectionOutputBytesMax, pipelineDepthMax, readReserveBytes } from '../../core/limits.js';
import type { Logger } from '../../core/log.js';
import type { CommandRouter } from '../command-router.js';
import { OrderGate } from '../order-gate.js';
import { SessionIo, type ClientLimits } from '../session-io.js';
import { respCrossProtocol, warnOfCrossProtocol } from '../cross-protocol.js';
import { encodeReply, RespRequestParser, type RespRequestEvent, type RespRequestLimits } from './codec.js';
import {
  arityAllows,
  commandKeys,
  errorFor,
  respAccess,
  respCommands,
  respNoAuthCommands,
  unknownCommand,
  wrongArity,
  type RespCommand,
  type RespConnectionState,
  type RespContext,
  type RespServerFacts,
} from './commands.js';
import { errorReply, type RespReply } from './reply.js';
import { ConnectionAuth, openAcl, type Acl } from '../acl.js';

export interface RespHost {
  readonly router: CommandRouter;
  readonly server: RespServerFacts;
  readonly log: Logger;
  /** Client authentication (../acl.ts); absent: none, every connection is the open default user. */
  readonly acl?: Acl;
  nextClientId(): number;
  /** A command was answered (for INFO's counters). */
  recordCommand(failed: boolean): void;
  recordProtocolError(): void;
  /** The node-wide client budget and idle deadline (../session-io.ts); absent: neither. */
  readonly clientLimits?: ClientLimits;
  /** The parser's limits (the node derives them from its value limit); absent: the parser's defaults. */
  readonly requestLimits?: Partial<RespRequestLimits>;
}

interface Slot {
  reply: Buffer | undefined;
  /** QUIT: close once this reply is out. */
  closeAfter: boolean;
}

export class RespSession {
  private readonly parser: RespRequestParser;
  private readonly io: SessionIo;
  private readonly state: RespConnectionState;
  private readonly context: RespContext;
  private readonly slots: Slot[] = [];
  private readonly gate = new OrderGate();
  /** Reads dispatched and not yet answered (each holds readReserveBytes of the budget). */
  private readsInFlight = 0;
  /** A multi-step command on a one-node router: nothing after it starts until it is done. */
  private blocked = false;
  /** processBacklog is on the stack: completions must not re-enter it. */
  private processing = false;
  private backlog: RespRequestEvent[] = [];
  private backlogNext = 0;
  private queuedBytes = 0;
  private inFlight = 0;
  /** No more commands are read: QUIT, a protocol error, or the socket closing. */
  private finished = false;

  constructor(
    private readonly socket: Socket,
    private readonly host: RespHost,
  ) {
    this.state = {
      id: host.nextClientId(),
      protocol: 2,
      name: undefined,
      closing: false,
      auth: new ConnectionAuth(host.acl ?? openAcl),
    };
    this.context = {
      send: (name, request) => host.router.send(name, request),
      connection: this.state,
      server: host.server,
    };
    // Replies ready in one burst (a pipeline's synchronous reads, the writes one commit answers)
    // go out in one socket write: flush() is scheduled once per microtask burst.
    this.parser = new RespRequestParser(host.requestLimits);
    this.io = new SessionIo(socket, host.log, {
      flush: () => this.flush(),
      ...(host.clientLimits === undefined ? {} : { limits: host.clientLimits }),
      pendingBytes: () => this.queuedBytes + this.readsInFlight * this.io.readReserveBytes,
      busy: () => this.slots.length > 0,
      resume: () => this.maybeResume(),
      socketErrorMessage: 'RESP client socket error',
      requestTimeoutMessage: 'closing a RESP connection whose request did not complete in time',
      onClose: () => {
        this.finished = true;
      },
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.maybeResume());
  }

  /** Stops reading; resolves once every command already read has been answered. */
  drain(): Promise<void> {
    return this.io.drain(this.slots.length === 0);
  }

  /** Closes gently (every ready reply is already written); destroyed if that takes past the deadline. */
  close(deadlineMs: number): Promise<void> {
    if (!this.io.closed) this.flush(); // a reply completed in this burst may still wait for its scheduled flush
    return this.io.close(deadlineMs);
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    const events = this.parser.push(chunk);
    this.io.watchRequest(this.parser.inRequest, events.length > 0);
    if (events.length === 0) return;
    this.backlog =
      this.backlogNext < this.backlog.length ? [...this.backlog.slice(this.backlogNext), ...events] : events;
    this.backlogNext = 0;
    this.processBacklog();
  }

  private processBacklog(): void {
    if (this.processing) return; // the loop on the stack goes on by itself
    this.processing = true;
    try {
      this.processEvents();
    } finally {
      this.processing = false;
    }
  }

  private processEvents(): void {
    while (this.backlogNext < this.backlog.length && !this.finished) {
      if (this.blocked) {
        this.socket.pause(); // resumed when the blocking command is done
        return;
      }
      if (this.overBudget()) {
        this.io.pauseReading(); // the request deadline restarts when reading does
        return;
      }
      const event = this.backlog[this.backlogNext++]!;
      if (event.kind === 'command') {
        const crossProtocol = respCrossProtocol(event.argv);
        if (crossProtocol !== undefined) {
          // An HTTP request (a web page's cross-protocol scripting): nothing after it runs.
          this.host.recordProtocolError();
          this.finished = true;
          warnOfCrossProtocol(this.host.log, 'RESP', crossProtocol, this.socket.remoteAddress);
          this.socket.destroy();
          return;
        }
        this.dispatch(event.argv);
      } else {
        this.host.recordProtocolError();
        this.finished = true;
        this.enqueue(errorReply('ERR', event.message), true);
      }
    }
    this.backlog = [];
    this.backlogNext = 0;
  }

  private overBudget(): boolean {
    const held = this.queuedBytes + this.socket.writableLength + this.readsInFlight * readReserveBytes;
    return this.inFlight >= pipelineDepthMax || held > connectionOutputBytesMax || this.io.overNodeBudget();
  }

  /** A reply known now (no command runs). */
  private enqueue(reply: RespReply, closeAfter = false): void {
    const slot: Slot = { reply: encodeReply(reply, this.state.protocol), closeAfter };
    this.queuedBytes += slot.reply!.length;
    this.slots.push(slot);
    this.io.scheduleFlush();
  }

  private dispatch(argv: Buffer[]): void {
    const name = argv[0]!.toString('latin1').toLowerCase();
    const spec = respCommands.get(name);
    if (spec === undefined) {
      this.host.recordCommand(true);
      this.enqueue(unknownCommand(argv));
      return;
    }
    if (!arityAllows(spec, argv.length)) {
      this.host.recordCommand(true);
      this.enqueue(wrongArity(spec.name));
      return;
    }
    const refused = this.authRefusal(spec);
    if (refused !== undefined) {
      this.host.recordCommand(true);
      this.enqueue(refused);
      return;
    }
    const slot: Slot = { reply: undefined, closeAfter: false };
    this.slots.push(slot);
    this.inFlight += 1;
    const reads = !spec.write && spec.keys[0] !== 0;
    if (reads) this.readsInFlight += 1;
    const protocol = this.state.protocol;
    let ready: Promise<unknown> | undefined;
    let release: (() => void) | undefined;
    if (!this.host.router.inOrder) {
      if (spec.write || spec.allKeys === true || spec.keys[0] !== 0) {
        const keys = spec.allKeys === true ? 'all' : commandKeys(spec, argv).map((key) => key.toString('latin1'));
        ({ ready, release } = this.gate.enter(keys, spec.write));
      }
    } else if (spec.multiStep?.(argv) === true) {
      // One node runs commands in the order they are sent, but this one sends several requests
      // over time: hold back everything after it until it is done.
      this.blocked = true;
    }
    const blocking = this.blocked;
    const complete = (reply: RespReply, failed: boolean): void => {
      if (slot.reply !== undefined) return; // answered once
      // HELLO answers in the protocol it switches to; every other reply in the one it was sent in.
      const encoded = encodeReply(reply, spec.name === 'hello' ? this.state.protocol : protocol);
      slot.reply = encoded;
      slot.closeAfter = spec.name === 'quit';
      if (slot.closeAfter) this.finished = true; // nothing after QUIT runs
      this.queuedBytes += encoded.length;
      this.inFlight -= 1;
      if (reads) this.readsInFlight -= 1;
      if (blocking) this.blocked = false;
      this.host.recordCommand(failed);
      release?.();
      this.io.scheduleFlush();
      this.maybeResume();
    };
    const fail = (error: unknown): void => {
      if (error instanceof AssertionError) throw error;
      if (error instanceof CatenaError) {
        complete(errorFor(error), true);
        return;
      }
      this.host.log.log('error', 'RESP command failed unexpectedly', { command: spec.name, error: String(error) });
      complete(errorReply('ERR', 'internal error'), true);
    };
    const run = (): void => {
      let result: RespReply | Promise<RespReply>;
      try {
        result = spec.run(this.context, argv);
      } catch (error) {
        fail(error);
        return;
      }
      if (result instanceof Promise) result.then((reply) => complete(reply, reply.kind === 'error'), fail);
      else complete(result, result.kind === 'error');
    };
    if (ready === undefined) run();
    else void ready.then(run);
  }

  /** Redis's refusal of a command this connection may not run (../acl.ts), or undefined. */
  private authRefusal(spec: RespCommand): RespReply | undefined {
    if (respNoAuthCommands.has(spec.name)) return undefined;
    switch (this.state.auth.check(respAccess(spec))) {
      case 'ok':
        return undefined;
      case 'noauth':
        return errorReply('NOAUTH', 'Authentication required.');
      case 'noperm':
        return errorReply('NOPERM', `this user has no permissions to run the '${spec.name}' command`);
    }
  }

  /** Writes out every reply at the front of the queue that is ready. */
  private flush(): void {
    if (this.io.closed) return;
    const out: Buffer[] = [];
    let bytes = 0;
    let closeAfter = false;
    while (this.slots.length > 0 && this.slots[0]!.reply !== undefined) {
      const slot = this.slots.shift()!;
      out.push(slot.reply!);
      bytes += slot.reply!.length;
      if (slot.closeAfter) {
        closeAfter = true;
        break;
      }
    }
    if (out.length === 0) return;
    this.queuedBytes -= bytes;
    this.io.write(out, bytes);
    if (closeAfter) {
      this.finished = true;
      this.slots.length = 0;
      this.socket.end();
    }
    if (this.slots.length === 0) this.io.drained();
  }

  private maybeResume(): void {
    if (this.io.stopping || this.io.closed || this.finished) return;
    this.processBacklog();
    if (this.backlogNext >= this.backlog.length && !this.overBudget()) this.io.resumeReading(this.parser.inRequest);
  }
}
