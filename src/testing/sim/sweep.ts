// The simulator from the command line (scripts/sim.ts, scripts/sim-sharded.ts):
//   --seeds N [--from S]         sweep seeds S .. S+N-1, printing only failing seeds
//   --seed N [--history] [--log] replay one run exactly (same seed, same trace hash)
//   --chains N                   chains (default: the script's, 1 for sim.ts, 2 for sim-sharded.ts)
//   --rules name[=false],...     a protocol variant (sharded.ts ShardedRules)
//   --set name=value,...         options other than the defaults (numbers), e.g. watchDelayMsMax=150,clients=8
// Sets process.exitCode to 1 when any run fails its checks.

import type { Operation } from '../linearizability/history.js';
import { checkRun } from './checks.js';
import { defaultSimOptions } from './cluster.js';
import { defaultShardedOptions, documentedProtocol, variantOf, type ShardedRules } from './sharded.js';
import { simulateAsync, type SimOptions, type SimVariant } from './simulation.js';

export async function sweepCommand(args: readonly string[], defaultChains: number): Promise<void> {
  const flag = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const single = flag('seed') === undefined ? undefined : Number(flag('seed'));
  const count = single === undefined ? Number(flag('seeds') ?? 100) : 1;
  const first = single ?? Number(flag('from') ?? 1);
  const chains = Number(flag('chains') ?? defaultChains);
  const base: Omit<SimOptions, 'seed'> = chains === 1 ? defaultSimOptions : { ...defaultShardedOptions, chains };
  const overrides: Record<string, number> = {};
  for (const pair of (flag('set') ?? '').split(',').filter((p) => p !== '')) {
    const [name, value] = pair.split('=');
    overrides[name!] = Number(value);
  }
  const rules: Record<string, boolean> = { ...documentedProtocol };
  for (const pair of (flag('rules') ?? '').split(',').filter((n) => n !== '')) {
    const [name, value] = pair.split('=');
    if (!(name! in documentedProtocol))
      throw new Error(`no rule ${name} (rules: ${Object.keys(documentedProtocol).join(', ')})`);
    rules[name!] = value !== 'false';
  }
  const variant: SimVariant = variantOf(rules as unknown as ShardedRules);
  let failed = 0;
  let moves = 0;
  const started = performance.now();
  for (let seed = first; seed < first + count; seed++) {
    const log = single !== undefined && args.includes('--log') ? (line: string) => console.log(line) : undefined;
    const result = await simulateAsync({ ...base, ...overrides, seed, ...(log === undefined ? {} : { log }) }, variant);
    const failures = checkRun(result);
    const c = result.counts;
    moves += c.moves.completed;
    if (single !== undefined || failures.length > 0) {
      const chainsNow = result.configs
        .map((config) => `${config.members.join('→')} (epoch ${config.epoch})`)
        .join(', ');
      console.log(
        `seed ${seed}: ${failures.length === 0 ? 'ok' : 'FAILED'} trace ${result.traceHash}, ${c.operations} operations ` +
          `(${c.unknown} unknown), ${c.reconfigurations} reconfigurations, ended at ${result.endedAtMs} ms, chains ${chainsNow}` +
          (chains === 1
            ? ''
            : `\n  moves ${c.moves.completed}/${c.moves.started} (${c.moves.interrupted} passes interrupted, ${c.moves.rebalancings} layout changes), ` +
              `map v${result.map.version}; refused: clients ${JSON.stringify(c.refusals)}, manager ${JSON.stringify(c.moves.refusals)}`),
      );
      for (const failure of failures) console.log(`  ${failure}`);
      if (args.includes('--history')) {
        const key = /not linearizable on (\S+):/.exec(failures.join('\n'))?.[1];
        for (const o of result.history.filter((op) => key === undefined || op.key === key)) console.log(show(o));
      }
    }
    if (failures.length > 0) failed += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${count - failed} passed, ${failed} failed` +
      (chains === 1 ? '' : `, ${(moves / count).toFixed(1)} moves completed per run`) +
      ` (${seconds.toFixed(1)} s, ${(count / seconds).toFixed(1)} seeds/s)`,
  );
  process.exitCode = failed > 0 ? 1 : 0;
}

function show(o: Operation): string {
  const big = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? `${value}n` : value);
  const output = o.output === undefined ? '?' : JSON.stringify(o.output, big);
  return `  c${o.client} ${o.key} ${JSON.stringify(o.input, big)} -> ${output} [${o.callAt}, ${o.output === undefined ? '∞' : o.returnAt}]`;
}
