// Shared argument checks and word parsing for the command files. Every check throws a
// CatenaError with a stable code, so each protocol can map it into its own error form.

import type { Clock } from '../core/clock.js';
import { CatenaError } from '../core/errors.js';
import {
  keyBytesMax,
  multiKeysMax,
  scanCountDefault,
  scanCountMax,
  scanExamineMax,
  scanReplyBytesMax,
  ttlMsMax,
} from '../core/limits.js';
import type { ScanEntry, Store, StoredValue } from '../storage/store.js';

export function checkKey(key: Uint8Array): Uint8Array {
  if (key.length === 0) throw new CatenaError('ERR_KEY_EMPTY');
  if (key.length > keyBytesMax) {
    throw new CatenaError('ERR_KEY_TOO_LARGE', `key is ${key.length} bytes; the limit is ${keyBytesMax}`);
  }
  return key;
}

export function checkValue(value: Uint8Array, valueBytesMax: number): Uint8Array {
  if (value.length > valueBytesMax) {
    throw new CatenaError('ERR_VALUE_TOO_LARGE', `value is ${value.length} bytes; the limit is ${valueBytesMax}`);
  }
  return value;
}

/** Converts a TTL to an absolute expiry (0 stays "never"). */
export function expiryFromTtl(ttlMs: bigint, clock: Clock): number {
  if (ttlMs === 0n) return 0;
  if (ttlMs < 0n || ttlMs > BigInt(ttlMsMax)) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `ttl must be between 0 and ${ttlMsMax} ms`);
  }
  return clock.nowMs() + Number(ttlMs);
}

/** An absolute expiry in ms since the epoch, as given (0 stays "never"; a past time is allowed). */
export function expiryFromAbsolute(expiresAtMs: bigint): number {
  if (expiresAtMs > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `expiry must be at most ${Number.MAX_SAFE_INTEGER} ms`);
  }
  return Number(expiresAtMs);
}

/** Checks a list of keys for a multi-key command: 1 to multiKeysMax, each a valid key. */
export function checkKeys(keys: readonly Uint8Array[]): readonly Uint8Array[] {
  if (keys.length === 0) throw new CatenaError('ERR_INVALID_ARGUMENT', 'give at least one key');
  if (keys.length > multiKeysMax) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `at most ${multiKeysMax} keys in one request`);
  }
  for (const key of keys) checkKey(key);
  return keys;
}

/** Remaining TTL of a record in ms; 0 when it does not expire. Never 0 for a live expiring key. */
export function remainingTtlMs(record: StoredValue, clock: Clock): bigint {
  if (record.expiresAtMs === 0) return 0n;
  return BigInt(Math.max(1, record.expiresAtMs - clock.nowMs()));
}

export function checkLimit(limit: number): number {
  if (limit === 0) return scanCountDefault;
  if (limit > scanCountMax) throw new CatenaError('ERR_INVALID_ARGUMENT', `limit must be at most ${scanCountMax}`);
  return limit;
}

/** Checks the number of words against a usage line; throws with the usage on a mismatch. */
export function expectWords(words: readonly Buffer[], min: number, max: number, usage: string): void {
  if (words.length < min || words.length > max) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `wrong number of arguments; usage: ${usage}`);
  }
}

export function parseUnsigned(word: Buffer | undefined, what: string): bigint {
  const text = word?.toString('utf8') ?? '';
  if (!/^[0-9]{1,19}$/.test(text))
    throw new CatenaError('ERR_INVALID_ARGUMENT', `${what} must be a non-negative integer`);
  return BigInt(text);
}

export function parseSigned(word: Buffer | undefined, what: string): bigint {
  const text = word?.toString('utf8') ?? '';
  if (!/^-?[0-9]{1,19}$/.test(text)) throw new CatenaError('ERR_INVALID_ARGUMENT', `${what} must be an integer`);
  const value = BigInt(text);
  if (value > 2n ** 63n - 1n || value < -(2n ** 63n))
    throw new CatenaError('ERR_INVALID_ARGUMENT', `${what} is out of range`);
  return value;
}

export function parseCount(word: Buffer | undefined): number {
  if (word === undefined) return 0;
  const count = parseUnsigned(word, 'limit');
  if (count > BigInt(scanCountMax))
    throw new CatenaError('ERR_INVALID_ARGUMENT', `limit must be at most ${scanCountMax}`);
  return Number(count);
}

/**
 * Up to `limit` live entries with the prefix, in key order, for a one-reply listing (getkeys,
 * gettable). `truncated` says more may exist: more entries than the limit, or the reply's byte
 * budget or the work budget (expired keys stepped over) ran out first.
 */
export function scanUpTo(
  store: Store,
  prefix: Uint8Array | undefined,
  limit: number,
): { entries: ScanEntry[]; truncated: boolean } {
  const page = store.scan({ prefix, limit: limit + 1, bytesMax: scanReplyBytesMax, examineMax: scanExamineMax });
  return { entries: page.entries.slice(0, limit), truncated: page.entries.length > limit || page.cursor !== undefined };
}

/** Shows bytes to people: printable UTF-8 as a quoted string, anything else with escapes. */
export function showBytes(value: Uint8Array): string {
  const text = Buffer.from(value).toString('utf8');
  const roundTrips = Buffer.from(text, 'utf8').equals(Buffer.from(value));
  let out = '"';
  if (roundTrips) {
    for (const ch of text) {
      const code = ch.codePointAt(0)!;
      if (ch === '"' || ch === '\\') out += `\\${ch}`;
      else if (ch === '\n') out += '\\n';
      else if (ch === '\r') out += '\\r';
      else if (ch === '\t') out += '\\t';
      else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
      else out += ch;
    }
  } else {
    for (const byte of value) {
      if (byte === 0x22 || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
      else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
      else out += `\\x${byte.toString(16).padStart(2, '0')}`;
    }
  }
  return `${out}"`;
}
