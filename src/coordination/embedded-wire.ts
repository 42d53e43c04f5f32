// Wire protocol of the embedded coordinator (embedded-coordinator.ts): newline-delimited JSON
// over loopback TCP, one message per line, znode data in base64. Pure: encoders, a bounded line
// splitter and strict validators, no sockets. Any line over `embeddedFrameBytesMax`, or one that
// is not a well-formed message, means the peer is broken or hostile: the receiver closes the
// connection (it never guesses where the next message starts).
//
//   client                                   server
//                                            ◀─  challenge {nonce}       (first, on every connection)
//   hello {timeoutMs[, session, password, ack][, proof]}
//                                            ─▶  welcome {session, password, timeoutMs}
//                                                ◀─  | expired            (then the server hangs up)
//                                                ◀─  | refused {reason}   (no or a wrong proof: hangs up)
//
// A server started with the cluster secret takes a hello only with `proof`: the HMAC of the
// challenge under a key derived from the secret (coordinatorProof), so a client that cannot
// read the secret cannot open or resume a session, and a recorded hello is worth nothing on the
// next connection.
//   req {id, op}                             ─▶  res {id, ok: true, result} | {id, ok: false, code}
//   ping {ack}                               ─▶  pong
//   close {id}                               ─▶  res {id, ok: true}      (session ended)
//                                            ◀─  event {seq, type, path} (watch fired)
//
// Watch events carry a per-session sequence number. The client acknowledges the last one it
// has seen in every ping and in `hello` when it resumes; the server keeps unacknowledged events
// and sends them again on resume, so an event written to a connection that died is not lost.

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CoordinatorErrorCode, CreateMode, WatchEventType } from './coordinator.js';
import { embeddedFrameBytesMax } from '../core/limits.js';
import { deriveKey } from '../core/secret.js';

export type WireMultiOp =
  | { kind: 'create'; path: string; data: string; mode: CreateMode }
  | { kind: 'set'; path: string; data: string; version: number }
  | { kind: 'delete'; path: string; version: number }
  | { kind: 'check'; path: string; version: number };

export type WireOp =
  | WireMultiOp
  | { kind: 'get'; path: string; watch: boolean }
  | { kind: 'exists'; path: string; watch: boolean }
  | { kind: 'children'; path: string; watch: boolean }
  | { kind: 'multi'; ops: WireMultiOp[] };

export type ClientMessage =
  | { t: 'hello'; timeoutMs: number; session?: string; password?: string; ack?: number; proof?: string }
  | { t: 'req'; id: number; op: WireOp }
  | { t: 'ping'; ack: number }
  | { t: 'close'; id: number };

/** What a successful request returns: a path (create), data (get), a version, names, or nothing. */
export type WireResult = string | number | string[] | { data: string; version: number } | null;

export type ServerMessage =
  | { t: 'challenge'; nonce: string }
  | { t: 'refused'; reason: string }
  | { t: 'welcome'; session: string; password: string; timeoutMs: number }
  | { t: 'expired' }
  | { t: 'res'; id: number; ok: true; result: WireResult }
  | { t: 'res'; id: number; ok: false; code: CoordinatorErrorCode; message: string }
  | { t: 'pong' }
  | { t: 'event'; seq: number; type: WatchEventType; path: string };

/** The proof a client sends in its hello: HMAC of the challenge (base64) under a key derived from the secret. */
export function coordinatorProof(secret: Uint8Array, nonce: string): string {
  return createHmac('sha256', deriveKey(secret, 'catena embedded coordinator v1'))
    .update(nonce, 'utf8')
    .digest('base64');
}

/** True when `proof` answers `nonce` under `secret` (compared in constant time). */
export function verifyCoordinatorProof(secret: Uint8Array, nonce: string, proof: string | undefined): boolean {
  if (proof === undefined) return false;
  const expected = Buffer.from(coordinatorProof(secret, nonce), 'base64');
  const given = Buffer.from(proof, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function encodeMessage(message: ClientMessage | ServerMessage): string {
  return `${JSON.stringify(message)}\n`;
}

/**
 * Splits a byte stream into lines without ever holding more than `lineBytesMax` bytes of an
 * unfinished line. After it reports 'too-long' the stream is out of step: close the connection.
 */
export class LineSplitter {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly lineBytesMax: number = embeddedFrameBytesMax) {}

  /** Bytes of an unfinished line held now. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): { lines: string[] } | { error: 'too-long' } {
    const lines: string[] = [];
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline >= 0; newline = chunk.indexOf(0x0a, start)) {
      if (this.buffered + newline - start > this.lineBytesMax) return { error: 'too-long' };
      this.chunks.push(chunk.subarray(start, newline));
      lines.push(Buffer.concat(this.chunks).toString('utf8'));
      this.chunks = [];
      this.buffered = 0;
      start = newline + 1;
    }
    const rest = chunk.length - start;
    if (this.buffered + rest > this.lineBytesMax) return { error: 'too-long' };
    if (rest > 0) {
      this.chunks.push(chunk.subarray(start));
      this.buffered += rest;
    }
    return { lines };
  }
}

const createModes: readonly CreateMode[] = ['persistent', 'ephemeral', 'persistent-sequential', 'ephemeral-sequential'];
const eventTypes: readonly WatchEventType[] = ['created', 'deleted', 'data-changed', 'children-changed'];
const errorCodes: readonly CoordinatorErrorCode[] = [
  'no-node',
  'node-exists',
  'bad-version',
  'not-empty',
  'no-children-for-ephemerals',
  'bad-arguments',
  'connection-loss',
  'session-expired',
  'closed',
];
const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/;

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
function isString(value: unknown): value is string {
  return typeof value === 'string';
}
function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}
function isVersion(value: unknown): value is number {
  return isInteger(value) && value >= -1;
}
function isBase64(value: unknown): value is string {
  return isString(value) && value.length % 4 === 0 && base64Pattern.test(value);
}
function isOneOf<T extends string>(values: readonly T[], value: unknown): value is T {
  return isString(value) && (values as readonly string[]).includes(value);
}

function parseObject(line: string): Fields | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined; // the caller reports the malformed line and closes the connection
  }
}

function decodeMultiOp(op: Fields): WireMultiOp | undefined {
  const path = op['path'];
  if (!isString(path)) return undefined;
  switch (op['kind']) {
    case 'create':
      return isBase64(op['data']) && isOneOf(createModes, op['mode'])
        ? { kind: 'create', path, data: op['data'], mode: op['mode'] }
        : undefined;
    case 'set':
      return isBase64(op['data']) && isVersion(op['version'])
        ? { kind: 'set', path, data: op['data'], version: op['version'] }
        : undefined;
    case 'delete':
    case 'check':
      return isVersion(op['version']) ? { kind: op['kind'], path, version: op['version'] } : undefined;
    default:
      return undefined;
  }
}

function decodeOp(op: unknown): WireOp | undefined {
  if (!isObject(op)) return undefined;
  const kind = op['kind'];
  if (kind === 'get' || kind === 'exists' || kind === 'children') {
    const path = op['path'];
    const watch = op['watch'];
    return isString(path) && typeof watch === 'boolean' ? { kind, path, watch } : undefined;
  }
  if (kind === 'multi') {
    const ops = op['ops'];
    if (!Array.isArray(ops)) return undefined;
    const decoded = ops.map((item) => (isObject(item) ? decodeMultiOp(item) : undefined));
    return decoded.every((item) => item !== undefined) ? { kind, ops: decoded as WireMultiOp[] } : undefined;
  }
  return decodeMultiOp(op);
}

function decodeHello(message: Fields): ClientMessage | undefined {
  const { timeoutMs, session, password, ack, proof } = message;
  if (!isInteger(timeoutMs) || timeoutMs <= 0) return undefined;
  if (proof !== undefined && !isBase64(proof)) return undefined;
  const proved = proof === undefined ? {} : { proof };
  if (session === undefined && password === undefined && ack === undefined) return { t: 'hello', timeoutMs, ...proved };
  if (!isString(session) || !isString(password) || !isInteger(ack) || ack < 0) return undefined;
  return { t: 'hello', timeoutMs, session, password, ack, ...proved };
}

/** Decodes one line from a client, or undefined if it is not a valid message. */
export function decodeClientMessage(line: string): ClientMessage | undefined {
  const message = parseObject(line);
  if (message === undefined) return undefined;
  switch (message['t']) {
    case 'hello':
      return decodeHello(message);
    case 'req': {
      const op = decodeOp(message['op']);
      return isInteger(message['id']) && op !== undefined ? { t: 'req', id: message['id'], op } : undefined;
    }
    case 'ping':
      return isInteger(message['ack']) && message['ack'] >= 0 ? { t: 'ping', ack: message['ack'] } : undefined;
    case 'close':
      return isInteger(message['id']) ? { t: 'close', id: message['id'] } : undefined;
    default:
      return undefined;
  }
}

function decodeResult(value: unknown): WireResult | undefined {
  if (value === null || isString(value) || isInteger(value)) return value;
  if (Array.isArray(value)) return value.every(isString) ? value : undefined;
  if (isObject(value) && isBase64(value['data']) && isInteger(value['version'])) {
    return { data: value['data'], version: value['version'] };
  }
  return undefined;
}

function decodeResponse(message: Fields): ServerMessage | undefined {
  const id = message['id'];
  if (!isInteger(id)) return undefined;
  if (message['ok'] === true) {
    const result = decodeResult(message['result']);
    return result === undefined ? undefined : { t: 'res', id, ok: true, result };
  }
  const { code, message: text } = message;
  return message['ok'] === false && isOneOf(errorCodes, code) && isString(text)
    ? { t: 'res', id, ok: false, code, message: text }
    : undefined;
}

/** Decodes one line from the server, or undefined if it is not a valid message. */
export function decodeServerMessage(line: string): ServerMessage | undefined {
  const message = parseObject(line);
  if (message === undefined) return undefined;
  switch (message['t']) {
    case 'challenge':
      return isBase64(message['nonce']) ? { t: 'challenge', nonce: message['nonce'] } : undefined;
    case 'refused':
      return isString(message['reason']) ? { t: 'refused', reason: message['reason'] } : undefined;
    case 'welcome': {
      const { session, password, timeoutMs } = message;
      return isString(session) && isString(password) && isInteger(timeoutMs) && timeoutMs > 0
        ? { t: 'welcome', session, password, timeoutMs }
        : undefined;
    }
    case 'expired':
      return { t: 'expired' };
    case 'pong':
      return { t: 'pong' };
    case 'res':
      return decodeResponse(message);
    case 'event': {
      const { seq, type, path } = message;
      return isInteger(seq) && isOneOf(eventTypes, type) && isString(path)
        ? { t: 'event', seq, type, path }
        : undefined;
    }
    default:
      return undefined;
  }
}
