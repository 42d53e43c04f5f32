// The RESP codec (src/protocol/resp/codec.ts): golden bytes for every reply type in RESP2 and
// RESP3; the request parser against every split point of mixed pipelines, binary-safe bulks,
// Redis's inline quoting, every limit just under and just over (over: a fatal event with Redis's
// text, and nothing buffered past the header); and properties: encoded commands parse back at
// any chunking, and hostile bytes never throw and give the same events however they are cut.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AssertionError } from '../../src/core/assert.js';
import {
  respArgumentOverheadBytes,
  respArgumentsMax,
  respBulkBytesMax,
  respHeaderLineBytesMax,
  respInlineBytesMax,
  respReplyDepthMax,
} from '../../src/core/limits.js';
import {
  encodeCommand,
  encodeReplies,
  encodeReply,
  expectedDollarMessage,
  parseRedisInteger,
  respProtocolErrors,
  RespRequestParser,
  splitInlineArguments,
  type RespRequestEvent,
  type RespRequestLimits,
} from '../../src/protocol/resp/codec.js';
import {
  arrayReply,
  bulkReply,
  errorReply,
  integerReply,
  nullReply,
  okReply,
  type RespReply,
} from '../../src/protocol/resp/reply.js';
import { cut } from '../helpers/chunks.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** An event with its arguments as latin1 strings, so any byte compares and prints exactly. */
type Shown = { command: string[] } | { fatal: string };

function show(events: readonly RespRequestEvent[]): Shown[] {
  return events.map((event) =>
    event.kind === 'command'
      ? { command: event.argv.map((argument) => argument.toString('latin1')) }
      : { fatal: event.message },
  );
}

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

function parse(chunks: readonly Uint8Array[], limits?: Partial<RespRequestLimits>): Shown[] {
  const parser = new RespRequestParser(limits);
  const events: RespRequestEvent[] = [];
  for (const chunk of chunks) events.push(...parser.push(chunk));
  return show(events);
}

const parseText = (text: string, limits?: Partial<RespRequestLimits>): Shown[] => parse([bytes(text)], limits);

/** Asserts that every one- and two-point split of `data` gives `expected`. */
function assertEverySplit(data: Uint8Array, expected: Shown[], limits?: Partial<RespRequestLimits>): void {
  assert.deepEqual(parse([data], limits), expected, 'whole');
  for (let i = 1; i < data.length; i++) {
    assert.deepEqual(parse(cut(data, [i]), limits), expected, `split at ${i}`);
  }
  for (let i = 1; i < data.length; i++) {
    for (let j = i + 1; j < data.length; j++) {
      assert.deepEqual(parse(cut(data, [i, j]), limits), expected, `split at ${i} and ${j}`);
    }
  }
  const oneByteChunks = Array.from(data, (_, i) => data.subarray(i, i + 1));
  assert.deepEqual(parse(oneByteChunks, limits), expected, 'byte by byte');
}

const fatal = (message: string): Shown => ({ fatal: message });
const command = (...argv: string[]): Shown => ({ command: argv });

// ---------------------------------------------------------------------------------------------
// Replies

describe('encodeReply', () => {
  const every256 = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const golden: [string, RespReply, string, string][] = [
    ['simple string', okReply, '+OK\r\n', '+OK\r\n'],
    ['simple string, CR and LF made spaces', { kind: 'simple', text: 'a\r\nb' }, '+a  b\r\n', '+a  b\r\n'],
    [
      'error',
      errorReply('ERR', "unknown command 'foo'"),
      "-ERR unknown command 'foo'\r\n",
      "-ERR unknown command 'foo'\r\n",
    ],
    [
      'error WRONGTYPE',
      errorReply('WRONGTYPE', 'Operation against a key holding the wrong kind of value'),
      '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n',
      '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n',
    ],
    [
      'error MOVED',
      errorReply('MOVED', '3999 127.0.0.1:6381'),
      '-MOVED 3999 127.0.0.1:6381\r\n',
      '-MOVED 3999 127.0.0.1:6381\r\n',
    ],
    ['error without a message', errorReply('NOPROTO', ''), '-NOPROTO\r\n', '-NOPROTO\r\n'],
    ['error, CR and LF made spaces', errorReply('ERR', 'x\ny'), '-ERR x y\r\n', '-ERR x y\r\n'],
    ['integer 0', integerReply(0), ':0\r\n', ':0\r\n'],
    ['integer -1', integerReply(-1), ':-1\r\n', ':-1\r\n'],
    ['integer 2^53-1', integerReply(2 ** 53 - 1), ':9007199254740991\r\n', ':9007199254740991\r\n'],
    ['integer int64 max', integerReply(2n ** 63n - 1n), ':9223372036854775807\r\n', ':9223372036854775807\r\n'],
    ['integer int64 min', integerReply(-(2n ** 63n)), ':-9223372036854775808\r\n', ':-9223372036854775808\r\n'],
    ['bulk string', bulkReply('hello'), '$5\r\nhello\r\n', '$5\r\nhello\r\n'],
    ['empty bulk string', bulkReply(new Uint8Array(0)), '$0\r\n\r\n', '$0\r\n\r\n'],
    ['bulk string with CR LF inside', bulkReply(bytes('a\r\nb')), '$4\r\na\r\nb\r\n', '$4\r\na\r\nb\r\n'],
    ['bulk string from UTF-8 text', bulkReply('é'), '$2\r\n\xc3\xa9\r\n', '$2\r\n\xc3\xa9\r\n'],
    ['bulk string, every byte', bulkReply(every256), `$256\r\n${every256.toString('latin1')}\r\n`, ''],
    ['null', nullReply, '$-1\r\n', '_\r\n'],
    ['null array', { kind: 'null-array' }, '*-1\r\n', '_\r\n'],
    ['empty array', arrayReply([]), '*0\r\n', '*0\r\n'],
    [
      'nested array',
      arrayReply([integerReply(1), arrayReply([bulkReply('a'), nullReply]), okReply]),
      '*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+OK\r\n',
      '*3\r\n:1\r\n*2\r\n$1\r\na\r\n_\r\n+OK\r\n',
    ],
    [
      'map',
      {
        kind: 'map',
        entries: [
          [bulkReply('server'), bulkReply('catena')],
          [bulkReply('proto'), integerReply(3)],
        ],
      },
      '*4\r\n$6\r\nserver\r\n$6\r\ncatena\r\n$5\r\nproto\r\n:3\r\n',
      '%2\r\n$6\r\nserver\r\n$6\r\ncatena\r\n$5\r\nproto\r\n:3\r\n',
    ],
    ['empty map', { kind: 'map', entries: [] }, '*0\r\n', '%0\r\n'],
    [
      'set',
      { kind: 'set', items: [bulkReply('a'), bulkReply('b')] },
      '*2\r\n$1\r\na\r\n$1\r\nb\r\n',
      '~2\r\n$1\r\na\r\n$1\r\nb\r\n',
    ],
    ['double', { kind: 'double', value: 1.5 }, '$3\r\n1.5\r\n', ',1.5\r\n'],
    ['integral double', { kind: 'double', value: 3 }, '$1\r\n3\r\n', ',3\r\n'],
    ['shortest double', { kind: 'double', value: 0.1 }, '$3\r\n0.1\r\n', ',0.1\r\n'],
    ['negative zero', { kind: 'double', value: -0 }, '$2\r\n-0\r\n', ',-0\r\n'],
    ['infinity', { kind: 'double', value: Infinity }, '$3\r\ninf\r\n', ',inf\r\n'],
    ['negative infinity', { kind: 'double', value: -Infinity }, '$4\r\n-inf\r\n', ',-inf\r\n'],
    ['not a number', { kind: 'double', value: NaN }, '$3\r\nnan\r\n', ',nan\r\n'],
    ['true', { kind: 'boolean', value: true }, ':1\r\n', '#t\r\n'],
    ['false', { kind: 'boolean', value: false }, ':0\r\n', '#f\r\n'],
    [
      'verbatim string',
      { kind: 'verbatim', format: 'txt', text: 'Some string' },
      '$11\r\nSome string\r\n',
      '=15\r\ntxt:Some string\r\n',
    ],
    [
      'verbatim string with lines (INFO)',
      { kind: 'verbatim', format: 'txt', text: bytes('# Server\r\nv:1\r\n') },
      '$15\r\n# Server\r\nv:1\r\n\r\n',
      '=19\r\ntxt:# Server\r\nv:1\r\n\r\n',
    ],
    ['markdown verbatim string', { kind: 'verbatim', format: 'mkd', text: '' }, '$0\r\n\r\n', '=4\r\nmkd:\r\n'],
  ];

  for (const [name, reply, resp2, resp3] of golden) {
    it(`${name}: RESP2 and RESP3 bytes`, () => {
      assert.equal(encodeReply(reply, 2).toString('latin1'), resp2);
      const expected3 = resp3 === '' ? resp2 : resp3;
      assert.equal(encodeReply(reply, 3).toString('latin1'), expected3);
    });
  }

  it('encodes a pipeline of replies back to back', () => {
    const replies = golden.map(([, reply]) => reply);
    for (const protocol of [2, 3] as const) {
      const one = Buffer.concat(replies.map((reply) => encodeReply(reply, protocol)));
      assert.ok(encodeReplies(replies, protocol).equals(one));
    }
    assert.equal(encodeReplies([], 3).length, 0);
  });

  it('refuses values that would corrupt the stream (broken invariants, not input)', () => {
    assert.throws(() => encodeReply(errorReply('err', 'lower case code'), 2), AssertionError);
    assert.throws(() => encodeReply(errorReply('ERR X', 'space in code'), 2), AssertionError);
    assert.throws(() => encodeReply(integerReply(1.5), 2), AssertionError);
    assert.throws(() => encodeReply(integerReply(2 ** 53), 2), AssertionError);
    assert.throws(() => encodeReply(integerReply(2n ** 63n), 3), AssertionError);
    assert.throws(() => encodeReply(okReply, 1 as 2), AssertionError);
    let deep: RespReply = okReply;
    for (let i = 0; i < respReplyDepthMax; i++) deep = arrayReply([deep]);
    assert.equal(encodeReply(deep, 3).length, respReplyDepthMax * 4 + 5);
    assert.throws(() => encodeReply(arrayReply([deep]), 3), AssertionError);
  });
});

describe('encodeCommand', () => {
  it('writes a multibulk of bulk strings', () => {
    assert.equal(
      encodeCommand(['SET', 'key', bytes('v\r\n')]).toString('latin1'),
      '*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$3\r\nv\r\n\r\n',
    );
    assert.equal(encodeCommand([]).toString('latin1'), '*0\r\n');
    assert.equal(encodeCommand(['']).toString('latin1'), '*1\r\n$0\r\n\r\n');
  });

  it('is what RESP2 writes for an array of bulk strings', () => {
    const argv = ['GET', 'k'];
    assert.ok(encodeCommand(argv).equals(encodeReply(arrayReply(argv.map(bulkReply)), 2)));
  });
});

// ---------------------------------------------------------------------------------------------
// Requests

describe('RespRequestParser: commands', () => {
  it('parses multibulk and inline commands, in order', () => {
    assert.deepEqual(parseText('*1\r\n$4\r\nPING\r\n'), [command('PING')]);
    assert.deepEqual(parseText('PING\r\nPING\nECHO hi\r\n'), [command('PING'), command('PING'), command('ECHO', 'hi')]);
    assert.deepEqual(parseText('*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nGET k\r\n*1\r\n$4\r\nQUIT\r\n'), [
      command('ECHO', 'hi'),
      command('GET', 'k'),
      command('QUIT'),
    ]);
  });

  it('skips blank inline lines and empty multibulks (*0, *-1), as Redis does', () => {
    assert.deepEqual(parseText('\r\n\n  \t \r\n*0\r\n*-1\r\n*-9223372036854775808\r\nPING\r\n'), [command('PING')]);
  });

  it('is binary safe: CR LF, NUL and every byte inside bulks, empty bulks', () => {
    const every256 = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const request = encodeCommand(['SET', bytes('\r\n*1\r\n'), every256, '', bytes('\0')]);
    assert.deepEqual(parse([request]), [command('SET', '\r\n*1\r\n', every256.toString('latin1'), '', '\0')]);
    assert.deepEqual(parseText('*2\r\n$0\r\n\r\n$0\r\n\r\n'), [command('', '')]);
  });

  it('gives each argument its own memory, not a view of the pushed chunk', () => {
    const chunk = Buffer.from(encodeCommand(['GET', 'key']));
    const [event] = new RespRequestParser().push(chunk);
    assert.ok(event !== undefined && event.kind === 'command');
    chunk.fill(0x21);
    assert.deepEqual(
      event.argv.map((argument) => argument.toString()),
      ['GET', 'key'],
    );
  });

  it('skips the byte after a header line CR and the two after a payload unchecked, as Redis does', () => {
    assert.deepEqual(parseText('*1\rX$3\r\nabcYZ'), [command('abc')]);
  });

  it('reports commands completed before a protocol error, then the error, then nothing more', () => {
    const parser = new RespRequestParser();
    assert.deepEqual(show(parser.push(bytes('PING\r\n*1\r\n$x\r\nPING\r\n'))), [
      command('PING'),
      fatal(respProtocolErrors.invalidBulkLength),
    ]);
    assert.ok(parser.failed);
    assert.equal(parser.bufferedBytes, 0);
    assert.deepEqual(parser.push(bytes('PING\r\n')), []);
  });

  it('tells when a request is under way (for the slow-loris deadline)', () => {
    const parser = new RespRequestParser();
    assert.equal(parser.inRequest, false);
    parser.push(bytes('*2\r\n$3\r\nGET\r\n'));
    assert.equal(parser.inRequest, true);
    assert.equal(parser.bufferedBytes, 3);
    parser.push(bytes('$1\r\nk\r\n'));
    assert.equal(parser.inRequest, false);
    assert.equal(parser.bufferedBytes, 0);
    parser.push(bytes('PI'));
    assert.equal(parser.inRequest, true);
    assert.equal(parser.bufferedBytes, 2);
  });
});

describe('RespRequestParser: protocol errors (Redis texts)', () => {
  const cases: [string, string][] = [
    ['*abc\r\n', respProtocolErrors.invalidMultibulkLength],
    ['*\r\n', respProtocolErrors.invalidMultibulkLength],
    ['*01\r\n', respProtocolErrors.invalidMultibulkLength],
    ['*+1\r\n', respProtocolErrors.invalidMultibulkLength],
    ['* 1\r\n', respProtocolErrors.invalidMultibulkLength],
    ['*-0\r\n', respProtocolErrors.invalidMultibulkLength],
    ['*20000000\r\n', respProtocolErrors.invalidMultibulkLength],
    ['*-9223372036854775809\r\n', respProtocolErrors.invalidMultibulkLength],
    ['*1\r\n$-1\r\n', respProtocolErrors.invalidBulkLength],
    ['*1\r\n$\r\n', respProtocolErrors.invalidBulkLength],
    ['*1\r\n$1x\r\n', respProtocolErrors.invalidBulkLength],
    ['*1\r\n$9223372036854775807\r\n', respProtocolErrors.invalidBulkLength],
    ['*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n', "Protocol error: expected '$', got 'f'"],
    ['*1\r\n\r\n', "Protocol error: expected '$', got ' '"],
    ['*1\r\n\n\r\n', "Protocol error: expected '$', got ' '"],
    ['*1\r\n\xff\r\n', "Protocol error: expected '$', got '?'"],
    ['*1\r\n:1\r\n', "Protocol error: expected '$', got ':'"],
    ['ECHO "a\r\n', respProtocolErrors.unbalancedQuotes],
    ["ECHO 'a\r\n", respProtocolErrors.unbalancedQuotes],
    ['ECHO "a"x\r\n', respProtocolErrors.unbalancedQuotes],
    ["ECHO 'a'x\n", respProtocolErrors.unbalancedQuotes],
    ['ECHO "a\\"\n', respProtocolErrors.unbalancedQuotes],
    ["ECHO 'a\\'\n", respProtocolErrors.unbalancedQuotes],
  ];
  for (const [input, message] of cases) {
    it(`${JSON.stringify(input)} -> ${message}`, () => {
      assert.deepEqual(parseText(input), [fatal(message)]);
    });
  }

  it('formats the expected-$ message like Redis', () => {
    assert.equal(expectedDollarMessage(0x66), "Protocol error: expected '$', got 'f'");
    assert.equal(expectedDollarMessage(undefined), "Protocol error: expected '$', got ' '");
    assert.equal(expectedDollarMessage(0x0a), "Protocol error: expected '$', got ' '");
    assert.equal(expectedDollarMessage(0x00), "Protocol error: expected '$', got '?'");
  });
});

describe('inline arguments (Redis sdssplitargs)', () => {
  const cases: [string, string[] | undefined][] = [
    ['', []],
    [' \t\v\f ', []],
    ['SET a b', ['SET', 'a', 'b']],
    ['  SET\t a   b  ', ['SET', 'a', 'b']],
    ['SET "a b" c', ['SET', 'a b', 'c']],
    ['"\\x41\\x4a\\x6b" "\\n\\r\\t\\b\\a\\\\\\"\\q"', ['AJk', '\n\r\t\b\x07\\"q']],
    ['"\\xZZ" "\\x4"', ['xZZ', 'x4']],
    ["'it\\'s' 'a\\nb' 'x\"y'", ["it's", 'a\\nb', 'x"y']],
    ['a"b c"', ['ab c']],
    ["a'b c' d", ['ab c', 'd']],
    ['""', ['']],
    ["''", ['']],
    ['"a"\t"b"', ['a', 'b']],
    ['"a"\v"b"', ['a', 'b']],
    ['a\vb', ['a\vb']],
    ['a\rb\nc', ['a', 'b', 'c']],
    ['a\0b', ['a\0b']],
    ['"a\\', undefined],
    ['"', undefined],
    ["'", undefined],
    ['"a"b', undefined],
    ["'a'b", undefined],
    ['a"b', undefined],
  ];
  for (const [line, expected] of cases) {
    it(`${JSON.stringify(line)} -> ${JSON.stringify(expected)}`, () => {
      const argv = splitInlineArguments(bytes(line));
      assert.deepEqual(
        argv?.map((argument) => argument.toString('latin1')),
        expected,
      );
    });
  }
});

describe('parseRedisInteger (Redis string2ll)', () => {
  it('accepts only the canonical decimal form of a 64-bit integer', () => {
    const good: [string, number][] = [
      ['0', 0],
      ['7', 7],
      ['-7', -7],
      ['1048576', 1_048_576],
      ['9007199254740991', 2 ** 53 - 1],
      ['-99999999999999', -99_999_999_999_999],
      ['9223372036854775807', 2 ** 63],
      ['-9223372036854775808', -(2 ** 63)],
    ];
    for (const [text, value] of good) assert.equal(parseRedisInteger(bytes(text)), value, text);
    for (const text of ['', '-', '+1', '01', '-0', '00', ' 1', '1 ', '1e3', '0x10', '9223372036854775808']) {
      assert.equal(parseRedisInteger(bytes(text)), undefined, JSON.stringify(text));
    }
    assert.equal(parseRedisInteger(bytes('-9223372036854775809')), undefined);
    assert.equal(parseRedisInteger(bytes('1'.repeat(21))), undefined);
    assert.equal(parseRedisInteger(bytes('$123\r'), 1, 4), 123, 'a range of a larger buffer');
  });
});

// ---------------------------------------------------------------------------------------------
// Limits

describe('RespRequestParser: limits, just under and just over', () => {
  it(`inline line: ${respInlineBytesMax} bytes pass, one more is too big`, () => {
    const under = 'a'.repeat(respInlineBytesMax);
    assert.deepEqual(parseText(`${under}\r\n`), [command(under)]);
    assert.deepEqual(parseText(`${under}\n`), [command(under)]);
    assert.deepEqual(parseText(`${under}a\r\n`), [fatal(respProtocolErrors.tooBigInlineRequest)]);
    assert.deepEqual(parseText(`${under}a\n`), [fatal(respProtocolErrors.tooBigInlineRequest)]);
    // Refused as soon as the line is over, before its end arrives, and nothing is kept.
    const parser = new RespRequestParser();
    assert.deepEqual(parser.push(bytes(under)), []);
    assert.deepEqual(parser.push(bytes('\r')), [], 'a CR may still end the line');
    assert.deepEqual(show(parser.push(bytes('a'))), [fatal(respProtocolErrors.tooBigInlineRequest)]);
    assert.equal(parser.bufferedBytes, 0);
    const big = new RespRequestParser();
    assert.deepEqual(show(big.push(Buffer.alloc(4 * respInlineBytesMax, 0x61))), [
      fatal(respProtocolErrors.tooBigInlineRequest),
    ]);
    assert.equal(big.bufferedBytes, 0);
  });

  it(`count line: ${respHeaderLineBytesMax} bytes wait for more, one more is too big`, () => {
    const under = `*${'1'.repeat(respHeaderLineBytesMax - 1)}`;
    const parser = new RespRequestParser();
    assert.deepEqual(parser.push(bytes(under)), []);
    assert.equal(parser.bufferedBytes, respHeaderLineBytesMax);
    assert.deepEqual(show(parser.push(bytes('1'))), [fatal(respProtocolErrors.tooBigMbulkCountString)]);
    assert.equal(parser.bufferedBytes, 0);
    assert.deepEqual(parseText(`${under}\r\n`), [fatal(respProtocolErrors.invalidMultibulkLength)]);
    assert.deepEqual(parseText(`${under}1\r\n`), [fatal(respProtocolErrors.tooBigMbulkCountString)]);
  });

  it(`bulk header line: ${respHeaderLineBytesMax} bytes wait for more, one more is too big`, () => {
    const under = `*1\r\n$${'1'.repeat(respHeaderLineBytesMax - 1)}`;
    const parser = new RespRequestParser();
    assert.deepEqual(parser.push(bytes(under)), []);
    assert.deepEqual(show(parser.push(bytes('1'))), [fatal(respProtocolErrors.tooBigBulkCountString)]);
    assert.equal(parser.bufferedBytes, 0);
    assert.deepEqual(parseText(`${under}\r\n`), [fatal(respProtocolErrors.invalidBulkLength)]);
    assert.deepEqual(parseText(`*1\r\nx${'1'.repeat(respHeaderLineBytesMax)}`), [
      fatal(respProtocolErrors.tooBigBulkCountString),
    ]);
  });

  it(`argument count: ${respArgumentsMax} passes, one more is invalid`, () => {
    const parser = new RespRequestParser();
    assert.deepEqual(parser.push(bytes(`*${respArgumentsMax}\r\n$1\r\na\r\n`)), []);
    assert.ok(parser.inRequest);
    assert.equal(parser.bufferedBytes, 1);
    assert.deepEqual(parseText(`*${respArgumentsMax + 1}\r\n`), [fatal(respProtocolErrors.invalidMultibulkLength)]);
  });

  it(`bulk length: ${respBulkBytesMax} is accepted and nothing is reserved for it; one more is refused`, () => {
    const parser = new RespRequestParser();
    assert.deepEqual(parser.push(bytes(`*1\r\n$${respBulkBytesMax}\r\n`)), []);
    assert.equal(parser.bufferedBytes, 0);
    assert.deepEqual(parser.push(Buffer.alloc(1000, 0x62)), []);
    assert.equal(parser.bufferedBytes, 1000, 'only the bytes that arrived are held');

    const hostile = new RespRequestParser();
    const header = bytes(`*1\r\n$${respBulkBytesMax + 1}\r\n`);
    const payload = Buffer.alloc(1 << 20, 0x62);
    assert.deepEqual(show(hostile.push(Buffer.concat([header, payload]))), [
      fatal(respProtocolErrors.invalidBulkLength),
    ]);
    assert.equal(hostile.bufferedBytes, 0);
    assert.deepEqual(hostile.push(payload), []);
    assert.equal(hostile.bufferedBytes, 0);
  });

  it('bulk length with a configured limit', () => {
    const limits = { bulkBytesMax: 10 };
    assert.deepEqual(parseText('*1\r\n$10\r\n0123456789\r\n', limits), [command('0123456789')]);
    assert.deepEqual(parseText('*1\r\n$11\r\n', limits), [fatal(respProtocolErrors.invalidBulkLength)]);
  });

  it('request bytes: charged wire bytes plus an overhead per argument, refused at the header', () => {
    const argv = ['SET', 'key', 'x'.repeat(40)];
    const wire = encodeCommand(argv);
    const charged = wire.length + argv.length * respArgumentOverheadBytes;
    const limits = { bulkBytesMax: 64, requestBytesMax: charged };
    assert.deepEqual(parse([wire], limits), [command(...argv)]);
    const over = { ...limits, requestBytesMax: charged - 1 };
    const parser = new RespRequestParser(over);
    const lastHeader = wire.indexOf('$40');
    assert.deepEqual(parser.push(wire.subarray(0, lastHeader)), []);
    assert.deepEqual(show(parser.push(wire.subarray(lastHeader, lastHeader + 5))), [
      fatal(respProtocolErrors.tooBigMultibulkRequest),
    ]);
    assert.equal(parser.bufferedBytes, 0);
  });

  it('rejects inconsistent limits', () => {
    assert.throws(() => new RespRequestParser({ bulkBytesMax: 0 }), AssertionError);
    assert.throws(() => new RespRequestParser({ headerLineBytesMax: 8 }), AssertionError);
    assert.throws(() => new RespRequestParser({ bulkBytesMax: 100, requestBytesMax: 100 }), AssertionError);
  });
});

// ---------------------------------------------------------------------------------------------
// Every split point

describe('RespRequestParser: every split point gives the same events', () => {
  it('a mixed pipeline (multibulk, inline, blank lines, empty multibulk, binary bulks)', () => {
    const pipeline = Buffer.concat([
      encodeCommand(['SET', 'k', bytes('v\r\n')]),
      bytes('PING\r\n\r\nECHO "a b" \'c\'\n*0\r\n'),
      encodeCommand(['', '\0']),
      bytes('GET k\n'),
    ]);
    assertEverySplit(pipeline, [
      command('SET', 'k', 'v\r\n'),
      command('PING'),
      command('ECHO', 'a b', 'c'),
      command('', '\0'),
      command('GET', 'k'),
    ]);
  });

  it('a pipeline that ends in a protocol error', () => {
    assertEverySplit(bytes('PING\r\n*2\r\n$3\r\nGET\r\n$-5\r\nPING\r\n'), [
      command('PING'),
      fatal(respProtocolErrors.invalidBulkLength),
    ]);
    assertEverySplit(bytes('*1\r\n$1\r\nx\r\nGET "k\r\nPING\r\n'), [
      command('x'),
      fatal(respProtocolErrors.unbalancedQuotes),
    ]);
  });

  it('lines at their limits, just under and just over', () => {
    const limits = { inlineBytesMax: 8, headerLineBytesMax: 24 };
    assertEverySplit(bytes('12345678\r\n1234 678\n'), [command('12345678'), command('1234', '678')], limits);
    assertEverySplit(
      bytes('PING\r\n123456789\r\n'),
      [command('PING'), fatal(respProtocolErrors.tooBigInlineRequest)],
      limits,
    );
    assertEverySplit(bytes('123456789\n'), [fatal(respProtocolErrors.tooBigInlineRequest)], limits);
    const count = `*${'0'.repeat(23)}`;
    assertEverySplit(bytes(`${count}\r\n`), [fatal(respProtocolErrors.invalidMultibulkLength)], limits);
    assertEverySplit(bytes(`${count}0\r\n`), [fatal(respProtocolErrors.tooBigMbulkCountString)], limits);
    const length = `$${'0'.repeat(23)}`;
    assertEverySplit(bytes(`*1\r\n${length}\r\n`), [fatal(respProtocolErrors.invalidBulkLength)], limits);
    assertEverySplit(bytes(`*1\r\n${length}0\r\n`), [fatal(respProtocolErrors.tooBigBulkCountString)], limits);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

/** Quotes an argument for an inline request with "..." and \xHH escapes, as redis-cli might. */
function quoteInline(argument: Uint8Array): string {
  return `"${Array.from(argument, (byte) => `\\x${byte.toString(16).padStart(2, '0')}`).join('')}"`;
}

const argvArbitrary = fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 6 });
const requestArbitrary = fc.record({ argv: argvArbitrary, inline: fc.boolean() });
const cutsArbitrary = fc.array(fc.nat(), { maxLength: 12 });
const smallLimits: Partial<RespRequestLimits> = {
  bulkBytesMax: 16,
  argumentsMax: 4,
  inlineBytesMax: 24,
  headerLineBytesMax: 24,
  requestBytesMax: 300,
};

/** Bytes that reach the parser's deeper states more often than uniform noise does. */
const respishByte = fc.constantFrom(...Array.from('*$\r\n0123456789-"\'\\x a\t', (c) => c.charCodeAt(0)), 0x00, 0xff);
/** Pieces of requests, glued at random: reaches bulk headers and bodies far more often than noise. */
const fragment = fc.oneof(
  fc
    .constantFrom(
      ...['*1\r\n', '*2\r\n', '*0\r\n', '*-1\r\n', '*5\r\n', '$0\r\n', '$1\r\n', '$3\r\n', '$16\r\n', '$17\r\n'],
      ...['$-1\r\n', '\r\n', '\n', '\r', 'abc', 'PING', '"', "'", '\\', '\\x4', ' ', '*', '$', '0', '9'],
    )
    .map(bytes),
  fc.uint8Array({ maxLength: 4 }),
);
const garbageArbitrary = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.array(respishByte, { maxLength: 200 }).map((values) => Uint8Array.from(values)),
  fc.array(fragment, { maxLength: 40 }).map((parts) => Uint8Array.from(Buffer.concat(parts))),
);

/** Parses in the given chunks, checking the event stream's shape and the held bytes' bound. */
function parseChecked(chunks: readonly Uint8Array[], limits?: Partial<RespRequestLimits>): Shown[] {
  const parser = new RespRequestParser(limits);
  const events: RespRequestEvent[] = [];
  let pushed = 0;
  for (const chunk of chunks) {
    events.push(...parser.push(chunk));
    pushed += chunk.length;
    assert.ok(parser.bufferedBytes <= pushed, 'the parser holds no more than it was given');
  }
  const fatalAt = events.findIndex((event) => event.kind === 'fatal');
  assert.ok(fatalAt === -1 || fatalAt === events.length - 1, 'a fatal event is the last one');
  assert.equal(parser.failed, fatalAt !== -1);
  for (const event of events) {
    if (event.kind === 'command') assert.ok(event.argv.length > 0, 'a command has arguments');
  }
  return show(events);
}

describe('RespRequestParser: properties', () => {
  it('encoded commands, multibulk or inline, parse back to the same argv at any chunking', () => {
    fc.assert(
      fc.property(fc.array(requestArbitrary, { minLength: 1, maxLength: 8 }), cutsArbitrary, (requests, cuts) => {
        const wire = Buffer.concat(
          requests.map(({ argv, inline }) =>
            inline ? bytes(`${argv.map(quoteInline).join(' ')}\r\n`) : encodeCommand(argv),
          ),
        );
        const offsets = cuts.map((c) => c % (wire.length + 1));
        const expected = requests.map(({ argv }) => command(...argv.map((a) => Buffer.from(a).toString('latin1'))));
        assert.deepEqual(parseChecked(cut(wire, offsets)), expected);
      }),
      { numRuns: 300 },
    );
  });

  it('a RESP2 array of bulk strings is a request that parses back to its items', () => {
    fc.assert(
      fc.property(argvArbitrary, (argv) => {
        const wire = encodeReply(arrayReply(argv.map(bulkReply)), 2);
        assert.deepEqual(parseChecked([wire]), [command(...argv.map((a) => Buffer.from(a).toString('latin1')))]);
      }),
      { numRuns: 100 },
    );
  });

  it('garbage never throws, and gives the same events however it is cut', () => {
    fc.assert(
      fc.property(garbageArbitrary, cutsArbitrary, fc.boolean(), (garbage, cuts, small) => {
        const limits = small ? smallLimits : undefined;
        const whole = parseChecked([garbage], limits);
        const offsets = cuts.map((c) => c % (garbage.length + 1));
        assert.deepEqual(parseChecked(cut(garbage, offsets), limits), whole);
      }),
      { numRuns: 500 },
    );
  });

  it('mutated valid pipelines never throw, and give the same events however they are cut', () => {
    const mutation = fc.record({
      at: fc.nat(),
      kind: fc.constantFrom('flip', 'insert', 'delete'),
      byte: fc.oneof(respishByte, fc.integer({ min: 0, max: 255 })),
    });
    fc.assert(
      fc.property(
        fc.array(requestArbitrary, { minLength: 1, maxLength: 5 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        cutsArbitrary,
        fc.boolean(),
        (requests, mutations, cuts, small) => {
          const wire = Array.from(
            Buffer.concat(
              requests.map(({ argv, inline }) =>
                inline ? bytes(`${argv.map(quoteInline).join(' ')}\n`) : encodeCommand(argv),
              ),
            ),
          );
          for (const { at, kind, byte } of mutations) {
            const index = at % (wire.length + 1);
            if (kind === 'insert') wire.splice(index, 0, byte);
            else if (index < wire.length && kind === 'delete') wire.splice(index, 1);
            else if (index < wire.length) wire[index] = byte;
          }
          const mutated = Uint8Array.from(wire);
          const limits = small ? smallLimits : undefined;
          const whole = parseChecked([mutated], limits);
          const offsets = cuts.map((c) => c % (mutated.length + 1));
          assert.deepEqual(parseChecked(cut(mutated, offsets), limits), whole);
        },
      ),
      { numRuns: 500 },
    );
  });
});
