// The peer port as a stranger and as a peer see it (src/server/peers.ts, peer-auth.ts): frames
// flow between nodes that hold the cluster secret; a connection that cannot prove it (no
// secret, a wrong one, a replayed greeting, a proof made for another node) is closed before a
// single frame reaches the node; a node without a secret takes peers from loopback only; large
// frames before the greeting and frames left unfinished are cut off.

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { describe, it } from 'node:test';
import { silentLogger } from '../../src/core/log.js';
import { FrameDecoder } from '../../src/protocol/native/frame.js';
import { decodePeerFrame, encodePeerFrame, type PeerFrame } from '../../src/server/chain-wire.js';
import { isLoopback, peerProof, verifyPeerProof } from '../../src/server/peer-auth.js';
import { generateLocalTls } from '../../src/server/tls.js';
import { PeerNetwork, type ChainFrame, type PeerAddress } from '../../src/server/peers.js';

const secret = Buffer.from('0123456789abcdef0123456789abcdef');
const cluster = 'test';

interface Node {
  readonly id: string;
  readonly network: PeerNetwork;
  readonly frames: ChainFrame[];
}

async function startNode(
  id: string,
  addresses: Map<string, PeerAddress>,
  options: { secret?: Uint8Array; host?: string; frameTimeoutMs?: number } = { secret },
): Promise<Node> {
  const frames: ChainFrame[] = [];
  const network = await PeerNetwork.start({
    self: id,
    cluster,
    host: options.host ?? '127.0.0.1',
    port: 0,
    ...(options.secret === undefined ? {} : { secret: options.secret }),
    ...(options.frameTimeoutMs === undefined ? {} : { frameTimeoutMs: options.frameTimeoutMs }),
    resolve: (nodeId) => addresses.get(nodeId),
    onFrame: (frame) => {
      frames.push(frame);
      return undefined;
    },
    onPeerConnected: () => undefined,
    log: silentLogger,
  });
  addresses.set(id, { host: '127.0.0.1', port: network.port });
  return { id, network, frames };
}

/** Runs `body` against a node 'b' (holding the secret unless `options` say otherwise), closed after. */
async function withNode(
  body: (b: Node) => Promise<void>,
  options?: { secret?: Uint8Array; host?: string; frameTimeoutMs?: number },
): Promise<void> {
  const b = await startNode('b', new Map(), options);
  try {
    await body(b);
  } finally {
    await b.network.close();
  }
}

const ack = (from: string, sequence: number): PeerFrame => ({ kind: 'ack', epoch: 1, from, sequence });

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A raw connection to a peer port: reads the challenge, then sends what the test says. */
class Stranger {
  private readonly decoder = new FrameDecoder(1 << 20);
  readonly received: PeerFrame[] = [];
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const event of this.decoder.push(chunk)) {
        if (event.kind !== 'frame') continue;
        const decoded = decodePeerFrame(event.body);
        if (decoded.ok) this.received.push(decoded.frame);
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static async open(port: number, host = '127.0.0.1'): Promise<Stranger> {
    const socket = connect({ host, port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new Stranger(socket);
  }

  async challenge(): Promise<Uint8Array> {
    await until(() => this.received.length > 0 || this.closed, 'a challenge');
    const first = this.received[0];
    assert.ok(first?.kind === 'challenge', 'the accepting node speaks first, with a challenge');
    return first.nonce;
  }

  send(frame: PeerFrame): void {
    this.socket.write(encodePeerFrame(frame));
  }

  /** Takes the challenge and sends a greeting from `from` meant for `to`, its proof made for `provedFor`. */
  async greet(from: string, to: string, provedFor = to): Promise<Uint8Array> {
    const nonce = await this.challenge();
    this.send({ kind: 'peer', from, cluster, to, proof: peerProof(secret, cluster, from, provedFor, nonce) });
    return nonce;
  }

  async closedByPeer(): Promise<void> {
    await until(() => this.closed, 'the node to close the connection');
  }
}

describe('peer authentication (cluster secret)', () => {
  it('nodes holding the secret exchange frames, in order', async () => {
    const addresses = new Map<string, PeerAddress>();
    const a = await startNode('a', addresses);
    const b = await startNode('b', addresses);
    try {
      for (let i = 1; i <= 5; i++) a.network.send('b', ack('a', i)); // queued until the challenge is answered
      await until(() => b.frames.length === 5, 'five frames at b');
      assert.deepEqual(
        b.frames.map((f) => (f.kind === 'ack' ? f.sequence : -1)),
        [1, 2, 3, 4, 5],
      );
      b.network.send('a', ack('b', 9));
      await until(() => a.frames.length === 1, 'a frame at a');
      assert.equal(b.network.refused().connections, 0);
    } finally {
      await a.network.close();
      await b.network.close();
    }
  });

  it('a node with another secret gets nothing through, and the refusal is counted and says why', async () => {
    const addresses = new Map<string, PeerAddress>();
    const b = await startNode('b', addresses);
    const impostor = await startNode('a', addresses, { secret: Buffer.from('another secret, also 32 bytes ok') });
    try {
      impostor.network.send('b', ack('a', 1));
      await until(() => b.network.refused().connections >= 1, 'a refusal');
      assert.equal(b.frames.length, 0);
      assert.match(b.network.refused().lastReason ?? '', /did not prove the cluster secret/);
    } finally {
      await impostor.network.close();
      await b.network.close();
    }
  });

  it('a stranger without the secret, naming a real node, is closed before its frames are read', async () => {
    await withNode(async (b) => {
      const stranger = await Stranger.open(b.network.port);
      await stranger.challenge();
      stranger.send({ kind: 'peer', from: 'a', cluster, to: 'b' });
      stranger.send(ack('a', 1_000));
      stranger.send({ kind: 'committed', epoch: 1, from: 'a', sequence: 2 ** 52 });
      await stranger.closedByPeer();
      assert.equal(b.frames.length, 0);
      assert.equal(b.network.refused().connections, 1);
    });
  });

  it('a recorded greeting does not open another connection (each has its own challenge)', async () => {
    await withNode(async (b) => {
      const first = await Stranger.open(b.network.port);
      const nonce = await first.challenge();
      const greeting: PeerFrame = {
        kind: 'peer',
        from: 'a',
        cluster,
        to: 'b',
        proof: peerProof(secret, cluster, 'a', 'b', nonce),
      };
      first.send(greeting);
      first.send(ack('a', 1));
      await until(() => b.frames.length === 1, 'the proved connection to deliver');
      const replay = await Stranger.open(b.network.port);
      const otherNonce = await replay.challenge();
      assert.notDeepEqual(Buffer.from(otherNonce), Buffer.from(nonce));
      replay.send(greeting);
      replay.send(ack('a', 2));
      await replay.closedByPeer();
      assert.equal(b.frames.length, 1);
      first.socket.destroy();
    });
  });

  it('a proof made for another node, or a greeting meant for another node, is refused', async () => {
    await withNode(async (b) => {
      const stranger = await Stranger.open(b.network.port);
      // Proved for c (as a node that relayed c's challenge would get), presented to b.
      await stranger.greet('a', 'b', 'c');
      await stranger.closedByPeer();
      const misdirected = await Stranger.open(b.network.port);
      await misdirected.greet('a', 'c');
      await misdirected.closedByPeer();
      assert.equal(b.network.refused().connections, 2);
      assert.match(b.network.refused().lastReason ?? '', /meant for c/);
    });
  });

  it('a proved peer speaks only for itself', async () => {
    await withNode(async (b) => {
      const peer = await Stranger.open(b.network.port);
      await peer.greet('a', 'b');
      peer.send(ack('z', 1)); // a frame claiming to come from another node
      await peer.closedByPeer();
      assert.equal(b.frames.length, 0);
    });
  });

  it('a first frame over 4 KiB is refused without being buffered, and an unfinished frame is cut off', async () => {
    await withNode(
      async (b) => {
        const big = await Stranger.open(b.network.port);
        await big.challenge();
        const prefix = Buffer.alloc(4);
        prefix.writeUInt32BE(60 * 1024 * 1024, 0); // declares 60 MiB
        big.socket.write(Buffer.concat([prefix, Buffer.alloc(64 * 1024)]));
        await big.closedByPeer();
        assert.match(b.network.refused().lastReason ?? '', /over the limit/);

        const slow = await Stranger.open(b.network.port);
        await slow.greet('a', 'b');
        const half = encodePeerFrame(ack('a', 1));
        slow.socket.write(half.subarray(0, half.length - 2)); // never finished
        await slow.closedByPeer();
        assert.match(b.network.refused().lastReason ?? '', /not completed within 200 ms/);
        assert.equal(b.frames.length, 0);
      },
      { secret, frameTimeoutMs: 200 },
    );
  });

  it('entries whose request does not decode, or that is not a write, are refused by the wire codec', () => {
    const entry = (request: Uint8Array, epoch = 1) => ({
      sequence: 1,
      epoch,
      requestId: { clientId: 'c', clientSequence: 1 },
      operation: { request, nowMs: 1 },
    });
    const frame = (entries: unknown[]) =>
      encodePeerFrame({ kind: 'entries', epoch: 1, from: 'a', mark: 0, entries } as unknown as PeerFrame).subarray(4);
    const garbage = decodePeerFrame(frame([entry(Buffer.from([0xff, 0xff, 0xff]))]));
    assert.equal(garbage.ok, false);
    const empty = decodePeerFrame(frame([entry(Buffer.alloc(0))])); // no command: nothing a replica can apply
    assert.equal(empty.ok, false);
    const future = decodePeerFrame(frame([{ ...entry(Buffer.alloc(0)), epoch: 2 }]));
    assert.equal(future.ok, false);
  });

  it('proofs verify only for the exact fields', () => {
    const nonce = Buffer.alloc(32, 7);
    const proof = peerProof(secret, cluster, 'a', 'b', nonce);
    assert.equal(verifyPeerProof(secret, cluster, 'a', 'b', nonce, proof), true);
    assert.equal(verifyPeerProof(secret, cluster, 'b', 'a', nonce, proof), false);
    assert.equal(verifyPeerProof(secret, 'other', 'a', 'b', nonce, proof), false);
    assert.equal(verifyPeerProof(secret, cluster, 'a', 'b', Buffer.alloc(32, 8), proof), false);
    assert.equal(verifyPeerProof(secret, cluster, 'a', 'b', nonce, undefined), false);
    assert.equal(verifyPeerProof(secret, cluster, 'a', 'b', nonce, proof.subarray(1)), false);
    // Fields are length-prefixed: moving a character from one field to the next changes the proof.
    assert.notDeepEqual(peerProof(secret, 'ab', 'c', 'd', nonce), peerProof(secret, 'a', 'bc', 'd', nonce));
  });
});

describe('peer connections that never prove anything', () => {
  it('an unproved connection past the cap closes the oldest unproved one; proved peers still connect', async () => {
    const addresses = new Map<string, PeerAddress>();
    const b = await startNode('b', addresses);
    const a = await startNode('a', addresses);
    const strangers: Stranger[] = [];
    try {
      for (let i = 0; i < 65; i++) strangers.push(await Stranger.open(b.network.port));
      await strangers[0]!.closedByPeer();
      assert.match(b.network.refused().lastReason ?? '', /too many unproved peer connections/);
      assert.equal(b.network.refused().lastPeer, undefined, 'a stranger is never named as the refused peer');
      a.network.send('b', ack('a', 1)); // a real peer's new connection takes the oldest stranger's place
      await until(() => b.frames.length === 1, 'the proved peer to get through');
    } finally {
      for (const stranger of strangers) stranger.socket.destroy();
      await a.network.close();
      await b.network.close();
    }
  });

  it('with TLS, a connection that never finishes its handshake is closed', async () => {
    const material = generateLocalTls();
    const addresses = new Map<string, PeerAddress>();
    const frames: ChainFrame[] = [];
    const b = await PeerNetwork.start({
      self: 'b',
      cluster,
      host: '127.0.0.1',
      port: 0,
      secret,
      tls: { cert: material.cert, key: material.key, ca: material.caCert },
      resolve: (nodeId) => addresses.get(nodeId),
      onFrame: (frame) => {
        frames.push(frame);
        return undefined;
      },
      onPeerConnected: () => undefined,
      log: silentLogger,
    });
    try {
      const socket = connect({ host: '127.0.0.1', port: b.port });
      socket.on('error', () => undefined);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write(Buffer.from('16030100', 'hex')); // the start of a TLS record, never finished
      await closed; // within the handshake deadline (5 s), not never
      assert.match(b.refused().lastReason ?? '', /TLS handshake failed/);
      assert.equal(frames.length, 0);
    } finally {
      await b.close();
    }
  });
});

describe('peers without a cluster secret', () => {
  it('accepts loopback peers (and says nothing is proved)', async () => {
    const addresses = new Map<string, PeerAddress>();
    const a = await startNode('a', addresses, {});
    const b = await startNode('b', addresses, {});
    try {
      a.network.send('b', ack('a', 1));
      await until(() => b.frames.length === 1, 'a frame at b');
    } finally {
      await a.network.close();
      await b.network.close();
    }
  });

  it('refuses a peer connection from a non-loopback address', async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal);
    assert.ok(external !== undefined, 'this test needs a non-loopback IPv4 address on the machine');
    await withNode(
      async (b) => {
        const stranger = await Stranger.open(b.network.port, external.address);
        await stranger.closedByPeer();
        assert.equal(stranger.received.length, 0, 'not even a challenge');
        assert.match(b.network.refused().lastReason ?? '', /only loopback peers are accepted/);
        assert.equal(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('::ffff:127.0.0.1'), true);
        assert.equal(isLoopback(external.address), false);
      },
      { host: '0.0.0.0' },
    );
  });
});
