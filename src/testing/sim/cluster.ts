// The simulator's one-chain runs (`npm run sim`, test/sim/sim.test.ts): the one simulator
// (simulation.ts) with a single chain, no slot map changes and no manager, run synchronously.
// These defaults are the one-chain sweep's; sharded.ts holds those of runs with several chains.

import type { SimOptions } from './simulation.js';

export { SimNode, type SimOp } from './sim-node.js';
export {
  probeOperations,
  simulate,
  simulateAsync,
  type SimOptions,
  type SimResult,
  type SimVariant,
} from './simulation.js';

export const defaultSimOptions: Omit<SimOptions, 'seed'> = {
  chains: 1,
  nodes: 3,
  clients: 5,
  operationsPerClient: 30,
  keys: 3,
  dropRate: 0.02,
  duplicateRate: 0.02,
  crashes: 1,
  partitions: 1,
  coordinatorPartitions: 1,
  oneWayPartitions: 1,
  pauses: 1,
  sessionTimeoutMs: 300,
  clientTimeoutMs: 150,
  diskStallRate: 0.1,
  powerFailureRate: 0.2,
};
