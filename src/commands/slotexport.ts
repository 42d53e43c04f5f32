import { checkLimit, expectWords, showBytes } from './arguments.js';
import { checkSlotRange, moverOf, parseSlotWords } from './slot-range.js';
import { defineCommand } from './types.js';

const usage = 'slotexport <first> <last> [after]';

export const slotexport = defineCommand({
  name: 'slotexport',
  summary: "Internal (moving slots): a page of the frozen slots' records (or of the client table).",
  usage,
  mutates: false,
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
    return moverOf(context).exportPage(request);
  },
  render: (reply) =>
    `${reply.records.length} records, ${reply.clients.length} clients ${reply.cursor.length > 0 ? `(cursor ${showBytes(reply.cursor)})` : '(end)'}`,
});
