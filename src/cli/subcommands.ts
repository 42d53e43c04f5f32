// The `catena` command's own commands (up, server, shell, ...) beside the command table's, with
// their actions and options: what the help, the "did you mean" of an unknown command and the
// shell completion script (completion.ts) list. The table's hidden commands (the slot commands,
// topology, nodestatus: for nodes and tools) are left out of all three, and still run when named.

import { listedCommandNames } from '../commands/index.js';
import type { FlagSpec } from './args.js';
import { benchFlags } from './bench-command.js';
import { chainFlags } from './chain-command.js';
import { connectionFlags } from './connection.js';
import { dumpFlags } from './dump-command.js';
import { oneShotFlags } from './one-shot.js';
import { restoreFlags } from './restore-command.js';
import { serverFlags } from './server-command.js';
import { shellFlags } from './shell.js';
import { statusFlags } from './status.js';
import { nearestAll, orList } from './suggest.js';
import { upFlags } from './up.js';

export interface Subcommand {
  readonly name: string;
  /** Words that must come first (`chain add`, `completion bash`). */
  readonly actions: readonly string[];
  readonly flags: FlagSpec;
}

const helpOnly: FlagSpec = { help: { kind: 'boolean', description: 'show this help' } };

export const completionShells = ['bash', 'zsh'] as const;

export const subcommands: readonly Subcommand[] = [
  { name: 'up', actions: [], flags: upFlags },
  { name: 'server', actions: [], flags: serverFlags },
  { name: 'shell', actions: [], flags: shellFlags },
  { name: 'status', actions: [], flags: statusFlags },
  { name: 'chain', actions: ['add', 'remove', 'show', 'rebuild'], flags: chainFlags },
  { name: 'dump', actions: [], flags: dumpFlags },
  { name: 'restore', actions: [], flags: restoreFlags },
  { name: 'bench', actions: [], flags: benchFlags },
  { name: 'completion', actions: completionShells, flags: helpOnly },
  ...listedCommandNames.map((name) => ({ name, actions: [], flags: oneShotFlags })),
];

/** Every command a person may type, in help order. */
export const visibleCommands = (): string[] => [...subcommands.map((command) => command.name), 'help'];

/** A few lines: the nearest command when there is one, and where the list is. */
export function unknownCommand(word: string): string {
  const near = nearestAll(word, visibleCommands());
  const guess = near.length === 0 ? '' : `did you mean ${orList(near)}?\n`;
  return `catena: unknown command "${word}"\n${guess}Run "catena --help" for the commands.\n`;
}

/**
 * `catena -h H -p P get k` -> `catena get -h H -p P k`: connection options before the command
 * (redis-cli's habit) go right after it, where every command that connects reads them. Stops at
 * the first word that is not such an option.
 */
export function hoistLeadingOptions(argv: readonly string[]): string[] {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const word = argv[i]!;
    const name = connectionOptionName(word);
    const flag = name === undefined ? undefined : connectionFlags[name];
    if (flag === undefined) break;
    const takesNext = flag.kind === 'string' && !word.includes('=') && i + 1 < argv.length;
    leading.push(...argv.slice(i, takesNext ? i + 2 : i + 1));
    i += takesNext ? 2 : 1;
  }
  if (leading.length === 0 || i >= argv.length) return [...argv];
  return [argv[i]!, ...leading, ...argv.slice(i + 1)];
}

function connectionOptionName(word: string): string | undefined {
  if (word.startsWith('--')) return word.slice(2).split('=')[0];
  const short = /^-([A-Za-z])$/.exec(word)?.[1];
  if (short === undefined) return undefined;
  return Object.entries(connectionFlags).find(([, flag]) => flag.short === short)?.[0];
}
