// The checks every simulated run must pass (simulation.ts), whatever its number of chains: a
// linearizable client history over every key (which includes final reads of every key at its
// owner, so no acknowledged write can be lost unnoticed); per chain, the prefix property along
// the final chain and identical state on every live member at quiescence; no node stopped on a
// broken invariant; every client done, and a probe client's operations all answered once every
// fault has healed. With slots moving: the last move finished, no slot left frozen, no copy of a
// slot left on a chain that gave it up, every node's slot map current.

import { keySlot } from '../../sharding/slots.js';
import { checkHistory } from '../linearizability/checker.js';
import type { ChainConfig } from '../../replication/chain-config.js';
import { probeOperations, type SimResult } from './simulation.js';

export function checkRun(result: SimResult): string[] {
  const failures: string[] = [];
  // Bounded: a run with very many unknown outcomes (a broken chain) could make the search
  // exponential; a healthy run needs a tiny fraction of this.
  const linearizable = checkHistory(result.history, { configurationsMax: 200_000 });
  if (!linearizable.ok) failures.push(`not linearizable on ${linearizable.key}: ${linearizable.reason}`);
  for (const config of result.configs) failures.push(...checkChain(result, config));
  for (const fatal of result.fatals) failures.push(`a node stopped: ${fatal}`);
  for (const read of result.undurableReads) failures.push(`a read saw what is not durable everywhere: ${read}`);
  if (result.unhealed !== undefined) failures.push(`a node never rejoined its chain: ${result.unhealed}`);
  for (const key of result.unreadKeys) failures.push(`no final read of ${key}: its owner's tail cannot serve reads`);
  if (result.map.map.migration !== undefined)
    failures.push(`a move never finished: ${JSON.stringify(result.map.map.migration)}`);
  if (result.unfinishedClients > 0) failures.push(`${result.unfinishedClients} clients did not finish`);
  const stuck = result.probeOutputs.filter((output) => output === undefined).length;
  if (result.probeOutputs.length < probeOperations || stuck > 0) {
    const answered = result.probeOutputs.length - stuck;
    failures.push(`no progress after the faults healed: ${answered} of ${probeOperations} probe operations answered`);
  }
  return failures;
}

function checkChain(result: SimResult, config: ChainConfig): string[] {
  const failures: string[] = [];
  const members = config.members.map((id) => result.processes.find((p) => p.id === id)!).filter((p) => p.node.alive);
  for (let i = 0; i + 1 < members.length; i++) {
    // Logs may start after a snapshot or a trim: compare what both hold, by sequence.
    const predecessor = new Map(members[i]!.node.log().map((e) => [e.sequence, e]));
    const successor = members[i + 1]!.node.log();
    // (A predecessor that installed a snapshot holds no entries up to it, but its log ends there.)
    const installedAt = members[i]!.node.store.readMeta().position.lastSequence;
    const predecessorLast = Math.max(0, installedAt, ...predecessor.keys());
    const prefix = successor.every((e) => {
      const other = predecessor.get(e.sequence);
      return e.sequence <= predecessorLast && (other === undefined || sameEntry(e, other));
    });
    if (!prefix) failures.push(`prefix property: ${members[i + 1]!.id}'s log is not a prefix of ${members[i]!.id}'s`);
  }
  const digests = new Set(members.map((p) => p.node.digest()));
  if (digests.size > 1) {
    const which = result.chains === 1 ? 'members' : `members of ${config.chainId}`;
    failures.push(`${which} differ at quiescence: ${members.map((p) => `${p.id}=${p.node.digest()}`).join(' | ')}`);
  }
  if (result.chains === 1) return failures;
  for (const process of members) {
    const replica = process.node.replica;
    if (replica.anyFrozen()) failures.push(`${process.id} still has slots frozen`);
    const stray = process.node.store
      .scan({ limit: 100_000 })
      .entries.map((e) => e.key)
      .filter((key) => result.map.ownerOf(keySlot(key)) !== config.chainId)
      .map((key) => Buffer.from(key).toString());
    if (stray.length > 0) failures.push(`${process.id} keeps ${stray.join(',')} of slots another chain owns`);
    if (process.slots?.version !== result.map.version)
      failures.push(`${process.id} still has slot map ${process.slots?.version ?? 'none'} of ${result.map.version}`);
  }
  return failures;
}

function sameEntry(
  a: { sequence: number; requestId: { clientId: string; clientSequence: number } },
  b: typeof a,
): boolean {
  return (
    a.sequence === b.sequence &&
    a.requestId.clientId === b.requestId.clientId &&
    a.requestId.clientSequence === b.requestId.clientSequence
  );
}
