// The cluster's health, judged from a `catena status` report (pure): the problems listed under
// the report (and in --json), and the exit code, so a script or a monitoring check can ask
// `catena status` whether the cluster serves.
//
// A chain serves writes at its head and reads at its tail (docs/design.md §1), so what a problem
// costs depends on where it is:
//
//   unavailable (exit 5)  some keys cannot be read or written now: a chain's head or tail is
//                         unreachable (or restarted and waiting to be removed), its tail does not
//                         serve reads, a chain has no members, no chain is configured, a
//                         standalone node does not answer, or no node answered at all;
//   degraded (exit 4)     everything is served, with less to spare: a middle member is down
//                         (writes wait until the manager removes it), a member's coordinator
//                         session is lost, a joining or spare node is unreachable;
//   healthy (exit 0)      none of these.
//
// The codes sit above the ones every `catena` command uses (1 an error reply, 2 bad usage,
// 3 cannot connect, 70 internal error) so a script can tell "the cluster is down" from "the
// command was wrong". Problem kinds are stable strings: scripts may match on them.

import type { ConfiguredRole, NodeReport, StatusReport } from './cluster-status.js';

export type Health = 'healthy' | 'degraded' | 'unavailable';

export const statusExitCodes: Readonly<Record<Health, number>> = { healthy: 0, degraded: 4, unavailable: 5 };

export type ProblemKind =
  'no-node-answered' | 'no-chain' | 'no-members' | 'unreachable' | 'restarted' | 'session-lost' | 'not-serving-reads';

export interface Problem {
  /** The chain it concerns, or null (a spare node, the whole cluster). */
  chain: string | null;
  /** The node it concerns, or null (a chain, the whole cluster). */
  node: string | null;
  /** The node's place in the configuration, or null. */
  role: ConfiguredRole | null;
  problem: ProblemKind;
  severity: Exclude<Health, 'healthy'>;
  /** The error a node answered with ("ERR_TIMEOUT request timed out ..."), or ''. */
  detail: string;
}

/** Every problem the report shows, chains in order (members head first), then spare nodes. */
export function findProblems(report: StatusReport): Problem[] {
  if (report.noAnswer !== undefined) {
    const detail = `${report.noAnswer.code} ${report.noAnswer.message}`;
    return [{ chain: null, node: null, role: null, problem: 'no-node-answered', severity: 'unavailable', detail }];
  }
  if (report.standalone !== undefined) return nodeProblems(report.standalone, null);
  const problems: Problem[] = [];
  if (report.chains.length === 0) {
    problems.push({ chain: null, node: null, role: null, problem: 'no-chain', severity: 'unavailable', detail: '' });
  }
  for (const chain of report.chains) {
    const chainId = chain.chainId;
    if (chain.members.length === 0) {
      problems.push({
        chain: chainId,
        node: null,
        role: null,
        problem: 'no-members',
        severity: 'unavailable',
        detail: '',
      });
    }
    for (const member of chain.members) problems.push(...nodeProblems(member, chainId));
    const tail = chain.members.at(-1);
    if (tail?.answer.ok === true && !tail.answer.status.servingReads && tail.answer.status.role !== 'restarted') {
      problems.push(problem(tail, chainId, 'not-serving-reads', ''));
    }
    if (chain.joining !== undefined) problems.push(...nodeProblems(chain.joining, chainId));
  }
  for (const node of report.outside) problems.push(...nodeProblems(node, null));
  return problems;
}

/** The worst severity among the problems. */
export function healthOf(problems: readonly Problem[]): Health {
  if (problems.some((p) => p.severity === 'unavailable')) return 'unavailable';
  return problems.length > 0 ? 'degraded' : 'healthy';
}

function nodeProblems(node: NodeReport, chain: string | null): Problem[] {
  if (!node.answer.ok) return [problem(node, chain, 'unreachable', `${node.answer.code} ${node.answer.message}`)];
  const status = node.answer.status;
  // A node that restarted keeps its place until the manager removes it; it serves nothing there.
  if (status.role === 'restarted') return [problem(node, chain, 'restarted', '')];
  if (node.role !== 'standalone' && !status.sessionConnected) return [problem(node, chain, 'session-lost', '')];
  return [];
}

function problem(node: NodeReport, chain: string | null, kind: ProblemKind, detail: string): Problem {
  return { chain, node: node.nodeId, role: node.role, problem: kind, severity: severityOf(node.role, kind), detail };
}

/** A lost session alone costs nothing now; a node down costs what its place serves. */
function severityOf(role: ConfiguredRole, kind: ProblemKind): Problem['severity'] {
  if (kind === 'session-lost') return 'degraded';
  if (kind === 'not-serving-reads') return 'unavailable';
  switch (role) {
    case 'head':
    case 'tail':
    case 'head-and-tail':
    case 'standalone':
      return 'unavailable';
    case 'middle':
    case 'joining':
    case 'outside':
      return 'degraded';
  }
}

// ---------------------------------------------------------------------------------------------
// For people (pure).

/** The lines under the report: nothing when healthy, else a heading and one line per problem. */
export function renderProblems(problems: readonly Problem[]): string[] {
  if (problems.length === 0) return [];
  return [`problems (${healthOf(problems)}):`, ...problems.map((p) => `  ${describeProblem(p)}`)];
}

function describeProblem(p: Problem): string {
  const where =
    p.chain === null
      ? `${p.role === 'outside' ? 'spare' : (p.role ?? '')} node ${p.node ?? ''}`
      : `chain ${p.chain} ${p.role ?? ''} ${p.node ?? ''}`;
  switch (p.problem) {
    case 'no-node-answered':
      return `no node answered: ${p.detail}`;
    case 'no-chain':
      return 'no chain configured yet: nothing is served';
    case 'no-members':
      return `chain ${p.chain ?? ''} has no members: its keys are not served`;
    case 'unreachable':
      return `${where} unreachable (${p.detail})${consequence(p.role)}`;
    case 'restarted':
      return `${where} restarted: waiting for the manager to remove it (it then rejoins as tail)${consequence(p.role)}`;
    case 'session-lost':
      return `${where} lost its coordinator session`;
    case 'not-serving-reads':
      return `${where} does not serve reads: the chain serves no reads`;
  }
}

function consequence(role: ConfiguredRole | null): string {
  switch (role) {
    case 'head':
      return ': the chain takes no writes';
    case 'tail':
      return ': the chain serves no reads';
    case 'head-and-tail':
      return ': the chain serves nothing';
    case 'middle':
      return ': writes wait until the manager removes it';
    default:
      return '';
  }
}
