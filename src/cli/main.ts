// The `catena` command: `server` runs a node, `shell` opens the interactive shell, `status`
// shows the cluster, `dump` saves each chain's table and `restore` loads it, and every command of
// the table runs once
// (`catena put k v`, `catena get k --json`).

import { CatenaError } from '../core/errors.js';
import { catenaVersion } from '../core/version.js';
import { runBench } from './bench-command.js';
import { runDump } from './dump-command.js';
import { runRestore } from './restore-command.js';
import { runServer } from './server-command.js';
import { runOneShot, oneShotHelp, isOneShot } from './one-shot.js';
import { runShell } from './shell.js';
import { runStatus } from './status.js';
import { runUp } from './up.js';
import { runChain } from './chain-command.js';

const mainHelp = (): string => `Catena ${catenaVersion}: a replicated key-value store.

Usage:
  catena up [--nodes 3]                start a local cluster (catena up --help)
  catena server [options]              run a node (catena server --help)
  catena shell [--host H] [--port P]   interactive shell
  catena status [--json] [--watch]     chains, slots, members, sequences, lag, slot moves;
                                       exits 4 when degraded, 5 when unavailable
  catena chain add|remove|show         more or fewer chains: slots move online (catena chain --help)
  catena chain rebuild [--yes]         after a lost coordinator state: chains from the nodes' logs
  catena dump [--out DIR]              save each chain's table to a file (catena dump --help)
  catena restore DIR                   load a dump into a running cluster (catena restore --help)
  catena bench [options]               YCSB-style load: throughput, latency percentiles (catena bench --help)
  catena <command> [args] [options]    run one command and print the reply
  catena --version

${oneShotHelp()}
Run "catena <command> --help" for one command's usage.
`;

export async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(mainHelp());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version') {
    process.stdout.write(`${catenaVersion}\n`);
    return 0;
  }
  try {
    if (first === 'server') return await runServer(rest);
    if (first === 'up') return await runUp(rest);
    if (first === 'chain') return await runChain(rest);
    if (first === 'shell') return await runShell(rest);
    if (first === 'status') return await runStatus(rest);
    if (first === 'dump') return await runDump(rest);
    if (first === 'restore') return await runRestore(rest);
    if (first === 'bench') return await runBench(rest);
    if (isOneShot(first)) return await runOneShot(first, rest);
    process.stderr.write(`catena: unknown command "${first}"\n\n${mainHelp()}`);
    return 2;
  } catch (error) {
    if (error instanceof CatenaError) {
      process.stderr.write(`catena: ${error.code}: ${error.message}\n`);
      return error.code === 'ERR_INVALID_ARGUMENT' ? 2 : error.code.startsWith('ERR_CONNECTION') ? 3 : 1;
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
    process.exitCode = 70;
  },
);
