// Message layer of the native protocol: frame bodies <-> Request/Response messages, pure.
// The schema is proto/catena.proto; the message types are generated from it by @bufbuild/protobuf
// (`npm run gen`). Decoding never throws: a body that is not a valid message is reported as a
// value, so a session can answer it and go on.
//
// Design: protobuf-es's reflection codec costs microseconds per message, too slow for the hot
// path, so the messages every pipelined workload is made of (the Request and Response envelopes,
// and put/get/del/incr with their replies and Error) are encoded and decoded by the small
// hand-written functions below, on the primitives of wire.ts. Everything else goes through
// protobuf-es: the envelope is still parsed here, and a cold command's inner message is handed
// to fromBinary; encoding a cold command (or any value the fast path does not recognise: a
// number where a bigint belongs, an out-of-range value, unknown fields to preserve) falls back
// to protobuf-es as a whole, so its results and errors are unchanged.
//
// The output is byte-for-byte what protobuf-es produces (fields in ascending order, proto3
// defaults omitted); test/protocol/fast-codec.test.ts proves it. Each message is sized first and
// written into one plain Uint8Array carved from a shared pool (wire.ts `allocate`, the strategy
// of Buffer.allocUnsafe), so its `.buffer` may hold other messages too.
//
// Decoded messages are plain objects shaped like protobuf-es's (`$typeName` and every field,
// defaults filled in), with these deliberate differences:
//   * bytes fields are views (subarrays) of the frame body, not copies (protobuf-es does the
//     same), so they are Buffers when the body is; copy them if the body's memory is reused;
//   * an absent bytes field is one shared empty Uint8Array, not a new one per message;
//   * hot messages are stricter on malformed input, reported as {ok: false}: a known field with
//     the wrong wire type, group wire types and fields running past their message are errors,
//     and unknown fields are skipped rather than kept in `$unknown`.

import { create, fromBinary, mergeFromBinary, toBinary, type DescMessage, type Message } from '@bufbuild/protobuf';
import { assert } from '../../core/assert.js';
import { framePrefixBytes, keylessRequestBytesMax } from '../../core/limits.js';
import { encodeFrame } from './frame.js';
import {
  AuthRequestSchema,
  RequestSchema,
  ResponseSchema,
  type DelReply,
  type DelRequest,
  type Error as ErrorReply,
  type GetReply,
  type GetRequest,
  type IncrReply,
  type IncrRequest,
  type PutReply,
  type PutRequest,
  type Request,
  type Response,
} from './gen/catena_pb.js';
import {
  allocate,
  isUint32,
  LEN,
  Reader,
  sint64Size,
  tag,
  uint64Size,
  utf8Size,
  VARINT,
  varintSize,
  writeSint64,
  writeUint64,
  writeUtf8,
  writeVarint,
  WireError,
} from './wire.js';

export type { Request, Response };

/** The command carried by a request: its oneof case and value. */
export type RequestCommand = Request['command'];
export type CommandCase = NonNullable<RequestCommand['case']>;
export type RequestOf<C extends CommandCase> = Extract<RequestCommand, { case: C }>['value'];
export type ResponseResult = Response['result'];
export type ReplyCase = Exclude<NonNullable<ResponseResult['case']>, 'error'>;
export type ReplyOf<C extends ReplyCase> = Extract<ResponseResult, { case: C }>['value'];

export type Decoded<T> = { ok: true; message: T } | { ok: false; reason: string };

export function encodeRequest(id: number, command: RequestCommand): Uint8Array {
  return encodeRequestAs(id, command, 0);
}

/** The whole frame (length prefix + body) of a request, in one buffer: no copy to frame it. */
export function encodeRequestFrame(id: number, command: RequestCommand): Uint8Array {
  return encodeRequestAs(id, command, framePrefixBytes);
}

function encodeRequestAs(id: number, command: RequestCommand, prefix: number, writer?: WriterIds): Uint8Array {
  try {
    if (writer !== undefined && (writer.clientId !== '' || writer.clientSequence !== 0n)) throw unsupported;
    switch (command.case) {
      case 'put':
        return encodeEnvelope(id, requestField.put, command.value, putRequest, prefix);
      case 'get':
        return encodeEnvelope(id, requestField.get, command.value, getRequest, prefix);
      case 'del':
        return encodeEnvelope(id, requestField.del, command.value, delRequest, prefix);
      case 'incr':
        return encodeEnvelope(id, requestField.incr, command.value, incrRequest, prefix);
    }
  } catch (error) {
    if (error !== unsupported) throw error;
  }
  const body = toBinary(RequestSchema, create(RequestSchema, { id, command, ...writer }));
  return prefix === 0 ? body : encodeFrame(body);
}

/** Who wrote a request, for exactly-once writes in a cluster (Request.client_id, client_sequence). */
export interface WriterIds {
  readonly clientId: string;
  readonly clientSequence: bigint;
}

/**
 * The frame of an auth request (Request.auth: no command). Sent once per connection, before
 * anything else, so it takes protobuf-es's path.
 */
export function encodeAuthRequestFrame(id: number, auth: { user: string; password: Uint8Array }): Uint8Array {
  return encodeFrame(toBinary(RequestSchema, create(RequestSchema, { id, auth })));
}

/** A request frame that names its writer (these take protobuf-es's slower path). */
export function encodeWriterRequestFrame(id: number, command: RequestCommand, writer: WriterIds): Uint8Array {
  return encodeRequestAs(id, command, framePrefixBytes, writer);
}

export function decodeRequest(body: Uint8Array): Decoded<Request> {
  try {
    return { ok: true, message: readRequest(new Reader(body)) };
  } catch (error) {
    return failure(error);
  }
}

export function encodeResponse(id: number, result: ResponseResult): Uint8Array {
  return encodeResponseAs(id, result, 0);
}

/** The whole frame (length prefix + body) of a response, in one buffer: no copy to frame it. */
export function encodeResponseFrame(id: number, result: ResponseResult): Uint8Array {
  return encodeResponseAs(id, result, framePrefixBytes);
}

function encodeResponseAs(id: number, result: ResponseResult, prefix: number): Uint8Array {
  try {
    switch (result.case) {
      case 'error':
        return encodeEnvelope(id, responseField.error, result.value, errorReply, prefix);
      case 'put':
        return encodeEnvelope(id, responseField.put, result.value, putReply, prefix);
      case 'get':
        return encodeEnvelope(id, responseField.get, result.value, getReply, prefix);
      case 'del':
        return encodeEnvelope(id, responseField.del, result.value, delReply, prefix);
      case 'incr':
        return encodeEnvelope(id, responseField.incr, result.value, incrReply, prefix);
    }
  } catch (error) {
    if (error !== unsupported) throw error;
  }
  const body = toBinary(ResponseSchema, create(ResponseSchema, { id, result }));
  return prefix === 0 ? body : encodeFrame(body);
}

export function decodeResponse(body: Uint8Array): Decoded<Response> {
  try {
    return { ok: true, message: readResponse(new Reader(body)) };
  } catch (error) {
    return failure(error);
  }
}

/**
 * Reads the request id (field 1, varint) from the start of a body that may not decode as a
 * whole, so an error about it can still name the request. Returns 0 when it cannot be found.
 */
export function peekRequestId(body: Uint8Array): number {
  if (body.length < 2 || body[0] !== 0x08) return 0;
  let id = 0;
  for (let i = 1, shift = 0; i < body.length && shift < 35; i++, shift += 7) {
    const byte = body[i]!;
    id += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return id <= 0xffffffff ? id : 0;
  }
  return 0;
}

function failure(error: unknown): { ok: false; reason: string } {
  return { ok: false, reason: error instanceof Error ? error.message : String(error) };
}

// ---------------------------------------------------------------------------------------------
// Envelopes. Field 1 is the id; the oneof member, always the last field, is one of the fields
// below (from proto/catena.proto, checked against the generated schema when this module loads).

const requestField = { put: 2, get: 3, del: 4, incr: 10, clientId: 30, clientSequence: 31, auth: 32 } as const;
const responseField = { error: 2, put: 3, get: 4, del: 5, incr: 11 } as const;

function checkFieldNumbers(schema: DescMessage, numbers: Record<string, number>): void {
  for (const [name, number] of Object.entries(numbers)) {
    assert(
      schema.fields.find((f) => f.localName === name)?.number === number,
      `${schema.typeName}.${name} is field ${number}`,
    );
  }
}
checkFieldNumbers(RequestSchema, requestField);
checkFieldNumbers(ResponseSchema, responseField);

/** Thrown (never escaping this module) when a value is left to protobuf-es to encode. */
const unsupported = new (class Unsupported {})();

/** Hand-written encoding of one message type: its exact size, then its bytes. */
interface Encoder<T extends Message> {
  /** Encoded size; throws `unsupported` for a value it leaves to protobuf-es. */
  size(value: Partial<T>): number;
  write(buf: Uint8Array, pos: number, value: Partial<T>): void;
}

/**
 * Encodes `{ id, <field>: value }` into one exactly-sized buffer, after `prefix` bytes that hold
 * the frame's big-endian length when `prefix` is 4 (0: the bare body).
 */
function encodeEnvelope<T extends Message>(
  id: number,
  field: number,
  value: Partial<T> | undefined,
  encoder: Encoder<T>,
  prefix: number,
): Uint8Array {
  // Values given as whole messages may carry unknown fields, which protobuf-es writes back.
  if (!isUint32(id) || typeof value !== 'object' || value === null || value.$unknown !== undefined) throw unsupported;
  const inner = encoder.size(value);
  const idSize = id === 0 ? 0 : 1 + varintSize(id);
  const bodySize = idSize + 1 + varintSize(inner) + inner;
  const buf = allocate(prefix + bodySize);
  let pos = 0;
  if (prefix !== 0) {
    buf[0] = bodySize >>> 24;
    buf[1] = (bodySize >>> 16) & 0xff;
    buf[2] = (bodySize >>> 8) & 0xff;
    buf[3] = bodySize & 0xff;
    pos = prefix;
  }
  if (id !== 0) {
    buf[pos++] = tag(1, VARINT);
    pos = writeVarint(buf, pos, id);
  }
  buf[pos++] = tag(field, LEN);
  pos = writeVarint(buf, pos, inner);
  encoder.write(buf, pos, value);
  return buf;
}

function readRequest(r: Reader): Request {
  let id = 0;
  let command: RequestCommand = { case: undefined };
  let clientId = '';
  let clientSequence = 0n;
  let auth: Request['auth'];
  while (r.more()) {
    const t = r.tag();
    switch (t >>> 3) {
      case 1:
        id = r.uint32(t);
        break;
      case requestField.clientId:
        clientId = r.string(t);
        break;
      case requestField.clientSequence:
        clientSequence = r.uint64(t);
        break;
      case requestField.auth:
        auth = readAuthRequest(r, t);
        break;
      case requestField.put:
        command = {
          case: 'put',
          value: r.message(t, readPutRequest, command.case === 'put' ? command.value : undefined),
        };
        break;
      case requestField.get:
        command = {
          case: 'get',
          value: r.message(t, readGetRequest, command.case === 'get' ? command.value : undefined),
        };
        break;
      case requestField.del:
        command = {
          case: 'del',
          value: r.message(t, readDelRequest, command.case === 'del' ? command.value : undefined),
        };
        break;
      case requestField.incr:
        command = {
          case: 'incr',
          value: r.message(t, readIncrRequest, command.case === 'incr' ? command.value : undefined),
        };
        break;
      default:
        command = readColdMember(r, t, coldCommands, command, requestBytesMaxOf);
    }
  }
  const request: Request = { $typeName: 'catena.v1.Request', id, command, clientId, clientSequence };
  if (auth !== undefined) request.auth = auth;
  return request;
}

/** Request.auth (a user name and a password: small, bounded like a keyless request). */
function readAuthRequest(r: Reader, t: number): NonNullable<Request['auth']> {
  const bytes = r.bytes(t);
  if (bytes.length > keylessRequestBytesMax) {
    throw new WireError(`an auth request of ${bytes.length} bytes is over its ${keylessRequestBytesMax}-byte limit`);
  }
  return fromBinary(AuthRequestSchema, bytes, { readUnknownFields: false });
}

function readResponse(r: Reader): Response {
  let id = 0;
  let result: ResponseResult = { case: undefined };
  while (r.more()) {
    const t = r.tag();
    switch (t >>> 3) {
      case 1:
        id = r.uint32(t);
        break;
      case responseField.error:
        result = {
          case: 'error',
          value: r.message(t, readErrorReply, result.case === 'error' ? result.value : undefined),
        };
        break;
      case responseField.put:
        result = { case: 'put', value: r.message(t, readPutReply, result.case === 'put' ? result.value : undefined) };
        break;
      case responseField.get:
        result = { case: 'get', value: r.message(t, readGetReply, result.case === 'get' ? result.value : undefined) };
        break;
      case responseField.del:
        result = { case: 'del', value: r.message(t, readDelReply, result.case === 'del' ? result.value : undefined) };
        break;
      case responseField.incr:
        result = {
          case: 'incr',
          value: r.message(t, readIncrReply, result.case === 'incr' ? result.value : undefined),
        };
        break;
      default:
        result = readColdMember(r, t, coldResults, result);
    }
  }
  return { $typeName: 'catena.v1.Response', id, result };
}

// ---------------------------------------------------------------------------------------------
// Cold oneof members: the inner message is decoded by protobuf-es. As in protobuf-es, a member
// that appears again merges into the value read before; a different member replaces it.

interface OneofMember {
  readonly localName: string;
  readonly schema: DescMessage;
}

function oneofMembers(schema: DescMessage): ReadonlyMap<number, OneofMember> {
  const members = new Map<number, OneofMember>();
  for (const field of schema.fields) {
    if (field.oneof !== undefined && field.fieldKind === 'message')
      members.set(field.number, { localName: field.localName, schema: field.message });
  }
  return members;
}

const coldCommands = oneofMembers(RequestSchema);
const coldResults = oneofMembers(ResponseSchema);

/** Reads a oneof member with protobuf-es, or skips an unknown field; returns the new oneof value. */
function readColdMember<O extends { case: string | undefined; value?: Message }>(
  r: Reader,
  t: number,
  members: ReadonlyMap<number, OneofMember>,
  current: O,
  bytesMaxOf: (localName: string) => number = () => Number.POSITIVE_INFINITY,
): O {
  const member = members.get(t >>> 3);
  if (member === undefined) {
    r.skip(t);
    return current;
  }
  const bytes = r.bytes(t);
  // Reflection decoding is slow and keeps what it does not know: bound it before it starts.
  const bytesMax = bytesMaxOf(member.localName);
  if (bytes.length > bytesMax) {
    throw new WireError(`a ${member.localName} request of ${bytes.length} bytes is over its ${bytesMax}-byte limit`);
  }
  const options = { readUnknownFields: false };
  const value =
    current.case === member.localName && current.value !== undefined
      ? mergeFromBinary(member.schema, current.value, bytes, options)
      : fromBinary(member.schema, bytes, options);
  // The members come from the schema the oneof type was generated from, so case and value agree.
  return { case: member.localName, value } as unknown as O;
}

/**
 * Only requests that carry values (or many keys) may be as large as a frame; the others hold a
 * key or two at most. Every command whose request has a value or a list of keys must be here.
 */
const valueCarryingRequests = new Set(['put', 'cas', 'append', 'set', 'mput', 'mget', 'slotimport']);
const requestBytesMaxOf = (localName: string): number =>
  valueCarryingRequests.has(localName) ? Number.POSITIVE_INFINITY : keylessRequestBytesMax;

// ---------------------------------------------------------------------------------------------
// Fields of the hot messages. Each hot field number is below 16, so every tag is one byte.
// Sizes include the tag and are 0 for a proto3 default (0, empty, false), which is not written.
// A value of a type protobuf-es would convert or reject is left to it (`unsupported`).

function bytesFieldSize(value: Uint8Array | undefined): number {
  if (value === undefined) return 0;
  if (!(value instanceof Uint8Array)) throw unsupported;
  const n = value.length;
  return n === 0 ? 0 : 1 + varintSize(n) + n;
}

function writeBytesField(buf: Uint8Array, pos: number, t: number, value: Uint8Array | undefined): number {
  if (value === undefined || value.length === 0) return pos;
  const n = value.length;
  buf[pos++] = t;
  pos = writeVarint(buf, pos, n);
  if (n > 16) buf.set(value, pos);
  else for (let i = 0; i < n; i++) buf[pos + i] = value[i]!; // cheaper than set() for short keys
  return pos + n;
}

function stringFieldSize(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  if (typeof value !== 'string') throw unsupported;
  const n = utf8Size(value);
  return 1 + varintSize(n) + n;
}

function writeStringField(buf: Uint8Array, pos: number, t: number, value: string | undefined): number {
  if (value === undefined || value === '') return pos;
  const n = utf8Size(value);
  buf[pos++] = t;
  pos = writeVarint(buf, pos, n);
  return writeUtf8(buf, pos, value, n);
}

function boolFieldSize(value: boolean | undefined): number {
  if (value === undefined || value === false) return 0;
  if (value !== true) throw unsupported;
  return 2;
}

function writeBoolField(buf: Uint8Array, pos: number, t: number, value: boolean | undefined): number {
  if (value !== true) return pos;
  buf[pos] = t;
  buf[pos + 1] = 1;
  return pos + 2;
}

function uint64FieldSize(value: bigint | undefined): number {
  if (value === undefined) return 0;
  const size = typeof value === 'bigint' ? uint64Size(value) : -1;
  if (size < 0) throw unsupported;
  return value === 0n ? 0 : 1 + size;
}

function writeUint64Field(buf: Uint8Array, pos: number, t: number, value: bigint | undefined): number {
  if (value === undefined || value === 0n) return pos;
  buf[pos++] = t;
  return writeUint64(buf, pos, value);
}

function sint64FieldSize(value: bigint | undefined): number {
  if (value === undefined) return 0;
  const size = typeof value === 'bigint' ? sint64Size(value) : -1;
  if (size < 0) throw unsupported;
  return value === 0n ? 0 : 1 + size;
}

function writeSint64Field(buf: Uint8Array, pos: number, t: number, value: bigint | undefined): number {
  if (value === undefined || value === 0n) return pos;
  buf[pos++] = t;
  return writeSint64(buf, pos, value);
}

// ---------------------------------------------------------------------------------------------
// Hot messages: an encoder and a reader each. A reader is given the value already decoded for
// the same oneof member (a repeated member merges), and fills absent fields with defaults.

/**
 * The value of every absent bytes field. protobuf-es creates a new empty array each time, but a
 * typed array costs ~150 ns to create and an empty one has no bytes to change, so it is shared.
 */
const noBytes = new Uint8Array(0);

const getRequest: Encoder<GetRequest> = {
  size: (m) => bytesFieldSize(m.key),
  write: (buf, pos, m) => writeBytesField(buf, pos, tag(1, LEN), m.key),
};

function readGetRequest(r: Reader, previous: GetRequest | undefined): GetRequest {
  let key = previous?.key;
  while (r.more()) {
    const t = r.tag();
    if (t >>> 3 === 1) key = r.bytes(t);
    else r.skip(t);
  }
  return { $typeName: 'catena.v1.GetRequest', key: key ?? noBytes };
}

const delRequest: Encoder<DelRequest> = {
  size: (m) => bytesFieldSize(m.key),
  write: (buf, pos, m) => writeBytesField(buf, pos, tag(1, LEN), m.key),
};

function readDelRequest(r: Reader, previous: DelRequest | undefined): DelRequest {
  let key = previous?.key;
  while (r.more()) {
    const t = r.tag();
    if (t >>> 3 === 1) key = r.bytes(t);
    else r.skip(t);
  }
  return { $typeName: 'catena.v1.DelRequest', key: key ?? noBytes };
}

const putRequest: Encoder<PutRequest> = {
  size: (m) => bytesFieldSize(m.key) + bytesFieldSize(m.value) + uint64FieldSize(m.ttlMs),
  write(buf, pos, m) {
    pos = writeBytesField(buf, pos, tag(1, LEN), m.key);
    pos = writeBytesField(buf, pos, tag(2, LEN), m.value);
    writeUint64Field(buf, pos, tag(3, VARINT), m.ttlMs);
  },
};

function readPutRequest(r: Reader, previous: PutRequest | undefined): PutRequest {
  let key = previous?.key;
  let value = previous?.value;
  let ttlMs = previous?.ttlMs ?? 0n;
  while (r.more()) {
    const t = r.tag();
    switch (t >>> 3) {
      case 1:
        key = r.bytes(t);
        break;
      case 2:
        value = r.bytes(t);
        break;
      case 3:
        ttlMs = r.uint64(t);
        break;
      default:
        r.skip(t);
    }
  }
  return { $typeName: 'catena.v1.PutRequest', key: key ?? noBytes, value: value ?? noBytes, ttlMs };
}

const incrRequest: Encoder<IncrRequest> = {
  size: (m) =>
    bytesFieldSize(m.key) + sint64FieldSize(m.delta) + boolFieldSize(m.memcached) + boolFieldSize(m.decrement),
  write(buf, pos, m) {
    pos = writeBytesField(buf, pos, tag(1, LEN), m.key);
    pos = writeSint64Field(buf, pos, tag(2, VARINT), m.delta);
    pos = writeBoolField(buf, pos, tag(3, VARINT), m.memcached);
    writeBoolField(buf, pos, tag(4, VARINT), m.decrement);
  },
};

function readIncrRequest(r: Reader, previous: IncrRequest | undefined): IncrRequest {
  let key = previous?.key;
  let delta = previous?.delta ?? 0n;
  let memcached = previous?.memcached ?? false;
  let decrement = previous?.decrement ?? false;
  while (r.more()) {
    const t = r.tag();
    switch (t >>> 3) {
      case 1:
        key = r.bytes(t);
        break;
      case 2:
        delta = r.sint64(t);
        break;
      case 3:
        memcached = r.bool(t);
        break;
      case 4:
        decrement = r.bool(t);
        break;
      default:
        r.skip(t);
    }
  }
  return { $typeName: 'catena.v1.IncrRequest', key: key ?? noBytes, delta, memcached, decrement };
}

const errorReply: Encoder<ErrorReply> = {
  size: (m) => stringFieldSize(m.code) + stringFieldSize(m.message),
  write(buf, pos, m) {
    pos = writeStringField(buf, pos, tag(1, LEN), m.code);
    writeStringField(buf, pos, tag(2, LEN), m.message);
  },
};

function readErrorReply(r: Reader, previous: ErrorReply | undefined): ErrorReply {
  let code = previous?.code ?? '';
  let message = previous?.message ?? '';
  while (r.more()) {
    const t = r.tag();
    switch (t >>> 3) {
      case 1:
        code = r.string(t);
        break;
      case 2:
        message = r.string(t);
        break;
      default:
        r.skip(t);
    }
  }
  return { $typeName: 'catena.v1.Error', code, message };
}

const putReply: Encoder<PutReply> = {
  size: (m) => uint64FieldSize(m.version),
  write: (buf, pos, m) => writeUint64Field(buf, pos, tag(1, VARINT), m.version),
};

function readPutReply(r: Reader, previous: PutReply | undefined): PutReply {
  let version = previous?.version ?? 0n;
  while (r.more()) {
    const t = r.tag();
    if (t >>> 3 === 1) version = r.uint64(t);
    else r.skip(t);
  }
  return { $typeName: 'catena.v1.PutReply', version };
}

const getReply: Encoder<GetReply> = {
  size: (m) => boolFieldSize(m.found) + bytesFieldSize(m.value) + uint64FieldSize(m.version) + uint64FieldSize(m.ttlMs),
  write(buf, pos, m) {
    pos = writeBoolField(buf, pos, tag(1, VARINT), m.found);
    pos = writeBytesField(buf, pos, tag(2, LEN), m.value);
    pos = writeUint64Field(buf, pos, tag(3, VARINT), m.version);
    writeUint64Field(buf, pos, tag(4, VARINT), m.ttlMs);
  },
};

function readGetReply(r: Reader, previous: GetReply | undefined): GetReply {
  let found = previous?.found ?? false;
  let value = previous?.value;
  let version = previous?.version ?? 0n;
  let ttlMs = previous?.ttlMs ?? 0n;
  while (r.more()) {
    const t = r.tag();
    switch (t >>> 3) {
      case 1:
        found = r.bool(t);
        break;
      case 2:
        value = r.bytes(t);
        break;
      case 3:
        version = r.uint64(t);
        break;
      case 4:
        ttlMs = r.uint64(t);
        break;
      default:
        r.skip(t);
    }
  }
  return { $typeName: 'catena.v1.GetReply', found, value: value ?? noBytes, version, ttlMs };
}

const delReply: Encoder<DelReply> = {
  size: (m) => boolFieldSize(m.deleted),
  write: (buf, pos, m) => writeBoolField(buf, pos, tag(1, VARINT), m.deleted),
};

function readDelReply(r: Reader, previous: DelReply | undefined): DelReply {
  let deleted = previous?.deleted ?? false;
  while (r.more()) {
    const t = r.tag();
    if (t >>> 3 === 1) deleted = r.bool(t);
    else r.skip(t);
  }
  return { $typeName: 'catena.v1.DelReply', deleted };
}

const incrReply: Encoder<IncrReply> = {
  size: (m) => sint64FieldSize(m.value) + boolFieldSize(m.found),
  write(buf, pos, m) {
    pos = writeSint64Field(buf, pos, tag(1, VARINT), m.value);
    writeBoolField(buf, pos, tag(2, VARINT), m.found);
  },
};

function readIncrReply(r: Reader, previous: IncrReply | undefined): IncrReply {
  let value = previous?.value ?? 0n;
  let found = previous?.found ?? false;
  while (r.more()) {
    const t = r.tag();
    switch (t >>> 3) {
      case 1:
        value = r.sint64(t);
        break;
      case 2:
        found = r.bool(t);
        break;
      default:
        r.skip(t);
    }
  }
  return { $typeName: 'catena.v1.IncrReply', value, found };
}
