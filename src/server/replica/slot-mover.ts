// Moving slots between chains, on a replica (docs/sharding.md): the frozen ranges and hand-over
// fences, and the four slot commands. Freeze, import and drop run as logged writes (so every
// replica of a chain does the same thing at the same point of the log); export is a read at the
// tail. The frozen ranges are replicated state, kept in meta ('frozen').

import { checkLimit } from '../../commands/arguments.js';
import type { ReplyInit, SlotMover } from '../../commands/index.js';
import { assert } from '../../core/assert.js';
import { CatenaError } from '../../core/errors.js';
import { migrationExamineMax, migrationFencesKept, migrationPageBytesMax } from '../../core/limits.js';
import type { RequestOf } from '../../protocol/native/codec.js';
import type { ClientTable } from '../../replication/client-table.js';
import { keySlot, slotCount } from '../../sharding/slots.js';
import type { FrozenRange, ReplicaStore } from '../../storage/log-store.js';

export interface SlotMoverHost {
  readonly store: ReplicaStore;
  /** The replica's exactly-once client table (replaced when a snapshot is installed). */
  clients(): ClientTable<Uint8Array | undefined>;
  /** The log sequence and client of the entry being applied. */
  applying(): { sequence: number; clientId: string };
  readonly valueBytesMax: number;
}

export class ReplicaSlots implements SlotMover {
  private frozen: FrozenRange[] = [];
  private readonly frozenSlots = new Uint8Array(slotCount);
  /** Per slot, the slot map version that handed it to another chain once dropped here (0: none). */
  private readonly handedAt = new Uint32Array(slotCount);

  constructor(private readonly host: SlotMoverHost) {}

  /** The frozen ranges and fences, as a snapshot carries them. */
  get ranges(): readonly FrozenRange[] {
    return this.frozen;
  }

  /** True when the slot is frozen here: no reads or writes until it is dropped. */
  isFrozen(slot: number): boolean {
    return this.frozenSlots[slot] === 1;
  }

  /**
   * True when the slot was handed to another chain by a slot map newer than `mapVersion` and
   * dropped here: a node whose map is that old must not take it for its own (it would serve the
   * dropped slot as empty, or take writes for it that the new owner never sees).
   */
  handedOverSince(slot: number, mapVersion: number): boolean {
    return this.handedAt[slot]! > mapVersion;
  }

  anyFrozen(): boolean {
    return this.frozen.some((range) => range.handedAt === undefined);
  }

  rangeFrozen(first: number, last: number): boolean {
    for (let slot = first; slot <= last; slot++) if (this.frozenSlots[slot] !== 1) return false;
    return true;
  }

  /** Replaces the ranges (at start, from a snapshot, or emptied with the state). */
  set(ranges: readonly FrozenRange[]): void {
    this.frozen = ranges.map((r) => ({ ...r }));
    this.frozenSlots.fill(0);
    this.handedAt.fill(0);
    for (const { first, last, handedAt } of this.frozen) {
      if (handedAt === undefined) this.frozenSlots.fill(1, first, last + 1);
      else for (let slot = first; slot <= last; slot++) this.handedAt[slot] = Math.max(this.handedAt[slot]!, handedAt);
    }
  }

  private isFrozenRange(first: number, last: number): boolean {
    return this.frozen.some((r) => r.first === first && r.last === last && r.handedAt === undefined);
  }

  /** Logged write: the range stops serving here (a repeat changes nothing). */
  freeze(request: RequestOf<'slotfreeze'>): ReplyInit<'slotfreeze'> {
    const { first, last, toChain } = request;
    if (!this.isFrozenRange(first, last)) {
      this.set([...this.frozen, { first, last, to: toChain }]);
      this.host.store.writeMeta('frozen', this.frozen);
    }
    return {};
  }

  /** Read at the tail: a page of the frozen range's records, or of the client table. */
  exportPage(request: RequestOf<'slotexport'>): ReplyInit<'slotexport'> {
    const { first, last } = request;
    if (!this.rangeFrozen(first, last)) {
      throw new CatenaError('ERR_INVALID_ARGUMENT', `slots ${first}..${last} are not frozen on this chain`);
    }
    const limit = checkLimit(request.limit);
    if (request.clients) return this.exportClients(request.after, limit);
    const bytesMax = Math.min(this.host.valueBytesMax, migrationPageBytesMax);
    const store = this.host.store;
    const records: { key: Buffer; value: Uint8Array; version: bigint; expiresAtMs: bigint; flags: number }[] = [];
    let bytes = 0;
    const cursor = this.rangeKeys(first, last, request.after, (key) => {
      const record = store.get(key); // undefined once expired
      if (record === undefined) return true;
      records.push({
        key: Buffer.from(key),
        value: record.value,
        version: BigInt(record.version),
        expiresAtMs: BigInt(record.expiresAtMs),
        flags: record.flags,
      });
      bytes += key.length + record.value.length + 64;
      return records.length < limit && bytes < bytesMax;
    });
    return { records, cursor: cursor ?? new Uint8Array(), revision: BigInt(store.currentRevision) };
  }

  private exportClients(afterBytes: Uint8Array, limit: number): ReplyInit<'slotexport'> {
    const after = Buffer.from(afterBytes).toString();
    const ids = [...this.host.clients().snapshot().clients]
      .filter(([id]) => id > after)
      .sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const page = ids.slice(0, limit);
    return {
      clients: page.map(([clientId, record]) => ({
        clientId,
        clientSequence: BigInt(record.clientSequence),
        result: record.result,
        hasResult: record.result !== undefined,
      })),
      cursor: page.length < ids.length ? Buffer.from(page[page.length - 1]![0]) : new Uint8Array(),
    };
  }

  /** Logged write: records of slots this chain is about to own, and the other chain's client table merged. */
  importPage(request: RequestOf<'slotimport'>): ReplyInit<'slotimport'> {
    const store = this.host.store;
    let newest = store.currentRevision;
    for (const record of request.records) {
      const slot = keySlot(record.key);
      if (slot < request.first || slot > request.last) {
        throw new CatenaError(
          'ERR_INVALID_ARGUMENT',
          `a record of slot ${slot} is outside ${request.first}..${request.last}`,
        );
      }
    }
    for (const record of request.records) {
      const version = Number(record.version);
      store.restoreRecord(record.key, {
        value: record.value,
        version,
        expiresAtMs: Number(record.expiresAtMs),
        flags: record.flags,
      });
      if (version > newest) newest = version;
    }
    // Versions stay what they were (a client's compare-and-set goes on working); new writes here
    // must get higher ones than any the source gave, a deleted key's included (so its revision).
    newest = Math.max(newest, Number(request.revision));
    if (newest > store.currentRevision) store.restoreRevision(newest);
    const applying = this.host.applying();
    const clients = this.host.clients();
    for (const client of request.clients) {
      const id = { clientId: client.clientId, clientSequence: Number(client.clientSequence) };
      // The importing client's own record is written right after this entry applies.
      if (id.clientId === '' || id.clientId === applying.clientId || clients.lookup(id).kind !== 'new') continue;
      // A write this client made on the other chain: a retry of it here gets that result.
      const forgotten = clients.record(id, client.hasResult ? client.result : undefined, applying.sequence);
      const entry = clients.entry(id.clientId);
      assert(entry !== undefined, 'a client just recorded has an entry');
      store.putClient(id.clientId, entry);
      for (const clientId of forgotten) store.removeClient(clientId);
    }
    return { records: BigInt(request.records.length) };
  }

  /**
   * Logged write: removes a page of a range another chain now owns. The last page unfreezes it,
   * leaving a fence at the hand-over's map version (handedOverSince).
   */
  dropPage(request: RequestOf<'slotdrop'>): ReplyInit<'slotdrop'> {
    const { first, last } = request;
    const limit = checkLimit(request.limit);
    // Only a frozen range is dropped: a late copy of an old drop finds it unfrozen and does nothing.
    if (!this.isFrozenRange(first, last)) return { removed: 0n, cursor: new Uint8Array() };
    const doomed: Buffer[] = [];
    const cursor = this.rangeKeys(first, last, request.after, (key) => {
      doomed.push(Buffer.from(key));
      return doomed.length < limit;
    });
    const store = this.host.store;
    for (const key of doomed) store.delete(key); // expired records go too
    if (cursor === undefined) this.handOver(first, last, Number(request.mapVersion));
    return { removed: BigInt(doomed.length), cursor: cursor ?? new Uint8Array() };
  }

  private handOver(first: number, last: number, handedAt: number): void {
    const range = this.frozen.find((r) => r.first === first && r.last === last && r.handedAt === undefined);
    if (range === undefined) throw new CatenaError('ERR_INTERNAL', `slots ${first}..${last} are not frozen here`);
    // Fences this one covers go; the oldest go past migrationFencesKept (a node that many moves
    // behind has long since refreshed its map).
    const kept = this.frozen.filter(
      (r) => !(r.first >= first && r.last <= last) && !(r.first === first && r.last === last),
    );
    const fences = kept.filter((r) => r.handedAt !== undefined);
    const excess = Math.max(0, fences.length + 1 - migrationFencesKept);
    const dropped = new Set(fences.slice(0, excess));
    const next = kept.filter((r) => !dropped.has(r));
    if (handedAt > 0) next.push({ first, last, to: range.to, handedAt });
    this.set(next);
    this.host.store.writeMeta('frozen', this.frozen);
  }

  /**
   * Keys of slots first..last after `after`, in order, from the table as this replica's log has
   * made it (pending writes included, values unread): the same on every replica that applied the
   * same entries, so a logged drop removes the same keys everywhere. `take` is called for each
   * and returns false to end the page there; at most migrationExamineMax keys are stepped over.
   * The cursor is undefined when no key is left.
   */
  private rangeKeys(
    first: number,
    last: number,
    after: Uint8Array,
    take: (key: Uint8Array) => boolean,
  ): Uint8Array | undefined {
    let examined = 0;
    for (const key of this.host.store.keysAfter(after.length > 0 ? after : undefined)) {
      examined += 1;
      const slot = keySlot(key);
      if (slot >= first && slot <= last && !take(key)) return Buffer.from(key);
      if (examined >= migrationExamineMax) return Buffer.from(key);
    }
    return undefined;
  }
}
