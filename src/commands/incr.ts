import { CatenaError } from '../core/errors.js';
import { checkKey, expectWords, parseSigned } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'incr <key> [delta]';

export const incr = defineCommand({
  name: 'incr',
  summary: 'Add delta (default 1, may be negative) to an integer value; a missing key counts as 0.',
  usage,
  mutates: true,
  seed: false,
  parse(words) {
    expectWords(words, 1, 2, usage);
    return { key: words[0], delta: words[1] === undefined ? 1n : parseSigned(words[1], 'delta') };
  },
  execute({ store }, request) {
    const result = store.incr(checkKey(request.key), request.delta);
    if (result.ok) return { value: result.value };
    throw new CatenaError(result.reason === 'overflow' ? 'ERR_OVERFLOW' : 'ERR_NOT_AN_INTEGER');
  },
  render: (reply) => `(integer) ${reply.value}`,
});
