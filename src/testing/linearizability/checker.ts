// Linearizability checking: is there one order of the operations, consistent with real time
// (an operation that returned before another was called comes first), in which every output is
// what the sequential register model gives? The search is Wing & Gong's, with Lowe's memoization
// (a configuration — which operations are linearized, and the model state — is explored once),
// run separately for each key: a register history is linearizable iff each key's is.
//
// An operation whose outcome is unknown (a timeout) has no return: it may take effect at any
// point after its call, and since one that takes effect last is never observed, "it never
// happened" is covered too.
//
//   entries:  call(a) call(b) ret(a) call(c) ret(b) ...   (a doubly linked list, time order)
//   step:     take the first call whose model step is allowed -> lift it and its return out,
//             remember (entry, state) on a stack; meeting a return first means the operation
//             it ends had to come earlier: backtrack.

import { assert } from '../../core/assert.js';
import type { Operation } from './history.js';
import { initialRegister, registerKey, stepRegister, type RegisterState } from './register-model.js';

export type CheckResult =
  { ok: true; keys: number; operations: number } | { ok: false; key: string; operations: Operation[]; reason: string };

export interface CheckOptions {
  /** Give up on a key after exploring this many configurations (the search is exponential). */
  configurationsMax?: number;
}

interface Entry {
  /** Index of the operation in its key's list. */
  op: number;
  isCall: boolean;
  time: number;
  /** For a call, its return (always present: unknown outcomes return at +infinity). */
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

export function checkHistory(history: readonly Operation[], options: CheckOptions = {}): CheckResult {
  const byKey = new Map<string, Operation[]>();
  for (const op of history) {
    const list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, [op]);
    else list.push(op);
  }
  for (const [key, operations] of byKey) {
    const result = checkKey(operations, options.configurationsMax ?? 5_000_000);
    if (!result.ok) return { ok: false, key, operations, reason: result.reason };
  }
  return { ok: true, keys: byKey.size, operations: history.length };
}

/** Builds the time-ordered entry list: a head sentinel followed by calls and returns. */
function buildEntries(operations: readonly Operation[]): Entry {
  const entries: Entry[] = [];
  operations.forEach((op, index) => {
    const returnTime = op.output === undefined ? Number.POSITIVE_INFINITY : op.returnAt;
    assert(returnTime >= op.callAt, 'an operation returns after it is called');
    const ret: Entry = {
      op: index,
      isCall: false,
      time: returnTime,
      match: undefined,
      prev: undefined,
      next: undefined,
    };
    entries.push({ op: index, isCall: true, time: op.callAt, match: ret, prev: undefined, next: undefined }, ret);
  });
  // At equal times calls come first: operations that touch in time count as concurrent.
  entries.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall));
  const head: Entry = {
    op: -1,
    isCall: false,
    time: Number.NEGATIVE_INFINITY,
    match: undefined,
    prev: undefined,
    next: undefined,
  };
  let last = head;
  for (const entry of entries) {
    last.next = entry;
    entry.prev = last;
    last = entry;
  }
  return head;
}

function lift(call: Entry): void {
  call.prev!.next = call.next;
  if (call.next !== undefined) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next !== undefined) ret.next.prev = ret.prev;
}

function unlift(call: Entry): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next !== undefined) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next !== undefined) call.next.prev = call;
}

function checkKey(
  operations: readonly Operation[],
  configurationsMax: number,
): { ok: true } | { ok: false; reason: string } {
  const head = buildEntries(operations);
  const linearized = new Uint32Array(Math.ceil(operations.length / 32));
  const seen = new Set<string>();
  const stack: { call: Entry; state: RegisterState }[] = [];
  let state = initialRegister;
  let entry = head.next;
  let deepest = 0;
  while (head.next !== undefined) {
    assert(entry !== undefined, 'a call is always followed by its return');
    if (entry.isCall) {
      const op = operations[entry.op]!;
      const next = stepRegister(state, op.input, op.output);
      if (next !== undefined) {
        linearized[entry.op >>> 5]! ^= 1 << (entry.op & 31);
        const configuration = `${linearized.join(',')}|${registerKey(next)}`;
        if (!seen.has(configuration)) {
          if (seen.size >= configurationsMax)
            return { ok: false, reason: `gave up after ${configurationsMax} configurations` };
          seen.add(configuration);
          stack.push({ call: entry, state });
          deepest = Math.max(deepest, stack.length);
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.op >>> 5]! ^= 1 << (entry.op & 31);
      }
      entry = entry.next;
      continue;
    }
    // A return before any allowed call: some earlier choice was wrong.
    const top = stack.pop();
    if (top === undefined) {
      return {
        ok: false,
        reason: `no linearization: at most ${deepest} of ${operations.length} operations could be ordered`,
      };
    }
    state = top.state;
    linearized[top.call.op >>> 5]! ^= 1 << (top.call.op & 31);
    unlift(top.call);
    entry = top.call.next;
  }
  return { ok: true };
}
