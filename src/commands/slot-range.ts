// Helpers the slot-moving commands share (slotfreeze, slotexport, slotimport, slotdrop).

import { CatenaError } from '../core/errors.js';
import { slotCount } from '../sharding/slots.js';
import { parseUnsigned } from './arguments.js';
import type { CommandContext, SlotMover } from './types.js';

/** The slot range named by `first` and `last`, checked. */
export function checkSlotRange(first: number, last: number): void {
  if (!(Number.isInteger(first) && Number.isInteger(last) && first <= last && last < slotCount)) {
    throw new CatenaError(
      'ERR_INVALID_ARGUMENT',
      `slots must be a range within 0..${slotCount - 1}: got ${first}..${last}`,
    );
  }
}

/** The replica that moves slots, or ERR_INVALID_ARGUMENT on a standalone node (it has no chains). */
export function moverOf(context: CommandContext): SlotMover {
  if (context.slots === undefined) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', 'only a cluster node moves slots between chains');
  }
  return context.slots;
}

/** `first` and `last` from shell words. */
export function parseSlotWords(words: readonly Buffer[]): { first: number; last: number } {
  const slot = (word: Buffer | undefined, what: string): number => {
    const value = parseUnsigned(word, what);
    if (value >= BigInt(slotCount))
      throw new CatenaError('ERR_INVALID_ARGUMENT', `${what} must be a slot below ${slotCount}`);
    return Number(value);
  };
  return { first: slot(words[0], 'first'), last: slot(words[1], 'last') };
}
