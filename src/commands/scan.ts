import { scanReplyBytesMax } from '../core/limits.js';
import { checkLimit, expectWords, parseCount, remainingTtlMs, showBytes } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'scan [prefix] [after] [limit]';

export const scan = defineCommand({
  name: 'scan',
  summary: 'Page through keys and values in byte order; pass the returned cursor as after.',
  usage,
  mutates: false,
  seed: false,
  parse(words) {
    expectWords(words, 0, 3, usage);
    return { prefix: words[0], after: words[1], limit: parseCount(words[2]) };
  },
  execute({ store, clock }, request) {
    const page = store.scan({
      prefix: request.prefix,
      after: request.after.length === 0 ? undefined : request.after,
      limit: checkLimit(request.limit),
      bytesMax: scanReplyBytesMax,
    });
    const entries = page.entries.map((entry) => ({
      key: entry.key,
      value: request.keysOnly ? undefined : entry.value,
      version: BigInt(entry.version),
      ttlMs: remainingTtlMs(entry, clock),
    }));
    return { entries, cursor: page.cursor };
  },
  render: (reply) =>
    [
      ...reply.entries.map((e) => `${showBytes(e.key)} => ${showBytes(e.value)}`),
      reply.cursor.length > 0 ? `(cursor ${showBytes(reply.cursor)})` : '(end)',
    ].join('\n'),
});
