// Runs a real server (ZooKeeper, redis-server, memcached) for tests as a child process that
// cannot outlive the test, plus the small helpers the harnesses built on it share
// (src/testing/zookeeper.ts, src/testing/redis-server.ts, src/testing/memcached-server.ts).
//
// Contract:
// * `startGuardedServer` makes a fresh temp dir `catena-<tag>-XXXXXX`, runs the server's argv
//   there with stdout and stderr appended to `<tag>.out` in it, and resolves once `ready()` (polled)
//   says so. If the server exits first or the start-up time-out passes, it stops the server,
//   removes the dir and rejects with an error naming the server and the port and ending with the
//   log's last 20 lines.
// * `stop()` sends SIGTERM to the server's process group (SIGKILL after a grace period), waits
//   for it to exit, so the port is closed when it resolves, then removes the dir; it is
//   idempotent.
// * No process outlives the test: the server runs in its own process group under a small shell
//   guard (`<tag>-guard`) that kills it when the test process dies (even by SIGKILL) and then
//   removes the dir, since nobody else will; an exit hook (and SIGINT/SIGTERM hooks, which then
//   re-raise the signal) kills every group still running.
// * `freePort` returns a loopback port that was free a moment ago (nothing reserves it);
//   `askOverTcp` and `probeLine` never reject: '' means no answer (yet), and callers poll.
// * `findExecutable` looks on PATH, then in the fallback dirs (/usr/bin, /usr/sbin and
//   /usr/local/bin unless told otherwise).

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const defaultStartTimeoutMs = 20_000;
const defaultReadyPollMs = 50;
const stopGraceMs = 5_000;
const probeTimeoutMs = 1_000;
const logTailLines = 20;
/** The guard shell checks this often whether the test process is still alive. */
const guardPollSeconds = 1;
const defaultFallbackDirs: readonly string[] = ['/usr/bin', '/usr/sbin', '/usr/local/bin'];

export interface GuardedServerSpec {
  /** Names the temp dir (`catena-<tag>-XXXXXX`), the log in it (`<tag>.out`) and the guard shell. */
  readonly tag: string;
  /** How start-up errors name the server, e.g. 'redis-server'. */
  readonly displayName: string;
  /** The port the server will listen on; only used in error messages. */
  readonly port: number;
  /** The server's argv (the executable first) and environment (default: inherited), given its dir. */
  readonly launch: (dir: string) => { readonly argv: readonly string[]; readonly env?: NodeJS.ProcessEnv };
  /** True once the server serves; polled, so it must not throw while the server is starting. */
  readonly ready: () => Promise<boolean>;
  /** What ready means, for the time-out error: '<displayName> did not <readyMeans> on port N ...'. */
  readonly readyMeans: string;
  /** How long `ready()` may take to say yes; 20 s by default. */
  readonly startTimeoutMs?: number;
  /** The pause between two `ready()` calls; 50 ms by default. */
  readonly readyPollMs?: number;
}

export interface GuardedServer {
  /** The server's temp dir (its cwd, its log); removed by `stop()`. */
  readonly dir: string;
  stop(): Promise<void>;
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false; // absent or not executable: "not available" is the answer, not an error
  }
}

/** The first executable `name` on PATH, then in `fallbackDirs`; undefined when there is none. */
export function findExecutable(
  name: string,
  fallbackDirs: readonly string[] = defaultFallbackDirs,
): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(':').filter((dir) => dir !== ''), ...fallbackDirs];
  return dirs.map((dir) => join(dir, name)).find(isExecutable);
}

export async function freePort(): Promise<number> {
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

/**
 * Writes `request` on a fresh loopback connection and returns what came back, read until the
 * server closes, `complete` says the answer is whole, or a second passes ('' on any failure).
 */
export function askOverTcp(
  port: number,
  request: string,
  complete: (answer: string) => boolean = () => false,
): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    const timer = setTimeout(() => socket.destroy(), probeTimeoutMs);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('utf8');
      if (complete(answer)) socket.destroy();
    });
    socket.on('error', () => undefined); // not up yet: the caller polls again
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

/** Sends one CRLF-terminated text command and returns the first reply line ('' on any failure). */
export async function probeLine(port: number, command: string): Promise<string> {
  const answer = await askOverTcp(port, `${command}\r\n`, (sofar) => sofar.includes('\r\n'));
  return answer.split('\r\n')[0] ?? '';
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

function logTail(log: string): string {
  try {
    return readFileSync(log, 'utf8').split('\n').slice(-logTailLines).join('\n');
  } catch {
    return '(no output captured)';
  }
}

function spawnGuarded(tag: string, dir: string, log: string, argv: readonly string[], env?: NodeJS.ProcessEnv) {
  const out = openSync(log, 'a');
  // The guard: run the server in the background, and kill it when the test process (passed in
  // as $1) is gone or when the guard itself is told to stop.
  const guard = [
    'parent=$1 dir=$2; shift 2',
    '"$@" & srv=$!',
    'trap \'kill -TERM "$srv" 2>/dev/null; wait "$srv"; exit 0\' TERM INT',
    `while kill -0 "$parent" 2>/dev/null && kill -0 "$srv" 2>/dev/null; do sleep ${guardPollSeconds} & wait $!; done`,
    'kill -KILL "$srv" 2>/dev/null; wait "$srv"',
    'kill -0 "$parent" 2>/dev/null || rm -rf "$dir"', // the test process died: nobody else will clean up
  ].join('\n');
  const child = spawn('bash', ['-c', guard, `${tag}-guard`, String(process.pid), dir, ...argv], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', out, out],
    env: env ?? process.env,
  });
  closeSync(out);
  child.unref();
  running.add(child);
  child.on('exit', () => running.delete(child));
  return child;
}

async function waitUntilReady(child: ChildProcess, spec: GuardedServerSpec, log: string): Promise<void> {
  const startTimeoutMs = spec.startTimeoutMs ?? defaultStartTimeoutMs;
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${spec.displayName} exited during start-up (port ${spec.port}):\n${logTail(log)}`);
    }
    if (await spec.ready()) return;
    await sleep(spec.readyPollMs ?? defaultReadyPollMs);
  }
  throw new Error(
    `${spec.displayName} did not ${spec.readyMeans} on port ${spec.port} within ${startTimeoutMs} ms:\n${logTail(log)}`,
  );
}

async function stopGuarded(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), stopGraceMs);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Starts a server under the guard and waits until it is ready; see the module comment. */
export async function startGuardedServer(spec: GuardedServerSpec): Promise<GuardedServer> {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), `catena-${spec.tag}-`));
  const log = join(dir, `${spec.tag}.out`);
  let child: ChildProcess;
  try {
    const { argv, env } = spec.launch(dir);
    child = spawnGuarded(spec.tag, dir, log, argv, env);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  try {
    await waitUntilReady(child, spec, log);
  } catch (error) {
    await stopGuarded(child, dir);
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return { dir, stop: () => (stopping ??= stopGuarded(child, dir)) };
}
