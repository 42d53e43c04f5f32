import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { CatenaError } from '../../src/core/errors.js';
import { LmdbStore } from '../../src/storage/lmdb-store.js';
import { bytes, tempDir, text } from '../helpers/tmp.js';
import { storeContract } from './contract.js';

storeContract('lmdb', () => {
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
});

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
      assert.equal(readFileSync(join(dir.path, 'LOCK'), 'utf8'), `${process.pid}\n`);
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
