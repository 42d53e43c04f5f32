import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { bytes, text } from '../helpers/tmp.js';
import { storeContract } from './contract.js';

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
