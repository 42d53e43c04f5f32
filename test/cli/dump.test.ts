// `catena dump`: the report (pure); dumping from admin listeners that answer, refuse, lie, cut the
// stream, stall or are gone (only whole dumps become files); and the command run as a child
// process against a real standalone node and a real 3-node chain, whose one file (the tail's
// copy) must parse back to what clients stored.

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClusterClient, type Topology } from '../../src/client/cluster-client.js';
import { defaultOutDir, dumpNodes, renderDumps, type DumpTarget } from '../../src/cli/dump-command.js';
import { EmbeddedCoordinatorServer } from '../../src/coordination/embedded-coordinator.js';
import { ManualClock } from '../../src/core/clock.js';
import { decodeDump, encodeDumpHeader, encodeDumpRecord, writeDump, type DumpRecord } from '../../src/server/dump.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { runCli } from '../helpers/cli.js';
import { Conn } from '../helpers/conn.js';
import { killLeftoverServers, sleep, startServer, type ServerProcess } from '../helpers/server-process.js';
import { bytes, tempDir } from '../helpers/tmp.js';

const hourMs = 3_600_000;

const plain = (records: readonly DumpRecord[]) =>
  records.map((r) => [
    Buffer.from(r.key).toString('hex'),
    Buffer.from(r.value).toString('hex'),
    r.version,
    r.expiresAtMs,
    r.flags,
  ]);

describe('catena dump report (pure)', () => {
  it('prints one aligned line per node and a total of what was dumped', () => {
    const text = renderDumps(
      [
        { ok: true, nodeId: 'n1', keys: 12, bytes: 3456, file: 'out/n1.jsonl' },
        { ok: false, nodeId: 'n2', reason: 'http://127.0.0.1:7013/dump: fetch failed (ECONNREFUSED)' },
        { ok: true, nodeId: 'n3', keys: 8, bytes: 1000, file: 'out/n3.jsonl' },
      ],
      'out',
    );
    assert.equal(
      text,
      [
        'NODE   KEYS  BYTES  FILE',
        'n1     12    3456   out/n1.jsonl',
        'n2     -     -      failed: http://127.0.0.1:7013/dump: fetch failed (ECONNREFUSED)',
        'n3     8     1000   out/n3.jsonl',
        'total  20    4456   2 of 3 nodes in out',
      ].join('\n'),
    );
  });

  it('names the default directory after the time, without colons', () => {
    assert.equal(defaultOutDir(new Date(Date.UTC(2026, 0, 31, 12, 3, 4, 5))), 'catena-dump-2026-01-31T120304.005Z');
  });
});

describe('dumping from admin listeners that misbehave', () => {
  const dir = tempDir();
  const servers: Server[] = [];
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const record = encodeDumpRecord({ key: bytes('k'), value: bytes('v'), version: 1, expiresAtMs: 0, flags: 0 });

  /** An admin listener answering GET /dump with `handler`; returns its host:port. */
  const serve = async (handler: Parameters<typeof createServer>[1]): Promise<string> => {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    return `127.0.0.1:${address.port}`;
  };

  after(async () => {
    for (const server of servers) server.closeAllConnections();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    dir.remove();
  });

  it('saves the whole dumps, reports each failure, and leaves no partial or temporary file', async () => {
    store.put(Buffer.from([0, 1, 2]), Buffer.from([0xff]));
    store.put(bytes('ttl'), bytes('x'), { expiresAtMs: clock.nowMs() + hourMs, flags: 9 });
    const ndjson = { 'content-type': 'application/x-ndjson' };
    const good = await serve((_request, response) => {
      response.writeHead(200, ndjson);
      void writeDump(response, { nodeId: 'good', store, clock }).then(() => response.end());
    });
    const liar = await serve((_request, response) => {
      response.writeHead(200, ndjson);
      response.end(encodeDumpHeader({ nodeId: 'someone-else', takenAtMs: 1 }) + record);
    });
    const cutMidLine = await serve((_request, response) => {
      response.writeHead(200, ndjson);
      response.write(encodeDumpHeader({ nodeId: 'cut', takenAtMs: 1 }) + record.slice(0, 5));
      setImmediate(() => response.destroy());
    });
    const cutAtLine = await serve((_request, response) => {
      response.writeHead(200, ndjson);
      response.write(encodeDumpHeader({ nodeId: 'cut-at-line', takenAtMs: 1 }) + record);
      setImmediate(() => response.destroy());
    });
    const stalls = await serve((_request, response) => {
      response.writeHead(200, ndjson);
      response.write(encodeDumpHeader({ nodeId: 'stalls', takenAtMs: 1 }));
    });
    const old = await serve((_request, response) => {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end('{"error":"no /dump: try /health or /status"}\n');
    });
    const gone = await serve(() => undefined);
    servers.at(-1)!.close();

    const outDir = join(dir.path, 'out');
    mkdirSync(outDir);
    const targets: DumpTarget[] = [
      { nodeId: 'good', admin: good },
      { nodeId: 'liar', admin: liar },
      { nodeId: 'cut', admin: cutMidLine },
      { nodeId: 'cut-at-line', admin: cutAtLine },
      { nodeId: 'stalls', admin: stalls },
      { nodeId: 'old', admin: old },
      { nodeId: 'gone', admin: gone },
      { nodeId: 'no-admin', admin: '' },
      { nodeId: 'unregistered', admin: undefined },
      { nodeId: '../escape', admin: good },
    ];
    const dumps = await dumpNodes(targets, { outDir, idleTimeoutMs: 500 });

    assert.deepEqual(
      dumps.map((d) => d.nodeId),
      targets.map((t) => t.nodeId),
    );
    const [first, ...rest] = dumps;
    assert.ok(first?.ok);
    const file = join(outDir, 'good.jsonl');
    assert.deepEqual(first, { ok: true, nodeId: 'good', file, keys: 2, bytes: statSync(file).size });
    const decoded = decodeDump(readFileSync(file, 'utf8'));
    assert.ok(decoded.ok);
    assert.deepEqual(plain(decoded.value.records), [
      ['000102', 'ff', 1, 0, 0],
      [bytes('ttl').toString('hex'), bytes('x').toString('hex'), 2, clock.nowMs() + hourMs, 9],
    ]);

    const reasons = rest.map((d) => (d.ok ? 'ok?' : d.reason));
    const expected = [
      /dump is of node someone-else, not liar/,
      /terminated/,
      /terminated/,
      /nothing for 500 ms/,
      /HTTP 404: the node serves no \/dump/,
      /fetch failed \(ECONNREFUSED\)/,
      /no admin address registered \(needs --admin-port\)/,
      /in a chain but not registered \(down\?\)/,
      /not a safe file name/,
    ];
    reasons.forEach((reason, i) => assert.match(reason, expected[i]!, `${rest[i]?.nodeId}: ${reason}`));
    assert.deepEqual(readdirSync(outDir), ['good.jsonl'], 'only whole dumps, no .tmp');
  });
});

describe('catena dump against real nodes (needs the dump source wired in src/server/node.ts)', () => {
  const dir = tempDir();
  let coordinator: EmbeddedCoordinatorServer;
  let nodes: ServerProcess[] = [];
  let standalone: ServerProcess;

  before(async () => {
    coordinator = await EmbeddedCoordinatorServer.start({ port: 0, sessionTimeoutMsMin: 500 });
    const clusterArgs = ['--cluster', 'test', '--coordinator', coordinator.url, '--session-timeout-ms', '2000'];
    const adminArgs = ['--admin-port', '0', '--memcached-port', '0'];
    [standalone, ...nodes] = await Promise.all([
      startServer({ dataDir: join(dir.path, 'standalone'), extraArgs: adminArgs }),
      ...[0, 1, 2].map((i) =>
        startServer({ dataDir: join(dir.path, `node${i}`), extraArgs: [...clusterArgs, ...adminArgs] }),
      ),
    ]);
  });

  after(async () => {
    await killLeftoverServers();
    await coordinator.stop();
    dir.remove();
  });

  it("saves one copy of a 3-node chain, its tail's, holding what clients stored", async () => {
    const seeds = nodes.map((node) => `127.0.0.1:${node.port}`);
    const client = await ClusterClient.connect({ seeds, timeoutMs: 20_000 });
    let expected: (string | number)[][];
    try {
      await waitForChain(client, 3);
      await client.put(Buffer.from([0xff, 0x00, 0x0a]), Buffer.from([0x80, 0x00]));
      await client.put('text', 'välue');
      await client.put('ttl', 'an hour', { ttlMs: hourMs });
      await memcachedSet(nodes[1]!.memcachedPort!, 'mc', 42, 'via memcached');
      const keys = ['mc', 'text', 'ttl', Buffer.from([0xff, 0x00, 0x0a])];
      const versions = await Promise.all(keys.map(async (key) => Number((await client.get(key))!.version)));
      // The expiry comes from the head's clock: it is checked against a range below (-1 here).
      expected = [
        [hexOf('mc'), hexOf('via memcached'), versions[0]!, 0, 42],
        [hexOf('text'), hexOf('välue'), versions[1]!, 0, 0],
        [hexOf('ttl'), hexOf('an hour'), versions[2]!, -1, 0],
        ['ff000a', '8000', versions[3]!, 0, 0],
      ];
    } finally {
      await client.close();
    }

    const chain = (await topologyOf(seeds)).chains[0]!;
    const tail = chain.members.at(-1)!;
    const outDir = join(dir.path, 'cluster-dump');
    const run = await runCli(['dump', '--seeds', seeds.join(','), '--out', outDir]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.deepEqual(readdirSync(outDir), [`${chain.chainId}.jsonl`], 'one file per chain, not per replica');

    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^NODE +KEYS +BYTES +FILE$/);
    assert.equal(lines.length, 3, run.stdout);
    const file = join(outDir, `${chain.chainId}.jsonl`);
    const size = statSync(file).size;
    assert.deepEqual(lines[1]!.split(/ +/), [tail, '4', String(size), file]);
    const decoded = decodeDump(readFileSync(file, 'utf8'));
    assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason);
    assert.equal(decoded.value.header.nodeId, tail, 'read from the tail');
    const records = plain(decoded.value.records);
    const ttl = records[2]![3] as number;
    assert.ok(ttl > Date.now() && ttl <= Date.now() + hourMs, `expiry ${ttl}`);
    records[2]![3] = -1;
    assert.deepEqual(records, expected!);
    assert.deepEqual(lines[2]!.split(/ +/).slice(0, 3), ['total', '4', String(size)]);
    assert.match(lines[2]!, /1 of 1 nodes in /);
  });

  it('dumps a standalone node given its admin address, and says what is missing without it', async () => {
    await memcachedSet(standalone.memcachedPort!, 'solo', 7, 'alone');
    const adminPort = /admin http:\/\/[^ ,]+:(\d+)/.exec(standalone.stdout())?.[1];
    assert.ok(adminPort !== undefined, standalone.stdout());
    const outDir = join(dir.path, 'standalone-dump');
    const [without, wrongUse, run] = await Promise.all([
      runCli(['dump', '--port', String(standalone.port), '--out', outDir]),
      runCli(['dump', '--seeds', `127.0.0.1:${nodes[0]!.port}`, '--admin', '127.0.0.1:1', '--out', outDir]),
      runCli(['dump', '--port', String(standalone.port), '--admin', `127.0.0.1:${adminPort}`, '--out', outDir]),
    ]);
    assert.equal(without.code, 2, without.stderr);
    assert.match(without.stderr, /ERR_INVALID_ARGUMENT: .* is a standalone node \(\S+\) that reports no admin/);
    assert.match(without.stderr, /--admin-port/);
    assert.equal(wrongUse.code, 2, wrongUse.stderr);
    assert.match(wrongUse.stderr, /--admin is for a standalone node/);

    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const file = join(outDir, `${standalone.nodeId}.jsonl`);
    assert.deepEqual(readdirSync(outDir), [`${standalone.nodeId}.jsonl`]);
    const decoded = decodeDump(readFileSync(file, 'utf8'));
    assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason);
    assert.deepEqual(
      plain(decoded.value.records).map(([key, value, , expiresAtMs, flags]) => [key, value, expiresAtMs, flags]),
      [[hexOf('solo'), hexOf('alone'), 0, 7]],
    );
    assert.match(run.stdout, new RegExp(`^${standalone.nodeId} +1 +${statSync(file).size} +${file}$`, 'm'));
  });

  it('exits 1 when a node cannot be dumped, after dumping the others', async () => {
    const help = await runCli(['dump', '--help']);
    assert.equal(help.code, 0);
    assert.ok(help.stdout.startsWith('Usage: catena dump '), help.stdout);
    // The standalone node's memcached port as its "admin" address: it answers, but not HTTP.
    const run = await runCli([
      'dump',
      '--port',
      String(standalone.port),
      '--admin',
      `127.0.0.1:${standalone.memcachedPort!}`,
      '--out',
      join(dir.path, 'bad-admin'),
    ]);
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    assert.match(
      run.stdout,
      new RegExp(`^${standalone.nodeId} +- +- +failed: http://127\\.0\\.0\\.1:\\d+/dump: `, 'm'),
    );
    assert.match(run.stdout, /^total +0 +0 +0 of 1 nodes in /m);
    assert.match(run.stderr, /1 of 1 nodes could not be dumped/);
    assert.deepEqual(readdirSync(join(dir.path, 'bad-admin')), []);
  });
});

const hexOf = (text: string) => Buffer.from(text, 'utf8').toString('hex');

async function topologyOf(seeds: string[]): Promise<Topology> {
  const client = await ClusterClient.connect({ seeds, timeoutMs: 20_000 });
  try {
    return await client.topology();
  } finally {
    await client.close();
  }
}

async function waitForChain(client: ClusterClient, members: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const chain = (await client.topology()).chains[0];
    if (chain !== undefined && chain.members.length === members && chain.joining === '') return;
    if (Date.now() > deadline) assert.fail(`no ${members}-member chain formed: ${String(chain?.members)}`);
    await sleep(100);
  }
}

/** `set` over the memcached text protocol, with client flags. */
async function memcachedSet(port: number, key: string, flags: number, value: string): Promise<void> {
  const conn = new Conn(port);
  try {
    await conn.expect(`set ${key} ${flags} 0 ${Buffer.byteLength(value)}\r\n${value}\r\n`, 'STORED\r\n');
  } finally {
    conn.end();
  }
}
