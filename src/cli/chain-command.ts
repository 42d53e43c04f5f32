// `catena chain add|remove|show|rebuild`: change how many chains a running cluster has. It edits the
// layout in the coordinator (compare-and-set, like every configuration write); the manager does
// the rest in the background: a new chain starts from spare nodes and slots move to it; a removed
// chain (the highest-numbered) hands its slots to the others and is retired, its nodes becoming
// spare. `catena status --watch` shows the move. `catena chain rebuild` makes the chains'
// configurations again from the nodes' logs after the coordinator's state was lost (recovery.ts).

import { existsSync } from 'node:fs';
import { clusterPaths, encodeChainConfig, type ClusterPaths } from '../coordination/cluster-paths.js';
import {
  planRebuild,
  readChainConfigs,
  readRecoveryRecords,
  recoveryRoot,
  type RebuiltChain,
} from '../coordination/recovery.js';
import type { Coordinator } from '../coordination/coordinator.js';
import { connectCoordinator } from '../coordination/connect.js';
import { anyVersion, CoordinatorError } from '../coordination/coordinator.js';
import { decodeLayout, encodeLayout, layoutDefault, wantedChains, type Layout } from '../coordination/placement.js';
import { splitAddress } from '../core/address.js';
import { CatenaError } from '../core/errors.js';
import { sessionTimeoutMsDefault, layoutChainsMax, layoutReplicasMax } from '../core/limits.js';
import { readClusterSecret } from '../server/peer-auth.js';
import { flagInt, flagString, renderFlags, type FlagSpec, type ParsedArgs } from './args.js';
import { connectFromFlags, connectionFlags } from './connection.js';
import { unreachableCodes } from './exit-codes.js';
import { parseCommandArgs, settable } from './settings.js';

/** Where `catena up` keeps the cluster secret with its default --data-dir. */
const defaultSecretFile = 'catena-data/cluster.secret';

export const chainFlags: FlagSpec = {
  ...connectionFlags,
  ...settable({
    coordinator: {
      kind: 'string',
      description: 'zk://host:port[,...] or embedded://host:port (default: the one the node at -h/-p reports)',
    },
    cluster: { kind: 'string', description: "cluster name, with --coordinator (default: the node's, else local)" },
    'cluster-secret-file': {
      kind: 'string',
      description: "the cluster secret (default: catena up's ./catena-data/cluster.secret when it exists)",
    },
  }),
  replicas: { kind: 'string', description: 'nodes per chain (needed when the cluster has no layout yet)' },
  auto: {
    kind: 'string',
    description: 'on: add a chain whenever --replicas spare nodes are there (nodes added grow the cluster); off',
  },
  yes: { kind: 'boolean', description: 'rebuild: write the configurations shown (without it, only show them)' },
  help: { kind: 'boolean', description: 'show this help' },
};

export const chainHelp = `Usage: catena chain <add|remove [cN]|show|rebuild [--yes]> [options]

  add      one more chain: it starts from spare nodes (start more nodes, or catena up with more
           --nodes than --chains x --replicas), then slots move to it in the background
  remove [cN]  one chain fewer: that chain (default: the highest-numbered) hands its slots to
           the others, then is retired and its nodes become spare
  show     the layout (chains and nodes per chain)
  rebuild  after the coordinator's state was lost (nodes refuse to start, saying so): shows the
           log positions the refusing nodes recorded and, with --yes, writes each chain's
           configuration one epoch above the highest any of its nodes logged, with the node whose
           log is furthest as its only member; the others rejoin. Start every node first.

The coordinator is found from the cluster, as every command finds it: the node at -h/-p (or
--endpoints, CATENA_ENDPOINTS, the config file) reports the coordinator it was started with
and its cluster's name. --coordinator (with --cluster) names it instead: for rebuild when no
node is running, or for nodes older than this command.

Watch a move with: catena status --watch

Options:
${renderFlags(chainFlags)}
`;

export async function runChain(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs(argv, chainFlags);
  if (args.flags.has('help')) {
    process.stdout.write(chainHelp);
    return 0;
  }
  const [action, named, extra] = args.positional;
  if (action !== 'add' && action !== 'remove' && action !== 'show' && action !== 'rebuild') {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `expected add, remove, show or rebuild\n\n${chainHelp}`);
  }
  const unexpected = action === 'remove' ? extra : named;
  if (unexpected !== undefined) throw new CatenaError('ERR_INVALID_ARGUMENT', `unexpected argument ${unexpected}`);
  const { url, cluster } = await findCoordinator(args);
  const paths = clusterPaths(cluster);
  const replicas = flagInt(args, chainFlags, 'replicas', { min: 1, max: layoutReplicasMax });
  const auto = flagString(args, chainFlags, 'auto');
  if (auto !== undefined && auto !== 'on' && auto !== 'off') {
    throw new CatenaError('ERR_INVALID_ARGUMENT', '--auto is on or off');
  }
  const secretFile =
    flagString(args, chainFlags, 'cluster-secret-file') ??
    (existsSync(defaultSecretFile) ? defaultSecretFile : undefined);
  const secret = secretFile === undefined ? undefined : readClusterSecret(secretFile);
  const coordinator = await connectCoordinator(url, {
    sessionTimeoutMs: sessionTimeoutMsDefault,
    ...(secret === undefined ? {} : { secret }),
  }).catch((error: unknown) => {
    if (!(error instanceof CoordinatorError) || !unreachable.has(error.code)) throw error;
    throw new CatenaError('ERR_CONNECTION_FAILED', `could not reach the coordinator ${url}: ${error.message}`);
  });
  if (action === 'rebuild') {
    try {
      return await rebuild(coordinator, paths, args.flags.has('yes'));
    } finally {
      await coordinator.close();
    }
  }
  try {
    const found = await coordinator.get(paths.layout);
    const stored = found === undefined ? undefined : decodeLayout(found.data);
    if (found !== undefined && stored === undefined) {
      throw new CatenaError('ERR_COORDINATOR', `the layout at ${paths.layout} is unreadable`);
    }
    const current = stored ?? layoutDefault;
    if (action === 'show') {
      process.stdout.write(`${describe(current)}${stored === undefined ? ' (no layout stored: the default)' : ''}\n`);
      return 0;
    }
    const autoOn = auto === undefined ? current.auto === true : auto === 'on';
    const wanted = wantedChains(current);
    const removed = action === 'remove' ? (named ?? wanted[wanted.length - 1]!) : undefined;
    if (removed !== undefined && !wanted.includes(removed)) {
      throw new CatenaError('ERR_INVALID_ARGUMENT', `no chain ${removed}: the chains are ${wanted.join(', ')}`);
    }
    // Removing the last chain needs no name kept; removing another keeps its id from being reused.
    const retired = [...(current.retired ?? [])];
    if (removed !== undefined && removed !== wanted[wanted.length - 1]) retired.push(removed);
    const next: Layout = {
      chains: current.chains + (action === 'add' ? 1 : -1),
      replicas: replicas ?? current.replicas,
      ...(autoOn ? { auto: true } : {}),
      ...(retired.length > 0 ? { retired } : {}),
    };
    if (next.replicas === 0 && action === 'add') {
      throw new CatenaError(
        'ERR_INVALID_ARGUMENT',
        'this cluster puts every node in one chain (no layout): give --replicas N for the chains to have N nodes each',
      );
    }
    if (next.chains < 1) throw new CatenaError('ERR_INVALID_ARGUMENT', 'a cluster keeps at least one chain');
    if (next.chains > layoutChainsMax)
      throw new CatenaError('ERR_INVALID_ARGUMENT', `at most ${layoutChainsMax} chains`);
    try {
      if (found === undefined) {
        await coordinator.ensurePath(paths.root);
        await coordinator.create(paths.layout, encodeLayout(next), 'persistent');
      } else {
        await coordinator.set(paths.layout, encodeLayout(next), found.version);
      }
    } catch (error) {
      if (error instanceof CoordinatorError && (error.code === 'bad-version' || error.code === 'node-exists')) {
        throw new CatenaError('ERR_COORDINATOR', 'the layout changed meanwhile: run the command again');
      }
      throw error;
    }
    const what =
      action === 'add'
        ? `chain ${wantedChains(next).at(-1)} starts once ${Math.max(1, next.replicas)} spare nodes are there; then slots move to it`
        : `chain ${removed} hands its slots to the others, then is retired`;
    process.stdout.write(
      `layout: ${describe(next)} (was ${describe(current)})\n${what}\nwatch it: catena status --watch\n`,
    );
    return 0;
  } finally {
    await coordinator.close();
  }
}

/**
 * The coordinator's URL and the cluster's name: --coordinator (and --cluster) when given, else
 * what the node at -h/-p (or the endpoints) reports in its topology.
 */
async function findCoordinator(args: ParsedArgs): Promise<{ url: string; cluster: string }> {
  const named = flagString(args, chainFlags, 'coordinator');
  if (named !== undefined) return { url: named, cluster: flagString(args, chainFlags, 'cluster') ?? 'local' };
  const client = await connectFromFlags(args, chainFlags).catch((error: unknown) => {
    if (!(error instanceof CatenaError) || !unreachableCodes.has(error.code)) throw error;
    throw new CatenaError(error.code, `${error.message} (or name the coordinator: --coordinator URL --cluster NAME)`);
  });
  try {
    const topology = await client.topology();
    const where = client.anyNodeAddress;
    if (client.isStandalone) {
      throw new CatenaError('ERR_INVALID_ARGUMENT', `${where} is a standalone node: it has no chains to change`);
    }
    if (topology.coordinator === '') {
      throw new CatenaError(
        'ERR_INVALID_ARGUMENT',
        `the node at ${where} does not report its coordinator (a version before this command): give --coordinator`,
      );
    }
    const cluster = flagString(args, chainFlags, 'cluster') ?? topology.cluster;
    return { url: reachableCoordinator(topology.coordinator, splitAddress(where)?.host), cluster };
  } finally {
    await client.close();
  }
}

/** Coordinator errors that mean it was not reached, rather than that it refused something. */
const unreachable: ReadonlySet<string> = new Set(['connection-loss', 'session-expired', 'closed']);

const loopback = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

/**
 * The coordinator URL as seen from here: a node on another machine that reaches its embedded
 * coordinator over loopback (`catena up` on that machine: embedded://127.0.0.1:7009) has it on
 * its own host, the one we reached the node at. Other URLs are used as the node gives them.
 */
export function reachableCoordinator(url: string, nodeHost: string | undefined): string {
  const [, host = '', port = ''] = /^embedded:\/\/(.+):(\d+)$/.exec(url) ?? [];
  if (host === '' || nodeHost === undefined || !loopback.test(host) || loopback.test(nodeHost)) return url;
  return `embedded://${nodeHost.includes(':') ? `[${nodeHost}]` : nodeHost}:${port}`;
}

function describe(layout: Layout): string {
  const nodes = layout.replicas === 0 ? 'every node' : `${layout.replicas} nodes each`;
  const auto = layout.auto === true ? ', a chain added whenever enough nodes are spare' : '';
  return `${layout.chains} chain${layout.chains === 1 ? '' : 's'} (${wantedChains(layout).join(', ')}), ${nodes}${auto}`;
}

/** `catena chain rebuild`: the plan from the nodes' recovery records, written with --yes. */
async function rebuild(coordinator: Coordinator, paths: ClusterPaths, write: boolean): Promise<number> {
  const records = await readRecoveryRecords(coordinator, paths);
  if (records.length === 0) {
    process.stdout.write(
      'no node has recorded a refusal: start the nodes first (a node whose log is above the ' +
        "coordinator's configuration refuses to join and records where its log ends)\n",
    );
    return 1;
  }
  process.stdout.write('logs recorded by the nodes that refused to join:\n');
  for (const r of [...records].sort((a, b) => a.nodeId.localeCompare(b.nodeId))) {
    process.stdout.write(
      `  ${r.nodeId}  chain ${r.chainId}  epoch ${r.lastEpoch}  sequence ${r.lastSequence}  (${r.where})\n`,
    );
  }
  const existing = await readChainConfigs(coordinator, paths);
  const plan = planRebuild(records, existing);
  if (plan.length === 0) {
    process.stdout.write('every chain is already configured above these logs: nothing to rebuild\n');
    return 0;
  }
  const slots = await coordinator.exists(paths.slots);
  const chainsAfter = new Set([...existing.map((c) => c.chainId), ...plan.map((p) => p.config.chainId)]);
  if (slots === undefined && chainsAfter.size > 1) {
    throw new CatenaError(
      'ERR_COORDINATOR',
      `the slot map (${paths.slots}) is lost too, and ${chainsAfter.size} chains hold data: which chain owns ` +
        'which slots cannot be read from the nodes. Restore the slot map from a copy of the coordinator ' +
        'first, then run this again',
    );
  }
  for (const p of plan) process.stdout.write(`${describeRebuild(p)}\n`);
  if (!write) {
    process.stdout.write('nothing written: run again with --yes to write these configurations\n');
    return 0;
  }
  for (const p of plan) {
    const path = paths.chain(p.config.chainId);
    const data = encodeChainConfig(p.config);
    const found = await coordinator.get(path);
    if (found === undefined) {
      await coordinator.ensurePath(paths.chains);
      await coordinator.create(path, data, 'persistent');
    } else {
      await coordinator.set(path, data, found.version); // a concurrent change fails this: run again
    }
  }
  for (const r of records)
    await coordinator.delete(`${recoveryRoot(paths)}/${r.nodeId}`, anyVersion).catch(() => undefined);
  process.stdout.write('written: restart the nodes (catena up restarts them itself); the others rejoin\n');
  return 0;
}

function describeRebuild(p: RebuiltChain): string {
  const was = p.replaces === undefined ? 'absent' : `epoch ${p.replaces.epoch}`;
  return (
    `chain ${p.config.chainId}: epoch ${p.config.epoch} (highest logged ${p.highestLogged}; configuration was ${was}), ` +
    `from ${p.from.nodeId} (sequence ${p.from.lastSequence}); the other nodes rejoin as tails`
  );
}
