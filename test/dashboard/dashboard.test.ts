// The dashboard in a real browser (issue 20): Debian's chromium, headless, driven by
// playwright-core (no browser download), against a real 3-node cluster of `catena server`
// processes on the embedded coordinator.
//
//   1. the page, loaded from the head's admin port, shows the chain with its members in order;
//   2. the head (the node serving the page) is SIGKILLed: the page follows to another node's
//      admin port and shows the new head, keeps updating, and lists the failover;
//   3. a second chain is asked for: the killed node comes back, starts it, and half the slots move
//      to it (slowly: --move-rate) while the page shows the move's progress.
// A screenshot of each state is written to a temporary directory (printed; kept after the run),
// or to $CATENA_DASHBOARD_SCREENSHOTS. Without chromium the suite is skipped loudly on a
// workstation and fails on CI (scripts/install-system-packages.sh installs it).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ClusterClient } from '../../src/client/cluster-client.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { killLeftoverServers, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const chromiumPath = '/usr/bin/chromium';
const onCi = process.env['CI'] !== undefined && process.env['CI'] !== '';
const installed = existsSync(chromiumPath);
const skip = installed ? undefined : `${chromiumPath} is not installed: run scripts/install-system-packages.sh as root`;

if (!installed && !onCi) {
  process.stderr.write(
    `\n${'!'.repeat(78)}\n!! SKIPPING the dashboard browser tests: ${chromiumPath} is not installed.\n` +
      `!! Install it with: sudo scripts/install-system-packages.sh\n${'!'.repeat(78)}\n\n`,
  );
}

describe('chromium', () => {
  it('is installed when CI is set', { skip: onCi ? undefined : 'not on CI' }, () => {
    assert.ok(installed, `CI must install chromium (scripts/install-system-packages.sh): ${chromiumPath} is missing`);
  });
});

/** The admin port a node printed in its listening line. */
function adminPortOf(server: ServerProcess): number {
  const port = Number(/admin http:\/\/[^ ,]+:(\d+)/.exec(server.stdout())?.[1]);
  assert.ok(port > 0, `no admin port in: ${server.stdout()}`);
  return port;
}

/** The node ids of a chain's member rows on the page, head first. */
function membersShown(page: Page, chainId: string): Promise<string[]> {
  return page
    .locator(`article.chain[data-chain="${chainId}"] tbody tr`)
    .evaluateAll((rows) =>
      rows
        .filter((row) => row.getAttribute('data-role') !== 'joining')
        .map((row) => row.getAttribute('data-node') ?? ''),
    );
}

/** Polls `probe` until it returns true; fails with what it last saw after `timeoutMs`. */
async function within(seconds: number, what: string, probe: () => Promise<boolean | string>): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  let last: boolean | string = false;
  while (Date.now() < deadline) {
    last = await probe().catch((error: unknown) => String(error));
    if (last === true) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail(`the page did not show ${what} within ${seconds} s (last seen: ${String(last)})`);
}

describe('the dashboard in a real browser: a 3-node cluster, a head failover, a slot move', { skip }, () => {
  const dir = tempDir('catena-dashboard-');
  const shots = process.env['CATENA_DASHBOARD_SCREENSHOTS'] ?? mkdtempSync(join(tmpdir(), 'catena-dashboard-shots-'));
  let cluster: TestCluster;
  let browser: Browser;
  let page: Page;
  const shoot = async (name: string) => {
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
    process.stderr.write(`[dashboard] screenshot ${join(shots, `${name}.png`)}\n`);
  };

  before(async () => {
    [cluster, browser] = await Promise.all([
      startCluster({
        nodes: 3,
        coordinator: 'embedded',
        dir: dir.path,
        layout: { chains: 1, replicas: 3 },
        // Slow slot copies, so the move lasts the seconds a page needs to show it.
        serverArgs: ['--admin-port', '0', '--move-rate', String(24 * 1024)],
      }),
      chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] }),
    ]);
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  });
  after(async () => {
    await browser?.close();
    await cluster?.stop();
    await killLeftoverServers();
    dir.remove();
  });

  it('shows the chain, follows a killed head to another node, and shows a slot move', async () => {
    const topology = (await cluster.topology())!;
    const members = [...topology.chains[0]!.members];
    const head = cluster.byId(members[0]!);
    await page.goto(`http://127.0.0.1:${adminPortOf(head)}/dashboard`);

    // 1. The chain, head first, as the cluster has it.
    await within(15, `chain c0 with ${members.join(' → ')}`, async () => {
      const shown = await membersShown(page, 'c0');
      return shown.join(',') === members.join(',') || shown.join(',');
    });
    assert.equal(await page.locator(`tr[data-node="${members[0]}"]`).first().getAttribute('data-role'), 'head');
    assert.equal(await page.locator('#connection').getAttribute('data-state'), 'live');
    await within(10, 'a throughput line for every node', async () => {
      const lines = await page.locator('#ops-chart path').count();
      return lines === 3 || `${lines} lines`;
    });
    await shoot('healthy');

    // 2. SIGKILL the head, which is the node serving the page.
    head.kill('SIGKILL');
    await head.exited;
    const survivors = members.slice(1);
    await within(20, `the new head ${survivors[0]} and the page following another node`, async () => {
      const shown = await membersShown(page, 'c0');
      const servedBy = await page.locator('#connection').getAttribute('data-served-by');
      return (
        (shown.join(',') === survivors.join(',') && servedBy !== head.nodeId) || `${shown.join(',')} via ${servedBy}`
      );
    });
    assert.equal(
      await page.locator(`article.chain[data-chain="c0"] tr[data-node="${survivors[0]}"]`).getAttribute('data-role'),
      'head',
    );
    assert.equal(await page.locator('#connection').getAttribute('data-state'), 'following');
    assert.match((await page.locator('#banner').textContent()) ?? '', /stopped answering/);
    await within(10, 'the failover in the event list', async () => {
      const text = (await page.locator('#events li[data-kind="failover"]').allTextContents()).join('\n');
      return text.includes(`head ${head.nodeId} removed`) || text;
    });
    const updated = await page.locator('#connection').textContent();
    await within(5, 'a newer update', async () => (await page.locator('#connection').textContent()) !== updated);
    await shoot('failover');

    // 3. A second chain: data first (so the move takes a few seconds), then the layout, then the
    // killed node back: it starts c1, and half the slots move to it.
    const writer = await ClusterClient.connect({
      seeds: cluster.live.map((s) => `127.0.0.1:${s.port}`),
      timeoutMs: 20_000,
    });
    try {
      await Promise.all(Array.from({ length: 1200 }, (_, i) => writer.put(`dash:${i}`, 'v'.repeat(300))));
    } finally {
      await writer.close();
    }
    await cluster.setLayout({ chains: 2, replicas: 1 });
    await cluster.startNode(cluster.indexOf(head.nodeId));
    await within(30, 'the slot move with its progress', async () => {
      const move = page.locator('#move');
      if (await move.isHidden()) return 'no move shown';
      const text = (await move.textContent()) ?? '';
      return (/c0 → c1/.test(text) && /\d+ of \d+ slots moved/.test(text)) || text;
    });
    assert.ok(await page.locator('article.chain[data-chain="c1"]').count(), 'chain c1 is shown');
    await shoot('move');
    await within(60, 'the move finished, c1 owning half the slots', async () => {
      const legend = (await page.locator('#slot-legend').textContent()) ?? '';
      return ((await page.locator('#move').isHidden()) && /c1: 8192 slots/.test(legend)) || legend;
    });
    const kinds = await page
      .locator('#events li')
      .evaluateAll((items) => items.map((item) => item.getAttribute('data-kind')));
    for (const kind of ['failover', 'move-started', 'slots-moved', 'move-finished']) {
      assert.ok(kinds.includes(kind), `the event list has a ${kind} event: ${kinds.join(', ')}`);
    }
  });
});
