// Recovery never goes backwards (docs/operations.md, "Lost coordinator state").
//
// Epochs only rise: every entry a node logs carries the epoch of a configuration the coordinator
// held, so no node's log can be above its chain's configuration. A coordinator whose state was
// lost (the embedded coordinator's coordinator.json deleted, a ZooKeeper emptied) breaks that: the
// manager would start the chain again at epoch 1, below the nodes' logs, and every head would
// crash on its first write. So a node whose log holds entries refuses to join when the
// coordinator holds no chain at all, or holds its chain at an epoch below its log. Before it
// stops it records where its log ends, in a persistent znode:
//
//   /catena/<cluster>/recovery/<nodeId>   RecoveryRecord (JSON)
//
// and `catena chain rebuild` makes the configuration again from those records: each chain at one
// epoch above the highest any of its nodes logged, with the node whose log is furthest (highest
// epoch, then sequence: it holds every committed entry) as its sole member. The chain resumes
// from it (a sole member resumes after a restart), and the manager brings the others back as
// joiners. The decisions are pure functions here; the node (membership.ts) and the command
// (cli/chain-command.ts) do the coordinator I/O.

import { CatenaError } from '../core/errors.js';
import { parseJsonObject } from '../core/json.js';
import type { ChainConfig } from '../replication/chain-config.js';
import { chainIdDefault, decodeChainConfig, encodeJson, type ClusterPaths } from './cluster-paths.js';
import { anyVersion, CoordinatorError, type Coordinator } from './coordinator.js';

/** Where a node's log ends, as it refused to join. */
export interface RecoveryRecord {
  readonly nodeId: string;
  readonly chainId: string;
  readonly lastEpoch: number;
  readonly lastSequence: number;
  /** Where the node ran, for the operator's table (hostname:data directory). */
  readonly where: string;
  readonly atMs: number;
}

export function recoveryRoot(paths: ClusterPaths): string {
  return `${paths.root}/recovery`;
}

export function encodeRecoveryRecord(record: RecoveryRecord): Uint8Array {
  return encodeJson(record);
}

export function decodeRecoveryRecord(bytes: Uint8Array): RecoveryRecord | undefined {
  const v = parseJsonObject(bytes);
  if (v === undefined) return undefined;
  const { nodeId, chainId, lastEpoch, lastSequence, where, atMs } = v;
  const count = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (typeof nodeId !== 'string' || typeof chainId !== 'string' || typeof where !== 'string') return undefined;
  if (!count(lastEpoch) || !count(lastSequence) || !count(atMs)) return undefined;
  return { nodeId, chainId, lastEpoch, lastSequence, where, atMs };
}

/**
 * Why a node whose log ends at `position` must not join a cluster whose chains are `chains`, or
 * undefined when it may. A node with an empty log may always join; one whose chain is absent
 * while other chains exist holds a retired chain's data (it joins as a spare).
 */
export function behindReason(
  position: { readonly chainId: string; readonly lastEpoch: number; readonly lastSequence: number },
  chains: readonly ChainConfig[],
): string | undefined {
  if (position.lastSequence === 0) return undefined;
  const chainId = position.chainId === '' ? chainIdDefault : position.chainId;
  const logged = `this node's log holds chain ${chainId} up to epoch ${position.lastEpoch}, sequence ${position.lastSequence}`;
  if (chains.length === 0) return `the coordinator holds no chain configuration, but ${logged}`;
  const mine = chains.find((chain) => chain.chainId === chainId);
  if (mine !== undefined && mine.epoch < position.lastEpoch) {
    return `the coordinator holds chain ${chainId} at epoch ${mine.epoch}, but ${logged}`;
  }
  return undefined;
}

/** The refusal a node reports (and exits with) when `behindReason` says it must not join. */
export function behindError(reason: string, cluster: string): CatenaError {
  return new CatenaError(
    'ERR_COORDINATOR',
    `${reason}: the coordinator's state was lost or reset, and joining would start the chain again below ` +
      `epochs already logged. This node refuses to join and has recorded where its log ends. Start every ` +
      `node of the cluster (each refuses and records the same), then rebuild the configuration from them: ` +
      `catena chain rebuild --cluster ${cluster} --coordinator <url> (docs/operations.md, "Lost coordinator state")`,
  );
}

/** Every chain configuration the coordinator holds (unreadable ones left out). */
export async function readChainConfigs(coordinator: Coordinator, paths: ClusterPaths): Promise<ChainConfig[]> {
  let names: string[];
  try {
    names = await coordinator.children(paths.chains);
  } catch (error) {
    if (error instanceof CoordinatorError && error.code === 'no-node') return [];
    throw error;
  }
  const found = await Promise.all(names.map((name) => coordinator.get(paths.chain(name))));
  return found.flatMap((znode) => {
    const config = znode === undefined ? undefined : decodeChainConfig(znode.data);
    return config === undefined ? [] : [config];
  });
}

/** Writes (or replaces) a node's recovery record. */
export async function writeRecoveryRecord(
  coordinator: Coordinator,
  paths: ClusterPaths,
  record: RecoveryRecord,
): Promise<void> {
  const root = recoveryRoot(paths);
  await coordinator.ensurePath(root);
  const path = `${root}/${record.nodeId}`;
  const data = encodeRecoveryRecord(record);
  try {
    await coordinator.create(path, data, 'persistent');
  } catch (error) {
    if (!(error instanceof CoordinatorError) || error.code !== 'node-exists') throw error;
    await coordinator.set(path, data, anyVersion);
  }
}

/** Every recovery record in the coordinator. */
export async function readRecoveryRecords(coordinator: Coordinator, paths: ClusterPaths): Promise<RecoveryRecord[]> {
  const root = recoveryRoot(paths);
  if ((await coordinator.exists(root)) === undefined) return [];
  const names = await coordinator.children(root);
  const found = await Promise.all(names.map((name) => coordinator.get(`${root}/${name}`)));
  return found.flatMap((znode) => {
    const record = znode === undefined ? undefined : decodeRecoveryRecord(znode.data);
    return record === undefined ? [] : [record];
  });
}

export interface RebuiltChain {
  readonly config: ChainConfig;
  /** The highest epoch any node logged for this chain (the configuration is one above). */
  readonly highestLogged: number;
  /** The node whose log is furthest: the chain's sole member. */
  readonly from: RecoveryRecord;
  /** The configuration it replaces (one below the logs), if any. */
  readonly replaces: ChainConfig | undefined;
}

/**
 * The configurations to write: for each chain named by a record, one epoch above the highest
 * epoch its nodes logged, with the furthest node alone (the others rejoin through the manager).
 * A chain whose configuration is already above every record is left alone.
 */
export function planRebuild(records: readonly RecoveryRecord[], existing: readonly ChainConfig[]): RebuiltChain[] {
  const byChain = new Map<string, RecoveryRecord[]>();
  for (const record of records) {
    if (record.lastSequence === 0) continue;
    const chainId = record.chainId === '' ? chainIdDefault : record.chainId;
    byChain.set(chainId, [...(byChain.get(chainId) ?? []), record]);
  }
  const plan: RebuiltChain[] = [];
  for (const [chainId, chainRecords] of [...byChain].sort(([a], [b]) => a.localeCompare(b))) {
    const furthest = chainRecords.reduce((best, r) =>
      r.lastEpoch > best.lastEpoch || (r.lastEpoch === best.lastEpoch && r.lastSequence > best.lastSequence) ? r : best,
    );
    const highestLogged = furthest.lastEpoch;
    const replaces = existing.find((config) => config.chainId === chainId);
    if (replaces !== undefined && replaces.epoch > highestLogged) continue;
    const config: ChainConfig = {
      chainId,
      epoch: highestLogged + 1,
      members: [furthest.nodeId],
      joining: undefined,
      readsAllowedAtMs: 0,
    };
    plan.push({ config, highestLogged, from: furthest, replaces });
  }
  return plan;
}
