// The in-memory engine: for unit tests and the deterministic simulator. It models a disk that
// loses unsynced writes: every data mutation since the last durability point is kept in an undo
// journal, and log and meta writes wait in a list until it; `crash()` rolls the first back and
// drops the second, leaving exactly what a real node could find after power loss. Writes are
// grouped in turns (`endTurn`, as LMDB writes a turn's writes in one transaction), and a crash
// may keep a prefix of the unsynced turns: what a disk wrote back before anyone asked it to. When a
// durability point happens is the caller's choice (`MemoryStoreOptions.disk`): at once by
// default, or when the simulator's virtual disk says so.

import { assert } from '../core/assert.js';
import type { Clock } from '../core/clock.js';
import { decodeLogRecord, encodeLogRecord } from './log-record.js';
import {
  replicaMetaDefaults,
  type LogRecord,
  type ReplicaMeta,
  type ReplicaStore,
  type SnapshotReader,
  type StoredClient,
} from './log-store.js';
import { BaseStore, compareKeys, hasPrefix, type ScanEntry, type StoredValue } from './store.js';

export interface MemoryStoreOptions {
  /**
   * Asked to make the store durable: calls `flush` when the (virtual) disk has done so. The
   * default flushes in a microtask.
   */
  disk?: (flush: () => void) => void;
}

interface DurableLog {
  entries: Map<number, Buffer>;
  meta: Map<string, unknown>;
  clients: Map<string, StoredClient>;
}

type Undo =
  | { kind: 'record'; key: string; previous: StoredValue | undefined }
  | { kind: 'clear'; records: Map<string, StoredValue> }
  | { kind: 'revision'; revision: number };

const keyId = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
const keyBytes = (id: string): Buffer => Buffer.from(id, 'latin1');

export class MemoryStore extends BaseStore implements ReplicaStore {
  private records = new Map<string, StoredValue>();
  private undo: { step: Undo; turn: number }[] = [];
  /** Raised by endTurn(): a crash keeps or loses the writes of one turn together (one LMDB transaction). */
  private turn = 0;
  private storedBytes = 0;
  private closed = false;
  /** What the last durability point made durable of the log and meta. */
  private durable: DurableLog = { entries: new Map(), meta: new Map(), clients: new Map() };
  /** Log and meta writes since the last durability point, in issue order. */
  private pendingWrites: { write: (log: DurableLog) => void; turn: number }[] = [];
  private waiting: ((error?: unknown) => void)[] = [];
  private flushAsked = false;

  constructor(
    clock: Clock,
    private readonly options: MemoryStoreOptions = {},
  ) {
    super(clock);
  }

  protected override nextVersion(): number {
    this.undo.push({ step: { kind: 'revision', revision: this.revision }, turn: this.turn });
    return super.nextVersion();
  }

  protected readRecord(key: Uint8Array): StoredValue | undefined {
    return this.records.get(keyId(key));
  }

  protected writeRecord(key: Uint8Array, record: StoredValue, previous: StoredValue | undefined): void {
    const id = keyId(key);
    this.undo.push({ step: { kind: 'record', key: id, previous }, turn: this.turn });
    // Copy: the caller may reuse its buffer, and the store must own what it keeps.
    this.set(id, { ...record, value: Buffer.from(record.value) });
  }

  protected removeRecord(key: Uint8Array, previous: StoredValue): void {
    const id = keyId(key);
    this.undo.push({ step: { kind: 'record', key: id, previous }, turn: this.turn });
    this.set(id, undefined);
  }

  private set(id: string, record: StoredValue | undefined): void {
    const old = this.records.get(id);
    if (old !== undefined) this.storedBytes -= id.length + old.value.length;
    if (record === undefined) {
      this.records.delete(id);
    } else {
      this.records.set(id, record);
      this.storedBytes += id.length + record.value.length;
    }
  }

  protected *scanRecords(options: { prefix?: Uint8Array; after?: Uint8Array }): Iterable<ScanEntry> {
    const keys: Buffer[] = [];
    for (const id of this.records.keys()) {
      const key = keyBytes(id);
      if (!hasPrefix(key, options.prefix)) continue;
      if (options.after !== undefined && compareKeys(key, options.after) <= 0) continue;
      keys.push(key);
    }
    keys.sort(compareKeys);
    for (const key of keys) {
      const record = this.records.get(keyId(key));
      if (record !== undefined) yield { key, ...record };
    }
  }

  protected dueKeys(nowMs: number, limit: number): Uint8Array[] {
    const due: { key: string; at: number }[] = [];
    for (const [key, record] of this.records) {
      if (record.expiresAtMs !== 0 && record.expiresAtMs <= nowMs) due.push({ key, at: record.expiresAtMs });
    }
    due.sort((a, b) => a.at - b.at);
    return due.slice(0, limit).map((d) => keyBytes(d.key));
  }

  size(): number {
    return this.records.size;
  }

  bytes(): number {
    return this.storedBytes;
  }

  clear(): void {
    this.nextVersion();
    this.undo.push({ step: { kind: 'clear', records: this.records }, turn: this.turn });
    this.records = new Map();
    this.storedBytes = 0;
  }

  sync(): Promise<void> {
    if (this.isSynced()) return Promise.resolve();
    return new Promise((resolve, reject) =>
      this.whenDurable((error) => (error === undefined ? resolve() : reject(error))),
    );
  }

  isSynced(): boolean {
    return this.undo.length === 0 && this.pendingWrites.length === 0;
  }

  private logWrite(write: (log: DurableLog) => void): void {
    this.pendingWrites.push({ write, turn: this.turn });
  }

  /**
   * Ends a turn: the writes issued since the last call form one unit that a crash keeps or loses
   * whole, as LMDB writes a turn's writes in one transaction.
   */
  endTurn(): void {
    if (this.undo.length > 0 || this.pendingWrites.length > 0) this.turn += 1;
  }

  /** Turns whose writes are not durable yet (crash(k) may keep the first k of them). */
  get unsyncedTurns(): number {
    const turns = new Set<number>();
    for (const { turn } of this.undo) turns.add(turn);
    for (const { turn } of this.pendingWrites) turns.add(turn);
    return turns.size;
  }

  /** The log, meta and data reach the disk together here: the same as whenDurable. */
  whenLogDurable(done: (error?: unknown) => void): void {
    this.whenDurable(done);
  }

  whenDurable(done: (error?: unknown) => void): void {
    this.waiting.push(done);
    if (this.flushAsked) return;
    this.flushAsked = true;
    const flush = (): void => this.flush();
    if (this.options.disk === undefined) queueMicrotask(flush);
    else this.options.disk(flush);
  }

  /** The durability point: everything issued so far is durable; the waiters hear of it. */
  private flush(): void {
    if (this.closed) return;
    this.flushAsked = false;
    this.undo = [];
    for (const { write } of this.pendingWrites) write(this.durable);
    this.pendingWrites = [];
    const waiting = this.waiting;
    this.waiting = [];
    for (const done of waiting) done();
  }

  // ---- the log store (log-store.ts) ---------------------------------------------------------

  appendEntry(sequence: number, record: LogRecord): void {
    assert(Number.isSafeInteger(sequence) && sequence > 0, 'a log sequence is a positive integer');
    const encoded = encodeLogRecord(record); // the on-disk form, so the simulator runs the codec too
    this.logWrite((log) => log.entries.set(sequence, encoded));
  }

  entry(sequence: number): LogRecord | undefined {
    const encoded = this.durable.entries.get(sequence);
    return encoded === undefined ? undefined : decodeLogRecord(encoded);
  }

  *entries(from: number, to: number): Iterable<{ sequence: number; record: LogRecord; bytes: number }> {
    const bounds = this.logBounds();
    if (bounds === undefined) return;
    for (let sequence = Math.max(from + 1, bounds.first); sequence <= Math.min(to, bounds.last); sequence++) {
      const encoded = this.durable.entries.get(sequence);
      if (encoded !== undefined) yield { sequence, record: decodeLogRecord(encoded), bytes: encoded.length };
    }
  }

  logBounds(): { first: number; last: number } | undefined {
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (const sequence of this.durable.entries.keys()) {
      if (sequence < first) first = sequence;
      if (sequence > last) last = sequence;
    }
    return last === 0 ? undefined : { first, last };
  }

  trimLog(below: number): void {
    this.logWrite((log) => {
      for (const sequence of [...log.entries.keys()]) if (sequence < below) log.entries.delete(sequence);
    });
  }

  clearLog(): void {
    this.logWrite((log) => log.entries.clear());
  }

  readMeta(): ReplicaMeta {
    return metaFrom(this.durable.meta);
  }

  writeMeta<K extends keyof ReplicaMeta>(name: K, value: ReplicaMeta[K]): void {
    const copy = structuredClone(value);
    this.logWrite((log) => {
      if (copy === undefined) log.meta.delete(name);
      else log.meta.set(name, copy);
    });
  }

  clients(): Iterable<[string, StoredClient]> {
    return [...this.durable.clients].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  putClient(clientId: string, record: StoredClient): void {
    const copy = { ...record, result: record.result === undefined ? undefined : Buffer.from(record.result) };
    this.logWrite((log) => log.clients.set(clientId, copy));
  }

  clearClients(): void {
    this.logWrite((log) => log.clients.clear());
  }

  removeClient(clientId: string): void {
    this.logWrite((log) => log.clients.delete(clientId));
  }

  restoreRevision(revision: number): void {
    assert(Number.isSafeInteger(revision) && revision >= 0, 'a revision is a non-negative integer');
    this.undo.push({ step: { kind: 'revision', revision: this.revision }, turn: this.turn });
    this.revision = revision;
  }

  *keysAfter(after?: Uint8Array): Iterable<Uint8Array> {
    for (const entry of this.scanRecords(after === undefined ? {} : { after })) yield entry.key;
  }

  /** The durable state, as a crash now would leave it: a copy, unaffected by later writes. */
  snapshotReader(): SnapshotReader {
    const records = new Map(this.records);
    let revision = this.revision;
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const step = this.undo[i]!.step;
      if (step.kind === 'record') {
        if (step.previous === undefined) records.delete(step.key);
        else records.set(step.key, step.previous);
      } else if (step.kind === 'clear') {
        records.clear();
        for (const [id, record] of step.records) records.set(id, record);
      } else {
        revision = step.revision;
      }
    }
    const sorted = [...records].map(([id, record]) => ({ key: keyBytes(id), ...record }));
    sorted.sort((a, b) => compareKeys(a.key, b.key));
    const clients = [...this.clients()];
    return {
      revision,
      meta: this.readMeta(),
      clients: () => clients,
      records: (after, limit, bytesMax) => {
        const out: ScanEntry[] = [];
        let bytes = 0;
        for (const entry of sorted) {
          if (after !== undefined && compareKeys(entry.key, after) <= 0) continue;
          const size = entry.key.length + entry.value.length;
          if (out.length >= limit || (out.length > 0 && bytes + size > bytesMax)) return { records: out, more: true };
          out.push(entry);
          bytes += size;
        }
        return { records: out, more: false };
      },
      done: () => undefined,
    };
  }

  /**
   * Simulates power loss: every write since the last durability point is gone, except the first
   * `survivingTurns` turns of them (endTurn), which the disk happened to write back in time.
   */
  crash(survivingTurns = 0): void {
    const turns = [...new Set([...this.undo.map((u) => u.turn), ...this.pendingWrites.map((w) => w.turn)])].sort(
      (a, b) => a - b,
    );
    const lastKept = survivingTurns > 0 ? (turns[Math.min(survivingTurns, turns.length) - 1] ?? -1) : -1;
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const { step, turn } = this.undo[i]!;
      if (turn <= lastKept) break; // turns only grow along the journal
      this.rollBack(step);
    }
    for (const { write, turn } of this.pendingWrites) if (turn <= lastKept) write(this.durable);
    this.undo = [];
    this.pendingWrites = [];
    this.waiting = []; // the process that waited is gone
    this.flushAsked = false;
  }

  private rollBack(step: Undo): void {
    switch (step.kind) {
      case 'record':
        this.set(step.key, step.previous);
        break;
      case 'clear':
        this.records = step.records;
        this.storedBytes = 0;
        for (const [id, record] of this.records) this.storedBytes += id.length + record.value.length;
        break;
      case 'revision':
        this.revision = step.revision;
        break;
    }
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

function metaFrom(meta: Map<string, unknown>): ReplicaMeta {
  const get = <K extends keyof ReplicaMeta>(name: K): ReplicaMeta[K] =>
    meta.has(name) ? structuredClone(meta.get(name) as ReplicaMeta[K]) : replicaMetaDefaults[name];
  return {
    position: get('position'),
    applied: get('applied'),
    installed: get('installed'),
    installing: get('installing'),
    chain: get('chain'),
    frozen: get('frozen'),
  };
}
