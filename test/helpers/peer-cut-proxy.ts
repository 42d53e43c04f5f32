// A proxy in front of one node's peer port (the node announces the proxy's address with
// --peer-announce) that knows who is speaking: every peer connection opens with a greeting
// naming its sender (src/server/chain-wire.ts). So a test can cut the link from one given node,
// as a network partition between two nodes does (each end's proxy cuts the other), while every
// other link and every coordinator session stays up.
//
// A cut connection is blackholed, not closed: nothing moves either way, bytes wait in kernel
// buffers and neither end is told (as in a partition shorter than TCP's retransmission
// timeout). New connections from a cut node are held the same way (the node's challenge passes,
// the greeting that answers it does not). `heal` closes what was held
// (as TCP gives up on a connection that saw nothing for long) and lets new connections through.

import { connect, createServer, type Server, type Socket } from 'node:net';
import { decodePeerFrame } from '../../src/server/chain-wire.js';

interface Connection {
  readonly from: string;
  readonly client: Socket;
  readonly upstream: Socket;
}

export class PeerCutProxy {
  private readonly cut = new Set<string>();
  private readonly connections = new Set<Connection>();
  private readonly pending = new Set<Socket>();
  /** Connections from a cut node, never forwarded: their greeting and all after it wait. */
  private readonly held = new Map<Socket, string>();

  private constructor(
    private readonly server: Server,
    readonly targetPort: number,
    readonly port: number,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  static async start(targetPort: number): Promise<PeerCutProxy> {
    const server = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
    return new PeerCutProxy(server, targetPort, port);
  }

  /** Blackholes the link from `nodeId` (its connections held, new ones held too). */
  cutFrom(nodeId: string): void {
    this.cut.add(nodeId);
    for (const connection of this.connections) {
      if (connection.from !== nodeId) continue;
      connection.client.pause();
      connection.upstream.pause();
    }
  }

  /** Closes what was held from `nodeId`; new connections from it pass again. */
  healFrom(nodeId: string): void {
    this.cut.delete(nodeId);
    for (const [socket, from] of this.held) {
      if (from !== nodeId) continue;
      socket.destroy();
      this.held.delete(socket);
    }
    for (const connection of [...this.connections]) {
      if (connection.from !== nodeId) continue;
      connection.client.destroy();
      connection.upstream.destroy();
      this.connections.delete(connection);
    }
  }

  async stop(): Promise<void> {
    for (const socket of [...this.pending, ...this.held.keys()]) socket.destroy();
    for (const { client, upstream } of this.connections) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.pending.add(client);
    client.on('error', () => undefined);
    client.on('close', () => this.pending.delete(client));
    // The accepting node speaks first (its challenge, src/server/peers.ts): the upstream
    // connection opens at once and what it sends passes, until the connecting node's greeting
    // says who it is.
    const upstream = connect({ host: '127.0.0.1', port: this.targetPort });
    upstream.on('error', () => undefined);
    const toClient = (chunk: Buffer): void => {
      if (!this.held.has(client)) client.write(chunk);
    };
    upstream.on('data', toClient);
    const upstreamClosed = (): void => {
      // A held connection stays held (blackholed) when the node gives up on its greeting.
      if (!this.held.has(client)) client.destroy();
    };
    upstream.on('close', upstreamClosed);
    client.on('close', () => upstream.destroy());
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 4) return;
      const length = buffered.readUInt32BE(0);
      if (buffered.length < 4 + length) return;
      client.off('data', onData);
      client.pause();
      this.pending.delete(client);
      const greeting = decodePeerFrame(buffered.subarray(4, 4 + length));
      const from = greeting.ok ? greeting.frame.from : '?';
      upstream.off('close', upstreamClosed);
      this.forward(from, client, upstream, buffered);
    };
    client.on('data', onData);
  }

  private forward(from: string, client: Socket, upstream: Socket, first: Buffer): void {
    if (this.cut.has(from)) {
      this.held.set(client, from);
      upstream.pause();
      client.on('close', () => this.held.delete(client));
      return;
    }
    const connection: Connection = { from, client, upstream };
    this.connections.add(connection);
    client.on('error', () => upstream.destroy());
    upstream.on('close', () => {
      client.destroy();
      this.connections.delete(connection);
    });
    client.on('close', () => {
      upstream.destroy();
      this.connections.delete(connection);
    });
    upstream.write(first);
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    client.resume();
  }
}
