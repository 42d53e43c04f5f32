// `catena <command> [args]`: one request, its reply printed for people (or as JSON with --json).
// It goes through a ClusterClient (connection.ts): routed to the node that serves it and retried
// across a failover until --timeout, or sent to a standalone node as is.
// Exit codes: 0 success, 1 the node answered with an error, 2 bad usage, 3 cannot connect.

import {
  commandByName,
  commandNames,
  commandTable,
  isCommandName,
  type CommandName,
  usageWidth,
} from '../commands/index.js';
import { CatenaError } from '../core/errors.js';
import { parseArgs, renderFlags, type FlagSpec } from './args.js';
import { connectFromFlags, connectionFlags } from './connection.js';
import { toJson } from './output.js';

const oneShotFlags: FlagSpec = {
  ...connectionFlags,
  json: { kind: 'boolean', description: 'print the reply as JSON' },
  help: { kind: 'boolean', description: 'show this help' },
};

export const isOneShot = (name: string): name is CommandName => isCommandName(name);

export function oneShotHelp(): string {
  const rows = commandNames.map((name) => {
    const def = commandTable[name];
    return `  ${def.usage.padEnd(usageWidth)} ${def.summary}`;
  });
  return `Commands:\n${rows.join('\n')}\n\nOptions for commands:\n${renderFlags(oneShotFlags)}\n`;
}

function commandHelp(name: CommandName): string {
  const def = commandTable[name];
  return `Usage: catena ${def.usage} [options]\n\n${def.summary}\n\nOptions:\n${renderFlags(oneShotFlags)}\n`;
}

export async function runOneShot(name: CommandName, argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, oneShotFlags);
  if (args.flags.has('help')) {
    process.stdout.write(commandHelp(name));
    return 0;
  }
  const definition = commandByName(name);
  const request = definition.parse(args.positional.map((word) => Buffer.from(word, 'utf8')));
  const client = await connectFromFlags(args, oneShotFlags);
  try {
    const reply = await client.send(name, request as never);
    process.stdout.write(
      args.flags.has('json') ? `${JSON.stringify(toJson(reply))}\n` : `${definition.render(reply)}\n`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof CatenaError) || error.code.startsWith('ERR_CONNECTION')) throw error;
    if (args.flags.has('json'))
      process.stdout.write(`${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
    else process.stderr.write(`(error) ${error.code}: ${error.message}\n`);
    return 1;
  } finally {
    await client.close();
  }
}
