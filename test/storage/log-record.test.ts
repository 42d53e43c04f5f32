// The on-disk log record (src/storage/log-record.ts): a golden record, round trips of any record,
// records of the earlier msgpack form still read, and damaged records refused with ERR_STORAGE.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { CatenaError } from '../../src/core/errors.js';
import {
  decodeLogRecord,
  encodeLogRecord,
  readClient,
  readFrozen,
  readPosition,
} from '../../src/storage/log-record.js';
import type { LogRecord } from '../../src/storage/log-store.js';

const plain = (r: LogRecord): unknown => ({
  ...r,
  request: [...r.request],
  result: r.result === undefined ? undefined : [...r.result],
  reclaim: r.reclaim?.map((k) => [...k]),
});

const storageError = (error: unknown): boolean => error instanceof CatenaError && error.code === 'ERR_STORAGE';

describe('log record codec', () => {
  it('encodes a record as the documented layout (golden bytes)', () => {
    const encoded = encodeLogRecord({
      epoch: 2,
      clientId: 'c',
      clientSequence: 7,
      nowMs: 1000,
      request: Uint8Array.of(0xaa, 0xbb),
      reclaim: [Uint8Array.of(0x6b)],
      result: Uint8Array.of(0x01),
    });
    const f64 = (n: number): string => {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(n);
      return b.toString('hex');
    };
    const expected =
      '01' +
      '03' +
      f64(2) +
      f64(7) +
      f64(1000) +
      '0001' +
      '63' +
      '00000002' +
      'aabb' +
      '00000001' +
      '00000001' +
      '6b' +
      '00000001' +
      '01';
    assert.equal(encoded.toString('hex'), expected);
  });

  it('round-trips any record', () => {
    const bytes = fc.uint8Array({ maxLength: 64 });
    fc.assert(
      fc.property(
        fc.record({
          epoch: fc.nat(),
          clientId: fc.string({ maxLength: 40 }),
          clientSequence: fc.nat(),
          nowMs: fc.nat(),
          request: bytes,
          reclaim: fc.option(fc.array(bytes, { maxLength: 5 }), { nil: undefined }),
          result: fc.option(bytes, { nil: undefined }),
        }),
        (record) => {
          assert.deepEqual(plain(decodeLogRecord(encodeLogRecord(record))), plain(record));
        },
      ),
    );
  });

  it('reads a record written in the earlier msgpack form', () => {
    const legacy = pack({ e: 3, c: 'old', s: 4, t: 99, r: Buffer.from('req'), x: Buffer.from('res') });
    const decoded = decodeLogRecord(legacy);
    assert.deepEqual(
      plain(decoded),
      plain({
        epoch: 3,
        clientId: 'old',
        clientSequence: 4,
        nowMs: 99,
        request: Buffer.from('req'),
        reclaim: undefined,
        result: Buffer.from('res'),
      }),
    );
  });

  it('refuses damaged records with ERR_STORAGE: unknown format, truncated at every point, trailing bytes', () => {
    const good = encodeLogRecord({
      epoch: 1,
      clientId: 'id',
      clientSequence: 1,
      nowMs: 1,
      request: Buffer.from('abc'),
      reclaim: [Buffer.from('k')],
      result: Buffer.from('r'),
    });
    assert.throws(() => decodeLogRecord(Uint8Array.of(9, 9, 9)), storageError);
    assert.throws(() => decodeLogRecord(new Uint8Array()), storageError);
    for (let cut = 1; cut < good.length; cut++)
      assert.throws(() => decodeLogRecord(good.subarray(0, cut)), storageError, `cut at ${cut}`);
    assert.throws(() => decodeLogRecord(Buffer.concat([good, Buffer.of(0)])), storageError);
    assert.throws(() => decodeLogRecord(pack({ e: 'x' })), storageError);
  });

  it('checks meta records read back', () => {
    assert.deepEqual(readPosition('replica', { lastSequence: 1, lastEpoch: 2 }), { lastSequence: 1, lastEpoch: 2 });
    assert.equal(readPosition('installed', undefined), undefined);
    assert.throws(() => readPosition('replica', { lastSequence: -1, lastEpoch: 0 }), storageError);
    assert.deepEqual(readClient('client:a', { clientSequence: 1, sequence: 2, result: null }), {
      clientSequence: 1,
      sequence: 2,
      result: undefined,
    });
    assert.throws(() => readClient('client:a', { clientSequence: '1', sequence: 2 }), storageError);
    assert.deepEqual(readFrozen('frozen', [{ first: 1, last: 2, to: 'c1', handedAt: null }]), [
      { first: 1, last: 2, to: 'c1' },
    ]);
    assert.throws(() => readFrozen('frozen', [{ first: 1 }]), storageError);
    assert.throws(() => readFrozen('frozen', 'nope'), storageError);
  });
});
