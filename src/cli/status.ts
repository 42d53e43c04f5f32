// `catena status`: the cluster at a glance. Asks one node for the topology, then every node for
// its own replication state (in parallel, each with a short deadline, so a dead node shows as
// unreachable instead of stalling the report), and prints each chain's members in order with
// their role, sequences, lag, session and read state, plus the joining node and the manager.
//
// I/O and presentation are apart: `gatherStatus` talks to the nodes; `buildReport`,
// `renderStatus` and `statusDocument` are pure (tested on made-up replies). The JSON document
// (--json) is stable for scripts: its keys are always present, null when unknown.
//
// Lag is each node's last sequence minus the tail's committed sequence: +n means n entries are
// pending (not yet committed), -n that the node is n entries behind the tail (a joining node).
//
// Under the report, the problems it shows (health.ts), and the exit code says how bad they are:
// 0 healthy, 4 degraded, 5 unavailable (with --watch, that of the last report).

import type { ClusterClient, Topology } from '../client/cluster-client.js';
import type { ReplyOf } from '../protocol/native/codec.js';
import { CatenaError } from '../core/errors.js';
import { nodeStatusTimeoutMs, statusWatchIntervalMs } from '../core/limits.js';
import { parseArgs, renderFlags, type FlagSpec } from './args.js';
import { connectFromFlags, connectionFlags } from './connection.js';
import { findProblems, healthOf, renderProblems, statusExitCodes, type Health, type Problem } from './health.js';

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

const statusFlags: FlagSpec = {
  ...connectionFlags,
  json: { kind: 'boolean', description: 'print a JSON document for scripts' },
  watch: { kind: 'boolean', description: 'redraw every second (a slot move shows its progress) until Ctrl-C' },
  help: { kind: 'boolean', description: 'show this help' },
};

export const statusHelp = `Usage: catena status [--host H --port P | --seeds h:p,h:p] [--json] [--watch]

Shows each chain's epoch, hash slots and members in order (head first) with role, node id, native address,
last/persisted/committed sequence, lag behind the tail, coordinator session and whether the node
serves reads; the joining node; which node is the manager; and a slot move in progress with a
progress bar. Against a standalone node it shows that node. Under the report, a "problems" list
says what is wrong (--json: "health" and "problems").

Exit codes (with --watch, those of the last report):
  ${statusExitCodes.healthy}  healthy: every node answers, every chain serves reads and writes
  ${statusExitCodes.degraded}  degraded: everything is served, with less to spare (a middle member, a joining or
     spare node unreachable; a node's coordinator session lost)
  ${statusExitCodes.unavailable}  unavailable: some keys cannot be read or written now (a chain's head or tail
     unreachable, its tail not serving reads, a chain with no members, no chain yet), or no
     node answered
  1  an error reply (e.g. authentication refused); 2 bad usage

Options:
${renderFlags(statusFlags)}
`;

export async function runStatus(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, statusFlags);
  if (args.flags.has('help')) {
    process.stdout.write(statusHelp);
    return 0;
  }
  if (args.positional.length > 0) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `unexpected argument ${args.positional[0]}`);
  }
  const watch = args.flags.has('watch');
  let stop = false;
  if (watch) process.once('SIGINT', () => (stop = true));
  let client: ClusterClient | undefined;
  // A cluster no node of which answers is a report too (unavailable), so --watch keeps watching
  // through a restart of the whole cluster, and a monitoring check gets 5, not "cannot connect".
  const next = async (): Promise<StatusReport> => {
    try {
      client ??= await connectFromFlags(args, statusFlags);
      return await gatherStatus(client, { nodeTimeoutMs: nodeStatusTimeoutMs });
    } catch (error) {
      if (!(error instanceof CatenaError) || !noAnswerCodes.has(error.code)) throw error;
      return unansweredReport({ code: error.code, message: error.message });
    }
  };
  let health: Health;
  try {
    do {
      const report = await next();
      health = healthOf(findProblems(report));
      const text = args.flags.has('json') ? JSON.stringify(statusDocument(report), null, 2) : renderStatus(report);
      // In a terminal each report replaces the last (cursor home, clear screen).
      const clear = watch && process.stdout.isTTY ? '\x1b[H\x1b[2J' : '';
      process.stdout.write(`${clear}${text}\n`);
      if (watch) await new Promise((resolve) => setTimeout(resolve, statusWatchIntervalMs));
    } while (watch && !stop);
    return statusExitCodes[health];
  } finally {
    await client?.close();
  }
}

/** Errors that mean no node answered (rather than one answered "no"). */
const noAnswerCodes: ReadonlySet<string> = new Set([
  'ERR_CONNECTION_FAILED',
  'ERR_CONNECTION_CLOSED',
  'ERR_TIMEOUT',
  'ERR_SHUTTING_DOWN',
]);

// ---------------------------------------------------------------------------------------------
// Gathering (I/O).

export async function gatherStatus(client: ClusterClient, options: { nodeTimeoutMs: number }): Promise<StatusReport> {
  const ask = async (address: string): Promise<NodeAnswer> => {
    if (address === '') return { ok: false, code: 'ERR_UNAVAILABLE', message: 'no native address registered' };
    try {
      return { ok: true, status: await client.sendTo(address, 'nodestatus', {}, { timeoutMs: options.nodeTimeoutMs }) };
    } catch (error) {
      if (!(error instanceof CatenaError)) throw error;
      return { ok: false, code: error.code, message: error.message };
    }
  };
  if (client.isStandalone) {
    const address = client.anyNodeAddress;
    const answer = await ask(address);
    const nodeId = answer.ok ? answer.status.nodeId : '?';
    return standaloneReport({ nodeId, role: 'standalone', native: address, answer });
  }
  const topology = await client.topology();
  const addresses = nativeAddresses(topology);
  const ids = [...addresses.keys()];
  const answers = await Promise.all(ids.map((id) => ask(addresses.get(id) ?? '')));
  return buildReport(topology, new Map(ids.map((id, i) => [id, answers[i]!])));
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
function tailCommitted(chain: ChainReport): bigint | undefined {
  const tail = chain.members.at(-1)?.answer;
  return tail?.ok === true ? tail.status.committedSequence : undefined;
}

function lagOf(node: NodeReport, committed: bigint | undefined): bigint | undefined {
  if (!node.answer.ok || committed === undefined) return undefined;
  return node.answer.status.lastSequence - committed;
}

// ---------------------------------------------------------------------------------------------
// Rendering for people (pure).

const header = ['ROLE', 'NODE', 'NATIVE', 'EPOCH', 'LAST', 'PERSISTED', 'COMMITTED', 'LAG', 'SESSION', 'READS', 'MGR'];

/** The report, then its problems (none when healthy). */
export function renderStatus(report: StatusReport): string {
  const problems = renderProblems(findProblems(report));
  return [...renderReport(report), ...(problems.length === 0 ? [] : ['', ...problems])].join('\n');
}

function renderReport(report: StatusReport): string[] {
  if (report.noAnswer !== undefined) return [`no node answered: ${report.noAnswer.code} ${report.noAnswer.message}`];
  if (report.standalone !== undefined) {
    const node = report.standalone;
    const rows = [header, nodeRow(node, undefined, '')];
    return [`standalone node ${node.nodeId} at ${node.native || '?'}`, ...indent(alignColumns(rows))];
  }
  const lines = [`cluster ${report.cluster}  manager ${report.manager === '' ? '(none elected)' : report.manager}`];
  if (report.chains.length === 0) lines.push('no chain configured yet');
  for (const chain of report.chains) lines.push('', ...renderChain(chain, report.manager));
  if (report.outside.length > 0) {
    const rows = [header, ...report.outside.map((node) => nodeRow(node, undefined, report.manager))];
    lines.push('', 'nodes in no chain (spare: they join a chain that needs a node)', ...indent(alignColumns(rows)));
  }
  if (report.migration !== undefined) lines.push('', ...renderMigration(report.migration));
  return lines;
}

const progressBarWidth = 30;

/** The move in progress, with a bar of the rebalancing done so far. */
export function renderMigration(move: MigrationReport): string[] {
  const done = Math.max(0, move.planned - move.remaining);
  const fraction = move.planned > 0 ? done / move.planned : 0;
  const filled = Math.round(fraction * progressBarWidth);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(progressBarWidth - filled)}]`;
  return [
    `moving slots ${move.first}-${move.last} from ${move.from} to ${move.to} (${move.stage === 'copy' ? 'copying' : 'dropping the old copy'})`,
    `  ${bar} ${Math.round(fraction * 100)}%  ${move.remaining} of ${move.planned} slots still to move`,
  ];
}

function renderChain(chain: ChainReport, manager: string): string[] {
  const committed = tailCommitted(chain);
  const nodes = chain.joining === undefined ? chain.members : [...chain.members, chain.joining];
  const rows = [header, ...nodes.map((node) => nodeRow(node, committed, manager))];
  const joining = chain.joining === undefined ? '' : `, joining ${chain.joining.nodeId}`;
  const slots =
    chain.slots === undefined ? '' : chain.slots === 0 ? '  no slots' : `  ${chain.slots} slots (${chain.slotRanges})`;
  const title = `chain ${chain.chainId}  epoch ${chain.epoch}  ${chain.members.length} members${joining}${slots}`;
  return [title, ...indent(alignColumns(rows))];
}

function nodeRow(node: NodeReport, committed: bigint | undefined, manager: string): string[] {
  const head = [node.role, node.nodeId, node.native || '-'];
  const isManager = node.nodeId === manager || (node.answer.ok && node.answer.status.manager);
  const mgr = isManager ? '*' : '';
  if (!node.answer.ok) {
    return [...head, '-', '-', '-', '-', '-', '-', '-', mgr, `unreachable: ${node.answer.code} ${node.answer.message}`];
  }
  const s = node.answer.status;
  const inChain = node.role !== 'standalone' && node.role !== 'outside';
  const lag = lagOf(node, committed);
  return [
    ...head,
    String(s.epoch),
    String(s.lastSequence),
    String(s.persistedSequence),
    String(s.committedSequence),
    !inChain ? '-' : lag === undefined ? '?' : lag > 0n ? `+${lag}` : String(lag),
    node.role === 'standalone' ? '-' : s.sessionConnected ? 'connected' : 'lost',
    s.servingReads ? 'yes' : 'no',
    mgr,
    disagreement(node, s),
  ];
}

/** A note when the node sees itself differently from the topology (it has not caught up yet). */
function disagreement(node: NodeReport, status: NodeStatus): string {
  if (status.role === node.role || status.nodeId === '') return '';
  return `node says ${status.role}`;
}

/** Pads every column but the last to its widest cell; trailing blanks are trimmed. */
export function alignColumns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

const indent = (lines: readonly string[]): string[] => lines.map((line) => `  ${line}`);

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
  /** healthy, degraded or unavailable: what the exit code says (health.ts). */
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
