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

interface Running {
  /** Keys as latin1 strings, or 'all' for commands that span every key. */
  readonly keys: ReadonlySet<string> | 'all';
  readonly write: boolean;
  readonly done: Promise<void>;
}

const concatBytesMax = 64 * 1024;

export class RespSession {
  private readonly parser = new RespRequestParser();
  private readonly state: RespConnectionState;
  private readonly context: RespContext;
  private readonly slots: Slot[] = [];
  private running: Running[] = [];
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
    while (this.backlogNext < this.backlog.length && !this.finished) {
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
    return (
      this.inFlight >= pipelineDepthMax || this.queuedBytes + this.socket.writableLength > connectionOutputBytesMax
    );
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
    const protocol = this.state.protocol;
    let waitFor: Promise<unknown> | undefined;
    let finish: (() => void) | undefined;
    if (!this.host.router.inOrder && (spec.write || spec.allKeys === true || spec.keys[0] !== 0)) {
      const keys = spec.allKeys === true ? 'all' : new Set(commandKeys(spec, argv).map((k) => k.toString('latin1')));
      const conflicts = this.running.filter((other) => conflict(other, keys, spec.write));
      if (conflicts.length > 0) waitFor = Promise.all(conflicts.map((other) => other.done));
      let resolveDone!: () => void;
      const running: Running = {
        keys,
        write: spec.write,
        done: new Promise<void>((resolve) => (resolveDone = resolve)),
      };
      this.running.push(running);
      finish = () => {
        this.running = this.running.filter((other) => other !== running);
        resolveDone();
      };
    }
    const complete = (reply: RespReply, failed: boolean): void => {
      // HELLO answers in the protocol it switches to; every other reply in the one it was sent in.
      const encoded = encodeReply(reply, spec.name === 'hello' ? this.state.protocol : protocol);
      slot.reply = encoded;
      slot.closeAfter = this.state.closing;
      this.queuedBytes += encoded.length;
      this.inFlight -= 1;
      this.host.recordCommand(failed);
      finish?.();
      if (this.state.closing) this.finished = true;
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
      try {
        const result = spec.run(this.context, argv);
        if (result instanceof Promise) {
          result.then((reply) => complete(reply, reply.kind === 'error'), fail);
        } else {
          complete(result, result.kind === 'error');
        }
      } catch (error) {
        fail(error);
      }
    };
    if (waitFor === undefined) run();
    else void waitFor.then(run);
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

/** True when a command on `keys` (writing or not) must wait for `other` to finish. */
function conflict(other: Running, keys: ReadonlySet<string> | 'all', write: boolean): boolean {
  if (!other.write && !write) return false;
  if (other.keys === 'all' || keys === 'all') return true;
  for (const key of keys) if (other.keys.has(key)) return true;
  return false;
}
