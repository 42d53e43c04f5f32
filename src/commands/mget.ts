import { multiKeysMax } from '../core/limits.js';
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
    const items = checkKeys(request.keys).map((key) => {
      const record = store.get(key);
      if (record === undefined) return { found: false };
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
