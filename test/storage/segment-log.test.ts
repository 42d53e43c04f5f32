// The segment log (src/storage/segment-log.ts): records round-trip across segments and reopens; a
// torn tail is cut off at every cut point of the last record, and any other damage (a flipped byte
// before the tail, a segment cut short or missing) refuses to open with the file and offset; group
// commit makes one fdatasync per batch, counted through an injected fs; preallocation keeps the
// file's size still across commits; truncateAfter, trimBelow and reset reach the disk in an order a
// crash cannot break; an fdatasync error fails every waiter and stops the log.

import assert from 'node:assert/strict';
import * as nodeFs from 'node:fs';
import { readdirSync, readFileSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { AssertionError } from '../../src/core/assert.js';
import { CatenaError } from '../../src/core/errors.js';
import { scanSegment } from '../../src/storage/segment-format.js';
import {
  CorruptLogError,
  SegmentLog,
  type SegmentLogFs,
  type SegmentLogOptions,
} from '../../src/storage/segment-log.js';
import { tempDir } from '../helpers/tmp.js';

/** A fresh directory, removed after the suite. */
function freshDir(): string {
  const dir = tempDir('catena-segment-log-');
  after(dir.remove);
  return dir.path;
}

const payloadOf = (sequence: number): Buffer => Buffer.from(`record ${sequence};`.repeat((sequence % 4) + 1));

function sync(log: SegmentLog): Promise<void> {
  return new Promise((resolve, reject) => log.sync((error) => (error === undefined ? resolve() : reject(error))));
}

/** Appends `from`..`to`, `perCommit` records per sync. */
async function fill(log: SegmentLog, from: number, to: number, perCommit = 1): Promise<void> {
  for (let sequence = from; sequence <= to; sequence++) {
    log.append(sequence, payloadOf(sequence));
    if ((sequence - from + 1) % perCommit === 0 || sequence === to) await sync(log);
  }
}

function segmentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .sort();
}

function assertRecords(log: SegmentLog, first: number, last: number): void {
  assert.deepEqual(log.bounds(), { first, last });
  const sequences: number[] = [];
  for (const { sequence, payload } of log.range(0, Number.MAX_SAFE_INTEGER)) {
    assert.deepEqual(Buffer.from(payload), payloadOf(sequence), `payload of ${sequence}`);
    sequences.push(sequence);
  }
  assert.deepEqual(
    sequences,
    Array.from({ length: last - first + 1 }, (_, i) => first + i),
  );
}

/** Offsets of a segment file's records (from its own scan), and where they end. */
function recordsOf(path: string, first: number): { offsets: number[]; end: number; bytes: Buffer } {
  const bytes = readFileSync(path);
  const scan = scanSegment(bytes, first);
  assert.equal(scan.damage, undefined);
  return { offsets: scan.offsets, end: scan.end, bytes };
}

/** node:fs with its syncs counted, and an error to inject into the next fdatasync or write. */
function countingFs(): {
  fs: SegmentLogFs;
  counts: { fdatasync: number; fsync: number; fdatasyncSync: number; fsyncSync: number; write: number };
  failNext: { fdatasync?: NodeJS.ErrnoException; write?: NodeJS.ErrnoException };
} {
  const counts = { fdatasync: 0, fsync: 0, fdatasyncSync: 0, fsyncSync: 0, write: 0 };
  const failNext: { fdatasync?: NodeJS.ErrnoException; write?: NodeJS.ErrnoException } = {};
  const fs: SegmentLogFs = {
    ...nodeFs,
    fdatasync(fd, callback) {
      counts.fdatasync++;
      const error = failNext.fdatasync;
      if (error === undefined) return nodeFs.fdatasync(fd, callback);
      delete failNext.fdatasync;
      setImmediate(() => callback(error));
    },
    fsync(fd, callback) {
      counts.fsync++;
      nodeFs.fsync(fd, callback);
    },
    write(fd, buffer, offset, length, position, callback) {
      counts.write++;
      const error = failNext.write;
      if (error === undefined) return nodeFs.write(fd, buffer, offset, length, position, callback);
      delete failNext.write;
      setImmediate(() => callback(error, 0));
    },
    fdatasyncSync(fd) {
      counts.fdatasyncSync++;
      nodeFs.fdatasyncSync(fd);
    },
    fsyncSync(fd) {
      counts.fsyncSync++;
      nodeFs.fsyncSync(fd);
    },
  };
  return { fs, counts, failNext };
}

const eio = (): NodeJS.ErrnoException => Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });

/** Reopens `dir` expecting CorruptLogError on `file` at `offset`. */
function assertCorrupt(dir: string, file: string, offset: number, options: SegmentLogOptions = {}): void {
  assert.throws(
    () => SegmentLog.open(dir, options),
    (error: unknown) => {
      assert.ok(error instanceof CorruptLogError, String(error));
      assert.ok(error instanceof CatenaError && error.code === 'ERR_STORAGE', 'a storage error');
      assert.equal(error.file, join(dir, file));
      assert.equal(error.offset, offset);
      assert.ok(error.message.includes(join(dir, file)), error.message);
      assert.ok(error.message.includes(`byte ${offset}`), error.message);
      assert.match(error.message, /restart it without its data/);
      return true;
    },
  );
}

describe('segment log: records and segments', () => {
  it('writes a record as the documented layout (golden bytes)', async () => {
    const dir = freshDir();
    const log = SegmentLog.open(dir, { preallocateBytes: 64 });
    log.append(2 ** 32 + 7, Buffer.from('hi'));
    await sync(log);
    await log.close();
    const bytes = readFileSync(join(dir, '00000000004294967303.log'));
    const sequence = '0000000100000007';
    const crc = crc32(Buffer.from(sequence + '6869', 'hex'), crc32(Buffer.of(1)));
    const expected = '0000000f' + '01' + crc.toString(16).padStart(8, '0') + sequence + '6869';
    assert.equal(bytes.subarray(0, 19).toString('hex'), expected);
    assert.equal(bytes.length, 64, 'preallocated with zeros');
    assert.ok(
      bytes.subarray(19).every((byte) => byte === 0),
      'zeros after the data',
    );
  });

  it('round-trips records across several segments, in runs, and reads only durable ones', async () => {
    const dir = freshDir();
    const log = SegmentLog.open(dir, { segmentBytesMax: 256, preallocateBytes: 128 });
    assert.equal(log.bounds(), undefined);
    assert.equal(log.durableLast, 0);
    await fill(log, 1, 60, 3);
    assert.ok(segmentFiles(dir).length >= 5, `segments: ${segmentFiles(dir).join(' ')}`);
    assert.equal(segmentFiles(dir)[0], '00000000000000000001.log');
    assertRecords(log, 1, 60);
    assert.deepEqual(
      [...log.range(10, 14)].map((record) => record.sequence),
      [11, 12, 13, 14],
    );
    assert.deepEqual(
      [...log.range(59, 100)].map((record) => record.sequence),
      [60],
    );
    assert.equal(log.read(0), undefined);
    assert.equal(log.read(61), undefined);
    log.append(61, payloadOf(61));
    assert.equal(log.read(61), undefined, 'appended, not yet durable');
    assert.equal(log.durableLast, 60);
    await sync(log);
    assert.deepEqual(Buffer.from(log.read(61)!), payloadOf(61));
    assert.equal(log.durableLast, 61);
    await log.close();
  });

  it('reopens where it left off, and takes only the next sequence', async () => {
    const dir = freshDir();
    const log = SegmentLog.open(dir, { segmentBytesMax: 300 });
    await fill(log, 7, 50, 4);
    const files = segmentFiles(dir);
    await log.close();
    const again = SegmentLog.open(dir, { segmentBytesMax: 300 });
    assert.deepEqual(again.recovered, { tornBytes: 0, segments: files.length, records: 44 });
    assert.equal(again.durableLast, 50);
    assertRecords(again, 7, 50);
    assert.throws(() => again.append(52, payloadOf(52)), AssertionError);
    assert.throws(() => again.append(50, payloadOf(50)), AssertionError);
    await fill(again, 51, 55);
    await again.close();
    const third = SegmentLog.open(dir);
    assertRecords(third, 7, 55);
    await third.close();
  });

  it('takes any first sequence when empty, then refuses a gap, a repeat or a bad sequence (caller bugs)', async () => {
    const log = SegmentLog.open(freshDir());
    assert.throws(() => log.append(0, payloadOf(1)), AssertionError);
    assert.throws(() => log.append(1.5, payloadOf(1)), AssertionError);
    log.append(1000, payloadOf(1000));
    assert.throws(() => log.append(1002, payloadOf(1002)), /append of sequence 1002, but the log continues at 1001/);
    assert.throws(() => log.append(1000, payloadOf(1000)), AssertionError);
    log.append(1001, payloadOf(1001));
    await sync(log);
    assertRecords(log, 1000, 1001);
    await log.close();
  });

  it('ignores files that are not segments, and keeps an empty record', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'LOCK'), '123\n');
    writeFileSync(join(dir, '42.log'), 'not a segment name');
    const log = SegmentLog.open(dir);
    log.append(1, new Uint8Array(0));
    log.append(2, payloadOf(2));
    await sync(log);
    await log.close();
    const again = SegmentLog.open(dir);
    assert.deepEqual(again.read(1), Buffer.alloc(0));
    assert.deepEqual(Buffer.from(again.read(2)!), payloadOf(2));
    await again.close();
  });

  it('reads records larger than a read run, each alone', async () => {
    const log = SegmentLog.open(freshDir());
    const big = (sequence: number): Buffer => Buffer.alloc(700 * 1024, sequence);
    for (let sequence = 1; sequence <= 4; sequence++) log.append(sequence, big(sequence));
    await sync(log);
    const read = [...log.range(0, 4)];
    assert.deepEqual(
      read.map((record) => record.sequence),
      [1, 2, 3, 4],
    );
    for (const record of read)
      assert.ok(Buffer.from(record.payload).equals(big(record.sequence)), `record ${record.sequence}`);
    await log.close();
  });
});

describe('segment log: group commit and preallocation', () => {
  it('makes many appends and many syncs of one turn durable with one fdatasync, callbacks in order', async () => {
    const { fs, counts } = countingFs();
    const log = SegmentLog.open(freshDir(), { fs });
    assert.deepEqual({ fdatasync: counts.fdatasync, fsync: counts.fsync }, { fdatasync: 0, fsync: 0 });
    const order: number[] = [];
    const all: Promise<void>[] = [];
    for (let sequence = 1; sequence <= 100; sequence++) {
      log.append(sequence, payloadOf(sequence));
      all.push(
        new Promise((resolve, reject) =>
          log.sync((error) => {
            order.push(sequence);
            assert.equal(log.durableLast, 100);
            if (error === undefined) resolve();
            else reject(error);
          }),
        ),
      );
    }
    await Promise.all(all);
    assert.deepEqual(
      order,
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    assert.equal(counts.fdatasync, 1);
    assert.equal(counts.fsync, 1, 'the directory, once, for the new segment file');
    assert.equal(counts.write, 1);

    await fill(log, 101, 150, 50);
    assert.deepEqual({ fdatasync: counts.fdatasync, fsync: counts.fsync }, { fdatasync: 2, fsync: 1 });
    await sync(log);
    await sync(log);
    assert.equal(counts.fdatasync, 2, 'a sync with nothing new appended makes no fdatasync');
    await log.close();
  });

  it('runs one commit at a time: syncs made while one is in flight share the next', async () => {
    const { fs, counts } = countingFs();
    const log = SegmentLog.open(freshDir(), { fs });
    const order: string[] = [];
    const done = (name: string) => (error?: Error) => {
      assert.equal(error, undefined);
      order.push(`${name}@${log.durableLast}`);
    };
    log.append(1, payloadOf(1));
    log.sync(done('a'));
    log.sync(done('a2'));
    await new Promise((resolve) => setImmediate(resolve)); // the first commit is in flight
    for (let sequence = 2; sequence <= 10; sequence++) {
      log.append(sequence, payloadOf(sequence));
      log.sync(done(`b${sequence}`));
    }
    log.sync(done('c'));
    await sync(log);
    assert.deepEqual(order, [
      'a@1',
      'a2@1',
      'b2@10',
      'b3@10',
      'b4@10',
      'b5@10',
      'b6@10',
      'b7@10',
      'b8@10',
      'b9@10',
      'b10@10',
      'c@10',
    ]);
    assert.equal(counts.fdatasync, 2);
    let nested = false;
    log.sync(() => (nested = true));
    assert.equal(nested, false, 'a callback never runs inside sync()');
    await log.close();
  });

  it('grows a segment in preallocated steps: its size stays put across small commits', async () => {
    const dir = freshDir();
    const step = 64 * 1024;
    const log = SegmentLog.open(dir, { preallocateBytes: step });
    const path = join(dir, '00000000000000000001.log');
    await fill(log, 1, 1);
    assert.equal(statSync(path).size, step);
    let sequence = 2;
    for (; sequence <= 400; sequence++) {
      log.append(sequence, payloadOf(sequence));
      await sync(log);
      assert.equal(statSync(path).size, step, `after commit ${sequence}`);
    }
    const { end } = recordsOf(path, 1);
    assert.ok(end < step, 'the records fit the first step');
    // Past the step: the file grows by exactly one step.
    for (; statSync(path).size === step; sequence++) await fill(log, sequence, sequence);
    assert.equal(statSync(path).size, 2 * step);
    await log.close();
  });

  it('caps a preallocation at the segment size, and starts a new file past it', async () => {
    const dir = freshDir();
    const log = SegmentLog.open(dir, { segmentBytesMax: 1000, preallocateBytes: 64 * 1024 });
    await fill(log, 1, 30, 2);
    const files = segmentFiles(dir);
    assert.ok(files.length > 1, 'several segments');
    for (const file of files) assert.ok(statSync(join(dir, file)).size <= 1000 + 200, `${file} is small`);
    await log.close();
  });

  it('with memory durability, writes and never calls fdatasync or fsync', async () => {
    const { fs, counts } = countingFs();
    const dir = freshDir();
    const log = SegmentLog.open(dir, { fs, durability: 'memory', segmentBytesMax: 200 });
    await fill(log, 1, 40, 3);
    log.truncateAfter(30);
    log.trimBelow(10);
    await sync(log);
    log.reset(100);
    await fill(log, 100, 105);
    await log.close();
    const again = SegmentLog.open(dir, { fs, durability: 'memory' });
    assertRecords(again, 100, 105);
    await again.close();
    assert.deepEqual(counts, { fdatasync: 0, fsync: 0, fdatasyncSync: 0, fsyncSync: 0, write: counts.write });
    assert.ok(counts.write > 0, 'the records were written');
  });
});

describe('segment log: recovery', () => {
  /** A one-segment log of records 1..5 (the last commit holds only 5), closed; its file and offsets. */
  async function fiveRecords(): Promise<{ dir: string; path: string; offsets: number[]; end: number; bytes: Buffer }> {
    const dir = freshDir();
    const log = SegmentLog.open(dir, { preallocateBytes: 4096 });
    await fill(log, 1, 4, 4);
    await fill(log, 5, 5);
    await log.close();
    const path = join(dir, '00000000000000000001.log');
    return { dir, path, ...recordsOf(path, 1) };
  }

  it('cuts a torn last record off at every cut point, zeros or end of file after it, and continues', async () => {
    const { dir, path, offsets, end, bytes } = await fiveRecords();
    const start = offsets[4]!;
    for (let cut = start; cut < end; cut++) {
      for (const zeros of [false, true]) {
        const torn = Buffer.alloc(zeros ? bytes.length : cut);
        bytes.copy(torn, 0, 0, cut);
        writeFileSync(path, torn);
        const log = SegmentLog.open(dir, { durability: 'memory' });
        const what = `cut at ${cut - start} of ${end - start}, ${zeros ? 'zeros' : 'end of file'} after`;
        assert.equal(log.recovered.records, 4, what);
        assert.equal(log.recovered.tornBytes > 0, cut - start >= 4, what);
        assertRecords(log, 1, 4);
        assert.equal(log.read(5), undefined);
        assert.throws(() => log.append(6, payloadOf(6)), AssertionError, what);
        log.append(5, Buffer.from('a new fifth'));
        await sync(log);
        await log.close();
        const again = SegmentLog.open(dir, { durability: 'memory' });
        assert.deepEqual(again.recovered, { tornBytes: 0, segments: 1, records: 5 }, what);
        assert.equal(Buffer.from(again.read(5)!).toString(), 'a new fifth', what);
        await again.close();
      }
    }
  });

  it('cuts off a last record with a flipped byte and zeros after it (fdatasync at open)', async () => {
    const { dir, path, offsets, end, bytes } = await fiveRecords();
    const start = offsets[4]!;
    // From the format byte to the end; and a length word flipped larger (it still ends in zeros).
    const flips = [...Array.from({ length: end - start - 4 }, (_, i) => start + 4 + i), start + 2];
    for (const at of flips) {
      const damaged = Buffer.from(bytes);
      damaged[at]! ^= 0x10;
      writeFileSync(path, damaged);
      const { fs, counts } = countingFs();
      const log = SegmentLog.open(dir, { fs });
      assert.equal(log.recovered.records, 4, `flip at ${at - start}`);
      assert.ok(log.recovered.tornBytes > 0, 'torn bytes reported');
      assertRecords(log, 1, 4);
      assert.deepEqual(
        { fdatasyncSync: counts.fdatasyncSync, fsyncSync: counts.fsyncSync },
        { fdatasyncSync: 1, fsyncSync: 1 },
      );
      await log.close();
      assert.equal(statSync(path).size, start, 'the torn record is cut off the file');
    }
  });

  it('refuses a flipped byte in a record before the tail, naming the file and the offset', async () => {
    const { dir, path, offsets, bytes } = await fiveRecords();
    const start = offsets[2]!;
    for (let at = start; at < offsets[3]!; at++) {
      for (const bit of [0x01, 0x80]) {
        const damaged = Buffer.from(bytes);
        damaged[at]! ^= bit;
        writeFileSync(path, damaged);
        assertCorrupt(dir, '00000000000000000001.log', start);
      }
    }
  });

  it('refuses a zero length word with data after it', async () => {
    const { dir, path, offsets, bytes } = await fiveRecords();
    const damaged = Buffer.from(bytes);
    damaged.fill(0, offsets[3]!, offsets[3]! + 4);
    writeFileSync(path, damaged);
    assertCorrupt(dir, '00000000000000000001.log', offsets[3]!);
  });

  /** A log of several segments, closed; its files. */
  async function segmented(): Promise<{ dir: string; files: string[] }> {
    const dir = freshDir();
    const log = SegmentLog.open(dir, { segmentBytesMax: 200 });
    await fill(log, 1, 40, 2);
    await log.close();
    const files = segmentFiles(dir);
    assert.ok(files.length >= 4, 'several segments');
    return { dir, files };
  }

  it('refuses damage in a segment before the last, even with zeros after it', async () => {
    const { dir, files } = await segmented();
    const path = join(dir, files[1]!);
    const first = Number(files[1]!.slice(0, 20));
    const { offsets, bytes } = recordsOf(path, first);
    const last = offsets.at(-1)!;
    const damaged = Buffer.from(bytes);
    damaged[last + 20]! ^= 0x01;
    writeFileSync(path, damaged);
    assertCorrupt(dir, files[1]!, last);
  });

  it('refuses an earlier segment cut short, inside a record or at a record boundary', async () => {
    const { dir, files } = await segmented();
    const path = join(dir, files[1]!);
    const first = Number(files[1]!.slice(0, 20));
    const { offsets, end } = recordsOf(path, first);
    truncateSync(path, end - 5);
    assertCorrupt(dir, files[1]!, offsets.at(-1)!);
    truncateSync(path, offsets.at(-1)!);
    assertCorrupt(dir, files[2]!, 0);
  });

  it('refuses a gap between segments (a segment file missing)', async () => {
    const { dir, files } = await segmented();
    unlinkSync(join(dir, files[2]!));
    assertCorrupt(dir, files[3]!, 0);
  });

  it('removes a last segment left with no record (its first commit never completed)', async () => {
    const { dir } = await segmented();
    const last = 40;
    const empty = `${String(last + 1).padStart(20, '0')}.log`;
    writeFileSync(join(dir, empty), Buffer.alloc(4096));
    const log = SegmentLog.open(dir);
    assert.deepEqual(log.bounds(), { first: 1, last });
    assert.ok(!segmentFiles(dir).includes(empty), 'the empty segment is removed');
    await fill(log, last + 1, last + 2);
    await log.close();
  });

  it('refuses a record damaged after open when it is read back', async () => {
    const { dir, path, offsets } = await fiveRecords();
    const log = SegmentLog.open(dir);
    const fd = nodeFs.openSync(path, 'r+');
    nodeFs.writeSync(fd, Buffer.from([0xee]), 0, 1, offsets[1]! + 18);
    nodeFs.closeSync(fd);
    assert.throws(() => log.read(2), CorruptLogError);
    assert.deepEqual(Buffer.from(log.read(3)!), payloadOf(3));
    await log.close();
  });
});

describe('segment log: truncateAfter, trimBelow, reset', () => {
  it('truncateAfter drops a durable suffix at once, and the new records replace it on disk', async () => {
    const dir = freshDir();
    const log = SegmentLog.open(dir, { segmentBytesMax: 200 });
    await fill(log, 1, 30, 2);
    const filesBefore = segmentFiles(dir);
    log.truncateAfter(12);
    assert.deepEqual(log.bounds(), { first: 1, last: 12 });
    assert.equal(log.durableLast, 12);
    assert.equal(log.read(13), undefined);
    assert.deepEqual(
      [...log.range(10, 30)].map((record) => record.sequence),
      [11, 12],
    );
    assert.throws(() => log.append(31, payloadOf(31)), AssertionError);
    log.append(13, Buffer.from('new 13'));
    log.append(14, Buffer.from('new 14'));
    await sync(log);
    const filesAfter = segmentFiles(dir);
    assert.ok(filesAfter.length < filesBefore.length, 'segments past the cut are deleted');
    assert.ok(
      filesAfter.every((file) => Number(file.slice(0, 20)) <= 13),
      'no segment starts past the cut',
    );
    await log.close();
    const again = SegmentLog.open(dir);
    assert.deepEqual(again.bounds(), { first: 1, last: 14 });
    assert.equal(Buffer.from(again.read(13)!).toString(), 'new 13');
    assert.equal(Buffer.from(again.read(14)!).toString(), 'new 14');
    assert.deepEqual(Buffer.from(again.read(12)!), payloadOf(12));
    await again.close();
  });

  it('truncateAfter is durable at the next sync even with nothing appended, and of appended records only', async () => {
    const dir = freshDir();
    const log = SegmentLog.open(dir);
    await fill(log, 1, 10, 5);
    log.append(11, payloadOf(11));
    log.truncateAfter(10);
    log.truncateAfter(20);
    assert.throws(() => log.append(12, payloadOf(12)), AssertionError);
    log.truncateAfter(7);
    await sync(log);
    await log.close();
    const again = SegmentLog.open(dir);
    assertRecords(again, 1, 7);
    await again.close();
  });

  it('truncateAfter while the commit of the dropped records is in flight', async () => {
    const dir = freshDir();
    const log = SegmentLog.open(dir);
    await fill(log, 1, 5);
    for (let sequence = 6; sequence <= 20; sequence++) log.append(sequence, payloadOf(sequence));
    const first = sync(log);
    await new Promise((resolve) => setImmediate(resolve)); // its commit is in flight
    log.truncateAfter(12);
    log.append(13, Buffer.from('replaced'));
    const second = sync(log);
    await first;
    assert.ok(log.durableLast <= 12, 'the in-flight commit made nothing past the cut durable');
    assert.equal(log.read(14), undefined);
    await second;
    assert.equal(log.durableLast, 13);
    assert.equal(Buffer.from(log.read(13)!).toString(), 'replaced');
    await log.close();
    const again = SegmentLog.open(dir);
    assert.deepEqual(again.bounds(), { first: 1, last: 13 });
    assert.equal(Buffer.from(again.read(13)!).toString(), 'replaced');
    await again.close();
  });

  it('truncateAfter below the first record empties the log, which continues after it', async () => {
    const dir = freshDir();
    const log = SegmentLog.open(dir);
    await fill(log, 50, 60);
    log.truncateAfter(40);
    assert.equal(log.bounds(), undefined);
    await fill(log, 41, 42);
    await log.close();
    assert.deepEqual(segmentFiles(dir), ['00000000000000000041.log']);
    const again = SegmentLog.open(dir);
    assertRecords(again, 41, 42);
    await again.close();
  });

  it('trimBelow deletes whole segments below the sequence only, never the current one', async () => {
    const dir = freshDir();
    const log = SegmentLog.open(dir, { segmentBytesMax: 200 });
    await fill(log, 1, 40, 2);
    const files = segmentFiles(dir);
    const firsts = files.map((file) => Number(file.slice(0, 20)));
    const cut = firsts[2]! + 1; // inside the third segment
    log.trimBelow(cut);
    assert.deepEqual(log.bounds(), { first: firsts[2], last: 40 });
    assert.equal(log.read(firsts[2]! - 1), undefined);
    assert.deepEqual(Buffer.from(log.read(firsts[2]!)!), payloadOf(firsts[2]!));
    await sync(log);
    assert.deepEqual(segmentFiles(dir), files.slice(2));
    log.trimBelow(1_000);
    await sync(log);
    assert.deepEqual(segmentFiles(dir), files.slice(-1));
    assert.deepEqual(log.bounds(), { first: firsts.at(-1), last: 40 });
    await fill(log, 41, 45);
    await log.close();
    const again = SegmentLog.open(dir);
    assertRecords(again, firsts.at(-1)!, 45);
    await again.close();
  });

  it('reset drops every record and file and continues at the given sequence', async () => {
    const dir = freshDir();
    const log = SegmentLog.open(dir, { segmentBytesMax: 200 });
    await fill(log, 1, 30, 3);
    log.append(31, payloadOf(31));
    const inFlight = sync(log);
    log.reset(1000);
    assert.equal(log.bounds(), undefined);
    assert.equal(log.durableLast, 999);
    assert.equal(log.read(5), undefined);
    assert.throws(() => log.append(31, payloadOf(31)), AssertionError);
    await inFlight;
    assert.equal(log.durableLast, 999);
    await sync(log);
    assert.deepEqual(segmentFiles(dir), []);
    await fill(log, 1000, 1003);
    await log.close();
    assert.deepEqual(segmentFiles(dir), ['00000000000000001000.log']);
    const again = SegmentLog.open(dir);
    assertRecords(again, 1000, 1003);
    await again.close();
  });
});

describe('segment log: failures', () => {
  it('an fdatasync error fails every waiting sync, in order, and the log refuses changes', async () => {
    const { fs, failNext } = countingFs();
    const dir = freshDir();
    const log = SegmentLog.open(dir, { fs });
    await fill(log, 1, 3);
    failNext.fdatasync = eio();
    const results: string[] = [];
    const record = (name: string) => (error?: Error) => results.push(`${name}:${error?.message ?? 'ok'}`);
    log.append(4, payloadOf(4));
    log.sync(record('a'));
    log.sync(record('b'));
    await new Promise((resolve) => setImmediate(resolve)); // the failing commit is in flight
    log.append(5, payloadOf(5));
    log.sync(record('c')); // waits for the next commit
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(results.length, 3);
    assert.deepEqual(
      results.map((result) => result.split(':')[0]),
      ['a', 'b', 'c'],
    );
    for (const result of results) assert.match(result, /fdatasync of .* failed: EIO/);
    assert.equal(log.durableLast, 3);
    assert.throws(
      () => log.append(6, payloadOf(6)),
      (error: unknown) => error instanceof CatenaError && error.code === 'ERR_STORAGE',
    );
    assert.throws(() => log.truncateAfter(1), /refuses changes after a failed commit/);
    await assert.rejects(sync(log), /EIO/);
    assert.deepEqual(Buffer.from(log.read(3)!), payloadOf(3), 'durable records still read');
    await log.close();
  });

  it('a write error fails the commit the same way', async () => {
    const { fs, counts, failNext } = countingFs();
    const log = SegmentLog.open(freshDir(), { fs });
    await fill(log, 1, 2);
    failNext.write = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    log.append(3, payloadOf(3));
    await assert.rejects(sync(log), /write of .* failed: ENOSPC/);
    assert.equal(counts.fdatasync, 2, 'no fdatasync after a failed write');
    assert.throws(() => log.append(4, payloadOf(4)), /ENOSPC/);
    await log.close();
  });

  it('close waits for the commits asked for', async () => {
    const dir = freshDir();
    const log = SegmentLog.open(dir);
    let synced = false;
    log.append(1, payloadOf(1));
    log.sync(() => (synced = true));
    await log.close();
    assert.ok(synced, 'the sync completed before close resolved');
    assert.throws(() => log.append(2, payloadOf(2)), AssertionError);
    const again = SegmentLog.open(dir);
    assertRecords(again, 1, 1);
    await again.close();
  });
});
