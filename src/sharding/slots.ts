// Hash slots (docs/design.md §6): 16384 slots, `slot = CRC16(key) mod 16384`, with Redis Cluster's
// `{hashtag}` rule, so a key maps to the same slot in Catena as in Redis Cluster and keys that
// share a tag (`{user:1}.name`, `{user:1}.email`) share a slot. Pure.
//
// CRC16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0, no reflection), the variant Redis
// Cluster specifies; CRC16("123456789") = 0x31C3.
//
// Hashtag rule (Redis Cluster specification): if the key contains a `{`, and a `}` follows it,
// and at least one byte lies between them, only the bytes between the first `{` and the first
// `}` after it are hashed. Otherwise the whole key is.

export const slotCount = 16384;

const table = ((): Uint16Array => {
  const t = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    t[byte] = crc;
  }
  return t;
})();

/** CRC-16/XMODEM of bytes [start, end). */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ table[((crc >>> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

const openBrace = 0x7b;
const closeBrace = 0x7d;

/** The slot of a key, as Redis Cluster computes it (CLUSTER KEYSLOT). */
export function keySlot(key: Uint8Array): number {
  const open = key.indexOf(openBrace);
  if (open >= 0) {
    const close = key.indexOf(closeBrace, open + 1);
    if (close > open + 1) return crc16(key, open + 1, close) & (slotCount - 1);
  }
  return crc16(key) & (slotCount - 1);
}
