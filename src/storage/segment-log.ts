// Each replica's durability point (docs/design.md §5, planned): an append-only log of numbered
// records in segment files, made durable by group commit. One write and ONE fdatasync make a whole
// batch durable, whatever keys its records touch, where a store that syncs per key or per
// transaction pays one per write. Records are checksummed and numbered (segment-format.ts), so a
// crash's torn tail is told apart from corruption of what was acknowledged when the log opens.
//
// The commit path: append() only buffers. sync(done) asks for everything appended before it to be
// made durable, and the log writes it with one positioned write and one fdatasync on the libuv
// threadpool (never a *Sync call on this path). A commit starts from setImmediate, so the appends
// and syncs of one event-loop turn share it, and one is in flight at a time: sync calls made
// meanwhile share the next one. Callbacks run in call order. A commit writes to one segment:
// the current one, or a new file once the current holds segmentBytesMax bytes (so a segment passes
// the max by at most one commit, and a crash tears at most the last segment). A segment grows on
// disk in steps of preallocateBytes zeros written with the data, so only the commit that writes a
// step changes the file's size; the others' fdatasync flushes data, not metadata.
//
// Changes to the past (truncateAfter, trimBelow, reset) take effect in memory at once and on disk
// before the next commit's write, in an order that a crash cannot turn into a log with a hole or a
// mix of histories: removed segment files leave the directory (and the directory is synced) before
// a cut, and a cut (ftruncate) is made durable before new records are written over it.
//
// An error of any write, fdatasync or file operation is fatal: every waiting callback gets it and
// the log refuses every later change. After a failed fdatasync the kernel may already have dropped
// the dirty pages and will not report it again (PostgreSQL's "fsyncgate"): what is on disk can only
// be learnt again by a restart, which opens the log and checks it.

import * as nodeFs from 'node:fs';
import { basename, join } from 'node:path';
import { assert } from '../core/assert.js';
import { CatenaError } from '../core/errors.js';
import { LatencyHistogram } from '../core/histogram.js';
import {
  logPreallocateBytesDefault,
  logReadRunBytes,
  logRecordPayloadBytesMax,
  logSegmentBytesMaxDefault,
} from '../core/limits.js';
import {
  checkRecord,
  encodeRecord,
  judgeTail,
  parseSegmentFileName,
  payloadAt,
  recordPayload,
  scanSegment,
  segmentFileName,
} from './segment-format.js';

type Callback<T> = (error: NodeJS.ErrnoException | null, value: T) => void;
type Done = (error: NodeJS.ErrnoException | null) => void;

/** The part of node:fs the log uses: node:fs itself by default; a test passes a wrapper to count or fail calls. */
export interface SegmentLogFs {
  open(path: string, flags: string, mode: number, callback: Callback<number>): void;
  write(fd: number, buffer: Buffer, offset: number, length: number, position: number, callback: Callback<number>): void;
  fdatasync(fd: number, callback: Done): void;
  fsync(fd: number, callback: Done): void;
  ftruncate(fd: number, length: number, callback: Done): void;
  close(fd: number, callback: Done): void;
  unlink(path: string, callback: Done): void;
  openSync(path: string, flags: string): number;
  readSync(fd: number, buffer: Buffer, offset: number, length: number, position: number): number;
  fstatSync(fd: number): { size: number };
  ftruncateSync(fd: number, length: number): void;
  fdatasyncSync(fd: number): void;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  unlinkSync(path: string): void;
  readdirSync(path: string): string[];
  mkdirSync(path: string, options: { recursive: true }): unknown;
}

export interface SegmentLogOptions {
  /** 'fsync' (default): sync() completes after fdatasync. 'memory': never fdatasync (sync completes after the write). */
  durability?: 'fsync' | 'memory';
  /** A commit starts a new segment file once the current one holds this many bytes. */
  segmentBytesMax?: number;
  /** A segment grows on disk in steps of this many zero bytes (0: exactly as far as its records). */
  preallocateBytes?: number;
  /** The file system calls, node:fs by default. */
  fs?: SegmentLogFs;
}

/** Damage to records that were acknowledged: the node must not serve this log. */
export class CorruptLogError extends CatenaError {
  constructor(
    /** The segment file. */
    readonly file: string,
    /** Byte offset in it of the damaged record (0 when a whole segment is out of place). */
    readonly offset: number,
    /** What is wrong there. */
    readonly reason: string,
  ) {
    super(
      'ERR_STORAGE',
      `segment log: ${file} is damaged at byte ${offset}: ${reason}. Records that were acknowledged are ` +
        'lost or altered, so this node must not serve its log: restart it without its data, and it ' +
        'rejoins its chain by snapshot.',
    );
  }
}

/** One segment file, as the log knows it (records written or being written included). */
interface Segment {
  readonly first: number;
  readonly path: string;
  /** -1 until the commit that creates the file has opened it. */
  fd: number;
  /** Byte offset of each record: record i has sequence first + i. */
  offsets: number[];
  /** End of the records. */
  end: number;
  /** The file's size once the commits planned so far are done. */
  allocated: number;
}

/** A file operation owed before the next commit's write. */
type Change =
  | { readonly kind: 'remove'; readonly segment: Segment }
  | { readonly kind: 'syncDirectory' }
  | { readonly kind: 'cut'; readonly segment: Segment; readonly offset: number };

interface Commit {
  /** The highest sequence it makes durable: lowered by a truncateAfter meanwhile, undefined after a reset. */
  last: number | undefined;
  readonly waiters: ((error?: Error) => void)[];
}

interface Write {
  readonly segment: Segment;
  readonly buffer: Buffer;
  readonly position: number;
  readonly created: boolean;
}

export class SegmentLog {
  private pending: { sequence: number; payload: Uint8Array }[] = [];
  private changes: Change[] = [];
  private nextWaiters: ((error?: Error) => void)[] = [];
  private inFlight: Commit | undefined;
  private running = false;
  private drained: Promise<void> = Promise.resolve();
  private failure: CatenaError | undefined;
  private closed = false;
  /** The sequence the next append must have; undefined while the log is empty (any is taken). */
  private nextSequence: number | undefined;
  private durable: number;
  /** Each commit that wrote records: how long its write and fdatasync took, and how many records it made durable. */
  readonly commitStats = { durationUs: new LatencyHistogram(), records: new LatencyHistogram() };

  private constructor(
    private readonly dir: string,
    private readonly dirFd: number,
    private segments: Segment[],
    /** What open() found, for a log line. */
    readonly recovered: { readonly tornBytes: number; readonly segments: number; readonly records: number },
    private readonly fs: SegmentLogFs,
    private readonly fsync: boolean,
    private readonly segmentBytesMax: number,
    private readonly preallocateBytes: number,
  ) {
    const last = segments.at(-1);
    this.durable = last === undefined ? 0 : last.first + last.offsets.length - 1;
    this.nextSequence = last === undefined ? undefined : this.durable + 1;
  }

  /**
   * Opens the log in `dir` (created if missing), reading and checking every segment. A torn record
   * at the end of the last segment is cut off (recovered.tornBytes); any other damage throws
   * CorruptLogError. Synchronous: it runs once, before the node serves anything.
   */
  static open(dir: string, options: SegmentLogOptions = {}): SegmentLog {
    const fs = options.fs ?? nodeFs;
    const fsync = (options.durability ?? 'fsync') === 'fsync';
    const segmentBytesMax = options.segmentBytesMax ?? logSegmentBytesMaxDefault;
    const preallocateBytes = options.preallocateBytes ?? logPreallocateBytesDefault;
    assert(Number.isSafeInteger(segmentBytesMax) && segmentBytesMax > 0, 'segmentBytesMax is a positive integer');
    assert(Number.isSafeInteger(preallocateBytes) && preallocateBytes >= 0, 'preallocateBytes is an integer >= 0');
    fs.mkdirSync(dir, { recursive: true });
    const dirFd = fs.openSync(dir, 'r');
    const segments: Segment[] = [];
    try {
      const tornBytes = recover(fs, dir, segments);
      if (fsync) {
        // What was read may still be only in the page cache (a process crash, not a power loss).
        const last = segments.at(-1);
        if (last !== undefined) fs.fdatasyncSync(last.fd);
        fs.fsyncSync(dirFd);
      }
      const records = segments.reduce((sum, segment) => sum + segment.offsets.length, 0);
      const recovered = { tornBytes, segments: segments.length, records };
      return new SegmentLog(dir, dirFd, segments, recovered, fs, fsync, segmentBytesMax, preallocateBytes);
    } catch (error) {
      for (const segment of segments) fs.closeSync(segment.fd);
      fs.closeSync(dirFd);
      throw error;
    }
  }

  /** Highest sequence a completed sync made durable (0 if none; nextSequence - 1 after reset). */
  get durableLast(): number {
    return this.durable;
  }

  /**
   * Buffers a record; sync() writes it. `sequence` must follow the last one appended (any value
   * when the log is empty). The log keeps `payload` by reference: do not modify it until the
   * sync that covers it completes.
   */
  append(sequence: number, payload: Uint8Array): void {
    this.checkWritable();
    assert(Number.isSafeInteger(sequence) && sequence >= 1, `a log sequence is a positive integer, not ${sequence}`);
    assert(
      this.nextSequence === undefined || sequence === this.nextSequence,
      `append of sequence ${sequence}, but the log continues at ${this.nextSequence}`,
    );
    assert(payload.length <= logRecordPayloadBytesMax, `a log record of ${payload.length} bytes is too large`);
    this.pending.push({ sequence, payload });
    this.nextSequence = sequence + 1;
  }

  /**
   * Calls `done` once every record appended, and every change made, before this call is durable
   * (with 'memory' durability: written). Always asynchronous, in call order; with nothing new, no
   * fdatasync. An error is fatal: `done` gets it, and the log refuses further changes.
   */
  sync(done: (error?: Error) => void): void {
    assert(!this.closed, 'sync on a closed segment log');
    const failure = this.failure;
    if (failure !== undefined) {
      process.nextTick(() => done(failure));
    } else if (this.pending.length > 0 || this.changes.length > 0 || this.nextWaiters.length > 0) {
      this.nextWaiters.push(done);
      this.kick();
    } else if (this.inFlight !== undefined) {
      this.inFlight.waiters.push(done);
    } else {
      process.nextTick(() => done());
    }
  }

  /**
   * Drops every record after `sequence`, appended or durable, to replace a suffix: at once for
   * reads and appends (the next append is sequence + 1), on disk durably by the next sync. A crash
   * before that leaves the old suffix, never a mix of old and new records.
   */
  truncateAfter(sequence: number): void {
    this.checkWritable();
    assert(Number.isSafeInteger(sequence) && sequence >= 0, `truncateAfter of ${sequence}`);
    if (this.nextSequence === undefined || sequence >= this.nextSequence - 1) return;
    const firstPending = this.pending[0]?.sequence;
    if (firstPending !== undefined) this.pending.length = Math.max(0, sequence + 1 - firstPending);
    let removed = false;
    for (let last = this.segments.at(-1); last !== undefined && last.first > sequence; last = this.segments.at(-1)) {
      this.segments.pop();
      this.changes.push({ kind: 'remove', segment: last });
      removed = true;
    }
    if (removed) this.changes.push({ kind: 'syncDirectory' });
    const tail = this.segments.at(-1);
    const index = tail === undefined ? 0 : sequence + 1 - tail.first;
    if (tail !== undefined && index < tail.offsets.length) {
      const offset = tail.offsets[index]!;
      tail.offsets.length = index;
      tail.end = offset;
      tail.allocated = offset;
      this.changes.push({ kind: 'cut', segment: tail, offset });
    }
    this.durable = Math.min(this.durable, sequence);
    if (this.inFlight?.last !== undefined) this.inFlight.last = Math.min(this.inFlight.last, sequence);
    this.nextSequence = sequence + 1;
    this.kick();
  }

  /** The first and last durable records, or undefined if the log holds none. */
  bounds(): { first: number; last: number } | undefined {
    assert(!this.closed, 'bounds of a closed segment log');
    const first = this.segments[0]?.first;
    return first === undefined || this.durable < first ? undefined : { first, last: this.durable };
  }

  /** The segment files: how many, and their size on disk (preallocated steps included). */
  diskUsage(): { segments: number; bytes: number } {
    let bytes = 0;
    for (const segment of this.segments) bytes += segment.allocated;
    return { segments: this.segments.length, bytes };
  }

  /** A durable record's payload (a record appended but not yet made durable reads as undefined). */
  read(sequence: number): Uint8Array | undefined {
    const [record] = this.runAt(sequence, sequence);
    return record?.payload;
  }

  /** The durable records with from < sequence <= to, in order, read from disk in runs. */
  *range(from: number, to: number): Generator<{ sequence: number; payload: Uint8Array }> {
    let sequence = Math.max(from + 1, this.segments[0]?.first ?? 0);
    for (;;) {
      const run = this.runAt(sequence, to);
      if (run.length === 0) return;
      yield* run;
      sequence += run.length;
    }
  }

  /**
   * Deletes the segment files all of whose records are below `sequence` (never the current one);
   * at once for reads, from the disk in the background (a later sync completes after it).
   */
  trimBelow(sequence: number): void {
    this.checkWritable();
    assert(Number.isSafeInteger(sequence), `trimBelow of ${sequence}`);
    let count = 0;
    while (count + 1 < this.segments.length && this.segments[count + 1]!.first <= sequence) count++;
    for (const segment of this.segments.splice(0, count)) this.changes.push({ kind: 'remove', segment });
    this.kick();
  }

  /**
   * Drops every record and segment file, and continues at `nextSequence` (after a snapshot
   * install), or at any sequence the next append names when it is undefined. The files are gone
   * durably by the next sync; a crash before it leaves the old log.
   */
  reset(nextSequence?: number): void {
    this.checkWritable();
    assert(
      nextSequence === undefined || (Number.isSafeInteger(nextSequence) && nextSequence >= 1),
      `reset to ${nextSequence}`,
    );
    for (const segment of this.segments) this.changes.push({ kind: 'remove', segment });
    this.changes.push({ kind: 'syncDirectory' });
    this.segments = [];
    this.pending = [];
    this.nextSequence = nextSequence;
    this.durable = nextSequence === undefined ? 0 : nextSequence - 1;
    if (this.inFlight !== undefined) this.inFlight.last = undefined;
    this.kick();
  }

  /**
   * Waits for the commits asked for (and the changes made) so far, then closes the files. Records
   * appended but never synced are not written.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.running) await this.drained;
    this.closed = true;
    for (const change of this.changes) if (change.kind === 'remove') this.closeFd(change.segment);
    for (const segment of this.segments) this.closeFd(segment);
    this.fs.closeSync(this.dirFd);
  }

  private closeFd(segment: Segment): void {
    if (segment.fd >= 0) this.fs.closeSync(segment.fd);
    segment.fd = -1;
  }

  private checkWritable(): void {
    assert(!this.closed, 'a change to a closed segment log');
    if (this.failure !== undefined) {
      throw new CatenaError(
        'ERR_STORAGE',
        `segment log ${this.dir} refuses changes after a failed commit (${this.failure.message})`,
        { cause: this.failure },
      );
    }
  }

  /** Starts the commit loop if there is work and it is not running. */
  private kick(): void {
    if (this.running || this.failure !== undefined) return;
    if (this.changes.length === 0 && this.nextWaiters.length === 0) return;
    this.running = true;
    this.drained = this.work();
  }

  /** Runs commits, one at a time, while any is asked for; never rejects (a failure is recorded). */
  private async work(): Promise<void> {
    try {
      while (this.failure === undefined && (this.changes.length > 0 || this.nextWaiters.length > 0)) {
        // After the turn's I/O callbacks, so that every append and sync of the turn share the commit.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const changes = this.changes;
        const records = this.pending;
        const commit: Commit = { last: records.at(-1)?.sequence, waiters: this.nextWaiters };
        this.changes = [];
        this.pending = [];
        this.nextWaiters = [];
        const write = this.plan(records);
        this.inFlight = commit;
        const startedMs = performance.now();
        try {
          await this.carryOut(changes, write);
        } catch (error) {
          this.inFlight = undefined;
          this.changes = [...changes, ...this.changes]; // never carried out now, but close() closes their files
          this.fail(error, commit.waiters);
          return;
        }
        this.inFlight = undefined;
        if (write !== undefined) {
          this.commitStats.durationUs.record((performance.now() - startedMs) * 1000);
          this.commitStats.records.record(records.length);
        }
        if (commit.last !== undefined && commit.last > this.durable) this.durable = commit.last;
        settle(commit.waiters, undefined);
      }
    } finally {
      this.running = false;
    }
  }

  /** Places the records: their offsets enter the index now (read() serves them once durable). */
  private plan(records: readonly { sequence: number; payload: Uint8Array }[]): Write | undefined {
    const firstRecord = records[0];
    if (firstRecord === undefined) return undefined;
    let segment = this.segments.at(-1);
    const created = segment === undefined || segment.end >= this.segmentBytesMax;
    if (segment === undefined || created) {
      const path = join(this.dir, segmentFileName(firstRecord.sequence));
      segment = { first: firstRecord.sequence, path, fd: -1, offsets: [], end: 0, allocated: 0 };
      this.segments.push(segment);
    }
    assert(segment.first + segment.offsets.length === firstRecord.sequence, 'records follow their segment');
    const position = segment.end;
    const end = records.reduce((sum, record) => sum + payloadAt + record.payload.length, position);
    const allocated = end > segment.allocated ? this.stepUp(end) : segment.allocated;
    const buffer =
      allocated > segment.allocated ? Buffer.alloc(allocated - position) : Buffer.allocUnsafe(end - position);
    let at = 0;
    for (const record of records) {
      segment.offsets.push(position + at);
      at = encodeRecord(buffer, at, record.sequence, record.payload);
    }
    segment.end = end;
    segment.allocated = allocated;
    return { segment, buffer, position, created };
  }

  /** The size a segment grows to so that it holds `end` bytes: the next step, capped at the segment's max. */
  private stepUp(end: number): number {
    if (this.preallocateBytes === 0) return end;
    const stepped = Math.ceil(end / this.preallocateBytes) * this.preallocateBytes;
    return Math.max(end, Math.min(stepped, this.segmentBytesMax));
  }

  /** The file operations of one commit, in order: the changes owed, then the write and its fdatasync. */
  private async carryOut(changes: readonly Change[], write: Write | undefined): Promise<void> {
    const fs = this.fs;
    for (const change of changes) {
      if (change.kind === 'remove') {
        const { fd, path } = change.segment;
        change.segment.fd = -1;
        if (fd >= 0) await io<void>(`close of ${path}`, (done) => fs.close(fd, done));
        await io<void>(`unlink of ${path}`, (done) => fs.unlink(path, done));
      } else if (change.kind === 'syncDirectory') {
        if (this.fsync) await io<void>(`fsync of ${this.dir}`, (done) => fs.fsync(this.dirFd, done));
      } else {
        const { fd, path } = change.segment;
        await io<void>(`ftruncate of ${path}`, (done) => fs.ftruncate(fd, change.offset, done));
        if (this.fsync) await io<void>(`fdatasync of ${path}`, (done) => fs.fdatasync(fd, done));
      }
    }
    if (write === undefined) return;
    const { segment, buffer, position } = write;
    if (write.created) {
      segment.fd = await io<number>(`creation of ${segment.path}`, (done) => fs.open(segment.path, 'wx+', 0o644, done));
    }
    for (let done = 0; done < buffer.length;) {
      const fd = segment.fd;
      const written = await io<number>(`write of ${segment.path}`, (callback) =>
        fs.write(fd, buffer, done, buffer.length - done, position + done, callback),
      );
      assert(written > 0, `a write of ${segment.path} wrote nothing`);
      done += written;
    }
    if (!this.fsync) return;
    await io<void>(`fdatasync of ${segment.path}`, (done) => fs.fdatasync(segment.fd, done));
    if (write.created) await io<void>(`fsync of ${this.dir}`, (done) => fs.fsync(this.dirFd, done));
  }

  private fail(error: unknown, waiters: readonly ((error?: Error) => void)[]): void {
    const failure =
      error instanceof CatenaError
        ? error
        : new CatenaError('ERR_STORAGE', `segment log ${this.dir}: ${String(error)}`, { cause: error });
    this.failure = failure;
    const all = [...waiters, ...this.nextWaiters];
    this.nextWaiters = [];
    settle(all, failure);
  }

  /**
   * Durable records from `sequence` up to `to`, within one segment, read with one positioned read
   * of about logReadRunBytes (one record at least); empty if `sequence` is not durable.
   */
  private runAt(sequence: number, to: number): { sequence: number; payload: Uint8Array }[] {
    assert(!this.closed, 'a read of a closed segment log');
    const last = Math.min(to, this.durable);
    if (!Number.isSafeInteger(sequence) || sequence > last) return [];
    const segment = this.segmentOf(sequence);
    if (segment === undefined) return [];
    const index = sequence - segment.first;
    const endOf = (i: number): number => segment.offsets[i + 1] ?? segment.end;
    const start = segment.offsets[index];
    if (start === undefined) return [];
    let lastIndex = index;
    const lastInSegment = Math.min(last - segment.first, segment.offsets.length - 1);
    while (lastIndex < lastInSegment && endOf(lastIndex + 1) - start <= logReadRunBytes) lastIndex++;
    const bytes = this.readAt(segment, start, endOf(lastIndex));
    const run: { sequence: number; payload: Uint8Array }[] = [];
    for (let i = index; i <= lastIndex; i++) {
      const at = segment.offsets[i]! - start;
      const reason = checkRecord(bytes, at, segment.first + i);
      if (reason !== undefined) throw new CorruptLogError(segment.path, start + at, `${reason} (read back)`);
      run.push({ sequence: segment.first + i, payload: recordPayload(bytes, at) });
    }
    return run;
  }

  /** The segment that holds `sequence` if any segment's range could (binary search on first sequences). */
  private segmentOf(sequence: number): Segment | undefined {
    let low = 0;
    let high = this.segments.length - 1;
    let found: Segment | undefined;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const segment = this.segments[middle]!;
      if (segment.first <= sequence) {
        found = segment;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  private readAt(segment: Segment, start: number, end: number): Buffer {
    const bytes = Buffer.allocUnsafe(end - start);
    for (let got = 0; got < bytes.length;) {
      const read = this.fs.readSync(segment.fd, bytes, got, bytes.length - got, start + got);
      if (read === 0) throw new CorruptLogError(segment.path, start + got, 'the file ends inside a durable record');
      got += read;
    }
    return bytes;
  }
}

/** Calls each callback in order; one that throws does not stop the others (its error is rethrown apart). */
function settle(callbacks: readonly ((error?: Error) => void)[], error: Error | undefined): void {
  for (const callback of callbacks) {
    try {
      callback(error);
    } catch (thrown) {
      process.nextTick(() => {
        throw thrown;
      });
    }
  }
}

/** A node:fs callback call as a promise whose error says what failed. */
function io<T>(what: string, run: (callback: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    run((error, value) => {
      if (error)
        reject(new CatenaError('ERR_STORAGE', `segment log: ${what} failed: ${error.message}`, { cause: error }));
      else resolve(value);
    });
  });
}

/**
 * Reads and checks the segments of `dir` in order into `segments`; cuts a torn tail off the last
 * one and removes a last segment left with no record. Returns the bytes cut off.
 */
function recover(fs: SegmentLogFs, dir: string, segments: Segment[]): number {
  const found = fs
    .readdirSync(dir)
    .flatMap((name) => {
      const first = parseSegmentFileName(name);
      return first === undefined ? [] : [{ path: join(dir, name), first }];
    })
    .sort((a, b) => a.first - b.first);
  let tornBytes = 0;
  for (const [i, { path, first }] of found.entries()) {
    const previous = segments.at(-1);
    if (previous !== undefined && first !== previous.first + previous.offsets.length) {
      const expected = previous.first + previous.offsets.length;
      throw new CorruptLogError(
        path,
        0,
        `it starts at sequence ${first}, but ${basename(previous.path)} ends before ${expected}: ` +
          'records are missing (a segment lost or cut short) or repeated between the two',
      );
    }
    const segment: Segment = { first, path, fd: fs.openSync(path, 'r+'), offsets: [], end: 0, allocated: 0 };
    segments.push(segment);
    const bytes = readWhole(fs, segment.fd);
    const scan = scanSegment(bytes, first);
    segment.offsets = scan.offsets;
    segment.end = scan.end;
    segment.allocated = bytes.length;
    if (scan.damage !== undefined) {
      if (i < found.length - 1) {
        throw new CorruptLogError(path, scan.damage.offset, `${scan.damage.reason}, in a segment that is not the last`);
      }
      const verdict = judgeTail(bytes, scan, first);
      if (!verdict.torn) throw new CorruptLogError(path, scan.damage.offset, verdict.reason);
      tornBytes += verdict.tornBytes;
      fs.ftruncateSync(segment.fd, scan.end);
      segment.allocated = scan.end;
    }
    if (i === found.length - 1 && segment.offsets.length === 0) {
      // A new segment whose first commit never completed.
      segments.pop();
      fs.closeSync(segment.fd);
      fs.unlinkSync(path);
    }
  }
  return tornBytes;
}

function readWhole(fs: SegmentLogFs, fd: number): Buffer {
  const bytes = Buffer.allocUnsafe(fs.fstatSync(fd).size);
  for (let got = 0; got < bytes.length;) {
    const read = fs.readSync(fd, bytes, got, bytes.length - got, got);
    assert(read > 0, 'a segment file shrank while it was read');
    got += read;
  }
  return bytes;
}
