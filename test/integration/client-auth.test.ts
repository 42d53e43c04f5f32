// Client authentication (issue #16 part 2, docs/security.md) on real `catena server` processes,
// protocol by protocol: an unauthenticated request refused, a wrong password refused, the right
// one working, a read-only user refused a write (NOPERM), and the admin /dump refused without the
// token. Real clients where they exist: redis-cli `-a` and `--user/--pass`, ioredis with a
// password and with a user, memcache-client (its first `set` carries "user password", which is
// memcached's ASCII authentication), the TypeScript Client and ClusterClient, the `catena` CLI
// with CATENA_PASSWORD. The error texts are compared byte for byte with a real redis-server 7.0
// (--aclfile, same users) and a real memcached (-Y authfile, same users) where Debian's packages
// are installed. Relays through a 3-node chain: test/integration/client-auth-cluster.test.ts.

import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { MemcacheClient } from 'memcache-client';
import { Client } from '../../src/client/client.js';
import { ClusterClient } from '../../src/client/cluster-client.js';
import { CatenaError } from '../../src/core/errors.js';
import { Acl } from '../../src/protocol/acl.js';
import { CatenaNode } from '../../src/server/node.js';
import { redisToolPath } from '../../src/testing/redis-server.js';
import { findExecutable, freePort } from '../../src/testing/server-process-guard.js';
import { Conn } from '../helpers/conn.js';
import { killLeftoverServers, repoRoot, startServer, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const redisCli = redisToolPath('redis-cli');
const redisServer = redisToolPath('redis-server');
const memcachedBinary = findExecutable('memcached');

/** The users of every server below (`~*` because a real Redis needs it to reach keys; Catena accepts it). */
const aclText = [
  'user default on >defaultpw ~* +@all',
  'user reader on >readpw ~* +@read',
  'user writer on >writepw ~* +@read +@write',
  'user admin on >adminpw ~* +@all',
  'user gone off >gonepw ~* +@all',
  '',
].join('\n');
const adminToken = 'admin-token-0123456789';

const resp = (...words: string[]): string =>
  `*${words.length}\r\n${words.map((word) => `$${Buffer.byteLength(word)}\r\n${word}\r\n`).join('')}`;

/** A memcached storage command with its data block (the byte count computed). */
const stored = (command: string, data: string, suffix = ''): string =>
  `${command} ${Buffer.byteLength(data, 'latin1')}${suffix}\r\n${data}\r\n`;

const noauth = '-NOAUTH Authentication required.\r\n';
const wrongpass = '-WRONGPASS invalid username-password pair or user is disabled.\r\n';
const noperm = (command: string) => `-NOPERM this user has no permissions to run the '${command}' command\r\n`;

/** Sends `script` (which ends with QUIT) and returns everything the server sent before it closed. */
async function replies(port: number, script: string): Promise<string> {
  const conn = new Conn(port);
  conn.send(script);
  return conn.waitClosed();
}

function adminPortOf(server: ServerProcess): number {
  const match = /admin http:\/\/[^ ,]+:(\d+)/.exec(server.stdout());
  assert.ok(match !== null, `the listening line names the admin port: ${server.stdout()}`);
  return Number(match[1]);
}

function withoutCredentials(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const rest = { ...env };
  for (const name of ['CATENA_PASSWORD', 'CATENA_USER', 'CATENA_PASSWORD_FILE']) delete rest[name];
  return rest;
}

/** Runs the catena CLI with `env` added to the environment; resolves with its exit code and output. */
function catena(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], {
      cwd: repoRoot,
      env: { ...withoutCredentials(process.env), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('client authentication on a standalone node (--acl-file, --admin-token-file)', () => {
  const dir = tempDir('catena-auth-');
  let server: ServerProcess;

  before(async () => {
    writeFileSync(join(dir.path, 'users.acl'), aclText, { mode: 0o600 });
    writeFileSync(join(dir.path, 'admin.token'), `${adminToken}\n`, { mode: 0o600 });
    server = await startServer({
      dataDir: join(dir.path, 'node'),
      extraArgs: [
        '--resp-port',
        '0',
        '--memcached-port',
        '0',
        '--admin-port',
        '0',
        '--acl-file',
        join(dir.path, 'users.acl'),
        '--admin-token-file',
        join(dir.path, 'admin.token'),
      ],
    });
  });

  after(async () => {
    await server?.stop();
    await killLeftoverServers();
    dir.remove();
  });

  describe('RESP', () => {
    it('refuses every command but AUTH, HELLO and QUIT before authentication, in Redis words', async () => {
      const out = await replies(
        server.respPort!,
        resp('GET', 'k') +
          resp('PING') +
          resp('HELLO', '3') +
          resp('FOO') +
          resp('GET') +
          resp('AUTH', 'wrong') +
          resp('AUTH', 'reader', 'wrong') +
          resp('AUTH', 'gone', 'gonepw') +
          resp('AUTH', 'nobody', 'readpw') +
          resp('HELLO', '3', 'AUTH', 'reader', 'wrong') +
          resp('GET', 'k') +
          resp('QUIT'),
      );
      assert.equal(
        out,
        noauth +
          noauth +
          '-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n' +
          "-ERR unknown command 'FOO', with args beginning with: \r\n" +
          "-ERR wrong number of arguments for 'get' command\r\n" +
          wrongpass +
          wrongpass +
          wrongpass +
          wrongpass +
          wrongpass +
          noauth +
          '+OK\r\n',
      );
    });

    it('runs what each user may, and refuses the rest with NOPERM', async () => {
      const out = await replies(
        server.respPort!,
        resp('AUTH', 'reader', 'readpw') +
          resp('GET', 'resp:k') +
          resp('PING') +
          resp('SET', 'resp:k', 'v') +
          resp('DEL', 'resp:k') +
          resp('FLUSHALL') +
          resp('AUTH', 'writer', 'writepw') +
          resp('SET', 'resp:k', 'v') +
          resp('AUTH', 'writer', 'wrong') +
          resp('GET', 'resp:k') +
          resp('FLUSHDB') +
          resp('AUTH', 'defaultpw') +
          resp('GET', 'resp:k') +
          resp('QUIT'),
      );
      assert.equal(
        out,
        '+OK\r\n$-1\r\n+PONG\r\n' +
          noperm('set') +
          noperm('del') +
          noperm('flushall') +
          '+OK\r\n+OK\r\n' +
          wrongpass +
          '$1\r\nv\r\n' + // a failed AUTH keeps the user the connection had
          noperm('flushdb') +
          '+OK\r\n$1\r\nv\r\n+OK\r\n',
      );
    });

    it('INFO counts refused AUTHs and commands as Redis does (acl_access_denied_auth, _cmd)', async () => {
      const denied = async () => {
        const info = await replies(
          server.respPort!,
          resp('AUTH', 'admin', 'adminpw') + resp('INFO', 'stats') + resp('QUIT'),
        );
        const field = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(info)?.[1]);
        return { auth: field('acl_access_denied_auth'), cmd: field('acl_access_denied_cmd') };
      };
      const before = await denied();
      await replies(
        server.respPort!,
        resp('AUTH', 'reader', 'wrong') + resp('AUTH', 'reader', 'readpw') + resp('SET', 'k', 'v') + resp('QUIT'),
      );
      const after = await denied();
      assert.deepEqual(after, { auth: before.auth + 1, cmd: before.cmd + 1 });
    });

    it('HELLO 3 AUTH user password authenticates and switches protocol at once', async () => {
      const conn = new Conn(server.respPort!);
      conn.send(resp('HELLO', '3', 'AUTH', 'writer', 'writepw'));
      const hello = await conn.read(1);
      assert.match(hello, /^%7\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n/);
      assert.match(hello, /\$5\r\nproto\r\n:3\r\n/);
      await conn.expect(resp('SET', 'hello:k', 'v'), '+OK\r\n');
      conn.end();
    });

    it(
      'redis-cli -a and --user/--pass',
      { skip: redisCli === undefined ? 'redis-cli not installed' : false },
      async () => {
        const cli = async (...args: string[]) => {
          const { stdout, stderr } = await run(
            redisCli!,
            ['-p', String(server.respPort), '--no-auth-warning', ...args],
            {
              timeout: 20_000,
            },
          );
          return `${stdout}${stderr}`.trim();
        };
        assert.equal(await cli('SET', 'cli:k', 'v'), 'NOAUTH Authentication required.');
        assert.match(await cli('-a', 'wrong', 'GET', 'cli:k'), /WRONGPASS invalid username-password pair/);
        assert.equal(await cli('-a', 'defaultpw', 'SET', 'cli:k', 'v'), 'OK');
        assert.equal(await cli('--user', 'reader', '--pass', 'readpw', 'GET', 'cli:k'), 'v');
        assert.equal(
          await cli('--user', 'reader', '--pass', 'readpw', 'SET', 'cli:k', 'w'),
          "NOPERM this user has no permissions to run the 'set' command",
        );
        assert.equal(await cli('--user', 'writer', '--pass', 'writepw', 'SET', 'cli:k', 'w'), 'OK');
        assert.match(await cli('--user', 'gone', '--pass', 'gonepw', 'GET', 'cli:k'), /WRONGPASS/, 'an off user');
      },
    );

    it('ioredis with a password, with a user, and with a wrong password', async () => {
      const port = server.respPort!;
      const withPassword = new Redis({ port, password: 'defaultpw', lazyConnect: true, maxRetriesPerRequest: 1 });
      await withPassword.connect();
      try {
        assert.equal(await withPassword.set('io:k', 'v'), 'OK');
        assert.equal(await withPassword.get('io:k'), 'v');
        assert.equal(await withPassword.flushall(), 'OK');
      } finally {
        withPassword.disconnect();
      }
      const reader = new Redis({
        port,
        username: 'reader',
        password: 'readpw',
        lazyConnect: true,
        maxRetriesPerRequest: 1,
      });
      await reader.connect();
      try {
        assert.equal(await reader.get('io:k'), null);
        await assert.rejects(reader.set('io:k', 'v'), /NOPERM this user has no permissions to run the 'set' command/);
      } finally {
        reader.disconnect();
      }
      const wrong = new Redis({ port, password: 'nope', lazyConnect: true, retryStrategy: () => null });
      const errors: string[] = [];
      wrong.on('error', (error: Error) => errors.push(error.message));
      await assert.rejects(wrong.connect());
      wrong.disconnect();
      assert.ok(
        errors.some((message) => /WRONGPASS/.test(message)),
        errors.join('\n'),
      );
    });
  });

  describe('native protocol', () => {
    it('refuses requests before an auth request, and a wrong password', async () => {
      const anonymous = await Client.connect({ port: server.port });
      try {
        await assert.rejects(
          anonymous.get('n:k'),
          (error: unknown) => error instanceof CatenaError && error.code === 'ERR_NOAUTH',
        );
        await assert.rejects(
          anonymous.ping(),
          (error: unknown) => error instanceof CatenaError && error.code === 'ERR_NOAUTH',
        );
        await assert.rejects(
          anonymous.authenticate({ user: 'reader', password: 'wrong' }),
          (error: unknown) => error instanceof CatenaError && error.code === 'ERR_WRONGPASS',
        );
        await assert.rejects(anonymous.get('n:k'), /ERR_NOAUTH|authentication required/);
      } finally {
        await anonymous.close();
      }
      await assert.rejects(
        Client.connect({ port: server.port, auth: { user: 'writer', password: 'wrong' } }),
        (error: unknown) => error instanceof CatenaError && error.code === 'ERR_WRONGPASS',
      );
      await assert.rejects(
        Client.connect({ port: server.port, auth: { user: 'gone', password: 'gonepw' } }),
        (error: unknown) => error instanceof CatenaError && error.code === 'ERR_WRONGPASS',
      );
    });

    it('serves each user its categories (a reader gets ERR_NOPERM for a write)', async () => {
      const writer = await Client.connect({ port: server.port, auth: { user: 'writer', password: 'writepw' } });
      const reader = await Client.connect({ port: server.port, auth: { user: 'reader', password: 'readpw' } });
      const byDefault = await Client.connect({ port: server.port, auth: { password: 'defaultpw' } });
      try {
        await writer.put('n:k', 'v');
        assert.equal((await reader.get('n:k'))?.value.toString(), 'v');
        assert.equal((await reader.ping()).toString(), 'PONG');
        await assert.rejects(
          reader.put('n:k', 'w'),
          (error: unknown) => error instanceof CatenaError && error.code === 'ERR_NOPERM',
        );
        await assert.rejects(reader.incr('n:c'), /'incr'/);
        await assert.rejects(
          writer.send('flush', {}),
          (error: unknown) => error instanceof CatenaError && error.code === 'ERR_NOPERM',
        );
        assert.equal((await byDefault.send('flush', {})).keys, 1n);
        assert.equal(await reader.get('n:k'), undefined);
      } finally {
        await Promise.all([writer.close(), reader.close(), byDefault.close()]);
      }
    });

    it('ClusterClient takes credentials for every connection', async () => {
      await assert.rejects(
        ClusterClient.connect({ seeds: [`127.0.0.1:${server.port}`], timeoutMs: 5_000 }),
        (error: unknown) => error instanceof CatenaError && error.code === 'ERR_NOAUTH',
      );
      const client = await ClusterClient.connect({
        seeds: [`127.0.0.1:${server.port}`],
        auth: { user: 'writer', password: 'writepw' },
      });
      try {
        await client.put('cc:k', 'v');
        assert.equal((await client.get('cc:k'))?.value.toString(), 'v');
      } finally {
        await client.close();
      }
    });

    it('the catena CLI takes the password from CATENA_PASSWORD or a file, never only argv', async () => {
      const port = String(server.port);
      const refused = await catena(['get', 'cli:n', '--port', port], {});
      assert.equal(refused.code, 1, refused.out);
      assert.match(refused.out, /ERR_NOAUTH/);
      const written = await catena(['put', 'cli:n', 'v', '--port', port, '--user', 'writer'], {
        CATENA_PASSWORD: 'writepw',
      });
      assert.equal(written.code, 0, written.out);
      writeFileSync(join(dir.path, 'reader.pw'), 'readpw\n', { mode: 0o600 });
      const read = await catena(
        ['get', 'cli:n', '--port', port, '--user', 'reader', '--password-file', join(dir.path, 'reader.pw')],
        {},
      );
      assert.equal(read.code, 0, read.out);
      assert.match(read.out, /"v"/);
      const wrong = await catena(['get', 'cli:n', '--port', port, '--user', 'reader'], { CATENA_PASSWORD: 'nope' });
      assert.equal(wrong.code, 1, wrong.out);
      assert.match(wrong.out, /ERR_WRONGPASS/);
    });
  });

  describe('memcached', () => {
    it('serves nothing before the authenticating set, as memcached -Y does', async () => {
      const out = await replies(
        server.memcachedPort!,
        'get k\r\nversion\r\nbogus\r\ndelete k\r\n' +
          stored('add a 0 0', 'writer writepw') +
          stored('set a 0 0', 'wrong') +
          stored('set a 0 0', 'reader wrong') +
          stored('set a 0 0', 'gone gonepw') +
          'get k\r\n' +
          stored('set a 0 0', 'writer writepw', ' noreply') +
          'set mc:k 0 0 1\r\nv\r\nget mc:k\r\nquit\r\n',
      );
      assert.equal(
        out,
        'CLIENT_ERROR unauthenticated\r\n'.repeat(5) +
          'CLIENT_ERROR bad authentication token format\r\n' +
          'CLIENT_ERROR authentication failure\r\n' +
          'CLIENT_ERROR authentication failure\r\n' +
          'CLIENT_ERROR unauthenticated\r\n' +
          'STORED\r\n' + // noreply does not silence the authentication's answer (memcached 1.6)
          'STORED\r\nVALUE mc:k 0 1\r\nv\r\nEND\r\n',
      );
      assert.equal(await replies(server.memcachedPort!, 'quit\r\n'), '', 'quit before authentication closes');
    });

    it("refuses a write outside the user's categories; a real client authenticates with its first set", async () => {
      const out = await replies(
        server.memcachedPort!,
        'set a 0 0 13\r\nreader readpw\r\nget mc:k\r\nset mc:k 0 0 1\r\nw\r\nflush_all\r\nquit\r\n',
      );
      assert.equal(
        out,
        'STORED\r\nVALUE mc:k 0 1\r\nv\r\nEND\r\n' +
          "CLIENT_ERROR NOPERM this user has no permissions to run the 'set' command\r\n" +
          "CLIENT_ERROR NOPERM this user has no permissions to run the 'flush_all' command\r\n",
      );
      const client = new MemcacheClient({ server: `127.0.0.1:${server.memcachedPort}` });
      try {
        await assert.rejects(client.get('mc:k'), /CLIENT_ERROR unauthenticated/);
        assert.deepEqual(await client.set('auth', 'writer writepw'), ['STORED']);
        assert.deepEqual(await client.set('mc:real', 'hello'), ['STORED']);
        assert.equal((await client.get<string>('mc:real'))?.value, 'hello');
      } finally {
        client.shutdown();
      }
    });
  });

  describe('the same answers as the reference servers', () => {
    it(
      'a real redis-server 7.0 with the same ACL file answers byte for byte the same',
      {
        skip: redisServer === undefined ? 'redis-server not installed' : false,
      },
      async () => {
        const port = await freePort();
        const file = join(dir.path, 'redis.acl');
        writeFileSync(file, aclText, { mode: 0o600 });
        const redis = await reference(
          [
            redisServer!,
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--aclfile',
            file,
            '--save',
            '',
            '--appendonly',
            'no',
          ],
          port,
        );
        try {
          const scripts = [
            resp('GET', 'd:k') +
              resp('SET', 'd:k', 'v') +
              resp('HELLO', '3') +
              resp('HELLO') +
              resp('HELLO', '4') +
              resp('FOO', 'x') +
              resp('GET') +
              resp('AUTH', 'a', 'b', 'c') +
              resp('AUTH', 'wrong') +
              resp('AUTH', 'reader', 'wrong') +
              resp('AUTH', 'gone', 'gonepw') +
              resp('AUTH', 'nobody', 'x') +
              resp('HELLO', '3', 'AUTH', 'reader', 'wrong') +
              resp('HELLO', '3', 'AUTH', 'reader') +
              resp('QUIT'),
            resp('AUTH', 'reader', 'readpw') +
              resp('GET', 'd:k') +
              resp('SET', 'd:k', 'v') +
              resp('MSET', 'd:a', '1', 'd:b', '2') +
              resp('INCR', 'd:n') +
              resp('DEL', 'd:k') +
              resp('EXPIRE', 'd:k', '10') +
              resp('FLUSHALL') +
              resp('AUTH', 'writer', 'writepw') +
              resp('SET', 'd:k', 'v') +
              resp('AUTH', 'writer', 'wrong') +
              resp('GET', 'd:k') +
              resp('DEL', 'd:k') +
              resp('AUTH', 'admin', 'adminpw') +
              resp('FLUSHALL') +
              resp('AUTH', 'defaultpw') +
              resp('DBSIZE') +
              resp('QUIT'),
          ];
          for (const script of scripts) {
            assert.equal(await replies(server.respPort!, script), await replies(port, script));
          }
        } finally {
          redis.kill('SIGKILL');
        }
      },
    );

    it(
      'a real memcached -Y with the same users answers byte for byte the same',
      {
        skip: memcachedBinary === undefined ? 'memcached not installed' : false,
      },
      async () => {
        const port = await freePort();
        const file = join(dir.path, 'memcached.auth');
        writeFileSync(file, 'reader:readpw\nwriter:writepw\n', { mode: 0o644 });
        const root = process.getuid?.() === 0 ? ['-u', 'root'] : [];
        const memcached = await reference(
          [memcachedBinary!, '-p', String(port), '-U', '0', '-l', '127.0.0.1', '-Y', file, ...root],
          port,
        );
        try {
          // One request at a time: memcached 1.6 drops the rest of a pipelined burst after refusing
          // an unauthenticated request, so only the request-by-request behaviour is comparable.
          const requests = [
            'get k\r\n',
            'version\r\n',
            'stats\r\n',
            'bogus\r\n',
            'delete k\r\n',
            'flush_all\r\n',
            stored('add a 0 0', 'writer writepw'),
            stored('set a 0 0', 'wrong'),
            stored('set a 0 0', 'reader wrong'),
            stored('set a 0 0', 'writer writepw\r\n'), // the data's line end is data: a wrong password
            stored('set a 0 0', 'nobody pass'),
            stored('set a 0 0', 'writer writepw extra'), // later words are ignored
            'get d:k\r\n',
            'set d:k 0 0 1\r\nv\r\n',
            'get d:k\r\n',
            'delete d:k\r\n',
          ];
          const catena = new Conn(server.memcachedPort!);
          const real = new Conn(port);
          try {
            for (const request of requests) {
              assert.equal(await oneReply(catena, request), await oneReply(real, request), request);
            }
          } finally {
            catena.end();
            real.end();
          }
        } finally {
          memcached.kill('SIGKILL');
        }
      },
    );
  });

  describe('admin HTTP', () => {
    it('/dump and /status need the bearer token; /health does not', async () => {
      const base = `http://127.0.0.1:${adminPortOf(server)}`;
      const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
      const dumpRefused = await fetch(`${base}/dump`);
      assert.equal(dumpRefused.status, 401);
      assert.match(dumpRefused.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.doesNotMatch(await dumpRefused.text(), /"key"/);
      assert.equal((await fetch(`${base}/dump`, bearer('wrong'))).status, 403);
      assert.equal((await fetch(`${base}/status`)).status, 401);
      assert.equal((await fetch(`${base}/dump`, { method: 'HEAD' })).status, 401);
      assert.equal((await fetch(`${base}/dump`, { method: 'POST' })).status, 401);
      const health = await fetch(`${base}/health`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { ok: boolean }).ok, true);
      const status = await fetch(`${base}/status`, bearer(adminToken));
      assert.equal(status.status, 200);
      const dump = await fetch(`${base}/dump`, bearer(adminToken));
      assert.equal(dump.status, 200);
      assert.match(await dump.text(), /"nodeId"/);
    });
  });
});

describe('client authentication with --requirepass-file only', () => {
  const dir = tempDir('catena-requirepass-');
  let server: ServerProcess;

  before(async () => {
    writeFileSync(join(dir.path, 'requirepass'), 'hunter2-but-longer\n', { mode: 0o600 });
    server = await startServer({
      dataDir: join(dir.path, 'node'),
      extraArgs: ['--resp-port', '0', '--memcached-port', '0', '--requirepass-file', join(dir.path, 'requirepass')],
    });
  });

  after(async () => {
    await server?.stop();
    await killLeftoverServers();
    dir.remove();
  });

  it('RESP: AUTH <password> is the default user; other users do not exist', async () => {
    const out = await replies(
      server.respPort!,
      resp('SET', 'k', 'v') +
        resp('AUTH', 'hunter2') +
        resp('AUTH', 'alice', 'hunter2-but-longer') +
        resp('AUTH', 'hunter2-but-longer') +
        resp('SET', 'k', 'v') +
        resp('FLUSHALL') +
        resp('QUIT'),
    );
    assert.equal(out, noauth + wrongpass + wrongpass + '+OK\r\n+OK\r\n+OK\r\n+OK\r\n');
  });

  it(
    'redis-cli -a and ioredis with a password',
    { skip: redisCli === undefined ? 'redis-cli not installed' : false },
    async () => {
      const { stdout } = await run(
        redisCli!,
        ['-p', String(server.respPort), '-a', 'hunter2-but-longer', '--no-auth-warning', 'SET', 'rp:k', 'v'],
        { timeout: 20_000 },
      );
      assert.equal(stdout.trim(), 'OK');
      const redis = new Redis({ port: server.respPort!, password: 'hunter2-but-longer', lazyConnect: true });
      await redis.connect();
      try {
        assert.equal(await redis.get('rp:k'), 'v');
      } finally {
        redis.disconnect();
      }
    },
  );

  it('native: Client with only a password; memcached: user "default"', async () => {
    const client = await Client.connect({ port: server.port, auth: { password: 'hunter2-but-longer' } });
    try {
      await client.put('rp:n', 'v');
    } finally {
      await client.close();
    }
    const out = await replies(
      server.memcachedPort!,
      'get rp:n\r\nset a 0 0 26\r\ndefault hunter2-but-longer\r\nget rp:n\r\nquit\r\n',
    );
    assert.equal(out, 'CLIENT_ERROR unauthenticated\r\nSTORED\r\nVALUE rp:n 0 1\r\nv\r\nEND\r\n');
  });
});

describe('a node without client authentication', () => {
  it('stays open, as before: AUTH default takes any password, other users are refused', async () => {
    const dir = tempDir('catena-open-');
    const node = await CatenaNode.start({ dataDir: dir.path, port: 0, respPort: 0, memcachedPort: 0 });
    try {
      const out = await replies(
        node.respPort!,
        resp('SET', 'k', 'v') +
          resp('AUTH', 'default', 'anything') +
          resp('AUTH', 'alice', 'x') +
          resp('AUTH', 'x') +
          resp('QUIT'),
      );
      assert.equal(
        out,
        '+OK\r\n+OK\r\n' +
          wrongpass +
          '-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n' +
          '+OK\r\n',
      );
      const mc = await replies(node.memcachedPort!, 'set k 0 0 1\r\nw\r\nget k\r\nquit\r\n');
      assert.equal(mc, 'STORED\r\nVALUE k 0 1\r\nw\r\nEND\r\n', 'the first set is an ordinary set');
      const client = await Client.connect({ port: node.port });
      assert.equal((await client.get('k'))?.value.toString(), 'w');
      await client.close();
    } finally {
      await node.stop();
      dir.remove();
    }
  });

  it('a cluster node that requires authentication refuses to start without a credential to relay with', async () => {
    const dir = tempDir('catena-norelay-');
    try {
      await assert.rejects(
        CatenaNode.start({
          dataDir: dir.path,
          port: 0,
          auth: { acl: Acl.fromConfig({ aclText }) },
          cluster: { name: 'x', coordinator: 'embedded://127.0.0.1:1', peerPort: 0, sessionTimeoutMs: 2_000 },
        }),
        /needs a credential to relay with/,
      );
    } finally {
      dir.remove();
    }
  });
});

/** Sends one memcached request and reads its whole reply (one line, or VALUE lines up to END). */
async function oneReply(conn: Conn, request: string): Promise<string> {
  conn.send(request);
  let reply = '';
  for (let reads = 0; reads < 50; reads++) {
    reply += await conn.read(1);
    const complete = reply.startsWith('VALUE ') ? reply.endsWith('END\r\n') : reply.endsWith('\r\n');
    if (complete || conn.closed) return reply;
  }
  return reply;
}

/** A real server of the reference implementation, started for one comparison and killed after it. */
async function reference(argv: readonly string[], port: number): Promise<ChildProcess> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  for (let waited = 0; waited < 10_000; waited += 50) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`${argv[0]} did not listen on ${port}`);
}
