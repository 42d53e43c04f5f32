// `catena server`: runs one node in the foreground until SIGTERM or SIGINT, then drains
// in-flight requests and closes LMDB cleanly.

import { resolve } from 'node:path';
import { CatenaError } from '../core/errors.js';
import {
  chainTickMs,
  heartbeatIntervalMsDefault,
  sessionTimeoutMsDefault,
  suspicionTimeoutMsDefault,
  valueBytesCeiling,
  valueBytesMaxDefault,
  clientBuffersBytesMaxDefault,
  clientBuffersBytesMin,
  clientFdReserve,
  clientIdleTimeoutMsDefault,
  connectionsMax,
} from '../core/limits.js';
import { createLogger, isLogFormat, type Logger, type LogLevel } from '../core/log.js';
import { CatenaNode } from '../server/node.js';
import { dashboardAssetsBeside } from '../server/dashboard.js';
import { readClusterSecret } from '../server/peer-auth.js';
import { readTlsFiles } from '../server/tls.js';
import { migrationOptionsDefault } from '../coordination/migration-runner.js';
import { flagInt, flagString, parseArgs, renderFlags, type FlagSpec } from './args.js';
import { nodeAuthFromFlags, serverAuthFlags } from './auth-files.js';

export const serverFlags: FlagSpec = {
  port: { kind: 'string', description: 'native protocol port; 0 picks a free one', default: '7000' },
  host: { kind: 'string', description: 'address to listen on', default: '127.0.0.1' },
  'data-dir': { kind: 'string', description: 'data directory (created if missing)', default: './catena-data/node' },
  durability: {
    kind: 'string',
    description:
      'fsync: answer writes once on disk; memory: once written to the OS, no fsync (survives a crash of the process, not of the machine)',
    default: 'fsync',
  },
  'value-bytes-max': {
    kind: 'string',
    description: 'largest value accepted, in bytes',
    default: String(valueBytesMaxDefault),
  },
  cluster: { kind: 'string', description: 'join this cluster (needs --coordinator); absent: a standalone node' },
  coordinator: {
    kind: 'string',
    description: 'zk://host:port[,host:port...] (ZooKeeper) or embedded://host:port (catena up)',
  },
  'dump-on-exit': { kind: 'string', description: "on stop, write this node's table to <dir>/<node id>.jsonl" },
  'admin-port': {
    kind: 'string',
    description: 'admin HTTP port (GET /health, /ready, /status, /metrics, /dump); 0 picks a free one',
  },
  'resp-port': { kind: 'string', description: 'Redis protocol (RESP) port; 0 picks a free one; absent: none' },
  'memcached-port': { kind: 'string', description: 'memcached text protocol port; 0 picks a free one; absent: none' },
  'peer-port': {
    kind: 'string',
    description: 'port for chain traffic from other nodes; 0 picks a free one',
    default: '0',
  },
  'tls-cert': {
    kind: 'string',
    description: 'PEM certificate: the native, RESP, memcached and admin ports serve TLS only (with --tls-key)',
  },
  'tls-key': { kind: 'string', description: 'PEM private key of --tls-cert' },
  'tls-ca': {
    kind: 'string',
    description: "PEM CA of the cluster's certificates: chain traffic is mutual TLS, relays check other nodes with it",
  },
  'cluster-secret-file': {
    kind: 'string',
    description:
      'file holding the cluster secret (16+ bytes, mode 600; catena up writes one): peers prove they hold it; absent: chain traffic from loopback only, unauthenticated',
  },
  'peer-host': {
    kind: 'string',
    description: 'address the peer port listens on (default: --host), e.g. a private interface',
  },
  'admin-host': { kind: 'string', description: 'address the admin port listens on (default: --host)' },
  'peer-announce': {
    kind: 'string',
    description: 'host:port other nodes reach the peer port at, when not --host:--peer-port (NAT, a proxy)',
  },
  'heartbeat-ms': {
    kind: 'string',
    description: 'heartbeats to chain neighbours every this many ms',
    default: String(heartbeatIntervalMsDefault),
  },
  'suspicion-timeout-ms': {
    kind: 'string',
    description: 'a chain neighbour silent this long is reported to the manager, which removes it',
    default: String(suspicionTimeoutMsDefault),
  },
  'move-rate': {
    kind: 'string',
    description: 'bytes per second the manager copies when it moves slots between chains',
    default: String(migrationOptionsDefault.bytesPerSecond),
  },
  'session-timeout-ms': {
    kind: 'string',
    description: 'coordinator session timeout: removes a node no chain neighbour reports dead',
    default: String(sessionTimeoutMsDefault),
  },
  ...serverAuthFlags,
  'max-clients': {
    kind: 'string',
    description: `client connections (native, RESP, memcached) at most; default ${connectionsMax}, lowered to the open-file limit (ulimit -n) less ${clientFdReserve} kept for the admin port, peers and files`,
  },
  'client-buffers-bytes-max': {
    kind: 'string',
    description:
      'bytes all client connections together may hold buffered (replies unread, reads in flight, partial requests); past it reading pauses, and clients that do not read their replies are cut',
    default: String(clientBuffersBytesMaxDefault),
  },
  'idle-timeout-ms': {
    kind: 'string',
    description:
      'close a client connection with nothing in flight that sends and receives nothing for this long; 0: never',
    default: String(clientIdleTimeoutMsDefault),
  },
  'log-level': { kind: 'string', description: 'error, warn, info or debug', default: 'info' },
  'log-format': {
    kind: 'string',
    description: 'json (one object a line on stderr, for files and log shippers) or text (for people)',
    default: 'json',
  },
  help: { kind: 'boolean', description: 'show this help' },
};

export const serverHelp = `Usage: catena server [options]

Runs one Catena node in the foreground. It prints one line when it is ready:
  catena node <id> listening on <host>:<port> (native protocol), ...
and stops cleanly (answering requests in flight, closing LMDB) on SIGTERM or SIGINT. It logs to
stderr, one JSON object a line ({"ts","level","node","msg",...}; --log-format text for a person).

Standalone (default), the node serves everything itself. With --cluster and --coordinator it is
one replica of a chain: it registers with the coordinator, the elected manager places it in the
chain (the first node starts it, later ones join as tail), writes go to the head and reads to the
tail; other nodes' addresses come from the coordinator. \`catena up\` starts a whole local cluster.

Client authentication is off unless --requirepass-file or --acl-file is given; secrets are read
from files, never from the command line (docs/security.md).

Options:
${renderFlags(serverFlags)}
`;

export async function runServer(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, serverFlags);
  if (args.flags.has('help')) {
    process.stdout.write(serverHelp);
    return 0;
  }
  if (args.positional.length > 0)
    throw new CatenaError('ERR_INVALID_ARGUMENT', `unexpected argument ${args.positional[0]}`);
  const durability = flagString(args, serverFlags, 'durability');
  if (durability !== 'fsync' && durability !== 'memory')
    throw new CatenaError('ERR_INVALID_ARGUMENT', '--durability must be fsync or memory');
  const level = flagString(args, serverFlags, 'log-level') as LogLevel;
  if (!['error', 'warn', 'info', 'debug'].includes(level))
    throw new CatenaError('ERR_INVALID_ARGUMENT', '--log-level must be error, warn, info or debug');
  const format = flagString(args, serverFlags, 'log-format');
  if (!isLogFormat(format)) throw new CatenaError('ERR_INVALID_ARGUMENT', '--log-format must be json or text');
  const dataDir = flagString(args, serverFlags, 'data-dir')!;
  const port = flagInt(args, serverFlags, 'port', { min: 0, max: 65535 })!;
  const valueBytesMax = flagInt(args, serverFlags, 'value-bytes-max', { min: 1, max: valueBytesCeiling })!;
  const host = flagString(args, serverFlags, 'host')!;
  const clusterName = flagString(args, serverFlags, 'cluster');
  const coordinator = flagString(args, serverFlags, 'coordinator');
  if ((clusterName === undefined) !== (coordinator === undefined))
    throw new CatenaError('ERR_INVALID_ARGUMENT', '--cluster and --coordinator go together');
  if (clusterName !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(clusterName))
    throw new CatenaError('ERR_INVALID_ARGUMENT', '--cluster must be 1-64 letters, digits, _ . or -');
  const adminPort = flagInt(args, serverFlags, 'admin-port', { min: 0, max: 65535 });
  const dumpOnExitDir = flagString(args, serverFlags, 'dump-on-exit');
  const respPort = flagInt(args, serverFlags, 'resp-port', { min: 0, max: 65535 });
  const memcachedPort = flagInt(args, serverFlags, 'memcached-port', { min: 0, max: 65535 });
  const peerPort = flagInt(args, serverFlags, 'peer-port', { min: 0, max: 65535 })!;
  const sessionTimeoutMs = flagInt(args, serverFlags, 'session-timeout-ms', { min: 500, max: 120_000 })!;
  const moveBytesPerSecond = flagInt(args, serverFlags, 'move-rate', { min: 1024, max: 2 ** 40 })!;
  const heartbeatMs = flagInt(args, serverFlags, 'heartbeat-ms', { min: chainTickMs, max: 10_000 })!;
  const suspicionTimeoutMs = flagInt(args, serverFlags, 'suspicion-timeout-ms', { min: 100, max: 60_000 })!;
  if (suspicionTimeoutMs < 3 * heartbeatMs)
    throw new CatenaError(
      'ERR_INVALID_ARGUMENT',
      '--suspicion-timeout-ms must be at least 3 heartbeats (--heartbeat-ms)',
    );
  const tlsCert = flagString(args, serverFlags, 'tls-cert');
  const tlsKey = flagString(args, serverFlags, 'tls-key');
  const tlsCa = flagString(args, serverFlags, 'tls-ca');
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    throw new CatenaError('ERR_INVALID_ARGUMENT', '--tls-cert and --tls-key go together');
  if (tlsCa !== undefined && tlsCert === undefined)
    throw new CatenaError('ERR_INVALID_ARGUMENT', '--tls-ca needs --tls-cert and --tls-key');
  const tls =
    tlsCert === undefined || tlsKey === undefined
      ? undefined
      : readTlsFiles({ cert: tlsCert, key: tlsKey, ...(tlsCa === undefined ? {} : { ca: tlsCa }) });
  const peerHost = flagString(args, serverFlags, 'peer-host');
  const adminHost = flagString(args, serverFlags, 'admin-host');
  if (peerHost !== undefined && clusterName === undefined)
    throw new CatenaError('ERR_INVALID_ARGUMENT', '--peer-host goes with --cluster');
  const secretFile = flagString(args, serverFlags, 'cluster-secret-file');
  if (secretFile !== undefined && clusterName === undefined)
    throw new CatenaError('ERR_INVALID_ARGUMENT', '--cluster-secret-file goes with --cluster');
  const secret = secretFile === undefined ? undefined : readClusterSecret(secretFile);
  const maxClients = flagInt(args, serverFlags, 'max-clients', { min: 1, max: connectionsMax });
  const clientBuffersBytesMax = flagInt(args, serverFlags, 'client-buffers-bytes-max', {
    min: clientBuffersBytesMin,
    max: 2 ** 40,
  })!;
  const idleTimeoutMs = flagInt(args, serverFlags, 'idle-timeout-ms', { min: 0, max: 2 ** 31 - 1 })!;
  const peerAnnounce = flagString(args, serverFlags, 'peer-announce');
  if (peerAnnounce !== undefined && !/^[^\s:]+:\d{1,5}$/.test(peerAnnounce))
    throw new CatenaError('ERR_INVALID_ARGUMENT', '--peer-announce must be host:port');
  const auth = nodeAuthFromFlags(args);
  let log = createLogger({ node: '-', level, format });
  const dashboardAssets = dashboardAssetsBeside(import.meta.url);
  const node = await CatenaNode.start({
    dataDir,
    ...(dashboardAssets === undefined ? {} : { dashboardAssets }),
    host,
    port,
    durability,
    valueBytesMax,
    log: { log: (...a) => log.log(...a) },
    onFatal: () => process.exit(70),
    ...(adminHost === undefined ? {} : { adminHost }),
    ...(tls === undefined ? {} : { tls }),
    ...(adminPort === undefined ? {} : { adminPort }),
    ...(dumpOnExitDir === undefined ? {} : { dumpOnExitDir: resolve(dumpOnExitDir) }),
    ...(respPort === undefined ? {} : { respPort }),
    ...(memcachedPort === undefined ? {} : { memcachedPort }),
    ...(maxClients === undefined ? {} : { maxClients }),
    clientBuffersBytesMax,
    idleTimeoutMs,
    ...(auth === undefined ? {} : { auth }),
    ...(clusterName === undefined || coordinator === undefined
      ? {}
      : {
          cluster: {
            name: clusterName,
            coordinator,
            peerPort,
            sessionTimeoutMs,
            moveBytesPerSecond,
            heartbeatMs,
            suspicionTimeoutMs,
            ...(peerAnnounce === undefined ? {} : { peerAnnounce }),
            ...(secret === undefined ? {} : { secret }),
            ...(peerHost === undefined ? {} : { peerHost }),
          },
        }),
  });
  log = createLogger({ node: node.nodeId, level, format });
  announceListening(node, log, {
    cluster: clusterName,
    peerHost,
    adminHost,
    dataDir,
    durability,
    tls: tls !== undefined,
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.log('info', 'stopping', { signal });
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await node.stop();
  return 0;
}

/**
 * The same news twice: a record for the log (its shippers, `catena up`'s log file), and the line
 * on stdout that people, scripts and `catena up` wait for (its shape is in serverHelp).
 */
function announceListening(
  node: CatenaNode,
  log: Logger,
  options: {
    cluster: string | undefined;
    peerHost: string | undefined;
    adminHost: string | undefined;
    dataDir: string;
    durability: string;
    tls: boolean;
  },
): void {
  const { cluster, dataDir, durability, tls } = options;
  const at = (port: number | undefined, host = node.host) => (port === undefined ? undefined : `${host}:${port}`);
  const adminAt = at(node.adminPort, options.adminHost);
  const listeners = {
    native: `${node.host}:${node.port}`,
    peer: cluster === undefined ? undefined : at(node.peerPort, options.peerHost),
    cluster,
    admin: adminAt === undefined ? undefined : `http${tls ? 's' : ''}://${adminAt}`,
    resp: at(node.respPort),
    memcached: at(node.memcachedPort),
  };
  log.log('info', 'listening', { ...listeners, dataDir, durability, tls });
  process.stdout.write(
    `catena node ${node.nodeId} listening on ${listeners.native} (native protocol), ` +
      (listeners.peer === undefined ? '' : `peer ${listeners.peer}, cluster ${cluster}, `) +
      (listeners.admin === undefined ? '' : `admin ${listeners.admin}, `) +
      (listeners.resp === undefined ? '' : `RESP ${listeners.resp}, `) +
      (listeners.memcached === undefined ? '' : `memcached ${listeners.memcached}, `) +
      `data ${dataDir}, durability ${durability}${tls ? ', TLS' : ''}\n`,
  );
}
