// Starts a real memcached for tests and benchmarks, from Debian's `memcached` package
// (scripts/install-system-packages.sh installs it, and `libmemcached-tools` for memcp, memcat,
// memstat, ...): `memcached -p N -U 0 -l 127.0.0.1 ...` in the foreground.
//
// Contract:
// * The server listens on a free loopback TCP port; UDP is off (`-U 0`). It runs as the
//   current user: memcached refuses to run as root without `-u`, so under root it gets
//   `-u root`. Its log (`memcached.out`) lives in a fresh temp dir that `stop()` removes.
// * `itemBytesMax` sets the largest item (`-I`, in bytes; memcached's default is 1 MiB). The
//   memory limit (`-m`, 64 MiB by default) is raised to twice that when needed, since
//   memcached refuses an item limit above half of it.
// * `startMemcached` resolves once `version` over TCP answers `VERSION ...`.
// * `stop()` sends SIGTERM (SIGKILL after a grace period), waits for the process to exit, so
//   the port is closed when it resolves, and is idempotent.
// * No process outlives the test: memcached runs in its own process group under a small shell
//   guard that kills it when the test process dies (even by SIGKILL), and an exit hook kills
//   every group still running (src/testing/server-process-guard.ts).
// * Binaries are looked up on PATH, then in /usr/bin, /usr/sbin and /usr/local/bin;
//   CATENA_MEMCACHED overrides the server's path. libmemcached's tools are found under either
//   naming: upstream's (memcp, memcat, memstat, ...) or Debian's (memccp, memccat, memcstat, ...).

import { findExecutable, freePort, isExecutable, probeLine, startGuardedServer } from './server-process-guard.js';

const defaultMemoryMb = 64;
const mib = 1024 * 1024;

/** libmemcached's tools, by upstream name; Debian prefixes them `memc` (memccp, memcstat, ...). */
export type MemcachedTool =
  | 'memcp'
  | 'memcat'
  | 'memstat'
  | 'memflush'
  | 'memrm'
  | 'memdump'
  | 'memerror'
  | 'memexist'
  | 'memping'
  | 'memtouch'
  | 'memparse'
  | 'memslap'
  | 'memaslap'
  | 'memcapable';

export interface MemcachedOptions {
  /** The largest item in bytes (`-I`); memcached's default is 1 MiB. */
  readonly itemBytesMax?: number;
}

export interface MemcachedServer {
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

function memcachedPath(): string | undefined {
  const override = process.env['CATENA_MEMCACHED'];
  if (override !== undefined && override !== '') return isExecutable(override) ? override : undefined;
  return findExecutable('memcached');
}

/** The path of a libmemcached tool under either naming (memcp or memccp), or undefined. */
export function memcachedToolPath(name: MemcachedTool): string | undefined {
  return findExecutable(name) ?? findExecutable(name.replace(/^mem/, 'memc'));
}

/** True when memcached is installed. */
export function memcachedAvailable(): boolean {
  return memcachedPath() !== undefined;
}

function serverArgs(port: number, options: MemcachedOptions): string[] {
  const args = ['-p', String(port), '-U', '0', '-l', '127.0.0.1'];
  if (options.itemBytesMax !== undefined) {
    const itemBytesMax = options.itemBytesMax;
    if (!Number.isSafeInteger(itemBytesMax) || itemBytesMax < 1024) {
      throw new RangeError(`itemBytesMax must be an integer of at least 1024, got ${itemBytesMax}`);
    }
    const memoryMb = Math.max(defaultMemoryMb, Math.ceil((2 * itemBytesMax) / mib));
    args.push('-I', String(itemBytesMax), '-m', String(memoryMb));
  }
  // memcached will not run as root without -u; -u root keeps it running as the current user.
  if (process.getuid?.() === 0) args.push('-u', 'root');
  return args;
}

/** Starts memcached on a free loopback port; see the module comment. */
export async function startMemcached(options: MemcachedOptions = {}): Promise<MemcachedServer> {
  const binary = memcachedPath();
  if (binary === undefined) throw new Error('memcached is not installed; run scripts/install-system-packages.sh');
  const port = await freePort();
  const args = serverArgs(port, options); // validates the options before anything starts
  const server = await startGuardedServer({
    tag: 'memcached',
    displayName: 'memcached',
    port,
    launch: () => ({ argv: [binary, ...args] }),
    ready: async () => (await probeLine(port, 'version')).startsWith('VERSION '),
    readyMeans: 'answer version',
  });
  return { host: '127.0.0.1', port, stop: server.stop };
}
