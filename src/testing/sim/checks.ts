// The checks every simulated run must pass (issue #3): a linearizable client history (which
// includes final reads of every key, so no acknowledged write can be lost unnoticed), the prefix
// property along the final chain, identical state on every live member at quiescence, and every
// client done.

import { checkHistory } from '../linearizability/checker.js';
import { probeOperations, type SimResult } from './cluster.js';

export function checkRun(result: SimResult): string[] {
  const failures: string[] = [];
  // Bounded: a run with very many unknown outcomes (a broken chain) could make the search
  // exponential; a healthy run needs a tiny fraction of this.
  const linearizable = checkHistory(result.history, { configurationsMax: 200_000 });
  if (!linearizable.ok) failures.push(`not linearizable on ${linearizable.key}: ${linearizable.reason}`);
  const members = result.config.members.map((id) => result.nodes.find((n) => n.id === id)!).filter((n) => n.alive);
  for (let i = 0; i + 1 < members.length; i++) {
    // Logs may start after a snapshot or a trim: compare what both hold, by sequence.
    const predecessor = new Map(members[i]!.log().map((e) => [e.sequence, e]));
    const successor = members[i + 1]!.log();
    const predecessorLast = Math.max(0, ...predecessor.keys());
    const prefix = successor.every((e) => {
      const other = predecessor.get(e.sequence);
      return e.sequence <= predecessorLast && (other === undefined || sameEntry(e, other));
    });
    if (!prefix) failures.push(`prefix property: ${members[i + 1]!.id}'s log is not a prefix of ${members[i]!.id}'s`);
  }
  const digests = new Set(members.map((n) => n.digest()));
  if (digests.size > 1)
    failures.push(`members differ at quiescence: ${members.map((n) => `${n.id}=${n.digest()}`).join(' | ')}`);
  for (const fatal of result.fatals) failures.push(`a node stopped: ${fatal}`);
  if (result.unfinishedClients > 0) failures.push(`${result.unfinishedClients} clients did not finish`);
  const stuck = result.probeOutputs.filter((output) => output === undefined).length;
  if (result.probeOutputs.length < probeOperations || stuck > 0) {
    const answered = result.probeOutputs.length - stuck;
    failures.push(`no progress after the faults healed: ${answered} of ${probeOperations} probe operations answered`);
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
