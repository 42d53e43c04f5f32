// A node's throughput and latency over the last minutes, one sample a second, for the dashboard
// (docs/dashboard.md). The request path pays nothing for it: commands keep recording into their
// cumulative histograms (stats.ts) as before, and a 1 s timer here merges those into one
// snapshot and subtracts the previous snapshot, which leaves exactly what was recorded in between.
// Samples live in a ring of seriesSamplesKept; they carry wall-clock times so the dashboard can
// draw every node's samples on one time axis.

import { assert } from '../core/assert.js';
import { LatencyHistogram } from '../core/histogram.js';
import { seriesSampleIntervalMs, seriesSamplesKept } from '../core/limits.js';

/** One second (about) of a node's requests. */
export interface SeriesSample {
  /** Wall-clock time the interval ended (ms since the epoch). */
  readonly atMs: number;
  /** Requests completed per second over the interval (one decimal). */
  readonly ops: number;
  /** Requests that failed over the interval, per second (one decimal). */
  readonly errors: number;
  /** Latency quantiles of the interval's requests, µs (0 when there were none). */
  readonly p50Us: number;
  readonly p99Us: number;
}

/** What the series diffs: cumulative counts since the node started (NodeStats.totals). */
export interface CumulativeTotals {
  readonly calls: number;
  readonly errors: number;
  readonly latency: LatencyHistogram;
}

export class ThroughputSeries {
  private readonly ring: SeriesSample[] = [];
  /** Index of the oldest sample once the ring is full. */
  private start = 0;
  private previous: CumulativeTotals | undefined;
  private previousAtMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly totals: () => CumulativeTotals,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Samples every seriesSampleIntervalMs until stop(); the timer never keeps the process alive. */
  begin(): void {
    assert(this.timer === undefined, 'the series is sampled by one timer');
    this.sample();
    this.timer = setInterval(() => this.sample(), seriesSampleIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Takes one sample: what was recorded since the last call. The first call only takes the
   * baseline. A wall clock that stepped back (or an interval of zero) yields no sample.
   */
  sample(): void {
    const atMs = this.nowMs();
    const current = this.totals();
    const previous = this.previous;
    const elapsedMs = atMs - this.previousAtMs;
    this.previous = { calls: current.calls, errors: current.errors, latency: current.latency.clone() };
    this.previousAtMs = atMs;
    if (previous === undefined || elapsedMs <= 0) return;
    const delta = LatencyHistogram.difference(current.latency, previous.latency);
    const perSecond = (count: number) => Math.round((count * 10_000) / elapsedMs) / 10;
    this.push({
      atMs,
      ops: perSecond(current.calls - previous.calls),
      errors: perSecond(current.errors - previous.errors),
      p50Us: delta.quantile(0.5),
      p99Us: delta.quantile(0.99),
    });
  }

  private push(sample: SeriesSample): void {
    if (this.ring.length < seriesSamplesKept) {
      this.ring.push(sample);
      return;
    }
    this.ring[this.start] = sample;
    this.start = (this.start + 1) % seriesSamplesKept;
  }

  /** The newest `count` samples (all kept by default), oldest first. */
  samples(count = seriesSamplesKept): SeriesSample[] {
    assert(Number.isInteger(count) && count >= 0, 'a sample count is a whole number');
    const ordered = [...this.ring.slice(this.start), ...this.ring.slice(0, this.start)];
    return count >= ordered.length ? ordered : ordered.slice(ordered.length - count);
  }
}
