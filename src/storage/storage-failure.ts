// What a failed write to the data directory means, said so an operator can act on it.
//
// A full disk is the common cause, and the least clearly reported one: node:fs says ENOSPC, but
// LMDB turns a short pwrite() (what a full file system gives a write that no longer fits) into
// EIO, "Input/output error" — the same words as a failing device. So an EIO is checked against the
// file system's free space: with less than fullDiskFreeBytesMax left, it is reported as the full
// disk it is. Either way the failure is fatal (the node exits 70, and nothing acknowledged is lost:
// a reply waits for the transaction that holds its write); the message names the data directory
// and the free bytes.

import { statfsSync } from 'node:fs';
import { CatenaError } from '../core/errors.js';

/**
 * Below this many free bytes, an EIO from a write is taken for a full disk: LMDB writes a
 * transaction's pages (4 KiB each, a few hundred KiB for a large turn) and a short write means
 * they did not fit; a failing device with this little room left is still worth freeing space on.
 */
const fullDiskFreeBytesMax = 1024 * 1024;

/** The bytes an unprivileged process may still write on `dir`'s file system (undefined if unknown). */
export function freeBytes(dir: string): number | undefined {
  try {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

/** True when `error` (or its cause) is ENOSPC, or an EIO on a file system that is (all but) full. */
export function isDiskFull(error: unknown, dir: string): boolean {
  const codes = errorCodes(error);
  if (codes.has('ENOSPC') || codes.has(28)) return true;
  if (!codes.has('EIO') && !codes.has(5) && !/input\/output error/i.test(messageOf(error))) return false;
  const free = freeBytes(dir);
  return free !== undefined && free < fullDiskFreeBytesMax;
}

/** The failure of `what` (an LMDB transaction, a log write) in data directory `dir`, as the node reports it. */
export function storageFailure(error: unknown, dir: string, what: string): CatenaError {
  const free = freeBytes(dir);
  const room = free === undefined ? '' : ` (${free} bytes free there)`;
  if (isDiskFull(error, dir)) {
    return new CatenaError(
      'ERR_STORAGE',
      `no space left on device: ${what} in ${dir} failed because its file system is full${room}; ` +
        `free space and restart the node (underlying error: ${messageOf(error)})`,
      { cause: error },
    );
  }
  if (error instanceof CatenaError) return error;
  return new CatenaError('ERR_STORAGE', `${what} in ${dir} failed: ${messageOf(error)}${room}`, { cause: error });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The `code` and `errno` of an error and of its causes. */
function errorCodes(error: unknown): Set<string | number> {
  const codes = new Set<string | number>();
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const { code, errno, cause } = current as { code?: unknown; errno?: unknown; cause?: unknown };
    if (typeof code === 'string' || typeof code === 'number') codes.add(code);
    if (typeof errno === 'number') codes.add(Math.abs(errno));
    current = cause;
  }
  return codes;
}
