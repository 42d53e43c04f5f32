import { expectWords } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'flush';

export const flush = defineCommand({
  name: 'flush',
  summary: 'Remove every key.',
  usage,
  mutates: true,
  seed: false,
  access: 'admin',
  parse(words) {
    expectWords(words, 0, 0, usage);
    return {};
  },
  execute({ store }) {
    const keys = store.size();
    store.clear();
    return { keys: BigInt(keys) };
  },
  render: (reply) => `OK (${reply.keys} keys removed)`,
});
