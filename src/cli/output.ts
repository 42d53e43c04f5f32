// Turns replies into JSON for `--json`: bytes become a UTF-8 string when they are valid UTF-8,
// else {"base64": "..."}; 64-bit integers become numbers when exact, else decimal strings.

export function toJson(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Uint8Array) {
    const buffer = Buffer.from(value.buffer, value.byteOffset, value.length);
    const text = buffer.toString('utf8');
    return Buffer.from(text, 'utf8').equals(buffer) ? text : { base64: buffer.toString('base64') };
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) if (key !== '$typeName') out[key] = toJson(field);
    return out;
  }
  return value;
}
