import { CatenaError } from '../core/errors.js';
import { checkKey, checkValue } from './arguments.js';
import { checkSlotRange, moverOf } from './slot-range.js';
import { defineCommand } from './types.js';

export const slotimport = defineCommand({
  name: 'slotimport',
  summary: 'Internal (moving slots): store records copied from the chain the slots leave.',
  usage: 'slotimport (not from the shell: the manager sends it)',
  mutates: true,
  seed: false,
  hidden: true,
  access: 'admin',
  parse() {
    throw new CatenaError('ERR_INVALID_ARGUMENT', 'slotimport is sent by the manager, not typed');
  },
  execute(context, request) {
    checkSlotRange(request.first, request.last);
    for (const record of request.records) {
      checkKey(record.key);
      checkValue(record.value, context.valueBytesMax);
    }
    return moverOf(context).importPage(request);
  },
  render: (reply) => `OK (${reply.records} records)`,
});
