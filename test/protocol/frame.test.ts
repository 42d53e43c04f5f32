// The frame layer of the native protocol: `u32 big-endian length | body`. The decoder must give
// back exactly the bodies that were framed, whatever way the stream is cut into chunks, and must
// skip (never buffer) a frame whose declared length is over its limit while staying in step.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { frameBytesMax, valueBytesMaxDefault } from '../../src/core/limits.js';
import { encodeFrame, FrameDecoder, type FrameEvent } from '../../src/protocol/native/frame.js';
import { cut } from '../helpers/chunks.js';

const hex = (value: Uint8Array): string => Buffer.from(value).toString('hex');
const fromHex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/** A body whose bytes depend on its position, so a misplaced byte shows. */
function patterned(length: number, seed = 0): Buffer {
  const body = Buffer.alloc(length);
  for (let i = 0; i < length; i++) body[i] = (i * 31 + seed * 7 + 1) & 0xff;
  return body;
}

function prefix(declared: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(declared, 0);
  return out;
}

/** Pushes every chunk in order and returns all the events, collected after the last push. */
function decodeAll(decoder: FrameDecoder, chunks: readonly Uint8Array[]): FrameEvent[] {
  const events: FrameEvent[] = [];
  for (const chunk of chunks) events.push(...decoder.push(chunk));
  return events;
}

function frameBodies(events: readonly FrameEvent[]): string[] {
  return events.map((event) => {
    assert.equal(event.kind, 'frame', 'only whole frames are expected here');
    return hex(event.body);
  });
}

describe('encodeFrame', () => {
  it('writes a 4-byte big-endian length, then the body', () => {
    assert.equal(hex(encodeFrame(new Uint8Array(0))), '00000000');
    assert.equal(hex(encodeFrame(Uint8Array.of(1, 2, 3))), '00000003010203');
    const body300 = patterned(300);
    assert.equal(hex(encodeFrame(body300)), `0000012c${hex(body300)}`);
    const body70k = patterned(70_000);
    const frame = encodeFrame(body70k);
    assert.equal(frame.length, 70_004);
    assert.equal(hex(frame.subarray(0, 4)), '00011170');
    assert.ok(frame.subarray(4).equals(body70k));
  });

  it('frames only the bytes of a view, not the whole underlying buffer', () => {
    const view = Buffer.from('xxabcxx').subarray(2, 5);
    assert.equal(hex(encodeFrame(view)), '00000003616263');
    const typed = new Uint8Array(Uint8Array.of(0xff, 0xff, 0x0a, 0x0b, 0xff).buffer, 2, 2);
    assert.equal(hex(encodeFrame(typed)), '000000020a0b');
  });
});

describe('FrameDecoder', () => {
  const bodies = [
    Buffer.from('hello'),
    Buffer.alloc(0),
    patterned(3000, 1),
    Uint8Array.of(0),
    Buffer.alloc(0),
    patterned(257, 2),
  ];
  const stream = Buffer.concat(bodies.map((body) => encodeFrame(body)));
  const expected = bodies.map(hex);
  const limit = 4096;

  it('decodes a whole stream in one push', () => {
    const decoder = new FrameDecoder(limit);
    assert.equal(decoder.inFrame, false);
    assert.deepEqual(frameBodies(decoder.push(stream)), expected);
    assert.equal(decoder.inFrame, false);
  });

  it('decodes hand-written frames (golden bytes)', () => {
    const decoder = new FrameDecoder(16);
    const events = decoder.push(fromHex('00000000 00000003 010203 00000001 ff'));
    assert.deepEqual(frameBodies(events), ['', '010203', 'ff']);
  });

  it('gives the same bodies whatever single offset the stream is split at', () => {
    for (let offset = 0; offset <= stream.length; offset++) {
      const decoder = new FrameDecoder(limit);
      const events = decodeAll(decoder, [stream.subarray(0, offset), stream.subarray(offset)]);
      assert.deepEqual(frameBodies(events), expected, `split at ${offset}`);
      assert.equal(decoder.inFrame, false, `split at ${offset}`);
    }
  });

  it('gives the same bodies when fed one byte at a time', () => {
    const decoder = new FrameDecoder(limit);
    const events: FrameEvent[] = [];
    for (let i = 0; i < stream.length; i++) {
      // A fresh one-byte array each time: the decoder may not assume chunks are views of one buffer.
      events.push(...decoder.push(Uint8Array.of(stream[i]!)));
    }
    assert.deepEqual(frameBodies(events), expected);
    assert.equal(decoder.inFrame, false);
  });

  it('property: any bodies, any chunking -> the same bodies, in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (bodyList, offsets) => {
          const data = Buffer.concat(bodyList.map((body) => encodeFrame(body)));
          const decoder = new FrameDecoder(300);
          const chunks = cut(
            data,
            offsets.map((o) => (data.length === 0 ? 0 : o % (data.length + 1))),
          );
          const events = decodeAll(decoder, chunks);
          assert.deepEqual(frameBodies(events), bodyList.map(hex));
          assert.equal(decoder.inFrame, false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('property: frames over the limit are skipped, reported once, and the stream stays in step', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.uint8Array({ maxLength: 160 }), { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (max, bodyList, offsets) => {
          const data = Buffer.concat(bodyList.map((body) => encodeFrame(body)));
          const decoder = new FrameDecoder(max);
          const chunks = cut(
            data,
            offsets.map((o) => o % (data.length + 1)),
          );
          const events = decodeAll(decoder, chunks);
          assert.equal(events.length, bodyList.length);
          events.forEach((event, i) => {
            const body = bodyList[i]!;
            if (body.length <= max) {
              assert.equal(event.kind, 'frame', `body ${i} (${body.length} bytes) fits ${max}`);
              if (event.kind === 'frame') assert.equal(hex(event.body), hex(body));
            } else {
              assert.equal(event.kind, 'too-large', `body ${i} (${body.length} bytes) exceeds ${max}`);
              if (event.kind === 'too-large') {
                assert.equal(event.declaredBytes, body.length);
                // The head is the start of the body, long enough to hold a request id
                // (tag + 5-byte varint) and small.
                assert.ok(event.head.length >= Math.min(6, body.length) && event.head.length <= 256);
                assert.equal(hex(event.head), hex(body.subarray(0, event.head.length)));
              }
            }
          });
          assert.equal(decoder.inFrame, false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('accepts a body of exactly the limit and skips one byte more', () => {
    const decoder = new FrameDecoder(10);
    const atLimit = patterned(10, 3);
    const over = patterned(11, 4);
    const events = decoder.push(Buffer.concat([encodeFrame(atLimit), encodeFrame(over), encodeFrame(atLimit)]));
    assert.deepEqual(
      events.map((e) => e.kind),
      ['frame', 'too-large', 'frame'],
    );
    const [first, second, third] = events;
    assert.ok(first?.kind === 'frame' && third?.kind === 'frame' && second?.kind === 'too-large');
    assert.equal(hex(first.body), hex(atLimit));
    assert.equal(second.declaredBytes, 11);
    assert.equal(hex(third.body), hex(atLimit));
  });

  it('reports an oversized frame only once all its declared bytes have arrived', () => {
    const decoder = new FrameDecoder(8);
    const body = patterned(40, 5);
    const next = Buffer.from('next');
    assert.deepEqual(decoder.push(prefix(body.length)), []);
    assert.equal(decoder.inFrame, true);
    assert.deepEqual(decoder.push(body.subarray(0, 39)), []);
    assert.equal(decoder.inFrame, true, 'one declared byte still to come');
    // The last byte of the oversized frame and the whole next frame in one chunk.
    const events = decoder.push(Buffer.concat([body.subarray(39), encodeFrame(next)]));
    assert.equal(events.length, 2);
    const [tooLarge, frame] = events;
    assert.ok(tooLarge?.kind === 'too-large');
    assert.equal(tooLarge.declaredBytes, 40);
    assert.ok(tooLarge.head.length >= 6);
    assert.equal(hex(tooLarge.head), hex(body.subarray(0, tooLarge.head.length)));
    assert.ok(frame?.kind === 'frame');
    assert.equal(frame.body.toString(), 'next');
    assert.equal(decoder.inFrame, false);
  });

  it('skips 10 MiB with a 1 KiB limit without holding on to what it skipped', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const chunkBytes = 64 * 1024;
    const declared = 10 * 1024 * 1024;
    const decoder = new FrameDecoder(1024);
    const headBytes = patterned(64, 6);
    const fed: WeakRef<ArrayBufferLike>[] = [];
    let tooLarge: FrameEvent[] = [];

    // Runs in its own function so no local keeps a chunk alive past it.
    const feed = (): void => {
      assert.deepEqual(decoder.push(prefix(declared)), []);
      for (let sent = 0; sent < declared; sent += chunkBytes) {
        const chunk = Buffer.alloc(chunkBytes, 0xab);
        if (sent === 0) headBytes.copy(chunk);
        fed.push(new WeakRef(chunk.buffer)); // the memory, not the view object
        const events = decoder.push(chunk);
        if (sent + chunkBytes < declared) {
          assert.deepEqual(events, [], `no event after ${sent + chunkBytes} of ${declared} bytes`);
          assert.equal(decoder.inFrame, true);
        } else {
          tooLarge = events;
        }
        // The caller reuses its buffer: a head that is a view of it would change now.
        chunk.fill(0);
      }
    };
    feed();

    assert.equal(tooLarge.length, 1);
    const [event] = tooLarge;
    assert.ok(event?.kind === 'too-large');
    assert.equal(event.declaredBytes, declared);
    assert.ok(event.head.length >= 6 && event.head.length <= 64);
    assert.equal(
      hex(event.head),
      hex(headBytes.subarray(0, event.head.length)),
      'the head is a copy of the first bytes',
    );
    assert.ok(event.head.buffer.byteLength < chunkBytes, 'the head does not pin an input chunk');
    assert.equal(decoder.inFrame, false);

    // Every chunk can be collected: the decoder buffered none of them while skipping.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    const held = fed.filter((ref) => ref.deref() !== undefined).length;
    assert.equal(held, 0, `${held} of ${fed.length} skipped chunks are still reachable`);

    // And the stream is still in step.
    assert.deepEqual(frameBodies(decoder.push(encodeFrame(Buffer.from('after')))), [hex(Buffer.from('after'))]);
  });

  it('a truncated frame yields nothing and leaves inFrame set', () => {
    const partialPrefix = new FrameDecoder(100);
    assert.deepEqual(partialPrefix.push(fromHex('00 00')), []);
    assert.equal(partialPrefix.inFrame, true, 'half a length prefix');

    const partialBody = new FrameDecoder(100);
    assert.deepEqual(partialBody.push(fromHex('00 00 00 0a 01 02 03 04 05')), []);
    assert.equal(partialBody.inFrame, true, 'five of ten body bytes');
    assert.deepEqual(partialBody.push(fromHex('06 07 08 09')), []);
    assert.equal(partialBody.inFrame, true, 'nine of ten body bytes');
    assert.deepEqual(frameBodies(partialBody.push(fromHex('0a'))), ['0102030405060708090a']);
    assert.equal(partialBody.inFrame, false);

    const prefixOnly = new FrameDecoder(100);
    assert.deepEqual(prefixOnly.push(prefix(1)), []);
    assert.equal(prefixOnly.inFrame, true, 'prefix without its body');

    const afterWhole = new FrameDecoder(100);
    afterWhole.push(encodeFrame(Buffer.from('x')));
    assert.equal(afterWhole.inFrame, false);
    afterWhole.push(fromHex('00'));
    assert.equal(afterWhole.inFrame, true, 'first byte of the next prefix');
  });

  it('an empty push changes nothing', () => {
    const decoder = new FrameDecoder(100);
    assert.deepEqual(decoder.push(new Uint8Array(0)), []);
    assert.equal(decoder.inFrame, false);
    decoder.push(fromHex('00 00 00 02 aa'));
    assert.deepEqual(decoder.push(new Uint8Array(0)), []);
    assert.equal(decoder.inFrame, true);
    assert.deepEqual(frameBodies(decoder.push(fromHex('bb'))), ['aabb']);
  });

  it('skips a 0xFFFFFFFF length prefix without buffering, and stays in step after 4 GiB', () => {
    const decoder = new FrameDecoder(frameBytesMax(valueBytesMaxDefault));
    const declared = 0xffffffff;
    assert.deepEqual(decoder.push(fromHex('ff ff ff ff 08 2a')), []);
    assert.equal(decoder.inFrame, true);
    // Feed the remaining 4 GiB from one reused buffer: a decoder that buffered would run out
    // of memory here, one that skips just counts.
    const block = Buffer.alloc(1024 * 1024, 0x5a);
    let remaining = declared - 2;
    while (remaining > block.length) {
      assert.deepEqual(decoder.push(block), []);
      remaining -= block.length;
    }
    assert.equal(decoder.inFrame, true);
    const events = decoder.push(Buffer.concat([block.subarray(0, remaining), encodeFrame(Buffer.from('ok'))]));
    assert.equal(events.length, 2);
    const [tooLarge, frame] = events;
    assert.ok(tooLarge?.kind === 'too-large');
    assert.equal(tooLarge.declaredBytes, declared);
    assert.equal(hex(tooLarge.head.subarray(0, 2)), '082a');
    assert.ok(frame?.kind === 'frame');
    assert.equal(frame.body.toString(), 'ok');
    assert.equal(decoder.inFrame, false);
  });

  it('rejects limits that do not fit the prefix', () => {
    assert.throws(() => new FrameDecoder(0));
    assert.throws(() => new FrameDecoder(2 ** 32));
    assert.doesNotThrow(() => new FrameDecoder(2 ** 32 - 1));
  });
});
