// `catena status`: the cluster at a glance. Asks one node for the topology, then every node for
// its own replication state (in parallel, each with a short deadline, so a dead node shows as
// unreachable instead of stalling the report), and prints each chain's members in order with
// their role, sequences, lag, session and read state, plus the joining node and the manager.
//
// Gathering the report and its JSON document (--json) live in client/cluster-status.ts, shared
// with the dashboard's /cluster; the rendering for people here is pure (tested on made-up
// replies).
//
// Under the report, the problems it shows (client/cluster-health.ts), and the exit code says how
// bad they are: 0 healthy, 4 degraded, 5 unavailable (with --watch, that of the last report).

import { CatenaError } from '../core/errors.js';
import { nodeStatusTimeoutMs, statusWatchIntervalMs } from '../core/limits.js';
import type { ReplyOf } from '../protocol/native/codec.js';
import type { ClusterClient } from '../client/cluster-client.js';
import { findProblems, healthOf, renderProblems, statusExitCodes, type Health } from '../client/cluster-health.js';
import {
  gatherStatus,
  lagOf,
  statusDocument,
  tailCommitted,
  unansweredReport,
  type ChainReport,
  type MigrationReport,
  type NodeReport,
  type StatusReport,
} from '../client/cluster-status.js';
import { renderFlags, type FlagSpec } from './args.js';
import { connectFromFlags, connectionFlags } from './connection.js';
import { unreachableCodes } from './exit-codes.js';
import { parseCommandArgs } from './settings.js';

// The report and the document, for the scripts and tests that imported them from here.
export {
  buildReport,
  gatherStatus,
  standaloneReport,
  statusDocument,
  unansweredReport,
  type ChainReport,
  type ConfiguredRole,
  type MigrationReport,
  type NodeAnswer,
  type NodeDocument,
  type NodeReport,
  type ProblemDocument,
  type StatusDocument,
  type StatusReport,
} from '../client/cluster-status.js';

type NodeStatus = ReplyOf<'nodestatus'>;

export const statusFlags: FlagSpec = {
  ...connectionFlags,
  json: { kind: 'boolean', description: 'print a JSON document for scripts' },
  watch: { kind: 'boolean', description: 'redraw every second (a slot move shows its progress) until Ctrl-C' },
  help: { kind: 'boolean', description: 'show this help' },
};

export const statusHelp = `Usage: catena status [-h H -p P | --endpoints h:p,h:p] [--json] [--watch]

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
  const args = parseCommandArgs(argv, statusFlags);
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
      if (!(error instanceof CatenaError) || !unreachableCodes.has(error.code)) throw error;
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
