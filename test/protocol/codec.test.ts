// The message layer of the native protocol, tested only through codec.ts's exported functions, so
// the suite holds for any implementation of them (the generated reflection codec today, a
// hand-written one tomorrow). The wire format is proto/catena.proto: golden bytes below are
// computed by hand from the protobuf encoding rules, not captured from the implementation.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeRequestFrame,
  encodeResponse,
  encodeResponseFrame,
  encodeWriterRequestFrame,
  peekRequestId,
  type CommandCase,
  type ReplyCase,
  type ReplyOf,
  type RequestCommand,
  type RequestOf,
  type ResponseResult,
} from '../../src/protocol/native/codec.js';
import { encodeFrame } from '../../src/protocol/native/frame.js';
import { keylessRequestBytesMax } from '../../src/core/limits.js';
import {
  AppendReplySchema,
  AppendRequestSchema,
  CasReplySchema,
  CasRequestSchema,
  DelReplySchema,
  DelRequestSchema,
  ErrorSchema,
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
  AuthReplySchema,
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
  type Error as ErrorMessage,
} from '../../src/protocol/native/gen/catena_pb.js';

const hex = (value: Uint8Array): string => Buffer.from(value).toString('hex');
const fromHex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const ascii = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'latin1'));
const asciiHex = (text: string): string => hex(ascii(text));

const commandCases: readonly CommandCase[] = [
  'put',
  'get',
  'del',
  'size',
  'getkeys',
  'gettable',
  'stats',
  'cas',
  'incr',
  'append',
  'expire',
  'ttl',
  'scan',
  'ping',
  'topology',
  'nodestatus',
  'set',
  'mget',
  'mput',
  'getdel',
  'flush',
  'slotfreeze',
  'slotexport',
  'slotimport',
  'slotdrop',
];
const resultCases: readonly (ReplyCase | 'error')[] = ['error', ...commandCases];

/**
 * A comparable view of `actual`, shaped like `expected`: bytes become hex, fields absent from
 * `actual` read as their proto3 default (empty bytes, 0, 0n, false, '', []), and bookkeeping
 * properties ($typeName, $unknown) are ignored. Compare view(expected, actual) with
 * view(expected, expected).
 */
function view(expected: unknown, actual: unknown): unknown {
  if (expected instanceof Uint8Array) {
    if (actual === undefined) return '';
    assert.ok(actual instanceof Uint8Array, `expected bytes, got ${typeof actual}`);
    return hex(actual);
  }
  if (Array.isArray(expected)) {
    const list = actual === undefined ? [] : actual;
    assert.ok(Array.isArray(list), 'expected a list');
    if (list.length !== expected.length) return { length: list.length };
    return list.map((item: unknown, i) => view(expected[i], item));
  }
  if (typeof expected === 'object' && expected !== null) {
    const record = (actual ?? {}) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(expected)) {
      if (name.startsWith('$')) continue;
      out[name] = view(value, record[name]);
    }
    return out;
  }
  if (actual !== undefined) return actual;
  switch (typeof expected) {
    case 'bigint':
      return 0n;
    case 'number':
      return 0;
    case 'boolean':
      return false;
    case 'string':
      return '';
    default:
      return undefined;
  }
}

function assertSameFields(actual: unknown, expected: unknown, what: string): void {
  assert.deepEqual(view(expected, actual), view(expected, expected), what);
}

function decodedRequest(body: Uint8Array) {
  const decoded = decodeRequest(body);
  assert.ok(decoded.ok, `decodes: ${decoded.ok ? '' : decoded.reason}`);
  return decoded.message;
}

function decodedResponse(body: Uint8Array) {
  const decoded = decodeResponse(body);
  assert.ok(decoded.ok, `decodes: ${decoded.ok ? '' : decoded.reason}`);
  return decoded.message;
}

function varintBytes(value: bigint): number {
  let n = 1;
  while (value >= 0x80n) {
    value >>= 7n;
    n += 1;
  }
  return n;
}

function varint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

// ---- Golden frames ------------------------------------------------------------------------

interface RequestGolden {
  name: string;
  id: number;
  command: RequestCommand;
  bytes: string;
}

const requestGoldens: RequestGolden[] = [
  {
    name: 'get "k"',
    id: 1,
    command: { case: 'get', value: create(GetRequestSchema, { key: ascii('k') }) },
    bytes: '08 01 1a 03 0a 01 6b',
  },
  {
    name: 'put with a ttl (uint64 varint 1000 = e8 07)',
    id: 2,
    command: { case: 'put', value: create(PutRequestSchema, { key: ascii('a'), value: ascii('bc'), ttlMs: 1000n }) },
    bytes: '08 02 12 0a 0a 01 61 12 02 62 63 18 e8 07',
  },
  {
    name: 'put with an empty value and no ttl (defaults are not written)',
    id: 1,
    command: { case: 'put', value: create(PutRequestSchema, { key: ascii('k'), value: new Uint8Array(0), ttlMs: 0n }) },
    bytes: '08 01 12 03 0a 01 6b',
  },
  {
    name: 'incr with a negative delta (sint64 zigzag -3 = 5), two-byte id 300',
    id: 300,
    command: { case: 'incr', value: create(IncrRequestSchema, { key: ascii('n'), delta: -3n }) },
    bytes: '08 ac 02 52 05 0a 01 6e 10 05',
  },
  {
    name: 'incr by the smallest int64 (zigzag 2^64-1, ten bytes)',
    id: 7,
    command: { case: 'incr', value: create(IncrRequestSchema, { key: ascii('n'), delta: -(2n ** 63n) }) },
    bytes: '08 07 52 0e 0a 01 6e 10 ff ff ff ff ff ff ff ff ff 01',
  },
  {
    name: 'incr by the largest int64 (zigzag 2^64-2)',
    id: 7,
    command: { case: 'incr', value: create(IncrRequestSchema, { key: ascii('n'), delta: 2n ** 63n - 1n }) },
    bytes: '08 07 52 0e 0a 01 6e 10 fe ff ff ff ff ff ff ff ff 01',
  },
  {
    name: 'size: an empty command message is still written',
    id: 1,
    command: { case: 'size', value: create(SizeRequestSchema) },
    bytes: '08 01 2a 00',
  },
  {
    name: 'ping with id 0 (the id is not written)',
    id: 0,
    command: { case: 'ping', value: create(PingRequestSchema) },
    bytes: '7a 00',
  },
  {
    name: 'del with the largest id',
    id: 0xffffffff,
    command: { case: 'del', value: create(DelRequestSchema, { key: ascii('x') }) },
    bytes: '08 ff ff ff ff 0f 22 03 0a 01 78',
  },
  {
    name: 'scan keys_only with limit 10000',
    id: 5,
    command: { case: 'scan', value: create(ScanRequestSchema, { prefix: ascii('p'), limit: 10000, keysOnly: true }) },
    bytes: '08 05 72 08 0a 01 70 18 90 4e 20 01',
  },
  {
    name: 'cas expecting version 0 (not written)',
    id: 3,
    command: {
      case: 'cas',
      value: create(CasRequestSchema, { key: ascii('k'), expectedVersion: 0n, value: ascii('v') }),
    },
    bytes: '08 03 4a 06 0a 01 6b 1a 01 76',
  },
  {
    name: 'incr with memcached and decrement (bools 3 and 4)',
    id: 1,
    command: {
      case: 'incr',
      value: create(IncrRequestSchema, { key: ascii('n'), delta: 1n, memcached: true, decrement: true }),
    },
    bytes: '08 01 52 09 0a 01 6e 10 02 18 01 20 01',
  },
  {
    name: 'set if at version 5, with flags (field 18: a two-byte tag; enum 3)',
    id: 1,
    command: {
      case: 'set',
      value: create(SetRequestSchema, {
        key: ascii('k'),
        value: ascii('v'),
        condition: SetCondition.SET_IF_VERSION,
        expectedVersion: 5n,
        flags: 7,
      }),
    },
    bytes: '08 01 92 01 0c 0a 01 6b 12 01 76 18 03 20 05 48 07',
  },
  {
    name: 'set with every option (the largest flags, keep_ttl and return_previous)',
    id: 2,
    command: {
      case: 'set',
      value: create(SetRequestSchema, {
        key: ascii('k'),
        condition: SetCondition.SET_IF_ABSENT,
        ttlMs: 1000n,
        expiresAtMs: 1n,
        keepTtl: true,
        returnPrevious: true,
        flags: 0xffffffff,
      }),
    },
    bytes: '08 02 92 01 14 0a 01 6b 18 01 28 e8 07 30 01 38 01 40 01 48 ff ff ff ff 0f',
  },
  {
    name: 'mget: repeated keys, an empty one included',
    id: 1,
    command: { case: 'mget', value: create(MgetRequestSchema, { keys: [ascii('a'), ascii('')] }) },
    bytes: '08 01 9a 01 05 0a 01 61 0a 00',
  },
  {
    name: 'mput: repeated KeyValue messages',
    id: 1,
    command: {
      case: 'mput',
      value: create(MputRequestSchema, { entries: [{ key: ascii('a'), value: ascii('b') }, { key: ascii('c') }] }),
    },
    bytes: '08 01 a2 01 0d 0a 06 0a 01 61 12 01 62 0a 03 0a 01 63',
  },
  {
    name: 'getdel',
    id: 1,
    command: { case: 'getdel', value: create(GetdelRequestSchema, { key: ascii('k') }) },
    bytes: '08 01 aa 01 03 0a 01 6b',
  },
  {
    name: 'flush: an empty message with a two-byte tag',
    id: 1,
    command: { case: 'flush', value: create(FlushRequestSchema) },
    bytes: '08 01 b2 01 00',
  },
  {
    name: 'expire at an absolute time, returning the value',
    id: 1,
    command: {
      case: 'expire',
      value: create(ExpireRequestSchema, { key: ascii('k'), expiresAtMs: 300n, returnValue: true }),
    },
    bytes: '08 01 62 08 0a 01 6b 18 ac 02 20 01',
  },
  {
    name: 'slotfreeze (field 23: a two-byte tag; a two-byte slot)',
    id: 1,
    command: { case: 'slotfreeze', value: create(SlotFreezeRequestSchema, { first: 1, last: 300, toChain: 'c1' }) },
    bytes: '08 01 ba 01 09 08 01 10 ac 02 1a 02 63 31',
  },
  {
    name: 'slotexport of the client table from slot 0 (not written), after "a"',
    id: 1,
    command: {
      case: 'slotexport',
      value: create(SlotExportRequestSchema, { first: 0, last: 16383, after: ascii('a'), limit: 100, clients: true }),
    },
    bytes: '08 01 c2 01 0a 10 ff 7f 1a 01 61 20 64 28 01',
  },
  {
    name: 'slotimport: repeated SlotRecord and ClientRecord messages, an empty record included',
    id: 1,
    command: {
      case: 'slotimport',
      value: create(SlotImportRequestSchema, {
        first: 5,
        last: 5,
        records: [{ key: ascii('a'), value: ascii('v'), version: 3n, expiresAtMs: 1n, flags: 2 }, {}],
        clients: [{ clientId: 'c', clientSequence: 2n, result: fromHex('ff'), hasResult: true }],
      }),
    },
    bytes:
      '08 01 ca 01 20 08 05 10 05 1a 0c 0a 01 61 12 01 76 18 03 20 01 28 02 1a 00 22 0a 0a 01 63 10 02 1a 01 ff 20 01',
  },
  {
    name: 'slotdrop with a cursor and a limit',
    id: 1,
    command: {
      case: 'slotdrop',
      value: create(SlotDropRequestSchema, { first: 2, last: 3, after: ascii('k'), limit: 10 }),
    },
    bytes: '08 01 d2 01 09 08 02 10 03 1a 01 6b 20 0a',
  },
  {
    name: 'append, prepended, only to an existing key',
    id: 1,
    command: {
      case: 'append',
      value: create(AppendRequestSchema, { key: ascii('k'), value: ascii('v'), prepend: true, mustExist: true }),
    },
    bytes: '08 01 5a 0a 0a 01 6b 12 01 76 18 01 20 01',
  },
];

interface ResponseGolden {
  name: string;
  id: number;
  result: ResponseResult;
  bytes: string;
}

const responseGoldens: ResponseGolden[] = [
  {
    name: 'an error',
    id: 5,
    result: {
      case: 'error',
      value: create(ErrorSchema, { code: 'ERR_KEY_EMPTY', message: 'key must not be empty' }),
    },
    bytes: `08 05 12 26 0a 0d ${asciiHex('ERR_KEY_EMPTY')} 12 15 ${asciiHex('key must not be empty')}`,
  },
  {
    name: 'get found, with value and version',
    id: 9,
    result: { case: 'get', value: create(GetReplySchema, { found: true, value: ascii('v'), version: 42n }) },
    bytes: '08 09 22 07 08 01 12 01 76 18 2a',
  },
  {
    name: 'get not found (an empty reply message)',
    id: 9,
    result: { case: 'get', value: create(GetReplySchema, { found: false }) },
    bytes: '08 09 22 00',
  },
  {
    name: 'getkeys: repeated bytes, including an empty key, and truncated',
    id: 1,
    result: { case: 'getkeys', value: create(GetKeysReplySchema, { keys: [ascii(''), ascii('a')], truncated: true }) },
    bytes: '08 01 3a 07 0a 00 0a 01 61 10 01',
  },
  {
    name: 'ping reply (field 16: a two-byte tag)',
    id: 0,
    result: { case: 'ping', value: create(PingReplySchema, { message: ascii('PONG') }) },
    bytes: '82 01 06 0a 04 50 4f 4e 47',
  },
  {
    name: 'incr reply -1 (sint64 zigzag 1)',
    id: 2,
    result: { case: 'incr', value: create(IncrReplySchema, { value: -1n }) },
    bytes: '08 02 5a 02 08 01',
  },
  {
    name: 'put reply with the largest uint64 version',
    id: 4,
    result: { case: 'put', value: create(PutReplySchema, { version: 2n ** 64n - 1n }) },
    bytes: '08 04 1a 0b 08 ff ff ff ff ff ff ff ff ff 01',
  },
  {
    name: 'scan reply: an entry, an empty entry, and a cursor',
    id: 6,
    result: {
      case: 'scan',
      value: create(ScanReplySchema, {
        entries: [{ key: ascii('a'), value: new Uint8Array(0), version: 1n }, {}],
        cursor: ascii('a'),
      }),
    },
    bytes: '08 06 7a 0c 0a 05 0a 01 61 18 01 0a 00 12 01 61',
  },
  {
    name: 'incr reply: found, value 5',
    id: 2,
    result: { case: 'incr', value: create(IncrReplySchema, { value: 5n, found: true }) },
    bytes: '08 02 5a 04 08 0a 10 01',
  },
  {
    name: 'incr reply: not found (memcached; an empty message)',
    id: 2,
    result: { case: 'incr', value: create(IncrReplySchema, { found: false }) },
    bytes: '08 02 5a 00',
  },
  {
    name: 'append reply: stored',
    id: 1,
    result: { case: 'append', value: create(AppendReplySchema, { length: 3n, stored: true }) },
    bytes: '08 01 62 04 08 03 10 01',
  },
  {
    name: 'expire reply with the value, the largest flags and a version',
    id: 1,
    result: {
      case: 'expire',
      value: create(ExpireReplySchema, {
        found: true,
        hadTtl: true,
        value: ascii('v'),
        flags: 0xffffffff,
        version: 2n,
      }),
    },
    bytes: '08 01 6a 0f 08 01 10 01 1a 01 76 20 ff ff ff ff 0f 28 02',
  },
  {
    name: 'set reply with the previous value (field 19: a two-byte tag)',
    id: 1,
    result: {
      case: 'set',
      value: create(SetReplySchema, { stored: true, version: 1n, previousFound: true, previousValue: ascii('o') }),
    },
    bytes: '08 01 9a 01 09 08 01 10 01 18 01 22 01 6f',
  },
  {
    name: 'mget reply: a found item with flags, and a missing one',
    id: 4,
    result: {
      case: 'mget',
      value: create(MgetReplySchema, {
        items: [{ found: true, value: ascii('v'), version: 3n, flags: 9, ttlMs: 0n }, { found: false }],
      }),
    },
    bytes: '08 04 a2 01 0d 0a 09 08 01 12 01 76 18 03 20 09 0a 00',
  },
  {
    name: 'mput reply',
    id: 1,
    result: { case: 'mput', value: create(MputReplySchema, { version: 300n }) },
    bytes: '08 01 aa 01 03 08 ac 02',
  },
  {
    name: 'getdel reply',
    id: 1,
    result: { case: 'getdel', value: create(GetdelReplySchema, { found: true, value: ascii('v') }) },
    bytes: '08 01 b2 01 05 08 01 12 01 76',
  },
  {
    name: 'flush reply',
    id: 1,
    result: { case: 'flush', value: create(FlushReplySchema, { keys: 2n }) },
    bytes: '08 01 ba 01 02 08 02',
  },
  {
    name: 'slotfreeze reply: an empty message (field 24)',
    id: 1,
    result: { case: 'slotfreeze', value: create(SlotFreezeReplySchema) },
    bytes: '08 01 c2 01 00',
  },
  {
    name: 'slotexport reply: a record, a client record and a cursor',
    id: 1,
    result: {
      case: 'slotexport',
      value: create(SlotExportReplySchema, {
        records: [{ key: ascii('a'), value: ascii('v'), version: 3n, flags: 5 }],
        clients: [{ clientId: 'c', clientSequence: 2n, result: fromHex('ff'), hasResult: true }],
        cursor: ascii('a'),
      }),
    },
    bytes: '08 01 ca 01 1b 0a 0a 0a 01 61 12 01 76 18 03 28 05 12 0a 0a 01 63 10 02 1a 01 ff 20 01 1a 01 61',
  },
  {
    name: 'slotimport reply',
    id: 1,
    result: { case: 'slotimport', value: create(SlotImportReplySchema, { records: 2n }) },
    bytes: '08 01 d2 01 02 08 02',
  },
  {
    name: 'slotdrop reply: the last page (no cursor)',
    id: 1,
    result: { case: 'slotdrop', value: create(SlotDropReplySchema, { removed: 300n }) },
    bytes: '08 01 da 01 03 08 ac 02',
  },
];

describe('codec: golden bytes', () => {
  for (const golden of requestGoldens) {
    it(`request: ${golden.name}`, () => {
      assert.equal(hex(encodeRequest(golden.id, golden.command)), hex(fromHex(golden.bytes)));
      const message = decodedRequest(fromHex(golden.bytes));
      assert.equal(message.id, golden.id);
      assert.equal(message.command.case, golden.command.case);
      assertSameFields(message.command.value, golden.command.value, 'command fields');
    });
  }
  for (const golden of responseGoldens) {
    it(`response: ${golden.name}`, () => {
      assert.equal(hex(encodeResponse(golden.id, golden.result)), hex(fromHex(golden.bytes)));
      const message = decodedResponse(fromHex(golden.bytes));
      assert.equal(message.id, golden.id);
      assert.equal(message.result.case, golden.result.case);
      assertSameFields(message.result.value, golden.result.value, 'result fields');
    });
  }

  it('decoded fields have the documented types (bytes, bigint for 64-bit, number for 32-bit)', () => {
    const put = decodedRequest(fromHex('08 02 12 0a 0a 01 61 12 02 62 63 18 e8 07'));
    assert.ok(put.command.case === 'put');
    assert.ok(put.command.value.key instanceof Uint8Array);
    assert.equal(hex(put.command.value.value), '6263');
    assert.equal(put.command.value.ttlMs, 1000n);
    const incr = decodedRequest(fromHex('08 07 52 0e 0a 01 6e 10 ff ff ff ff ff ff ff ff ff 01'));
    assert.ok(incr.command.case === 'incr');
    assert.equal(incr.command.value.delta, -(2n ** 63n));
    const scan = decodedRequest(fromHex('08 05 72 08 0a 01 70 18 90 4e 20 01'));
    assert.ok(scan.command.case === 'scan');
    assert.equal(scan.command.value.limit, 10000);
    assert.equal(scan.command.value.keysOnly, true);
    assert.equal(hex(scan.command.value.after ?? new Uint8Array(0)), '');
    const error = decodedResponse(fromHex(responseGoldens[0]!.bytes));
    assert.ok(error.result.case === 'error');
    assert.equal(error.result.value.code, 'ERR_KEY_EMPTY');
    assert.equal(error.result.value.message, 'key must not be empty');
  });

  it('refuses an id or a field value the schema cannot hold, rather than writing something else', () => {
    const get: RequestCommand = { case: 'get', value: create(GetRequestSchema, { key: ascii('k') }) };
    for (const id of [-1, 2 ** 32, 1.5, Number.NaN]) {
      assert.throws(() => encodeRequest(id, get), `request id ${id}`);
      assert.throws(
        () => encodeResponse(id, { case: 'del', value: create(DelReplySchema, { deleted: true }) }),
        `response id ${id}`,
      );
    }
    const tooBig = { case: 'put', value: { key: ascii('k'), ttlMs: 2n ** 64n } } as unknown as RequestCommand;
    assert.throws(() => encodeRequest(1, tooBig), 'uint64 past 2^64 - 1');
    const negative = { case: 'put', value: { key: ascii('k'), ttlMs: -1n } } as unknown as RequestCommand;
    assert.throws(() => encodeRequest(1, negative), 'negative uint64');
    const wide = { case: 'incr', value: { key: ascii('k'), delta: 2n ** 63n } } as unknown as RequestCommand;
    assert.throws(() => encodeRequest(1, wide), 'sint64 past 2^63 - 1');
  });

  it('encodes what the client and executor pass: plain init objects with absent fields', () => {
    // src/client/client.ts and src/commands/execute.ts hand the codec command requests and
    // replies as built by `parse` and `execute` (RequestInit / ReplyInit: no $typeName, fields
    // left out or undefined), cast to the message types. Any codec must accept them.
    const get = { case: 'get', value: { key: Buffer.from('k') } } as unknown as RequestCommand;
    assert.equal(hex(encodeRequest(1, get)), '08011a030a016b');
    const ping = { case: 'ping', value: { message: undefined } } as unknown as RequestCommand;
    assert.equal(hex(encodeRequest(0, ping)), '7a00');
    const notFound = { case: 'get', value: { found: false } } as unknown as ResponseResult;
    assert.equal(hex(encodeResponse(9, notFound)), '08092200');
    const scan = {
      case: 'scan',
      value: { entries: [{ key: Buffer.from('a'), value: undefined, version: 1n, ttlMs: 0n }], cursor: undefined },
    } as unknown as ResponseResult;
    assert.equal(hex(encodeResponse(6, scan)), hex(fromHex('08 06 7a 07 0a 05 0a 01 61 18 01')));
  });
});

// ---- Round trips ----------------------------------------------------------------------------

const bytesArb = fc.uint8Array({ maxLength: 48 });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const s64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const text = fc.string({ unit: 'binary', maxLength: 24 });

/** Every declared condition, and (proto3 enums are open) numbers the schema does not name. */
const setConditionArb: fc.Arbitrary<SetCondition> = fc.oneof(
  fc.constantFrom(
    SetCondition.SET_ALWAYS,
    SetCondition.SET_IF_ABSENT,
    SetCondition.SET_IF_PRESENT,
    SetCondition.SET_IF_VERSION,
  ),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((n) => n as SetCondition),
);

/** A record of a moving slot, and a client-table record (slotexport replies, slotimport requests). */
const slotRecordArb = fc.record({ key: bytesArb, value: bytesArb, version: u64, expiresAtMs: u64, flags: u32 });
const clientRecordArb = fc.record({ clientId: text, clientSequence: u64, result: bytesArb, hasResult: fc.boolean() });

const requestArbs: { [C in CommandCase]: fc.Arbitrary<RequestOf<C>> } = {
  put: fc.record({ key: bytesArb, value: bytesArb, ttlMs: u64 }).map((v) => create(PutRequestSchema, v)),
  get: fc.record({ key: bytesArb }).map((v) => create(GetRequestSchema, v)),
  del: fc.record({ key: bytesArb }).map((v) => create(DelRequestSchema, v)),
  size: fc.constant(create(SizeRequestSchema)),
  getkeys: fc.record({ prefix: bytesArb, limit: u32 }).map((v) => create(GetKeysRequestSchema, v)),
  gettable: fc.record({ prefix: bytesArb, limit: u32 }).map((v) => create(GetTableRequestSchema, v)),
  stats: fc.constant(create(StatsRequestSchema)),
  cas: fc
    .record({ key: bytesArb, expectedVersion: u64, value: bytesArb, ttlMs: u64 })
    .map((v) => create(CasRequestSchema, v)),
  incr: fc
    .record({ key: bytesArb, delta: s64, memcached: fc.boolean(), decrement: fc.boolean() })
    .map((v) => create(IncrRequestSchema, v)),
  append: fc
    .record({ key: bytesArb, value: bytesArb, prepend: fc.boolean(), mustExist: fc.boolean() })
    .map((v) => create(AppendRequestSchema, v)),
  expire: fc
    .record({ key: bytesArb, ttlMs: u64, expiresAtMs: u64, returnValue: fc.boolean() })
    .map((v) => create(ExpireRequestSchema, v)),
  ttl: fc.record({ key: bytesArb }).map((v) => create(TtlRequestSchema, v)),
  scan: fc
    .record({ prefix: bytesArb, after: bytesArb, limit: u32, keysOnly: fc.boolean() })
    .map((v) => create(ScanRequestSchema, v)),
  ping: fc.record({ message: bytesArb }).map((v) => create(PingRequestSchema, v)),
  topology: fc.constant(create(TopologyRequestSchema)),
  nodestatus: fc.constant(create(NodeStatusRequestSchema)),
  set: fc
    .record({
      key: bytesArb,
      value: bytesArb,
      condition: setConditionArb,
      expectedVersion: u64,
      ttlMs: u64,
      expiresAtMs: u64,
      keepTtl: fc.boolean(),
      returnPrevious: fc.boolean(),
      flags: u32,
    })
    .map((v) => create(SetRequestSchema, v)),
  mget: fc.record({ keys: fc.array(bytesArb, { maxLength: 6 }) }).map((v) => create(MgetRequestSchema, v)),
  mput: fc
    .record({ entries: fc.array(fc.record({ key: bytesArb, value: bytesArb }), { maxLength: 4 }) })
    .map((v) => create(MputRequestSchema, v)),
  getdel: fc.record({ key: bytesArb }).map((v) => create(GetdelRequestSchema, v)),
  flush: fc.constant(create(FlushRequestSchema)),
  slotfreeze: fc.record({ first: u32, last: u32, toChain: text }).map((v) => create(SlotFreezeRequestSchema, v)),
  slotexport: fc
    .record({ first: u32, last: u32, after: bytesArb, limit: u32, clients: fc.boolean() })
    .map((v) => create(SlotExportRequestSchema, v)),
  slotimport: fc
    .record({
      first: u32,
      last: u32,
      records: fc.array(slotRecordArb, { maxLength: 4 }),
      clients: fc.array(clientRecordArb, { maxLength: 3 }),
    })
    .map((v) => create(SlotImportRequestSchema, v)),
  slotdrop: fc
    .record({ first: u32, last: u32, after: bytesArb, limit: u32 })
    .map((v) => create(SlotDropRequestSchema, v)),
};

const chainInfoArb = fc.record({
  chainId: text,
  epoch: u64,
  members: fc.array(text, { maxLength: 4 }),
  joining: text,
});
const nodeAddressArb = fc.record({ nodeId: text, native: text, resp: text, memcached: text, admin: text });
const entryArb = fc.record({ key: bytesArb, value: bytesArb, version: u64, ttlMs: u64 });
const itemArb = fc.record({ found: fc.boolean(), value: bytesArb, version: u64, flags: u32, ttlMs: u64 });
const commandStatsArb = fc.record({
  name: text,
  calls: u64,
  errors: u64,
  p50Us: u64,
  p99Us: u64,
  p999Us: u64,
  maxUs: u64,
});

const resultArbs: { [C in ReplyCase]: fc.Arbitrary<ReplyOf<C>> } & { error: fc.Arbitrary<ErrorMessage> } = {
  error: fc.record({ code: text, message: text }).map((v) => create(ErrorSchema, v)),
  put: fc.record({ version: u64 }).map((v) => create(PutReplySchema, v)),
  get: fc
    .record({ found: fc.boolean(), value: bytesArb, version: u64, ttlMs: u64 })
    .map((v) => create(GetReplySchema, v)),
  del: fc.record({ deleted: fc.boolean() }).map((v) => create(DelReplySchema, v)),
  size: fc.record({ keys: u64, bytes: u64 }).map((v) => create(SizeReplySchema, v)),
  getkeys: fc
    .record({ keys: fc.array(bytesArb, { maxLength: 6 }), truncated: fc.boolean() })
    .map((v) => create(GetKeysReplySchema, v)),
  gettable: fc
    .record({ entries: fc.array(entryArb, { maxLength: 4 }), truncated: fc.boolean() })
    .map((v) => create(GetTableReplySchema, v)),
  stats: fc
    .record({
      uptimeMs: u64,
      connections: u32,
      connectionsTotal: u64,
      keys: u64,
      bytes: u64,
      commands: fc.array(commandStatsArb, { maxLength: 3 }),
      nodeId: text,
      durability: text,
      version: text,
      protocolErrors: u64,
    })
    .map((v) => create(StatsReplySchema, v)),
  cas: fc.record({ swapped: fc.boolean(), version: u64 }).map((v) => create(CasReplySchema, v)),
  incr: fc.record({ value: s64, found: fc.boolean() }).map((v) => create(IncrReplySchema, v)),
  append: fc.record({ length: u64, stored: fc.boolean() }).map((v) => create(AppendReplySchema, v)),
  expire: fc
    .record({ found: fc.boolean(), hadTtl: fc.boolean(), value: bytesArb, flags: u32, version: u64 })
    .map((v) => create(ExpireReplySchema, v)),
  ttl: fc.record({ found: fc.boolean(), ttlMs: u64 }).map((v) => create(TtlReplySchema, v)),
  scan: fc
    .record({ entries: fc.array(entryArb, { maxLength: 4 }), cursor: bytesArb })
    .map((v) => create(ScanReplySchema, v)),
  ping: fc.record({ message: bytesArb }).map((v) => create(PingReplySchema, v)),
  topology: fc
    .record({
      cluster: text,
      manager: text,
      chains: fc.array(chainInfoArb, { maxLength: 3 }),
      nodes: fc.array(nodeAddressArb, { maxLength: 3 }),
    })
    .map((v) => create(TopologyReplySchema, v)),
  nodestatus: fc
    .record({
      nodeId: text,
      chainId: text,
      role: text,
      epoch: u64,
      lastSequence: u64,
      persistedSequence: u64,
      committedSequence: u64,
      sessionConnected: fc.boolean(),
      servingReads: fc.boolean(),
      manager: fc.boolean(),
    })
    .map((v) => create(NodeStatusReplySchema, v)),
  set: fc
    .record({ stored: fc.boolean(), version: u64, previousFound: fc.boolean(), previousValue: bytesArb })
    .map((v) => create(SetReplySchema, v)),
  mget: fc.record({ items: fc.array(itemArb, { maxLength: 5 }) }).map((v) => create(MgetReplySchema, v)),
  mput: fc.record({ version: u64 }).map((v) => create(MputReplySchema, v)),
  getdel: fc.record({ found: fc.boolean(), value: bytesArb }).map((v) => create(GetdelReplySchema, v)),
  flush: fc.record({ keys: u64 }).map((v) => create(FlushReplySchema, v)),
  slotfreeze: fc.constant(create(SlotFreezeReplySchema)),
  slotexport: fc
    .record({
      records: fc.array(slotRecordArb, { maxLength: 4 }),
      clients: fc.array(clientRecordArb, { maxLength: 3 }),
      cursor: bytesArb,
    })
    .map((v) => create(SlotExportReplySchema, v)),
  slotimport: fc.record({ records: u64 }).map((v) => create(SlotImportReplySchema, v)),
  slotdrop: fc.record({ removed: u64, cursor: bytesArb }).map((v) => create(SlotDropReplySchema, v)),
  auth: fc.record({ user: text }).map((v) => create(AuthReplySchema, v)),
};

const anyCommand: fc.Arbitrary<RequestCommand> = fc.oneof(
  ...commandCases.map((name) => requestArbs[name].map((value) => ({ case: name, value }) as RequestCommand)),
);
const anyResult: fc.Arbitrary<ResponseResult> = fc.oneof(
  ...resultCases.map((name) => resultArbs[name].map((value) => ({ case: name, value }) as ResponseResult)),
);

describe('codec: round trips', () => {
  for (const name of commandCases) {
    it(`request ${name}: decode(encode(x)) has x's fields, and re-encodes to the same bytes`, () => {
      fc.assert(
        fc.property(u32, requestArbs[name], (id, value) => {
          const command = { case: name, value } as RequestCommand;
          const body = encodeRequest(id, command);
          const message = decodedRequest(body);
          assert.equal(message.id, id);
          assert.equal(message.command.case, name);
          assertSameFields(message.command.value, value, name);
          assert.equal(hex(encodeRequest(message.id, message.command)), hex(body), 'canonical encoding is stable');
        }),
        { numRuns: 100 },
      );
    });
  }

  for (const name of resultCases) {
    it(`response ${name}: decode(encode(x)) has x's fields, and re-encodes to the same bytes`, () => {
      fc.assert(
        fc.property(u32, resultArbs[name], (id, value) => {
          const result = { case: name, value } as ResponseResult;
          const body = encodeResponse(id, result);
          const message = decodedResponse(body);
          assert.equal(message.id, id);
          assert.equal(message.result.case, name);
          assertSameFields(message.result.value, value, name);
          assert.equal(hex(encodeResponse(message.id, message.result)), hex(body), 'canonical encoding is stable');
        }),
        { numRuns: 100 },
      );
    });
  }

  it('every oneof member has the field number of proto/catena.proto', () => {
    // Request fields 2..26 and Response fields 2..27, in .proto order; an empty member decodes
    // to its case and encodes back to the same four or five bytes.
    commandCases.forEach((name, i) => {
      const body = Uint8Array.from([0x08, 0x01, ...varint(((i + 2) << 3) | 2), 0x00]);
      const message = decodedRequest(body);
      assert.equal(message.command.case, name, `request field ${i + 2}`);
      assert.equal(hex(encodeRequest(1, message.command)), hex(body), name);
    });
    resultCases.forEach((name, i) => {
      const tag = varint(((i + 2) << 3) | 2);
      const body = Uint8Array.from([0x08, 0x01, ...tag, 0x00]);
      const message = decodedResponse(body);
      assert.equal(message.result.case, name, `response field ${i + 2}`);
      assert.equal(hex(encodeResponse(1, message.result)), hex(body), name);
    });
  });
});

// ---- Other valid encodings --------------------------------------------------------------------

describe('codec: valid encodings other than the canonical one', () => {
  it('fields may come in any order', () => {
    const message = decodedRequest(fromHex('1a 03 0a 01 6b 08 02'));
    assert.equal(message.id, 2);
    assert.ok(message.command.case === 'get');
    assert.equal(hex(message.command.value.key), '6b');
  });

  it('the last of several oneof members wins', () => {
    const message = decodedRequest(fromHex('08 01 1a 03 0a 01 61 22 03 0a 01 62'));
    assert.ok(message.command.case === 'del');
    assert.equal(hex(message.command.value.key), '62');
  });

  it('a member that returns after another member starts afresh', () => {
    // put{key:"a"}, del{key:"b"}, put{value:"v"}: the last put does not inherit key "a".
    const put = decodedRequest(fromHex('12 03 0a 01 61 22 03 0a 01 62 12 03 12 01 76'));
    assert.ok(put.command.case === 'put');
    assert.equal(hex(put.command.value.key), '');
    assert.equal(hex(put.command.value.value), '76');
    // put{key:"a"}, get{}: the get has no key.
    const get = decodedRequest(fromHex('12 03 0a 01 61 1a 00'));
    assert.ok(get.command.case === 'get');
    assert.equal(hex(get.command.value.key), '');
    // scan{prefix:"p"}, getkeys{}: the getkeys has no prefix.
    const getkeys = decodedRequest(fromHex('72 03 0a 01 70 32 00'));
    assert.ok(getkeys.command.case === 'getkeys');
    assert.equal(hex(getkeys.command.value.prefix), '');
    // Response: get{value:"v"}, error{}: the error has no code.
    const error = decodedResponse(fromHex('22 03 12 01 76 12 00'));
    assert.ok(error.result.case === 'error');
    assert.equal(error.result.value.code, '');
  });

  it('the same message field twice is merged', () => {
    // put{key:"a"} then put{value:"v"}: one put with both.
    const message = decodedRequest(fromHex('12 03 0a 01 61 12 03 12 01 76'));
    assert.ok(message.command.case === 'put');
    assert.equal(hex(message.command.value.key), '61');
    assert.equal(hex(message.command.value.value), '76');
  });

  it('a scalar field twice: the last value wins', () => {
    assert.equal(decodedRequest(fromHex('08 01 08 02')).id, 2);
  });

  it('a varint may be longer than needed', () => {
    assert.equal(decodedRequest(fromHex('08 81 80 80 80 00')).id, 1);
    const padded = decodedRequest(fromHex('08 01 12 07 0a 01 6b 18 e8 87 00'));
    assert.ok(padded.command.case === 'put');
    assert.equal(padded.command.value.ttlMs, 1000n);
  });

  it('unknown fields of every wire type are skipped, at the top level and inside a command', () => {
    const unknowns = [
      '98 06 05', // field 99, varint
      '99 06 01 02 03 04 05 06 07 08', // field 99, fixed64
      '9a 06 02 ab cd', // field 99, length-delimited
      '9d 06 01 02 03 04', // field 99, fixed32
    ];
    for (const unknown of unknowns) {
      const alone = decodedRequest(fromHex(`08 01 ${unknown}`));
      assert.equal(alone.id, 1, unknown);
      assert.equal(alone.command.case, undefined, `${unknown}: an unknown field is not a command`);

      const after = decodedRequest(fromHex(`08 01 1a 03 0a 01 6b ${unknown}`));
      assert.ok(after.command.case === 'get', unknown);
      assert.equal(hex(after.command.value.key), '6b');

      const inner = fromHex(`0a 01 6b ${unknown}`);
      const inside = decodedRequest(Uint8Array.from([0x08, 0x01, 0x1a, inner.length, ...inner]));
      assert.ok(inside.command.case === 'get', unknown);
      assert.equal(hex(inside.command.value.key), '6b', `${unknown} inside the command`);
    }
  });

  it('an unknown oneof member (field 99) decodes as a request with no command, keeping its id', () => {
    const message = decodedRequest(fromHex('08 2a 9a 06 00'));
    assert.equal(message.id, 42);
    assert.equal(message.command.case, undefined);
    const response = decodedResponse(fromHex('08 2a 9a 06 03 0a 01 6b'));
    assert.equal(response.id, 42);
    assert.equal(response.result.case, undefined);
  });
});

// ---- Differential: the reference implementation as an oracle --------------------------------------
// protobuf-es's reflection codec, run on the same schema, is an independent implementation of the
// wire format. codec.ts may take fast paths of its own; it must write the same bytes, and whatever
// it accepts the reference must accept with the same meaning (codec.ts may be stricter: it may
// reject what the reference tolerates, such as a known field with the wrong wire type).

function corrupt(body: Uint8Array, mutations: readonly { at: number; byte: number; kind: string }[]): Uint8Array {
  const bytes = [...body];
  for (const m of mutations) {
    const at = bytes.length === 0 ? 0 : m.at % bytes.length;
    if (m.kind === 'set' && bytes.length > 0) bytes[at] = m.byte;
    else if (m.kind === 'insert') bytes.splice(at, 0, m.byte);
    else bytes.splice(at, 1);
  }
  return Uint8Array.from(bytes);
}
const mutationArb = fc.record({
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
  kind: fc.constantFrom('set', 'insert', 'delete'),
});

function reference<T>(decode: () => T): { ok: true; message: T } | { ok: false } {
  try {
    return { ok: true, message: decode() };
  } catch {
    return { ok: false };
  }
}

describe('codec: agrees with the reference protobuf implementation', () => {
  it('encodeRequest writes the bytes the reference writes', () => {
    fc.assert(
      fc.property(u32, anyCommand, (id, command) => {
        assert.equal(
          hex(encodeRequest(id, command)),
          hex(toBinary(RequestSchema, create(RequestSchema, { id, command }))),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('encodeResponse writes the bytes the reference writes', () => {
    fc.assert(
      fc.property(u32, anyResult, (id, result) => {
        assert.equal(
          hex(encodeResponse(id, result)),
          hex(toBinary(ResponseSchema, create(ResponseSchema, { id, result }))),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('whatever decodeRequest accepts, the reference reads the same way', () => {
    fc.assert(
      fc.property(u32, anyCommand, fc.array(mutationArb, { maxLength: 3 }), (id, command, mutations) => {
        const body = corrupt(encodeRequest(id, command), mutations);
        const ours = decodeRequest(body);
        if (!ours.ok) return;
        const theirs = reference(() => fromBinary(RequestSchema, body));
        assert.ok(theirs.ok, `accepted ${hex(body)}, which the reference rejects`);
        assert.equal(ours.message.id, theirs.message.id);
        assert.equal(ours.message.command.case, theirs.message.command.case, hex(body));
        assertSameFields(ours.message.command.value, theirs.message.command.value, hex(body));
      }),
      { numRuns: 200 },
    );
  });

  it('whatever decodeResponse accepts, the reference reads the same way', () => {
    fc.assert(
      fc.property(u32, anyResult, fc.array(mutationArb, { maxLength: 3 }), (id, result, mutations) => {
        const body = corrupt(encodeResponse(id, result), mutations);
        const ours = decodeResponse(body);
        if (!ours.ok) return;
        const theirs = reference(() => fromBinary(ResponseSchema, body));
        assert.ok(theirs.ok, `accepted ${hex(body)}, which the reference rejects`);
        assert.equal(ours.message.id, theirs.message.id);
        assert.equal(ours.message.result.case, theirs.message.result.case, hex(body));
        assertSameFields(ours.message.result.value, theirs.message.result.value, hex(body));
      }),
      { numRuns: 200 },
    );
  });
});

describe('codec: edge values and sizes', () => {
  const u64Edges = [
    0n,
    1n,
    127n,
    128n,
    2n ** 32n - 1n,
    2n ** 32n,
    2n ** 35n - 1n,
    2n ** 35n,
    2n ** 49n,
    2n ** 52n - 1n,
    2n ** 52n,
    2n ** 53n - 1n,
    2n ** 53n,
    2n ** 53n + 1n,
    2n ** 56n - 1n,
    2n ** 56n,
    2n ** 63n - 1n,
    2n ** 63n,
    2n ** 64n - 1n,
  ];
  const s64Edges = [...u64Edges.filter((v) => v < 2n ** 63n).flatMap((v) => [v, -v]), -(2n ** 63n)];

  it('a uint64 of 2^53 is eight varint bytes (golden)', () => {
    const result: ResponseResult = { case: 'put', value: create(PutReplySchema, { version: 2n ** 53n }) };
    const golden = '08 01 1a 09 08 80 80 80 80 80 80 80 10';
    assert.equal(hex(encodeResponse(1, result)), hex(fromHex(golden)));
    const message = decodedResponse(fromHex(golden));
    assert.ok(message.result.case === 'put');
    assert.equal(message.result.value.version, 2n ** 53n);
  });

  it('64-bit values at every varint-length and float-precision boundary round-trip exactly', () => {
    for (const v of u64Edges) {
      const put: RequestCommand = { case: 'put', value: create(PutRequestSchema, { key: ascii('k'), ttlMs: v }) };
      const body = encodeRequest(1, put);
      assert.equal(hex(body), hex(toBinary(RequestSchema, create(RequestSchema, { id: 1, command: put }))), `ttl ${v}`);
      const decoded = decodedRequest(body);
      assert.ok(decoded.command.case === 'put');
      assert.equal(decoded.command.value.ttlMs, v);

      const get: ResponseResult = { case: 'get', value: create(GetReplySchema, { found: true, version: v, ttlMs: v }) };
      const reply = decodedResponse(encodeResponse(2, get));
      assert.ok(reply.result.case === 'get');
      assert.equal(reply.result.value.version, v);
      assert.equal(reply.result.value.ttlMs, v);
    }
    for (const v of s64Edges) {
      const incr: RequestCommand = { case: 'incr', value: create(IncrRequestSchema, { key: ascii('n'), delta: v }) };
      const body = encodeRequest(1, incr);
      assert.equal(
        hex(body),
        hex(toBinary(RequestSchema, create(RequestSchema, { id: 1, command: incr }))),
        `delta ${v}`,
      );
      const decoded = decodedRequest(body);
      assert.ok(decoded.command.case === 'incr');
      assert.equal(decoded.command.value.delta, v);

      const reply = decodedResponse(encodeResponse(3, { case: 'incr', value: create(IncrReplySchema, { value: v }) }));
      assert.ok(reply.result.case === 'incr');
      assert.equal(reply.result.value.value, v);
    }
  });

  it('large values round-trip, at and around any internal buffer-size threshold', () => {
    for (const length of [127, 128, 4090, 4095, 4096, 4097, 4200, 16_384, 70_000, 1024 * 1024]) {
      const value = Uint8Array.from({ length }, (_, i) => (i * 13 + length) & 0xff);
      const put: RequestCommand = { case: 'put', value: create(PutRequestSchema, { key: ascii('k'), value }) };
      const body = encodeRequest(9, put);
      assert.equal(
        body.length,
        2 +
          1 +
          varintBytes(BigInt(3 + varintBytes(BigInt(length)) + length)) +
          3 +
          1 +
          varintBytes(BigInt(length)) +
          length,
      );
      const decoded = decodedRequest(body);
      assert.ok(decoded.command.case === 'put');
      assert.ok(Buffer.from(decoded.command.value.value).equals(Buffer.from(value)), `value of ${length} bytes`);
      const reply = decodedResponse(
        encodeResponse(9, { case: 'get', value: create(GetReplySchema, { found: true, value }) }),
      );
      assert.ok(reply.result.case === 'get');
      assert.ok(Buffer.from(reply.result.value.value).equals(Buffer.from(value)), `reply value of ${length} bytes`);
    }
  });

  it('earlier encodings stay intact while many more are made', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(u32, anyCommand, anyResult), { minLength: 100, maxLength: 200 }), (items) => {
        const requests = items.map(([id, command]) => encodeRequest(id, command));
        const responses = items.map(([id, , result]) => encodeResponse(id, result));
        items.forEach(([id, command, result], i) => {
          assert.equal(hex(requests[i]!), hex(toBinary(RequestSchema, create(RequestSchema, { id, command }))));
          assert.equal(hex(responses[i]!), hex(toBinary(ResponseSchema, create(ResponseSchema, { id, result }))));
        });
      }),
      { numRuns: 10 },
    );
  });
});

// ---- Hostile input ----------------------------------------------------------------------------

function checkWellFormedRequest(body: Uint8Array): void {
  const decoded = decodeRequest(body);
  assert.equal(typeof decoded.ok, 'boolean');
  if (!decoded.ok) {
    assert.equal(typeof decoded.reason, 'string');
    return;
  }
  const { id, command } = decoded.message;
  assert.ok(Number.isInteger(id) && id >= 0 && id <= 0xffffffff, `id ${id} is a uint32`);
  assert.ok(command.case === undefined || commandCases.includes(command.case), `case ${command.case}`);
}

function checkWellFormedResponse(body: Uint8Array): void {
  const decoded = decodeResponse(body);
  assert.equal(typeof decoded.ok, 'boolean');
  if (!decoded.ok) {
    assert.equal(typeof decoded.reason, 'string');
    return;
  }
  const { id, result } = decoded.message;
  assert.ok(Number.isInteger(id) && id >= 0 && id <= 0xffffffff, `id ${id} is a uint32`);
  assert.ok(result.case === undefined || resultCases.includes(result.case), `case ${result.case}`);
}

function checkPeek(body: Uint8Array): void {
  const id = peekRequestId(body);
  assert.ok(Number.isInteger(id) && id >= 0 && id <= 0xffffffff, `peeked id ${id} is a uint32`);
}

describe('codec: hostile input', () => {
  it('random bytes never make a decoder throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (body) => {
        checkWellFormedRequest(body);
        checkWellFormedResponse(body);
        checkPeek(body);
      }),
      { numRuns: 200 },
    );
  });

  it('corrupted valid encodings never make a decoder throw', () => {
    fc.assert(
      fc.property(
        u32,
        anyCommand,
        anyResult,
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        (id, command, result, mutations) => {
          const request = corrupt(encodeRequest(id, command), mutations);
          checkWellFormedRequest(request);
          checkPeek(request);
          checkWellFormedResponse(corrupt(encodeResponse(id, result), mutations));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a request truncated inside its command is rejected, never taken for a shorter command', () => {
    fc.assert(
      fc.property(u32, anyCommand, (id, command) => {
        const body = encodeRequest(id, command);
        const idBytes = id === 0 ? 0 : 1 + varintBytes(BigInt(id));
        const atBoundary = decodedRequest(body.subarray(0, idBytes));
        assert.equal(atBoundary.id, id);
        assert.equal(atBoundary.command.case, undefined);
        for (let length = idBytes + 1; length < body.length; length++) {
          const decoded = decodeRequest(body.subarray(0, length));
          assert.equal(decoded.ok, false, `${length} of ${body.length} bytes: ${hex(body)}`);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a response truncated inside its result is rejected', () => {
    fc.assert(
      fc.property(u32, anyResult, (id, result) => {
        const body = encodeResponse(id, result);
        const idBytes = id === 0 ? 0 : 1 + varintBytes(BigInt(id));
        for (let length = idBytes + 1; length < body.length; length++) {
          assert.equal(decodeResponse(body.subarray(0, length)).ok, false, `${length} of ${body.length} bytes`);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('every truncation of a golden get request decodes exactly as protobuf says', () => {
    const body = fromHex('08 01 1a 03 0a 01 6b');
    const outcomes = Array.from({ length: body.length + 1 }, (_, n) => {
      const decoded = decodeRequest(body.subarray(0, n));
      return decoded.ok ? `id ${decoded.message.id} ${decoded.message.command.case ?? '-'}` : 'error';
    });
    assert.deepEqual(outcomes, [
      'id 0 -', // empty body: all defaults
      'error', // tag without its value
      'id 1 -',
      'error',
      'error',
      'error',
      'error',
      'id 1 get',
    ]);
  });

  it('a field running past the end of the message that contains it is an error', () => {
    // The command is two bytes long, but the key inside it claims five: the bytes after the
    // command must not be read as part of the key.
    const requests = [
      '08 01 1a 02 0a 05 6b 6b 6b 6b 6b', // get (hand-written fast path, if any)
      '08 01 12 02 0a 05 6b 6b 6b 6b 6b', // put
      '08 01 72 02 0a 05 6b 6b 6b 6b 6b', // scan
      '08 01 1a 02 0a 05 08 01 08 01 08', // get, followed by what would parse as more fields
    ];
    for (const body of requests) assert.equal(decodeRequest(fromHex(body)).ok, false, body);
    const responses = [
      '08 01 22 02 12 05 6b 6b 6b 6b 6b', // get reply
      '08 01 12 02 0a 05 6b 6b 6b 6b 6b', // error
      '08 01 7a 02 12 05 6b 6b 6b 6b 6b', // scan reply
    ];
    for (const body of responses) assert.equal(decodeResponse(fromHex(body)).ok, false, body);
  });

  it('a tag past 32 bits is not read as the field its low bits name', () => {
    // 9a 80 80 80 10 is 0x1a + 2^32: truncated to 32 bits it would be field 3 (get), length-delimited.
    const decoded = decodeRequest(fromHex('08 01 9a 80 80 80 10 03 0a 01 6b'));
    assert.ok(!decoded.ok || decoded.message.command.case === undefined, 'not a get');
  });

  it('an id sent with the wrong wire type is rejected or ignored, never misread', () => {
    // Field 1 as length-delimited, two bytes [1a 00]: the id is not 2, and 1a 00 is not a get.
    for (const body of ['0a 02 1a 00', '0a 01 07']) {
      const decoded = decodeRequest(fromHex(body));
      assert.ok(!decoded.ok || (decoded.message.id === 0 && decoded.message.command.case === undefined), body);
      assert.equal(peekRequestId(fromHex(body)), 0);
    }
  });

  it('invalid tags and wire types never make a decoder throw', () => {
    const bodies = [
      '08 01 18 00', // get (field 3) sent as a varint
      '08 01 10 00', // put (field 2) sent as a varint
      '08 01 1d 00 00 00 00', // get as fixed32
      '08 01 19 00 00 00 00 00 00 00 00', // get as fixed64
      '08 01 1b 1c', // get as a group
      '08 01 1c', // a lone end-group
      '0a 01 01', // id as length-delimited
      '09 01 00 00 00 00 00 00 00', // id as fixed64
      '0d 01 00 00 00', // id as fixed32
      '08 01 1a 02 08 05', // get.key sent as a varint
      '00', // field number 0
      '08 01 07', // wire type 7
      '08 01 1e', // wire type 6
      '08 ff ff ff ff ff ff ff ff ff ff 01', // an 11-byte varint
      'f8 ff ff ff ff ff 01', // a field number past 2^29
      '08 01 1a ff ff ff ff 0f', // a length of 4 GiB
      '08 01 1a 80 80 80 80 80 80 80 80 80 01', // a length past 2^63
    ];
    for (const body of bodies) {
      assert.doesNotThrow(() => checkWellFormedRequest(fromHex(body)), body);
      assert.doesNotThrow(() => checkWellFormedResponse(fromHex(body)), body);
      assert.doesNotThrow(() => checkPeek(fromHex(body)), body);
    }
  });

  it('a command field sent with the wrong wire type is rejected or unknown, never a command', () => {
    const requests = ['08 01 18 00', '08 01 10 00', '08 01 78 00', '08 01 58 00'];
    for (const body of requests) {
      const decoded = decodeRequest(fromHex(body));
      assert.ok(
        !decoded.ok || decoded.message.command.case === undefined,
        `${body} decoded as ${decoded.ok ? decoded.message.command.case : ''}`,
      );
    }
    const responses = ['08 01 20 00', '08 01 10 00', '08 01 80 01 00'];
    for (const body of responses) {
      const decoded = decodeResponse(fromHex(body));
      assert.ok(
        !decoded.ok || decoded.message.result.case === undefined,
        `${body} decoded as ${decoded.ok ? decoded.message.result.case : ''}`,
      );
    }
  });
});

// ---- peekRequestId ------------------------------------------------------------------------------

describe('peekRequestId', () => {
  it('reads the id of every golden request that has one', () => {
    for (const golden of requestGoldens) {
      assert.equal(peekRequestId(fromHex(golden.bytes)), golden.id, golden.name);
    }
  });

  it('property: 08 <varint id> then anything -> id', () => {
    fc.assert(
      fc.property(u32, fc.uint8Array({ maxLength: 16 }), (id, tail) => {
        assert.equal(peekRequestId(Uint8Array.from([0x08, ...varint(id), ...tail])), id);
      }),
      { numRuns: 200 },
    );
  });

  it('property: agrees with the encoder for every request with a non-zero id', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0xffffffff }), anyCommand, (id, command) => {
        const body = encodeRequest(id, command);
        assert.equal(peekRequestId(body), id);
        // Even when the rest of the body is damaged beyond decoding.
        const damaged = Uint8Array.from([...body.subarray(0, 1 + varintBytes(BigInt(id))), 0x07, 0xff]);
        assert.equal(decodeRequest(damaged).ok, false);
        assert.equal(peekRequestId(damaged), id);
      }),
      { numRuns: 150 },
    );
  });

  it('returns 0 when the body does not start with field 1 as a varint', () => {
    const cases = [
      '', // empty
      '08', // the tag alone
      '08 ff', // a truncated varint
      '08 ff ff ff ff', // a truncated five-byte varint
      '1a 03 0a 01 6b 08 01', // the id after the command
      '10 01', // field 2
      '09 01 00 00 00 00 00 00 00', // field 1 as fixed64
      '0a 01 01', // field 1 as length-delimited
      '00 01',
    ];
    for (const body of cases) assert.equal(peekRequestId(fromHex(body)), 0, body);
  });
});

// ---- Writer ids (Request.client_id = 30, client_sequence = 31) ----------------------------------

describe('codec: writer ids', () => {
  const body = (frame: Uint8Array): Uint8Array => {
    const length = Buffer.from(frame).readUInt32BE(0);
    assert.equal(length, frame.length - 4, 'the prefix gives the body length');
    return frame.subarray(4);
  };
  const put: RequestCommand = { case: 'put', value: create(PutRequestSchema, { key: ascii('k'), value: ascii('v') }) };

  it('golden: a put naming its writer (tags f2 01 and f8 01, after the command)', () => {
    const frame = encodeWriterRequestFrame(1, put, { clientId: 'c1', clientSequence: 300n });
    const golden = '08 01 12 06 0a 01 6b 12 01 76 f2 01 02 63 31 f8 01 ac 02';
    assert.equal(hex(frame), hex(fromHex(`00 00 00 13 ${golden}`)));
    const message = decodedRequest(fromHex(golden));
    assert.equal(message.id, 1);
    assert.equal(message.command.case, 'put');
    assertSameFields(message.command.value, put.value, 'put fields');
    assert.equal(message.clientId, 'c1');
    assert.equal(message.clientSequence, 300n);
  });

  it('property: encodeWriterRequestFrame -> decodeRequest keeps the id, the command and both writer fields', () => {
    fc.assert(
      fc.property(u32, anyCommand, text, u64, (id, command, clientId, clientSequence) => {
        const frame = encodeWriterRequestFrame(id, command, { clientId, clientSequence });
        const request = body(frame);
        assert.equal(
          hex(request),
          hex(toBinary(RequestSchema, create(RequestSchema, { id, command, clientId, clientSequence }))),
          'the bytes protobuf-es writes',
        );
        const message = decodedRequest(request);
        assert.equal(message.id, id);
        assert.equal(message.command.case, command.case);
        assertSameFields(message.command.value, command.value, String(command.case));
        assert.equal(message.clientId, clientId);
        assert.equal(message.clientSequence, clientSequence);
      }),
      { numRuns: 200 },
    );
  });

  it('no writer (empty id, sequence 0) gives the same frame as encodeRequestFrame', () => {
    fc.assert(
      fc.property(u32, anyCommand, (id, command) => {
        assert.equal(
          hex(encodeWriterRequestFrame(id, command, { clientId: '', clientSequence: 0n })),
          hex(encodeRequestFrame(id, command)),
        );
      }),
      { numRuns: 100 },
    );
  });

  it('absent writer fields decode as empty and 0; encodeRequest never writes them', () => {
    fc.assert(
      fc.property(u32, anyCommand, (id, command) => {
        const message = decodedRequest(encodeRequest(id, command));
        assert.equal(message.clientId, '');
        assert.equal(message.clientSequence, 0n);
      }),
      { numRuns: 100 },
    );
    const bare = decodedRequest(new Uint8Array(0));
    assert.deepEqual([bare.clientId, bare.clientSequence], ['', 0n], 'an empty body');
  });

  it('writer fields may come anywhere, alone, or repeated (the last wins)', () => {
    const first = decodedRequest(fromHex('f8 01 07 f2 01 01 61 08 02 1a 03 0a 01 6b'));
    assert.deepEqual([first.id, first.command.case, first.clientId, first.clientSequence], [2, 'get', 'a', 7n]);
    const alone = decodedRequest(fromHex('f2 01 01 61'));
    assert.deepEqual([alone.command.case, alone.clientId, alone.clientSequence], [undefined, 'a', 0n]);
    const twice = decodedRequest(fromHex('f2 01 01 61 f8 01 01 f2 01 01 62 f8 01 ff ff ff ff ff ff ff ff ff 01'));
    assert.deepEqual([twice.clientId, twice.clientSequence], ['b', 2n ** 64n - 1n]);
  });

  it('a writer field with the wrong wire type, or a client_id that is not UTF-8, is malformed, not thrown', () => {
    const get = '08 01 1a 03 0a 01 6b';
    const bad = [
      [`${get} f0 01 05`, 'client_id as a varint', /field 30/],
      [`${get} f5 01 61 62 63 64`, 'client_id as fixed32', /field 30/],
      [`${get} f1 01 00 00 00 00 00 00 00 00`, 'client_id as fixed64', /field 30/],
      [`${get} fa 01 01 07`, 'client_sequence as length-delimited', /field 31/],
      [`${get} fd 01 07 00 00 00`, 'client_sequence as fixed32', /field 31/],
      [`${get} f2 01 02 c3 28`, 'client_id that is not UTF-8', /field 30/],
      [`${get} f2 01 05 61`, 'client_id longer than the body', /./],
      [`${get} f8 01 ff`, 'client_sequence cut off mid-varint', /./],
    ] as const;
    for (const [hexBody, what, reason] of bad) {
      let decoded: ReturnType<typeof decodeRequest> | undefined;
      assert.doesNotThrow(() => (decoded = decodeRequest(fromHex(hexBody))), what);
      assert.ok(decoded !== undefined && !decoded.ok, `${what} is rejected`);
      assert.match(decoded.reason, reason, what);
      assert.equal(peekRequestId(fromHex(hexBody)), 1, `${what}: the id can still be named`);
    }
  });
});

describe('framed encoders', () => {
  const requests = [
    create(RequestSchema, { command: { case: 'get', value: { key: Buffer.from('k') } } }).command,
    create(RequestSchema, {
      command: { case: 'put', value: { key: Buffer.from('k'), value: Buffer.alloc(300, 7), ttlMs: 5n } },
    }).command,
    create(RequestSchema, { command: { case: 'incr', value: { key: Buffer.from('n'), delta: -3n } } }).command,
    create(RequestSchema, { command: { case: 'scan', value: { prefix: Buffer.from('p'), limit: 10 } } }).command,
  ];
  const results = [
    create(ResponseSchema, {
      result: { case: 'get', value: { found: true, value: Buffer.alloc(5000, 1), version: 9n } },
    }).result,
    create(ResponseSchema, { result: { case: 'error', value: { code: 'ERR_TIMEOUT', message: 'late' } } }).result,
    create(ResponseSchema, { result: { case: 'size', value: { keys: 3n, bytes: 10n } } }).result,
  ];
  it('a request frame is the length prefix followed by exactly the body encodeRequest gives', () => {
    for (const [i, command] of requests.entries()) {
      assert.deepEqual(Buffer.from(encodeRequestFrame(i + 1, command)), encodeFrame(encodeRequest(i + 1, command)));
    }
  });
  it('a response frame is the length prefix followed by exactly the body encodeResponse gives', () => {
    for (const [i, result] of results.entries()) {
      assert.deepEqual(Buffer.from(encodeResponseFrame(i + 1, result)), encodeFrame(encodeResponse(i + 1, result)));
    }
  });
});

describe('cold request size bounds', () => {
  it('a keyless request larger than its limit is refused before reflection decoding', () => {
    // Request { id: 7, ping (field 15): <many unknown varint fields> }
    const inner = Buffer.alloc(keylessRequestBytesMax + 2, 0);
    for (let i = 0; i + 1 < inner.length; i += 2) inner[i] = 0x50; // field 10, varint, value 0
    const body = Buffer.concat([
      Buffer.from([0x08, 0x07, 0x7a]),
      varint(inner.length),
      inner.subarray(0, inner.length - (inner.length % 2)),
    ]);
    const decoded = decodeRequest(body);
    assert.equal(decoded.ok, false);
    assert.ok(!decoded.ok && /over its \d+-byte limit/.test(decoded.reason), !decoded.ok ? decoded.reason : '');
    assert.equal(peekRequestId(body), 7);
  });

  it('value-carrying cold requests of the new commands (set, mput; mget with many keys) may be as large as a frame', () => {
    const value = Buffer.alloc(keylessRequestBytesMax * 4, 3);
    const keys = Array.from({ length: 1024 }, (_, i) => Buffer.alloc(32, i % 256));
    for (const command of [
      create(RequestSchema, { command: { case: 'set', value: { key: Buffer.from('k'), value, flags: 1 } } }).command,
      create(RequestSchema, {
        command: { case: 'mput', value: { entries: [{ key: Buffer.from('a'), value }, { key: Buffer.from('b') }] } },
      }).command,
      create(RequestSchema, { command: { case: 'mget', value: { keys } } }).command,
    ]) {
      const decoded = decodeRequest(encodeRequest(1, command));
      assert.ok(decoded.ok, `${command.case}: ${decoded.ok ? '' : decoded.reason}`);
      assert.equal(decoded.message.command.case, command.case);
    }
  });

  it('slotimport (records copied between chains) may be as large as a frame; the other slot requests may not', () => {
    const value = Buffer.alloc(keylessRequestBytesMax * 4, 3);
    const records = [
      { key: Buffer.from('{a}1'), value },
      { key: Buffer.from('{a}2'), value, version: 9n },
    ];
    const clients = [{ clientId: 'c', clientSequence: 1n, result: value, hasResult: true }];
    const slotimport = create(RequestSchema, {
      command: { case: 'slotimport', value: { first: 1, last: 2, records, clients } },
    }).command;
    const decoded = decodeRequest(encodeRequest(1, slotimport));
    assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason);
    assert.equal(decoded.message.command.case, 'slotimport');
    assertSameFields(decoded.message.command.value, slotimport.value, 'slotimport fields');

    const after = Buffer.alloc(keylessRequestBytesMax + 1, 0x6b);
    for (const command of [
      create(RequestSchema, { command: { case: 'slotexport', value: { last: 1, after } } }).command,
      create(RequestSchema, { command: { case: 'slotdrop', value: { last: 1, after } } }).command,
      create(RequestSchema, { command: { case: 'slotfreeze', value: { last: 1, toChain: after.toString() } } }).command,
    ]) {
      const refused = decodeRequest(encodeRequest(1, command));
      assert.ok(!refused.ok && /over its \d+-byte limit/.test(refused.reason), `${command.case} is refused`);
    }
  });

  it('value-carrying cold requests (cas, append) may be as large as a frame', () => {
    const value = Buffer.alloc(keylessRequestBytesMax * 4, 3);
    for (const command of [
      create(RequestSchema, { command: { case: 'cas', value: { key: Buffer.from('k'), value, expectedVersion: 1n } } })
        .command,
      create(RequestSchema, { command: { case: 'append', value: { key: Buffer.from('k'), value } } }).command,
    ]) {
      const decoded = decodeRequest(encodeRequest(1, command));
      assert.ok(decoded.ok);
      assert.equal(decoded.message.command.case, command.case);
    }
  });
});
