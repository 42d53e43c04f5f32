// One client connection speaking RESP: the I/O shell around the pure parser (codec.ts) and the
// command mapping (commands.ts). It owns:
//  * reply order: replies leave in request order, whatever order the commands finish in;
//  * program order in a cluster: a command is not sent while an earlier command of this
//    connection that conflicts with it is in flight (one of them writes and they share a key,
//    or one of them spans every key), so a pipelined SET k / GET k reads its own write;
//  * limits: commands in flight and reply bytes queued are bounded (past either, the socket is
//    paused: backpressure, not errors); a started request must complete within frameTimeoutMs
//    (slow loris); a protocol error is answered with Redis's `-ERR Protocol error: ...` and the
//    connection is closed, since the stream cannot be resynchronised.

import type { Socket } from 'node:net';
import { AssertionError } from '../../core/assert.js';
import { CatenaError } from '../../core/errors.js';
import { connectionOutputBytesMax, frameTimeoutMs, pipelineDepthMax } from '../../core/limits.js';
import type { Logger } from '../../core/log.js';
import type { CommandRouter } from '../../server/router.js';
import { OrderGate } from '../order-gate.js';
import { encodeReply, RespRequestParser, type RespRequestEvent } from './codec.js';
import {
  arityAllows,
  commandKeys,
  errorFor,
  respCommands,
  unknownCommand,
  wrongArity,
  type RespConnectionState,
  type RespContext,
  type RespServerFacts,
} from './commands.js';
import { errorReply, type RespReply } from './reply.js';

export interface RespHost {
  readonly router: CommandRouter;
  readonly server: RespServerFacts;
  readonly log: Logger;
  nextClientId(): number;
  /** A command was answered (for INFO's counters). */
  recordCommand(failed: boolean): void;
  recordProtocolError(): void;
}

interface Slot {
  reply: Buffer | undefined;
  /** QUIT: close once this reply is out. */
  closeAfter: boolean;
}

const concatBytesMax = 64 * 1024;
/**
 * Reply bytes each read in flight is assumed to need until it answers, against the connection's
 * output budget: bounds what one connection's pipelined reads can make the node hold (its replies
 * and its reads in flight) to about connectionOutputBytesMax plus this many reads' values.
 */
const readReserveBytes = 1 << 20;

export class RespSession {
  private readonly parser = new RespRequestParser();
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
  private frameTimer: NodeJS.Timeout | undefined;
  private draining: (() => void) | undefined;
  /** No more commands are read: QUIT, a protocol error, or the node stopping. */
  private finished = false;
  private stopping = false;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly host: RespHost,
  ) {
    this.state = { id: host.nextClientId(), protocol: 2, name: undefined, closing: false };
    this.context = {
      send: (name, request) => host.router.send(name, request),
      connection: this.state,
      server: host.server,
    };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.maybeResume());
    socket.on('error', (error) => host.log.log('debug', 'RESP client socket error', { error: error.message }));
    socket.on('close', () => this.onClose());
  }

  /** Stops reading; resolves once every command already read has been answered. */
  drain(): Promise<void> {
    this.stopping = true;
    this.socket.pause();
    if (this.slots.length === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.draining = resolve;
    });
  }

  close(deadlineMs: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.socket.destroy(), deadlineMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    const events = this.parser.push(chunk);
    this.armFrameTimer(events.length > 0);
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
        this.socket.pause();
        // Waiting on us is not a slow client: the request deadline restarts when reading does.
        this.clearFrameTimer();
        return;
      }
      const event = this.backlog[this.backlogNext++]!;
      if (event.kind === 'command') {
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
    return this.inFlight >= pipelineDepthMax || held > connectionOutputBytesMax;
  }

  /** A reply known now (no command runs). */
  private enqueue(reply: RespReply, closeAfter = false): void {
    const slot: Slot = { reply: encodeReply(reply, this.state.protocol), closeAfter };
    this.queuedBytes += slot.reply!.length;
    this.slots.push(slot);
    this.flush();
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
      this.flush();
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

  /** Writes out every reply at the front of the queue that is ready. */
  private flush(): void {
    if (this.closed) return;
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
    if (out.length === 1) this.socket.write(out[0]!);
    else if (bytes <= concatBytesMax) this.socket.write(Buffer.concat(out, bytes));
    else {
      this.socket.cork();
      for (const buffer of out) this.socket.write(buffer);
      this.socket.uncork();
    }
    if (closeAfter) {
      this.finished = true;
      this.slots.length = 0;
      this.socket.end();
    }
    if (this.draining !== undefined && this.slots.length === 0) {
      const done = this.draining;
      this.draining = undefined;
      done();
    }
  }

  private maybeResume(): void {
    if (this.stopping || this.closed || this.finished) return;
    this.processBacklog();
    if (this.backlogNext >= this.backlog.length && !this.overBudget()) {
      this.socket.resume();
      this.armFrameTimer(false);
    }
  }

  private clearFrameTimer(): void {
    if (this.frameTimer !== undefined) clearTimeout(this.frameTimer);
    this.frameTimer = undefined;
  }

  private armFrameTimer(completed: boolean): void {
    if (completed || !this.parser.inRequest) {
      if (this.frameTimer !== undefined) clearTimeout(this.frameTimer);
      this.frameTimer = undefined;
    }
    if (!this.parser.inRequest) return;
    this.frameTimer ??= setTimeout(() => {
      this.host.log.log('info', 'closing a RESP connection whose request did not complete in time', {
        frameTimeoutMs,
      });
      this.socket.destroy();
    }, frameTimeoutMs);
  }

  private onClose(): void {
    this.closed = true;
    this.finished = true;
    if (this.frameTimer !== undefined) clearTimeout(this.frameTimer);
    if (this.draining !== undefined) {
      const done = this.draining;
      this.draining = undefined;
      done();
    }
  }
}
