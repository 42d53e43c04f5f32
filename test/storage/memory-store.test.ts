import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { bytes, text } from '../helpers/tmp.js';
import { storeContract } from './contract.js';
import { logStoreContract, record } from './log-store-contract.js';

storeContract('memory', () => ({
  open: (clock) => new MemoryStore(clock),
  // The in-memory engine's "disk" is the object itself: a clean restart keeps what was synced.
  reopen: (store) => Promise.resolve(store),
  cleanup: () => undefined,
}));

it('memory store: a crash loses exactly the unsynced writes', async () => {
  const store = new MemoryStore(new ManualClock());
  store.put(bytes('a'), bytes('1'));
  store.put(bytes('b'), bytes('1'));
  await store.sync();
  const synced = store.put(bytes('c'), bytes('1'));
  store.put(bytes('a'), bytes('2'));
  store.delete(bytes('b'));
  store.clear();
  store.put(bytes('z'), bytes('9'));
  store.crash();
  assert.deepEqual(
    store.scan({ limit: 10 }).entries.map((e) => [text(e.key), text(e.value)]),
    [
      ['a', '1'],
      ['b', '1'],
    ],
  );
  assert.equal(store.size(), 2);
  assert.equal(store.bytes(), 4);
  assert.equal(store.put(bytes('d'), bytes('1')), synced, 'the revision rolls back with the data');
});

logStoreContract('memory', () => ({
  open: (clock) => new MemoryStore(clock),
  reopen: (store) => Promise.resolve(store),
  cleanup: () => undefined,
}));

it('memory store: a crash loses the unsynced log, meta and data writes together', async () => {
  const store = new MemoryStore(new ManualClock());
  store.put(bytes('a'), bytes('1'));
  store.appendEntry(1, record(1));
  store.writeMeta('position', { lastSequence: 1, lastEpoch: 1 });
  await store.sync();
  store.put(bytes('b'), bytes('2'));
  store.appendEntry(2, record(2));
  store.writeMeta('position', { lastSequence: 2, lastEpoch: 1 });
  store.putClient('c', { clientSequence: 1, result: undefined, sequence: 2 });
  store.crash();
  assert.equal(store.get(bytes('b')), undefined);
  assert.deepEqual(store.logBounds(), { first: 1, last: 1 });
  assert.deepEqual(store.readMeta().position, { lastSequence: 1, lastEpoch: 1 });
  assert.deepEqual([...store.clients()], []);
  assert.ok(store.isSynced());
});

it('memory store: a crash may keep a prefix of the unsynced turns, each whole', () => {
  const store = new MemoryStore(new ManualClock());
  for (let turn = 1; turn <= 3; turn++) {
    store.put(bytes(`k${turn}`), bytes('v'));
    store.appendEntry(turn, record(turn));
    store.writeMeta('position', { lastSequence: turn, lastEpoch: 1 });
    store.endTurn();
  }
  assert.equal(store.unsyncedTurns, 3);
  store.crash(2);
  assert.deepEqual(
    store.scan({ limit: 10 }).entries.map((e) => text(e.key)),
    ['k1', 'k2'],
  );
  assert.deepEqual(store.logBounds(), { first: 1, last: 2 });
  assert.deepEqual(store.readMeta().position, { lastSequence: 2, lastEpoch: 1 });
  assert.equal(store.unsyncedTurns, 0);
});
