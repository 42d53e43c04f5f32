import { CatenaError } from '../core/errors.js';
import { mgetReplyBytesMax, multiKeysMax } from '../core/limits.js';
import { checkKeys, expectWords, remainingTtlMs, showBytes } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'mget <key> [key ...]';

export const mget = defineCommand({
  name: 'mget',
  summary: `Read several keys (at most ${multiKeysMax}) from one consistent state.`,
  usage,
  mutates: false,
  seed: false,
  parse(words) {
    expectWords(words, 1, multiKeysMax, usage);
    return { keys: [...words] };
  },
  execute({ store, clock }, request) {
    let bytes = 0;
    const items = checkKeys(request.keys).map((key) => {
      const record = store.get(key);
      if (record === undefined) return { found: false };
      bytes += record.value.length;
      if (bytes > mgetReplyBytesMax) {
        throw new CatenaError(
          'ERR_VALUE_TOO_LARGE',
          `the values add up to more than ${mgetReplyBytesMax} bytes; read fewer keys at once`,
        );
      }
      return {
        found: true,
        value: record.value,
        version: BigInt(record.version),
        flags: record.flags,
        ttlMs: remainingTtlMs(record, clock),
      };
    });
    return { items };
  },
  render: (reply) => reply.items.map((item) => (item.found ? showBytes(item.value) : '(nil)')).join('\n'),
});
