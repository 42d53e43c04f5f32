// Durability of a real `catena server` process against what kills it: SIGKILL under write load
// with memory durability (no fsync, but a reply waits for its transaction to be written to the
// OS, so the page cache keeps everything acknowledged), and a data directory on a file system that
// fills up, in both durability modes (the node exits 70 saying "no space left on device", and
// every acknowledged write is there after the restart).
//
// The full-disk cases mount a small tmpfs, which needs root (CI runs as root): without it they are
// skipped, and say so.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Client, type Entry } from '../../src/client/client.js';
import { EmbeddedCoordinatorServer } from '../../src/coordination/embedded-coordinator.js';
import { killLeftoverServers, startServer, withTimeout, type Durability } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const errorCode = (error: unknown): string =>
  typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : String(error);

/** What a write load sent and what the server acknowledged. */
interface Load {
  readonly issued: Map<string, string>;
  readonly acked: Map<string, { value: string; version: bigint }>;
  incrsIssued: number;
  incrsAcked: number;
  maxIncrAcked: bigint;
  readonly rejections: Set<string>;
  /** Resolves when every writer stopped (each stops at its first rejection). */
  done: Promise<unknown>;
  inFlight(): number;
  close(): Promise<void>;
}

/**
 * Writers with a window of requests each, until their connection fails: every fifth request an
 * INCR of one counter, the others PUTs of distinct keys with values of about `valueBytes`.
 */
async function startLoad(
  port: number,
  options: { prefix: string; valueBytes: number; onAck: () => void },
): Promise<Load> {
  const writers = 8;
  const window = 16;
  const clients = await Promise.all(Array.from({ length: writers }, () => Client.connect({ port, timeoutMs: 30_000 })));
  const load: Load = {
    issued: new Map(),
    acked: new Map(),
    incrsIssued: 0,
    incrsAcked: 0,
    maxIncrAcked: 0n,
    rejections: new Set(),
    done: Promise.resolve(),
    inFlight: () => clients.reduce((sum, c) => sum + c.inFlight, 0),
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
    },
  };
  const runs = clients.map(async (client, ci) => {
    let next = 0;
    let stopped = false;
    const one = async (): Promise<void> => {
      while (!stopped) {
        const n = next++;
        try {
          if (n % 5 === 4) {
            load.incrsIssued += 1;
            const value = await client.incr(`${options.prefix}counter`);
            load.incrsAcked += 1;
            if (value > load.maxIncrAcked) load.maxIncrAcked = value;
          } else {
            const key = `${options.prefix}c${ci}/${n}`;
            const value = `v${ci}.${n}.`.padEnd(options.valueBytes - (n % 97), 'p');
            load.issued.set(key, value);
            const { version } = await client.put(key, value);
            load.acked.set(key, { value, version });
          }
          options.onAck();
        } catch (error) {
          stopped = true;
          load.rejections.add(errorCode(error));
        }
      }
    };
    await Promise.all(Array.from({ length: window }, one));
  });
  load.done = Promise.all(runs);
  return load;
}

/** Every entry under a prefix: key -> entry. */
async function readAll(client: Client, prefix: string): Promise<Map<string, Entry>> {
  const all = new Map<string, Entry>();
  for await (const entry of client.entries({ prefix, pageSize: 500 })) all.set(entry.key.toString('utf8'), entry);
  return all;
}

/** Asserts that every acknowledged write of `load` is in the store, and nothing torn or invented is. */
async function assertNothingAcknowledgedLost(port: number, load: Load, prefix: string): Promise<void> {
  const client = await Client.connect({ port, timeoutMs: 30_000 });
  try {
    const stored = await readAll(client, prefix);
    const lost = [...load.acked].filter(([key, { value }]) => stored.get(key)?.value.toString() !== value);
    assert.deepEqual(
      lost.slice(0, 10).map(([key]) => key),
      [],
      `${lost.length} of ${load.acked.size} acknowledged puts were lost`,
    );
    for (const [key, { version }] of load.acked) assert.equal(stored.get(key)?.version, version, `version of ${key}`);
    for (const [key, entry] of stored) {
      if (key === `${prefix}counter`) continue;
      assert.equal(entry.value.toString(), load.issued.get(key), `${key} holds exactly what was sent`);
    }
    const counter = BigInt(stored.get(`${prefix}counter`)?.value.toString() ?? '0');
    assert.ok(
      counter >= load.maxIncrAcked && counter >= BigInt(load.incrsAcked),
      `counter ${counter} covers the ${load.incrsAcked} acknowledged incrs (max ${load.maxIncrAcked})`,
    );
    assert.ok(counter <= BigInt(load.incrsIssued), `counter ${counter} is at most the ${load.incrsIssued} incrs sent`);
  } finally {
    await client.close();
  }
}

void describe('catena server process: SIGKILL under write load (memory durability)', () => {
  const dir = tempDir('catena-it-memkill-');

  after(async () => {
    await killLeftoverServers();
    dir.remove();
  });

  void it('loses no acknowledged write in 3 kills: a reply waits for its transaction, written without fsync', async (t) => {
    for (let round = 0; round < 3; round++) {
      const server = await startServer({ dataDir: dir.path, durability: 'memory' });
      const prefix = `kill${round}/`;
      const load = await loadUntilAcknowledged(server.port, prefix, 500);
      const inFlight = load.inFlight();
      server.kill('SIGKILL');
      assert.deepEqual(await server.exited, { code: null, signal: 'SIGKILL' });
      assert.ok(inFlight > 0, 'requests were in flight at the kill');
      assert.notEqual(await withTimeout(load.done, 15_000), undefined, 'every request settled after the kill');
      assert.deepEqual([...load.rejections], ['ERR_CONNECTION_CLOSED']);
      await load.close();

      const restarted = await startServer({ dataDir: dir.path, durability: 'memory' });
      await assertNothingAcknowledgedLost(restarted.port, load, prefix);
      await restarted.stop();
      t.diagnostic(
        `kill ${round + 1}: ${load.acked.size} puts and ${load.incrsAcked} incrs acknowledged, ${inFlight} in flight, none lost`,
      );
    }
  });
});

/** A restarted chain's sole member resumes once its configuration arrives: waits until it takes a write. */
async function waitForWrites(port: number, load: Load, prefix: string): Promise<void> {
  const probe = await Client.connect({ port, timeoutMs: 30_000 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await probe.put(`${prefix}probe`, 'x');
        load.issued.set(`${prefix}probe`, 'x');
        return;
      } catch (error) {
        if (attempt > 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    await probe.close();
  }
}

/**
 * Starts the load and resolves once `count` writes were acknowledged (the load goes on). Every
 * writer stops at its first error: then this fails with the errors rather than wait for ever.
 */
async function loadUntilAcknowledged(port: number, prefix: string, count: number): Promise<Load> {
  let acks = 0;
  let signalEnough: () => void = () => undefined;
  const enough = new Promise<void>((resolve) => (signalEnough = resolve));
  const load = await startLoad(port, {
    prefix,
    valueBytes: 200,
    onAck: () => {
      if (++acks >= count) signalEnough();
    },
  });
  const stopped = load.done.then(() => {
    if (acks < count) {
      throw new Error(`the load stopped after ${acks} acknowledgements: ${[...load.rejections].join(', ')}`);
    }
  });
  await Promise.race([enough, stopped]);
  return load;
}

/** Retries a put until the node takes writes (a chain node is configured shortly after it listens). */
async function untilWritable(port: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  const client = await Client.connect({ port, timeoutMs: 2_000 });
  try {
    for (;;) {
      try {
        await client.put('ready', 'yes');
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    await client.close();
  }
}

void describe('a one-node chain: SIGKILL under write load (memory durability)', () => {
  const dir = tempDir('catena-it-chainkill-');
  let coordinator: EmbeddedCoordinatorServer | undefined;

  after(async () => {
    await killLeftoverServers();
    await coordinator?.stop();
    dir.remove();
  });

  void it('loses no acknowledged write: a chain answers once its log record is written (no fdatasync)', async (t) => {
    coordinator = await EmbeddedCoordinatorServer.start({ port: 0, sessionTimeoutMsMin: 500 });
    const extraArgs = ['--cluster', 'kill', '--coordinator', coordinator.url, '--session-timeout-ms', '2000'];
    const dataDir = join(dir.path, 'node');
    for (let round = 0; round < 2; round++) {
      const server = await startServer({ dataDir, durability: 'memory', extraArgs });
      // The listening line can come before the node's chain configuration: writes start once it takes one.
      await untilWritable(server.port);
      const prefix = `chain${round}/`;
      const load = await loadUntilAcknowledged(server.port, prefix, 500);
      const inFlight = load.inFlight();
      server.kill('SIGKILL');
      await server.exited;
      assert.notEqual(await withTimeout(load.done, 15_000), undefined, 'every request settled after the kill');
      await load.close();
      const restarted = await startServer({ dataDir, durability: 'memory', extraArgs });
      await waitForWrites(restarted.port, load, prefix);
      await assertNothingAcknowledgedLost(restarted.port, load, prefix);
      await restarted.stop();
      t.diagnostic(
        `kill ${round + 1}: ${load.acked.size} puts and ${load.incrsAcked} incrs acknowledged, ${inFlight} in flight, none lost`,
      );
    }
  });
});

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const fullDiskSkip = isRoot
  ? false
  : 'mounting a small tmpfs needs root (CI runs as root): the full-disk cases are skipped';

const fullDiskCases = (['fsync', 'memory'] as Durability[]).flatMap((durability) =>
  [false, true].map((chain) => ({ durability, chain })),
);
for (const { durability, chain } of fullDiskCases) {
  const what = chain ? 'a one-node chain' : 'a standalone node';
  void describe(`${what}: the data directory's disk fills up (${durability} durability)`, () => {
    const base = tempDir('catena-it-full-');
    const mountPoint = join(base.path, 'mnt');
    let mounted = false;
    let coordinator: EmbeddedCoordinatorServer | undefined;

    after(async () => {
      await killLeftoverServers();
      await coordinator?.stop();
      if (mounted) spawnSync('umount', [mountPoint]);
      base.remove();
    });

    void it(
      'exits 70 saying "no space left on device", and keeps every acknowledged write',
      { skip: fullDiskSkip },
      async (t) => {
        mkdirSync(mountPoint);
        const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint], { encoding: 'utf8' });
        assert.equal(mount.status, 0, `mount of a tmpfs failed: ${mount.stderr}`);
        mounted = true;
        const dataDir = join(mountPoint, 'node');
        let extraArgs: string[] = [];
        if (chain) {
          coordinator = await EmbeddedCoordinatorServer.start({ port: 0, sessionTimeoutMsMin: 500 });
          extraArgs = ['--cluster', 'full', '--coordinator', coordinator.url, '--session-timeout-ms', '2000'];
        }
        const server = await startServer({ dataDir, durability, extraArgs });
        // A chain node listens before it has its configuration: the load (whose writers stop at
        // their first error) starts once it takes writes, or the disk never fills.
        if (chain) await untilWritable(server.port);
        const prefix = 'full/';
        const load = await startLoad(server.port, { prefix, valueBytes: 4000, onAck: () => undefined });
        const exit = await withTimeout(server.exited, 120_000);
        assert.deepEqual(
          exit,
          { code: 70, signal: null },
          `the node exits 70 when its disk is full\n${server.stderr()}`,
        );
        assert.notEqual(await withTimeout(load.done, 15_000), undefined, 'every request settled after the exit');
        await load.close();
        assert.match(server.stderr(), /no space left on device/i, 'the log says the disk is full');
        assert.doesNotMatch(server.stderr(), /Input\/output error[^)]*$/m, 'not only "Input/output error"');
        assert.ok(load.acked.size >= 100, `writes were acknowledged before the disk filled (${load.acked.size})`);

        // Room again: the node restarts on the same data and holds everything it acknowledged.
        const grow = spawnSync('mount', ['-o', 'remount,size=64m', mountPoint], { encoding: 'utf8' });
        assert.equal(grow.status, 0, `remount failed: ${grow.stderr}`);
        const restarted = await startServer({ dataDir, durability, extraArgs });
        if (chain) await waitForWrites(restarted.port, load, prefix);
        await assertNothingAcknowledgedLost(restarted.port, load, prefix);
        await restarted.stop();
        const logLine =
          server
            .stderr()
            .split('\n')
            .find((line) => /no space left/i.test(line)) ?? '';
        t.diagnostic(`${load.acked.size} puts and ${load.incrsAcked} incrs acknowledged, none lost; ${logLine}`);
      },
    );
  });
}
