// `catena shell`: an interactive REPL against a cluster (through a ClusterClient, so it rides
// out the death of any one node) or a standalone node. Words may be quoted (see words.ts), so
// keys and values can hold spaces and any byte; replies are shown binary-safe. History is kept
// in ~/.catena_history. Input that is not a terminal (a pipe, a script) is read line by line
// with no prompt, so `echo 'put k v' | catena shell` works too.

import { appendFileSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ClientCommands } from '../client/client.js';
import type { ClusterClient } from '../client/cluster-client.js';
import { commandByName, commandTable, isCommandName, listedCommandNames, usageWidth } from '../commands/index.js';
import { CatenaError, type ErrorCode } from '../core/errors.js';
import { shellHistoryLinesMax } from '../core/limits.js';
import { renderFlags, type FlagSpec } from './args.js';
import { connectFromFlags, connectionFlags } from './connection.js';
import { toJson } from './output.js';
import { parseCommandArgs } from './settings.js';
import { nearest } from './suggest.js';
import { splitWords } from './words.js';

export const shellFlags: FlagSpec = {
  ...connectionFlags,
  json: { kind: 'boolean', description: 'print replies as JSON' },
  help: { kind: 'boolean', description: 'show this help' },
};

const historyPath = (): string => process.env['CATENA_HISTORY'] ?? join(homedir(), '.catena_history');

export const shellHelp = `Usage: catena shell [options]

Options:
${renderFlags(shellFlags)}
`;

function helpText(topic?: string): string {
  if (topic !== undefined) {
    if (!isCommandName(topic)) return `(error) no command named "${topic}"`;
    const def = commandTable[topic];
    return `${def.usage}\n  ${def.summary}`;
  }
  const rows = listedCommandNames.map(
    (name) => `  ${commandTable[name].usage.padEnd(usageWidth)} ${commandTable[name].summary}`,
  );
  return [
    'Commands:',
    ...rows,
    `  ${'help [command]'.padEnd(usageWidth)} this help, or one command's`,
    `  ${'quit'.padEnd(usageWidth)} leave the shell (also exit, Ctrl-D)`,
    '',
    'Quote words with spaces: put "my key" "a value". In double quotes \\n \\t \\" \\\\ and \\xHH work.',
  ].join('\n');
}

export interface LineResult {
  /** Text to print ('' for nothing). */
  text: string;
  failed: boolean;
}

/** Runs one shell line; returns what to print, or undefined to quit. */
export async function evaluateLine(
  client: ClientCommands,
  line: string,
  json = false,
): Promise<LineResult | undefined> {
  // Errors found by the shell itself read plainly; the node's errors show their stable code.
  const failure = (code: ErrorCode, message: string, local = false): LineResult => ({
    text: json ? JSON.stringify({ error: { code, message } }) : `(error) ${local ? '' : `${code}: `}${message}`,
    failed: true,
  });
  const split = splitWords(line);
  if (!split.ok) return failure('ERR_INVALID_ARGUMENT', split.error, true);
  const [first, ...rest] = split.words;
  if (first === undefined) return { text: '', failed: false };
  const name = first.toString('utf8').toLowerCase();
  if (name === 'quit' || name === 'exit') return undefined;
  if (name === 'help' || name === '?')
    return { text: helpText(rest[0]?.toString('utf8').toLowerCase()), failed: false };
  if (!isCommandName(name)) {
    const near = nearest(name, [...listedCommandNames, 'help', 'quit']);
    const guess = near === undefined ? '' : ` (did you mean "${near}"?)`;
    return failure(
      'ERR_UNKNOWN_COMMAND',
      `unknown command "${first.toString('utf8')}"${guess}; type help for the list`,
      true,
    );
  }
  const definition = commandByName(name);
  try {
    const reply = await client.send(name, definition.parse(rest) as never);
    return { text: json ? JSON.stringify(toJson(reply)) : definition.render(reply), failed: false };
  } catch (error) {
    // A lost connection ends the shell (exit code 3); any other error is one line of output.
    if (error instanceof CatenaError && !error.code.startsWith('ERR_CONNECTION'))
      return failure(error.code, error.message);
    throw error;
  }
}

function connectedLine(client: ClusterClient): string {
  if (client.isStandalone) return `Connected to ${client.anyNodeAddress}.`;
  const { cluster, nodes } = client.knownTopology;
  return `Connected to cluster ${cluster} (${nodes.length} nodes) through ${client.anyNodeAddress}.`;
}

function loadHistory(): string[] {
  try {
    return readFileSync(historyPath(), 'utf8').split('\n').filter(Boolean).slice(-shellHistoryLinesMax).reverse();
  } catch {
    return [];
  }
}

export async function runShell(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs(argv, shellFlags);
  if (args.flags.has('help')) {
    process.stdout.write(shellHelp);
    return 0;
  }
  const client = await connectFromFlags(args, shellFlags);
  const interactive = process.stdin.isTTY === true;
  const rl = createInterface({
    input: process.stdin,
    output: interactive ? process.stdout : undefined,
    terminal: interactive,
    history: interactive ? loadHistory() : [],
    historySize: shellHistoryLinesMax,
    prompt: 'catena> ',
  });
  if (interactive) {
    process.stdout.write(`${connectedLine(client)} Type help for commands, quit to leave.\n`);
    rl.prompt();
  }
  let failed = false;
  try {
    for await (const line of rl) {
      if (interactive && line.trim() !== '') {
        try {
          appendFileSync(historyPath(), `${line}\n`);
        } catch {
          // History is a convenience: an unwritable home directory must not stop the shell.
        }
      }
      const output = await evaluateLine(client, line, args.flags.has('json'));
      if (output === undefined) break;
      if (output.failed) failed = true;
      if (output.text !== '') process.stdout.write(`${output.text}\n`);
      if (interactive) rl.prompt();
    }
  } catch (error) {
    if (error instanceof CatenaError) {
      process.stdout.write(`(error) ${error.code}: ${error.message}\n`);
      return 3;
    }
    throw error;
  } finally {
    rl.close();
    await client.close();
  }
  return interactive ? 0 : failed ? 1 : 0;
}
