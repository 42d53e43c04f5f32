// The CLI's habits end to end, the way a new user found them missing (issue 19, part 4): short
// flags and options before the command, CATENA_* variables and a config file, a value from
// stdin, exit 6 when a conditional write did not happen, one line and a documented code for an
// unreachable node or coordinator, "did you mean" for an unknown command, and `catena chain show`
// finding the coordinator from a node's port.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '../../src/client/client.js';
import { runCli, type CliOptions, type CliRun } from '../helpers/cli.js';
import { clusterSecretFile, startCluster, type TestCluster } from '../helpers/cluster.js';
import { killLeftoverServers, startServer, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';

const dir = tempDir('catena-options-cli-');

/** The environment of a user with no CATENA_* variables and no config file, plus `extra`. */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CATENA_')));
  return { ...clean, XDG_CONFIG_HOME: join(dir.path, 'no-config'), ...extra };
}

const cli = (args: readonly string[], options: CliOptions = {}) => runCli(args, 90_000, { env: env(), ...options });

const shown = (run: CliRun) => `exit ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;

function assertExit(run: CliRun, code: number): void {
  assert.equal(run.code, code, shown(run));
}

/** One line on stderr, no stack trace. */
function assertOneLine(run: CliRun, pattern: RegExp): void {
  assert.equal(run.stderr.split('\n').length, 2, shown(run));
  assert.match(run.stderr, pattern);
  assert.doesNotMatch(run.stderr, /\n\s+at /);
}

after(async () => {
  await killLeftoverServers();
  dir.remove();
});

describe('the CLI against a standalone node', () => {
  let server: ServerProcess;
  let client: Client;
  let port = '';
  let closed = '';

  before(async () => {
    server = await startServer({ dataDir: join(dir.path, 'node'), durability: 'memory' });
    port = String(server.port);
    closed = String(await freePort());
    client = await Client.connect({ port: server.port });
  });
  after(async () => {
    await client?.close();
    if (server?.alive()) await server.stop();
  });

  it('takes -p and -h anywhere, and options before the command as redis-cli does', async () => {
    await client.put('short', 'v');
    const [after, before] = await Promise.all([
      cli(['get', 'short', '-p', port, '-h', '127.0.0.1']),
      cli(['-h', '127.0.0.1', '-p', port, 'get', 'short']),
    ]);
    for (const run of [after, before]) {
      assertExit(run, 0);
      assert.equal(run.stdout, '"v"\n');
    }
  });

  it('finds the node from CATENA_PORT, CATENA_ENDPOINTS or the config file, and the command line wins', async () => {
    await client.put('settings', 'found');
    const config = join(dir.path, 'config.json');
    writeFileSync(config, JSON.stringify({ endpoints: [`127.0.0.1:${port}`] }));
    const runs = await Promise.all([
      cli(['get', 'settings'], { env: env({ CATENA_PORT: port }) }),
      cli(['get', 'settings'], { env: env({ CATENA_ENDPOINTS: `127.0.0.1:${port}` }) }),
      cli(['get', 'settings'], { env: env({ CATENA_CONFIG: config }) }),
      // The variable names a closed port; -p on the command line replaces it.
      cli(['get', 'settings', '-p', port], { env: env({ CATENA_ENDPOINTS: `127.0.0.1:${closed}` }) }),
      // The config file names a closed port; the variable wins over it.
      cli(['get', 'settings', '--config', config], {
        env: env({ CATENA_PORT: port, CATENA_ENDPOINTS: `127.0.0.1:${closed}` }),
      }),
    ]);
    for (const run of runs.slice(0, 4)) {
      assertExit(run, 0);
      assert.equal(run.stdout, '"found"\n');
    }
    // Both from the environment, on one level: host:port first, then the endpoints.
    assertExit(runs[4]!, 0);
  });

  it('reads a value from stdin with - or -x, byte for byte', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0x0a, 0x41, 0x0a]);
    const [dash, x, json] = await Promise.all([
      cli(['put', 'stdin dash', '-', '-p', port], { input: bytes }),
      cli(['put', 'stdin x', '-x', '-p', port], { input: 'line\n' }),
      cli(['set', 'stdin set', '-', 'nx', '-p', port], { input: '{"a": 1}' }),
    ]);
    for (const run of [dash, x, json]) assertExit(run, 0);
    assert.deepEqual((await client.get('stdin dash'))?.value, bytes);
    assert.equal((await client.get('stdin x'))?.value.toString('utf8'), 'line\n');
    assert.equal((await client.get('stdin set'))?.value.toString('utf8'), '{"a": 1}');
    const twice = await cli(['mput', 'a', '-', 'b', '-', '-p', port], { input: 'x' });
    assertExit(twice, 2);
    assertOneLine(twice, /stdin can be read once/);
  });

  it('exits 6 when set nx/xx or cas did not write, 0 with --unmet-ok or CATENA_UNMET_OK', async () => {
    const { version } = await client.put('taken', 'old');
    const runs = await Promise.all([
      cli(['set', 'taken', 'new', 'nx', '-p', port]),
      cli(['set', 'absent key', 'new', 'xx', '-p', port]),
      cli(['cas', 'taken', String(version + 100n), 'new', '-p', port]),
      cli(['set', 'taken', 'new', 'nx', '-p', port, '--json']),
      cli(['set', 'taken', 'new', 'nx', '-p', port, '--unmet-ok']),
      cli(['cas', 'taken', '0', 'new', '-p', port], { env: env({ CATENA_UNMET_OK: '1' }) }),
    ]);
    const [nx, xx, cas, json, flag, variable] = runs;
    for (const run of [nx, xx, cas, json]) assertExit(run!, 6);
    assert.equal(nx!.stdout, `(not stored: current version ${version})\n`);
    assert.equal(nx!.stderr, '');
    assert.match(cas!.stdout, /^\(not swapped: current version \d+\)\n$/);
    assert.equal((JSON.parse(json!.stdout) as { stored: boolean }).stored, false);
    for (const run of [flag, variable]) assertExit(run!, 0);
    assert.equal((await client.get('taken'))?.value.toString('utf8'), 'old');
    const met = await cli(['set', 'fresh', 'v', 'nx', '-p', port]);
    assertExit(met, 0);
  });

  it('says in one line, exit 3, that nothing listens; chain show and dump too', async () => {
    // chain show fails at the node, so it never waits for a coordinator (it used to, for 10 s).
    const [get, chain, status] = await Promise.all([
      cli(['get', 'k', '-p', closed]),
      cli(['chain', 'show', '-p', closed]),
      cli(['dump', '-p', closed, '--out', join(dir.path, 'never')]),
    ]);
    for (const run of [get, chain, status]) {
      assertExit(run, 3);
      assertOneLine(run, new RegExp(`^catena: ERR_CONNECTION_FAILED: could not connect to 127\\.0\\.0\\.1:${closed}`));
    }
  });

  it('refuses chain show on a standalone node, and names an unreachable coordinator in one line', async () => {
    const [standalone, coordinator] = await Promise.all([
      cli(['chain', 'show', '--port', port]),
      cli(['chain', 'show', '--coordinator', `embedded://127.0.0.1:${closed}`]),
    ]);
    assertExit(standalone, 2);
    assertOneLine(standalone, /is a standalone node: it has no chains/);
    assertExit(coordinator, 3);
    assertOneLine(coordinator, /could not reach the coordinator embedded:\/\/127\.0\.0\.1:\d+/);
  });

  it('answers an unknown command with the nearest in three lines', async () => {
    const run = await cli(['gte', 'k', '-p', port]);
    assertExit(run, 2);
    assert.equal(run.stdout, '');
    assert.equal(
      run.stderr,
      'catena: unknown command "gte"\ndid you mean "get"?\nRun "catena --help" for the commands.\n',
    );
  });

  it('still runs a hidden command named in full, which help does not list', async () => {
    const [topology, help] = await Promise.all([cli(['topology', '-p', port]), cli(['--help'])]);
    assertExit(topology, 0);
    assert.equal(topology.stdout, 'standalone node (no cluster)\n');
    assertExit(help, 0);
    assert.doesNotMatch(help.stdout, /slotfreeze|nodestatus|\n {2}topology/);
    for (const text of ['Exit codes:', '6   a conditional write did not happen', 'CATENA_ENDPOINTS', 'config.json'])
      assert.ok(help.stdout.includes(text), `catena --help says ${text}`);
  });
});

describe('catena chain show on a cluster, from a node port', () => {
  let cluster: TestCluster;
  const clusterDir = join(dir.path, 'cluster');

  before(async () => {
    cluster = await startCluster({ nodes: 2, coordinator: 'embedded', dir: clusterDir, durability: 'memory' });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('asks the node for its coordinator and cluster, from -p or CATENA_PORT', async () => {
    const port = cluster.seeds()[0]!.split(':')[1]!;
    const secret = clusterSecretFile(clusterDir);
    const [flags, variables] = await Promise.all([
      cli(['chain', 'show', '-p', port, '--cluster-secret-file', secret]),
      cli(['chain', 'show'], { env: env({ CATENA_PORT: port, CATENA_CLUSTER_SECRET_FILE: secret }) }),
    ]);
    for (const run of [flags, variables]) {
      assertExit(run, 0);
      assert.equal(run.stdout, '1 chain (c0), every node (no layout stored: the default)\n');
    }
  });
});
