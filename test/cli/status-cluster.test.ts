// `catena status` against a real 3-node cluster: it exits 0 while every node serves, and once a
// node is SIGKILLed it exits non-zero and names that node under "problems" (in text and in JSON).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { statusExitCodes } from '../../src/client/cluster-health.js';
import type { StatusDocument } from '../../src/cli/status.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { startCluster, sleep } from '../helpers/cluster.js';
import { killLeftoverServers } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

/** Runs `catena status` (text and --json at once) until `done` accepts both runs, or fails with the last ones. */
async function statusUntil(
  what: string,
  seeds: string[],
  done: (text: CliRun, json: CliRun) => boolean,
  timeoutMs: number,
): Promise<{ text: CliRun; json: CliRun }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const base = ['status', '--seeds', seeds.join(','), '--timeout', '3000'];
    const [text, json] = await Promise.all([runCli(base, 30_000), runCli([...base, '--json'], 30_000)]);
    if (done(text, json)) return { text, json };
    if (Date.now() > deadline) {
      assert.fail(`catena status never showed ${what}\n--- text (exit ${text.code}) ---\n${text.stdout}${text.stderr}`);
    }
    await sleep(200);
  }
}

describe('catena status on a real cluster', () => {
  const dir = tempDir();
  after(async () => {
    await killLeftoverServers();
    dir.remove();
  });

  it('exits 0 when healthy, and non-zero naming a SIGKILLed node', async () => {
    // A long session: the killed node stays registered (and unreachable) well after the manager
    // has removed it from the chain, so every report until then names it.
    const cluster = await startCluster({
      nodes: 3,
      coordinator: 'embedded',
      dir: join(dir.path, 'c'),
      sessionTimeoutMs: 20_000,
    });
    try {
      const chain = await cluster.waitForMembers(3);
      const seeds = cluster.seeds();
      const healthy = await statusUntil('a healthy cluster', seeds, (t, j) => t.code === 0 && j.code === 0, 30_000);
      assert.doesNotMatch(healthy.text.stdout, /problems/);
      const doc = JSON.parse(healthy.json.stdout) as StatusDocument;
      assert.deepEqual([doc.health, doc.problems], ['healthy', []]);

      const victim = cluster.byId(chain.members.at(-1)!);
      victim.kill('SIGKILL');
      await victim.exited;
      const live = seeds.filter((seed) => seed !== `127.0.0.1:${victim.port}`);
      const named = (run: CliRun) => run.stdout.includes(victim.nodeId);
      const { text, json } = await statusUntil(
        `${victim.nodeId} down`,
        live,
        (t, j) => t.code !== 0 && j.code !== 0 && named(t) && named(j),
        30_000,
      );
      // The tail first (no reads until the manager replaces it), then a spare that does not answer.
      const codes = [statusExitCodes.unavailable, statusExitCodes.degraded];
      assert.ok(codes.includes(text.code!), `exit ${text.code}\n${text.stdout}${text.stderr}`);
      const problems = text.stdout.slice(text.stdout.indexOf('\nproblems ('));
      assert.match(problems, new RegExp(`^ {2}.*${victim.nodeId} unreachable \\(ERR_CONNECTION_`, 'm'), text.stdout);
      const down = JSON.parse(json.stdout) as StatusDocument;
      assert.ok(codes.includes(json.code!));
      assert.notEqual(down.health, 'healthy');
      assert.ok(
        down.problems.some((p) => p.node === victim.nodeId && p.problem === 'unreachable'),
        JSON.stringify(down.problems),
      );
    } finally {
      await cluster.stop();
    }
  });
});
