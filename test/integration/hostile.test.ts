// Hostile input against a real `catena server` process, over raw TCP sockets: random bytes,
// absurd length prefixes, frames over the limit, truncated frames, undecodable protobuf, unknown
// commands and slow-loris clients. For each one: the process stays up, a well-behaved client
// connected at the same time keeps getting correct answers, the data written before is
// unchanged, and wherever the protocol promises an error reply the raw socket gets exactly it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client } from '../../src/client/client.js';
import { CatenaError } from '../../src/core/errors.js';
import { frameBytesMax, frameTimeoutMs, valueBytesMaxDefault } from '../../src/core/limits.js';
import { create } from '@bufbuild/protobuf';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  peekRequestId,
  type Response,
} from '../../src/protocol/native/codec.js';
import { GetRequestSchema, PingRequestSchema, PutRequestSchema } from '../../src/protocol/native/gen/catena_pb.js';
import { encodeFrame, FrameDecoder } from '../../src/protocol/native/frame.js';
import { killLeftoverServers, sleep, startServer, withTimeout, type ServerProcess } from '../helpers/server-process.js';
import { tempDir, text } from '../helpers/tmp.js';

const frameLimit = frameBytesMax(valueBytesMaxDefault);
const MiB = 1024 * 1024;

/** A raw TCP connection that decodes whatever the server sends back. */
class RawConnection {
  readonly responses: Response[] = [];
  readonly problems: string[] = [];
  /** Set when the server ended or reset the connection (not when we closed it). */
  closedByPeerAt: number | undefined;
  private closedByUs = false;
  private readonly decoder = new FrameDecoder(64 * MiB);
  private notify: (() => void) | undefined;
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const event of this.decoder.push(chunk)) {
        if (event.kind === 'too-large') {
          this.problems.push(`reply frame of ${event.declaredBytes} bytes`);
          continue;
        }
        const decoded = decodeResponse(event.body);
        if (decoded.ok) this.responses.push(decoded.message);
        else this.problems.push(`undecodable reply: ${decoded.reason}`);
      }
      this.notify?.();
    });
    socket.on('error', () => undefined); // ECONNRESET / EPIPE once the server hangs up
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        if (!this.closedByUs) this.closedByPeerAt = performance.now();
        this.notify?.();
        resolve();
      }),
    );
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return !this.socket.destroyed;
  }

  /** Writes bytes; resolves once they are handed to the kernel (or the socket is gone). */
  write(data: Uint8Array): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(data, () => resolve()));
  }

  /** Waits until at least `count` replies have arrived; fails on timeout or a closed socket. */
  async waitForResponses(count: number, timeoutMs = 10_000): Promise<Response[]> {
    const deadline = performance.now() + timeoutMs;
    while (this.responses.length < count) {
      if (this.socket.destroyed) assert.fail(`connection closed after ${this.responses.length} of ${count} replies`);
      const left = deadline - performance.now();
      if (left <= 0) assert.fail(`only ${this.responses.length} of ${count} replies within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.notify = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.notify = undefined;
    }
    return this.responses;
  }

  /** Closes our side and waits for the socket to be gone. */
  async close(): Promise<void> {
    if (!this.socket.destroyed) {
      this.closedByUs = this.closedByPeerAt === undefined;
      this.socket.destroy();
    }
    await this.closed;
  }
}

/** Deterministic pseudo-random bytes (mulberry32), so a failure reproduces. */
function randomBytesSeeded(seed: number, length: number): Buffer {
  let a = seed >>> 0;
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return out;
}

const frame = (hex: string): Buffer => encodeFrame(Buffer.from(hex.replaceAll(' ', ''), 'hex'));
const pingFrame = (id: number, message: string): Buffer =>
  encodeFrame(encodeRequest(id, { case: 'ping', value: create(PingRequestSchema, { message: Buffer.from(message) }) }));
const putBody = (id: number, key: string, value: Uint8Array): Uint8Array =>
  encodeRequest(id, { case: 'put', value: create(PutRequestSchema, { key: Buffer.from(key), value }) });

function errorOf(response: Response): { id: number; code: string } | { id: number; case: string | undefined } {
  return response.result.case === 'error'
    ? { id: response.id, code: response.result.value.code }
    : { id: response.id, case: response.result.case };
}

/** Resident memory of a process in bytes (Linux), or undefined where /proc is not available. */
function rssBytes(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** A well-behaved client that keeps writing and reading back its own keys, checking each answer. */
class Prober {
  ops = 0;
  readonly errors: string[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly keys: number,
  ) {
    this.loop = this.run();
  }

  static value(i: number): string {
    return `probe-${String(i).padStart(10, '0')}`;
  }

  private async run(): Promise<void> {
    for (let i = 0; this.running; i++) {
      const key = `probe/${i % this.keys}`;
      try {
        await this.client.put(key, Prober.value(i));
        const got = await this.client.get(key);
        if (text(got?.value) !== Prober.value(i))
          this.errors.push(`get ${key}: ${text(got?.value)} instead of ${Prober.value(i)}`);
        this.ops += 1;
      } catch (error) {
        this.errors.push(`${key}: ${error instanceof CatenaError ? error.code : ''} ${String(error)}`);
        await sleep(10);
      }
    }
  }

  /** Stops once at least `minOps` more rounds have been answered (so it really ran alongside). */
  async stop(minOps = 3): Promise<{ ops: number; errors: string[] }> {
    const target = this.ops + minOps;
    for (let waited = 0; this.ops < target && waited < 10_000 && this.errors.length === 0; waited += 10)
      await sleep(10);
    this.running = false;
    await this.loop;
    return { ops: this.ops, errors: this.errors };
  }
}

void describe('hostile input against a server process', () => {
  const dir = tempDir('catena-it-hostile-');
  let server: ServerProcess;
  let client: Client;
  const seeded = new Map<string, Buffer>();
  const probeKeys = 8;
  let sizeBefore: { keys: number; bytes: number };

  before(async () => {
    server = await startServer({ dataDir: dir.path, durability: 'fsync' });
    client = await Client.connect({ port: server.port });
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      const key = `seed/${String(i).padStart(2, '0')}`;
      const value = randomBytesSeeded(1000 + i, 10 + i * 37);
      seeded.set(key, value);
      writes.push(client.put(key, value));
    }
    for (let i = 0; i < probeKeys; i++) writes.push(client.put(`probe/${i}`, Prober.value(0)));
    await Promise.all(writes);
    sizeBefore = await client.size();
    assert.equal(sizeBefore.keys, seeded.size + probeKeys);
  });

  after(async () => {
    await client?.close();
    await killLeftoverServers();
    dir.remove();
  });

  /** Runs an attack while a prober works on the normal client, then checks nothing was harmed. */
  async function survives(attack: () => Promise<void>): Promise<void> {
    const prober = new Prober(client, probeKeys);
    try {
      await attack();
    } finally {
      const probe = await prober.stop();
      assert.deepEqual(probe.errors.slice(0, 5), [], 'the normal client got correct answers during the attack');
    }
    assert.ok(server.alive(), `the server process is still running; stderr: ${server.stderr()}`);
    assert.equal((await client.ping('still there')).toString(), 'still there');
    assert.deepEqual(await client.size(), sizeBefore, 'size and bytes are unchanged');
    const table = await client.gettable({ prefix: 'seed/' });
    assert.equal(table.truncated, false);
    assert.deepEqual(
      table.entries.map((e) => [e.key.toString(), e.value.toString('hex')]),
      [...seeded].map(([k, v]) => [k, v.toString('hex')]),
      'the seeded values are unchanged',
    );
    // A brand-new connection is served too.
    const fresh = await Client.connect({ port: server.port });
    try {
      assert.equal(text((await fresh.get('seed/07'))?.value), seeded.get('seed/07')!.toString());
    } finally {
      await fresh.close();
    }
  }

  void it('survives 64 KiB of random bytes', async () => {
    for (const seed of [1, 2, 3]) {
      await survives(async () => {
        const raw = await RawConnection.open(server.port);
        await raw.write(randomBytesSeeded(seed, 64 * 1024));
        await sleep(100);
        assert.deepEqual(raw.problems, [], 'whatever the server answered decodes');
        for (const r of raw.responses)
          assert.equal(r.result.case, 'error', `seed ${seed}: garbage is only ever answered with errors`);
        await raw.close();
      });
    }
  });

  void it('answers every one of many random small frames, each with the right id and error', async () => {
    const mutating = new Set(['put', 'del', 'cas', 'incr', 'append', 'expire']);
    const frames: Buffer[] = [];
    const expectedReplies: string[] = [];
    let seed = 77;
    for (let n = 0; frames.reduce((sum, f) => sum + f.length, 0) < 64 * 1024; n++) {
      const length = randomBytesSeeded(seed++, 1)[0]! % 160;
      let body = randomBytesSeeded(seed++, length);
      // Most of them start like a real request (an id, then maybe a command field with a short
      // random payload), so decoding gets further in.
      const commandTag = ((2 + (n % 14)) << 3) | 2;
      if (n % 4 === 1) body = Buffer.concat([Buffer.from([0x08, n & 0x7f]), body]);
      if (n % 4 === 2)
        body = Buffer.concat([Buffer.from([0x08, n & 0x7f, commandTag, length % 6]), body.subarray(0, length % 6)]);
      if (n % 4 === 3)
        body = Buffer.concat([Buffer.from([0x08, n & 0x7f, commandTag, 0]), body.subarray(0, length % 3)]);
      const decoded = decodeRequest(body);
      if (decoded.ok && decoded.message.command.case !== undefined && mutating.has(decoded.message.command.case))
        continue;
      frames.push(encodeFrame(body));
      // Undecodable: ERR_MALFORMED_FRAME with whatever id can be read; no command: ERR_UNKNOWN_COMMAND;
      // a (read-only) command: its reply or its own argument error.
      if (!decoded.ok) expectedReplies.push(`${peekRequestId(body)}:malformed`);
      else if (decoded.message.command.case === undefined) expectedReplies.push(`${decoded.message.id}:unknown`);
      else expectedReplies.push(`${decoded.message.id}:command`);
    }
    await survives(async () => {
      const raw = await RawConnection.open(server.port);
      await raw.write(Buffer.concat(frames));
      const replies = await raw.waitForResponses(frames.length);
      await sleep(100);
      assert.equal(raw.responses.length, frames.length, 'one reply per frame, no more');
      assert.deepEqual(raw.problems, []);
      const kind = (r: Response) =>
        r.result.case !== 'error'
          ? 'command'
          : r.result.value.code === 'ERR_MALFORMED_FRAME'
            ? 'malformed'
            : r.result.value.code === 'ERR_UNKNOWN_COMMAND'
              ? 'unknown'
              : 'command';
      const got = replies.map((r) => `${r.id}:${kind(r)}`);
      assert.deepEqual([...got].sort(), [...expectedReplies].sort());
      for (const kind of ['malformed', 'unknown', 'command']) {
        assert.ok(
          expectedReplies.filter((r) => r.endsWith(`:${kind}`)).length >= 3,
          `the mix holds frames of kind ${kind}`,
        );
      }
      assert.ok(raw.isOpen, 'bad frames do not cost the connection');
      await raw.close();
    });
  });

  void it('survives a 0xFFFFFFFF length prefix without buffering it', async () => {
    await survives(async () => {
      const rss = rssBytes(server.pid);
      const raw = await RawConnection.open(server.port);
      await raw.write(Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), randomBytesSeeded(9, 256 * 1024)]));
      await sleep(200);
      const rssAfter = rssBytes(server.pid);
      if (rss !== undefined && rssAfter !== undefined) {
        assert.ok(rssAfter - rss < 200 * MiB, `resident memory grew by ${Math.round((rssAfter - rss) / MiB)} MiB`);
      }
      // The frame cannot complete; if anything is said about it, it is that it is too large.
      for (const r of raw.responses) assert.deepEqual(errorOf(r), { id: 0, code: 'ERR_FRAME_TOO_LARGE' });
      await raw.close();
    });
  });

  void it('survives a frame just over the limit that is cut off and closed', async () => {
    await survives(async () => {
      const raw = await RawConnection.open(server.port);
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(frameLimit + 1);
      const head = Buffer.from('08921a', 'hex'); // id 3346
      await raw.write(Buffer.concat([prefix, head, randomBytesSeeded(10, 512 * 1024)]));
      await sleep(100);
      for (const r of raw.responses) assert.deepEqual(errorOf(r), { id: 3346, code: 'ERR_FRAME_TOO_LARGE' });
      await raw.close();
    });
  });

  void it('does not apply a truncated frame when the client hangs up', async () => {
    await survives(async () => {
      const put = encodeFrame(putBody(11, 'seed/03', Buffer.from('overwritten!')));
      const cuts = [2, 4, 6, put.length - 1];
      for (const cut of cuts) {
        const raw = await RawConnection.open(server.port);
        await raw.write(put.subarray(0, cut));
        await sleep(30);
        assert.equal(raw.responses.length, 0, `no reply to ${cut} of ${put.length} bytes`);
        await raw.close();
      }
    });
    assert.equal((await client.get('seed/03'))?.value.toString('hex'), seeded.get('seed/03')!.toString('hex'));
  });

  void it('answers undecodable protobuf with ERR_MALFORMED_FRAME naming the request id, and goes on', async () => {
    const bad = [
      { id: 42, hex: '08 2a 0f' }, // field 1 then a tag with wire type 7
      { id: 300, hex: '08 ac 02 ff' }, // id 300 then a varint that never ends
      { id: 4_294_967_295, hex: '08 ff ff ff ff 0f 12 ff 01 00' }, // max id, then a 255-byte put with 1 byte
      { id: 7, hex: '08 07 12 05 0a 03 61' }, // put whose key runs past the put
    ];
    for (const b of bad)
      assert.equal(
        decodeRequest(Buffer.from(b.hex.replaceAll(' ', ''), 'hex')).ok,
        false,
        `fixture ${b.hex} is malformed`,
      );
    const errorsBefore = (await client.stats()).protocolErrors;
    await survives(async () => {
      const raw = await RawConnection.open(server.port);
      await raw.write(Buffer.concat([...bad.map((b) => frame(b.hex)), pingFrame(9, 'after the garbage')]));
      const replies = await raw.waitForResponses(bad.length + 1);
      await sleep(100);
      assert.equal(raw.responses.length, bad.length + 1, 'exactly one reply per frame');
      const ping = replies.find((r) => r.id === 9);
      assert.ok(
        ping?.result.case === 'ping' && Buffer.from(ping.result.value.message).toString() === 'after the garbage',
        'the connection goes on',
      );
      assert.deepEqual(
        replies.filter((r) => r.id !== 9).map(errorOf),
        bad.map((b) => ({ id: b.id, code: 'ERR_MALFORMED_FRAME' })),
      );
      assert.ok(raw.isOpen);
      await raw.close();
    });
    const errorsAfter = (await client.stats()).protocolErrors;
    assert.equal(errorsAfter - errorsBefore, bad.length, 'stats counts each rejected frame');
  });

  void it('answers an unknown oneof field, or a request with no command, with ERR_UNKNOWN_COMMAND', async () => {
    const frames = [
      { id: 77, hex: '08 4d 9a 06 03 61 62 63' }, // field 99, length-delimited
      { id: 78, hex: '08 4e 98 06 01' }, // field 99, varint
      { id: 79, hex: '08 4f c2 3e 00' }, // field 1000, empty
      { id: 5, hex: '08 05' }, // an id and nothing else
      { id: 0, hex: '' }, // an empty request
    ];
    await survives(async () => {
      const raw = await RawConnection.open(server.port);
      await raw.write(Buffer.concat([...frames.map((f) => frame(f.hex)), pingFrame(6, 'still in step')]));
      const replies = await raw.waitForResponses(frames.length + 1);
      await sleep(100);
      assert.equal(raw.responses.length, frames.length + 1, 'exactly one reply per frame');
      assert.deepEqual(
        replies.filter((r) => r.id !== 6).map(errorOf),
        frames.map((f) => ({ id: f.id, code: 'ERR_UNKNOWN_COMMAND' })),
      );
      assert.deepEqual(errorOf(replies.find((r) => r.id === 6)!), { id: 6, case: 'ping' });
      await raw.close();
    });
  });

  void it('skips a whole frame over the limit, answers ERR_FRAME_TOO_LARGE with its id, and stays in step', async () => {
    // A real put of a seeded key whose value makes the frame one byte too long: it must not land.
    let valueBytes = frameLimit - 64;
    let body = putBody(4243, 'seed/05', Buffer.alloc(valueBytes, 0x61));
    while (body.length <= frameLimit) body = putBody(4243, 'seed/05', Buffer.alloc(++valueBytes, 0x61));
    assert.equal(body.length, frameLimit + 1);
    await survives(async () => {
      const raw = await RawConnection.open(server.port);
      await raw.write(Buffer.concat([pingFrame(1, 'before'), encodeFrame(body), pingFrame(2, 'after')]));
      const replies = await raw.waitForResponses(3);
      await sleep(100);
      assert.equal(raw.responses.length, 3);
      assert.deepEqual(replies.map(errorOf), [
        { id: 1, case: 'ping' },
        { id: 4243, code: 'ERR_FRAME_TOO_LARGE' },
        { id: 2, case: 'ping' },
      ]);
      await raw.close();
    });
  });

  void it(`closes slow-loris connections after frameTimeoutMs (${frameTimeoutMs} ms) and only those`, async () => {
    await survives(async () => {
      const loris = await RawConnection.open(server.port);
      const hugePrefix = await RawConnection.open(server.port);
      const slowButHonest = await RawConnection.open(server.port);
      const idle = await RawConnection.open(server.port);
      const startedAt = performance.now();

      // One byte every 500 ms of a frame that declares 100 bytes: it can never finish in time.
      const lorisBytes = Buffer.concat([Buffer.from([0, 0, 0, 100]), Buffer.alloc(100, 0x08)]);
      const lorisDone = (async () => {
        for (let i = 0; i < lorisBytes.length && loris.isOpen; i++) {
          await loris.write(lorisBytes.subarray(i, i + 1));
          await sleep(500);
        }
      })();
      // A frame that can never complete, then silence.
      await hugePrefix.write(Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.alloc(1000)]));
      // Whole small frames, one byte every 500 ms: each finishes within the deadline, together they take longer.
      const honestBytes = Buffer.concat([pingFrame(1, 'a'), pingFrame(2, 'b')]);
      assert.ok(honestBytes.length * 500 > frameTimeoutMs + 500, 'the honest client takes longer than one deadline');
      const honestDone = (async () => {
        for (let i = 0; i < honestBytes.length; i++) {
          await slowButHonest.write(honestBytes.subarray(i, i + 1));
          await sleep(500);
        }
      })();

      const limit = frameTimeoutMs + 5_000;
      assert.equal(
        await withTimeout(
          loris.closed.then(() => true),
          limit,
        ),
        true,
        `the slow loris is closed within ${limit} ms`,
      );
      assert.equal(
        await withTimeout(
          hugePrefix.closed.then(() => true),
          limit,
        ),
        true,
        'the endless frame is closed too',
      );
      await lorisDone;
      await honestDone;
      for (const [name, raw] of [
        ['loris', loris],
        ['endless frame', hugePrefix],
      ] as const) {
        const lifetime = raw.closedByPeerAt! - startedAt;
        assert.ok(
          lifetime >= frameTimeoutMs * 0.8,
          `${name} was not closed before the deadline (${Math.round(lifetime)} ms)`,
        );
        assert.deepEqual(raw.responses, [], `${name} got no reply`);
      }

      const replies = await slowButHonest.waitForResponses(2);
      assert.deepEqual(replies.map(errorOf), [
        { id: 1, case: 'ping' },
        { id: 2, case: 'ping' },
      ]);
      assert.equal(slowButHonest.closedByPeerAt, undefined, 'a slow client that finishes its frames is not cut off');
      await idle.write(pingFrame(3, 'idle but fine'));
      assert.deepEqual((await idle.waitForResponses(1)).map(errorOf), [{ id: 3, case: 'ping' }]);
      assert.equal(idle.closedByPeerAt, undefined, 'an idle connection without a started frame is kept');
      await Promise.all([loris.close(), hugePrefix.close(), slowButHonest.close(), idle.close()]);
    });
  });

  void it('rejects an oversized value from the client and keeps that connection working', async () => {
    const big = await Client.connect({ port: server.port, timeoutMs: 30_000 });
    try {
      await survives(async () => {
        await assert.rejects(big.put('seed/10', Buffer.alloc(9 * MiB, 0x62)), (error: unknown) => {
          assert.ok(error instanceof CatenaError);
          assert.ok(['ERR_FRAME_TOO_LARGE', 'ERR_VALUE_TOO_LARGE'].includes(error.code), error.code);
          return true;
        });
        assert.equal((await big.ping('next')).toString(), 'next', 'the same connection still works');
        await assert.rejects(big.put('seed/11', Buffer.alloc(valueBytesMaxDefault + 1, 0x62)), (error: unknown) => {
          assert.ok(error instanceof CatenaError);
          assert.equal(error.code, 'ERR_VALUE_TOO_LARGE');
          return true;
        });
        await assert.rejects(big.append('seed/12', Buffer.alloc(valueBytesMaxDefault, 0x62)), (error: unknown) => {
          assert.ok(error instanceof CatenaError);
          assert.equal(error.code, 'ERR_VALUE_TOO_LARGE');
          return true;
        });
        assert.equal(big.inFlight, 0);
        assert.equal(text((await big.get('seed/10'))?.value), seeded.get('seed/10')!.toString());
      });
    } finally {
      await big.close();
    }
  });
});

describe('a client that never reads its replies', () => {
  const dir = tempDir();
  let server: ServerProcess;

  after(async () => {
    await killLeftoverServers();
    dir.remove();
  });

  void it('cannot make the node buffer replies without bound, and is served once it reads', async () => {
    server = await startServer({ dataDir: dir.path, durability: 'memory' });
    const client = await Client.connect({ port: server.port });
    const big = Buffer.alloc(4 * MiB, 0x5a);
    await client.put('big', big);
    const rss = rssBytes(server.pid);

    // 400 gets of a 4 MiB value is 1.6 GiB of replies, asked for with 5 KiB of requests.
    const requests = 400;
    const socket = connect({ host: '127.0.0.1', port: server.port });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.pause(); // never read, until we say so
    const frames = Array.from({ length: requests }, (_, i) =>
      encodeFrame(encodeRequest(i + 1, { case: 'get', value: create(GetRequestSchema, { key: Buffer.from('big') }) })),
    );
    socket.write(Buffer.concat(frames));
    await sleep(1500);
    const rssAfter = rssBytes(server.pid);
    if (rss !== undefined && rssAfter !== undefined) {
      assert.ok(rssAfter - rss < 300 * MiB, `resident memory grew by ${Math.round((rssAfter - rss) / MiB)} MiB`);
    }
    assert.equal((await client.ping('others are served')).toString(), 'others are served');

    // Reading now lets the node go on: every request is answered, in full.
    const decoder = new FrameDecoder(64 * MiB);
    let answered = 0;
    let wrong = 0;
    const done = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        for (const event of decoder.push(chunk)) {
          const decoded = event.kind === 'frame' ? decodeResponse(event.body) : undefined;
          const result = decoded?.ok === true ? decoded.message.result : undefined;
          if (result?.case === 'get' && result.value.found && result.value.value.length === big.length) answered += 1;
          else wrong += 1;
        }
        if (answered + wrong >= requests) resolve();
      });
    });
    socket.resume();
    await withTimeout(done, 30_000);
    assert.equal(wrong, 0);
    assert.equal(answered, requests);
    socket.destroy();
    await client.close();
    await server.stop();
  });
});
