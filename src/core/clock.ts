// Time enters through this interface only, so the simulator can run on virtual time and tests
// can move expiry forward without sleeping.

export interface Clock {
  /** Wall-clock milliseconds since the Unix epoch (used for key expiry). */
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

/** A clock that moves only when told to; for tests and the simulator. */
export class ManualClock implements Clock {
  constructor(private timeMs = 1_700_000_000_000) {}
  nowMs(): number {
    return this.timeMs;
  }
  advance(ms: number): void {
    this.timeMs += ms;
  }
}
