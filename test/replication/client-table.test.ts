import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ClientTable } from '../../src/replication/client-table.js';

const id = (clientId: string, clientSequence: number) => ({ clientId, clientSequence });

describe('client table (exactly-once writes)', () => {
  it('a retried write finds its first result and is not applied again', () => {
    const table = new ClientTable<string>({ clientsMax: 10, idleEntriesMax: 100 });
    assert.deepEqual(table.lookup(id('c1', 1)), { kind: 'new' });
    table.record(id('c1', 1), 'incr -> 5', 1);
    assert.deepEqual(table.lookup(id('c1', 1)), { kind: 'duplicate', result: 'incr -> 5' });
    assert.deepEqual(table.lookup(id('c1', 2)), { kind: 'new' });
    assert.deepEqual(table.lookup(id('c2', 1)), { kind: 'new' }, 'clients are independent');
  });

  it('a late copy of an older write is stale: applied never, answered never', () => {
    const table = new ClientTable<string>({ clientsMax: 10, idleEntriesMax: 100 });
    table.record(id('c1', 1), 'a', 1);
    table.record(id('c1', 2), 'b', 2);
    assert.deepEqual(table.lookup(id('c1', 1)), { kind: 'stale' });
  });

  it('forgets clients idle for more than idleEntriesMax entries, and the oldest past clientsMax', () => {
    const table = new ClientTable<string>({ clientsMax: 2, idleEntriesMax: 10 });
    table.record(id('a', 1), 'a1', 1);
    table.record(id('b', 1), 'b1', 2);
    table.record(id('c', 1), 'c1', 3);
    assert.equal(table.size, 2);
    assert.deepEqual(table.lookup(id('a', 1)), { kind: 'new' }, 'the oldest client was forgotten');
    table.record(id('c', 2), 'c2', 20);
    assert.deepEqual(table.lookup(id('b', 1)), { kind: 'new' }, 'b was idle for 18 entries');
    assert.deepEqual(table.lookup(id('c', 2)), { kind: 'duplicate', result: 'c2' });
  });

  it('replicas applying the same log build the same table, and a snapshot restores it (property)', () => {
    const limits = { clientsMax: 3, idleEntriesMax: 7 };
    const write = fc.record({ client: fc.constantFrom('a', 'b', 'c', 'd', 'e'), retry: fc.boolean() });
    fc.assert(
      fc.property(fc.array(write, { maxLength: 80 }), (writes) => {
        const replicas = [new ClientTable<number>(limits), new ClientTable<number>(limits)];
        const next = new Map<string, number>();
        writes.forEach((w, index) => {
          const sequence = index + 1;
          const clientSequence = w.retry ? (next.get(w.client) ?? 1) : (next.get(w.client) ?? 0) + 1;
          next.set(w.client, clientSequence);
          for (const table of replicas) {
            if (table.lookup(id(w.client, clientSequence)).kind === 'new')
              table.record(id(w.client, clientSequence), sequence, sequence);
          }
        });
        assert.deepEqual(replicas[0]!.snapshot(), replicas[1]!.snapshot());
        const restored = ClientTable.restore(limits, replicas[0]!.snapshot());
        assert.deepEqual(restored.snapshot(), replicas[0]!.snapshot());
        assert.ok(restored.size <= limits.clientsMax);
      }),
    );
  });
});
