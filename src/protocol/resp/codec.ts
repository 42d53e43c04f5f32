// The RESP codec, pure: request bytes in (any split), commands (argv) out; reply values
// (reply.ts) in, RESP2 or RESP3 bytes out. The parser follows Redis's networking.c
// (processMultibulkBuffer, processInlineBuffer) and sds.c (sdssplitargs), with Redis's error texts
// verbatim. After a protocol error the stream cannot be resynchronised: the parser reports one
// {kind: 'fatal'}, ignores everything after it, and the session answers `-ERR <message>` and
// closes, as Redis does.
//
//           '*'               n > 0                  $len               last bulk
//   start ------> count line -------> bulk header ---------> bulk body -----------> command, start
//     |              | n <= 0 (no command)  ^                     | more bulks
//     |              v                      +---------------------+
//     |            start
//     +- other --> inline line --'\n'--> command, start (nothing for a blank line)
//
// Every size is checked before its bytes are kept: a header or inline line as soon as it is longer
// than its limit, a declared bulk length or argument count as soon as its header line ends, so a
// hostile length costs no memory. Where Redis's verdict depends on how the stream was cut into
// reads (it measures a line only while the line's end has not arrived), this parser measures the
// line itself, so every split of the same bytes gives the same events. Other deliberate
// differences from Redis:
//   * a NUL byte is an ordinary byte (Redis's strchr and sdssplitargs stop at one);
//   * a multibulk request charged more than requestBytesMax (its wire bytes plus a per-argument
//     overhead) is refused with "too big multibulk request" (Redis closes silently at its 1 GiB
//     query buffer limit);
//   * in "expected '$', got 'x'" a byte outside printable ASCII is shown as '?' (Redis writes it
//     raw; like Redis, '\r' and '\n' are shown as spaces).
// Like Redis, the byte after a header line's '\r' and the two bytes after a bulk's payload are
// skipped unchecked: a client that miscounts is caught at the next header.
//
// Memory: the parser keeps views of pushed chunks until a line or bulk is complete, then copies
// it once, so a bulk arriving in many small chunks is not copied per chunk, and each argument is
// a Buffer of its own that does not pin a socket chunk. Do not reuse a chunk's memory after
// pushing it. Replies are measured first and written into one buffer of exactly their size.

import { assert, unreachable } from '../../core/assert.js';
import {
  respArgumentOverheadBytes,
  respArgumentsMax,
  respBulkBytesMax,
  respHeaderLineBytesMax,
  respInlineBytesMax,
  respReplyDepthMax,
  respRequestBytesMax,
  respExactDigitsMax,
  respInt64TextBytesMax,
} from '../../core/limits.js';
import type { RespProtocol, RespReply } from './reply.js';

/** What a pushed chunk completes: a command's arguments, or the error that ends the stream. */
export type RespRequestEvent = { kind: 'command'; argv: Buffer[] } | { kind: 'fatal'; message: string };

export interface RespRequestLimits {
  /** Largest declared `$<length>` (Redis: proto-max-bulk-len). */
  bulkBytesMax: number;
  /** Largest declared `*<count>` (Redis: 1024 * 1024). */
  argumentsMax: number;
  /** Longest inline line, its line ending excluded (Redis: PROTO_INLINE_MAX_SIZE). */
  inlineBytesMax: number;
  /** Longest `*<count>` or `$<length>` line, `\r\n` excluded (Redis: PROTO_INLINE_MAX_SIZE). */
  headerLineBytesMax: number;
  /** Largest multibulk request: wire bytes plus respArgumentOverheadBytes per argument. */
  requestBytesMax: number;
}

export const respRequestLimitsDefault: Readonly<RespRequestLimits> = {
  bulkBytesMax: respBulkBytesMax,
  argumentsMax: respArgumentsMax,
  inlineBytesMax: respInlineBytesMax,
  headerLineBytesMax: respHeaderLineBytesMax,
  requestBytesMax: respRequestBytesMax,
};

/** The texts of Redis's protocol errors (networking.c), sent as `-ERR <text>`; the last is Catena's. */
export const respProtocolErrors = {
  invalidMultibulkLength: 'Protocol error: invalid multibulk length',
  invalidBulkLength: 'Protocol error: invalid bulk length',
  tooBigMbulkCountString: 'Protocol error: too big mbulk count string',
  tooBigBulkCountString: 'Protocol error: too big bulk count string',
  tooBigInlineRequest: 'Protocol error: too big inline request',
  unbalancedQuotes: 'Protocol error: unbalanced quotes in request',
  tooBigMultibulkRequest: 'Protocol error: too big multibulk request',
} as const;

/** Redis's "expected '$', got '%c'", for the first byte of a bulk header line (undefined: empty line). */
export function expectedDollarMessage(byte: number | undefined): string {
  return `Protocol error: expected '$', got '${shownByte(byte)}'`;
}

const CR = 0x0d;
const LF = 0x0a;
const TAB = 0x09;
const SPACE = 0x20;
const STAR = 0x2a;
const DOLLAR = 0x24;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const BACKSLASH = 0x5c;
const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function shownByte(byte: number | undefined): string {
  if (byte === undefined || byte === CR || byte === LF) return ' ';
  return byte >= SPACE && byte < 0x7f ? String.fromCharCode(byte) : '?';
}

type Phase = 'start' | 'inline' | 'count' | 'bulk-header' | 'bulk-body' | 'failed';

/** A header line is bytes[start, end), '\r' excluded; `next` is where reading goes on. */
type HeaderLine =
  | { kind: 'partial'; next: number }
  | { kind: 'line'; next: number; bytes: Uint8Array; start: number; end: number }
  | { kind: 'too-long' };

/**
 * Incremental request parser: `push` each chunk as it arrives and handle the events it returns,
 * in order. At most one request is held at a time; a chunk completes at most one event per two
 * bytes it holds. After a 'fatal' event every later push returns no events.
 */
export class RespRequestParser {
  private readonly limits: RespRequestLimits;
  private phase: Phase = 'start';
  /** Views of the line or bulk payload being read, and their total length. */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  /** A header line's '\r' has arrived; the byte after it ends the line. */
  private headerCrSeen = false;
  /** The multibulk request being read: arguments so far, their bytes, how many remain, bytes charged. */
  private argv: Buffer[] = [];
  private argvBytes = 0;
  private argumentsLeft = 0;
  private requestBytes = 0;
  /** The bulk being read: its declared length, and how many of its bytes (payload, then \r\n) arrived. */
  private bulkLength = 0;
  private bulkReceived = 0;

  constructor(limits: Partial<RespRequestLimits> = {}) {
    this.limits = { ...respRequestLimitsDefault, ...limits };
    const { bulkBytesMax, argumentsMax, inlineBytesMax, headerLineBytesMax, requestBytesMax } = this.limits;
    for (const value of [bulkBytesMax, argumentsMax, inlineBytesMax, headerLineBytesMax, requestBytesMax]) {
      assert(Number.isSafeInteger(value) && value > 0, 'RESP limits are positive integers');
    }
    assert(headerLineBytesMax > respInt64TextBytesMax, 'a header line holds any 64-bit number');
    assert(bulkBytesMax + respArgumentOverheadBytes <= requestBytesMax, 'a request may carry the largest bulk');
  }

  /** Bytes held for the request being read (partial lines and bulks, finished arguments). */
  get bufferedBytes(): number {
    return this.partsBytes + this.argvBytes;
  }

  /** True while a request has started but not ended (the session's slow-loris deadline runs). */
  get inRequest(): boolean {
    return this.phase !== 'start' && this.phase !== 'failed';
  }

  /** True once a protocol error ended the stream. */
  get failed(): boolean {
    return this.phase === 'failed';
  }

  /** Feeds bytes and returns every event they complete, in order. */
  push(chunk: Uint8Array): RespRequestEvent[] {
    const events: RespRequestEvent[] = [];
    const data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let offset = 0;
    // Every step consumes at least one byte, except a 'start' step, which only picks the next phase.
    for (let steps = 0; offset < data.length && this.phase !== 'failed'; steps++) {
      assert(steps <= 2 * data.length, 'every parser step makes progress');
      offset = this.step(data, offset, events);
    }
    return events;
  }

  private step(data: Buffer, offset: number, events: RespRequestEvent[]): number {
    switch (this.phase) {
      case 'start':
        this.phase = data[offset] === STAR ? 'count' : 'inline';
        return offset;
      case 'inline':
        return this.readInline(data, offset, events);
      case 'count':
        return this.readCount(data, offset, events);
      case 'bulk-header':
        return this.readBulkHeader(data, offset, events);
      case 'bulk-body':
        return this.readBulkBody(data, offset, events);
      case 'failed':
        return data.length;
      default:
        return unreachable(this.phase, 'RESP parser phase');
    }
  }

  private readInline(data: Buffer, offset: number, events: RespRequestEvent[]): number {
    const max = this.limits.inlineBytesMax;
    // A line may hold max bytes and a '\r' before its '\n': no '\n' within them means it is too long.
    assert(this.partsBytes <= max + 1, 'a kept inline line is within its limit');
    const end = Math.min(data.length, offset + max + 2 - this.partsBytes);
    const lf = data.indexOf(LF, offset);
    if (lf < 0 || lf >= end) {
      this.keep(data.subarray(offset, end));
      const trailingCr = this.parts.at(-1)?.at(-1) === CR ? 1 : 0;
      if (this.partsBytes - trailingCr > max) return this.fail(events, respProtocolErrors.tooBigInlineRequest);
      return end;
    }
    this.keep(data.subarray(offset, lf));
    let line = this.takeLine();
    if (line.at(-1) === CR) line = line.subarray(0, line.length - 1);
    if (line.length > max) return this.fail(events, respProtocolErrors.tooBigInlineRequest);
    const argv = splitInlineArguments(line);
    if (argv === undefined) return this.fail(events, respProtocolErrors.unbalancedQuotes);
    if (argv.length > 0) events.push({ kind: 'command', argv });
    this.phase = 'start';
    return lf + 1;
  }

  private readCount(data: Buffer, offset: number, events: RespRequestEvent[]): number {
    const read = this.readHeaderLine(data, offset);
    if (read.kind === 'too-long') return this.fail(events, respProtocolErrors.tooBigMbulkCountString);
    if (read.kind === 'partial') return read.next;
    const { bytes, start, end } = read;
    assert(bytes[start] === STAR, 'a count line starts with *');
    const count = parseRedisInteger(bytes, start + 1, end);
    if (count === undefined || count > this.limits.argumentsMax) {
      return this.fail(events, respProtocolErrors.invalidMultibulkLength);
    }
    if (count <= 0) {
      // Redis treats `*0` and `*-1` as an empty request: nothing to run, read the next one.
      this.phase = 'start';
      return read.next;
    }
    this.phase = 'bulk-header';
    this.argumentsLeft = count;
    this.requestBytes = end - start + 2;
    return read.next;
  }

  private readBulkHeader(data: Buffer, offset: number, events: RespRequestEvent[]): number {
    const read = this.readHeaderLine(data, offset);
    if (read.kind === 'too-long') return this.fail(events, respProtocolErrors.tooBigBulkCountString);
    if (read.kind === 'partial') return read.next;
    const { bytes, start, end } = read;
    if (start === end || bytes[start] !== DOLLAR) {
      return this.fail(events, expectedDollarMessage(start === end ? undefined : bytes[start]));
    }
    const length = parseRedisInteger(bytes, start + 1, end);
    if (length === undefined || length < 0 || length > this.limits.bulkBytesMax) {
      return this.fail(events, respProtocolErrors.invalidBulkLength);
    }
    this.bulkLength = length;
    this.bulkReceived = 0;
    this.requestBytes += end - start + 2 + this.bulkLength + 2 + respArgumentOverheadBytes;
    if (this.requestBytes > this.limits.requestBytesMax) {
      return this.fail(events, respProtocolErrors.tooBigMultibulkRequest);
    }
    this.phase = 'bulk-body';
    return read.next;
  }

  private readBulkBody(data: Buffer, offset: number, events: RespRequestEvent[]): number {
    const wanted = this.bulkLength + 2 - this.bulkReceived;
    assert(wanted > 0 && this.argumentsLeft > 0, 'a bulk body is read only while it is incomplete');
    if (this.bulkReceived === 0 && data.length - offset >= wanted) {
      // The common case: the whole bulk is in this chunk, copied straight out of it.
      const argument = Buffer.allocUnsafe(this.bulkLength);
      data.copy(argument, 0, offset, offset + this.bulkLength);
      this.addArgument(argument, events);
      return offset + wanted;
    }
    const taken = Math.min(wanted, data.length - offset);
    const payload = Math.max(0, Math.min(taken, this.bulkLength - this.bulkReceived));
    this.keep(data.subarray(offset, offset + payload));
    this.bulkReceived += taken;
    if (this.bulkReceived < this.bulkLength + 2) return offset + taken;
    assert(this.partsBytes === this.bulkLength, 'a whole bulk was kept');
    // Buffer.concat copies even a single part, so the argument owns its memory.
    const argument = Buffer.concat(this.parts, this.partsBytes);
    this.parts = [];
    this.partsBytes = 0;
    this.addArgument(argument, events);
    return offset + taken;
  }

  private addArgument(argument: Buffer, events: RespRequestEvent[]): void {
    this.argv.push(argument);
    this.argvBytes += argument.length;
    this.argumentsLeft -= 1;
    if (this.argumentsLeft > 0) {
      this.phase = 'bulk-header';
    } else {
      events.push({ kind: 'command', argv: this.argv });
      this.endRequest();
    }
  }

  /** Reads a `*<count>` or `$<length>` line: it ends at the first '\r', and the byte after it. */
  private readHeaderLine(data: Buffer, offset: number): HeaderLine {
    const max = this.limits.headerLineBytesMax;
    if (!this.headerCrSeen) {
      assert(this.partsBytes <= max, 'a kept header line is within its limit');
      // The line may take max - partsBytes more bytes: no '\r' within them means it is too long.
      const end = Math.min(data.length, offset + max + 1 - this.partsBytes);
      const cr = data.indexOf(CR, offset);
      if (cr < 0 || cr >= end) {
        if (this.partsBytes + end - offset > max) return { kind: 'too-long' };
        this.keep(data.subarray(offset, end));
        return { kind: 'partial', next: end };
      }
      if (this.parts.length === 0 && cr + 1 < data.length) {
        // The common case: the whole line and the byte after its '\r' are in this chunk.
        return { kind: 'line', next: cr + 2, bytes: data, start: offset, end: cr };
      }
      this.keep(data.subarray(offset, cr));
      this.headerCrSeen = true;
      offset = cr + 1;
      if (offset === data.length) return { kind: 'partial', next: offset };
    }
    this.headerCrSeen = false;
    const line = this.takeLine();
    return { kind: 'line', next: offset + 1, bytes: line, start: 0, end: line.length };
  }

  private keep(piece: Buffer): void {
    if (piece.length === 0) return;
    this.parts.push(piece);
    this.partsBytes += piece.length;
  }

  /** The kept line, joined (a view when it arrived in one piece: lines are parsed, never kept). */
  private takeLine(): Buffer {
    const line = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partsBytes);
    this.parts = [];
    this.partsBytes = 0;
    return line;
  }

  private endRequest(): void {
    this.phase = 'start';
    this.argv = [];
    this.argvBytes = 0;
    this.argumentsLeft = 0;
    this.requestBytes = 0;
  }

  /** Ends the stream: reports the error, drops everything held. Returns an offset that ends push. */
  private fail(events: RespRequestEvent[], message: string): number {
    events.push({ kind: 'fatal', message });
    this.endRequest();
    this.parts = [];
    this.partsBytes = 0;
    this.headerCrSeen = false;
    this.phase = 'failed';
    return Number.MAX_SAFE_INTEGER;
  }
}

/**
 * Redis's string2ll: an optional '-', then decimal digits without a leading zero ("0" alone is
 * zero), within a signed 64-bit integer; no '+', no spaces. Undefined when the text is not one.
 * The value is exact up to 2^53 and the nearest double beyond, which is all a comparison with a
 * limit needs (a header is parsed per argument, so short numbers are read without a BigInt).
 */
export function parseRedisInteger(text: Uint8Array, start = 0, end = text.length): number | undefined {
  const length = end - start;
  if (length <= 0 || length > respInt64TextBytesMax) return undefined;
  if (length === 1 && text[start] === ZERO) return 0;
  const digitsStart = text[start] === MINUS ? start + 1 : start;
  if (digitsStart === end) return undefined;
  let value = 0;
  for (let i = digitsStart; i < end; i++) {
    const byte = text[i]!;
    if (byte < (i === digitsStart ? ZERO + 1 : ZERO) || byte > NINE) return undefined;
    value = value * 10 + (byte - ZERO);
  }
  if (end - digitsStart <= respExactDigitsMax) return digitsStart === start ? value : -value;
  const exact = BigInt(Buffer.from(text.buffer, text.byteOffset + start, length).toString('latin1'));
  return exact >= INT64_MIN && exact <= INT64_MAX ? Number(exact) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Inline requests

/** C's isspace: the blanks skipped between arguments. */
function isSpace(byte: number | undefined): boolean {
  return byte === SPACE || (byte !== undefined && byte >= TAB && byte <= CR);
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= ZERO && byte <= NINE) return byte - ZERO;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

function isHexPair(line: Uint8Array, at: number): boolean {
  return hexValue(line[at]) >= 0 && hexValue(line[at + 1]) >= 0;
}

const escapes: Readonly<Record<string, number>> = { n: LF, r: CR, t: TAB, b: 0x08, a: 0x07 };

/**
 * Splits an inline line into arguments as Redis's sdssplitargs does: arguments are separated by
 * blanks; "..." takes the escapes \n \r \t \b \a \xHH and \<any> for that byte; '...' takes only
 * \'; a quote may start mid-argument, and a closing quote must be followed by a blank or the end.
 * Undefined for unbalanced quotes.
 */
export function splitInlineArguments(line: Uint8Array): Buffer[] | undefined {
  const argv: Buffer[] = [];
  let i = 0;
  // Each pass consumes at least one byte (readArgument does) or returns.
  for (;;) {
    while (i < line.length && isSpace(line[i])) i++;
    if (i === line.length) return argv;
    const argument: number[] = [];
    i = readArgument(line, i, argument);
    if (i < 0) return undefined;
    argv.push(Buffer.from(argument));
  }
}

/** Reads one argument starting at `start` into `out`; returns where the next one may start, or -1. */
function readArgument(line: Uint8Array, start: number, out: number[]): number {
  let quote: number | undefined;
  let i = start;
  while (i < line.length) {
    const byte = line[i]!;
    const next = line[i + 1];
    if (quote === undefined) {
      if (byte === SPACE || byte === LF || byte === CR || byte === TAB) return i + 1;
      if (byte === DOUBLE_QUOTE || byte === SINGLE_QUOTE) quote = byte;
      else out.push(byte);
      i += 1;
    } else if (byte === quote) {
      return next === undefined || isSpace(next) ? i + 1 : -1;
    } else if (quote === DOUBLE_QUOTE && byte === BACKSLASH && next === 0x78 && isHexPair(line, i + 2)) {
      out.push(hexValue(line[i + 2]) * 16 + hexValue(line[i + 3]));
      i += 4;
    } else if (quote === DOUBLE_QUOTE && byte === BACKSLASH && next !== undefined) {
      // Any other escaped byte stands for itself ("\x" without two hex digits is an 'x').
      out.push(escapes[String.fromCharCode(next)] ?? next);
      i += 2;
    } else if (quote === SINGLE_QUOTE && byte === BACKSLASH && next === SINGLE_QUOTE) {
      out.push(SINGLE_QUOTE);
      i += 2;
    } else {
      out.push(byte);
      i += 1;
    }
  }
  return quote === undefined ? i : -1;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Where encoding goes: the first pass only counts bytes, the second writes them. */
interface Sink {
  text(value: string): void;
  bytes(value: Uint8Array): void;
}

class CountingSink implements Sink {
  length = 0;
  text(value: string): void {
    this.length += Buffer.byteLength(value);
  }
  bytes(value: Uint8Array): void {
    this.length += value.length;
  }
}

class WritingSink implements Sink {
  offset = 0;
  constructor(readonly out: Buffer) {}
  text(value: string): void {
    this.offset += this.out.write(value, this.offset);
  }
  bytes(value: Uint8Array): void {
    this.out.set(value, this.offset);
    this.offset += value.length;
  }
}

function encode(write: (sink: Sink) => void): Buffer {
  const counter = new CountingSink();
  write(counter);
  const writer = new WritingSink(Buffer.allocUnsafe(counter.length));
  write(writer);
  assert(writer.offset === counter.length, 'an encoding fills exactly the bytes it measured');
  return writer.out;
}

/** One reply in the connection's protocol, in one buffer of exactly its size. */
export function encodeReply(reply: RespReply, protocol: RespProtocol): Buffer {
  assert(protocol === 2 || protocol === 3, 'RESP protocol is 2 or 3');
  return encode((sink) => writeReply(sink, reply, protocol, 0));
}

/** Several replies (a pipeline's answers), back to back in one buffer. */
export function encodeReplies(replies: readonly RespReply[], protocol: RespProtocol): Buffer {
  assert(protocol === 2 || protocol === 3, 'RESP protocol is 2 or 3');
  return encode((sink) => {
    for (const reply of replies) writeReply(sink, reply, protocol, 0);
  });
}

/** A request as a client sends it: a multibulk of bulk strings. */
export function encodeCommand(argv: readonly (Uint8Array | string)[]): Buffer {
  return encode((sink) => {
    sink.text(`*${argv.length}\r\n`);
    for (const argument of argv) writeBulk(sink, argument);
  });
}

const errorCodePattern = /^[A-Z][A-Z0-9_]*$/;

/** Simple strings and errors are one line: like Redis's addReplyErrorFormat, CR and LF become spaces. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]/g, ' ');
}

function writeReply(sink: Sink, reply: RespReply, protocol: RespProtocol, depth: number): void {
  assert(depth <= respReplyDepthMax, 'reply nesting within respReplyDepthMax');
  const resp3 = protocol === 3;
  switch (reply.kind) {
    case 'simple':
      return sink.text(`+${oneLine(reply.text)}\r\n`);
    case 'error':
      assert(errorCodePattern.test(reply.code), 'an error code is upper case');
      return sink.text(`-${reply.code}${reply.message === '' ? '' : ` ${oneLine(reply.message)}`}\r\n`);
    case 'integer':
      return sink.text(`:${integerText(reply.value)}\r\n`);
    case 'bulk':
      return writeBulk(sink, reply.value);
    case 'null':
      return sink.text(resp3 ? '_\r\n' : '$-1\r\n');
    case 'null-array':
      return sink.text(resp3 ? '_\r\n' : '*-1\r\n');
    case 'array':
      return writeItems(sink, '*', reply.items, protocol, depth);
    case 'set':
      return writeItems(sink, resp3 ? '~' : '*', reply.items, protocol, depth);
    case 'map':
      sink.text(resp3 ? `%${reply.entries.length}\r\n` : `*${reply.entries.length * 2}\r\n`);
      for (const [key, value] of reply.entries) {
        writeReply(sink, key, protocol, depth + 1);
        writeReply(sink, value, protocol, depth + 1);
      }
      return;
    case 'double':
      return resp3 ? sink.text(`,${doubleText(reply.value)}\r\n`) : writeBulk(sink, doubleText(reply.value));
    case 'boolean':
      if (resp3) return sink.text(reply.value ? '#t\r\n' : '#f\r\n');
      return sink.text(reply.value ? ':1\r\n' : ':0\r\n');
    case 'verbatim':
      return resp3 ? writeVerbatim(sink, reply.format, reply.text) : writeBulk(sink, reply.text);
    case 'encoded':
      return sink.bytes(reply.bytes);
    default:
      return unreachable(reply, 'RESP reply kind');
  }
}

function writeItems(
  sink: Sink,
  type: '*' | '~',
  items: readonly RespReply[],
  protocol: RespProtocol,
  depth: number,
): void {
  sink.text(`${type}${items.length}\r\n`);
  for (const item of items) writeReply(sink, item, protocol, depth + 1);
}

function writeBulk(sink: Sink, value: Uint8Array | string): void {
  if (typeof value === 'string') {
    sink.text(`$${Buffer.byteLength(value)}\r\n`);
    sink.text(value);
  } else {
    sink.text(`$${value.length}\r\n`);
    sink.bytes(value);
  }
  sink.text('\r\n');
}

function writeVerbatim(sink: Sink, format: string, text: Uint8Array | string): void {
  assert(format.length === 3, 'a verbatim format is three characters');
  const length = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
  sink.text(`=${format.length + 1 + length}\r\n${format}:`);
  if (typeof text === 'string') sink.text(text);
  else sink.bytes(text);
  sink.text('\r\n');
}

function integerText(value: number | bigint): string {
  if (typeof value === 'number') assert(Number.isSafeInteger(value), 'a RESP integer is a safe integer');
  else assert(value >= INT64_MIN && value <= INT64_MAX, 'a RESP integer fits 64 bits');
  return String(value);
}

/** Redis's d2string: inf, -inf, nan, -0, else the shortest text that reads back as the same double. */
function doubleText(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (Object.is(value, -0)) return '-0';
  return String(value);
}
