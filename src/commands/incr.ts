import { CatenaError } from '../core/errors.js';
import type { Store } from '../storage/store.js';
import { checkKey, expectWords, parseSigned } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'incr <key> [delta]';
const u64Modulus = 1n << 64n;

/**
 * memcached's reading of a value as a counter (do_add_delta and safe_strtoull on the item's data,
 * which memcached stores followed by "\r\n"): an empty value is refused ("can't delta zero byte
 * values"); otherwise leading whitespace, an optional sign, at least one decimal digit, then
 * whitespace or the end. A '-' wraps modulo 2^64 as strtoull does, and is refused when the result
 * would be negative as a signed 64-bit number.
 */
export function parseMemcachedCounter(value: Uint8Array): bigint | undefined {
  const text = Buffer.from(value.buffer, value.byteOffset, value.length).toString('latin1');
  const match = /^[ \t\n\v\f\r]*([+-]?)([0-9]*)/.exec(text)!;
  const [whole, sign, digits] = match as unknown as [string, string, string];
  if (digits === '') return undefined; // strtoull found no number (its end is its start)
  const rest = text.slice(whole.length);
  if (rest !== '' && !/^[ \t\n\v\f\r]/.test(rest)) return undefined;
  let number = BigInt(digits);
  if (number >= u64Modulus) return undefined; // ERANGE
  if (sign === '-') {
    number = (u64Modulus - number) % u64Modulus;
    if (number >= 1n << 63n) return undefined;
  }
  return number;
}

function memcachedIncr(
  store: Store,
  key: Uint8Array,
  amount: bigint,
  decrement: boolean,
): { value: bigint; found: boolean } {
  const current = store.get(key);
  if (current === undefined) return { value: 0n, found: false };
  const base = parseMemcachedCounter(current.value);
  if (base === undefined)
    throw new CatenaError('ERR_NOT_AN_INTEGER', 'cannot increment or decrement non-numeric value');
  const next = decrement ? (amount > base ? 0n : base - amount) : (base + amount) % u64Modulus;
  let text = next.toString();
  // memcached rewrites a value in place when the new number is not longer, padding with spaces.
  if (text.length < current.value.length) text = text.padEnd(current.value.length, ' ');
  store.put(key, Buffer.from(text, 'latin1'), { expiresAtMs: current.expiresAtMs, flags: current.flags });
  return { value: next >= 1n << 63n ? next - u64Modulus : next, found: true };
}

export const incr = defineCommand({
  name: 'incr',
  summary: 'Add delta (default 1, may be negative) to an integer value; a missing key counts as 0.',
  usage,
  mutates: true,
  seed: false,
  parse(words) {
    expectWords(words, 1, 2, usage);
    return { key: words[0], delta: words[1] === undefined ? 1n : parseSigned(words[1], 'delta') };
  },
  execute({ store }, request) {
    const key = checkKey(request.key);
    if (request.memcached) {
      const amount = request.delta < 0n ? request.delta + u64Modulus : request.delta;
      return memcachedIncr(store, key, amount, request.decrement);
    }
    const result = store.incr(key, request.delta);
    if (result.ok) return { value: result.value, found: true };
    throw new CatenaError(result.reason === 'overflow' ? 'ERR_OVERFLOW' : 'ERR_NOT_AN_INTEGER');
  },
  render: (reply) => (reply.found ? `(integer) ${reply.value}` : '(not found)'),
});
