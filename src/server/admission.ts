// What a node of a cluster refuses before a request reaches its replica (docs/design.md §6,
// docs/sharding.md): an atomic request over keys of several chains (ERR_CROSSSLOT), a key of a
// slot its chain does not own (ERR_MOVED), a slot frozen for a move (ERR_SLOT_MOVING), a flush
// while slots are frozen, and the manager's slot commands where they are not safe. Pure: it reads the node's own copy of the slot map (late, possibly stale)
// and the replica's frozen slots, and decides. The node (node.ts) and the deterministic
// simulator (src/testing/sim/) both call it, so the simulator checks the node's own rules.

import { errorResult } from '../commands/execute.js';
import { commandByName, slotCommands, type CommandName } from '../commands/index.js';
import { crossChainKeys, requestKeys } from '../commands/keys.js';
import type { ResponseResult } from '../protocol/native/codec.js';
import type { SlotTable } from '../sharding/slot-map.js';
import { keySlot, slotCount } from '../sharding/slots.js';

/** What admission reads of the node: its slot map and chain, and its replica's frozen slots. */
export interface AdmissionView {
  /** The node's copy of the slot map; undefined before the manager wrote one. */
  readonly slots: SlotTable | undefined;
  /** The chain the node is placed in; undefined before it is. */
  readonly chainId: string | undefined;
  readonly replica: FrozenSlots;
}

/** The replica's frozen slots and hand-over fences (server/replica/slot-mover.ts). */
export interface FrozenSlots {
  isFrozen(slot: number): boolean;
  /** True when the slot was handed to another chain by a slot map newer than `mapVersion`, and dropped here. */
  handedOverSince(slot: number, mapVersion: number): boolean;
  anyFrozen(): boolean;
}

/** Deliberate faults, for the simulator's broken variants only (a node never sets any). */
export interface AdmissionFaults {
  /** A source serves reads of slots it has frozen (its copy is final) until it drops them, whatever its map says. */
  readonly frozenReadsServed?: boolean;
  /** A drop is admitted while the node's map still gives the slots to its chain (before the hand-over). */
  readonly dropBeforeHandOver?: boolean;
  /** A node whose slot map is older than a dropped slot's hand-over serves the slot as its own. */
  readonly droppedSlotsUnfenced?: boolean;
}

/** Why the request must not run here (the error to answer), or undefined when it may. */
export function admissionRefusal(
  view: AdmissionView,
  name: CommandName,
  request: object,
  faults: AdmissionFaults = {},
): ResponseResult | undefined {
  return slotCommands.has(name)
    ? slotCommandRefused(view, name, request, faults)
    : keysRefused(view, name, request, faults);
}

/** Why a keyed request must not run here (keys of several chains, a slot of another chain, or one moving now), if so. */
export function keysRefused(
  view: AdmissionView,
  name: CommandName,
  request: object,
  faults: AdmissionFaults = {},
): ResponseResult | undefined {
  if (faults.frozenReadsServed === true && servesFrozenRead(view, name, request)) return undefined;
  // Before ERR_MOVED: no chain can take the whole request, so a redirect would not help.
  const { slots } = view;
  const split = slots === undefined ? undefined : crossChainKeys(name, request, (slot) => slots.ownerOf(slot));
  if (split !== undefined) return errorResult('ERR_CROSSSLOT', split);
  if (faults.droppedSlotsUnfenced !== true) {
    const fenced = handedOverAfterMap(view, name, request);
    if (fenced !== undefined) return errorResult('ERR_SLOT_MOVING', fenced);
  }
  const moved = notOwned(view, name, request);
  if (moved !== undefined) return errorResult('ERR_MOVED', moved);
  return frozenRefusal(view.replica, name, request);
}

/**
 * Why a request touching a slot frozen here must not run (a flush: any frozen slot), if so.
 * Checked at admission, and again where a logged write is applied (replica/applier.ts): the head
 * admits a write before the freeze ahead of it in the log is applied (entries are applied once
 * committed), so the log order decides, the same way on every replica.
 */
export function frozenRefusal(
  frozen: Pick<FrozenSlots, 'isFrozen' | 'anyFrozen'>,
  name: CommandName,
  request: object,
): ResponseResult | undefined {
  for (const key of requestKeys(name, request)) {
    const slot = keySlot(key);
    if (frozen.isFrozen(slot)) return errorResult('ERR_SLOT_MOVING', `slot ${slot} is moving to another chain`);
  }
  // A flush while slots are frozen would empty them halfway through their copy.
  if (name === 'flush' && frozen.anyFrozen()) {
    return errorResult('ERR_SLOT_MOVING', 'slots of this chain are moving: flush after the move');
  }
  return undefined;
}

/** faults.frozenReadsServed: a read whose keys are all in slots frozen here. */
function servesFrozenRead(view: AdmissionView, name: CommandName, request: object): boolean {
  if (commandByName(name).mutates) return false;
  const keys = requestKeys(name, request);
  return keys.length > 0 && keys.every((key) => view.replica.isFrozen(keySlot(key)));
}

/**
 * The manager's slot commands are admitted only where they are safe: a chain freezes only
 * slots it owns, and imports or drops only slots it does not own (a drop before the new owner
 * took over would lose them). Checked against this node's slot map; the manager retries.
 */
export function slotCommandRefused(
  view: AdmissionView,
  name: CommandName,
  request: object,
  faults: AdmissionFaults = {},
): ResponseResult | undefined {
  const { first, last } = request as { first: number; last: number };
  const { slots, chainId } = view;
  if (slots === undefined || chainId === undefined) return errorResult('ERR_UNAVAILABLE', 'no slot map yet');
  if (!(first <= last && last < slotCount)) return undefined; // the command itself says what is wrong
  let owned = 0;
  for (let slot = first; slot <= last; slot++) if (slots.ownerOf(slot) === chainId) owned += 1;
  const range = `slots ${first}..${last}`;
  if (name === 'slotfreeze' || name === 'slotimport') {
    // Only for the move the slot map records now: a late copy of an old request is refused.
    const mapVersion = Number((request as { mapVersion: bigint }).mapVersion);
    if (slots.version < mapVersion) {
      return errorResult(
        'ERR_SLOT_MOVING',
        `this node's slot map (version ${slots.version}) is older than ${mapVersion}`,
      );
    }
    const move = slots.map.migration;
    const mine = name === 'slotfreeze' ? move?.from : move?.to;
    if (
      slots.version > mapVersion ||
      move?.stage !== 'copy' ||
      move.first !== first ||
      move.last !== last ||
      mine !== chainId
    ) {
      return errorResult(
        'ERR_INVALID_ARGUMENT',
        `stale ${name}: the slot map (version ${slots.version}) records no such move`,
      );
    }
  }
  if (name === 'slotfreeze' && owned !== last - first + 1) {
    return errorResult(
      'ERR_MOVED',
      `${range} are not all owned by chain ${chainId} (slot map version ${slots.version})`,
    );
  }
  const early = name === 'slotdrop' && faults.dropBeforeHandOver === true;
  if ((name === 'slotimport' || name === 'slotdrop') && owned > 0 && !early) {
    return errorResult(
      'ERR_SLOT_MOVING',
      `chain ${chainId} owns ${range} in slot map version ${slots.version}: not yet handed over`,
    );
  }
  return undefined;
}

/**
 * A key of a slot this chain gave up and dropped, by a slot map newer than this node's (its watch
 * is late): by its own map the node still owns the slot, and would serve it as empty, or take
 * writes for it that the new owner never sees (docs/sharding.md, "drop"). The client retries.
 */
function handedOverAfterMap(view: AdmissionView, name: CommandName, request: object): string | undefined {
  const mapVersion = view.slots?.version ?? 0;
  for (const key of requestKeys(name, request)) {
    const slot = keySlot(key);
    if (view.replica.handedOverSince(slot, mapVersion)) {
      return `slot ${slot} was handed to another chain after this node's slot map (version ${mapVersion})`;
    }
  }
  return undefined;
}

/**
 * Why this node's chain must not serve a request for these keys (a slot it does not own), or
 * undefined when it may. Before the manager has written a slot map, one chain owns everything.
 */
function notOwned(view: AdmissionView, name: CommandName, request: object): string | undefined {
  const { slots, chainId } = view;
  if (slots === undefined || chainId === undefined) return undefined;
  for (const key of requestKeys(name, request)) {
    const slot = keySlot(key);
    const owner = slots.ownerOf(slot);
    if (owner !== chainId) {
      return `slot ${slot} belongs to chain ${owner}, not ${chainId} (slot map version ${slots.version})`;
    }
  }
  return undefined;
}
