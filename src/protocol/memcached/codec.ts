// memcached text protocol codec, pure: bytes in (any split), requests out; replies to bytes.
// It follows memcached 1.6's classic text parser (proto_text.c, memcached.c, util.c) and
// doc/protocol.txt, including how memcached answers bad input and gets back in step:
//
//   line --'\n', storage command, <bytes> <= max--> data --<bytes>+2 read--> line
//     |  \                                               (request, or `bad data chunk`
//     |   '\n', storage command, <bytes> > max             when they do not end in \r\n)
//     |    (SERVER_ERROR object too large) --> swallow --<bytes>+2 discarded--> line
//     |--'\n', any other line --> request or error line --> line
//     |--more than lineBytesMax before '\n' (getLineBytesMax for get/gets) --> fatal (closed)
//     '--quit --> closed (later input is ignored, as memcached closes the connection)
//
// What memcached does and this codec copies:
//   * a line ends at '\n', one '\r' before it is dropped; tokens are split on spaces only;
//     command names are case-sensitive; an unknown name or a wrong token count is `ERROR`;
//   * a data block is exactly <bytes>+2 bytes; if its last two are not \r\n the whole block is
//     consumed and `CLIENT_ERROR bad data chunk` sent; a block over the item limit is answered
//     `SERVER_ERROR object too large for cache` and skipped without being buffered;
//   * a storage line that is malformed (bad key or number) is answered `CLIENT_ERROR bad
//     command line format` and its data block is NOT skipped: memcached reads it as commands;
//   * `noreply` is "the last token is noreply" (set_noreply_maybe): it also silences the errors
//     those commands answer after reading it, and a surplus last token is otherwise ignored;
//   * `delete <key> 0` (the legacy hold time) is accepted; any other extra token gets the
//     delete usage error.
// Where it differs, on purpose: lines are bounded whatever the read sizes (memcached checks only
// a partial line, and lets get lines grow without bound) and an over-long line gets
// `CLIENT_ERROR line too long` before the close (memcached closes silently); numbers must be
// plain decimals in range (memcached's strtol accepts and truncates 64-bit values). Keys are any
// bytes but the space, as in memcached (protocol.txt forbids control characters, but memcached
// does not check, and memaslap's keys start with eight 0x10 bytes).
//
// Request keys are copies; data blocks are views of the pushed bytes (copy them if that memory
// is reused). Reply constants are shared Buffers: write them, never modify them.

import { assert } from '../../core/assert.js';
import type { ErrorCode } from '../../core/errors.js';
import { errorCodes } from '../../core/errors.js';
import {
  memcachedGetLineBytesMax,
  memcachedItemBytesMaxDefault,
  memcachedKeyBytesMax,
  memcachedLineBytesMax,
  valueBytesCeiling,
  memcachedMultiGetLeadingSpacesMax,
} from '../../core/limits.js';
import { memcachedCrossProtocol } from '../cross-protocol.js';

export type StorageCommand = 'set' | 'add' | 'replace' | 'append' | 'prepend';

/** One parsed request. `exptime` is memcached's raw value: 0 never, < 0 expired at once,
 * <= 30 days relative seconds, else an absolute unix time; the session interprets it.
 * gat/gats may carry no keys (memcached answers a bare END). */
export type MemcachedRequest =
  | { command: 'get' | 'gets'; keys: Buffer[] }
  | { command: 'gat' | 'gats'; exptime: number; keys: Buffer[] }
  | { command: StorageCommand; key: Buffer; flags: number; exptime: number; data: Buffer; noreply: boolean }
  | { command: 'cas'; key: Buffer; flags: number; exptime: number; data: Buffer; casUnique: bigint; noreply: boolean }
  | { command: 'delete'; key: Buffer; noreply: boolean }
  | { command: 'incr' | 'decr'; key: Buffer; delta: bigint; noreply: boolean }
  | { command: 'touch'; key: Buffer; exptime: number; noreply: boolean }
  | { command: 'flush_all'; exptime: number; noreply: boolean }
  | { command: 'stats'; args: string[] }
  | { command: 'version' }
  | { command: 'verbosity'; level: number; noreply: boolean }
  | { command: 'quit' };

export type MemcachedCommand = MemcachedRequest['command'];

/**
 * What the parser yields, in stream order. The session answers each `request` and `error` in
 * order; an `error` whose `noreply` is true is counted but not answered (memcached stays
 * silent). `invalidateKey` is set on a too-large `set`: memcached deletes the key's current
 * value so that a failed set never leaves the old one readable. After `fatal` the session
 * writes `reply` and closes; the parser ignores any further input.
 * A `cross-protocol` fatal (an HTTP request line or `Host:` header: ../cross-protocol.ts) has an
 * empty reply: the connection closes silently, as Redis closes it.
 */
export type MemcachedEvent =
  | { kind: 'request'; request: MemcachedRequest }
  | MemcachedErrorEvent
  | { kind: 'fatal'; code: 'line-too-long' | 'cross-protocol'; reply: Buffer };

export interface MemcachedErrorEvent {
  kind: 'error';
  code: MemcachedErrorCode;
  reply: Buffer;
  noreply: boolean;
  command: MemcachedCommand | undefined;
  invalidateKey: Buffer | undefined;
}

export interface MemcachedParserOptions {
  /** Largest data block accepted (memcached's -I); default memcachedItemBytesMaxDefault. */
  itemBytesMax?: number;
  /** Bytes before '\n' allowed in a line other than get/gets; default memcachedLineBytesMax. */
  lineBytesMax?: number;
  /** Bytes before '\n' allowed in a get/gets line; default memcachedGetLineBytesMax. */
  getLineBytesMax?: number;
}

const line = (text: string): Buffer => Buffer.from(`${text}\r\n`, 'latin1');

/** The exact reply to each parse error. */
export const errorReplies = {
  'unknown-command': line('ERROR'),
  'bad-command-line': line('CLIENT_ERROR bad command line format'),
  'bad-delete-format': line('CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]'),
  'invalid-exptime': line('CLIENT_ERROR invalid exptime argument'),
  'invalid-delta': line('CLIENT_ERROR invalid numeric delta argument'),
  'bad-data-chunk': line('CLIENT_ERROR bad data chunk'),
  'object-too-large': line('SERVER_ERROR object too large for cache'),
  'line-too-long': line('CLIENT_ERROR line too long'),
} as const;

/** Why a request was refused; each has one exact reply line. */
export type MemcachedErrorCode = Exclude<keyof typeof errorReplies, 'line-too-long'>;

/** Replies without arguments (shared Buffers). */
export const replies = {
  stored: line('STORED'),
  notStored: line('NOT_STORED'),
  exists: line('EXISTS'),
  notFound: line('NOT_FOUND'),
  deleted: line('DELETED'),
  touched: line('TOUCHED'),
  ok: line('OK'),
  end: line('END'),
  reset: line('RESET'),
  error: line('ERROR'),
  nonNumeric: line('CLIENT_ERROR cannot increment or decrement non-numeric value'),
} as const;

const SPACE = 0x20;
const CR = 0x0d;
const LF = 0x0a;
const U32_MAX = 0xffff_ffff;
const I32_MIN = -0x8000_0000;
const I32_MAX = 0x7fff_ffff;
const U64_MAX = (1n << 64n) - 1n;
const multiGetHeadBytes = memcachedMultiGetLeadingSpacesMax + 'gets '.length;

type Token = readonly [start: number, end: number];
type StorageHeader = {
  command: StorageCommand | 'cas';
  key: Buffer;
  flags: number;
  exptime: number;
  casUnique: bigint;
  noreply: boolean;
};
type State =
  | { kind: 'line' }
  | { kind: 'data'; header: StorageHeader; blockBytes: number }
  | { kind: 'swallow'; remaining: number }
  | { kind: 'closed' };

/** Checks bytes against memcached's text protocol and turns them into events, incrementally. */
export class MemcachedParser {
  private readonly itemBytesMax: number;
  private readonly lineBytesMax: number;
  private readonly getLineBytesMax: number;
  private state: State = { kind: 'line' };
  /** Bytes of an unfinished line or data block (never of a skipped block). */
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(options: MemcachedParserOptions = {}) {
    this.itemBytesMax = options.itemBytesMax ?? memcachedItemBytesMaxDefault;
    this.lineBytesMax = options.lineBytesMax ?? memcachedLineBytesMax;
    this.getLineBytesMax = options.getLineBytesMax ?? memcachedGetLineBytesMax;
    assert(Number.isSafeInteger(this.itemBytesMax) && this.itemBytesMax >= 0, 'item limit is a count of bytes');
    assert(this.itemBytesMax <= valueBytesCeiling, 'item limit within the value ceiling');
    // A line is judged a multi-get from its head, so the head must fit below the limit.
    assert(Number.isSafeInteger(this.lineBytesMax) && this.lineBytesMax > multiGetHeadBytes, 'line limit');
    assert(Number.isSafeInteger(this.getLineBytesMax) && this.getLineBytesMax >= this.lineBytesMax, 'get lines');
  }

  /** Bytes held for an unfinished line or data block; bounded by the limits. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** True while a request has started but not ended (the session's slow-loris deadline runs). */
  get inRequest(): boolean {
    return this.buffered > 0 || this.state.kind === 'data' || this.state.kind === 'swallow';
  }

  /** True after `quit` or a fatal event: the session closes the connection. */
  get closed(): boolean {
    return this.state.kind === 'closed';
  }

  /** Feeds bytes and returns every event they complete, in order. */
  push(chunk: Uint8Array): MemcachedEvent[] {
    const events: MemcachedEvent[] = [];
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    // Each pass consumes at least one byte or stores the rest, so the loop ends.
    while (data.length > 0) {
      const before = data.length;
      switch (this.state.kind) {
        case 'closed':
          return events;
        case 'line':
          data = this.takeLine(data, events);
          break;
        case 'data':
          data = this.takeBlock(data, this.state, events);
          break;
        case 'swallow':
          data = this.skip(data, this.state);
          break;
      }
      assert(data.length < before, 'the parser makes progress');
    }
    assert(this.buffered <= this.getLineBytesMax + this.itemBytesMax + 2, 'buffered bytes stay bounded');
    return events;
  }

  private takeLine(data: Buffer, events: MemcachedEvent[]): Buffer {
    const newline = data.indexOf(LF);
    const lineBytes = this.buffered + (newline < 0 ? data.length : newline);
    if (lineBytes > this.lineBytesMax) {
      // Still buffering past the line limit means an earlier push judged this line a multi-get.
      const judged = this.buffered > this.lineBytesMax;
      if (lineBytes > this.getLineBytesMax || (!judged && !isMultiGet(this.head(data, multiGetHeadBytes)))) {
        this.chunks = [];
        this.buffered = 0;
        this.state = { kind: 'closed' };
        events.push({ kind: 'fatal', code: 'line-too-long', reply: errorReplies['line-too-long'] });
        return data.subarray(data.length);
      }
    }
    if (newline < 0) {
      this.keep(data);
      return data.subarray(data.length);
    }
    let text = this.join(data.subarray(0, newline));
    if (text.length > 0 && text[text.length - 1] === CR) text = text.subarray(0, text.length - 1);
    this.handleLine(text, events);
    return data.subarray(newline + 1);
  }

  private takeBlock(data: Buffer, state: Extract<State, { kind: 'data' }>, events: MemcachedEvent[]): Buffer {
    const missing = state.blockBytes - this.buffered;
    if (data.length < missing) {
      this.keep(data);
      return data.subarray(data.length);
    }
    const block = this.join(data.subarray(0, missing));
    const { header } = state;
    this.state = { kind: 'line' };
    const end = block.length - 2;
    if (block[end] !== CR || block[end + 1] !== LF) {
      events.push(errorEvent('bad-data-chunk', header.noreply, header.command));
    } else {
      events.push({ kind: 'request', request: storageRequest(header, block.subarray(0, end)) });
    }
    return data.subarray(missing);
  }

  private skip(data: Buffer, state: Extract<State, { kind: 'swallow' }>): Buffer {
    const taken = Math.min(state.remaining, data.length);
    state.remaining -= taken;
    if (state.remaining === 0) this.state = { kind: 'line' };
    return data.subarray(taken);
  }

  private keep(data: Buffer): void {
    this.chunks.push(data);
    this.buffered += data.length;
  }

  /** The kept chunks followed by `tail`, as one Buffer; empties the store. */
  private join(tail: Buffer): Buffer {
    const joined = this.buffered === 0 ? tail : Buffer.concat([...this.chunks, tail], this.buffered + tail.length);
    this.chunks = [];
    this.buffered = 0;
    return joined;
  }

  /** The first `bytes` bytes of the current line (kept chunks, then `data`). */
  private head(data: Buffer, bytes: number): Buffer {
    const parts: Buffer[] = [];
    let length = 0;
    // Stops after `bytes` bytes: a long line fed byte by byte costs no more per push.
    for (let i = 0; i <= this.chunks.length && length < bytes; i++) {
      const part = (this.chunks[i] ?? data).subarray(0, bytes - length);
      parts.push(part);
      length += part.length;
    }
    return Buffer.concat(parts, length);
  }

  private handleLine(text: Buffer, events: MemcachedEvent[]): void {
    const tokens = tokenize(text);
    const name = tokens.length === 0 ? '' : tokenText(text, tokens[0]!);
    if (tokens.length <= 3 && memcachedCrossProtocol(tokens.map((token) => tokenText(text, token))) !== undefined) {
      // An HTTP request line or Host: header (../cross-protocol.ts): closed silently, as Redis does.
      this.chunks = [];
      this.buffered = 0;
      this.state = { kind: 'closed' };
      events.push({ kind: 'fatal', code: 'cross-protocol', reply: Buffer.alloc(0) });
      return;
    }
    const outcome = parseCommand(name, text, tokens, this.itemBytesMax);
    switch (outcome.kind) {
      case 'request':
        events.push(outcome);
        if (outcome.request.command === 'quit') this.state = { kind: 'closed' };
        return;
      case 'error':
        events.push(outcome);
        return;
      case 'data':
        this.state = { kind: 'data', header: outcome.header, blockBytes: outcome.bytes + 2 };
        return;
      case 'too-large':
        events.push(outcome.event);
        this.state = { kind: 'swallow', remaining: outcome.bytes + 2 };
        return;
    }
  }
}

type LineOutcome =
  | Extract<MemcachedEvent, { kind: 'request' | 'error' }>
  | { kind: 'data'; header: StorageHeader; bytes: number }
  | { kind: 'too-large'; event: MemcachedErrorEvent; bytes: number };

function parseCommand(name: string, text: Buffer, tokens: readonly Token[], itemBytesMax: number): LineOutcome {
  const n = tokens.length;
  switch (name) {
    case 'get':
    case 'gets':
      if (n < 2) return errorEvent('unknown-command', false, undefined);
      return retrieval(text, tokens.slice(1), { command: name });
    case 'gat':
    case 'gats': {
      if (n < 2) return errorEvent('unknown-command', false, undefined);
      const exptime = parseI32(text, tokens[1]!);
      if (exptime === undefined) return errorEvent('invalid-exptime', false, name);
      return retrieval(text, tokens.slice(2), { command: name, exptime });
    }
    case 'set':
    case 'add':
    case 'replace':
    case 'append':
    case 'prepend':
      if (n !== 5 && n !== 6) return errorEvent('unknown-command', false, undefined);
      return storage(name, text, tokens, itemBytesMax);
    case 'cas':
      if (n !== 6 && n !== 7) return errorEvent('unknown-command', false, undefined);
      return storage(name, text, tokens, itemBytesMax);
    case 'delete':
      if (n < 2 || n > 4) return errorEvent('unknown-command', false, undefined);
      return deletion(text, tokens);
    case 'incr':
    case 'decr':
    case 'touch':
      if (n !== 3 && n !== 4) return errorEvent('unknown-command', false, undefined);
      return keyAndNumber(name, text, tokens);
    case 'flush_all':
      if (n > 3) return errorEvent('unknown-command', false, undefined);
      return flushAll(text, tokens);
    case 'verbosity': {
      if (n !== 2 && n !== 3) return errorEvent('unknown-command', false, undefined);
      const noreply = lastIsNoreply(text, tokens);
      const level = parseU32(text, tokens[1]!);
      if (level === undefined) return errorEvent('bad-command-line', noreply, name);
      return request({ command: name, level, noreply });
    }
    case 'stats':
      return request({ command: name, args: tokens.slice(1).map((token) => tokenText(text, token)) });
    case 'version':
    case 'quit':
      return request({ command: name });
    default:
      return errorEvent('unknown-command', false, undefined);
  }
}

function retrieval(
  text: Buffer,
  keyTokens: readonly Token[],
  head: { command: 'get' | 'gets' } | { command: 'gat' | 'gats'; exptime: number },
): LineOutcome {
  const keys: Buffer[] = [];
  for (const token of keyTokens) {
    const key = parseKey(text, token);
    // memcached drops the answers it had stacked and sends only the error.
    if (key === undefined) return errorEvent('bad-command-line', false, head.command);
    keys.push(key);
  }
  return request({ ...head, keys });
}

/** set/add/replace/append/prepend <key> <flags> <exptime> <bytes> [noreply]; cas adds <cas unique>. */
function storage(
  command: StorageCommand | 'cas',
  text: Buffer,
  tokens: readonly Token[],
  itemBytesMax: number,
): LineOutcome {
  const noreply = lastIsNoreply(text, tokens);
  const bad = errorEvent('bad-command-line', noreply, command);
  const key = parseKey(text, tokens[1]!);
  if (key === undefined) return bad;
  const flags = parseU32(text, tokens[2]!);
  const exptime = parseI32(text, tokens[3]!);
  const bytes = parseI32(text, tokens[4]!);
  if (flags === undefined || exptime === undefined || bytes === undefined) return bad;
  let casUnique = 0n;
  if (command === 'cas') {
    const parsed = parseU64(text, tokens[5]!);
    if (parsed === undefined) return bad;
    casUnique = parsed;
  }
  if (bytes < 0 || bytes > I32_MAX - 2) return bad;
  if (bytes > itemBytesMax) {
    const invalidateKey = command === 'set' ? key : undefined;
    const event = { ...errorEvent('object-too-large', noreply, command), invalidateKey };
    return { kind: 'too-large', event, bytes };
  }
  return { kind: 'data', header: { command, key, flags, exptime, casUnique, noreply }, bytes };
}

/** delete <key> [0] [noreply]: the 0 is the hold time old clients still send. */
function deletion(text: Buffer, tokens: readonly Token[]): LineOutcome {
  const n = tokens.length;
  let noreply = false;
  if (n > 2) {
    const holdIsZero = tokenText(text, tokens[2]!) === '0';
    noreply = lastIsNoreply(text, tokens);
    const valid = (n === 3 && (holdIsZero || noreply)) || (n === 4 && holdIsZero && noreply);
    if (!valid) return errorEvent('bad-delete-format', noreply, 'delete');
  }
  const key = parseKey(text, tokens[1]!);
  if (key === undefined) return errorEvent('bad-command-line', noreply, 'delete');
  return request({ command: 'delete', key, noreply });
}

/** incr|decr <key> <delta> [noreply] and touch <key> <exptime> [noreply]. */
function keyAndNumber(command: 'incr' | 'decr' | 'touch', text: Buffer, tokens: readonly Token[]): LineOutcome {
  const noreply = lastIsNoreply(text, tokens);
  const key = parseKey(text, tokens[1]!);
  if (key === undefined) return errorEvent('bad-command-line', noreply, command);
  if (command === 'touch') {
    const exptime = parseI32(text, tokens[2]!);
    if (exptime === undefined) return errorEvent('invalid-exptime', noreply, command);
    return request({ command, key, exptime, noreply });
  }
  const delta = parseU64(text, tokens[2]!);
  if (delta === undefined) return errorEvent('invalid-delta', noreply, command);
  return request({ command, key, delta, noreply });
}

/** flush_all [delay] [noreply]: memcached reads the delay unless the only argument is noreply. */
function flushAll(text: Buffer, tokens: readonly Token[]): LineOutcome {
  const noreply = lastIsNoreply(text, tokens);
  let exptime = 0;
  if (tokens.length !== (noreply ? 2 : 1)) {
    const parsed = parseI32(text, tokens[1]!);
    if (parsed === undefined) return errorEvent('invalid-exptime', noreply, 'flush_all');
    exptime = parsed;
  }
  return request({ command: 'flush_all', exptime, noreply });
}

function storageRequest(header: StorageHeader, data: Buffer): MemcachedRequest {
  const { command, key, flags, exptime, casUnique, noreply } = header;
  if (command === 'cas') return { command, key, flags, exptime, data, casUnique, noreply };
  return { command, key, flags, exptime, data, noreply };
}

function request(request: MemcachedRequest): Extract<MemcachedEvent, { kind: 'request' }> {
  return { kind: 'request', request };
}

function errorEvent(
  code: MemcachedErrorCode,
  noreply: boolean,
  command: MemcachedCommand | undefined,
): MemcachedErrorEvent {
  return { kind: 'error', code, reply: errorReplies[code], noreply, command, invalidateKey: undefined };
}

/** Splits a line on spaces, as memcached's tokenizer does (tabs and other bytes stay in tokens). */
function tokenize(text: Buffer): Token[] {
  const tokens: Token[] = [];
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === SPACE) {
      if (start >= 0) tokens.push([start, i]);
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  if (start >= 0) tokens.push([start, text.length]);
  return tokens;
}

function tokenText(text: Buffer, [start, end]: Token): string {
  return text.toString('latin1', start, end);
}

function lastIsNoreply(text: Buffer, tokens: readonly Token[]): boolean {
  return tokenText(text, tokens[tokens.length - 1]!) === 'noreply';
}

/** A key token, copied so that it does not pin the line's memory. */
function parseKey(text: Buffer, [start, end]: Token): Buffer | undefined {
  const key = text.subarray(start, end);
  return isKey(key) ? Buffer.from(key) : undefined;
}

/** 1 to memcachedKeyBytesMax bytes, no space (what memcached checks; tokens are split on spaces). */
function isKey(key: Uint8Array): boolean {
  return key.length > 0 && key.length <= memcachedKeyBytesMax && !key.includes(SPACE);
}

const unsignedPattern = /^\+?[0-9]+$/;
const signedPattern = /^[+-]?[0-9]+$/;

const parseU32 = (text: Buffer, token: Token) => parseNumber(tokenText(text, token), unsignedPattern, 0, U32_MAX);
const parseI32 = (text: Buffer, token: Token) => parseNumber(tokenText(text, token), signedPattern, I32_MIN, I32_MAX);

/** A decimal in [min, max]; memcached's strtol also takes and truncates wider values, this does not. */
function parseNumber(digits: string, pattern: RegExp, min: number, max: number): number | undefined {
  if (!pattern.test(digits)) return undefined;
  const value = Number(digits);
  return value >= min && value <= max ? value : undefined;
}

function parseU64(text: Buffer, token: Token): bigint | undefined {
  const digits = tokenText(text, token);
  if (!unsignedPattern.test(digits)) return undefined;
  const value = BigInt(digits.startsWith('+') ? digits.slice(1) : digits);
  return value <= U64_MAX ? value : undefined;
}

/** memcached keeps buffering a line without '\n' only if it is a multi-get: `get ` or `gets `. */
function isMultiGet(head: Buffer): boolean {
  let start = 0;
  while (start < head.length && head[start] === SPACE) start++;
  if (start > memcachedMultiGetLeadingSpacesMax) return false;
  const text = head.toString('latin1', start, start + 'gets '.length);
  return text.startsWith('get ') || text.startsWith('gets ');
}

// ---- replies

/** One item of a retrieval reply; `cas` is written when present (gets, gats). */
export interface MemcachedItem {
  key: Uint8Array;
  flags: number;
  data: Uint8Array;
  cas?: bigint | undefined;
}

/** `VALUE <key> <flags> <bytes> [<cas unique>]\r\n<data>\r\n` */
export function encodeValue(item: MemcachedItem): Buffer {
  assert(isKey(item.key), 'a VALUE key is a valid memcached key');
  assert(Number.isInteger(item.flags) && item.flags >= 0 && item.flags <= U32_MAX, 'flags are a u32');
  assert(item.cas === undefined || (item.cas >= 0n && item.cas <= U64_MAX), 'cas unique is a u64');
  const suffix = ` ${item.flags} ${item.data.length}${item.cas === undefined ? '' : ` ${item.cas}`}\r\n`;
  const out = Buffer.allocUnsafe(6 + item.key.length + suffix.length + item.data.length + 2);
  let offset = out.write('VALUE ', 0, 'latin1');
  out.set(item.key, offset);
  offset += item.key.length;
  offset += out.write(suffix, offset, 'latin1');
  out.set(item.data, offset);
  offset += item.data.length;
  offset += out.write('\r\n', offset, 'latin1');
  assert(offset === out.length, 'a VALUE block is written whole');
  return out;
}

/** A whole get/gets/gat/gats reply: each found item, then `END\r\n`. */
export function encodeRetrieval(items: readonly MemcachedItem[]): Buffer {
  return Buffer.concat([...items.map(encodeValue), replies.end]);
}

/** The reply to a successful incr/decr: the new value as a decimal line. */
export function encodeNumber(value: bigint): Buffer {
  assert(value >= 0n && value <= U64_MAX, 'incr/decr values are u64');
  return line(value.toString());
}

/** `VERSION <version>\r\n` */
export function encodeVersion(version: string): Buffer {
  assert(isPrintable(version), 'a version is one line');
  return line(`VERSION ${version}`);
}

/** `STAT <name> <value>\r\n` for each entry, then `END\r\n`. */
export function encodeStats(stats: Iterable<readonly [name: string, value: string | number | bigint]>): Buffer {
  const lines: string[] = [];
  for (const [name, value] of stats) {
    assert(name.length > 0 && isPrintable(name) && !name.includes(' '), `stat name ${name} is one word`);
    assert(isPrintable(String(value)), `stat ${name} is one line`);
    lines.push(`STAT ${name} ${value}\r\n`);
  }
  lines.push('END\r\n');
  return Buffer.from(lines.join(''), 'utf8');
}

/** `CLIENT_ERROR <message>\r\n`: the request did not follow the protocol. */
export function encodeClientError(message: string): Buffer {
  assert(isPrintable(message), 'an error message is one line');
  return line(`CLIENT_ERROR ${message}`);
}

/** `SERVER_ERROR <message>\r\n`: the server could not carry the request out. */
export function encodeServerError(message: string): Buffer {
  assert(isPrintable(message), 'an error message is one line');
  return line(`SERVER_ERROR ${message}`);
}

/** A Catena error, in memcached's words where memcached has them. */
export function encodeCatenaError(code: ErrorCode): Buffer {
  switch (code) {
    case 'ERR_KEY_TOO_LARGE':
    case 'ERR_KEY_EMPTY':
    case 'ERR_INVALID_ARGUMENT':
      return errorReplies['bad-command-line'];
    case 'ERR_VALUE_TOO_LARGE':
      return errorReplies['object-too-large'];
    case 'ERR_NOT_AN_INTEGER':
      return replies.nonNumeric;
    case 'ERR_UNKNOWN_COMMAND':
      return replies.error;
    default:
      return encodeServerError(errorCodes[code]);
  }
}

function isPrintable(text: string): boolean {
  return !/[\r\n]/.test(text);
}
