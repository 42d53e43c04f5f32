// The load generator of `catena bench`: YCSB's core workloads driven against any `BenchTarget`
// (the Catena client in practice, an in-memory fake in the tests), measured into latency
// histograms per operation type and a one-second timeline.
//
// A run has up to three phases, each driven by `concurrency` workers that loop
// "choose operation, choose key, await it" (a closed loop: one operation in flight per worker):
//
//   load     every record written once, in key order (skipped with load: false)
//   warm-up  warmupMs of the run's mix, nothing recorded (connections open, caches fill, the JIT
//            settles); its operations all finish before the measured run starts
//   run      durationMs, or exactly `operations` operations; each one is recorded when it
//            finishes. With durationMs no operation starts after the deadline, and those in
//            flight then still count (the measured duration runs to the last one's end).
//
// An operation that fails is counted as an error of its type (the first message kept) and the
// run goes on; its latency is not recorded (a quick refusal would flatter the percentiles).
// Only an AssertionError, a bug, stops the run.
//
// Randomness comes from one seeded generator, so a seed replays the same choices of operations,
// keys and values (in the order the workers ask for them).

import { AssertionError } from '../core/assert.js';
import { CatenaError } from '../core/errors.js';
import { LatencyHistogram } from '../core/histogram.js';
import { Prng } from '../core/prng.js';
import {
  benchConcurrencyMax,
  benchErrorPauseMs,
  benchProgressIntervalMs,
  benchRecordsMax,
  benchTimelineIntervalMs,
  benchValueBytesMax,
} from '../core/limits.js';
import { scrambledZipfianChooser, uniformChooser, type KeyChooser, type RandomSource } from './zipfian.js';

/** One connection (or client pool) to the system under test. */
export interface BenchTarget {
  /** Reads a key; a missing key is an answer, an error reply must reject. */
  read(key: string): Promise<void>;
  update(key: string, value: Buffer): Promise<void>;
  close(): Promise<void>;
}

export type WorkloadName = 'a' | 'b' | 'c' | 'f' | 'write';
export type Distribution = 'uniform' | 'zipfian';
export type OperationName = 'read' | 'update' | 'read-modify-write';
export type Phase = 'load' | 'warm-up' | 'run';

export interface Progress {
  phase: Phase;
  /** Since the phase began (the warm-up and the run share one clock: totalMs covers both). */
  elapsedMs: number;
  totalMs?: number;
  done: number;
  total?: number;
  /** Over the last report interval. */
  opsPerSec: number;
}

export interface WorkloadOptions {
  workload: WorkloadName;
  records: number;
  distribution: Distribution;
  valueBytes: number;
  /** Operations in flight at once (one per worker). */
  concurrency: number;
  /** Exactly one of durationMs and operations. */
  durationMs?: number;
  operations?: number;
  warmupMs: number;
  seed: number;
  /** Write every record once before the run (measured apart, in `load`). */
  load: boolean;
  onProgress?: (progress: Progress) => void;
}

/** The options as they are recorded in a result (no callback, no undefined fields). */
export type RecordedOptions = Omit<WorkloadOptions, 'onProgress'>;

export interface OperationStats {
  op: OperationName;
  /** Operations finished in the measured run, failed ones included. */
  count: number;
  errors: number;
  /** The first failure's message, or null. */
  firstError: string | null;
  opsPerSec: number;
  /** Latencies of the operations that succeeded, in µs (0 when none did). */
  p50Us: number;
  p95Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  meanUs: number;
}

/** One interval of the measured run (one second; the last may be shorter). */
export interface TimelinePoint {
  /** Since the measured run began. */
  startMs: number;
  durationMs: number;
  ops: number;
  errors: number;
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
}

export interface LoadStats {
  records: number;
  durationMs: number;
  opsPerSec: number;
  errors: number;
  firstError: string | null;
}

/** Everything a run measured; JSON-serialisable (it round-trips through JSON.stringify). */
export interface BenchResult {
  /** Names the run in a comparison (renderHtml of several results). */
  label?: string;
  options: RecordedOptions;
  /** When the measured run began (ISO 8601). */
  startedAt: string;
  /** Measured run, from its start to its last operation's end. */
  durationMs: number;
  totalOps: number;
  totalErrors: number;
  opsPerSec: number;
  /** One entry per operation type of the workload's mix, in the mix's order. */
  operations: OperationStats[];
  timeline: TimelinePoint[];
  /** The load phase, or null when it was skipped. */
  load: LoadStats | null;
}

/** YCSB's core workloads as shares of each operation type. */
export const workloadMixes: Readonly<Record<WorkloadName, readonly [OperationName, number][]>> = {
  a: [
    ['read', 0.5],
    ['update', 0.5],
  ],
  b: [
    ['read', 0.95],
    ['update', 0.05],
  ],
  c: [['read', 1]],
  f: [
    ['read', 0.5],
    ['read-modify-write', 0.5],
  ],
  write: [['update', 1]],
};

export const workloadNames = Object.keys(workloadMixes) as WorkloadName[];
export const distributions: readonly Distribution[] = ['uniform', 'zipfian'];

/** Distinct values in the pool (overlapping windows of one random buffer). */
const valuePoolSize = 256;

/** The key of record `index`: YCSB's "user" and the index, zero-padded to the widest index. */
export function keyName(index: number, records: number): string {
  return `user${String(index).padStart(String(records - 1).length, '0')}`;
}

export async function runWorkload(target: BenchTarget, options: WorkloadOptions): Promise<BenchResult> {
  const recorded = checkOptions(options);
  const random = new Prng(options.seed);
  const values = new ValuePool(options.valueBytes, random);
  const load = options.load ? await runLoad(target, options, values) : null;
  const chooser: KeyChooser =
    options.distribution === 'uniform'
      ? uniformChooser(options.records, random)
      : scrambledZipfianChooser(options.records, random);
  const next = nextOperation({
    mix: workloadMixes[options.workload],
    chooser,
    random,
    values,
    records: options.records,
  });
  if (options.warmupMs > 0) await warmUp(target, options, next);
  const measured = await measure(target, options, next);
  return { options: recorded, load, ...measured };
}

/** Writes every record once, in key order; progress as done/total. */
export async function runLoad(
  target: BenchTarget,
  options: Pick<WorkloadOptions, 'records' | 'concurrency' | 'onProgress'>,
  values: ValuePool,
): Promise<LoadStats> {
  const started = performance.now();
  const failures = new Failures();
  let issued = 0;
  let done = 0;
  const progress = new ProgressReporter('load', options.onProgress, () => ({ done, total: options.records }));
  try {
    await drive(options.concurrency, async () => {
      if (issued >= options.records) return false;
      const index = issued++;
      try {
        await target.update(keyName(index, options.records), values.at(index));
      } catch (error) {
        failures.add(error);
        await new Promise((resolve) => setTimeout(resolve, benchErrorPauseMs));
      }
      done += 1;
      return true;
    });
  } finally {
    progress.stop();
  }
  const durationMs = performance.now() - started;
  return {
    records: options.records,
    durationMs: round(durationMs, 3),
    opsPerSec: rate(options.records, durationMs),
    errors: failures.count,
    firstError: failures.first,
  };
}

// ---------------------------------------------------------------------------------------------
// Phases.

/** What a worker does next: an operation type and its key and value, drawn from the generator. */
interface NextOperation {
  op: OperationName;
  key: string;
  value: Buffer;
}

function nextOperation(source: {
  mix: readonly [OperationName, number][];
  chooser: KeyChooser;
  random: RandomSource;
  values: ValuePool;
  records: number;
}): () => NextOperation {
  const { mix, chooser, random, values, records } = source;
  return () => {
    const draw = random.next();
    let op = mix[mix.length - 1]![0];
    let cumulative = 0;
    for (const [name, share] of mix) {
      cumulative += share;
      if (draw < cumulative) {
        op = name;
        break;
      }
    }
    return { op, key: keyName(chooser(), records), value: values.next() };
  };
}

async function warmUp(target: BenchTarget, options: WorkloadOptions, next: () => NextOperation): Promise<void> {
  const started = performance.now();
  const deadline = started + options.warmupMs;
  let done = 0;
  const progress = new ProgressReporter('warm-up', options.onProgress, () => ({
    done,
    ...(options.durationMs !== undefined ? { totalMs: options.warmupMs + options.durationMs } : {}),
  }));
  try {
    await drive(options.concurrency, async () => {
      if (performance.now() >= deadline) return false;
      await execute(target, next()).catch(rethrowBugs);
      done += 1;
      return true;
    });
  } finally {
    progress.stop();
  }
}

async function measure(
  target: BenchTarget,
  options: WorkloadOptions,
  next: () => NextOperation,
): Promise<Omit<BenchResult, 'options' | 'load' | 'label'>> {
  const mix = workloadMixes[options.workload];
  const stats = new Map(mix.map(([op]) => [op, new OperationRecorder(op)]));
  const timeline = new Timeline(benchTimelineIntervalMs, options.durationMs);
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const deadline = options.durationMs === undefined ? Infinity : started + options.durationMs;
  let issued = 0;
  let lastEnd = started;
  const progress = new ProgressReporter('run', options.onProgress, () => ({
    done: timeline.ops,
    ...(options.durationMs === undefined
      ? { total: options.operations! }
      : { totalMs: options.warmupMs + options.durationMs }),
  }));
  progress.offsetMs = options.warmupMs;
  try {
    await drive(options.concurrency, async () => {
      if (options.operations !== undefined ? issued >= options.operations : performance.now() >= deadline) {
        return false;
      }
      issued += 1;
      const operation = next();
      const begin = performance.now();
      const error = await execute(target, operation).then(() => undefined, rethrowBugs);
      const end = performance.now();
      lastEnd = Math.max(lastEnd, end);
      const latencyUs = error === undefined ? (end - begin) * 1000 : undefined;
      stats.get(operation.op)!.record(latencyUs, error);
      timeline.record(end - started, latencyUs);
      // A failing system answers at once: pause this worker so errors do not spin the CPU.
      if (error !== undefined) await new Promise((resolve) => setTimeout(resolve, benchErrorPauseMs));
      return true;
    });
  } finally {
    progress.stop();
  }
  const durationMs = lastEnd - started;
  const operations = [...stats.values()].map((recorder) => recorder.summary(durationMs));
  const totalOps = operations.reduce((sum, op) => sum + op.count, 0);
  return {
    startedAt,
    durationMs: round(durationMs, 3),
    totalOps,
    totalErrors: operations.reduce((sum, op) => sum + op.errors, 0),
    opsPerSec: rate(totalOps, durationMs),
    operations,
    timeline: timeline.finish(durationMs),
  };
}

/** Runs `concurrency` workers, each calling `step` until it returns false. */
async function drive(concurrency: number, step: () => Promise<boolean>): Promise<void> {
  const worker = async () => {
    for (let more = true; more;) more = await step();
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** One operation; read-modify-write reads the key, then writes it. */
async function execute(target: BenchTarget, operation: NextOperation): Promise<void> {
  switch (operation.op) {
    case 'read':
      return target.read(operation.key);
    case 'update':
      return target.update(operation.key, operation.value);
    case 'read-modify-write':
      await target.read(operation.key);
      return target.update(operation.key, operation.value);
  }
}

/** A failed operation becomes its message; a broken invariant of ours is not a failed operation. */
function rethrowBugs(error: unknown): string {
  if (error instanceof AssertionError) throw error;
  return describeError(error);
}

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.startsWith(code) ? `${code}: ${error.message}` : error.message;
}

// ---------------------------------------------------------------------------------------------
// Recording.

class Failures {
  count = 0;
  first: string | null = null;

  add(error: unknown): void {
    const message = rethrowBugs(error);
    this.count += 1;
    this.first ??= message;
  }
}

class OperationRecorder {
  private readonly histogram = new LatencyHistogram();
  private count = 0;
  private errors = 0;
  private firstError: string | null = null;
  private sumUs = 0;

  constructor(private readonly op: OperationName) {}

  /** latencyUs is undefined for a failed operation, whose message is `error`. */
  record(latencyUs: number | undefined, error: string | undefined): void {
    this.count += 1;
    if (error !== undefined) {
      this.errors += 1;
      this.firstError ??= error;
      return;
    }
    this.histogram.record(latencyUs!);
    this.sumUs += latencyUs!;
  }

  summary(durationMs: number): OperationStats {
    const h = this.histogram;
    return {
      op: this.op,
      count: this.count,
      errors: this.errors,
      firstError: this.firstError,
      opsPerSec: rate(this.count, durationMs),
      p50Us: h.quantile(0.5),
      p95Us: h.quantile(0.95),
      p99Us: h.quantile(0.99),
      p999Us: h.quantile(0.999),
      maxUs: h.max,
      meanUs: h.count === 0 ? 0 : round(this.sumUs / h.count, 1),
    };
  }
}

/**
 * Operations per interval of the measured run, with a fresh histogram per interval. Operations
 * are recorded as they finish, so in time order: an interval is closed when the first operation
 * of a later one arrives, and intervals in which nothing finished appear with 0 operations.
 * Interval i holds what finished in (i·intervalMs, (i+1)·intervalMs]. With a planned duration,
 * what finishes after it (operations in flight at the deadline) joins the last interval instead
 * of making a short one of its own.
 */
class Timeline {
  readonly points: TimelinePoint[] = [];
  ops = 0;
  private index = 0;
  private intervalOps = 0;
  private intervalErrors = 0;
  private histogram = new LatencyHistogram();
  private readonly lastIndex: number;

  constructor(
    private readonly intervalMs: number,
    plannedMs: number | undefined,
  ) {
    this.lastIndex = plannedMs === undefined ? Infinity : this.indexOf(plannedMs);
  }

  record(sinceStartMs: number, latencyUs: number | undefined): void {
    const index = Math.min(this.indexOf(sinceStartMs), this.lastIndex);
    while (this.index < index) this.close(this.intervalMs);
    this.ops += 1;
    this.intervalOps += 1;
    if (latencyUs === undefined) this.intervalErrors += 1;
    else this.histogram.record(latencyUs);
  }

  /** The points up to `durationMs`; the last one runs to it. */
  finish(durationMs: number): TimelinePoint[] {
    const lastIndex = Math.min(this.indexOf(durationMs), this.lastIndex);
    while (this.index < lastIndex) this.close(this.intervalMs);
    this.close(Math.max(0, durationMs - this.index * this.intervalMs));
    return this.points;
  }

  private indexOf(sinceStartMs: number): number {
    return Math.max(0, Math.ceil(sinceStartMs / this.intervalMs) - 1);
  }

  private close(durationMs: number): void {
    this.points.push({
      startMs: this.index * this.intervalMs,
      durationMs: round(durationMs, 3),
      ops: this.intervalOps,
      errors: this.intervalErrors,
      opsPerSec: rate(this.intervalOps, durationMs),
      p50Us: this.histogram.quantile(0.5),
      p99Us: this.histogram.quantile(0.99),
    });
    this.index += 1;
    this.intervalOps = 0;
    this.intervalErrors = 0;
    this.histogram = new LatencyHistogram();
  }
}

/**
 * Calls onProgress every benchProgressIntervalMs while a phase runs (the rate over the last interval),
 * and once at its end (the rate over the whole phase).
 */
class ProgressReporter {
  offsetMs = 0;
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout | undefined;
  private lastAt = this.started;
  private lastDone = 0;

  constructor(
    private readonly phase: Phase,
    private readonly onProgress: WorkloadOptions['onProgress'],
    private readonly counts: () => { done: number; total?: number; totalMs?: number },
  ) {
    if (onProgress === undefined) return;
    this.timer = setInterval(() => this.report(), benchProgressIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.report(true);
  }

  private report(final = false): void {
    if (this.onProgress === undefined) return;
    const now = performance.now();
    const counts = this.counts();
    const opsPerSec = final
      ? rate(counts.done, now - this.started)
      : rate(counts.done - this.lastDone, now - this.lastAt);
    this.lastAt = now;
    this.lastDone = counts.done;
    this.onProgress({ phase: this.phase, elapsedMs: this.offsetMs + (now - this.started), opsPerSec, ...counts });
  }
}

// ---------------------------------------------------------------------------------------------
// Values and options.

/**
 * The values written: `valuePoolSize` overlapping windows of one random buffer, made once, so
 * an update allocates nothing and consecutive values still differ.
 */
export class ValuePool {
  private readonly values: Buffer[];
  private cursor = 0;

  constructor(valueBytes: number, random: RandomSource) {
    const bytes = Buffer.alloc(valueBytes + valuePoolSize - 1);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random.next() * 256);
    this.values = Array.from({ length: valuePoolSize }, (_, i) => bytes.subarray(i, i + valueBytes));
  }

  next(): Buffer {
    this.cursor = (this.cursor + 1) % this.values.length;
    return this.values[this.cursor]!;
  }

  at(index: number): Buffer {
    return this.values[index % this.values.length]!;
  }
}

/** Validates the options and returns them as recorded in the result. */
export function checkOptions(options: WorkloadOptions): RecordedOptions {
  const invalid = (message: string) => new CatenaError('ERR_INVALID_ARGUMENT', message);
  const isInt = (value: number, min: number, max: number) =>
    Number.isSafeInteger(value) && value >= min && value <= max;
  if (!workloadNames.includes(options.workload)) throw invalid(`unknown workload ${String(options.workload)}`);
  if (!distributions.includes(options.distribution)) {
    throw invalid(`unknown distribution ${String(options.distribution)}`);
  }
  if (!isInt(options.records, 1, benchRecordsMax)) throw invalid(`records must be 1..${benchRecordsMax}`);
  if (!isInt(options.valueBytes, 0, benchValueBytesMax)) throw invalid(`valueBytes must be 0..${benchValueBytesMax}`);
  if (!isInt(options.concurrency, 1, benchConcurrencyMax)) {
    throw invalid(`concurrency must be 1..${benchConcurrencyMax}`);
  }
  if ((options.durationMs === undefined) === (options.operations === undefined)) {
    throw invalid('give exactly one of durationMs and operations');
  }
  if (options.durationMs !== undefined && !(options.durationMs > 0 && Number.isFinite(options.durationMs))) {
    throw invalid('durationMs must be positive');
  }
  if (options.operations !== undefined && !isInt(options.operations, 1, Number.MAX_SAFE_INTEGER)) {
    throw invalid('operations must be a positive integer');
  }
  if (!(options.warmupMs >= 0 && Number.isFinite(options.warmupMs))) throw invalid('warmupMs must be 0 or more');
  if (!Number.isSafeInteger(options.seed)) throw invalid('seed must be an integer');
  const { workload, records, distribution, valueBytes, concurrency, durationMs, operations, warmupMs, seed, load } =
    options;
  return {
    workload,
    records,
    distribution,
    valueBytes,
    concurrency,
    ...(durationMs !== undefined ? { durationMs } : { operations: operations! }),
    warmupMs,
    seed,
    load,
  };
}

/** Events per second over `ms`, to 0.1; 0 over an empty interval. */
function rate(events: number, ms: number): number {
  return ms > 0 ? round((events * 1000) / ms, 1) : 0;
}

function round(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}
