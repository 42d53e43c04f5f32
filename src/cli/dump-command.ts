// `catena dump`: saves one copy of each chain's table to `<out>/<chainId>.jsonl` (a standalone
// node's to `<out>/<nodeId>.jsonl`). Asks one node for the topology, then fetches `GET /dump`
// from the admin listener of each chain's tail (admin.ts; the format is in server/dump.ts) and
// streams it to its file, never holding a dump in memory. The tail holds what its chain has
// committed and nothing more (a head may hold writes still on their way down); the other replicas
// hold the same table, so one copy per chain is the whole cluster. When the tail registered no
// admin address (it is down), the member nearest it is dumped instead. `catena restore` loads
// such a directory into any cluster (restore-command.ts).
//
// A file appears whole or not at all (written to .tmp, fsynced, renamed): its stream must carry
// the expected node's header and end at the end of a line, or it is discarded. A node that does
// not answer, answers with something else, or stops sending for dumpIdleTimeoutMs is reported,
// the others are still dumped, and the command exits 1.
//
// A standalone node does not report its admin address (its topology lists no nodes): give it
// with --admin, and start the node with --admin-port.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterClient } from '../client/cluster-client.js';
import { splitAddress } from '../core/address.js';
import { AssertionError } from '../core/assert.js';
import { CatenaError } from '../core/errors.js';
import { dumpFetchesConcurrentMax, dumpIdleTimeoutMs } from '../core/limits.js';
import { DumpStreamCheck, writeFileAtomically, type DumpSummary } from '../server/dump.js';
import { flagString, renderFlags, type FlagSpec } from './args.js';
import { connectFromFlags, connectionFlags } from './connection.js';
import { alignColumns } from './status.js';
import { readSecretFile } from './auth-files.js';
import { parseCommandArgs, settable } from './settings.js';

export const dumpFlags: FlagSpec = {
  ...connectionFlags,
  out: { kind: 'string', description: 'directory for the files, created if missing (default ./catena-dump-<time>)' },
  admin: { kind: 'string', description: "a standalone node's admin address, host:port (cluster nodes report theirs)" },
  ...settable({
    'admin-token-file': {
      kind: 'string',
      description:
        "file holding the nodes' admin bearer token (or the token in CATENA_ADMIN_TOKEN), when they have one",
    },
  }),
  help: { kind: 'boolean', description: 'show this help' },
};

/** A chain or node id becomes a file name: only these, so a bad or hostile id cannot leave `--out`. */
const safeFileStem = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

export const dumpHelp = `Usage: catena dump [-h H -p P | --endpoints h:p,h:p] [--out DIR] [--admin H:P]

Saves the cluster's table, one file per chain: <out>/<chainId>.jsonl (a standalone node's:
<out>/<nodeId>.jsonl), JSON lines (a header, then one line per key: key, value, version,
expiresAtMs, flags). Each chain's copy is read from its tail's admin listener (GET /dump), so
nodes need --admin-port. Prints one line per node dumped (keys, bytes, file) and the total; a
chain that cannot be dumped is reported and the others are still dumped (exit code 1).
\`catena restore <out>\` loads the files into a running cluster of any layout.

Options:
${renderFlags(dumpFlags)}
`;

/**
 * A node to dump: its admin address ('' when it registered none, undefined when it is not
 * registered: down), and the chain whose copy it is (names the file; absent for a standalone node).
 */
export interface DumpTarget {
  nodeId: string;
  admin: string | undefined;
  chainId?: string;
}

export type NodeDump =
  ({ ok: true; nodeId: string; file: string } & DumpSummary) | { ok: false; nodeId: string; reason: string };

export async function runDump(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs(argv, dumpFlags);
  if (args.flags.has('help')) {
    process.stdout.write(dumpHelp);
    return 0;
  }
  if (args.positional.length > 0) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `unexpected argument ${args.positional[0]}`);
  }
  const admin = flagString(args, dumpFlags, 'admin');
  if (admin !== undefined && splitAddress(admin) === undefined) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', '--admin must be host:port');
  }
  const outDir = flagString(args, dumpFlags, 'out') ?? defaultOutDir(new Date());
  const client = await connectFromFlags(args, dumpFlags);
  let targets: DumpTarget[];
  try {
    targets = await findTargets(client, admin);
  } finally {
    await client.close();
  }
  await mkdir(outDir, { recursive: true }).catch((error: unknown) => {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `cannot create --out ${outDir}: ${String(error)}`);
  });
  const tokenFile = flagString(args, dumpFlags, 'admin-token-file');
  const adminToken =
    tokenFile === undefined ? process.env.CATENA_ADMIN_TOKEN : readSecretFile(tokenFile, 'admin token');
  const dumps = await dumpNodes(targets, {
    outDir,
    idleTimeoutMs: dumpIdleTimeoutMs,
    ...(adminToken === undefined ? {} : { adminToken }),
  });
  process.stdout.write(`${renderDumps(dumps, outDir)}\n`);
  const failed = dumps.filter((dump) => !dump.ok).length;
  if (failed > 0) process.stderr.write(`catena: ${failed} of ${dumps.length} nodes could not be dumped\n`);
  return failed > 0 ? 1 : 0;
}

/** ./catena-dump-<ISO time without colons>, e.g. catena-dump-2026-01-31T120000.000Z */
export function defaultOutDir(now: Date): string {
  return `catena-dump-${now.toISOString().replaceAll(':', '')}`;
}

/** The nodes to dump: each chain's tail (or the member nearest it with an admin address), or the standalone node. */
export async function findTargets(client: ClusterClient, adminOverride: string | undefined): Promise<DumpTarget[]> {
  const topology = await client.topology();
  if (client.isStandalone) {
    const { nodeId } = await client.nodeStatus();
    const admin = adminOverride ?? topology.nodes.find((node) => node.nodeId === nodeId)?.admin ?? '';
    if (admin === '') {
      throw new CatenaError(
        'ERR_INVALID_ARGUMENT',
        `${client.anyNodeAddress} is a standalone node (${nodeId}) that reports no admin address: ` +
          'it needs --admin-port, and its admin address given here with --admin host:port',
      );
    }
    return [{ nodeId, admin }];
  }
  if (adminOverride !== undefined) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', '--admin is for a standalone node: cluster nodes report theirs');
  }
  const admins = new Map(topology.nodes.map((node) => [node.nodeId, node.admin]));
  return topology.chains
    .filter((chain) => chain.members.length > 0)
    .map((chain) => {
      const fromTail = [...chain.members].reverse();
      const nodeId =
        fromTail.find((id) => (admins.get(id) ?? '') !== '') ?? fromTail.find((id) => admins.has(id)) ?? fromTail[0]!;
      return { nodeId, admin: admins.get(nodeId), chainId: chain.chainId };
    });
}

/** Dumps each target to `<outDir>/<nodeId>.jsonl`, a few at a time; results in target order. */
export async function dumpNodes(
  targets: readonly DumpTarget[],
  options: { outDir: string; idleTimeoutMs: number; adminToken?: string },
): Promise<NodeDump[]> {
  const results: NodeDump[] = new Array<NodeDump>(targets.length);
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < targets.length; index = next++) {
      results[index] = await dumpNode(targets[index]!, options);
    }
  };
  await Promise.all(Array.from({ length: Math.min(dumpFetchesConcurrentMax, targets.length) }, worker));
  return results;
}

async function dumpNode(
  target: DumpTarget,
  options: { outDir: string; idleTimeoutMs: number; adminToken?: string },
): Promise<NodeDump> {
  const { nodeId } = target;
  const name = target.chainId ?? nodeId;
  if (!safeFileStem.test(name)) return { ok: false, nodeId, reason: `${name} is not a safe file name` };
  if (target.admin === undefined) return { ok: false, nodeId, reason: 'in a chain but not registered (down?)' };
  if (target.admin === '') return { ok: false, nodeId, reason: 'no admin address registered (needs --admin-port)' };
  const address = splitAddress(target.admin);
  if (address === undefined) return { ok: false, nodeId, reason: `bad admin address ${target.admin}` };
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  const url = `http://${host}:${address.port}/dump`;
  const file = join(options.outDir, `${name}.jsonl`);
  try {
    const summary = await writeFileAtomically(file, (write) =>
      fetchDump(url, nodeId, { idleTimeoutMs: options.idleTimeoutMs, adminToken: options.adminToken }, write),
    );
    return { ok: true, nodeId, file, ...summary };
  } catch (error) {
    if (error instanceof AssertionError) throw error;
    return { ok: false, nodeId, reason: `${url}: ${describeFailure(error)}` };
  }
}

class DumpRefused extends Error {}

/** Streams one node's dump through `write`, checking it as it goes; throws what went wrong. */
async function fetchDump(
  url: string,
  nodeId: string,
  { idleTimeoutMs, adminToken }: { idleTimeoutMs: number; adminToken: string | undefined },
  write: (chunk: Uint8Array) => Promise<void>,
): Promise<DumpSummary> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const idle = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new DumpRefused(`nothing for ${idleTimeoutMs} ms`)), idleTimeoutMs);
  };
  idle();
  try {
    const headers: Record<string, string> = adminToken === undefined ? {} : { authorization: `Bearer ${adminToken}` };
    const response = await fetch(url, { signal: controller.signal, headers });
    if (response.status !== 200 || response.body === null) {
      await response.body?.cancel();
      throw new DumpRefused(refusal(response.status, response.statusText));
    }
    const check = new DumpStreamCheck(nodeId);
    for await (const chunk of response.body) {
      idle();
      check.push(chunk);
      await write(chunk);
    }
    const checked = check.finish();
    if (!checked.ok) throw new DumpRefused(checked.reason);
    return { keys: checked.value.keys, bytes: checked.value.bytes };
  } finally {
    clearTimeout(timer);
  }
}

function refusal(status: number, statusText: string): string {
  if (status === 404) return 'HTTP 404: the node serves no /dump';
  if (status === 503) return 'HTTP 503: the node is busy with other dumps; try again';
  if (status === 401) return 'HTTP 401: the node needs its admin token (--admin-token-file or CATENA_ADMIN_TOKEN)';
  if (status === 403) return 'HTTP 403: wrong admin token';
  return `HTTP ${status} ${statusText}`;
}

/** fetch rejects with the abort reason (a DumpRefused) itself or as the cause; network errors carry a code. */
function describeFailure(error: unknown): string {
  if (error instanceof DumpRefused || error instanceof CatenaError) return error.message;
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  if (cause instanceof DumpRefused) return cause.message;
  const detail = cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : undefined;
  return detail === undefined ? error.message : `${error.message} (${String(detail)})`;
}

/** One line per node and a total, aligned (pure). */
export function renderDumps(dumps: readonly NodeDump[], outDir: string): string {
  const rows = [['NODE', 'KEYS', 'BYTES', 'FILE']];
  for (const dump of dumps) {
    rows.push(
      dump.ok
        ? [dump.nodeId, String(dump.keys), String(dump.bytes), dump.file]
        : [dump.nodeId, '-', '-', `failed: ${dump.reason}`],
    );
  }
  const done = dumps.filter((dump) => dump.ok);
  const keys = done.reduce((sum, dump) => sum + dump.keys, 0);
  const bytes = done.reduce((sum, dump) => sum + dump.bytes, 0);
  rows.push(['total', String(keys), String(bytes), `${done.length} of ${dumps.length} nodes in ${outDir}`]);
  return alignColumns(rows).join('\n');
}
