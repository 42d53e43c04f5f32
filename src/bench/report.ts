// How `catena bench` shows a result: a plain-text table for the terminal, and a self-contained
// HTML page (inline CSS and SVG drawn here: no scripts, fonts or stylesheets from elsewhere, so
// the file can be mailed or attached to an issue and still open) with
//
//   * throughput over time: one line per run, ops/s per one-second interval;
//   * latency percentiles: p50, p95, p99 and p99.9 of each operation type of each run as grouped
//     bars on a logarithmic scale (they span orders of magnitude);
//   * latency over time: p50 (dashed) and p99 (solid) per interval, one colour per run;
//   * per run its options and the table.
//
// Several results make one comparison page, each named by its `label`. Everything is pure.

import { assert } from '../core/assert.js';
import type { BenchResult, OperationStats, WorkloadName } from './workload.js';

// ---------------------------------------------------------------------------------------------
// The terminal table.

const workloadDescriptions: Readonly<Record<WorkloadName, string>> = {
  a: '50% read, 50% update',
  b: '95% read, 5% update',
  c: '100% read',
  f: '50% read, 50% read-modify-write',
  write: '100% update',
};

const tableHeader = ['op', 'count', 'errors', 'ops/s', 'p50 ms', 'p95 ms', 'p99 ms', 'p99.9 ms', 'max ms'];

/** A summary, then one row per operation type (latencies in ms), then the first error of each type. */
export function renderTable(result: BenchResult): string {
  const rows = [tableHeader, ...result.operations.map(operationRow)];
  if (result.operations.length > 1) {
    rows.push([
      'total',
      group(result.totalOps),
      group(result.totalErrors),
      group(result.opsPerSec),
      '',
      '',
      '',
      '',
      '',
    ]);
  }
  const lines = [...summaryLines(result), '', ...alignRight(rows)];
  for (const op of result.operations) {
    if (op.firstError !== null) lines.push(`first ${op.op} error: ${op.firstError}`);
  }
  if (result.load !== null && result.load.firstError !== null)
    lines.push(`first load error: ${result.load.firstError}`);
  return lines.join('\n');
}

function summaryLines(result: BenchResult): string[] {
  const o = result.options;
  const lines = [
    `${result.label === undefined ? '' : `${result.label}: `}workload ${o.workload} (${workloadDescriptions[o.workload]}), ` +
      `${group(o.records)} records, ${o.distribution}, ${o.valueBytes}-byte values, concurrency ${o.concurrency}`,
    `measured ${(result.durationMs / 1000).toFixed(1)} s ${o.warmupMs > 0 ? `after a ${(o.warmupMs / 1000).toFixed(1)} s warm-up` : 'without warm-up'}: ` +
      `${group(result.totalOps)} ops, ${group(result.opsPerSec)} ops/s, ${group(result.totalErrors)} errors`,
  ];
  if (result.load !== null) {
    const load = result.load;
    lines.push(
      `load: ${group(load.records)} records in ${(load.durationMs / 1000).toFixed(1)} s ` +
        `(${group(load.opsPerSec)} ops/s, ${group(load.errors)} errors)`,
    );
  }
  return lines;
}

function operationRow(op: OperationStats): string[] {
  const latencies = [op.p50Us, op.p95Us, op.p99Us, op.p999Us, op.maxUs].map(formatMs);
  return [op.op, group(op.count), group(op.errors), group(op.opsPerSec), ...latencies];
}

/** µs as ms with about three significant digits: 0.043, 1.09, 24.6, 123. */
export function formatMs(us: number): string {
  const ms = us / 1000;
  if (ms === 0) return '0';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

/** A whole number with thousands separators: 12,345. */
export function group(value: number): string {
  const whole = String(Math.round(value));
  return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** The first column left-aligned, the others right-aligned, two spaces apart. */
function alignRight(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

// ---------------------------------------------------------------------------------------------
// The HTML page.

const runColors = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const percentiles = [
  { name: 'p50', color: '#9ecae1', of: (op: OperationStats) => op.p50Us },
  { name: 'p95', color: '#4292c6', of: (op: OperationStats) => op.p95Us },
  { name: 'p99', color: '#08519c', of: (op: OperationStats) => op.p99Us },
  { name: 'p99.9', color: '#08306b', of: (op: OperationStats) => op.p999Us },
] as const;

const chartWidth = 860;
const plotHeight = 260;
const margin = { left: 72, right: 20, top: 36, bottom: 48 };
const charWidthPx = 7;
const axisColor = '#444';
const gridColor = '#e4e4e4';

const styles = `
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2em auto; max-width: 900px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { padding: 2px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
svg { display: block; margin: 0.5em 0; }
svg text { fill: #333; }
.error { color: #b00020; }
`;

/** One page for one run or a comparison of several (each named by its label). */
export function renderHtml(input: BenchResult | readonly BenchResult[]): string {
  const results: readonly BenchResult[] = Array.isArray(input) ? input : [input as BenchResult];
  assert(results.length > 0, 'renderHtml needs at least one result');
  const labels = results.map((result, i) => runLabel(result, i, results.length));
  const runs = results.map((result, i) => runSection(result, labels[i]!, runColors[i % runColors.length]!));
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>catena bench: ${escapeHtml(labels.join(' vs '))}</title>`,
    `<style>${styles}</style>`,
    '</head>',
    '<body>',
    `<h1>catena bench: ${escapeHtml(labels.join(' vs '))}</h1>`,
    '<h2>Throughput</h2>',
    throughputChart(results, labels),
    '<h2>Latency percentiles</h2>',
    percentileChart(results, labels),
    '<h2>Latency over time</h2>',
    latencyTimelineChart(results, labels),
    ...runs,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

export function runLabel(result: BenchResult, index: number, runs: number): string {
  if (result.label !== undefined) return result.label;
  return runs === 1 ? `workload ${result.options.workload}` : `run ${index + 1} (workload ${result.options.workload})`;
}

function runSection(result: BenchResult, label: string, color: string): string {
  const options = Object.entries(result.options).map(([name, value]) => [name, String(value)]);
  options.push(['startedAt', result.startedAt], ['measured duration', `${(result.durationMs / 1000).toFixed(2)} s`]);
  if (result.load !== null) {
    const load = result.load;
    options.push([
      'load phase',
      `${group(load.records)} records in ${(load.durationMs / 1000).toFixed(2)} s, ${load.errors} errors`,
    ]);
  }
  const rows = result.operations.map(operationRow);
  rows.push(['total', group(result.totalOps), group(result.totalErrors), group(result.opsPerSec), '', '', '', '', '']);
  const errors = result.operations
    .filter((op) => op.firstError !== null)
    .map((op) => `<p class="error">first ${op.op} error: ${escapeHtml(op.firstError!)}</p>`);
  return [
    `<h2><span style="color:${color}">&#9632;</span> ${escapeHtml(label)}</h2>`,
    htmlTable(tableHeader, rows),
    ...errors,
    '<h3>Options</h3>',
    htmlTable(['option', 'value'], options),
  ].join('\n');
}

function htmlTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = (tag: string, row: readonly string[]) =>
    `<tr>${row.map((cell) => `<${tag}>${escapeHtml(cell)}</${tag}>`).join('')}</tr>`;
  return `<table>\n${cells('th', header)}\n${rows.map((row) => cells('td', row)).join('\n')}\n</table>`;
}

// ---------------------------------------------------------------------------------------------
// Charts.

interface Series {
  name: string;
  color: string;
  dashed: boolean;
  /** [x, y] in data units. */
  points: readonly (readonly [number, number])[];
}

/** Interval ends in seconds: a point per interval, at the time its operations had finished. */
const atIntervalEnd = (point: { startMs: number; durationMs: number }): number =>
  (point.startMs + point.durationMs) / 1000;

function throughputChart(results: readonly BenchResult[], labels: readonly string[]): string {
  const series = results.map((result, i) => ({
    name: labels[i]!,
    color: runColors[i % runColors.length]!,
    dashed: false,
    points: result.timeline.map((point) => [atIntervalEnd(point), point.opsPerSec] as const),
  }));
  return lineChart({ id: 'throughput', xLabel: 'time (s)', yLabel: 'ops/s', series, format: group });
}

function latencyTimelineChart(results: readonly BenchResult[], labels: readonly string[]): string {
  const series = results.flatMap((result, i) =>
    (['p50Us', 'p99Us'] as const).map((field) => ({
      name: `${labels[i]!} ${field === 'p50Us' ? 'p50' : 'p99'}`,
      color: runColors[i % runColors.length]!,
      dashed: field === 'p50Us',
      points: result.timeline.filter((p) => p.ops > p.errors).map((p) => [atIntervalEnd(p), p[field] / 1000] as const),
    })),
  );
  return lineChart({ id: 'latency-timeline', xLabel: 'time (s)', yLabel: 'latency (ms)', series, format: trimNumber });
}

/** A line chart with axes, a light grid, and the legend above the plot. */
function lineChart(chart: {
  id: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  format: (value: number) => string;
}): string {
  const all = chart.series.flatMap((s) => s.points);
  const xTicks = niceTicks(all.reduce((max, [px]) => Math.max(max, px), 1));
  const yTicks = niceTicks(all.reduce((max, [, py]) => Math.max(max, py), 0));
  const frame = plotFrame();
  const x = (value: number) => frame.left + (value / xTicks.at(-1)!) * frame.width;
  const y = (value: number) => frame.bottom - (value / yTicks.at(-1)!) * frame.height;
  const parts = [
    ...yTicks.map((t) => gridLine(frame, y(t), chart.format(t))),
    ...xTicks.map((t) => xTick(frame, x(t), trimNumber(t))),
    ...axes(frame, chart.xLabel, chart.yLabel),
    legend(chart.series.map((s) => ({ name: s.name, color: s.color, swatch: s.dashed ? 'dashed' : 'line' }))),
  ];
  for (const s of chart.series) {
    const coordinates = s.points.map(([px, py]) => `${fixed(x(px))},${fixed(y(py))}`);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<polyline class="series" fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${coordinates.join(' ')}"><title>${escapeHtml(s.name)}</title></polyline>`,
    );
    if (s.points.length <= 60) {
      for (const c of coordinates) {
        const [cx, cy] = c.split(',');
        parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${s.color}"/>`);
      }
    }
  }
  return svg(chart.id, parts);
}

/** Grouped bars: one group per (run, operation type), one bar per percentile, log scale in ms. */
function percentileChart(results: readonly BenchResult[], labels: readonly string[]): string {
  const groups = results.flatMap((result, i) =>
    result.operations.map((op) => ({ label: results.length === 1 ? op.op : `${labels[i]!}: ${op.op}`, op })),
  );
  const valuesMs = groups.flatMap((g) => percentiles.map((p) => p.of(g.op) / 1000)).filter((v) => v > 0);
  const lowExp = Math.floor(Math.log10(valuesMs.length > 0 ? Math.min(...valuesMs) : 1));
  const highExp = Math.max(lowExp + 1, Math.ceil(Math.log10(valuesMs.length > 0 ? Math.max(...valuesMs) : 1)));
  const frame = plotFrame();
  const y = (ms: number) =>
    frame.bottom - ((Math.log10(Math.max(ms, 10 ** lowExp)) - lowExp) / (highExp - lowExp)) * frame.height;
  const parts: string[] = [];
  for (let e = lowExp; e <= highExp; e++) parts.push(gridLine(frame, y(10 ** e), trimNumber(10 ** e)));
  parts.push(...axes(frame, '', 'latency (ms, log scale)'));
  parts.push(legend(percentiles.map((p) => ({ name: p.name, color: p.color, swatch: 'box' }))));
  const groupWidth = frame.width / Math.max(1, groups.length);
  const barWidth = (groupWidth * 0.8) / percentiles.length;
  groups.forEach((g, gi) => {
    const left = frame.left + gi * groupWidth + groupWidth * 0.1;
    percentiles.forEach((p, pi) => {
      const ms = p.of(g.op) / 1000;
      const top = y(ms);
      const bx = fixed(left + pi * barWidth);
      parts.push(
        `<rect class="bar" x="${bx}" y="${fixed(top)}" width="${fixed(barWidth - 1)}" height="${fixed(frame.bottom - top)}" fill="${p.color}"><title>${escapeHtml(`${g.label} ${p.name}: ${formatMs(p.of(g.op))} ms`)}</title></rect>`,
      );
    });
    const center = fixed(left + (barWidth * percentiles.length) / 2);
    parts.push(`<text x="${center}" y="${frame.bottom + 16}" text-anchor="middle">${escapeHtml(g.label)}</text>`);
  });
  return svg('percentiles', parts);
}

interface Frame {
  left: number;
  right: number;
  top: number;
  bottom: number;
  width: number;
  height: number;
}

function plotFrame(): Frame {
  const left = margin.left;
  const top = margin.top;
  const width = chartWidth - margin.left - margin.right;
  return { left, top, width, height: plotHeight, right: left + width, bottom: top + plotHeight };
}

function svg(id: string, parts: readonly string[]): string {
  const height = margin.top + plotHeight + margin.bottom;
  return [
    `<svg id="${id}" xmlns="http://www.w3.org/2000/svg" width="${chartWidth}" height="${height}" viewBox="0 0 ${chartWidth} ${height}" role="img" font-family="system-ui, sans-serif" font-size="11">`,
    ...parts,
    '</svg>',
  ].join('\n');
}

function gridLine(frame: Frame, y: number, label: string): string {
  return (
    `<line stroke="${gridColor}" x1="${frame.left}" x2="${frame.right}" y1="${fixed(y)}" y2="${fixed(y)}"/>` +
    `<text x="${frame.left - 6}" y="${fixed(y + 4)}" text-anchor="end">${escapeHtml(label)}</text>`
  );
}

function xTick(frame: Frame, x: number, label: string): string {
  return (
    `<line stroke="${axisColor}" x1="${fixed(x)}" x2="${fixed(x)}" y1="${frame.bottom}" y2="${frame.bottom + 5}"/>` +
    `<text x="${fixed(x)}" y="${frame.bottom + 18}" text-anchor="middle">${escapeHtml(label)}</text>`
  );
}

function axes(frame: Frame, xLabel: string, yLabel: string): string[] {
  const midY = fixed(frame.top + frame.height / 2);
  return [
    `<line stroke="${axisColor}" x1="${frame.left}" x2="${frame.right}" y1="${frame.bottom}" y2="${frame.bottom}"/>`,
    `<line stroke="${axisColor}" x1="${frame.left}" x2="${frame.left}" y1="${frame.top}" y2="${frame.bottom}"/>`,
    `<text x="${fixed(frame.left + frame.width / 2)}" y="${frame.bottom + 38}" text-anchor="middle">${escapeHtml(xLabel)}</text>`,
    `<text x="16" y="${midY}" text-anchor="middle" transform="rotate(-90 16 ${midY})">${escapeHtml(yLabel)}</text>`,
  ];
}

/** Swatches and names in a row above the plot. */
function legend(items: readonly { name: string; color: string; swatch: 'line' | 'dashed' | 'box' }[]): string {
  let x = margin.left;
  const parts: string[] = [];
  for (const item of items) {
    const dash = item.swatch === 'dashed' ? ' stroke-dasharray="4 3"' : '';
    parts.push(
      item.swatch === 'box'
        ? `<rect x="${x + 3}" y="8" width="12" height="12" fill="${item.color}"/>`
        : `<line x1="${x}" x2="${x + 18}" y1="14" y2="14" stroke="${item.color}" stroke-width="2"${dash}/>`,
      `<text x="${x + 24}" y="18">${escapeHtml(item.name)}</text>`,
    );
    x += 24 + item.name.length * charWidthPx + 18;
  }
  return `<g class="legend">${parts.join('')}</g>`;
}

/**
 * 0 and about five round steps (1, 2 or 5 times a power of ten) up to `max`, the last at or
 * above it (a value within 1% of a step over a tick, 3.0005 s for 3 s, does not add one).
 */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough)!;
  const steps = Math.max(1, Math.ceil(max / step - 0.01));
  return Array.from({ length: steps + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}

/** A tick label: no more digits than it needs (0.001, 0.5, 20, 100000). */
function trimNumber(value: number): string {
  return String(Number(value.toPrecision(6)));
}

const fixed = (value: number): string => String(Math.round(value * 10) / 10);

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}
