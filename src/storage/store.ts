// The store interface: what every engine (LMDB for nodes, in-memory for tests and the
// simulator) must do, and the operations built once on top of a few engine primitives.
//
// Contract, shared by both engines and checked by one suite (test/storage/contract.ts):
// * Keys and values are bytes. Keys are ordered by unsigned byte comparison (memcmp).
// * Every mutation is synchronous and visible to the very next read on this store; it becomes
//   durable when a later `sync()` resolves. Callers that promise durability wait for it.
// * Every mutation gets a new version from one store-wide, never-reused revision counter, so a
//   compare-and-set on a version cannot be fooled by delete-and-recreate (no ABA).
// * Expired keys are never returned by reads. Reads never write: expired keys are removed by
//   `reclaimExpired`, which the node runs on a timer (and which a replicated node will one
//   day route through the log so replicas do not diverge). `size` and `bytes` count keys
//   physically present, like Redis's DBSIZE, until reclamation removes them.

import { assert } from '../core/assert.js';
import type { Clock } from '../core/clock.js';
import { keyBytesMax, valueBytesCeiling } from '../core/limits.js';

export interface StoredValue {
  readonly value: Uint8Array;
  /** The revision of the last mutation of this key; always >= 1. */
  readonly version: number;
  /** Absolute expiry in wall-clock ms, or 0 for "never expires". */
  readonly expiresAtMs: number;
  /** 32 opaque bits stored with the value (memcached's client flags); 0 unless a client sets them. */
  readonly flags: number;
}

export interface PutOptions {
  /** Absolute expiry in ms since the epoch; 0 or absent means no expiry. */
  expiresAtMs?: number;
  /** Client flags (a u32); absent means 0. */
  flags?: number;
}

export type CasResult = { ok: true; version: number } | { ok: false; currentVersion: number };

export type IncrResult =
  { ok: true; value: bigint; version: number } | { ok: false; reason: 'not-an-integer' | 'overflow' };

export interface ScanOptions {
  prefix?: Uint8Array;
  /** Return keys strictly greater than this one (the cursor of the previous page). */
  after?: Uint8Array;
  /** Entries to return at most. */
  limit: number;
  /** Keys and values returned add up to at most this many bytes (but a page holds at least one entry). */
  bytesMax?: number;
  /** Records (expired ones included) a page may step over before it returns a cursor; default 4 × limit. */
  examineMax?: number;
}

export interface ScanEntry extends StoredValue {
  readonly key: Uint8Array;
}

export interface ScanResult {
  readonly entries: ScanEntry[];
  /** Present when there may be more: pass it as `after` to continue. */
  readonly cursor: Uint8Array | undefined;
}

export interface Store {
  get(key: Uint8Array): StoredValue | undefined;
  put(key: Uint8Array, value: Uint8Array, options?: PutOptions): number;
  delete(key: Uint8Array): boolean;
  /** Replaces the value only if the key's current version equals `expectedVersion` (0 = absent). */
  cas(key: Uint8Array, expectedVersion: number, value: Uint8Array, options?: PutOptions): CasResult;
  /** Adds `delta` to a decimal signed 64-bit integer value (absent = 0); keeps its expiry. */
  incr(key: Uint8Array, delta: bigint): IncrResult;
  /** Appends to the value (absent = empty); keeps its expiry and flags. Returns the new length. */
  append(key: Uint8Array, suffix: Uint8Array): { length: number; version: number };
  /** Sets (or with 0 removes) a key's expiry, keeping value and flags. False if the key does not exist. */
  expire(key: Uint8Array, expiresAtMs: number): boolean;
  scan(options: ScanOptions): ScanResult;
  /** Keys stored (including expired keys not yet reclaimed). */
  size(): number;
  /** Bytes of keys and values stored. */
  bytes(): number;
  clear(): void;
  /** Removes up to `limit` keys whose expiry is at or before now. Returns how many. */
  reclaimExpired(limit: number): number;
  /** Resolves once every mutation made before the call is durable. */
  sync(): Promise<void>;
  /** True when every mutation so far is durable (sync() would resolve at once). */
  isSynced(): boolean;
  close(): Promise<void>;
}

/** Orders keys as LMDB does: unsigned bytes, then length. */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function hasPrefix(key: Uint8Array, prefix: Uint8Array | undefined): boolean {
  if (prefix === undefined || prefix.length === 0) return true;
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

const int64Max = 2n ** 63n - 1n;
const int64Min = -(2n ** 63n);
const integerPattern = /^(0|-?[1-9][0-9]{0,18})$/;

/** Parses a value as Redis does for INCR: canonical decimal, signed 64-bit. */
export function parseInt64(bytes: Uint8Array): bigint | undefined {
  if (bytes.length === 0 || bytes.length > 20) return undefined;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  if (!integerPattern.test(text)) return undefined;
  const value = BigInt(text);
  return value > int64Max || value < int64Min ? undefined : value;
}

/**
 * The operations every engine shares, written once over four primitives. Engines supply how a
 * record is read, written, removed and scanned; this class supplies the semantics.
 */
export abstract class BaseStore implements Store {
  protected revision = 0;

  constructor(protected readonly clock: Clock) {}

  /** The raw record, expired or not. */
  protected abstract readRecord(key: Uint8Array): StoredValue | undefined;
  protected abstract writeRecord(key: Uint8Array, record: StoredValue, previous: StoredValue | undefined): void;
  protected abstract removeRecord(key: Uint8Array, previous: StoredValue): void;
  /** Raw records in key order (expired ones included), keys > after, with the prefix. */
  protected abstract scanRecords(options: { prefix?: Uint8Array; after?: Uint8Array }): Iterable<ScanEntry>;
  /** Raw keys whose expiry is at or before `nowMs`, oldest expiry first. */
  protected abstract dueKeys(nowMs: number, limit: number): Uint8Array[];
  abstract size(): number;
  abstract bytes(): number;
  abstract clear(): void;
  abstract sync(): Promise<void>;
  abstract isSynced(): boolean;
  abstract close(): Promise<void>;

  /** The revision counter, for a snapshot (every replica must agree on versions). */
  get currentRevision(): number {
    return this.revision;
  }

  /** Installs a record as it is (from a snapshot or a slot import), version and expiry included. */
  restoreRecord(key: Uint8Array, record: StoredValue): void {
    this.writeRecord(key, record, this.readRecord(key));
  }

  protected nextVersion(): number {
    this.revision += 1;
    return this.revision;
  }

  private live(record: StoredValue | undefined): StoredValue | undefined {
    if (record === undefined) return undefined;
    if (record.expiresAtMs !== 0 && record.expiresAtMs <= this.clock.nowMs()) return undefined;
    return record;
  }

  private checkKey(key: Uint8Array): void {
    assert(key.length > 0 && key.length <= keyBytesMax, `key length ${key.length} out of bounds`);
  }

  private store(
    key: Uint8Array,
    value: Uint8Array,
    expiresAtMs: number,
    flags: number,
    previous: StoredValue | undefined,
  ): number {
    assert(value.length <= valueBytesCeiling, 'value within the ceiling');
    assert(Number.isSafeInteger(expiresAtMs) && expiresAtMs >= 0, 'expiry is a non-negative integer');
    assert(Number.isInteger(flags) && flags >= 0 && flags <= 0xffff_ffff, 'flags are a u32');
    const version = this.nextVersion();
    this.writeRecord(key, { value, version, expiresAtMs, flags }, previous);
    return version;
  }

  get(key: Uint8Array): StoredValue | undefined {
    this.checkKey(key);
    return this.live(this.readRecord(key));
  }

  put(key: Uint8Array, value: Uint8Array, options: PutOptions = {}): number {
    this.checkKey(key);
    return this.store(key, value, options.expiresAtMs ?? 0, options.flags ?? 0, this.readRecord(key));
  }

  delete(key: Uint8Array): boolean {
    this.checkKey(key);
    const previous = this.readRecord(key);
    if (previous === undefined) return false;
    this.nextVersion();
    this.removeRecord(key, previous);
    return this.live(previous) !== undefined;
  }

  cas(key: Uint8Array, expectedVersion: number, value: Uint8Array, options: PutOptions = {}): CasResult {
    this.checkKey(key);
    const previous = this.readRecord(key);
    const currentVersion = this.live(previous)?.version ?? 0;
    if (currentVersion !== expectedVersion) return { ok: false, currentVersion };
    return { ok: true, version: this.store(key, value, options.expiresAtMs ?? 0, options.flags ?? 0, previous) };
  }

  incr(key: Uint8Array, delta: bigint): IncrResult {
    this.checkKey(key);
    const previous = this.readRecord(key);
    const current = this.live(previous);
    const base = current === undefined ? 0n : parseInt64(current.value);
    if (base === undefined) return { ok: false, reason: 'not-an-integer' };
    const value = base + delta;
    if (value > int64Max || value < int64Min) return { ok: false, reason: 'overflow' };
    const bytes = Buffer.from(value.toString(), 'latin1');
    const version = this.store(key, bytes, current?.expiresAtMs ?? 0, current?.flags ?? 0, previous);
    return { ok: true, value, version };
  }

  append(key: Uint8Array, suffix: Uint8Array): { length: number; version: number } {
    this.checkKey(key);
    const previous = this.readRecord(key);
    const current = this.live(previous);
    const value = current === undefined ? Buffer.from(suffix) : Buffer.concat([current.value, suffix]);
    const version = this.store(key, value, current?.expiresAtMs ?? 0, current?.flags ?? 0, previous);
    return { length: value.length, version };
  }

  expire(key: Uint8Array, expiresAtMs: number): boolean {
    this.checkKey(key);
    const previous = this.readRecord(key);
    const current = this.live(previous);
    if (current === undefined) return false;
    this.store(key, current.value, expiresAtMs, current.flags, previous);
    return true;
  }

  scan(options: ScanOptions): ScanResult {
    assert(options.limit > 0, 'scan limit is positive');
    const bytesMax = options.bytesMax ?? Number.POSITIVE_INFINITY;
    // Expired keys are skipped but still count as work, so a page never walks unboundedly.
    const examineMax = options.examineMax ?? options.limit * 4;
    const entries: ScanEntry[] = [];
    let bytes = 0;
    let examined = 0;
    let lastKey: Uint8Array | undefined;
    const nowMs = this.clock.nowMs();
    for (const entry of this.scanRecords(options)) {
      if (entries.length >= options.limit || examined >= examineMax) return { entries, cursor: lastKey };
      const expired = entry.expiresAtMs !== 0 && entry.expiresAtMs <= nowMs;
      const size = entry.key.length + entry.value.length;
      if (!expired && entries.length > 0 && bytes + size > bytesMax) return { entries, cursor: lastKey };
      examined += 1;
      lastKey = entry.key;
      if (expired) continue;
      entries.push(entry);
      bytes += size;
    }
    return { entries, cursor: undefined };
  }

  reclaimExpired(limit: number): number {
    // An engine's expiry index may lag its latest writes, so each candidate is checked again.
    return this.reclaimKeys(this.dueKeys(this.clock.nowMs(), limit));
  }

  /** Keys that have expired now, up to `limit` (candidates for `reclaimKeys`). */
  expiredKeys(limit: number): Uint8Array[] {
    const nowMs = this.clock.nowMs();
    return this.dueKeys(nowMs, limit).filter((key) => {
      const record = this.readRecord(key);
      return record !== undefined && record.expiresAtMs !== 0 && record.expiresAtMs <= nowMs;
    });
  }

  /**
   * Removes those of `keys` that have expired now; returns how many. The same keys at the same
   * clock remove the same records on every replica, whatever their expiry indexes hold.
   */
  reclaimKeys(keys: readonly Uint8Array[]): number {
    const nowMs = this.clock.nowMs();
    let removed = 0;
    for (const key of keys) {
      if (key.length === 0 || key.length > keyBytesMax) continue;
      const previous = this.readRecord(key);
      if (previous === undefined || previous.expiresAtMs === 0 || previous.expiresAtMs > nowMs) continue;
      // No new revision: reclaiming removes what reads already treat as gone, and replicas
      // reclaim at different moments, so it must not move the counter they agree on.
      this.removeRecord(key, previous);
      removed += 1;
    }
    return removed;
  }
}
