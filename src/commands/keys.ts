// The keys a request names, for routing by hash slot (docs/design.md §6): one key for most commands,
// every key for mget and mput, none for commands about the whole table (size, scan, getkeys,
// gettable, flush) or the node (stats, ping, topology, nodestatus). And which multi-key requests
// must stay in one chain: a chain applies a request whole, but nothing makes two chains apply
// their parts together, so an atomic request over keys of two chains is refused (ERR_CROSSSLOT),
// by the node that receives it (server/admission.ts) and before sending by the cluster client.

import { errorKeyShownBytesMax } from '../core/limits.js';
import { keySlot } from '../sharding/slots.js';
import { showBytes } from './arguments.js';
import type { CommandName } from './types.js';

/**
 * Multi-key commands that apply whole or not at all (mput): on a sharded cluster every key must be
 * in one chain. mget is a read: the cluster client splits it by chain (client/fan-out.ts).
 */
export const singleChainCommands: ReadonlySet<CommandName> = new Set<CommandName>(['mput']);

const showKey = (key: Uint8Array): string =>
  key.length > errorKeyShownBytesMax ? `${showBytes(key.subarray(0, errorKeyShownBytesMax))}...` : showBytes(key);

/** The request's keys; an empty list when it names none. */
export function requestKeys(name: CommandName, request: object): readonly Uint8Array[] {
  const fields = request as { key?: unknown; keys?: unknown; entries?: unknown };
  if (name === 'mget') return (fields.keys as Uint8Array[] | undefined) ?? [];
  if (name === 'mput') return ((fields.entries as { key: Uint8Array }[] | undefined) ?? []).map((entry) => entry.key);
  return fields.key instanceof Uint8Array ? [fields.key] : [];
}

/**
 * Why `request` cannot run as one atomic request where `chainOf` says which chain owns a slot: two
 * of its keys in different chains (the ERR_CROSSSLOT message). Undefined when one chain owns every
 * key, or the command is not in singleChainCommands.
 */
export function crossChainKeys(
  name: CommandName,
  request: object,
  chainOf: (slot: number) => string,
): string | undefined {
  if (!singleChainCommands.has(name)) return undefined;
  const keys = requestKeys(name, request);
  const first = keys[0];
  if (first === undefined) return undefined;
  const firstSlot = keySlot(first);
  const firstChain = chainOf(firstSlot);
  for (const key of keys) {
    const slot = keySlot(key);
    const chain = chainOf(slot);
    if (chain === firstChain) continue;
    return (
      `${name} is atomic only within one chain: ${showKey(first)} (slot ${firstSlot}) is in chain ` +
      `${firstChain}, ${showKey(key)} (slot ${slot}) in chain ${chain}; give the keys one hash tag ` +
      `("{user}:a", "{user}:b" share a slot) or write them with separate requests`
    );
  }
  return undefined;
}
