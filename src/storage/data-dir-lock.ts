// One process per data directory. LMDB itself would happily let two processes share an
// environment, but two Catena nodes on one directory would interleave two different logs. The
// lock is a file holding the owner's pid, created exclusively; a lock left by a process that no
// longer exists (SIGKILL, power loss) is taken over, so a crashed node restarts without help.

import { closeSync, openSync, readFileSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import { CatenaError } from '../core/errors.js';

const lockFileName = 'LOCK';
/** Lock files this process holds. A LOCK naming our own pid that is not here is stale: a
 * previous process that had the same pid (a container's pid 1, say) crashed holding it. */
const heldHere = new Set<string>();

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class DataDirLock {
  private constructor(private readonly path: string) {}

  static acquire(dataDir: string): DataDirLock {
    const path = join(dataDir, lockFileName);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx');
        writeSync(fd, `${process.pid}\n`);
        fsyncSync(fd);
        closeSync(fd);
        heldHere.add(path);
        return new DataDirLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
      const live = owner === process.pid ? heldHere.has(path) : Number.isInteger(owner) && processExists(owner);
      if (live) {
        throw new CatenaError('ERR_DATA_DIR_LOCKED', `data directory ${dataDir} is in use by process ${owner}`);
      }
      unlinkSync(path); // stale: its owner is gone (or it is unreadable), so take it over
    }
    throw new CatenaError('ERR_DATA_DIR_LOCKED', `could not lock data directory ${dataDir}`);
  }

  release(): void {
    heldHere.delete(this.path);
    try {
      unlinkSync(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
