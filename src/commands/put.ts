import { checkKey, checkValue, expectWords, expiryFromTtl, parseUnsigned } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'put <key> <value> [ttl-ms]';

export const put = defineCommand({
  name: 'put',
  summary: 'Store a value under a key, optionally expiring after ttl-ms milliseconds.',
  usage,
  mutates: true,
  seed: true,
  parse(words) {
    expectWords(words, 2, 3, usage);
    return { key: words[0], value: words[1], ttlMs: words[2] === undefined ? 0n : parseUnsigned(words[2], 'ttl-ms') };
  },
  execute({ store, clock, valueBytesMax }, request) {
    const key = checkKey(request.key);
    const value = checkValue(request.value, valueBytesMax);
    const version = store.put(key, value, { expiresAtMs: expiryFromTtl(request.ttlMs, clock) });
    return { version: BigInt(version) };
  },
  render: (reply) => `OK (version ${reply.version})`,
});
