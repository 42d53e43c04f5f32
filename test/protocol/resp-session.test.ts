// The RESP session (src/protocol/resp/session.ts) on a live node's RESP port: reply order,
// inline commands, HELLO 3, QUIT, protocol errors that close only their own connection, a
// hostile bulk length, and byte-by-byte delivery. Then the session on its own, over a router
// that answers out of order (as a cluster can), to check a connection's program order.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { execute } from '../../src/commands/execute.js';
import { commandByName } from '../../src/commands/index.js';
import type { CommandContext, NodeFacts } from '../../src/commands/index.js';
import { ManualClock } from '../../src/core/clock.js';
import { CatenaError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { RespSession } from '../../src/protocol/resp/session.js';
import type { CommandRouter } from '../../src/protocol/command-router.js';
import { localRouter } from '../../src/server/router.js';
import { CatenaNode } from '../../src/server/node.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { Conn } from '../helpers/conn.js';
import { tempDir } from '../helpers/tmp.js';

const bulk = (value: string) => `$${Buffer.byteLength(value, 'latin1')}\r\n${value}\r\n`;
const command = (...words: string[]) => `*${words.length}\r\n${words.map(bulk).join('')}`;

describe('RESP session on a node', () => {
  const dir = tempDir();
  let node: CatenaNode;
  let port: number;

  before(async () => {
    node = await CatenaNode.start({ dataDir: dir.path, port: 0, respPort: 0, durability: 'memory' });
    port = node.respPort!;
  });
  after(async () => {
    await node.stop();
    dir.remove();
  });

  it('answers a pipeline in order, in one write', async () => {
    const conn = new Conn(port);
    const requests = [
      command('SET', 'p1', 'a'),
      command('GET', 'p1'),
      command('APPEND', 'p1', 'bc'),
      command('GET', 'p1'),
      command('DEL', 'p1', 'p1', 'nope'),
      command('GET', 'p1'),
      command('INCR', 'p2'),
      command('INCRBY', 'p2', '41'),
    ];
    await conn.expect(requests.join(''), '+OK\r\n$1\r\na\r\n:3\r\n$3\r\nabc\r\n:1\r\n$-1\r\n:1\r\n:42\r\n');
    conn.end();
  });

  it('takes inline commands, with quotes', async () => {
    const conn = new Conn(port);
    await conn.expect('SET inl "hello world"\r\n', '+OK\r\n');
    await conn.expect('GET inl\n', '$11\r\nhello world\r\n');
    await conn.expect('\r\n', ''); // a blank line is no command
    await conn.expect('PING\r\n', '+PONG\r\n');
    conn.end();
  });

  it('answers errors in Redis words and keeps the connection', async () => {
    const conn = new Conn(port);
    await conn.expect(
      command('NOSUCH', 'a', 'b'),
      "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n",
    );
    await conn.expect(command('GET'), "-ERR wrong number of arguments for 'get' command\r\n");
    await conn.expect(command('SET', 'e1', 'notanumber'), '+OK\r\n');
    await conn.expect(command('INCR', 'e1'), '-ERR value is not an integer or out of range\r\n');
    await conn.expect(command('SET', 'e1', 'v', 'EX', '0'), "-ERR invalid expire time in 'set' command\r\n");
    await conn.expect(command('SET', 'e1', 'v', 'NX', 'XX'), '-ERR syntax error\r\n');
    await conn.expect(command('SELECT', '1'), '-ERR DB index is out of range\r\n');
    await conn.expect(command('SELECT', '0'), '+OK\r\n');
    await conn.expect(command('PING'), '+PONG\r\n');
    conn.end();
  });

  it('switches to RESP3 with HELLO 3 and answers nulls and maps in it', async () => {
    const conn = new Conn(port);
    conn.send(command('HELLO', '3'));
    const hello = await conn.read(20);
    assert.match(hello, /^%7\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n/);
    await conn.expect(command('GET', 'missing-r3'), '_\r\n');
    await conn.expect(command('HELLO', '4'), '-NOPROTO unsupported protocol version\r\n');
    conn.send(command('HELLO', '2'));
    assert.match(await conn.read(20), /^\*14\r\n/);
    await conn.expect(command('GET', 'missing-r3'), '$-1\r\n');
    conn.end();
  });

  it('keeps CLIENT SETNAME per connection', async () => {
    const a = new Conn(port);
    const b = new Conn(port);
    await a.expect(command('CLIENT', 'SETNAME', 'alpha'), '+OK\r\n');
    await a.expect(command('CLIENT', 'GETNAME'), '$5\r\nalpha\r\n');
    await b.expect(command('CLIENT', 'GETNAME'), '$-1\r\n');
    await a.expect(
      command('CLIENT', 'SETNAME', 'has space'),
      '-ERR Client names cannot contain spaces, newlines or special characters.\r\n',
    );
    a.end();
    b.end();
  });

  it('answers QUIT with +OK, closes, and runs nothing sent after it', async () => {
    const conn = new Conn(port);
    conn.send(command('QUIT') + command('SET', 'after-quit', 'x'));
    assert.equal(await conn.read(5), '+OK\r\n');
    await conn.waitClosed();
    const check = new Conn(port);
    await check.expect(command('EXISTS', 'after-quit'), ':0\r\n');
    check.end();
  });

  it('closes a connection after a protocol error, answering it first; others carry on', async () => {
    const bystander = new Conn(port);
    await bystander.expect(command('SET', 'bystander', '1'), '+OK\r\n');
    const bad = new Conn(port);
    bad.send('*1\r\n$abc\r\n');
    assert.equal(await bad.read(36), '-ERR Protocol error: invalid bulk length\r\n');
    await bad.waitClosed();
    await bystander.expect(command('GET', 'bystander'), '$1\r\n1\r\n');
    bystander.end();
  });

  it('refuses a hostile bulk length before buffering it', async () => {
    const conn = new Conn(port);
    conn.send('*1\r\n$99999999999\r\n');
    assert.equal(await conn.read(40), '-ERR Protocol error: invalid bulk length\r\n');
    await conn.waitClosed();
  });

  it('answers a request delivered one byte at a time', async () => {
    const conn = new Conn(port);
    const request = Buffer.from(command('SET', 'slow', 'v\r\nx') + command('GET', 'slow'), 'latin1');
    for (const byte of request) {
      conn.send(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(await conn.read(15), '+OK\r\n$4\r\nv\r\nx\r\n');
    conn.end();
  });

  it('stores and returns every byte value', async () => {
    const conn = new Conn(port);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await conn.expect(
      Buffer.concat([Buffer.from('*3\r\n$3\r\nSET\r\n$3\r\nbin\r\n$256\r\n'), all, Buffer.from('\r\n')]),
      '+OK\r\n',
    );
    conn.send(command('GET', 'bin'));
    const reply = Buffer.from(await conn.read(256 + 8), 'latin1');
    assert.deepEqual(reply, Buffer.concat([Buffer.from('$256\r\n'), all, Buffer.from('\r\n')]));
    conn.end();
  });

  it('answers 5000 pipelined PINGs in one write, in order (no re-entry per reply)', async () => {
    const conn = new Conn(port);
    await conn.expect('PING\r\n'.repeat(5000), '+PONG\r\n'.repeat(5000));
    conn.end();
  });

  it('answers every command before a pipelined QUIT', async () => {
    const conn = new Conn(port);
    conn.send(command('SET', 'q1', '1') + command('GET', 'q1') + command('QUIT'));
    assert.equal(await conn.read(18), '+OK\r\n$1\r\n1\r\n+OK\r\n');
    await conn.waitClosed();
  });

  it('keeps order around an MSET too big for one request, and KEYS', async () => {
    const conn = new Conn(port);
    const pairs = Array.from({ length: 1100 }, (_, i) => [`f${i}`, 'x']).flat();
    const requests = [
      command('SET', 'mk', 'old'),
      command('MSET', ...pairs, 'mk', 'new'),
      command('GET', 'mk'),
      command('KEYS', 'f10?'),
      command('FLUSHALL'),
      command('GET', 'mk'),
      command('DBSIZE'),
    ];
    conn.send(requests.join(''));
    const keys = Array.from({ length: 10 }, (_, i) => `f10${i}`);
    const keysReply = `*${keys.length}\r\n` + keys.map((key) => `$${key.length}\r\n${key}\r\n`).join('');
    // The replies may come in several writes (KEYS yields between pages): wait for all of them.
    const reply = await conn.read(
      '+OK\r\n+OK\r\n$3\r\nnew\r\n'.length + keysReply.length + '+OK\r\n$-1\r\n:0\r\n'.length,
    );
    assert.ok(reply.startsWith('+OK\r\n+OK\r\n$3\r\nnew\r\n*10\r\n'), reply.slice(0, 80));
    assert.ok(reply.endsWith('+OK\r\n$-1\r\n:0\r\n'), reply.slice(-40));
    assert.equal(reply.match(/\$\d+\r\nf10\d\r\n/g)?.length, keys.length, keysReply);
    conn.end();
  });

  it('refuses extra arguments to subcommands as Redis does', async () => {
    const conn = new Conn(port);
    await conn.expect(
      command('COMMAND', 'COUNT', 'x'),
      "-ERR wrong number of arguments for 'command|count' command\r\n",
    );
    await conn.expect(command('CLUSTER', 'MYID', 'x'), "-ERR wrong number of arguments for 'cluster|myid' command\r\n");
    conn.end();
  });

  it('pages through keys with SCAN and matches KEYS patterns', async () => {
    const conn = new Conn(port);
    await conn.expect(command('FLUSHALL'), '+OK\r\n');
    const names = Array.from({ length: 25 }, (_, i) => `scan:${String(i).padStart(2, '0')}`);
    await conn.expect(command('MSET', ...names.flatMap((name) => [name, 'x']), 'other', 'y'), '+OK\r\n');
    const seen: string[] = [];
    let cursor = '0';
    for (let pages = 0; pages < 20; pages++) {
      conn.send(command('SCAN', cursor, 'MATCH', 'scan:*', 'COUNT', '7'));
      const reply = await conn.read(1);
      const match = /^\*2\r\n\$\d+\r\n(\d+)\r\n\*(\d+)\r\n/.exec(reply);
      assert.ok(match, reply);
      for (const key of reply.matchAll(/\$\d+\r\n(scan:\d+)\r\n/g)) seen.push(key[1]!);
      cursor = match[1]!;
      if (cursor === '0') break;
    }
    assert.equal(cursor, '0');
    assert.deepEqual(seen.sort(), names);
    conn.send(command('KEYS', 'scan:1[0-2]'));
    assert.equal(await conn.read(1), '*3\r\n$7\r\nscan:10\r\n$7\r\nscan:11\r\n$7\r\nscan:12\r\n');
    await conn.expect(command('SCAN', '123456789'), '-ERR invalid cursor\r\n');
    await conn.expect(command('DBSIZE'), ':26\r\n');
    conn.end();
  });
});

/** What the reordering router saw: each request's start and end, in the order they happened. */
const trace: { event: 'start' | 'end'; id: number; write: boolean }[] = [];
let traceIds = 0;

/** Runs commands against a MemoryStore, like a standalone node, then delays each reply randomly. */
function shuffledRouter(): CommandRouter {
  const clock = new ManualClock(1_700_000_000_000);
  const node = {
    nodeId: 'test',
    durability: 'memory',
    startedAtMs: 0,
    version: 'test',
    connections: () => ({ open: 0, total: 0 }),
    commandStats: () => [],
    protocolErrors: () => 0,
    topology: () => ({}),
    nodeStatus: () => ({}),
  } as unknown as NodeFacts;
  const context: CommandContext = { store: new MemoryStore(clock), clock, valueBytesMax: 1 << 20, node };
  const local = localRouter((request) => execute(context, request, false));
  return {
    inOrder: false,
    // The command runs only after a random delay, so commands sent together finish in any order
    // unless the session waits.
    send: (name, request) => {
      const id = traceIds++;
      const write = commandByName(name).mutates;
      trace.push({ event: 'start', id, write });
      return new Promise((resolve) => setTimeout(resolve, Math.random() * 5))
        .then(() => local.send(name, request))
        .finally(() => trace.push({ event: 'end', id, write }));
    },
    close: () => Promise.resolve(),
  };
}

/** A server whose every connection is a RESP session over `router` (no node behind it). */
async function sessionServer(
  router: CommandRouter,
  onSession: (session: RespSession) => void = () => undefined,
): Promise<{ server: Server; port: number }> {
  let ids = 1;
  const server = createServer((socket) => {
    onSession(
      new RespSession(socket, {
        router,
        log: silentLogger,
        nextClientId: () => ids++,
        recordCommand: () => undefined,
        recordProtocolError: () => undefined,
        server: {
          nodeId: 'test',
          info: () => Promise.resolve([]),
          shards: () => [],
          saveCursor: () => 0n,
          loadCursor: () => undefined,
        },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

describe('RESP session over a router that reorders (a cluster)', () => {
  let server: Server;
  let port: number;

  before(async () => {
    ({ server, port } = await sessionServer(shuffledRouter()));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('keeps program order on a key while reads of other keys overlap', async () => {
    for (let round = 0; round < 20; round++) {
      const conn = new Conn(port);
      const key = `k${round}`;
      const requests = [
        command('SET', key, 'a'),
        command('GET', key),
        command('APPEND', key, 'b'),
        command('GET', key),
        command('GET', `other${round}`),
        command('INCR', `n${round}`),
        command('INCR', `n${round}`),
        command('GET', `n${round}`),
        command('DEL', key),
        command('EXISTS', key),
        command('MSET', key, 'z', `n${round}`, '10'),
        command('MGET', key, `n${round}`),
      ];
      const expected =
        '+OK\r\n$1\r\na\r\n:2\r\n$2\r\nab\r\n$-1\r\n:1\r\n:2\r\n$1\r\n2\r\n:1\r\n:0\r\n+OK\r\n*2\r\n$1\r\nz\r\n$2\r\n10\r\n';
      await conn.expect(requests.join(''), expected);
      conn.end();
    }
  });
});

describe('RESP session closed by a stopping node', () => {
  let server: Server;
  let port: number;
  const sessions: RespSession[] = [];
  /** Relays in flight; the router's close() fails them, as a stopping node's does. */
  const inFlight: ((error: unknown) => void)[] = [];
  const router: CommandRouter = {
    inOrder: false,
    send: () => new Promise((_, reject) => inFlight.push(reject)),
    close: async () => {
      for (const reject of inFlight.splice(0)) reject(new CatenaError('ERR_UNAVAILABLE', 'the node is stopping'));
    },
  };

  before(async () => {
    ({ server, port } = await sessionServer(router, (session) => sessions.push(session)));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers a relay failed by the router closing before the session closes (past the drain deadline)', async () => {
    const conn = new Conn(port);
    conn.send(command('GET', 'k'));
    while (inFlight.length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    const session = sessions[sessions.length - 1]!;
    void session.drain();
    // As the node's stop does once its drain deadline has passed: the router fails what is in
    // flight, and the sessions close a moment later (two microtask steps: the failure's reply is
    // complete, its write only scheduled).
    for (const reject of inFlight.splice(0)) reject(new CatenaError('ERR_UNAVAILABLE', 'the node is stopping'));
    await null;
    await null;
    await session.close(1000);
    assert.match(await conn.waitClosed(), /^-/, 'the failed relay is answered before the connection closes');
  });
});
