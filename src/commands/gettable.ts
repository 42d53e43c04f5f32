import { checkLimit, scanUpTo, expectWords, parseCount, remainingTtlMs, showBytes } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'gettable [prefix] [limit]';

export const gettable = defineCommand({
  name: 'gettable',
  summary: 'List keys with their values (at most limit, default 100; use scan to page further).',
  usage,
  mutates: false,
  seed: true,
  parse(words) {
    expectWords(words, 0, 2, usage);
    return { prefix: words[0], limit: parseCount(words[1]) };
  },
  execute({ store, clock }, request) {
    const limit = checkLimit(request.limit);
    const { entries, truncated } = scanUpTo(store, request.prefix, limit);
    const rows = entries.map((entry) => ({
      key: entry.key,
      value: entry.value,
      version: BigInt(entry.version),
      ttlMs: remainingTtlMs(entry, clock),
    }));
    return { entries: rows, truncated };
  },
  render: (reply) =>
    [
      ...reply.entries.map((e) => `${showBytes(e.key)} => ${showBytes(e.value)}`),
      ...(reply.truncated ? ['(more entries: use scan)'] : []),
    ].join('\n') || '(empty)',
});
