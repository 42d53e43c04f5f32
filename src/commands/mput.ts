import { CatenaError } from '../core/errors.js';
import { multiKeysMax } from '../core/limits.js';
import { checkKeys, checkValue } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'mput <key> <value> [key value ...]';

export const mput = defineCommand({
  name: 'mput',
  // "atomically" holds on a sharded cluster too: keys of several chains are refused (commands/keys.ts).
  summary:
    `Store several values at once, atomically (at most ${multiKeysMax}); each key loses its expiry. ` +
    'On a sharded cluster keys of several chains get ERR_CROSSSLOT (a hash tag, {u}:a {u}:b, keeps keys together).',
  usage,
  mutates: true,
  seed: false,
  parse(words) {
    if (words.length === 0 || words.length % 2 !== 0 || words.length > 2 * multiKeysMax) {
      throw new CatenaError('ERR_INVALID_ARGUMENT', `wrong number of arguments; usage: ${usage}`);
    }
    const entries = [];
    for (let i = 0; i < words.length; i += 2) entries.push({ key: words[i], value: words[i + 1] });
    return { entries };
  },
  execute({ store, valueBytesMax }, request) {
    // Every argument is checked before the first write: the request applies whole or not at all.
    checkKeys(request.entries.map((entry) => entry.key));
    let total = 0;
    for (const entry of request.entries) total += checkValue(entry.value, valueBytesMax).length;
    if (total > valueBytesMax) {
      throw new CatenaError('ERR_VALUE_TOO_LARGE', `values add up to ${total} bytes; the limit is ${valueBytesMax}`);
    }
    let version = 0;
    for (const entry of request.entries) version = store.put(entry.key, entry.value);
    return { version: BigInt(version) };
  },
  render: (reply) => `OK (version ${reply.version})`,
});
