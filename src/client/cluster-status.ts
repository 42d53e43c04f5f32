// The cluster's status, as `catena status` shows it and the dashboard's /cluster serves it: one
// node's topology, then every node's own replication state (asked in parallel, each with a short
// deadline, so a dead node shows as unreachable instead of stalling the report), put together as
// each chain's members in order with their role, sequences, lag, session and read state, plus the
// joining node, the nodes in no chain, the manager and a slot move in progress.
//
// I/O and the rest are apart: `gatherStatus` and `askEveryNode` talk to the nodes; `buildReport`
// and `statusDocument` are pure (tested on made-up replies). The JSON document is stable for
// scripts: its keys are always present, null when unknown.
//
// Lag is each node's last sequence minus the tail's committed sequence: +n means n entries are
// pending (not yet committed), -n that the node is n entries behind the tail (a joining node).

import type { ClusterClient, Topology } from './cluster-client.js';
import type { ReplyOf } from '../protocol/native/codec.js';
import { CatenaError } from '../core/errors.js';
import { findProblems, healthOf, type Health, type Problem } from './cluster-health.js';

type NodeStatus = ReplyOf<'nodestatus'>;

/** A node's place in the chain configuration (what the topology says, not what the node says). */
export type ConfiguredRole = 'head' | 'middle' | 'tail' | 'head-and-tail' | 'joining' | 'outside' | 'standalone';

export type NodeAnswer = { ok: true; status: NodeStatus } | { ok: false; code: string; message: string };

export interface NodeReport {
  nodeId: string;
  role: ConfiguredRole;
  /** Native address; '' when the node has registered none. */
  native: string;
  answer: NodeAnswer;
}

export interface ChainReport {
  chainId: string;
  epoch: bigint;
  /** Hash slots the chain owns (undefined before the manager has written a slot map), and their ranges as text ("0-5461"). */
  slots: number | undefined;
  slotRanges: string;
  /** Head first, tail last. */
  members: NodeReport[];
  joining: NodeReport | undefined;
}

export interface StatusReport {
  cluster: string;
  manager: string;
  /** The node itself when it runs without a cluster; then there are no chains. */
  standalone: NodeReport | undefined;
  chains: ChainReport[];
  /** Registered nodes that are in no chain and not joining one. */
  outside: NodeReport[];
  /** Slots moving between chains now, if any. */
  migration: MigrationReport | undefined;
  /** Why there is nothing else: no node answered (the seeds, then the nodes they named). */
  noAnswer: { code: string; message: string } | undefined;
}

export interface MigrationReport {
  first: number;
  last: number;
  from: string;
  to: string;
  stage: string;
  /** Slots not yet where the layout wants them, and how many there were when the rebalancing began. */
  remaining: number;
  planned: number;
}

// ---------------------------------------------------------------------------------------------
// Gathering (I/O).

export async function gatherStatus(client: ClusterClient, options: { nodeTimeoutMs: number }): Promise<StatusReport> {
  if (client.isStandalone) {
    const address = client.anyNodeAddress;
    const answer = await askNode(client, address, options);
    const nodeId = answer.ok ? answer.status.nodeId : '?';
    return standaloneReport({ nodeId, role: 'standalone', native: address, answer });
  }
  const topology = await client.topology();
  return buildReport(topology, await askEveryNode(client, topology, options));
}

/** Every node the topology mentions, asked for its status at once; each answer or why there is none. */
export async function askEveryNode(
  client: ClusterClient,
  topology: Topology,
  options: { nodeTimeoutMs: number },
): Promise<Map<string, NodeAnswer>> {
  const addresses = nativeAddresses(topology);
  const ids = [...addresses.keys()];
  const answers = await Promise.all(ids.map((id) => askNode(client, addresses.get(id) ?? '', options)));
  return new Map(ids.map((id, i) => [id, answers[i]!]));
}

async function askNode(
  client: ClusterClient,
  address: string,
  options: { nodeTimeoutMs: number },
): Promise<NodeAnswer> {
  if (address === '') return { ok: false, code: 'ERR_UNAVAILABLE', message: 'no native address registered' };
  try {
    return { ok: true, status: await client.sendTo(address, 'nodestatus', {}, { timeoutMs: options.nodeTimeoutMs }) };
  } catch (error) {
    if (!(error instanceof CatenaError)) throw error;
    return { ok: false, code: error.code, message: error.message };
  }
}

/** Every node the topology mentions (members, joining, registered), with its address or ''. */
function nativeAddresses(topology: Topology): Map<string, string> {
  const addresses = new Map<string, string>();
  for (const chain of topology.chains) {
    for (const id of [...chain.members, chain.joining]) if (id !== '') addresses.set(id, '');
  }
  for (const node of topology.nodes) addresses.set(node.nodeId, node.native);
  return addresses;
}

// ---------------------------------------------------------------------------------------------
// The report (pure).

const unknownNode: NodeAnswer = { ok: false, code: 'ERR_UNAVAILABLE', message: 'not asked' };

export function standaloneReport(node: NodeReport): StatusReport {
  return { ...emptyReport, standalone: node };
}

/** No node answered: the report is that error alone. */
export function unansweredReport(error: { code: string; message: string }): StatusReport {
  return { ...emptyReport, noAnswer: error };
}

const emptyReport: StatusReport = {
  cluster: '',
  manager: '',
  standalone: undefined,
  chains: [],
  outside: [],
  migration: undefined,
  noAnswer: undefined,
};

/** Puts each node's answer in its place in the topology. */
export function buildReport(topology: Topology, answers: ReadonlyMap<string, NodeAnswer>): StatusReport {
  const natives = new Map(topology.nodes.map((node) => [node.nodeId, node.native]));
  const report = (nodeId: string, role: ConfiguredRole): NodeReport => ({
    nodeId,
    role,
    native: natives.get(nodeId) ?? '',
    answer: answers.get(nodeId) ?? unknownNode,
  });
  const placed = new Set<string>();
  const chains = topology.chains.map((chain): ChainReport => {
    for (const id of [...chain.members, chain.joining]) placed.add(id);
    const ranges = (topology.slots ?? []).filter((range) => range.chainId === chain.chainId);
    return {
      chainId: chain.chainId,
      epoch: chain.epoch,
      slots:
        (topology.slotsVersion ?? 0n) === 0n
          ? undefined
          : ranges.reduce((sum, range) => sum + range.last - range.first + 1, 0),
      slotRanges: ranges
        .map((range) => (range.first === range.last ? `${range.first}` : `${range.first}-${range.last}`))
        .join(','),
      members: chain.members.map((id, i) => report(id, memberRole(i, chain.members.length))),
      joining: chain.joining === '' ? undefined : report(chain.joining, 'joining'),
    };
  });
  const outside = topology.nodes.filter((node) => !placed.has(node.nodeId)).map((n) => report(n.nodeId, 'outside'));
  const move = topology.migration;
  const migration: MigrationReport | undefined =
    move === undefined
      ? undefined
      : {
          first: move.first,
          last: move.last,
          from: move.fromChain,
          to: move.toChain,
          stage: move.stage,
          remaining: move.remaining,
          planned: move.planned,
        };
  return { ...emptyReport, cluster: topology.cluster, manager: topology.manager, chains, outside, migration };
}

function memberRole(index: number, length: number): ConfiguredRole {
  if (length === 1) return 'head-and-tail';
  if (index === 0) return 'head';
  return index === length - 1 ? 'tail' : 'middle';
}

/** The tail's committed sequence, when the tail answered. */
export function tailCommitted(chain: ChainReport): bigint | undefined {
  const tail = chain.members.at(-1)?.answer;
  return tail?.ok === true ? tail.status.committedSequence : undefined;
}

export function lagOf(node: NodeReport, committed: bigint | undefined): bigint | undefined {
  if (!node.answer.ok || committed === undefined) return undefined;
  return node.answer.status.lastSequence - committed;
}

// ---------------------------------------------------------------------------------------------
// The JSON document (pure). 64-bit integers are numbers when exact, else decimal strings.

export interface NodeDocument {
  nodeId: string;
  role: ConfiguredRole;
  native: string;
  reachable: boolean;
  error: { code: string; message: string } | null;
  reportedRole: string | null;
  epoch: number | string | null;
  lastSequence: number | string | null;
  persistedSequence: number | string | null;
  committedSequence: number | string | null;
  lag: number | string | null;
  sessionConnected: boolean | null;
  servingReads: boolean | null;
  manager: boolean;
}

export interface StatusDocument {
  cluster: string;
  manager: string;
  standalone: NodeDocument | null;
  chains: {
    chainId: string;
    epoch: number | string;
    slots: number | null;
    members: NodeDocument[];
    joining: NodeDocument | null;
  }[];
  outside: NodeDocument[];
  migration: MigrationReport | null;
  /** healthy, degraded or unavailable: what the exit code says (cluster-health.ts). */
  health: Health;
  /** Empty when healthy. */
  problems: ProblemDocument[];
}

/** A problem for scripts: every key present; chain and node null when it concerns neither. */
export interface ProblemDocument {
  chain: string | null;
  node: string | null;
  problem: Problem['problem'];
  severity: Problem['severity'];
  detail: string;
}

export function statusDocument(report: StatusReport): StatusDocument {
  const problems = findProblems(report);
  const doc = (node: NodeReport, committed: bigint | undefined) => nodeDocument(node, committed, report.manager);
  return {
    cluster: report.cluster,
    manager: report.manager,
    standalone: report.standalone === undefined ? null : doc(report.standalone, undefined),
    chains: report.chains.map((chain) => {
      const committed = tailCommitted(chain);
      return {
        chainId: chain.chainId,
        epoch: jsonInt(chain.epoch),
        slots: chain.slots ?? null,
        members: chain.members.map((node) => doc(node, committed)),
        joining: chain.joining === undefined ? null : doc(chain.joining, committed),
      };
    }),
    outside: report.outside.map((node) => doc(node, undefined)),
    migration: report.migration ?? null,
    health: healthOf(problems),
    problems: problems.map((p) => ({
      chain: p.chain,
      node: p.node,
      problem: p.problem,
      severity: p.severity,
      detail: p.detail,
    })),
  };
}

function nodeDocument(node: NodeReport, committed: bigint | undefined, manager: string): NodeDocument {
  const s = node.answer.ok ? node.answer.status : undefined;
  const lag = lagOf(node, committed);
  return {
    nodeId: node.nodeId,
    role: node.role,
    native: node.native,
    reachable: node.answer.ok,
    error: node.answer.ok ? null : { code: node.answer.code, message: node.answer.message },
    reportedRole: s?.role ?? null,
    epoch: s === undefined ? null : jsonInt(s.epoch),
    lastSequence: s === undefined ? null : jsonInt(s.lastSequence),
    persistedSequence: s === undefined ? null : jsonInt(s.persistedSequence),
    committedSequence: s === undefined ? null : jsonInt(s.committedSequence),
    lag: lag === undefined ? null : jsonInt(lag),
    sessionConnected: s?.sessionConnected ?? null,
    servingReads: s?.servingReads ?? null,
    manager: node.nodeId === manager || s?.manager === true,
  };
}

const jsonInt = (value: bigint): number | string =>
  Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
