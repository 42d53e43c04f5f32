// One process per data directory. LMDB itself would happily let two processes share an
// environment, but two Catena nodes on one directory would interleave two different logs.
//
// The lock is a file `LOCK` naming its owner:
//
//   <pid>\n                     first line: the pid (what older versions wrote, and all they wrote)
//   host <hostname>\n
//   boot <boot id>\n            /proc/sys/kernel/random/boot_id: changes on every boot
//   start <ticks>\n             the process's start time (/proc/<pid>/stat, field 22)
//
// It is created atomically with its content (written to a private file, then hard-linked into
// place: link() fails if LOCK exists, on a local file system and on NFS alike), so no one ever
// reads a half-written lock and two contenders, on one host or two, never both hold it.
//
// A lock whose owner is gone is stale and taken over, so a crashed node restarts without help:
// it is first renamed to a private name, which only one contender can do, and then checked to be
// the stale one. The owner is gone when the lock names this host and
//   * another boot (the machine restarted), or
//   * a pid with no process, or whose process started at another time (the pid was reused: a
//     live process that merely has the dead owner's pid no longer blocks the restart), or
//   * our own pid while this process does not hold it (a container's pid 1 after a crash).
// A lock naming another host is never taken over: from here nothing says whether that process
// lives (a data directory on a shared file system). The node refuses to start and says which host
// holds it; an operator who knows that node is down deletes LOCK. Without /proc (not Linux) the
// check falls back to "does a process with that pid exist".
// What this assumes: hosts that share a data directory have distinct hostnames, and processes of
// one host that share one see each other's pids (one pid namespace, or the old one is gone).

import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CatenaError } from '../core/errors.js';

const lockFileName = 'LOCK';
/**
 * Lock files this process holds. A LOCK naming our own pid that is not here is stale: a previous
 * process that had the same pid (a container's pid 1, say) crashed holding it.
 */
const heldHere = new Set<string>();

/** Who holds a lock, as its file says (fields other than pid are absent in locks of older versions). */
export interface LockOwner {
  readonly pid: number;
  readonly host?: string;
  readonly boot?: string;
  /** Start time in clock ticks since boot. */
  readonly start?: string;
}

/** This process, as its lock names it. */
export function thisProcess(): LockOwner {
  const boot = bootId();
  const start = startTime(process.pid);
  return {
    pid: process.pid,
    host: hostname(),
    ...(boot === undefined ? {} : { boot }),
    ...(start === undefined ? {} : { start }),
  };
}

export function encodeOwner(owner: LockOwner): string {
  let text = `${owner.pid}\n`;
  if (owner.host !== undefined) text += `host ${owner.host}\n`;
  if (owner.boot !== undefined) text += `boot ${owner.boot}\n`;
  if (owner.start !== undefined) text += `start ${owner.start}\n`;
  return text;
}

/** The owner a lock file names, or undefined when it names none (empty, garbage). */
export function decodeOwner(text: string): LockOwner | undefined {
  const [first, ...rest] = text.split('\n');
  if (first === undefined || !/^\d{1,10}$/.test(first.trim())) return undefined;
  const fields = new Map<string, string>();
  for (const line of rest) {
    const space = line.indexOf(' ');
    if (space > 0) fields.set(line.slice(0, space), line.slice(space + 1).trim());
  }
  const host = fields.get('host');
  const boot = fields.get('boot');
  const start = fields.get('start');
  return {
    pid: Number.parseInt(first, 10),
    ...(host === undefined ? {} : { host }),
    ...(boot === undefined ? {} : { boot }),
    ...(start === undefined ? {} : { start }),
  };
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The start time of process `pid` (field 22 of /proc/<pid>/stat), or undefined when there is none (or no /proc). */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[22 - 3];
  } catch {
    return undefined;
  }
}

function hasProc(): boolean {
  return startTime(process.pid) !== undefined;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the owner a lock names still holds it: 'elsewhere' when it is another host's (unknowable here). */
export function ownerState(path: string, owner: LockOwner | undefined): 'live' | 'gone' | 'elsewhere' {
  if (owner === undefined) return 'gone';
  if (owner.host !== undefined && owner.host !== hostname()) return 'elsewhere';
  const boot = bootId();
  if (owner.boot !== undefined && boot !== undefined && owner.boot !== boot) return 'gone';
  if (owner.pid === process.pid) return heldHere.has(path) ? 'live' : 'gone';
  if (owner.start !== undefined && hasProc()) return startTime(owner.pid) === owner.start ? 'live' : 'gone';
  return processExists(owner.pid) ? 'live' : 'gone';
}

function readOwner(path: string): LockOwner | undefined {
  try {
    return decodeOwner(readFileSync(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function ignoreMissing(action: () => void): void {
  try {
    action();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function refusal(dataDir: string, owner: LockOwner, state: 'live' | 'elsewhere'): CatenaError {
  if (state === 'live') {
    return new CatenaError('ERR_DATA_DIR_LOCKED', `data directory ${dataDir} is in use by process ${owner.pid}`);
  }
  return new CatenaError(
    'ERR_DATA_DIR_LOCKED',
    `data directory ${dataDir} is in use by process ${owner.pid} on host ${owner.host ?? '?'} (a shared file ` +
      `system): a lock of another host is never taken over. If that node is down for good, delete ` +
      `${join(dataDir, lockFileName)} and start again`,
  );
}

export class DataDirLock {
  private constructor(private readonly path: string) {}

  static acquire(dataDir: string): DataDirLock {
    const path = join(dataDir, lockFileName);
    const unique = `${process.pid}.${randomBytes(4).toString('hex')}`;
    const mine = join(dataDir, `${lockFileName}.${unique}`);
    const fd = openSync(mine, 'wx');
    try {
      writeSync(fd, encodeOwner(thisProcess()));
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
        const state = ownerState(path, owner);
        if (state !== 'gone') throw refusal(dataDir, owner!, state);
        DataDirLock.removeStale(path, join(dataDir, `${lockFileName}.stale.${unique}`));
      }
      throw new CatenaError('ERR_DATA_DIR_LOCKED', `could not lock data directory ${dataDir}`);
    } finally {
      ignoreMissing(() => unlinkSync(mine));
    }
  }

  /** Moves a stale lock aside; if what was moved turns out to be held (a race), puts it back. */
  private static removeStale(path: string, aside: string): void {
    try {
      renameSync(path, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else took it away
      throw error;
    }
    if (ownerState(path, readOwner(aside)) !== 'gone') {
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
