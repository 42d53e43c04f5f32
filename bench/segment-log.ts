// Micro-benchmark of the segment log's commit path (src/storage/segment-log.ts) against LMDB on the
// same disk, in one run: what one durable commit costs, and what group commit buys.
//
//   segment log, 1 in flight      append one 100-byte record, sync, wait; commits/s and latency
//   segment log, no prealloc      the same with preallocateBytes 0 (every commit changes the size)
//   segment log, 50 per sync      50 appends, one sync, wait; records/s
//   LMDB, 1 put per transaction   transactionSync of one 100-byte put (overlappingSync false, so
//                                 the transaction returns after its fsync); commits/s and latency
//   LMDB, 50 puts per transaction the batch the same size as the log's
//
//   npx tsx bench/segment-log.ts [seconds per case, default 3]
//
// Temporary directories under os.tmpdir(), removed at the end: run it where the data directory
// would live (the numbers are the disk's fdatasync more than the code's).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { open } from 'lmdb';
import { SegmentLog, type SegmentLogOptions } from '../src/storage/segment-log.js';

const seconds = Number(process.argv[2] ?? 3);
const warmupMs = 300;
const payload = Buffer.alloc(100, 0x61);
const batch = 50;

interface Result {
  name: string;
  commits: number;
  records: number;
  elapsedMs: number;
  latenciesMs: number[];
}

function scratch(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'catena-bench-log-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Runs `commit` (which makes `perCommit` records durable) in a loop, one at a time, after a warm-up. */
async function measure(name: string, perCommit: number, commit: () => Promise<void> | void): Promise<Result> {
  const warmEnd = performance.now() + warmupMs;
  while (performance.now() < warmEnd) await commit();
  const latenciesMs: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  for (let now = start; now < end;) {
    await commit();
    const after = performance.now();
    latenciesMs.push(after - now);
    now = after;
  }
  const elapsedMs = performance.now() - start;
  return { name, commits: latenciesMs.length, records: latenciesMs.length * perCommit, elapsedMs, latenciesMs };
}

async function segmentLog(name: string, perCommit: number, options: SegmentLogOptions = {}): Promise<Result> {
  const dir = scratch();
  const log = SegmentLog.open(dir.path, options);
  let sequence = 1;
  try {
    return await measure(name, perCommit, () => {
      for (let i = 0; i < perCommit; i++) log.append(sequence++, payload);
      return new Promise<void>((resolve, reject) => log.sync((error) => (error ? reject(error) : resolve())));
    });
  } finally {
    await log.close();
    dir.remove();
  }
}

async function lmdb(name: string, perCommit: number): Promise<Result> {
  const dir = scratch();
  const env = open({ path: join(dir.path, 'bench.mdb'), overlappingSync: false });
  const db = env.openDB({ name: 'log', keyEncoding: 'uint32', encoding: 'binary' });
  let key = 1;
  try {
    return await measure(name, perCommit, () => {
      env.transactionSync(() => {
        for (let i = 0; i < perCommit; i++) db.putSync(key++, payload);
      });
    });
  } finally {
    await env.close();
    dir.remove();
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

function report(result: Result): void {
  const sorted = [...result.latenciesMs].sort((a, b) => a - b);
  const perSecond = (count: number): string => ((count / result.elapsedMs) * 1000).toFixed(0).padStart(7);
  console.log(
    `${result.name.padEnd(32)} ${perSecond(result.commits)} commits/s ${perSecond(result.records)} records/s` +
      `   p50 ${percentile(sorted, 0.5).toFixed(3)} ms  p99 ${percentile(sorted, 0.99).toFixed(3)} ms`,
  );
}

console.log(`${seconds} s per case, ${payload.length}-byte records, directory ${tmpdir()}`);
report(await segmentLog('segment log, 1 in flight', 1));
report(await segmentLog('segment log, no prealloc', 1, { preallocateBytes: 0 }));
report(await segmentLog(`segment log, ${batch} per sync`, batch));
report(await lmdb('LMDB, 1 put per transaction', 1));
report(await lmdb(`LMDB, ${batch} puts per transaction`, batch));
report(await segmentLog('segment log, 1 in flight (again)', 1));
