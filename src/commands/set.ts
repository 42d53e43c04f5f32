import { CatenaError } from '../core/errors.js';
import { SetCondition } from '../protocol/native/gen/catena_pb.js';
import {
  checkKey,
  checkValue,
  expectWords,
  expiryFromAbsolute,
  expiryFromTtl,
  parseUnsigned,
  showBytes,
} from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'set <key> <value> [nx|xx|version=<n>] [ttl=<ms>|at=<ms>|keepttl] [get] [flags=<n>]';

const conditionWords: Record<string, SetCondition> = {
  nx: SetCondition.SET_IF_ABSENT,
  xx: SetCondition.SET_IF_PRESENT,
};

/** Parses `name=<unsigned>` options. */
function option(word: string, name: string): bigint | undefined {
  if (!word.startsWith(`${name}=`)) return undefined;
  return parseUnsigned(Buffer.from(word.slice(name.length + 1)), name);
}

export const set = defineCommand({
  name: 'set',
  summary:
    'Store a value with conditions: only if absent (nx), present (xx) or at a version; with an expiry, the old value back (get), or flags.',
  usage,
  mutates: true,
  seed: false,
  parse(words) {
    expectWords(words, 2, 7, usage);
    const request = {
      key: words[0],
      value: words[1],
      condition: SetCondition.SET_ALWAYS,
      expectedVersion: 0n,
      ttlMs: 0n,
      expiresAtMs: 0n,
      keepTtl: false,
      returnPrevious: false,
      flags: 0,
    };
    for (const raw of words.slice(2)) {
      const word = raw.toString('utf8').toLowerCase();
      const version = option(word, 'version');
      const ttl = option(word, 'ttl');
      const at = option(word, 'at');
      const flags = option(word, 'flags');
      if (conditionWords[word] !== undefined) request.condition = conditionWords[word];
      else if (version !== undefined) {
        request.condition = SetCondition.SET_IF_VERSION;
        request.expectedVersion = version;
      } else if (ttl !== undefined) request.ttlMs = ttl;
      else if (at !== undefined) request.expiresAtMs = at;
      else if (word === 'keepttl') request.keepTtl = true;
      else if (word === 'get') request.returnPrevious = true;
      else if (flags !== undefined && flags <= 0xffff_ffffn) request.flags = Number(flags);
      else throw new CatenaError('ERR_INVALID_ARGUMENT', `unknown option ${word}; usage: ${usage}`);
    }
    return request;
  },
  execute({ store, clock, valueBytesMax }, request) {
    const key = checkKey(request.key);
    const value = checkValue(request.value, valueBytesMax);
    const expirySources = [request.ttlMs !== 0n, request.expiresAtMs !== 0n, request.keepTtl].filter(Boolean).length;
    if (expirySources > 1) {
      throw new CatenaError('ERR_INVALID_ARGUMENT', 'give at most one of ttl_ms, expires_at_ms and keep_ttl');
    }
    // Checked before anything changes: a bad expiry must not leave a half-done write.
    let expiresAtMs =
      request.ttlMs !== 0n ? expiryFromTtl(request.ttlMs, clock) : expiryFromAbsolute(request.expiresAtMs);
    const current = store.get(key);
    const previous = {
      previousFound: request.returnPrevious && current !== undefined,
      previousValue: request.returnPrevious && current !== undefined ? Buffer.from(current.value) : undefined,
    };
    const version = BigInt(current?.version ?? 0);
    let allowed: boolean;
    switch (request.condition) {
      case SetCondition.SET_ALWAYS:
        allowed = true;
        break;
      case SetCondition.SET_IF_ABSENT:
        allowed = current === undefined;
        break;
      case SetCondition.SET_IF_PRESENT:
        allowed = current !== undefined;
        break;
      case SetCondition.SET_IF_VERSION:
        allowed = current !== undefined && version === request.expectedVersion;
        break;
      default:
        throw new CatenaError('ERR_INVALID_ARGUMENT', `unknown set condition ${String(request.condition)}`);
    }
    if (!allowed) return { stored: false, version, ...previous };
    if (request.keepTtl) expiresAtMs = current?.expiresAtMs ?? 0;
    const stored = store.put(key, value, { expiresAtMs, flags: request.flags });
    return { stored: true, version: BigInt(stored), ...previous };
  },
  conditionMet: (reply) => reply.stored,
  render: (reply) => {
    const outcome = reply.stored ? `OK (version ${reply.version})` : `(not stored: current version ${reply.version})`;
    return reply.previousFound ? `${outcome}; previous ${showBytes(reply.previousValue)}` : outcome;
  },
});
