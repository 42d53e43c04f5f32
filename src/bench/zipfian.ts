// Key choosers for `catena bench`: which of n records the next operation touches.
//
// * uniform: every record equally likely.
// * scrambled zipfian (YCSB's default): record popularity follows a zipfian law with constant
//   0.99 (the most popular record is chosen about 1/zeta(n) of the time, the k-th about 1/k^0.99
//   as often as that), drawn with the constant-time method of Gray et al., "Quickly generating
//   billion-record synthetic databases" (SIGMOD 1994): zeta(n) is summed once, every draw is
//   then a few floating-point operations. The rank drawn is hashed (FNV-1a 64 over its 8
//   little-endian bytes, modulo n) so the hot records are scattered over the key space instead
//   of all being user0, user1, ... (which would put them in one hash slot range and one LMDB
//   page). As in YCSB, two ranks can hash to one record, so a few records are hotter still and a
//   few are never chosen.
//
// Both are deterministic given the generator: one `next()` per draw.

import { assert } from '../core/assert.js';
import type { Prng } from '../core/prng.js';
import { zipfianRecordsMax } from '../core/limits.js';

/** A source of floats in [0, 1): a seeded `Prng` (core/prng.ts) in practice. */
export type RandomSource = Pick<Prng, 'next'>;

/** Returns a record index in [0, n). */
export type KeyChooser = () => number;

/** YCSB's zipfian constant. */
export const zipfianConstant = 0.99;

export function uniformChooser(n: number, random: RandomSource): KeyChooser {
  checkRecords(n);
  return () => Math.min(n - 1, Math.floor(random.next() * n));
}

/** Zipfian ranks (0 the most popular), not scrambled: rank r is record r. */
export function zipfianChooser(n: number, random: RandomSource, theta = zipfianConstant): KeyChooser {
  checkRecords(n);
  assert(theta > 0 && theta < 1, 'the zipfian constant is between 0 and 1');
  const zetaN = zeta(n, theta);
  const zeta2 = zeta(2, theta);
  const alpha = 1 / (1 - theta);
  const eta = (1 - Math.pow(2 / n, 1 - theta)) / (1 - zeta2 / zetaN);
  const second = 1 + Math.pow(0.5, theta);
  return () => {
    const u = random.next();
    const uz = u * zetaN;
    if (uz < 1) return 0;
    if (uz < second) return Math.min(1, n - 1);
    return Math.min(n - 1, Math.floor(n * Math.pow(eta * u - eta + 1, alpha)));
  };
}

/** Zipfian popularity, the popular records spread over [0, n) by hashing their rank. */
export function scrambledZipfianChooser(n: number, random: RandomSource): KeyChooser {
  const rank = zipfianChooser(n, random);
  return () => hashRank(rank(), n);
}

/** zeta(n, theta) = sum over i = 1..n of 1 / i^theta. O(n), computed once per chooser. */
export function zeta(n: number, theta: number): number {
  let sum = 0;
  for (let i = 1; i <= n; i++) sum += 1 / Math.pow(i, theta);
  return sum;
}

const fnvOffsetHi = 0xcbf29ce4;
const fnvOffsetLo = 0x84222325;
// The FNV 64-bit prime is 2^40 + 0x1b3: high word 0x100, low word 0x1b3.
const fnvPrimeHi = 0x100;
const fnvPrimeLo = 0x1b3;
const two32 = 2 ** 32;

/**
 * FNV-1a 64 of `rank` as 8 little-endian bytes, modulo n. Computed on two 32-bit halves (no
 * BigInt: this runs once per operation).
 */
export function hashRank(rank: number, n: number): number {
  assert(Number.isSafeInteger(rank) && rank >= 0, 'a rank is a non-negative safe integer');
  let hi = fnvOffsetHi;
  let lo = fnvOffsetLo;
  let rest = rank;
  for (let byte = 0; byte < 8; byte++) {
    lo = (lo ^ (rest % 256)) >>> 0;
    rest = Math.floor(rest / 256);
    // (hi·2^32 + lo) · (primeHi·2^32 + primeLo) mod 2^64. lo · primeLo < 2^41: exact.
    const low = lo * fnvPrimeLo;
    const carry = Math.floor(low / two32);
    hi = (carry + Math.imul(lo, fnvPrimeHi) + Math.imul(hi, fnvPrimeLo)) >>> 0;
    lo = low >>> 0;
  }
  return modulo64(hi, lo, n);
}

/** (hi·2^32 + lo) mod n for n ≤ 2^32, in steps of 2^16 so every product stays below 2^53. */
function modulo64(hi: number, lo: number, n: number): number {
  let r = hi % n;
  r = (r * 65536) % n;
  r = (r * 65536) % n;
  return (r + (lo % n)) % n;
}

function checkRecords(n: number): void {
  assert(Number.isSafeInteger(n) && n >= 1 && n <= zipfianRecordsMax, `records must be 1..${zipfianRecordsMax}`);
}
