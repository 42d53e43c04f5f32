// Forged chain traffic against a real 3-node chain (issue: anyone who reached a peer port could
// rewrite acknowledged data, make the head acknowledge a write only it held, crash the tail with a
// request that does not decode, stop its reads with a huge `committed`, or park 68 MiB per
// connection). A stranger without the cluster secret, naming a real member, sends every frame
// kind to every node: each connection is closed, nothing changes, every node serves on. With the
// secret (an insider, or a bug in a peer), frames that are malformed, undecodable or not writes
// close the connection and crash nothing.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClusterClient } from '../../src/client/cluster-client.js';
import { clusterPaths, decodeNodeInfo } from '../../src/coordination/cluster-paths.js';
import { connectCoordinator } from '../../src/coordination/connect.js';
import { encodeRequest } from '../../src/protocol/native/codec.js';
import { FrameDecoder } from '../../src/protocol/native/frame.js';
import { decodePeerFrame, encodePeerFrame, type PeerFrame } from '../../src/server/chain-wire.js';
import { peerProof } from '../../src/server/peer-auth.js';
import { clusterSecret, startCluster, type TestCluster } from '../helpers/cluster.js';
import { killLeftoverServers } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/** A raw peer connection: takes the node's challenge and answers it as told. */
async function peerConnection(
  address: string,
): Promise<{ socket: Socket; nonce: Uint8Array; nodeId: string; closed: Promise<void> }> {
  const [host, port] = address.split(':');
  const socket = connect({ host: host!, port: Number(port) });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const decoder = new FrameDecoder(4096);
  const challenge = await new Promise<Extract<PeerFrame, { kind: 'challenge' }>>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      for (const event of decoder.push(chunk)) {
        const decoded = event.kind === 'frame' ? decodePeerFrame(event.body) : undefined;
        if (decoded?.ok === true && decoded.frame.kind === 'challenge') resolve(decoded.frame);
        else reject(new Error('expected a challenge'));
      }
    });
    socket.once('close', () => reject(new Error('closed before the challenge')));
  });
  return { socket, nonce: challenge.nonce, nodeId: challenge.from, closed };
}

const within = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no ${what} in ${ms} ms`)), ms)),
  ]);

describe('forged chain traffic on the peer port', { concurrency: 1 }, () => {
  let dir: { path: string; remove: () => void };
  let cluster: TestCluster;
  let client: ClusterClient;
  let members: string[];
  let epoch: number;
  const peerAddress = new Map<string, string>();

  before(async () => {
    dir = tempDir();
    cluster = await startCluster({ nodes: 3, coordinator: 'embedded', dir: dir.path, durability: 'memory' });
    const chain = await cluster.waitForMembers(3);
    members = chain.members;
    epoch = chain.epoch;
    const coordinator = await connectCoordinator(cluster.coordinatorUrl, {
      sessionTimeoutMs: 2_000,
      secret: clusterSecret(dir.path),
    });
    try {
      for (const id of members) {
        const found = await coordinator.get(clusterPaths('test').node(id));
        const info = found === undefined ? undefined : decodeNodeInfo(found.data);
        assert.ok(info !== undefined, `node ${id} published its addresses`);
        peerAddress.set(id, info.peer);
      }
    } finally {
      await coordinator.close();
    }
    client = await ClusterClient.connect({ seeds: cluster.seeds(), timeoutMs: 10_000 });
    await client.send('put', { key: utf8('k'), value: utf8('legit-value') });
  });
  after(async () => {
    await client?.close();
    await cluster?.stop();
    await killLeftoverServers();
    dir.remove();
  });

  /** Every kind of chain frame, as `from` would send it at the chain's epoch. */
  function forgeries(from: string, lastSequence: number): PeerFrame[] {
    const put = encodeRequest(0, {
      case: 'put',
      value: { key: utf8('k'), value: utf8('FORGED-BY-STRANGER') },
    } as never);
    const entry = (sequence: number) => ({
      sequence,
      epoch,
      requestId: { clientId: 'forger', clientSequence: sequence },
      operation: { request: put, nowMs: Date.now() },
    });
    return [
      {
        kind: 'entries',
        epoch,
        from,
        mark: lastSequence + 2,
        entries: [entry(lastSequence + 1), entry(lastSequence + 2)],
      },
      { kind: 'ack', epoch, from, sequence: lastSequence + 2 },
      { kind: 'committed', epoch, from, sequence: 2 ** 52 },
      { kind: 'hello', epoch, from, lastSequence: 0, lastEpoch: 0 },
      { kind: 'join', epoch, from, lastSequence: 0, lastEpoch: 0 },
      { kind: 'heartbeat', epoch, from, stampMs: 1, echoMs: -1, wantEcho: true },
      { kind: 'snapshot-begin', epoch, from, stream: 1, sequence: 1, lastEpoch: epoch, revision: 1 },
      { kind: 'snapshot-records', epoch, from, stream: 1, part: 0, records: [[utf8('k'), utf8('FORGED'), 99, 0]] },
    ];
  }

  async function status(index: number): Promise<{ lastSequence: number; committedSequence: number }> {
    const server = cluster.byId(members[index]!);
    const node = await ClusterClient.connect({ seeds: [`127.0.0.1:${server.port}`], timeoutMs: 5_000 });
    try {
      const reply = await node.send('nodestatus', {});
      return { lastSequence: Number(reply.lastSequence), committedSequence: Number(reply.committedSequence) };
    } finally {
      await node.close();
    }
  }

  it('without the secret, every frame kind to every node is refused and changes nothing', async () => {
    const before = await Promise.all(members.map((_, i) => status(i)));
    for (const [index, target] of members.entries()) {
      // Each node hears from its neighbours: forge as each of them, and as a stranger.
      const names = [members[index - 1], members[index + 1], 'stranger'].filter((n): n is string => n !== undefined);
      for (const from of names) {
        const connection = await peerConnection(peerAddress.get(target)!);
        assert.equal(connection.nodeId, target);
        connection.socket.write(encodePeerFrame({ kind: 'peer', from, cluster: 'test', to: target }));
        for (const frame of forgeries(from, before[index]!.lastSequence))
          connection.socket.write(encodePeerFrame(frame));
        await within(connection.closed, 5_000, 'close of an unproved connection');
      }
    }
    const value = await client.send('get', { key: utf8('k') });
    assert.equal(Buffer.from(value.value ?? []).toString(), 'legit-value');
    const afterForgery = await Promise.all(members.map((_, i) => status(i)));
    assert.deepEqual(afterForgery, before, 'no node took an entry, an ack or a commit from a stranger');
    // The chain still writes and reads.
    await client.send('put', { key: utf8('k2'), value: utf8('after') });
    const read = await client.send('get', { key: utf8('k2') });
    assert.equal(Buffer.from(read.value ?? []).toString(), 'after');
    for (const server of cluster.servers) assert.ok(server.alive(), 'every node is up');
  });

  it('with the secret, undecodable and non-write entries close the connection and crash nothing', async () => {
    const secret = Buffer.from(readFileSync(join(dir.path, 'cluster.secret'), 'utf8').trim(), 'utf8');
    const tail = members[members.length - 1]!;
    const middle = members[members.length - 2]!;
    const { lastSequence } = await status(members.length - 1);
    const bad: unknown[][] = [
      [Buffer.from([0xff, 0x01, 0x02])], // not a request at all
      [encodeRequest(0, { case: 'get', value: { key: utf8('k') } } as never)], // a read: never logged
      [Buffer.alloc(0)], // no command
    ];
    for (const [request] of bad) {
      const connection = await peerConnection(peerAddress.get(tail)!);
      const proof = peerProof(secret, 'test', middle, tail, connection.nonce);
      connection.socket.write(encodePeerFrame({ kind: 'peer', from: middle, cluster: 'test', to: tail, proof }));
      const frame = {
        kind: 'entries',
        epoch,
        from: middle,
        mark: 0,
        entries: [
          {
            sequence: lastSequence + 1,
            epoch,
            requestId: { clientId: 'insider', clientSequence: 1 },
            operation: { request, nowMs: Date.now() },
          },
        ],
      };
      connection.socket.write(encodePeerFrame(frame as unknown as PeerFrame));
      await within(connection.closed, 5_000, 'close of a connection that sent a bad entry');
    }
    // Frames at a stale epoch are ignored, whatever they say.
    const connection = await peerConnection(peerAddress.get(tail)!);
    const proof = peerProof(secret, 'test', middle, tail, connection.nonce);
    connection.socket.write(encodePeerFrame({ kind: 'peer', from: middle, cluster: 'test', to: tail, proof }));
    for (const frame of forgeries(middle, lastSequence)) {
      connection.socket.write(encodePeerFrame({ ...frame, epoch: epoch - 1 } as PeerFrame));
    }
    connection.socket.destroy();
    await client.send('put', { key: utf8('k3'), value: utf8('still') });
    const read = await client.send('get', { key: utf8('k3') });
    assert.equal(Buffer.from(read.value ?? []).toString(), 'still');
    const value = await client.send('get', { key: utf8('k') });
    assert.equal(Buffer.from(value.value ?? []).toString(), 'legit-value');
    for (const server of cluster.servers) assert.ok(server.alive(), 'every node is up');
  });
});
