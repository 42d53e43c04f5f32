// `npm run sim -- --seeds N [--from S]` sweeps seeds; `npm run sim -- --seed N` replays one run
// exactly and prints its trace hash (the same seed always prints the same hash).

import { checkRun } from '../src/testing/sim/checks.js';
import { defaultSimOptions, simulate } from '../src/testing/sim/cluster.js';

const args = process.argv.slice(2);
const flag = (name: string): number | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : undefined;
};
const single = flag('seed');
const from = flag('from') ?? 1;
const count = single === undefined ? (flag('seeds') ?? 100) : 1;
const first = single ?? from;
let failed = 0;
const started = performance.now();
for (let seed = first; seed < first + count; seed++) {
  const result = simulate({ ...defaultSimOptions, seed });
  const failures = checkRun(result);
  if (single !== undefined || failures.length > 0) {
    console.log(
      `seed ${seed}: ${failures.length === 0 ? 'ok' : 'FAILED'} trace ${result.traceHash}, ${result.history.length} operations, ` +
        `ended at ${result.endedAtMs} ms, chain ${result.config.members.join('→')} (epoch ${result.config.epoch})`,
    );
    for (const failure of failures) console.log(`  ${failure}`);
  }
  if (failures.length > 0) failed += 1;
}
console.log(`${count - failed} passed, ${failed} failed (${((performance.now() - started) / 1000).toFixed(1)} s)`);
process.exitCode = failed > 0 ? 1 : 0;
