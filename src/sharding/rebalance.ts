// Rebalancing, pure (docs/design.md §6): which chain each slot should belong to when the chains
// change, and which slots to move next. The manager's migration runner moves them one batch at
// a time (coordination/migration-runner.ts).
//
// The target moves as few slots as possible: every chain keeps what it owns up to its fair
// share (16384 / chains, the first chains one more), a chain above its share gives up its
// highest slots, and the slots of chains that leave; those go, lowest first, to the chains
// below their share, in chain order. Adding a fourth chain to three even ones thus moves a
// quarter of the slots, taken evenly from the three.

import { assert } from '../core/assert.js';
import { mergeRanges, type SlotRange } from './slot-map.js';
import { slotCount } from './slots.js';

/** The owner every slot should have, given each slot's owner now and the chains wanted. */
export function targetOwners(current: readonly string[], chains: readonly string[]): string[] {
  assert(current.length === slotCount, 'an owner for every slot');
  assert(chains.length > 0 && new Set(chains).size === chains.length, 'distinct chains to spread over');
  const base = Math.floor(slotCount / chains.length);
  const extra = slotCount % chains.length;
  const share = new Map(chains.map((chain, i) => [chain, base + (i < extra ? 1 : 0)]));
  const held = new Map<string, number[]>(chains.map((chain) => [chain, []]));
  const pool: number[] = [];
  current.forEach((owner, slot) => {
    const slots = held.get(owner);
    if (slots === undefined) pool.push(slot);
    else slots.push(slot);
  });
  const target = [...current];
  for (const chain of chains) {
    const slots = held.get(chain)!;
    const over = slots.length - share.get(chain)!;
    if (over > 0) pool.push(...slots.splice(slots.length - over, over)); // its highest slots
  }
  pool.sort((a, b) => a - b);
  let next = 0;
  for (const chain of chains) {
    let missing = share.get(chain)! - held.get(chain)!.length;
    while (missing > 0) {
      target[pool[next]!] = chain;
      next += 1;
      missing -= 1;
    }
  }
  assert(next === pool.length, 'every released slot found a chain');
  return target;
}

/** Slots whose owner is not their target. */
export function misplaced(current: readonly string[], target: readonly string[]): number {
  let count = 0;
  for (let slot = 0; slot < slotCount; slot++) if (current[slot] !== target[slot]) count += 1;
  return count;
}

export interface Move {
  readonly first: number;
  readonly last: number;
  readonly from: string;
  readonly to: string;
}

/**
 * The next batch: the lowest misplaced slot and the contiguous slots after it with the same
 * owner and target, at most `batchMax`; only moves `allowed` says may run now (both chains able
 * to take part). Undefined when nothing can move.
 */
export function nextMove(
  current: readonly string[],
  target: readonly string[],
  batchMax: number,
  allowed: (from: string, to: string) => boolean = () => true,
): Move | undefined {
  for (let slot = 0; slot < slotCount; slot++) {
    const from = current[slot]!;
    const to = target[slot]!;
    if (from === to || !allowed(from, to)) continue;
    let last = slot;
    while (
      last + 1 < slotCount &&
      last + 1 - slot < batchMax &&
      current[last + 1] === from &&
      target[last + 1] === to
    ) {
      last += 1;
    }
    return { first: slot, last, from, to };
  }
  return undefined;
}

/** Ranges from a per-slot owner list. */
export function rangesOf(owners: readonly string[]): SlotRange[] {
  const ranges: SlotRange[] = [];
  owners.forEach((owner, slot) => ranges.push([slot, slot, owner]));
  return mergeRanges(ranges);
}

/** The owners after a move. */
export function applyMove(owners: readonly string[], move: Move): string[] {
  const next = [...owners];
  for (let slot = move.first; slot <= move.last; slot++) next[slot] = move.to;
  return next;
}
