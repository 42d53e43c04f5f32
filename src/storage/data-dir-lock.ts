// One process per data directory. LMDB itself would happily let two processes share an
// environment, but two Catena nodes on one directory would interleave two different logs.
//
// The lock is a file `LOCK` holding the owner's pid. It is created atomically with its content
// (written to a private file, then hard-linked into place: link() fails if LOCK exists), so no
// one ever reads a half-written lock. A lock whose owner no longer exists (SIGKILL, power loss)
// is stale and taken over, so a crashed node restarts without help: it is first renamed to a
// private name, which only one contender can do, and then checked to be the stale one.

import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CatenaError } from '../core/errors.js';

const lockFileName = 'LOCK';
/**
 * Lock files this process holds. A LOCK naming our own pid that is not here is stale: a previous
 * process that had the same pid (a container's pid 1, say) crashed holding it.
 */
const heldHere = new Set<string>();

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): number | undefined {
  try {
    const owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isInteger(owner) ? owner : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function isLive(path: string, owner: number | undefined): boolean {
  if (owner === undefined) return false;
  return owner === process.pid ? heldHere.has(path) : processExists(owner);
}

function ignoreMissing(action: () => void): void {
  try {
    action();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

export class DataDirLock {
  private constructor(private readonly path: string) {}

  static acquire(dataDir: string): DataDirLock {
    const path = join(dataDir, lockFileName);
    const unique = `${process.pid}.${randomBytes(4).toString('hex')}`;
    const mine = join(dataDir, `${lockFileName}.${unique}`);
    const fd = openSync(mine, 'wx');
    try {
      writeSync(fd, `${process.pid}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          linkSync(mine, path);
          heldHere.add(path);
          return new DataDirLock(path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        const owner = readOwner(path);
        if (isLive(path, owner)) {
          throw new CatenaError('ERR_DATA_DIR_LOCKED', `data directory ${dataDir} is in use by process ${owner}`);
        }
        DataDirLock.removeStale(path, join(dataDir, `${lockFileName}.stale.${unique}`));
      }
      throw new CatenaError('ERR_DATA_DIR_LOCKED', `could not lock data directory ${dataDir}`);
    } finally {
      ignoreMissing(() => unlinkSync(mine));
    }
  }

  /** Moves a stale lock aside; if what was moved turns out to be live (a race), puts it back. */
  private static removeStale(path: string, aside: string): void {
    try {
      renameSync(path, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else took it away
      throw error;
    }
    if (isLive(path, readOwner(aside))) {
      try {
        linkSync(aside, path);
      } catch (error) {
        // EEXIST: a third contender locked meanwhile, and that lock stands.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    ignoreMissing(() => unlinkSync(aside));
  }

  release(): void {
    heldHere.delete(this.path);
    ignoreMissing(() => unlinkSync(this.path));
  }
}
