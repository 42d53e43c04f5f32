// The data-directory lock against the owners a LOCK file can name: a live process, a dead one, a
// live process that merely reuses the dead owner's pid, a process of an earlier boot, a process of
// another host (a shared file system), and a lock written by an older version (a pid alone).

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CatenaError } from '../../src/core/errors.js';
import { DataDirLock, decodeOwner, encodeOwner, thisProcess, type LockOwner } from '../../src/storage/data-dir-lock.js';
import { tempDir } from '../helpers/tmp.js';

const onLinux = process.platform === 'linux' && existsSync('/proc/self/stat');

/** A live process other than this one (a sleeping child), and what its lock would say. */
function liveChild(): { child: ChildProcess; owner: () => LockOwner } {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  const owner = (): LockOwner => {
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
    return { ...thisProcess(), pid: child.pid!, start };
  };
  return { child, owner };
}

/** Takes the lock of a directory whose LOCK says `content`; returns the error if refused. */
function tryLock(content: string): { taken: boolean; error?: CatenaError; lockText: string } {
  const dir = tempDir();
  try {
    writeFileSync(join(dir.path, 'LOCK'), content);
    try {
      const lock = DataDirLock.acquire(dir.path);
      const lockText = readFileSync(join(dir.path, 'LOCK'), 'utf8');
      lock.release();
      assert.deepEqual(
        readdirSync(dir.path).filter((name) => name.startsWith('LOCK')),
        [],
        'no lock files left behind',
      );
      return { taken: true, lockText };
    } catch (error) {
      assert.ok(error instanceof CatenaError, String(error));
      assert.equal(readFileSync(join(dir.path, 'LOCK'), 'utf8'), content, 'a refused lock is left as it was');
      return { taken: false, error, lockText: content };
    }
  } finally {
    dir.remove();
  }
}

describe('data directory lock', () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const child of children) child.kill('SIGKILL');
  });

  it('names its owner: pid first (as older versions wrote it), then host, boot id and start time', () => {
    const me = thisProcess();
    assert.deepEqual(decodeOwner(encodeOwner(me)), me);
    assert.equal(encodeOwner(me).split('\n')[0], String(process.pid));
    assert.equal(me.host, hostname());
    if (onLinux) assert.ok(me.boot !== undefined && me.start !== undefined, 'on Linux: boot id and start time');
    assert.equal(decodeOwner('garbage'), undefined);
    assert.equal(decodeOwner(''), undefined);
    assert.deepEqual(decodeOwner('123\n'), { pid: 123 });
  });

  it('refuses a lock held by a live process', () => {
    const { child, owner } = liveChild();
    children.push(child);
    const result = tryLock(encodeOwner(onLinux ? owner() : { pid: child.pid! }));
    assert.equal(result.taken, false);
    assert.equal(result.error?.code, 'ERR_DATA_DIR_LOCKED');
    assert.match(result.error!.message, new RegExp(`in use by process ${child.pid}`));
  });

  it(
    'takes over a lock whose pid now belongs to another process (a reused pid)',
    { skip: !onLinux && 'needs /proc' },
    () => {
      const { child, owner } = liveChild();
      children.push(child);
      const reused = { ...owner(), start: String(Number(owner().start) + 12345) };
      const result = tryLock(encodeOwner(reused));
      assert.equal(result.taken, true, `the lock of a pid with another start time is stale: ${result.error?.message}`);
      assert.equal(result.lockText.split('\n')[0], String(process.pid), 'the new lock names this process');
    },
  );

  it(
    'takes over a lock of an earlier boot of this host, even if its pid is alive now',
    { skip: !onLinux && 'needs /proc' },
    () => {
      const { child, owner } = liveChild();
      children.push(child);
      const result = tryLock(encodeOwner({ ...owner(), boot: '00000000-0000-0000-0000-000000000000' }));
      assert.equal(result.taken, true);
    },
  );

  it('takes over a lock of a process that is gone, or an unreadable one', () => {
    const dead = 2 ** 22 + 1; // above Linux's pid_max limit: no process has it
    for (const content of [encodeOwner({ ...thisProcess(), pid: dead }), `${dead}\n`, '', 'garbage']) {
      assert.equal(tryLock(content).taken, true, `LOCK ${JSON.stringify(content)} is stale`);
    }
  });

  it('takes over a lock naming this pid that this process does not hold (pid 1 in a restarted container)', () => {
    assert.equal(tryLock(encodeOwner({ ...thisProcess(), start: '1' })).taken, true);
    assert.equal(tryLock(`${process.pid}\n`).taken, true);
  });

  it('never takes over a lock of another host (a shared file system), and says which host holds it', () => {
    const result = tryLock(encodeOwner({ ...thisProcess(), pid: 2 ** 22 + 1, host: 'other-host.example' }));
    assert.equal(result.taken, false);
    assert.equal(result.error?.code, 'ERR_DATA_DIR_LOCKED');
    assert.match(result.error!.message, /on host other-host\.example/);
    assert.match(result.error!.message, /delete .*LOCK/);
  });

  it('refuses a second lock in this process, and hands it over once released', () => {
    const dir = tempDir();
    const first = DataDirLock.acquire(dir.path);
    assert.throws(() => DataDirLock.acquire(dir.path), /in use by process/);
    first.release();
    DataDirLock.acquire(dir.path).release();
    dir.remove();
  });
});
