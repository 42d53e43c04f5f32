// The internal chain protocol between nodes (docs/design.md §3): frames `u32 length | msgpack body`
// on one TCP connection per direction and peer. The first frame on a connection names the
// sender; every later frame is a chain message of the replication core (messages.ts) or one
// part of a snapshot streamed to a joiner. Pure: bytes in, values out; decoding never throws.
//
// A snapshot travels as `snapshot-begin`, any number of `snapshot-records`, `snapshot-end`, all
// with one stream number, so the tail never holds a whole table in memory (docs/design.md §5). The
// joiner hands the core one `snapshot` message once the last part is durable.

import { Packr } from 'msgpackr';
import { commandByName } from '../commands/index.js';
import { keyBytesMax, valueBytesCeiling } from '../core/limits.js';
import { decodeRequest } from '../protocol/native/codec.js';
import type { ChainMessage } from '../replication/messages.js';
import type { ClientTableSnapshot } from '../replication/client-table.js';

/** A write as it travels in the log: the native request body, and the head's clock when it took it. */
export interface ReplicatedOp {
  readonly request: Uint8Array;
  readonly nowMs: number;
  /**
   * Set (and `request` empty) for the head's expiry reclamation: remove those of these keys that
   * have expired at `nowMs`. Through the log, with the keys named, so every replica removes the
   * same records at the same point.
   */
  readonly reclaim?: Uint8Array[];
}

/** A stored record in a snapshot: key, value, version, expiresAtMs, and its flags when not 0. */
export type SnapshotRecord =
  [Uint8Array, Uint8Array, number, number] | [Uint8Array, Uint8Array, number, number, number];

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
  | {
      kind: 'snapshot-records';
      epoch: number;
      from: string;
      stream: number;
      /** 0, 1, 2, ...: the joiner abandons the install on a gap. */
      part: number;
      records: SnapshotRecord[];
    }
  | {
      kind: 'snapshot-end';
      epoch: number;
      from: string;
      stream: number;
      /** How many records parts came before. */
      parts: number;
      clients: ClientTableSnapshot<Uint8Array | undefined>;
      /** Slots frozen for a move on the sending tail (absent from nodes before sharding). */
      frozen?: FrozenRange[];
    };

export type PeerFrame =
  /**
   * The connecting node's greeting, its first frame: who it is, the node it meant to reach, and
   * (with a cluster secret) its proof over the challenge it was sent (peer-auth.ts).
   */
  | { kind: 'peer'; from: string; cluster: string; to?: string; proof?: Uint8Array }
  /** The accepting node's first and only frame on a connection: its id, and a fresh challenge. */
  | { kind: 'challenge'; from: string; cluster: string; nonce: Uint8Array }
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
  'challenge',
  'entries',
  'ack',
  'hello',
  'committed',
  'join',
  'heartbeat',
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
  const problem =
    frame.kind === 'peer'
      ? invalidGreeting(frame)
      : frame.kind === 'challenge'
        ? typeof frame.cluster === 'string' && frame.nonce instanceof Uint8Array && frame.nonce.length >= 16
          ? undefined
          : 'cluster or nonce'
        : invalid(frame);
  if (problem !== undefined) return { ok: false, reason: `malformed ${frame.kind} frame: ${problem}` };
  return { ok: true, frame: frame as unknown as PeerFrame };
}

function invalidGreeting(frame: Record<string, unknown>): string | undefined {
  if (typeof frame.cluster !== 'string') return 'no cluster';
  if (frame.to !== undefined && typeof frame.to !== 'string') return 'to';
  if (frame.proof !== undefined && !(frame.proof instanceof Uint8Array)) return 'proof';
  return undefined;
}

const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** What is wrong with a chain frame's fields, or undefined: nothing a peer sends may throw later. */
function invalid(frame: Record<string, unknown>): string | undefined {
  if (!isCount(frame.epoch)) return 'epoch';
  switch (frame.kind) {
    case 'entries':
      if (!isCount(frame.mark)) return 'mark';
      return validEntries(frame.entries, frame.epoch as number) ? undefined : 'entries';
    case 'ack':
    case 'committed':
      return isCount(frame.sequence) ? undefined : 'sequence';
    case 'hello':
    case 'join':
      return isCount(frame.lastSequence) && isCount(frame.lastEpoch) ? undefined : 'log position';
    case 'heartbeat':
      return isCount(frame.stampMs) &&
        (frame.echoMs === -1 || isCount(frame.echoMs)) &&
        typeof frame.wantEcho === 'boolean'
        ? undefined
        : 'stamp';
    case 'snapshot-begin':
      return [frame.stream, frame.sequence, frame.lastEpoch, frame.revision].every(isCount) ? undefined : 'fields';
    case 'snapshot-records':
      return isCount(frame.stream) && isCount(frame.part) && validRecords(frame.records) ? undefined : 'records';
    case 'snapshot-end':
      return isCount(frame.stream) && isCount(frame.parts) && validClients(frame.clients) && validFrozen(frame.frozen)
        ? undefined
        : 'clients';
    default:
      return 'kind';
  }
}

function validRecords(records: unknown): boolean {
  if (!Array.isArray(records)) return false;
  return (records as unknown[]).every(
    (r) =>
      Array.isArray(r) &&
      (r.length === 4 || (r.length === 5 && isCount(r[4]) && (r[4] as number) <= 0xffff_ffff)) &&
      r[0] instanceof Uint8Array &&
      r[0].length > 0 &&
      r[0].length <= keyBytesMax &&
      r[1] instanceof Uint8Array &&
      r[1].length <= valueBytesCeiling &&
      isCount(r[2]) &&
      (r[2] as number) > 0 &&
      isCount(r[3]),
  );
}

function validClients(clients: unknown): boolean {
  if (typeof clients !== 'object' || clients === null) return false;
  const list = (clients as Record<string, unknown>).clients;
  if (!Array.isArray(list)) return false;
  return (list as unknown[]).every((entry) => {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string') return false;
    const record = entry[1] as Record<string, unknown> | null;
    if (typeof record !== 'object' || record === null) return false;
    return (
      isCount(record.clientSequence) &&
      isCount(record.sequence) &&
      (record.result === undefined || record.result === null || record.result instanceof Uint8Array)
    );
  });
}

/** Entries as a log holds them (no entry of an epoch above the frame's), each a write that decodes. */
function validEntries(entries: unknown, frameEpoch: number): boolean {
  if (!Array.isArray(entries)) return false;
  let previous: Record<string, unknown> | undefined;
  for (const entry of entries as unknown[]) {
    if (typeof entry !== 'object' || entry === null) return false;
    const e = entry as Record<string, unknown>;
    const op = e.operation as Record<string, unknown> | undefined;
    const id = e.requestId as Record<string, unknown> | undefined;
    if (!isCount(e.sequence) || !isCount(e.epoch) || (e.epoch as number) > frameEpoch) return false;
    if (typeof id?.clientId !== 'string' || !isCount(id.clientSequence)) return false;
    if (!(op?.request instanceof Uint8Array) || !isCount(op.nowMs)) return false;
    if (op.reclaim !== undefined && op.reclaim !== null) {
      // An expiry reclamation: no request, only the keys the head found expired.
      if (!Array.isArray(op.reclaim) || op.request.length !== 0) return false;
      if (!(op.reclaim as unknown[]).every((k) => k instanceof Uint8Array && k.length > 0 && k.length <= keyBytesMax)) {
        return false;
      }
    } else if (!loggableRequest(op.request)) {
      return false;
    }
    // In order, without gaps, epochs never going down: as every log is.
    if (
      previous !== undefined &&
      (e.sequence !== (previous.sequence as number) + 1 || (e.epoch as number) < (previous.epoch as number))
    ) {
      return false;
    }
    previous = e;
  }
  return true;
}

/**
 * True when a logged request decodes to a command that writes: what every replica will execute
 * when the entry commits (replica/applier.ts), checked before the entry may reach the log.
 */
function loggableRequest(request: Uint8Array): boolean {
  const decoded = decodeRequest(request);
  if (!decoded.ok) return false;
  const name = decoded.message.command.case;
  return name !== undefined && commandByName(name)?.mutates === true;
}

/** Slots first..last frozen on a chain for a move to chain `to` (src/server/replica/slot-mover.ts). */
export interface FrozenRange {
  readonly first: number;
  readonly last: number;
  readonly to: string;
  /** Set once dropped: the slot map version that handed the range to `to` (a fence, not a freeze). */
  readonly handedAt?: number;
}

function validFrozen(frozen: unknown): boolean {
  if (frozen === undefined) return true;
  if (!Array.isArray(frozen)) return false;
  return frozen.every((r: unknown) => {
    if (typeof r !== 'object' || r === null) return false;
    const { first, last, to, handedAt } = r as Record<string, unknown>;
    if (handedAt !== undefined && !isCount(handedAt)) return false;
    return (
      isCount(first) &&
      isCount(last) &&
      (first as number) <= (last as number) &&
      (last as number) < 16384 &&
      typeof to === 'string'
    );
  });
}
