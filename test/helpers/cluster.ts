// A real cluster for tests: a coordinator (the embedded one in this process, or a real ZooKeeper
// started from Debian's package) and N `catena server --cluster` child processes, plus a load
// generator that records a history for the linearizability checker.
//
//   const cluster = await startCluster({ nodes: 3, coordinator: 'embedded', dir });
//   await cluster.waitForChain((chain) => chain.members.length === 3);
//   const load = startLoad(cluster, { clients: 4, keys: 4 });
//   ... kill something ...
//   const result = await load.stop();      // history, gaps, counts
//   await cluster.stop();

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { ClusterClient, type Topology } from '../../src/client/cluster-client.js';
import type { Credentials } from '../../src/client/client.js';
import { clusterPaths } from '../../src/coordination/cluster-paths.js';
import { connectCoordinator } from '../../src/coordination/connect.js';
import { anyVersion } from '../../src/coordination/coordinator.js';
import { encodeLayout, type Layout } from '../../src/coordination/placement.js';
import { EmbeddedCoordinatorServer } from '../../src/coordination/embedded-coordinator.js';
import type { Input, Operation, Output } from '../../src/testing/linearizability/history.js';
import { HistoryRecorder } from '../../src/testing/linearizability/history.js';
import { checkHistory } from '../../src/testing/linearizability/checker.js';
import { startZooKeeper, type ZooKeeperServer } from '../../src/testing/zookeeper.js';
import { CatenaError } from '../../src/core/errors.js';
import { generateClusterSecret, readClusterSecret } from '../../src/server/peer-auth.js';
import { startServer, type ServerProcess } from './server-process.js';
import { PeerCutProxy } from './peer-cut-proxy.js';
import { freePort } from './ports.js';

export type CoordinatorKind = 'embedded' | 'zookeeper';

export interface ClusterOptions {
  nodes: number;
  coordinator: CoordinatorKind;
  dir: string;
  sessionTimeoutMs?: number;
  durability?: 'fsync' | 'memory';
  /** Shard over this many chains of this many nodes (written to the coordinator before nodes start). */
  layout?: Layout;
  /** Extra `catena server` flags for every node. */
  serverArgs?: readonly string[];
  /** Each node's peer port behind a PeerCutProxy (it announces the proxy), so links can be cut one by one. */
  peerProxies?: boolean;
  /** The user this harness reads the topology as, when the nodes require client authentication. */
  clientAuth?: Credentials;
}

export interface ChainView {
  epoch: number;
  members: string[];
  joining: string;
  manager: string;
}

export class TestCluster {
  /** Node processes by index; a killed node stays here (not alive) until restarted. */
  readonly servers: ServerProcess[] = [];
  private readonly proxies: PeerCutProxy[] = [];
  private nextIndex = 0;

  constructor(
    readonly options: Required<Omit<ClusterOptions, 'layout' | 'serverArgs' | 'peerProxies' | 'clientAuth'>> &
      Pick<ClusterOptions, 'layout' | 'serverArgs' | 'peerProxies' | 'clientAuth'>,
    readonly coordinatorUrl: string,
    private readonly stopCoordinator: () => Promise<void>,
  ) {}

  /** Starts node `index` (a new one when index is the next free), on its own data directory. */
  async startNode(index = this.nextIndex): Promise<ServerProcess> {
    this.nextIndex = Math.max(this.nextIndex, index + 1);
    let peerArgs: string[] = [];
    if (this.options.peerProxies === true) {
      const peerPort = await freePort();
      const proxy = this.proxies[index] ?? (await PeerCutProxy.start(peerPort));
      this.proxies[index] = proxy;
      peerArgs = ['--peer-port', String(proxy.targetPort), '--peer-announce', `127.0.0.1:${proxy.port}`];
    }
    // Every node proves the cluster secret to its peers and the coordinator, as `catena up` sets it up.
    const secretFile = clusterSecretFile(this.options.dir);
    const server = await startServer({
      dataDir: join(this.options.dir, `node${index}`),
      durability: this.options.durability,
      extraArgs: [
        '--resp-port',
        '0',
        '--memcached-port',
        '0',
        '--cluster',
        'test',
        '--coordinator',
        this.coordinatorUrl,
        '--session-timeout-ms',
        String(this.options.sessionTimeoutMs),
        '--log-level',
        'info',
        '--cluster-secret-file',
        secretFile,
        ...peerArgs,
        ...(this.options.serverArgs ?? []),
      ],
    });
    this.servers[index] = server;
    return server;
  }

  /** Cuts the chain link between two nodes both ways (peerProxies): every other link and session stays. */
  cutLink(a: string, b: string): void {
    this.proxyOf(b).cutFrom(a);
    this.proxyOf(a).cutFrom(b);
  }

  healLink(a: string, b: string): void {
    this.proxyOf(b).healFrom(a);
    this.proxyOf(a).healFrom(b);
  }

  private proxyOf(nodeId: string): PeerCutProxy {
    const proxy = this.proxies[this.indexOf(nodeId)];
    assert(proxy !== undefined, `no peer proxy for ${nodeId} (start the cluster with peerProxies)`);
    return proxy;
  }

  get live(): ServerProcess[] {
    return this.servers.filter((s) => s.alive());
  }

  seeds(): string[] {
    return this.servers.map((s) => `127.0.0.1:${s.port}`);
  }

  byId(nodeId: string): ServerProcess {
    const server = this.servers.find((s) => s.nodeId === nodeId);
    assert(server !== undefined, `no node ${nodeId}`);
    return server;
  }

  indexOf(nodeId: string): number {
    return this.servers.findIndex((s) => s.nodeId === nodeId);
  }

  /** The credentials of the harness's own clients (ClusterOptions.clientAuth), as ClusterClient options. */
  private get auth(): { auth?: Credentials } {
    return this.options.clientAuth === undefined ? {} : { auth: this.options.clientAuth };
  }

  /** The chain as a live node reports it. */
  async chain(): Promise<ChainView | undefined> {
    for (const server of this.live) {
      let client: ClusterClient | undefined;
      try {
        client = await ClusterClient.connect({ seeds: [`127.0.0.1:${server.port}`], timeoutMs: 1_000, ...this.auth });
        const topology = await client.topology();
        const chain = topology.chains[0];
        if (chain === undefined) continue;
        return {
          epoch: Number(chain.epoch),
          members: [...chain.members],
          joining: chain.joining,
          manager: topology.manager,
        };
      } catch {
        // try the next node
      } finally {
        await client?.close();
      }
    }
    return undefined;
  }

  /** Changes the layout (as `catena chain add|remove` does): the manager starts or retires chains and moves slots. */
  setLayout(layout: Layout): Promise<void> {
    return writeLayout(this.coordinatorUrl, layout, clusterSecret(this.options.dir));
  }

  /** The whole topology as some live node reports it (every chain, the slot map). */
  async topology(): Promise<Topology | undefined> {
    for (const server of this.live) {
      let client: ClusterClient | undefined;
      try {
        client = await ClusterClient.connect({ seeds: [`127.0.0.1:${server.port}`], timeoutMs: 1_000, ...this.auth });
        return await client.topology();
      } catch {
        // try the next node
      } finally {
        await client?.close();
      }
    }
    return undefined;
  }

  /** Polls until the topology satisfies `predicate`. */
  async waitForTopology(
    predicate: (topology: Topology) => boolean,
    what: string,
    timeoutMs = 30_000,
  ): Promise<Topology> {
    const deadline = Date.now() + timeoutMs;
    let last: Topology | undefined;
    while (Date.now() < deadline) {
      last = await this.topology();
      if (last !== undefined && predicate(last)) return last;
      await sleep(100);
    }
    assert.fail(`timed out waiting for ${what}; last topology seen: ${JSON.stringify(last, jsonBigint)}`);
  }

  /** Waits until every chain of the layout has `replicas` live members and no joiner, and the slot map is written. */
  waitForLayout(layout: Layout, timeoutMs?: number): Promise<Topology> {
    const liveIds = () => new Set(this.live.map((s) => s.nodeId));
    return this.waitForTopology(
      (t) =>
        t.slotsVersion > 0n &&
        t.chains.length === layout.chains &&
        t.chains.every(
          (c) => c.members.length === layout.replicas && c.joining === '' && c.members.every((m) => liveIds().has(m)),
        ),
      `${layout.chains} chains of ${layout.replicas} live members`,
      timeoutMs,
    );
  }

  /** Polls until the chain satisfies `predicate` (as seen by some live node). */
  async waitForChain(predicate: (chain: ChainView) => boolean, what: string, timeoutMs = 30_000): Promise<ChainView> {
    const deadline = Date.now() + timeoutMs;
    let last: ChainView | undefined;
    while (Date.now() < deadline) {
      last = await this.chain();
      if (last !== undefined && predicate(last)) return last;
      await sleep(100);
    }
    assert.fail(`timed out waiting for ${what}; last chain seen: ${JSON.stringify(last)}`);
  }

  /** Waits until `n` live nodes form the chain, with no joiner. */
  waitForMembers(n: number, timeoutMs?: number): Promise<ChainView> {
    const liveIds = () => new Set(this.live.map((s) => s.nodeId));
    return this.waitForChain(
      (c) => c.members.length === n && c.joining === '' && c.members.every((m) => liveIds().has(m)),
      `${n} live members`,
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.live.map(async (s) => {
        s.kill('SIGKILL');
        await s.exited;
      }),
    );
    await this.stopCoordinator();
    await Promise.all(this.proxies.map((proxy) => proxy.stop()));
  }
}

/** Stores the layout for the cluster's manager, as `catena up --chains --replicas` does. */
/**
 * The cluster's secret file in its directory, written on first use: nodes get it as
 * --cluster-secret-file, the embedded coordinator and every coordinator client of the tests use it.
 */
export function clusterSecretFile(dir: string): string {
  const path = join(dir, 'cluster.secret');
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, generateClusterSecret(), { mode: 0o600, flag: 'wx' });
  }
  return path;
}

export function clusterSecret(dir: string): Buffer {
  return readClusterSecret(clusterSecretFile(dir));
}

async function writeLayout(coordinatorUrl: string, layout: Layout, secret: Buffer): Promise<void> {
  const coordinator = await connectCoordinator(coordinatorUrl, { sessionTimeoutMs: 2_000, secret });
  try {
    const paths = clusterPaths('test');
    await coordinator.ensurePath(paths.root);
    if ((await coordinator.exists(paths.layout)) === undefined) {
      await coordinator.create(paths.layout, encodeLayout(layout), 'persistent');
    } else {
      await coordinator.set(paths.layout, encodeLayout(layout), anyVersion);
    }
  } finally {
    await coordinator.close();
  }
}

/** Fails with the key, the reason and the last operations when the history is not linearizable. */
export function assertLinearizable(operations: Operation[]): void {
  const check = checkHistory(operations);
  assert(
    check.ok,
    check.ok
      ? ''
      : `not linearizable on ${check.key}: ${check.reason}\n${JSON.stringify(check.operations.slice(-20), jsonBigint)}`,
  );
}

/** JSON.stringify replacer for replies that hold bigints. */
export const jsonBigint = (_key: string, value: unknown): unknown =>
  typeof value === 'bigint' ? value.toString() : value;

export async function startCluster(options: ClusterOptions): Promise<TestCluster> {
  const full = { sessionTimeoutMs: 2_000, durability: 'fsync' as const, ...options };
  let url: string;
  let stop: () => Promise<void>;
  if (options.coordinator === 'embedded') {
    const server = await EmbeddedCoordinatorServer.start({
      port: 0,
      sessionTimeoutMsMin: 500,
      secret: clusterSecret(options.dir),
    });
    url = server.url;
    stop = () => server.stop();
  } else {
    const zk: ZooKeeperServer = await startZooKeeper({ tickTimeMs: 250, minSessionTimeoutMs: 500 });
    url = zk.url;
    stop = () => zk.stop();
  }
  const cluster = new TestCluster(full, url, stop);
  try {
    if (options.layout !== undefined) await writeLayout(url, options.layout, clusterSecret(options.dir));
    await Promise.all(Array.from({ length: options.nodes }, (_, i) => cluster.startNode(i)));
    if (options.layout !== undefined) await cluster.waitForLayout(options.layout, 60_000);
    else await cluster.waitForMembers(options.nodes);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

// ---- load with a recorded history ----------------------------------------------------------

export interface LoadResult {
  operations: Operation[];
  /** Successful operations. */
  ok: number;
  /** Operations whose outcome is unknown (failed after every retry). */
  unknown: number;
  /** Longest time with no operation completing, in ms, and when it started (Date.now()). */
  longestGapMs: number;
  longestGapAtMs: number;
}

export interface Load {
  stop(): Promise<LoadResult>;
  /** Resolves once `n` more operations have succeeded. */
  progress(n: number, timeoutMs?: number): Promise<void>;
}

const outcomeUnknown = Symbol('unknown');

/**
 * Concurrent clients doing get, put, incr and compare-and-set on a few keys through the cluster
 * client (with failover and exactly-once retries). Values are integers, so incr applies.
 */
export function startLoad(cluster: TestCluster, options: { clients: number; keys: number; keyPrefix?: string }): Load {
  const prefix = options.keyPrefix ?? 'k';
  const recorder = new HistoryRecorder();
  let running = true;
  let ok = 0;
  let unknown = 0;
  let lastDoneMs = Date.now();
  let longestGapMs = 0;
  let longestGapAtMs = 0;
  const waiters: { target: number; resolve: () => void }[] = [];
  const done = () => {
    ok += 1;
    const now = Date.now();
    if (now - lastDoneMs > longestGapMs) {
      longestGapMs = now - lastDoneMs;
      longestGapAtMs = lastDoneMs;
    }
    lastDoneMs = now;
    for (const w of waiters.filter((w) => ok >= w.target)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };

  const worker = async (index: number): Promise<void> => {
    const client = await ClusterClient.connect({ seeds: cluster.seeds(), timeoutMs: 15_000 });
    const versions = new Map<string, bigint>();
    let step = 0;
    try {
      while (running) {
        step += 1;
        const key = `${prefix}${(index + step) % options.keys}`;
        const roll = (index * 7 + step * 13) % 10;
        const input: Input =
          roll < 4
            ? { f: 'get' }
            : roll < 6
              ? { f: 'put', value: String(index * 1_000_000 + step) }
              : roll < 8
                ? { f: 'incr', delta: 1n }
                : { f: 'cas', expectedVersion: Number(versions.get(key) ?? 0n), value: String(step) };
        const finish = recorder.invoke(index, key, input, performance.now());
        const output = await run(client, key, input, versions);
        if (output === outcomeUnknown) {
          unknown += 1;
          if (input.f !== 'get') finish(undefined, performance.now());
          continue;
        }
        finish(output, performance.now());
        done();
      }
    } finally {
      await client.close();
    }
  };
  const workers = Array.from({ length: options.clients }, (_, i) => worker(i));

  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return { operations: recorder.operations, ok, unknown, longestGapMs, longestGapAtMs };
    },
    progress(n, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`load made no progress of ${n} operations in ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          target: ok + n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

async function run(
  client: ClusterClient,
  key: string,
  input: Input,
  versions: Map<string, bigint>,
): Promise<Output | typeof outcomeUnknown> {
  try {
    switch (input.f) {
      case 'get': {
        const found = await client.get(key);
        if (found === undefined) return { f: 'get', found: false };
        versions.set(key, found.version);
        return { f: 'get', found: true, value: found.value.toString(), version: Number(found.version) };
      }
      case 'put':
        return { f: 'put', version: Number((await client.put(key, input.value)).version) };
      case 'incr':
        return { f: 'incr', value: await client.incr(key, input.delta) };
      case 'cas': {
        const reply = await client.cas(key, BigInt(input.expectedVersion), input.value);
        return reply.swapped
          ? { f: 'cas', swapped: true, version: Number(reply.version) }
          : { f: 'cas', swapped: false, currentVersion: Number(reply.version) };
      }
      default:
        throw new Error(`unexpected input ${input.f}`);
    }
  } catch (error) {
    if (error instanceof CatenaError && error.code === 'ERR_NOT_AN_INTEGER')
      return { f: 'error', reason: 'not-an-integer' };
    if (error instanceof CatenaError) return outcomeUnknown;
    throw error;
  }
}

/** Reads every key once more (after faults healed), recorded in the history, so lost writes show. */
export async function finalReads(
  cluster: TestCluster,
  keys: number,
  operations: Operation[],
  keyPrefix = 'k',
): Promise<void> {
  const client = await ClusterClient.connect({
    seeds: cluster.live.map((s) => `127.0.0.1:${s.port}`),
    timeoutMs: 20_000,
  });
  const recorder = new HistoryRecorder();
  try {
    for (let k = 0; k < keys; k++) {
      const key = `${keyPrefix}${k}`;
      const finish = recorder.invoke(1_000, key, { f: 'get' }, performance.now());
      const found = await client.get(key);
      finish(
        found === undefined
          ? { f: 'get', found: false }
          : { f: 'get', found: true, value: found.value.toString(), version: Number(found.version) },
        performance.now(),
      );
    }
  } finally {
    await client.close();
  }
  operations.push(...recorder.operations);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
