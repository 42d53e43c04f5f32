// The command table: each command's execute against an in-memory store on a manual clock, its
// argument checks, its word parser (CLI and shell) and its renderer, and the table's own
// consistency with the protocol.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import {
  commandNames,
  commandTable,
  isCommandName,
  type CommandContext,
  type NodeFacts,
  type ReplyInit,
} from '../../src/commands/index.js';
import type { CommandName } from '../../src/commands/types.js';
import { ManualClock } from '../../src/core/clock.js';
import { CatenaError, type ErrorCode } from '../../src/core/errors.js';
import { keyBytesMax, scanCountMax, scanReplyBytesMax, ttlMsMax, valueBytesMaxDefault } from '../../src/core/limits.js';
import {
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type RequestCommand,
  type ResponseResult,
} from '../../src/protocol/native/codec.js';
import {
  AppendReplySchema,
  AppendRequestSchema,
  CasReplySchema,
  CasRequestSchema,
  DelReplySchema,
  DelRequestSchema,
  ExpireReplySchema,
  ExpireRequestSchema,
  GetKeysReplySchema,
  GetKeysRequestSchema,
  GetReplySchema,
  GetRequestSchema,
  GetTableReplySchema,
  GetTableRequestSchema,
  IncrReplySchema,
  IncrRequestSchema,
  NodeStatusReplySchema,
  NodeStatusRequestSchema,
  PingReplySchema,
  PingRequestSchema,
  PutReplySchema,
  PutRequestSchema,
  RequestSchema,
  ResponseSchema,
  ScanReplySchema,
  ScanRequestSchema,
  SizeReplySchema,
  SizeRequestSchema,
  StatsReplySchema,
  StatsRequestSchema,
  TopologyReplySchema,
  TopologyRequestSchema,
  TtlReplySchema,
  TtlRequestSchema,
} from '../../src/protocol/native/gen/catena_pb.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { bytes, text } from '../helpers/tmp.js';

// ---- Harness ------------------------------------------------------------------------------------

const commandStats: ReturnType<NodeFacts['commandStats']> = [
  { name: 'get', calls: 3n, errors: 1n, p50Us: 10n, p99Us: 20n, p999Us: 30n, maxUs: 40n },
];

/** What the harness node says about its cluster: two chains, one with a node joining. */
const clusterTopology: ReplyInit<'topology'> = {
  cluster: 'prod',
  manager: 'node-1',
  chains: [
    { chainId: 'c0', epoch: 4n, members: ['node-1', 'node-2', 'node-3'], joining: 'node-4' },
    { chainId: 'c1', epoch: 1n, members: ['node-5'] },
  ],
  nodes: [
    { nodeId: 'node-1', native: '10.0.0.1:7400', resp: '10.0.0.1:6379', memcached: '', admin: '10.0.0.1:7401' },
    { nodeId: 'node-2', native: '10.0.0.2:7400' },
  ],
};

/** What the harness node says about its own replication state. */
const middleStatus: ReplyInit<'nodestatus'> = {
  nodeId: 'node-2',
  chainId: 'c0',
  role: 'middle',
  epoch: 4n,
  lastSequence: 120n,
  persistedSequence: 118n,
  committedSequence: 110n,
  sessionConnected: true,
  servingReads: true,
  manager: false,
};

interface Harness {
  ctx: CommandContext;
  store: MemoryStore;
  clock: ManualClock;
}

function harness(valueBytesMax = 64, facts: Partial<NodeFacts> = {}): Harness {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const node: NodeFacts = {
    nodeId: 'node-1',
    durability: 'memory',
    startedAtMs: clock.nowMs() - 5_000,
    version: '9.9.9',
    connections: () => ({ open: 2, total: 7 }),
    commandStats: () => commandStats,
    protocolErrors: () => 3,
    topology: () => clusterTopology,
    nodeStatus: () => middleStatus,
    ...facts,
  };
  return { ctx: { store, clock, valueBytesMax, node }, store, clock };
}

/** A reply as it reaches a client: every field present (proto3 defaults filled in), no $typeName. */
function reply<T extends object>(message: T): Omit<T, '$typeName'> {
  return normalize(message, false) as Omit<T, '$typeName'>;
}

/** Drops protobuf bookkeeping ($typeName, $unknown) at every depth; bytes as hex if asked. */
function normalize(value: unknown, bytesAsHex: boolean): unknown {
  if (value instanceof Uint8Array) return bytesAsHex ? `0x${Buffer.from(value).toString('hex')}` : value;
  if (Array.isArray(value)) return value.map((item: unknown) => normalize(item, bytesAsHex));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([name]) => !name.startsWith('$'))
        .map(([name, item]) => [name, normalize(item, bytesAsHex)]),
    );
  }
  return value;
}

// One typed runner per command: a request built from fields, the reply with its defaults.
const run = {
  put: (h: Harness, key: Uint8Array, value: Uint8Array, ttlMs = 0n) =>
    reply(create(PutReplySchema, commandTable.put.execute(h.ctx, create(PutRequestSchema, { key, value, ttlMs })))),
  get: (h: Harness, key: Uint8Array) =>
    reply(create(GetReplySchema, commandTable.get.execute(h.ctx, create(GetRequestSchema, { key })))),
  del: (h: Harness, key: Uint8Array) =>
    reply(create(DelReplySchema, commandTable.del.execute(h.ctx, create(DelRequestSchema, { key })))),
  size: (h: Harness) => reply(create(SizeReplySchema, commandTable.size.execute(h.ctx, create(SizeRequestSchema)))),
  getkeys: (h: Harness, prefix: Uint8Array, limit: number) =>
    reply(
      create(GetKeysReplySchema, commandTable.getkeys.execute(h.ctx, create(GetKeysRequestSchema, { prefix, limit }))),
    ),
  gettable: (h: Harness, prefix: Uint8Array, limit: number) =>
    reply(
      create(
        GetTableReplySchema,
        commandTable.gettable.execute(h.ctx, create(GetTableRequestSchema, { prefix, limit })),
      ),
    ),
  stats: (h: Harness) => reply(create(StatsReplySchema, commandTable.stats.execute(h.ctx, create(StatsRequestSchema)))),
  cas: (h: Harness, key: Uint8Array, expectedVersion: bigint, value: Uint8Array, ttlMs = 0n) =>
    reply(
      create(
        CasReplySchema,
        commandTable.cas.execute(h.ctx, create(CasRequestSchema, { key, expectedVersion, value, ttlMs })),
      ),
    ),
  incr: (h: Harness, key: Uint8Array, delta: bigint) =>
    reply(create(IncrReplySchema, commandTable.incr.execute(h.ctx, create(IncrRequestSchema, { key, delta })))),
  append: (h: Harness, key: Uint8Array, value: Uint8Array) =>
    reply(create(AppendReplySchema, commandTable.append.execute(h.ctx, create(AppendRequestSchema, { key, value })))),
  expire: (h: Harness, key: Uint8Array, ttlMs: bigint) =>
    reply(create(ExpireReplySchema, commandTable.expire.execute(h.ctx, create(ExpireRequestSchema, { key, ttlMs })))),
  ttl: (h: Harness, key: Uint8Array) =>
    reply(create(TtlReplySchema, commandTable.ttl.execute(h.ctx, create(TtlRequestSchema, { key })))),
  scan: (h: Harness, init: { prefix?: Uint8Array; after?: Uint8Array; limit?: number; keysOnly?: boolean }) =>
    reply(create(ScanReplySchema, commandTable.scan.execute(h.ctx, create(ScanRequestSchema, init)))),
  ping: (h: Harness, message?: Uint8Array) =>
    reply(
      create(
        PingReplySchema,
        commandTable.ping.execute(h.ctx, create(PingRequestSchema, message === undefined ? {} : { message })),
      ),
    ),
  topology: (h: Harness) =>
    reply(create(TopologyReplySchema, commandTable.topology.execute(h.ctx, create(TopologyRequestSchema)))),
  nodestatus: (h: Harness) =>
    reply(create(NodeStatusReplySchema, commandTable.nodestatus.execute(h.ctx, create(NodeStatusRequestSchema)))),
};

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp | string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CatenaError, `expected a CatenaError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (typeof message === 'string')
      assert.ok(error.message.includes(message), `"${error.message}" names "${message}"`);
    else if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

const keysOf = (entries: readonly { key: Uint8Array }[]): (string | undefined)[] => entries.map((e) => text(e.key));
const cursorText = (cursor: Uint8Array | undefined): string =>
  cursor === undefined ? '' : Buffer.from(cursor).toString();

// ---- The table ----------------------------------------------------------------------------------

describe('command table', () => {
  it('every entry is filed under its own name', () => {
    for (const [key, definition] of Object.entries(commandTable)) {
      assert.equal(definition.name, key);
      assert.ok(definition.summary.length > 0, `${key} has a summary`);
      assert.ok(definition.usage.startsWith(key), `${key}'s usage "${definition.usage}" starts with its name`);
    }
    assert.deepEqual([...commandNames].sort(), Object.keys(commandTable).sort());
    assert.equal(isCommandName('get'), true);
    assert.equal(isCommandName('toString'), false, 'inherited properties are not commands');
    assert.equal(isCommandName('GET'), false);
  });

  it('the seed commands are present and marked, and only they', () => {
    const seed = ['put', 'get', 'del', 'size', 'getkeys', 'gettable', 'stats'];
    for (const name of seed) {
      assert.ok(isCommandName(name), `${name} is a command`);
      assert.equal(commandTable[name as CommandName].seed, true, `${name} is a seed command`);
    }
    const others = commandNames.filter((name) => commandTable[name].seed).sort();
    assert.deepEqual(others, [...seed].sort());
  });

  it('covers exactly the commands of the protocol, each with a reply of the same name', () => {
    const requestCases = RequestSchema.fields.filter((f) => f.oneof?.name === 'command').map((f) => f.localName);
    const responseCases = ResponseSchema.fields.filter((f) => f.oneof?.name === 'result').map((f) => f.localName);
    assert.deepEqual([...commandNames].sort(), [...requestCases].sort());
    assert.deepEqual([...commandNames, 'error'].sort(), [...responseCases].sort());
  });

  it('`mutates` tells exactly which commands change the store', async () => {
    const expected: Record<CommandName, boolean> = {
      put: true,
      get: false,
      del: true,
      size: false,
      getkeys: false,
      gettable: false,
      stats: false,
      cas: true,
      incr: true,
      append: true,
      expire: true,
      ttl: false,
      scan: false,
      ping: false,
      topology: false,
      nodestatus: false,
    };
    for (const name of commandNames) assert.equal(commandTable[name].mutates, expected[name], name);

    // And each does what it says: after a sync, a read leaves the store synced; a write does not.
    const h = harness();
    const k = bytes('k');
    const calls: Record<CommandName, () => unknown> = {
      put: () => run.put(h, k, bytes('1')),
      get: () => run.get(h, k),
      del: () => run.del(h, k),
      size: () => run.size(h),
      getkeys: () => run.getkeys(h, bytes(''), 0),
      gettable: () => run.gettable(h, bytes(''), 0),
      stats: () => run.stats(h),
      cas: () => run.cas(h, k, 0n, bytes('1')),
      incr: () => run.incr(h, k, 1n),
      append: () => run.append(h, k, bytes('1')),
      expire: () => run.expire(h, k, 1000n),
      ttl: () => run.ttl(h, k),
      scan: () => run.scan(h, {}),
      ping: () => run.ping(h),
      topology: () => run.topology(h),
      nodestatus: () => run.nodestatus(h),
    };
    for (const name of commandNames) {
      h.store.put(k, bytes('5'));
      if (name === 'cas') h.store.delete(k);
      await h.store.sync();
      calls[name]();
      assert.equal(!h.store.isSynced(), expected[name], `${name} ${expected[name] ? 'writes' : 'only reads'}`);
    }
  });
});

// ---- Execute ------------------------------------------------------------------------------------

describe('put, get, del', () => {
  it('round-trip a value, with its version', () => {
    const h = harness();
    const missing = run.get(h, bytes('k'));
    assert.deepEqual([missing.found, missing.value.length, missing.version, missing.ttlMs], [false, 0, 0n, 0n]);
    const { version } = run.put(h, bytes('k'), bytes('v'));
    assert.ok(version >= 1n);
    const got = run.get(h, bytes('k'));
    assert.equal(got.found, true);
    assert.equal(text(got.value), 'v');
    assert.equal(got.version, version);
    assert.equal(got.ttlMs, 0n, 'no expiry');
    const again = run.put(h, bytes('k'), bytes('w'));
    assert.ok(again.version > version);
    assert.equal(text(run.get(h, bytes('k')).value), 'w');
    assert.deepEqual(run.del(h, bytes('k')), { deleted: true });
    assert.equal(run.get(h, bytes('k')).found, false);
    assert.deepEqual(run.del(h, bytes('k')), { deleted: false });
  });

  it('keeps binary keys and values, and empty values', () => {
    const h = harness();
    const key = Uint8Array.of(0, 255, 10);
    run.put(h, key, Uint8Array.of(0, 1, 0));
    assert.equal(Buffer.from(run.get(h, key).value).toString('hex'), '000100');
    run.put(h, bytes('e'), new Uint8Array(0));
    const empty = run.get(h, bytes('e'));
    assert.equal(empty.found, true, 'an empty value is still a value');
    assert.equal(empty.value.length, 0);
  });

  it('a ttl counts down, and the key is gone once it has passed', () => {
    const h = harness();
    run.put(h, bytes('t'), bytes('v'), 1000n);
    assert.equal(run.get(h, bytes('t')).ttlMs, 1000n);
    h.clock.advance(400);
    assert.equal(run.get(h, bytes('t')).ttlMs, 600n);
    h.clock.advance(599);
    assert.equal(run.get(h, bytes('t')).ttlMs, 1n);
    h.clock.advance(1);
    assert.equal(run.get(h, bytes('t')).found, false);
    assert.deepEqual(run.ttl(h, bytes('t')), { found: false, ttlMs: 0n });
    assert.deepEqual(run.del(h, bytes('t')), { deleted: false }, 'an expired key was not there to delete');
  });

  it('put without a ttl clears an earlier one', () => {
    const h = harness();
    run.put(h, bytes('t'), bytes('v'), 1000n);
    run.put(h, bytes('t'), bytes('w'));
    h.clock.advance(5000);
    assert.equal(text(run.get(h, bytes('t')).value), 'w');
  });
});

describe('cas', () => {
  it('0 means "must not exist"; a version must be the current one', () => {
    const h = harness();
    const created = run.cas(h, bytes('k'), 0n, bytes('a'));
    assert.equal(created.swapped, true);
    assert.ok(created.version >= 1n);
    assert.deepEqual(run.cas(h, bytes('k'), 0n, bytes('b')), { swapped: false, version: created.version });
    const swapped = run.cas(h, bytes('k'), created.version, bytes('c'));
    assert.equal(swapped.swapped, true);
    assert.ok(swapped.version > created.version);
    assert.equal(text(run.get(h, bytes('k')).value), 'c');
    assert.deepEqual(run.cas(h, bytes('k'), created.version, bytes('d')), { swapped: false, version: swapped.version });
    assert.deepEqual(run.cas(h, bytes('k'), swapped.version + 1000n, bytes('d')), {
      swapped: false,
      version: swapped.version,
    });
    assert.equal(text(run.get(h, bytes('k')).value), 'c');
  });

  it('reports version 0 for an absent key, and is not fooled by delete and re-create', () => {
    const h = harness();
    assert.deepEqual(run.cas(h, bytes('k'), 5n, bytes('x')), { swapped: false, version: 0n });
    const first = run.put(h, bytes('k'), bytes('1')).version;
    run.del(h, bytes('k'));
    run.put(h, bytes('k'), bytes('2'));
    assert.equal(run.cas(h, bytes('k'), first, bytes('3')).swapped, false);
  });

  it('sets a ttl when swapping, and an expired key counts as absent', () => {
    const h = harness();
    const { version } = run.cas(h, bytes('k'), 0n, bytes('v'), 500n);
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 500n });
    h.clock.advance(500);
    assert.deepEqual(run.cas(h, bytes('k'), version, bytes('w')), { swapped: false, version: 0n });
    assert.equal(run.cas(h, bytes('k'), 0n, bytes('w')).swapped, true);
  });
});

describe('incr', () => {
  it('counts from 0, by any delta, and stores decimal text', () => {
    const h = harness();
    assert.deepEqual(run.incr(h, bytes('n'), 1n), { value: 1n });
    assert.deepEqual(run.incr(h, bytes('n'), -5n), { value: -4n });
    assert.equal(text(run.get(h, bytes('n')).value), '-4');
    assert.deepEqual(run.incr(h, bytes('n'), 0n), { value: -4n });
    run.put(h, bytes('m'), bytes('41'));
    assert.deepEqual(run.incr(h, bytes('m'), 1n), { value: 42n });
  });

  it('the default delta from the words is 1', () => {
    const h = harness();
    const request = create(IncrRequestSchema, commandTable.incr.parse([bytes('n')]));
    assert.deepEqual(commandTable.incr.execute(h.ctx, request), { value: 1n });
    assert.deepEqual(commandTable.incr.execute(h.ctx, request), { value: 2n });
  });

  it('a value that is not a canonical integer is ERR_NOT_AN_INTEGER, and stays as it was', () => {
    const h = harness();
    for (const value of ['abc', '', '1.5', '01', ' 1', '9223372036854775808']) {
      run.put(h, bytes('x'), bytes(value));
      throwsCode(() => run.incr(h, bytes('x'), 1n), 'ERR_NOT_AN_INTEGER');
      assert.equal(text(run.get(h, bytes('x')).value), value);
    }
  });

  it('past a signed 64-bit integer is ERR_OVERFLOW, and the value stays', () => {
    const h = harness();
    run.put(h, bytes('max'), bytes('9223372036854775807'));
    throwsCode(() => run.incr(h, bytes('max'), 1n), 'ERR_OVERFLOW');
    assert.equal(text(run.get(h, bytes('max')).value), '9223372036854775807');
    run.put(h, bytes('min'), bytes('-9223372036854775808'));
    throwsCode(() => run.incr(h, bytes('min'), -1n), 'ERR_OVERFLOW');
    assert.deepEqual(run.incr(h, bytes('min'), 2n ** 63n - 1n), { value: -1n });
    throwsCode(() => run.incr(h, bytes('fresh'), 2n ** 63n), 'ERR_OVERFLOW');
  });

  it('keeps the key expiry', () => {
    const h = harness();
    run.put(h, bytes('n'), bytes('5'), 1000n);
    h.clock.advance(100);
    run.incr(h, bytes('n'), 1n);
    assert.deepEqual(run.ttl(h, bytes('n')), { found: true, ttlMs: 900n });
  });
});

describe('append', () => {
  it('creates or extends the value and returns its length', () => {
    const h = harness();
    assert.deepEqual(run.append(h, bytes('a'), bytes('he')), { length: 2n });
    assert.deepEqual(run.append(h, bytes('a'), bytes('llo')), { length: 5n });
    assert.equal(text(run.get(h, bytes('a')).value), 'hello');
    assert.deepEqual(run.append(h, bytes('a'), new Uint8Array(0)), { length: 5n });
  });

  it('may reach the value limit but not pass it', () => {
    const h = harness(16);
    run.put(h, bytes('a'), Buffer.alloc(10, 0x61));
    assert.deepEqual(run.append(h, bytes('a'), Buffer.alloc(6, 0x62)), { length: 16n });
    throwsCode(() => run.append(h, bytes('a'), bytes('c')), 'ERR_VALUE_TOO_LARGE');
    assert.equal(run.get(h, bytes('a')).value.length, 16, 'unchanged after the refusal');
    throwsCode(() => run.append(h, bytes('new'), Buffer.alloc(17)), 'ERR_VALUE_TOO_LARGE');
    assert.equal(run.get(h, bytes('new')).found, false);
  });

  it('an expired value counts as empty, and a live one keeps its expiry', () => {
    const h = harness(16);
    run.put(h, bytes('a'), Buffer.alloc(16), 1000n);
    h.clock.advance(1000);
    assert.deepEqual(run.append(h, bytes('a'), bytes('x')), { length: 1n }, 'the expired 16 bytes do not count');
    run.put(h, bytes('b'), bytes('1'), 1000n);
    run.append(h, bytes('b'), bytes('2'));
    assert.deepEqual(run.ttl(h, bytes('b')), { found: true, ttlMs: 1000n });
  });
});

describe('expire and ttl', () => {
  it('set, count down and remove an expiry', () => {
    const h = harness();
    assert.deepEqual(run.expire(h, bytes('k'), 1000n), { found: false });
    assert.deepEqual(run.ttl(h, bytes('k')), { found: false, ttlMs: 0n });
    run.put(h, bytes('k'), bytes('v'));
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 0n });
    assert.deepEqual(run.expire(h, bytes('k'), 2000n), { found: true });
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 2000n });
    h.clock.advance(1500);
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 500n });
    assert.deepEqual(run.expire(h, bytes('k'), 0n), { found: true });
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 0n });
    h.clock.advance(10 * ttlMsMax);
    assert.equal(text(run.get(h, bytes('k')).value), 'v', 'ttl 0 means it never expires');
  });

  it('an expired key cannot be given a new expiry', () => {
    const h = harness();
    run.put(h, bytes('k'), bytes('v'), 10n);
    h.clock.advance(10);
    assert.deepEqual(run.expire(h, bytes('k'), 1000n), { found: false });
    assert.equal(run.get(h, bytes('k')).found, false);
  });

  it('the largest ttl is accepted, one more is ERR_INVALID_ARGUMENT', () => {
    const h = harness();
    run.put(h, bytes('k'), bytes('v'));
    assert.deepEqual(run.expire(h, bytes('k'), BigInt(ttlMsMax)), { found: true });
    assert.equal(run.ttl(h, bytes('k')).ttlMs, BigInt(ttlMsMax));
    throwsCode(() => run.expire(h, bytes('k'), BigInt(ttlMsMax) + 1n), 'ERR_INVALID_ARGUMENT', 'ttl');
    assert.equal(run.ttl(h, bytes('k')).ttlMs, BigInt(ttlMsMax), 'unchanged after the refusal');
  });
});

describe('scan', () => {
  const fill = (h: Harness): void => {
    for (const key of ['a1', 'a2', 'a3', 'a4', 'a5', 'b1', 'c1']) run.put(h, bytes(key), bytes(`v-${key}`));
  };

  it('pages through a prefix with the cursor, in byte order', () => {
    const h = harness();
    fill(h);
    const first = run.scan(h, { prefix: bytes('a'), limit: 2 });
    assert.deepEqual(keysOf(first.entries), ['a1', 'a2']);
    assert.equal(cursorText(first.cursor), 'a2');
    const second = run.scan(h, { prefix: bytes('a'), after: first.cursor, limit: 2 });
    assert.deepEqual(keysOf(second.entries), ['a3', 'a4']);
    const third = run.scan(h, { prefix: bytes('a'), after: second.cursor, limit: 2 });
    assert.deepEqual(keysOf(third.entries), ['a5']);
    assert.equal(cursorText(third.cursor), '', 'an empty cursor: the scan is complete');
  });

  it('walks every key exactly once, whatever the page size', () => {
    const h = harness();
    fill(h);
    for (let limit = 1; limit <= 8; limit++) {
      const seen: (string | undefined)[] = [];
      let after: Uint8Array | undefined;
      for (let pages = 0; pages < 20; pages++) {
        const page = run.scan(h, { after, limit });
        seen.push(...keysOf(page.entries));
        if (cursorText(page.cursor) === '') break;
        after = page.cursor;
      }
      assert.deepEqual(seen, ['a1', 'a2', 'a3', 'a4', 'a5', 'b1', 'c1'], `limit ${limit}`);
    }
  });

  it('returns values, versions and ttls, or keys only', () => {
    const h = harness();
    const { version } = run.put(h, bytes('k'), bytes('v'), 700n);
    const [full] = run.scan(h, {}).entries;
    assert.equal(text(full?.key), 'k');
    assert.equal(text(full?.value), 'v');
    assert.equal(full?.version, version);
    assert.equal(full?.ttlMs, 700n);
    const [bare] = run.scan(h, { keysOnly: true }).entries;
    assert.equal(text(bare?.key), 'k');
    assert.equal(bare?.value.length, 0, 'no value with keys_only');
    assert.equal(bare?.version, version);
  });

  it('skips expired keys; limit 0 means the default; past the maximum is ERR_INVALID_ARGUMENT', () => {
    const h = harness();
    fill(h);
    run.put(h, bytes('a3'), bytes('short-lived'), 10n);
    h.clock.advance(10);
    assert.deepEqual(keysOf(run.scan(h, { limit: 0 }).entries), ['a1', 'a2', 'a4', 'a5', 'b1', 'c1']);
    assert.equal(run.scan(h, { limit: scanCountMax }).entries.length, 6);
    throwsCode(() => run.scan(h, { limit: scanCountMax + 1 }), 'ERR_INVALID_ARGUMENT', String(scanCountMax));
  });
});

describe('getkeys and gettable', () => {
  it('gettable stays within the reply byte budget and says it is truncated', () => {
    const h = harness(valueBytesMaxDefault);
    const big = Buffer.alloc(3 * 1024 * 1024, 1);
    for (const key of ['a', 'b', 'c']) h.store.put(bytes(key), big);
    const reply = run.gettable(h, bytes(''), 0);
    assert.deepEqual(
      reply.entries.map((e) => text(e.key)),
      ['a'],
    );
    assert.equal(reply.truncated, true);
    assert.ok(reply.entries.reduce((n, e) => n + e.value.length, 0) <= scanReplyBytesMax);
  });
  const fill = (h: Harness, n: number, prefix = 'k'): string[] => {
    const keys = Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
    for (const key of keys) run.put(h, bytes(key), bytes(`v${key}`));
    return keys;
  };

  it('returns at most limit keys in order, and says when there are more', () => {
    const h = harness();
    const keys = fill(h, 5);
    fill(h, 2, 'z');
    assert.deepEqual(
      run.getkeys(h, bytes('k'), 3).keys.map((k) => text(k)),
      keys.slice(0, 3),
    );
    assert.equal(run.getkeys(h, bytes('k'), 3).truncated, true);
    assert.equal(run.getkeys(h, bytes('k'), 4).truncated, true);
    const exact = run.getkeys(h, bytes('k'), 5);
    assert.deepEqual(
      exact.keys.map((k) => text(k)),
      keys,
    );
    assert.equal(exact.truncated, false, 'exactly limit keys match');
    assert.equal(run.getkeys(h, bytes('k'), 6).truncated, false);
    assert.deepEqual(run.getkeys(h, bytes('nothing'), 0), { keys: [], truncated: false });
  });

  it('limit 0 is the default of 100; more than 10000 is ERR_INVALID_ARGUMENT', () => {
    const h = harness();
    fill(h, 101);
    const page = run.getkeys(h, bytes(''), 0);
    assert.equal(page.keys.length, 100);
    assert.equal(page.truncated, true);
    assert.equal(run.getkeys(h, bytes(''), scanCountMax).keys.length, 101);
    throwsCode(() => run.getkeys(h, bytes(''), scanCountMax + 1), 'ERR_INVALID_ARGUMENT', String(scanCountMax));
    throwsCode(() => run.gettable(h, bytes(''), scanCountMax + 1), 'ERR_INVALID_ARGUMENT', String(scanCountMax));
  });

  it('gettable returns entries with values, versions and ttls', () => {
    const h = harness();
    const v1 = run.put(h, bytes('a'), bytes('1')).version;
    const v2 = run.put(h, bytes('b'), bytes('2'), 300n).version;
    run.put(h, bytes('c'), bytes('3'));
    const table = run.gettable(h, bytes(''), 2);
    assert.equal(table.truncated, true);
    assert.deepEqual(
      table.entries.map((e) => [text(e.key), text(e.value), e.version, e.ttlMs]),
      [
        ['a', '1', v1, 0n],
        ['b', '2', v2, 300n],
      ],
    );
    assert.equal(run.gettable(h, bytes('c'), 0).truncated, false);
  });

  it('expired keys neither make the reply look truncated nor hide live keys', () => {
    const h = harness();
    const expired = fill(h, 20, 'a');
    for (const key of expired) run.expire(h, bytes(key), 1n);
    h.clock.advance(1);
    assert.deepEqual(run.getkeys(h, bytes(''), 2), { keys: [], truncated: false }, 'only expired keys');
    assert.deepEqual(run.gettable(h, bytes(''), 2), { entries: [], truncated: false }, 'only expired keys');
    run.put(h, bytes('b1'), bytes('1'));
    run.put(h, bytes('b2'), bytes('2'));
    const page = run.getkeys(h, bytes(''), 2);
    assert.deepEqual(
      page.keys.map((k) => text(k)),
      ['b1', 'b2'],
    );
    assert.equal(page.truncated, false);
    assert.deepEqual(keysOf(run.gettable(h, bytes(''), 2).entries), ['b1', 'b2']);
  });
});

describe('size, ping, stats', () => {
  it('size counts keys and the bytes of keys and values', () => {
    const h = harness();
    assert.deepEqual(run.size(h), { keys: 0n, bytes: 0n });
    run.put(h, bytes('a'), bytes('1'));
    run.put(h, bytes('bb'), bytes('22'));
    assert.deepEqual(run.size(h), { keys: 2n, bytes: 6n });
    run.put(h, bytes('a'), bytes('333'));
    assert.deepEqual(run.size(h), { keys: 2n, bytes: 8n });
    run.del(h, bytes('bb'));
    assert.deepEqual(run.size(h), { keys: 1n, bytes: 4n });
  });

  it('ping echoes its message, PONG by default', () => {
    const h = harness();
    assert.equal(text(run.ping(h).message), 'PONG');
    assert.equal(text(run.ping(h, new Uint8Array(0)).message), 'PONG');
    assert.equal(text(run.ping(h, bytes('hello')).message), 'hello');
  });

  it('stats reports the node facts and the store', () => {
    const h = harness();
    run.put(h, bytes('a'), bytes('1'));
    h.clock.advance(1_500);
    const stats = run.stats(h);
    assert.deepEqual(stats, {
      uptimeMs: 6_500n,
      connections: 2,
      connectionsTotal: 7n,
      keys: 1n,
      bytes: 2n,
      commands: commandStats,
      nodeId: 'node-1',
      durability: 'memory',
      version: '9.9.9',
      protocolErrors: 3n,
    });
  });
});

describe('topology and nodestatus', () => {
  const standaloneTopology: ReplyInit<'topology'> = { cluster: '', manager: '', chains: [], nodes: [] };
  const standaloneStatus: ReplyInit<'nodestatus'> = {
    nodeId: 'solo',
    chainId: '',
    role: 'standalone',
    epoch: 0n,
    lastSequence: 42n,
    persistedSequence: 42n,
    committedSequence: 42n,
    sessionConnected: false,
    servingReads: true,
    manager: false,
  };

  it('topology returns what the node says about its cluster, and changes nothing', () => {
    const h = harness();
    run.put(h, bytes('k'), bytes('v'));
    assert.deepEqual(run.topology(h), reply(create(TopologyReplySchema, clusterTopology)));
    const standalone = harness(64, { topology: () => standaloneTopology });
    assert.deepEqual(run.topology(standalone), { cluster: '', manager: '', chains: [], nodes: [] });
    assert.equal(run.size(h).keys, 1n);
  });

  it('topology renders chains head first, with epochs, joiners and node addresses', () => {
    const rendered = commandTable.topology.render(create(TopologyReplySchema, run.topology(harness())));
    assert.equal(
      rendered,
      [
        'cluster prod  manager node-1',
        'chain c0  epoch 4  node-1 -> node-2 -> node-3  joining node-4',
        'chain c1  epoch 1  node-5',
        'node node-1  native 10.0.0.1:7400  admin 10.0.0.1:7401',
        'node node-2  native 10.0.0.2:7400  admin -',
      ].join('\n'),
    );
  });

  it('topology on a standalone node renders as such', () => {
    const h = harness(64, { topology: () => standaloneTopology });
    assert.equal(
      commandTable.topology.render(create(TopologyReplySchema, run.topology(h))),
      'standalone node (no cluster)',
    );
  });

  it('nodestatus returns what the node says about its replication state', () => {
    assert.deepEqual(run.nodestatus(harness()), reply(create(NodeStatusReplySchema, middleStatus)));
    const standalone = harness(64, { nodeStatus: () => standaloneStatus });
    assert.deepEqual(run.nodestatus(standalone), reply(create(NodeStatusReplySchema, standaloneStatus)));
  });

  it('nodestatus renders role, epoch, sequences and session state on three lines', () => {
    assert.equal(
      commandTable.nodestatus.render(create(NodeStatusReplySchema, run.nodestatus(harness()))),
      [
        'node node-2  chain c0  role middle  epoch 4',
        'last 120  persisted 118  committed 110',
        'session connected  serving reads yes',
      ].join('\n'),
    );
    const manager = harness(64, { nodeStatus: () => ({ ...middleStatus, role: 'head', manager: true }) });
    assert.equal(
      commandTable.nodestatus.render(create(NodeStatusReplySchema, run.nodestatus(manager))).split('\n')[0],
      'node node-2  chain c0  role head  epoch 4  (manager)',
    );
    const standalone = harness(64, { nodeStatus: () => standaloneStatus });
    assert.equal(
      commandTable.nodestatus.render(create(NodeStatusReplySchema, run.nodestatus(standalone))),
      [
        'node solo  chain -  role standalone  epoch 0',
        'last 42  persisted 42  committed 42',
        'session disconnected  serving reads yes',
      ].join('\n'),
    );
  });
});

describe('argument checks', () => {
  const key1024 = Buffer.alloc(keyBytesMax, 0x6b);
  const key1025 = Buffer.alloc(keyBytesMax + 1, 0x6b);
  const keyed: Record<string, (h: Harness, key: Uint8Array) => unknown> = {
    put: (h, key) => run.put(h, key, bytes('v')),
    get: (h, key) => run.get(h, key),
    del: (h, key) => run.del(h, key),
    cas: (h, key) => run.cas(h, key, 0n, bytes('v')),
    incr: (h, key) => run.incr(h, key, 1n),
    append: (h, key) => run.append(h, key, bytes('v')),
    expire: (h, key) => run.expire(h, key, 10n),
    ttl: (h, key) => run.ttl(h, key),
  };

  for (const [name, call] of Object.entries(keyed)) {
    it(`${name}: empty key -> ERR_KEY_EMPTY, ${keyBytesMax + 1} bytes -> ERR_KEY_TOO_LARGE, ${keyBytesMax} is fine`, () => {
      const h = harness();
      throwsCode(() => call(h, new Uint8Array(0)), 'ERR_KEY_EMPTY');
      throwsCode(() => call(h, key1025), 'ERR_KEY_TOO_LARGE', String(keyBytesMax));
      assert.doesNotThrow(() => call(h, key1024));
    });
  }

  it('a value over the limit is ERR_VALUE_TOO_LARGE for put, cas and append, and nothing is written', () => {
    const h = harness(32);
    run.put(h, bytes('k'), bytes('old'));
    const big = Buffer.alloc(33);
    throwsCode(() => run.put(h, bytes('k'), big), 'ERR_VALUE_TOO_LARGE', '32');
    throwsCode(() => run.cas(h, bytes('k'), 0n, big), 'ERR_VALUE_TOO_LARGE');
    throwsCode(() => run.append(h, bytes('k'), big), 'ERR_VALUE_TOO_LARGE');
    assert.equal(text(run.get(h, bytes('k')).value), 'old');
    assert.doesNotThrow(() => run.put(h, bytes('k'), Buffer.alloc(32)));
  });

  it('the default value limit is enforced the same way', () => {
    const h = harness(valueBytesMaxDefault);
    throwsCode(() => run.put(h, bytes('k'), Buffer.alloc(valueBytesMaxDefault + 1)), 'ERR_VALUE_TOO_LARGE');
    assert.equal(run.get(h, bytes('k')).found, false);
  });

  it('a ttl over the maximum is ERR_INVALID_ARGUMENT for put, cas and expire, and nothing is written', () => {
    const h = harness();
    const over = BigInt(ttlMsMax) + 1n;
    throwsCode(() => run.put(h, bytes('k'), bytes('v'), over), 'ERR_INVALID_ARGUMENT', 'ttl');
    throwsCode(() => run.cas(h, bytes('k'), 0n, bytes('v'), over), 'ERR_INVALID_ARGUMENT', 'ttl');
    throwsCode(() => run.put(h, bytes('k'), bytes('v'), 2n ** 64n - 1n), 'ERR_INVALID_ARGUMENT');
    assert.equal(run.get(h, bytes('k')).found, false);
    run.put(h, bytes('k'), bytes('v'), BigInt(ttlMsMax));
    assert.equal(run.ttl(h, bytes('k')).ttlMs, BigInt(ttlMsMax));
  });
});

// ---- Replies through the codec -----------------------------------------------------------------

describe('replies travel through the native codec', () => {
  it('every reply execute returns encodes, and decodes to the same fields', () => {
    // The executor hands execute's output (a ReplyInit: fields may be absent or undefined)
    // straight to encodeResponse; this is that path.
    const h = harness();
    run.put(h, bytes('a'), bytes('1'), 100n);
    const exec = (name: CommandName, init: object): object => {
      const definition = commandTable[name] as unknown as { execute(c: CommandContext, r: unknown): object };
      return definition.execute(h.ctx, create(requestSchemas[name] as typeof PutRequestSchema, init as never));
    };
    const replies: [CommandName, object][] = [
      ['put', exec('put', { key: bytes('b'), value: bytes('2') })],
      ['get', exec('get', { key: bytes('a') })],
      ['get', exec('get', { key: bytes('missing') })],
      ['del', exec('del', { key: bytes('missing') })],
      ['size', exec('size', {})],
      ['getkeys', exec('getkeys', { limit: 1 })],
      ['gettable', exec('gettable', {})],
      ['stats', exec('stats', {})],
      ['cas', exec('cas', { key: bytes('a'), value: bytes('x') })],
      ['incr', exec('incr', { key: bytes('n'), delta: -7n })],
      ['append', exec('append', { key: bytes('b'), value: bytes('3') })],
      ['expire', exec('expire', { key: bytes('b') })],
      ['ttl', exec('ttl', { key: bytes('a') })],
      ['scan', exec('scan', { keysOnly: true })],
      ['scan', exec('scan', { limit: 1 })],
      ['ping', exec('ping', {})],
      ['topology', exec('topology', {})],
      ['nodestatus', exec('nodestatus', {})],
    ];
    for (const [name, value] of replies) {
      const body = encodeResponse(77, { case: name, value } as unknown as ResponseResult);
      const decoded = decodeResponse(body);
      assert.ok(decoded.ok, name);
      assert.equal(decoded.message.id, 77);
      assert.equal(decoded.message.result.case, name);
      // The same reply through the generated message type, as the reference.
      const schema = replySchemas[name];
      const expected = create(schema as typeof PutReplySchema, value as never);
      assert.deepEqual(
        normalize(decoded.message.result.value, true),
        normalize(expected, true),
        `${name} reply fields`,
      );
    }
  });
});

const requestSchemas = {
  put: PutRequestSchema,
  get: GetRequestSchema,
  del: DelRequestSchema,
  size: SizeRequestSchema,
  getkeys: GetKeysRequestSchema,
  gettable: GetTableRequestSchema,
  stats: StatsRequestSchema,
  cas: CasRequestSchema,
  incr: IncrRequestSchema,
  append: AppendRequestSchema,
  expire: ExpireRequestSchema,
  ttl: TtlRequestSchema,
  scan: ScanRequestSchema,
  ping: PingRequestSchema,
  topology: TopologyRequestSchema,
  nodestatus: NodeStatusRequestSchema,
} as const;

const replySchemas = {
  put: PutReplySchema,
  get: GetReplySchema,
  del: DelReplySchema,
  size: SizeReplySchema,
  getkeys: GetKeysReplySchema,
  gettable: GetTableReplySchema,
  stats: StatsReplySchema,
  cas: CasReplySchema,
  incr: IncrReplySchema,
  append: AppendReplySchema,
  expire: ExpireReplySchema,
  ttl: TtlReplySchema,
  scan: ScanReplySchema,
  ping: PingReplySchema,
  topology: TopologyReplySchema,
  nodestatus: NodeStatusReplySchema,
} as const;

// ---- Parse ---------------------------------------------------------------------------------------

const w = (...words: string[]): Buffer[] => words.map((word) => Buffer.from(word));

/** Parse results with bytes as text, so they compare with deepEqual. */
function shown(request: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(request).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString() : v]),
  );
}

describe('parse', () => {
  const valid: { [C in CommandName]: [string[], Record<string, unknown>][] } = {
    put: [
      [['k', 'v'], { key: 'k', value: 'v', ttlMs: 0n }],
      [['k', 'v', '100'], { key: 'k', value: 'v', ttlMs: 100n }],
    ],
    get: [[['k'], { key: 'k' }]],
    del: [[['k'], { key: 'k' }]],
    size: [[[], {}]],
    getkeys: [
      [[], { prefix: undefined, limit: 0 }],
      [['p'], { prefix: 'p', limit: 0 }],
      [['p', '5'], { prefix: 'p', limit: 5 }],
    ],
    gettable: [
      [[], { prefix: undefined, limit: 0 }],
      [['p', '10000'], { prefix: 'p', limit: 10000 }],
    ],
    stats: [[[], {}]],
    cas: [
      [['k', '0', 'v'], { key: 'k', expectedVersion: 0n, value: 'v', ttlMs: 0n }],
      [['k', '3', 'v', '100'], { key: 'k', expectedVersion: 3n, value: 'v', ttlMs: 100n }],
    ],
    incr: [
      [['k'], { key: 'k', delta: 1n }],
      [['k', '-5'], { key: 'k', delta: -5n }],
      [['k', '9223372036854775807'], { key: 'k', delta: 2n ** 63n - 1n }],
      [['k', '-9223372036854775808'], { key: 'k', delta: -(2n ** 63n) }],
    ],
    append: [[['k', 'v'], { key: 'k', value: 'v' }]],
    expire: [[['k', '100'], { key: 'k', ttlMs: 100n }]],
    ttl: [[['k'], { key: 'k' }]],
    scan: [
      [[], { prefix: undefined, after: undefined, limit: 0 }],
      [['p'], { prefix: 'p', after: undefined, limit: 0 }],
      [['p', 'a', '10'], { prefix: 'p', after: 'a', limit: 10 }],
    ],
    ping: [
      [[], { message: undefined }],
      [['hi'], { message: 'hi' }],
    ],
    topology: [[[], {}]],
    nodestatus: [[[], {}]],
  };

  const wrongArity: { [C in CommandName]: string[][] } = {
    put: [[], ['k'], ['k', 'v', '1', 'x']],
    get: [[], ['a', 'b']],
    del: [[], ['a', 'b']],
    size: [['x']],
    getkeys: [['p', '1', 'x']],
    gettable: [['p', '1', 'x']],
    stats: [['x']],
    cas: [
      ['k', '0'],
      ['k', '0', 'v', '1', 'x'],
    ],
    incr: [[], ['k', '1', 'x']],
    append: [['k'], ['k', 'v', 'x']],
    expire: [['k'], ['k', '1', 'x']],
    ttl: [[], ['a', 'b']],
    scan: [['p', 'a', '1', 'x']],
    ping: [['a', 'b']],
    topology: [['x'], ['x', 'y']],
    nodestatus: [['x'], ['node-1', 'c0']],
  };

  for (const name of commandNames) {
    it(`${name}: the right number of words parses; any other is ERR_INVALID_ARGUMENT with the usage`, () => {
      const definition = commandTable[name];
      for (const [words, expected] of valid[name]) {
        assert.deepEqual(shown(definition.parse(w(...words))), expected, `${name} ${words.join(' ')}`);
      }
      for (const words of wrongArity[name]) {
        throwsCode(() => definition.parse(w(...words)), 'ERR_INVALID_ARGUMENT', definition.usage);
      }
    });
  }

  it('what parse builds can be encoded, sent and executed', () => {
    const h = harness();
    for (const name of commandNames) {
      for (const [words] of valid[name]) {
        const request = commandTable[name].parse(w(...words));
        const body = encodeRequest(1, { case: name, value: request } as unknown as RequestCommand);
        assert.ok(body.length > 0);
      }
    }
    const put = create(PutRequestSchema, commandTable.put.parse(w('k', 'v', '100')));
    run.put(h, put.key, put.value, put.ttlMs);
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 100n });
  });

  it('bad numbers are ERR_INVALID_ARGUMENT, naming the argument', () => {
    const bad: [CommandName, string[], string][] = [
      ['put', ['k', 'v', 'x'], 'ttl-ms'],
      ['put', ['k', 'v', '-1'], 'ttl-ms'],
      ['put', ['k', 'v', '1.5'], 'ttl-ms'],
      ['put', ['k', 'v', ''], 'ttl-ms'],
      ['put', ['k', 'v', ' 1'], 'ttl-ms'],
      ['put', ['k', 'v', '1e3'], 'ttl-ms'],
      ['put', ['k', 'v', '99999999999999999999'], 'ttl-ms'],
      ['cas', ['k', 'x', 'v'], 'expected-version'],
      ['cas', ['k', '-1', 'v'], 'expected-version'],
      ['cas', ['k', '1', 'v', 'soon'], 'ttl-ms'],
      ['incr', ['k', 'x'], 'delta'],
      ['incr', ['k', '1.5'], 'delta'],
      ['incr', ['k', '+1'], 'delta'],
      ['incr', ['k', '9223372036854775808'], 'delta'],
      ['incr', ['k', '-9223372036854775809'], 'delta'],
      ['expire', ['k', 'x'], 'ttl-ms'],
      ['getkeys', ['p', 'x'], 'limit'],
      ['getkeys', ['p', '-1'], 'limit'],
      ['gettable', ['p', 'ten'], 'limit'],
      ['scan', ['p', 'a', '-1'], 'limit'],
    ];
    for (const [name, words, what] of bad) {
      throwsCode(() => commandTable[name].parse(w(...words)), 'ERR_INVALID_ARGUMENT', what);
    }
  });

  it('a limit too large for the protocol is refused by parse, not left to the encoder', () => {
    for (const name of ['getkeys', 'gettable'] as const) {
      const words = w('p', '4294967296');
      let request: object | undefined;
      try {
        request = commandTable[name].parse(words);
      } catch (error) {
        assert.ok(error instanceof CatenaError && error.code === 'ERR_INVALID_ARGUMENT', String(error));
        continue;
      }
      assert.doesNotThrow(() => encodeRequest(1, { case: name, value: request } as unknown as RequestCommand));
    }
    throwsCode(() => commandTable.scan.parse(w('p', 'a', '9999999999999999999')), 'ERR_INVALID_ARGUMENT');
  });
});

// ---- Render --------------------------------------------------------------------------------------

describe('render', () => {
  it('get: the value quoted, binary escaped; (nil) when not found', () => {
    const render = (init: Parameters<typeof create<typeof GetReplySchema>>[1]) =>
      commandTable.get.render(create(GetReplySchema, init));
    assert.equal(render({ found: false }), '(nil)');
    assert.equal(render({ found: true, value: bytes('hello') }), '"hello"');
    assert.equal(render({ found: true, value: new Uint8Array(0) }), '""');
    assert.equal(render({ found: true, value: Uint8Array.of(0) }), '"\\x00"');
    assert.equal(render({ found: true, value: Uint8Array.of(0x61, 0x00, 0xff) }), '"a\\x00\\xff"');
    assert.equal(render({ found: true, value: bytes('a"b\\c') }), '"a\\"b\\\\c"');
    assert.equal(render({ found: true, value: bytes('l1\nl2\tx\r') }), '"l1\\nl2\\tx\\r"');
    assert.equal(render({ found: true, value: Uint8Array.of(0x7f, 0x1b) }), '"\\x7f\\x1b"');
    assert.equal(render({ found: true, value: bytes('héllo ✓') }), '"héllo ✓"', 'printable UTF-8 stays readable');
  });

  it('every command renders its replies as the shell shows them', () => {
    const cases: [string, string][] = [
      [commandTable.put.render(create(PutReplySchema, { version: 3n })), 'OK (version 3)'],
      [commandTable.del.render(create(DelReplySchema, { deleted: true })), '(deleted)'],
      [commandTable.del.render(create(DelReplySchema, { deleted: false })), '(not found)'],
      [commandTable.size.render(create(SizeReplySchema, { keys: 2n, bytes: 10n })), '2 keys, 10 bytes'],
      [
        commandTable.getkeys.render(
          create(GetKeysReplySchema, { keys: [bytes('a'), Uint8Array.of(0)], truncated: true }),
        ),
        '1) "a"\n2) "\\x00"\n(more keys: use scan)',
      ],
      [commandTable.getkeys.render(create(GetKeysReplySchema, {})), '(empty)'],
      [
        commandTable.gettable.render(
          create(GetTableReplySchema, { entries: [{ key: bytes('a'), value: bytes('1') }], truncated: true }),
        ),
        '"a" => "1"\n(more entries: use scan)',
      ],
      [commandTable.gettable.render(create(GetTableReplySchema, {})), '(empty)'],
      [commandTable.cas.render(create(CasReplySchema, { swapped: true, version: 5n })), 'OK (version 5)'],
      [
        commandTable.cas.render(create(CasReplySchema, { swapped: false, version: 4n })),
        '(not swapped: current version 4)',
      ],
      [commandTable.incr.render(create(IncrReplySchema, { value: -3n })), '(integer) -3'],
      [commandTable.append.render(create(AppendReplySchema, { length: 5n })), '(length) 5'],
      [commandTable.expire.render(create(ExpireReplySchema, { found: true })), 'OK'],
      [commandTable.expire.render(create(ExpireReplySchema, { found: false })), '(not found)'],
      [commandTable.ttl.render(create(TtlReplySchema, { found: false })), '(not found)'],
      [commandTable.ttl.render(create(TtlReplySchema, { found: true, ttlMs: 0n })), '(no expiry)'],
      [commandTable.ttl.render(create(TtlReplySchema, { found: true, ttlMs: 1500n })), '1500 ms'],
      [
        commandTable.scan.render(
          create(ScanReplySchema, { entries: [{ key: bytes('a'), value: bytes('1') }], cursor: bytes('a') }),
        ),
        '"a" => "1"\n(cursor "a")',
      ],
      [commandTable.scan.render(create(ScanReplySchema, {})), '(end)'],
      [commandTable.ping.render(create(PingReplySchema, { message: bytes('PONG') })), '"PONG"'],
      [commandTable.topology.render(create(TopologyReplySchema, {})), 'standalone node (no cluster)'],
      [
        commandTable.topology.render(
          create(TopologyReplySchema, { cluster: 'c', chains: [{ chainId: 'c0', epoch: 2n, members: ['a'] }] }),
        ),
        'cluster c  manager (none)\nchain c0  epoch 2  a',
      ],
      [
        commandTable.nodestatus.render(create(NodeStatusReplySchema, { nodeId: 'n', role: 'standalone' })),
        'node n  chain -  role standalone  epoch 0\nlast 0  persisted 0  committed 0\nsession disconnected  serving reads no',
      ],
    ];
    for (const [actual, expected] of cases) assert.equal(actual, expected);
  });

  it('stats renders the node, uptime, connections, store and one line per command', () => {
    const h = harness();
    run.put(h, bytes('a'), bytes('1'));
    const rendered = commandTable.stats.render(create(StatsReplySchema, run.stats(h)));
    const lines = rendered.split('\n');
    assert.equal(lines[0], 'node node-1  version 9.9.9  durability memory');
    assert.equal(lines[1], 'uptime 5.0 s  connections 2 open / 7 total');
    assert.equal(lines[2], 'keys 1  bytes 2  protocol errors 3');
    assert.match(lines[3] ?? '', /^command\s+calls\s+errors/);
    assert.equal(lines.length, 5);
    assert.deepEqual(lines[4]?.trim().split(/\s+/), ['get', '3', '1', '10', '20', '30', '40']);
  });

  it('what execute returns renders (the CLI path: execute, then render)', () => {
    const h = harness();
    run.put(h, bytes('k'), Uint8Array.of(1, 2));
    assert.equal(commandTable.get.render(create(GetReplySchema, run.get(h, bytes('k')))), '"\\x01\\x02"');
    assert.equal(commandTable.get.render(create(GetReplySchema, run.get(h, bytes('nope')))), '(nil)');
    assert.equal(commandTable.ping.render(create(PingReplySchema, run.ping(h))), '"PONG"');
  });
});
