// `catena bench`: a YCSB-style load generator against a running node or cluster. It connects
// with the cluster client (writes to each key's head, reads from its tail, retries around
// failovers, as an application would), optionally writes every record once, then runs one of
// YCSB's core workloads (src/bench/workload.ts) for a time or a number of operations, and prints
// throughput and latency percentiles per operation type; --json keeps the whole result,
// --report draws it as an HTML page (src/bench/report.ts).
//
// Argument parsing is apart from the run (`parseBenchArgs`, pure and tested): a bad argument is
// reported before anything connects. Output files are checked for a writable directory before
// the run too, so a long run is not lost to a typo at its end.

import { constants } from 'node:fs';
import { access, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ClusterClient } from '../client/cluster-client.js';
import { CatenaError } from '../core/errors.js';
import {
  valueBytesMaxDefault,
  benchConcurrencyMax,
  benchRecordsMax,
  benchSecondsMax,
  benchSeedMax,
} from '../core/limits.js';
import { ProgressBar } from '../bench/progress.js';
import { renderHtml, renderTable } from '../bench/report.js';
import {
  distributions,
  runWorkload,
  workloadNames,
  type BenchResult,
  type BenchTarget,
  type WorkloadOptions,
} from '../bench/workload.js';
import { flagInt, flagString, parseArgs, renderFlags, type FlagSpec } from './args.js';
import { connectFromFlags, connectionFlags } from './connection.js';
import { parseCommandArgs } from './settings.js';

export const benchFlags: FlagSpec = {
  ...connectionFlags,
  workload: {
    kind: 'string',
    description: 'a (50% read/50% update), b (95/5), c (read only), f (read-modify-write), write',
    default: 'a',
  },
  records: { kind: 'string', description: 'keys user0.. the workload chooses from', default: '10000' },
  distribution: { kind: 'string', description: 'key popularity: uniform or zipfian', default: 'zipfian' },
  'value-bytes': { kind: 'string', description: 'size of each value written', default: '100' },
  concurrency: { kind: 'string', description: 'operations in flight at once', default: '16' },
  duration: { kind: 'string', description: 'seconds measured (or give --operations)', default: '10' },
  operations: { kind: 'string', description: 'measure exactly this many operations instead of a duration' },
  warmup: { kind: 'string', description: 'seconds run first and not measured', default: '2' },
  'no-load': { kind: 'boolean', description: 'do not write every record before the run (already loaded)' },
  seed: { kind: 'string', description: 'seed of the key, operation and value choices', default: '1' },
  label: { kind: 'string', description: 'name of this run in the JSON and the report' },
  json: { kind: 'string', description: 'write the whole result to this file (JSON)' },
  report: { kind: 'string', description: 'write an HTML page with charts to this file' },
  help: { kind: 'boolean', description: 'show this help' },
};

export const benchHelp = `Usage: catena bench [-h H -p P | --endpoints h:p,h:p] [--workload a|b|c|f|write] [options]

Drives the cluster with one of YCSB's core workloads and reports throughput and latency
percentiles (p50, p95, p99, p99.9, max) per operation type. First writes every record once
(unless --no-load), then runs the workload for --warmup seconds unmeasured and for --duration
seconds (or --operations operations) measured, with --concurrency operations in flight.

Workloads: a = 50% read, 50% update; b = 95% read, 5% update; c = read only;
f = 50% read, 50% read-modify-write (read a key, then write it; timed as one);
write = update only. Keys are user<n> for n below --records, chosen with --distribution.

Prints a table; --json FILE keeps the result (options, per-operation statistics, a per-second
timeline), --report FILE.html draws it (throughput over time, latency percentiles). Exits 1 when
some operations failed (they are counted, the run goes on), 2 on a bad argument.

Options:
${renderFlags(benchFlags)}
`;

/** What the command line asks for, checked. */
export interface BenchArgs {
  workload: Omit<WorkloadOptions, 'onProgress'>;
  label: string | undefined;
  jsonFile: string | undefined;
  reportFile: string | undefined;
}

export async function runBench(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs(argv, benchFlags);
  if (args.flags.has('help')) {
    process.stdout.write(benchHelp);
    return 0;
  }
  const bench = parseBenchArgs(argv);
  for (const file of [bench.jsonFile, bench.reportFile]) if (file !== undefined) await checkWritable(file);
  const client = await connectFromFlags(args, benchFlags);
  const target = catenaTarget(client);
  const bar = new ProgressBar(process.stderr);
  let result: BenchResult;
  try {
    result = await runWorkload(target, { ...bench.workload, onProgress: (progress) => bar.update(progress) });
  } finally {
    bar.finish();
    await target.close();
  }
  if (bench.label !== undefined) result.label = bench.label;
  process.stdout.write(`${renderTable(result)}\n`);
  if (bench.jsonFile !== undefined) {
    await writeFile(bench.jsonFile, `${JSON.stringify(result, null, 2)}\n`);
    process.stderr.write(`wrote ${bench.jsonFile}\n`);
  }
  if (bench.reportFile !== undefined) {
    await writeFile(bench.reportFile, renderHtml(result));
    process.stderr.write(`wrote ${bench.reportFile}\n`);
  }
  const failed = result.totalErrors + (result.load?.errors ?? 0);
  if (failed > 0) process.stderr.write(`catena: ${failed} operations failed\n`);
  return failed > 0 ? 1 : 0;
}

/** The bench's options from its command line (pure); ERR_INVALID_ARGUMENT when one is wrong. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const args = parseArgs(argv, benchFlags);
  if (args.positional.length > 0) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `unexpected argument ${args.positional[0]}`);
  }
  const workload = oneOf(flagString(args, benchFlags, 'workload')!, workloadNames, 'workload');
  const distribution = oneOf(flagString(args, benchFlags, 'distribution')!, distributions, 'distribution');
  const int = (name: string, min: number, max: number) => flagInt(args, benchFlags, name, { min, max })!;
  if (args.flags.has('duration') && args.flags.has('operations')) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', 'give --duration or --operations, not both');
  }
  const measured = args.flags.has('operations')
    ? { operations: int('operations', 1, Number.MAX_SAFE_INTEGER) }
    : { durationMs: Math.round(secondsFlag(flagString(args, benchFlags, 'duration')!, 'duration', false) * 1000) };
  return {
    workload: {
      workload,
      records: int('records', 1, benchRecordsMax),
      distribution,
      valueBytes: int('value-bytes', 0, valueBytesMaxDefault),
      concurrency: int('concurrency', 1, benchConcurrencyMax),
      ...measured,
      warmupMs: Math.round(secondsFlag(flagString(args, benchFlags, 'warmup')!, 'warmup', true) * 1000),
      seed: int('seed', 0, benchSeedMax),
      load: !args.flags.has('no-load'),
    },
    label: flagString(args, benchFlags, 'label'),
    jsonFile: flagString(args, benchFlags, 'json'),
    reportFile: flagString(args, benchFlags, 'report'),
  };
}

/** A BenchTarget over the Catena client: read = get (a missing key is an answer), update = put. */
export function catenaTarget(client: Pick<ClusterClient, 'get' | 'put' | 'close'>): BenchTarget {
  const ignore = (): void => undefined;
  return {
    read: (key) => client.get(key).then(ignore),
    update: (key, value) => client.put(key, value).then(ignore),
    close: () => client.close(),
  };
}

function oneOf<T extends string>(value: string, allowed: readonly T[], name: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `--${name} must be one of ${allowed.join(', ')} (not "${value}")`);
  }
  return value as T;
}

/** Seconds, whole or decimal (1, 0.5); at most benchSecondsMax, 0 only where `zeroAllowed`. */
function secondsFlag(text: string, name: string, zeroAllowed: boolean): number {
  const value = Number(text);
  const valid = /^\d+(\.\d+)?$/.test(text) && value <= benchSecondsMax && (zeroAllowed || value > 0);
  if (!valid) {
    const least = zeroAllowed ? '0' : 'more than 0';
    throw new CatenaError('ERR_INVALID_ARGUMENT', `--${name} must be seconds from ${least} to ${benchSecondsMax}`);
  }
  return value;
}

/** Fails now, not after the run, when a result file's directory cannot be written. */
async function checkWritable(file: string): Promise<void> {
  const directory = dirname(resolve(file));
  try {
    await access(directory, constants.W_OK);
  } catch {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `cannot write ${file}: ${directory} is not a writable directory`);
  }
}
