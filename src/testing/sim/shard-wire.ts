// What travels in the two-chain simulation (sharded.ts) between clients, the manager and nodes,
// and the little of the simulation that clients and the manager see: time, the seeded generator
// and the network. Every packet may be dropped, duplicated or delayed.

import type { Prng } from '../../core/prng.js';
import type { RequestId } from '../../replication/log-entry.js';
import type { ChainMessage } from '../../replication/messages.js';
import type { Output } from '../linearizability/history.js';
import type { ExportPage, ExportRequest, Refusal, ShardOp, ShardResult } from './shard-node.js';

export type ShardPacket =
  | { kind: 'chain'; message: ChainMessage<ShardOp> }
  /** A logged write: a client's, or the manager's freeze, import or drop. */
  | { kind: 'write'; requestId: RequestId; op: ShardOp }
  | { kind: 'read'; key: string; readId: number }
  /** The manager's read at the source's tail. */
  | { kind: 'export'; request: ExportRequest; readId: number }
  | { kind: 'write-reply'; requestId: RequestId; result: ShardResult | undefined }
  | { kind: 'read-reply'; readId: number; output: Output }
  | { kind: 'export-reply'; readId: number; page: ExportPage }
  | { kind: 'refused'; requestId: RequestId | undefined; readId: number | undefined; reason: Refusal };

/** The simulation as its clients and its manager see it. */
export interface ShardWorld {
  readonly random: Prng;
  now(): number;
  after(delayMs: number, run: () => void): void;
  transmit(from: string, to: string, packet: ShardPacket): void;
  /** A notable event: part of the trace hash (a replay must repeat it), and logged when asked. */
  note(event: string): void;
  /** Read ids are unique in a run: a late reply to an earlier read must not answer a later one. */
  nextReadId(): number;
}
