// The `catena` command: `server` runs a node, `shell` opens the interactive shell, `status`
// shows the cluster, `dump` saves each chain's table and `restore` loads it, and every command of
// the table runs once
// (`catena put k v`, `catena get k --json`).
//
// Expected failures (bad usage, no node reachable, an error reply) print one line and exit with
// a documented code (exit-codes.ts); only a bug prints a stack trace (exit 70). Options may come
// before the command as in redis-cli (`catena -h db1 -p 7000 get k`): they are moved after it.

import { CoordinatorError } from '../coordination/coordinator.js';
import { CatenaError } from '../core/errors.js';
import { catenaVersion } from '../core/version.js';
import { runBench } from './bench-command.js';
import { runChain } from './chain-command.js';
import { runCompletion } from './completion.js';
import { runDump } from './dump-command.js';
import { hoistLeadingOptions, unknownCommand } from './subcommands.js';
import { exitCodeOf, exitCodes, exitCodesHelp } from './exit-codes.js';
import { oneShotHelp, isOneShot, runOneShot } from './one-shot.js';
import { runRestore } from './restore-command.js';
import { runServer } from './server-command.js';
import { runShell } from './shell.js';
import { runStatus } from './status.js';
import { runUp } from './up.js';

const mainHelp = (): string => `Catena ${catenaVersion}: a replicated key-value store.

Usage:
  catena up [--nodes 3]                start a local cluster (catena up --help)
  catena server [options]              run a node (catena server --help)
  catena shell [-h H] [-p P]           interactive shell
  catena status [--json] [--watch]     chains, slots, members, sequences, lag, slot moves;
                                       exits 4 when degraded, 5 when unavailable
  catena chain add|remove|show         more or fewer chains: slots move online (catena chain --help)
  catena chain rebuild [--yes]         after a lost coordinator state: chains from the nodes' logs
  catena dump [--out DIR]              save each chain's table to a file (catena dump --help)
  catena restore DIR                   load a dump into a running cluster (catena restore --help)
  catena bench [options]               YCSB-style load: throughput, latency percentiles (catena bench --help)
  catena completion bash|zsh           print a shell completion script (catena completion --help)
  catena <command> [args] [options]    run one command and print the reply; an argument given
                                       as - is read from stdin (-x: the last one)
  catena --version

${oneShotHelp()}
Where the cluster is, and the other connection options, may also come from CATENA_* variables
(shown above) and a JSON config file with the same keys (--config FILE, $CATENA_CONFIG, or
~/.config/catena/config.json). Precedence: command line > environment > config file > default.
Options may come before the command: catena -h 10.0.0.5 -p 7000 get k.

${exitCodesHelp}

Run "catena <command> --help" for one command's usage; docs/cli.md has it all.
`;

export async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = hoistLeadingOptions(argv);
  if (first === undefined || first === '--help' || first === 'help') {
    process.stdout.write(mainHelp());
    return first === undefined ? exitCodes.usage : exitCodes.ok;
  }
  if (first === '--version') {
    process.stdout.write(`${catenaVersion}\n`);
    return exitCodes.ok;
  }
  try {
    if (first.startsWith('-')) {
      throw new CatenaError(
        'ERR_INVALID_ARGUMENT',
        first === '-h' && rest.length === 0
          ? '-h is the host (as in redis-cli) and needs a value; help is --help'
          : `no command after the options: catena [options] <command> (catena --help)`,
      );
    }
    if (first === 'server') return await runServer(rest);
    if (first === 'up') return await runUp(rest);
    if (first === 'chain') return await runChain(rest);
    if (first === 'shell') return await runShell(rest);
    if (first === 'status') return await runStatus(rest);
    if (first === 'dump') return await runDump(rest);
    if (first === 'restore') return await runRestore(rest);
    if (first === 'bench') return await runBench(rest);
    if (first === 'completion') return runCompletion(rest);
    if (isOneShot(first)) return await runOneShot(first, rest);
    process.stderr.write(unknownCommand(first));
    return exitCodes.usage;
  } catch (error) {
    if (error instanceof CatenaError) {
      process.stderr.write(`catena: ${error.code}: ${error.message}\n`);
      return exitCodeOf(error);
    }
    // A coordinator that cannot be reached or answers an error (catena chain): expected, one line.
    if (error instanceof CoordinatorError) {
      process.stderr.write(`catena: coordinator: ${error.code}: ${error.message}\n`);
      return error.code === 'connection-loss' || error.code === 'session-expired'
        ? exitCodes.unreachable
        : exitCodes.errorReply;
    }
    throw error;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `catena: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = exitCodes.internal;
  },
);
