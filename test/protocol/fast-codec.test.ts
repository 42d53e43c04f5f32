// The hand-written fast path of the native message codec (src/protocol/native/codec.ts) against
// protobuf-es, the reference implementation of the same schema:
//   * encoding a hot message gives exactly protobuf-es's bytes (defaults omitted, fields in order);
//   * each side decodes the other's bytes to equal messages;
//   * decoding accepts any valid proto3 encoding (any field order, unknown fields of every wire
//     type, repeated scalars, a oneof member repeated or replaced, padded varints) and agrees
//     with protobuf-es on it (ignoring `$unknown`, which the fast path does not keep);
//   * hostile bytes give {ok: false} and never throw or hang.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import fc from 'fast-check';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type Decoded,
  type RequestCommand,
  type ResponseResult,
} from '../../src/protocol/native/codec.js';
import { GetRequestSchema, RequestSchema, ResponseSchema } from '../../src/protocol/native/gen/catena_pb.js';

type CommandInit = NonNullable<MessageInitShape<typeof RequestSchema>['command']>;
type ResultInit = NonNullable<MessageInitShape<typeof ResponseSchema>['result']>;

// The codec takes init-shaped values (fields may be missing), as create() does; so do the callers.
const asCommand = (command: CommandInit): RequestCommand => command as unknown as RequestCommand;
const asResult = (result: ResultInit): ResponseResult => result as unknown as ResponseResult;

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const runs = { numRuns: 300 };

function decodedMessage<T>(decoded: Decoded<T>): T {
  if (!decoded.ok) assert.fail(`decode failed: ${decoded.reason}`);
  return decoded.message;
}

/** A copy without protobuf-es's `$unknown` records, which the fast path skips instead of keeping. */
function withoutUnknown(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(withoutUnknown);
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== '$unknown')
      .map(([key, field]) => [key, withoutUnknown(field)]),
  );
}

// ---------------------------------------------------------------------------------------------
// Values

const UINT64_MAX = 2n ** 64n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const id = fc.oneof(
  fc.constantFrom(0, 1, 127, 128, 16_383, 16_384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1),
  fc.nat({ max: 2 ** 32 - 1 }),
);
const uint64 = fc.oneof(
  fc.constantFrom(
    0n,
    1n,
    127n,
    128n,
    2n ** 32n - 1n,
    2n ** 32n,
    2n ** 53n - 1n,
    2n ** 53n,
    2n ** 56n - 1n,
    2n ** 56n,
    2n ** 63n - 1n,
    2n ** 63n,
    UINT64_MAX,
  ),
  fc.bigInt({ min: 0n, max: 2n ** 40n }),
  fc.bigInt({ min: 0n, max: UINT64_MAX }),
);
const sint64 = fc.oneof(
  fc.constantFrom(
    0n,
    1n,
    -1n,
    63n,
    -64n,
    64n,
    2n ** 52n - 1n,
    -(2n ** 52n),
    2n ** 52n,
    -(2n ** 52n) - 1n,
    2n ** 53n,
    INT64_MIN,
    INT64_MIN + 1n,
    INT64_MAX,
  ),
  fc.bigInt({ min: -1000n, max: 1000n }),
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
);
const ttl = fc.oneof(fc.constant(0n), uint64);
const rawBytes = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.uint8Array({ maxLength: 40 }),
  fc.uint8Array({ minLength: 100, maxLength: 300 }),
);
/** Bytes as callers pass them: Uint8Array or Buffer, sometimes a view into a larger buffer. */
const bytes = fc.oneof(
  rawBytes,
  rawBytes.map((b) => Buffer.from(b)),
  rawBytes.map((b) => {
    const padded = new Uint8Array(b.length + 8);
    padded.set(b, 3);
    return padded.subarray(3, 3 + b.length);
  }),
);
const text = fc.oneof(fc.constant(''), fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }));
/** Optional fields: any of them may be missing, as create() allows. */
const fields = <T extends Record<string, fc.Arbitrary<unknown>>>(model: T) => fc.record(model, { requiredKeys: [] });

const hotCommand: fc.Arbitrary<CommandInit> = fc.oneof(
  fields({ key: bytes, value: bytes, ttlMs: ttl }).map((value): CommandInit => ({ case: 'put', value })),
  fields({ key: bytes }).map((value): CommandInit => ({ case: 'get', value })),
  fields({ key: bytes }).map((value): CommandInit => ({ case: 'del', value })),
  fields({ key: bytes, delta: sint64, memcached: fc.boolean(), decrement: fc.boolean() }).map((value): CommandInit => ({
    case: 'incr',
    value,
  })),
);

const hotResult: fc.Arbitrary<ResultInit> = fc.oneof(
  fields({ code: text, message: text }).map((value): ResultInit => ({ case: 'error', value })),
  fields({ version: uint64 }).map((value): ResultInit => ({ case: 'put', value })),
  fields({ found: fc.boolean(), value: bytes, version: uint64, ttlMs: ttl }).map((value): ResultInit => ({
    case: 'get',
    value,
  })),
  fields({ deleted: fc.boolean() }).map((value): ResultInit => ({ case: 'del', value })),
  fields({ value: sint64, found: fc.boolean() }).map((value): ResultInit => ({ case: 'incr', value })),
);

// ---------------------------------------------------------------------------------------------
// Encoding: exactly protobuf-es's bytes, and each side reads the other's.

describe('fast codec: hot messages match protobuf-es', () => {
  it('encodes requests to the same bytes as protobuf-es', () => {
    fc.assert(
      fc.property(id, hotCommand, (requestId, command) => {
        const expected = toBinary(RequestSchema, create(RequestSchema, { id: requestId, command }));
        assert.equal(hex(encodeRequest(requestId, asCommand(command))), hex(expected));
      }),
      runs,
    );
  });

  it('encodes responses to the same bytes as protobuf-es', () => {
    fc.assert(
      fc.property(id, hotResult, (requestId, result) => {
        const expected = toBinary(ResponseSchema, create(ResponseSchema, { id: requestId, result }));
        assert.equal(hex(encodeResponse(requestId, asResult(result))), hex(expected));
      }),
      runs,
    );
  });

  it('decodes requests as protobuf-es does, each reading the bytes of the other', () => {
    fc.assert(
      fc.property(id, hotCommand, fc.boolean(), (requestId, command, asBuffer) => {
        const theirs = toBinary(RequestSchema, create(RequestSchema, { id: requestId, command }));
        const ours = encodeRequest(requestId, asCommand(command));
        // Decoded bytes fields are views of the body, so a Buffer body gives Buffer fields, on both sides.
        const body = (b: Uint8Array): Uint8Array => (asBuffer ? Buffer.from(b) : b);
        assert.deepStrictEqual(decodedMessage(decodeRequest(body(theirs))), fromBinary(RequestSchema, body(ours)));
      }),
      runs,
    );
  });

  it('decodes writer ids (client_id, client_sequence) on hot requests as protobuf-es does', () => {
    fc.assert(
      fc.property(
        id,
        hotCommand,
        text,
        uint64,
        fc.boolean(),
        (requestId, command, clientId, clientSequence, asBuffer) => {
          const bytes = toBinary(
            RequestSchema,
            create(RequestSchema, { id: requestId, command, clientId, clientSequence }),
          );
          const body = asBuffer ? Buffer.from(bytes) : bytes;
          const decoded = decodedMessage(decodeRequest(body));
          assert.deepStrictEqual(decoded, fromBinary(RequestSchema, body));
          assert.equal(decoded.command.case, command.case);
          assert.equal(decoded.clientId, clientId);
          assert.equal(decoded.clientSequence, clientSequence);
        },
      ),
      runs,
    );
  });

  it('decodes responses as protobuf-es does, each reading the bytes of the other', () => {
    fc.assert(
      fc.property(id, hotResult, fc.boolean(), (requestId, result, asBuffer) => {
        const theirs = toBinary(ResponseSchema, create(ResponseSchema, { id: requestId, result }));
        const ours = encodeResponse(requestId, asResult(result));
        const body = (b: Uint8Array): Uint8Array => (asBuffer ? Buffer.from(b) : b);
        assert.deepStrictEqual(decodedMessage(decodeResponse(body(theirs))), fromBinary(ResponseSchema, body(ours)));
      }),
      runs,
    );
  });

  it('round-trips hot messages to fully populated protobuf-es-shaped objects', () => {
    const body = encodeResponse(
      7,
      asResult({ case: 'get', value: { found: true, value: Buffer.from('v'), version: 2n ** 64n - 1n } }),
    );
    assert.deepStrictEqual(decodedMessage(decodeResponse(body)), {
      $typeName: 'catena.v1.Response',
      id: 7,
      result: {
        case: 'get',
        value: {
          $typeName: 'catena.v1.GetReply',
          found: true,
          value: Uint8Array.from([0x76]),
          version: 2n ** 64n - 1n,
          ttlMs: 0n,
        },
      },
    });
    const empty = decodedMessage(decodeRequest(encodeRequest(0, asCommand({ case: 'put', value: {} }))));
    assert.deepStrictEqual(empty, {
      $typeName: 'catena.v1.Request',
      id: 0,
      command: {
        case: 'put',
        value: { $typeName: 'catena.v1.PutRequest', key: new Uint8Array(0), value: new Uint8Array(0), ttlMs: 0n },
      },
      clientId: '',
      clientSequence: 0n,
    });
  });

  it('round-trips the memcached fields of incr (request fields 3 and 4, reply field 2)', () => {
    const command: CommandInit = {
      case: 'incr',
      value: { key: Buffer.from('n'), delta: -1n, memcached: true, decrement: true },
    };
    const body = encodeRequest(3, asCommand(command));
    assert.equal(hex(body), hex(toBinary(RequestSchema, create(RequestSchema, { id: 3, command }))));
    assert.equal(hex(body), '08035209' + '0a016e' + '1001' + '1801' + '2001');
    assert.deepStrictEqual(decodedMessage(decodeRequest(body)).command, {
      case: 'incr',
      value: {
        $typeName: 'catena.v1.IncrRequest',
        key: Uint8Array.from([0x6e]),
        delta: -1n,
        memcached: true,
        decrement: true,
      },
    });
    for (const found of [true, false]) {
      const result: ResultInit = { case: 'incr', value: { value: -(2n ** 63n), found } };
      const reply = encodeResponse(4, asResult(result));
      assert.equal(hex(reply), hex(toBinary(ResponseSchema, create(ResponseSchema, { id: 4, result }))));
      assert.deepStrictEqual(decodedMessage(decodeResponse(reply)).result, {
        case: 'incr',
        value: { $typeName: 'catena.v1.IncrReply', value: -(2n ** 63n), found },
      });
    }
  });

  it('handles large fields: multi-byte lengths, messages past the output pool', () => {
    for (const size of [127, 128, 4_000, 5_000, 70_000, 3_000_000]) {
      const value = Uint8Array.from({ length: size }, (_, i) => i % 251);
      const command: CommandInit = { case: 'put', value: { key: Buffer.from('k'), value, ttlMs: 1n } };
      const expected = toBinary(RequestSchema, create(RequestSchema, { id: 9, command }));
      const body = encodeRequest(9, asCommand(command));
      assert.equal(hex(body), hex(expected));
      assert.deepStrictEqual(decodedMessage(decodeRequest(body)), fromBinary(RequestSchema, expected));
      const error: ResultInit = { case: 'error', value: { code: 'ERR_X', message: 'é'.repeat(size >> 2) } };
      const reply = encodeResponse(9, asResult(error));
      assert.equal(hex(reply), hex(toBinary(ResponseSchema, create(ResponseSchema, { id: 9, result: error }))));
      assert.deepStrictEqual(decodedMessage(decodeResponse(reply)), fromBinary(ResponseSchema, reply));
    }
  });

  it('returns bytes fields as views of the body, not copies', () => {
    const body = encodeRequest(
      1,
      asCommand({ case: 'put', value: { key: Buffer.from('key'), value: Buffer.from('value') } }),
    );
    const request = decodedMessage(decodeRequest(body));
    assert.equal(request.command.case, 'put');
    assert.equal(request.command.value.value.buffer, body.buffer);
  });

  it('leaves what the fast path does not handle to protobuf-es: same bytes, same errors', () => {
    const same = (command: CommandInit, requestId = 1) =>
      assert.equal(
        hex(encodeRequest(requestId, asCommand(command))),
        hex(toBinary(RequestSchema, create(RequestSchema, { id: requestId, command }))),
      );
    // Cold commands.
    same({ case: 'scan', value: { prefix: Buffer.from('p'), limit: 10, keysOnly: true } });
    same({ case: 'stats', value: {} });
    // A number where a bigint belongs (protobuf-es converts it).
    same({ case: 'put', value: { key: Buffer.from('k'), ttlMs: 5 as unknown as bigint } });
    // A whole message carrying unknown fields, which protobuf-es writes back.
    const withUnknown = fromBinary(GetRequestSchema, Uint8Array.from([0x0a, 0x01, 0x6b, 0xa0, 0x06, 0x2a]));
    assert.ok(withUnknown.$unknown !== undefined);
    same({ case: 'get', value: withUnknown });
    // Out-of-range values throw protobuf-es's own errors.
    const sameError = (requestId: number, command: CommandInit) => {
      const reference = (() => {
        try {
          toBinary(RequestSchema, create(RequestSchema, { id: requestId, command }));
        } catch (error) {
          return error as Error;
        }
        return assert.fail('protobuf-es accepted it');
      })();
      assert.throws(() => encodeRequest(requestId, asCommand(command)), { message: reference.message });
    };
    sameError(1, { case: 'put', value: { key: Buffer.from('k'), ttlMs: -1n } });
    sameError(1, { case: 'put', value: { key: Buffer.from('k'), ttlMs: 2n ** 64n } });
    sameError(1, { case: 'incr', value: { key: Buffer.from('k'), delta: 2n ** 63n } });
    sameError(-1, { case: 'get', value: { key: Buffer.from('k') } });
    sameError(2 ** 32, { case: 'get', value: { key: Buffer.from('k') } });
    sameError(1.5, { case: 'get', value: { key: Buffer.from('k') } });
  });
});

// ---------------------------------------------------------------------------------------------
// Any valid encoding. A small independent encoder builds field records (tag + value); messages
// are made of records in any order, with repeats, unknown fields and padded varints.

type Bytes = readonly number[];

function varint(value: bigint, padding = 0): number[] {
  const out: number[] = [];
  do {
    out.push(Number(value & 0x7fn));
    value >>= 7n;
  } while (value > 0n);
  // Non-canonical but valid: extra continuation bytes with zero payload, up to 10 bytes in all.
  for (let i = 0; i < padding && out.length < 10; i++) out.push(0);
  for (let i = 0; i < out.length - 1; i++) out[i]! |= 0x80;
  return out;
}
const zigzag = (value: bigint): bigint => (value < 0n ? (-value << 1n) - 1n : value << 1n);
const key = (field: number, wireType: number): number[] => varint(BigInt(field * 8 + wireType));
const lengthDelimited = (field: number, payload: Bytes): number[] => [
  ...key(field, 2),
  ...varint(BigInt(payload.length)),
  ...payload,
];

type Kind = 'bytes' | 'string' | 'uint64' | 'sint64' | 'bool' | 'uint32';

/** One record of a field of the given kind, with a random valid value. */
function record(field: number, kind: Kind): fc.Arbitrary<Bytes> {
  const padding = fc.oneof(fc.constant(0), fc.nat({ max: 9 }));
  switch (kind) {
    case 'bytes':
      return fc.uint8Array({ maxLength: 24 }).map((b) => lengthDelimited(field, [...b]));
    case 'string':
      return text.map((s) => lengthDelimited(field, [...new TextEncoder().encode(s)]));
    case 'uint64':
      return fc.tuple(uint64, padding).map(([v, pad]) => [...key(field, 0), ...varint(v, pad)]);
    case 'sint64':
      return fc.tuple(sint64, padding).map(([v, pad]) => [...key(field, 0), ...varint(zigzag(v), pad)]);
    case 'bool': // any varint: 0 is false, anything else true
      return fc
        .tuple(fc.oneof(fc.constantFrom(0n, 1n), uint64), padding)
        .map(([v, pad]) => [...key(field, 0), ...varint(v, pad)]);
    case 'uint32': // protobuf-es keeps the low 32 bits of a longer varint; so must we
      return fc
        .tuple(fc.oneof(id.map(BigInt), uint64), padding)
        .map(([v, pad]) => [...key(field, 0), ...varint(v, pad)]);
  }
}

/** A field unknown to the message: a field number from `numbers`, any skippable wire type. */
function unknownRecord(numbers: fc.Arbitrary<number>): fc.Arbitrary<Bytes> {
  return fc.oneof(
    fc.tuple(numbers, fc.bigInt({ min: 0n, max: UINT64_MAX })).map(([field, v]) => [...key(field, 0), ...varint(v)]),
    fc.tuple(numbers, fc.uint8Array({ minLength: 8, maxLength: 8 })).map(([field, b]) => [...key(field, 1), ...b]),
    fc.tuple(numbers, fc.uint8Array({ maxLength: 16 })).map(([field, b]) => lengthDelimited(field, [...b])),
    fc.tuple(numbers, fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([field, b]) => [...key(field, 5), ...b]),
  );
}

/** A message: each known field 0-3 times, a few unknown fields, all in random order. */
function message(known: Record<number, Kind>, unknownNumbers: fc.Arbitrary<number>): fc.Arbitrary<number[]> {
  const occurrences = Object.entries(known).map(([field, kind]) =>
    fc.array(record(Number(field), kind), { maxLength: 3 }),
  );
  return fc
    .tuple(fc.tuple(...occurrences), fc.array(unknownRecord(unknownNumbers), { maxLength: 3 }))
    .chain(([knownRecords, unknown]) => {
      const all = [...knownRecords.flat(), ...unknown];
      return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
    })
    .map((records) => records.flat());
}

const highFields = fc.oneof(fc.integer({ min: 16, max: 40 }), fc.integer({ min: 2048, max: 2 ** 29 - 1 }));
const innerUnknown = fc.oneof(fc.integer({ min: 5, max: 15 }), highFields);

/** Oneof members by field number: hot ones and a few cold ones, each with its inner fields. */
const requestMembers: Record<number, Record<number, Kind>> = {
  2: { 1: 'bytes', 2: 'bytes', 3: 'uint64' }, // put
  3: { 1: 'bytes' }, // get
  4: { 1: 'bytes' }, // del
  10: { 1: 'bytes', 2: 'sint64', 3: 'bool', 4: 'bool' }, // incr
  5: {}, // size (cold)
  13: { 1: 'bytes' }, // ttl (cold)
  14: { 1: 'bytes', 2: 'bytes', 3: 'uint32', 4: 'bool' }, // scan (cold)
  16: {}, // topology (cold)
  17: {}, // nodestatus (cold)
  // set (cold): field 3 is an enum, an int32 on the wire
  18: {
    1: 'bytes',
    2: 'bytes',
    3: 'uint32',
    4: 'uint64',
    5: 'uint64',
    6: 'uint64',
    7: 'bool',
    8: 'bool',
    9: 'uint32',
  },
  19: { 1: 'bytes' }, // mget (cold): repeated keys
  21: { 1: 'bytes' }, // getdel (cold)
  22: {}, // flush (cold)
};
const responseMembers: Record<number, Record<number, Kind>> = {
  2: { 1: 'string', 2: 'string' }, // error
  3: { 1: 'uint64' }, // put
  4: { 1: 'bool', 2: 'bytes', 3: 'uint64', 4: 'uint64' }, // get
  5: { 1: 'bool' }, // del
  11: { 1: 'sint64', 2: 'bool' }, // incr
  6: { 1: 'uint64', 2: 'uint64' }, // size (cold)
  13: { 1: 'bool', 2: 'bool', 3: 'bytes', 4: 'uint32', 5: 'uint64' }, // expire (cold)
  16: { 1: 'bytes' }, // ping (cold)
  18: {
    1: 'string',
    2: 'string',
    3: 'string',
    4: 'uint64',
    5: 'uint64',
    6: 'uint64',
    7: 'uint64',
    8: 'bool',
    9: 'bool',
    10: 'bool',
  }, // nodestatus (cold)
  19: { 1: 'bool', 2: 'uint64', 3: 'bool', 4: 'bytes' }, // set (cold)
  21: { 1: 'uint64' }, // mput (cold)
  22: { 1: 'bool', 2: 'bytes' }, // getdel (cold)
  23: { 1: 'uint64' }, // flush (cold)
};

/** Field numbers of `schema` below 2^29 that it does not declare, for unknown fields. */
function undeclaredFields(schema: typeof RequestSchema | typeof ResponseSchema): fc.Arbitrary<number> {
  const declared = new Set(schema.fields.map((f) => f.number));
  return fc
    .oneof(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 2048, max: 2 ** 29 - 1 }))
    .filter((n) => !declared.has(n));
}

/**
 * An envelope: id 0-2 times, each other scalar field 0-2 times, 0-3 oneof members (repeats
 * merge, others replace), unknown fields.
 */
function envelope(
  members: Record<number, Record<number, Kind>>,
  scalars: Record<number, Kind>,
  unknownNumbers: fc.Arbitrary<number>,
): fc.Arbitrary<Uint8Array> {
  const member = fc.oneof(
    ...Object.entries(members).map(([field, known]) =>
      message(
        known,
        innerUnknown.filter((n) => !(n in known)),
      ).map((inner) => lengthDelimited(Number(field), inner)),
    ),
  );
  // Favour runs of one member, so that merging a repeated member is exercised often.
  const oneofRecords = fc.oneof(
    fc.array(member, { maxLength: 3 }),
    member.map((m) => [m, m]),
  );
  const scalarRecords = fc.tuple(
    ...Object.entries({ 1: 'uint32' as Kind, ...scalars }).map(([field, kind]) =>
      fc.array(record(Number(field), kind), { maxLength: 2 }),
    ),
  );
  return fc
    .tuple(scalarRecords, oneofRecords, fc.array(unknownRecord(unknownNumbers), { maxLength: 3 }))
    .chain(([scalarFields, oneofs, unknown]) => {
      // Members keep their relative order (it decides which wins); the rest (scalar fields,
      // repeated or not, and unknown fields) go anywhere.
      const others = [...scalarFields.flat(), ...unknown];
      return fc
        .array(fc.nat({ max: oneofs.length }), { minLength: others.length, maxLength: others.length })
        .map((slots) => {
          const out: Bytes[] = [...oneofs];
          others.forEach((other, i) => out.splice(Math.min(slots[i]!, out.length), 0, other));
          return out;
        });
    })
    .map((records) => Uint8Array.from(records.flat()));
}

const validRequests = envelope(
  requestMembers,
  { 30: 'string', 31: 'uint64' }, // client_id, client_sequence
  undeclaredFields(RequestSchema),
);
const validResponses = envelope(responseMembers, {}, undeclaredFields(ResponseSchema));

describe('fast codec: decodes any valid encoding as protobuf-es does', () => {
  it('requests: any field order, repeats, unknown fields, padded varints, repeated oneof members', () => {
    fc.assert(
      fc.property(validRequests, (body) => {
        assert.deepStrictEqual(
          withoutUnknown(decodedMessage(decodeRequest(body))),
          withoutUnknown(fromBinary(RequestSchema, body)),
        );
      }),
      { numRuns: 1000 },
    );
  });

  it('responses: any field order, repeats, unknown fields, padded varints, repeated oneof members', () => {
    fc.assert(
      fc.property(validResponses, (body) => {
        assert.deepStrictEqual(
          withoutUnknown(decodedMessage(decodeResponse(body))),
          withoutUnknown(fromBinary(ResponseSchema, body)),
        );
      }),
      { numRuns: 1000 },
    );
  });

  it('merges a repeated hot member and lets a later scalar win', () => {
    const body = Uint8Array.from([
      ...lengthDelimited(2, [...lengthDelimited(1, [0x6b]), ...key(3, 0), ...varint(5n)]), // put {key: 'k', ttlMs: 5}
      ...key(1, 0),
      ...varint(9n), // id 9
      ...lengthDelimited(2, [...lengthDelimited(2, [0x76]), ...key(3, 0), ...varint(7n, 3)]), // put {value: 'v', ttlMs: 7}
      ...key(1, 0),
      ...varint(10n), // id 10
    ]);
    const request = decodedMessage(decodeRequest(body));
    assert.equal(request.id, 10);
    assert.equal(request.command.case, 'put');
    assert.equal(hex(request.command.value.key), '6b');
    assert.equal(hex(request.command.value.value), '76');
    assert.equal(request.command.value.ttlMs, 7n);
  });
});

// ---------------------------------------------------------------------------------------------
// Hostile input: {ok: false}, never an exception, never a hang.

type Decoder = (body: Uint8Array) => Decoded<unknown>;
const both: Decoder[] = [decodeRequest, decodeResponse];

function rejects(body: number[], what: string, decoders: Decoder[] = both): void {
  for (const decode of decoders) {
    const result = decode(Uint8Array.from(body));
    assert.equal(result.ok, false, `${what} should be rejected`);
    if (!result.ok) assert.ok(result.reason.length > 0);
  }
}

describe('fast codec: hostile input', () => {
  it('rejects truncated varints', () => {
    rejects([0x08], 'a tag with no value');
    rejects([0x08, 0x80], 'an id cut off mid-varint');
    rejects([0x80], 'a tag cut off mid-varint');
    rejects([0x22, 0x02, 0x18, 0xff], 'a varint cut off at the end of its nested message');
  });

  it('rejects lengths past the end, without allocating for them', () => {
    rejects([0x1a, 0x05, 0x0a], 'a member longer than the body');
    rejects([0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f], 'a 4 GiB member');
    rejects([0x1a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], 'a member with a 64-bit length');
    rejects([0x1a, 0x02, 0x0a, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f], 'a field running past the end of its own message');
    rejects([0xa2, 0x06, 0x03, 0x00], 'an unknown field longer than the body');
    rejects([0xa1, 0x06, 0x00, 0x00, 0x00], 'a truncated unknown 64-bit field');
    rejects([0xa5, 0x06, 0x00, 0x00], 'a truncated unknown 32-bit field');
  });

  it('rejects fields running past the end of their nested message, even when the body goes on', () => {
    rejects([0x22, 0x02, 0x18, 0xff, 0x01, 0x08, 0x01], 'a varint crossing the end of its message');
    rejects(
      [0x1a, 0x02, 0x21, 0x00, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x01],
      'a 64-bit field crossing the end of its message',
    );
    rejects([0x1a, 0x02, 0x25, 0x00, 0, 0, 0, 0x08, 0x01], 'a 32-bit field crossing the end of its message');
    rejects(
      [0x1a, 0x02, 0x22, 0x02, 0x00, 0x00, 0x08, 0x01],
      'a length-delimited field crossing the end of its message',
    );
  });

  it('rejects known fields with the wrong wire type', () => {
    rejects([0x0a, 0x00], 'a length-delimited id');
    rejects([0x0d, 0x00, 0x00, 0x00, 0x00], 'a 32-bit id');
    rejects([0x18, 0x01], 'a varint in place of a command or reply message');
    rejects([0x28, 0x01], 'a varint in place of a cold command or reply message');
    rejects([0x1a, 0x02, 0x08, 0x01], 'a get request with a varint key', [decodeRequest]);
    rejects([0x12, 0x02, 0x1a, 0x00], 'a put request with a length-delimited ttl', [decodeRequest]);
    rejects([0x52, 0x02, 0x12, 0x00], 'an incr request with a length-delimited delta', [decodeRequest]);
    rejects([0x52, 0x02, 0x1a, 0x00], 'an incr request with a length-delimited memcached', [decodeRequest]);
    rejects([0x52, 0x02, 0x22, 0x00], 'an incr request with a length-delimited decrement', [decodeRequest]);
    rejects([0x52, 0x02, 0x1d, 0x00, 0x00, 0x00, 0x00], 'an incr request with a 32-bit memcached', [decodeRequest]);
    rejects([0x5a, 0x02, 0x12, 0x00], 'an incr reply with a length-delimited found', [decodeResponse]);
    rejects([0x5a, 0x09, 0x11, 0, 0, 0, 0, 0, 0, 0, 0], 'an incr reply with a 64-bit found', [decodeResponse]);
    rejects([0x22, 0x02, 0x0a, 0x00], 'a get reply with a length-delimited found', [decodeResponse]);
    rejects([0x22, 0x02, 0x10, 0x00], 'a get reply with a varint value', [decodeResponse]);
    rejects([0x12, 0x02, 0x08, 0x00], 'an error with a varint code', [decodeResponse]);
    rejects([0x5a, 0x05, 0x0d, 0x00, 0x00, 0x00, 0x00], 'an incr reply with a 32-bit value', [decodeResponse]);
  });

  it('rejects varints longer than 10 bytes', () => {
    rejects([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 'an 11-byte id');
    rejects(
      [0xa0, 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
      'an 11-byte unknown varint',
    );
    rejects([0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01], 'a 6-byte tag');
  });

  it('rejects group wire types, invalid wire types and field number 0', () => {
    rejects([0x0b, 0x0c], 'a group in place of the id');
    rejects([0xa3, 0x06, 0xa4, 0x06], 'an unknown group');
    rejects([0x1a, 0x02, 0x2b, 0x2c], 'a group inside a hot message');
    rejects([0x0c], 'a stray end-group tag');
    rejects([0x0e, 0x00], 'wire type 6');
    rejects([0x0f, 0x00], 'wire type 7');
    rejects([0x00, 0x00], 'field number 0');
  });

  it('rejects strings that are not UTF-8', () => {
    const body = [0x12, 0x04, 0x0a, 0x02, 0xc3, 0x28]; // Error.code = invalid UTF-8
    assert.equal(decodeResponse(Uint8Array.from(body)).ok, false);
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (body) => {
        for (const decoded of [decodeRequest(body), decodeResponse(body)]) {
          assert.ok(decoded.ok || (typeof decoded.reason === 'string' && decoded.reason.length > 0));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on damaged valid messages, and agrees with protobuf-es whenever it accepts one', () => {
    const damage = (body: Uint8Array) =>
      fc.oneof(
        fc.nat({ max: Math.max(0, body.length - 1) }).map((cut) => body.subarray(0, cut)),
        fc.tuple(fc.nat({ max: Math.max(0, body.length - 1) }), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => {
          const copy = Uint8Array.from(body);
          if (copy.length > 0) copy[at] = byte;
          return copy;
        }),
        fc
          .tuple(fc.nat({ max: body.length }), fc.uint8Array({ minLength: 1, maxLength: 4 }))
          .map(([at, extra]) => Uint8Array.from([...body.subarray(0, at), ...extra, ...body.subarray(at)])),
      );
    const check = <T>(decode: (body: Uint8Array) => Decoded<T>, reference: (body: Uint8Array) => unknown) =>
      fc.property(fc.oneof(validRequests, validResponses).chain(damage), (body) => {
        const decoded = decode(body);
        if (!decoded.ok) {
          assert.ok(decoded.reason.length > 0);
          return;
        }
        // The fast path is stricter than protobuf-es, never more lenient: what it accepts, protobuf-es reads the same way.
        assert.deepStrictEqual(withoutUnknown(decoded.message), withoutUnknown(reference(body)));
      });
    fc.assert(
      check(decodeRequest, (body) => fromBinary(RequestSchema, body)),
      { numRuns: 1000 },
    );
    fc.assert(
      check(decodeResponse, (body) => fromBinary(ResponseSchema, body)),
      { numRuns: 1000 },
    );
  });
});
