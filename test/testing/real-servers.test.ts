// The real-server harnesses (src/testing/redis-server.ts, src/testing/memcached-server.ts):
// each server starts on a free loopback port, answers a raw-socket SET/GET, honours its
// options, and stops with its port closed. Without the binaries the suites are skipped loudly
// on a workstation and fail on CI (CI must install them with scripts/install-system-packages.sh).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { memcachedAvailable, memcachedToolPath, startMemcached } from '../../src/testing/memcached-server.js';
import { redisServerAvailable, redisToolPath, startRedisServer } from '../../src/testing/redis-server.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const onCi = process.env['CI'] !== undefined && process.env['CI'] !== '';
const install = 'run scripts/install-system-packages.sh as root';

const binaries = {
  'redis-server': redisServerAvailable(),
  'redis-cli': redisToolPath('redis-cli') !== undefined,
  'redis-benchmark': redisToolPath('redis-benchmark') !== undefined,
  memcached: memcachedAvailable(),
  'memcp/memccp': memcachedToolPath('memcp') !== undefined,
  'memcat/memccat': memcachedToolPath('memcat') !== undefined,
  'memstat/memcstat': memcachedToolPath('memstat') !== undefined,
};
const missing = Object.entries(binaries)
  .filter(([, present]) => !present)
  .map(([name]) => name);
const skipUnless = (present: boolean, what: string) => (present ? undefined : `${what} is not installed: ${install}`);
const redisSkip = skipUnless(binaries['redis-server'], 'redis-server');
const redisToolsSkip = redisSkip ?? skipUnless(binaries['redis-cli'] && binaries['redis-benchmark'], 'redis-tools');
const memcachedSkip = skipUnless(binaries.memcached, 'memcached');
const memcachedToolsSkip =
  memcachedSkip ??
  skipUnless(
    binaries['memcp/memccp'] && binaries['memcat/memccat'] && binaries['memstat/memcstat'],
    'libmemcached-tools',
  );

if (missing.length > 0 && !onCi) {
  process.stderr.write(
    `\n${'!'.repeat(78)}\n!! SKIPPING real-server tests: not installed: ${missing.join(', ')}.\n` +
      `!! Install them with: sudo scripts/install-system-packages.sh\n${'!'.repeat(78)}\n\n`,
  );
}

/** Writes `request` on a fresh connection and reads until `complete` says the reply is whole. */
function exchange(port: number, request: string | Buffer, complete: (reply: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete reply within 5 s; got ${JSON.stringify(reply)}`));
    }, 5_000);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (complete(reply)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(reply);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Resolves with the error code of a connection attempt ('connected' when it succeeds). */
function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** One RESP command as an array of bulk strings. */
const resp = (...args: string[]) =>
  `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
/** Sends RESP commands in one write and resolves once the reply ends with `endsWith`. */
const redisCall = (port: number, request: string, endsWith: string) =>
  exchange(port, request, (reply) => reply.endsWith(endsWith));

describe('real-server binaries', () => {
  it('are installed when CI is set', { skip: onCi ? undefined : 'not on CI' }, () => {
    assert.deepEqual(missing, [], `CI must install them (scripts/install-system-packages.sh)`);
  });
});

describe('redis-server harness', { skip: redisSkip }, () => {
  it('answers SET/GET without persistence, and stops with its port closed', async () => {
    const redis = await startRedisServer();
    try {
      assert.equal(redis.host, '127.0.0.1');
      assert.equal(await redisCall(redis.port, resp('SET', 'k', 'hello'), '\r\n'), '+OK\r\n');
      assert.equal(await redisCall(redis.port, resp('GET', 'k'), 'hello\r\n'), '$5\r\nhello\r\n');
      const config = resp('CONFIG', 'GET', 'appendonly') + resp('CONFIG', 'GET', 'save');
      assert.equal(
        await redisCall(redis.port, config, '$4\r\nsave\r\n$0\r\n\r\n'),
        '*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n*2\r\n$4\r\nsave\r\n$0\r\n\r\n',
      );
    } finally {
      await redis.stop();
    }
    assert.equal(await connectOutcome(redis.port), 'ECONNREFUSED');
    assert.equal(existsSync(redis.dir), false, 'stop() removes the dir');
    await redis.stop(); // idempotent
  });

  it("with appendfsync 'always' writes an fsynced append-only file under dir", async () => {
    const redis = await startRedisServer({ appendfsync: 'always' });
    try {
      assert.equal(
        await redisCall(redis.port, resp('CONFIG', 'GET', 'appendfsync'), 'always\r\n'),
        '*2\r\n$11\r\nappendfsync\r\n$6\r\nalways\r\n',
      );
      assert.equal(await redisCall(redis.port, resp('SET', 'durable', 'value-1'), '\r\n'), '+OK\r\n');
      const aofDir = join(redis.dir, 'appendonlydir'); // Redis 7's multi-part AOF
      const aof = readdirSync(aofDir)
        .map((name) => readFileSync(join(aofDir, name), 'latin1'))
        .join('');
      assert.ok(aof.includes('value-1'), 'the SET is in the AOF once it has been acknowledged');
    } finally {
      await redis.stop();
    }
    assert.equal(await connectOutcome(redis.port), 'ECONNREFUSED');
  });

  it('runs two servers side by side on different ports', async () => {
    const [a, b] = await Promise.all([startRedisServer(), startRedisServer()]);
    try {
      assert.notEqual(a.port, b.port);
      await redisCall(a.port, resp('SET', 'k', 'a'), '\r\n');
      assert.equal(await redisCall(b.port, resp('GET', 'k'), '\r\n'), '$-1\r\n');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe('redis tools', { skip: redisToolsSkip }, () => {
  it('redis-cli and redis-benchmark drive the server', async () => {
    const redis = await startRedisServer();
    try {
      const cli = redisToolPath('redis-cli') ?? assert.fail('redis-cli');
      const benchmark = redisToolPath('redis-benchmark') ?? assert.fail('redis-benchmark');
      const port = String(redis.port);
      assert.equal((await run(cli, ['-h', redis.host, '-p', port, 'PING'])).stdout.trim(), 'PONG');
      const { stdout } = await run(benchmark, [
        '-h',
        redis.host,
        '-p',
        port,
        '-n',
        '200',
        '-c',
        '2',
        '-t',
        'set',
        '-q',
      ]);
      assert.match(stdout, /SET: .*requests per second/);
    } finally {
      await redis.stop();
    }
  });
});

describe('memcached harness', { skip: memcachedSkip }, () => {
  it('answers set/get over the text protocol, and stops with its port closed', async () => {
    const memcached = await startMemcached();
    try {
      assert.equal(memcached.host, '127.0.0.1');
      assert.equal(await exchange(memcached.port, 'set k 7 0 5\r\nhello\r\n', (r) => r.endsWith('\r\n')), 'STORED\r\n');
      assert.equal(
        await exchange(memcached.port, 'get k\r\n', (r) => r.endsWith('END\r\n')),
        'VALUE k 7 5\r\nhello\r\nEND\r\n',
      );
      const settings = await exchange(memcached.port, 'stats settings\r\n', (r) => r.endsWith('END\r\n'));
      assert.match(settings, /STAT udpport 0\r\n/);
      assert.match(settings, /STAT item_size_max 1048576\r\n/);
    } finally {
      await memcached.stop();
    }
    assert.equal(await connectOutcome(memcached.port), 'ECONNREFUSED');
    await memcached.stop(); // idempotent
  });

  it('honours itemBytesMax', async () => {
    const itemBytesMax = 4 * 1024 * 1024;
    const memcached = await startMemcached({ itemBytesMax });
    try {
      const settings = await exchange(memcached.port, 'stats settings\r\n', (r) => r.endsWith('END\r\n'));
      assert.match(settings, new RegExp(`STAT item_size_max ${itemBytesMax}\\r\\n`));
      const value = 'x'.repeat(3 * 1024 * 1024); // above the 1 MiB default
      const request = `set big 0 0 ${value.length}\r\n${value}\r\n`;
      assert.equal(await exchange(memcached.port, request, (r) => r.endsWith('\r\n')), 'STORED\r\n');
      const got = await exchange(memcached.port, 'get big\r\n', (r) => r.endsWith('END\r\n'));
      assert.equal(got, `VALUE big 0 ${value.length}\r\n${value}\r\nEND\r\n`);
    } finally {
      await memcached.stop();
    }
  });

  it('rejects an itemBytesMax below 1 KiB before starting anything', async () => {
    await assert.rejects(startMemcached({ itemBytesMax: 100 }), RangeError);
  });
});

describe('memcached tools', { skip: memcachedToolsSkip }, () => {
  it('memcp/memcat/memstat (or memccp/memccat/memcstat) drive the server', async () => {
    const memcached = await startMemcached();
    try {
      const servers = `--servers=${memcached.host}:${memcached.port}`;
      const files = tempDir('catena-memcp-');
      try {
        writeFileSync(join(files.path, 'k'), 'hello'); // memcp stores a file under its base name
        const memcp = memcachedToolPath('memcp') ?? assert.fail('memcp');
        await run(memcp, [servers, join(files.path, 'k')]);
      } finally {
        files.remove();
      }
      const memcat = memcachedToolPath('memcat') ?? assert.fail('memcat');
      assert.equal((await run(memcat, [servers, 'k'])).stdout.replace(/\n$/, ''), 'hello'); // 1.1 adds a newline
      const memstat = memcachedToolPath('memstat') ?? assert.fail('memstat');
      assert.match(
        (await run(memstat, [servers])).stdout,
        new RegExp(`Server: 127\\.0\\.0\\.1 \\(${memcached.port}\\)`),
      );
    } finally {
      await memcached.stop();
    }
  });
});
