// Where a cluster lives in the coordinator (docs/design.md §2), and the JSON documents stored there.
//
//   /catena/<cluster>/nodes/<nodeId>        ephemeral   NodeInfo
//   /catena/<cluster>/manager/lock-<seq>    ephemeral sequential: the lowest is the manager
//   /catena/<cluster>/chains/<chainId>      persistent  ChainConfig
//   /catena/<cluster>/slots                 persistent  SlotMap (sharding/slot-map.ts)
//   /catena/<cluster>/layout                persistent  Layout: chains and replicas wanted (placement.ts)
//
// Documents are JSON (readable with zkCli.sh `get`), validated when read: a document that does
// not parse is reported and ignored, never trusted.

import type { ChainConfig } from '../replication/chain-config.js';
import { parseJsonObject } from '../core/json.js';

export interface ClusterPaths {
  readonly root: string;
  readonly nodes: string;
  readonly manager: string;
  readonly chains: string;
  readonly slots: string;
  readonly layout: string;
  node(nodeId: string): string;
  chain(chainId: string): string;
}

export function clusterPaths(cluster: string): ClusterPaths {
  const root = `/catena/${cluster}`;
  return {
    root,
    nodes: `${root}/nodes`,
    manager: `${root}/manager`,
    chains: `${root}/chains`,
    slots: `${root}/slots`,
    layout: `${root}/layout`,
    node: (nodeId) => `${root}/nodes/${nodeId}`,
    chain: (chainId) => `${root}/chains/${chainId}`,
  };
}

/** What a node publishes about itself in its ephemeral znode. */
export interface NodeInfo {
  readonly nodeId: string;
  /** host:port of each listener ('' when not listening). */
  readonly native: string;
  readonly peer: string;
  readonly admin: string;
  readonly resp: string;
  readonly memcached: string;
  /** End of its log when it last published: lets the manager pick who starts a new chain. */
  readonly lastSequence: number;
  readonly lastEpoch: number;
  /** The chain whose log lastSequence/lastEpoch belong to, and whose data its store holds ('' when none). */
  readonly chainId: string;
  /** A restarted member that must be removed from its chain before it may join again (§3.8). */
  readonly awaitingRemoval: boolean;
  /** Set by a tail: this joiner holds everything the tail has, at this epoch of this chain. */
  readonly caughtUp: { readonly chainId: string; readonly joiner: string; readonly epoch: number } | undefined;
  /**
   * Set by a member: the epoch of its chain it stands at, whether it is settled there, and the
   * neighbours it suspects (docs/design.md §3.7: the manager removes a member on its judge's report).
   */
  readonly report?: ChainReport | undefined;
}

export interface ChainReport {
  readonly chainId: string;
  readonly epoch: number;
  readonly settled: boolean;
  readonly suspects: readonly string[];
  /** It stands at `epoch` as its joiner (not a member). */
  readonly joining?: boolean;
}

export const chainIdDefault = 'c0';

const encoder = new TextEncoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

const parse = parseJsonObject;

const isString = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function decodeNodeInfo(bytes: Uint8Array): NodeInfo | undefined {
  const v = parse(bytes);
  if (v === undefined) return undefined;
  const {
    nodeId,
    native,
    peer,
    admin,
    resp,
    memcached,
    lastSequence,
    lastEpoch,
    awaitingRemoval,
    caughtUp,
    chainId,
    report,
  } = v;
  if (![nodeId, native, peer, admin, resp, memcached].every(isString)) return undefined;
  if (!isCount(lastSequence) || !isCount(lastEpoch) || typeof awaitingRemoval !== 'boolean') return undefined;
  let caught: NodeInfo['caughtUp'];
  if (typeof caughtUp === 'object' && caughtUp !== null) {
    const c = caughtUp as Record<string, unknown>;
    if (isString(c.chainId) && isString(c.joiner) && isCount(c.epoch)) {
      caught = { chainId: c.chainId, joiner: c.joiner, epoch: c.epoch };
    }
  }
  return {
    nodeId: nodeId as string,
    native: native as string,
    peer: peer as string,
    admin: admin as string,
    resp: resp as string,
    memcached: memcached as string,
    lastSequence,
    lastEpoch,
    // Nodes from before sharding published no chain: their data is the one chain's.
    chainId: isString(chainId) ? chainId : lastSequence > 0 ? chainIdDefault : '',
    awaitingRemoval,
    caughtUp: caught,
    ...(decodeReport(report) === undefined ? {} : { report: decodeReport(report) }),
  };
}

function decodeReport(value: unknown): ChainReport | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { chainId, epoch, settled, suspects, joining } = value as Record<string, unknown>;
  if (!isString(chainId) || !isCount(epoch) || typeof settled !== 'boolean') return undefined;
  if (!Array.isArray(suspects) || suspects.length > 2 || !suspects.every(isString)) return undefined;
  return { chainId, epoch, settled, suspects, ...(joining === true ? { joining: true } : {}) };
}

export function encodeChainConfig(config: ChainConfig): Uint8Array {
  return encodeJson({ ...config, joining: config.joining ?? null });
}

export function decodeChainConfig(bytes: Uint8Array): ChainConfig | undefined {
  const v = parse(bytes);
  if (v === undefined) return undefined;
  const { chainId, epoch, members, joining, readsAllowedAtMs, reportRemovals, leaseWait } = v;
  if (!isString(chainId) || !isCount(epoch) || !isCount(readsAllowedAtMs)) return undefined;
  if (!Array.isArray(members) || members.length === 0 || !members.every(isString)) return undefined;
  if (new Set(members).size !== members.length) return undefined;
  if (joining !== null && (!isString(joining) || members.includes(joining))) return undefined;
  const removals =
    Array.isArray(reportRemovals) &&
    reportRemovals.length <= 64 &&
    reportRemovals.every((r) => Array.isArray(r) && r.length === 2 && isString(r[0]) && isCount(r[1]))
      ? { reportRemovals: reportRemovals as [string, number][] }
      : {};
  return {
    chainId,
    epoch,
    members,
    joining: joining ?? undefined,
    readsAllowedAtMs,
    ...removals,
    ...(leaseWait === true ? { leaseWait: true } : {}),
  };
}
