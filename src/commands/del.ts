import { checkKey, expectWords } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'del <key>';

export const del = defineCommand({
  name: 'del',
  summary: 'Delete a key.',
  usage,
  mutates: true,
  seed: true,
  parse(words) {
    expectWords(words, 1, 1, usage);
    return { key: words[0] };
  },
  execute({ store }, request) {
    return { deleted: store.delete(checkKey(request.key)) };
  },
  render: (reply) => (reply.deleted ? '(deleted)' : '(not found)'),
});
