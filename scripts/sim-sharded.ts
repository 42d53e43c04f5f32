// The two-chain simulator with slot moves (src/testing/sim/sharded.ts), from the command line:
//   npx tsx scripts/sim-sharded.ts --seeds 2000 [--from 1]   sweep seeds
//   npx tsx scripts/sim-sharded.ts --seed 17 [--history] [--log]   replay one run (same seed, same trace hash)
//   ... --rules revisionCarried,droppedSlotsFenced            a protocol variant (shard-node.ts NodeRules)
//   ... --set watchDelayMsMax=150,clients=8                   options other than the defaults
// Exits 1 when any run fails its checks.

import type { Operation } from '../src/testing/linearizability/history.js';
import { defaultShardedOptions, runShardedSim, type ShardedRules } from '../src/testing/sim/sharded.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const single = flag('seed') === undefined ? undefined : Number(flag('seed'));
const from = Number(flag('from') ?? 1);
const count = single === undefined ? Number(flag('seeds') ?? 200) : 1;
const first = single ?? from;
// --set name=value,...: options other than the defaults (numbers), e.g. --set watchDelayMsMax=150,clients=8
const overrides: Record<string, number> = {};
for (const pair of (flag('set') ?? '').split(',').filter((p) => p !== '')) {
  const [name, value] = pair.split('=');
  overrides[name!] = Number(value);
}
const rules: Partial<ShardedRules> = {};
for (const name of (flag('rules') ?? '').split(',').filter((n) => n !== '')) {
  (rules as Record<string, boolean>)[name] = true;
}

const show = (o: Operation): string =>
  `  c${o.client} ${o.key} ${JSON.stringify(o.input, big)} -> ${o.output === undefined ? '?' : JSON.stringify(o.output, big)} [${o.callAt}, ${o.output === undefined ? '∞' : o.returnAt}]`;
function big(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `${value}n` : value;
}

let failed = 0;
let moves = 0;
const started = performance.now();
for (let seed = first; seed < first + count; seed++) {
  const log = single !== undefined && args.includes('--log') ? (line: string) => console.log(line) : undefined;
  const result = runShardedSim(
    { ...defaultShardedOptions, ...overrides, seed, ...(log === undefined ? {} : { log }) },
    rules,
  );
  moves += result.counts.moves.completed;
  if (single !== undefined || !result.ok) {
    const c = result.counts;
    console.log(
      `seed ${seed}: ${result.ok ? 'ok' : 'FAILED'} trace ${result.traceHash}, ${c.operations} operations ` +
        `(${c.unknown} unknown), moves ${c.moves.completed}/${c.moves.started} (${c.moves.restarts} restarts), ` +
        `map v${c.mapVersion}, ${c.reconfigurations} reconfigurations, ended at ${result.endedAtMs} ms\n` +
        `  refused: clients ${JSON.stringify(c.refusals)}, manager ${JSON.stringify(c.moves.refusals)}`,
    );
    for (const failure of result.failures) console.log(`  ${failure}`);
    if (args.includes('--history')) {
      const key = /not linearizable on (\S+):/.exec(result.failures.join('\n'))?.[1];
      for (const o of result.history.filter((op) => key === undefined || op.key === key)) console.log(show(o));
    }
  }
  if (!result.ok) failed += 1;
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `${count - failed} passed, ${failed} failed, ${(moves / count).toFixed(1)} moves completed per run (${seconds.toFixed(1)} s)`,
);
process.exitCode = failed > 0 ? 1 : 0;
