// What travels in the simulated cluster (simulation.ts) besides chain traffic, and the little of
// the simulation that clients and the manager see: time, the seeded generator and the network.
// Requests are the node's own native requests and results (protocol/native), as a client or
// the manager's cluster client would send them, and everything goes through the real codecs.
// Every packet may be dropped, duplicated or delayed.

import { assert } from '../../core/assert.js';
import type { Prng } from '../../core/prng.js';
import {
  decodeRequest,
  decodeResponse,
  encodeResponse,
  encodeWriterRequestFrame,
  type Request,
  type ResponseResult,
} from '../../protocol/native/codec.js';
import { decodePeerFrame, encodePeerFrame, type PeerFrame } from '../../server/chain-wire.js';

export type SimPacket =
  /** Chain traffic between nodes, through the real wire codec. */
  | { kind: 'frame'; frame: PeerFrame }
  /** A request of a client or of the manager; `tag` names the operation its reply answers. */
  | { kind: 'request'; request: Request; tag: number }
  | { kind: 'reply'; tag: number; result: ResponseResult };

/** The simulation as its clients and its manager see it. */
export interface SimNetwork {
  readonly random: Prng;
  now(): number;
  after(delayMs: number, run: () => void): void;
  transmit(from: string, to: string, packet: SimPacket): void;
  /** A notable event: part of the trace hash (a replay must repeat it), and logged when asked. */
  note(event: string): void;
  /** Tags are unique in a run: a late reply to an earlier operation must not answer a later one. */
  nextTag(): number;
}

/** Why a node refused a request (the error code's meaning for a client). */
export type Refusal = 'not-head' | 'not-tail' | 'moved' | 'moving' | 'unavailable' | 'other';

export function refusalOf(result: ResponseResult): Refusal | undefined {
  if (result.case !== 'error') return undefined;
  switch (result.value.code) {
    case 'ERR_NOT_HEAD':
      return 'not-head';
    case 'ERR_NOT_TAIL':
      return 'not-tail';
    case 'ERR_MOVED':
      return 'moved';
    case 'ERR_SLOT_MOVING':
      return 'moving';
    case 'ERR_UNAVAILABLE':
    case 'ERR_SHUTTING_DOWN':
      return 'unavailable';
    default:
      return 'other';
  }
}

export type RefusalCounts = Record<Refusal, number>;

export const noRefusals = (): RefusalCounts => ({
  'not-head': 0,
  'not-tail': 0,
  moved: 0,
  moving: 0,
  unavailable: 0,
  other: 0,
});

/** A frame as the peer decodes it: through the real wire codec, never the sender's objects. */
export function frameOverTheWire(frame: PeerFrame): PeerFrame {
  const decoded = decodePeerFrame(encodePeerFrame(frame).subarray(4));
  assert(decoded.ok, `a peer frame round-trips (${frame.kind})`);
  return decoded.frame;
}

/** A request as the node decodes it from its connection. */
export function requestOverTheWire(request: Request): Request {
  const writer = { clientId: request.clientId, clientSequence: request.clientSequence };
  const decoded = decodeRequest(encodeWriterRequestFrame(0, request.command, writer).subarray(4));
  assert(decoded.ok, 'a request round-trips');
  return decoded.message;
}

/** A result as the client decodes it. */
export function replyOverTheWire(result: ResponseResult): ResponseResult {
  const decoded = decodeResponse(encodeResponse(0, result));
  assert(decoded.ok, 'a reply round-trips');
  return decoded.message.result;
}

/** One line for a frame between nodes, for a replay's log. */
export function describeFrame(frame: PeerFrame): string {
  switch (frame.kind) {
    case 'entries': {
      const first = frame.entries[0]?.sequence;
      const last = frame.entries[frame.entries.length - 1]?.sequence;
      return `entries e${frame.epoch} ${first === undefined ? '[]' : `[${first}..${last}]`}`;
    }
    case 'ack':
      return `ack e${frame.epoch} @${frame.sequence}`;
    case 'snapshot-begin':
      return `snapshot-begin e${frame.epoch} #${frame.stream} @${frame.sequence}/${frame.lastEpoch}`;
    case 'snapshot-records':
      return `snapshot-records e${frame.epoch} #${frame.stream} part ${frame.part} (${frame.records.length})`;
    case 'snapshot-end':
      return `snapshot-end e${frame.epoch} #${frame.stream} parts ${frame.parts}`;
    default:
      return JSON.stringify(frame, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  }
}
