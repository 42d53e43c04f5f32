// Assertions that stay on in production (TigerBeetle's rule): a broken invariant means the
// process's state can no longer be trusted, so we stop it loudly rather than serve wrong data.
// Expected outcomes (a missing key, a failed compare-and-set) are return values, never asserts.

export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Marks a branch that exhaustive `switch`es make unreachable; a compile error if it is not. */
export function unreachable(value: never, what = 'value'): never {
  throw new AssertionError(`unreachable ${what}: ${JSON.stringify(value)}`);
}
