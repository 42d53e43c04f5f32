// The log store: everything a replica keeps besides its key-value data (docs/design.md §5) — the
// chain's log, the replica's typed meta records, and a consistent snapshot of both for a joiner.
// Two engines implement it, LMDB (lmdb-store.ts) for nodes and memory (memory-store.ts) for unit
// tests and the simulator, and one contract suite checks both (test/storage/log-store-contract.ts).
//
// Contract:
// * Writes (appends, trims, meta) are synchronous calls that take effect at the next durability
//   point together with every data mutation issued before it: `whenDurable(done)` calls `done`
//   once everything issued so far is on disk. A crash loses every write and mutation issued
//   after the last durability point, log, meta and data alike, and nothing before it.
// * Reads of the log and of meta see the durable state only (what the last durability point
//   made durable), never a write issued since. The replica therefore reads meta at start, and
//   reads the log for catch-up only up to what it knows is durable.
// * `snapshotReader()` sees the durable state of data, log position and meta at one moment, and
//   goes on seeing it while later writes land (an LMDB read transaction; a copy in memory).
// * The same sequence appended twice replaces the record (a re-sent entry after a restart).

import type { ScanEntry, StoredValue, Store } from './store.js';

/** A position in a chain's log: the last sequence held and the epoch of that entry. */
export interface LogPosition {
  readonly lastSequence: number;
  readonly lastEpoch: number;
}

export const emptyLogPosition: LogPosition = { lastSequence: 0, lastEpoch: 0 };

/** One entry of the chain's log as a replica stores it (encoded by log-record.ts). */
export interface LogRecord {
  readonly epoch: number;
  readonly clientId: string;
  readonly clientSequence: number;
  /** The head's clock when it took the write: every replica applies with it. */
  readonly nowMs: number;
  /** The native request body (empty for an expiry reclamation). */
  readonly request: Uint8Array;
  /** Keys to remove if expired at nowMs (the head's reclamation), else undefined. */
  readonly reclaim: readonly Uint8Array[] | undefined;
  /** The encoded result (a Response with id 0), or undefined for a duplicate whose result was forgotten. */
  readonly result: Uint8Array | undefined;
}

/** The exactly-once record of one client (client-table.ts), as kept in meta. */
export interface StoredClient {
  readonly clientSequence: number;
  readonly result: Uint8Array | undefined;
  /** Log sequence of the entry that applied it. */
  readonly sequence: number;
}

/** Slots first..last frozen on a chain for a move to chain `to` (docs/sharding.md). */
export interface FrozenRange {
  readonly first: number;
  readonly last: number;
  readonly to: string;
  /** Set once dropped: the slot map version that handed the range to `to` (a fence, not a freeze). */
  readonly handedAt?: number;
}

/** The replica's meta records, by name; each has one type, checked when read back. */
export interface ReplicaMeta {
  /**
   * Where the durable log ends: the replica writes it with each batch; an engine that keeps the
   * log apart from meta (LMDB: segment files) reads it from the log itself, so it never disagrees
   * with what a crash left of the log.
   */
  readonly position: LogPosition;
  /**
   * The last entry applied to the data (every applied entry was committed: docs/design.md §3.5);
   * undefined in a data directory written before entries were applied at commit, where every
   * logged entry was applied.
   */
  readonly applied: LogPosition | undefined;
  /** The snapshot this node's log continues, if it installed one. */
  readonly installed: LogPosition | undefined;
  /** True while a snapshot is being received: on restart the partial state is discarded. */
  readonly installing: boolean;
  /** The chain whose log and data this store holds (undefined: none recorded). */
  readonly chain: string | undefined;
  /** Slots frozen here for a move, and fences of ranges handed over. */
  readonly frozen: readonly FrozenRange[];
}

export interface SnapshotReader {
  readonly revision: number;
  readonly meta: ReplicaMeta;
  /** Up to `limit` records (and about `bytesMax` bytes) after `after`; `more` when there may be others. */
  records(after: Uint8Array | undefined, limit: number, bytesMax: number): { records: ScanEntry[]; more: boolean };
  clients(): [string, StoredClient][];
  done(): void;
}

export interface LogStore {
  /** Appends (or replaces) the entry at `sequence`. */
  appendEntry(sequence: number, record: LogRecord): void;
  /** The durable entry at `sequence`, or undefined. */
  entry(sequence: number): LogRecord | undefined;
  /** Durable entries with from < sequence <= to, in order. */
  entries(from: number, to: number): Iterable<{ sequence: number; record: LogRecord; bytes: number }>;
  /** First and last durable sequence held, or undefined when the log is empty. */
  logBounds(): { first: number; last: number } | undefined;
  /** Removes entries with sequence < below (an engine may keep some of them: LMDB trims whole segment files). */
  trimLog(below: number): void;
  clearLog(): void;

  readMeta(): ReplicaMeta;
  writeMeta<K extends keyof ReplicaMeta>(name: K, value: ReplicaMeta[K]): void;
  /** Durable client records, in client id order. */
  clients(): Iterable<[string, StoredClient]>;
  putClient(clientId: string, record: StoredClient): void;
  removeClient(clientId: string): void;
  /** Removes every client record, durable or written since the last durability point. */
  clearClients(): void;

  /** Calls `done` (with an error if the disk failed: fatal) once everything issued so far is durable. */
  whenDurable(done: (error?: unknown) => void): void;
  /**
   * Calls `done` once every log append, trim and clear issued so far is durable; data and meta
   * may still be on their way (what the replica applies after a commit: the log has it, so a
   * restart applies it again from the log after meta's `applied`).
   */
  whenLogDurable(done: (error?: unknown) => void): void;
  snapshotReader(): SnapshotReader;
}

/** The data operations a replica needs beyond the store interface (snapshots, moves, reclamation). */
export interface ReplicaData extends Store {
  /** The revision counter, for a snapshot (every replica must agree on versions). */
  readonly currentRevision: number;
  /** Installs a record as it is, version and expiry included. */
  restoreRecord(key: Uint8Array, record: StoredValue): void;
  /** Sets the revision counter (from a snapshot, or a slot import). */
  restoreRevision(revision: number): void;
  /** Every key after `after` in key order, expired ones included, values unread. */
  keysAfter(after?: Uint8Array): Iterable<Uint8Array>;
  /** Keys that have expired now, up to `limit`. */
  expiredKeys(limit: number): Uint8Array[];
  /** Removes those of `keys` that have expired now; returns how many. */
  reclaimKeys(keys: readonly Uint8Array[]): number;
}

/** What a replica keeps: its data and its log in one engine, so both reach the disk together. */
export type ReplicaStore = ReplicaData & LogStore;

/** Default values of meta records never written. */
export const replicaMetaDefaults: ReplicaMeta = {
  position: emptyLogPosition,
  applied: undefined,
  installed: undefined,
  installing: false,
  chain: undefined,
  frozen: [],
};
