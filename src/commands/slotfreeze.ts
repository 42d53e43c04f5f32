import { expectWords } from './arguments.js';
import { checkSlotRange, moverOf, parseSlotWords } from './slot-range.js';
import { defineCommand } from './types.js';

const usage = 'slotfreeze <first> <last> <to-chain>';

export const slotfreeze = defineCommand({
  name: 'slotfreeze',
  summary: 'Internal (moving slots): stop serving these slots on this chain until they are dropped.',
  usage,
  mutates: true,
  seed: false,
  hidden: true,
  access: 'admin',
  parse(words) {
    expectWords(words, 3, 3, usage);
    return { ...parseSlotWords(words), toChain: words[2]!.toString() };
  },
  execute(context, request) {
    checkSlotRange(request.first, request.last);
    return moverOf(context).freeze(request);
  },
  render: () => 'OK',
});
