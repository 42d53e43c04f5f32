// GET /metrics and GET /ready: the Prometheus text a node serves (unit: made-up sources; then
// real nodes: a standalone one and a 3-node cluster on the embedded coordinator, checked with
// Prometheus's own `promtool check metrics` where Debian's prometheus package is installed).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { LatencyHistogram } from '../../src/core/histogram.js';
import { nodeMetrics, type MetricsSource } from '../../src/server/metrics.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const promtool = '/usr/bin/promtool';

/** Every sample line of a text exposition: `name{labels}` -> value. */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    found.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return found;
}

function histogramOf(...values: number[]): LatencyHistogram {
  const histogram = new LatencyHistogram();
  for (const value of values) histogram.record(value);
  return histogram;
}

const standaloneSource = (overrides: Partial<MetricsSource> = {}): MetricsSource => ({
  info: () => ({ nodeId: 'n1', chain: '', version: '9.9.9', durability: 'fsync' }),
  commands: () => [
    { name: 'get', calls: 3, errors: 1, latencyUs: histogramOf(40, 400, 4_000) },
    { name: 'put', calls: 0, errors: 0, latencyUs: new LatencyHistogram() },
  ],
  protocolErrors: () => 7,
  connections: () => [
    { protocol: 'native', open: 1, accepted: 4, bytesIn: 100, bytesOut: 200 },
    { protocol: 'resp', open: 0, accepted: 2, bytesIn: 10, bytesOut: 20 },
  ],
  store: () => ({ keys: 5, bytes: 55 }),
  storage: () => undefined,
  chain: () => undefined,
  coordinator: () => undefined,
  slotMoves: () => undefined,
  ...overrides,
});

/** Checks an exposition with Prometheus's own linter; returns its complaints ('' when clean). */
function promtoolCheck(text: string): string {
  const result = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(result.error, undefined, `promtool ran: ${String(result.error)}`);
  return result.status === 0 ? '' : `${result.stdout}${result.stderr}`;
}

describe('nodeMetrics (made-up sources)', () => {
  it('exposes counters, gauges and cumulative histogram buckets read at scrape time', async () => {
    let calls = 3;
    const source = standaloneSource({
      commands: () => [{ name: 'get', calls, errors: 1, latencyUs: histogramOf(40, 400, 4_000) }],
    });
    const registry = nodeMetrics(source);
    const first = samples(await registry.metrics());
    assert.equal(first.get('catena_commands_total{command="get"}'), 3);
    assert.equal(first.get('catena_command_errors_total{command="get"}'), 1);
    assert.equal(first.get('catena_protocol_errors_total'), 7);
    assert.equal(first.get('catena_client_connections{protocol="native"}'), 1);
    assert.equal(first.get('catena_client_received_bytes_total{protocol="native"}'), 100);
    assert.equal(first.get('catena_client_sent_bytes_total{protocol="resp"}'), 20);
    assert.equal(first.get('catena_store_keys'), 5);
    assert.equal(first.get('catena_node_info{node_id="n1",chain="",version="9.9.9",durability="fsync"}'), 1);
    // 40 µs, 400 µs and 4 ms: cumulative, in seconds.
    assert.equal(first.get('catena_command_duration_seconds_bucket{command="get",le="0.00005"}'), 1);
    assert.equal(first.get('catena_command_duration_seconds_bucket{command="get",le="0.0005"}'), 2);
    assert.equal(first.get('catena_command_duration_seconds_bucket{command="get",le="0.0025"}'), 2);
    assert.equal(first.get('catena_command_duration_seconds_bucket{command="get",le="0.005"}'), 3);
    assert.equal(first.get('catena_command_duration_seconds_bucket{command="get",le="+Inf"}'), 3);
    assert.equal(first.get('catena_command_duration_seconds_count{command="get"}'), 3);
    assert.ok(Math.abs(first.get('catena_command_duration_seconds_sum{command="get"}')! - 0.00444) < 1e-9);
    // Read again at the next scrape, not recorded once.
    calls = 10;
    assert.equal(samples(await registry.metrics()).get('catena_commands_total{command="get"}'), 10);
  });

  it('leaves out commands never called, and chain, coordinator and storage metrics on a standalone node', async () => {
    const text = await nodeMetrics(standaloneSource()).metrics();
    assert.doesNotMatch(text, /command="put"/);
    const found = samples(text);
    for (const name of ['catena_chain_epoch', 'catena_log_bytes', 'catena_manager', 'catena_slot_moves_total']) {
      assert.equal(found.has(name), false, `${name} has no sample on a standalone node`);
    }
    // Process metrics come with it (prom-client's defaults).
    assert.ok(found.has('process_cpu_user_seconds_total'));
    assert.ok([...found.keys()].some((name) => name.startsWith('nodejs_eventloop_lag_seconds')));
  });

  it('shows a chain role and a session state as state sets, and storage histograms in their units', async () => {
    const text = await nodeMetrics(
      standaloneSource({
        storage: () => ({
          logCommitUs: histogramOf(900, 1_100),
          logCommitRecords: histogramOf(1, 3, 40),
          lmdbTransactionUs: histogramOf(2_000),
          logSegments: 2,
          logBytes: 8 << 20,
        }),
        chain: () => ({
          role: 'tail',
          epoch: 4,
          last: 120,
          persisted: 118,
          committed: 100,
          servingReads: true,
          commitUs: histogramOf(700),
          suspicions: 1,
          peerRefusals: 2,
        }),
        coordinator: () => ({
          state: 'disconnected',
          manager: true,
          opened: 1,
          disconnects: 2,
          reconnects: 1,
          expirations: 0,
        }),
        slotMoves: () => ({ moves: 1, slots: 100, records: 10, bytes: 1000, copying: 0, remaining: 50, inFlight: 25 }),
      }),
    ).metrics();
    const found = samples(text);
    assert.equal(found.get('catena_chain_role{role="tail"}'), 1);
    assert.equal(found.get('catena_chain_role{role="head"}'), 0);
    assert.equal(found.get('catena_chain_uncommitted_entries'), 20);
    assert.equal(found.get('catena_chain_serving_reads'), 1);
    assert.equal(found.get('catena_coordinator_session_state{state="disconnected"}'), 1);
    assert.equal(found.get('catena_coordinator_session_state{state="connected"}'), 0);
    assert.equal(found.get('catena_coordinator_disconnects_total'), 2);
    assert.equal(found.get('catena_manager'), 1);
    assert.equal(found.get('catena_log_bytes'), 8 << 20);
    assert.equal(found.get('catena_log_group_commit_entries_bucket{le="1"}'), 1);
    assert.equal(found.get('catena_log_group_commit_entries_bucket{le="4"}'), 2);
    assert.equal(found.get('catena_log_group_commit_entries_bucket{le="64"}'), 3);
    assert.equal(found.get('catena_log_group_commit_entries_sum'), 44);
    assert.equal(found.get('catena_log_sync_duration_seconds_bucket{le="0.001"}'), 1);
    assert.equal(found.get('catena_log_sync_duration_seconds_count'), 2);
    assert.equal(found.get('catena_slot_move_in_flight_slots'), 25);
    if (existsSync(promtool)) assert.equal(promtoolCheck(text), '');
  });
});

describe('LatencyHistogram.countsAtMost', () => {
  it('counts each value at its bucket upper bound: never below the true count at a bound', () => {
    const histogram = histogramOf(1, 2, 3, 15, 16, 17, 1_000, 1_000_000);
    assert.deepEqual(histogram.countsAtMost([0, 1, 3, 16, 17, 999, 1_100, 2_000_000]), [0, 1, 3, 5, 6, 6, 7, 8]);
    assert.deepEqual(new LatencyHistogram().countsAtMost([1, 10]), [0, 0]);
    assert.equal(histogram.sum, 1 + 2 + 3 + 15 + 16 + 17 + 1_000 + 1_000_000);
  });
});

const get = async (url: string): Promise<{ status: number; body: string; type: string | null }> => {
  const response = await fetch(url);
  return { status: response.status, body: await response.text(), type: response.headers.get('content-type') };
};

describe('a standalone node: /metrics and /ready', () => {
  const dir = tempDir();
  let server: ServerProcess;
  let admin: string;

  before(async () => {
    server = await startServer({
      dataDir: dir.path,
      extraArgs: ['--admin-port', '0', '--resp-port', '0', '--log-level', 'info'],
    });
    const found = /admin (http:\/\/[\d.]+:\d+)/.exec(server.stdout());
    assert.ok(found !== null, `the node prints its admin address: ${server.stdout()}`);
    admin = found[1]!;
  });
  after(async () => {
    await server.stop();
    dir.remove();
  });

  it('serves Prometheus text that promtool accepts, with what the node did', async () => {
    const redis = new Redis({ port: server.respPort!, lazyConnect: true });
    await redis.connect();
    for (let i = 0; i < 20; i++) await redis.set(`k${i}`, 'v');
    await redis.get('k1');
    await redis.quit();
    const { status, body, type } = await get(`${admin}/metrics`);
    assert.equal(status, 200);
    assert.match(type ?? '', /^text\/plain; version=0\.0\.4/);
    const found = samples(body);
    assert.equal(found.get('catena_commands_total{command="put"}'), 20);
    assert.equal(found.get('catena_commands_total{command="get"}'), 1);
    assert.equal(found.get('catena_store_keys'), 20);
    assert.ok(found.get('catena_client_connections_accepted_total{protocol="resp"}')! >= 1);
    assert.ok(found.get('catena_client_received_bytes_total{protocol="resp"}')! > 20 * 10);
    assert.ok(found.get('catena_lmdb_commit_duration_seconds_count')! >= 1, 'LMDB transactions are timed');
    assert.equal(found.has('catena_chain_epoch'), false);
    if (existsSync(promtool) || process.env.CI !== undefined) assert.equal(promtoolCheck(body), '');
  });

  it('is ready, and /status carries no protobuf type tags', async () => {
    const ready = await get(`${admin}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(JSON.parse(ready.body), { ready: true, role: 'standalone', nodeId: server.nodeId });
    const status = await get(`${admin}/status`);
    assert.equal(status.status, 200);
    assert.doesNotMatch(status.body, /\$typeName/);
    assert.ok(Array.isArray((JSON.parse(status.body) as { stats: { commands: unknown[] } }).stats.commands));
  });
});

describe('a 3-node cluster: chain metrics on every node, a standby is not ready', () => {
  const dir = tempDir();
  let cluster: TestCluster;

  before(async () => {
    cluster = await startCluster({
      nodes: 3,
      coordinator: 'embedded',
      dir: dir.path,
      layout: { chains: 1, replicas: 2 },
      serverArgs: ['--admin-port', '0'],
    });
  });
  after(async () => {
    await cluster.stop();
    dir.remove();
  });

  it('shows roles, sequences, group commits and commit latency; the standby answers 503 with why', async () => {
    const topology = await cluster.topology();
    assert.ok(topology !== undefined);
    const chain = topology.chains[0]!;
    assert.equal(chain.members.length, 2);
    const [head, tail] = chain.members;
    const adminOf = (nodeId: string) => `http://${topology.nodes.find((n) => n.nodeId === nodeId)!.admin}`;
    // The coordinator's configuration reaches each node a little later than the harness reads it.
    const roleOf = async (nodeId: string) => {
      const found = samples((await get(`${adminOf(nodeId)}/metrics`)).body);
      return ['head', 'tail', 'head-and-tail', 'joining', 'outside'].find(
        (r) => found.get(`catena_chain_role{role="${r}"}`) === 1,
      );
    };
    for (const deadline = Date.now() + 20_000; (await roleOf(head!)) !== 'head' || (await roleOf(tail!)) !== 'tail';) {
      assert.ok(Date.now() < deadline, `the members take their roles: ${await roleOf(head!)}, ${await roleOf(tail!)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const redis = new Redis({ port: cluster.servers[0]!.respPort!, lazyConnect: true });
    await redis.connect();
    for (let i = 0; i < 50; i++) await redis.set(`key${i}`, 'value');
    await redis.quit();

    const headMetrics = samples((await get(`${adminOf(head!)}/metrics`)).body);
    assert.equal(headMetrics.get('catena_chain_role{role="head"}'), 1);
    assert.ok(headMetrics.get('catena_chain_committed_sequence')! >= 50);
    assert.ok(headMetrics.get('catena_log_sync_duration_seconds_count')! >= 1, 'group commits are timed');
    assert.ok(headMetrics.get('catena_log_group_commit_entries_sum')! >= 50, 'every entry went through a group commit');
    assert.ok(headMetrics.get('catena_commit_duration_seconds_count')! >= 1, 'commit latency is sampled');
    assert.equal(headMetrics.get('catena_coordinator_session_state{state="connected"}'), 1);
    assert.ok(headMetrics.get('catena_coordinator_sessions_opened_total')! >= 1);
    const tailText = (await get(`${adminOf(tail!)}/metrics`)).body;
    const tailMetrics = samples(tailText);
    assert.equal(tailMetrics.get('catena_chain_role{role="tail"}'), 1);
    assert.equal(tailMetrics.get('catena_chain_serving_reads'), 1);
    if (existsSync(promtool) || process.env.CI !== undefined) assert.equal(promtoolCheck(tailText), '');

    for (const member of [head!, tail!]) {
      const ready = await get(`${adminOf(member)}/ready`);
      assert.equal(ready.status, 200, ready.body);
    }
    const standby = topology.nodes.find((n) => !chain.members.includes(n.nodeId))!;
    const ready = await get(`http://${standby.admin}/ready`);
    assert.equal(ready.status, 503);
    assert.deepEqual(JSON.parse(ready.body), {
      ready: false,
      role: 'outside',
      reason: 'in no chain: a standby, or not placed yet',
      nodeId: standby.nodeId,
    });
  });
});
