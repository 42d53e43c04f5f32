// Minimal raw-socket clients for the differential tests (differential.test.ts): the same bytes
// go to a real server and to Catena, and each client hands back the reply bytes exactly as they
// arrived, cut at the end of one reply. No client library sits in between, so nothing is
// normalised or retried behind the test's back.
//
// * RespRawClient writes a command (multibulk, inline, or any raw bytes) and reads exactly one
//   complete RESP2/RESP3 reply per command, by the reply's own framing (respReplyEnd).
// * MemcachedRawClient writes a request and reads until the reply for that kind of command is
//   complete (retrieval and stats: through END or an error line; the rest: one line), then
//   always sends `version\r\n` as a sync point and reads through its VERSION line: anything
//   before that line is returned with the reply (an unexpected extra line shows up in the step
//   that caused it), and the VERSION line itself is stripped. For noreply commands the expected
//   reply is "nothing" and only the sync point is read.
// * Neither ever throws on a bad reply: a closed connection or a reply that does not complete
//   within the deadline is reported in the result, for the test to compare and print.

import { connect, type Socket } from 'node:net';

const CR = 0x0d;
const LF = 0x0a;

/** How a read ended: the reply is whole, the peer closed the connection, or time ran out. */
export type ReadOutcome = 'complete' | 'closed' | 'timeout';

export interface ReadResult {
  readonly bytes: Buffer;
  readonly outcome: ReadOutcome;
}

/** A TCP connection that buffers what arrives and hands it out reply by reply. */
export class RawConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private closed = false;
  private notify: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.notify?.();
    });
    socket.on('error', () => undefined); // ECONNRESET / EPIPE after the peer hung up: seen as a close
    socket.on('close', () => {
      this.closed = true;
      this.notify?.();
    });
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  write(bytes: Buffer | string): void {
    if (!this.closed) this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /**
   * Waits until `end(buffered)` gives the length of a complete reply at the front of what has
   * arrived, and takes those bytes. On close or timeout, takes everything there is.
   */
  async take(end: (buffered: Buffer) => number | undefined, timeoutMs: number): Promise<ReadResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const length = end(this.buffer);
      if (length !== undefined) {
        const bytes = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        return { bytes, outcome: 'complete' };
      }
      if (this.closed || Date.now() >= deadline) {
        const bytes = this.buffer;
        this.buffer = Buffer.alloc(0);
        return { bytes, outcome: this.closed ? 'closed' : 'timeout' };
      }
      await this.arrival(deadline - Date.now());
    }
  }

  /** Reads until the peer closes the connection (or time runs out); returns what arrived first. */
  async untilClosed(timeoutMs: number): Promise<ReadResult> {
    return this.take(() => undefined, timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }

  private arrival(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.notify = () => {
        this.notify = undefined;
        done();
      };
    });
  }
}

// ---- RESP

/** One command as a RESP array of bulk strings. */
export function encodeMultibulk(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`, 'latin1')];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg, 'latin1') : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`, 'latin1'), bytes, Buffer.from('\r\n', 'latin1'));
  }
  return Buffer.concat(parts);
}

/** The index just past `\r\n` of the line starting at `start`, or undefined when it has not all arrived. */
function lineEnd(buffer: Buffer, start: number): number | undefined {
  for (let i = start; i + 1 < buffer.length; i++) {
    if (buffer[i] === CR && buffer[i + 1] === LF) return i + 2;
  }
  return undefined;
}

/**
 * Where the RESP2/RESP3 reply starting at `start` ends (exclusive), or undefined while it is
 * incomplete. Simple types (+ - : _ , # ( and anything unknown) are one line; blobs ($ = !)
 * carry a length (-1: null); aggregates (* ~ >) a count of replies, maps (%) and attributes (|)
 * a count of pairs (-1: null); an attribute is followed by the reply it annotates.
 */
export function respReplyEnd(buffer: Buffer, start = 0): number | undefined {
  if (start >= buffer.length) return undefined;
  const headerEnd = lineEnd(buffer, start);
  if (headerEnd === undefined) return undefined;
  const type = String.fromCharCode(buffer[start]!);
  const count = () => Number(buffer.toString('latin1', start + 1, headerEnd - 2));
  switch (type) {
    case '$':
    case '=':
    case '!': {
      const length = count();
      if (!(length >= 0)) return headerEnd;
      const end = headerEnd + length + 2;
      return end <= buffer.length ? end : undefined;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      const n = count();
      if (!(n > 0)) return headerEnd;
      const items = type === '%' || type === '|' ? 2 * n : n;
      let offset: number | undefined = headerEnd;
      for (let i = 0; i < items && offset !== undefined; i++) offset = respReplyEnd(buffer, offset);
      if (type === '|' && offset !== undefined) offset = respReplyEnd(buffer, offset);
      return offset;
    }
    default:
      return headerEnd;
  }
}

export class RespRawClient {
  private constructor(readonly connection: RawConnection) {}

  static async open(port: number, host = '127.0.0.1'): Promise<RespRawClient> {
    return new RespRawClient(await RawConnection.open(port, host));
  }

  /** Sends `bytes` (one or more commands, any framing) and reads `replies` complete replies. */
  async exchange(bytes: Buffer, replies: number, timeoutMs: number): Promise<ReadResult[]> {
    this.connection.write(bytes);
    const out: ReadResult[] = [];
    for (let i = 0; i < replies; i++) {
      const read = await this.connection.take((buffered) => respReplyEnd(buffered), timeoutMs);
      out.push(read);
      if (read.outcome !== 'complete') break;
    }
    return out;
  }

  /** A multibulk command and its one reply. */
  async command(args: readonly (string | Buffer)[], timeoutMs = 2_000): Promise<ReadResult> {
    return (await this.exchange(encodeMultibulk(args), 1, timeoutMs))[0]!;
  }

  /** An inline command (`line` without its \r\n) and its one reply. */
  async inline(line: string | Buffer, timeoutMs = 2_000): Promise<ReadResult> {
    const bytes = Buffer.concat([typeof line === 'string' ? Buffer.from(line, 'latin1') : line, Buffer.from('\r\n')]);
    return (await this.exchange(bytes, 1, timeoutMs))[0]!;
  }

  close(): void {
    this.connection.close();
  }
}

// ---- memcached

/** What a memcached request is answered with, which says where its reply ends. */
export type MemcachedExpect =
  /** get/gets/gat/gats: VALUE blocks through END, or one error line. */
  | 'retrieval'
  /** stats: STAT lines through END, or one error line. */
  | 'stats'
  /** storage, delete, incr/decr, touch, flush_all, verbosity, version, errors: one line. */
  | 'line'
  /** noreply: no reply; only the sync point is read. */
  | 'nothing'
  /** quit, or input that ends the connection: read until the server closes it. */
  | 'closed';

const errorLine = /^(ERROR|CLIENT_ERROR|SERVER_ERROR)( |\r\n)/;

/**
 * Where the memcached reply unit starting at `start` ends: a `VALUE <key> <flags> <bytes> [cas]`
 * line with its data block, or any other line. Undefined while incomplete.
 */
export function memcachedUnitEnd(buffer: Buffer, start = 0): number | undefined {
  const end = lineEnd(buffer, start);
  if (end === undefined) return undefined;
  const line = buffer.toString('latin1', start, end - 2);
  const value = /^VALUE \S+ \d+ (\d+)( \d+)?$/.exec(line);
  if (value === null) return end;
  const blockEnd = end + Number(value[1]) + 2;
  return blockEnd <= buffer.length ? blockEnd : undefined;
}

/** The end of a reply made of units up to and including the first unit `last` accepts. */
function unitsThrough(buffer: Buffer, last: (unit: string) => boolean): number | undefined {
  let offset = 0;
  for (;;) {
    const end = memcachedUnitEnd(buffer, offset);
    if (end === undefined) return undefined;
    const unit = buffer.toString('latin1', offset, Math.min(end, offset + 64));
    offset = end;
    if (last(unit)) return offset;
  }
}

const isVersionLine = (unit: string) => unit.startsWith('VERSION ');

export class MemcachedRawClient {
  private constructor(readonly connection: RawConnection) {}

  static async open(port: number, host = '127.0.0.1'): Promise<MemcachedRawClient> {
    return new MemcachedRawClient(await RawConnection.open(port, host));
  }

  /**
   * Sends `bytes`, reads the reply `expect` describes, then (unless the connection is expected to
   * close, or `sync` is false) sends the `version` sync point and reads through its reply, which
   * it strips: the result holds the reply and anything that arrived between it and the sync
   * point's VERSION line.
   */
  async exchange(bytes: Buffer, expect: MemcachedExpect, timeoutMs = 2_000, sync = true): Promise<ReadResult> {
    this.connection.write(bytes);
    if (expect === 'closed') return this.connection.untilClosed(timeoutMs);
    const end = (buffered: Buffer): number | undefined => {
      switch (expect) {
        case 'nothing':
          return 0;
        case 'line':
          return memcachedUnitEnd(buffered);
        case 'retrieval':
          return unitsThrough(buffered, (unit) => unit.startsWith('END\r\n') || errorLine.test(unit));
        case 'stats':
          return unitsThrough(buffered, (unit) => unit.startsWith('END\r\n') || errorLine.test(unit));
      }
    };
    const reply = await this.connection.take(end, timeoutMs);
    if (reply.outcome !== 'complete' || !sync) return reply;
    this.connection.write('version\r\n');
    const tail = await this.connection.take((buffered) => unitsThrough(buffered, isVersionLine), timeoutMs);
    if (tail.outcome !== 'complete') return { bytes: Buffer.concat([reply.bytes, tail.bytes]), outcome: tail.outcome };
    const text = tail.bytes.toString('latin1');
    const versionAt = text.lastIndexOf('VERSION ');
    return { bytes: Buffer.concat([reply.bytes, tail.bytes.subarray(0, versionAt)]), outcome: 'complete' };
  }

  close(): void {
    this.connection.close();
  }
}

// ---- printing

/** Bytes as readable text: printable ASCII as is, \r \n \t \\ escaped, others as \xHH; long runs cut. */
export function escapeBytes(bytes: Buffer, maxChars = 400): string {
  let out = '';
  for (const byte of bytes) {
    if (byte === CR) out += '\\r';
    else if (byte === LF) out += '\\n';
    else if (byte === 0x09) out += '\\t';
    else if (byte === 0x5c) out += '\\\\';
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  if (out.length <= maxChars) return out;
  const half = Math.floor(maxChars / 2);
  return `${out.slice(0, half)}…(${bytes.length} bytes)…${out.slice(-half)}`;
}
