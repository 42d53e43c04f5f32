// `catena up` for real: the supervisor starts the embedded coordinator and three nodes, prints
// where to connect, restarts a node that is killed, and stops everything cleanly on SIGINT.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ClusterClient } from '../../src/client/cluster-client.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const mainScript = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let diagnostics = (): string => '';

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}\n${diagnostics()}`);
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

async function health(port: number): Promise<{ nodeId: string; pid: number }> {
  const response = await fetch(`http://127.0.0.1:${port}/health`);
  assert.equal(response.status, 200);
  return (await response.json()) as { nodeId: string; pid: number };
}

/**
 * Every line of a node's log file is a JSON record ({ts, level, node, msg, ...}), the node's
 * human listening line among them as a record of its own: `starts` of them.
 */
function assertJsonLines(file: string, nodeId: string | undefined, starts: number): void {
  const lines = readFileSync(file, 'utf8').split('\n');
  assert.equal(lines.pop(), '', `${file} ends with a newline`);
  const records = lines.map((line) => {
    const record = JSON.parse(line) as Record<string, unknown>;
    assert.ok(typeof record === 'object' && record !== null && !Array.isArray(record), line);
    assert.deepEqual(Object.keys(record).slice(0, 4), ['ts', 'level', 'node', 'msg'], line);
    return record;
  });
  const listening = records.filter((record) => record['msg'] === 'listening');
  assert.equal(listening.length, starts, `${file}: one listening record per start\n${lines.join('\n')}`);
  if (nodeId !== undefined) assert.ok(listening.every((record) => record['node'] === nodeId));
  assert.ok(!lines.some((line) => line.includes('catena node ')), 'the human listening line stays out of the file');
}

describe('catena up', () => {
  const dir = tempDir();
  after(() => dir.remove());

  it('starts a 3-node chain, restarts a killed node, and stops cleanly on SIGINT', async () => {
    // Below the kernel's ephemeral range (32768+), where port-0 listeners of other tests live.
    const base = 10_000 + Math.floor(Math.random() * 200) * 100;
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        mainScript,
        'up',
        '--port',
        String(base),
        '--data-dir',
        dir.path,
        '--session-timeout-ms',
        '3000',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    diagnostics = () => `--- catena up stdout ---\n${out}\n--- stderr ---\n${err}`;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let victimId: string | undefined;
    try {
      await until('the summary', async () => (out.includes('is up: 3 nodes') ? true : undefined), 60_000);
      assert.match(out, new RegExp(`127\\.0\\.0\\.1:${base} `), 'node0 on the first port');
      assert.match(out, /npx catena shell --port/);
      assert.match(out, new RegExp(`dashboard: http://127\\.0\\.0\\.1:${base + 3}/dashboard`), 'the dashboard URL');

      const seeds = [0, 1, 2].map((i) => `127.0.0.1:${base + 10 * i}`);
      const client = await ClusterClient.connect({ seeds, timeoutMs: 20_000 });
      try {
        await until('a 3-member chain', async () => {
          const chain = (await client.topology()).chains[0];
          return chain !== undefined && chain.members.length === 3 ? chain : undefined;
        });
        await client.put('greeting', 'hello');
        assert.equal((await client.get('greeting'))?.value.toString(), 'hello');

        // Kill node1 (whatever its role): the supervisor restarts it and it rejoins.
        const victim = await health(base + 13);
        victimId = victim.nodeId;
        process.kill(victim.pid, 'SIGKILL');
        await until('node1 restarted', async () => {
          const now = await health(base + 13);
          return now.pid !== victim.pid && now.nodeId === victim.nodeId ? now : undefined;
        });
        // The supervisor's own messages read as text in its terminal (--log-format text, the default).
        assert.match(
          err,
          /^\d\d:\d\d:\d\d\.\d{3} warn {2}supervisor node1 exited: restarting \(code=null signal=SIGKILL inMs=\d+ log=\S+node1\.log\)$/m,
        );
        await until('node1 back in the chain', async () => {
          const chain = (await client.topology()).chains[0];
          return chain !== undefined && chain.members.length === 3 && chain.members.includes(victim.nodeId)
            ? chain
            : undefined;
        });
        assert.equal((await client.incr('visits')).toString(), '1');
        assert.equal((await client.get('greeting'))?.value.toString(), 'hello');
      } finally {
        await client.close();
      }

      child.kill('SIGINT');
      assert.equal(await exited, 0, `clean exit; stderr:\n${err}`);
      assert.match(out, /stopped/);
      for (const i of [0, 1, 2]) assert.equal(await portOpen(base + 10 * i), false, `node${i} is gone`);
      assertJsonLines(join(dir.path, 'node1.log'), victimId, 2);
      for (const i of [0, 2]) assertJsonLines(join(dir.path, `node${i}.log`), undefined, 1);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses a --log-format other than text or json, as catena server does', async () => {
    const [up, server] = await Promise.all([
      runCli(['up', '--log-format', 'xml', '--data-dir', dir.path]),
      runCli(['server', '--log-format', 'logfmt']),
    ]);
    assert.equal(up.code, 2, up.stderr);
    assert.match(up.stderr, /--log-format must be text or json/);
    assert.equal(server.code, 2, server.stderr);
    assert.match(server.stderr, /--log-format must be json or text/);
  });
});
