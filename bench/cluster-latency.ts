// Sequential single-client latency against a running cluster (or standalone node):
//   npm start                      # in one terminal (catena up: 3 nodes on 7000, 7010, 7020)
//   npm run bench:cluster-latency  # in another; BENCH_SEEDS=host:port,... BENCH_OPS=300
// Prints put and get throughput and p50/p99 latency in ms.

import { ClusterClient } from '../src/client/cluster-client.js';

const seeds = (process.env['BENCH_SEEDS'] ?? '127.0.0.1:7000,127.0.0.1:7010,127.0.0.1:7020').split(',');
const operations = Number(process.env['BENCH_OPS'] ?? 300);
const client = await ClusterClient.connect({ seeds });
try {
  for (const op of ['put', 'get'] as const) {
    const latencies: number[] = [];
    const started = performance.now();
    for (let i = 0; i < operations; i++) {
      const t = performance.now();
      if (op === 'put') await client.put(`bench-${i % 10}`, `value-${i}`);
      else await client.get(`bench-${i % 10}`);
      latencies.push(performance.now() - t);
    }
    latencies.sort((a, b) => a - b);
    const seconds = (performance.now() - started) / 1000;
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))]!.toFixed(2);
    console.log(`${op}: ${Math.round(operations / seconds)} ops/s, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`);
  }
} finally {
  await client.close();
}
