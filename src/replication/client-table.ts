// Exactly-once writes (docs/design.md §3.6): the replicated table of each client's last applied
// write and its result. Every replica applies the same log, so every replica builds the same
// table; a write retried after a failover (same request id, new sequence) finds its first result
// here and is not applied twice, so INCR and APPEND are safe to retry.
//
// The table is bounded and forgets idle clients, and both are decided by log positions, never by
// clocks, so replicas evict the same clients at the same entry. A client retries a request only
// until it gets an answer, so one remembered result per client is enough.

import { assert } from '../core/assert.js';
import type { RequestId } from './log-entry.js';

export interface ClientTableLimits {
  /** Clients remembered at most; past it the one idle longest is forgotten. */
  readonly clientsMax: number;
  /** A client with no write in this many log entries is forgotten. */
  readonly idleEntriesMax: number;
}

export type Lookup<Result> =
  | { kind: 'new' }
  /** Already applied: answer with this result, apply nothing. */
  | { kind: 'duplicate'; result: Result }
  /** Older than the client's last applied write: a late copy nobody waits for; apply nothing. */
  | { kind: 'stale' };

export interface ClientRecord<Result> {
  clientSequence: number;
  result: Result;
  /** Log sequence of the entry that applied it. */
  sequence: number;
}

export interface ClientTableSnapshot<Result> {
  readonly clients: readonly (readonly [string, ClientRecord<Result>])[];
}

export class ClientTable<Result> {
  private readonly clients = new Map<string, ClientRecord<Result>>();

  constructor(private readonly limits: ClientTableLimits) {
    assert(limits.clientsMax > 0 && limits.idleEntriesMax > 0, 'client table limits are positive');
  }

  get size(): number {
    return this.clients.size;
  }

  lookup(requestId: RequestId): Lookup<Result> {
    const record = this.clients.get(requestId.clientId);
    if (record === undefined || requestId.clientSequence > record.clientSequence) return { kind: 'new' };
    if (requestId.clientSequence === record.clientSequence) return { kind: 'duplicate', result: record.result };
    return { kind: 'stale' };
  }

  /**
   * Records the result of the write applied at log position `sequence`, then forgets idle
   * clients. Returns the ids of the clients forgotten (a durable copy of the table drops them too).
   */
  record(requestId: RequestId, result: Result, sequence: number): string[] {
    const previous = this.clients.get(requestId.clientId);
    assert(
      previous === undefined || requestId.clientSequence > previous.clientSequence,
      'only new writes are recorded',
    );
    // Re-inserting keeps the map ordered by last write, oldest first.
    this.clients.delete(requestId.clientId);
    this.clients.set(requestId.clientId, { clientSequence: requestId.clientSequence, result, sequence });
    return this.forget(sequence);
  }

  private forget(sequence: number): string[] {
    const forgotten: string[] = [];
    for (const [clientId, record] of this.clients) {
      const idle = sequence - record.sequence > this.limits.idleEntriesMax;
      if (!idle && this.clients.size <= this.limits.clientsMax) break;
      this.clients.delete(clientId);
      forgotten.push(clientId);
    }
    return forgotten;
  }

  /** The remembered write of one client, for a durable copy of the table. */
  entry(clientId: string): Readonly<ClientRecord<Result>> | undefined {
    return this.clients.get(clientId);
  }

  snapshot(): ClientTableSnapshot<Result> {
    return { clients: [...this.clients].map(([id, record]) => [id, { ...record }] as const) };
  }

  static restore<Result>(limits: ClientTableLimits, snapshot: ClientTableSnapshot<Result>): ClientTable<Result> {
    const table = new ClientTable<Result>(limits);
    for (const [id, record] of snapshot.clients) table.clients.set(id, { ...record });
    return table;
  }
}
