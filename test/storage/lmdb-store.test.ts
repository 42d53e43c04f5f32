import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { open } from 'lmdb';
import { ManualClock } from '../../src/core/clock.js';
import { CatenaError } from '../../src/core/errors.js';
import { LmdbStore } from '../../src/storage/lmdb-store.js';
import { bytes, tempDir, text } from '../helpers/tmp.js';
import { storeContract } from './contract.js';
import { logStoreContract } from './log-store-contract.js';

/** An LMDB store in a fresh temporary directory, reopened on the same directory. */
function lmdbHarness(): {
  open: (clock: ManualClock) => LmdbStore;
  reopen: (store: { close(): Promise<void> }, clock: ManualClock) => Promise<LmdbStore>;
  cleanup: () => void;
} {
  const dir = tempDir();
  const open = (clock: ManualClock) => new LmdbStore({ dataDir: dir.path, clock, durability: 'fsync' });
  return {
    open,
    reopen: async (store, clock) => {
      await store.close();
      return open(clock);
    },
    cleanup: dir.remove,
  };
}

storeContract('lmdb', lmdbHarness);

describe('lmdb store', () => {
  it('refuses a data directory that another store holds, with a clear error', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const first = new LmdbStore({ dataDir: dir.path, clock, durability: 'fsync' });
    try {
      assert.throws(
        () => new LmdbStore({ dataDir: dir.path, clock, durability: 'fsync' }),
        (error: unknown) =>
          error instanceof CatenaError &&
          error.code === 'ERR_DATA_DIR_LOCKED' &&
          /in use by process/.test(error.message),
      );
    } finally {
      await first.close();
    }
    const second = new LmdbStore({ dataDir: dir.path, clock, durability: 'fsync' });
    await second.close();
    dir.remove();
  });

  it('creates its data directory readable by its own user only', async () => {
    const dir = tempDir();
    const dataDir = join(dir.path, 'node');
    const store = new LmdbStore({ dataDir, clock: new ManualClock(), durability: 'memory' });
    try {
      assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    } finally {
      await store.close();
      dir.remove();
    }
  });

  it('writes issued in one turn from many callers share one sync', async () => {
    const dir = tempDir();
    const store = new LmdbStore({ dataDir: dir.path, clock: new ManualClock(), durability: 'fsync' });
    const syncs = [];
    for (let i = 0; i < 100; i++) {
      store.put(bytes(`k${i}`), bytes(`v${i}`));
      syncs.push(store.sync());
    }
    await Promise.all(syncs);
    assert.equal(text(store.get(bytes('k99'))?.value), 'v99');
    assert.equal(store.size(), 100);
    await store.close();
    dir.remove();
  });
});

describe('lmdb record format', () => {
  /** The raw data records of a closed store's directory, by key. */
  async function rawRecords(dataDir: string, keys: string[]): Promise<Map<string, Buffer | undefined>> {
    const env = open({ path: join(dataDir, 'store.mdb'), maxDbs: 8 });
    try {
      const data = env.openDB<Buffer, Buffer>({ name: 'data', keyEncoding: 'binary', encoding: 'binary' });
      return new Map(keys.map((key) => [key, data.get(bytes(key)) as Buffer | undefined]));
    } finally {
      await env.close();
    }
  }

  it('writes format 1 without flags and format 2 (a u32 after the header) with them, and reads both after a reopen', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    let store = new LmdbStore({ dataDir: dir.path, clock, durability: 'fsync' });
    const at = clock.nowMs() + 60_000;
    const plain = store.put(bytes('plain'), bytes('abc'), { expiresAtMs: at });
    const flagged = store.put(bytes('flagged'), bytes('abc'), { expiresAtMs: at, flags: 0x0102_0304 });
    const top = store.put(bytes('top'), bytes(''), { flags: 0xffff_ffff });
    await store.close();

    let raw = await rawRecords(dir.path, ['plain', 'flagged', 'top']);
    const plainRecord = raw.get('plain')!;
    // Format 1, as every earlier version wrote it: [u8 1][f64 version][f64 expiresAtMs][value].
    assert.equal(plainRecord.length, 17 + 3);
    assert.equal(plainRecord[0], 1);
    assert.equal(plainRecord.readDoubleBE(1), plain);
    assert.equal(plainRecord.readDoubleBE(9), at);
    assert.equal(plainRecord.subarray(17).toString(), 'abc');
    const flaggedRecord = raw.get('flagged')!;
    assert.equal(flaggedRecord.length, 21 + 3);
    assert.equal(flaggedRecord[0], 2);
    assert.equal(flaggedRecord.readDoubleBE(1), flagged);
    assert.equal(flaggedRecord.readDoubleBE(9), at);
    assert.equal(flaggedRecord.readUInt32BE(17), 0x0102_0304);
    assert.equal(flaggedRecord.subarray(21).toString(), 'abc');
    assert.deepEqual(
      [raw.get('top')!.length, raw.get('top')![0], raw.get('top')!.readUInt32BE(17)],
      [21, 2, 0xffff_ffff],
    );

    store = new LmdbStore({ dataDir: dir.path, clock, durability: 'fsync' });
    const view = (key: string) => {
      const got = store.get(bytes(key));
      return got === undefined ? undefined : [text(got.value), got.version, got.expiresAtMs, got.flags];
    };
    assert.deepEqual(view('plain'), ['abc', plain, at, 0]);
    assert.deepEqual(view('flagged'), ['abc', flagged, at, 0x0102_0304]);
    assert.deepEqual(view('top'), ['', top, 0, 0xffff_ffff]);
    // A record changes format with its flags: to 1 when they go, to 2 when they come.
    store.put(bytes('flagged'), bytes('abc'));
    store.expire(bytes('plain'), 0);
    store.put(bytes('plain'), bytes('abc'), { flags: 1 });
    await store.close();
    raw = await rawRecords(dir.path, ['plain', 'flagged']);
    assert.deepEqual([raw.get('flagged')!.length, raw.get('flagged')![0]], [17 + 3, 1]);
    assert.deepEqual(
      [raw.get('plain')!.length, raw.get('plain')![0], raw.get('plain')!.readUInt32BE(17)],
      [21 + 3, 2, 1],
    );
    dir.remove();
  });
});

describe('data directory lock', () => {
  it('takes over a lock left by a process that no longer exists, or an unreadable one', async () => {
    const { spawnSync } = await import('node:child_process');
    const { writeFileSync, readFileSync, readdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    for (const content of [`${dead}\n`, '', 'garbage']) {
      const dir = tempDir();
      writeFileSync(join(dir.path, 'LOCK'), content);
      const store = new LmdbStore({ dataDir: dir.path, clock: new ManualClock(), durability: 'fsync' });
      assert.equal(readFileSync(join(dir.path, 'LOCK'), 'utf8').split('\n')[0], `${process.pid}`);
      await store.close();
      assert.deepEqual(
        readdirSync(dir.path).filter((name) => name.startsWith('LOCK')),
        [],
        'no lock files are left behind',
      );
      dir.remove();
    }
  });
});

logStoreContract('lmdb', lmdbHarness);

describe('lmdb store: the log in segment files', () => {
  const logRecord = (n: number) => ({
    epoch: 1,
    clientId: 'c',
    clientSequence: n,
    nowMs: 0,
    request: bytes(`request-${n}`),
    reclaim: undefined,
    result: undefined,
  });
  const durable = (store: LmdbStore) =>
    new Promise<void>((resolve, reject) => store.whenDurable((error) => (error ? reject(error) : resolve())));
  const segmentFiles = (dir: string) =>
    readdirSync(join(dir, 'log'))
      .filter((name) => name.endsWith('.log'))
      .sort();

  /** A store whose log holds entries 1..n, closed; returns its directory. */
  async function logOf(n: number, segmentBytes?: number): Promise<ReturnType<typeof tempDir>> {
    const dir = tempDir();
    const store = new LmdbStore({
      dataDir: dir.path,
      clock: new ManualClock(),
      durability: 'fsync',
      logPreallocateBytes: 0,
      ...(segmentBytes === undefined ? {} : { logSegmentBytesMax: segmentBytes }),
    });
    for (let s = 1; s <= n; s++) {
      store.appendEntry(s, logRecord(s));
      if (segmentBytes !== undefined) await durable(store); // one commit (and segment) at a time
    }
    store.writeMeta('position', { lastSequence: n, lastEpoch: 1 });
    await durable(store);
    await store.close();
    return dir;
  }
  const reopen = (dir: string) => new LmdbStore({ dataDir: dir, clock: new ManualClock(), durability: 'fsync' });

  it('reopens with every durable entry, and the position read from the log itself', async () => {
    const dir = await logOf(5);
    const store = reopen(dir.path);
    try {
      assert.deepEqual(store.logBounds(), { first: 1, last: 5 });
      assert.deepEqual(store.readMeta().position, { lastSequence: 5, lastEpoch: 1 });
      assert.equal(text(store.entry(3)!.request), 'request-3');
    } finally {
      await store.close();
      dir.remove();
    }
  });

  it('a torn last record (a crash during its write) is cut off: the log ends before it', async () => {
    const dir = await logOf(5);
    const file = join(dir.path, 'log', segmentFiles(dir.path).at(-1)!);
    truncateSync(file, statSync(file).size - 3);
    const store = reopen(dir.path);
    try {
      assert.deepEqual(store.logBounds(), { first: 1, last: 4 });
      assert.deepEqual(store.readMeta().position, { lastSequence: 4, lastEpoch: 1 }, 'not the meta record');
      store.appendEntry(5, logRecord(50)); // the log goes on where it ends
      await durable(store);
      assert.equal(text(store.entry(5)!.request), 'request-50');
    } finally {
      await store.close();
      dir.remove();
    }
  });

  it('a flipped byte before the end, or a segment cut short before the last, refuses to open with a clear error', async () => {
    for (const damage of ['flip', 'truncate'] as const) {
      const dir = await logOf(12, 64); // several segments
      const files = segmentFiles(dir.path);
      assert.ok(files.length >= 3, `${files.length} segments`);
      const file = join(dir.path, 'log', files[0]!);
      if (damage === 'flip') {
        const content = readFileSync(file);
        content[content.length - 2]! ^= 0x40;
        writeFileSync(file, content);
      } else {
        truncateSync(file, statSync(file).size - 5);
      }
      try {
        assert.throws(
          () => reopen(dir.path),
          (error: unknown) =>
            error instanceof CatenaError &&
            error.code === 'ERR_STORAGE' &&
            error.message.includes(files[0]!) &&
            /without its data/.test(error.message),
          damage,
        );
        // The refusal released the directory: a fixed one opens.
        rmSync(join(dir.path, 'log'), { recursive: true });
        const store = reopen(dir.path);
        await store.close();
      } finally {
        dir.remove();
      }
    }
  });
});
