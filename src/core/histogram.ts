// A log-linear latency histogram (the HdrHistogram idea at small scale): each power of two is
// split into a fixed number of linear sub-buckets, so any recorded value is reported within
// 1/subBuckets of its true size, in constant memory and O(1) per record.

import { assert } from './assert.js';
import { latencyHistogramMaxUs, latencyHistogramSubBuckets } from './limits.js';

const powers = Math.ceil(Math.log2(latencyHistogramMaxUs)) + 1;

export class LatencyHistogram {
  private readonly counts = new Float64Array(powers * latencyHistogramSubBuckets);
  private total = 0;
  private maxUs = 0;
  private sumUs = 0;

  get count(): number {
    return this.total;
  }

  get max(): number {
    return this.maxUs;
  }

  /** The sum of every value recorded (each as recorded: rounded, clamped). */
  get sum(): number {
    return this.sumUs;
  }

  record(valueUs: number): void {
    const value = Math.min(Math.max(1, Math.round(valueUs)), latencyHistogramMaxUs);
    const index = LatencyHistogram.indexOf(value);
    this.counts[index]! += 1;
    this.total += 1;
    this.sumUs += value;
    if (value > this.maxUs) this.maxUs = value;
  }

  /**
   * For each bound (ascending), how many values are at most that bound, counting each value at its
   * bucket's upper bound: a value may be counted one bound too high, never too low (Prometheus's
   * cumulative `le` buckets, within 1/subBuckets of the true value).
   */
  countsAtMost(bounds: readonly number[]): number[] {
    const counts = new Array<number>(bounds.length).fill(0);
    let bound = 0;
    let seen = 0;
    for (let index = 0; index < this.counts.length && bound < bounds.length; index++) {
      const count = this.counts[index]!;
      if (count === 0) continue;
      const upper = LatencyHistogram.upperBoundOf(index);
      while (bound < bounds.length && upper > bounds[bound]!) counts[bound++] = seen;
      seen += count;
    }
    while (bound < bounds.length) counts[bound++] = seen;
    return counts;
  }

  /** The value at quantile q (0..1): an upper bound of the bucket holding it. */
  quantile(q: number): number {
    assert(q >= 0 && q <= 1, 'quantile is between 0 and 1');
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let index = 0; index < this.counts.length; index++) {
      seen += this.counts[index]!;
      if (seen >= rank) return Math.min(LatencyHistogram.upperBoundOf(index), this.maxUs);
    }
    return this.maxUs;
  }

  /** An independent copy (a snapshot of the counts so far). */
  clone(): LatencyHistogram {
    const copy = new LatencyHistogram();
    copy.merge(this);
    return copy;
  }

  /**
   * What was recorded into `later` after `earlier` was cloned from it: both are cumulative
   * histograms of one source, so every bucket only grew. Its max is the upper bound of its
   * highest non-empty bucket (the exact max of an interval is not kept), at most `later`'s max.
   */
  static difference(later: LatencyHistogram, earlier: LatencyHistogram): LatencyHistogram {
    assert(later.total >= earlier.total, 'the later snapshot holds at least what the earlier one did');
    const delta = new LatencyHistogram();
    let top = -1;
    for (let i = 0; i < delta.counts.length; i++) {
      const count = later.counts[i]! - earlier.counts[i]!;
      assert(count >= 0, 'a cumulative bucket never shrinks');
      delta.counts[i] = count;
      if (count > 0) top = i;
    }
    delta.total = later.total - earlier.total;
    delta.maxUs = top < 0 ? 0 : Math.min(LatencyHistogram.upperBoundOf(top), later.maxUs);
    return delta;
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
    this.sumUs += other.sumUs;
    this.maxUs = Math.max(this.maxUs, other.maxUs);
  }

  static indexOf(value: number): number {
    const power = Math.floor(Math.log2(value));
    if (power < Math.log2(latencyHistogramSubBuckets)) return value; // small values are exact
    const base = 2 ** power;
    const sub = Math.floor(((value - base) / base) * latencyHistogramSubBuckets);
    return power * latencyHistogramSubBuckets + sub;
  }

  static upperBoundOf(index: number): number {
    if (index < latencyHistogramSubBuckets) return index;
    const power = Math.floor(index / latencyHistogramSubBuckets);
    const sub = index % latencyHistogramSubBuckets;
    const base = 2 ** power;
    return Math.ceil(base + ((sub + 1) * base) / latencyHistogramSubBuckets) - 1;
  }
}
