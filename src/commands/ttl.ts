import { checkKey, expectWords, remainingTtlMs } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'ttl <key>';

export const ttl = defineCommand({
  name: 'ttl',
  summary: 'Remaining time to live of a key in milliseconds (0 = it does not expire).',
  usage,
  mutates: false,
  seed: false,
  parse(words) {
    expectWords(words, 1, 1, usage);
    return { key: words[0] };
  },
  execute({ store, clock }, request) {
    const record = store.get(checkKey(request.key));
    return record === undefined ? { found: false } : { found: true, ttlMs: remainingTtlMs(record, clock) };
  },
  render: (reply) => (!reply.found ? '(not found)' : reply.ttlMs === 0n ? '(no expiry)' : `${reply.ttlMs} ms`),
});
