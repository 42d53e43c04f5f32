// The on-disk form of the replica's records (docs/design.md §5): log entries in a binary layout
// that opens with a format byte, and checks of the meta records read back (so no value from disk
// reaches the replica as an unchecked cast).
//
//   log entry, format 1:
//   ┌────┬───────┬───────┬────────────────┬───────┬──────────┬───────────┬─────────────┬─────────┐
//   │ u8 │ u8    │ f64   │ f64            │ f64   │ u16 + id │ u32 + req │ [u32 n, n × │ [u32 +  │
//   │ 1  │ flags │ epoch │ clientSequence │ nowMs │ (utf-8)  │ (bytes)   │ u32 + key]  │ result] │
//   └────┴───────┴───────┴────────────────┴───────┴──────────┴───────────┴─────────────┴─────────┘
//   flags: bit 0 reclaim keys follow, bit 1 a result follows. All integers big-endian.
//
// Records written before the format byte existed are msgpack maps ({e, c, s, t, r, g?, x}); a
// msgpack map never starts with byte 1, so they are still read (and never written).

import { unpack } from 'msgpackr';
import { CatenaError } from '../core/errors.js';
import type { FrozenRange, LogPosition, LogRecord, StoredClient } from './log-store.js';

const formatV1 = 1;
const flagReclaim = 1;
const flagResult = 2;
const headerBytes = 1 + 1 + 8 + 8 + 8;

export function encodeLogRecord(record: LogRecord): Buffer {
  const clientId = Buffer.from(record.clientId, 'utf8');
  let bytes = headerBytes + 2 + clientId.length + 4 + record.request.length;
  if (record.reclaim !== undefined) bytes += 4 + record.reclaim.reduce((sum, key) => sum + 4 + key.length, 0);
  if (record.result !== undefined) bytes += 4 + record.result.length;
  const out = Buffer.allocUnsafe(bytes);
  out[0] = formatV1;
  out[1] = (record.reclaim === undefined ? 0 : flagReclaim) | (record.result === undefined ? 0 : flagResult);
  out.writeDoubleBE(record.epoch, 2);
  out.writeDoubleBE(record.clientSequence, 10);
  out.writeDoubleBE(record.nowMs, 18);
  let at = headerBytes;
  at = out.writeUInt16BE(clientId.length, at);
  at += clientId.copy(out, at);
  at = putBytes(out, at, record.request);
  if (record.reclaim !== undefined) {
    at = out.writeUInt32BE(record.reclaim.length, at);
    for (const key of record.reclaim) at = putBytes(out, at, key);
  }
  if (record.result !== undefined) putBytes(out, at, record.result);
  return out;
}

function putBytes(out: Buffer, at: number, bytes: Uint8Array): number {
  const next = out.writeUInt32BE(bytes.length, at);
  out.set(bytes, next);
  return next + bytes.length;
}

/** Decodes a stored log entry; a record that does not decode is corruption (ERR_STORAGE). */
export function decodeLogRecord(buffer: Uint8Array): LogRecord {
  const data = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.length);
  if (data[0] === formatV1) return decodeV1(data);
  const first = data[0] ?? 0;
  if ((first >= 0x80 && first <= 0x8f) || first === 0xde || first === 0xdf) return decodeLegacy(data);
  throw corrupt(`unknown format ${first}`);
}

function decodeV1(data: Buffer): LogRecord {
  const reader = new Reader(data, headerBytes);
  if (data.length < headerBytes) throw corrupt('too short');
  const flags = data[1]!;
  const clientId = reader.bytes(reader.u16()).toString('utf8');
  const request = reader.bytes(reader.u32());
  let reclaim: Uint8Array[] | undefined;
  if ((flags & flagReclaim) !== 0) {
    const count = reader.u32();
    reclaim = [];
    for (let i = 0; i < count; i++) reclaim.push(reader.bytes(reader.u32()));
  }
  const result = (flags & flagResult) !== 0 ? reader.bytes(reader.u32()) : undefined;
  if (reader.at !== data.length) throw corrupt('trailing bytes');
  return {
    epoch: data.readDoubleBE(2),
    clientSequence: data.readDoubleBE(10),
    nowMs: data.readDoubleBE(18),
    clientId,
    request,
    reclaim,
    result,
  };
}

class Reader {
  constructor(
    private readonly data: Buffer,
    public at: number,
  ) {}
  u16(): number {
    if (this.at + 2 > this.data.length) throw corrupt('truncated');
    this.at += 2;
    return this.data.readUInt16BE(this.at - 2);
  }
  u32(): number {
    if (this.at + 4 > this.data.length) throw corrupt('truncated');
    this.at += 4;
    return this.data.readUInt32BE(this.at - 4);
  }
  bytes(length: number): Buffer {
    if (this.at + length > this.data.length) throw corrupt('truncated');
    this.at += length;
    return this.data.subarray(this.at - length, this.at);
  }
}

function decodeLegacy(data: Buffer): LogRecord {
  let value: unknown;
  try {
    value = unpack(data);
  } catch (error) {
    throw corrupt(`legacy record: ${String(error)}`);
  }
  const r = value as Record<string, unknown>;
  const bytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r['e'] !== 'number' ||
    typeof r['c'] !== 'string' ||
    typeof r['s'] !== 'number' ||
    typeof r['t'] !== 'number' ||
    !bytes(r['r']) ||
    !(r['x'] === undefined || r['x'] === null || bytes(r['x'])) ||
    !(r['g'] === undefined || (Array.isArray(r['g']) && r['g'].every(bytes)))
  ) {
    throw corrupt('legacy record of the wrong shape');
  }
  return {
    epoch: r['e'],
    clientId: r['c'],
    clientSequence: r['s'],
    nowMs: r['t'],
    request: r['r'],
    reclaim: r['g'] as Uint8Array[] | undefined,
    result: bytes(r['x']) ? r['x'] : undefined,
  };
}

function corrupt(reason: string): CatenaError {
  return new CatenaError('ERR_STORAGE', `a log record does not decode (${reason})`);
}

// ---- meta records, checked when read back --------------------------------------------------

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function metaError(name: string): CatenaError {
  return new CatenaError('ERR_STORAGE', `the meta record '${name}' has the wrong shape`);
}

export function readPosition(name: string, value: unknown): LogPosition | undefined {
  if (value === undefined || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v !== 'object' || !isCount(v['lastSequence']) || !isCount(v['lastEpoch'])) throw metaError(name);
  return { lastSequence: v['lastSequence'], lastEpoch: v['lastEpoch'] };
}

export function readClient(name: string, value: unknown): StoredClient {
  const v = value as Record<string, unknown>;
  const result = v?.['result'];
  if (
    typeof v !== 'object' ||
    v === null ||
    !isCount(v['clientSequence']) ||
    !isCount(v['sequence']) ||
    !(result === undefined || result === null || result instanceof Uint8Array)
  ) {
    throw metaError(name);
  }
  return {
    clientSequence: v['clientSequence'],
    sequence: v['sequence'],
    result: result instanceof Uint8Array ? result : undefined,
  };
}

export function readFrozen(name: string, value: unknown): FrozenRange[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw metaError(name);
  return value.map((item: unknown) => {
    const r = item as Record<string, unknown>;
    if (
      typeof r !== 'object' ||
      r === null ||
      !isCount(r['first']) ||
      !isCount(r['last']) ||
      typeof r['to'] !== 'string' ||
      !(r['handedAt'] === undefined || r['handedAt'] === null || isCount(r['handedAt']))
    ) {
      throw metaError(name);
    }
    const range = { first: r['first'], last: r['last'], to: r['to'] };
    return isCount(r['handedAt']) ? { ...range, handedAt: r['handedAt'] } : range;
  });
}
