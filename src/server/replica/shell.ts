// What the parts of the replica (the effect executor, the snapshot sender and receiver, the log
// trimmer, the expiry reclaimer) may see of the replica that holds them: one narrow interface
// instead of each reaching into the others' fields.

import type { Logger } from '../../core/log.js';
import type { ChainConfig } from '../../replication/chain-config.js';
import type { ChainNode } from '../../replication/chain-node.js';
import type { Effect } from '../../replication/effects.js';
import type { ReplicaStore } from '../../storage/log-store.js';
import type { ReplicatedOp } from '../chain-wire.js';
import type { ReplicaEnvironment, ReplicaPeers } from './environment.js';

export interface ReplicaShell {
  readonly self: string;
  readonly store: ReplicaStore;
  readonly env: ReplicaEnvironment;
  readonly log: Logger;
  /** The current core (replaced when a snapshot is installed or the node moves chains). */
  core(): ChainNode<ReplicatedOp>;
  config(): ChainConfig | undefined;
  peers(): ReplicaPeers | undefined;
  /** Raised whenever the core is replaced: completions for an older core are ignored. */
  generation(): number;
  /** False once stopped, or while a snapshot is being received (the core is left alone). */
  active(): boolean;
  stopped(): boolean;
  run(effects: readonly Effect<ReplicatedOp>[]): void;
  fatal(error: unknown): void;
}
