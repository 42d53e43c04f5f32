// `npm run sim -- --seeds N [--from S]` sweeps seeds of one chain; `npm run sim -- --seed N` replays
// one run exactly and prints its trace hash (the same seed always prints the same hash);
// `--chains 2` runs chains moving slots (scripts/sim-sharded.ts's runs). Every flag:
// src/testing/sim/sweep.ts.

import { sweepCommand } from '../src/testing/sim/sweep.js';

await sweepCommand(process.argv.slice(2), 1);
