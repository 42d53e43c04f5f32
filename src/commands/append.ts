import { CatenaError } from '../core/errors.js';
import { checkKey, checkValue, expectWords } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'append <key> <value>';

export const append = defineCommand({
  name: 'append',
  summary: 'Append to the value stored under a key (a missing key starts empty).',
  usage,
  mutates: true,
  seed: false,
  parse(words) {
    expectWords(words, 2, 2, usage);
    return { key: words[0], value: words[1] };
  },
  execute({ store, valueBytesMax }, request) {
    const key = checkKey(request.key);
    const suffix = checkValue(request.value, valueBytesMax);
    const current = store.get(key)?.value.length ?? 0;
    if (current + suffix.length > valueBytesMax) {
      throw new CatenaError('ERR_VALUE_TOO_LARGE', `appending would make the value larger than ${valueBytesMax} bytes`);
    }
    return { length: BigInt(store.append(key, suffix).length) };
  },
  render: (reply) => `(length) ${reply.length}`,
});
