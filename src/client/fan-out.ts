// Requests that span chains (docs/design.md §6), pure: how the cluster client splits them by chain
// and joins the answers, so that a sharded cluster answers them as one chain would.
//
//   * size, flush: asked of every chain, summed;
//   * getkeys, gettable: every chain's first `limit` matches, merged in key order, cut to `limit`
//     (the first `limit` keys overall are among them);
//   * scan: every chain pages from the same cursor; the merged page ends at the lowest key where
//     some chain's own page ended, so no key between is skipped, and the cursor is the last key
//     given (stateless: the next page asks every chain again after it);
//   * mget: keys split by owning chain, one request per chain, answers put back in order.
//
// None of these is atomic across chains: each chain's part is linearizable on its own
// (docs/sharding.md). mput is atomic, so it is never split: keys of several chains are refused
// (commands/keys.ts singleChainCommands).

import { create } from '@bufbuild/protobuf';
import type { ReplyOf } from '../protocol/native/codec.js';
import {
  FlushReplySchema,
  GetKeysReplySchema,
  GetTableReplySchema,
  MgetReplySchema,
  ScanReplySchema,
  SizeReplySchema,
} from '../protocol/native/gen/catena_pb.js';
import type { CommandName } from '../commands/index.js';
import { scanCountDefault, scanReplyBytesMax } from '../core/limits.js';

/** Keyless commands about the whole table: asked of every chain. */
export const everyChainCommands: ReadonlySet<CommandName> = new Set<CommandName>([
  'size',
  'flush',
  'getkeys',
  'gettable',
  'scan',
]);

/** Multi-key reads: split by the chain owning each key. */
export const splitCommands: ReadonlySet<CommandName> = new Set<CommandName>(['mget']);

/** The limit a listing request means (0 is the default). */
export const listLimit = (limit: number | undefined): number =>
  limit === undefined || limit === 0 ? scanCountDefault : limit;

/** Indices of `keys` grouped by owning chain, each group in the original order. */
export function groupByChain(keys: readonly Uint8Array[], chainOf: (key: Uint8Array) => string): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  keys.forEach((key, index) => {
    const chain = chainOf(key);
    const group = groups.get(chain);
    if (group === undefined) groups.set(chain, [index]);
    else group.push(index);
  });
  return groups;
}

export function joinSize(replies: readonly ReplyOf<'size'>[]): ReplyOf<'size'> {
  let keys = 0n;
  let bytes = 0n;
  for (const reply of replies) {
    keys += reply.keys;
    bytes += reply.bytes;
  }
  return create(SizeReplySchema, { keys, bytes });
}

export function joinFlush(replies: readonly ReplyOf<'flush'>[]): ReplyOf<'flush'> {
  return create(FlushReplySchema, { keys: replies.reduce((sum, reply) => sum + reply.keys, 0n) });
}

const byKey = (a: Uint8Array, b: Uint8Array): number => Buffer.compare(a, b);

export function joinKeys(replies: readonly ReplyOf<'getkeys'>[], limit: number): ReplyOf<'getkeys'> {
  const keys = replies.flatMap((reply) => reply.keys).sort(byKey);
  return create(GetKeysReplySchema, {
    keys: keys.slice(0, limit),
    truncated: keys.length > limit || replies.some((reply) => reply.truncated),
  });
}

export function joinTable(replies: readonly ReplyOf<'gettable'>[], limit: number): ReplyOf<'gettable'> {
  const entries = replies.flatMap((reply) => reply.entries).sort((a, b) => byKey(a.key, b.key));
  return create(GetTableReplySchema, {
    entries: entries.slice(0, limit),
    truncated: entries.length > limit || replies.some((reply) => reply.truncated),
  });
}

export function joinScan(replies: readonly ReplyOf<'scan'>[], limit: number): ReplyOf<'scan'> {
  // A chain whose page ended (non-empty cursor) may hold keys after its cursor that come before
  // other chains' later keys: the merged page stops at the lowest such cursor.
  let cutoff: Uint8Array | undefined;
  for (const reply of replies) {
    if (reply.cursor.length > 0 && (cutoff === undefined || byKey(reply.cursor, cutoff) < 0)) cutoff = reply.cursor;
  }
  const entries = replies
    .flatMap((reply) => reply.entries)
    .filter((entry) => cutoff === undefined || byKey(entry.key, cutoff) <= 0)
    .sort((a, b) => byKey(a.key, b.key));
  // One chain's page fits a reply; several merged may not: cut at the same byte budget.
  let bytes = 0;
  let end = 0;
  while (end < Math.min(limit, entries.length)) {
    bytes += entries[end]!.key.length + entries[end]!.value.length;
    if (bytes > scanReplyBytesMax && end > 0) break;
    end += 1;
  }
  const page = entries.slice(0, end);
  const full = entries.length > end;
  const cursor = full ? page[page.length - 1]!.key : (cutoff ?? new Uint8Array());
  return create(ScanReplySchema, { entries: page, cursor });
}

/** Parts' mget answers put back in the order of the keys asked. */
export function joinMget(
  keyCount: number,
  parts: readonly { indices: readonly number[]; reply: ReplyOf<'mget'> }[],
): ReplyOf<'mget'> {
  const items: ReplyOf<'mget'>['items'] = new Array(keyCount);
  for (const { indices, reply } of parts) indices.forEach((index, i) => (items[index] = reply.items[i]!));
  return create(MgetReplySchema, { items });
}
