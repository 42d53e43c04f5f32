// The simulator with chains moving slots, from the command line (two chains unless --chains):
//   npx tsx scripts/sim-sharded.ts --seeds 2000 [--from 1]          sweep seeds
//   npx tsx scripts/sim-sharded.ts --seed 17 [--history] [--log]    replay one run
//   ... --rules frozenReadsServed | revisionCarried=false | ...      a protocol variant (sharded.ts ShardedRules)
//   ... --set watchDelayMsMax=150,clients=8                          options other than the defaults
// The same as `npm run sim -- --chains 2 ...` (src/testing/sim/sweep.ts). Exits 1 when any run fails.

import { sweepCommand } from '../src/testing/sim/sweep.js';

await sweepCommand(process.argv.slice(2), 2);
