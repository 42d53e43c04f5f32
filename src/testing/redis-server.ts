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
//   kills every group still running (src/testing/server-process-guard.ts).
// * Binaries are looked up on PATH, then in /usr/bin, /usr/sbin and /usr/local/bin;
//   CATENA_REDIS_SERVER overrides the server's path.

import { findExecutable, freePort, isExecutable, probeLine, startGuardedServer } from './server-process-guard.js';

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

/** Starts redis-server on a free loopback port; see the module comment. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = redisToolPath('redis-server');
  if (binary === undefined) throw new Error('redis-server is not installed; run scripts/install-system-packages.sh');
  const port = await freePort();
  const server = await startGuardedServer({
    tag: 'redis',
    displayName: 'redis-server',
    port,
    launch: (dir) => ({ argv: [binary, ...serverArgs(port, dir, options)] }),
    ready: async () => (await probeLine(port, 'PING')) === '+PONG', // not -LOADING
    readyMeans: 'answer PING',
  });
  return { host: '127.0.0.1', port, dir: server.dir, stop: server.stop };
}
