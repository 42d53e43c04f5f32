import { checkKey, checkValue, expectWords, expiryFromTtl, parseUnsigned } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'cas <key> <expected-version> <value> [ttl-ms]';

export const cas = defineCommand({
  name: 'cas',
  summary: 'Compare-and-set: write only if the key is at expected-version (0 = must not exist).',
  usage,
  mutates: true,
  seed: false,
  parse(words) {
    expectWords(words, 3, 4, usage);
    return {
      key: words[0],
      expectedVersion: parseUnsigned(words[1], 'expected-version'),
      value: words[2],
      ttlMs: words[3] === undefined ? 0n : parseUnsigned(words[3], 'ttl-ms'),
    };
  },
  execute({ store, clock, valueBytesMax }, request) {
    const key = checkKey(request.key);
    const value = checkValue(request.value, valueBytesMax);
    const expiresAtMs = expiryFromTtl(request.ttlMs, clock);
    const result = store.cas(key, Number(request.expectedVersion), value, { expiresAtMs });
    return result.ok
      ? { swapped: true, version: BigInt(result.version) }
      : { swapped: false, version: BigInt(result.currentVersion) };
  },
  conditionMet: (reply) => reply.swapped,
  render: (reply) =>
    reply.swapped ? `OK (version ${reply.version})` : `(not swapped: current version ${reply.version})`,
});
