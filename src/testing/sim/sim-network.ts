// What travels in the simulated cluster (simulation.ts) besides chain traffic, and the little of
// the simulation that clients and the manager see: time, the seeded generator and the network.
// Requests are the node's own native requests and results (protocol/native), as a client or
// the manager's cluster client would send them. Every packet may be dropped, duplicated or
// delayed.

import type { Prng } from '../../core/prng.js';
import type { Request, ResponseResult } from '../../protocol/native/codec.js';
import type { PeerFrame } from '../../server/chain-wire.js';

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
