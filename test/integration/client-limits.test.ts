// Client connections against a real `catena server` process (docs/security.md, "Client
// connections"): cross-protocol requests (an HTTP request sent by a web page, with real curl)
// are refused before anything after them runs; replies that grow with the data are capped; a
// client that never reads its replies is cut and the node's memory stays bounded; and with a low
// open-file limit the node keeps room for new clients and its admin port, and says so in its log.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { killLeftoverServers, sleep, startServer, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;

/** A RESP multibulk request. */
const command = (...words: (string | Buffer)[]): Buffer =>
  Buffer.concat([
    Buffer.from(`*${words.length}\r\n`),
    ...words.flatMap((word) => {
      const bytes = Buffer.isBuffer(word) ? word : Buffer.from(word);
      return [Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n')];
    }),
  ]);

/** A raw TCP connection that keeps whatever the server sends and notes when the server closes it. */
class Raw {
  received = Buffer.alloc(0);
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => (this.received = Buffer.concat([this.received, chunk])));
    socket.on('error', () => undefined);
    socket.on('close', () => (this.closed = true));
  }
  static open(port: number): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => resolve(new Raw(socket)));
      socket.once('error', reject);
    });
  }
  send(data: string | Buffer): void {
    this.socket.write(data);
  }
  /** Waits until `done` holds (checked every 10 ms) or `ms` pass; returns whether it held. */
  async until(done: () => boolean, ms = 10_000): Promise<boolean> {
    for (const started = Date.now(); Date.now() - started < ms; await sleep(10)) if (done()) return true;
    return done();
  }
  text(): string {
    return this.received.toString('latin1');
  }
  end(): void {
    this.socket.destroy();
  }
}

function run(file: string, args: readonly string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) =>
    execFile(file, args, { timeout: 10_000 }, (error, stdout) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout }),
    ),
  );
}

/** `GET key` over a fresh RESP connection: the reply's text. */
async function respGet(port: number, key: string): Promise<string> {
  const conn = await Raw.open(port);
  conn.send(command('GET', key));
  await conn.until(() => conn.text().includes('\r\n') && (conn.text().startsWith('$-1') || conn.text().length > 4));
  conn.end();
  return conn.text();
}

/** Peak resident set of a process (VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** Sends `request` on a fresh connection and waits until the reply satisfies `done`. */
async function ask(port: number, request: string | Buffer, done: (reply: string) => boolean): Promise<string> {
  const conn = await Raw.open(port);
  conn.send(request);
  await conn.until(() => done(conn.text()), 30_000);
  conn.end();
  return conn.text();
}

describe('cross-protocol requests (a web page posting to a local port)', () => {
  const dir = tempDir();
  let server: ServerProcess;

  before(async () => {
    server = await startServer({
      dataDir: dir.path,
      durability: 'memory',
      extraArgs: ['--resp-port', '0', '--memcached-port', '0'],
    });
  });
  after(async () => {
    await server.stop();
    await killLeftoverServers();
    dir.remove();
  });

  it('closes a RESP connection that receives curl -X POST and runs nothing of its body', async () => {
    const url = `http://127.0.0.1:${server.respPort!}/`;
    const curl = await run('curl', ['-s', '-m', '5', '-X', 'POST', '--data', 'SET pwned yes\r\n', url]);
    assert.notEqual(curl.code, 28, 'curl timed out: the connection was not closed');
    assert.equal(curl.stdout, '', 'nothing is answered to an HTTP request');
    assert.equal(await respGet(server.respPort!, 'pwned'), '$-1\r\n');
  });

  it('closes a memcached connection that receives curl -X POST and stores nothing', async () => {
    const url = `http://127.0.0.1:${server.memcachedPort!}/`;
    const curl = await run('curl', ['-s', '-m', '5', '-X', 'POST', '--data', 'set mcpwned 0 0 3\r\nyes\r\n', url]);
    assert.notEqual(curl.code, 28, 'curl timed out: the connection was not closed');
    assert.equal(curl.stdout, '');
    assert.equal(await respGet(server.respPort!, 'mcpwned'), '$-1\r\n');
  });

  it('closes on an HTTP/1.0 request line without Host:, and on a Host: line, on both ports', async () => {
    const cases: [number, string][] = [
      [server.respPort!, 'PUT /x HTTP/1.0\r\n\r\nSET pwned1 yes\r\n'],
      [server.respPort!, 'Host: 127.0.0.1\r\nSET pwned2 yes\r\n'],
      [server.respPort!, command('POST', '/', 'HTTP/1.1').toString() + command('SET', 'pwned3', 'yes').toString()],
      [server.memcachedPort!, 'DELETE / HTTP/1.1\r\nset pwned4 0 0 3\r\nyes\r\n'],
      [server.memcachedPort!, 'Host: localhost:7002\r\nset pwned5 0 0 3\r\nyes\r\n'],
    ];
    for (const [port, request] of cases) {
      const conn = await Raw.open(port);
      conn.send(request);
      assert.ok(await conn.until(() => conn.closed), `not closed after ${JSON.stringify(request)}`);
      assert.equal(conn.text(), '', `answered ${JSON.stringify(conn.text())}`);
    }
    for (const key of ['pwned1', 'pwned2', 'pwned3', 'pwned4', 'pwned5'])
      assert.equal(await respGet(server.respPort!, key), '$-1\r\n', key);
    assert.match(server.stderr(), /Possible SECURITY ATTACK detected/);
  });

  it('still serves inline GET on RESP and answers upper-case GET with ERROR on memcached', async () => {
    const resp = await Raw.open(server.respPort!);
    resp.send('SET inline yes\r\nGET inline\r\n');
    assert.ok(await resp.until(() => resp.text() === '+OK\r\n$3\r\nyes\r\n'), resp.text());
    assert.equal(resp.closed, false);
    resp.end();
    const memcached = await Raw.open(server.memcachedPort!);
    memcached.send('GET a\r\nversion\r\n');
    assert.ok(await memcached.until(() => /^ERROR\r\nVERSION .*\r\n$/.test(memcached.text())), memcached.text());
    memcached.end();
  });
});

describe('replies that grow with the data are capped', () => {
  const dir = tempDir();
  let server: ServerProcess;

  before(async () => {
    server = await startServer({
      dataDir: dir.path,
      durability: 'memory',
      extraArgs: ['--resp-port', '0', '--memcached-port', '0'],
    });
  });
  after(async () => {
    await server.stop();
    await killLeftoverServers();
    dir.remove();
  });

  it('answers an MGET whose values pass 32 MiB with an error naming the limit, not a 512 MiB reply', async () => {
    await ask(server.respPort!, command('SET', 'k', Buffer.alloc(16 * 1024, 'v')), (r) => r === '+OK\r\n');
    const request = command('MGET', ...Array<string>(32 * 1024).fill('k')); // 228 KB asking for 512 MiB
    const reply = await ask(server.respPort!, request, (r) => r.includes('\r\n'));
    assert.match(reply, /^-ERR MGET values add up to more than 33554432 bytes/);
    assert.ok(peakRssMiB(server.pid) < 512, `peak RSS ${peakRssMiB(server.pid)} MiB`);
    const small = await ask(server.respPort!, command('MGET', 'k', 'nope'), (r) => r.endsWith('$-1\r\n'));
    assert.ok(small.startsWith('*2\r\n$16384\r\n'), small.slice(0, 20));
  });

  it('refuses KEYS past 100,000 keys, serving other clients between its pages', async () => {
    const writer = await Raw.open(server.respPort!);
    for (let batch = 0; batch < 101; batch++) {
      const pairs = Array.from({ length: 1000 }, (_, i) => [`key:${batch}:${i}`, 'v']).flat();
      writer.send(command('MSET', ...pairs));
    }
    assert.ok(await writer.until(() => writer.text() === '+OK\r\n'.repeat(101), 60_000), writer.text().slice(0, 40));
    writer.end();
    const keys = await Raw.open(server.respPort!);
    const pinger = await Raw.open(server.respPort!);
    keys.send(command('KEYS', '*'));
    await sleep(20);
    pinger.send(command('PING'));
    await pinger.until(() => pinger.text() === '+PONG\r\n');
    const pongBeforeKeys = keys.text() === '';
    assert.ok(await keys.until(() => keys.text().includes('\r\n'), 30_000));
    assert.match(keys.text(), /^-ERR KEYS matched more than 100000 keys or 16777216 bytes/);
    assert.ok(pongBeforeKeys, 'a PING sent while KEYS walked the keys was answered before it');
    keys.end();
    pinger.end();
  });

  it('refuses a memcached get of more than 4096 keys, or whose values pass 32 MiB, and a gat of too many keys', async () => {
    const mc = server.memcachedPort!;
    const tooMany = await ask(mc, `get ${Array<string>(4097).fill('a').join(' ')}\r\n`, (r) => r.endsWith('\r\n'));
    assert.equal(tooMany, 'CLIENT_ERROR at most 4096 keys in one get\r\n');
    const value = 'x'.repeat(20 * 1024);
    await ask(mc, `set mv 0 0 ${value.length}\r\n${value}\r\n`, (r) => r === 'STORED\r\n');
    const big = await ask(mc, `get ${Array<string>(2048).fill('mv').join(' ')}\r\n`, (r) => r.endsWith('\r\n'));
    assert.equal(big, 'SERVER_ERROR the values add up to more than 33554432 bytes; get fewer keys at once\r\n');
    const gat = await ask(mc, 'gat 0 mv mv mv mv mv\r\n', (r) => r.endsWith('\r\n'));
    assert.match(gat, /^CLIENT_ERROR at most 4 keys in one gat/);
    const fine = await ask(mc, 'get mv mv\r\n', (r) => r.endsWith('END\r\n'));
    assert.equal(fine.length, 2 * (`VALUE mv 0 ${value.length}\r\n`.length + value.length + 2) + 5);
  });

  it('derives the RESP bulk limit from --value-bytes-max (8 MiB here), not the 64 MiB ceiling', async () => {
    const conn = await Raw.open(server.respPort!);
    conn.send(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${9 * MiB}\r\n`);
    assert.ok(await conn.until(() => conn.closed));
    assert.equal(conn.text(), '-ERR Protocol error: invalid bulk length\r\n');
  });
});

describe('a client that never reads its replies', () => {
  const dir = tempDir();
  let server: ServerProcess;

  before(async () => {
    server = await startServer({
      dataDir: dir.path,
      durability: 'memory',
      extraArgs: ['--resp-port', '0', '--client-buffers-bytes-max', String(64 * MiB)],
    });
  });
  after(async () => {
    await server.stop();
    await killLeftoverServers();
    dir.remove();
  });

  it('is cut with a logged reason, while the node stays under its budget and serves others', async () => {
    await ask(server.respPort!, command('SET', 'big', Buffer.alloc(8 * MiB, 'b')), (r) => r === '+OK\r\n');
    const hogs: Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const socket = connect({ host: '127.0.0.1', port: server.respPort! });
      socket.on('error', () => undefined);
      socket.pause(); // never reads
      socket.write(Buffer.concat(Array<Buffer>(2000).fill(command('GET', 'big'))));
      hogs.push(socket);
    }
    let served = 0;
    const deadline = Date.now() + 30_000;
    while (!/does not read its replies/.test(server.stderr()) && Date.now() < deadline) {
      const pong = await ask(server.respPort!, command('PING'), (r) => r === '+PONG\r\n');
      if (pong === '+PONG\r\n') served += 1;
      await sleep(100);
    }
    assert.match(server.stderr(), /closing a client connection that does not read its replies/);
    assert.ok(served > 0, 'a well-behaved client was served while the hogs held their replies');
    const peak = peakRssMiB(server.pid);
    // Before the budget: 20 such clients grew the node by 2 GiB.
    assert.ok(peak < 700, `peak RSS ${peak} MiB`);
    const info = await ask(server.respPort!, command('INFO', 'clients'), (r) => /connected_clients:\d+/.test(r));
    assert.ok(Number(/connected_clients:(\d+)/.exec(info)![1]) < 21, info);
    assert.ok(Number(/catena_clients_cut:(\d+)/.exec(info)![1]) >= 1, info);
    assert.match(info, /catena_client_buffers_bytes_max:67108864\r\n/);
    for (const socket of hogs) socket.destroy();
  });
});

describe('maxclients from the open-file limit (ulimit -n 256)', () => {
  const dir = tempDir();
  let server: ServerProcess;

  before(async () => {
    server = await startServer({
      dataDir: dir.path,
      durability: 'memory',
      wrapper: ['bash', '-c', 'ulimit -n 256 && exec "$@"', 'bash'],
      extraArgs: ['--resp-port', '0', '--admin-port', '0', '--idle-timeout-ms', '3000', '--log-level', 'info'],
    });
  });
  after(async () => {
    server.kill('SIGTERM');
    await server.exited;
    await killLeftoverServers();
    dir.remove();
  });

  it('keeps the admin port and a clear refusal for new clients when idle sockets take every client slot', async () => {
    assert.match(server.stderr(), /"maxClients":128/);
    const idle: Raw[] = [];
    for (let i = 0; i < 200; i++) idle.push(await Raw.open(server.respPort!));
    await sleep(200);
    const health = await run('curl', ['-s', '-m', '5', `http://127.0.0.1:${adminPortOf(server)}/health`]);
    assert.match(health.stdout, /"ok": true/);
    const refused = await run('redis-cli', ['-p', String(server.respPort!), 'ping']);
    assert.match(refused.stdout, /ERR max number of clients reached/);
    assert.match(server.stderr(), /max number of clients reached: refusing new client connections/);
    const full = await run('redis-cli', ['-p', String(server.respPort!), 'info', 'clients']);
    assert.match(full.stdout, /ERR max number of clients reached/, 'INFO too is refused while full');
    assert.equal(idle.filter((conn) => conn.closed).length, 200 - 128, 'the sockets past maxclients were closed');
    // The idle deadline frees the slots.
    const freed = await idle[0]!.until(() => idle.slice(0, 128).every((conn) => conn.closed), 15_000);
    assert.ok(freed, 'idle connections were closed');
    const ping = await run('redis-cli', ['-p', String(server.respPort!), 'ping']);
    assert.equal(ping.stdout.trim(), 'PONG');
    const info = await run('redis-cli', ['-p', String(server.respPort!), 'info', 'clients']);
    assert.match(info.stdout, /maxclients:128\r?\n/);
    assert.match(info.stdout, /catena_clients_refused:[1-9]/);
    for (const conn of idle) conn.end();
  });
});

function adminPortOf(server: ServerProcess): number {
  return Number(/admin http:\/\/[^ ,]+:(\d+)/.exec(server.stdout())![1]);
}
