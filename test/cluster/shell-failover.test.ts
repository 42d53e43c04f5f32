// Issue #4's "done when": `catena shell` against a 3-node cluster keeps working while a node is
// killed. The shell reads commands from a pipe, one `incr` every few milliseconds; the head is
// SIGKILLed half-way; every command must be answered, in order, with the next integer.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startCluster, sleep } from '../helpers/cluster.js';
import { killLeftoverServers } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const mainScript = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const commands = 60;

describe('catena shell against a cluster', () => {
  const dir = tempDir();
  after(async () => {
    await killLeftoverServers();
    dir.remove();
  });

  it('keeps answering while the head is killed', async () => {
    const cluster = await startCluster({
      nodes: 3,
      coordinator: 'embedded',
      dir: join(dir.path, 'c'),
      sessionTimeoutMs: 2_000,
    });
    try {
      const chain = await cluster.waitForMembers(3);
      const head = cluster.byId(chain.members[0]!);
      const seed = cluster.byId(chain.members[1]!); // the shell is pointed at a node that stays up
      const shell = spawn(process.execPath, ['--import', 'tsx', mainScript, 'shell', '--port', String(seed.port)], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      shell.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      shell.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
      const exited = new Promise<number | null>((resolve) => shell.once('exit', (code) => resolve(code)));
      for (let i = 0; i < commands; i++) {
        shell.stdin.write('incr visits\n');
        if (i === commands / 2) head.kill('SIGKILL');
        await sleep(50);
      }
      shell.stdin.end('get visits\n');
      assert.equal(await exited, 0, `the shell exits cleanly\n${out}\n${err}`);
      const answers = [...out.matchAll(/\(integer\) (\d+)/g)].map((m) => Number(m[1]));
      assert.deepEqual(
        answers,
        Array.from({ length: commands }, (_, i) => i + 1),
        `every incr answered once, in order\n${out}\n${err}`,
      );
      assert.match(out, new RegExp(`"${commands}"`), 'the final read sees every increment');
    } finally {
      await cluster.stop();
    }
  });
});
