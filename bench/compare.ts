// `npm run bench:compare`: Catena side by side with the systems a user would pick instead, all
// started here on loopback, driven by the same tools, one run, one table with ratios.
//
//   redis     redis-server (no persistence; AOF with appendfsync always) vs one Catena node vs a
//             3-node Catena chain, each driven by redis-benchmark (the neutral tool for both);
//   memcached memcached vs Catena's memcached port (one node), driven by memaslap (Debian ships
//             it as memcaslap in libmemcached-tools);
//   etcd      a 3-member etcd cluster (Debian's etcd-server) vs a 3-node Catena chain, driven by
//             one Node driver (src/bench/workload.ts) using each system's client: etcd3 for etcd,
//             Catena's ClusterClient for Catena; same concurrency, value size and keys;
//   memory    one million 100-byte values loaded with `redis-cli --pipe` into redis-server and
//             into one Catena node: Redis's used_memory vs the Catena process's resident memory.
//
// Durability as stated in every row, like against like: Redis without persistence and memcached
// against a Catena node with --durability memory (no fsync); Redis with `appendfsync always`
// against a Catena node and a 3-node chain with --durability fsync (an acknowledged write is
// fsynced on every replica); etcd fsyncs its WAL on every commit (its default), as the chain does.
//
// Peers come from Debian: `sudo bash scripts/install-bench-packages.sh` installs them.
// Output: the table on stdout, .bench/compare.json, and .bench/compare.svg (a bar chart of the
// ratios against their targets), which docs/benchmarks.md shows.
//
// Knobs (environment): BENCH_PARTS (redis,memcached,etcd,memory), BENCH_SECONDS (per driver run,
// default 8), BENCH_CLIENTS (default 50), BENCH_MEMORY_KEYS (default 1000000); BENCH_FROM_JSON=file
// redraws the table and chart of an earlier run.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { ClusterClient } from '../src/client/cluster-client.js';
import { catenaTarget } from '../src/cli/bench-command.js';
import { runWorkload, type BenchResult, type BenchTarget, type WorkloadName } from '../src/bench/workload.js';
import { startRedisServer, redisToolPath, type RedisServer } from '../src/testing/redis-server.js';
import { startMemcached, memcachedAvailable, memcachedToolPath } from '../src/testing/memcached-server.js';
import { freePort, findExecutable } from '../src/testing/server-process-guard.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const catenaBin = join(root, 'bin/catena.js');
const parts = (process.env['BENCH_PARTS'] ?? 'redis,memcached,etcd,memory').split(',');
const seconds = Number(process.env['BENCH_SECONDS'] ?? 8);
const clients = Number(process.env['BENCH_CLIENTS'] ?? 50);
const memoryKeys = Number(process.env['BENCH_MEMORY_KEYS'] ?? 1_000_000);
const valueBytes = 100;

interface Row {
  readonly group: string;
  readonly workload: string;
  readonly peer: string;
  readonly peerValue: number;
  readonly catena: string;
  readonly catenaValue: number;
  readonly unit: string;
  /** catena / peer (or peer / catena where lower is better) */
  readonly ratio: number;
  readonly target: string;
  readonly met: boolean;
}

const rows: Row[] = [];
const details: Record<string, unknown> = {};

function addRow(row: Omit<Row, 'ratio' | 'met'> & { lowerIsBetter?: boolean; targetRatio: number }): void {
  const ratio = row.lowerIsBetter === true ? row.peerValue / row.catenaValue : row.catenaValue / row.peerValue;
  const { targetRatio, ...rest } = row;
  delete rest.lowerIsBetter;
  const full: Row = { ...rest, ratio, met: ratio >= targetRatio };
  rows.push(full);
  process.stderr.write(
    `  ${full.workload}: ${full.peer} ${fmt(full.peerValue)} ${full.unit}, ${full.catena} ${fmt(full.catenaValue)} ${full.unit}: ${ratio.toFixed(2)}x\n`,
  );
}

const fmt = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 10 ? 1 : 2));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function requireTool(name: string, path: string | undefined): string {
  if (path === undefined) {
    throw new Error(`${name} is not installed: run \`sudo bash scripts/install-bench-packages.sh\` first`);
  }
  return path;
}

// ---- processes -----------------------------------------------------------------------------

interface Proc {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function start(command: string, args: string[], options: { ready?: RegExp; env?: NodeJS.ProcessEnv } = {}): Proc {
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForOutput(proc: Proc, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(proc.output())) {
    if (proc.child.exitCode !== null) throw new Error(`${what} exited:\n${proc.output().slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`${what} did not start in time:\n${proc.output().slice(-2000)}`);
    await sleep(100);
  }
}

interface CatenaNode {
  readonly proc: Proc;
  readonly native: number;
  readonly resp: number;
  readonly memcached: number;
  stop(): Promise<void>;
}

async function startCatenaNode(durability: 'fsync' | 'memory'): Promise<CatenaNode> {
  const dir = mkdtempSync(join(tmpdir(), 'catena-compare-node-'));
  const [native, resp, memcached, admin] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const proc = start(process.execPath, [
    catenaBin,
    'server',
    '--port',
    String(native),
    '--resp-port',
    String(resp),
    '--memcached-port',
    String(memcached),
    '--admin-port',
    String(admin),
    '--data-dir',
    dir,
    '--durability',
    durability,
    '--log-level',
    'warn',
  ]);
  await waitForOutput(proc, /listening on/, 'catena server');
  return {
    proc,
    native,
    resp,
    memcached,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface CatenaChain {
  readonly seeds: string[];
  /** RESP ports of the head and the tail. */
  readonly headResp: number;
  readonly tailResp: number;
  stop(): Promise<void>;
}

async function startCatenaChain(): Promise<CatenaChain> {
  const dir = mkdtempSync(join(tmpdir(), 'catena-compare-chain-'));
  const base = 21000 + Math.floor(Math.random() * 200) * 10;
  const proc = start(process.execPath, [
    catenaBin,
    'up',
    '--nodes',
    '3',
    '--port',
    String(base),
    '--data-dir',
    dir,
    '--durability',
    'fsync',
  ]);
  await waitForOutput(proc, /is up:/, 'catena up');
  const seeds = [0, 1, 2].map((i) => `127.0.0.1:${base + 10 * i}`);
  // The chain is formed when the topology names three members.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const client = await ClusterClient.connect({ seeds, timeoutMs: 5_000 }).catch(() => undefined);
    const topology = await client?.topology().catch(() => undefined);
    await client?.close();
    const chain = topology?.chains[0];
    if (topology !== undefined && chain !== undefined && chain.members.length === 3 && chain.joining === '') {
      const resp = (id: string) =>
        Number(
          topology.nodes
            .find((n) => n.nodeId === id)!
            .resp.split(':')
            .pop(),
        );
      await sleep(500); // the tail's read lease
      return {
        seeds,
        headResp: resp(chain.members[0]!),
        tailResp: resp(chain.members[2]!),
        async stop() {
          await proc.stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    if (Date.now() > deadline) throw new Error(`the chain did not form:\n${proc.output().slice(-2000)}`);
    await sleep(200);
  }
}

// ---- redis-benchmark -----------------------------------------------------------------------

interface RedisBenchResult {
  readonly rps: number;
  readonly p50Ms: number;
}

/** One redis-benchmark run of one test (-q output: "SET: 12345.67 requests per second, p50=0.399 msec"). */
function redisBenchmark(
  port: number,
  test: string,
  options: { clients: number; pipeline?: number; requests: number },
): RedisBenchResult {
  const binary = requireTool('redis-benchmark', redisToolPath('redis-benchmark'));
  const args = [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-t',
    test,
    '-n',
    String(options.requests),
    '-c',
    String(options.clients),
  ];
  args.push('-P', String(options.pipeline ?? 1), '-d', String(valueBytes), '-r', '100000', '-q');
  const run = spawnSync(binary, args, { encoding: 'utf8', timeout: 600_000 });
  const text = `${run.stdout}`.split('\r').join('\n');
  const match = new RegExp(`${test.toUpperCase()}: ([\\d.]+) requests per second, p50=([\\d.]+) msec`).exec(text);
  if (match === null)
    throw new Error(`redis-benchmark ${args.join(' ')} printed no result:\n${text.slice(-1000)}${run.stderr}`);
  return { rps: Number(match[1]), p50Ms: Number(match[2]) };
}

/** Enough requests for about `seconds` at the expected rate (redis-benchmark counts requests, not time). */
const requestsFor = (expectedRps: number) => Math.max(2_000, Math.round(expectedRps * seconds));

/**
 * Runs once briefly to learn the rate, then about 2 s unmeasured (JIT, page cache and LMDB's
 * file warm up, every key exists), then for about `seconds`, measured.
 */
function redisBench(port: number, test: string, c: number, pipeline = 1): RedisBenchResult {
  const probe = redisBenchmark(port, test, { clients: c, pipeline, requests: Math.max(2_000, c * pipeline * 20) });
  redisBenchmark(port, test, { clients: c, pipeline, requests: Math.max(2_000, Math.round(probe.rps * 2)) });
  return redisBenchmark(port, test, { clients: c, pipeline, requests: requestsFor(probe.rps) });
}

async function redisPart(): Promise<void> {
  process.stderr.write('redis-benchmark: redis-server vs Catena (RESP)\n');
  const results: Record<string, RedisBenchResult> = {};
  const plain = await startRedisServer();
  try {
    results['redis set'] = redisBench(plain.port, 'set', clients);
    results['redis get'] = redisBench(plain.port, 'get', clients);
    results['redis set P16'] = redisBench(plain.port, 'set', clients, 16);
    results['redis get P16'] = redisBench(plain.port, 'get', clients, 16);
  } finally {
    await plain.stop();
  }
  const always: RedisServer = await startRedisServer({ appendfsync: 'always' });
  try {
    results['redis-aof set'] = redisBench(always.port, 'set', clients);
    results['redis-aof set c1'] = redisBench(always.port, 'set', 1);
  } finally {
    await always.stop();
  }
  const node = await startCatenaNode('memory');
  try {
    results['node set'] = redisBench(node.resp, 'set', clients);
    results['node get'] = redisBench(node.resp, 'get', clients);
    results['node set P16'] = redisBench(node.resp, 'set', clients, 16);
    results['node get P16'] = redisBench(node.resp, 'get', clients, 16);
  } finally {
    await node.stop();
  }
  const durableNode = await startCatenaNode('fsync');
  try {
    results['fsync node set'] = redisBench(durableNode.resp, 'set', clients);
    results['fsync node set c1'] = redisBench(durableNode.resp, 'set', 1);
  } finally {
    await durableNode.stop();
  }
  const chain = await startCatenaChain();
  try {
    results['chain set'] = redisBench(chain.headResp, 'set', clients);
    results['chain get'] = redisBench(chain.tailResp, 'get', clients);
    results['chain set c1'] = redisBench(chain.headResp, 'set', 1);
  } finally {
    await chain.stop();
  }
  details['redis-benchmark'] = results;
  // [workload, peer, peer's result, Catena, Catena's result, target ratio or undefined (info)]
  type Spec = [string, string, string, string, string, number | undefined];
  const [noPersistence, aof] = ['redis (no persistence)', 'redis (AOF, fsync always)'];
  const [memoryNode, fsyncNode, chain3] = ['Catena node (memory)', 'Catena node (fsync)', 'Catena 3-node chain'];
  const c = `${clients} clients`;
  const throughput: Spec[] = [
    [`SET, ${c}`, noPersistence, 'redis set', memoryNode, 'node set', 0.8],
    [`GET, ${c}`, noPersistence, 'redis get', memoryNode, 'node get', 0.8],
    [`SET, ${c}, -P 16`, noPersistence, 'redis set P16', memoryNode, 'node set P16', 0.4],
    [`GET, ${c}, -P 16`, noPersistence, 'redis get P16', memoryNode, 'node get P16', 0.4],
    [`SET, ${c}`, aof, 'redis-aof set', chain3, 'chain set', 0.5],
    [`SET, ${c}`, aof, 'redis-aof set', fsyncNode, 'fsync node set', undefined],
    [`GET, ${c} (at the tail)`, noPersistence, 'redis get', chain3, 'chain get', undefined],
  ];
  const latency: Spec[] = [
    ['SET p50 latency, 1 client', aof, 'redis-aof set c1', fsyncNode, 'fsync node set c1', undefined],
    ['SET p50 latency, 1 client', aof, 'redis-aof set c1', chain3, 'chain set c1', undefined],
  ];
  const add = ([workload, peer, peerKey, catena, catenaKey, ratio]: Spec, unit: 'req/s' | 'ms') =>
    addRow({
      group: 'redis-benchmark',
      workload,
      peer,
      peerValue: unit === 'ms' ? results[peerKey]!.p50Ms : results[peerKey]!.rps,
      catena,
      catenaValue: unit === 'ms' ? results[catenaKey]!.p50Ms : results[catenaKey]!.rps,
      unit,
      target: ratio === undefined ? '(info)' : `≥ ${ratio}`,
      targetRatio: ratio ?? 0,
      lowerIsBetter: unit === 'ms',
    });
  for (const spec of throughput) add(spec, 'req/s');
  for (const spec of latency) add(spec, 'ms');
  addRow({
    group: 'redis-benchmark',
    workload: 'SET p50 latency, 1 client',
    peer: 'target 1 ms',
    peerValue: 1,
    catena: chain3,
    catenaValue: results['chain set c1']!.p50Ms,
    unit: 'ms',
    target: '≤ 1 ms',
    targetRatio: 1,
    lowerIsBetter: true,
  });
}

// ---- memaslap ------------------------------------------------------------------------------

/** memaslap for `seconds` (after 2 s unmeasured: its first seconds also store the keys it reads). */
function memaslap(port: number): number {
  const binary = requireTool('memaslap (libmemcached-tools)', memcachedToolPath('memaslap'));
  const args = ['-s', `127.0.0.1:${port}`, '-T', String(Math.min(2, cpus().length)), '-c', String(clients)];
  args.push('-X', String(valueBytes));
  spawnSync(binary, [...args, '-t', '2s'], { encoding: 'utf8', timeout: 60_000 });
  args.push('-t', `${seconds}s`);
  const run = spawnSync(binary, args, { encoding: 'utf8', timeout: (seconds + 60) * 1000 });
  const match = /TPS: (\d+)/.exec(run.stdout);
  if (match === null) throw new Error(`memaslap ${args.join(' ')} printed no result:\n${run.stdout}${run.stderr}`);
  return Number(match[1]);
}

async function memcachedPart(): Promise<void> {
  process.stderr.write('memaslap: memcached vs Catena (memcached text protocol)\n');
  if (!memcachedAvailable()) requireTool('memcached', undefined);
  const memcached = await startMemcached();
  let peer: number;
  try {
    peer = memaslap(memcached.port);
  } finally {
    await memcached.stop();
  }
  const node = await startCatenaNode('memory');
  let ours: number;
  try {
    ours = memaslap(node.memcached);
  } finally {
    await node.stop();
  }
  const durableNode = await startCatenaNode('fsync');
  let durable: number;
  try {
    durable = memaslap(durableNode.memcached);
  } finally {
    await durableNode.stop();
  }
  details['memaslap'] = { memcached: peer, catenaMemory: ours, catenaFsync: durable };
  addRow({
    group: 'memaslap',
    workload: `90% get / 10% set, ${clients} conns`,
    peer: 'memcached',
    peerValue: peer,
    catena: 'Catena node (memory)',
    catenaValue: ours,
    unit: 'ops/s',
    target: '≥ 0.6',
    targetRatio: 0.6,
  });
  addRow({
    group: 'memaslap',
    workload: `90% get / 10% set, ${clients} conns`,
    peer: 'memcached',
    peerValue: peer,
    catena: 'Catena node (fsync)',
    catenaValue: durable,
    unit: 'ops/s',
    target: '(info)',
    targetRatio: 0,
  });
}

// ---- etcd ----------------------------------------------------------------------------------

interface EtcdCluster {
  readonly endpoints: string[];
  stop(): Promise<void>;
}

async function startEtcd(): Promise<EtcdCluster> {
  const binary = requireTool('etcd (etcd-server)', findExecutable('etcd'));
  const dir = mkdtempSync(join(tmpdir(), 'catena-compare-etcd-'));
  const members = [];
  for (let i = 0; i < 3; i++) members.push({ name: `e${i}`, client: await freePort(), peer: await freePort() });
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const procs = members.map((m) =>
    start(binary, [
      '--name',
      m.name,
      '--data-dir',
      join(dir, m.name),
      '--listen-client-urls',
      `http://127.0.0.1:${m.client}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${m.client}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${m.peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${m.peer}`,
      '--initial-cluster',
      initial,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      'catena-compare',
      '--log-level',
      'warn',
    ]),
  );
  const endpoints = members.map((m) => `http://127.0.0.1:${m.client}`);
  const client = new Etcd3({ hosts: endpoints });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await client.put('catena-compare-ready').value('1');
      break;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`etcd did not start: ${String(error)}\n${procs[0]!.output().slice(-2000)}`, { cause: error });
      await sleep(250);
    }
  }
  client.close();
  return {
    endpoints,
    async stop() {
      await Promise.all(procs.map((p) => p.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function etcdTarget(client: Etcd3): BenchTarget {
  return {
    async read(key) {
      await client.get(key).buffer(); // linearizable (etcd's default, not serializable)
    },
    async update(key, value) {
      await client.put(key).value(value);
    },
    async close() {
      client.close();
    },
  };
}

async function drive(target: BenchTarget, workload: WorkloadName, label: string): Promise<BenchResult> {
  const result = await runWorkload(target, {
    workload,
    records: 10_000,
    distribution: 'uniform',
    valueBytes,
    concurrency: clients,
    durationMs: seconds * 1000,
    warmupMs: 2000,
    seed: 1,
    load: workload !== 'write',
  });
  return { ...result, label };
}

async function etcdPart(): Promise<void> {
  process.stderr.write('one Node driver: 3-member etcd vs 3-node Catena chain\n');
  const results: Record<string, BenchResult> = {};
  const etcd = await startEtcd();
  try {
    const client = new Etcd3({ hosts: etcd.endpoints });
    const target = etcdTarget(client);
    results['etcd write'] = await drive(target, 'write', 'etcd writes');
    results['etcd read'] = await drive(target, 'c', 'etcd linearizable reads');
    await target.close();
  } finally {
    await etcd.stop();
  }
  const chain = await startCatenaChain();
  try {
    const client = await ClusterClient.connect({ seeds: chain.seeds });
    const target = catenaTarget(client);
    results['catena write'] = await drive(target, 'write', 'Catena writes');
    results['catena read'] = await drive(target, 'c', 'Catena reads');
    await target.close();
  } finally {
    await chain.stop();
  }
  details['etcd'] = results;
  const rate = (key: string) => results[key]!.opsPerSec;
  addRow({
    group: 'etcd',
    workload: `writes (put), ${clients} in flight`,
    peer: 'etcd, 3 members',
    peerValue: rate('etcd write'),
    catena: 'Catena 3-node chain',
    catenaValue: rate('catena write'),
    unit: 'ops/s',
    target: '≥ 3',
    targetRatio: 3,
  });
  addRow({
    group: 'etcd',
    workload: `linearizable reads, ${clients} in flight`,
    peer: 'etcd, 3 members',
    peerValue: rate('etcd read'),
    catena: 'Catena 3-node chain',
    catenaValue: rate('catena read'),
    unit: 'ops/s',
    target: '≥ 1',
    targetRatio: 1,
  });
}

// ---- memory --------------------------------------------------------------------------------

/** Loads `count` SETs of 100-byte values with `redis-cli --pipe` (the mass-insertion tool). */
async function massInsert(port: number, count: number): Promise<void> {
  const binary = requireTool('redis-cli', redisToolPath('redis-cli'));
  const child = spawn(binary, ['-h', '127.0.0.1', '-p', String(port), '--pipe'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const value = Buffer.alloc(valueBytes, 0x76);
  const batch = 2_000;
  for (let i = 0; i < count; i += batch) {
    const parts: Buffer[] = [];
    for (let k = i; k < Math.min(count, i + batch); k++) {
      const key = `key:${String(k).padStart(10, '0')}`;
      parts.push(
        Buffer.from(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${valueBytes}\r\n`),
        value,
        Buffer.from('\r\n'),
      );
    }
    if (!child.stdin.write(Buffer.concat(parts))) await new Promise((resolve) => child.stdin.once('drain', resolve));
  }
  child.stdin.end();
  const code = await exited;
  if (code !== 0 || !/errors: 0, replies: \d+/.test(out))
    throw new Error(`redis-cli --pipe failed (${code}):\n${out.slice(-2000)}`);
}

function rssBytes(pid: number): { rss: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') };
}

function redisUsedMemory(port: number): number {
  const binary = requireTool('redis-cli', redisToolPath('redis-cli'));
  const run = spawnSync(binary, ['-h', '127.0.0.1', '-p', String(port), 'info', 'memory'], { encoding: 'utf8' });
  return Number(/used_memory:(\d+)/.exec(run.stdout)?.[1] ?? NaN);
}

async function memoryPart(): Promise<void> {
  process.stderr.write(`memory: ${memoryKeys.toLocaleString('en-US')} x ${valueBytes}-byte values\n`);
  const redis = await startRedisServer();
  let used: number;
  try {
    await massInsert(redis.port, memoryKeys);
    used = redisUsedMemory(redis.port);
  } finally {
    await redis.stop();
  }
  const node = await startCatenaNode('fsync');
  let rss: ReturnType<typeof rssBytes>;
  let before: ReturnType<typeof rssBytes>;
  try {
    before = rssBytes(node.proc.child.pid!);
    await massInsert(node.resp, memoryKeys);
    await sleep(1000);
    rss = rssBytes(node.proc.child.pid!);
  } finally {
    await node.stop();
  }
  details['memory'] = { keys: memoryKeys, redisUsedMemory: used, catenaRssBefore: before, catenaRssAfter: rss };
  const mib = (n: number) => n / 1024 / 1024;
  addRow({
    group: 'memory',
    workload: `${memoryKeys.toLocaleString('en-US')} x ${valueBytes} B values`,
    peer: 'redis used_memory',
    peerValue: mib(used),
    catena: 'Catena node RSS',
    catenaValue: mib(rss.rss),
    unit: 'MiB',
    target: '≤ 2x (ratio ≥ 0.5)',
    targetRatio: 0.5,
    lowerIsBetter: true,
  });
  addRow({
    group: 'memory',
    workload: `${memoryKeys.toLocaleString('en-US')} x ${valueBytes} B values`,
    peer: 'redis used_memory',
    peerValue: mib(used),
    catena: 'Catena node RSS growth',
    catenaValue: mib(rss.rss - before.rss),
    unit: 'MiB',
    target: '(info)',
    targetRatio: 0,
    lowerIsBetter: true,
  });
}

// ---- output --------------------------------------------------------------------------------

function table(): string {
  const header = [
    'group',
    'workload',
    'peer',
    'peer value',
    'Catena',
    'Catena value',
    'unit',
    'ratio',
    'target',
    'met',
  ];
  const body = rows.map((r) => [
    r.group,
    r.workload,
    r.peer,
    fmt(r.peerValue),
    r.catena,
    fmt(r.catenaValue),
    r.unit,
    `${r.ratio.toFixed(2)}x`,
    r.target,
    r.target === '(info)' ? '' : r.met ? 'yes' : 'NO',
  ]);
  const lines = [header, ...body].map((cells) => `| ${cells.join(' | ')} |`);
  lines.splice(1, 0, `|${header.map(() => '---').join('|')}|`);
  return lines.join('\n');
}

/** A horizontal bar chart of each row's ratio with its target marked. */
function chart(): string {
  const scored = rows.filter((r) => r.target !== '(info)');
  const width = 1000;
  const rowHeight = 26;
  const left = 560;
  const height = 50 + scored.length * rowHeight;
  const maxRatio = Math.max(1.2, ...scored.map((r) => Math.min(r.ratio, 4)), 3.2);
  const x = (ratio: number) => left + ((width - left - 60) * Math.min(ratio, maxRatio)) / maxRatio;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const bars = scored.map((r, i) => {
    const y = 30 + i * rowHeight;
    const targetRatio = Number(
      /[\d.]+/.exec(r.target.includes('2x') ? '0.5' : r.target.includes('1 ms') ? '1' : r.target)?.[0] ?? 0,
    );
    return [
      `<text x="${left - 8}" y="${y + 15}" text-anchor="end" font-size="12">${esc(`${r.catena} vs ${r.peer}: ${r.workload}`)}</text>`,
      `<rect x="${left}" y="${y + 3}" width="${Math.max(1, x(r.ratio) - left)}" height="16" fill="${r.met ? '#3a7d44' : '#c0392b'}"/>`,
      `<text x="${x(r.ratio) + 4}" y="${y + 15}" font-size="12">${r.ratio.toFixed(2)}x</text>`,
      `<line x1="${x(targetRatio)}" x2="${x(targetRatio)}" y1="${y}" y2="${y + 22}" stroke="#000" stroke-dasharray="3,2"/>`,
    ].join('');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">Catena / peer (higher is better; dashed line: target; green: met)</text>`,
    ...bars,
    '</svg>',
  ].join('\n');
}

async function main(): Promise<void> {
  const fromJson = process.env['BENCH_FROM_JSON'];
  if (fromJson !== undefined && fromJson !== '') {
    // Redraw the table and chart of an earlier run (no peers started).
    const saved = JSON.parse(readFileSync(fromJson, 'utf8')) as { rows: Row[]; started: string; machine: string };
    rows.push(...saved.rows);
    writeFileSync(join(root, '.bench', 'compare.svg'), `${chart()}\n`);
    process.stdout.write(`\nCatena vs peers, ${saved.started}, ${saved.machine}\n\n${table()}\n`);
    return;
  }
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  process.stderr.write(`bench:compare on ${machine}; ${seconds} s per run, ${clients} clients\n`);
  const started = new Date().toISOString();
  if (parts.includes('redis')) await redisPart();
  if (parts.includes('memcached')) await memcachedPart();
  if (parts.includes('etcd')) await etcdPart();
  if (parts.includes('memory')) await memoryPart();
  const out = join(root, '.bench');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'compare.json'),
    `${JSON.stringify({ started, machine, seconds, clients, rows, details }, null, 2)}\n`,
  );
  writeFileSync(join(out, 'compare.svg'), `${chart()}\n`);
  process.stdout.write(`\nCatena vs peers, ${started}, ${machine}\n\n${table()}\n\n`);
  process.stdout.write(`Written: .bench/compare.json, .bench/compare.svg\n`);
}

await main();
