// The node's admission checks (src/server/admission.ts): what a node of a cluster refuses before
// a request reaches its replica, against its own (possibly stale) copy of the slot map.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { admissionRefusal, type AdmissionView, type FrozenSlots } from '../../src/server/admission.js';
import { mergeRanges, SlotTable, type SlotMap } from '../../src/sharding/slot-map.js';
import { keySlot } from '../../src/sharding/slots.js';

const key = Buffer.from('k1');
const slot = keySlot(key);

/** A replica whose only frozen slots and fences are the ones given. */
function replica(frozen: number[] = [], fences: [slot: number, handedAt: number][] = []): FrozenSlots {
  return {
    isFrozen: (s) => frozen.includes(s),
    handedOverSince: (s, mapVersion) => fences.some(([f, at]) => f === s && at > mapVersion),
    anyFrozen: () => frozen.length > 0,
  };
}

/** Slot `slot` owned by `owner`, every other slot by c0. */
function map(version: number, owner: string, migration?: SlotMap['migration']): SlotTable {
  const ranges: [number, number, string][] = [];
  if (slot > 0) ranges.push([0, slot - 1, 'c0']);
  ranges.push([slot, slot, owner]);
  if (slot < 16383) ranges.push([slot + 1, 16383, 'c0']);
  return new SlotTable({ version, ranges: mergeRanges(ranges), ...(migration === undefined ? {} : { migration }) });
}

const refusal = (view: AdmissionView, name: 'get' | 'put' | 'flush' | 'slotdrop' | 'mput' | 'mget', request: object) =>
  admissionRefusal(view, name, request)?.value as { code?: string; message?: string } | undefined;
const code = (view: AdmissionView, name: 'get' | 'put' | 'flush' | 'slotdrop' | 'mput' | 'mget', request: object) =>
  refusal(view, name, request)?.code;

describe('admission', () => {
  it('serves a key of a slot its chain owns, refuses one another chain owns (ERR_MOVED)', () => {
    assert.equal(code({ slots: map(3, 'c1'), chainId: 'c1', replica: replica() }, 'get', { key }), undefined);
    assert.equal(code({ slots: map(3, 'c1'), chainId: 'c0', replica: replica() }, 'get', { key }), 'ERR_MOVED');
  });

  // Issue 19: a native mput over two chains was split by the cluster client and answered with a
  // version, though each chain applied its part alone; a node must not take part of one either.
  it('refuses an mput whose keys are in two chains (ERR_CROSSSLOT), even where it owns some of them', () => {
    const other = Buffer.from('k2');
    assert.notEqual(keySlot(other), slot);
    const entries = [
      { key: other, value: Buffer.from('1') },
      { key, value: Buffer.from('2') },
    ];
    for (const chainId of ['c0', 'c1']) {
      const refused = refusal({ slots: map(3, 'c1'), chainId, replica: replica() }, 'mput', { entries });
      assert.equal(refused?.code, 'ERR_CROSSSLOT');
      assert.match(refused?.message ?? '', /"k2" \(slot \d+\) is in chain c0, "k1" \(slot \d+\) in chain c1/);
    }
    // One chain owns both: the owner takes it, another chain redirects.
    assert.equal(code({ slots: map(3, 'c0'), chainId: 'c0', replica: replica() }, 'mput', { entries }), undefined);
    assert.equal(code({ slots: map(3, 'c0'), chainId: 'c1', replica: replica() }, 'mput', { entries }), 'ERR_MOVED');
    // No slot map yet: one chain owns everything. mget is a read the cluster client splits.
    assert.equal(code({ slots: undefined, chainId: 'c0', replica: replica() }, 'mput', { entries }), undefined);
    const keys = entries.map((entry) => entry.key);
    assert.equal(code({ slots: map(3, 'c1'), chainId: 'c0', replica: replica() }, 'mget', { keys }), 'ERR_MOVED');
  });

  it('refuses a frozen slot, and a flush while any slot is frozen (ERR_SLOT_MOVING)', () => {
    const view = { slots: map(3, 'c1'), chainId: 'c1', replica: replica([slot]) };
    assert.equal(code(view, 'put', { key, value: Buffer.from('v') }), 'ERR_SLOT_MOVING');
    assert.equal(code(view, 'flush', {}), 'ERR_SLOT_MOVING');
  });

  // Found by the simulator running this code (issue #14): the fence a drop leaves (replica
  // slot-mover.ts handedOverSince) was recorded but never consulted, so a source node whose map
  // was older than the hand-over served the dropped slot as empty (a lost acknowledged write).
  it('refuses a slot dropped here by a hand-over newer than its map, until its map catches up', () => {
    const fenced = replica([], [[slot, 5]]);
    // Map 4: the slot still looks like c1's own, but c1 gave it up at map 5 and dropped it.
    assert.equal(code({ slots: map(4, 'c1'), chainId: 'c1', replica: fenced }, 'get', { key }), 'ERR_SLOT_MOVING');
    assert.equal(
      code({ slots: map(4, 'c1'), chainId: 'c1', replica: fenced }, 'put', { key, value: Buffer.from('v') }),
      'ERR_SLOT_MOVING',
    );
    assert.equal(code({ slots: undefined, chainId: 'c1', replica: fenced }, 'get', { key }), 'ERR_SLOT_MOVING');
    // Map 5 shows the hand-over: the slot is another chain's.
    assert.equal(code({ slots: map(5, 'c0'), chainId: 'c1', replica: fenced }, 'get', { key }), 'ERR_MOVED');
    // Moved back to c1 later (map 9): served again.
    assert.equal(code({ slots: map(9, 'c1'), chainId: 'c1', replica: fenced }, 'get', { key }), undefined);
  });

  it('admits a drop only once the map shows the hand-over', () => {
    const drop = { first: slot, last: slot, after: new Uint8Array(), limit: 10, mapVersion: 5n };
    const frozen = replica([slot]);
    assert.equal(code({ slots: map(4, 'c1'), chainId: 'c1', replica: frozen }, 'slotdrop', drop), 'ERR_SLOT_MOVING');
    assert.equal(code({ slots: map(5, 'c0'), chainId: 'c1', replica: frozen }, 'slotdrop', drop), undefined);
  });
});
