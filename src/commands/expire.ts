import { checkKey, expectWords, expiryFromTtl, parseUnsigned } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'expire <key> <ttl-ms>';

export const expire = defineCommand({
  name: 'expire',
  summary: 'Set a key to expire after ttl-ms milliseconds (0 removes the expiry).',
  usage,
  mutates: true,
  seed: false,
  parse(words) {
    expectWords(words, 2, 2, usage);
    return { key: words[0], ttlMs: parseUnsigned(words[1], 'ttl-ms') };
  },
  execute({ store, clock }, request) {
    const key = checkKey(request.key);
    return { found: store.expire(key, expiryFromTtl(request.ttlMs, clock)) };
  },
  render: (reply) => (reply.found ? 'OK' : '(not found)'),
});
