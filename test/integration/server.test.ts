// A real `catena server` process over TCP: every command through the client, many pipelined
// clients at once, stats, the data-directory lock, clean restarts, SIGTERM with requests in
// flight, and SIGKILL in the middle of a write load (fsync durability: every acknowledged write
// must survive).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { create } from '@bufbuild/protobuf';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, type Entry } from '../../src/client/client.js';
import { CatenaError } from '../../src/core/errors.js';
import { catenaVersion } from '../../src/core/version.js';
import { decodeResponse, encodeRequest } from '../../src/protocol/native/codec.js';
import { encodeFrame, FrameDecoder } from '../../src/protocol/native/frame.js';
import { GetRequestSchema, PutRequestSchema } from '../../src/protocol/native/gen/catena_pb.js';
import {
  killLeftoverServers,
  runServerExpectingFailure,
  sleep,
  startServer,
  withTimeout,
  type ServerProcess,
} from '../helpers/server-process.js';
import { tempDir, text } from '../helpers/tmp.js';

/** Every entry under a prefix, read by paging with scan: key -> entry. */
async function readAll(client: Client, prefix = ''): Promise<Map<string, Entry>> {
  const all = new Map<string, Entry>();
  for await (const entry of client.entries({ prefix, pageSize: 500 })) {
    const key = entry.key.toString('utf8');
    assert.ok(!all.has(key), `scan returned ${key} twice`);
    all.set(key, entry);
  }
  return all;
}

/** Asserts the store holds exactly `expected` (key -> value), nothing more, nothing less. */
async function assertHoldsExactly(
  client: Client,
  expected: ReadonlyMap<string, string>,
  context: string,
): Promise<Map<string, Entry>> {
  const all = await readAll(client);
  const missing = [...expected.keys()].filter((key) => !all.has(key));
  const extra = [...all.keys()].filter((key) => !expected.has(key));
  assert.deepEqual(
    { missing: missing.slice(0, 10), extra: extra.slice(0, 10) },
    { missing: [], extra: [] },
    `${context}: key sets differ`,
  );
  for (const [key, value] of expected)
    assert.equal(all.get(key)?.value.toString('utf8'), value, `${context}: value of ${key}`);
  const size = await client.size();
  assert.equal(size.keys, expected.size, `${context}: size agrees with the keys present`);
  return all;
}

const errorCode = (error: unknown): string =>
  error instanceof CatenaError ? error.code : `non-catena error: ${String(error)}`;

void describe('catena server process over TCP (fsync)', () => {
  const dir = tempDir('catena-it-server-');
  let server: ServerProcess;
  let client: Client;
  /** Everything that must be stored right now (key -> value), kept up to date by every test. */
  const expected = new Map<string, string>();
  /** Keys that carry a long TTL (must keep it across restarts). */
  const longTtlKeys = new Set<string>();

  const reconnect = async () => {
    client = await Client.connect({ port: server.port });
  };

  before(async () => {
    server = await startServer({ dataDir: dir.path, durability: 'fsync' });
    await reconnect();
  });

  after(async () => {
    await client?.close();
    await killLeftoverServers();
    dir.remove();
  });

  void it('answers put/get/del/size/getkeys/gettable/scan/incr/append/cas/expire/ttl/ping', async () => {
    assert.equal((await client.ping()).toString(), 'PONG');
    assert.equal((await client.ping('hello')).toString(), 'hello');
    assert.deepEqual(await client.size(), { keys: 0, bytes: 0 });

    // put / get / del
    const v1 = await client.put('cmd/a', 'alpha');
    const got = await client.get('cmd/a');
    assert.equal(text(got?.value), 'alpha');
    assert.equal(got?.version, v1.version);
    assert.equal(got?.ttlMs, 0);
    const v2 = await client.put('cmd/a', 'alpha2');
    assert.ok(v2.version > v1.version, 'versions grow');
    assert.equal(await client.get('cmd/missing'), undefined);
    await client.put('cmd/b', Buffer.from([0, 255, 1, 254]));
    assert.deepEqual([...(await client.get('cmd/b'))!.value], [0, 255, 1, 254]);
    await client.put('cmd/gone', 'x');
    assert.equal(await client.del('cmd/gone'), true);
    assert.equal(await client.del('cmd/gone'), false);
    assert.equal(await client.get('cmd/gone'), undefined);
    await assert.rejects(client.put('', 'v'), (e: unknown) => errorCode(e) === 'ERR_KEY_EMPTY');
    await assert.rejects(client.put('k'.repeat(1025), 'v'), (e: unknown) => errorCode(e) === 'ERR_KEY_TOO_LARGE');

    // size counts keys and bytes
    const size = await client.size();
    assert.deepEqual(size, { keys: 2, bytes: 'cmd/a'.length + 'alpha2'.length + 'cmd/b'.length + 4 });

    // incr
    assert.equal(await client.incr('cmd/n'), 1n);
    assert.equal(await client.incr('cmd/n', 41n), 42n);
    assert.equal(await client.incr('cmd/n', -50), -8n);
    assert.equal(text((await client.get('cmd/n'))?.value), '-8');
    await assert.rejects(client.incr('cmd/a'), (e: unknown) => errorCode(e) === 'ERR_NOT_AN_INTEGER');
    await client.put('cmd/max', String(2n ** 63n - 1n));
    await assert.rejects(client.incr('cmd/max'), (e: unknown) => errorCode(e) === 'ERR_OVERFLOW');

    // append
    assert.equal(await client.append('cmd/log', 'one'), 3);
    assert.equal(await client.append('cmd/log', ',two'), 7);
    assert.equal(text((await client.get('cmd/log'))?.value), 'one,two');

    // cas
    const created = await client.cas('cmd/c', 0n, 'first');
    assert.equal(created.swapped, true);
    const again = await client.cas('cmd/c', 0n, 'not-this');
    assert.deepEqual(again, { swapped: false, version: created.version });
    const swapped = await client.cas('cmd/c', created.version, 'second');
    assert.equal(swapped.swapped, true);
    assert.ok(swapped.version > created.version);
    assert.deepEqual(await client.cas('cmd/c', created.version, 'stale'), { swapped: false, version: swapped.version });
    assert.equal(text((await client.get('cmd/c'))?.value), 'second');

    // expire / ttl
    assert.equal(await client.ttl('cmd/a'), 0, 'no expiry');
    assert.equal(await client.ttl('cmd/missing'), undefined);
    assert.equal(await client.expire('cmd/missing', 1000), false);
    assert.equal(await client.expire('cmd/long', 1000), false);
    await client.put('cmd/long', 'lives an hour', { ttlMs: 3_600_000 });
    const longTtl = await client.ttl('cmd/long');
    assert.ok(longTtl !== undefined && longTtl > 3_500_000 && longTtl <= 3_600_000, `ttl ${longTtl}`);
    await client.put('cmd/short', 'soon gone');
    assert.equal(await client.expire('cmd/short', 150), true);
    const shortTtl = await client.ttl('cmd/short');
    assert.ok(shortTtl !== undefined && shortTtl > 0 && shortTtl <= 150, `ttl ${shortTtl}`);
    await client.put('cmd/unexpire', 'kept', { ttlMs: 100 });
    assert.equal(await client.expire('cmd/unexpire', 0), true, 'expire 0 removes the ttl');
    assert.equal(await client.ttl('cmd/unexpire'), 0);
    let waitedMs = 0;
    while ((await client.get('cmd/short')) !== undefined) {
      assert.ok(waitedMs < 5000, 'a key with a 150 ms ttl disappears');
      await sleep(25);
      waitedMs += 25;
    }
    assert.equal(await client.ttl('cmd/short'), undefined);
    assert.equal(text((await client.get('cmd/unexpire'))?.value), 'kept');
    // The node reclaims expired keys in the background: size drops without anyone asking.
    for (
      waitedMs = 0;
      (await readAll(client, 'cmd/short')).size > 0 || (await client.size()).keys !== 8;
      waitedMs += 25
    ) {
      assert.ok(waitedMs < 5000, 'the expired key is reclaimed');
      await sleep(25);
    }

    const final = new Map([
      ['cmd/a', 'alpha2'],
      ['cmd/b', Buffer.from([0, 255, 1, 254]).toString('utf8')],
      ['cmd/n', '-8'],
      ['cmd/max', String(2n ** 63n - 1n)],
      ['cmd/log', 'one,two'],
      ['cmd/c', 'second'],
      ['cmd/long', 'lives an hour'],
      ['cmd/unexpire', 'kept'],
    ]);

    // getkeys / gettable / scan, in byte order, with prefixes, limits and cursors
    const sortedKeys = [...final.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const keys = await client.getkeys({ prefix: 'cmd/' });
    assert.deepEqual(
      keys.keys.map((k) => k.toString()),
      sortedKeys,
    );
    assert.equal(keys.truncated, false);
    const firstTwo = await client.getkeys({ prefix: 'cmd/', limit: 2 });
    assert.deepEqual(
      firstTwo.keys.map((k) => k.toString()),
      sortedKeys.slice(0, 2),
    );
    assert.equal(firstTwo.truncated, true);
    assert.deepEqual((await client.getkeys({ prefix: 'nothing/' })).keys, []);
    const table = await client.gettable({ prefix: 'cmd/' });
    assert.equal(table.truncated, false);
    assert.deepEqual(
      table.entries.map((e) => [e.key.toString(), e.value.toString()]),
      sortedKeys.map((k) => [k, final.get(k)]),
    );
    assert.ok(table.entries.find((e) => e.key.toString() === 'cmd/long')!.ttlMs > 0);
    const paged: string[] = [];
    let after: Buffer | undefined;
    let pages = 0;
    do {
      const page = await client.scan({ prefix: 'cmd/', after, limit: 3 });
      assert.ok(page.entries.length <= 3);
      for (const e of page.entries) {
        paged.push(e.key.toString());
        assert.equal(e.value.toString(), final.get(e.key.toString()));
      }
      after = page.cursor;
      pages += 1;
    } while (after !== undefined);
    assert.deepEqual(paged, sortedKeys);
    assert.ok(pages >= 3, 'the scan really paged');
    const keysOnly = await client.scan({ prefix: 'cmd/', keysOnly: true });
    assert.ok(keysOnly.entries.every((e) => e.value.length === 0));
    await assert.rejects(client.scan({ limit: 10_001 }), (e: unknown) => errorCode(e) === 'ERR_INVALID_ARGUMENT');

    for (const [k, v] of final) expected.set(k, v);
    longTtlKeys.add('cmd/long');
    await assertHoldsExactly(client, expected, 'after the command tour');
  });

  void it('reports per-command calls, latencies, connections, keys and uptime in stats', async () => {
    const first = await client.stats();
    assert.equal(first.nodeId, server.nodeId, 'the node id of the listening line');
    assert.equal(first.durability, 'fsync');
    assert.equal(first.version, catenaVersion);
    assert.ok(first.uptimeMs > 0);
    const callsOf = (s: typeof first, name: string) => s.commands.find((c) => c.name === name);

    const n = 25;
    await Promise.all(Array.from({ length: n }, (_, i) => client.put(`stats/k${i}`, `v${i}`)));
    for (let i = 0; i < n; i++) await client.get(`stats/k${i}`);
    await assert.rejects(client.get(''), (e: unknown) => errorCode(e) === 'ERR_KEY_EMPTY');
    const second = await Client.connect({ port: server.port });
    try {
      await second.ping();
      await sleep(20);
      const stats = await client.stats();

      const puts = callsOf(stats, 'put');
      const gets = callsOf(stats, 'get');
      assert.ok(puts !== undefined && gets !== undefined, 'put and get rows are present');
      assert.equal(puts.calls - (callsOf(first, 'put')?.calls ?? 0), n, 'put calls counted');
      assert.equal(gets.calls - (callsOf(first, 'get')?.calls ?? 0), n + 1, 'get calls counted');
      assert.equal(gets.errors - (callsOf(first, 'get')?.errors ?? 0), 1, 'the failed get is an error');
      assert.equal(puts.errors - (callsOf(first, 'put')?.errors ?? 0), 0);
      assert.equal(
        callsOf(stats, 'stats')!.calls - (callsOf(first, 'stats')?.calls ?? 0),
        1,
        'the first stats call is counted',
      );
      for (const row of [puts, gets]) {
        assert.ok(row.p50Us > 0, `${row.name} p50 is non-zero`);
        assert.ok(
          row.p99Us >= row.p50Us && row.p999Us >= row.p99Us && row.maxUs >= row.p50Us,
          `${row.name} quantiles are ordered`,
        );
      }
      for (const row of stats.commands) assert.ok(row.calls > 0, `only commands that ran are listed (${row.name})`);

      assert.ok(stats.connections >= 2, `two clients are connected (${stats.connections})`);
      assert.ok(stats.connectionsTotal >= first.connectionsTotal + 1);
      for (let i = 0; i < n; i++) expected.set(`stats/k${i}`, `v${i}`);
      assert.equal(stats.keys, expected.size, 'keys');
      assert.equal(stats.bytes, (await client.size()).bytes, 'bytes agree with size');
      assert.ok(stats.uptimeMs > first.uptimeMs, 'uptime moves on');
    } finally {
      await second.close();
    }
    // The open-connection gauge goes back down when a client leaves.
    for (let waitedMs = 0; (await client.stats()).connections !== 1; waitedMs += 20) {
      assert.ok(waitedMs < 5000, 'the closed connection is no longer counted');
      await sleep(20);
    }
  });

  void it('serves 32 pipelined clients at once without losing or mixing up writes', async () => {
    const clientCount = 32;
    const opsPerClient = 200;
    const counterKey = 'mix/counter';
    const clients = await Promise.all(
      Array.from({ length: clientCount }, () => Client.connect({ port: server.port, timeoutMs: 30_000 })),
    );
    const incrValues: bigint[] = [];
    const models: Map<string, string | undefined>[] = [];
    const failures: string[] = [];
    try {
      const runs = clients.map(async (c, ci) => {
        // What this client's keys hold after each of its operations, in the order it sends them:
        // one connection's requests run in order, so every reply can be checked exactly.
        const model = new Map<string, string | undefined>();
        models.push(model);
        const ops: Promise<unknown>[] = [];
        let log = '';
        for (let j = 0; j < opsPerClient; j++) {
          const key = `mix/c${ci}/k${(j * 7) % 23}`;
          const check = <T>(op: Promise<T>, verify: (reply: T) => void) =>
            ops.push(
              op.then(verify, (error: unknown) => {
                failures.push(`client ${ci} op ${j}: ${errorCode(error)} ${String(error)}`);
              }),
            );
          switch ((j + ci) % 6) {
            case 0:
            case 1: {
              const value = `v-${ci}-${j}-${'x'.repeat(j % 50)}`;
              model.set(key, value);
              check(c.put(key, value), (r) => assert.ok(r.version > 0n));
              break;
            }
            case 2: {
              const now = model.get(key);
              check(c.get(key), (e) => assert.equal(text(e?.value), now, `client ${ci} op ${j} reads its own writes`));
              break;
            }
            case 3:
              check(c.incr(counterKey), (v) => incrValues.push(v));
              break;
            case 4: {
              log += `${j};`;
              const length = log.length;
              model.set(`mix/c${ci}/log`, log);
              check(c.append(`mix/c${ci}/log`, `${j};`), (n) => assert.equal(n, length));
              break;
            }
            case 5: {
              if (j % 4 === 1) {
                const present = model.get(key) !== undefined;
                model.set(key, undefined);
                check(c.del(key), (deleted) => assert.equal(deleted, present, `client ${ci} op ${j} del`));
              } else {
                const casKey = `mix/c${ci}/cas${j}`;
                model.set(casKey, `cas-${j}`);
                check(c.cas(casKey, 0n, `cas-${j}`), (r) => assert.equal(r.swapped, true));
              }
              break;
            }
          }
        }
        assert.ok(c.inFlight > opsPerClient / 2, 'requests really are pipelined');
        await Promise.all(ops);
      });
      await Promise.all(runs);
      assert.deepEqual(failures.slice(0, 5), [], 'every request succeeded');

      // The counter equals the number of acknowledged incrs, and each incr saw a distinct value.
      const sortedIncrs = [...incrValues].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      assert.deepEqual(
        sortedIncrs,
        Array.from({ length: incrValues.length }, (_, i) => BigInt(i + 1)),
      );
      assert.ok(incrValues.length > 1000);
      const merged = new Map<string, string>([[counterKey, String(incrValues.length)]]);
      for (const model of models) for (const [k, v] of model) if (v !== undefined) merged.set(k, v);
      const checker = await Client.connect({ port: server.port });
      try {
        const stored = await readAll(checker, 'mix/');
        assert.deepEqual(
          [...stored.keys()].sort(),
          [...merged.keys()].sort(),
          'exactly the keys the clients left behind',
        );
        for (const [k, v] of merged) assert.equal(stored.get(k)?.value.toString(), v, `value of ${k}`);
      } finally {
        await checker.close();
      }
      for (const [k, v] of merged) expected.set(k, v);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    await assertHoldsExactly(client, expected, 'after the concurrent load');
  });

  void it('refuses a second server on the same data directory with ERR_DATA_DIR_LOCKED', async () => {
    const second = await runServerExpectingFailure({ dataDir: dir.path, durability: 'fsync' });
    assert.notEqual(second.code, 0, `exit code ${second.code}`);
    assert.equal(second.signal, null);
    assert.match(second.stderr, /ERR_DATA_DIR_LOCKED/);
    assert.ok(second.stderr.includes(dir.path), `stderr names the data directory: ${second.stderr}`);
    assert.ok(second.stderr.includes(String(server.pid)), `stderr names the owning process: ${second.stderr}`);
    assert.doesNotMatch(second.stdout, /listening/);
    // The failed start left the first server and its lock alone.
    assert.ok(server.alive());
    assert.equal(readFileSync(join(dir.path, 'LOCK'), 'utf8').split('\n')[0], String(server.pid));
    assert.equal(text((await client.get('cmd/a'))?.value), 'alpha2');
    await assertHoldsExactly(client, expected, 'after the refused second server');
  });

  void it('times requests out while the server is frozen (SIGSTOP) and serves the same connection after SIGCONT', async () => {
    const frozen = await Client.connect({ port: server.port, timeoutMs: 300 });
    try {
      await frozen.put('freeze/a', 'before');
      await server.freeze();
      try {
        await assert.rejects(frozen.get('freeze/a'), (e: unknown) => errorCode(e) === 'ERR_TIMEOUT');
        await assert.rejects(
          frozen.put('freeze/b', 'sent while frozen'),
          (e: unknown) => errorCode(e) === 'ERR_TIMEOUT',
        );
      } finally {
        server.kill('SIGCONT');
      }
      // The late replies to the timed-out requests are dropped; the connection goes on.
      assert.equal(text((await frozen.get('freeze/a'))?.value), 'before');
      assert.equal(
        text((await frozen.get('freeze/b'))?.value),
        'sent while frozen',
        'the server ran the request once it woke up',
      );
      assert.equal((await frozen.ping('awake')).toString(), 'awake');
      assert.equal(frozen.inFlight, 0);
    } finally {
      await frozen.close();
    }
    expected.set('freeze/a', 'before');
    expected.set('freeze/b', 'sent while frozen');
    assert.ok(server.alive());
  });

  void it('Client.close() returns even when the server does not answer', async () => {
    const leaving = await Client.connect({ port: server.port, timeoutMs: 300 });
    await leaving.ping();
    await server.freeze();
    try {
      const closed = await withTimeout(
        leaving.close().then(() => true),
        1500,
      );
      assert.equal(closed, true, 'close() returned within 1.5 s while the server was frozen');
    } finally {
      server.kill('SIGCONT');
    }
  });

  void it('a server whose port is taken exits with a clear error and leaves no lock behind', async () => {
    const other = tempDir('catena-it-port-');
    try {
      const failed = await runServerExpectingFailure({
        dataDir: other.path,
        extraArgs: ['--port', String(server.port)],
      });
      assert.equal(failed.code, 1, 'a server that cannot listen exits 1 (3 means a client could not connect)');
      assert.match(failed.stderr, /ERR_LISTEN_FAILED.*EADDRINUSE/);
      assert.equal(existsSync(join(other.path, 'LOCK')), false, 'the data directory is not left locked');
      assert.ok(server.alive());
    } finally {
      other.remove();
    }
  });

  void it('keeps every key, value, version and ttl across a clean restart (SIGTERM)', async () => {
    const before = await readAll(client);
    const maxVersion = [...before.values()].reduce((m, e) => (e.version > m ? e.version : m), 0n);
    const nodeId = server.nodeId;
    await client.close();
    await server.stop();
    assert.equal(existsSync(join(dir.path, 'LOCK')), false, 'a clean stop releases the lock');

    server = await startServer({ dataDir: dir.path, durability: 'fsync' });
    await reconnect();
    assert.equal(server.nodeId, nodeId, 'the node keeps its id');
    const afterRestart = await assertHoldsExactly(client, expected, 'after a clean restart');
    for (const [key, entry] of before) {
      assert.equal(afterRestart.get(key)?.version, entry.version, `version of ${key}`);
    }
    for (const key of longTtlKeys) {
      const ttl = await client.ttl(key);
      assert.ok(ttl !== undefined && ttl > 0n && ttl <= 3_600_000n, `${key} keeps its ttl (${ttl})`);
    }
    const { version } = await client.put('restart/new', 'fresh');
    expected.set('restart/new', 'fresh');
    assert.ok(version > maxVersion, 'versions are never reused after a restart');
  });

  void it('answers or cleanly closes requests in flight on SIGTERM, exits 0, and keeps the data', async () => {
    const writers = 8;
    const window = 48;
    const acked = new Map<string, string>();
    const rejections: string[] = [];
    let stopAfterAcks: () => void = () => undefined;
    const enoughAcks = new Promise<void>((resolve) => (stopAfterAcks = resolve));
    const clients = await Promise.all(
      Array.from({ length: writers }, () => Client.connect({ port: server.port, timeoutMs: 20_000 })),
    );
    const runs = clients.map(async (c, ci) => {
      let next = 0;
      let closed = false;
      const one = async (): Promise<void> => {
        while (!closed) {
          const key = `term/c${ci}/${next}`;
          const value = `value-${ci}-${next}`;
          next += 1;
          try {
            await c.put(key, value);
            acked.set(key, value);
            if (acked.size >= 300) stopAfterAcks();
          } catch (error) {
            closed = true;
            rejections.push(errorCode(error));
          }
        }
      };
      await Promise.all(Array.from({ length: window }, one));
    });

    await enoughAcks;
    const inFlight = clients.reduce((sum, c) => sum + c.inFlight, 0);
    server.kill('SIGTERM');
    assert.ok(inFlight > 0, 'requests were in flight when SIGTERM arrived');
    const settled = await withTimeout(Promise.all(runs), 15_000);
    assert.notEqual(settled, undefined, 'every request settled (no hang)');
    const exit = await withTimeout(server.exited, 15_000);
    assert.deepEqual(exit, { code: 0, signal: null }, `clean exit after SIGTERM; stderr: ${server.stderr()}`);
    assert.ok(rejections.length > 0, 'the load ran until the server closed the connections');
    assert.deepEqual(
      [...new Set(rejections)],
      ['ERR_CONNECTION_CLOSED'],
      'requests not answered fail with a clean connection-closed error',
    );
    await Promise.all(clients.map((c) => c.close()));

    server = await startServer({ dataDir: dir.path, durability: 'fsync' });
    await reconnect();
    const stored = await readAll(client, 'term/');
    for (const [key, value] of acked)
      assert.equal(stored.get(key)?.value.toString(), value, `acknowledged ${key} survives`);
    for (const [key, entry] of stored) {
      const match = /^term\/c(\d+)\/(\d+)$/.exec(key);
      assert.ok(match !== null, `unexpected key ${key}`);
      assert.equal(entry.value.toString(), `value-${match[1]}-${match[2]}`, `no torn value under ${key}`);
    }
    // Everything written before the load is intact too.
    for (const [key, entry] of stored) expected.set(key, entry.value.toString());
    await assertHoldsExactly(client, expected, 'after SIGTERM under load and a restart');
    await client.close();
    await server.stop();
  });
});

void describe('catena server process: SIGKILL under write load (fsync)', () => {
  const dir = tempDir('catena-it-crash-');

  after(async () => {
    await killLeftoverServers();
    dir.remove();
  });

  void it('keeps every acknowledged write after SIGKILL, and the stale lock does not block the restart', async () => {
    let server = await startServer({ dataDir: dir.path, durability: 'fsync' });
    const seed = await Client.connect({ port: server.port });
    await seed.put('crash/before', 'written before the load');
    await seed.close();

    const writers = 8;
    const window = 32;
    const issued = new Map<string, string>();
    const acked = new Map<string, { value: string; version: bigint }>();
    let incrsIssued = 0;
    let incrsAcked = 0;
    let maxIncrAcked = 0n;
    const rejections: string[] = [];
    let signalEnough: () => void = () => undefined;
    const enoughAcks = new Promise<void>((resolve) => (signalEnough = resolve));
    const clients = await Promise.all(
      Array.from({ length: writers }, () => Client.connect({ port: server.port, timeoutMs: 20_000 })),
    );
    const runs = clients.map(async (c, ci) => {
      let next = 0;
      let closed = false;
      const one = async (): Promise<void> => {
        while (!closed) {
          const n = next++;
          try {
            if (n % 5 === 4) {
              incrsIssued += 1;
              const value = await c.incr('crash/counter');
              incrsAcked += 1;
              if (value > maxIncrAcked) maxIncrAcked = value;
            } else {
              const key = `crash/c${ci}/${n}`;
              const value = `v${ci}.${n}.${'p'.repeat(n % 97)}`;
              issued.set(key, value);
              const { version } = await c.put(key, value);
              acked.set(key, { value, version });
            }
            if (acked.size + incrsAcked >= 400) signalEnough();
          } catch (error) {
            closed = true;
            rejections.push(errorCode(error));
          }
        }
      };
      await Promise.all(Array.from({ length: window }, one));
    });

    await enoughAcks;
    const inFlight = clients.reduce((sum, c) => sum + c.inFlight, 0);
    server.kill('SIGKILL');
    assert.ok(inFlight > 0, 'requests were in flight at the kill');
    const exit = await server.exited;
    assert.deepEqual(exit, { code: null, signal: 'SIGKILL' });
    const settled = await withTimeout(Promise.all(runs), 15_000);
    assert.notEqual(settled, undefined, 'every request settled after the kill');
    assert.deepEqual([...new Set(rejections)], ['ERR_CONNECTION_CLOSED']);
    await Promise.all(clients.map((c) => c.close()));
    assert.ok(acked.size >= 300, `a few hundred puts were acknowledged (${acked.size})`);

    // The killed process could not release its lock; the restart must take it over.
    const lockPath = join(dir.path, 'LOCK');
    assert.equal(
      readFileSync(lockPath, 'utf8').split('\n')[0],
      String(server.pid),
      'the dead process left its lock behind',
    );
    const killedPid = server.pid;
    server = await startServer({ dataDir: dir.path, durability: 'fsync' });
    assert.notEqual(server.pid, killedPid);
    assert.equal(readFileSync(lockPath, 'utf8').split('\n')[0], String(server.pid), 'the new process owns the lock');

    const client = await Client.connect({ port: server.port });
    try {
      const stored = await readAll(client, 'crash/');
      const lost = [...acked].filter(([key, { value }]) => stored.get(key)?.value.toString() !== value);
      assert.deepEqual(
        lost.slice(0, 10).map(([k]) => k),
        [],
        `${lost.length} of ${acked.size} acknowledged puts were lost`,
      );
      for (const [key, { version }] of acked) assert.equal(stored.get(key)?.version, version, `version of ${key}`);
      assert.equal(stored.get('crash/before')?.value.toString(), 'written before the load');
      // Unacknowledged writes may or may not be there, but never torn or invented.
      for (const [key, entry] of stored) {
        if (key === 'crash/before' || key === 'crash/counter') continue;
        assert.equal(entry.value.toString(), issued.get(key), `${key} holds exactly what was sent`);
      }
      const counter = BigInt(stored.get('crash/counter')?.value.toString() ?? '0');
      assert.ok(
        counter >= maxIncrAcked && counter >= BigInt(incrsAcked),
        `counter ${counter} covers the ${incrsAcked} acknowledged incrs (max ${maxIncrAcked})`,
      );
      assert.ok(counter <= BigInt(incrsIssued), `counter ${counter} is at most the ${incrsIssued} incrs sent`);
      // The key count (kept in LMDB's meta record) agrees with the keys really present.
      assert.equal((await client.size()).keys, stored.size, 'size agrees with the keys present');
      const maxVersion = [...stored.values()].reduce((m, e) => (e.version > m ? e.version : m), 0n);
      const { version } = await client.put('crash/after', 'x');
      assert.ok(version > maxVersion, 'versions are not reused after a crash');
    } finally {
      await client.close();
    }
    await server.stop({ signal: 'SIGINT' });
    assert.equal(existsSync(lockPath), false, 'SIGINT stops cleanly too, releasing the lock');
  });

  // In a container the node is often pid 1 (or another fixed pid) on every start: after a crash,
  // the lock names a pid that is now the restarting process itself.
  const canUsePidNamespaces =
    process.platform === 'linux' &&
    process.getuid?.() === 0 &&
    spawnSync('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', 'true']).status === 0;
  void it(
    "restarts after a crash when the new process gets the dead one's pid (pid 1 in a container)",
    {
      skip: canUsePidNamespaces ? false : 'needs root and unshare(1) for pid namespaces',
    },
    async () => {
      const pidDir = tempDir('catena-it-pid1-');
      const wrapper = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'];
      try {
        const first = await startServer({ dataDir: pidDir.path, wrapper });
        assert.equal(
          readFileSync(join(pidDir.path, 'LOCK'), 'utf8').split('\n')[0],
          '1',
          'the node is pid 1 in its namespace',
        );
        const c = await Client.connect({ port: first.port });
        await c.put('pid1/key', 'value');
        await c.close();
        first.kill('SIGKILL'); // unshare --kill-child passes it on to the node
        await first.exited;
        const second = await startServer({ dataDir: pidDir.path, wrapper });
        const c2 = await Client.connect({ port: second.port });
        assert.equal(text((await c2.get('pid1/key'))?.value), 'value');
        await c2.close();
        second.kill('SIGKILL');
        await second.exited;
      } finally {
        await killLeftoverServers();
        pidDir.remove();
      }
    },
  );
});

void describe('catena server process: SIGTERM with replies queued behind a large one', () => {
  const dir = tempDir('catena-it-drain-');

  after(async () => {
    await killLeftoverServers();
    dir.remove();
  });

  void it('answers every request it read and applied before closing the connection', async () => {
    let server = await startServer({ dataDir: dir.path, durability: 'fsync' });
    const big = Buffer.alloc(6 * 1024 * 1024, 0x62);
    const setup = await Client.connect({ port: server.port });
    await setup.put('big', big);

    // A client that asks for two large values and then writes, but does not read yet: the
    // large replies fill the socket buffers, and the write replies queue up behind them.
    const raw = connect({ host: '127.0.0.1', port: server.port });
    await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
    raw.pause();
    raw.on('error', () => undefined);
    const puts = 40;
    const frames = [
      encodeFrame(encodeRequest(1, { case: 'get', value: create(GetRequestSchema, { key: Buffer.from('big') }) })),
      encodeFrame(encodeRequest(2, { case: 'get', value: create(GetRequestSchema, { key: Buffer.from('big') }) })),
    ];
    for (let i = 0; i < puts; i++) {
      frames.push(
        encodeFrame(
          encodeRequest(100 + i, {
            case: 'put',
            value: create(PutRequestSchema, { key: Buffer.from(`queued/${i}`), value: Buffer.from(`v${i}`) }),
          }),
        ),
      );
    }
    raw.write(Buffer.concat(frames));
    // Wait until the server has applied (and synced) every one of those writes.
    for (let waited = 0; (await setup.get(`queued/${puts - 1}`)) === undefined; waited += 10) {
      assert.ok(waited < 10_000, 'the server applied the queued writes');
      await sleep(10);
    }
    await setup.close();

    server.kill('SIGTERM');
    // Start reading a little later, as a busy client would: the server may take its time (up to
    // its drain deadline) to deliver the replies, but it must not throw them away.
    await sleep(300);
    const decoder = new FrameDecoder(64 * 1024 * 1024);
    const answered = new Set<number>();
    raw.on('data', (chunk: Buffer) => {
      for (const event of decoder.push(chunk)) {
        if (event.kind !== 'frame') continue;
        const decoded = decodeResponse(event.body);
        if (decoded.ok) answered.add(decoded.message.id);
      }
    });
    const closed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
    raw.resume();
    await closed;
    assert.deepEqual(await withTimeout(server.exited, 15_000), { code: 0, signal: null });

    server = await startServer({ dataDir: dir.path, durability: 'fsync' });
    const client = await Client.connect({ port: server.port });
    try {
      const applied = await readAll(client, 'queued/');
      assert.equal(applied.size, puts, 'every write was applied before the stop');
      const putReplies = [...answered].filter((id) => id >= 100).length;
      assert.equal(
        putReplies,
        applied.size,
        `${applied.size} writes were applied, but only ${putReplies} were answered before the connection closed`,
      );
    } finally {
      await client.close();
    }
    await server.stop();
  });
});
