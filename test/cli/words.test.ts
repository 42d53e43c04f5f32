// The CLI's pure parts: the shell's word splitter (quotes, escapes, binary safety), the JSON
// conversion behind --json, and the flag parser of the `catena` command.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseArgs, type FlagSpec } from '../../src/cli/args.js';
import { toJson } from '../../src/cli/output.js';
import { splitWords } from '../../src/cli/words.js';
import { showBytes } from '../../src/commands/arguments.js';
import { CatenaError } from '../../src/core/errors.js';

/** The words of a line that must split cleanly, as byte arrays (deepEqual-friendly). */
function words(line: string): number[][] {
  const result = splitWords(line);
  assert.ok(result.ok, `splitWords(${JSON.stringify(line)}) failed: ${result.ok ? '' : result.error}`);
  return result.words.map((word) => [...word]);
}

/** The words of a line as UTF-8 text. */
function textWords(line: string): string[] {
  const result = splitWords(line);
  assert.ok(result.ok, `splitWords(${JSON.stringify(line)}) failed: ${result.ok ? '' : result.error}`);
  return result.words.map((word) => word.toString('utf8'));
}

function splitError(line: string): string {
  const result = splitWords(line);
  assert.equal(result.ok, false, `splitWords(${JSON.stringify(line)}) should fail`);
  assert.ok(!result.ok);
  assert.equal(typeof result.error, 'string');
  assert.ok(result.error.length > 0);
  return result.error;
}

const bytesOf = (text: string): number[] => [...Buffer.from(text, 'utf8')];

/** Quotes bytes for the shell with \xHH for every byte. */
const hexQuoted = (bytes: Uint8Array): string =>
  `"${[...bytes].map((byte) => `\\x${byte.toString(16).padStart(2, '0')}`).join('')}"`;

describe('splitWords', () => {
  it('splits plain words on single spaces', () => {
    assert.deepEqual(textWords('put key value'), ['put', 'key', 'value']);
  });

  it('treats runs of spaces and tabs, leading and trailing, as one separator', () => {
    assert.deepEqual(textWords('  get\t\t  k1 \t v  '), ['get', 'k1', 'v']);
  });

  it('gives no words for an empty or blank line', () => {
    assert.deepEqual(textWords(''), []);
    assert.deepEqual(textWords(' \t  '), []);
  });

  it('keeps spaces and tabs inside double quotes', () => {
    assert.deepEqual(textWords('put "my key" "a\tvalue  with spaces"'), ['put', 'my key', 'a\tvalue  with spaces']);
  });

  it('decodes the escapes \\n \\r \\t \\0 \\" \\\\ \\\' inside double quotes', () => {
    assert.deepEqual(words(String.raw`"a\nb" "\r\t" "\0" "say \"hi\"" "back\\slash" "it\'s"`), [
      bytesOf('a\nb'),
      [13, 9],
      [0],
      bytesOf('say "hi"'),
      bytesOf('back\\slash'),
      bytesOf("it's"),
    ]);
  });

  it('decodes \\xHH to exactly that byte, including \\x00, \\x7f, \\x80 and \\xff', () => {
    assert.deepEqual(words(String.raw`"\x00" "\xff" "\x7F\x80" "a\x41b" "\xFf\xfF"`), [
      [0x00],
      [0xff],
      [0x7f, 0x80],
      [0x61, 0x41, 0x62],
      [0xff, 0xff],
    ]);
  });

  it('takes single quotes literally: no escapes, double quotes kept', () => {
    assert.deepEqual(textWords(String.raw`'a\nb' 'x\x41' 'he said "hi"' '  '`), [
      'a\\nb',
      'x\\x41',
      'he said "hi"',
      '  ',
    ]);
  });

  it('keeps a backslash outside quotes as a literal byte', () => {
    assert.deepEqual(textWords(String.raw`a\nb c\\d`), ['a\\nb', 'c\\\\d']);
  });

  it('joins adjacent quoted and unquoted parts into one word', () => {
    assert.deepEqual(textWords(`"a"'b'c`), ['abc']);
    assert.deepEqual(textWords(`x"y z"'w v'q next`), ['xy zw vq', 'next']);
    assert.deepEqual(words(String.raw`pre"\x00"'\x00'`), [[...bytesOf('pre'), 0, ...bytesOf('\\x00')]]);
  });

  it('makes "" and \'\' one empty word each, not nothing', () => {
    assert.deepEqual(words('""'), [[]]);
    assert.deepEqual(words("''"), [[]]);
    assert.deepEqual(textWords(`put "" ''`), ['put', '', '']);
    assert.deepEqual(textWords(`put k "" `), ['put', 'k', '']);
  });

  it('rejects unterminated quotes', () => {
    assert.match(splitError('put "abc'), /double quote/);
    assert.match(splitError(`put 'abc`), /single quote/);
    assert.match(splitError('"'), /double quote/);
    assert.match(splitError(`a"b'c`), /double quote/);
    assert.match(splitError(String.raw`"abc\"`), /double quote/);
  });

  it('rejects unknown escapes and malformed \\x', () => {
    assert.match(splitError(String.raw`"\q"`), /escape/);
    assert.match(splitError(String.raw`"\x4"`), /\\x/);
    assert.match(splitError(String.raw`"\xg0"`), /\\x/);
    assert.match(splitError(String.raw`"\x"`), /\\x/);
    splitError('"abc\\');
    splitError('"\\é"');
  });

  it('preserves UTF-8 text byte-exact, quoted or not', () => {
    const text = 'héllo wörld 日本語 🎉';
    assert.deepEqual(words(`put ${text}`), [bytesOf('put'), ...text.split(' ').map(bytesOf)]);
    assert.deepEqual(words(`"${text}"`), [bytesOf(text)]);
    assert.deepEqual(words(`'${text}'`), [bytesOf(text)]);
    assert.deepEqual(words(`"🎉\\x00🎉"`), [[...bytesOf('🎉'), 0, ...bytesOf('🎉')]]);
  });

  it('property: any bytes quoted with \\xHH split back to the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        assert.deepEqual(words(hexQuoted(bytes)), [[...bytes]]);
      }),
      { numRuns: 300 },
    );
  });

  it('property: several quoted byte strings on one line come back as the same words', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 16 }), { maxLength: 6 }), fc.boolean(), (list, tabs) => {
        const line = list.map(hexQuoted).join(tabs ? ' \t ' : ' ');
        assert.deepEqual(
          words(line),
          list.map((bytes) => [...bytes]),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('property: what the shell displays (showBytes) can be typed back as the same bytes', () => {
    const anyBytes = fc.oneof(
      fc.uint8Array({ maxLength: 32 }),
      fc.string({ unit: 'binary', maxLength: 16 }).map((text) => new Uint8Array(Buffer.from(text, 'utf8'))),
    );
    fc.assert(
      fc.property(anyBytes, (bytes) => {
        assert.deepEqual(words(showBytes(bytes)), [[...bytes]]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('toJson', () => {
  it('turns valid UTF-8 bytes into a string', () => {
    assert.equal(toJson(Buffer.from('héllo 🎉', 'utf8')), 'héllo 🎉');
    assert.equal(toJson(new Uint8Array()), '');
    assert.equal(toJson(new Uint8Array([0x61, 0x00, 0x62])), 'a\u0000b');
  });

  it('turns bytes that are not UTF-8 into {base64}', () => {
    assert.deepEqual(toJson(new Uint8Array([0xff, 0x00])), { base64: '/wA=' });
    assert.deepEqual(toJson(new Uint8Array([0x61, 0xc3])), { base64: Buffer.from([0x61, 0xc3]).toString('base64') });
    // An encoded surrogate is not valid UTF-8 either.
    assert.deepEqual(toJson(new Uint8Array([0xed, 0xa0, 0x80])), { base64: '7aCA' });
  });

  it('uses only the bytes of a view, not the rest of its buffer', () => {
    const backing = new Uint8Array([0xff, 0x68, 0x69, 0xff]);
    assert.equal(toJson(backing.subarray(1, 3)), 'hi');
    assert.deepEqual(toJson(backing.subarray(0, 2)), { base64: Buffer.from([0xff, 0x68]).toString('base64') });
  });

  it('turns bigints into numbers when exact, else decimal strings', () => {
    assert.equal(toJson(0n), 0);
    assert.equal(toJson(42n), 42);
    assert.equal(toJson(-7n), -7);
    assert.equal(toJson(2n ** 53n - 1n), Number.MAX_SAFE_INTEGER);
    assert.equal(toJson(-(2n ** 53n - 1n)), Number.MIN_SAFE_INTEGER);
    assert.equal(toJson(2n ** 53n), '9007199254740992');
    assert.equal(toJson(2n ** 53n + 1n), '9007199254740993');
    assert.equal(toJson(2n ** 63n - 1n), '9223372036854775807');
    assert.equal(toJson(-(2n ** 63n)), '-9223372036854775808');
  });

  it('converts nested objects and arrays and drops $typeName', () => {
    const reply = {
      $typeName: 'catena.GettableReply',
      entries: [
        { $typeName: 'catena.Entry', key: Buffer.from('k'), value: new Uint8Array([0xff]), version: 3n, ttlMs: 0n },
      ],
      truncated: false,
    };
    const json = toJson(reply);
    assert.deepEqual(json, {
      entries: [{ key: 'k', value: { base64: '/w==' }, version: 3, ttlMs: 0 }],
      truncated: false,
    });
    assert.deepEqual(JSON.parse(JSON.stringify(json)), json);
  });

  it('passes strings, numbers, booleans and null through', () => {
    assert.equal(toJson('text'), 'text');
    assert.equal(toJson(1.5), 1.5);
    assert.equal(toJson(true), true);
    assert.equal(toJson(null), null);
    assert.deepEqual(toJson([1, 'a', null]), [1, 'a', null]);
  });
});

describe('parseArgs', () => {
  const spec: FlagSpec = {
    port: { kind: 'string', description: 'port', default: '7000' },
    host: { kind: 'string', description: 'host' },
    json: { kind: 'boolean', description: 'json' },
    help: { kind: 'boolean', description: 'help' },
  };

  const parse = (argv: string[]) => {
    const parsed = parseArgs(argv, spec);
    return { positional: parsed.positional, flags: Object.fromEntries(parsed.flags) };
  };

  function invalid(argv: string[], message: RegExp): void {
    assert.throws(
      () => parseArgs(argv, spec),
      (error: unknown) => {
        assert.ok(error instanceof CatenaError, `expected a CatenaError, got ${String(error)}`);
        assert.equal(error.code, 'ERR_INVALID_ARGUMENT');
        assert.match(error.message, message);
        return true;
      },
    );
  }

  it('takes --flag value and --flag=value', () => {
    assert.deepEqual(parse(['get', 'k', '--port', '7001', '--host=example.org']), {
      positional: ['get', 'k'],
      flags: { port: '7001', host: 'example.org' },
    });
  });

  it('keeps everything after the first = of --flag=value, even an empty value', () => {
    assert.deepEqual(parse(['--host=a=b']).flags, { host: 'a=b' });
    assert.deepEqual(parse(['--host=']).flags, { host: '' });
  });

  it('lets flags come before, between and after positional words', () => {
    assert.deepEqual(parse(['--json', 'a', '--port', '1', 'b', 'c', '--help']), {
      positional: ['a', 'b', 'c'],
      flags: { json: true, port: '1', help: true },
    });
  });

  it('sets booleans to true without taking the next word', () => {
    assert.deepEqual(parse(['--json', 'k']), { positional: ['k'], flags: { json: true } });
  });

  it('takes -h as --help in a spec with no -h of its own (server, up)', () => {
    assert.deepEqual(parse(['get', '-h']), { positional: ['get'], flags: { help: true } });
  });

  it('keeps negative numbers, longer single-dash words and a lone - positional', () => {
    assert.deepEqual(parse(['incr', 'n', '-5']), { positional: ['incr', 'n', '-5'], flags: {} });
    assert.deepEqual(parse(['-1.5', '-xy', '-']), { positional: ['-1.5', '-xy', '-'], flags: {} });
  });

  it('rejects a one-letter option the spec does not have, rather than storing it as a value', () => {
    invalid(['put', 'k', '-x'], /unknown option -x/);
  });

  it('takes a string flag value that starts with a dash', () => {
    assert.deepEqual(parse(['--host', '-5']).flags, { host: '-5' });
  });

  it('makes everything after -- positional', () => {
    assert.deepEqual(parse(['put', '--json', '--', '--port', '--bogus', '-h']), {
      positional: ['put', '--port', '--bogus', '-h'],
      flags: { json: true },
    });
  });

  it('leaves an absent flag out (defaults are applied by flagString, not here)', () => {
    assert.deepEqual(parse(['k']), { positional: ['k'], flags: {} });
  });

  it('rejects an unknown option with ERR_INVALID_ARGUMENT', () => {
    invalid(['get', 'k', '--bogus'], /unknown option --bogus/);
    invalid(['--bogus=1'], /unknown option --bogus/);
    invalid(['--5'], /unknown option --5/);
  });

  it('rejects a string flag without a value and a boolean flag with one', () => {
    invalid(['k', '--port'], /--port needs a value/);
    invalid(['--json=yes'], /--json takes no value/);
  });
});

describe('splitWords error messages', () => {
  it('a backslash at the end of a quoted word is an unterminated quote; an unknown escape names its character', () => {
    assert.deepEqual(splitWords('"abc\\'), { ok: false, error: 'unterminated double quote' });
    assert.deepEqual(splitWords('"\\é"'), { ok: false, error: 'unknown escape \\é' });
  });
});
