// Applying committed log entries to the replica's state: each once per request id (docs/design.md
// §3.6), deterministically (the head's clock is pinned while it runs, versions come from the
// replicated revision counter), with the exactly-once client table updated in the same
// durability point as the data. Entries reach the log first (`logRecord`), and are applied only
// once committed (§3.5), so the data holds committed state only.

import { commandByName, slotCommands, type CommandContext } from '../../commands/index.js';
import { frozenRefusal, type FrozenSlots } from '../admission.js';
import { errorResult } from '../../commands/execute.js';
import { AssertionError, assert } from '../../core/assert.js';
import { CatenaError } from '../../core/errors.js';
import { clientTableClientsMax, clientTableIdleEntriesMax } from '../../core/limits.js';
import { decodeRequest, decodeResponse, encodeResponse, type ResponseResult } from '../../protocol/native/codec.js';
import { ClientTable, type ClientRecord } from '../../replication/client-table.js';
import type { LogEntry } from '../../replication/log-entry.js';
import type { LogRecord, ReplicaStore } from '../../storage/log-store.js';
import type { ReplicatedOp } from '../chain-wire.js';
import type { ApplyClock } from './apply-clock.js';

export const clientTableLimits = { clientsMax: clientTableClientsMax, idleEntriesMax: clientTableIdleEntriesMax };

export type Clients = ClientTable<Uint8Array | undefined>;

export class Applier {
  /** The exactly-once table; replaced when a snapshot is installed or the state discarded. */
  clients: Clients;
  /** The log sequence and client of the entry being applied (slot imports record clients at it). */
  applying = { sequence: 0, clientId: '' };
  /** The newest head clock stamp applied or issued here. */
  lastStampMs = 0;

  constructor(
    private readonly store: ReplicaStore,
    private readonly context: CommandContext,
    private readonly clock: ApplyClock,
    private readonly frozen: () => Pick<FrozenSlots, 'isFrozen' | 'anyFrozen'>,
  ) {
    this.clients = Applier.loadClients(store);
  }

  static loadClients(store: ReplicaStore): Clients {
    const clients: [string, ClientRecord<Uint8Array | undefined>][] = [...store.clients()].map(([id, r]) => [
      id,
      { ...r },
    ]);
    clients.sort((a, b) => a[1].sequence - b[1].sequence); // the table keeps the oldest first
    return ClientTable.restore(clientTableLimits, { clients });
  }

  /** Applies one committed entry; returns its result (undefined: a forgotten duplicate). */
  apply(entry: LogEntry<ReplicatedOp>): ResponseResult | undefined {
    const id = entry.requestId;
    const seen = id.clientId === '' ? ({ kind: 'new' } as const) : this.clients.lookup(id);
    let result: ResponseResult | undefined;
    if (seen.kind === 'new') {
      this.applying = { sequence: entry.sequence, clientId: id.clientId };
      result = this.execute(entry.operation);
      if (id.clientId !== '') {
        const encoded = encodeResponse(0, result);
        const forgotten = this.clients.record(id, encoded, entry.sequence);
        const stored = this.clients.entry(id.clientId);
        assert(stored !== undefined, 'a client just recorded has an entry');
        this.store.putClient(id.clientId, stored);
        for (const clientId of forgotten) this.store.removeClient(clientId);
      }
    } else if (seen.kind === 'duplicate' && seen.result !== undefined) {
      const decoded = decodeResponse(seen.result);
      result = decoded.ok ? decoded.message.result : errorResult('ERR_INTERNAL', 'unreadable saved result');
    }
    return result;
  }

  /** Runs a logged operation with the head's clock pinned, so every replica decides alike. */
  private execute(operation: ReplicatedOp): ResponseResult {
    if (operation.nowMs > this.lastStampMs) this.lastStampMs = operation.nowMs;
    this.clock.pin(operation.nowMs);
    try {
      return this.executePinned(operation);
    } finally {
      this.clock.pin(undefined);
    }
  }

  private executePinned(operation: ReplicatedOp): ResponseResult {
    if (operation.reclaim !== undefined) {
      const removed = this.store.reclaimKeys(operation.reclaim);
      return { case: 'del', value: { deleted: removed > 0 } } as ResponseResult;
    }
    const decoded = decodeRequest(operation.request);
    assert(decoded.ok, 'a logged request decodes');
    const request = decoded.message;
    const name = request.command.case;
    assert(name !== undefined && commandByName(name).mutates, 'only writes are logged');
    if (!slotCommands.has(name)) {
      const refused = frozenRefusal(this.frozen(), name, request.command.value);
      if (refused !== undefined) return refused;
    }
    try {
      return {
        case: name,
        value: commandByName(name).execute(this.context, request.command.value),
      } as ResponseResult;
    } catch (error) {
      if (error instanceof AssertionError) throw error;
      if (error instanceof CatenaError) return errorResult(error.code, error.message);
      return errorResult('ERR_INTERNAL', error instanceof Error ? error.message : String(error));
    }
  }
}

/** The log record of an entry (results are not logged: they are computed when it is applied). */
export function logRecord(entry: LogEntry<ReplicatedOp>): LogRecord {
  return {
    epoch: entry.epoch,
    clientId: entry.requestId.clientId,
    clientSequence: entry.requestId.clientSequence,
    nowMs: entry.operation.nowMs,
    request: entry.operation.request,
    reclaim: entry.operation.reclaim,
    result: undefined,
  };
}

/** The entry a stored log record holds. */
export function entryOf(sequence: number, record: LogRecord): LogEntry<ReplicatedOp> {
  return {
    sequence,
    epoch: record.epoch,
    requestId: { clientId: record.clientId, clientSequence: record.clientSequence },
    operation:
      record.reclaim !== undefined
        ? { request: record.request, nowMs: record.nowMs, reclaim: [...record.reclaim] }
        : { request: record.request, nowMs: record.nowMs },
  };
}
