// Measures the linearizability checker on a generated history: `npx tsx bench/linearizability.ts`
// [operations=10000] [clients=50] [keys=20]. Issue #3 asks for 10,000 operations, 50 clients and
// 20 keys in under 10 s on the 2-core machine.

import { checkHistory } from '../src/testing/linearizability/checker.js';
import { generateHistory } from '../src/testing/linearizability/generate.js';

const [operations = 10_000, clients = 50, keys = 20] = process.argv.slice(2).map(Number);
for (const seed of [1, 2, 3]) {
  const history = generateHistory({ operations, clients, keys, seed });
  const started = performance.now();
  const result = checkHistory(history);
  const ms = performance.now() - started;
  const unknown = history.filter((o) => o.output === undefined).length;
  console.log(
    `seed ${seed}: ${operations} operations (${unknown} timed out), ${clients} clients, ${keys} keys: ` +
      `${result.ok ? 'linearizable' : `NOT linearizable (${result.key}: ${result.reason})`} in ${ms.toFixed(0)} ms`,
  );
}
