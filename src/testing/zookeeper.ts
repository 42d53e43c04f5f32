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
//   every group still running (src/testing/server-process-guard.ts).

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { askOverTcp, findExecutable, freePort, startGuardedServer } from './server-process-guard.js';

/** Where Debian's package puts the server script; CATENA_ZKSERVER overrides it. */
export const zkServerScriptDefault = '/usr/share/zookeeper/bin/zkServer.sh';
const startTimeoutMs = 30_000;
const readyPollMs = 100;
const jvmHeapMb = 256;

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

/** True when the ZooKeeper server script and a Java runtime are installed. */
export function zookeeperAvailable(): boolean {
  return existsSync(serverScript()) && findExecutable('java', ['/usr/bin']) !== undefined;
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

function jvmFlags(dir: string): string {
  return [
    `-Xmx${jvmHeapMb}m`,
    '-XX:-UsePerfData',
    `-XX:HeapDumpPath=${dir}`,
    `-Djava.io.tmpdir=${dir}`,
    `-Dzookeeper.log.dir=${dir}`,
  ].join(' ');
}

/** Starts a standalone ZooKeeper on a free loopback port; see the module comment. */
export async function startZooKeeper(options: ZooKeeperOptions = {}): Promise<ZooKeeperServer> {
  if (!zookeeperAvailable())
    throw new Error(`ZooKeeper is not installed (${serverScript()}); run scripts/install-system-packages.sh`);
  const port = await freePort();
  const server = await startGuardedServer({
    tag: 'zookeeper',
    displayName: 'ZooKeeper',
    port,
    // zkServer.sh execs the JVM, so the guard's child is the JVM itself.
    launch: (dir) => ({
      argv: [serverScript(), 'start-foreground', writeConfig(dir, port, options)],
      env: {
        ...process.env,
        ZOO_LOG_DIR: dir,
        ZOOCFGDIR: dir,
        ZOOPIDFILE: join(dir, 'zookeeper.pid'),
        JMXDISABLE: 'true',
        SERVER_JVMFLAGS: jvmFlags(dir),
      },
    }),
    // The four-letter command `srvr` answers with the mode once the server serves.
    ready: async () => (await askOverTcp(port, 'srvr')).includes('Mode:'),
    readyMeans: 'serve',
    startTimeoutMs,
    readyPollMs,
  });
  return { host: '127.0.0.1', port, url: `zk://127.0.0.1:${port}`, dir: server.dir, stop: server.stop };
}
