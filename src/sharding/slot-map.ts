// The slot map (docs/design.md §2, §6): which chain owns each of the 16384 hash slots. The manager
// writes it to `/catena/<cluster>/slots`; nodes and clients keep a copy and look a key's chain
// up in it. Pure.
//
// Stored as ranges, so the document stays small and readable with zkCli.sh `get`:
//   {"version": 3, "ranges": [[0, 5460, "c0"], [5461, 10922, "c1"], [10923, 16383, "c2"]]}
// Ranges are sorted, do not overlap and cover every slot exactly once; `version` rises by one on
// every change, so a copy can tell which of two maps is newer.

import { assert } from '../core/assert.js';
import { parseJsonObject } from '../core/json.js';
import { slotCount } from './slots.js';

/** Slots first..last (inclusive) belong to chainId. */
export type SlotRange = readonly [first: number, last: number, chainId: string];

export interface SlotMap {
  readonly version: number;
  readonly ranges: readonly SlotRange[];
  /** The slots moving between chains now (at most one move at a time), if any. */
  readonly migration?: Migration;
}

/**
 * One move of slots first..last from one chain to another (docs/sharding.md). `copy`: the
 * source has frozen them and they are being copied; the map still gives them to the source.
 * `drop`: the map gives them to the target; the source is removing its copy.
 */
export interface Migration {
  readonly first: number;
  readonly last: number;
  readonly from: string;
  readonly to: string;
  readonly stage: 'copy' | 'drop';
  /** Slots not at the chain the layout gives them when this move began, and when the rebalancing began. */
  readonly remaining: number;
  readonly planned: number;
}

/** A slot map with its slot → chain index, for lookups on the request path. */
export class SlotTable {
  /** Index into `chains` for each slot. */
  private readonly owners = new Uint16Array(slotCount);
  /** The chains that own at least one slot, in order of their first slot. */
  readonly chains: readonly string[];

  constructor(readonly map: SlotMap) {
    assert(validRanges(map.ranges), 'a slot table is built from a valid map');
    const chains: string[] = [];
    for (const [first, last, chainId] of map.ranges) {
      let index = chains.indexOf(chainId);
      if (index < 0) index = chains.push(chainId) - 1;
      this.owners.fill(index, first, last + 1);
    }
    this.chains = chains;
  }

  get version(): number {
    return this.map.version;
  }

  /** The owner of every slot, in slot order. */
  ownerList(): string[] {
    return Array.from(this.owners, (index) => this.chains[index]!);
  }

  ownerOf(slot: number): string {
    return this.chains[this.owners[slot]!]!;
  }

  /** How many slots each chain owns. */
  slotCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const [first, last, chainId] of this.map.ranges)
      counts.set(chainId, (counts.get(chainId) ?? 0) + last - first + 1);
    return counts;
  }
}

/** True when the ranges are sorted, contiguous, and cover slots 0..16383 exactly once. */
export function validRanges(ranges: readonly SlotRange[]): boolean {
  let next = 0;
  for (const [first, last, chainId] of ranges) {
    if (first !== next || last < first || last >= slotCount || chainId === '') return false;
    next = last + 1;
  }
  return next === slotCount;
}

/**
 * Slots spread evenly over `chains` in order, as Redis Cluster's `--cluster create` does: each
 * chain gets one contiguous range, the first `slotCount % n` chains one slot more.
 */
export function evenSlotMap(chains: readonly string[], version: number): SlotMap {
  assert(chains.length > 0 && chains.length <= slotCount, 'slots are spread over 1..16384 chains');
  const ranges: SlotRange[] = [];
  const base = Math.floor(slotCount / chains.length);
  const extra = slotCount % chains.length;
  let first = 0;
  chains.forEach((chainId, i) => {
    const size = base + (i < extra ? 1 : 0);
    ranges.push([first, first + size - 1, chainId]);
    first += size;
  });
  return { version, ranges: mergeRanges(ranges) };
}

/** Adjacent ranges of the same chain joined into one. */
export function mergeRanges(ranges: readonly SlotRange[]): SlotRange[] {
  const merged: SlotRange[] = [];
  for (const range of ranges) {
    const previous = merged[merged.length - 1];
    if (previous !== undefined && previous[2] === range[2] && previous[1] + 1 === range[0]) {
      merged[merged.length - 1] = [previous[0], range[1], range[2]];
    } else {
      merged.push(range);
    }
  }
  return merged;
}

const isSlot = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < slotCount;

export function encodeSlotMap(map: SlotMap): Uint8Array {
  const document = { version: map.version, ranges: map.ranges, ...(map.migration ? { migration: map.migration } : {}) };
  return new TextEncoder().encode(JSON.stringify(document));
}

function decodeMigration(value: unknown): Migration | undefined | false {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object') return false;
  const { first, last, from, to, stage, remaining, planned } = value as Record<string, unknown>;
  const count = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= slotCount;
  if (!isSlot(first) || !isSlot(last) || first > last) return false;
  if (typeof from !== 'string' || typeof to !== 'string' || from === to || from === '' || to === '') return false;
  if ((stage !== 'copy' && stage !== 'drop') || !count(remaining) || !count(planned)) return false;
  return { first, last, from, to, stage, remaining, planned };
}

/** The map in a stored document, or undefined when it is not a valid one (never trusted). */
export function decodeSlotMap(bytes: Uint8Array): SlotMap | undefined {
  const value = parseJsonObject(bytes);
  if (value === undefined) return undefined;
  const { version, ranges, migration } = value;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) return undefined;
  if (!Array.isArray(ranges)) return undefined;
  const parsed: SlotRange[] = [];
  for (const range of ranges) {
    if (!Array.isArray(range) || range.length !== 3) return undefined;
    const [first, last, chainId] = range as unknown[];
    if (!isSlot(first) || !isSlot(last) || typeof chainId !== 'string') return undefined;
    parsed.push([first, last, chainId]);
  }
  const move = decodeMigration(migration);
  if (move === false || !validRanges(parsed)) return undefined;
  return move === undefined ? { version, ranges: parsed } : { version, ranges: parsed, migration: move };
}
