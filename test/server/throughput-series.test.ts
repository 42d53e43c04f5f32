// The dashboard's per-node series (src/server/throughput-series.ts): each sample is what was
// recorded between two snapshots of the cumulative histograms, per second of the interval, and
// the ring keeps the newest seriesSamplesKept samples. Also LatencyHistogram.difference, which it
// relies on.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LatencyHistogram } from '../../src/core/histogram.js';
import { seriesSamplesKept } from '../../src/core/limits.js';
import { NodeStats } from '../../src/server/stats.js';
import { ThroughputSeries } from '../../src/server/throughput-series.js';

describe('LatencyHistogram.difference', () => {
  it('holds exactly what was recorded after the earlier snapshot', () => {
    const cumulative = new LatencyHistogram();
    for (let i = 0; i < 1000; i++) cumulative.record(50_000); // 50 ms, before the snapshot
    const earlier = cumulative.clone();
    for (let i = 0; i < 100; i++) cumulative.record(100); // 100 µs, after it
    const delta = LatencyHistogram.difference(cumulative, earlier);
    assert.equal(delta.count, 100);
    assert.ok(delta.quantile(0.99) <= 107 && delta.quantile(0.99) >= 100, `p99 ${delta.quantile(0.99)}`);
    assert.ok(delta.max <= 107, 'the max of the interval, not of all time');
    assert.equal(cumulative.count, 1100, 'the cumulative histogram is untouched');
  });

  it('is empty when nothing was recorded', () => {
    const cumulative = new LatencyHistogram();
    cumulative.record(10);
    const delta = LatencyHistogram.difference(cumulative, cumulative.clone());
    assert.equal(delta.count, 0);
    assert.equal(delta.quantile(0.5), 0);
    assert.equal(delta.max, 0);
  });

  it('refuses an earlier snapshot that is not one of the same histogram', () => {
    const small = new LatencyHistogram();
    const large = new LatencyHistogram();
    large.record(5);
    assert.throws(() => LatencyHistogram.difference(small, large), /at least/);
  });
});

describe('ThroughputSeries', () => {
  const setup = () => {
    const stats = new NodeStats();
    let nowMs = 1_000_000;
    const series = new ThroughputSeries(
      () => stats.totals(),
      () => nowMs,
    );
    return { stats, series, advance: (ms: number) => (nowMs += ms) };
  };

  it('takes a baseline first, then one sample per call: rates per second and the interval quantiles', () => {
    const { stats, series, advance } = setup();
    stats.record('get', 10_000, false); // before the baseline: not in any sample
    series.sample();
    assert.deepEqual(series.samples(), []);
    for (let i = 0; i < 30; i++) stats.record('get', 200, false);
    for (let i = 0; i < 10; i++) stats.record('put', 2_000, i < 2);
    advance(2_000);
    series.sample();
    const [sample] = series.samples();
    assert.equal(sample!.atMs, 1_002_000);
    assert.equal(sample!.ops, 20, '40 requests in 2 s');
    assert.equal(sample!.errors, 1, '2 failures in 2 s');
    assert.ok(sample!.p50Us >= 200 && sample!.p50Us < 215, `p50 ${sample!.p50Us}`);
    assert.ok(sample!.p99Us >= 2_000 && sample!.p99Us < 2_130, `p99 ${sample!.p99Us}`);
    advance(1_000);
    series.sample();
    assert.deepEqual(
      { ops: series.samples()[1]!.ops, p99Us: series.samples()[1]!.p99Us },
      { ops: 0, p99Us: 0 },
      'an idle second',
    );
  });

  it('skips an interval whose wall clock went back', () => {
    const { series, advance } = setup();
    series.sample();
    advance(-500);
    series.sample();
    advance(1_000);
    series.sample();
    assert.equal(series.samples().length, 1);
  });

  it('keeps the newest samples, oldest first, and returns the newest n on request', () => {
    const { stats, series, advance } = setup();
    series.sample();
    for (let i = 1; i <= seriesSamplesKept + 7; i++) {
      stats.record('ping', 10, false);
      advance(1_000);
      series.sample();
    }
    const all = series.samples();
    assert.equal(all.length, seriesSamplesKept);
    assert.equal(all.at(-1)!.atMs - all[0]!.atMs, (seriesSamplesKept - 1) * 1_000);
    assert.ok(
      all.every((sample, i) => i === 0 || sample.atMs > all[i - 1]!.atMs),
      'in time order',
    );
    assert.deepEqual(series.samples(3), all.slice(-3));
    assert.deepEqual(series.samples(0), []);
  });
});
