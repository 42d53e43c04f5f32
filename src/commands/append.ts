import { CatenaError } from '../core/errors.js';
import { checkKey, checkValue, expectWords } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'append <key> <value> [prepend] [must-exist]';

export const append = defineCommand({
  name: 'append',
  summary: 'Append (or prepend) to the value stored under a key; a missing key starts empty unless must-exist.',
  usage,
  mutates: true,
  seed: false,
  parse(words) {
    expectWords(words, 2, 4, usage);
    const options = words.slice(2).map((word) => word.toString('utf8').toLowerCase());
    for (const option of options) {
      if (option !== 'prepend' && option !== 'must-exist') {
        throw new CatenaError('ERR_INVALID_ARGUMENT', `unknown option ${option}; usage: ${usage}`);
      }
    }
    return {
      key: words[0],
      value: words[1],
      prepend: options.includes('prepend'),
      mustExist: options.includes('must-exist'),
    };
  },
  execute({ store, valueBytesMax }, request) {
    const key = checkKey(request.key);
    const part = checkValue(request.value, valueBytesMax);
    const current = store.get(key);
    if (current === undefined && request.mustExist) return { length: 0n, stored: false };
    const length = (current?.value.length ?? 0) + part.length;
    if (length > valueBytesMax) {
      throw new CatenaError('ERR_VALUE_TOO_LARGE', `the value would grow past ${valueBytesMax} bytes`);
    }
    if (!request.prepend) return { length: BigInt(store.append(key, part).length), stored: true };
    const value = Buffer.concat([part, current?.value ?? Buffer.alloc(0)]);
    store.put(key, value, { expiresAtMs: current?.expiresAtMs ?? 0, flags: current?.flags ?? 0 });
    return { length: BigInt(value.length), stored: true };
  },
  render: (reply) => (reply.stored ? `(length) ${reply.length}` : '(not stored: no such key)'),
});
