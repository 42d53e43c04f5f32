// The node's durability contract, tested against a simulated disk: an in-memory store whose
// syncs complete only when the test says, and which can crash (losing every unsynced write).
// SIGKILL cannot test this (the page cache survives it); this can. If a reply ever left before
// the sync covering its write, a crash right after would lose an acknowledged write.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client } from '../../src/client/client.js';
import { ManualClock } from '../../src/core/clock.js';
import { Prng } from '../../src/core/prng.js';
import { CatenaNode } from '../../src/server/node.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { tempDir } from '../helpers/tmp.js';

/** A memory store whose disk flushes only when told to. */
class SlowDiskStore extends MemoryStore {
  private waiters: (() => void)[] = [];

  override sync(): Promise<void> {
    if (this.isSynced()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The disk finishes writing: everything so far is durable, and its waiters are released. */
  flushDisk(): void {
    void super.sync();
    const waiters = this.waiters;
    this.waiters = [];
    for (const release of waiters) release();
  }

  /** Power loss: unsynced writes are gone, and the syncs waiting for them never complete. */
  override crash(): void {
    super.crash();
    this.waiters = [];
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('node durability against a simulated disk', () => {
  it('never acknowledges a write, or shows a value, before the disk has it', async () => {
    const store = new SlowDiskStore(new ManualClock());
    const dir = tempDir();
    const node = await CatenaNode.start({ dataDir: dir.path, port: 0, durability: 'fsync', openStore: () => store });
    const seed = 20261122;
    const prng = new Prng(seed);
    const random = () => prng.next();
    const acknowledged = new Map<string, string>();
    const observed: { key: string; value: string }[] = [];
    let client = await Client.connect({ port: node.port, timeoutMs: 60_000 });
    try {
      for (let round = 0; round < 40; round++) {
        const calls: Promise<unknown>[] = [];
        for (let i = 0; i < 20; i++) {
          const key = `k${Math.floor(random() * 30)}`;
          const value = `r${round}-${i}`;
          if (random() < 0.7) {
            calls.push(client.put(key, value).then(() => acknowledged.set(key, value)));
          } else {
            calls.push(
              client.get(key).then((entry) => {
                if (entry !== undefined) observed.push({ key, value: entry.value.toString() });
              }),
            );
          }
        }
        for (let t = 0; t < 3; t++) await tick();
        assert.equal(store.isSynced(), false, `round ${round}: writes are waiting for the disk (seed ${seed})`);
        if (random() < 0.7) {
          store.flushDisk();
          await Promise.all(calls);
          continue;
        }
        // Crash before the disk flushed: nothing issued this round may have been acknowledged.
        const settledBefore = acknowledged.size + observed.length;
        store.crash();
        for (const [key, value] of acknowledged) {
          assert.equal(
            store.get(Buffer.from(key))?.value.toString(),
            value,
            `acknowledged ${key} survives (seed ${seed})`,
          );
        }
        for (let t = 0; t < 3; t++) await tick();
        assert.equal(acknowledged.size + observed.length, settledBefore, 'a crashed round answers nothing');
        await client.close();
        for (const call of calls) await call.catch(() => undefined);
        client = await Client.connect({ port: node.port, timeoutMs: 60_000 });
      }
      // Every value a reader saw was durable when it saw it: it is either still there or was
      // overwritten later by an acknowledged write (never lost).
      for (const { key } of observed) assert.ok(store.get(Buffer.from(key)) !== undefined, `${key} seen, still stored`);
      assert.ok(acknowledged.size > 10, 'the run acknowledged writes');
    } finally {
      await client.close();
      store.flushDisk();
      await node.stop();
      dir.remove();
    }
  });
});
