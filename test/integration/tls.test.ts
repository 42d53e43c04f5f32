// TLS on every port of a real node (src/server/tls.ts, docs/security.md): redis-cli --tls and the
// TypeScript client reach a node started with --tls-cert, plain TCP clients do not; the admin
// port serves HTTPS; a `catena up --tls` cluster forms its chain over mutual TLS, relays over TLS,
// and its peer port refuses a TLS client without a certificate of the cluster's CA.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '../../src/client/client.js';
import { ClusterClient } from '../../src/client/cluster-client.js';
import { generateLocalTls, type LocalTls } from '../../src/server/tls.js';
import { killLeftoverServers, startServer, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const utf8 = (s: string) => Buffer.from(s, 'utf8');
const mainScript = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function redisCli(port: number, args: string[]): Promise<{ out: string; code: number }> {
  try {
    const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 10_000 });
    return { out: stdout.trim(), code: 0 };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; code?: number };
    return { out: `${failed.stdout ?? ''}${failed.stderr ?? ''}`.trim(), code: failed.code ?? 1 };
  }
}

function httpsGet(port: number, path: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, method: 'GET' }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS on a node', { concurrency: 1 }, () => {
  const dir = tempDir();
  let material: LocalTls;
  let server: ServerProcess;
  let adminPort: number;
  const files = { cert: join(dir.path, 'node.pem'), key: join(dir.path, 'node-key.pem'), ca: join(dir.path, 'ca.pem') };

  before(async () => {
    material = generateLocalTls();
    writeFileSync(files.cert, material.cert);
    writeFileSync(files.key, material.key, { mode: 0o600 });
    writeFileSync(files.ca, material.caCert);
    server = await startServer({
      dataDir: join(dir.path, 'data'),
      durability: 'memory',
      extraArgs: ['--resp-port', '0', '--admin-port', '0', '--tls-cert', files.cert, '--tls-key', files.key],
    });
    const match = /admin https:\/\/127\.0\.0\.1:(\d+)/.exec(server.stdout());
    assert.ok(match !== null, `the listening line names an https admin port: ${server.stdout()}`);
    adminPort = Number(match[1]);
  });
  after(async () => {
    await server?.stop();
    await killLeftoverServers();
    dir.remove();
  });

  it('redis-cli --tls works; plain redis-cli gets nothing', async () => {
    const port = server.respPort!;
    assert.deepEqual(await redisCli(port, ['--tls', '--cacert', files.ca, 'set', 'k', 'over-tls']), {
      out: 'OK',
      code: 0,
    });
    assert.equal((await redisCli(port, ['--tls', '--cacert', files.ca, 'get', 'k'])).out, 'over-tls');
    const plain = await redisCli(port, ['get', 'k']);
    assert.ok(!plain.out.includes('over-tls'), `a plain client read nothing: ${plain.out}`);
    // A client that does not trust the CA refuses the node's certificate.
    const untrusted = await redisCli(port, ['--tls', 'get', 'k']);
    assert.notEqual(untrusted.code, 0, untrusted.out);
  });

  it('the TypeScript client connects with the CA, and fails without TLS', async () => {
    const client = await Client.connect({ port: server.port, tls: { ca: material.caCert } });
    try {
      await client.send('put', { key: utf8('native'), value: utf8('yes') });
      const reply = await client.send('get', { key: utf8('native') });
      assert.equal(Buffer.from(reply.value ?? []).toString(), 'yes');
    } finally {
      await client.close();
    }
    const plain = await Client.connect({ port: server.port, timeoutMs: 1_000 });
    await assert.rejects(plain.send('get', { key: utf8('native') }));
    await plain.close();
  });

  it('a connection that never finishes its TLS handshake is closed (client and admin ports)', async () => {
    const waitClosed = (port: number) =>
      new Promise<number>((resolve) => {
        const startedMs = Date.now();
        const socket = netConnect({ host: '127.0.0.1', port });
        socket.on('error', () => undefined);
        socket.resume();
        socket.on('connect', () => socket.write(Buffer.from('16030100', 'hex'))); // a TLS record begun, never finished
        socket.on('close', () => resolve(Date.now() - startedMs));
      });
    const [resp, admin] = await Promise.all([waitClosed(server.respPort!), waitClosed(adminPort)]);
    assert.ok(resp < 15_000 && admin < 15_000, `closed at the handshake deadline: ${resp} ms, ${admin} ms`);
  });

  it('the admin port serves HTTPS', async () => {
    const health = await httpsGet(adminPort, '/health', material.caCert);
    assert.equal(health.status, 200);
    assert.match(health.body, new RegExp(server.nodeId));
  });
});

describe('catena up --tls', () => {
  const dir = tempDir();
  after(() => dir.remove());

  it('forms its chain over mutual TLS, relays over TLS, and its peer port wants a certificate of its CA', async () => {
    const base = 10_000 + Math.floor(Math.random() * 200) * 100;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', mainScript, 'up', '--tls', '--port', String(base), '--data-dir', dir.path],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', () => undefined);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const deadline = Date.now() + 60_000;
      while (!out.includes('is up: 3 nodes') && Date.now() < deadline) await sleep(100);
      assert.match(out, /redis-cli -p \d+ --tls --cacert .*ca\.pem/);
      const ca = join(dir.path, 'tls', 'ca.pem');
      const seeds = [0, 1, 2].map((i) => `127.0.0.1:${base + 10 * i}`);
      const client = await ClusterClient.connect({
        seeds,
        timeoutMs: 20_000,
        tls: { ca: readFileSync(ca) },
      });
      try {
        let members: string[] = [];
        while (members.length < 3 && Date.now() < deadline) {
          members = [...((await client.topology()).chains[0]?.members ?? [])];
          if (members.length < 3) await sleep(200);
        }
        assert.equal(members.length, 3, 'three members joined over mutual TLS');
        // Every node's RESP port takes writes: non-heads relay them to the head over TLS.
        for (let i = 0; i < 3; i++) {
          const written = await redisCli(base + 10 * i + 1, ['--tls', '--cacert', ca, 'set', `k${i}`, `v${i}`]);
          assert.equal(written.out, 'OK', `node${i}: ${written.out}`);
        }
        for (let i = 0; i < 3; i++) {
          const reply = await client.send('get', { key: utf8(`k${i}`) });
          assert.equal(Buffer.from(reply.value ?? []).toString(), `v${i}`);
        }
      } finally {
        await client.close();
      }
      // The peer port: a TLS client with the cluster's certificate gets the node's challenge;
      // without a certificate, or with one another CA signed, nothing comes back.
      const ownCa = generateLocalTls();
      const cluster = {
        cert: readFileSync(join(dir.path, 'tls', 'node.pem')),
        key: readFileSync(join(dir.path, 'tls', 'node-key.pem')),
      };
      const identities = [
        { identity: cluster, expected: 'data' },
        { identity: {}, expected: 'no data' },
        { identity: { cert: ownCa.cert, key: ownCa.key }, expected: 'no data' },
      ];
      for (const { identity, expected } of identities) {
        const outcome = await new Promise<string>((resolve) => {
          const socket = tlsConnect({ host: '127.0.0.1', port: base + 4, ca: readFileSync(ca), ...identity });
          socket.on('data', () => {
            resolve('data');
            socket.destroy();
          });
          socket.on('error', () => resolve('no data'));
          socket.on('close', () => resolve('no data'));
        });
        assert.equal(outcome, expected);
      }
    } finally {
      child.kill('SIGINT');
      await exited;
    }
  });
});
