// "Did you mean": the known words nearest to a mistyped one, by edit distance (insertions,
// deletions, substitutions and swaps of two neighbours, one each: "stauts" is one edit from
// "status"), when near enough to be a typo rather than another word. Used for unknown commands,
// shell commands and config file keys.

import { cliSuggestDistanceMax } from '../core/limits.js';

/** Edits that turn `a` into `b` (optimal string alignment: Levenshtein plus adjacent swaps). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/**
 * The candidates nearest to `word` (case ignored), in their order, or none when none is within
 * cliSuggestDistanceMax edits and a third of the word's length (so "ab" suggests nothing).
 */
export function nearestAll(word: string, candidates: readonly string[]): string[] {
  const lower = word.toLowerCase();
  const allowed = Math.min(cliSuggestDistanceMax, Math.max(1, Math.floor(lower.length / 3)));
  const scored = candidates.map((candidate) => ({ candidate, distance: editDistance(lower, candidate) }));
  const best = Math.min(...scored.map((s) => s.distance));
  if (best > allowed) return [];
  return scored.filter((s) => s.distance === best).map((s) => s.candidate);
}

/** The nearest candidate (the first of a tie), or undefined. */
export const nearest = (word: string, candidates: readonly string[]): string | undefined =>
  nearestAll(word, candidates)[0];

/** `"a"`, `"a" or "b"`, `"a", "b" or "c"`: for a "did you mean" line. */
export function orList(words: readonly string[]): string {
  const quoted = words.map((word) => `"${word}"`);
  return quoted.length <= 1 ? (quoted[0] ?? '') : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
}
