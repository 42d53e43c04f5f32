// Reading JSON documents that come from outside the process (coordinator znodes): parsed
// defensively, never trusted: anything that is not a JSON object is undefined.

const decoder = new TextDecoder();

/** The JSON object in `bytes`, or undefined when they hold no JSON object. */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
