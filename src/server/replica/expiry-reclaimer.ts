// Expiry reclamation in a chain (docs/design.md §3): replicas reclaiming expired keys on their own
// clocks would diverge, so only the head looks for expired keys, now and then, and writes a log
// entry naming them with its clock; every replica removes those of them expired at that stamp.

import { expiryReclaimBatchMax } from '../../core/limits.js';
import type { ReplicatedOp } from '../chain-wire.js';
import type { Applier } from './applier.js';
import type { ReplicaShell } from './shell.js';

export class ExpiryReclaimer {
  private lastReclaimMs = 0;

  constructor(
    private readonly shell: ReplicaShell,
    private readonly applier: Applier,
    private readonly intervalMs: number,
  ) {}

  tick(nowMs: number): void {
    if (nowMs - this.lastReclaimMs < this.intervalMs) return;
    const core = this.shell.core();
    if (core.role !== 'head' && core.role !== 'head-and-tail') return;
    this.lastReclaimMs = nowMs;
    const keys = this.shell.store.expiredKeys(expiryReclaimBatchMax);
    if (keys.length === 0) return;
    // The stamp is at least the head's clock when it found them expired: they are expired then too.
    this.applier.lastStampMs = Math.max(this.applier.lastStampMs, this.shell.env.clock.nowMs());
    const copies = keys.map((key) => Buffer.from(key));
    const operation: ReplicatedOp = { request: new Uint8Array(0), nowMs: this.applier.lastStampMs, reclaim: copies };
    this.shell.run(core.write({ clientId: '', clientSequence: 0 }, operation));
  }
}
