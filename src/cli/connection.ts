// Connection flags shared by the shell and the one-shot commands.

import { Client } from '../client/client.js';
import { flagInt, flagString, type FlagSpec, type ParsedArgs } from './args.js';

export const connectionFlags: FlagSpec = {
  host: { kind: 'string', description: 'node address', default: '127.0.0.1' },
  port: { kind: 'string', description: 'node native-protocol port', default: '7000' },
  timeout: { kind: 'string', description: 'request deadline in ms', default: '5000' },
};

export function connectFromFlags(args: ParsedArgs, spec: FlagSpec): Promise<Client> {
  return Client.connect({
    host: flagString(args, spec, 'host')!,
    port: flagInt(args, spec, 'port', { min: 1, max: 65535 })!,
    timeoutMs: flagInt(args, spec, 'timeout', { min: 1, max: 3_600_000 })!,
  });
}
