// Starts a real, standalone ZooKeeper for tests, from Debian's `zookeeper` package
// (scripts/install-system-packages.sh installs it): `zkServer.sh start-foreground <zoo.cfg>`,
// which execs the JVM in the foreground.
//
// Contract:
// * Everything lives in a fresh temp dir (config, data, logs, JVM scratch files) that `stop()`
//   removes; the listen port is a free loopback port; the admin server is off.
// * tickTime is small (100 ms by default) so session timeouts of ~1 s are allowed; the granted
//   bounds are `minSessionTimeoutMs`..`maxSessionTimeoutMs`.
// * `startZooKeeper` resolves once the server answers the `srvr` four-letter command as serving.
// * No process outlives the test: the JVM runs in its own process group under a small shell
//   guard that kills it when the test process dies (even by SIGKILL), and an exit hook kills
//   every group still running.

import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Where Debian's package puts the server script; CATENA_ZKSERVER overrides it. */
export const zkServerScriptDefault = '/usr/share/zookeeper/bin/zkServer.sh';
const startTimeoutMs = 30_000;
const stopGraceMs = 5_000;
const readyPollMs = 100;
const fourLetterTimeoutMs = 1_000;
const jvmHeapMb = 256;
/** The guard shell checks this often whether the test process is still alive. */
const guardPollSeconds = 1;

export interface ZooKeeperOptions {
  readonly tickTimeMs?: number;
  readonly minSessionTimeoutMs?: number;
  readonly maxSessionTimeoutMs?: number;
}

export interface ZooKeeperServer {
  readonly host: string;
  readonly port: number;
  /** zk://host:port */
  readonly url: string;
  readonly dir: string;
  stop(): Promise<void>;
}

function serverScript(): string {
  return process.env['CATENA_ZKSERVER'] ?? zkServerScriptDefault;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false; // absent or not executable: "not available" is the answer, not an error
  }
}

/** True when the ZooKeeper server script and a Java runtime are installed. */
export function zookeeperAvailable(): boolean {
  const javaOnPath = (process.env['PATH'] ?? '')
    .split(':')
    .some((dir) => dir !== '' && isExecutable(join(dir, 'java')));
  return existsSync(serverScript()) && (javaOnPath || isExecutable('/usr/bin/java'));
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

function writeConfig(dir: string, port: number, options: ZooKeeperOptions): string {
  const tickTimeMs = options.tickTimeMs ?? 100;
  const lines = [
    `tickTime=${tickTimeMs}`,
    `dataDir=${join(dir, 'data')}`,
    `clientPort=${port}`,
    'clientPortAddress=127.0.0.1',
    `minSessionTimeout=${options.minSessionTimeoutMs ?? 4 * tickTimeMs}`,
    `maxSessionTimeout=${options.maxSessionTimeoutMs ?? 60_000}`,
    'maxClientCnxns=0',
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr,ruok',
    'standaloneEnabled=true',
  ];
  const path = join(dir, 'zoo.cfg');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Sends a four-letter command and returns the answer ('' on any failure). */
function fourLetter(port: number, command: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    const timer = setTimeout(() => socket.destroy(), fourLetterTimeoutMs);
    socket.on('connect', () => socket.write(command));
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
    socket.on('error', () => undefined); // not up yet: the caller polls again
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

function logTail(dir: string): string {
  try {
    return readFileSync(join(dir, 'zookeeper.out'), 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no output captured)';
  }
}

function spawnServer(dir: string, config: string): ChildProcess {
  const out = openSync(join(dir, 'zookeeper.out'), 'a');
  // The guard: run zkServer.sh (which execs the JVM) in the background, and kill it when the
  // test process (passed in as $3) is gone or when the guard itself is told to stop.
  const guard = [
    '"$1" start-foreground "$2" & zk=$!',
    'trap \'kill -TERM "$zk" 2>/dev/null; wait "$zk"; exit 0\' TERM INT',
    `while kill -0 "$3" 2>/dev/null && kill -0 "$zk" 2>/dev/null; do sleep ${guardPollSeconds} & wait $!; done`,
    'kill -KILL "$zk" 2>/dev/null; wait "$zk"',
    'kill -0 "$3" 2>/dev/null || rm -rf "$4"', // the test process died: nobody else will clean up
  ].join('\n');
  const jvmFlags = [
    `-Xmx${jvmHeapMb}m`,
    '-XX:-UsePerfData',
    `-XX:HeapDumpPath=${dir}`,
    `-Djava.io.tmpdir=${dir}`,
    `-Dzookeeper.log.dir=${dir}`,
  ].join(' ');
  const child = spawn('bash', ['-c', guard, 'zookeeper-guard', serverScript(), config, String(process.pid), dir], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      ZOO_LOG_DIR: dir,
      ZOOCFGDIR: dir,
      ZOOPIDFILE: join(dir, 'zookeeper.pid'),
      JMXDISABLE: 'true',
      SERVER_JVMFLAGS: jvmFlags,
    },
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
      throw new Error(`ZooKeeper exited during start-up (port ${port}):\n${logTail(dir)}`);
    }
    if ((await fourLetter(port, 'srvr')).includes('Mode:')) return;
    await sleep(readyPollMs);
  }
  throw new Error(`ZooKeeper did not serve on port ${port} within ${startTimeoutMs} ms:\n${logTail(dir)}`);
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

/** Starts a standalone ZooKeeper on a free loopback port; see the module comment. */
export async function startZooKeeper(options: ZooKeeperOptions = {}): Promise<ZooKeeperServer> {
  if (!zookeeperAvailable())
    throw new Error(`ZooKeeper is not installed (${serverScript()}); run scripts/install-system-packages.sh`);
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'catena-zookeeper-'));
  const port = await freePort();
  const child = spawnServer(dir, writeConfig(dir, port, options));
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
    url: `zk://127.0.0.1:${port}`,
    dir,
    stop: () => (stopping ??= stopServer(child, dir)),
  };
}
