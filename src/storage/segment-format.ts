// The segment log's files and records (segment-log.ts), and the scan that validates a segment's
// bytes when the log opens. Pure: bytes in, offsets and findings out, so every kind of damage is
// tested without a disk.
//
//   a segment file: <dir>/<first sequence, 20 digits>.log, records back to back, then zeros
//
//   record, format 1 (integers big-endian):
//   ┌────────────┬────────┬───────────┬──────────────┬─────────┐
//   │ u32 length │ u8 1   │ u32 crc32 │ u64 sequence │ payload │
//   └────────────┴────────┴───────────┴──────────────┴─────────┘
//   length: the bytes after the length word (13 + payload). crc32 (zlib's): of the format byte,
//   then of the sequence and the payload. A record's sequence is the previous one's plus one; the
//   first record's is the one in the file's name.
//
// A zero length word ends the written data: segments grow on disk in steps of zeros written ahead
// (segment-log.ts), so the bytes after the last record are zeros. A write is torn by a crash only
// at the end of the data: a record at the end that is damaged (short, bad checksum, bad format
// byte, wrong sequence) with nothing but zeros after it was never acknowledged and is cut off. Any
// other damage (non-zero bytes after a damaged record, or a valid record hiding inside a damaged
// one's claimed length, which is what a flipped bit in a length word looks like) is corruption of
// acknowledged records. The rule errs on the safe side: a power loss that kept a later page of the
// last commit but not an earlier one looks like corruption too, and the node refuses to start
// (it rejoins by snapshot) rather than guess.

import { crc32 } from 'node:zlib';
import { logRecordPayloadBytesMax } from '../core/limits.js';

/** The one record format written. */
export const recordFormat = 1;
const formatAt = 4;
const crcAt = 5;
const sequenceAt = 9;
/** Where the payload starts: the bytes a record takes besides its payload. */
export const payloadAt = 17;
const lengthWordEnd = formatAt;
const coveredMin = payloadAt - lengthWordEnd;
const coveredMax = coveredMin + logRecordPayloadBytesMax;
const u32Range = 2 ** 32;
const nameDigits = 20;
const namePattern = /^(\d{20})\.log$/;

/** `00000000000000000042.log` for a segment whose first record has sequence 42. */
export function segmentFileName(first: number): string {
  return `${String(first).padStart(nameDigits, '0')}.log`;
}

/** The first sequence a segment file's name says, or undefined if the name is not a segment's. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = namePattern.exec(name);
  if (match === null) return undefined;
  const first = Number(match[1]);
  return Number.isSafeInteger(first) && first >= 1 ? first : undefined;
}

/** Writes one record at `at` (which must have room for payloadAt + payload bytes); returns where the next one starts. */
export function encodeRecord(out: Buffer, at: number, sequence: number, payload: Uint8Array): number {
  out.writeUInt32BE(payloadAt - lengthWordEnd + payload.length, at);
  out[at + formatAt] = recordFormat;
  out.writeUInt32BE(Math.floor(sequence / u32Range), at + sequenceAt);
  out.writeUInt32BE(sequence % u32Range, at + sequenceAt + 4);
  out.set(payload, at + payloadAt);
  const end = at + payloadAt + payload.length;
  out.writeUInt32BE(checksum(out, at, end), at + crcAt);
  return end;
}

function checksum(bytes: Buffer, at: number, end: number): number {
  return crc32(bytes.subarray(at + sequenceAt, end), crc32(bytes.subarray(at + formatAt, at + crcAt)));
}

function sequenceOf(bytes: Buffer, at: number): number {
  return bytes.readUInt32BE(at + sequenceAt) * u32Range + bytes.readUInt32BE(at + sequenceAt + 4);
}

/**
 * Checks the record at `at` of `bytes`: undefined if it is whole, of format 1, its checksum right
 * and its sequence `sequence`; else what is wrong with it.
 */
export function checkRecord(bytes: Buffer, at: number, sequence: number): string | undefined {
  if (at + lengthWordEnd > bytes.length) return 'its length word is cut short';
  const covered = bytes.readUInt32BE(at);
  if (covered < coveredMin || covered > coveredMax) {
    return `its length word says ${covered} bytes, outside ${coveredMin}..${coveredMax}`;
  }
  const end = at + lengthWordEnd + covered;
  if (end > bytes.length) return `it is cut short (${end - at} bytes long, ${bytes.length - at} there)`;
  if (bytes[at + formatAt] !== recordFormat) return `its format byte is ${bytes[at + formatAt]}, not ${recordFormat}`;
  if (bytes.readUInt32BE(at + crcAt) !== checksum(bytes, at, end)) return 'its checksum does not match';
  const found = sequenceOf(bytes, at);
  if (found !== sequence) return `it holds sequence ${found} where ${sequence} was expected`;
  return undefined;
}

/** The payload of a record that checkRecord passed. */
export function recordPayload(bytes: Buffer, at: number): Buffer {
  return bytes.subarray(at + payloadAt, at + lengthWordEnd + bytes.readUInt32BE(at));
}

/** The first damaged record of a segment, as the scan found it. */
export interface SegmentDamage {
  readonly offset: number;
  readonly reason: string;
  /** Where the damaged record ends by its own length word (offset + 4 when that word is not believable). */
  readonly claimedEnd: number;
}

/** What a segment's bytes hold. */
export interface SegmentScan {
  /** Offset of each valid record, in order; record i has sequence first + i. */
  readonly offsets: number[];
  /** End of the valid records: where the zeros, or the damage, start. */
  readonly end: number;
  /** The first damaged record, or non-zero bytes after the end of data; undefined if there is none. */
  readonly damage: SegmentDamage | undefined;
}

/** Reads a segment's records from its first (sequence `first`) up to the end of data or the first damaged one. */
export function scanSegment(bytes: Buffer, first: number): SegmentScan {
  const offsets: number[] = [];
  let at = 0;
  while (at < bytes.length) {
    const sequence = first + offsets.length;
    if (at + lengthWordEnd > bytes.length || bytes.readUInt32BE(at) === 0) {
      const dirty = firstNonZero(bytes, at);
      if (dirty === undefined) break;
      return { offsets, end: at, damage: { offset: at, reason: endDamage(bytes, at, dirty), claimedEnd: at } };
    }
    const reason = checkRecord(bytes, at, sequence);
    if (reason !== undefined) {
      const covered = bytes.readUInt32BE(at);
      const believable = covered >= coveredMin && covered <= coveredMax;
      const claimedEnd = believable ? at + lengthWordEnd + covered : at + lengthWordEnd;
      return { offsets, end: at, damage: { offset: at, reason, claimedEnd } };
    }
    offsets.push(at);
    at += lengthWordEnd + bytes.readUInt32BE(at);
  }
  return { offsets, end: at, damage: undefined };
}

function endDamage(bytes: Buffer, at: number, dirty: number): string {
  return at + lengthWordEnd > bytes.length
    ? `the last ${bytes.length - at} bytes are too few for a record but not zeros`
    : `the data ends (a zero length word) but non-zero bytes follow at offset ${dirty}`;
}

function firstNonZero(bytes: Buffer, from: number): number | undefined {
  for (let at = from; at < bytes.length; at++) if (bytes[at] !== 0) return at;
  return undefined;
}

/**
 * Whether the damage a scan found in the LAST segment is a torn write: the damaged record, as far
 * as its own length word reaches, is followed by zeros only, and no valid record with a later
 * sequence starts inside it. Returns the bytes to cut off, or why it is corruption instead.
 */
export function judgeTail(
  bytes: Buffer,
  scan: SegmentScan,
  first: number,
): { torn: true; tornBytes: number } | { torn: false; reason: string } {
  const damage = scan.damage;
  if (damage === undefined) return { torn: true, tornBytes: 0 };
  const reach = Math.min(Math.max(damage.claimedEnd, damage.offset + 1), bytes.length);
  const dirty = firstNonZero(bytes, reach);
  if (dirty !== undefined) {
    return { torn: false, reason: `${damage.reason}, and non-zero bytes follow it at offset ${dirty}` };
  }
  const expected = first + scan.offsets.length;
  for (let at = damage.offset + 1; at + payloadAt <= reach; at++) {
    if (bytes[at + formatAt] !== recordFormat) continue;
    const found = sequenceOf(bytes, at);
    if (found <= expected || found > expected + bytes.length / payloadAt) continue;
    if (checkRecord(bytes, at, found) === undefined) {
      return {
        torn: false,
        reason: `${damage.reason}, and a valid record (sequence ${found}) starts inside it at offset ${at}`,
      };
    }
  }
  return { torn: true, tornBytes: reach - damage.offset };
}
