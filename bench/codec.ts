// Micro-benchmark of the native message codec: ns per op to encode and decode a get Request and
// a GetReply Response (100-byte value), with protobuf-es reflection (the previous codec) and with
// the hand-written codec of src/protocol/native/codec.ts.
//
//   npx tsx bench/codec.ts [iterations]

import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type RequestCommand,
  type ResponseResult,
} from '../src/protocol/native/codec.js';
import { RequestSchema, ResponseSchema } from '../src/protocol/native/gen/catena_pb.js';

const iterations = Number(process.argv[2] ?? 1_000_000);
const runs = 9;

const key = Buffer.from('user:000012345');
// Init-shaped values (no $typeName), as the client and the executor pass them.
const getCommand = { case: 'get', value: { key } } as unknown as RequestCommand;
const getReply = {
  case: 'get',
  value: { found: true, value: Buffer.alloc(100, 0x61), version: 123_456n, ttlMs: 0n },
} as unknown as ResponseResult;
const requestId = 1_234_567;

const requestBytes = toBinary(RequestSchema, create(RequestSchema, { id: requestId, command: getCommand }));
const responseBytes = toBinary(ResponseSchema, create(ResponseSchema, { id: requestId, result: getReply }));

interface Case {
  name: string;
  run(): number; // returns something derived from the result, so the work cannot be skipped
}

const cases: Case[] = [
  {
    name: 'encode get Request   protobuf-es',
    run: () => toBinary(RequestSchema, create(RequestSchema, { id: requestId, command: getCommand })).length,
  },
  { name: 'encode get Request   hand-written', run: () => encodeRequest(requestId, getCommand).length },
  { name: 'decode get Request   protobuf-es', run: () => fromBinary(RequestSchema, requestBytes).id },
  { name: 'decode get Request   hand-written', run: () => (decodeRequest(requestBytes).ok ? 1 : 0) },
  {
    name: 'encode GetReply Resp protobuf-es',
    run: () => toBinary(ResponseSchema, create(ResponseSchema, { id: requestId, result: getReply })).length,
  },
  { name: 'encode GetReply Resp hand-written', run: () => encodeResponse(requestId, getReply).length },
  { name: 'decode GetReply Resp protobuf-es', run: () => fromBinary(ResponseSchema, responseBytes).id },
  { name: 'decode GetReply Resp hand-written', run: () => (decodeResponse(responseBytes).ok ? 1 : 0) },
];

function nsPerOp(run: () => number): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink += run();
  const elapsed = Number(process.hrtime.bigint() - start);
  if (sink === -1) console.log('unreachable');
  return elapsed / iterations;
}

for (const c of cases) {
  nsPerOp(c.run); // warm up (and let the JIT settle)
  const samples = Array.from({ length: runs }, () => nsPerOp(c.run)).sort((a, b) => a - b);
  console.log(
    `${c.name}: median ${samples[Math.floor(runs / 2)]!.toFixed(0).padStart(5)} ns/op, min ${samples[0]!.toFixed(0).padStart(5)}`,
  );
}
