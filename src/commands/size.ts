import { expectWords } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'size';

export const size = defineCommand({
  name: 'size',
  summary: 'Count the keys stored (and their bytes).',
  usage,
  mutates: false,
  seed: true,
  parse(words) {
    expectWords(words, 0, 0, usage);
    return {};
  },
  execute({ store }) {
    return { keys: BigInt(store.size()), bytes: BigInt(store.bytes()) };
  },
  render: (reply) => `${reply.keys} keys, ${reply.bytes} bytes`,
});
