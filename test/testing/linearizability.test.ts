import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkHistory } from '../../src/testing/linearizability/checker.js';
import { generateHistory } from '../../src/testing/linearizability/generate.js';
import type { Input, Operation, Output } from '../../src/testing/linearizability/history.js';
import { stepRegister } from '../../src/testing/linearizability/register-model.js';

let nextClient = 0;
/** One operation on key k from call to return; output undefined = timed out. */
const op = (callAt: number, returnAt: number, input: Input, output: Output | undefined, key = 'k'): Operation => ({
  client: nextClient++,
  key,
  input,
  output,
  callAt,
  returnAt,
});
const put = (value: string) => ({ f: 'put', value }) as const;
const get = { f: 'get' } as const;
const found = (value: string, version: number): Output => ({ f: 'get', found: true, value, version });
const missing: Output = { f: 'get', found: false };

const linearizable = (history: Operation[]) => assert.deepEqual(checkHistory(history).ok, true);
const notLinearizable = (history: Operation[]) => {
  const result = checkHistory(history);
  assert.equal(result.ok, false, 'the checker must reject this history');
};

describe('linearizability checker: hand-written histories', () => {
  it('accepts a sequential history that follows the register', () => {
    linearizable([
      op(0, 1, put('a'), { f: 'put', version: 1 }),
      op(2, 3, get, found('a', 1)),
      op(4, 5, { f: 'del' }, { f: 'del', deleted: true }),
      op(6, 7, get, missing),
    ]);
  });

  it('rejects a stale read: a value read after a newer write completed', () => {
    notLinearizable([
      op(0, 1, put('a'), { f: 'put', version: 1 }),
      op(2, 3, put('b'), { f: 'put', version: 2 }),
      op(4, 5, get, found('a', 1)),
    ]);
  });

  it('accepts either value for a read concurrent with a write', () => {
    const before = [op(0, 1, put('a'), { f: 'put', version: 1 }), op(2, 6, put('b'), { f: 'put', version: 2 })];
    linearizable([...before, op(3, 4, get, found('a', 1))]);
    linearizable([...before, op(3, 4, get, found('b', 2))]);
  });

  it('rejects a lost write: an acknowledged put that a later read does not see', () => {
    notLinearizable([op(0, 1, put('a'), { f: 'put', version: 1 }), op(2, 3, get, missing)]);
  });

  it('rejects a duplicated incr (a retry applied twice)', () => {
    const incr = { f: 'incr', delta: 1n } as const;
    const history = [op(0, 1, incr, { f: 'incr', value: 1n }), op(2, 3, incr, { f: 'incr', value: 2n })];
    linearizable([...history, op(4, 5, get, found('2', 9))]);
    notLinearizable([...history, op(4, 5, get, found('3', 9))]);
  });

  it('treats a timed-out write as possibly applied, at any time after its call, or never', () => {
    const lost = op(0, 0, put('a'), undefined);
    linearizable([lost, op(5, 6, get, found('a', 7))]);
    linearizable([lost, op(5, 6, get, missing)]);
    linearizable([lost, op(5, 6, get, missing), op(7, 8, get, found('a', 7))]);
    // Once seen, it cannot be undone.
    notLinearizable([lost, op(5, 6, get, found('a', 7)), op(7, 8, get, missing)]);
    // It cannot take effect before it was called.
    notLinearizable([op(0, 1, get, found('a', 7)), op(2, 2, put('a'), undefined)]);
  });

  it('lets a timed-out operation that would have been refused count as never applied', () => {
    linearizable([
      op(0, 1, put('abc'), { f: 'put', version: 1 }),
      op(2, 2, { f: 'incr', delta: 1n }, undefined),
      op(3, 4, get, found('abc', 1)),
    ]);
  });

  it('never finds an operation with an unknown outcome impossible (property)', () => {
    const values = fc.option(fc.oneof(fc.constantFrom('0', '-5', '9223372036854775807', 'abc', ''), fc.string()), {
      nil: null,
    });
    const state = fc.record({ value: values, version: fc.nat(100), exact: fc.boolean() });
    const input = fc.oneof(
      fc.constant<Input>({ f: 'get' }),
      fc.string().map((value): Input => ({ f: 'put', value })),
      fc.constant<Input>({ f: 'del' }),
      fc.record({ expectedVersion: fc.nat(100), value: fc.string() }).map((c): Input => ({ f: 'cas', ...c })),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((delta): Input => ({ f: 'incr', delta })),
      fc.string().map((value): Input => ({ f: 'append', value })),
    );
    fc.assert(fc.property(state, input, (s, i) => stepRegister(s, i, undefined) !== undefined));
  });

  it('requires versions to grow with every write, with gaps allowed', () => {
    linearizable([op(0, 1, put('a'), { f: 'put', version: 5 }), op(2, 3, put('b'), { f: 'put', version: 9 })]);
    notLinearizable([op(0, 1, put('a'), { f: 'put', version: 5 }), op(2, 3, put('b'), { f: 'put', version: 3 })]);
    notLinearizable([op(0, 1, put('a'), { f: 'put', version: 5 }), op(2, 3, get, found('a', 6))]);
  });

  it('follows compare-and-set on versions (0 = absent)', () => {
    const created = op(0, 1, { f: 'cas', expectedVersion: 0, value: 'x' }, { f: 'cas', swapped: true, version: 4 });
    linearizable([created, op(2, 3, get, found('x', 4))]);
    linearizable([
      created,
      op(2, 3, { f: 'cas', expectedVersion: 4, value: 'y' }, { f: 'cas', swapped: true, version: 8 }),
      op(4, 5, { f: 'cas', expectedVersion: 4, value: 'z' }, { f: 'cas', swapped: false, currentVersion: 8 }),
      op(6, 7, get, found('y', 8)),
    ]);
    // Two writers cannot both swap from the same version.
    notLinearizable([
      created,
      op(2, 3, { f: 'cas', expectedVersion: 4, value: 'y' }, { f: 'cas', swapped: true, version: 8 }),
      op(4, 5, { f: 'cas', expectedVersion: 4, value: 'z' }, { f: 'cas', swapped: true, version: 9 }),
    ]);
  });

  it('follows append lengths and incr refusals', () => {
    linearizable([
      op(0, 1, { f: 'append', value: 'ab' }, { f: 'append', length: 2 }),
      op(2, 3, { f: 'append', value: 'c' }, { f: 'append', length: 3 }),
      op(4, 5, { f: 'incr', delta: 1n }, { f: 'error', reason: 'not-an-integer' }),
      op(6, 7, get, found('abc', 10)),
    ]);
    notLinearizable([
      op(0, 1, { f: 'append', value: 'ab' }, { f: 'append', length: 2 }),
      op(2, 3, { f: 'append', value: 'c' }, { f: 'append', length: 5 }),
    ]);
    notLinearizable([op(0, 1, { f: 'incr', delta: 1n }, { f: 'error', reason: 'not-an-integer' })]);
  });

  it('checks histories without versions (Redis GET and SET) by value alone', () => {
    const set = (value: string, callAt: number, returnAt: number) => op(callAt, returnAt, put(value), { f: 'put' });
    const read = (value: string, callAt: number, returnAt: number): Operation =>
      op(callAt, returnAt, get, { f: 'get', found: true, value });
    linearizable([set('a', 0, 1), read('a', 2, 3), set('b', 4, 5), read('b', 6, 7)]);
    notLinearizable([set('a', 0, 1), set('b', 2, 3), read('a', 4, 5)]);
    linearizable([set('a', 0, 1), set('b', 2, 6), read('a', 3, 4), read('b', 7, 8)]);
    notLinearizable([set('a', 0, 1), set('b', 2, 6), read('b', 3, 4), read('a', 5, 7)]);
  });

  it('checks keys independently and names the key that fails', () => {
    const result = checkHistory([
      op(0, 1, put('a'), { f: 'put', version: 1 }, 'good'),
      op(0, 1, put('a'), { f: 'put', version: 2 }, 'bad'),
      op(2, 3, get, missing, 'bad'),
      op(2, 3, get, found('a', 1), 'good'),
    ]);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.key, 'bad');
  });
});

describe('linearizability checker: generated histories', () => {
  it('accepts histories of a correct store, with timeouts, for many seeds', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const history = generateHistory({ operations: 400, clients: 10, keys: 3, seed });
      const result = checkHistory(history);
      assert.equal(result.ok, true, `seed ${seed}: ${!result.ok ? result.reason : ''}`);
    }
  });

  it('rejects each of those histories once one read is made stale', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const history = generateHistory({ operations: 400, clients: 10, keys: 3, seed });
      const end = Math.max(...history.map((o) => o.returnAt));
      // Find a value that key k0 held earlier but not at the end, and read it after everything.
      const written = history.filter((o) => o.key === 'k0' && o.input.f === 'put' && o.output?.f === 'put');
      const first = written[0];
      if (first === undefined || first.input.f !== 'put' || first.output?.f !== 'put') continue;
      const stale = op(end + 1, end + 2, get, found(first.input.value, first.output.version!), 'k0');
      const lastWrite = op(end + 3, end + 4, put('final'), { f: 'put', version: 1_000_000 }, 'k0');
      const result = checkHistory([...history, lastWrite, { ...stale, callAt: end + 5, returnAt: end + 6 }]);
      assert.equal(result.ok, false, `seed ${seed}: the stale read is caught`);
      assert.equal(!result.ok && result.key, 'k0');
    }
  });

  it('checks 10,000-operation histories from 50 clients over 20 keys', () => {
    for (const seed of [1, 2, 3]) {
      const history = generateHistory({ operations: 10_000, clients: 50, keys: 20, seed });
      const result = checkHistory(history);
      assert.deepEqual(result, { ok: true, keys: 20, operations: 10_000 }, `seed ${seed}`);
    }
  });
});
