// `npm run screenshots`: the README's pictures of the dashboard (docs/dashboard.md), taken in
// Debian's chromium (headless, driven by playwright-core) against a real cluster of 9 `catena
// server` processes in 3 chains of 3, under a light load so the charts have something to draw:
//
//   docs/images/dashboard-healthy.png    every chain whole, the load running
//   docs/images/dashboard-failover.png   right after the head of c1 is SIGKILLed
//   docs/images/dashboard-move.png       chain c2 retired: its slots moving to c0 and c1
//
// Takes about two minutes. `--out DIR` writes elsewhere.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { ClusterClient } from '../src/client/cluster-client.js';
import { startCluster, type TestCluster } from '../test/helpers/cluster.js';
import { killLeftoverServers, repoRoot } from '../test/helpers/server-process.js';

const chromiumPath = '/usr/bin/chromium';
const outIndex = process.argv.indexOf('--out');
const outDir = resolve(outIndex > 0 ? process.argv[outIndex + 1]! : join(repoRoot, 'docs', 'images'));
/** How long the load runs before the first picture, so the charts show a stretch of it. */
const warmUpMs = 45_000;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A few clients doing puts and gets in a loop until `stop` (each waits for its answer: a light load). */
function startLoad(cluster: TestCluster): { stop: () => Promise<void> } {
  let running = true;
  const worker = async (index: number) => {
    const client = await ClusterClient.connect({ seeds: cluster.seeds(), timeoutMs: 20_000 });
    try {
      for (let i = 0; running; i++) {
        const key = `load:${index}:${i % 500}`;
        await client.put(key, `value ${i}`).catch(() => undefined);
        await client.get(key).catch(() => undefined);
        if (i % 20 === 0) await sleep(5);
      }
    } finally {
      await client.close();
    }
  };
  const workers = Array.from({ length: 4 }, (_, i) => worker(i));
  return {
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
  };
}

async function shoot(page: Page, name: string): Promise<void> {
  const path = join(outDir, `dashboard-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  process.stdout.write(`wrote ${path}\n`);
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'catena-screenshots-'));
  process.stdout.write('starting 9 nodes in 3 chains of 3...\n');
  const cluster = await startCluster({
    nodes: 9,
    coordinator: 'embedded',
    dir,
    layout: { chains: 3, replicas: 3 },
    serverArgs: ['--admin-port', '0', '--move-rate', String(48 * 1024)],
  });
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
  let load: { stop: () => Promise<void> } | undefined;
  try {
    const writer = await ClusterClient.connect({ seeds: cluster.seeds(), timeoutMs: 20_000 });
    await Promise.all(Array.from({ length: 3000 }, (_, i) => writer.put(`data:${i}`, 'x'.repeat(400))));
    await writer.close();
    load = startLoad(cluster);
    // The page reads c0's tail; the head of c1 is the node killed below.
    const topology = (await cluster.topology())!;
    const chainOf = (id: string) => topology.chains.find((chain) => chain.chainId === id)!;
    const reader = cluster.byId(chainOf('c0').members.at(-1)!);
    const victim = chainOf('c1').members[0]!;
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    const admin = Number(/admin http:\/\/[^ ,]+:(\d+)/.exec(reader.stdout())?.[1]);
    await page.goto(`http://127.0.0.1:${admin}/dashboard`);
    await waitFor('three chains', async () => (await page.locator('article.chain').count()) === 3);
    process.stdout.write(`load running; first picture in ${warmUpMs / 1000} s\n`);
    await sleep(warmUpMs);
    await shoot(page, 'healthy');

    // The head of c1 killed: its row goes red, then the failover.
    cluster.byId(victim).kill('SIGKILL');
    await waitFor('the failover on the page', async () => {
      const down = await page.locator(`article.chain[data-chain="c1"] tr.down[data-node="${victim}"]`).count();
      const failover = await page.locator('#events li[data-kind="failover"]').count();
      return down > 0 && failover > 0;
    });
    await shoot(page, 'failover');

    await cluster.startNode(cluster.indexOf(victim));
    await cluster.waitForLayout({ chains: 3, replicas: 3 }, 60_000);
    await cluster.setLayout({ chains: 2, replicas: 3, retired: ['c2'] });
    await waitFor('a slot move under way', async () => {
      const percent = Number(await page.locator('#move').getAttribute('data-percent'));
      return !(await page.locator('#move').isHidden()) && percent >= 20;
    });
    await shoot(page, 'move');
  } finally {
    await load?.stop();
    await browser.close();
    await cluster.stop();
    await killLeftoverServers();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `screenshots failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
