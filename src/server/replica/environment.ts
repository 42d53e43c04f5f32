// What the replica gets from the world: a clock, timers, a way to run something at the end of the
// current burst of work, and the peer network. Nothing in this folder reads the system clock,
// sets a timer or touches a socket itself: a node passes the system's (server/system-environment.ts),
// the simulator passes virtual time and a simulated network (testing/sim), and both run this code.

import type { Clock } from '../../core/clock.js';
import type { PeerFrame } from '../chain-wire.js';

export interface Timer {
  cancel(): void;
}

export interface ReplicaEnvironment {
  /** Wall-clock milliseconds: the head's stamps on writes, and deadlines. */
  readonly clock: Clock;
  /**
   * Monotonic milliseconds (whole, never going back; any origin): heartbeats, suspicion and read
   * leases, which compare only durations on one node's clock (docs/design.md §3.5).
   */
  monotonicMs(): number;
  /** Runs `run` once, `delayMs` from now. */
  after(delayMs: number, run: () => void): Timer;
  /**
   * Runs `run` once the current burst of work is over (a microtask in a node), so results that
   * arrive together are handled together.
   */
  defer(run: () => void): void;
}

/** The peer network as the replica sees it: frames out, and how much waits to go. */
export interface ReplicaPeers {
  send(to: string, frame: PeerFrame): void;
  backlogBytes(to: string): number;
}
