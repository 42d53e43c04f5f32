// One simulated node: the real chain-node core, an in-memory store that loses unsynced writes on
// a crash, the replicated client table, and the durable log the prefix-property check reads.

import { ManualClock } from '../../core/clock.js';
import { ChainNode } from '../../replication/chain-node.js';
import { ClientTable } from '../../replication/client-table.js';
import type { LogEntry } from '../../replication/log-entry.js';
import { MemoryStore } from '../../storage/memory-store.js';
import { applyToStore } from '../linearizability/generate.js';
import type { Input, Output } from '../linearizability/history.js';

/** A write as it travels in the log: the key and the client's input. */
export interface SimOp {
  readonly key: string;
  readonly input: Exclude<Input, { f: 'get' }>;
}

const clientTableLimits = { clientsMax: 1000, idleEntriesMax: 100_000 };

export class SimNode {
  core: ChainNode<SimOp>;
  store = new MemoryStore(new ManualClock());
  clients = new ClientTable<Output | undefined>(clientTableLimits);
  /** Results of applied entries, by sequence, for the head's replies. */
  results = new Map<number, Output | undefined>();
  /** Every entry this node persisted, in order (durable: it survives crashes). */
  log: LogEntry<SimOp>[] = [];
  alive = true;
  diskFreeAt = 0;
  /** Raised by every restart: events of an older incarnation are ignored. */
  incarnation = 0;
  /** A tick is scheduled for this node. */
  ticking = false;
  /** Raised by a snapshot install: disk writes issued before it are void. */
  diskGeneration = 0;

  constructor(readonly id: string) {
    this.core = new ChainNode<SimOp>({ self: id });
  }

  /** A new process on the same durable state (the store and log survive; memory does not). */
  restart(): void {
    this.incarnation += 1;
    this.alive = true;
    const last = this.log[this.log.length - 1];
    this.core = new ChainNode<SimOp>({
      self: this.id,
      lastSequence: last?.sequence ?? 0,
      lastEpoch: last?.epoch ?? 0,
      restarted: true,
    });
  }

  /** Replaces the state with a snapshot: here, the tail's log, replayed from an empty store. */
  install(entries: readonly LogEntry<SimOp>[]): void {
    this.diskGeneration += 1;
    this.store = new MemoryStore(new ManualClock());
    this.clients = new ClientTable<Output | undefined>(clientTableLimits);
    this.results = new Map();
    this.log = [];
    this.apply(entries);
  }

  /** Applies persisted entries: each once per request id (§3.6), results kept for replies. */
  apply(entries: readonly LogEntry<SimOp>[]): void {
    for (const entry of entries) {
      const seen = this.clients.lookup(entry.requestId);
      let result: Output | undefined;
      if (seen.kind === 'new') {
        result = applyToStore(this.store, entry.operation.key, entry.operation.input);
        this.clients.record(entry.requestId, result, entry.sequence);
      } else if (seen.kind === 'duplicate') {
        result = seen.result;
      }
      this.results.set(entry.sequence, result);
      this.log.push(entry);
    }
    void this.store.sync();
  }

  digest(): string {
    return this.store
      .scan({ limit: 100_000 })
      .entries.map((e) => `${Buffer.from(e.key).toString()}=${Buffer.from(e.value).toString()}@${e.version}`)
      .join(',');
  }
}
