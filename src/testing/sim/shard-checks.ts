// The checks every two-chain run must pass (sharded.ts), after the faults healed and the last
// move ended: a linearizable history over every key (final reads at each key's owner included,
// so a lost acknowledged write shows), and per chain the prefix property and identical members;
// no slot left frozen, no copy of a slot left on the chain that gave it up, every node's slot map
// current; every client done, and a probe client's operations all answered.

import type { ChainConfig } from '../../replication/chain-config.js';
import { checkHistory } from '../linearizability/checker.js';
import type { Operation, Output } from '../linearizability/history.js';
import type { ShardMap, ShardNode } from './shard-node.js';

export interface ShardedEnd {
  readonly history: readonly Operation[];
  readonly nodes: readonly ShardNode[];
  readonly configs: readonly ChainConfig[];
  readonly map: ShardMap;
  readonly unfinishedClients: number;
  readonly probeOutputs: readonly (Output | undefined)[];
  readonly probeOperations: number;
}

export function checkSharded(end: ShardedEnd): string[] {
  const failures: string[] = [];
  // Bounded, as checks.ts: a broken run with many unknown outcomes could make the search exponential.
  const linearizable = checkHistory(end.history, { configurationsMax: 200_000 });
  if (!linearizable.ok) failures.push(`not linearizable on ${linearizable.key}: ${linearizable.reason}`);
  if (end.map.move !== undefined) failures.push(`a move never finished: ${JSON.stringify(end.map.move)}`);
  for (const config of end.configs) failures.push(...checkChain(end, config));
  if (end.unfinishedClients > 0) failures.push(`${end.unfinishedClients} clients did not finish`);
  const stuck = end.probeOutputs.filter((output) => output === undefined).length;
  if (end.probeOutputs.length < end.probeOperations || stuck > 0) {
    const answered = end.probeOutputs.length - stuck;
    failures.push(
      `no progress after the faults healed: ${answered} of ${end.probeOperations} probe operations answered`,
    );
  }
  return failures;
}

function checkChain(end: ShardedEnd, config: ChainConfig): string[] {
  const failures: string[] = [];
  const members = config.members.map((id) => end.nodes.find((n) => n.id === id)!).filter((n) => n.alive);
  for (let i = 0; i + 1 < members.length; i++) {
    const predecessor = members[i]!.log;
    const successor = members[i + 1]!.log;
    const prefix =
      successor.length <= predecessor.length &&
      successor.every((e, j) => {
        const p = predecessor[j]!;
        return (
          e.sequence === p.sequence &&
          e.requestId.clientId === p.requestId.clientId &&
          e.requestId.clientSequence === p.requestId.clientSequence
        );
      });
    if (!prefix) failures.push(`prefix property: ${members[i + 1]!.id}'s log is not a prefix of ${members[i]!.id}'s`);
  }
  const digests = new Set(members.map((n) => n.digest()));
  if (digests.size > 1)
    failures.push(`members of ${config.chainId} differ: ${members.map((n) => `${n.id}=${n.digest()}`).join(' | ')}`);
  for (const node of members) {
    if (node.frozen.size > 0) failures.push(`${node.id} still has slots ${[...node.frozen].join(',')} frozen`);
    const stray = node.strayKeys(end.map.owners);
    if (stray.length > 0) failures.push(`${node.id} keeps ${stray.join(',')} of slots another chain owns`);
    if (node.view.version !== end.map.version)
      failures.push(`${node.id} still has slot map ${node.view.version} of ${end.map.version}`);
  }
  return failures;
}
