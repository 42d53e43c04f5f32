// `npm run bench:single`: throughput and latency of one node, measured with the Catena client
// against a real `catena server` process on this machine (client and server share the cores).
//
// For each durability mode (fsync, memory), operation (get, put), connection count (1, 16, 64)
// and pipelining (1 request in flight per connection, or PIPELINE_DEPTH), it runs for
// DURATION_MS and reports requests/s, p50 and p99 latency. Results: a Markdown table on stdout
// and .bench/single.json.
//
// Options (environment): BENCH_DURATION_MS (default 3000), BENCH_DEPTH (default 32),
// BENCH_VALUE_BYTES (default 100), BENCH_KEYS (default 10000), BENCH_CONNECTIONS (default 1,16,64).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '../src/client/client.js';
import { LatencyHistogram } from '../src/core/histogram.js';
import { startServer } from '../test/helpers/server-process.js';

const durationMs = Number(process.env['BENCH_DURATION_MS'] ?? 3000);
const depth = Number(process.env['BENCH_DEPTH'] ?? 32);
const valueBytes = Number(process.env['BENCH_VALUE_BYTES'] ?? 100);
const keyCount = Number(process.env['BENCH_KEYS'] ?? 10000);
const connectionCounts = (process.env['BENCH_CONNECTIONS'] ?? '1,16,64').split(',').map(Number);

interface Row {
  durability: string;
  op: 'get' | 'put';
  connections: number;
  inFlightPerConnection: number;
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
}

const keys = Array.from({ length: keyCount }, (_, i) => Buffer.from(`key:${String(i).padStart(8, '0')}`));
const value = Buffer.alloc(valueBytes, 0x61);

async function run(
  port: number,
  op: 'get' | 'put',
  connections: number,
  inFlight: number,
): Promise<Omit<Row, 'durability'>> {
  const clients = await Promise.all(
    Array.from({ length: connections }, () => Client.connect({ port, timeoutMs: 30_000 })),
  );
  const histogram = new LatencyHistogram();
  let stop = false;
  const warmupUntil = performance.now() + Math.min(500, durationMs / 5);
  let measuredFrom = 0;
  let counted = 0;
  const worker = async (client: Client, seed: number) => {
    let i = seed;
    while (!stop) {
      i = (i + 7919) % keyCount;
      const key = keys[i]!;
      const started = performance.now();
      if (op === 'get') await client.get(key);
      else await client.put(key, value);
      const now = performance.now();
      if (now >= warmupUntil) {
        if (measuredFrom === 0) measuredFrom = now;
        histogram.record((now - started) * 1000);
        counted += 1;
      }
    }
  };
  const workers = clients.flatMap((client, c) =>
    Array.from({ length: inFlight }, (_, k) => worker(client, c * 1000 + k)),
  );
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  stop = true;
  const endedAt = performance.now();
  await Promise.all(workers);
  await Promise.all(clients.map((client) => client.close()));
  const seconds = (endedAt - measuredFrom) / 1000;
  return {
    op,
    connections,
    inFlightPerConnection: inFlight,
    opsPerSec: Math.round(counted / seconds),
    p50Us: histogram.quantile(0.5),
    p99Us: histogram.quantile(0.99),
  };
}

async function preload(port: number): Promise<void> {
  const client = await Client.connect({ port, timeoutMs: 60_000 });
  for (let i = 0; i < keyCount; i += 1000) {
    await Promise.all(keys.slice(i, i + 1000).map((key) => client.put(key, value)));
  }
  await client.close();
}

const rows: Row[] = [];
for (const durability of ['fsync', 'memory'] as const) {
  const dataDir = mkdtempSync(join(tmpdir(), 'catena-bench-'));
  // BENCH_PROFILE_DIR=dir writes a CPU profile of the server there (open it in Chrome DevTools
  // or speedscope for a flame graph).
  const profileDir = process.env['BENCH_PROFILE_DIR'];
  const nodeArgs = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const server = await startServer({ dataDir, durability, nodeArgs });
  try {
    await preload(server.port);
    for (const op of ['get', 'put'] as const) {
      for (const connections of connectionCounts) {
        for (const inFlight of [1, depth]) {
          const row = { durability, ...(await run(server.port, op, connections, inFlight)) };
          rows.push(row);
          process.stderr.write(`${JSON.stringify(row)}\n`);
        }
      }
    }
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const header =
  '| durability | op | connections | in flight / conn | ops/s | p50 µs | p99 µs |\n|---|---|---:|---:|---:|---:|---:|';
const lines = rows.map(
  (r) =>
    `| ${r.durability} | ${r.op} | ${r.connections} | ${r.inFlightPerConnection} | ${r.opsPerSec.toLocaleString('en-US')} | ${r.p50Us} | ${r.p99Us} |`,
);
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, value ${valueBytes} B, ${keyCount} keys, ${durationMs} ms per cell`;
process.stdout.write(`${machine}\n\n${header}\n${lines.join('\n')}\n`);
mkdirSync('.bench', { recursive: true });
writeFileSync('.bench/single.json', JSON.stringify({ machine, rows }, null, 2));
