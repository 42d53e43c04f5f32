// Starts a real Redis for tests and benchmarks, from Debian's `redis-server` package
// (scripts/install-system-packages.sh installs it, and `redis-tools` for redis-cli and
// redis-benchmark): `redis-server --port N --bind 127.0.0.1 --dir D ... --daemonize no`, with
// the whole configuration on the command line and no config file.
//
// Contract:
// * The server listens on a free loopback port with protected mode off; its working dir (`dir`)
//   is a fresh temp dir, which also holds its log (`redis.out`), and `stop()` removes it.
// * Persistence: by default none (`--save '' --appendonly no`). With `appendfsync: 'always'`
//   the append-only file is on and fsynced on every write (`--appendonly yes --appendfsync
//   always`), under `dir`; RDB snapshots stay off in both modes.
// * `startRedisServer` resolves once `PING` over TCP answers `+PONG` (not `-LOADING`).
// * `stop()` sends SIGTERM (Redis then flushes and exits; SIGKILL after a grace period), waits
//   for the process to exit, so the port is closed when it resolves, and is idempotent.
// * No process outlives the test: redis-server runs in its own process group under a small
//   shell guard that kills it when the test process dies (even by SIGKILL), and an exit hook
//   kills every group still running.
// * Binaries are looked up on PATH, then in /usr/bin, /usr/sbin and /usr/local/bin;
//   CATENA_REDIS_SERVER overrides the server's path.

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
const fallbackDirs = ['/usr/bin', '/usr/sbin', '/usr/local/bin'];

export type RedisTool = 'redis-server' | 'redis-cli' | 'redis-benchmark';

export interface RedisServerOptions {
  /** undefined: no persistence at all; 'always': AOF on, fsynced on every write. */
  readonly appendfsync?: 'always' | undefined;
}

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** Redis's working dir (AOF files, the log); removed by `stop()`. */
  readonly dir: string;
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

/** The path of a Redis binary, or undefined when it is not installed. */
export function redisToolPath(name: RedisTool): string | undefined {
  const override = name === 'redis-server' ? process.env['CATENA_REDIS_SERVER'] : undefined;
  if (override !== undefined && override !== '') return isExecutable(override) ? override : undefined;
  return findExecutable(name);
}

/** True when redis-server is installed. */
export function redisServerAvailable(): boolean {
  return redisToolPath('redis-server') !== undefined;
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

/** Sends one inline command and returns the first reply line ('' on any failure). */
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
    return readFileSync(join(dir, 'redis.out'), 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no output captured)';
  }
}

function serverArgs(port: number, dir: string, options: RedisServerOptions): string[] {
  const persistence =
    options.appendfsync === 'always' ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    ...persistence,
    '--protected-mode',
    'no',
    '--daemonize',
    'no',
    '--logfile',
    '', // stdout, which goes to redis.out
  ];
}

function spawnServer(binary: string, dir: string, args: readonly string[]): ChildProcess {
  const out = openSync(join(dir, 'redis.out'), 'a');
  // The guard: run redis-server in the background, and kill it when the test process (passed
  // in as $1) is gone or when the guard itself is told to stop.
  const guard = [
    'parent=$1 dir=$2; shift 2',
    '"$@" & srv=$!',
    'trap \'kill -TERM "$srv" 2>/dev/null; wait "$srv"; exit 0\' TERM INT',
    `while kill -0 "$parent" 2>/dev/null && kill -0 "$srv" 2>/dev/null; do sleep ${guardPollSeconds} & wait $!; done`,
    'kill -KILL "$srv" 2>/dev/null; wait "$srv"',
    'kill -0 "$parent" 2>/dev/null || rm -rf "$dir"', // the test process died: nobody else will clean up
  ].join('\n');
  const child = spawn('bash', ['-c', guard, 'redis-guard', String(process.pid), dir, binary, ...args], {
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
      throw new Error(`redis-server exited during start-up (port ${port}):\n${logTail(dir)}`);
    }
    if ((await probe(port, 'PING')) === '+PONG') return;
    await sleep(readyPollMs);
  }
  throw new Error(`redis-server did not answer PING on port ${port} within ${startTimeoutMs} ms:\n${logTail(dir)}`);
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

/** Starts redis-server on a free loopback port; see the module comment. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = redisToolPath('redis-server');
  if (binary === undefined) throw new Error('redis-server is not installed; run scripts/install-system-packages.sh');
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'catena-redis-'));
  const port = await freePort();
  const child = spawnServer(binary, dir, serverArgs(port, dir, options));
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
    dir,
    stop: () => (stopping ??= stopServer(child, dir)),
  };
}
