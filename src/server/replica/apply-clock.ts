// The clock commands and the store read in a cluster: the head's clock while an entry is applied
// (so every replica computes the same expiries from the same log), else the environment's.

import type { Clock } from '../../core/clock.js';

export class ApplyClock implements Clock {
  private pinnedMs: number | undefined;

  constructor(readonly base: Clock) {}

  nowMs(): number {
    return this.pinnedMs ?? this.base.nowMs();
  }

  pin(nowMs: number | undefined): void {
    this.pinnedMs = nowMs;
  }
}
