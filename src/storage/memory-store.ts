// The in-memory engine: for unit tests and the deterministic simulator. It models a disk that
// loses unsynced writes: every mutation since the last `sync()` is kept in an undo journal, and
// `crash()` rolls them back, leaving exactly what a real node would find after power loss.

import type { Clock } from '../core/clock.js';
import { BaseStore, compareKeys, hasPrefix, type ScanEntry, type StoredValue } from './store.js';

type Undo =
  | { kind: 'record'; key: string; previous: StoredValue | undefined }
  | { kind: 'clear'; records: Map<string, StoredValue> }
  | { kind: 'revision'; revision: number };

const keyId = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
const keyBytes = (id: string): Buffer => Buffer.from(id, 'latin1');

export class MemoryStore extends BaseStore {
  private records = new Map<string, StoredValue>();
  private undo: Undo[] = [];
  private storedBytes = 0;
  private closed = false;

  constructor(clock: Clock) {
    super(clock);
  }

  protected override nextVersion(): number {
    this.undo.push({ kind: 'revision', revision: this.revision });
    return super.nextVersion();
  }

  protected readRecord(key: Uint8Array): StoredValue | undefined {
    return this.records.get(keyId(key));
  }

  protected writeRecord(key: Uint8Array, record: StoredValue, previous: StoredValue | undefined): void {
    const id = keyId(key);
    this.undo.push({ kind: 'record', key: id, previous });
    // Copy: the caller may reuse its buffer, and the store must own what it keeps.
    this.set(id, { ...record, value: Buffer.from(record.value) });
  }

  protected removeRecord(key: Uint8Array, previous: StoredValue): void {
    const id = keyId(key);
    this.undo.push({ kind: 'record', key: id, previous });
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
    this.undo.push({ kind: 'clear', records: this.records });
    this.records = new Map();
    this.storedBytes = 0;
  }

  sync(): Promise<void> {
    this.undo = [];
    return Promise.resolve();
  }

  isSynced(): boolean {
    return this.undo.length === 0;
  }

  /** Simulates power loss: every mutation since the last sync() is gone. */
  crash(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const step = this.undo[i]!;
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
    this.undo = [];
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
