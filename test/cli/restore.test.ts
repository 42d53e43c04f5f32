// `catena dump` and `catena restore` (issue 19): a 3-chain cluster of real processes is dumped
// (one file per chain, from its tail) and restored into a 2-chain cluster, where every key must
// come back with its value, flags and expiry (the same moment, so the same remaining TTL), and a
// key that expired since the dump must not. Then exactly once on retry: a rerun after a finished
// restore writes nothing; without its progress file it writes nothing either (keys present are
// kept, so a key changed since keeps its new value) unless --replace; and a run that stopped part
// way through goes on after its last checkpoint, skipping exactly what it had done.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClusterClient } from '../../src/client/cluster-client.js';
import { renderRestore, renderRestoreProgress } from '../../src/cli/restore-command.js';
import { SetCondition } from '../../src/protocol/native/gen/catena_pb.js';
import { decodeDump, type DumpRecord } from '../../src/server/dump.js';
import { runCli } from '../helpers/cli.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { killLeftoverServers, sleep } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const hourMs = 3_600_000;
const keyCount = 240;
const keyOf = (i: number) => (i % 10 === 7 ? Buffer.from([0x6b, 0x00, 0xff, i & 0xff, i >> 8]) : Buffer.from(`k:${i}`));
const valueOf = (i: number) => (i % 5 === 0 ? Buffer.from([0xff, 0x00, 0x0a, i & 0xff]) : Buffer.from(`välue ${i}`));

/** Every record of the dump files in `dir`, by key (hex); versions left out (a restore makes new ones). */
function recordsIn(dir: string): Map<string, Omit<DumpRecord, 'version' | 'key'>> {
  const records = new Map<string, Omit<DumpRecord, 'version' | 'key'>>();
  for (const name of readdirSync(dir).filter((file) => file.endsWith('.jsonl'))) {
    const decoded = decodeDump(readFileSync(join(dir, name), 'utf8'));
    assert.ok(decoded.ok, decoded.ok ? '' : `${name}: ${decoded.reason}`);
    for (const { key, value, expiresAtMs, flags } of decoded.value.records) {
      const hex = Buffer.from(key).toString('hex');
      assert.ok(!records.has(hex), `${hex} is in one file only`);
      records.set(hex, { value: Buffer.from(value), expiresAtMs, flags });
    }
  }
  return records;
}

/** The total row of a restore report: records, written, kept, expired, earlier. */
const totals = (stdout: string) =>
  /^total +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)$/m.exec(stdout)?.slice(1).map(Number) ?? assert.fail(stdout);

describe('the restore report (pure)', () => {
  it('prints one line per file, a total and where it went; the progress line shows bytes and records', () => {
    const row = { records: 3, written: 1, kept: 1, expired: 1, earlier: 0 };
    assert.equal(
      renderRestore([{ file: 'd/c0.jsonl', ...row }], 'prod', 1234),
      [
        'FILE        RECORDS  WRITTEN  KEPT  EXPIRED  EARLIER',
        'd/c0.jsonl  3        1        1     1        0',
        'total       3        1        1     1        0',
        'restored into cluster "prod" in 1.2 s',
      ].join('\n'),
    );
    assert.equal(
      renderRestoreProgress({ bytes: 1_200_000, totalBytes: 4_000_000, records: 12_300, elapsedMs: 5100 }),
      'restore [#########.....................]  30% 1.20M of 4.00M bytes, 12.3k records sent, 5.1s',
    );
  });
});

describe('catena restore without a dump', () => {
  it('explains its usage, and refuses a directory holding no dump file', async () => {
    const dir = tempDir();
    try {
      const [help, none, empty] = await Promise.all([
        runCli(['restore', '--help']),
        runCli(['restore']),
        runCli(['restore', dir.path, '--port', '1']),
      ]);
      assert.equal(help.code, 0);
      assert.ok(help.stdout.startsWith('Usage: catena restore DIR '), help.stdout);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /ERR_INVALID_ARGUMENT: give one dump directory/);
      assert.equal(empty.code, 2);
      assert.match(empty.stderr, /holds no dump \(\*\.jsonl\) file/);
    } finally {
      dir.remove();
    }
  });
});

describe('dump a 3-chain cluster, restore it into a 2-chain one', { concurrency: 1 }, () => {
  const dir = tempDir();
  const dumpDir = join(dir.path, 'dump');
  let source: TestCluster;
  let target: TestCluster;
  let client: ClusterClient;
  let dumped: Map<string, Omit<DumpRecord, 'version' | 'key'>>;

  before(async () => {
    const options = {
      coordinator: 'embedded' as const,
      durability: 'memory' as const,
      serverArgs: ['--admin-port', '0'],
    };
    [source, target] = await Promise.all([
      startCluster({ ...options, nodes: 3, dir: join(dir.path, 'source'), layout: { chains: 3, replicas: 1 } }),
      startCluster({ ...options, nodes: 2, dir: join(dir.path, 'target'), layout: { chains: 2, replicas: 1 } }),
    ]);
    client = await ClusterClient.connect({ seeds: target.seeds(), timeoutMs: 15_000 });
  });
  after(async () => {
    await client?.close();
    await Promise.all([source?.stop(), target?.stop()]);
    await killLeftoverServers();
    dir.remove();
  });

  const restore = (...extra: string[]) => runCli(['restore', dumpDir, '--seeds', target.seeds().join(','), ...extra]);

  it('dumps one file per chain, holding every key once', async () => {
    const writer = await ClusterClient.connect({ seeds: source.seeds(), timeoutMs: 15_000 });
    try {
      await Promise.all(
        Array.from({ length: keyCount }, (_, i) =>
          writer.send('set', {
            key: keyOf(i),
            value: valueOf(i),
            condition: SetCondition.SET_ALWAYS,
            ttlMs: i % 3 === 0 ? BigInt(hourMs + i) : 0n,
            flags: i % 4 === 0 ? 0 : 1000 + i,
          }),
        ),
      );
      // Expires after the dump and before the restore (the restore test waits for it): long
      // enough for the dump to read it on a loaded machine (3 s was not, in a CI run).
      await writer.put('short-lived', 'x', { ttlMs: 15_000 });
    } finally {
      await writer.close();
    }
    const run = await runCli(['dump', '--seeds', source.seeds().join(','), '--out', dumpDir]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.deepEqual(readdirSync(dumpDir).sort(), ['c0.jsonl', 'c1.jsonl', 'c2.jsonl']);
    assert.match(run.stdout, new RegExp(`^total +${keyCount + 1} +\\d+ +3 of 3 nodes in `, 'm'));
    dumped = recordsIn(dumpDir);
    assert.equal(dumped.size, keyCount + 1);
    const first = dumped.get(keyOf(3).toString('hex'))!;
    assert.ok(first.expiresAtMs > Date.now() + hourMs - 60_000, 'a TTL is dumped as the moment it expires');
    assert.equal(first.flags, 1003);
  });

  it('restores every key with its value, flags and expiry, and not one that expired since', async () => {
    const expiresAtMs = dumped.get(Buffer.from('short-lived').toString('hex'))!.expiresAtMs;
    await sleep(Math.max(0, expiresAtMs - Date.now() + 50));
    const run = await restore();
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.deepEqual(totals(run.stdout), [keyCount + 1, keyCount, 0, 1, 0]);
    assert.match(run.stdout, /restored into cluster "test" in /);

    const after = join(dir.path, 'after');
    const again = await runCli(['dump', '--seeds', target.seeds().join(','), '--out', after]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(readdirSync(after).sort(), ['c0.jsonl', 'c1.jsonl']);
    const restored = recordsIn(after);
    const expected = new Map(dumped);
    expected.delete(Buffer.from('short-lived').toString('hex'));
    assert.deepEqual(restored, expected);
    // The remaining TTL, as a client sees it, is what the source had left.
    const entry = await client.get(keyOf(3));
    assert.ok(entry !== undefined && entry.ttlMs > hourMs - 60_000 && entry.ttlMs <= hourMs + 3);
    assert.equal((await client.get(keyOf(4)))?.ttlMs, 0);
  });

  it('writes nothing on a rerun, with or without its progress file; --replace overwrites', async () => {
    const versions = async () => Promise.all([0, 1, 7, 100].map(async (i) => (await client.get(keyOf(i)))?.version));
    const before = await versions();
    const rerun = await restore();
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.deepEqual(totals(rerun.stdout), [keyCount + 1, 0, 0, 0, keyCount + 1], 'all done by the earlier run');
    assert.deepEqual(await versions(), before);

    await client.put(keyOf(1), 'changed since');
    rmSync(join(dumpDir, 'restore-progress.json'));
    const fresh = await restore();
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.deepEqual(totals(fresh.stdout), [keyCount + 1, 0, keyCount, 1, 0], 'every key present is kept');
    assert.equal((await client.get(keyOf(1)))?.value.toString(), 'changed since');

    rmSync(join(dumpDir, 'restore-progress.json'));
    const replace = await restore('--replace');
    assert.equal(replace.code, 0, replace.stderr);
    assert.deepEqual(totals(replace.stdout), [keyCount + 1, keyCount, 0, 1, 0]);
    assert.deepEqual((await client.get(keyOf(1)))?.value, valueOf(1));
  });

  it('goes on after the last checkpoint of a run that stopped part way', async () => {
    // As a run interrupted after checkpointing 10 records of c1.jsonl would have left it.
    const progressFile = join(dumpDir, 'restore-progress.json');
    const progress = JSON.parse(readFileSync(progressFile, 'utf8')) as {
      files: Record<string, { bytes: number; records: number; done: boolean }>;
    };
    progress.files = { 'c1.jsonl': { ...progress.files['c1.jsonl']!, records: 10, done: false } };
    writeFileSync(progressFile, JSON.stringify(progress));
    await client.send('flush', {});

    const run = await restore();
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(totals(run.stdout), [keyCount + 1, keyCount - 10, 0, 1, 10]);
    const c1 = decodeDump(readFileSync(join(dumpDir, 'c1.jsonl'), 'utf8'));
    assert.ok(c1.ok);
    const records = c1.value.records;
    for (const record of records.slice(0, 10)) assert.equal(await client.get(record.key), undefined);
    const live = records.slice(10).filter((record) => record.expiresAtMs === 0 || record.expiresAtMs > Date.now());
    for (const record of live) assert.ok((await client.get(record.key)) !== undefined);
  });
});
