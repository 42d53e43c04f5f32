// Sharding benchmark (issue #5): aggregate throughput of one chain of 3 nodes against three
// chains of 3 nodes on this machine, and the time to move half the slots of a data set.
//
//   npm run bench:sharding
//   knobs: BENCH_REQUESTS (20000 per benchmark process), BENCH_CLIENTS (50 in all),
//          BENCH_DURABILITY (fsync), BENCH_MOVE_MB (1024: data set for the move, in MiB),
//          BENCH_VALUE_BYTES (1024), BENCH_PARTS (throughput,move)
//
// Throughput: `catena up` with the layout, then redis-benchmark (Debian's redis-tools, the same
// neutral tool as the protocol benchmarks) against the RESP ports of three different nodes at
// once, BENCH_CLIENTS connections in all, SET then GET on random keys; the table sums the three.
// Every node relays what it does not serve itself, so this is what a client pointed at any
// node sees.
//
// Move: `catena up --nodes 6 --chains 1 --replicas 3` (three standbys), BENCH_MOVE_MB of
// BENCH_VALUE_BYTES-byte values loaded with redis-benchmark -P 16, then `catena chain add`: the
// standbys form c1 and half the slots move to it. Timed from the layout change until the slot
// map records no move and c1 owns 8192 slots.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClusterClient, type Topology } from '../src/client/cluster-client.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const main = join(root, 'src/cli/main.ts');
const requests = Number(process.env['BENCH_REQUESTS'] ?? 20_000);
const clients = Number(process.env['BENCH_CLIENTS'] ?? 50);
const durability = process.env['BENCH_DURABILITY'] ?? 'fsync';
const moveMiB = Number(process.env['BENCH_MOVE_MB'] ?? 1024);
const valueBytes = Number(process.env['BENCH_VALUE_BYTES'] ?? 1024);
const parts = (process.env['BENCH_PARTS'] ?? 'throughput,move').split(',');
const basePort = 19000;

interface Up {
  readonly child: ChildProcess;
  readonly dir: string;
  stop(): Promise<void>;
}

function catena(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', main, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function up(args: string[]): Promise<Up> {
  const dir = mkdtempSync(join(tmpdir(), 'catena-bench-'));
  const child = catena(['up', '--port', String(basePort), '--data-dir', dir, '--durability', durability, ...args]);
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.resume();
  const deadline = Date.now() + 120_000;
  while (!out.includes('is up:')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`catena up did not start:\n${out}`);
    await sleep(200);
  }
  return {
    child,
    dir,
    async stop() {
      child.kill('SIGINT');
      await new Promise((resolve) => child.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function topology(): Promise<Topology | undefined> {
  let client: ClusterClient | undefined;
  try {
    client = await ClusterClient.connect({ seeds: [`127.0.0.1:${basePort}`], timeoutMs: 2_000 });
    return await client.topology();
  } catch {
    return undefined;
  } finally {
    await client?.close();
  }
}

async function waitFor(what: string, predicate: (t: Topology) => boolean, timeoutMs = 600_000): Promise<Topology> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = await topology();
    if (t !== undefined && predicate(t)) return t;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const formed = (chains: number, replicas: number) => (t: Topology) =>
  t.slotsVersion > 0n &&
  t.chains.length === chains &&
  t.chains.every((c) => c.members.length === replicas && c.joining === '') &&
  t.migration === undefined;

/** redis-benchmark against several RESP ports at once; the summed requests per second of each test. */
async function redisBenchmark(ports: number[], tests: string, extra: string[] = []): Promise<Map<string, number>> {
  const perProcess = Math.max(1, Math.round(clients / ports.length));
  const runs = ports.map(
    (port) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn('redis-benchmark', [
          '-p',
          String(port),
          '-t',
          tests,
          '-n',
          String(requests),
          '-c',
          String(perProcess),
          '-r',
          '1000000',
          '--csv',
          ...extra,
        ]);
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.on('error', reject);
        child.on('exit', () => resolve(out));
      }),
  );
  const totals = new Map<string, number>();
  for (const out of await Promise.all(runs)) {
    for (const line of out.split('\n')) {
      const match = /^"([A-Z]+)","([\d.]+)"/.exec(line);
      if (match !== null) totals.set(match[1]!, (totals.get(match[1]!) ?? 0) + Number(match[2]));
    }
  }
  return totals;
}

async function throughput(): Promise<void> {
  const rows: string[] = [];
  const results: Map<string, number>[] = [];
  for (const layout of [
    { name: '1 chain of 3', args: ['--nodes', '3'], chains: 1, nodes: 3 },
    { name: '3 chains of 3', args: ['--nodes', '9', '--chains', '3'], chains: 3, nodes: 9 },
  ]) {
    const cluster = await up(layout.args);
    try {
      await waitFor(layout.name, formed(layout.chains, 3));
      // Three benchmark processes, at nodes of different chains when there are several.
      const nodes = layout.nodes === 3 ? [0, 1, 2] : [0, 4, 8];
      const ports = nodes.map((i) => basePort + 10 * i + 1);
      const result = await redisBenchmark(ports, 'set,get');
      results.push(result);
      rows.push(`| ${layout.name} | ${Math.round(result.get('SET') ?? 0)} | ${Math.round(result.get('GET') ?? 0)} |`);
    } finally {
      await cluster.stop();
    }
  }
  const ratio = (test: string) => ((results[1]!.get(test) ?? 0) / (results[0]!.get(test) ?? 1)).toFixed(2);
  console.log(
    `\nAggregate throughput (${durability}, ${clients} redis-benchmark clients over 3 nodes, ${requests} requests each):\n`,
  );
  console.log('| layout | SET/s | GET/s |\n| --- | ---: | ---: |');
  for (const row of rows) console.log(row);
  console.log(`| ratio 3 chains / 1 chain | ${ratio('SET')} | ${ratio('GET')} |`);
}

async function move(): Promise<void> {
  const cluster = await up(['--nodes', '6', '--chains', '1', '--replicas', '3']);
  try {
    await waitFor('c0 formed', formed(1, 3));
    const keys = Math.round((moveMiB * 1024 * 1024) / valueBytes);
    const loadStarted = performance.now();
    // Keys key:0 .. key:keys-1, once each (-r with __rand_int__ would repeat keys).
    const load = spawnSync(
      'redis-benchmark',
      [
        '-p',
        String(basePort + 1),
        '-t',
        'set',
        '-n',
        String(keys),
        '-c',
        '50',
        '-P',
        '16',
        '-d',
        String(valueBytes),
        '-r',
        String(keys * 100),
        '-q',
      ],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    if (load.status !== 0) throw new Error(`loading failed: ${load.stderr}`);
    const loadedS = (performance.now() - loadStarted) / 1000;
    const size = spawnSync('redis-cli', ['-p', String(basePort + 1), 'dbsize'], { encoding: 'utf8' }).stdout.trim();
    const stored = Number(size) * (valueBytes + 16);
    console.log(`\nloaded ${size} keys (${(stored / 2 ** 30).toFixed(2)} GiB) in ${loadedS.toFixed(0)} s`);
    const started = performance.now();
    const add = spawnSync(
      process.execPath,
      ['--import', 'tsx', main, 'chain', 'add', '--coordinator', `embedded://127.0.0.1:${basePort + 9}`],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    if (add.status !== 0) throw new Error(`chain add failed: ${add.stderr}`);
    let last = '';
    await waitFor(
      'half the slots on c1',
      (t) => {
        const owned = t.slots.filter((r) => r.chainId === 'c1').reduce((n, r) => n + r.last - r.first + 1, 0);
        const note = t.migration === undefined ? '' : `${t.migration.remaining} slots to move`;
        if (note !== last) process.stderr.write(`  ${((performance.now() - started) / 1000).toFixed(1)} s: ${note}\n`);
        last = note;
        return owned === 8192 && t.migration === undefined;
      },
      3_600_000,
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `moved half the slots (${(stored / 2 / 2 ** 20).toFixed(0)} MiB) in ${seconds.toFixed(1)} s (${(stored / 2 / 2 ** 20 / seconds).toFixed(1)} MiB/s), ${durability}`,
    );
  } finally {
    await cluster.stop();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (parts.includes('throughput')) await throughput();
if (parts.includes('move')) await move();
