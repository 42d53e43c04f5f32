import { checkLimit, expectWords, showBytes } from './arguments.js';
import { checkSlotRange, moverOf, parseSlotWords } from './slot-range.js';
import { defineCommand } from './types.js';

const usage = 'slotdrop <first> <last> [after]';

export const slotdrop = defineCommand({
  name: 'slotdrop',
  summary: 'Internal (moving slots): remove a page of slots another chain now owns.',
  usage,
  mutates: true,
  seed: false,
  hidden: true,
  access: 'admin',
  parse(words) {
    expectWords(words, 2, 3, usage);
    return { ...parseSlotWords(words), after: words[2] };
  },
  execute(context, request) {
    checkSlotRange(request.first, request.last);
    checkLimit(request.limit);
    return moverOf(context).dropPage(request);
  },
  render: (reply) =>
    `OK (${reply.removed} removed) ${reply.cursor.length > 0 ? `(cursor ${showBytes(reply.cursor)})` : '(end)'}`,
});
