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
//   every group still running.
// * Binaries are looked up on PATH, then in /usr/bin, /usr/sbin and /usr/local/bin;
//   CATENA_MEMCACHED overrides the server's path. libmemcached's tools are found under either
//   naming: upstream's (memcp, memcat, memstat, ...) or Debian's (memccp, memccat, memcstat, ...).

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const startTimeoutMs = 20_000;
const stopGraceMs = 5_000;
const readyPollMs = 50;
const probeTimeoutMs = 1_000;
/** The guard shell checks this often whether the test process is still alive. */
const guardPollSeconds = 1;
const defaultMemoryMb = 64;
const mib = 1024 * 1024;
const fallbackDirs = ['/usr/bin', '/usr/sbin', '/usr/local/bin'];

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

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false; // absent or not executable: "not available" is the answer, not an error
  }
}

function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(':').filter((dir) => dir !== ''), ...fallbackDirs];
  return dirs.map((dir) => join(dir, name)).find(isExecutable);
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

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) killGroup(child, 'SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of running) killGroup(child, 'SIGKILL');
      process.kill(process.pid, signal);
    });
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address !== 'object') throw new Error('no port from a TCP listener');
  return address.port;
}

/** Sends one text-protocol command and returns the first reply line ('' on any failure). */
function probe(port: number, command: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    const timer = setTimeout(() => socket.destroy(), probeTimeoutMs);
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('utf8');
      if (answer.includes('\r\n')) socket.destroy();
    });
    socket.on('error', () => undefined); // not up yet: the caller polls again
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer.split('\r\n')[0] ?? '');
    });
  });
}

function logTail(dir: string): string {
  try {
    return readFileSync(join(dir, 'memcached.out'), 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no output captured)';
  }
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

function spawnServer(binary: string, dir: string, args: readonly string[]): ChildProcess {
  const out = openSync(join(dir, 'memcached.out'), 'a');
  // The guard: run memcached in the background, and kill it when the test process (passed in
  // as $1) is gone or when the guard itself is told to stop.
  const guard = [
    'parent=$1 dir=$2; shift 2',
    '"$@" & srv=$!',
    'trap \'kill -TERM "$srv" 2>/dev/null; wait "$srv"; exit 0\' TERM INT',
    `while kill -0 "$parent" 2>/dev/null && kill -0 "$srv" 2>/dev/null; do sleep ${guardPollSeconds} & wait $!; done`,
    'kill -KILL "$srv" 2>/dev/null; wait "$srv"',
    'kill -0 "$parent" 2>/dev/null || rm -rf "$dir"', // the test process died: nobody else will clean up
  ].join('\n');
  const child = spawn('bash', ['-c', guard, 'memcached-guard', String(process.pid), dir, binary, ...args], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  child.unref();
  running.add(child);
  child.on('exit', () => running.delete(child));
  return child;
}

async function waitUntilServing(child: ChildProcess, port: number, dir: string): Promise<void> {
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`memcached exited during start-up (port ${port}):\n${logTail(dir)}`);
    }
    if ((await probe(port, 'version')).startsWith('VERSION ')) return;
    await sleep(readyPollMs);
  }
  throw new Error(`memcached did not answer version on port ${port} within ${startTimeoutMs} ms:\n${logTail(dir)}`);
}

async function stopServer(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), stopGraceMs);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Starts memcached on a free loopback port; see the module comment. */
export async function startMemcached(options: MemcachedOptions = {}): Promise<MemcachedServer> {
  const binary = memcachedPath();
  if (binary === undefined) throw new Error('memcached is not installed; run scripts/install-system-packages.sh');
  const port = await freePort();
  const args = serverArgs(port, options); // validates the options before anything starts
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'catena-memcached-'));
  const child = spawnServer(binary, dir, args);
  try {
    await waitUntilServing(child, port, dir);
  } catch (error) {
    await stopServer(child, dir);
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    stop: () => (stopping ??= stopServer(child, dir)),
  };
}
