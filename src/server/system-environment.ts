// The replica's environment in a node process: the system clock, Node's timers, microtasks.

import { systemClock, type Clock } from '../core/clock.js';
import type { ReplicaEnvironment } from './replica/environment.js';

export function systemEnvironment(clock: Clock = systemClock): ReplicaEnvironment {
  return {
    clock,
    monotonicMs: () => Math.floor(performance.now()),
    after(delayMs, run) {
      const timer = setTimeout(run, delayMs);
      return { cancel: () => clearTimeout(timer) };
    },
    defer: (run) => queueMicrotask(run),
  };
}
