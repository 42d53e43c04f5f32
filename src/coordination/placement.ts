// Placement, pure: which chains a cluster should have and which chain each spare node should
// join (docs/design.md §1, §6). The manager's driver asks it before asking `decide` (manager.ts) about
// each chain: placement says which nodes are a chain's candidates, `decide` lets them join one
// at a time through the tail (§3.8).
//
// The layout (`/catena/<cluster>/layout`, written by `catena up` or an operator) asks for
// `chains` chains of `replicas` nodes each; no layout means one chain holding every node (a
// cluster started node by node). Chains are named c0, c1, ... Rules:
//   * a node belongs to at most one chain (member or joining); a node in none is spare;
//   * a missing chain is started with one spare node, preferring one whose store last held that
//     chain (a cluster whose coordinator state was lost restarts from its own data), and never
//     taking a node that holds the data of another missing chain while that chain needs it;
//   * a spare node joins the chain whose data it last held if that chain has room, else the
//     chain with the fewest nodes that has room (ties: the lower id); `replicas` 0 means no limit;
//   * extra nodes stay spare (standbys): they join when a chain loses a member.

import { parseJsonObject } from '../core/json.js';
import { layoutChainsMax, layoutReplicasMax } from '../core/limits.js';

export interface Layout {
  /** Chains wanted. */
  readonly chains: number;
  /** Nodes per chain wanted; 0: no limit (every node joins a chain). */
  readonly replicas: number;
  /** Add a chain whenever `replicas` spare nodes are there (nodes added to the cluster grow it). */
  readonly auto?: boolean;
  /** Chains removed by name (`catena chain remove c1`): their ids are skipped, never reused. */
  readonly retired?: readonly string[];
}

/** No layout document: one chain, every node in it (a cluster started node by node). */
export const layoutDefault: Layout = { chains: 1, replicas: 0 };

export interface PlacedChain {
  readonly chainId: string;
  readonly members: readonly string[];
  readonly joining: string | undefined;
}

export interface PlacementNode {
  readonly nodeId: string;
  /** Its session is live and it is not waiting to be removed from a chain. */
  readonly live: boolean;
  /** The chain whose data its store holds ('' when none). */
  readonly lastChain: string;
  readonly lastSequence: number;
  readonly lastEpoch: number;
}

export const chainName = (index: number): string => `c${index}`;

/** The chains a layout asks for, in order. */
export function wantedChains(layout: Layout): string[] {
  const retired = new Set(layout.retired ?? []);
  const wanted: string[] = [];
  for (let i = 0; wanted.length < layout.chains; i++) if (!retired.has(chainName(i))) wanted.push(chainName(i));
  return wanted;
}

/** Nodes that are a member or the joiner of some chain. */
function placedNodes(chains: readonly PlacedChain[]): Set<string> {
  const placed = new Set<string>();
  for (const chain of chains) {
    for (const member of chain.members) placed.add(member);
    if (chain.joining !== undefined) placed.add(chain.joining);
  }
  return placed;
}

/** Live nodes in no chain, most complete log first (then by id, so the order is stable). */
export function spareNodes(chains: readonly PlacedChain[], nodes: readonly PlacementNode[]): PlacementNode[] {
  const placed = placedNodes(chains);
  return nodes
    .filter((node) => node.live && !placed.has(node.nodeId))
    .sort((a, b) => b.lastEpoch - a.lastEpoch || b.lastSequence - a.lastSequence || a.nodeId.localeCompare(b.nodeId));
}

/** The next chain to start and its first member, or undefined when none is missing or no node is free. */
export function chainToStart(
  layout: Layout,
  chains: readonly PlacedChain[],
  nodes: readonly PlacementNode[],
): { chainId: string; first: string } | undefined {
  const existing = new Set(chains.map((chain) => chain.chainId));
  const missing = wantedChains(layout).filter((id) => !existing.has(id));
  if (missing.length === 0) return undefined;
  const spare = spareNodes(chains, nodes);
  // A missing chain whose data a spare node holds starts from that node (the most complete one).
  for (const chainId of missing) {
    const own = spare.find((node) => node.lastChain === chainId);
    if (own !== undefined) return { chainId, first: own.nodeId };
  }
  // Otherwise from a node holding no chain's data (its store is discarded on joining), or else
  // one holding the data of a chain that has other members (a missing chain's holder was taken above).
  const placedChains = new Set(chains.map((chain) => chain.chainId));
  const free = spare.find((node) => !placedChains.has(node.lastChain)) ?? spare[0];
  if (free === undefined) return undefined;
  return { chainId: missing[0]!, first: free.nodeId };
}

/**
 * Each existing chain's candidates: the spare nodes that should join it, in the order they
 * should. Only chains with room get candidates; a chain's size counts its members, its joiner
 * and the candidates already given to it.
 */
export function candidatesByChain(
  layout: Layout,
  chains: readonly PlacedChain[],
  nodes: readonly PlacementNode[],
): Map<string, string[]> {
  const sizes = new Map(chains.map((chain) => [chain.chainId, chain.members.length + (chain.joining ? 1 : 0)]));
  const result = new Map<string, string[]>(chains.map((chain) => [chain.chainId, []]));
  const hasRoom = (chainId: string) => layout.replicas === 0 || sizes.get(chainId)! < layout.replicas;
  const spare = spareNodes(chains, nodes);
  const place = (node: PlacementNode, chainId: string) => {
    sizes.set(chainId, sizes.get(chainId)! + 1);
    result.get(chainId)!.push(node.nodeId);
  };
  // Nodes returning to the chain they held first (they catch up by delta instead of a snapshot),
  // before any node takes a seat elsewhere.
  const others: PlacementNode[] = [];
  for (const node of spare) {
    if (sizes.has(node.lastChain) && hasRoom(node.lastChain)) place(node, node.lastChain);
    else others.push(node);
  }
  for (const node of others) {
    let target: string | undefined;
    for (const chain of chains) {
      if (!hasRoom(chain.chainId)) continue;
      if (target === undefined || sizes.get(chain.chainId)! < sizes.get(target)!) target = chain.chainId;
    }
    if (target === undefined) break; // every chain is full: the rest are standbys
    place(node, target);
  }
  return result;
}

/**
 * With `auto`, the layout with one chain more when enough nodes are spare to fill it (and no
 * chain is still missing or short of nodes), else undefined.
 */
export function grownLayout(
  layout: Layout,
  chains: readonly PlacedChain[],
  nodes: readonly PlacementNode[],
): Layout | undefined {
  if (layout.auto !== true || layout.replicas === 0 || layout.chains >= layoutChainsMax) return undefined;
  if (chains.length < layout.chains) return undefined;
  if (chains.some((chain) => chain.members.length + (chain.joining ? 1 : 0) < layout.replicas)) return undefined;
  if (spareNodes(chains, nodes).length < layout.replicas) return undefined;
  return { ...layout, chains: layout.chains + 1 };
}

export function encodeLayout(layout: Layout): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(layout));
}

/** The layout in a stored document, or undefined when it is not a valid one. */
export function decodeLayout(bytes: Uint8Array): Layout | undefined {
  const value = parseJsonObject(bytes);
  if (value === undefined) return undefined;
  const { chains, replicas } = value;
  const count = (v: unknown, min: number, max: number): v is number =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
  if (!count(chains, 1, layoutChainsMax) || !count(replicas, 0, layoutReplicasMax)) return undefined;
  const { auto, retired } = value;
  if (auto !== undefined && typeof auto !== 'boolean') return undefined;
  const names = (v: unknown): v is string[] =>
    Array.isArray(v) && v.length <= layoutChainsMax && v.every((id) => typeof id === 'string' && /^c\d+$/.test(id));
  if (retired !== undefined && !names(retired)) return undefined;
  return {
    chains,
    replicas,
    ...(auto === true ? { auto } : {}),
    ...(retired !== undefined && retired.length > 0 ? { retired } : {}),
  };
}
