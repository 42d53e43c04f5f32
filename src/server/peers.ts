// Chain traffic between nodes: one listener for frames from peers, and one outgoing TCP
// connection per peer for frames to it. The replication core's ordering contract (effects.ts)
// asks for FIFO delivery per peer and allows loss; so frames to one peer go out in order on one
// socket, and anything that would reorder them — a failed connection, a peer that does not
// drain — drops the connection and what was queued on it instead. The core repairs loss: a
// successor that sees a new connection from its predecessor says `hello` (chain-node.ts
// `peerConnected`), which makes the predecessor re-send.
//
// Inbound connections start with a `peer` frame naming the sender and cluster; frames from a
// connection that has not said who it is, or from another cluster, close it. Malformed or
// oversized frames close the connection too (a peer is another Catena node: garbage means a bug
// or a stranger, and resynchronising is not possible). Nothing a peer sends can crash the node.

import { connect, createServer, type Server, type Socket } from 'node:net';
import { assert } from '../core/assert.js';
import {
  peerFrameBytesMax,
  peerQueueBytesMax,
  peerReconnectMs,
  peerConnectionsMax,
  peerGreetingMs,
} from '../core/limits.js';
import type { Logger } from '../core/log.js';
import { FrameDecoder } from '../protocol/native/frame.js';
import { decodePeerFrame, encodePeerFrame, type PeerFrame } from './chain-wire.js';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface PeerNetworkOptions {
  readonly self: string;
  readonly cluster: string;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Where a peer listens for chain traffic now (from the coordinator), or undefined if unknown. */
  resolve(nodeId: string): PeerAddress | undefined;
  /** A frame from a peer that has said who it is. */
  onFrame(frame: Exclude<PeerFrame, { kind: 'peer' }>): void;
  /** A peer opened a new connection to this node (what it sent before may have been lost). */
  onPeerConnected(nodeId: string): void;
  /**
   * A connection from or to a peer closed or failed (a process that dies has its connections
   * reset at once): the core counts silence from it as longer (chain-node.ts `peerLost`).
   */
  onPeerLost?(nodeId: string): void;
  readonly log: Logger;
}

interface Link {
  readonly address: PeerAddress;
  readonly socket: Socket;
  connected: boolean;
}

export class PeerNetwork {
  private readonly links = new Map<string, Link>();
  /** Peers whose connection failed recently: sends to them are dropped until the time given. */
  private readonly backoffUntil = new Map<string, number>();
  private readonly inbound = new Set<Socket>();
  private closed = false;

  private constructor(
    private readonly options: PeerNetworkOptions,
    private readonly server: Server,
  ) {}

  static start(options: PeerNetworkOptions): Promise<PeerNetwork> {
    const server = createServer({ noDelay: true });
    const network = new PeerNetwork(options, server);
    server.on('connection', (socket) => network.accept(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        server.on('error', (error) => options.log.log('error', 'peer listener error', { error: error.message }));
        resolve(network);
      });
    });
  }

  get port(): number {
    const address = this.server.address();
    assert(address !== null && typeof address === 'object', 'peer listener is on TCP');
    return address.port;
  }

  /** Queues a frame for a peer; dropped (the core copes) if the peer is unknown or unreachable. */
  send(to: string, frame: PeerFrame): void {
    if (this.closed) return;
    const link = this.link(to);
    if (link === undefined) return;
    link.socket.write(encodePeerFrame(frame));
    if (link.socket.writableLength > peerQueueBytesMax) {
      this.options.log.log('warn', 'peer is not draining: dropping the connection', { peer: to });
      this.drop(to, link);
    }
  }

  /** Bytes queued on the connection to this peer and not yet handed to the kernel. */
  backlogBytes(to: string): number {
    return this.links.get(to)?.socket.writableLength ?? 0;
  }

  /** True when frames to this peer would be queued on a connection now. */
  reachable(to: string): boolean {
    return this.links.has(to) || (this.backoffUntil.get(to) ?? 0) <= Date.now();
  }

  private link(to: string): Link | undefined {
    const address = this.options.resolve(to);
    const existing = this.links.get(to);
    if (existing !== undefined) {
      if (address !== undefined && sameAddress(existing.address, address)) return existing;
      this.drop(to, existing); // the peer restarted elsewhere
    }
    if (address === undefined || (this.backoffUntil.get(to) ?? 0) > Date.now()) return undefined;
    const socket = connect({ host: address.host, port: address.port, noDelay: true });
    const link: Link = { address, socket, connected: false };
    this.links.set(to, link);
    socket.on('connect', () => {
      link.connected = true;
    });
    socket.on('error', (error) => {
      this.options.log.log('debug', 'peer connection failed', { peer: to, error: error.message });
      this.backoffUntil.set(to, Date.now() + peerReconnectMs);
    });
    socket.on('close', () => {
      const current = this.links.get(to) === link;
      this.drop(to, link);
      if (current && !this.closed) this.options.onPeerLost?.(to);
    });
    socket.on('data', () => socket.destroy()); // peers never answer on this direction
    socket.write(encodePeerFrame({ kind: 'peer', from: this.options.self, cluster: this.options.cluster }));
    return link;
  }

  private drop(to: string, link: Link): void {
    if (this.links.get(to) === link) this.links.delete(to);
    link.socket.destroy();
  }

  private accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.inbound.add(socket);
    let from: string | undefined;
    socket.on('close', () => {
      this.inbound.delete(socket);
      if (from !== undefined && !this.closed) this.options.onPeerLost?.(from);
    });
    socket.on('error', () => undefined); // 'close' follows
    const decoder = new FrameDecoder(peerFrameBytesMax);
    // A connection that does not say who it is in time is not a peer.
    const greeting = setTimeout(() => {
      if (from === undefined) this.reject(socket, from, 'no greeting in time');
    }, peerGreetingMs);
    socket.on('close', () => clearTimeout(greeting));
    if (this.inbound.size > peerConnectionsMax) {
      this.reject(socket, from, 'too many peer connections');
      return;
    }
    socket.on('data', (chunk: Buffer) => {
      for (const event of decoder.push(chunk)) {
        if (socket.destroyed) return;
        if (event.kind === 'too-large') {
          this.reject(socket, from, `peer frame of ${event.declaredBytes} bytes is over the limit`);
          return;
        }
        const decoded = decodePeerFrame(event.body);
        if (!decoded.ok) {
          this.reject(socket, from, decoded.reason);
          return;
        }
        const frame = decoded.frame;
        if (frame.kind === 'peer') {
          if (from !== undefined || frame.cluster !== this.options.cluster) {
            this.reject(socket, from, `unexpected peer greeting from ${frame.from} of cluster ${frame.cluster}`);
            return;
          }
          from = frame.from;
          this.options.onPeerConnected(from);
          continue;
        }
        if (from === undefined || frame.from !== from) {
          this.reject(socket, from, 'a peer must say who it is first, and only speak for itself');
          return;
        }
        this.options.onFrame(frame);
      }
    });
  }

  private reject(socket: Socket, from: string | undefined, reason: string): void {
    this.options.log.log('warn', 'closing a peer connection', { peer: from ?? '(unknown)', reason });
    socket.destroy();
  }

  close(): Promise<void> {
    this.closed = true;
    for (const [to, link] of this.links) this.drop(to, link);
    for (const socket of this.inbound) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const sameAddress = (a: PeerAddress, b: PeerAddress): boolean => a.host === b.host && a.port === b.port;
