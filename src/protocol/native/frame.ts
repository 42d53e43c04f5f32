// Frame layer of the native protocol: `u32 big-endian length | body`. A pure, incremental
// decoder: bytes in (any split), whole frame bodies out. The declared length is checked against
// the limit as soon as the 4-byte prefix is complete, before a byte of the body is buffered, so a
// hostile length prefix costs no memory (pg-protocol's unbounded buffer is the counter-example).
// An oversized frame is skipped, not buffered: its first bytes are kept (they hold the request
// id, so the error can name the request) and the rest is discarded, and the stream stays in step.
//
//   prefix --4 bytes, length <= max--> body --length bytes--> emit 'frame' --> prefix
//      \----4 bytes, length  > max--> skip --length bytes--> emit 'too-large' --> prefix

import { assert } from '../../core/assert.js';
import { framePrefixBytes, oversizedFrameHeadBytes } from '../../core/limits.js';

export type FrameEvent =
  { kind: 'frame'; body: Uint8Array } | { kind: 'too-large'; declaredBytes: number; head: Uint8Array };

export function encodeFrame(body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(framePrefixBytes + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, framePrefixBytes);
  return frame;
}

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Body length once the prefix is read, else -1. */
  private expected = -1;
  /** While skipping an oversized frame: bytes still to discard, and the kept head. */
  private skip: { declared: number; remaining: number; head: Buffer } | undefined;

  /** Frames (or oversized frames) decoded so far. */
  private frames = 0;

  /**
   * `firstBodyBytesMax` limits the first frame alone (a greeting: a connection that has not
   * said who it is gets no large buffer); every later frame may take up to `bodyBytesMax`.
   */
  constructor(
    private readonly bodyBytesMax: number,
    private readonly firstBodyBytesMax = bodyBytesMax,
  ) {
    assert(bodyBytesMax > 0 && bodyBytesMax < 2 ** 32, 'frame limit fits the prefix');
    assert(firstBodyBytesMax > 0 && firstBodyBytesMax <= bodyBytesMax, 'the first frame limit is the smaller');
  }

  /** True while a frame has started but not ended (the slow-loris deadline runs). */
  get inFrame(): boolean {
    return this.buffered > 0 || this.expected >= 0 || this.skip !== undefined;
  }

  /** The declared size of an oversized frame being skipped now, else undefined (a peer refuses it at once). */
  get oversizedBytes(): number | undefined {
    return this.skip?.declared;
  }

  /** Feeds bytes and returns every event they complete, in order. */
  push(chunk: Uint8Array): FrameEvent[] {
    const events: FrameEvent[] = [];
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.skip !== undefined) {
      data = this.skipBytes(data, events);
      if (data.length === 0) return events;
    }
    // Chunks are joined only once a whole prefix or body is present, so a large frame arriving
    // in many small chunks is copied once, not once per chunk.
    this.chunks.push(data);
    this.buffered += data.length;
    if (this.buffered < (this.expected < 0 ? framePrefixBytes : this.expected)) return events;
    data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    let offset = 0;
    for (;;) {
      if (this.expected < 0) {
        if (data.length - offset < framePrefixBytes) break;
        const declared = data.readUInt32BE(offset);
        offset += framePrefixBytes;
        if (declared > (this.frames === 0 ? this.firstBodyBytesMax : this.bodyBytesMax)) {
          this.frames += 1;
          this.skip = { declared, remaining: declared, head: Buffer.alloc(0) };
          const rest = this.skipBytes(data.subarray(offset), events);
          if (rest.length === 0) return events;
          data = rest;
          offset = 0;
          continue;
        }
        this.expected = declared;
      }
      if (data.length - offset < this.expected) break;
      events.push({ kind: 'frame', body: data.subarray(offset, offset + this.expected) });
      this.frames += 1;
      offset += this.expected;
      this.expected = -1;
    }
    if (offset < data.length) {
      const rest = data.subarray(offset);
      this.chunks.push(rest);
      this.buffered = rest.length;
    }
    return events;
  }

  /** Discards bytes of an oversized frame; returns what follows it (empty if it goes on). */
  private skipBytes(data: Buffer, events: FrameEvent[]): Buffer {
    const skip = this.skip!;
    const taken = Math.min(skip.remaining, data.length);
    if (skip.head.length < oversizedFrameHeadBytes) {
      skip.head = Buffer.concat([
        skip.head,
        data.subarray(0, Math.min(taken, oversizedFrameHeadBytes - skip.head.length)),
      ]);
    }
    skip.remaining -= taken;
    if (skip.remaining > 0) return data.subarray(data.length);
    this.skip = undefined;
    events.push({ kind: 'too-large', declaredBytes: skip.declared, head: skip.head });
    return data.subarray(taken);
  }
}
