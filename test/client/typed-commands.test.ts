// The client's typed methods against the command table (issue 19, part 2): every command has a
// method or is one of the internal slot commands, and each method builds exactly the request the
// command's own CLI words build (its `parse`), so a method whose name or arguments drift from the
// table fails here. No node: a recording client captures the requests.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import {
  ClientCommands,
  clientMethods,
  type InternalCommandName,
  type PublicCommandName,
} from '../../src/client/client-commands.js';
import { commandByName, commandNames, slotCommands, type CommandName } from '../../src/commands/index.js';
import { CatenaError } from '../../src/core/errors.js';
import { RequestSchema } from '../../src/protocol/native/gen/catena_pb.js';

interface Recorded {
  name: CommandName;
  request: object;
}

/** Records each request and never answers: only what is sent matters here. */
class Recorder extends ClientCommands {
  readonly sent: Recorded[] = [];

  protected call<T>(name: CommandName, build: () => object, _convert: (reply: unknown) => T): Promise<T> {
    try {
      this.sent.push({ name, request: build() });
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return new Promise<T>(() => undefined);
  }
}

type Method<C extends PublicCommandName> = ClientCommands[(typeof clientMethods)[C]];
type Word = string | Buffer;
/** CLI words of one command, and the typed arguments that must build the same request. */
type Sample<C extends PublicCommandName> = { words: Word[]; args: Parameters<Method<C>> };

const binary = Buffer.from([0, 0xff, 0x80, 0x0a]);
const samples: { readonly [C in PublicCommandName]: readonly Sample<C>[] } = {
  put: [
    { words: ['k', 'v'], args: ['k', 'v'] },
    { words: ['k', 'v', '1500'], args: ['k', 'v', { ttlMs: 1500 }] },
    { words: [binary, binary], args: [binary, new Uint8Array(binary)] },
  ],
  get: [{ words: ['k'], args: ['k'] }],
  del: [{ words: [binary], args: [binary] }],
  size: [{ words: [], args: [] }],
  getkeys: [
    { words: [], args: [] },
    { words: ['user:', '10'], args: [{ prefix: 'user:', limit: 10 }] },
  ],
  gettable: [{ words: ['user:', '7'], args: [{ prefix: 'user:', limit: 7 }] }],
  stats: [{ words: [], args: [] }],
  cas: [
    { words: ['k', '3', 'v'], args: ['k', 3n, 'v'] },
    { words: ['k', '0', 'v', '100'], args: ['k', 0, 'v', { ttlMs: 100 }] },
  ],
  incr: [
    { words: ['n'], args: ['n'] },
    { words: ['n', '-5'], args: ['n', -5] },
    { words: ['n', '9007199254740993'], args: ['n', 9007199254740993n] },
  ],
  append: [
    { words: ['k', 'v'], args: ['k', 'v'] },
    { words: ['k', 'v', 'prepend'], args: ['k', 'v', { prepend: true }] },
  ],
  expire: [
    { words: ['k', '250'], args: ['k', 250] },
    { words: ['k', '0'], args: ['k', 0] },
  ],
  ttl: [{ words: ['k'], args: ['k'] }],
  scan: [
    { words: [], args: [] },
    { words: ['p', 'p5', '20'], args: [{ prefix: 'p', after: 'p5', limit: 20 }] },
  ],
  ping: [
    { words: [], args: [] },
    { words: ['hello'], args: ['hello'] },
  ],
  topology: [{ words: [], args: [] }],
  nodestatus: [{ words: [], args: [] }],
  set: [
    { words: ['k', 'v'], args: ['k', 'v'] },
    {
      words: ['k', 'v', 'nx', 'ttl=500', 'get'],
      args: ['k', 'v', { when: 'absent', ttlMs: 500, returnPrevious: true }],
    },
    { words: ['k', 'v', 'xx', 'keepttl', 'flags=7'], args: ['k', 'v', { when: 'present', keepTtl: true, flags: 7 }] },
    {
      words: ['k', 'v', 'version=12', 'at=1800000000000'],
      args: ['k', 'v', { when: { version: 12n }, expiresAtMs: 1_800_000_000_000 }],
    },
  ],
  mget: [
    { words: ['a'], args: [['a']] },
    { words: ['a', binary, 'c'], args: [['a', binary, 'c']] },
  ],
  mput: [
    {
      words: ['a', '1', 'b', '2'],
      args: [
        [
          ['a', '1'],
          ['b', '2'],
        ],
      ],
    },
    { words: ['a', '1', 'b', '2'], args: [{ a: '1', b: '2' }] },
    { words: ['a', binary], args: [new Map([['a', binary]])] },
  ],
  getdel: [{ words: ['k'], args: ['k'] }],
  flush: [{ words: [], args: [] }],
};

/** Typed helpers beyond one method per command: each builds what the command's words build. */
const helpers: { method: keyof ClientCommands; command: CommandName; words: Word[]; args: unknown[] }[] = [
  { method: 'getString', command: 'get', words: ['k'], args: ['k'] },
  { method: 'expireAt', command: 'expire', words: ['k', 'at=1800000000000'], args: ['k', 1_800_000_000_000] },
];

const encoded = (name: CommandName, request: object): Buffer =>
  Buffer.from(toBinary(RequestSchema, create(RequestSchema, { command: { case: name, value: request } } as never)));

const parsed = (name: CommandName, words: Word[]): object =>
  commandByName(name).parse(words.map((word) => (typeof word === 'string' ? Buffer.from(word) : word)));

/** Calls `method` on a recorder and returns the one request it sent. */
function recordOne(method: string, args: readonly unknown[]): Recorded {
  const recorder = new Recorder();
  const fn = (recorder as unknown as Record<string, (...a: readonly unknown[]) => Promise<unknown>>)[method];
  assert.equal(typeof fn, 'function', `ClientCommands has no method ${method}`);
  void fn!.apply(recorder, [...args]).catch((error: unknown) => assert.fail(`${method} rejected: ${String(error)}`));
  assert.equal(recorder.sent.length, 1, `${method} sends one request`);
  return recorder.sent[0]!;
}

describe('typed client methods and the command table', () => {
  it('every command has a typed method, except the internal slot commands', () => {
    const internal: readonly InternalCommandName[] = ['slotfreeze', 'slotexport', 'slotimport', 'slotdrop'];
    assert.deepEqual([...internal].sort(), [...slotCommands].sort(), 'the internal commands are the slot commands');
    for (const name of commandNames) {
      if (slotCommands.has(name)) continue;
      const method = clientMethods[name as PublicCommandName];
      assert.ok(method !== undefined, `command ${name} has no typed client method (src/client/client-commands.ts)`);
      assert.equal(typeof ClientCommands.prototype[method], 'function', `${method} is a method`);
      assert.ok(samples[name as PublicCommandName].length > 0, `no sample for ${name} in this test`);
    }
    assert.deepEqual(Object.keys(clientMethods).sort(), commandNames.filter((name) => !slotCommands.has(name)).sort());
  });

  for (const name of Object.keys(samples) as PublicCommandName[]) {
    it(`${name}: ${clientMethods[name]}(...) sends what \`${name} <words>\` parses to`, () => {
      for (const sample of samples[name] as readonly Sample<PublicCommandName>[]) {
        const sent = recordOne(clientMethods[name], sample.args as readonly unknown[]);
        assert.equal(sent.name, name, `${clientMethods[name]} sends the ${name} command`);
        assert.deepEqual(
          encoded(name, sent.request),
          encoded(name, parsed(name, sample.words)),
          `${name} ${sample.words.map(String).join(' ')}`,
        );
      }
    });
  }

  for (const helper of helpers) {
    it(`${helper.method}(...) sends what \`${helper.command} <words>\` parses to`, () => {
      const sent = recordOne(helper.method, helper.args);
      assert.equal(sent.name, helper.command);
      assert.deepEqual(encoded(sent.name, sent.request), encoded(helper.command, parsed(helper.command, helper.words)));
    });
  }

  it('bad arguments reject with ERR_INVALID_ARGUMENT, never throw', async () => {
    const client = new Recorder();
    const bad: (() => Promise<unknown>)[] = [
      () => client.put('k', 'v', { ttlMs: -1 }),
      () => client.put('k', 'v', { ttlMs: 1.5 }),
      () => client.set('k', 'v', { flags: 2 ** 32 }),
      () => client.set('k', 'v', { when: 'sometimes' as never }),
      () => client.set('k', 'v', { when: { version: -1n } }),
      () => client.cas('k', -3, 'v'),
      () => client.expire('k', Number.NaN),
      () => client.expireAt('k', 0),
    ];
    for (const call of bad) {
      await assert.rejects(
        call(),
        (error: unknown) => error instanceof CatenaError && error.code === 'ERR_INVALID_ARGUMENT',
      );
    }
    assert.equal(client.sent.length, 0, 'nothing was sent');
  });
});
