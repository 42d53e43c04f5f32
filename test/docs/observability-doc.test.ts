// The Grafana dashboard and docs/observability.md name only metrics a node really serves: a
// metric renamed in metrics.ts fails here, not on an operator's empty panel.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LatencyHistogram } from '../../src/core/histogram.js';
import { nodeMetrics } from '../../src/server/metrics.js';
import { tempDir } from '../helpers/tmp.js';

/** Every sample name a cluster node serves (a source with every part present). */
async function servedNames(): Promise<Set<string>> {
  const histogram = new LatencyHistogram();
  histogram.record(100);
  const text = await nodeMetrics({
    info: () => ({ nodeId: 'n', chain: 'c0', version: '0', durability: 'fsync' }),
    commands: () => [{ name: 'get', calls: 1, errors: 0, latencyUs: histogram }],
    protocolErrors: () => 0,
    connections: () => [{ protocol: 'resp', open: 1, accepted: 1, bytesIn: 1, bytesOut: 1 }],
    store: () => ({ keys: 1, bytes: 1 }),
    storage: () => ({
      logCommitUs: histogram,
      logCommitRecords: histogram,
      lmdbTransactionUs: histogram,
      logSegments: 1,
      logBytes: 1,
    }),
    chain: () => ({
      role: 'head',
      epoch: 1,
      last: 1,
      persisted: 1,
      committed: 1,
      servingReads: false,
      commitUs: histogram,
      suspicions: 0,
      peerRefusals: 0,
    }),
    coordinator: () => ({
      state: 'connected',
      manager: true,
      opened: 1,
      disconnects: 0,
      reconnects: 0,
      expirations: 0,
    }),
    slotMoves: () => ({ moves: 0, slots: 0, records: 0, bytes: 0, copying: 0, remaining: 0, inFlight: 0 }),
  }).metrics();
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (match === null) continue;
    names.add(match[1]!);
    // A histogram is named by its family too (catena_x_seconds for catena_x_seconds_bucket, _sum, _count).
    if (match[1]!.endsWith('_bucket')) names.add(match[1]!.slice(0, -'_bucket'.length));
  }
  return names;
}

const metricNamesIn = (text: string): Set<string> =>
  new Set([...text.matchAll(/\b((?:catena|process|nodejs)_[a-z0-9_]+)/g)].map((match) => match[1]!));

describe('observability docs name real metrics', () => {
  it('every expression of docs/grafana/catena-dashboard.json', async () => {
    const served = await servedNames();
    const dashboard = JSON.parse(
      readFileSync(new URL('../../docs/grafana/catena-dashboard.json', import.meta.url), 'utf8'),
    ) as { panels: { title: string; targets?: { expr: string }[] }[] };
    let expressions = 0;
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        expressions += 1;
        for (const name of metricNamesIn(target.expr)) {
          assert.ok(served.has(name), `panel "${panel.title}" uses ${name}, which no node serves`);
        }
      }
    }
    assert.ok(expressions >= 20, `the dashboard has its panels (${expressions} expressions)`);
  });

  it('every metric docs/observability.md mentions, and every catena_ metric is documented there', async () => {
    const served = await servedNames();
    const doc = readFileSync(new URL('../../docs/observability.md', import.meta.url), 'utf8');
    const mentioned = metricNamesIn(doc);
    for (const name of mentioned)
      assert.ok(served.has(name), `docs/observability.md mentions ${name}: no node serves it`);
    const histograms = [...served].filter((name) => served.has(`${name}_bucket`));
    const families = [...served].filter(
      (name) => name.startsWith('catena_') && !histograms.some((family) => name.startsWith(`${family}_`)),
    );
    for (const family of families)
      assert.ok(mentioned.has(family), `${family} is not documented in docs/observability.md`);
  });

  it('the alert rules in docs/observability.md pass promtool check rules, on served metrics', async () => {
    const doc = readFileSync(new URL('../../docs/observability.md', import.meta.url), 'utf8');
    const rules = /```yaml\n(groups:[\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(rules !== undefined, 'the page has its alert rules');
    const served = await servedNames();
    for (const name of metricNamesIn(rules)) assert.ok(served.has(name), `an alert uses ${name}: no node serves it`);
    const promtool = '/usr/bin/promtool';
    if (!existsSync(promtool) && process.env.CI === undefined) return; // checked in CI (prometheus package)
    const dir = tempDir();
    try {
      const file = join(dir.path, 'rules.yml');
      writeFileSync(file, rules);
      const result = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8' });
      assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    } finally {
      dir.remove();
    }
  });
});
