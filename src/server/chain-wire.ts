// The internal chain protocol between nodes (DESIGN.md §3): frames `u32 length | msgpack body`
// on one TCP connection per direction and peer. The first frame on a connection names the
// sender; every later frame is a chain message of the replication core (messages.ts) or one
// part of a snapshot streamed to a joiner. Pure: bytes in, values out; decoding never throws.
//
// A snapshot travels as `snapshot-begin`, any number of `snapshot-records`, `snapshot-end`, all
// with one stream number, so the tail never holds a whole table in memory (DESIGN.md §5). The
// joiner hands the core one `snapshot` message once the last part is durable.

import { Packr } from 'msgpackr';
import type { ChainMessage } from '../replication/messages.js';
import type { ClientTableSnapshot } from '../replication/client-table.js';

/** A write as it travels in the log: the native request body, and the head's clock when it took it. */
export interface ReplicatedOp {
  readonly request: Uint8Array;
  readonly nowMs: number;
}

/** A stored record in a snapshot: key, value, version, expiresAtMs. */
export type SnapshotRecord = [Uint8Array, Uint8Array, number, number];

export type SnapshotPart =
  | {
      kind: 'snapshot-begin';
      epoch: number;
      from: string;
      stream: number;
      sequence: number;
      lastEpoch: number;
      revision: number;
    }
  | { kind: 'snapshot-records'; epoch: number; from: string; stream: number; records: SnapshotRecord[] }
  | {
      kind: 'snapshot-end';
      epoch: number;
      from: string;
      stream: number;
      clients: ClientTableSnapshot<Uint8Array | undefined>;
    };

export type PeerFrame =
  | { kind: 'peer'; from: string; cluster: string }
  | Exclude<ChainMessage<ReplicatedOp>, { kind: 'snapshot' }>
  | SnapshotPart;

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export function encodePeerFrame(frame: PeerFrame): Buffer {
  const body = packr.pack(frame);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

const kinds = new Set([
  'peer',
  'entries',
  'ack',
  'hello',
  'committed',
  'join',
  'snapshot-begin',
  'snapshot-records',
  'snapshot-end',
]);

export function decodePeerFrame(body: Uint8Array): { ok: true; frame: PeerFrame } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = packr.unpack(body);
  } catch (error) {
    return { ok: false, reason: `undecodable peer frame: ${String(error)}` };
  }
  if (typeof value !== 'object' || value === null) return { ok: false, reason: 'a peer frame is not a map' };
  const frame = value as Record<string, unknown>;
  if (typeof frame.kind !== 'string' || !kinds.has(frame.kind)) {
    return { ok: false, reason: `unknown peer frame kind ${String(frame.kind)}` };
  }
  if (typeof frame.from !== 'string') return { ok: false, reason: 'a peer frame names its sender' };
  if (frame.kind !== 'peer' && typeof frame.epoch !== 'number') return { ok: false, reason: 'no epoch' };
  if (frame.kind === 'entries' && !validEntries(frame.entries)) return { ok: false, reason: 'malformed entries' };
  return { ok: true, frame: frame as unknown as PeerFrame };
}

function validEntries(entries: unknown): boolean {
  if (!Array.isArray(entries)) return false;
  for (const entry of entries as unknown[]) {
    if (typeof entry !== 'object' || entry === null) return false;
    const e = entry as Record<string, unknown>;
    const op = e.operation as Record<string, unknown> | undefined;
    const id = e.requestId as Record<string, unknown> | undefined;
    if (typeof e.sequence !== 'number' || typeof e.epoch !== 'number') return false;
    if (typeof id?.clientId !== 'string' || typeof id.clientSequence !== 'number') return false;
    if (!(op?.request instanceof Uint8Array) || typeof op.nowMs !== 'number') return false;
  }
  return true;
}
