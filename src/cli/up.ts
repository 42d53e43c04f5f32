// `catena up`: a whole cluster on this machine in one command (docs/design.md §1, the supervisor).
// It starts the embedded coordinator in this process (or uses the ZooKeeper given), starts N
// `catena server` child processes with their data under the data directory, restarts a node that
// dies (with a growing delay), prints where to connect, and on Ctrl-C (or SIGTERM) stops every
// node cleanly, then the coordinator.
//
//   <data-dir>/coordinator.json   the embedded coordinator's persistent znodes (chain configuration)
//   <data-dir>/node<i>/           node i's LMDB environment
//   <data-dir>/node<i>.log        node i's log: JSON lines only (node-log.ts)
//
// Its own messages (a node exited, is slow to start; the embedded coordinator's) go to stderr as
// text for the person at the terminal, or as JSON with --log-format json (docs/operations.md, Logs).
//
// Ports are fixed from --port so a restarted node (and a restarted `catena up`) is found where
// it was: node i listens on port + 10·i (native), port + 10·i + 1 (Redis RESP), port + 10·i + 2
// (memcached), port + 10·i + 3 (admin HTTP) and port + 10·i + 4 (chain traffic); the embedded
// coordinator on port + 9.
//
// Sharding (docs/design.md §6): `--chains C --replicas R` writes the layout (placement.ts) to the
// coordinator before the nodes start; the manager then starts C chains and places R nodes in
// each (nodes beyond C·R are standbys). Without them an existing layout is kept, and a new
// cluster has one chain of every node.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { EmbeddedCoordinatorServer } from '../coordination/embedded-coordinator.js';
import { assert } from '../core/assert.js';
import { CatenaError } from '../core/errors.js';
import { createLogger, isLogFormat, type Logger } from '../core/log.js';
import {
  sessionTimeoutMsDefault,
  layoutChainsMax,
  layoutReplicasMax,
  supervisorHealthyAfterMs,
  supervisorLogLineCharsMax,
  supervisorReadyTimeoutMs,
  supervisorRestartDelayMsInitial,
  supervisorRestartDelayMsMax,
  supervisorStopGraceMs,
} from '../core/limits.js';
import { flagInt, flagString, parseArgs, renderFlags, type FlagSpec } from './args.js';
import { clusterPaths } from '../coordination/cluster-paths.js';
import { connectCoordinator } from '../coordination/connect.js';
import { anyVersion } from '../coordination/coordinator.js';
import { decodeLayout, encodeLayout, type Layout } from '../coordination/placement.js';
import { generateClusterSecret, readClusterSecret } from '../server/peer-auth.js';
import { generateLocalTls } from '../server/tls.js';
import { ensureUpAuthFiles } from './auth-files.js';
import { LineSplitter, nodeLogLine, type ChildStream } from './node-log.js';

export const upFlags: FlagSpec = {
  nodes: { kind: 'string', description: 'how many nodes', default: '3' },
  chains: { kind: 'string', description: 'chains to shard the slots over (default 1)' },
  replicas: { kind: 'string', description: 'nodes per chain (default: nodes / chains)' },
  'auto-chains': { kind: 'boolean', description: 'add a chain whenever --replicas spare nodes are there' },
  port: { kind: 'string', description: 'first node native port (node i: port + 10·i)', default: '7000' },
  'data-dir': { kind: 'string', description: 'where nodes keep their data', default: './catena-data' },
  cluster: { kind: 'string', description: 'cluster name', default: 'local' },
  zookeeper: { kind: 'string', description: 'use this ZooKeeper (host:port[,host:port]) instead of the embedded one' },
  durability: { kind: 'string', description: 'fsync or memory', default: 'fsync' },
  'dump-on-exit': {
    kind: 'boolean',
    description: 'on Ctrl-C every node writes its table to <data-dir>/dump/<node id>.jsonl',
  },
  'session-timeout-ms': {
    kind: 'string',
    description: 'coordinator session timeout: removes a node no neighbour reports (a whole chain down)',
    default: String(sessionTimeoutMsDefault),
  },
  auth: {
    kind: 'boolean',
    description: 'clients must authenticate: <data-dir>/client.password (default user), <data-dir>/admin.token',
  },
  tls: {
    kind: 'boolean',
    description: 'TLS on every port (a throw-away CA in <data-dir>/tls/ca.pem); chain traffic is mutual TLS',
  },
  'log-format': {
    kind: 'string',
    description:
      "text or json: this command's own messages on stderr (node exits, restarts); node log files are always JSON lines",
    default: 'text',
  },
  help: { kind: 'boolean', description: 'show this help' },
};

export const upHelp = `Usage: catena up [options]

Starts a local Catena cluster: the embedded coordinator (or --zookeeper) and N nodes forming one
chain (or --chains C chains of --replicas R nodes, the 16384 hash slots spread over them),
restarts nodes that die, and stops everything cleanly on Ctrl-C.

  catena up --nodes 9 --chains 3                 three chains of three nodes
  catena up --nodes 6 --chains 3 --replicas 2    three chains of two: tolerates one fault each

Node i logs to <data-dir>/node<i>.log, one JSON object a line. This command's own messages (a
node exited and is restarting) go to stderr as text, or as JSON with --log-format json.

Options:
${renderFlags(upFlags)}
`;

interface Managed {
  readonly index: number;
  readonly port: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly logFile: WriteStream;
  child: ChildProcess | undefined;
  startedAtMs: number;
  restartDelayMs: number;
  nodeId: string | undefined;
  /** Resolves once the last child started has exited and its output is all in the log file. */
  closed: Promise<void>;
}

export async function runUp(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, upFlags);
  if (args.flags.has('help')) {
    process.stdout.write(upHelp);
    return 0;
  }
  if (args.positional.length > 0)
    throw new CatenaError('ERR_INVALID_ARGUMENT', `unexpected argument ${args.positional[0]}`);
  const count = flagInt(args, upFlags, 'nodes', { min: 1, max: 32 })!;
  const basePort = flagInt(args, upFlags, 'port', { min: 1, max: 65535 - 400 })!;
  const dataDir = resolve(flagString(args, upFlags, 'data-dir')!);
  const cluster = flagString(args, upFlags, 'cluster')!;
  const durability = flagString(args, upFlags, 'durability')!;
  const sessionTimeoutMs = flagInt(args, upFlags, 'session-timeout-ms', { min: 500, max: 120_000 })!;
  const zookeeper = flagString(args, upFlags, 'zookeeper');
  const logFormat = flagString(args, upFlags, 'log-format');
  if (!isLogFormat(logFormat)) throw new CatenaError('ERR_INVALID_ARGUMENT', '--log-format must be text or json');
  const layout = layoutFromFlags(args, count);
  const dumpOnExit = args.flags.has('dump-on-exit');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 }); // nodes' data, the secret: this user's alone
  const secretFile = ensureClusterSecret(dataDir);
  const secret = readClusterSecret(secretFile);
  const auth = args.flags.has('auth') ? ensureUpAuthFiles(dataDir) : undefined;
  const tls = args.flags.has('tls') ? ensureLocalTls(dataDir) : undefined;

  const log = createLogger({ node: 'supervisor', level: 'info', format: logFormat });
  let embedded: EmbeddedCoordinatorServer | undefined;
  let coordinatorUrl: string;
  if (zookeeper === undefined) {
    embedded = await EmbeddedCoordinatorServer.start({
      host: '127.0.0.1',
      port: basePort + 9,
      dataFile: join(dataDir, 'coordinator.json'),
      log,
      secret,
    });
    coordinatorUrl = embedded.url;
  } else {
    coordinatorUrl = zookeeper.startsWith('zk://') ? zookeeper : `zk://${zookeeper}`;
  }

  if (layout !== undefined) await writeLayout(coordinatorUrl, cluster, layout, { secret, log });

  let stopping = false;
  const nodes: Managed[] = [];
  for (let i = 0; i < count; i++) {
    const nodeDir = join(dataDir, `node${i}`);
    nodes.push({
      index: i,
      port: basePort + 10 * i,
      peerPort: basePort + 10 * i + 4,
      dataDir: nodeDir,
      logFile: createWriteStream(join(dataDir, `node${i}.log`), { flags: 'a' }),
      child: undefined,
      startedAtMs: 0,
      restartDelayMs: supervisorRestartDelayMsInitial,
      nodeId: undefined,
      closed: Promise.resolve(),
    });
  }

  const launch = (node: Managed): Promise<void> => {
    const serverArgs = [
      ...process.execArgv,
      process.argv[1]!,
      'server',
      '--cluster',
      cluster,
      '--coordinator',
      coordinatorUrl,
      '--data-dir',
      node.dataDir,
      '--port',
      String(node.port),
      '--peer-port',
      String(node.peerPort),
      '--admin-port',
      String(node.port + 3),
      '--resp-port',
      String(node.port + 1),
      '--memcached-port',
      String(node.port + 2),
      '--durability',
      durability,
      '--session-timeout-ms',
      String(sessionTimeoutMs),
      '--cluster-secret-file',
      secretFile,
      '--log-format',
      'json',
      ...(dumpOnExit ? ['--dump-on-exit', join(dataDir, 'dump')] : []),
      ...(auth === undefined
        ? []
        : ['--requirepass-file', auth.passwordFile, '--admin-token-file', auth.adminTokenFile]),
      ...(tls === undefined ? [] : ['--tls-cert', tls.cert, '--tls-key', tls.key, '--tls-ca', tls.ca]),
    ];
    const child = spawn(process.execPath, serverArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    node.child = child;
    node.closed = new Promise((closed) => child.once('close', () => closed()));
    node.startedAtMs = Date.now();
    return new Promise((ready) => {
      logLines(child, node, 'stderr', () => true);
      // The listening line says the node is ready; it stays out of the file, which has the
      // node's own JSON record of it.
      logLines(child, node, 'stdout', (line) => {
        const match = /^catena node (\S+) listening/.exec(line);
        if (match === null) return true;
        node.nodeId ??= match[1];
        ready();
        return false;
      });
      child.on('exit', (code, signal) => {
        ready();
        if (node.child === child) node.child = undefined;
        if (stopping) return;
        const ranMs = Date.now() - node.startedAtMs;
        if (ranMs > supervisorHealthyAfterMs) node.restartDelayMs = supervisorRestartDelayMsInitial;
        log.log('warn', `node${node.index} exited: restarting`, {
          code,
          signal,
          inMs: node.restartDelayMs,
          log: join(dataDir, `node${node.index}.log`),
        });
        setTimeout(() => {
          if (!stopping) void launch(node);
        }, node.restartDelayMs);
        node.restartDelayMs = Math.min(supervisorRestartDelayMsMax, node.restartDelayMs * 2);
      });
    });
  };

  const stopAll = async (): Promise<void> => {
    stopping = true;
    // 'close', not 'exit': the child's last lines are in its log file before the file ends.
    const exits = nodes.map(async (node) => {
      const child = node.child;
      if (child === undefined || child.exitCode !== null) return node.closed;
      const kill = setTimeout(() => child.kill('SIGKILL'), supervisorStopGraceMs);
      child.kill('SIGTERM');
      await node.closed;
      clearTimeout(kill);
    });
    await Promise.all(exits);
    for (const node of nodes) node.logFile.end();
    await embedded?.stop();
  };

  const stopped = new Promise<void>((done) => {
    const onSignal = (signal: string) => {
      if (stopping) return;
      process.stdout.write(`\n${signal}: stopping ${count} nodes...\n`);
      void stopAll().then(done);
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
  });

  const readyTimer = setTimeout(
    () => log.log('warn', 'some nodes are slow to start: see their logs'),
    supervisorReadyTimeoutMs,
  );
  await Promise.all(nodes.map((node) => launch(node)));
  clearTimeout(readyTimer);
  process.stdout.write(
    summary({ cluster, coordinatorUrl, dataDir, nodes, layout, auth: auth !== undefined, tls: tls !== undefined }),
  );
  await stopped;
  process.stdout.write('stopped\n');
  return 0;
}

/**
 * Writes each line of the child's stream to the node's log file as JSON (node-log.ts), after
 * `keep` has seen it (false: leave it out of the file).
 */
function logLines(child: ChildProcess, node: Managed, stream: ChildStream, keep: (line: string) => boolean): void {
  const splitter = new LineSplitter(supervisorLogLineCharsMax);
  const write = (lines: readonly string[]) => {
    for (const line of lines) {
      if (!keep(line)) continue;
      const record = nodeLogLine(line, { node: node.nodeId ?? `node${node.index}`, stream, ts: new Date() });
      if (record !== undefined) node.logFile.write(`${record}\n`);
    }
  };
  const source = stream === 'stdout' ? child.stdout : child.stderr;
  assert(source !== null, 'the child was spawned with piped stdout and stderr');
  source.setEncoding('utf8');
  source.on('data', (chunk: string) => write(splitter.push(chunk)));
  source.on('end', () => write(splitter.end()));
}

/** The layout the flags ask for, or undefined when neither --chains nor --replicas is given. */
function layoutFromFlags(args: ReturnType<typeof parseArgs>, nodes: number): Layout | undefined {
  const chains = flagInt(args, upFlags, 'chains', { min: 1, max: layoutChainsMax });
  const replicasFlag = flagInt(args, upFlags, 'replicas', { min: 1, max: layoutReplicasMax });
  const auto = args.flags.has('auto-chains');
  if (chains === undefined && replicasFlag === undefined && !auto) return undefined;
  const chainCount = chains ?? 1;
  const replicas = replicasFlag ?? Math.max(1, Math.floor(nodes / chainCount));
  if (chainCount * replicas > nodes) {
    throw new CatenaError(
      'ERR_INVALID_ARGUMENT',
      `${chainCount} chains of ${replicas} nodes need ${chainCount * replicas} nodes: --nodes is ${nodes}`,
    );
  }
  return auto ? { chains: chainCount, replicas, auto } : { chains: chainCount, replicas };
}

/**
 * The cluster secret every node proves to its peers (server/peer-auth.ts) and to the coordinator
 * (the embedded one checks it; on ZooKeeper the cluster's znodes carry a digest ACL derived from
 * it): `<data-dir>/cluster.secret`, written once with 32 random bytes (mode 600) and kept, so
 * restarts, added nodes and `catena chain` share it.
 */
function ensureClusterSecret(dataDir: string): string {
  const path = join(dataDir, 'cluster.secret');
  try {
    writeFileSync(path, generateClusterSecret(), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return path;
}

/**
 * Stores the layout for the manager. A cluster that already has another layout keeps it:
 * changing the chains of a cluster means moving slots between them (not supported yet).
 */
async function writeLayout(
  coordinatorUrl: string,
  cluster: string,
  layout: Layout,
  options: { secret: Buffer; log: Logger },
): Promise<void> {
  const coordinator = await connectCoordinator(coordinatorUrl, {
    sessionTimeoutMs: sessionTimeoutMsDefault,
    ...options,
  });
  try {
    const paths = clusterPaths(cluster);
    await coordinator.ensurePath(paths.root);
    const existing = await coordinator.get(paths.layout);
    if (existing === undefined) {
      await coordinator.create(paths.layout, encodeLayout(layout), 'persistent');
      return;
    }
    const stored = decodeLayout(existing.data);
    const same = (a: Layout, b: Layout) => a.chains === b.chains && a.replicas === b.replicas && a.auto === b.auto;
    if (stored !== undefined && !same(stored, layout)) {
      throw new CatenaError(
        'ERR_INVALID_ARGUMENT',
        `cluster ${cluster} already has ${stored.chains} chains of ${stored.replicas}: start it without --chains/--replicas, or use another --data-dir (moving slots between chains is not supported yet)`,
      );
    }
    if (stored === undefined) await coordinator.set(paths.layout, encodeLayout(layout), anyVersion);
  } finally {
    await coordinator.close();
  }
}

function summary(options: {
  cluster: string;
  coordinatorUrl: string;
  dataDir: string;
  nodes: Managed[];
  layout: Layout | undefined;
  auth: boolean;
  tls?: boolean;
}): string {
  const lines = [
    `catena cluster "${options.cluster}" is up: ${options.nodes.length} nodes, coordinator ${options.coordinatorUrl}`,
    ...(options.layout === undefined
      ? []
      : [
          `layout: ${options.layout.chains} chains of ${options.layout.replicas} nodes, the 16384 hash slots spread over them (catena status shows them)`,
        ]),
    '',
    '  node    id        native           redis (RESP)     memcached        admin (http)     chain traffic    data',
  ];
  for (const node of options.nodes) {
    lines.push(
      `  node${String(node.index).padEnd(3)} ${(node.nodeId ?? '?').padEnd(9)} 127.0.0.1:${String(node.port).padEnd(6)} 127.0.0.1:${String(node.port + 1).padEnd(6)} 127.0.0.1:${String(node.port + 2).padEnd(6)} 127.0.0.1:${String(node.port + 3).padEnd(6)} 127.0.0.1:${String(node.peerPort).padEnd(6)} ${node.dataDir}`,
    );
  }
  const first = options.nodes[0]!;
  lines.push(
    '',
    'Connect:',
    `  npx catena shell --port ${first.port}          (any node works; the shell follows the chain)`,
    `  npx catena status --port ${first.port}`,
    `  dashboard: http${options.tls === true ? 's' : ''}://127.0.0.1:${first.port + 3}/dashboard${options.auth ? `   (asks for the token in ${join(options.dataDir, 'admin.token')})` : ''}`,
    `  redis-cli -p ${first.port + 1}                  (Redis clients and tools, any node)`,
    `  memcached clients: 127.0.0.1:${first.port + 2}`,
    `  Prometheus: scrape 127.0.0.1:${first.port + 3}/metrics on each node (admin port); readiness: /ready`,
    ...(options.auth ? authLines(options.dataDir, first.port) : []),
    ...(options.tls === true ? tlsLines(options.dataDir, first.port) : []),
    `Logs: ${options.dataDir}/node<i>.log    Stop: Ctrl-C`,
    '',
  );
  return lines.join('\n');
}

/** How to connect when every port serves TLS (catena up --tls). */
function tlsLines(dataDir: string, port: number): string[] {
  const ca = join(dataDir, 'tls', 'ca.pem');
  return [
    `Every port serves TLS (--tls), signed by the CA in ${ca}:`,
    `  npx catena shell --port ${port} --tls-ca ${ca}`,
    `  redis-cli -p ${port + 1} --tls --cacert ${ca}`,
    `  curl --cacert ${ca} https://127.0.0.1:${port + 3}/status`,
  ];
}

/**
 * A throw-away CA and one certificate for 127.0.0.1 / localhost, in <data-dir>/tls (made once,
 * kept across restarts): every node presents it and trusts the CA (server/tls.ts).
 */
function ensureLocalTls(dataDir: string): { cert: string; key: string; ca: string } {
  const dir = join(dataDir, 'tls');
  const files = { cert: join(dir, 'node.pem'), key: join(dir, 'node-key.pem'), ca: join(dir, 'ca.pem') };
  if (!existsSync(files.cert) || !existsSync(files.key) || !existsSync(files.ca)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const made = generateLocalTls();
    writeFileSync(files.ca, made.caCert);
    writeFileSync(files.cert, made.cert);
    writeFileSync(files.key, made.key, { mode: 0o600 });
  }
  return files;
}

/** How to connect when clients must authenticate (catena up --auth). */
function authLines(dataDir: string, port: number): string[] {
  const password = join(dataDir, 'client.password');
  return [
    `Clients must authenticate (--auth) with the password in ${password}:`,
    `  CATENA_PASSWORD_FILE=${password} npx catena shell --port ${port}`,
    `  REDISCLI_AUTH="$(cat ${password})" redis-cli -p ${port + 1}`,
    `  memcached: first "set" of a connection carries "default <password>" as its value`,
    `  admin: curl -H "Authorization: Bearer $(cat ${join(dataDir, 'admin.token')})" http://127.0.0.1:${port + 3}/dump`,
  ];
}
