// The command table: each command's execute against an in-memory store on a manual clock, its
// argument checks, its word parser (CLI and shell) and its renderer, and the table's own
// consistency with the protocol.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import {
  commandByName,
  commandNames,
  commandTable,
  isCommandName,
  nodeLocalCommands,
  slotCommands,
  type CommandContext,
  type NodeFacts,
  type ReplyInit,
  type RequestInit,
  type SlotMover,
} from '../../src/commands/index.js';
import { checkSlotRange } from '../../src/commands/slot-range.js';
import type { CommandName } from '../../src/commands/types.js';
import { ManualClock } from '../../src/core/clock.js';
import { CatenaError, type ErrorCode } from '../../src/core/errors.js';
import { parseMemcachedCounter } from '../../src/commands/incr.js';
import {
  keyBytesMax,
  mgetReplyBytesMax,
  multiKeysMax,
  scanCountMax,
  scanReplyBytesMax,
  ttlMsMax,
  valueBytesMaxDefault,
} from '../../src/core/limits.js';
import {
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type RequestCommand,
  type RequestOf,
  type ResponseResult,
} from '../../src/protocol/native/codec.js';
import {
  AppendReplySchema,
  AppendRequestSchema,
  CasReplySchema,
  ClientRecordSchema,
  CasRequestSchema,
  DelReplySchema,
  DelRequestSchema,
  ExpireReplySchema,
  ExpireRequestSchema,
  FlushReplySchema,
  FlushRequestSchema,
  GetdelReplySchema,
  GetdelRequestSchema,
  GetKeysReplySchema,
  GetKeysRequestSchema,
  GetReplySchema,
  GetRequestSchema,
  GetTableReplySchema,
  GetTableRequestSchema,
  IncrReplySchema,
  IncrRequestSchema,
  MgetReplySchema,
  MgetRequestSchema,
  MputReplySchema,
  MputRequestSchema,
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
  SetCondition,
  SetReplySchema,
  SetRequestSchema,
  SizeReplySchema,
  SizeRequestSchema,
  SlotDropReplySchema,
  SlotDropRequestSchema,
  SlotExportReplySchema,
  SlotExportRequestSchema,
  SlotFreezeReplySchema,
  SlotFreezeRequestSchema,
  SlotImportReplySchema,
  SlotImportRequestSchema,
  StatsReplySchema,
  StatsRequestSchema,
  TopologyReplySchema,
  TopologyRequestSchema,
  TtlReplySchema,
  TtlRequestSchema,
} from '../../src/protocol/native/gen/catena_pb.js';
import { keySlot, slotCount } from '../../src/sharding/slots.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { bytes, text } from '../helpers/tmp.js';

// ---- Harness ------------------------------------------------------------------------------------

const commandStats: ReturnType<NodeFacts['commandStats']> = [
  { name: 'get', calls: 3n, errors: 1n, p50Us: 10n, p99Us: 20n, p999Us: 30n, maxUs: 40n },
];

/** What the harness node says about its cluster: two chains, one with a node joining. */
const clusterTopology: ReplyInit<'topology'> = {
  coordinator: 'zk://zk1:2181,zk2:2181/catena',
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

/** The slot of the `{u1}` hashtag, which the exported records below share. */
const u1Slot = keySlot(bytes('{u1}'));
/** Records an export page of that slot holds (two keys of one hashtag, one expiring, one with flags). */
const exportedRecords: ReplyInit<'slotexport'>['records'] = [
  { key: bytes('{u1}mail'), value: new Uint8Array(0), version: 9n },
  { key: bytes('{u1}name'), value: bytes('ann'), version: 7n, expiresAtMs: 1_700_000_000_000n, flags: 3 },
];
/** Client-table records an export page holds: one write with its encoded reply, one without. */
const exportedClients: ReplyInit<'slotexport'>['clients'] = [
  { clientId: 'client-a', clientSequence: 12n, result: Uint8Array.of(0x1a, 0x02, 0x08, 0x07), hasResult: true },
  { clientId: 'client-b', clientSequence: 3n },
];

type MoverCall = { [M in keyof SlotMover]: { method: M; request: Parameters<SlotMover[M]>[0] } }[keyof SlotMover];

/**
 * A SlotMover (the cluster replica's part, tested with the replica) that records each call and
 * answers with canned replies: the slot commands only check their arguments and hand over.
 */
class RecordingMover implements SlotMover {
  readonly calls: MoverCall[] = [];
  readonly dropped: ReplyInit<'slotdrop'> = { removed: 2n, cursor: bytes('{u1}name') };

  freeze(request: RequestOf<'slotfreeze'>): ReplyInit<'slotfreeze'> {
    this.calls.push({ method: 'freeze', request });
    return {};
  }

  exportPage(request: RequestOf<'slotexport'>): ReplyInit<'slotexport'> {
    this.calls.push({ method: 'exportPage', request });
    return request.clients
      ? { clients: exportedClients, cursor: new Uint8Array(0) }
      : { records: exportedRecords, cursor: bytes('{u1}name') };
  }

  importPage(request: RequestOf<'slotimport'>): ReplyInit<'slotimport'> {
    this.calls.push({ method: 'importPage', request });
    return { records: BigInt(request.records.length) };
  }

  dropPage(request: RequestOf<'slotdrop'>): ReplyInit<'slotdrop'> {
    this.calls.push({ method: 'dropPage', request });
    return this.dropped;
  }
}

interface Harness {
  ctx: CommandContext;
  store: MemoryStore;
  clock: ManualClock;
}

/** A node on an in-memory store: standalone unless given `slots` (a cluster node's mover). */
function harness(valueBytesMax = 64, facts: Partial<NodeFacts> = {}, slots?: SlotMover): Harness {
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
  const ctx: CommandContext =
    slots === undefined ? { store, clock, valueBytesMax, node } : { store, clock, valueBytesMax, node, slots };
  return { ctx, store, clock };
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
  incr: (h: Harness, key: Uint8Array, delta: bigint, options: { memcached?: boolean; decrement?: boolean } = {}) =>
    reply(
      create(IncrReplySchema, commandTable.incr.execute(h.ctx, create(IncrRequestSchema, { key, delta, ...options }))),
    ),
  append: (h: Harness, key: Uint8Array, value: Uint8Array, options: { prepend?: boolean; mustExist?: boolean } = {}) =>
    reply(
      create(
        AppendReplySchema,
        commandTable.append.execute(h.ctx, create(AppendRequestSchema, { key, value, ...options })),
      ),
    ),
  expire: (h: Harness, key: Uint8Array, ttlMs: bigint, options: { expiresAtMs?: bigint; returnValue?: boolean } = {}) =>
    reply(
      create(
        ExpireReplySchema,
        commandTable.expire.execute(h.ctx, create(ExpireRequestSchema, { key, ttlMs, ...options })),
      ),
    ),
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
  set: (h: Harness, key: Uint8Array, value: Uint8Array, options: SetOptions = {}) =>
    reply(
      create(SetReplySchema, commandTable.set.execute(h.ctx, create(SetRequestSchema, { key, value, ...options }))),
    ),
  mget: (h: Harness, keys: Uint8Array[]) =>
    reply(create(MgetReplySchema, commandTable.mget.execute(h.ctx, create(MgetRequestSchema, { keys })))),
  mput: (h: Harness, entries: { key: Uint8Array; value: Uint8Array }[]) =>
    reply(create(MputReplySchema, commandTable.mput.execute(h.ctx, create(MputRequestSchema, { entries })))),
  getdel: (h: Harness, key: Uint8Array) =>
    reply(create(GetdelReplySchema, commandTable.getdel.execute(h.ctx, create(GetdelRequestSchema, { key })))),
  flush: (h: Harness) => reply(create(FlushReplySchema, commandTable.flush.execute(h.ctx, create(FlushRequestSchema)))),
  slotfreeze: (h: Harness, init: RequestInit<'slotfreeze'>) =>
    reply(create(SlotFreezeReplySchema, commandTable.slotfreeze.execute(h.ctx, create(SlotFreezeRequestSchema, init)))),
  slotexport: (h: Harness, init: RequestInit<'slotexport'>) =>
    reply(create(SlotExportReplySchema, commandTable.slotexport.execute(h.ctx, create(SlotExportRequestSchema, init)))),
  slotimport: (h: Harness, init: RequestInit<'slotimport'>) =>
    reply(create(SlotImportReplySchema, commandTable.slotimport.execute(h.ctx, create(SlotImportRequestSchema, init)))),
  slotdrop: (h: Harness, init: RequestInit<'slotdrop'>) =>
    reply(create(SlotDropReplySchema, commandTable.slotdrop.execute(h.ctx, create(SlotDropRequestSchema, init)))),
};

/** The optional fields of a SetRequest. */
interface SetOptions {
  condition?: SetCondition;
  expectedVersion?: bigint;
  ttlMs?: bigint;
  expiresAtMs?: bigint;
  keepTtl?: boolean;
  returnPrevious?: boolean;
  flags?: number;
}

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
    // Besides the commands' replies: an error, and the reply to Request.auth (which is no command:
    // the session answers it before any command, docs/security.md).
    assert.deepEqual([...commandNames, 'error', 'auth'].sort(), [...responseCases].sort());
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
      set: true,
      mget: false,
      mput: true,
      getdel: true,
      flush: true,
      slotfreeze: true,
      slotexport: false,
      slotimport: true,
      slotdrop: true,
    };
    for (const name of commandNames) assert.equal(commandTable[name].mutates, expected[name], name);

    // And each does what it says: after a sync, a read leaves the store synced; a write does not.
    // The slot commands hand over to the replica, which writes (a logged freeze, import or drop) or
    // reads (an export at the tail): the mover method reached says which.
    const mover = new RecordingMover();
    const moverWrites: ReadonlySet<keyof SlotMover> = new Set(['freeze', 'importPage', 'dropPage'] as const);
    const h = harness(64, {}, mover);
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
      set: () => run.set(h, k, bytes('1')),
      mget: () => run.mget(h, [k, bytes('other')]),
      mput: () => run.mput(h, [{ key: k, value: bytes('1') }]),
      getdel: () => run.getdel(h, k),
      flush: () => run.flush(h),
      slotfreeze: () => run.slotfreeze(h, { first: u1Slot, last: u1Slot, toChain: 'c1' }),
      slotexport: () => run.slotexport(h, { first: u1Slot, last: u1Slot }),
      slotimport: () => run.slotimport(h, { first: u1Slot, last: u1Slot, records: exportedRecords }),
      slotdrop: () => run.slotdrop(h, { first: u1Slot, last: u1Slot }),
    };
    for (const name of commandNames) {
      h.store.put(k, bytes('5'));
      if (name === 'cas') h.store.delete(k);
      await h.store.sync();
      const moverCalls = mover.calls.length;
      calls[name]();
      const what = `${name} ${expected[name] ? 'writes' : 'only reads'}`;
      if (slotCommands.has(name)) {
        assert.equal(mover.calls.length, moverCalls + 1, `${name} reaches the mover once`);
        assert.equal(moverWrites.has(mover.calls.at(-1)!.method), expected[name], what);
        assert.ok(h.store.isSynced(), `${name} leaves the store to the mover`);
      } else {
        assert.equal(!h.store.isSynced(), expected[name], what);
        assert.equal(mover.calls.length, moverCalls, `${name} does not reach the mover`);
      }
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
    assert.deepEqual(run.incr(h, bytes('n'), 1n), { value: 1n, found: true });
    assert.deepEqual(run.incr(h, bytes('n'), -5n), { value: -4n, found: true });
    assert.equal(text(run.get(h, bytes('n')).value), '-4');
    assert.deepEqual(run.incr(h, bytes('n'), 0n), { value: -4n, found: true });
    run.put(h, bytes('m'), bytes('41'));
    assert.deepEqual(run.incr(h, bytes('m'), 1n), { value: 42n, found: true });
  });

  it('the default delta from the words is 1', () => {
    const h = harness();
    const request = create(IncrRequestSchema, commandTable.incr.parse([bytes('n')]));
    assert.deepEqual(commandTable.incr.execute(h.ctx, request), { value: 1n, found: true });
    assert.deepEqual(commandTable.incr.execute(h.ctx, request), { value: 2n, found: true });
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
    assert.deepEqual(run.incr(h, bytes('min'), 2n ** 63n - 1n), { value: -1n, found: true });
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
    assert.deepEqual(run.append(h, bytes('a'), bytes('he')), { length: 2n, stored: true });
    assert.deepEqual(run.append(h, bytes('a'), bytes('llo')), { length: 5n, stored: true });
    assert.equal(text(run.get(h, bytes('a')).value), 'hello');
    assert.deepEqual(run.append(h, bytes('a'), new Uint8Array(0)), { length: 5n, stored: true });
  });

  it('may reach the value limit but not pass it', () => {
    const h = harness(16);
    run.put(h, bytes('a'), Buffer.alloc(10, 0x61));
    assert.deepEqual(run.append(h, bytes('a'), Buffer.alloc(6, 0x62)), { length: 16n, stored: true });
    throwsCode(() => run.append(h, bytes('a'), bytes('c')), 'ERR_VALUE_TOO_LARGE');
    assert.equal(run.get(h, bytes('a')).value.length, 16, 'unchanged after the refusal');
    throwsCode(() => run.append(h, bytes('new'), Buffer.alloc(17)), 'ERR_VALUE_TOO_LARGE');
    assert.equal(run.get(h, bytes('new')).found, false);
  });

  it('an expired value counts as empty, and a live one keeps its expiry', () => {
    const h = harness(16);
    run.put(h, bytes('a'), Buffer.alloc(16), 1000n);
    h.clock.advance(1000);
    assert.deepEqual(
      run.append(h, bytes('a'), bytes('x')),
      { length: 1n, stored: true },
      'the expired 16 bytes do not count',
    );
    run.put(h, bytes('b'), bytes('1'), 1000n);
    run.append(h, bytes('b'), bytes('2'));
    assert.deepEqual(run.ttl(h, bytes('b')), { found: true, ttlMs: 1000n });
  });
});

/** An expire reply without return_value: found, and whether the key had an expiry before. */
const expireReply = (found: boolean, hadTtl = false) => ({
  found,
  hadTtl,
  value: new Uint8Array(0),
  flags: 0,
  version: 0n,
});

describe('expire and ttl', () => {
  it('set, count down and remove an expiry', () => {
    const h = harness();
    assert.deepEqual(run.expire(h, bytes('k'), 1000n), expireReply(false));
    assert.deepEqual(run.ttl(h, bytes('k')), { found: false, ttlMs: 0n });
    run.put(h, bytes('k'), bytes('v'));
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 0n });
    assert.deepEqual(run.expire(h, bytes('k'), 2000n), expireReply(true, false));
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 2000n });
    h.clock.advance(1500);
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 500n });
    assert.deepEqual(run.expire(h, bytes('k'), 0n), expireReply(true, true));
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 0n });
    h.clock.advance(10 * ttlMsMax);
    assert.equal(text(run.get(h, bytes('k')).value), 'v', 'ttl 0 means it never expires');
  });

  it('an expired key cannot be given a new expiry', () => {
    const h = harness();
    run.put(h, bytes('k'), bytes('v'), 10n);
    h.clock.advance(10);
    assert.deepEqual(run.expire(h, bytes('k'), 1000n), expireReply(false));
    assert.equal(run.get(h, bytes('k')).found, false);
  });

  it('the largest ttl is accepted, one more is ERR_INVALID_ARGUMENT', () => {
    const h = harness();
    run.put(h, bytes('k'), bytes('v'));
    assert.deepEqual(run.expire(h, bytes('k'), BigInt(ttlMsMax)), expireReply(true, false));
    assert.equal(run.ttl(h, bytes('k')).ttlMs, BigInt(ttlMsMax));
    throwsCode(() => run.expire(h, bytes('k'), BigInt(ttlMsMax) + 1n), 'ERR_INVALID_ARGUMENT', 'ttl');
    assert.equal(run.ttl(h, bytes('k')).ttlMs, BigInt(ttlMsMax), 'unchanged after the refusal');
  });
});

// ---- set, mget, mput, getdel, flush, and the memcached forms of incr, append and expire --------

/** Runs `refused`, which must throw `code`, and checks that nothing at all was written. */
async function refusedWithoutWriting(
  h: Harness,
  code: ErrorCode,
  refused: () => unknown,
  message?: string,
): Promise<void> {
  await h.store.sync();
  throwsCode(refused, code, message);
  assert.equal(h.store.isSynced(), true, 'nothing was written');
}

const noBytes = new Uint8Array(0);
const flagsOf = (h: Harness, key: Uint8Array): number => run.mget(h, [key]).items[0]!.flags;

describe('set', () => {
  it('SET_ALWAYS stores over anything; the reply has the new version, and no previous value unless asked', () => {
    const h = harness();
    const first = run.set(h, bytes('k'), bytes('a'));
    assert.ok(first.version >= 1n);
    assert.deepEqual(first, { stored: true, version: first.version, previousFound: false, previousValue: noBytes });
    const got = run.get(h, bytes('k'));
    assert.equal(text(got.value), 'a');
    assert.equal(got.version, first.version);
    const second = run.set(h, bytes('k'), bytes('b'));
    assert.ok(second.version > first.version);
    assert.deepEqual(
      second,
      { stored: true, version: second.version, previousFound: false, previousValue: noBytes },
      'no previous value unless asked for',
    );
    assert.equal(text(run.get(h, bytes('k')).value), 'b');
    assert.equal(run.get(h, bytes('k')).version, second.version);
  });

  it('SET_IF_ABSENT stores only when the key is missing or expired', () => {
    const h = harness();
    const created = run.set(h, bytes('k'), bytes('a'), { condition: SetCondition.SET_IF_ABSENT });
    assert.equal(created.stored, true);
    assert.equal(created.previousFound, false);
    assert.deepEqual(run.set(h, bytes('k'), bytes('b'), { condition: SetCondition.SET_IF_ABSENT }), {
      stored: false,
      version: created.version,
      previousFound: false,
      previousValue: noBytes,
    });
    assert.equal(text(run.get(h, bytes('k')).value), 'a');
    assert.equal(run.get(h, bytes('k')).version, created.version);

    run.put(h, bytes('t'), bytes('old'), 100n);
    h.clock.advance(100);
    const over = run.set(h, bytes('t'), bytes('new'), { condition: SetCondition.SET_IF_ABSENT });
    assert.equal(over.stored, true, 'an expired key counts as absent');
    assert.equal(over.previousFound, false);
    assert.deepEqual(run.ttl(h, bytes('t')), { found: true, ttlMs: 0n });
  });

  it('SET_IF_PRESENT stores only over a live value, and creates nothing', () => {
    const h = harness();
    assert.deepEqual(run.set(h, bytes('k'), bytes('a'), { condition: SetCondition.SET_IF_PRESENT }), {
      stored: false,
      version: 0n,
      previousFound: false,
      previousValue: noBytes,
    });
    assert.equal(run.get(h, bytes('k')).found, false);
    assert.equal(h.store.size(), 0);
    const { version } = run.put(h, bytes('k'), bytes('a'));
    const replaced = run.set(h, bytes('k'), bytes('b'), { condition: SetCondition.SET_IF_PRESENT });
    assert.equal(replaced.stored, true);
    assert.equal(replaced.previousFound, false, 'only with return_previous');
    assert.ok(replaced.version > version);
    assert.equal(text(run.get(h, bytes('k')).value), 'b');

    run.put(h, bytes('e'), bytes('old'), 10n);
    h.clock.advance(10);
    assert.equal(run.set(h, bytes('e'), bytes('new'), { condition: SetCondition.SET_IF_PRESENT }).stored, false);
    assert.equal(run.get(h, bytes('e')).found, false);
  });

  it('SET_IF_VERSION stores only at the expected version; a missing key never matches, not even 0', () => {
    const h = harness();
    const ifVersion = (expectedVersion: bigint) => ({ condition: SetCondition.SET_IF_VERSION, expectedVersion });
    const notStored = { stored: false, version: 0n, previousFound: false, previousValue: noBytes };
    assert.deepEqual(run.set(h, bytes('k'), bytes('a'), ifVersion(0n)), notStored);
    assert.deepEqual(run.set(h, bytes('k'), bytes('a'), ifVersion(7n)), notStored);
    assert.equal(run.get(h, bytes('k')).found, false, 'nothing created');

    const { version } = run.put(h, bytes('k'), bytes('a'));
    assert.deepEqual(run.set(h, bytes('k'), bytes('b'), ifVersion(version + 1n)), {
      stored: false,
      version,
      previousFound: false,
      previousValue: noBytes,
    });
    assert.equal(run.set(h, bytes('k'), bytes('b'), ifVersion(0n)).stored, false, '0 matches no live key');
    assert.equal(text(run.get(h, bytes('k')).value), 'a');

    const swapped = run.set(h, bytes('k'), bytes('c'), ifVersion(version));
    assert.equal(swapped.stored, true);
    assert.ok(swapped.version > version);
    assert.equal(text(run.get(h, bytes('k')).value), 'c');
    assert.deepEqual(run.set(h, bytes('k'), bytes('d'), ifVersion(version)).version, swapped.version);
    assert.equal(text(run.get(h, bytes('k')).value), 'c');

    // Delete and re-create: the old version does not come back (no ABA).
    run.del(h, bytes('k'));
    run.put(h, bytes('k'), bytes('e'));
    assert.equal(run.set(h, bytes('k'), bytes('f'), ifVersion(swapped.version)).stored, false);
  });

  it('return_previous gives the value the key had, whether or not it stores', () => {
    const h = harness();
    assert.deepEqual(run.set(h, bytes('k'), bytes('a'), { returnPrevious: true }), {
      stored: true,
      version: run.get(h, bytes('k')).version,
      previousFound: false,
      previousValue: noBytes,
    });
    const second = run.set(h, bytes('k'), Uint8Array.of(0, 255), { returnPrevious: true });
    assert.equal(second.previousFound, true);
    assert.equal(text(second.previousValue), 'a');
    const refused = run.set(h, bytes('k'), bytes('x'), {
      condition: SetCondition.SET_IF_ABSENT,
      returnPrevious: true,
    });
    assert.equal(refused.stored, false);
    assert.equal(Buffer.from(refused.previousValue).toString('hex'), '00ff', 'binary values come back as they are');
    assert.equal(Buffer.from(run.get(h, bytes('k')).value).toString('hex'), '00ff');

    run.put(h, bytes('t'), bytes('old'), 10n);
    h.clock.advance(10);
    const afterExpiry = run.set(h, bytes('t'), bytes('new'), { returnPrevious: true });
    assert.deepEqual([afterExpiry.previousFound, afterExpiry.previousValue], [false, noBytes]);
  });

  it('ttl_ms sets an expiry, keep_ttl keeps the current one, and neither clears it', () => {
    const h = harness();
    run.set(h, bytes('k'), bytes('a'), { ttlMs: 1000n });
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 1000n });
    h.clock.advance(400);
    run.set(h, bytes('k'), bytes('b'), { keepTtl: true });
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 600n });
    assert.equal(text(run.get(h, bytes('k')).value), 'b');
    run.set(h, bytes('k'), bytes('c'));
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 0n }, 'a set without an expiry clears it');
    run.set(h, bytes('k'), bytes('d'), { keepTtl: true });
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 0n }, 'keep_ttl keeps "no expiry" too');
    run.set(h, bytes('new'), bytes('v'), { keepTtl: true });
    assert.deepEqual(run.ttl(h, bytes('new')), { found: true, ttlMs: 0n }, 'a missing key has no expiry to keep');
    h.clock.advance(10 * ttlMsMax);
    assert.equal(text(run.get(h, bytes('k')).value), 'd');
  });

  it('expires_at_ms sets an absolute expiry; a time not after now stores the key already expired', () => {
    const h = harness();
    const now = BigInt(h.clock.nowMs());
    run.set(h, bytes('k'), bytes('a'), { expiresAtMs: now + 2500n });
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 2500n });

    for (const [key, at] of [
      ['past', now - 1n],
      ['now', now],
      ['epoch', 1n],
    ] as const) {
      const reply = run.set(h, bytes(key), bytes('x'), { expiresAtMs: at });
      assert.equal(reply.stored, true, key);
      assert.ok(reply.version >= 1n);
      assert.equal(run.get(h, bytes(key)).found, false, `${key}: invisible to get`);
      assert.equal(run.mget(h, [bytes(key)]).items[0]!.found, false, `${key}: invisible to mget`);
      assert.deepEqual(run.ttl(h, bytes(key)), { found: false, ttlMs: 0n });
    }
    assert.equal(h.store.size(), 4, 'the expired keys are present until reclaimed');
    assert.equal(
      run.set(h, bytes('past'), bytes('y'), { condition: SetCondition.SET_IF_ABSENT }).stored,
      true,
      'and count as absent',
    );
    h.clock.advance(2500);
    assert.equal(run.get(h, bytes('k')).found, false);
  });

  it('more than one of ttl_ms, expires_at_ms and keep_ttl is ERR_INVALID_ARGUMENT, and nothing is written', async () => {
    const h = harness();
    const { version } = run.put(h, bytes('k'), bytes('old'), 1000n);
    const at = BigInt(h.clock.nowMs() + 5000);
    const combinations: SetOptions[] = [
      { ttlMs: 10n, expiresAtMs: at },
      { ttlMs: 10n, keepTtl: true },
      { expiresAtMs: at, keepTtl: true },
      { ttlMs: 10n, expiresAtMs: at, keepTtl: true },
    ];
    for (const options of combinations) {
      for (const key of [bytes('k'), bytes('missing')]) {
        await refusedWithoutWriting(h, 'ERR_INVALID_ARGUMENT', () => run.set(h, key, bytes('new'), options));
        await refusedWithoutWriting(h, 'ERR_INVALID_ARGUMENT', () =>
          run.set(h, key, bytes('new'), { ...options, condition: SetCondition.SET_IF_PRESENT, returnPrevious: true }),
        );
      }
    }
    const got = run.get(h, bytes('k'));
    assert.deepEqual([text(got.value), got.version, got.ttlMs], ['old', version, 1000n]);
    assert.equal(run.get(h, bytes('missing')).found, false);
  });

  it('an expiry out of range or a condition it does not know is ERR_INVALID_ARGUMENT, and nothing is written', async () => {
    const h = harness();
    run.put(h, bytes('k'), bytes('old'));
    const bad: SetOptions[] = [
      { ttlMs: BigInt(ttlMsMax) + 1n },
      { expiresAtMs: BigInt(Number.MAX_SAFE_INTEGER) + 1n },
      { expiresAtMs: 2n ** 64n - 1n },
      { condition: 9 as SetCondition },
    ];
    for (const options of bad) {
      await refusedWithoutWriting(h, 'ERR_INVALID_ARGUMENT', () => run.set(h, bytes('k'), bytes('new'), options));
    }
    assert.equal(text(run.get(h, bytes('k')).value), 'old');
    assert.equal(run.set(h, bytes('k'), bytes('far'), { expiresAtMs: BigInt(Number.MAX_SAFE_INTEGER) }).stored, true);
    assert.equal(text(run.get(h, bytes('k')).value), 'far');
  });

  it('flags are stored with the value and read back by mget; a write without flags resets them to 0', () => {
    const h = harness();
    run.set(h, bytes('k'), bytes('v'), { flags: 0xffff_ffff });
    assert.equal(flagsOf(h, bytes('k')), 0xffff_ffff);
    run.set(h, bytes('k'), bytes('w'), { flags: 7, keepTtl: true });
    assert.equal(flagsOf(h, bytes('k')), 7);
    run.set(h, bytes('k'), bytes('x'));
    assert.equal(flagsOf(h, bytes('k')), 0);
    run.set(h, bytes('k'), bytes('y'), { flags: 3 });
    run.put(h, bytes('k'), bytes('z'));
    assert.equal(flagsOf(h, bytes('k')), 0, 'put stores no flags');
    run.set(h, bytes('k'), bytes('y'), { flags: 3 });
    run.set(h, bytes('k'), bytes('n'), { condition: SetCondition.SET_IF_ABSENT, flags: 9 });
    assert.equal(flagsOf(h, bytes('k')), 3, 'a set that does not store leaves the flags');
  });
});

describe('mget', () => {
  it(`refuses a reply whose values add up to more than ${mgetReplyBytesMax} bytes`, () => {
    const h = harness(4 << 20);
    const value = Buffer.alloc(4 << 20, 1);
    const keys = Array.from({ length: mgetReplyBytesMax / value.length + 1 }, (_, i) => bytes(`big${i}`));
    for (const key of keys) run.put(h, key, value);
    assert.equal(run.mget(h, keys.slice(1)).items.length, keys.length - 1, 'exactly the limit is fine');
    throwsCode(() => run.mget(h, keys), 'ERR_VALUE_TOO_LARGE', 'fewer keys');
  });

  it('returns one item per key, in the order asked, with value, version, flags and ttl; missing keys not found', () => {
    const h = harness();
    const a = run.set(h, bytes('a'), bytes('1'), { ttlMs: 300n, flags: 12 }).version;
    const b = run.put(h, bytes('b'), bytes('2')).version;
    run.put(h, bytes('gone'), bytes('3'), 10n);
    h.clock.advance(10);
    const missing = { found: false, value: noBytes, version: 0n, flags: 0, ttlMs: 0n };
    assert.deepEqual(run.mget(h, [bytes('b'), bytes('nope'), bytes('a'), bytes('gone'), bytes('b')]), {
      items: [
        { found: true, value: bytes('2'), version: b, flags: 0, ttlMs: 0n },
        missing,
        { found: true, value: bytes('1'), version: a, flags: 12, ttlMs: 290n },
        missing,
        { found: true, value: bytes('2'), version: b, flags: 0, ttlMs: 0n },
      ],
    });
  });

  it(`takes 1 to ${multiKeysMax} keys; none or more is ERR_INVALID_ARGUMENT; a bad key fails the whole request`, () => {
    const h = harness();
    run.put(h, bytes('k7'), bytes('v'));
    const keys = Array.from({ length: multiKeysMax + 1 }, (_, i) => bytes(`k${i}`));
    const most = run.mget(h, keys.slice(0, multiKeysMax));
    assert.equal(most.items.length, multiKeysMax);
    assert.deepEqual(
      most.items.flatMap((item, i) => (item.found ? [i] : [])),
      [7],
    );
    throwsCode(() => run.mget(h, keys), 'ERR_INVALID_ARGUMENT', String(multiKeysMax));
    throwsCode(() => run.mget(h, []), 'ERR_INVALID_ARGUMENT');
    throwsCode(() => run.mget(h, [bytes('k7'), new Uint8Array(0)]), 'ERR_KEY_EMPTY');
    throwsCode(() => run.mget(h, [bytes('k7'), Buffer.alloc(keyBytesMax + 1, 0x6b)]), 'ERR_KEY_TOO_LARGE');
  });
});

describe('mput', () => {
  it('stores every entry (a later duplicate wins), and the reply names a version no older than any of them', () => {
    const h = harness();
    const before = run.put(h, bytes('a'), bytes('old')).version;
    const { version } = run.mput(h, [
      { key: bytes('a'), value: bytes('1') },
      { key: bytes('b'), value: bytes('2') },
      { key: bytes('a'), value: bytes('3') },
    ]);
    assert.ok(version > before);
    const items = run.mget(h, [bytes('a'), bytes('b')]).items;
    assert.deepEqual(
      items.map((item) => text(item.value)),
      ['3', '2'],
    );
    for (const item of items) assert.ok(item.version > before && item.version <= version);
  });

  it('each entry gets its own version, in order; the reply names the last one', () => {
    const h = harness();
    const { version } = run.mput(h, [
      { key: bytes('a'), value: bytes('1') },
      { key: bytes('b'), value: bytes('2') },
    ]);
    const [a, b] = run.mget(h, [bytes('a'), bytes('b')]).items.map((item) => item.version);
    assert.equal(b, version);
    assert.ok(a! < b!);
  });

  it('removes any expiry and any flags, as a put does', () => {
    const h = harness();
    run.set(h, bytes('a'), bytes('old'), { ttlMs: 500n, flags: 5 });
    run.mput(h, [{ key: bytes('a'), value: bytes('new') }]);
    const [item] = run.mget(h, [bytes('a')]).items;
    assert.deepEqual([text(item?.value), item?.ttlMs, item?.flags], ['new', 0n, 0]);
    h.clock.advance(1000);
    assert.equal(run.get(h, bytes('a')).found, true);
  });

  it('is all or nothing: one bad entry anywhere and nothing is written', async () => {
    const h = harness(64);
    const { version } = run.put(h, bytes('a'), bytes('old'));
    const good = [
      { key: bytes('a'), value: bytes('new') },
      { key: bytes('b'), value: bytes('1') },
    ];
    const bad: [ErrorCode, { key: Uint8Array; value: Uint8Array }][] = [
      ['ERR_KEY_EMPTY', { key: new Uint8Array(0), value: bytes('x') }],
      ['ERR_KEY_TOO_LARGE', { key: Buffer.alloc(keyBytesMax + 1, 0x6b), value: bytes('x') }],
      ['ERR_VALUE_TOO_LARGE', { key: bytes('c'), value: Buffer.alloc(65) }],
    ];
    for (const [code, entry] of bad) {
      await refusedWithoutWriting(h, code, () => run.mput(h, [...good, entry]));
      await refusedWithoutWriting(h, code, () => run.mput(h, [entry, ...good]));
    }
    // Each value within the limit, but together over it.
    const thirds = ['x', 'y', 'z'].map((key) => ({ key: bytes(key), value: Buffer.alloc(22) }));
    await refusedWithoutWriting(h, 'ERR_VALUE_TOO_LARGE', () => run.mput(h, thirds), '64');
    await refusedWithoutWriting(h, 'ERR_INVALID_ARGUMENT', () => run.mput(h, []));
    const tooMany = Array.from({ length: multiKeysMax + 1 }, (_, i) => ({ key: bytes(`k${i}`), value: noBytes }));
    await refusedWithoutWriting(h, 'ERR_INVALID_ARGUMENT', () => run.mput(h, tooMany), String(multiKeysMax));
    const got = run.get(h, bytes('a'));
    assert.deepEqual([text(got.value), got.version], ['old', version]);
    assert.equal(h.store.size(), 1);

    // At the limits exactly, it stores.
    const exact = [22, 21, 21].map((length, i) => ({ key: bytes(['x', 'y', 'z'][i]!), value: Buffer.alloc(length) }));
    assert.doesNotThrow(() => run.mput(h, exact));
    assert.doesNotThrow(() => run.mput(h, tooMany.slice(0, multiKeysMax)));
    assert.equal(h.store.size(), 1 + 3 + multiKeysMax);
  });
});

describe('getdel', () => {
  it('removes a key and returns the value it had', () => {
    const h = harness();
    run.put(h, bytes('k'), Uint8Array.of(0, 1, 255));
    const got = run.getdel(h, bytes('k'));
    assert.deepEqual(got, { found: true, value: Buffer.of(0, 1, 255) });
    assert.equal(run.get(h, bytes('k')).found, false);
    assert.deepEqual(run.getdel(h, bytes('k')), { found: false, value: noBytes });
    run.put(h, bytes('k'), bytes('later'));
    assert.deepEqual(got.value, Buffer.of(0, 1, 255), 'the value returned is its own copy');
  });

  it('an expired key is not found, and its record goes too', () => {
    const h = harness();
    run.put(h, bytes('k'), bytes('v'), 10n);
    h.clock.advance(10);
    assert.equal(h.store.size(), 1);
    assert.deepEqual(run.getdel(h, bytes('k')), { found: false, value: noBytes });
    assert.equal(h.store.size(), 0);
  });
});

describe('flush', () => {
  it('removes every key and counts them, expired ones included', () => {
    const h = harness();
    run.put(h, bytes('a'), bytes('1'));
    run.set(h, bytes('b'), bytes('2'), { flags: 4 });
    run.put(h, bytes('c'), bytes('3'), 10n);
    h.clock.advance(10);
    assert.deepEqual(run.flush(h), { keys: 3n });
    assert.deepEqual(run.size(h), { keys: 0n, bytes: 0n });
    assert.equal(run.mget(h, [bytes('a'), bytes('b'), bytes('c')]).items.filter((item) => item.found).length, 0);
    assert.deepEqual(run.scan(h, {}), { entries: [], cursor: noBytes });
    assert.deepEqual(run.flush(h), { keys: 0n });
    const after = run.put(h, bytes('a'), bytes('again'));
    assert.equal(text(run.get(h, bytes('a')).value), 'again');
    assert.equal(flagsOf(h, bytes('a')), 0);
    assert.ok(after.version > 0n);
  });
});

describe('incr with memcached semantics', () => {
  const memcached = { memcached: true };
  const decrement = { memcached: true, decrement: true };
  const u64 = (value: bigint): bigint => BigInt.asIntN(64, value); // as the reply carries it

  it('a missing or expired key is not found, and nothing is created', async () => {
    const h = harness();
    await h.store.sync();
    assert.deepEqual(run.incr(h, bytes('n'), 1n, memcached), { value: 0n, found: false });
    assert.deepEqual(run.incr(h, bytes('n'), 1n, decrement), { value: 0n, found: false });
    assert.equal(h.store.isSynced(), true, 'nothing was written');
    assert.equal(run.get(h, bytes('n')).found, false);
    run.put(h, bytes('e'), bytes('5'), 10n);
    h.clock.advance(10);
    assert.deepEqual(run.incr(h, bytes('e'), 1n, memcached), { value: 0n, found: false });
    assert.equal(run.get(h, bytes('e')).found, false);
  });

  it('adds and subtracts unsigned amounts, storing decimal text', () => {
    const h = harness();
    run.put(h, bytes('n'), bytes('5'));
    assert.deepEqual(run.incr(h, bytes('n'), 10n, memcached), { value: 15n, found: true });
    assert.equal(text(run.get(h, bytes('n')).value), '15');
    assert.deepEqual(run.incr(h, bytes('n'), 5n, decrement), { value: 10n, found: true });
    assert.equal(text(run.get(h, bytes('n')).value), '10');
    assert.deepEqual(run.incr(h, bytes('n'), 0n, memcached), { value: 10n, found: true });
  });

  it("wraps at 2^64; the delta and the result travel as two's-complement int64", () => {
    const h = harness();
    run.put(h, bytes('max'), bytes('18446744073709551615'));
    assert.deepEqual(run.incr(h, bytes('max'), 1n, memcached), { value: 0n, found: true });
    assert.equal(text(run.get(h, bytes('max')).value), '0'.padEnd(20, ' '));

    // 18446744073709551615 as a delta is sent as -1: adding it is subtracting 1, modulo 2^64.
    run.put(h, bytes('n'), bytes('5'));
    assert.deepEqual(run.incr(h, bytes('n'), u64(18446744073709551615n), memcached), { value: 4n, found: true });
    assert.equal(text(run.get(h, bytes('n')).value), '4');

    // Past 2^63 the reply's int64 is negative; the stored text is the unsigned number.
    run.put(h, bytes('big'), bytes('9223372036854775807'));
    assert.deepEqual(run.incr(h, bytes('big'), 1n, memcached), { value: -(2n ** 63n), found: true });
    assert.equal(text(run.get(h, bytes('big')).value), '9223372036854775808');
    assert.deepEqual(run.incr(h, bytes('big'), u64(2n ** 63n + 6n), memcached), {
      value: 6n,
      found: true,
    });
  });

  it('a decrement stops at 0, also by an amount past 2^63', () => {
    const h = harness();
    run.put(h, bytes('n'), bytes('5'));
    assert.deepEqual(run.incr(h, bytes('n'), 10n, decrement), { value: 0n, found: true });
    assert.equal(text(run.get(h, bytes('n')).value), '0');
    assert.deepEqual(run.incr(h, bytes('n'), 1n, decrement), { value: 0n, found: true });
    run.put(h, bytes('m'), bytes('18446744073709551615'));
    assert.deepEqual(run.incr(h, bytes('m'), -1n, decrement), { value: 0n, found: true }, 'minus 2^64 - 1');
  });

  it('a shorter result is padded with spaces to the old length, as memcached rewrites in place', () => {
    const h = harness();
    const cases: [string, bigint, { memcached: boolean; decrement?: boolean }, string][] = [
      ['10', 1n, decrement, '9 '],
      ['100', 95n, decrement, '5  '],
      ['10', 100n, decrement, '0 '],
      ['9 ', 1n, memcached, '10'],
      [' 12 ', 1n, memcached, '13  '],
      ['99', 1n, memcached, '100'],
      ['007', 1n, memcached, '8  '],
    ];
    for (const [before, delta, options, after] of cases) {
      run.put(h, bytes('n'), bytes(before));
      run.incr(h, bytes('n'), delta, options);
      assert.equal(text(run.get(h, bytes('n')).value), after, `"${before}" ${options.decrement ? '-' : '+'} ${delta}`);
    }
  });

  it('keeps the flags and the expiry', () => {
    const h = harness();
    run.set(h, bytes('n'), bytes('10'), { ttlMs: 1000n, flags: 77 });
    h.clock.advance(100);
    run.incr(h, bytes('n'), 1n, decrement);
    run.incr(h, bytes('n'), 5n, memcached);
    const [item] = run.mget(h, [bytes('n')]).items;
    assert.deepEqual([text(item?.value), item?.flags, item?.ttlMs], ['14', 77, 900n]);
  });

  it('a value memcached cannot read as a counter is ERR_NOT_AN_INTEGER, and stays as it was', () => {
    const h = harness();
    for (const value of ['abc', '12abc', '1.5', '-5', '18446744073709551616', '0x10', '+', '-9223372036854775808']) {
      run.put(h, bytes('x'), bytes(value));
      for (const options of [memcached, decrement]) {
        throwsCode(() => run.incr(h, bytes('x'), 1n, options), 'ERR_NOT_AN_INTEGER');
        assert.equal(text(run.get(h, bytes('x')).value), value);
      }
    }
  });

  it('an empty value is not a counter (memcached: "Can\'t delta zero byte values")', () => {
    const h = harness();
    run.put(h, bytes('x'), new Uint8Array(0));
    throwsCode(() => run.incr(h, bytes('x'), 1n, memcached), 'ERR_NOT_AN_INTEGER');
    assert.equal(run.get(h, bytes('x')).value.length, 0);
  });

  it('without memcached, decrement is not used and a missing key still counts as 0', () => {
    const h = harness();
    assert.deepEqual(run.incr(h, bytes('n'), 2n, { decrement: true }), { value: 2n, found: true });
  });
});

describe('parseMemcachedCounter (safe_strtoull)', () => {
  const table: [string, bigint | undefined][] = [
    ['', undefined],
    [' ', undefined],
    ['12', 12n],
    [' 12 ', 12n],
    ['\t\n12\r\n', 12n],
    ['12 abc', 12n],
    ['007', 7n],
    ['12abc', undefined],
    ['abc', undefined],
    ['1.5', undefined],
    ['-0', 0n],
    ['-5', undefined],
    ['+7', 7n],
    ['+', undefined],
    ['-', undefined],
    ['18446744073709551615', 18446744073709551615n],
    ['18446744073709551616', undefined],
    ['99999999999999999999999', undefined],
    ['9223372036854775808', 9223372036854775808n],
    ['-9223372036854775808', undefined],
    ['-18446744073709551615', 1n],
  ];
  for (const [input, expected] of table) {
    it(`${JSON.stringify(input)} -> ${expected === undefined ? 'not a number' : String(expected)}`, () => {
      assert.equal(parseMemcachedCounter(Buffer.from(input, 'latin1')), expected);
    });
  }

  it('reads only the bytes of its view', () => {
    const backing = Buffer.from('9912xx', 'latin1');
    assert.equal(parseMemcachedCounter(backing.subarray(2, 4)), 12n);
    assert.equal(parseMemcachedCounter(new Uint8Array(backing.buffer, backing.byteOffset + 1, 3)), 912n);
  });
});

describe('append: prepend and must-exist', () => {
  it('prepends to the value, or starts a missing key with the part', () => {
    const h = harness();
    run.put(h, bytes('k'), bytes('world'));
    assert.deepEqual(run.append(h, bytes('k'), bytes('hello '), { prepend: true }), { length: 11n, stored: true });
    assert.equal(text(run.get(h, bytes('k')).value), 'hello world');
    assert.deepEqual(run.append(h, bytes('new'), bytes('x'), { prepend: true }), { length: 1n, stored: true });
    assert.equal(text(run.get(h, bytes('new')).value), 'x');
  });

  it('with must-exist, a missing or expired key is not stored and stays missing', async () => {
    const h = harness();
    run.put(h, bytes('e'), bytes('old'), 10n);
    h.clock.advance(10);
    await h.store.sync();
    for (const prepend of [false, true]) {
      for (const key of ['k', 'e']) {
        assert.deepEqual(run.append(h, bytes(key), bytes('x'), { prepend, mustExist: true }), {
          length: 0n,
          stored: false,
        });
        assert.equal(run.get(h, bytes(key)).found, false);
      }
    }
    assert.equal(h.store.isSynced(), true, 'nothing was written');
    run.put(h, bytes('k'), bytes('b'));
    assert.deepEqual(run.append(h, bytes('k'), bytes('c'), { mustExist: true }), { length: 2n, stored: true });
    assert.deepEqual(run.append(h, bytes('k'), bytes('a'), { mustExist: true, prepend: true }), {
      length: 3n,
      stored: true,
    });
    assert.equal(text(run.get(h, bytes('k')).value), 'abc');
  });

  it('append and prepend keep the expiry and the flags', () => {
    const h = harness();
    run.set(h, bytes('k'), bytes('b'), { ttlMs: 1000n, flags: 0x8000_0001 });
    h.clock.advance(100);
    run.append(h, bytes('k'), bytes('c'));
    run.append(h, bytes('k'), bytes('a'), { prepend: true });
    const [item] = run.mget(h, [bytes('k')]).items;
    assert.deepEqual([text(item?.value), item?.flags, item?.ttlMs], ['abc', 0x8000_0001, 900n]);
  });

  it('prepend may reach the value limit but not pass it', () => {
    const h = harness(16);
    run.put(h, bytes('a'), Buffer.alloc(10, 0x61));
    assert.deepEqual(run.append(h, bytes('a'), Buffer.alloc(6, 0x62), { prepend: true }), {
      length: 16n,
      stored: true,
    });
    throwsCode(() => run.append(h, bytes('a'), bytes('c'), { prepend: true }), 'ERR_VALUE_TOO_LARGE');
    assert.equal(text(run.get(h, bytes('a')).value), 'bbbbbbaaaaaaaaaa', 'unchanged after the refusal');
  });
});

describe('expire: an absolute time, had_ttl, and the value back', () => {
  it('expires_at_ms sets an absolute expiry; a time not after now expires the key at once', () => {
    const h = harness();
    run.put(h, bytes('k'), bytes('v'));
    const now = BigInt(h.clock.nowMs());
    assert.deepEqual(run.expire(h, bytes('k'), 0n, { expiresAtMs: now + 2500n }), expireReply(true, false));
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 2500n });
    for (const at of [now, now - 1n, 1n]) {
      run.put(h, bytes('p'), bytes('v'));
      assert.deepEqual(run.expire(h, bytes('p'), 0n, { expiresAtMs: at }), expireReply(true, false));
      assert.equal(run.get(h, bytes('p')).found, false, `expires_at ${at}`);
    }
    assert.deepEqual(run.expire(h, bytes('missing'), 0n, { expiresAtMs: now + 10n }), expireReply(false));
    assert.equal(run.get(h, bytes('missing')).found, false);
  });

  it('ttl_ms with expires_at_ms, or an absolute time out of range, is ERR_INVALID_ARGUMENT, and nothing changes', async () => {
    const h = harness();
    const { version } = run.put(h, bytes('k'), bytes('v'), 1000n);
    const at = BigInt(h.clock.nowMs() + 5000);
    await refusedWithoutWriting(h, 'ERR_INVALID_ARGUMENT', () => run.expire(h, bytes('k'), 10n, { expiresAtMs: at }));
    await refusedWithoutWriting(h, 'ERR_INVALID_ARGUMENT', () =>
      run.expire(h, bytes('k'), 0n, { expiresAtMs: BigInt(Number.MAX_SAFE_INTEGER) + 1n, returnValue: true }),
    );
    const got = run.get(h, bytes('k'));
    assert.deepEqual([got.version, got.ttlMs], [version, 1000n]);
  });

  it('had_ttl says whether the key had an expiry before the request', () => {
    const h = harness();
    run.put(h, bytes('k'), bytes('v'));
    assert.equal(run.expire(h, bytes('k'), 1000n).hadTtl, false);
    assert.equal(run.expire(h, bytes('k'), 2000n).hadTtl, true);
    assert.equal(run.expire(h, bytes('k'), 0n).hadTtl, true, 'removing an expiry: it had one');
    assert.equal(run.expire(h, bytes('k'), 0n).hadTtl, false);
    assert.equal(run.expire(h, bytes('nope'), 0n).hadTtl, false);
  });

  it('return_value gives the value and flags with the new expiry, and keeps the flags', () => {
    const h = harness();
    run.set(h, bytes('k'), Uint8Array.of(1, 0, 2), { flags: 0xabcd, ttlMs: 50n });
    const reply = run.expire(h, bytes('k'), 1000n, { returnValue: true });
    assert.equal(reply.found, true);
    assert.equal(reply.hadTtl, true);
    assert.equal(Buffer.from(reply.value).toString('hex'), '010002');
    assert.equal(reply.flags, 0xabcd);
    assert.ok(reply.version >= 1n);
    assert.deepEqual(run.ttl(h, bytes('k')), { found: true, ttlMs: 1000n });
    assert.equal(flagsOf(h, bytes('k')), 0xabcd, 'expire keeps the flags');
    assert.deepEqual(run.expire(h, bytes('missing'), 1000n, { returnValue: true }), expireReply(false));
    assert.deepEqual(
      run.expire(h, bytes('k'), 1000n),
      expireReply(true, true),
      'no value, flags or version unless asked for',
    );
  });

  it("the version that comes with the value is the key's version after the expire (usable for a following cas)", () => {
    const h = harness();
    run.put(h, bytes('k'), bytes('v'));
    const reply = run.expire(h, bytes('k'), 1000n, { returnValue: true });
    assert.equal(reply.version, run.get(h, bytes('k')).version);
    assert.equal(
      run.set(h, bytes('k'), bytes('w'), { condition: SetCondition.SET_IF_VERSION, expectedVersion: reply.version })
        .stored,
      true,
    );
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
    assert.deepEqual(run.topology(standalone), {
      cluster: '',
      manager: '',
      chains: [],
      nodes: [],
      slots: [],
      slotsVersion: 0n,
      coordinator: '',
    });
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

// ---- Moving slots between chains ------------------------------------------------------------------

describe('moving slots (slotfreeze, slotexport, slotimport, slotdrop)', () => {
  type SlotCommand = 'slotfreeze' | 'slotexport' | 'slotimport' | 'slotdrop';
  const slotNames: readonly SlotCommand[] = ['slotfreeze', 'slotexport', 'slotimport', 'slotdrop'];
  const methodOf: Record<SlotCommand, keyof SlotMover> = {
    slotfreeze: 'freeze',
    slotexport: 'exportPage',
    slotimport: 'importPage',
    slotdrop: 'dropPage',
  };
  /** A valid request of each, as the node decodes it. */
  const requestOf = (name: SlotCommand, range = { first: u1Slot, last: u1Slot }): object => {
    switch (name) {
      case 'slotfreeze':
        return create(SlotFreezeRequestSchema, { ...range, toChain: 'c1' });
      case 'slotexport':
        return create(SlotExportRequestSchema, { ...range, after: bytes('{u1}mail'), limit: 50 });
      case 'slotimport':
        return create(SlotImportRequestSchema, { ...range, records: exportedRecords, clients: exportedClients });
      case 'slotdrop':
        return create(SlotDropRequestSchema, { ...range, limit: 100 });
    }
  };
  const execute = (h: Harness, name: SlotCommand, request: object = requestOf(name)): object =>
    commandByName(name).execute(h.ctx, request);
  const cluster = (valueBytesMax = 64): Harness & { mover: RecordingMover } => {
    const mover = new RecordingMover();
    return { ...harness(valueBytesMax, {}, mover), mover };
  };

  it("are the table's slot commands: internal, not seed, not answered node-locally", () => {
    assert.deepEqual([...slotCommands].sort(), [...slotNames].sort());
    for (const name of slotNames) {
      assert.match(commandTable[name].summary, /^Internal \(moving slots\)/, name);
      assert.equal(commandTable[name].seed, false, name);
      assert.equal(nodeLocalCommands.has(name), false, name);
    }
  });

  for (const name of slotNames) {
    it(`${name} on a standalone node (no slots) is ERR_INVALID_ARGUMENT, and changes nothing`, async () => {
      const h = harness();
      run.put(h, bytes('{u1}name'), bytes('v'));
      await h.store.sync();
      throwsCode(() => execute(h, name), 'ERR_INVALID_ARGUMENT', 'only a cluster node moves slots between chains');
      assert.ok(h.store.isSynced());
      assert.equal(text(run.get(h, bytes('{u1}name')).value), 'v');
    });

    it(`${name} on a cluster node hands its request to the mover as it came, and returns the mover's reply`, () => {
      const h = cluster();
      const request = requestOf(name);
      const result = execute(h, name, request);
      assert.equal(h.mover.calls.length, 1);
      assert.equal(h.mover.calls[0]!.method, methodOf[name]);
      assert.equal(h.mover.calls[0]!.request, request, 'the same request object, not a copy');
      const expected: Record<SlotCommand, object> = {
        slotfreeze: {},
        slotexport: { records: exportedRecords, cursor: bytes('{u1}name') },
        slotimport: { records: BigInt(exportedRecords.length) },
        slotdrop: { removed: 2n, cursor: bytes('{u1}name') },
      };
      assert.deepEqual(result, expected[name]);
      if (name === 'slotdrop') assert.equal(result, h.mover.dropped, "the mover's own reply object");
      assert.ok(h.store.isSynced() && h.store.size() === 0, "the store is the mover's to change");
    });

    it(`${name} refuses a range that is not within 0..${slotCount - 1}, before reaching the mover`, () => {
      const h = cluster();
      for (const [first, last] of [
        [1, 0],
        [slotCount - 1, slotCount - 2],
        [0, slotCount],
        [slotCount, slotCount],
        [2 ** 32 - 1, 2 ** 32 - 1],
      ] as const) {
        throwsCode(
          () => execute(h, name, requestOf(name, { first, last })),
          'ERR_INVALID_ARGUMENT',
          `${first}..${last}`,
        );
      }
      assert.equal(h.mover.calls.length, 0);
      for (const [first, last] of [
        [0, 0],
        [0, slotCount - 1],
        [slotCount - 1, slotCount - 1],
      ] as const) {
        assert.doesNotThrow(() => execute(h, name, requestOf(name, { first, last })), `${first}..${last}`);
      }
      assert.equal(h.mover.calls.length, 3);
    });
  }

  it('slotexport with clients asks the mover for a page of the client table', () => {
    const h = cluster();
    const request = create(SlotExportRequestSchema, { first: 0, last: slotCount - 1, clients: true });
    assert.deepEqual(run.slotexport(h, request), {
      records: [],
      clients: exportedClients.map((c) => reply(create(ClientRecordSchema, c))),
      cursor: new Uint8Array(0),
      revision: 0n,
    });
    const call = h.mover.calls[0];
    assert.ok(call?.method === 'exportPage');
    assert.equal(call.request.clients, true);
  });

  it('checkSlotRange: first <= last < 16384, whole numbers', () => {
    for (const [first, last] of [
      [0, 0],
      [0, 16383],
      [16383, 16383],
      [100, 200],
    ]) {
      assert.doesNotThrow(() => checkSlotRange(first!, last!), `${first}..${last}`);
    }
    for (const [first, last] of [
      [1, 0],
      [16383, 0],
      [0, 16384],
      [16384, 16384],
      [16383, 16384],
      [0, 1.5],
      [0.5, 1],
      [Number.NaN, 1],
      [0, Number.POSITIVE_INFINITY],
    ]) {
      throwsCode(() => checkSlotRange(first!, last!), 'ERR_INVALID_ARGUMENT', '0..16383');
    }
  });

  it("slotimport refuses an empty key, an oversized key or a value over the node's limit, before reaching the mover", () => {
    const h = cluster(32);
    const good = { key: bytes('{u1}ok'), value: bytes('v'), version: 1n };
    const refused: [ReplyInit<'slotexport'>['records'], ErrorCode, string?][] = [
      [[good, { key: new Uint8Array(0), value: bytes('v') }], 'ERR_KEY_EMPTY'],
      [[good, { key: Buffer.alloc(keyBytesMax + 1, 0x6b) }], 'ERR_KEY_TOO_LARGE', String(keyBytesMax)],
      [[good, { key: bytes('{u1}big'), value: Buffer.alloc(33) }], 'ERR_VALUE_TOO_LARGE', '32'],
      [[{ key: bytes('{u1}big'), value: Buffer.alloc(33) }, { key: new Uint8Array(0) }], 'ERR_VALUE_TOO_LARGE'],
    ];
    for (const [records, code, message] of refused) {
      throwsCode(() => run.slotimport(h, { first: 0, last: slotCount - 1, records }), code, message);
    }
    assert.equal(h.mover.calls.length, 0, 'nothing reached the mover');

    // At the limits (and an empty value, and no records at all) the page goes through.
    const atLimits = [
      good,
      { key: Buffer.alloc(keyBytesMax, 0x6b), value: Buffer.alloc(32) },
      { key: bytes('{u1}empty'), value: new Uint8Array(0) },
    ];
    assert.deepEqual(run.slotimport(h, { first: 0, last: slotCount - 1, records: atLimits }), { records: 3n });
    assert.deepEqual(run.slotimport(h, { first: 0, last: slotCount - 1, clients: exportedClients }), { records: 0n });
    assert.equal(h.mover.calls.length, 2);
  });

  for (const name of ['slotexport', 'slotdrop'] as const) {
    it(`${name} refuses a limit over ${scanCountMax} before reaching the mover; 0 (the default) and ${scanCountMax} pass`, () => {
      const h = cluster();
      const page = (limit: number) => execute(h, name, { ...requestOf(name), limit });
      throwsCode(() => page(scanCountMax + 1), 'ERR_INVALID_ARGUMENT', 'limit');
      throwsCode(() => page(2 ** 32 - 1), 'ERR_INVALID_ARGUMENT', 'limit');
      assert.equal(h.mover.calls.length, 0);
      page(scanCountMax);
      page(0);
      assert.deepEqual(
        h.mover.calls.map((call) => (call.request as { limit: number }).limit),
        [scanCountMax, 0],
        'the limit reaches the mover as sent (the mover reads 0 as its default)',
      );
    });
  }

  it('slotimport is never parsed from words: the manager builds it from slotexport pages', () => {
    for (const words of [[], ['0', '99'], ['0', '99', 'k', 'v'], ['0', '99', 'k', 'v', '1', '0', '0']]) {
      throwsCode(() => commandTable.slotimport.parse(w(...words)), 'ERR_INVALID_ARGUMENT', 'not typed');
    }
  });

  it('slot words that are not whole non-negative numbers are ERR_INVALID_ARGUMENT', () => {
    const bad: [SlotCommand, string[]][] = [
      ['slotfreeze', ['x', '1', 'c1']],
      ['slotfreeze', ['0', '-1', 'c1']],
      ['slotfreeze', ['1.5', '2', 'c1']],
      ['slotexport', ['0', 'ten']],
      ['slotexport', ['', '1']],
      ['slotdrop', [' 1', '2']],
      ['slotdrop', ['1e3', '2000']],
    ];
    for (const [name, words] of bad) {
      throwsCode(() => commandTable[name].parse(w(...words)), 'ERR_INVALID_ARGUMENT');
    }
  });

  // Regression: slot words were once read with the scan limit parser (capped at 10000).
  it('slot words take every slot, up to 16383', () => {
    assert.deepEqual(shown(commandTable.slotfreeze.parse(w('12288', '16383', 'c1'))), {
      first: 12288,
      last: 16383,
      toChain: 'c1',
    });
    assert.deepEqual(shown(commandTable.slotdrop.parse(w('16383', '16383'))), {
      first: 16383,
      last: 16383,
      after: undefined,
    });
  });

  it('a bad slot word is named as a slot, not as a limit', () => {
    throwsCode(() => commandTable.slotfreeze.parse(w('x', '1', 'c1')), 'ERR_INVALID_ARGUMENT', /first|slot/);
    throwsCode(() => commandTable.slotexport.parse(w('0', 'y')), 'ERR_INVALID_ARGUMENT', /last|slot/);
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
    set: (h, key) => run.set(h, key, bytes('v'), { condition: SetCondition.SET_IF_PRESENT }),
    mget: (h, key) => run.mget(h, [bytes('ok'), key]),
    mput: (h, key) => run.mput(h, [{ key, value: bytes('v') }]),
    getdel: (h, key) => run.getdel(h, key),
    'incr (memcached)': (h, key) => run.incr(h, key, 1n, { memcached: true }),
    'append (prepend, must-exist)': (h, key) => run.append(h, key, bytes('v'), { prepend: true, mustExist: true }),
  };

  for (const [name, call] of Object.entries(keyed)) {
    it(`${name}: empty key -> ERR_KEY_EMPTY, ${keyBytesMax + 1} bytes -> ERR_KEY_TOO_LARGE, ${keyBytesMax} is fine`, () => {
      const h = harness();
      throwsCode(() => call(h, new Uint8Array(0)), 'ERR_KEY_EMPTY');
      throwsCode(() => call(h, key1025), 'ERR_KEY_TOO_LARGE', String(keyBytesMax));
      assert.doesNotThrow(() => call(h, key1024));
    });
  }

  it('a value over the limit is ERR_VALUE_TOO_LARGE for put, cas, append, set and mput, and nothing is written', () => {
    const h = harness(32);
    run.put(h, bytes('k'), bytes('old'));
    const big = Buffer.alloc(33);
    throwsCode(() => run.put(h, bytes('k'), big), 'ERR_VALUE_TOO_LARGE', '32');
    throwsCode(() => run.cas(h, bytes('k'), 0n, big), 'ERR_VALUE_TOO_LARGE');
    throwsCode(() => run.append(h, bytes('k'), big), 'ERR_VALUE_TOO_LARGE');
    throwsCode(() => run.append(h, bytes('k'), big, { prepend: true, mustExist: true }), 'ERR_VALUE_TOO_LARGE');
    throwsCode(() => run.set(h, bytes('k'), big, { returnPrevious: true }), 'ERR_VALUE_TOO_LARGE', '32');
    throwsCode(() => run.set(h, bytes('k'), big, { condition: SetCondition.SET_IF_ABSENT }), 'ERR_VALUE_TOO_LARGE');
    throwsCode(() => run.mput(h, [{ key: bytes('k'), value: big }]), 'ERR_VALUE_TOO_LARGE', '32');
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
    const h = harness(64, {}, new RecordingMover());
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
      ['incr', exec('incr', { key: bytes('b'), delta: -1n, memcached: true })],
      ['incr', exec('incr', { key: bytes('missing'), delta: 1n, memcached: true, decrement: true })],
      ['append', exec('append', { key: bytes('b'), value: bytes('0'), prepend: true, mustExist: true })],
      ['append', exec('append', { key: bytes('missing'), value: bytes('0'), mustExist: true })],
      ['expire', exec('expire', { key: bytes('a'), expiresAtMs: BigInt(h.clock.nowMs() + 500), returnValue: true })],
      [
        'set',
        exec('set', {
          key: bytes('s'),
          value: bytes('v'),
          condition: SetCondition.SET_IF_ABSENT,
          ttlMs: 100n,
          returnPrevious: true,
          flags: 0xffff_ffff,
        }),
      ],
      ['set', exec('set', { key: bytes('s'), value: bytes('w'), keepTtl: true, returnPrevious: true })],
      ['set', exec('set', { key: bytes('s'), value: bytes('x'), condition: SetCondition.SET_IF_VERSION })],
      ['mget', exec('mget', { keys: [bytes('s'), bytes('missing'), bytes('a')] })],
      ['mput', exec('mput', { entries: [{ key: bytes('m1'), value: bytes('1') }, { key: bytes('m2') }] })],
      ['getdel', exec('getdel', { key: bytes('m1') })],
      ['getdel', exec('getdel', { key: bytes('missing') })],
      ['flush', exec('flush', {})],
      ['slotfreeze', exec('slotfreeze', { first: 0, last: slotCount - 1, toChain: 'c1' })],
      ['slotexport', exec('slotexport', { first: u1Slot, last: u1Slot, limit: 2 })],
      ['slotexport', exec('slotexport', { first: u1Slot, last: u1Slot, after: bytes('client-0'), clients: true })],
      [
        'slotimport',
        exec('slotimport', { first: u1Slot, last: u1Slot, records: exportedRecords, clients: exportedClients }),
      ],
      ['slotdrop', exec('slotdrop', { first: u1Slot, last: u1Slot, after: bytes('{u1}mail'), limit: 1 })],
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
  set: SetRequestSchema,
  mget: MgetRequestSchema,
  mput: MputRequestSchema,
  getdel: GetdelRequestSchema,
  flush: FlushRequestSchema,
  slotfreeze: SlotFreezeRequestSchema,
  slotexport: SlotExportRequestSchema,
  slotimport: SlotImportRequestSchema,
  slotdrop: SlotDropRequestSchema,
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
  set: SetReplySchema,
  mget: MgetReplySchema,
  mput: MputReplySchema,
  getdel: GetdelReplySchema,
  flush: FlushReplySchema,
  slotfreeze: SlotFreezeReplySchema,
  slotexport: SlotExportReplySchema,
  slotimport: SlotImportReplySchema,
  slotdrop: SlotDropReplySchema,
} as const;

// ---- Parse ---------------------------------------------------------------------------------------

const w = (...words: string[]): Buffer[] => words.map((word) => Buffer.from(word));

/** Parse results with bytes as text (in lists and nested entries too), so they compare with deepEqual. */
function shown(request: object): Record<string, unknown> {
  const show = (value: unknown): unknown => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString();
    if (Array.isArray(value)) return value.map(show);
    if (typeof value === 'object' && value !== null) return shown(value);
    return value;
  };
  return Object.fromEntries(Object.entries(request).map(([k, v]) => [k, show(v)]));
}

/** What set's parse builds: every field, the defaults overridden by `fields`. */
function setParsed(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    key: 'k',
    value: 'v',
    condition: SetCondition.SET_ALWAYS,
    expectedVersion: 0n,
    ttlMs: 0n,
    expiresAtMs: 0n,
    keepTtl: false,
    returnPrevious: false,
    flags: 0,
    ...fields,
  };
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
    append: [
      [['k', 'v'], { key: 'k', value: 'v', prepend: false, mustExist: false }],
      [['k', 'v', 'prepend'], { key: 'k', value: 'v', prepend: true, mustExist: false }],
      [['k', 'v', 'MUST-EXIST'], { key: 'k', value: 'v', prepend: false, mustExist: true }],
      [['k', 'v', 'must-exist', 'Prepend'], { key: 'k', value: 'v', prepend: true, mustExist: true }],
    ],
    expire: [
      [['k', '100'], { key: 'k', ttlMs: 100n }],
      [['k', '0'], { key: 'k', ttlMs: 0n }],
      [['k', 'at=1700000000000'], { key: 'k', expiresAtMs: 1700000000000n }],
      [['k', 'AT=5'], { key: 'k', expiresAtMs: 5n }],
    ],
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
    set: [
      [['k', 'v'], setParsed({})],
      [
        ['k', 'v', 'nx', 'ttl=100', 'get', 'flags=7'],
        setParsed({ condition: SetCondition.SET_IF_ABSENT, ttlMs: 100n, returnPrevious: true, flags: 7 }),
      ],
      [['k', 'v', 'XX', 'KeepTTL'], setParsed({ condition: SetCondition.SET_IF_PRESENT, keepTtl: true })],
      [
        ['k', 'v', 'version=5', 'at=1700000000000', 'flags=4294967295'],
        setParsed({
          condition: SetCondition.SET_IF_VERSION,
          expectedVersion: 5n,
          expiresAtMs: 1700000000000n,
          flags: 0xffff_ffff,
        }),
      ],
      [
        ['k', 'v', 'nx', 'version=0', 'ttl=1', 'at=2', 'keepttl'],
        setParsed({ condition: SetCondition.SET_IF_VERSION, ttlMs: 1n, expiresAtMs: 2n, keepTtl: true }),
      ],
    ],
    mget: [
      [['a'], { keys: ['a'] }],
      [['a', 'b', 'a'], { keys: ['a', 'b', 'a'] }],
      [
        Array.from({ length: multiKeysMax }, (_, i) => `k${i}`),
        { keys: Array.from({ length: multiKeysMax }, (_, i) => `k${i}`) },
      ],
    ],
    mput: [
      [['a', '1'], { entries: [{ key: 'a', value: '1' }] }],
      [
        ['a', '1', 'b', ''],
        {
          entries: [
            { key: 'a', value: '1' },
            { key: 'b', value: '' },
          ],
        },
      ],
    ],
    getdel: [[['k'], { key: 'k' }]],
    flush: [[[], {}]],
    // Slot words are only parsed here; execute checks the range (first <= last < 16384).
    slotfreeze: [
      [['0', '99', 'c1'], { first: 0, last: 99, toChain: 'c1' }],
      [['4574', '4574', 'chain-b'], { first: 4574, last: 4574, toChain: 'chain-b' }],
    ],
    slotexport: [
      [['0', '99'], { first: 0, last: 99, after: undefined }],
      [['100', '200', '{u1}name'], { first: 100, last: 200, after: '{u1}name' }],
    ],
    // Never typed: its records come from slotexport, so no words make one (see 'moving slots').
    slotimport: [],
    slotdrop: [
      [['0', '99'], { first: 0, last: 99, after: undefined }],
      [['7', '7', 'k'], { first: 7, last: 7, after: 'k' }],
    ],
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
    append: [['k'], ['k', 'v', 'prepend', 'must-exist', 'prepend']],
    expire: [['k'], ['k', '1', 'x'], ['k', 'at=1', '1']],
    ttl: [[], ['a', 'b']],
    scan: [['p', 'a', '1', 'x']],
    ping: [['a', 'b']],
    topology: [['x'], ['x', 'y']],
    nodestatus: [['x'], ['node-1', 'c0']],
    set: [[], ['k'], ['k', 'v', 'nx', 'ttl=1', 'get', 'flags=1', 'keepttl', 'xx']],
    mget: [[], Array.from({ length: multiKeysMax + 1 }, (_, i) => `k${i}`)],
    mput: [[], ['a'], ['a', '1', 'b'], Array.from({ length: 2 * multiKeysMax + 2 }, (_, i) => `w${i}`)],
    getdel: [[], ['a', 'b']],
    flush: [['x']],
    slotfreeze: [[], ['0', '99'], ['0', '99', 'c1', 'x']],
    slotexport: [[], ['0'], ['0', '99', 'a', 'x']],
    slotimport: [[], ['0', '99'], ['0', '99', 'k', 'v']],
    slotdrop: [[], ['0'], ['0', '99', 'a', 'x']],
  };

  /** What the refusal names instead of the usage, for a command no words make. */
  const notTyped: Partial<Record<CommandName, string>> = { slotimport: 'sent by the manager' };

  for (const name of commandNames) {
    it(`${name}: the right number of words parses; any other is ERR_INVALID_ARGUMENT with the usage`, () => {
      const definition = commandTable[name];
      for (const [words, expected] of valid[name]) {
        assert.deepEqual(shown(definition.parse(w(...words))), expected, `${name} ${words.join(' ')}`);
      }
      for (const words of wrongArity[name]) {
        throwsCode(() => definition.parse(w(...words)), 'ERR_INVALID_ARGUMENT', notTyped[name] ?? definition.usage);
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
      ['expire', ['k', 'at=x'], 'at'],
      ['expire', ['k', 'at=-1'], 'at'],
      ['expire', ['k', 'at='], 'at'],
      ['set', ['k', 'v', 'ttl=x'], 'ttl'],
      ['set', ['k', 'v', 'ttl=-1'], 'ttl'],
      ['set', ['k', 'v', 'at=1.5'], 'at'],
      ['set', ['k', 'v', 'version=v1'], 'version'],
      ['set', ['k', 'v', 'flags=-1'], 'flags'],
      ['set', ['k', 'v', 'flags=4294967296'], 'flags'],
      ['set', ['k', 'v', 'ex=10'], 'ex=10'],
      ['set', ['k', 'v', 'nxx'], 'nxx'],
      ['append', ['k', 'v', 'x'], 'x'],
      ['append', ['k', 'v', 'prepend', 'append'], 'append'],
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
      [commandTable.incr.render(create(IncrReplySchema, { value: -3n, found: true })), '(integer) -3'],
      [commandTable.incr.render(create(IncrReplySchema, { found: false })), '(not found)'],
      [commandTable.append.render(create(AppendReplySchema, { length: 5n, stored: true })), '(length) 5'],
      [commandTable.append.render(create(AppendReplySchema, { stored: false })), '(not stored: no such key)'],
      [commandTable.set.render(create(SetReplySchema, { stored: true, version: 3n })), 'OK (version 3)'],
      [
        commandTable.set.render(create(SetReplySchema, { stored: false, version: 4n })),
        '(not stored: current version 4)',
      ],
      [
        commandTable.set.render(
          create(SetReplySchema, { stored: true, version: 5n, previousFound: true, previousValue: bytes('old') }),
        ),
        'OK (version 5); previous "old"',
      ],
      [
        commandTable.mget.render(
          create(MgetReplySchema, { items: [{ found: true, value: bytes('a') }, { found: false }] }),
        ),
        '"a"\n(nil)',
      ],
      [commandTable.mput.render(create(MputReplySchema, { version: 9n })), 'OK (version 9)'],
      [commandTable.getdel.render(create(GetdelReplySchema, { found: true, value: bytes('v') })), '"v"'],
      [commandTable.getdel.render(create(GetdelReplySchema, { found: false })), '(nil)'],
      [commandTable.flush.render(create(FlushReplySchema, { keys: 3n })), 'OK (3 keys removed)'],
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
      [commandTable.slotfreeze.render(create(SlotFreezeReplySchema, {})), 'OK'],
      [
        commandTable.slotexport.render(
          create(SlotExportReplySchema, { records: exportedRecords, cursor: bytes('{u1}name') }),
        ),
        '2 records, 0 clients (cursor "{u1}name")',
      ],
      [
        commandTable.slotexport.render(create(SlotExportReplySchema, { clients: exportedClients })),
        '0 records, 2 clients (end)',
      ],
      [commandTable.slotexport.render(create(SlotExportReplySchema, {})), '0 records, 0 clients (end)'],
      [commandTable.slotimport.render(create(SlotImportReplySchema, { records: 3n })), 'OK (3 records)'],
      [
        commandTable.slotdrop.render(create(SlotDropReplySchema, { removed: 5n, cursor: Uint8Array.of(0x6b, 0) })),
        'OK (5 removed) (cursor "k\\x00")',
      ],
      [commandTable.slotdrop.render(create(SlotDropReplySchema, {})), 'OK (0 removed) (end)'],
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
