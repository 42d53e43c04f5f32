// The LMDB engine: one environment per data directory, sub-databases as docs/design.md §5 lays out.
//
//   <dataDir>/LOCK            pid of the owning process (data-dir-lock.ts)
//   <dataDir>/log/            the chain's log: segment files (segment-log.ts), the replica's
//                             durability point; one fdatasync per group commit, off the event loop
//   <dataDir>/store.mdb       LMDB environment:
//     data    key bytes -> record   record = [u8 format=1][f64 version][f64 expiresAtMs][value]
//                                   or, with client flags, [u8 2][f64 version][f64 expiresAtMs][u32 flags][value]
//     expiry  [f64 BE expiresAtMs][key] -> empty     (index for reclamation, oldest first)
//     log     sequence -> entry      (the log of data directories written before the segment log:
//                                     still read, trimmed and cleared; never written)
//     meta    name -> msgpack        ('state': revision, key count, byte count)
//
// Group fsync, once per event turn that asks for it: every write issued, from any connection, is
// queued and lands in one synchronous LMDB transaction run from setImmediate (after the turn's I/O
// callbacks) once someone waits for durability (`sync()`, `whenDurable`), and one fsync covers
// it. Writes nobody waits for (a replica applying committed entries: their log records are
// already durable) go with the next transaction someone asks for, or after lazyFlushMs at the
// latest, so an ack's turn does not pay a transaction of its own. Until then a write lives in
// `pending`, an overlay consulted by reads, so each mutation is visible to the next read at once,
// as the store contract requires. `sync()` resolves right after the transaction that holds every
// write issued so far. With 'memory' durability the same transaction runs without its fsync: it
// is written to the OS when `sync()` resolves, so a reply that waited for it survives a crash of
// the process (not of the machine), and nothing is ever written through a writable map.
// The meta record is rewritten once per turn inside the same transaction, so data and counters
// never disagree. (lmdb-js's asynchronous writes were used first: under a steady stream of small
// writes its writer thread keeps extending one transaction while writes keep arriving, and a
// write waited 15-25 ms for its transaction on this 2-core machine; a synchronous transaction with fsync
// takes about 0.3 ms here and blocks the event loop only that long.)

import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { assert } from '../core/assert.js';
import { lmdbLazyFlushMs } from '../core/limits.js';
import type { Clock } from '../core/clock.js';
import { CatenaError } from '../core/errors.js';
import { LatencyHistogram } from '../core/histogram.js';
import { DataDirLock } from './data-dir-lock.js';
import { SegmentLog } from './segment-log.js';
import { storageFailure } from './storage-failure.js';
import { decodeLogRecord, encodeLogRecord, readClient, readFrozen, readPosition } from './log-record.js';
import {
  replicaMetaDefaults,
  type LogRecord,
  type ReplicaMeta,
  type ReplicaStore,
  type SnapshotReader,
  type StoredClient,
} from './log-store.js';
import { BaseStore, compareKeys, hasPrefix, type ScanEntry, type StoredValue } from './store.js';

const recordFormat = 1;
const recordHeaderBytes = 17;
/** A record with non-zero client flags: the plain header plus a u32 (records without flags stay 17 bytes). */
const recordFormatFlags = 2;
const recordFlagsHeaderBytes = 21;

interface MetaState {
  revision: number;
  keys: number;
  bytes: number;
}

export interface LmdbStoreOptions {
  dataDir: string;
  clock: Clock;
  /**
   * 'fsync': `sync()` resolves once the transaction is on disk. 'memory': once it is written to the
   * OS, without fsync (survives the process's crash, not the machine's).
   */
  durability: 'fsync' | 'memory';
  /** Called once if a transaction or flush fails; the node must stop (an fsync error is fatal). */
  onFatal?: (error: unknown) => void;
  /** Log segment size and preallocation step (defaults: limits.ts); tests make segments small to trim often. */
  logSegmentBytesMax?: number;
  logPreallocateBytes?: number;
}

function encodeRecord(record: StoredValue): Buffer {
  const headerBytes = record.flags === 0 ? recordHeaderBytes : recordFlagsHeaderBytes;
  const buffer = Buffer.allocUnsafe(headerBytes + record.value.length);
  buffer[0] = record.flags === 0 ? recordFormat : recordFormatFlags;
  buffer.writeDoubleBE(record.version, 1);
  buffer.writeDoubleBE(record.expiresAtMs, 9);
  if (record.flags !== 0) buffer.writeUInt32BE(record.flags, recordHeaderBytes);
  buffer.set(record.value, headerBytes);
  return buffer;
}

function decodeRecord(buffer: Buffer): StoredValue {
  const format = buffer[0];
  const headerBytes = format === recordFormatFlags ? recordFlagsHeaderBytes : recordHeaderBytes;
  assert(
    buffer.length >= headerBytes && (format === recordFormat || format === recordFormatFlags),
    'stored record has a known format',
  );
  return {
    version: buffer.readDoubleBE(1),
    expiresAtMs: buffer.readDoubleBE(9),
    flags: format === recordFormatFlags ? buffer.readUInt32BE(recordHeaderBytes) : 0,
    value: buffer.subarray(headerBytes),
  };
}

function expiryKey(expiresAtMs: number, key: Uint8Array): Buffer {
  const buffer = Buffer.allocUnsafe(8 + key.length);
  buffer.writeDoubleBE(expiresAtMs, 0);
  buffer.set(key, 8);
  return buffer;
}

const keyId = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
const empty = Buffer.alloc(0);
const resolved = Promise.resolve();

export interface StorageStats {
  /** Each group commit of the log: its write and fdatasync (write only with memory durability). */
  readonly logCommitUs: LatencyHistogram;
  /** Records each group commit of the log made durable. */
  readonly logCommitRecords: LatencyHistogram;
  readonly lmdbTransactionUs: LatencyHistogram;
  readonly logSegments: number;
  readonly logBytes: number;
}

export class LmdbStore extends BaseStore implements ReplicaStore {
  private readonly env: RootDatabase;
  private readonly data: Database<Buffer, Buffer>;
  private readonly expiry: Database<Buffer, Buffer>;
  /** The log of a data directory from before the segment log (read, trimmed, cleared; never written). */
  private readonly legacyLog: Database<Buffer, number>;
  /** The chain's log: the durability point of the replica's writes. */
  private readonly segments: SegmentLog;
  /** The last sequence appended (durable or not), 0 when the segment log is empty. */
  private segmentsLast = 0;
  private readonly meta: Database<unknown, string>;
  private readonly lock: DataDirLock;
  /** Writes issued but not yet committed: key -> record, or null for a pending delete. */
  private pending = new Map<string, StoredValue | null>();
  /** Clears issued but not yet committed: while > 0, LMDB's committed data is hidden. */
  private clearsPending = 0;
  private keys = 0;
  private storedBytes = 0;
  /** The meta 'state' record changed this turn (written at the end of the turn's transaction). */
  private metaDirty = false;
  /** Writes queued for the end of this turn's transaction, in issue order. */
  private ops: (() => void)[] = [];
  private flushScheduled = false;
  /** The timer of a flush nobody waits for (scheduleFlush). */
  private lazyFlush: NodeJS.Timeout | undefined;
  private writesIssued = 0;
  private writesSynced = 0;
  /** Callers of sync() waiting for the next transaction. */
  private syncGroup: { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } | undefined;
  private failure: unknown;
  private closed = false;
  /** How long each end-of-turn LMDB transaction took (its sync included, with fsync durability). */
  private readonly transactionUs = new LatencyHistogram();

  constructor(private readonly options: LmdbStoreOptions) {
    super(options.clock);
    // Only this user may look inside (the data, the log and meta are readable files).
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    this.lock = DataDirLock.acquire(options.dataDir);
    try {
      this.env = open({
        path: join(options.dataDir, 'store.mdb'),
        maxDbs: 8,
        noSync: options.durability === 'memory',
        // No writable map, in either mode: with one, LMDB writes pages through a shared mapping of a
        // sparse file, and a full disk turns a write into SIGBUS (the process dies with no log line,
        // the turn's transaction half-made). Without it a transaction writes its pages with
        // pwrite(), which fails cleanly (a short write: LMDB says EIO; see storageFailure below).
        useWritemap: false,
        // The transaction itself must include the fsync: sync() promises durability when it resolves.
        overlappingSync: false,
      });
      this.data = this.env.openDB({ name: 'data', keyEncoding: 'binary', encoding: 'binary' });
      this.expiry = this.env.openDB({ name: 'expiry', keyEncoding: 'binary', encoding: 'binary' });
      this.legacyLog = this.env.openDB({ name: 'log', encoding: 'binary' });
      this.meta = this.env.openDB({ name: 'meta', encoding: 'msgpack' });
    } catch (error) {
      this.lock.release();
      throw new CatenaError('ERR_STORAGE', `cannot open LMDB in ${options.dataDir}: ${String(error)}`, {
        cause: error,
      });
    }
    try {
      this.segments = SegmentLog.open(join(options.dataDir, 'log'), {
        durability: options.durability,
        ...(options.logSegmentBytesMax === undefined ? {} : { segmentBytesMax: options.logSegmentBytesMax }),
        ...(options.logPreallocateBytes === undefined ? {} : { preallocateBytes: options.logPreallocateBytes }),
      });
    } catch (error) {
      void this.env.close();
      this.lock.release();
      throw error; // CorruptLogError names the file and offset, and how to rejoin
    }
    this.segmentsLast = this.segments.bounds()?.last ?? 0;
    if (this.meta.get(metaNames.applied) === undefined && this.meta.get(metaNames.position) !== undefined) {
      // Written before entries were applied at commit: every logged entry was applied.
      this.meta.putSync(metaNames.applied, this.meta.get(metaNames.position));
    }
    const state = this.meta.get('state') as MetaState | undefined;
    this.revision = state?.revision ?? 0;
    this.keys = state?.keys ?? 0;
    this.storedBytes = state?.bytes ?? 0;
  }

  protected readRecord(key: Uint8Array): StoredValue | undefined {
    if (this.pending.size > 0 || this.clearsPending > 0) {
      const overlay = this.pending.get(keyId(key));
      if (overlay !== undefined) return overlay ?? undefined;
      if (this.clearsPending > 0) return undefined;
    }
    const buffer = this.data.get(key as Buffer);
    return buffer === undefined ? undefined : decodeRecord(buffer);
  }

  protected writeRecord(key: Uint8Array, record: StoredValue, previous: StoredValue | undefined): void {
    const owned: StoredValue = { ...record, value: Buffer.from(record.value) };
    this.account(key, previous, owned);
    const dataKey = Buffer.from(key);
    const staleExpiry =
      previous !== undefined && previous.expiresAtMs !== 0 && previous.expiresAtMs !== owned.expiresAtMs
        ? expiryKey(previous.expiresAtMs, key)
        : undefined;
    const newExpiry = owned.expiresAtMs !== 0 ? expiryKey(owned.expiresAtMs, key) : undefined;
    const encoded = encodeRecord(owned);
    this.pending.set(keyId(key), owned);
    this.queue(() => {
      if (staleExpiry !== undefined) this.expiry.removeSync(staleExpiry);
      if (newExpiry !== undefined) this.expiry.putSync(newExpiry, empty);
      this.data.putSync(dataKey, encoded);
    });
  }

  protected removeRecord(key: Uint8Array, previous: StoredValue): void {
    this.account(key, previous, undefined);
    const dataKey = Buffer.from(key);
    const staleExpiry = previous.expiresAtMs !== 0 ? expiryKey(previous.expiresAtMs, key) : undefined;
    this.pending.set(keyId(key), null);
    this.queue(() => {
      if (staleExpiry !== undefined) this.expiry.removeSync(staleExpiry);
      this.data.removeSync(dataKey);
    });
  }

  private account(key: Uint8Array, previous: StoredValue | undefined, next: StoredValue | undefined): void {
    if (previous !== undefined) {
      this.keys -= 1;
      this.storedBytes -= key.length + previous.value.length;
    }
    if (next !== undefined) {
      this.keys += 1;
      this.storedBytes += key.length + next.value.length;
    }
    assert(this.keys >= 0 && this.storedBytes >= 0, 'key and byte counts stay non-negative');
    this.queueMetaWrite();
  }

  private queueMetaWrite(): void {
    if (this.metaDirty) return;
    this.metaDirty = true;
    this.writesIssued += 1;
    this.scheduleFlush();
  }

  /** Queues a write for the end of this turn's transaction. */
  private queue(op: () => void): void {
    this.ops.push(op);
    this.writesIssued += 1;
    this.scheduleFlush();
  }

  /** A write nobody waits for yet: it lands with the next transaction, or after lmdbLazyFlushMs. */
  private scheduleFlush(): void {
    if (this.flushScheduled || this.lazyFlush !== undefined) return;
    this.lazyFlush = setTimeout(this.flush, lmdbLazyFlushMs);
  }

  /** Someone waits for durability: the transaction runs at the end of this turn. */
  private scheduleFlushNow(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // After this turn's I/O callbacks: every request that arrived in the turn shares the transaction.
    setImmediate(this.flush);
  }

  /** Writes every queued write in one transaction (with its fsync, unless durability is memory). */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.lazyFlush !== undefined) clearTimeout(this.lazyFlush);
    this.lazyFlush = undefined;
    const ops = this.ops;
    this.ops = [];
    const target = this.writesIssued;
    const group = this.syncGroup;
    this.syncGroup = undefined;
    if (this.failure !== undefined || this.closed) {
      group?.reject(new CatenaError('ERR_STORAGE', String(this.failure ?? 'the store is closed')));
      return;
    }
    const startedMs = performance.now();
    try {
      this.env.transactionSync(() => {
        for (const op of ops) op();
        if (this.metaDirty) {
          this.metaDirty = false;
          const state: MetaState = { revision: this.revision, keys: this.keys, bytes: this.storedBytes };
          this.meta.putSync('state', state);
        }
      });
    } catch (error) {
      const failure = storageFailure(error, this.options.dataDir, 'an LMDB transaction');
      // Waiters first: the fatal handler may throw (the node stops).
      group?.reject(failure);
      this.fail(failure);
      return;
    }
    this.transactionUs.record((performance.now() - startedMs) * 1000);
    // Everything issued so far is committed: the overlay has nothing LMDB lacks.
    this.pending = new Map();
    this.clearsPending = 0;
    this.writesSynced = target;
    group?.resolve();
  };

  private readonly fail = (error: unknown): void => {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.options.onFatal?.(error);
  };

  protected *scanRecords(options: { prefix?: Uint8Array; after?: Uint8Array }): Iterable<ScanEntry> {
    const committed = this.clearsPending > 0 ? [] : this.durableRange(options);
    if (this.pending.size === 0) {
      yield* committed;
      return;
    }
    const overlay = [...this.pending]
      .map(([id, record]) => ({ key: Buffer.from(id, 'latin1'), record }))
      .filter(({ key }) => hasPrefix(key, options.prefix))
      .filter(({ key }) => options.after === undefined || compareKeys(key, options.after) > 0)
      .sort((a, b) => compareKeys(a.key, b.key));
    yield* mergeOverlay(committed, overlay);
  }

  /**
   * Every key of the table after `after`, in order, pending writes included, values not read
   * (expired keys included): for a reader that wants few of many keys (a slot export or drop)
   * and reads or removes those alone. The same on every replica that applied the same entries.
   */
  *keysAfter(after?: Uint8Array): Iterable<Uint8Array> {
    const start = after === undefined ? undefined : Buffer.from(after);
    const committed = function* (data: Database<Buffer, Buffer>): Iterable<ScanEntry> {
      for (const key of data.getKeys(start === undefined ? {} : { start })) {
        if (start !== undefined && compareKeys(key, start) <= 0) continue;
        yield { key } as unknown as ScanEntry; // only the key is read below
      }
    };
    const overlay = [...this.pending]
      .map(([id, record]) => ({ key: Buffer.from(id, 'latin1'), record }))
      .filter(({ key }) => start === undefined || compareKeys(key, start) > 0)
      .sort((a, b) => compareKeys(a.key, b.key));
    const entries = this.clearsPending > 0 ? [] : committed(this.data);
    for (const entry of overlay.length === 0 ? entries : mergeOverlay(entries, overlay)) yield entry.key;
  }

  private *durableRange(options: { prefix?: Uint8Array; after?: Uint8Array }): Iterable<ScanEntry> {
    let start: Buffer | undefined;
    if (options.prefix !== undefined && options.prefix.length > 0) start = Buffer.from(options.prefix);
    if (options.after !== undefined && (start === undefined || compareKeys(options.after, start) > 0)) {
      start = Buffer.from(options.after);
    }
    for (const { key, value } of this.data.getRange(start === undefined ? {} : { start })) {
      if (options.after !== undefined && compareKeys(key, options.after) <= 0) continue;
      if (!hasPrefix(key, options.prefix)) return;
      yield { key, ...decodeRecord(value) };
    }
  }

  protected dueKeys(nowMs: number, limit: number): Uint8Array[] {
    // Committed index entries, plus pending writes the index does not show yet.
    const due = new Map<string, { key: Uint8Array; atMs: number }>();
    const end = expiryKey(nowMs + 1, empty); // every entry with expiry <= nowMs, whatever its key
    if (this.clearsPending === 0) {
      for (const entry of this.expiry.getKeys({ end, limit })) {
        const key = entry.subarray(8);
        due.set(keyId(key), { key, atMs: entry.readDoubleBE(0) });
      }
    }
    for (const [id, record] of this.pending) {
      if (record === null || record.expiresAtMs === 0 || record.expiresAtMs > nowMs) continue;
      due.set(id, { key: Buffer.from(id, 'latin1'), atMs: record.expiresAtMs });
    }
    return [...due.values()]
      .sort((a, b) => a.atMs - b.atMs)
      .slice(0, limit)
      .map((d) => d.key);
  }

  size(): number {
    return this.keys;
  }

  bytes(): number {
    return this.storedBytes;
  }

  /** The costs of durability, for metrics: the log's group commits, LMDB's transactions, the log's size. */
  storageStats(): StorageStats {
    const disk = this.segments.diskUsage();
    return {
      logCommitUs: this.segments.commitStats.durationUs,
      logCommitRecords: this.segments.commitStats.records,
      lmdbTransactionUs: this.transactionUs,
      logSegments: disk.segments,
      logBytes: disk.bytes,
    };
  }

  clear(): void {
    this.nextVersion();
    this.keys = 0;
    this.storedBytes = 0;
    this.pending = new Map();
    this.clearsPending += 1;
    this.queue(() => {
      this.data.clearSync();
      this.expiry.clearSync();
    });
    this.queueMetaWrite();
  }

  sync(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(new CatenaError('ERR_STORAGE', String(this.failure)));
    if (this.writesSynced >= this.writesIssued) return resolved;
    if (this.syncGroup === undefined) {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<void>((ok, fail) => {
        resolve = ok;
        reject = fail;
      });
      this.syncGroup = { promise, resolve, reject };
      this.scheduleFlushNow();
    }
    return this.syncGroup.promise;
  }

  // ---- the log store (log-store.ts): written in the same event turn as the data they go with,
  // so they land in the same LMDB transaction and reach the disk together.

  // The log lives in segment files (segment-log.ts); a data directory written before keeps its
  // older entries in LMDB's `log` table, all of them below the segment log's, read from there.

  appendEntry(sequence: number, record: LogRecord): void {
    if (this.segmentsLast > 0 && sequence <= this.segmentsLast) this.segments.truncateAfter(sequence - 1);
    this.segments.append(sequence, encodeLogRecord(record));
    this.segmentsLast = sequence;
  }

  entry(sequence: number): LogRecord | undefined {
    const value = this.segments.read(sequence) ?? this.legacyLog.get(sequence);
    return value === undefined ? undefined : decodeLogRecord(value);
  }

  *entries(from: number, to: number): Iterable<{ sequence: number; record: LogRecord; bytes: number }> {
    const segmentsFirst = this.segments.bounds()?.first ?? Number.POSITIVE_INFINITY;
    if (from + 1 < segmentsFirst) {
      for (const { key, value } of this.legacyLog.getRange({
        start: from + 1,
        end: Math.min(to, segmentsFirst - 1) + 1,
      })) {
        yield { sequence: key as number, record: decodeLogRecord(value), bytes: value.length };
      }
    }
    for (const { sequence, payload } of this.segments.range(from, to)) {
      yield { sequence, record: decodeLogRecord(payload), bytes: payload.length };
    }
  }

  logBounds(): { first: number; last: number } | undefined {
    const segments = this.segments.bounds();
    let first: number | undefined;
    for (const key of this.legacyLog.getKeys({ limit: 1 })) first = key as number;
    if (first === undefined) return segments;
    let last = first;
    for (const key of this.legacyLog.getKeys({ reverse: true, limit: 1 })) last = key as number;
    return { first, last: segments?.last ?? last };
  }

  trimLog(below: number): void {
    this.segments.trimBelow(below);
    const keys = [...this.legacyLog.getKeys({ end: below })];
    if (keys.length === 0) return;
    this.queue(() => {
      for (const key of keys) this.legacyLog.removeSync(key);
    });
  }

  clearLog(): void {
    this.segments.reset();
    this.segmentsLast = 0;
    this.queue(() => this.legacyLog.clearSync());
  }

  readMeta(): ReplicaMeta {
    return this.withLogPosition(readReplicaMeta((name) => this.meta.get(name)));
  }

  /**
   * The log position is where the durable log ends: the segment log's last record, else the last
   * entry of LMDB's table from before the segment log, else the snapshot the log continues (or
   * nothing). Never the `position` meta record: written with the data, behind the log, it may be
   * ahead of or behind what a crash left of the log.
   */
  private withLogPosition(meta: ReplicaMeta): ReplicaMeta {
    const bounds = this.segments.bounds();
    const last = bounds?.last;
    if (last !== undefined) {
      const record = this.segments.read(last)!;
      return { ...meta, position: { lastSequence: last, lastEpoch: decodeLogRecord(record).epoch } };
    }
    for (const { key, value } of this.legacyLog.getRange({ reverse: true, limit: 1 })) {
      return { ...meta, position: { lastSequence: key as number, lastEpoch: decodeLogRecord(value).epoch } };
    }
    return { ...meta, position: meta.installed ?? replicaMetaDefaults.position };
  }

  writeMeta<K extends keyof ReplicaMeta>(name: K, value: ReplicaMeta[K]): void {
    const key = metaNames[name];
    if (value === undefined) {
      this.queue(() => this.meta.removeSync(key));
      return;
    }
    // Written at the end of the turn: a copy, so later changes to the caller's object are not.
    const copy = copyMeta(value);
    this.queue(() => this.meta.putSync(key, copy));
  }

  *clients(): Iterable<[string, StoredClient]> {
    for (const { key, value } of this.meta.getRange({ start: clientKeyPrefix, end: clientKeyPrefix + '\uffff' })) {
      yield [key.slice(clientKeyPrefix.length), readClient(key, value)];
    }
  }

  putClient(clientId: string, record: StoredClient): void {
    const copy = copyMeta(record);
    this.queue(() => this.meta.putSync(clientKeyPrefix + clientId, copy));
  }

  clearClients(): void {
    // At the end of the turn, inside its transaction: records put earlier in the turn go too.
    this.queue(() => {
      for (const key of [...this.meta.getKeys({ start: clientKeyPrefix, end: clientKeyPrefix + '\uffff' })]) {
        this.meta.removeSync(key);
      }
    });
  }

  removeClient(clientId: string): void {
    this.queue(() => this.meta.removeSync(clientKeyPrefix + clientId));
  }

  /** Everything issued so far durable: LMDB's transaction first, then the log (docs in log-store.ts). */
  whenDurable(done: (error?: unknown) => void): void {
    this.sync().then(
      () => this.whenLogDurable(done),
      (error: unknown) => done(error ?? new Error('storage failure')),
    );
  }

  whenLogDurable(done: (error?: unknown) => void): void {
    if (this.failure !== undefined) {
      done(new CatenaError('ERR_STORAGE', String(this.failure)));
      return;
    }
    this.segments.sync((error) => {
      if (error === undefined) return done();
      const failure = storageFailure(error, this.options.dataDir, 'a write of the log');
      this.fail(failure);
      done(failure);
    });
  }

  /** Sets the revision counter from a snapshot. */
  restoreRevision(revision: number): void {
    assert(Number.isSafeInteger(revision) && revision >= 0, 'a revision is a non-negative integer');
    this.revision = revision;
    this.queueMetaWrite();
  }

  /**
   * A consistent view of what the last transaction made durable, for streaming to a joiner: the
   * records and the meta values, read in one LMDB read transaction. Call `done()` when finished.
   */
  snapshotReader(): SnapshotReader {
    const transaction = this.env.useReadTransaction();
    const state = this.meta.get('state', { transaction }) as MetaState | undefined;
    return {
      revision: state?.revision ?? 0,
      meta: readReplicaMeta((name) => this.meta.get(name, { transaction })),
      clients: () =>
        [...this.meta.getRange({ transaction, start: clientKeyPrefix, end: clientKeyPrefix + '\uffff' })].map(
          ({ key, value }) => [key.slice(clientKeyPrefix.length), readClient(key, value)] as [string, StoredClient],
        ),
      records: (after, limit, bytesMax) => {
        const out: ScanEntry[] = [];
        let bytes = 0;
        const range = this.data.getRange({
          transaction,
          ...(after === undefined ? {} : { start: Buffer.from(after) }),
        });
        for (const { key, value } of range) {
          if (after !== undefined && compareKeys(key, after) <= 0) continue;
          if (out.length >= limit || (out.length > 0 && bytes + key.length + value.length > bytesMax)) {
            return { records: out, more: true };
          }
          out.push({ key: Buffer.from(key), ...decodeRecord(Buffer.from(value)) });
          bytes += key.length + value.length;
        }
        return { records: out, more: false };
      },
      done: () => transaction.done(),
    };
  }

  /** This data directory's node id: made once, at first open, and kept in meta. */
  nodeId(): string {
    const existing = this.meta.get('nodeId');
    if (typeof existing === 'string') return existing;
    const id = randomBytes(4).toString('hex');
    this.queue(() => this.meta.putSync('nodeId', id));
    return id;
  }

  isSynced(): boolean {
    return this.writesSynced >= this.writesIssued;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sync().catch(() => undefined);
    await this.segments.close().catch(() => undefined);
    this.closed = true;
    await this.env.close();
    this.lock.release();
  }
}

/** Meta record names on disk (the names are the format: data directories keep them). */
const metaNames: { readonly [K in keyof ReplicaMeta]: string } = {
  position: 'replica',
  applied: 'applied',
  installed: 'installed',
  installing: 'installing',
  chain: 'chain',
  frozen: 'frozen',
};
const clientKeyPrefix = 'client:';

function readReplicaMeta(get: (name: string) => unknown): ReplicaMeta {
  const installing = get(metaNames.installing);
  const chain = get(metaNames.chain);
  return {
    position: readPosition(metaNames.position, get(metaNames.position)) ?? replicaMetaDefaults.position,
    applied: readPosition(metaNames.applied, get(metaNames.applied)),
    installed: readPosition(metaNames.installed, get(metaNames.installed)),
    installing: installing === true,
    chain: typeof chain === 'string' ? chain : undefined,
    frozen: readFrozen(metaNames.frozen, get(metaNames.frozen)),
  };
}

/**
 * A deep copy of a meta value for a deferred write. Not structuredClone: that copies the whole
 * ArrayBuffer behind a view (a client result decoded from a frame would copy the frame, once per record).
 */
function copyMeta(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Uint8Array) return new Uint8Array(value); // the view's bytes only
  if (Array.isArray(value)) return value.map(copyMeta);
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) out[key] = copyMeta(field);
  return out;
}

/** Merges committed records with pending ones (both in key order); pending wins, null deletes. */
function* mergeOverlay(
  committed: Iterable<ScanEntry>,
  overlay: { key: Buffer; record: StoredValue | null }[],
): Iterable<ScanEntry> {
  let i = 0;
  const emitOverlayBefore = function* (key: Uint8Array | undefined): Iterable<ScanEntry> {
    while (i < overlay.length) {
      const next = overlay[i]!;
      if (key !== undefined && compareKeys(next.key, key) >= 0) return;
      i += 1;
      if (next.record !== null) yield { key: next.key, ...next.record };
    }
  };
  for (const entry of committed) {
    yield* emitOverlayBefore(entry.key);
    const same = overlay[i];
    if (same !== undefined && compareKeys(same.key, entry.key) === 0) {
      i += 1;
      if (same.record !== null) yield { key: same.key, ...same.record };
      continue;
    }
    yield entry;
  }
  yield* emitOverlayBefore(undefined);
}
