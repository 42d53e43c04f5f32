// Client connections against a real `catena server` process (docs/security.md, "Client
// connections"): cross-protocol requests (an HTTP request sent by a web page, with real curl)
// are refused before anything after them runs; replies that grow with the data are capped; a
// client that never reads its replies is cut and the node's memory stays bounded; and with a low
// open-file limit the node keeps room for new clients and its admin port, and says so in its log.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { killLeftoverServers, sleep, startServer, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

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
