// Generates client histories of a correct single-copy store, for testing the checker and for
// measuring it: clients issue operations that overlap in time; each takes effect at a random
// instant inside its interval, on a real MemoryStore, and is told what that store answered. Some
// operations time out: their outcome is hidden, and half of them never take effect at all.

import { ManualClock } from '../../core/clock.js';
import { Prng } from '../../core/prng.js';
import { MemoryStore } from '../../storage/memory-store.js';
import type { Store } from '../../storage/store.js';
import type { Input, Operation, Output } from './history.js';

export interface GenerateOptions {
  operations: number;
  clients: number;
  keys: number;
  /** Fraction of operations whose outcome is unknown. */
  timeoutRate?: number;
  seed: number;
}

/** A seeded random float generator in [0, 1). */
export function seededRandom(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.next();
}

interface Planned {
  client: number;
  key: string;
  input: Input;
  callAt: number;
  returnAt: number;
  effectAt: number;
  timedOut: boolean;
  applies: boolean;
}

function randomInput(random: () => number, lastVersion: number): Input {
  const r = random();
  if (r < 0.4) return { f: 'get' };
  if (r < 0.6) return { f: 'put', value: `v${Math.floor(random() * 1000)}` };
  if (r < 0.7) return { f: 'incr', delta: BigInt(Math.floor(random() * 5) - 2) };
  if (r < 0.8) return { f: 'append', value: String.fromCharCode(97 + Math.floor(random() * 26)) };
  if (r < 0.9)
    return { f: 'cas', expectedVersion: random() < 0.5 ? lastVersion : 0, value: `c${Math.floor(random() * 1000)}` };
  return { f: 'del' };
}

function plan(options: GenerateOptions, random: () => number): Planned[] {
  const planned: Planned[] = [];
  const clientFreeAt = new Array<number>(options.clients).fill(0);
  for (let i = 0; i < options.operations; i++) {
    const client = i % options.clients;
    const callAt = clientFreeAt[client]! + Math.floor(random() * 3);
    const returnAt = callAt + 1 + Math.floor(random() * 10);
    const timedOut = random() < (options.timeoutRate ?? 0.02);
    planned.push({
      client,
      key: `k${Math.floor(random() * options.keys)}`,
      input: { f: 'get' },
      callAt,
      returnAt,
      effectAt: callAt + random() * (returnAt - callAt),
      timedOut,
      applies: !timedOut || random() < 0.5,
    });
    clientFreeAt[client] = returnAt; // a client waits for each reply (or its timeout)
  }
  return planned;
}

/** Runs one operation on a store and says what its client is told. */
export function applyToStore(store: Store, key: string, input: Input): Output {
  const k = Buffer.from(key);
  switch (input.f) {
    case 'get': {
      const record = store.get(k);
      return record === undefined
        ? { f: 'get', found: false }
        : { f: 'get', found: true, value: Buffer.from(record.value).toString(), version: record.version };
    }
    case 'put':
      return { f: 'put', version: store.put(k, Buffer.from(input.value)) };
    case 'del':
      return { f: 'del', deleted: store.delete(k) };
    case 'cas': {
      const result = store.cas(k, input.expectedVersion, Buffer.from(input.value));
      return result.ok
        ? { f: 'cas', swapped: true, version: result.version }
        : { f: 'cas', swapped: false, currentVersion: result.currentVersion };
    }
    case 'incr': {
      const result = store.incr(k, input.delta);
      return result.ok ? { f: 'incr', value: result.value } : { f: 'error', reason: result.reason };
    }
    case 'append':
      return { f: 'append', length: store.append(k, Buffer.from(input.value)).length };
  }
}

export function generateHistory(options: GenerateOptions): Operation[] {
  const random = seededRandom(options.seed);
  const planned = plan(options, random);
  const store = new MemoryStore(new ManualClock());
  const lastVersion = new Map<string, number>();
  const history: Operation[] = [];
  // Effects happen in effect-time order; inputs are chosen then, so a cas can name a real version.
  for (const p of [...planned].sort((a, b) => a.effectAt - b.effectAt)) {
    const input = randomInput(random, lastVersion.get(p.key) ?? 0);
    let output: Output | undefined;
    if (p.applies) {
      output = applyToStore(store, p.key, input);
      const version = store.get(Buffer.from(p.key))?.version;
      if (version !== undefined) lastVersion.set(p.key, version);
    }
    history.push({
      client: p.client,
      key: p.key,
      input,
      output: p.timedOut ? undefined : output,
      callAt: p.callAt,
      returnAt: p.returnAt,
    });
  }
  return history.sort((a, b) => a.callAt - b.callAt);
}
