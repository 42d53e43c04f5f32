import { CatenaError } from '../core/errors.js';
import { checkKey, expectWords, expiryFromAbsolute, expiryFromTtl, parseUnsigned } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'expire <key> <ttl-ms> | expire <key> at=<unix-ms>';

export const expire = defineCommand({
  name: 'expire',
  summary: 'Set a key to expire after ttl-ms milliseconds or at a time (ttl 0 removes the expiry).',
  usage,
  mutates: true,
  seed: false,
  parse(words) {
    expectWords(words, 2, 2, usage);
    const word = words[1]!.toString('utf8').toLowerCase();
    if (word.startsWith('at=')) {
      return { key: words[0], expiresAtMs: parseUnsigned(Buffer.from(word.slice(3)), 'at') };
    }
    return { key: words[0], ttlMs: parseUnsigned(words[1], 'ttl-ms') };
  },
  execute({ store, clock }, request) {
    const key = checkKey(request.key);
    if (request.ttlMs !== 0n && request.expiresAtMs !== 0n) {
      throw new CatenaError('ERR_INVALID_ARGUMENT', 'give ttl_ms or expires_at_ms, not both');
    }
    const expiresAtMs =
      request.expiresAtMs !== 0n ? expiryFromAbsolute(request.expiresAtMs) : expiryFromTtl(request.ttlMs, clock);
    const current = store.get(key);
    if (current === undefined) return { found: false };
    const value = request.returnValue ? Buffer.from(current.value) : undefined;
    // As store.expire, but the new version is needed (a gats reply's cas unique).
    const version = store.put(key, current.value, { expiresAtMs, flags: current.flags });
    return {
      found: true,
      hadTtl: current.expiresAtMs !== 0,
      ...(value === undefined ? {} : { value, flags: current.flags, version: BigInt(version) }),
    };
  },
  render: (reply) => (reply.found ? 'OK' : '(not found)'),
});
