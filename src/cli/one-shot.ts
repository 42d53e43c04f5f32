// `catena <command> [args]`: one request, its reply printed for people (or as JSON with --json).
// It goes through a ClusterClient (connection.ts): routed to the node that serves it and retried
// across a failover until --timeout, or sent to a standalone node as is.
//
// An argument given as `-` is read from stdin, as are the last one with -x (redis-cli's): the
// bytes exactly as they come (binary-safe; `echo` adds a newline, `printf` does not), at most
// cliStdinBytesMax, checked while reading.
//
// Exit codes (exit-codes.ts): 0 success, 1 the node answered with an error, 2 bad usage, 3 cannot
// connect, 6 a conditional write that did not happen (0 with --unmet-ok).

import {
  commandByName,
  commandTable,
  isCommandName,
  listedCommandNames,
  type CommandName,
  usageWidth,
} from '../commands/index.js';
import { CatenaError } from '../core/errors.js';
import { cliStdinBytesMax } from '../core/limits.js';
import { flagOn, renderFlags, type FlagSpec } from './args.js';
import { connectFromFlags, connectionFlags } from './connection.js';
import { exitCodes, unreachableCodes } from './exit-codes.js';
import { toJson } from './output.js';
import { parseCommandArgs, settable } from './settings.js';

export const oneShotFlags: FlagSpec = {
  ...connectionFlags,
  ...settable({
    'unmet-ok': {
      kind: 'boolean',
      description: `exit 0, not ${exitCodes.conditionNotMet}, when a conditional write (set nx/xx/version=, cas) did not happen`,
    },
  }),
  stdin: { kind: 'boolean', short: 'x', description: 'read the last argument from stdin (or give - as any argument)' },
  json: { kind: 'boolean', description: 'print the reply as JSON' },
  help: { kind: 'boolean', description: 'show this help' },
};

export const isOneShot = (name: string): name is CommandName => isCommandName(name);

export function oneShotHelp(): string {
  const rows = listedCommandNames.map((name) => {
    const def = commandTable[name];
    return `  ${def.usage.padEnd(usageWidth)} ${def.summary}`;
  });
  return `Commands:\n${rows.join('\n')}\n\nOptions for commands:\n${renderFlags(oneShotFlags)}\n`;
}

function commandHelp(name: CommandName): string {
  const def = commandTable[name];
  return `Usage: catena ${def.usage} [options]\n\n${def.summary}\n\nAn argument given as - is read from stdin.\n\nOptions:\n${renderFlags(oneShotFlags)}\n`;
}

export async function runOneShot(name: CommandName, argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs(argv, oneShotFlags);
  if (args.flags.has('help')) {
    process.stdout.write(commandHelp(name));
    return exitCodes.ok;
  }
  const definition = commandByName(name);
  const words: Buffer[] = args.positional.map((word) => Buffer.from(word, 'utf8'));
  if (args.flags.has('stdin') && args.stdinAt !== undefined) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', 'give - or -x, not both: stdin can be read once');
  }
  if (args.stdinAt !== undefined) words[args.stdinAt] = await readStdin(process.stdin, cliStdinBytesMax);
  if (args.flags.has('stdin')) words.push(await readStdin(process.stdin, cliStdinBytesMax));
  const request = definition.parse(words);
  const client = await connectFromFlags(args, oneShotFlags);
  const json = args.flags.has('json');
  try {
    const reply = await client.send(name, request as never);
    process.stdout.write(json ? `${JSON.stringify(toJson(reply))}\n` : `${definition.render(reply)}\n`);
    const met = definition.conditionMet?.(reply) ?? true;
    return met || flagOn(args, 'unmet-ok') ? exitCodes.ok : exitCodes.conditionNotMet;
  } catch (error) {
    if (!(error instanceof CatenaError) || unreachableCodes.has(error.code)) throw error;
    if (json) process.stdout.write(`${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
    else process.stderr.write(`(error) ${error.code}: ${error.message}\n`);
    return exitCodes.errorReply;
  } finally {
    await client.close();
  }
}

/** All of `input` as one Buffer; ERR_VALUE_TOO_LARGE as soon as it passes `bytesMax`. */
export async function readStdin(input: AsyncIterable<Buffer | string>, bytesMax: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    bytes += buffer.length;
    if (bytes > bytesMax) {
      throw new CatenaError(
        'ERR_VALUE_TOO_LARGE',
        `stdin holds more than ${bytesMax} bytes, the largest value a node can take`,
      );
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, bytes);
}
