// Connection flags shared by the shell, the one-shot commands and `catena status`. Every one of
// them talks through a ClusterClient, so it keeps working while a node of a cluster dies, and
// talks to a standalone node exactly like a plain Client.
//
// Seeds: --seeds h:p,h:p when given, plus --host/--port when either is given explicitly; with
// neither, the default --host:--port.

import { readFileSync } from 'node:fs';
import type { ClientTls } from '../client/client.js';
import { ClusterClient } from '../client/cluster-client.js';
import { CatenaError } from '../core/errors.js';
import { cliTimeoutMsMax } from '../core/limits.js';
import { flagInt, flagString, type FlagSpec, type ParsedArgs } from './args.js';
import { clientAuthFlags, clientCredentialsFromFlags } from './auth-files.js';

export const connectionFlags: FlagSpec = {
  host: { kind: 'string', description: 'node address', default: '127.0.0.1' },
  port: { kind: 'string', description: 'node native-protocol port', default: '7000' },
  seeds: { kind: 'string', description: 'native addresses of cluster nodes to start from, host:port,host:port' },
  timeout: { kind: 'string', description: 'request deadline in ms, retries included', default: '10000' },
  ...clientAuthFlags,
  tls: { kind: 'boolean', description: 'connect with TLS (nodes started with --tls-cert; CATENA_TLS=1)' },
  'tls-ca': {
    kind: 'string',
    description: 'PEM CA to trust (catena up --tls: <data-dir>/tls/ca.pem; CATENA_TLS_CA); implies --tls',
  },
};

/** TLS options from --tls / --tls-ca (or CATENA_TLS / CATENA_TLS_CA), or undefined for plain TCP. */
export function clientTlsFromFlags(args: ParsedArgs, spec: FlagSpec): ClientTls | undefined {
  const caFile = flagString(args, spec, 'tls-ca') ?? nonEmpty(process.env['CATENA_TLS_CA']);
  const wanted = args.flags.has('tls') || nonEmpty(process.env['CATENA_TLS']) !== undefined || caFile !== undefined;
  if (!wanted) return undefined;
  if (caFile === undefined) return {};
  try {
    return { ca: readFileSync(caFile) };
  } catch (error) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `cannot read the TLS CA ${caFile}: ${String(error)}`);
  }
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === '' || value === '0' ? undefined : value;

/** The seed addresses the flags name, in the order given. */
export function seedsFromFlags(args: ParsedArgs, spec: FlagSpec): string[] {
  const listed = (flagString(args, spec, 'seeds') ?? '')
    .split(',')
    .map((seed) => seed.trim())
    .filter((seed) => seed !== '');
  if (args.flags.has('seeds') && listed.length === 0) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', '--seeds needs at least one host:port');
  }
  const named = args.flags.has('host') || args.flags.has('port') || listed.length === 0;
  if (!named) return listed;
  const host = flagString(args, spec, 'host')!;
  const port = flagInt(args, spec, 'port', { min: 1, max: 65535 })!;
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
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
