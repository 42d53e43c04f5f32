// One node of the two-chain simulation (sharded.ts): the real chain-node core, and the state a
// chain replicates to move slots (docs/sharding.md) — the store, the exactly-once client table and
// the set of frozen slots — changed only by applying log entries in order, so every replica of a
// chain agrees on them. Beside it, not replicated, the node's own copy of the slot map, which
// arrives late and may be stale: it decides what the node admits, as in src/server/node.ts.
//
//   log entry          applied on every replica (in log order)
//   client write       the key's slot frozen here? no effect, answer "moving"; else the store op
//   freeze S           S frozen: from here on the chain takes no write of S
//   import page        records of S with their versions kept; the source's client table merged
//   drop page          a page of S's records removed; the last page unfreezes S
//
// Admission (what a node refuses before anything is logged) mirrors node.ts keysRefused and
// slotCommandRefused: a slot the node's map does not give its chain is `moved`, a frozen one is
// `moving`; a freeze only of slots the chain owns, an import or drop only of slots it does not own.

import { assert } from '../../core/assert.js';
import { ManualClock } from '../../core/clock.js';
import { ChainNode } from '../../replication/chain-node.js';
import { ClientTable } from '../../replication/client-table.js';
import type { LogEntry } from '../../replication/log-entry.js';
import { MemoryStore } from '../../storage/memory-store.js';
import { applyToStore } from '../linearizability/generate.js';
import type { Output } from '../linearizability/history.js';
import type { SimOp } from './sim-node.js';

/** The slot map as the manager writes it: an owner chain per slot, and the move under way. */
export interface ShardMap {
  readonly version: number;
  readonly owners: readonly string[];
  readonly move: SlotMove | undefined;
}

/** One move of slots first..last (docs/sharding.md): `copy` until the hand-over, then `drop`. */
export interface SlotMove {
  readonly first: number;
  readonly last: number;
  readonly from: string;
  readonly to: string;
  readonly stage: 'copy' | 'drop';
}

/** Keys are k0, k1, ...; a key's slot is its number (the simulation has one key per slot). */
export const slotOfKey = (key: string): number => Number(key.slice(1));

export interface SlotRecord {
  readonly key: string;
  readonly value: string;
  readonly version: number;
}

export interface ClientEntry {
  readonly clientId: string;
  readonly clientSequence: number;
  readonly result: ShardResult | undefined;
}

/** What a logged operation gave: the head answers its client with it. */
export type ShardResult =
  | { kind: 'output'; output: Output }
  /** A client write that met a frozen slot in the log: no effect, the client retries. */
  | { kind: 'moving' }
  | { kind: 'done' }
  | { kind: 'dropped'; removed: number; cursor: string | undefined };

export type ShardOp =
  | { kind: 'client'; key: string; input: SimOp['input'] }
  | { kind: 'freeze'; first: number; last: number; to: string; mapVersion: number }
  | {
      kind: 'import';
      first: number;
      last: number;
      mapVersion: number;
      records: readonly SlotRecord[];
      clients: readonly ClientEntry[];
      /** The source's revision counter when exported (used only with `revisionCarried`). */
      revision: number;
    }
  | { kind: 'drop'; first: number; last: number; mapVersion: number; after: string | undefined; limit: number };

export interface ExportRequest {
  readonly first: number;
  readonly last: number;
  readonly after: string | undefined;
  readonly limit: number;
  /** A page of the client table instead of records. */
  readonly clients: boolean;
}

export interface ExportPage {
  readonly records: readonly SlotRecord[];
  readonly clients: readonly ClientEntry[];
  /** Present when there may be more: the next request's `after`. */
  readonly cursor: string | undefined;
  readonly revision: number;
}

/** Why a node refuses a request before logging it. */
export type Refusal =
  | 'not-head'
  | 'not-tail'
  /** The node's map gives the slot to another chain (ERR_MOVED). */
  | 'moved'
  /** The slot is frozen here (ERR_SLOT_MOVING). */
  | 'moving'
  /** A slot command for a map newer than the node's (ERR_SLOT_MOVING). */
  | 'map-older'
  /** A slot command for a move the node's map does not record (ERR_INVALID_ARGUMENT). */
  | 'stale-move'
  /** An import or drop of slots the node's map still gives its chain. */
  | 'not-handed-over'
  /** An export of slots not frozen here. */
  | 'not-frozen';

/** Protocol choices a node makes; each false in the protocol as documented. */
export interface NodeRules {
  /** Deliberate bug: the source serves reads of slots it has frozen (its copy is final) until it drops them, whatever its map says. */
  readonly frozenReadsServed: boolean;
  /** Deliberate bug: an import does not merge the source's client table. */
  readonly clientTableNotMerged: boolean;
  /** Deliberate bug: a drop is admitted before the node's map shows the hand-over. */
  readonly dropBeforeHandOver: boolean;
  /** Candidate fix: an import raises the target's revision counter to the source's. */
  readonly revisionCarried: boolean;
  /** Candidate fix: a dropped slot stays refused at nodes whose map is older than its hand-over. */
  readonly droppedSlotsFenced: boolean;
}

const clientTableLimits = { clientsMax: 1000, idleEntriesMax: 100_000 };

/** The in-memory store, plus what an import needs: records written with their versions kept. */
export class SlotStore extends MemoryStore {
  get revisionNow(): number {
    return this.revision;
  }

  restoreSlotRecord(record: SlotRecord): void {
    const key = Buffer.from(record.key);
    const stored = { value: Buffer.from(record.value), version: record.version, expiresAtMs: 0, flags: 0 };
    this.writeRecord(key, stored, this.readRecord(key));
  }

  /** New writes get versions above `revision` (through nextVersion, so a crash rolls it back too). */
  raiseRevision(revision: number): void {
    assert(revision - this.revision < 10_000_000, 'a revision within reach');
    while (this.revision < revision) this.nextVersion();
  }

  keysOf(first: number, last: number, after: string | undefined): string[] {
    return this.scan({ limit: 100_000 })
      .entries.map((entry) => Buffer.from(entry.key).toString())
      .filter((key) => slotOfKey(key) >= first && slotOfKey(key) <= last && (after === undefined || key > after));
  }
}

export class ShardNode {
  core: ChainNode<ShardOp>;
  store = new SlotStore(new ManualClock());
  clients = new ClientTable<ShardResult | undefined>(clientTableLimits);
  /** Slots frozen on this chain (replicated: changed only by applying entries). */
  frozen = new Set<number>();
  /** Slot -> the map version a node must know before it serves the slot again (with `droppedSlotsFenced`). */
  fences = new Map<number, number>();
  /** Results of applied entries, by sequence, for the head's replies. */
  results = new Map<number, ShardResult | undefined>();
  /** Every entry this node persisted, in order (durable: it survives crashes). */
  log: LogEntry<ShardOp>[] = [];
  /** This node's copy of the slot map (not replicated; it learns changes late). */
  view: ShardMap;
  alive = true;
  diskFreeAt = 0;
  incarnation = 0;
  ticking = false;
  diskGeneration = 0;

  constructor(
    readonly id: string,
    readonly chainId: string,
    view: ShardMap,
    private readonly rules: NodeRules,
  ) {
    this.core = new ChainNode<ShardOp>({ self: id });
    this.view = view;
  }

  /** A new process on the same durable state (store, log, client table, frozen slots survive). */
  restart(view: ShardMap): void {
    this.incarnation += 1;
    this.alive = true;
    this.view = view;
    const last = this.log[this.log.length - 1];
    this.core = new ChainNode<ShardOp>({
      self: this.id,
      lastSequence: last?.sequence ?? 0,
      lastEpoch: last?.epoch ?? 0,
      restarted: true,
    });
  }

  /** A newer slot map reached this node (an older one is ignored, as a watch would). */
  learn(map: ShardMap): void {
    if (map.version > this.view.version) this.view = map;
  }

  /** Replaces the state with a snapshot: here, the tail's log replayed from an empty state. */
  install(entries: readonly LogEntry<ShardOp>[]): void {
    this.diskGeneration += 1;
    this.store = new SlotStore(new ManualClock());
    this.clients = new ClientTable<ShardResult | undefined>(clientTableLimits);
    this.frozen = new Set();
    this.fences = new Map();
    this.results = new Map();
    this.log = [];
    this.apply(entries);
  }

  /** Applies persisted entries, each once per request id (§3.6); results kept for replies. */
  apply(entries: readonly LogEntry<ShardOp>[]): void {
    for (const entry of entries) {
      const seen = this.clients.lookup(entry.requestId);
      let result: ShardResult | undefined;
      if (seen.kind === 'new') {
        result = this.execute(entry.operation, entry.sequence);
        // A write refused for a frozen slot had no effect: its retry elsewhere must apply.
        if (result.kind !== 'moving') this.clients.record(entry.requestId, result, entry.sequence);
      } else if (seen.kind === 'duplicate') {
        result = seen.result;
      }
      this.results.set(entry.sequence, result);
      this.log.push(entry);
    }
    void this.store.sync();
  }

  private execute(op: ShardOp, sequence: number): ShardResult {
    switch (op.kind) {
      case 'client':
        // From the freeze's place in the log on, the chain takes no write of the slot.
        if (this.frozen.has(slotOfKey(op.key))) return { kind: 'moving' };
        return { kind: 'output', output: applyToStore(this.store, op.key, op.input) };
      case 'freeze':
        for (let slot = op.first; slot <= op.last; slot++) this.frozen.add(slot);
        return { kind: 'done' };
      case 'import':
        this.importPage(op, sequence);
        return { kind: 'done' };
      case 'drop':
        return this.dropPage(op);
    }
  }

  private importPage(op: Extract<ShardOp, { kind: 'import' }>, sequence: number): void {
    let newest = this.store.revisionNow;
    for (const record of op.records) {
      const slot = slotOfKey(record.key);
      assert(slot >= op.first && slot <= op.last, 'an imported record belongs to the moving slots');
      this.store.restoreSlotRecord(record);
      newest = Math.max(newest, record.version);
    }
    // Versions stay what they were; new writes here must get higher ones (as replica.ts importPage).
    if (this.rules.revisionCarried) newest = Math.max(newest, op.revision);
    this.store.raiseRevision(newest);
    if (this.rules.clientTableNotMerged) return;
    for (const client of op.clients) {
      const id = { clientId: client.clientId, clientSequence: client.clientSequence };
      if (this.clients.lookup(id).kind !== 'new') continue;
      // A write this client made on the other chain: a retry of it here gets that result.
      this.clients.record(id, client.result, sequence);
    }
  }

  private dropPage(op: Extract<ShardOp, { kind: 'drop' }>): ShardResult {
    // Only a frozen range is dropped: a late copy of an old drop finds it unfrozen and does nothing.
    if (!this.rangeFrozen(op.first, op.last)) return { kind: 'dropped', removed: 0, cursor: undefined };
    const keys = this.store.keysOf(op.first, op.last, op.after);
    const page = keys.slice(0, op.limit);
    for (const key of page) this.store.delete(Buffer.from(key));
    const cursor = keys.length > page.length ? page[page.length - 1] : undefined;
    if (cursor === undefined) {
      for (let slot = op.first; slot <= op.last; slot++) {
        this.frozen.delete(slot);
        if (this.rules.droppedSlotsFenced) this.fences.set(slot, op.mapVersion);
      }
    }
    return { kind: 'dropped', removed: page.length, cursor };
  }

  rangeFrozen(first: number, last: number): boolean {
    for (let slot = first; slot <= last; slot++) if (!this.frozen.has(slot)) return false;
    return true;
  }

  /** node.ts keysRefused: a slot of another chain in this node's map, or a frozen one. */
  refusal(key: string, access: 'read' | 'write'): Refusal | undefined {
    const slot = slotOfKey(key);
    if (this.frozen.has(slot) && access === 'read' && this.rules.frozenReadsServed) return undefined;
    if (this.view.version < (this.fences.get(slot) ?? 0)) return 'moving';
    if (this.view.owners[slot] !== this.chainId) return 'moved';
    if (this.frozen.has(slot)) return 'moving';
    return undefined;
  }

  /** node.ts slotCommandRefused, against this node's own (possibly stale) map. */
  slotCommandRefusal(op: Exclude<ShardOp, { kind: 'client' }>): Refusal | undefined {
    const view = this.view;
    let owned = 0;
    for (let slot = op.first; slot <= op.last; slot++) if (view.owners[slot] === this.chainId) owned += 1;
    if (op.kind === 'freeze' || op.kind === 'import') {
      // Only for the move the slot map records now: a late copy of an old request is refused.
      if (view.version < op.mapVersion) return 'map-older';
      const move = view.move;
      const mine = op.kind === 'freeze' ? move?.from : move?.to;
      if (
        view.version > op.mapVersion ||
        move?.stage !== 'copy' ||
        move.first !== op.first ||
        move.last !== op.last ||
        mine !== this.chainId
      ) {
        return 'stale-move';
      }
    }
    if (op.kind === 'freeze' && owned !== op.last - op.first + 1) return 'moved';
    if (op.kind === 'import' && owned > 0) return 'not-handed-over';
    if (op.kind === 'drop' && owned > 0 && !this.rules.dropBeforeHandOver) return 'not-handed-over';
    return undefined;
  }

  /** Read at the tail (replica.ts exportPage): a page of the frozen range's records, or of the client table. */
  exportPage(request: ExportRequest): ExportPage | undefined {
    if (!this.rangeFrozen(request.first, request.last)) return undefined;
    const revision = this.store.revisionNow;
    if (request.clients) {
      const ids = this.clients
        .snapshot()
        .clients.filter(([id]) => request.after === undefined || id > request.after)
        .sort((a, b) => (a[0] < b[0] ? -1 : 1));
      const page = ids.slice(0, request.limit);
      const clients = page.map(([clientId, record]) => ({
        clientId,
        clientSequence: record.clientSequence,
        result: record.result,
      }));
      const cursor = page.length < ids.length ? page[page.length - 1]![0] : undefined;
      return { records: [], clients, cursor, revision };
    }
    const keys = this.store.keysOf(request.first, request.last, request.after);
    const page = keys.slice(0, request.limit);
    const records = page.map((key) => {
      const stored = this.store.get(Buffer.from(key))!;
      return { key, value: Buffer.from(stored.value).toString(), version: stored.version };
    });
    const cursor = keys.length > page.length ? page[page.length - 1] : undefined;
    return { records, clients: [], cursor, revision };
  }

  /** Keys whose slots `owners` gives to another chain (copies a finished move left behind). */
  strayKeys(owners: readonly string[]): string[] {
    return this.store.keysOf(0, owners.length - 1, undefined).filter((key) => owners[slotOfKey(key)] !== this.chainId);
  }

  digest(): string {
    const records = this.store
      .scan({ limit: 100_000 })
      .entries.map((e) => `${Buffer.from(e.key).toString()}=${Buffer.from(e.value).toString()}@${e.version}`);
    return `${records.join(',')} frozen ${[...this.frozen].sort().join(',')}`;
  }
}
