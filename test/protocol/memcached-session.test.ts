// The memcached session (src/protocol/memcached/session.ts) on a real TCP server whose router
// runs native commands on an in-memory store with a manual clock: every command and reply line,
// noreply, flags and cas, the exptime forms, a too-large set, garbage and over-long lines,
// pipelines answered in order, requests cut into many TCP writes, drain and close. Then the
// session over a router that delays each command at random and says it is not in order (as a
// cluster), to check a connection's program order and that independent requests overlap; and
// the limits: long pipelines of requests answered at once, large values read by a client that
// does not read its replies.

import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { execute } from '../../src/commands/execute.js';
import type { CommandContext, CommandName, NodeFacts, RequestInit } from '../../src/commands/index.js';
import { ManualClock } from '../../src/core/clock.js';
import { memcachedLineBytesMax, multiKeysMax } from '../../src/core/limits.js';
import type { Logger } from '../../src/core/log.js';
import { MemcachedSession, nativeExpiry, type MemcachedHost } from '../../src/protocol/memcached/session.js';
import type { ReplyOf } from '../../src/protocol/native/codec.js';
import type { CommandRouter } from '../../src/protocol/command-router.js';
import { localRouter } from '../../src/server/router.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { Conn } from '../helpers/conn.js';

const facts = {
  nodeId: 'test',
  durability: 'memory',
  startedAtMs: 0,
  version: 'test',
  connections: () => ({ open: 0, total: 0 }),
  commandStats: () => [],
  protocolErrors: () => 0,
  topology: () => ({ cluster: '', manager: '', chains: [], nodes: [] }),
  nodeStatus: () => ({}),
} as unknown as NodeFacts;

interface Harness {
  server: Server;
  port: number;
  clock: ManualClock;
  store: MemoryStore;
  sessions: MemcachedSession[];
  protocolErrors: () => number;
  /** The messages the sessions logged at error level (none is expected). */
  errorLogs: string[];
  close(): Promise<void>;
}

const itemBytesMax = 1024;

async function startServer(
  wrap: (router: CommandRouter) => CommandRouter = (router) => router,
  options: { itemBytesMax?: number } = {},
): Promise<Harness> {
  const itemLimit = options.itemBytesMax ?? itemBytesMax;
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const context: CommandContext = { store, clock, valueBytesMax: Math.max(1 << 20, itemLimit), node: facts };
  const router = wrap(localRouter((request) => execute(context, request, false)));
  let protocolErrors = 0;
  const errorLogs: string[] = [];
  const log: Logger = {
    log: (level, message, fields) => {
      if (level === 'error') errorLogs.push(`${message} ${JSON.stringify(fields)}`);
    },
  };
  const host: MemcachedHost = {
    router,
    log,
    itemBytesMax: itemLimit,
    version: '1.6.0-catena-test',
    stats: () =>
      Promise.resolve([
        ['pid', 4242],
        ['version', '1.6.0-catena-test'],
        ['curr_items', BigInt(store.size())],
      ]),
    recordProtocolError: () => {
      protocolErrors += 1;
    },
    nowMs: () => clock.nowMs(),
  };
  const sessions: MemcachedSession[] = [];
  const server = createServer((socket) => sessions.push(new MemcachedSession(socket, host)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    clock,
    store,
    sessions,
    protocolErrors: () => protocolErrors,
    errorLogs,
    close: async () => {
      await Promise.all(sessions.map((session) => session.close(100)));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const storage = (command: string, key: string, flags: number, exptime: number, data: string, extra = '') =>
  `${command} ${key} ${flags} ${exptime} ${Buffer.byteLength(data, 'latin1')}${extra}\r\n${data}\r\n`;
const value = (key: string, flags: number, data: string, cas?: bigint) =>
  `VALUE ${key} ${flags} ${Buffer.byteLength(data, 'latin1')}${cas === undefined ? '' : ` ${cas}`}\r\n${data}\r\n`;

/** Nothing is pending: the next reply is the answer to `version` (noreply requests said nothing). */
const quiet = (conn: Conn): Promise<void> => conn.expect('version\r\n', 'VERSION 1.6.0-catena-test\r\n');

/** Sends a retrieval request and reads its whole reply (up to END). */
async function retrieve(conn: Conn, request: string): Promise<string> {
  conn.send(request);
  let text = '';
  while (!text.endsWith('END\r\n') && !conn.closed) text += await conn.read(1);
  return text;
}

/** The cas uniques in a gets/gats reply, in order. */
const casUniques = (reply: string): bigint[] =>
  [...reply.matchAll(/^VALUE \S+ \d+ \d+ (\d+)\r$/gm)].map((match) => BigInt(match[1]!));

/** The cas unique of `key`, read with gets. */
async function casOf(conn: Conn, key: string): Promise<bigint> {
  const reply = await retrieve(conn, `gets ${key}\r\n`);
  const [cas] = casUniques(reply);
  assert.ok(cas !== undefined, `gets ${key} found it: ${JSON.stringify(reply)}`);
  return cas;
}

describe('memcached exptime to native expiry', () => {
  const now = 1_700_000_000_000;
  it('reads 0, negative, relative and absolute forms', () => {
    assert.deepEqual(nativeExpiry(0, now), { ttlMs: 0n, expiresAtMs: 0n });
    assert.deepEqual(nativeExpiry(-1, now), { ttlMs: 0n, expiresAtMs: 1n });
    assert.deepEqual(nativeExpiry(-2147483648, now), { ttlMs: 0n, expiresAtMs: 1n });
    assert.deepEqual(nativeExpiry(1, now), { ttlMs: 1000n, expiresAtMs: 0n });
    assert.deepEqual(nativeExpiry(2_592_000, now), { ttlMs: 2_592_000_000n, expiresAtMs: 0n });
    // One second past 30 days: an absolute time (1970), long past.
    assert.deepEqual(nativeExpiry(2_592_001, now), { ttlMs: 0n, expiresAtMs: 1n });
    assert.deepEqual(nativeExpiry(now / 1000, now), { ttlMs: 0n, expiresAtMs: 1n });
    assert.deepEqual(nativeExpiry(now / 1000 + 1, now), { ttlMs: 0n, expiresAtMs: BigInt(now + 1000) });
    assert.deepEqual(nativeExpiry(2147483647, now), { ttlMs: 0n, expiresAtMs: 2_147_483_647_000n });
  });
});

describe('memcached session', () => {
  let h: Harness;
  before(async () => {
    h = await startServer();
  });
  after(() => h.close());

  it('stores and reads with set, add, replace, flags and binary data', async () => {
    const conn = new Conn(h.port);
    await conn.expect('get a1\r\n', 'END\r\n');
    await conn.expect(storage('set', 'a1', 0, 0, 'hello'), 'STORED\r\n');
    await conn.expect('get a1\r\n', `${value('a1', 0, 'hello')}END\r\n`);
    await conn.expect(storage('add', 'a1', 0, 0, 'other'), 'NOT_STORED\r\n');
    await conn.expect(storage('add', 'a2', 7, 0, 'two'), 'STORED\r\n');
    await conn.expect(storage('replace', 'a3', 0, 0, 'x'), 'NOT_STORED\r\n');
    await conn.expect(storage('replace', 'a1', 4294967295, 0, 'bin\r\nary\0'), 'STORED\r\n');
    await conn.expect(
      'get a1 a3 a2 a1\r\n',
      `${value('a1', 4294967295, 'bin\r\nary\0')}${value('a2', 7, 'two')}${value('a1', 4294967295, 'bin\r\nary\0')}END\r\n`,
    );
    await conn.expect(storage('set', 'empty', 3, 0, ''), 'STORED\r\n');
    await conn.expect('get empty\r\n', `${value('empty', 3, '')}END\r\n`);
    conn.end();
  });

  it('answers cas with STORED, EXISTS and NOT_FOUND, and gets shows the cas unique', async () => {
    const conn = new Conn(h.port);
    await conn.expect(storage('cas', 'c1', 0, 0, 'x', ' 1'), 'NOT_FOUND\r\n');
    await conn.expect(storage('set', 'c1', 5, 0, 'one'), 'STORED\r\n');
    const cas = await casOf(conn, 'c1');
    await conn.expect(`gets c1\r\n`, `${value('c1', 5, 'one', cas)}END\r\n`);
    await conn.expect(storage('cas', 'c1', 6, 0, 'two', ` ${cas + 1000n}`), 'EXISTS\r\n');
    await conn.expect(storage('cas', 'c1', 6, 0, 'two', ` ${cas}`), 'STORED\r\n');
    await conn.expect(storage('cas', 'c1', 6, 0, 'three', ` ${cas}`), 'EXISTS\r\n');
    const next = await casOf(conn, 'c1');
    assert.ok(next > cas, 'a store gives a new cas unique');
    await conn.expect('get c1\r\n', `${value('c1', 6, 'two')}END\r\n`);
    await conn.expect(storage('cas', 'c1', 0, 0, 'z', ' 0'), 'EXISTS\r\n');
    conn.end();
  });

  it('appends and prepends to existing keys only, keeping flags and expiry', async () => {
    const conn = new Conn(h.port);
    await conn.expect(storage('append', 'p1', 0, 0, 'x'), 'NOT_STORED\r\n');
    await conn.expect(storage('prepend', 'p1', 0, 0, 'x'), 'NOT_STORED\r\n');
    await conn.expect('get p1\r\n', 'END\r\n');
    await conn.expect(storage('set', 'p1', 9, 100, 'mid'), 'STORED\r\n');
    await conn.expect(storage('append', 'p1', 1, 0, '>>'), 'STORED\r\n');
    await conn.expect(storage('prepend', 'p1', 2, -1, '<<'), 'STORED\r\n');
    await conn.expect('get p1\r\n', `${value('p1', 9, '<<mid>>')}END\r\n`);
    h.clock.advance(100_001);
    await conn.expect('get p1\r\n', 'END\r\n');
    conn.end();
  });

  it('deletes', async () => {
    const conn = new Conn(h.port);
    await conn.expect(storage('set', 'd1', 0, 0, 'v'), 'STORED\r\n');
    await conn.expect('delete d1\r\n', 'DELETED\r\n');
    await conn.expect('delete d1\r\n', 'NOT_FOUND\r\n');
    await conn.expect(storage('set', 'd1', 0, 0, 'v'), 'STORED\r\n');
    await conn.expect('delete d1 0\r\n', 'DELETED\r\n');
    await conn.expect('delete d1 1\r\n', 'CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n');
    conn.end();
  });

  it('increments and decrements as memcached does', async () => {
    const conn = new Conn(h.port);
    await conn.expect('incr n1 1\r\n', 'NOT_FOUND\r\n');
    await conn.expect('decr n1 1\r\n', 'NOT_FOUND\r\n');
    await conn.expect(storage('set', 'n1', 3, 0, '10'), 'STORED\r\n');
    await conn.expect('incr n1 5\r\n', '15\r\n');
    await conn.expect('decr n1 6\r\n', '9\r\n');
    // memcached rewrites a shorter number in place, padded with spaces; flags are kept.
    await conn.expect('get n1\r\n', `${value('n1', 3, '9 ')}END\r\n`);
    await conn.expect('decr n1 100\r\n', '0\r\n');
    await conn.expect(storage('set', 'n1', 0, 0, '9223372036854775807'), 'STORED\r\n');
    await conn.expect('incr n1 1\r\n', '9223372036854775808\r\n');
    await conn.expect('incr n1 18446744073709551615\r\n', '9223372036854775807\r\n');
    await conn.expect(storage('set', 'n1', 0, 0, '18446744073709551615'), 'STORED\r\n');
    await conn.expect('incr n1 1\r\n', '0\r\n');
    await conn.expect('decr n1 18446744073709551615\r\n', '0\r\n');
    await conn.expect(storage('set', 'n2', 0, 0, 'abc'), 'STORED\r\n');
    await conn.expect('incr n2 1\r\n', 'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n');
    await conn.expect('incr n2 x\r\n', 'CLIENT_ERROR invalid numeric delta argument\r\n');
    conn.end();
  });

  it('touches, and gat/gats return the value while setting its expiry', async () => {
    const conn = new Conn(h.port);
    await conn.expect('touch t1 10\r\n', 'NOT_FOUND\r\n');
    await conn.expect(storage('set', 't1', 1, 0, 'v1'), 'STORED\r\n');
    await conn.expect(storage('set', 't2', 2, 12, 'v2'), 'STORED\r\n');
    await conn.expect('touch t1 10\r\n', 'TOUCHED\r\n');
    h.clock.advance(9_000);
    await conn.expect('gat 10 t1 missing t2\r\n', `${value('t1', 1, 'v1')}${value('t2', 2, 'v2')}END\r\n`);
    h.clock.advance(9_000); // past their first expiries, within the new one
    const gats = await retrieve(conn, 'gats 0 t1 t2\r\n');
    const [cas1, cas2] = casUniques(gats);
    assert.equal(gats, `${value('t1', 1, 'v1', cas1)}${value('t2', 2, 'v2', cas2)}END\r\n`);
    // The cas unique gats reports is the key's current one, as memcached's.
    await conn.expect(storage('cas', 't2', 2, 0, 'v2', ` ${cas2}`), 'STORED\r\n');
    h.clock.advance(100_000_000); // exptime 0: they no longer expire
    await conn.expect('get t1 t2\r\n', `${value('t1', 1, 'v1')}${value('t2', 2, 'v2')}END\r\n`);
    await conn.expect('touch t1 -1\r\n', 'TOUCHED\r\n');
    await conn.expect('gat -1 t2\r\n', `${value('t2', 2, 'v2')}END\r\n`);
    await conn.expect('get t1 t2\r\n', 'END\r\n');
    await conn.expect('gat 10\r\n', 'END\r\n');
    await conn.expect('gats 10 none\r\n', 'END\r\n');
    conn.end();
  });

  it('reads every exptime form: relative, 30 days, negative, absolute future and past', async () => {
    const conn = new Conn(h.port);
    const nowS = Math.floor(h.clock.nowMs() / 1000);
    await conn.expect(storage('set', 'e-rel', 0, 10, 'r'), 'STORED\r\n');
    await conn.expect(storage('set', 'e-30d', 0, 2_592_000, 'm'), 'STORED\r\n');
    await conn.expect(storage('set', 'e-abs', 0, nowS + 100, 'a'), 'STORED\r\n');
    await conn.expect(storage('set', 'e-neg', 0, 0, 'old'), 'STORED\r\n');
    await conn.expect(storage('set', 'e-neg', 0, -1, 'n'), 'STORED\r\n');
    await conn.expect(storage('set', 'e-past', 0, 2_592_001, 'p'), 'STORED\r\n');
    await conn.expect(storage('set', 'e-now', 0, nowS, 'p'), 'STORED\r\n');
    await conn.expect(storage('add', 'e-neg', 0, 0, 'again'), 'STORED\r\n'); // the expired one is absent
    await conn.expect(storage('set', 'e-neg', 0, -1, 'n'), 'STORED\r\n');
    const all = 'get e-rel e-30d e-abs e-neg e-past e-now\r\n';
    await conn.expect(all, `${value('e-rel', 0, 'r')}${value('e-30d', 0, 'm')}${value('e-abs', 0, 'a')}END\r\n`);
    h.clock.advance(10_000);
    await conn.expect(all, `${value('e-30d', 0, 'm')}${value('e-abs', 0, 'a')}END\r\n`);
    h.clock.advance(90_000);
    await conn.expect(all, `${value('e-30d', 0, 'm')}END\r\n`);
    h.clock.advance(2_592_000_000 - 100_000);
    await conn.expect(all, 'END\r\n');
    conn.end();
  });

  it('sends noreply requests without answering them', async () => {
    const conn = new Conn(h.port);
    conn.send(storage('set', 'q1', 1, 0, 'a', ' noreply'));
    conn.send(storage('add', 'q1', 0, 0, 'no', ' noreply'));
    conn.send(storage('append', 'q1', 0, 0, 'b', ' noreply'));
    conn.send(storage('prepend', 'q1', 0, 0, '_', ' noreply'));
    conn.send(storage('replace', 'q2', 0, 0, 'no', ' noreply'));
    conn.send(storage('set', 'q3', 0, 0, '5', ' noreply'));
    conn.send('incr q3 10 noreply\r\ndecr q3 1 noreply\r\nincr missing 1 noreply\r\n');
    conn.send(storage('set', 'q4', 0, 0, 'x', ' noreply'));
    conn.send('delete q4 noreply\r\ndelete q4 noreply\r\ntouch q1 100 noreply\r\nverbosity 1 noreply\r\n');
    conn.send(storage('set', 'q5', 0, 0, 'nan', ' noreply'));
    conn.send('incr q5 1 noreply\r\n'); // an error from the command: silent too
    conn.send('touch q1 x noreply\r\n'); // an error from the parser: silent too
    await quiet(conn);
    await conn.expect('get q1 q2 q3 q4\r\n', `${value('q1', 1, '_ab')}${value('q3', 0, '14')}END\r\n`);
    const cas = await casOf(conn, 'q1');
    conn.send(storage('cas', 'q1', 2, 0, 'c', ` ${cas} noreply`));
    conn.send('flush_all 5 noreply\r\n');
    await quiet(conn);
    await conn.expect('get q1\r\n', `${value('q1', 2, 'c')}END\r\n`);
    conn.send('flush_all noreply\r\n');
    await quiet(conn);
    await conn.expect('get q1 q3\r\n', 'END\r\n');
    conn.end();
  });

  it('flushes, and refuses a delayed flush', async () => {
    const conn = new Conn(h.port);
    await conn.expect(storage('set', 'f1', 0, 0, 'a') + storage('set', 'f2', 0, 0, 'b'), 'STORED\r\nSTORED\r\n');
    await conn.expect('flush_all 10\r\n', 'CLIENT_ERROR flush_all with a delay is not supported\r\n');
    await conn.expect('get f1\r\n', `${value('f1', 0, 'a')}END\r\n`);
    await conn.expect('flush_all\r\n', 'OK\r\n');
    await conn.expect('get f1 f2\r\n', 'END\r\n');
    await conn.expect(storage('set', 'f1', 0, 0, 'a'), 'STORED\r\n');
    await conn.expect('flush_all 0\r\nget f1\r\n', 'OK\r\nEND\r\n');
    await conn.expect(storage('set', 'f1', 0, 0, 'a'), 'STORED\r\n');
    await conn.expect('flush_all -1\r\nget f1\r\n', 'OK\r\nEND\r\n');
    await conn.expect('flush_all x\r\n', 'CLIENT_ERROR invalid exptime argument\r\n');
    conn.end();
  });

  it('answers version, verbosity and stats', async () => {
    const conn = new Conn(h.port);
    await conn.expect('version\r\n', 'VERSION 1.6.0-catena-test\r\n');
    await conn.expect('verbosity 1\r\n', 'OK\r\n');
    await conn.expect('flush_all\r\n', 'OK\r\n');
    await conn.expect(storage('set', 's1', 0, 0, 'a'), 'STORED\r\n');
    await conn.expect('stats\r\n', 'STAT pid 4242\r\nSTAT version 1.6.0-catena-test\r\nSTAT curr_items 1\r\nEND\r\n');
    await conn.expect('stats items\r\nstats slabs\r\nstats sizes\r\n', 'END\r\nEND\r\nEND\r\n');
    await conn.expect('stats reset\r\nstats settings\r\nstats nonsense 1\r\n', 'ERROR\r\nERROR\r\nERROR\r\n');
    conn.end();
  });

  it('drops the old value on a too-large set and goes on', async () => {
    const conn = new Conn(h.port);
    const big = 'x'.repeat(itemBytesMax + 1);
    await conn.expect(
      storage('set', 'big', 4, 0, 'small') + storage('set', 'big2', 0, 0, 'kept'),
      'STORED\r\nSTORED\r\n',
    );
    await conn.expect(storage('set', 'big', 0, 0, big), 'SERVER_ERROR object too large for cache\r\n');
    await conn.expect('get big\r\n', 'END\r\n');
    // Only set invalidates, as memcached does.
    await conn.expect(storage('append', 'big2', 0, 0, big), 'SERVER_ERROR object too large for cache\r\n');
    await conn.expect('get big2\r\n', `${value('big2', 0, 'kept')}END\r\n`);
    await conn.expect(storage('set', 'big2', 0, 0, big, ' noreply'), '');
    await quiet(conn);
    await conn.expect('get big2\r\n', 'END\r\n');
    const fits = 'y'.repeat(itemBytesMax);
    await conn.expect(storage('set', 'big', 0, 0, fits), 'STORED\r\n');
    await conn.expect('get big\r\n', `${value('big', 0, fits)}END\r\n`);
    conn.end();
  });

  it('answers garbage and bad lines with memcached errors and goes on', async () => {
    const conn = new Conn(h.port);
    const before = h.protocolErrors();
    await conn.expect('bogus command\r\n', 'ERROR\r\n');
    await conn.expect('\r\n', 'ERROR\r\n');
    await conn.expect('GET a\r\n', 'ERROR\r\n'); // names are case-sensitive
    await conn.expect('get\r\n', 'ERROR\r\n');
    await conn.expect('set k x 0 1\r\n', 'CLIENT_ERROR bad command line format\r\n');
    await conn.expect('set k 0 0 1\r\nab\r\n', 'CLIENT_ERROR bad data chunk\r\nERROR\r\n');
    await conn.expect('touch k x\r\n', 'CLIENT_ERROR invalid exptime argument\r\n');
    await conn.expect(`get ${'k'.repeat(251)}\r\n`, 'CLIENT_ERROR bad command line format\r\n');
    await conn.expect(Buffer.from([0xff, 0xfe, 0x00, 0x0d, 0x0a]), 'ERROR\r\n');
    assert.equal(h.protocolErrors() - before, 10); // the bad data chunk is two: its block, then its tail as an empty line
    await quiet(conn);
    conn.end();
  });

  it('closes a connection whose line is too long, after saying so', async () => {
    const conn = new Conn(h.port);
    await conn.expect('version\r\n', 'VERSION 1.6.0-catena-test\r\n');
    conn.send(`set ${'k'.repeat(memcachedLineBytesMax + 10)}`);
    assert.equal(await conn.waitClosed(), 'CLIENT_ERROR line too long\r\n');
  });

  it('answers earlier requests, then closes on quit without a reply', async () => {
    const conn = new Conn(h.port);
    conn.send(`${storage('set', 'qq', 0, 0, 'v')}get qq\r\nquit\r\nget qq\r\n`);
    assert.equal(await conn.waitClosed(), `STORED\r\n${value('qq', 0, 'v')}END\r\n`);
  });

  it('answers a pipeline in request order, replies batched into few writes', async () => {
    const conn = new Conn(h.port);
    let requests = '';
    let expected = '';
    for (let i = 0; i < 200; i++) {
      requests += storage('set', `pl${i}`, i, 0, `v${i}`);
      expected += 'STORED\r\n';
      requests += `get pl${i} pl${i - 1}\r\n`;
      expected += `${value(`pl${i}`, i, `v${i}`)}${i === 0 ? '' : value(`pl${i - 1}`, i - 1, `v${i - 1}`)}END\r\n`;
      requests += `incr pl${i} 1\r\ndelete pl${i - 1}\r\n`;
      expected += `CLIENT_ERROR cannot increment or decrement non-numeric value\r\n${i === 0 ? 'NOT_FOUND' : 'DELETED'}\r\n`;
    }
    let chunks = 0;
    conn.socket.on('data', () => (chunks += 1));
    await conn.expect(requests, expected);
    assert.ok(chunks < 50, `replies were batched (${chunks} chunks)`);
    conn.end();
  });

  it('takes requests cut into many TCP writes', async () => {
    const conn = new Conn(h.port);
    const requests = Buffer.from(
      `${storage('set', 'split', 12, 0, 'a\r\nb')}gets split\r\nget split\r\n${storage('append', 'split', 0, 0, 'c')}get split\r\n`,
      'latin1',
    );
    for (const byte of requests) {
      conn.send(Buffer.from([byte]));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    let all = '';
    while (!all.endsWith(`${value('split', 12, 'a\r\nbc')}END\r\n`) && !conn.closed) all += await conn.read(1);
    const match = /^STORED\r\nVALUE split 12 4 (\d+)\r\n/.exec(all);
    assert.ok(match, all);
    assert.equal(
      all,
      `STORED\r\n${value('split', 12, 'a\r\nb', BigInt(match[1]!))}END\r\n${value('split', 12, 'a\r\nb')}END\r\nSTORED\r\n${value('split', 12, 'a\r\nbc')}END\r\n`,
    );
    conn.end();
  });

  it(`reads more than ${multiKeysMax} keys in one get`, async () => {
    const conn = new Conn(h.port);
    const count = multiKeysMax * 2 + 10;
    const keys = Array.from({ length: count }, (_, i) => `mk${i}`);
    let sets = '';
    for (let i = 0; i < count; i += 3) sets += storage('set', keys[i]!, i, 0, `v${i}`, ' noreply');
    conn.send(sets);
    await quiet(conn);
    let expected = '';
    for (let i = 0; i < count; i += 3) expected += value(keys[i]!, i, `v${i}`);
    await conn.expect(`get ${keys.join(' ')}\r\n`, `${expected}END\r\n`);
    conn.end();
  });

  it('answers 10,000 pipelined requests that need no command, in order, in one write each', async () => {
    const conn = new Conn(h.port);
    const kinds: [string, string][] = [
      ['version\r\n', 'VERSION 1.6.0-catena-test\r\n'],
      ['verbosity 1\r\n', 'OK\r\n'],
      ['bogus\r\n', 'ERROR\r\n'],
      ['verbosity 1 noreply\r\n', ''],
      ['stats items\r\n', 'END\r\n'],
      [storage('set', 'many', 0, 0, 'x', ' noreply'), ''],
    ];
    const mixed: [string, string][] = Array.from({ length: 10_000 }, (_, i) => kinds[i % kinds.length]!);
    for (const run of [...kinds.map((kind) => Array<[string, string]>(10_000).fill(kind)), mixed]) {
      run.push(['version\r\n', 'VERSION 1.6.0-catena-test\r\n']);
      await conn.expect(run.map(([request]) => request).join(''), run.map(([, reply]) => reply).join(''));
    }
    assert.deepEqual(h.errorLogs, []);
    conn.end();
  });

  it('sends all the native commands of a request before those of the next (an in-order router)', async () => {
    const sent: string[] = [];
    const local = await startServer((router) => ({
      inOrder: true,
      send<C extends CommandName>(name: C, request: RequestInit<C>): Promise<ReplyOf<C>> {
        sent.push(name);
        return router.send(name, request);
      },
      close: () => router.close(),
    }));
    const conn = new Conn(local.port);
    const keys = Array.from({ length: multiKeysMax * 2 + 1 }, (_, i) => `so${i}`);
    await conn.expect(
      `get ${keys.join(' ')}\r\n${storage('set', 'so0', 0, 0, 'v')}gat 0 so0 so1\r\nget so0\r\n`,
      `END\r\nSTORED\r\n${value('so0', 0, 'v')}END\r\n${value('so0', 0, 'v')}END\r\n`,
    );
    assert.deepEqual(sent, ['mget', 'mget', 'mget', 'set', 'expire', 'expire', 'mget']);
    conn.end();
    await local.close();
  });

  it('bounds the reads it starts for a client that does not read its replies', async () => {
    const mgets = { running: 0, most: 0, started: 0 };
    const local = await startServer(
      (router) => ({
        inOrder: true,
        send<C extends CommandName>(name: C, request: RequestInit<C>): Promise<ReplyOf<C>> {
          if (name !== 'mget') return router.send(name, request);
          mgets.started += 1;
          mgets.running += 1;
          mgets.most = Math.max(mgets.most, mgets.running);
          return router.send(name, request).finally(() => (mgets.running -= 1));
        },
        close: () => router.close(),
      }),
      { itemBytesMax: 8 << 20 },
    );
    const big = Buffer.alloc(4 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 12)) & 0xff;
    const gets = 100;
    const socket = connect({ host: '127.0.0.1', port: local.port });
    socket.on('error', () => undefined);
    // No 'data' listener yet: the client reads nothing beyond its stream's small buffer.
    socket.write(Buffer.concat([Buffer.from(`set big 0 0 ${big.length}\r\n`), big, Buffer.from('\r\n')]));
    socket.write('get big\r\n'.repeat(gets));
    const deadline = Date.now() + 5_000;
    while (mgets.started === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const startedUnread = mgets.started;
    // The output budget (16 MiB) reserves 1 MiB per read in flight: 17 reads start, and their
    // 68 MiB of replies then fill it (the kernel's socket buffers take far less) until the client reads.
    assert.ok(mgets.most <= 17, `at most 17 reads in flight at once (${mgets.most})`);
    assert.ok(startedUnread <= 17, `reads started while the client read nothing: ${startedUnread}`);
    const check = streamCheck(
      Buffer.from('STORED\r\n'),
      Buffer.concat([Buffer.from(`VALUE big 0 ${big.length}\r\n`), big, Buffer.from('\r\nEND\r\n')]),
      gets,
    );
    socket.on('data', (chunk: Buffer) => check.push(chunk));
    const readDeadline = Date.now() + 20_000;
    while (!check.complete() && check.ok() && Date.now() < readDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(check.ok(), 'every reply is intact and in order');
    assert.ok(check.complete(), `all ${gets} replies arrived (${check.received()} bytes)`);
    assert.equal(mgets.started, gets);
    assert.ok(mgets.most <= 17, `at most 17 reads in flight at once (${mgets.most})`);
    assert.deepEqual(local.errorLogs, []);
    socket.destroy();
    await local.close();
  });

  it('drains the requests already read, then closes', async () => {
    const local = await startServer();
    const conn = new Conn(local.port);
    await conn.expect('version\r\n', 'VERSION 1.6.0-catena-test\r\n');
    const [session] = local.sessions;
    conn.send(`${storage('set', 'dr', 0, 0, 'v')}get dr\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await session!.drain();
    conn.send('get dr\r\n'); // not read any more
    await session!.close(1_000);
    assert.equal(await conn.waitClosed(), `STORED\r\n${value('dr', 0, 'v')}END\r\n`);
    await local.close();
  });
});

/** Checks a byte stream, chunk by chunk, against `prefix` then `count` copies of `unit`, holding none of it. */
function streamCheck(prefix: Buffer, unit: Buffer, count: number) {
  const total = prefix.length + unit.length * count;
  let position = 0;
  let ok = true;
  return {
    push(chunk: Buffer): void {
      let offset = 0;
      while (ok && offset < chunk.length) {
        if (position >= total) {
          ok = false;
          return;
        }
        const [source, at] =
          position < prefix.length ? [prefix, position] : [unit, (position - prefix.length) % unit.length];
        const n = Math.min(chunk.length - offset, source.length - at);
        if (!chunk.subarray(offset, offset + n).equals(source.subarray(at, at + n))) ok = false;
        offset += n;
        position += n;
      }
    },
    ok: () => ok,
    complete: () => position === total,
    received: () => position,
  };
}

/** A router as a cluster's can be: not in order, each command run after a random 0-5 ms delay. */
function shuffled(router: CommandRouter, stats: { running: number; most: number }): CommandRouter {
  return {
    inOrder: false,
    send<C extends CommandName>(name: C, request: RequestInit<C>): Promise<ReplyOf<C>> {
      stats.running += 1;
      stats.most = Math.max(stats.most, stats.running);
      return new Promise((resolve) => setTimeout(resolve, Math.random() * 5))
        .then(() => router.send(name, request))
        .finally(() => (stats.running -= 1));
    },
    close: () => router.close(),
  };
}

describe('memcached session over a router that reorders (a cluster)', () => {
  const stats = { running: 0, most: 0 };
  let h: Harness;
  before(async () => {
    h = await startServer((router) => shuffled(router, stats));
  });
  after(() => h.close());

  it('keeps program order on a key while requests on other keys overlap', async () => {
    for (let round = 0; round < 20; round++) {
      const conn = new Conn(h.port);
      const k = `k${round}`;
      const requests = [
        storage('set', k, 0, 0, 'a'),
        `get ${k}\r\n`,
        storage('append', k, 0, 0, 'b'),
        `get ${k}\r\n`,
        `get other${round} also${round}\r\n`,
        storage('set', `n${round}`, 0, 0, '1'),
        `incr n${round} 1\r\n`,
        `incr n${round} 1\r\n`,
        `get n${round} ${k}\r\n`,
        storage('prepend', k, 0, 0, '<', ' noreply'),
        `gat 100 ${k}\r\n`,
        `delete ${k}\r\n`,
        `get ${k}\r\n`,
        storage('add', k, 0, 0, 'z'),
        `stats items\r\n`,
        `get ${k}\r\n`,
        'flush_all\r\n',
        `get ${k} n${round}\r\n`,
      ];
      const expected = [
        'STORED\r\n',
        `${value(k, 0, 'a')}END\r\n`,
        'STORED\r\n',
        `${value(k, 0, 'ab')}END\r\n`,
        'END\r\n',
        'STORED\r\n',
        '2\r\n',
        '3\r\n',
        `${value(`n${round}`, 0, '3')}${value(k, 0, 'ab')}END\r\n`,
        `${value(k, 0, '<ab')}END\r\n`,
        'DELETED\r\n',
        'END\r\n',
        'STORED\r\n',
        'END\r\n',
        `${value(k, 0, 'z')}END\r\n`,
        'OK\r\n',
        'END\r\n',
      ];
      await conn.expect(requests.join(''), expected.join(''));
      conn.end();
    }
  });

  it('runs requests on different keys at once', async () => {
    stats.most = 0;
    const conn = new Conn(h.port);
    let requests = '';
    let expected = '';
    for (let i = 0; i < 50; i++) {
      requests += `${storage('set', `w${i}`, i, 0, `${i}`)}get w${i}\r\n`;
      expected += `STORED\r\n${value(`w${i}`, i, `${i}`)}END\r\n`;
    }
    await conn.expect(requests, expected);
    assert.ok(stats.most > 1, `requests overlapped (at most ${stats.most} at once)`);
    conn.end();
  });

  it('answers every earlier request before closing on quit', async () => {
    for (let round = 0; round < 10; round++) {
      const conn = new Conn(h.port);
      const k = `quit${round}`;
      conn.send(
        `${storage('set', k, 0, 0, '1')}get ${k}\r\n${storage('append', k, 0, 0, '2')}get ${k}\r\nquit\r\nget ${k}\r\n`,
      );
      assert.equal(
        await conn.waitClosed(),
        `STORED\r\n${value(k, 0, '1')}END\r\nSTORED\r\n${value(k, 0, '12')}END\r\n`,
      );
    }
  });

  it('runs a read after every earlier write of its connection, whatever its keys', async () => {
    // Two connections each write one key, then read the other's (store buffering): if each read
    // followed only the writes of its own key, both reads could run before both writes.
    for (let round = 0; round < 30; round++) {
      const one = new Conn(h.port);
      const two = new Conn(h.port);
      const [a, b] = [`sb-a${round}`, `sb-b${round}`];
      const [first, second] = await Promise.all([
        retrieve(one, `${storage('set', a, 0, 0, '1')}get ${b}\r\n`),
        retrieve(two, `${storage('set', b, 0, 0, '1')}get ${a}\r\n`),
      ]);
      assert.ok(first.includes('VALUE') || second.includes('VALUE'), `round ${round}: ${first} / ${second}`);
      one.end();
      two.end();
    }
  });

  it('orders a too-large set before a later read of its key', async () => {
    const conn = new Conn(h.port);
    await conn.expect(storage('set', 'tl', 0, 0, 'old'), 'STORED\r\n');
    await conn.expect(
      `${storage('set', 'tl', 0, 0, 'x'.repeat(itemBytesMax + 1))}get tl\r\n`,
      'SERVER_ERROR object too large for cache\r\nEND\r\n',
    );
    conn.end();
  });
});
