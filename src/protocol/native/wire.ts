// Protobuf wire-format primitives for the hand-written message codec (codec.ts): tags, varint
// sizes and writers (plain numbers on the fast path, bigints only past 2^53), zigzag, a pooled
// output allocator, and a bounds-checked Reader. The Reader throws WireError on malformed input;
// codec.ts turns that into a value, so nothing here is seen by callers as an exception.
//
// Varints follow protobuf-es exactly: at most 10 bytes, bits past 64 ignored, uint32 fields keep
// the low 32 bits. Tags are at most 5 bytes, field number 0 and wire types 6/7 are invalid.

import { wirePoolBytes, wirePooledBytesMax } from '../../core/limits.js';

export const VARINT = 0;
export const FIXED64 = 1;
export const LEN = 2;
export const START_GROUP = 3;
export const END_GROUP = 4;
export const FIXED32 = 5;

/** A field's tag: field number and wire type packed into one varint. */
export function tag(field: number, wireType: number): number {
  return (field << 3) | wireType;
}

const UINT64_MAX = 2n ** 64n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** |v| below this: the zigzag of v is a safe integer, computed with plain numbers. */
const ZIGZAG_SAFE = 2 ** 52;

export const isUint32 = (n: number): boolean => n >>> 0 === n;

// ---------------------------------------------------------------------------------------------
// Writing. Every writer takes the position to write at and returns the position after it; the
// caller has sized the buffer exactly beforehand.

/** Bytes of the varint encoding of n, a non-negative safe integer. */
export function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  if (n < 2 ** 35) return 5;
  if (n < 2 ** 42) return 6;
  if (n < 2 ** 49) return 7;
  return 8; // every safe integer is below 2^56
}

/** Writes n, a non-negative safe integer, as a varint. */
export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n > 0xffffffff) {
    // `& 0x7f` is exact past 2^32 (ToInt32 keeps the low bits); division by 128 is exact.
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  while (n > 0x7f) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
  return pos;
}

/** Bytes of the varint encoding of v as a uint64, or -1 when v is out of range. */
export function uint64Size(v: bigint): number {
  // Number(v) is exact up to MAX_SAFE_INTEGER, and past it never rounds back below it.
  const n = Number(v);
  if (n >= 0 && n <= Number.MAX_SAFE_INTEGER) return varintSize(n);
  if (v < 0n || v > UINT64_MAX) return -1;
  return v < 2n ** 56n ? 8 : v < 2n ** 63n ? 9 : 10;
}

/** Writes v, 0 <= v < 2^64, as a varint. */
export function writeUint64(buf: Uint8Array, pos: number, v: bigint): number {
  const n = Number(v);
  if (n <= Number.MAX_SAFE_INTEGER) return writeVarint(buf, pos, n);
  while (v > 0x7fn) {
    buf[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
  return pos;
}

/** The zigzag encoding of a sint64 as a number, or undefined when it is not a safe integer. */
function zigzagNumber(v: bigint): number | undefined {
  const n = Number(v);
  if (n >= ZIGZAG_SAFE || n <= -ZIGZAG_SAFE) return undefined;
  return n < 0 ? -2 * n - 1 : 2 * n;
}

const zigzagBig = (v: bigint): bigint => (v < 0n ? (-v << 1n) - 1n : v << 1n);

/** Bytes of the zigzag varint encoding of v as a sint64, or -1 when v is out of range. */
export function sint64Size(v: bigint): number {
  const z = zigzagNumber(v);
  if (z !== undefined) return varintSize(z);
  if (v < INT64_MIN || v > INT64_MAX) return -1;
  return uint64Size(zigzagBig(v));
}

/** Writes v, a signed 64-bit value, as a zigzag varint. */
export function writeSint64(buf: Uint8Array, pos: number, v: bigint): number {
  const z = zigzagNumber(v);
  return z === undefined ? writeUint64(buf, pos, zigzagBig(v)) : writeVarint(buf, pos, z);
}

const utf8Encoder = new TextEncoder();

/** Bytes of a string's UTF-8 encoding (lone surrogates count as U+FFFD, as TextEncoder writes them). */
export const utf8Size = (text: string): number => Buffer.byteLength(text, 'utf8');

/** Writes a string's UTF-8 encoding, utf8Size(text) bytes. */
export function writeUtf8(buf: Uint8Array, pos: number, text: string, size: number): number {
  utf8Encoder.encodeInto(text, buf.subarray(pos, pos + size));
  return pos + size;
}

// Output buffers are carved from a shared pool, as Buffer.allocUnsafe does, but as plain
// Uint8Arrays (the type protobuf-es returns). A small `new Uint8Array(n)` is slower: past 64
// bytes V8 gives it its own zeroed backing store. Large messages get a buffer of their own.
let pool: Uint8Array = Buffer.allocUnsafeSlow(0);
let poolOffset = 0;

/** An uninitialised Uint8Array of exactly `size` bytes; the caller fills every byte. */
export function allocate(size: number): Uint8Array {
  if (size > wirePooledBytesMax) {
    const own = Buffer.allocUnsafeSlow(size);
    return new Uint8Array(own.buffer, own.byteOffset, size);
  }
  if (poolOffset + size > pool.length) {
    pool = Buffer.allocUnsafeSlow(wirePoolBytes);
    poolOffset = 0;
  }
  const bytes = new Uint8Array(pool.buffer, pool.byteOffset + poolOffset, size);
  poolOffset = (poolOffset + size + 7) & ~7; // keep slices 8-byte aligned, as Node's pool does
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Reading.

/** Malformed input; codec.ts reports it as a decode failure. */
export class WireError extends Error {}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A cursor over one message. `end` is the limit of the message being read: entering a nested
 * message narrows it, so no read can run past the message that contains it. Every read checks
 * bounds before touching a byte, and every length is checked against `end` before it is used.
 */
export class Reader {
  pos = 0;
  end: number;
  /** Low and high 32 bits of the last varint read. */
  private lo = 0;
  private hi = 0;

  constructor(private readonly buf: Uint8Array) {
    this.end = buf.length;
  }

  more(): boolean {
    return this.pos < this.end;
  }

  /** Reads a tag, validated: field number >= 1, wire type 0, 1, 2 or 5 (groups are rejected). */
  tag(): number {
    const start = this.pos;
    this.varint();
    if (this.hi !== 0 || this.pos - start > 5) throw new WireError('tag overflows uint32');
    const t = this.lo >>> 0;
    const wireType = t & 7;
    if (t >>> 3 === 0) throw new WireError('field number 0');
    if (wireType === START_GROUP || wireType === END_GROUP)
      throw new WireError(`field ${t >>> 3} uses the unsupported group wire type`);
    if (wireType > FIXED32) throw new WireError(`field ${t >>> 3} has invalid wire type ${wireType}`);
    return t;
  }

  uint32(t: number): number {
    this.expect(t, VARINT);
    this.varint();
    return this.lo >>> 0;
  }

  uint64(t: number): bigint {
    this.expect(t, VARINT);
    this.varint();
    return this.unsigned();
  }

  sint64(t: number): bigint {
    this.expect(t, VARINT);
    this.varint();
    const hi = this.hi >>> 0;
    const lo = this.lo >>> 0;
    if (hi < 0x200000) {
      const z = hi * 2 ** 32 + lo;
      return BigInt(z % 2 === 1 ? -(z + 1) / 2 : z / 2);
    }
    const z = this.unsigned();
    return (z >> 1n) ^ -(z & 1n);
  }

  bool(t: number): boolean {
    this.expect(t, VARINT);
    this.varint();
    return this.lo !== 0 || this.hi !== 0;
  }

  /** A bytes field: a view of the input, not a copy. */
  bytes(t: number): Uint8Array {
    this.expect(t, LEN);
    const length = this.length();
    const start = this.pos;
    this.pos = start + length;
    return this.buf.subarray(start, this.pos);
  }

  /** A string field; invalid UTF-8 is an error (proto3 strings are checked, as by protobuf-es). */
  string(t: number): string {
    const bytes = this.bytes(t);
    try {
      return strictUtf8.decode(bytes);
    } catch {
      throw new WireError(`field ${t >>> 3} is not valid UTF-8`);
    }
  }

  /**
   * Reads a length-delimited field as a nested message: `read` sees a reader limited to it.
   * `previous` is the value already decoded for the same field, which the new one merges into.
   */
  message<T>(t: number, read: (r: Reader, previous: T | undefined) => T, previous: T | undefined): T {
    const outerEnd = this.end;
    this.enter(t);
    const value = read(this, previous);
    this.end = outerEnd;
    return value;
  }

  /** Skips a field this reader does not know. */
  skip(t: number): void {
    switch (t & 7) {
      case VARINT:
        this.varint();
        return;
      case FIXED64:
        this.advance(8);
        return;
      case LEN:
        this.advance(this.length());
        return;
      case FIXED32:
        this.advance(4);
        return;
      default:
        throw new WireError(`cannot skip wire type ${t & 7}`); // tag() already rejected it
    }
  }

  /** Narrows `end` to the length-delimited field at the cursor. */
  private enter(t: number): void {
    this.expect(t, LEN);
    const length = this.length(); // advances pos past the length prefix
    this.end = this.pos + length;
  }

  private length(): number {
    this.varint();
    const length = this.lo >>> 0;
    if (this.hi !== 0 || length > this.end - this.pos)
      throw new WireError('length-delimited field runs past the end of its message');
    return length;
  }

  private advance(bytes: number): void {
    if (bytes > this.end - this.pos) throw new WireError('fixed-width field runs past the end of its message');
    this.pos += bytes;
  }

  private expect(t: number, wireType: number): void {
    if ((t & 7) !== wireType) throw new WireError(`field ${t >>> 3} has wire type ${t & 7}, expected ${wireType}`);
  }

  private unsigned(): bigint {
    const hi = this.hi >>> 0;
    const lo = this.lo >>> 0;
    if (hi < 0x200000) return BigInt(hi * 2 ** 32 + lo); // below 2^53: exact as a number
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** Reads a varint of at most 10 bytes into lo/hi (as protobuf-es: bits past 64 are dropped). */
  private varint(): void {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    let lo = 0;
    // Bytes 1-4 carry bits 0-27.
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) throw truncatedVarint();
      const byte = buf[pos++]!;
      lo |= (byte & 0x7f) << shift;
      if (byte < 0x80) return this.settle(pos, lo, 0);
    }
    // Byte 5 carries bits 28-34, split between the two words.
    if (pos >= end) throw truncatedVarint();
    const middle = buf[pos++]!;
    lo |= (middle & 0x0f) << 28;
    let hi = (middle & 0x70) >> 4;
    if (middle < 0x80) return this.settle(pos, lo, hi);
    // Bytes 6-10 carry bits 35-63 (of the tenth byte only its lowest bit counts).
    for (let shift = 3; shift <= 31; shift += 7) {
      if (pos >= end) throw truncatedVarint();
      const byte = buf[pos++]!;
      hi |= (byte & 0x7f) << shift;
      if (byte < 0x80) return this.settle(pos, lo, hi);
    }
    throw new WireError('varint longer than 10 bytes');
  }

  private settle(pos: number, lo: number, hi: number): void {
    this.pos = pos;
    this.lo = lo;
    this.hi = hi;
  }
}

const truncatedVarint = (): WireError => new WireError('truncated varint');
