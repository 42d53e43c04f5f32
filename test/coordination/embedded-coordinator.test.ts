// The embedded coordinator: the shared contract, plus what only it has — the data file that
// keeps persistent znodes across a supervisor restart, and a server that survives bad input.

import assert from 'node:assert/strict';
import { embeddedFrameBytesMax } from '../../src/core/limits.js';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { connectCoordinator } from '../../src/coordination/connect.js';
import { anyVersion, type Coordinator, type SessionState } from '../../src/coordination/coordinator.js';
import { connectEmbedded, EmbeddedCoordinatorServer } from '../../src/coordination/embedded-coordinator.js';
import {
  coordinatorProof,
  decodeClientMessage,
  decodeServerMessage,
  encodeMessage,
  LineSplitter,
  type ClientMessage,
} from '../../src/coordination/embedded-wire.js';
import { CatenaError } from '../../src/core/errors.js';
import type { Logger, LogLevel } from '../../src/core/log.js';
import { bytes, tempDir, text } from '../helpers/tmp.js';
import { contractSessionTimeoutMs, coordinatorContract, eventually, rejectsWith } from './coordinator-contract.js';

const sessionTimeoutMsMin = 500;
const sessionTimeoutMsMax = 10_000;

function capturingLogger(): Logger & { lines: Array<{ level: LogLevel; message: string }> } {
  const lines: Array<{ level: LogLevel; message: string }> = [];
  return { lines, log: (level, message) => void lines.push({ level, message }) };
}

function startServer(options: { dataFile?: string; port?: number; log?: Logger } = {}) {
  return EmbeddedCoordinatorServer.start({
    port: options.port ?? 0,
    dataFile: options.dataFile,
    sessionTimeoutMsMin,
    sessionTimeoutMsMax,
    log: options.log ?? capturingLogger(),
  });
}

coordinatorContract('embedded', async () => {
  const server = await startServer();
  return {
    address: { host: server.host, port: server.port },
    urlFor: (address) => `embedded://${address.host}:${address.port}`,
    stop: () => server.stop(),
  };
});

describe('embedded coordinator with a cluster secret', () => {
  const secret = Buffer.from('the cluster secret, 32 bytes ok!');
  const startSecured = (log: Logger = capturingLogger()) =>
    EmbeddedCoordinatorServer.start({ port: 0, sessionTimeoutMsMin, sessionTimeoutMsMax, log, secret });

  it('serves a client that proves the secret, and refuses one without it or with another, at once', async () => {
    const log = capturingLogger();
    const server = await EmbeddedCoordinatorServer.start({
      port: 0,
      sessionTimeoutMsMin,
      sessionTimeoutMsMax,
      log,
      secret,
    });
    try {
      const member = await connectEmbedded(server.url, { sessionTimeoutMs: contractSessionTimeoutMs, secret });
      await member.create('/chain', bytes('epoch 3'), 'persistent');
      for (const other of [undefined, Buffer.from('another secret, another cluster')]) {
        const startedMs = Date.now();
        await assert.rejects(
          connectEmbedded(server.url, {
            sessionTimeoutMs: contractSessionTimeoutMs,
            connectTimeoutMs: 5_000,
            ...(other === undefined ? {} : { secret: other }),
          }),
          /refused this client: this coordinator needs the cluster secret/,
        );
        assert.ok(Date.now() - startedMs < 4_000, 'refused at once, not after the connect timeout');
      }
      assert.ok(log.lines.some((line) => /did not prove the cluster secret/.test(line.message)));
      assert.equal(text((await member.get('/chain'))!.data), 'epoch 3');
      await member.close();
    } finally {
      await server.stop();
    }
  });

  it('a connection without a hello is closed in time, and may not send more than a few KiB first', async () => {
    const server = await startSecured();
    try {
      const open = async (): Promise<{ socket: Socket; closed: Promise<void> }> => {
        const socket = netConnect({ host: server.host, port: server.port });
        socket.on('error', () => undefined);
        socket.resume(); // read (and drop) the challenge, so the close is seen
        const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        return { socket, closed };
      };
      const silent = await open();
      const startedMs = Date.now();
      await silent.closed;
      assert.ok(Date.now() - startedMs < 8_000, 'closed at the hello deadline');
      const talkative = await open();
      talkative.socket.write(Buffer.alloc(8 * 1024, 'a')); // no newline, no hello
      await talkative.closed;
    } finally {
      await server.stop();
    }
  });

  it('a raw hello without a proof, or with one for another challenge, gets no session', async () => {
    const server = await startSecured();
    try {
      for (const proof of [undefined, coordinatorProof(secret, Buffer.alloc(32, 1).toString('base64'))]) {
        const socket = netConnect({ host: server.host, port: server.port });
        const splitter = new LineSplitter();
        const messages: string[] = [];
        socket.on('data', (chunk: Buffer) => {
          const split = splitter.push(chunk);
          if (!('error' in split)) messages.push(...split.lines);
        });
        const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
        socket.on('error', () => undefined);
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        socket.write(encodeMessage({ t: 'hello', timeoutMs: 1_000, ...(proof === undefined ? {} : { proof }) }));
        await closed;
        const types = messages.map((line) => decodeServerMessage(line)?.t);
        assert.deepEqual(types, ['challenge', 'refused']);
      }
    } finally {
      await server.stop();
    }
  });
});

describe('embedded coordinator', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const client = async (url: string, sessionTimeoutMs = contractSessionTimeoutMs): Promise<Coordinator> => {
    const coordinator = await connectEmbedded(url, { sessionTimeoutMs });
    cleanups.push(() => coordinator.close());
    return coordinator;
  };

  it('keeps persistent znodes and sequence counters across a restart; ephemerals and sessions are gone', async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const dataFile = join(dir.path, 'coordinator.json');
    const first = await startServer({ dataFile });
    const c = await client(first.url);
    await c.ensurePath('/catena/c1/chains');
    await c.create('/catena/c1/chains/c0', bytes('{"epoch":1}'), 'persistent');
    await c.set('/catena/c1/chains/c0', bytes('{"epoch":2}'), 0);
    await c.create('/catena/c1/member', bytes('n1'), 'ephemeral');
    const seq = await c.create('/catena/c1/lock-', bytes(''), 'persistent-sequential');
    const states: SessionState[] = [];
    c.onStateChange((state) => states.push(state));
    await first.stop();
    assert.ok(existsSync(dataFile));
    assert.deepEqual(readdirSync(dir.path), ['coordinator.json'], 'no temporary file is left behind');

    const second = await startServer({ dataFile, port: first.port });
    cleanups.push(() => second.stop());
    await eventually(() => c.state === 'expired', 'the old session learns it is gone after the restart');
    assert.deepEqual(states, ['disconnected', 'expired']);
    const d = await client(second.url);
    assert.deepEqual(await d.get('/catena/c1/chains/c0'), { data: bytes('{"epoch":2}'), version: 1 });
    assert.equal(await d.exists('/catena/c1/member'), undefined, 'ephemerals are never persisted');
    assert.deepEqual(await d.children('/catena/c1'), ['chains', seq.slice(seq.lastIndexOf('/') + 1)]);
    const next = await d.create('/catena/c1/lock-', bytes(''), 'persistent-sequential');
    assert.ok(next > seq, `${next} continues after ${seq}`);
    assert.deepEqual(second.sessionIds(), [(d as unknown as { session: { id: string } }).session.id]);
  });

  it('refuses to start on a corrupt data file', async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const dataFile = join(dir.path, 'coordinator.json');
    writeFileSync(dataFile, '{"format":"something else"}');
    await assert.rejects(
      startServer({ dataFile }),
      (error: unknown) => error instanceof CatenaError && error.code === 'ERR_STORAGE',
    );
  });

  it('closes a connection that sends bad input, logs it, and keeps serving everyone else', async () => {
    const log = capturingLogger();
    const server = await startServer({ log });
    cleanups.push(() => server.stop());
    const healthy = await client(server.url);
    await healthy.create('/still-here', bytes('yes'), 'persistent');
    const hostile = [
      'this is not json\n',
      '{"t":"req","id":1,"op":{"kind":"get","path":"/","watch":false}}\n', // before hello
      '{"t":"hello","timeoutMs":"soon"}\n',
      '[1,2,3]\n',
      '{"t":"hello","timeoutMs":1000}\n{"t":"req","id":"x","op":{}}\n',
      '{"t":"hello","timeoutMs":1000}\n{"t":"req","id":2,"op":{"kind":"create","path":"/x","data":"%%%","mode":"persistent"}}\n',
      Buffer.alloc(embeddedFrameBytesMax + 10, 'a'),
      '\u0000\u00ff\n',
    ];
    for (const input of hostile) await assertClosedAfter(server.port, input);
    // Logged, but at most once per 10 s (the rest are counted in the next line): a stranger's bad
    // input must not fill the disk with log lines.
    assert.equal(log.lines.filter((line) => line.level === 'error').length, 1, 'the first rejection is logged');
    assert.deepEqual(await healthy.get('/still-here'), { data: bytes('yes'), version: 0 });
    assert.equal(healthy.state, 'connected');
    const fresh = await client(server.url);
    assert.equal(text((await fresh.get('/still-here'))?.data), 'yes');
  });

  it('expireSession ends a session at once: the client sees expired, its ephemerals go', async () => {
    const server = await startServer();
    cleanups.push(() => server.stop());
    const c = await client(server.url, 5_000);
    const observer = await client(server.url);
    await c.create('/mine', bytes(''), 'ephemeral');
    assert.equal(server.sessionIds().length, 2);
    const [id] = server.sessionIds();
    server.expireSession(id!);
    await eventually(() => c.state === 'expired', 'the client is told');
    assert.equal(await observer.exists('/mine'), undefined);
    await rejectsWith(c.set('/mine', bytes(''), anyVersion), 'session-expired');
  });

  it('grants a session timeout within the server bounds', async () => {
    const server = await startServer();
    cleanups.push(() => server.stop());
    assert.equal((await client(server.url, 100)).sessionTimeoutMs, sessionTimeoutMsMin);
    assert.equal((await client(server.url, 60_000)).sessionTimeoutMs, sessionTimeoutMsMax);
  });

  it('rejects bad URLs and gives up on an unreachable server with connection-loss', async () => {
    const invalid = (error: unknown) => error instanceof CatenaError && error.code === 'ERR_INVALID_ARGUMENT';
    await assert.rejects(connectCoordinator('http://127.0.0.1:1', { sessionTimeoutMs: 1000 }), invalid);
    await assert.rejects(connectCoordinator('embedded://127.0.0.1', { sessionTimeoutMs: 1000 }), invalid);
    await assert.rejects(connectCoordinator('embedded://127.0.0.1:1/path', { sessionTimeoutMs: 1000 }), invalid);
    const server = await startServer();
    const port = server.port;
    await server.stop();
    await rejectsWith(
      connectCoordinator(`embedded://127.0.0.1:${port}`, { sessionTimeoutMs: 1000, connectTimeoutMs: 300 }),
      'connection-loss',
    );
  });
});

describe('embedded coordinator wire', () => {
  const messages: ClientMessage[] = [
    { t: 'hello', timeoutMs: 1000 },
    { t: 'hello', timeoutMs: 1000, session: 'ab', password: 'cd', ack: 3 },
    {
      t: 'req',
      id: 1,
      op: { kind: 'create', path: '/ü/x', data: Buffer.from([0, 10, 255]).toString('base64'), mode: 'ephemeral' },
    },
    { t: 'req', id: 2, op: { kind: 'multi', ops: [{ kind: 'check', path: '/a', version: -1 }] } },
    { t: 'ping', ack: 0 },
    { t: 'close', id: 3 },
  ];

  it('splits lines correctly at every split point of the stream', () => {
    const stream = Buffer.from(messages.map(encodeMessage).join(''));
    for (let split = 0; split <= stream.length; split += 1) {
      const splitter = new LineSplitter();
      const lines: string[] = [];
      for (const part of [stream.subarray(0, split), stream.subarray(split)]) {
        const result = splitter.push(part);
        assert.ok('lines' in result);
        lines.push(...result.lines);
      }
      assert.deepEqual(lines.map(decodeClientMessage), messages, `split at ${split}`);
    }
  });

  it('refuses a line longer than the limit before buffering it', () => {
    const splitter = new LineSplitter(8);
    assert.deepEqual(splitter.push(Buffer.from('12345678\n')), { lines: ['12345678'] });
    assert.deepEqual(splitter.push(Buffer.from('12345')), { lines: [] });
    assert.deepEqual(splitter.push(Buffer.from('6789')), { error: 'too-long' });
  });

  it('rejects malformed and ill-typed messages', () => {
    const bad = [
      'not json',
      'null',
      '"hello"',
      '{"t":"hello","timeoutMs":0}',
      '{"t":"hello","timeoutMs":1000,"session":"a"}',
      '{"t":"req","id":1.5,"op":{"kind":"get","path":"/","watch":false}}',
      '{"t":"req","id":1,"op":{"kind":"get","path":"/"}}',
      '{"t":"req","id":1,"op":{"kind":"set","path":"/","data":"a","version":0}}',
      '{"t":"req","id":1,"op":{"kind":"delete","path":"/","version":-2}}',
      '{"t":"req","id":1,"op":{"kind":"create","path":"/","data":"","mode":"forever"}}',
      '{"t":"req","id":1,"op":{"kind":"multi","ops":[{"kind":"get","path":"/","watch":false}]}}',
      '{"t":"ping"}',
      '{"t":"welcome"}',
    ];
    for (const line of bad) assert.equal(decodeClientMessage(line), undefined, line);
    assert.equal(decodeServerMessage('{"t":"res","id":1,"ok":false,"code":"oops","message":"x"}'), undefined);
    assert.equal(decodeServerMessage('{"t":"event","seq":1,"type":"renamed","path":"/"}'), undefined);
    assert.deepEqual(decodeServerMessage('{"t":"res","id":1,"ok":true,"result":["a"]}'), {
      t: 'res',
      id: 1,
      ok: true,
      result: ['a'],
    });
  });
});

/** Sends raw bytes and waits until the server closes the connection. */
async function assertClosedAfter(port: number, input: string | Buffer): Promise<void> {
  const socket: Socket = netConnect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined); // a reset is one way of being closed
  socket.on('data', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(input);
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5_000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  socket.destroy();
  assert.ok(closed, `the server closes the connection after ${JSON.stringify(String(input).slice(0, 60))}`);
}
