import { checkKey, expectWords, showBytes } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'getdel <key>';

export const getdel = defineCommand({
  name: 'getdel',
  summary: 'Delete a key and return the value it had.',
  usage,
  mutates: true,
  seed: false,
  parse(words) {
    expectWords(words, 1, 1, usage);
    return { key: words[0] };
  },
  execute({ store }, request) {
    const key = checkKey(request.key);
    const current = store.get(key);
    if (current === undefined) {
      store.delete(key); // an expired record still present goes too, as with del
      return { found: false };
    }
    const value = Buffer.from(current.value);
    store.delete(key);
    return { found: true, value };
  },
  render: (reply) => (reply.found ? showBytes(reply.value) : '(nil)'),
});
