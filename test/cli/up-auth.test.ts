// `catena up --auth` for real: the supervisor writes the client password and the admin token
// (mode 600) and starts every node with them; clients without the password are refused, clients
// with it are served on every node (a write to the second node is relayed to the head), /dump
// needs the token, and Ctrl-C still stops everything cleanly.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ClusterClient } from '../../src/client/cluster-client.js';
import { CatenaError } from '../../src/core/errors.js';
import { Conn } from '../helpers/conn.js';
import { tempDir } from '../helpers/tmp.js';

const mainScript = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const resp = (...words: string[]): string =>
  `*${words.length}\r\n${words.map((word) => `$${Buffer.byteLength(word)}\r\n${word}\r\n`).join('')}`;

describe('catena up --auth', () => {
  const dir = tempDir();
  after(() => dir.remove());

  it('writes the secrets, and every node requires them', async () => {
    // Below the kernel's ephemeral range (32768+), where port-0 listeners of other tests live.
    const base = 10_000 + Math.floor(Math.random() * 200) * 100 + 50;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', mainScript, 'up', '--auth', '--nodes', '2', '--port', String(base), '--data-dir', dir.path],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', () => undefined);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      for (let waited = 0; !out.includes('is up: 2 nodes'); waited += 100) {
        assert.ok(waited < 120_000, `no summary:\n${out}`);
        await sleep(100);
      }
      const passwordFile = join(dir.path, 'client.password');
      const tokenFile = join(dir.path, 'admin.token');
      assert.match(out, new RegExp(`CATENA_PASSWORD_FILE=${passwordFile}`));
      for (const file of [passwordFile, tokenFile]) assert.equal(statSync(file).mode & 0o777, 0o600, file);
      const password = readFileSync(passwordFile, 'utf8').trim();
      const token = readFileSync(tokenFile, 'utf8').trim();
      assert.match(password, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');

      const seeds = [`127.0.0.1:${base}`, `127.0.0.1:${base + 10}`];
      await assert.rejects(
        ClusterClient.connect({ seeds, timeoutMs: 5_000 }),
        (error: unknown) => error instanceof CatenaError && error.code === 'ERR_NOAUTH',
      );
      const client = await ClusterClient.connect({ seeds, timeoutMs: 20_000, auth: { password } });
      try {
        // Both nodes in the chain, so one of them relays RESP writes to the other.
        for (let waited = 0; (await client.topology()).chains[0]?.members.length !== 2; waited += 100) {
          assert.ok(waited < 60_000, 'a 2-member chain');
          await sleep(100);
        }
        for (const node of [0, 1]) {
          const conn = new Conn(base + 10 * node + 1);
          conn.send(resp('SET', `k${node}`, 'v') + resp('AUTH', password) + resp('SET', `k${node}`, `v${node}`));
          const expected = '-NOAUTH Authentication required.\r\n+OK\r\n+OK\r\n';
          assert.equal(await conn.read(expected.length), expected, `node${node}`);
          conn.end();
        }
        assert.equal((await client.get('k0'))?.value.toString(), 'v0');
        assert.equal((await client.get('k1'))?.value.toString(), 'v1');
      } finally {
        await client.close();
      }
      const admin = `http://127.0.0.1:${base + 3}`;
      assert.equal((await fetch(`${admin}/dump`)).status, 401);
      assert.equal((await fetch(`${admin}/health`)).status, 200);
      const dump = await fetch(`${admin}/dump`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(dump.status, 200);
      assert.match(await dump.text(), /"key":"k0"/);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0);
  });
});
