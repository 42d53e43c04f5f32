// Redis's glob-style patterns (util.c stringmatchlen), over bytes: `*` any run, `?` any one byte,
// `[abc]`, `[^abc]`, `[a-z]` classes, and `\x` for a literal x. Used by KEYS and SCAN MATCH.
// Pure; no allocation per byte. Worst-case time is bounded by patterns' star count × key length
// per star (a backtracking matcher that resumes at the last star only, so no exponential blowup).

const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;
const BACKSLASH = 0x5c;

/** Where the class starting at `p` (just after '[') ends, and whether `byte` is in it. */
function matchClass(pattern: Uint8Array, p: number, byte: number): { end: number; matched: boolean } {
  let negate = false;
  if (pattern[p] === CARET) {
    negate = true;
    p += 1;
  }
  let matched = false;
  for (;;) {
    if (p >= pattern.length) {
      // An unterminated class: Redis treats the rest as the class (p ends on the last byte).
      p = pattern.length - 1;
      break;
    }
    const c = pattern[p]!;
    if (c === CLOSE) break;
    if (c === BACKSLASH && p + 1 < pattern.length) {
      p += 1;
      if (pattern[p] === byte) matched = true;
    } else if (p + 2 < pattern.length && pattern[p + 1] === DASH) {
      let start = c;
      let end = pattern[p + 2]!;
      if (start > end) [start, end] = [end, start];
      if (byte >= start && byte <= end) matched = true;
      p += 2;
    } else if (c === byte) {
      matched = true;
    }
    p += 1;
  }
  return { end: p, matched: negate ? !matched : matched };
}

/** True when `key` matches the glob `pattern` (case-sensitive, as KEYS and SCAN use it). */
export function globMatch(pattern: Uint8Array, key: Uint8Array): boolean {
  let p = 0;
  let k = 0;
  let starP = -1;
  let starK = 0;
  while (k < key.length) {
    if (p < pattern.length) {
      const c = pattern[p]!;
      if (c === STAR) {
        while (p < pattern.length && pattern[p] === STAR) p += 1;
        if (p === pattern.length) return true;
        starP = p;
        starK = k;
        continue;
      }
      if (c === QUESTION) {
        p += 1;
        k += 1;
        continue;
      }
      if (c === OPEN) {
        const { end, matched } = matchClass(pattern, p + 1, key[k]!);
        if (matched) {
          p = end + 1;
          k += 1;
          continue;
        }
      } else if (c === BACKSLASH && p + 1 < pattern.length) {
        if (pattern[p + 1] === key[k]) {
          p += 2;
          k += 1;
          continue;
        }
      } else if (c === key[k]) {
        p += 1;
        k += 1;
        continue;
      }
    }
    if (starP < 0) return false;
    starK += 1;
    k = starK;
    p = starP;
  }
  while (p < pattern.length && pattern[p] === STAR) p += 1;
  return p === pattern.length;
}

/** The literal bytes every match must start with (before the first special character). */
export function literalPrefix(pattern: Uint8Array): Buffer {
  let end = 0;
  while (end < pattern.length) {
    const c = pattern[end]!;
    if (c === STAR || c === QUESTION || c === OPEN || c === BACKSLASH) break;
    end += 1;
  }
  return Buffer.from(pattern.subarray(0, end));
}
