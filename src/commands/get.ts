import { checkKey, expectWords, remainingTtlMs, showBytes } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'get <key>';

export const get = defineCommand({
  name: 'get',
  summary: 'Read the value stored under a key.',
  usage,
  mutates: false,
  seed: true,
  parse(words) {
    expectWords(words, 1, 1, usage);
    return { key: words[0] };
  },
  execute({ store, clock }, request) {
    const record = store.get(checkKey(request.key));
    if (record === undefined) return { found: false };
    return { found: true, value: record.value, version: BigInt(record.version), ttlMs: remainingTtlMs(record, clock) };
  },
  render: (reply) => (reply.found ? showBytes(reply.value) : '(nil)'),
});
