// The memcached text codec, against memcached's own behaviour (doc/protocol.txt, proto_text.c,
// memcached.c): golden reply bytes, every command and error from every split point of a
// pipeline, every limit just under and just over, oversized data blocks skipped without being
// buffered, and fast-check properties (serialised requests parse back; garbage and mutated
// streams never throw and parse the same however they are cut).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  memcachedGetLineBytesMax,
  memcachedItemBytesMaxDefault,
  memcachedKeyBytesMax,
  memcachedLineBytesMax,
} from '../../src/core/limits.js';
import { AssertionError } from '../../src/core/assert.js';
import {
  encodeCatenaError,
  encodeClientError,
  encodeNumber,
  encodeRetrieval,
  encodeServerError,
  encodeStats,
  encodeValue,
  encodeVersion,
  errorReplies,
  MemcachedParser,
  replies,
  type MemcachedCommand,
  type MemcachedErrorCode,
  type MemcachedEvent,
  type MemcachedParserOptions,
  type MemcachedRequest,
  type StorageCommand,
} from '../../src/protocol/memcached/codec.js';
import { cut } from '../helpers/chunks.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const text = (value: Uint8Array): string => Buffer.from(value).toString('latin1');
const u64Max = (1n << 64n) - 1n;

const request = (value: MemcachedRequest): MemcachedEvent => ({ kind: 'request', request: value });
function error(
  code: MemcachedErrorCode,
  options: { noreply?: boolean; command?: MemcachedCommand; invalidateKey?: Buffer } = {},
): MemcachedEvent {
  const { noreply = false, command, invalidateKey } = options;
  return { kind: 'error', code, reply: errorReplies[code], noreply, command, invalidateKey };
}
const fatal: MemcachedEvent = { kind: 'fatal', code: 'line-too-long', reply: errorReplies['line-too-long'] };

function parseChunks(chunks: readonly Uint8Array[], options?: MemcachedParserOptions): MemcachedEvent[] {
  const parser = new MemcachedParser(options);
  return chunks.flatMap((chunk) => parser.push(chunk));
}

describe('memcached replies (golden bytes)', () => {
  it('writes every fixed reply line exactly', () => {
    const expected: Record<keyof typeof replies, string> = {
      stored: 'STORED\r\n',
      notStored: 'NOT_STORED\r\n',
      exists: 'EXISTS\r\n',
      notFound: 'NOT_FOUND\r\n',
      deleted: 'DELETED\r\n',
      touched: 'TOUCHED\r\n',
      ok: 'OK\r\n',
      end: 'END\r\n',
      reset: 'RESET\r\n',
      error: 'ERROR\r\n',
      nonNumeric: 'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n',
    };
    assert.deepEqual(Object.fromEntries(Object.entries(replies).map(([name, reply]) => [name, text(reply)])), expected);
  });

  it('writes every parse error line exactly', () => {
    assert.deepEqual(Object.fromEntries(Object.entries(errorReplies).map(([code, reply]) => [code, text(reply)])), {
      'unknown-command': 'ERROR\r\n',
      'bad-command-line': 'CLIENT_ERROR bad command line format\r\n',
      'bad-delete-format': 'CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n',
      'invalid-exptime': 'CLIENT_ERROR invalid exptime argument\r\n',
      'invalid-delta': 'CLIENT_ERROR invalid numeric delta argument\r\n',
      'bad-data-chunk': 'CLIENT_ERROR bad data chunk\r\n',
      'object-too-large': 'SERVER_ERROR object too large for cache\r\n',
      'line-too-long': 'CLIENT_ERROR line too long\r\n',
    });
  });

  it('writes VALUE blocks, with a cas unique only when given', () => {
    assert.equal(text(encodeValue({ key: bytes('foo'), flags: 5, data: bytes('bar') })), 'VALUE foo 5 3\r\nbar\r\n');
    assert.equal(
      text(encodeValue({ key: bytes('k'), flags: 4294967295, data: bytes('a\r\nb'), cas: u64Max })),
      'VALUE k 4294967295 4 18446744073709551615\r\na\r\nb\r\n',
    );
    assert.equal(
      text(encodeValue({ key: bytes('e'), flags: 0, data: Buffer.alloc(0), cas: 0n })),
      'VALUE e 0 0 0\r\n\r\n',
    );
    const key = Buffer.from([0xc3, 0xa9, 0x21]);
    const data = Buffer.from([0, 1, 0xff]);
    assert.deepEqual(
      encodeValue({ key, flags: 1, data }),
      Buffer.concat([bytes('VALUE '), key, bytes(' 1 3\r\n'), data, bytes('\r\n')]),
    );
  });

  it('ends a retrieval reply with END, found items or not', () => {
    assert.equal(text(encodeRetrieval([])), 'END\r\n');
    const items = [
      { key: bytes('a'), flags: 0, data: bytes('1'), cas: 7n },
      { key: bytes('b'), flags: 2, data: bytes('22'), cas: 8n },
    ];
    assert.equal(text(encodeRetrieval(items)), 'VALUE a 0 1 7\r\n1\r\nVALUE b 2 2 8\r\n22\r\nEND\r\n');
  });

  it('writes numbers, versions, stats and error lines', () => {
    assert.equal(text(encodeNumber(0n)), '0\r\n');
    assert.equal(text(encodeNumber(u64Max)), '18446744073709551615\r\n');
    assert.equal(text(encodeVersion('1.6.21')), 'VERSION 1.6.21\r\n');
    assert.equal(text(encodeStats([])), 'END\r\n');
    assert.equal(
      text(
        encodeStats([
          ['pid', 42],
          ['version', 'catena 0.1.0'],
          ['bytes_read', 12n],
          ['rusage_user', '0.1:2'],
        ]),
      ),
      'STAT pid 42\r\nSTAT version catena 0.1.0\r\nSTAT bytes_read 12\r\nSTAT rusage_user 0.1:2\r\nEND\r\n',
    );
    assert.equal(text(encodeClientError('bad data chunk')), 'CLIENT_ERROR bad data chunk\r\n');
    assert.equal(
      text(encodeServerError('out of memory storing object')),
      'SERVER_ERROR out of memory storing object\r\n',
    );
  });

  it('maps Catena error codes into memcached error lines', () => {
    assert.equal(text(encodeCatenaError('ERR_KEY_TOO_LARGE')), 'CLIENT_ERROR bad command line format\r\n');
    assert.equal(text(encodeCatenaError('ERR_VALUE_TOO_LARGE')), 'SERVER_ERROR object too large for cache\r\n');
    assert.equal(
      text(encodeCatenaError('ERR_NOT_AN_INTEGER')),
      'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n',
    );
    assert.equal(text(encodeCatenaError('ERR_UNKNOWN_COMMAND')), 'ERROR\r\n');
    assert.equal(text(encodeCatenaError('ERR_STORAGE')), 'SERVER_ERROR storage failure\r\n');
  });

  it('refuses to write what a client could not parse back', () => {
    const bad = [
      () => encodeValue({ key: bytes('a b'), flags: 0, data: bytes('') }),
      () => encodeValue({ key: bytes(''), flags: 0, data: bytes('') }),
      () => encodeValue({ key: bytes('k'.repeat(memcachedKeyBytesMax + 1)), flags: 0, data: bytes('') }),
      () => encodeValue({ key: bytes('k'), flags: 2 ** 32, data: bytes('') }),
      () => encodeValue({ key: bytes('k'), flags: 0, data: bytes(''), cas: -1n }),
      () => encodeNumber(-1n),
      () => encodeNumber(u64Max + 1n),
      () => encodeVersion('1\r\n'),
      () => encodeStats([['two words', 1]]),
      () => encodeStats([['name', 'a\nb']]),
      () => encodeClientError('x\r\nSTORED'),
    ];
    for (const write of bad) assert.throws(write, AssertionError);
  });
});

const k = bytes;
const key250 = 'k'.repeat(memcachedKeyBytesMax);
const key251 = 'k'.repeat(memcachedKeyBytesMax + 1);

/** Each case: wire bytes and the events they give. None closes the connection. */
const cases: ReadonlyArray<readonly [label: string, wire: string, events: MemcachedEvent[]]> = [
  ['get one key', 'get foo\r\n', [request({ command: 'get', keys: [k('foo')] })]],
  ['gets, extra spaces', 'gets  a b   c \r\n', [request({ command: 'gets', keys: [k('a'), k('b'), k('c')] })]],
  ['a bare \\n ends a line', 'get a\n', [request({ command: 'get', keys: [k('a')] })]],
  ['get, longest key', `get ${key250}\r\n`, [request({ command: 'get', keys: [k(key250)] })]],
  [
    'control characters are part of a key, as in memcached (memaslap sends them)',
    'get \x10\x10ab\tc\x7f\r\n',
    [request({ command: 'get', keys: [k('\x10\x10ab\tc\x7f')] })],
  ],
  ['gat', 'gat 100 a b\r\n', [request({ command: 'gat', exptime: 100, keys: [k('a'), k('b')] })]],
  ['gats, negative exptime', 'gats -1 a\r\n', [request({ command: 'gats', exptime: -1, keys: [k('a')] })]],
  ['gat, no keys', 'gat 10\r\n', [request({ command: 'gat', exptime: 10, keys: [] })]],
  ['set', 'set k 5 0 3\r\nabc\r\n', [storage('set', { flags: 5, data: 'abc' })]],
  ['add noreply', 'add k 0 7 1 noreply\r\nx\r\n', [storage('add', { exptime: 7, data: 'x', noreply: true })]],
  ['replace', 'replace k 1 2 2\r\nyz\r\n', [storage('replace', { flags: 1, exptime: 2, data: 'yz' })]],
  ['append', 'append k 0 0 1\r\n+\r\n', [storage('append', { data: '+' })]],
  ['prepend noreply', 'prepend k 0 0 1 noreply\r\n-\r\n', [storage('prepend', { data: '-', noreply: true })]],
  ['cas', 'cas k 1 2 3 99\r\nxyz\r\n', [cas({ flags: 1, exptime: 2, data: 'xyz', casUnique: 99n })]],
  ['cas noreply', `cas k 0 0 0 ${u64Max} noreply\r\n\r\n`, [cas({ data: '', casUnique: u64Max, noreply: true })]],
  ['data holding \\r\\n', 'set k 0 0 10\r\n\r\na\r\nb\r\n\r\n\r\n', [storage('set', { data: '\r\na\r\nb\r\n\r\n' })]],
  ['empty data', 'set k 0 0 0\r\n\r\n', [storage('set', { data: '' })]],
  ['surplus token ignored', 'set k 0 0 1 extra\r\na\r\n', [storage('set', { data: 'a' })]],
  [
    'exptime range',
    'set k 4294967295 -2147483648 1\r\na\r\n',
    [storage('set', { flags: 2 ** 32 - 1, exptime: -(2 ** 31), data: 'a' })],
  ],
  ['delete', 'delete k\r\n', [request({ command: 'delete', key: k('k'), noreply: false })]],
  ['delete noreply', 'delete k noreply\r\n', [request({ command: 'delete', key: k('k'), noreply: true })]],
  ['delete, legacy 0', 'delete k 0\r\n', [request({ command: 'delete', key: k('k'), noreply: false })]],
  ['delete, 0 noreply', 'delete k 0 noreply\r\n', [request({ command: 'delete', key: k('k'), noreply: true })]],
  ['incr', 'incr n 1\r\n', [request({ command: 'incr', key: k('n'), delta: 1n, noreply: false })]],
  [
    'decr, largest',
    `decr n ${u64Max} noreply\r\n`,
    [request({ command: 'decr', key: k('n'), delta: u64Max, noreply: true })],
  ],
  ['incr, surplus token', 'incr n 2 x\r\n', [request({ command: 'incr', key: k('n'), delta: 2n, noreply: false })]],
  ['touch', 'touch k 10\r\n', [request({ command: 'touch', key: k('k'), exptime: 10, noreply: false })]],
  [
    'touch noreply',
    'touch k 2147483647 noreply\r\n',
    [request({ command: 'touch', key: k('k'), exptime: 2 ** 31 - 1, noreply: true })],
  ],
  ['flush_all', 'flush_all\r\n', [request({ command: 'flush_all', exptime: 0, noreply: false })]],
  ['flush_all delay', 'flush_all 10\r\n', [request({ command: 'flush_all', exptime: 10, noreply: false })]],
  ['flush_all noreply', 'flush_all noreply\r\n', [request({ command: 'flush_all', exptime: 0, noreply: true })]],
  ['flush_all 0 noreply', 'flush_all 0 noreply\r\n', [request({ command: 'flush_all', exptime: 0, noreply: true })]],
  ['flush_all, surplus', 'flush_all 5 6\r\n', [request({ command: 'flush_all', exptime: 5, noreply: false })]],
  ['stats', 'stats\r\n', [request({ command: 'stats', args: [] })]],
  ['stats args', 'stats detail dump\r\n', [request({ command: 'stats', args: ['detail', 'dump'] })]],
  ['version', 'version\r\n', [request({ command: 'version' })]],
  ['verbosity', 'verbosity 1\r\n', [request({ command: 'verbosity', level: 1, noreply: false })]],
  ['verbosity noreply', 'verbosity 2 noreply\r\n', [request({ command: 'verbosity', level: 2, noreply: true })]],
  // errors, and how the stream gets back in step after each
  ['empty line', '\r\n', [error('unknown-command')]],
  ['unknown command', 'foo bar\r\n', [error('unknown-command')]],
  ['names are case-sensitive', 'GET a\r\n', [error('unknown-command')]],
  ['get without keys', 'get\r\n', [error('unknown-command')]],
  ['too few storage tokens', 'set k 0 0\r\n', [error('unknown-command')]],
  ['too many storage tokens', 'set k 0 0 1 noreply x\r\n', [error('unknown-command')]],
  ['too many delete tokens', 'delete a 0 noreply x\r\n', [error('unknown-command')]],
  ['key too long (get)', `get a ${key251}\r\n`, [error('bad-command-line', { command: 'get' })]],
  [
    'bad flags: data read as a command',
    'set k x 0 1\r\nget a\r\n',
    [error('bad-command-line', { command: 'set' }), request({ command: 'get', keys: [k('a')] })],
  ],
  ['negative bytes', 'set k 0 0 -1\r\n', [error('bad-command-line', { command: 'set' })]],
  ['flags over u32', 'set k 4294967296 0 1\r\n', [error('bad-command-line', { command: 'set' })]],
  ['exptime over i32', 'set k 0 2147483648 1\r\n', [error('bad-command-line', { command: 'set' })]],
  ['exptime under i32', 'set k 0 -2147483649 1\r\n', [error('bad-command-line', { command: 'set' })]],
  ['key too long (set)', `set ${key251} 0 0 1\r\n`, [error('bad-command-line', { command: 'set' })]],
  [
    'noreply silences errors',
    'set k 0 0 x noreply\r\n',
    [error('bad-command-line', { noreply: true, command: 'set' })],
  ],
  ['bad cas unique', `cas k 0 0 1 ${u64Max + 1n}\r\n`, [error('bad-command-line', { command: 'cas' })]],
  [
    'bad data chunk',
    'set k 0 0 3\r\nabcde\r\n',
    [error('bad-data-chunk', { command: 'set' }), error('unknown-command')],
  ],
  [
    'bad data chunk, noreply',
    'cas k 0 0 1 1 noreply\r\nab\r\n',
    [error('bad-data-chunk', { noreply: true, command: 'cas' }), error('unknown-command')],
  ],
  ['delete with a hold time', 'delete k 1\r\n', [error('bad-delete-format', { command: 'delete' })]],
  ['delete 1 noreply', 'delete k 1 noreply\r\n', [error('bad-delete-format', { noreply: true, command: 'delete' })]],
  ['delete 0 0', 'delete k 0 0\r\n', [error('bad-delete-format', { command: 'delete' })]],
  ['delete, key too long', `delete ${key251}\r\n`, [error('bad-command-line', { command: 'delete' })]],
  ['incr, bad delta', 'incr k x\r\n', [error('invalid-delta', { command: 'incr' })]],
  ['decr, negative delta', 'decr k -1\r\n', [error('invalid-delta', { command: 'decr' })]],
  ['incr, delta over u64', `incr k ${u64Max + 1n}\r\n`, [error('invalid-delta', { command: 'incr' })]],
  ['incr noreply without delta', 'incr k noreply\r\n', [error('invalid-delta', { noreply: true, command: 'incr' })]],
  ['incr, key too long', `incr ${key251} 1\r\n`, [error('bad-command-line', { command: 'incr' })]],
  ['touch, bad exptime', 'touch k x\r\n', [error('invalid-exptime', { command: 'touch' })]],
  [
    'touch, key too long',
    `touch ${key251} 1 noreply\r\n`,
    [error('bad-command-line', { noreply: true, command: 'touch' })],
  ],
  ['gat, bad exptime', 'gat x a\r\n', [error('invalid-exptime', { command: 'gat' })]],
  ['flush_all, bad delay', 'flush_all x\r\n', [error('invalid-exptime', { command: 'flush_all' })]],
  [
    'flush_all, bad delay noreply',
    'flush_all x noreply\r\n',
    [error('invalid-exptime', { noreply: true, command: 'flush_all' })],
  ],
  ['verbosity, bad level', 'verbosity x\r\n', [error('bad-command-line', { command: 'verbosity' })]],
];

function storage(
  command: StorageCommand,
  fields: { flags?: number; exptime?: number; data: string; noreply?: boolean },
): MemcachedEvent {
  const { flags = 0, exptime = 0, data, noreply = false } = fields;
  return request({ command, key: k('k'), flags, exptime, data: k(data), noreply });
}

function cas(fields: { flags?: number; exptime?: number; data: string; casUnique: bigint; noreply?: boolean }) {
  const { flags = 0, exptime = 0, data, casUnique, noreply = false } = fields;
  return request({ command: 'cas', key: k('k'), flags, exptime, data: k(data), casUnique, noreply });
}

describe('MemcachedParser', () => {
  for (const [label, wire, events] of cases) {
    it(`parses: ${label}`, () => {
      assert.deepEqual(parseChunks([bytes(wire)]), events);
    });
  }

  const pipeline = bytes(cases.map(([, wire]) => wire).join('') + 'quit\r\nget ignored\r\n');
  const expected = [...cases.flatMap(([, , events]) => events), request({ command: 'quit' })];

  it('parses the whole pipeline from every split point', () => {
    for (let offset = 0; offset <= pipeline.length; offset++) {
      const events = parseChunks([pipeline.subarray(0, offset), pipeline.subarray(offset)]);
      assert.deepEqual(events, expected, `split at ${offset}`);
    }
  });

  it('parses the whole pipeline fed one byte at a time', () => {
    const parser = new MemcachedParser();
    const events: MemcachedEvent[] = [];
    for (const byte of pipeline) events.push(...parser.push(Uint8Array.of(byte)));
    assert.deepEqual(events, expected);
    assert.equal(parser.closed, true);
  });

  it('reads noreply on every storage command, and ignores any other last token', () => {
    for (const command of ['set', 'add', 'replace', 'append', 'prepend', 'cas'] as const) {
      const casUnique = command === 'cas' ? ' 7' : '';
      for (const [suffix, noreply] of [
        ['', false],
        [' noreply', true],
        [' norepl', false],
      ] as const) {
        const [event, ...others] = parseChunks([bytes(`${command} k 1 2 3${casUnique}${suffix}\r\nabc\r\n`)]);
        assert.equal(others.length, 0);
        assert.ok(event?.kind === 'request' && event.request.command === command);
        assert.ok('noreply' in event.request && event.request.noreply === noreply, `${command}${suffix}`);
      }
    }
  });

  it('stops at quit: later input is ignored', () => {
    const parser = new MemcachedParser();
    assert.deepEqual(parser.push(bytes('quit extra\r\nget a\r\n')), [request({ command: 'quit' })]);
    assert.equal(parser.closed, true);
    assert.deepEqual(parser.push(bytes('get b\r\n')), []);
  });

  it('knows when a request is under way', () => {
    const parser = new MemcachedParser();
    assert.equal(parser.inRequest, false);
    parser.push(bytes('set k 0 0 5\r\nab'));
    assert.equal(parser.inRequest, true);
    assert.equal(parser.bufferedBytes, 2);
    assert.deepEqual(parser.push(bytes('cde\r\n')), [storage('set', { data: 'abcde' })]);
    assert.equal(parser.inRequest, false);
    assert.equal(parser.bufferedBytes, 0);
    parser.push(bytes('get'));
    assert.equal(parser.inRequest, true);
  });
});

describe('MemcachedParser limits', () => {
  const small = { itemBytesMax: 64 };

  it('takes a data block of exactly the item limit and refuses one byte more', () => {
    const at = 'a'.repeat(64);
    assert.deepEqual(parseChunks([bytes(`set k 0 0 64\r\n${at}\r\n`)], small), [storage('set', { data: at })]);
    const over = bytes(`set k 0 0 65\r\n${'a'.repeat(65)}\r\nget k\r\n`);
    assert.deepEqual(parseChunks([over], small), [
      error('object-too-large', { command: 'set', invalidateKey: k('k') }),
      request({ command: 'get', keys: [k('k')] }),
    ]);
  });

  it('uses memcached 1 MiB item limit by default', () => {
    assert.equal(memcachedItemBytesMaxDefault, 1024 * 1024);
    const parser = new MemcachedParser();
    assert.deepEqual(parser.push(bytes(`set k 0 0 ${memcachedItemBytesMaxDefault}\r\n`)), []);
    assert.deepEqual(new MemcachedParser().push(bytes(`add k 0 0 ${memcachedItemBytesMaxDefault + 1} noreply\r\n`)), [
      error('object-too-large', { noreply: true, command: 'add' }),
    ]);
  });

  it('skips an oversized block without buffering it, whatever its contents, and stays in step', () => {
    const declared = 10 * 1024 * 1024;
    const parser = new MemcachedParser();
    assert.deepEqual(parser.push(bytes(`set big 0 0 ${declared}\r\n`)), [
      error('object-too-large', { command: 'set', invalidateKey: k('big') }),
    ]);
    // Data that looks like commands is skipped too: memcached counts bytes, it does not read lines.
    const chunk = Buffer.alloc(64 * 1024, 'get x\r\n');
    let sent = 0;
    while (sent + chunk.length <= declared) {
      assert.deepEqual(parser.push(chunk), []);
      sent += chunk.length;
      assert.equal(parser.bufferedBytes, 0);
      assert.equal(parser.inRequest, true);
    }
    const rest = Buffer.concat([Buffer.alloc(declared - sent, 'x'), bytes('XY'), bytes('version\r\n')]);
    assert.deepEqual(parser.push(rest), [request({ command: 'version' })]);
    assert.equal(parser.inRequest, false);
  });

  it('buffers an accepted block only up to its declared size', () => {
    const parser = new MemcachedParser();
    const size = memcachedItemBytesMaxDefault;
    parser.push(bytes(`set k 0 0 ${size}\r\n`));
    const chunk = Buffer.alloc(64 * 1024, 'v');
    for (let sent = 0; sent < size; sent += chunk.length) {
      assert.deepEqual(parser.push(chunk), []);
      assert.ok(parser.bufferedBytes <= size + 2);
    }
    const events = parser.push(bytes('\r\n'));
    assert.equal(events.length, 1);
    const [event] = events;
    assert.ok(event?.kind === 'request' && event.request.command === 'set' && event.request.data.length === size);
    assert.equal(parser.bufferedBytes, 0);
  });

  it('takes a line of exactly the line limit and closes on one byte more', () => {
    const line = (length: number) => `stats ${'a'.repeat(length - 'stats '.length - 1)}\r`;
    const at = line(memcachedLineBytesMax);
    assert.equal(at.length, memcachedLineBytesMax);
    assert.deepEqual(parseChunks([bytes(`${at}\n`)]), [request({ command: 'stats', args: [at.slice(6, -1)] })]);
    assert.deepEqual(parseChunks([bytes(`${line(memcachedLineBytesMax + 1)}\nversion\r\n`)]), [fatal]);
  });

  it('closes as soon as a partial line passes the limit, holding no more than the limit', () => {
    const parser = new MemcachedParser();
    assert.deepEqual(parser.push(Buffer.alloc(memcachedLineBytesMax, 'a')), []);
    assert.equal(parser.bufferedBytes, memcachedLineBytesMax);
    assert.deepEqual(parser.push(bytes('a')), [fatal]);
    assert.equal(parser.closed, true);
    assert.equal(parser.bufferedBytes, 0);
    assert.deepEqual(parser.push(bytes('\r\nversion\r\n')), []);
    // One huge chunk without a newline is refused without being kept.
    const huge = new MemcachedParser();
    assert.deepEqual(huge.push(Buffer.alloc(1024 * 1024, 'a')), [fatal]);
    assert.equal(huge.bufferedBytes, 0);
  });

  it('lets get and gets lines grow to their own limit, after at most 100 leading spaces', () => {
    const keys = (length: number, prefix: string) => {
      const count = Math.floor((length - prefix.length) / 4);
      const body = Array.from({ length: count }, (_, i) => (i % 1000).toString().padStart(3, '0')).join(' ');
      return prefix + body + ' '.repeat(length - prefix.length - body.length);
    };
    const at = keys(memcachedGetLineBytesMax, 'get ');
    assert.equal(at.length, memcachedGetLineBytesMax);
    const [event, ...others] = parseChunks(cut(bytes(`${at}\n`), [100, 3000, 50_000]));
    assert.equal(others.length, 0);
    assert.ok(event?.kind === 'request' && event.request.command === 'get');
    assert.equal(event.request.keys.length, Math.floor((memcachedGetLineBytesMax - 4) / 4));
    assert.deepEqual(parseChunks([bytes(`${keys(memcachedGetLineBytesMax + 1, 'gets ')}\n`)]), [fatal]);
    const spaced = `${' '.repeat(100)}${keys(4000, 'gets ')}\r\n`;
    assert.equal(parseChunks([bytes(spaced)])[0]?.kind, 'request');
    assert.deepEqual(parseChunks([bytes(` ${spaced}`)]), [fatal]);
    // Fed one byte at a time, a longest get line costs no more per byte.
    const parser = new MemcachedParser();
    const whole = bytes(`${at}\n`);
    for (let i = 0; i < whole.length - 1; i++) assert.deepEqual(parser.push(whole.subarray(i, i + 1)), []);
    assert.equal(parser.bufferedBytes, memcachedGetLineBytesMax);
    assert.deepEqual(parser.push(bytes('\n')), [event]);
    // memcached keeps buffering only get and gets lines: a long gat line is closed.
    assert.deepEqual(parseChunks([bytes(`${keys(4000, 'gat 0 ')}\r\n`)]), [fatal]);
  });
});

// ---- properties

const keyByte = fc.integer({ min: 0x21, max: 0xff }).filter((byte) => byte !== 0x7f);
const keyArb = fc
  .oneof(
    { weight: 4, arbitrary: fc.array(keyByte, { minLength: 1, maxLength: 12 }) },
    { weight: 1, arbitrary: fc.array(keyByte, { minLength: 1, maxLength: memcachedKeyBytesMax }) },
  )
  .map((values) => Buffer.from(values));
const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const u64 = fc.bigInt({ min: 0n, max: u64Max });
const dataArb = fc
  .oneof(fc.uint8Array({ maxLength: 40 }), fc.constantFrom('\r\n', 'a\r\nb', '\r\n\r\n').map(bytes))
  .map((value) => Buffer.from(value));
const word = fc.stringMatching(/^[a-z_:0-9]{1,12}$/);

const requestArb: fc.Arbitrary<MemcachedRequest> = fc.oneof(
  fc.record({
    command: fc.constantFrom('get' as const, 'gets' as const),
    keys: fc.array(keyArb, { minLength: 1, maxLength: 4 }),
  }),
  fc.record({
    command: fc.constantFrom('gat' as const, 'gats' as const),
    exptime: i32,
    keys: fc.array(keyArb, { maxLength: 4 }),
  }),
  fc.record({
    command: fc.constantFrom<StorageCommand>('set', 'add', 'replace', 'append', 'prepend'),
    key: keyArb,
    flags: u32,
    exptime: i32,
    data: dataArb,
    noreply: fc.boolean(),
  }),
  fc.record({
    command: fc.constant('cas' as const),
    key: keyArb,
    flags: u32,
    exptime: i32,
    data: dataArb,
    casUnique: u64,
    noreply: fc.boolean(),
  }),
  fc.record({ command: fc.constant('delete' as const), key: keyArb, noreply: fc.boolean() }),
  fc.record({
    command: fc.constantFrom('incr' as const, 'decr' as const),
    key: keyArb,
    delta: u64,
    noreply: fc.boolean(),
  }),
  fc.record({ command: fc.constant('touch' as const), key: keyArb, exptime: i32, noreply: fc.boolean() }),
  fc.record({ command: fc.constant('flush_all' as const), exptime: i32, noreply: fc.boolean() }),
  fc.record({ command: fc.constant('stats' as const), args: fc.array(word, { maxLength: 4 }) }),
  fc.constant({ command: 'version' as const }),
  fc.record({ command: fc.constant('verbosity' as const), level: u32, noreply: fc.boolean() }),
);

/** Writes a request the way a client does; independent of the codec under test. */
function serialise(value: MemcachedRequest): Buffer {
  const noreply = 'noreply' in value && value.noreply ? ' noreply' : '';
  const words = (...parts: Array<string | Buffer>) =>
    Buffer.concat(parts.map((p) => (typeof p === 'string' ? bytes(p) : p)));
  const keyList = (keys: Buffer[]) => keys.flatMap((key) => [' ', key]);
  switch (value.command) {
    case 'get':
    case 'gets':
      return words(value.command, ...keyList(value.keys), '\r\n');
    case 'gat':
    case 'gats':
      return words(value.command, ` ${value.exptime}`, ...keyList(value.keys), '\r\n');
    case 'set':
    case 'add':
    case 'replace':
    case 'append':
    case 'prepend':
    case 'cas': {
      const casUnique = value.command === 'cas' ? ` ${value.casUnique}` : '';
      const header = ` ${value.flags} ${value.exptime} ${value.data.length}${casUnique}${noreply}\r\n`;
      return words(value.command, ' ', value.key, header, value.data, '\r\n');
    }
    case 'delete':
      return words('delete ', value.key, `${noreply}\r\n`);
    case 'incr':
    case 'decr':
      return words(value.command, ' ', value.key, ` ${value.delta}${noreply}\r\n`);
    case 'touch':
      return words('touch ', value.key, ` ${value.exptime}${noreply}\r\n`);
    case 'flush_all':
      // A zero delay is often left out; memcached reads both the same.
      return words(`flush_all${value.exptime === 0 ? '' : ` ${value.exptime}`}${noreply}\r\n`);
    case 'stats':
      return words(['stats', ...value.args].join(' '), '\r\n');
    case 'version':
    case 'quit':
      return words(`${value.command}\r\n`);
    case 'verbosity':
      return words(`verbosity ${value.level}${noreply}\r\n`);
  }
}

const offsetsArb = fc.array(fc.nat({ max: 4000 }), { maxLength: 8 });

describe('MemcachedParser properties', () => {
  it('parses back any serialised pipeline of valid requests, however it is cut', () => {
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 1, maxLength: 12 }), offsetsArb, (requests, offsets) => {
        const wire = Buffer.concat(requests.map(serialise));
        const events = parseChunks(cut(wire, offsets));
        // fast-check's records have no prototype; the parser's requests are plain objects.
        assert.deepEqual(
          events,
          requests.map((value) => request({ ...value })),
        );
      }),
      { numRuns: 300 },
    );
  });

  const options = { itemBytesMax: 200, lineBytesMax: 300, getLineBytesMax: 600 };
  // Pieces that reach every state: data blocks, oversized ones, long lines, long get lines.
  const interesting = fc.constantFrom(
    ...[' ', '\r', '\n', '\r\n', '0', '-', 'a', 'noreply', 'set k 0 0 3 ', 'cas k 0 0 250 1\r\n', 'get ']
      .concat(['x'.repeat(310), `get ${'k '.repeat(200)}`, 'delete k 0 ', 'incr k 18446744073709551616'])
      .map(bytes),
  );
  const garbageArb = fc
    .array(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }).map((v) => Buffer.from(v)),
        interesting,
      ),
      { maxLength: 40 },
    )
    .map((parts) => Buffer.concat(parts));

  /** Parses `wire` whole and cut, checking the parser's invariants after every push. */
  function checkStream(wire: Buffer, offsets: readonly number[]): void {
    const whole = parseChunks([wire], options);
    const parser = new MemcachedParser(options);
    const events: MemcachedEvent[] = [];
    for (const chunk of cut(wire, offsets)) {
      events.push(...parser.push(chunk));
      assert.ok(parser.bufferedBytes <= options.getLineBytesMax + options.itemBytesMax + 2);
    }
    assert.deepEqual(events, whole);
    for (const event of events) {
      if (event.kind === 'error') assert.equal(event.reply, errorReplies[event.code]);
      if (event.kind === 'request' && 'key' in event.request)
        assert.ok(event.request.key.length <= memcachedKeyBytesMax);
    }
    assert.ok(events.filter((event) => event.kind === 'fatal').length <= 1);
  }

  it('never throws on garbage, and parses it the same however it is cut', () => {
    fc.assert(fc.property(garbageArb, offsetsArb, checkStream), { numRuns: 400 });
  });

  it('never throws on mutated valid streams', () => {
    const mutation = fc.record({
      at: fc.nat(),
      kind: fc.constantFrom('replace', 'insert', 'delete'),
      with: interesting,
    });
    fc.assert(
      fc.property(
        fc.array(requestArb, { minLength: 1, maxLength: 8 }),
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        offsetsArb,
        (requests, mutations, offsets) => {
          let wire = Buffer.concat(requests.map(serialise));
          for (const change of mutations) {
            const at = change.at % (wire.length + 1);
            const skipped = change.kind === 'insert' ? 0 : Math.min(change.with.length, wire.length - at);
            const inserted = change.kind === 'delete' ? Buffer.alloc(0) : change.with;
            wire = Buffer.concat([wire.subarray(0, at), inserted, wire.subarray(at + skipped)]);
          }
          checkStream(wire, offsets);
        },
      ),
      { numRuns: 400 },
    );
  });
});
