import { checkLimit, scanUpTo, expectWords, parseCount, showBytes } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'getkeys [prefix] [limit]';

export const getkeys = defineCommand({
  name: 'getkeys',
  summary: 'List keys in byte order (at most limit, default 100; use scan to page further).',
  usage,
  mutates: false,
  seed: true,
  parse(words) {
    expectWords(words, 0, 2, usage);
    return { prefix: words[0], limit: parseCount(words[1]) };
  },
  execute({ store }, request) {
    const limit = checkLimit(request.limit);
    const { entries, truncated } = scanUpTo(store, request.prefix, limit);
    return { keys: entries.map((entry) => entry.key), truncated };
  },
  render: (reply) =>
    [
      ...reply.keys.map((key, i) => `${i + 1}) ${showBytes(key)}`),
      ...(reply.truncated ? ['(more keys: use scan)'] : []),
    ].join('\n') || '(empty)',
});
