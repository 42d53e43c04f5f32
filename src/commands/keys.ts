// The keys a request names, for routing by hash slot (docs/design.md §6): one key for most commands,
// every key for mget and mput, none for commands about the whole table (size, scan, getkeys,
// gettable, flush) or the node (stats, ping, topology, nodestatus).

import type { CommandName } from './types.js';

/** The request's keys; an empty list when it names none. */
export function requestKeys(name: CommandName, request: object): readonly Uint8Array[] {
  const fields = request as { key?: unknown; keys?: unknown; entries?: unknown };
  if (name === 'mget') return (fields.keys as Uint8Array[] | undefined) ?? [];
  if (name === 'mput') return ((fields.entries as { key: Uint8Array }[] | undefined) ?? []).map((entry) => entry.key);
  return fields.key instanceof Uint8Array ? [fields.key] : [];
}
