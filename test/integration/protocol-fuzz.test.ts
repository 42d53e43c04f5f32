// Fuzzing the RESP and memcached ports of a live node (the parsers alone are fuzzed in
// test/protocol/*-codec.test.ts): fast-check builds pipelines of commands from each protocol's
// command set with random arguments, then mutates their bytes. Whatever arrives, the node must
// not crash, must not fail a command unexpectedly (no "internal error" reply, nothing logged at
// error level), and must keep answering a bystander connection. Bounded: about 10 s in all.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Logger } from '../../src/core/log.js';
import { respCommands } from '../../src/protocol/resp/commands.js';
import { encodeCommand } from '../../src/protocol/resp/codec.js';
import { CatenaNode } from '../../src/server/node.js';
import { tempDir } from '../helpers/tmp.js';

const runs = 120;
const quietMs = 30;

/** Sends bytes on a fresh connection; resolves with what came back once the line goes quiet. */
function exchange(port: number, bytes: Uint8Array): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(received);
    };
    const quiet = () => {
      clearTimeout(timer);
      timer = setTimeout(finish, quietMs);
    };
    socket.on('connect', () => {
      socket.write(bytes);
      quiet();
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      quiet();
    });
    socket.on('error', () => undefined);
    socket.on('close', finish);
  });
}

const word = fc.oneof(
  fc.constantFrom(
    'k',
    'k2',
    '{tag}k',
    '0',
    '-1',
    '1',
    '100',
    'NX',
    'XX',
    'GET',
    'EX',
    'PX',
    'KEEPTTL',
    'MATCH',
    '*',
    'COUNT',
    '9223372036854775807',
    '-9223372036854775808',
    '',
  ),
  fc.string({ maxLength: 12 }),
  fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b).toString('latin1')),
);
const respNames = [...respCommands.keys()].filter(
  (name) => name !== 'quit' && name !== 'flushall' && name !== 'flushdb',
);
const respCommand = fc.tuple(
  fc.oneof(fc.constantFrom(...respNames), fc.constant('nosuch')),
  fc.array(word, { maxLength: 5 }),
);

const mutation = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('flip', 'insert', 'delete'),
  byte: fc.oneof(fc.constantFrom(0x0d, 0x0a, 0x24, 0x2a, 0x20, 0x30, 0x2d), fc.integer({ min: 0, max: 255 })),
});

function mutate(bytes: Uint8Array, mutations: { at: number; kind: string; byte: number }[]): Uint8Array {
  const out = Array.from(bytes);
  for (const { at, kind, byte } of mutations) {
    const index = at % (out.length + 1);
    if (kind === 'insert') out.splice(index, 0, byte);
    else if (index < out.length && kind === 'delete') out.splice(index, 1);
    else if (index < out.length) out[index] = byte;
  }
  return Uint8Array.from(out);
}

const memcachedKey = fc.constantFrom('k', 'k2', 'x'.repeat(250), 'x'.repeat(251), 'a\tb', '');
const memcachedNumber = fc.constantFrom(
  '0',
  '1',
  '-1',
  '4294967295',
  '4294967296',
  '18446744073709551615',
  'abc',
  '2592001',
);
const memcachedLine = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('set', 'add', 'replace', 'append', 'prepend'),
      memcachedKey,
      memcachedNumber,
      memcachedNumber,
      fc.uint8Array({ maxLength: 8 }),
      fc.boolean(),
    )
    .map(([cmd, key, flags, exptime, data, noreply]) =>
      Buffer.concat([
        Buffer.from(`${cmd} ${key} ${flags} ${exptime} ${data.length}${noreply ? ' noreply' : ''}\r\n`),
        data,
        Buffer.from('\r\n'),
      ]),
    ),
  fc
    .tuple(memcachedKey, memcachedNumber, fc.uint8Array({ maxLength: 8 }))
    .map(([key, cas, data]) =>
      Buffer.concat([Buffer.from(`cas ${key} 0 0 ${data.length} ${cas}\r\n`), data, Buffer.from('\r\n')]),
    ),
  fc
    .tuple(fc.constantFrom('get', 'gets'), fc.array(memcachedKey, { maxLength: 4 }))
    .map(([cmd, keys]) => Buffer.from(`${cmd} ${keys.join(' ')}\r\n`)),
  fc
    .tuple(fc.constantFrom('gat', 'gats'), memcachedNumber, memcachedKey)
    .map(([cmd, t, key]) => Buffer.from(`${cmd} ${t} ${key}\r\n`)),
  fc
    .tuple(fc.constantFrom('incr', 'decr', 'touch'), memcachedKey, memcachedNumber)
    .map(([cmd, key, n]) => Buffer.from(`${cmd} ${key} ${n}\r\n`)),
  fc
    .tuple(memcachedKey, fc.boolean())
    .map(([key, noreply]) => Buffer.from(`delete ${key}${noreply ? ' noreply' : ''}\r\n`)),
  fc
    .constantFrom('version\r\n', 'verbosity 1\r\n', 'stats\r\n', 'stats items\r\n', 'bogus\r\n', '\r\n')
    .map((line) => Buffer.from(line)),
);

describe('fuzzing the protocol ports of a live node', () => {
  const dir = tempDir();
  const errors: string[] = [];
  let node: CatenaNode;
  const log: Logger = {
    log: (level, message, fields) => {
      if (level === 'error') errors.push(`${message} ${JSON.stringify(fields ?? {})}`);
    },
  };

  before(async () => {
    node = await CatenaNode.start({
      dataDir: dir.path,
      port: 0,
      respPort: 0,
      memcachedPort: 0,
      durability: 'memory',
      log,
    });
  });
  after(async () => {
    await node.stop();
    dir.remove();
  });

  it('RESP: valid and mutated pipelines never crash the node or fail a command unexpectedly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(respCommand, { minLength: 1, maxLength: 6 }),
        fc.array(mutation, { maxLength: 3 }),
        fc.boolean(),
        async (commands, mutations, inline) => {
          const wire = Buffer.concat(
            commands.map(([name, args]) =>
              inline && args.every((a) => /^[\x21-\x7e]*$/.test(a) && !a.includes('"') && !a.includes("'") && a !== '')
                ? Buffer.from(`${[name, ...args].join(' ')}\r\n`, 'latin1')
                : encodeCommand([name, ...args].map((a) => Buffer.from(a, 'latin1'))),
            ),
          );
          const reply = await exchange(node.respPort!, mutate(wire, mutations));
          assert.doesNotMatch(reply, /internal error/);
          assert.deepEqual(errors, []);
        },
      ),
      { numRuns: runs },
    );
    assert.equal(await exchange(node.respPort!, encodeCommand(['PING'])), '+PONG\r\n');
  });

  it('memcached: valid and mutated pipelines never crash the node or fail a command unexpectedly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(memcachedLine, { minLength: 1, maxLength: 6 }),
        fc.array(mutation, { maxLength: 3 }),
        async (lines, mutations) => {
          const reply = await exchange(node.memcachedPort!, mutate(Buffer.concat(lines), mutations));
          assert.doesNotMatch(reply, /internal error/);
          assert.deepEqual(errors, []);
        },
      ),
      { numRuns: runs },
    );
    assert.match(await exchange(node.memcachedPort!, Buffer.from('version\r\n')), /^VERSION /);
  });
});
