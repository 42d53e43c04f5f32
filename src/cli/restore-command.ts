// `catena restore DIR`: loads a dump (`catena dump`: one file per chain; a node's
// `--dump-on-exit` file; the format is in server/dump.ts) into a running cluster of any layout.
// Nothing about the dumped cluster's chains is kept: every record is written through the cluster
// client as a `set` with its value, flags and absolute expiry, so each key lands on the chain the
// new slot map gives it, and a key keeps the moment it expires (one that expired since the dump
// is skipped). Versions are the new cluster's own.
//
// Exactly once, across failures and reruns:
//  * within a run, a write retried after a failover is applied once (the cluster client's writer
//    ids, docs/design.md §3.6);
//  * a write is `set ... nx` (only if absent) unless --replace: a record sent twice is applied
//    once, and a key the cluster already had, or that an application wrote since, is kept;
//  * records are sent in batches, and after each batch the progress file (<DIR>/restore-
//    progress.json unless --progress-file) records how many records of each file are done,
//    written whole or not at all. A rerun after an interruption (Ctrl-C, a lost node, a timeout)
//    skips what it records and resends only the batch that was in flight (with nx: applied at
//    most once; with --replace: the same values again). A rerun after a finished restore writes
//    nothing. The progress names the cluster and each file's size: another cluster, or a changed
//    file, starts over.
//
// Memory is bounded: a file is read in chunks, one line (at most dumpLineCharsMax) and one batch
// (restoreBatchRecords records, about restoreBatchBytesMax bytes) at a time.

import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterClient, Topology } from '../client/cluster-client.js';
import { CatenaError } from '../core/errors.js';
import {
  dumpLineCharsMax,
  restoreBatchBytesMax,
  restoreBatchRecords,
  restoreRedrawIntervalMs,
} from '../core/limits.js';
import { SetCondition } from '../protocol/native/gen/catena_pb.js';
import { decodeDumpHeader, decodeDumpRecord, writeFileAtomically, type DumpRecord } from '../server/dump.js';
import { compact } from '../bench/progress.js';
import { flagString, renderFlags, type FlagSpec } from './args.js';
import { connectFromFlags, connectionFlags } from './connection.js';
import { parseCommandArgs } from './settings.js';

export const restoreFlags: FlagSpec = {
  ...connectionFlags,
  replace: { kind: 'boolean', description: 'overwrite keys the cluster already has (default: keep them)' },
  'progress-file': {
    kind: 'string',
    description: 'where the restore records how far it got (default <DIR>/restore-progress.json)',
  },
  help: { kind: 'boolean', description: 'show this help' },
};

export const restoreHelp = `Usage: catena restore DIR [-h H -p P | --endpoints h:p,h:p] [--replace]

Loads every DIR/*.jsonl dump file (catena dump; a node's --dump-on-exit file) into a running
cluster, whatever its chains: each key goes to the chain that owns its slot now, with its value,
flags and expiry (the same moment: a key that expired since the dump is skipped). Keys get new
versions. A key the cluster already has is kept unless --replace.

The restore records how far it got in a progress file after every batch. Run it again after an
interruption and it goes on from there, writing nothing twice; run again after it finished, it
writes nothing. A progress bar is drawn on a terminal. Prints, per file, the records written,
kept (already present), expired and done by an earlier run.

Options:
${renderFlags(restoreFlags)}
`;

/** How far a restore got: per file, records done (the header excluded). */
interface RestoreProgress {
  /** The cluster restored into (targetOf). */
  readonly target: string;
  readonly files: Record<string, { readonly bytes: number; readonly records: number; readonly done: boolean }>;
}

/** What a file's restore did. */
export interface FileRestore {
  readonly file: string;
  readonly records: number;
  readonly written: number;
  readonly kept: number;
  readonly expired: number;
  /** Skipped: written by an earlier run, by the progress file. */
  readonly earlier: number;
}

export async function runRestore(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs(argv, restoreFlags);
  if (args.flags.has('help')) {
    process.stdout.write(restoreHelp);
    return 0;
  }
  if (args.positional.length !== 1) {
    throw new CatenaError(
      'ERR_INVALID_ARGUMENT',
      'give one dump directory: catena restore DIR (catena restore --help)',
    );
  }
  const dir = args.positional[0]!;
  const files = await dumpFiles(dir);
  const progressPath = flagString(args, restoreFlags, 'progress-file') ?? join(dir, 'restore-progress.json');
  const client = await connectFromFlags(args, restoreFlags);
  try {
    const topology = await client.topology();
    const cluster = topology.cluster;
    const startedMs = Date.now();
    const results = await restoreFiles(client, {
      dir,
      files,
      target: await targetOf(client, topology),
      progressPath,
      replace: args.flags.has('replace'),
      bar: new RestoreBar(files.reduce((sum, file) => sum + file.bytes, 0)),
    });
    process.stdout.write(`${renderRestore(results, cluster, Date.now() - startedMs)}\n`);
    return 0;
  } finally {
    await client.close();
  }
}

/**
 * Which cluster a progress file is about: its name and its nodes' ids (random per data directory),
 * so a restore of the same dump into another cluster of the same name starts over. A node
 * replaced since also starts it over, which writes nothing twice (nx) and only costs time.
 */
async function targetOf(client: ClusterClient, topology: Topology): Promise<string> {
  const ids = client.isStandalone ? [(await client.nodeStatus()).nodeId] : topology.nodes.map((node) => node.nodeId);
  return `${topology.cluster}/${ids.sort().join(',')}`;
}

/** The dump files of `dir`, by name, with their sizes. */
async function dumpFiles(dir: string): Promise<{ name: string; bytes: number }[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith('.jsonl')).sort();
  } catch (error) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `cannot read the dump directory ${dir}: ${String(error)}`);
  }
  if (names.length === 0) throw new CatenaError('ERR_INVALID_ARGUMENT', `${dir} holds no dump (*.jsonl) file`);
  return Promise.all(names.map(async (name) => ({ name, bytes: (await stat(join(dir, name))).size })));
}

interface RestoreRun {
  dir: string;
  files: readonly { name: string; bytes: number }[];
  target: string;
  progressPath: string;
  replace: boolean;
  bar: RestoreBar;
}

async function restoreFiles(client: ClusterClient, run: RestoreRun): Promise<FileRestore[]> {
  const saved = await readProgress(run.progressPath, run.target);
  const progress: RestoreProgress = { target: run.target, files: {} };
  for (const file of run.files) {
    const entry = saved?.files[file.name];
    if (entry !== undefined && entry.bytes === file.bytes) progress.files[file.name] = entry;
  }
  const results: FileRestore[] = [];
  try {
    for (const file of run.files) {
      const skip = progress.files[file.name]?.records ?? 0;
      const checkpoint = (records: number, done: boolean) => {
        progress.files[file.name] = { bytes: file.bytes, records, done };
        return saveProgress(run.progressPath, progress);
      };
      results.push(
        await restoreFile(client, join(run.dir, file.name), { skip, replace: run.replace, checkpoint, run }),
      );
    }
  } finally {
    run.bar.finish();
  }
  return results;
}

/** The progress an earlier run of this restore into `target` saved, if any. */
async function readProgress(path: string, target: string): Promise<RestoreProgress | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CatenaError('ERR_INVALID_ARGUMENT', `cannot read the progress file ${path}: ${String(error)}`);
  }
  let parsed: Partial<RestoreProgress & { catena: string }>;
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `${path} is not a restore progress file: remove it to start over`);
  }
  if (parsed.catena !== 'restore-progress' || typeof parsed.files !== 'object' || parsed.files === null) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `${path} is not a restore progress file: remove it to start over`);
  }
  return parsed.target === target ? { target, files: parsed.files } : undefined;
}

function saveProgress(path: string, progress: RestoreProgress): Promise<void> {
  const text = `${JSON.stringify({ catena: 'restore-progress', ...progress })}\n`;
  return writeFileAtomically(path, (write) => write(Buffer.from(text, 'utf8')));
}

interface FileOptions {
  skip: number;
  replace: boolean;
  checkpoint: (records: number, done: boolean) => Promise<void>;
  run: RestoreRun;
}

/** Restores one file: its records after the first `skip`, a batch at a time, checkpointing each. */
async function restoreFile(client: ClusterClient, path: string, options: FileOptions): Promise<FileRestore> {
  const counts = { records: 0, written: 0, kept: 0, expired: 0, earlier: 0 };
  let batch: DumpRecord[] = [];
  let batchBytes = 0;
  const flush = async () => {
    const outcome = await writeBatch(client, batch, options.replace);
    counts.written += outcome.written;
    counts.kept += outcome.kept;
    counts.expired += outcome.expired;
    options.run.bar.advance(0, batch.length);
    batch = [];
    batchBytes = 0;
    await options.checkpoint(counts.records, false);
  };
  let header = true;
  for await (const { line, bytes } of lines(path)) {
    options.run.bar.advance(bytes, 0);
    if (header) {
      const decoded = decodeDumpHeader(line);
      if (!decoded.ok) throw new CatenaError('ERR_INVALID_ARGUMENT', `${path}: ${decoded.reason}`);
      header = false;
      continue;
    }
    counts.records += 1;
    if (counts.records <= options.skip) {
      counts.earlier += 1;
      continue;
    }
    const record = decodeDumpRecord(line);
    if (!record.ok) {
      throw new CatenaError('ERR_INVALID_ARGUMENT', `${path}: record ${counts.records}: ${record.reason}`);
    }
    batch.push(record.value);
    batchBytes += record.value.key.length + record.value.value.length;
    if (batch.length >= restoreBatchRecords || batchBytes >= restoreBatchBytesMax) await flush();
  }
  if (header) throw new CatenaError('ERR_INVALID_ARGUMENT', `${path}: empty file, not a dump`);
  if (batch.length > 0) await flush();
  await options.checkpoint(counts.records, true);
  return { file: path, ...counts };
}

/** Writes a batch at once (the client's writer lanes bound what is in flight); waits for all. */
async function writeBatch(
  client: ClusterClient,
  records: readonly DumpRecord[],
  replace: boolean,
): Promise<{ written: number; kept: number; expired: number }> {
  const nowMs = Date.now();
  const live = records.filter((record) => record.expiresAtMs === 0 || record.expiresAtMs > nowMs);
  const settled = await Promise.allSettled(
    live.map((record) =>
      client.send('set', {
        key: record.key,
        value: record.value,
        condition: replace ? SetCondition.SET_ALWAYS : SetCondition.SET_IF_ABSENT,
        expiresAtMs: BigInt(record.expiresAtMs),
        flags: record.flags,
      }),
    ),
  );
  let written = 0;
  for (const outcome of settled) {
    // The batch is not checkpointed: a rerun sends it again (only if absent, unless --replace).
    if (outcome.status === 'rejected') throw outcome.reason;
    if (outcome.value.stored) written += 1;
  }
  return { written, kept: live.length - written, expired: records.length - live.length };
}

/** A file's lines (without "\n") and their bytes, read in chunks; a line longer than a dump's is refused. */
async function* lines(path: string): AsyncGenerator<{ line: string; bytes: number }> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let end = chunk.indexOf(0x0a); end >= 0; end = chunk.indexOf(0x0a, start)) {
      const line = Buffer.concat([...pending, chunk.subarray(start, end)]);
      pending = [];
      pendingBytes = 0;
      yield { line: line.toString('utf8'), bytes: line.length + 1 };
      start = end + 1;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      // A character of a line takes at most 3 bytes of UTF-8 (escapes and base64 take 1).
      if (pendingBytes > dumpLineCharsMax * 3) {
        throw new CatenaError('ERR_INVALID_ARGUMENT', `${path}: a line longer than a dump line can be`);
      }
    }
  }
  if (pendingBytes > 0) throw new CatenaError('ERR_INVALID_ARGUMENT', `${path}: the last line is cut short`);
}

/** The report: one line per file and a total (pure). */
export function renderRestore(results: readonly FileRestore[], cluster: string, elapsedMs: number): string {
  const rows = [['FILE', 'RECORDS', 'WRITTEN', 'KEPT', 'EXPIRED', 'EARLIER'] as string[]];
  const total = { records: 0, written: 0, kept: 0, expired: 0, earlier: 0 };
  for (const result of results) {
    rows.push([
      result.file,
      ...(['records', 'written', 'kept', 'expired', 'earlier'] as const).map((k) => String(result[k])),
    ]);
    for (const key of Object.keys(total) as (keyof typeof total)[]) total[key] += result[key];
  }
  rows.push(['total', ...Object.values(total).map(String)]);
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const table = rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd(),
  );
  const into = cluster === '' ? 'a standalone node' : `cluster "${cluster}"`;
  return [...table, `restored into ${into} in ${(elapsedMs / 1000).toFixed(1)} s`].join('\n');
}

/** The progress line on stderr, on a terminal only, redrawn at most every restoreRedrawIntervalMs. */
class RestoreBar {
  private bytes = 0;
  private records = 0;
  private drawnAtMs = -Infinity;
  private drawn = false;
  private readonly startedMs = Date.now();

  constructor(
    private readonly totalBytes: number,
    private readonly stream: { isTTY?: boolean; write(text: string): boolean } = process.stderr,
  ) {}

  advance(bytes: number, records: number): void {
    this.bytes += bytes;
    this.records += records;
    const now = Date.now();
    if (this.stream.isTTY !== true || now - this.drawnAtMs < restoreRedrawIntervalMs) return;
    this.drawnAtMs = now;
    this.drawn = true;
    const line = renderRestoreProgress({
      bytes: this.bytes,
      totalBytes: this.totalBytes,
      records: this.records,
      elapsedMs: now - this.startedMs,
    });
    this.stream.write(`\r${line}\x1b[K`);
  }

  finish(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}

/** `restore [#########.....................]  30% 1.20M of 4.00M bytes, 12.3k records sent, 5.1s` (pure). */
export function renderRestoreProgress(progress: {
  bytes: number;
  totalBytes: number;
  records: number;
  elapsedMs: number;
}): string {
  const barWidth = 30;
  const done = progress.totalBytes > 0 ? Math.min(1, progress.bytes / progress.totalBytes) : 1;
  const filled = Math.round(done * barWidth);
  const percent = `${String(Math.floor(done * 100)).padStart(3)}%`;
  return (
    `restore [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${percent} ` +
    `${compact(progress.bytes)} of ${compact(progress.totalBytes)} bytes, ` +
    `${compact(progress.records)} records sent, ${(progress.elapsedMs / 1000).toFixed(1)}s`
  );
}
