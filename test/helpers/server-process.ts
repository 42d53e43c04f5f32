// Runs a real `catena server` in a child process, for integration tests that speak TCP to it,
// signal it (SIGTERM, SIGKILL, SIGSTOP) and restart it on the same data directory.
//
//   const server = await startServer({ dataDir: dir.path });
//   const client = await Client.connect({ port: server.port });
//   ...
//   await server.stop();          // SIGTERM, waits for the exit, asserts exit code 0
//
// Every process started here is remembered until it exits; call `killLeftoverServers()` in an
// `after` hook so a failing test never leaves a server running (and the test process hanging).

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainScript = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export type Durability = 'fsync' | 'memory';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerOptions {
  dataDir: string;
  durability?: Durability;
  /** Flags for node itself, before the script (e.g. ['--cpu-prof'] for a benchmark profile). */
  nodeArgs?: readonly string[];
  /** Extra flags after the standard ones (e.g. ['--value-bytes-max', '1024']). */
  extraArgs?: readonly string[];
  /** How long to wait for the listening line (default 30 s: tsx compiles on first start). */
  startTimeoutMs?: number;
  /**
   * A command the server runs under (e.g. ['unshare', '--pid', '--fork', '--kill-child']); then
   * `pid` and signals are the wrapper's, so the wrapper must pass them on or kill its child.
   */
  wrapper?: readonly string[];
  /**
   * A compiled script to run with plain node instead of src/cli/main.ts through tsx (e.g. an
   * installed package's bin/catena.js).
   */
  entry?: string;
}

export interface ServerProcess {
  readonly port: number;
  /** The RESP and memcached ports, when the server was started with --resp-port / --memcached-port. */
  readonly respPort: number | undefined;
  readonly memcachedPort: number | undefined;
  readonly pid: number;
  readonly nodeId: string;
  readonly dataDir: string;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<Exit>;
  /** True until the process exits. */
  alive(): boolean;
  /** Everything the process wrote to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** SIGTERM (or `signal`), waits for the exit and asserts a clean one (code 0, no signal). */
  stop(options?: { timeoutMs?: number; signal?: 'SIGTERM' | 'SIGINT' }): Promise<void>;
  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT, ...) without waiting. */
  kill(signal: NodeJS.Signals): void;
  /** SIGSTOP, and waits until the process really is stopped (Linux: /proc; elsewhere a pause). */
  freeze(): Promise<void>;
}

const live = new Set<ChildProcess>();

process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function serverArgs(options: ServerOptions): string[] {
  return [
    ...(options.entry === undefined ? ['--import', 'tsx', mainScript] : [options.entry]),
    'server',
    '--port',
    '0',
    '--data-dir',
    options.dataDir,
    '--durability',
    options.durability ?? 'fsync',
    '--log-level',
    'warn',
    ...(options.extraArgs ?? []),
  ];
}

function spawnServer(options: ServerOptions): {
  child: ChildProcess;
  exited: Promise<Exit>;
  out: () => string;
  err: () => string;
} {
  const [command, ...prefix] = [...(options.wrapper ?? []), process.execPath, ...(options.nodeArgs ?? [])];
  const child = spawn(command!, [...prefix, ...serverArgs(options)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<Exit>((resolve) => {
    // 'close' (not 'exit'): stdout and stderr are fully read by then.
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    child.once('error', (error) => {
      err += `\n[spawn error] ${error.message}`;
      live.delete(child);
      resolve({ code: null, signal: null });
    });
  });
  return { child, exited, out: () => out, err: () => err };
}

const listening = /^catena node (\S+) listening on (\S+):(\d+) /m;

/** Starts a server and resolves once it prints its listening line. */
export async function startServer(options: ServerOptions): Promise<ServerProcess> {
  const { child, exited, out, err } = spawnServer(options);
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const describeProcess = () =>
    `server on ${options.dataDir} (pid ${child.pid ?? '?'})\n--- stdout ---\n${out()}\n--- stderr ---\n${err()}`;

  const ready = await new Promise<{ nodeId: string; port: number; line: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`server did not print its listening line within ${timeoutMs} ms: ${describeProcess()}`));
    }, timeoutMs);
    const onData = () => {
      const match = listening.exec(out());
      if (match === null) return;
      cleanup();
      const line = out().slice(match.index).split('\n')[0]!;
      resolve({ nodeId: match[1]!, port: Number(match[3]), line });
    };
    const onExit = (exit: Exit) => {
      cleanup();
      reject(
        new Error(`server exited before listening (code ${exit.code}, signal ${exit.signal}): ${describeProcess()}`),
      );
    };
    let done = false;
    const cleanup = () => {
      done = true;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
    };
    child.stdout!.on('data', onData);
    void exited.then((exit) => {
      if (!done) onExit(exit);
    });
  });

  let exitInfo: Exit | undefined;
  void exited.then((exit) => (exitInfo = exit));

  const portAfter = (label: string): number | undefined => {
    const found = new RegExp(`${label} [^ ,]+:(\\d+)`).exec(ready.line);
    return found === null ? undefined : Number(found[1]);
  };
  return {
    port: ready.port,
    respPort: portAfter('RESP'),
    memcachedPort: portAfter('memcached'),
    pid: child.pid!,
    nodeId: ready.nodeId,
    dataDir: options.dataDir,
    exited,
    alive: () => exitInfo === undefined,
    stdout: out,
    stderr: err,
    kill: (signal) => {
      if (exitInfo === undefined) child.kill(signal);
    },
    freeze: async () => {
      child.kill('SIGSTOP');
      for (let waited = 0; waited < 5_000; waited += 5) {
        const state = processState(child.pid!);
        if (state === undefined) {
          await sleep(100);
          return;
        }
        if (state === 'T') return;
        await sleep(5);
      }
      assert.fail(`server pid ${child.pid} did not stop after SIGSTOP`);
    },
    stop: async ({ timeoutMs = 20_000, signal = 'SIGTERM' } = {}) => {
      if (exitInfo !== undefined)
        assert.fail(`server already exited (${JSON.stringify(exitInfo)}): ${describeProcess()}`);
      child.kill(signal);
      const exit = await withTimeout(exited, timeoutMs);
      if (exit === undefined) {
        child.kill('SIGKILL');
        await exited;
        assert.fail(`server did not exit within ${timeoutMs} ms of ${signal}: ${describeProcess()}`);
      }
      assert.deepEqual(
        exit,
        { code: 0, signal: null },
        `server exited uncleanly after ${signal}: ${describeProcess()}`,
      );
    },
  };
}

/** Runs a server that is expected to fail at start-up; resolves with its exit and output. */
export async function runServerExpectingFailure(
  options: ServerOptions & { timeoutMs?: number },
): Promise<Exit & { stdout: string; stderr: string }> {
  const { child, exited, out, err } = spawnServer(options);
  const exit = await withTimeout(exited, options.timeoutMs ?? 30_000);
  if (exit === undefined) {
    child.kill('SIGKILL');
    await exited;
    assert.fail(
      `expected the server to exit at start-up, but it kept running\n--- stdout ---\n${out()}\n--- stderr ---\n${err()}`,
    );
  }
  return { ...exit, stdout: out(), stderr: err() };
}

/** SIGKILLs every server process this module started that is still running, and waits for them. */
export async function killLeftoverServers(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const child of live) {
    waits.push(new Promise((resolve) => child.once('close', resolve)));
    child.kill('SIGKILL');
  }
  await Promise.all(waits);
}

/** The value of `promise`, or undefined if it takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The state letter of /proc/<pid>/stat (R, S, T, Z, ...), or undefined where there is no /proc. */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
