// The logger's two formats of one record: JSON lines for files and log shippers, one readable line
// for a terminal (fields as key=value, strings quoted only when they must be, errors as text).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CatenaError } from '../../src/core/errors.js';
import { createLogger, formatJsonLine, formatTextLine, isLogFormat, type LogRecord } from '../../src/core/log.js';

// Local time, so the text format's clock reads 22:51:03.045 in any time zone.
const ts = new Date(2026, 0, 2, 22, 51, 3, 45);
const record = (fields?: Record<string, unknown>, msg = 'node1 exited: restarting'): LogRecord => ({
  ts,
  level: 'warn',
  node: 'supervisor',
  msg,
  fields,
});

describe('log records as text', () => {
  it('reads as time, level, node, message, then the fields as key=value', () => {
    assert.equal(
      formatTextLine(record({ code: null, signal: 'SIGKILL', inMs: 500 })),
      '22:51:03.045 warn  supervisor node1 exited: restarting (code=null signal=SIGKILL inMs=500)',
    );
    assert.equal(formatTextLine(record()), '22:51:03.045 warn  supervisor node1 exited: restarting');
    assert.equal(formatTextLine({ ...record(), level: 'info' }).slice(13, 19), 'info  ', 'levels line up');
  });

  it('quotes a string only when it has a space, quote, =, parenthesis or control character, or is empty', () => {
    const line = formatTextLine(
      record({
        log: '/tmp/catena-data/node1.log',
        peer: '127.0.0.1:7014',
        reason: 'disk full',
        said: 'a "b"',
        pair: 'k=v',
        paren: 'f(x)',
        empty: '',
        multi: 'first\nsecond',
      }),
    );
    assert.equal(
      line.slice(line.indexOf('(')),
      '(log=/tmp/catena-data/node1.log peer=127.0.0.1:7014 reason="disk full" said="a \\"b\\"" pair="k=v" ' +
        'paren="f(x)" empty="" multi="first\\nsecond")',
    );
    assert.equal(line.split('\n').length, 1, 'one record, one line');
  });

  it('renders errors as their name, message and code; bigints, booleans, arrays and objects plainly', () => {
    const line = formatTextLine(
      record({
        error: new CatenaError('ERR_TIMEOUT', 'request timed out after 1000 ms'),
        plain: new Error('boom'),
        epoch: 12345678901234567890n,
        ok: false,
        members: ['n1', 'n2'],
        nested: { epoch: 3n, error: new TypeError('bad') },
        skipped: undefined,
      }),
    );
    assert.equal(
      line.slice(line.indexOf('(')),
      '(error="CatenaError: request timed out after 1000 ms (ERR_TIMEOUT)" plain="Error: boom" ' +
        'epoch=12345678901234567890 ok=false members=["n1","n2"] nested={"epoch":"3","error":"TypeError: bad"})',
    );
  });
});

describe('log records as JSON', () => {
  it('is one object a line: ts, level, node, msg, then the fields', () => {
    const line = formatJsonLine(record({ code: null, signal: 'SIGKILL', inMs: 500, skipped: undefined }));
    assert.deepEqual(JSON.parse(line), {
      ts: ts.toISOString(),
      level: 'warn',
      node: 'supervisor',
      msg: 'node1 exited: restarting',
      code: null,
      signal: 'SIGKILL',
      inMs: 500,
    });
    assert.deepEqual(Object.keys(JSON.parse(line) as object).slice(0, 4), ['ts', 'level', 'node', 'msg']);
  });

  it('keeps the reason of an Error (not {}) and writes bigints as digits instead of throwing', () => {
    const line = formatJsonLine(record({ error: new Error('no space left on device'), epoch: 2n ** 64n }));
    const parsed = JSON.parse(line) as Record<string, unknown>;
    assert.equal(parsed['error'], 'Error: no space left on device');
    assert.equal(parsed['epoch'], '18446744073709551616');
  });
});

describe('createLogger', () => {
  it('writes records at or above its level, in its format, one line each', () => {
    const lines: string[] = [];
    const options = { node: 'n1', level: 'info' as const, write: (line: string) => lines.push(line), now: () => ts };
    const json = createLogger(options);
    const text = createLogger({ ...options, format: 'text' });
    for (const log of [json, text]) {
      log.log('debug', 'too chatty');
      log.log('info', 'listening', { native: '127.0.0.1:7000' });
    }
    assert.equal(lines.length, 2);
    assert.ok(lines.every((line) => line.endsWith('\n') && line.indexOf('\n') === line.length - 1));
    assert.equal((JSON.parse(lines[0]!) as { msg: string }).msg, 'listening');
    assert.equal(lines[1], '22:51:03.045 info  n1 listening (native=127.0.0.1:7000)\n');
  });

  it('knows its formats', () => {
    assert.ok(isLogFormat('json') && isLogFormat('text'));
    assert.ok(!isLogFormat('logfmt') && !isLogFormat(undefined));
  });
});
