// Connection options shared by every command that talks to a running cluster: the one-shot
// commands, the shell, `status`, `dump`, `restore`, `bench` and `chain`. Every one of them talks
// through a ClusterClient, so it keeps working while a node of a cluster dies, and talks to a
// standalone node exactly like a plain Client. Each option may also come from a CATENA_*
// variable or the config file (settings.ts).
//
// Where the cluster is: --endpoints h:p,h:p (CATENA_ENDPOINTS, like etcdctl's) and/or
// --host/--port (-h/-p, like redis-cli). They name one thing, so they are taken together from the
// highest-precedence source that gives either: `-p 8000` on the command line wins over
// CATENA_ENDPOINTS in the environment (only 127.0.0.1:8000 is tried), and the endpoints of the
// command line over CATENA_HOST. Given at the same level, host:port is tried first, then the
// endpoints. Host and port are each taken from their own highest source (CATENA_HOST=db1 with
// -p 8000 is db1:8000). With none of them anywhere, the default 127.0.0.1:7000.

import { readFileSync } from 'node:fs';
import type { ClientTls } from '../client/client.js';
import { ClusterClient } from '../client/cluster-client.js';
import { CatenaError } from '../core/errors.js';
import { cliTimeoutMsMax } from '../core/limits.js';
import { flagInt, flagOn, flagRank, flagSource, flagString, type FlagSpec, type ParsedArgs } from './args.js';
import { clientAuthFlags, clientCredentialsFromFlags } from './auth-files.js';
import { configFlag, settable } from './settings.js';

export const connectionFlags: FlagSpec = settable({
  host: { kind: 'string', short: 'h', description: 'node address', default: '127.0.0.1' },
  port: { kind: 'string', short: 'p', description: 'node native-protocol port', default: '7000' },
  endpoints: {
    kind: 'string',
    description: 'native addresses of cluster nodes to start from, host:port,host:port',
  },
  seeds: { kind: 'string', description: 'the old name of --endpoints', aliasOf: 'endpoints' },
  timeout: { kind: 'string', description: 'request deadline in ms, retries included', default: '10000' },
  ...clientAuthFlags,
  tls: { kind: 'boolean', description: 'connect with TLS (nodes started with --tls-cert)' },
  'tls-ca': {
    kind: 'string',
    description: 'PEM CA to trust (catena up --tls: <data-dir>/tls/ca.pem); implies --tls',
  },
  ...configFlag,
});

/** TLS options from --tls / --tls-ca (or CATENA_TLS / CATENA_TLS_CA, the config file), or undefined for plain TCP. */
export function clientTlsFromFlags(args: ParsedArgs, spec: FlagSpec): ClientTls | undefined {
  const caFile = flagString(args, spec, 'tls-ca');
  if (!flagOn(args, 'tls') && caFile === undefined) return undefined;
  if (caFile === undefined) return {};
  try {
    return { ca: readFileSync(caFile) };
  } catch (error) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `cannot read the TLS CA ${caFile}: ${String(error)}`);
  }
}

/** The addresses to start from, in the order to try them (the rule at the top of this file). */
export function seedsFromFlags(args: ParsedArgs, spec: FlagSpec): string[] {
  const listed = (flagString(args, spec, 'endpoints') ?? '')
    .split(',')
    .map((seed) => seed.trim())
    .filter((seed) => seed !== '');
  const endpointsRank = flagRank(args, 'endpoints');
  if (endpointsRank > 0 && listed.length === 0) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `${flagSource(args, 'endpoints')} needs at least one host:port`);
  }
  const addressRank = Math.max(flagRank(args, 'host'), flagRank(args, 'port'));
  if (endpointsRank > addressRank) return listed;
  const host = flagString(args, spec, 'host')!;
  const port = flagInt(args, spec, 'port', { min: 1, max: 65535 })!;
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  if (endpointsRank < addressRank) return [address];
  return [address, ...listed.filter((seed) => seed !== address)];
}

export function connectFromFlags(args: ParsedArgs, spec: FlagSpec): Promise<ClusterClient> {
  const auth = clientCredentialsFromFlags(args);
  const tls = clientTlsFromFlags(args, spec);
  return ClusterClient.connect({
    seeds: seedsFromFlags(args, spec),
    timeoutMs: flagInt(args, spec, 'timeout', { min: 1, max: cliTimeoutMsMax })!,
    ...(auth === undefined ? {} : { auth }),
    ...(tls === undefined ? {} : { tls }),
  });
}
