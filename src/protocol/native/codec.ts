// Message layer of the native protocol: frame bodies <-> Request/Response messages, pure.
// The schema is proto/catena.proto; the message types and reflection codec are generated from it
// by @bufbuild/protobuf (`npm run gen`). Decoding never throws: a body that is not a valid
// message is reported as a value, so a session can answer it and go on.

import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  RequestSchema,
  ResponseSchema,
  type Request,
  type Response,
} from './gen/catena_pb.js';

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
  return toBinary(RequestSchema, create(RequestSchema, { id, command }));
}

export function decodeRequest(body: Uint8Array): Decoded<Request> {
  try {
    return { ok: true, message: fromBinary(RequestSchema, body) };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

export function encodeResponse(id: number, result: ResponseResult): Uint8Array {
  return toBinary(ResponseSchema, create(ResponseSchema, { id, result }));
}

export function decodeResponse(body: Uint8Array): Decoded<Response> {
  try {
    return { ok: true, message: fromBinary(ResponseSchema, body) };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
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
