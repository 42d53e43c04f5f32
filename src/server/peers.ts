// Chain traffic between nodes: one listener for frames from peers, and one outgoing TCP
// connection per peer for frames to it. The replication core's ordering contract (effects.ts)
// asks for FIFO delivery per peer and allows loss; so frames to one peer go out in order on one
// socket, and anything that would reorder them — a failed connection, a peer that does not
// drain — drops the connection and what was queued on it instead. The core repairs loss: a
// successor that sees a new connection from its predecessor says `hello` (chain-node.ts
// `peerConnected`), which makes the predecessor re-send.
//
// Who may speak (peer-auth.ts, docs/security.md): the accepting node sends a `challenge` with
// a fresh nonce; the connecting node's first frame is its `peer` greeting, naming itself, the
// node it meant to reach and the cluster, with an HMAC of the challenge under the cluster
// secret. Until the greeting is proved nothing else is read (and the first frame may be 4 KiB at
// most); frames on a connection that has not proved who it is, or that speak for another node,
// close it. Without a cluster secret a node accepts peers from loopback addresses only (as Redis's
// protected mode does) and logs that chain traffic is unauthenticated. Malformed or oversized
// frames, frames the node refuses (onFrame returns why: a request that does not decode, ...) and
// a frame left incomplete for frameTimeoutMs close the connection too, with a log line and a
// count (`refused()`); a peer is another Catena node: garbage means a bug or a stranger, and
// resynchronising is not possible. Nothing a peer sends can crash the node.

import { connect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { assert } from '../core/assert.js';
import {
  frameTimeoutMs,
  peerFrameBytesMax,
  peerGreetingBytesMax,
  peerQueueBytesMax,
  peerReconnectMs,
  peerConnectionsMax,
  peerGreetingMs,
  peerRefusalReasonCharsMax,
  peerUnprovedConnectionsMax,
  repeatedWarningIntervalMs,
} from '../core/limits.js';
import type { Logger } from '../core/log.js';
import { FrameDecoder } from '../protocol/native/frame.js';
import { decodePeerFrame, encodePeerFrame, type PeerFrame } from './chain-wire.js';
import { isLoopback, newChallenge, peerProof, verifyPeerProof } from './peer-auth.js';
import type { TlsMaterial } from './tls.js';

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
  /**
   * The cluster secret every node holds (peer-auth.ts). Undefined: peers are accepted from
   * loopback addresses only, and not authenticated.
   */
  readonly secret?: Uint8Array;
  /**
   * A frame from a peer that has proved who it is. A returned reason refuses it: the connection
   * closes (logged and counted), and the peer reconnects and repairs what was lost.
   */
  onFrame(frame: ChainFrame): string | undefined;
  /**
   * Mutual TLS between peers (server/tls.ts): both ends present their certificate and check the
   * other's against `ca`. Absent (or without a CA): plain TCP.
   */
  readonly tls?: TlsMaterial;
  /** A started frame must end within this long (default limits.ts frameTimeoutMs; tests shorten it). */
  readonly frameTimeoutMs?: number;
  /** A peer opened a new connection to this node (what it sent before may have been lost). */
  onPeerConnected(nodeId: string): void;
  /**
   * A connection from or to a peer closed or failed (a process that dies has its connections
   * reset at once): the core counts silence from it as longer (chain-node.ts `peerLost`).
   */
  onPeerLost?(nodeId: string): void;
  readonly log: Logger;
}

/** What flows on a connection once its greeting is proved. */
export type ChainFrame = Exclude<PeerFrame, { kind: 'peer' } | { kind: 'challenge' }>;

interface Link {
  readonly address: PeerAddress;
  readonly socket: Socket;
  connected: boolean;
  /** The peer's challenge was answered: frames go to the socket. Until then they wait in `queue`. */
  greeted: boolean;
  queue: Buffer[];
  queuedBytes: number;
}

export interface PeerRefusals {
  /** Inbound connections closed for what they sent (or failed to send), since start. */
  readonly connections: number;
  readonly lastReason: string | undefined;
  readonly lastPeer: string | undefined;
}

export class PeerNetwork {
  private readonly links = new Map<string, Link>();
  /** Peers whose connection failed recently: sends to them are dropped until the time given. */
  private readonly backoffUntil = new Map<string, number>();
  private readonly inbound = new Set<Socket>();
  /** Inbound connections whose greeting is not proved yet, oldest first. */
  private readonly unproved = new Set<Socket>();
  private refusalLoggedAtMs = Number.NEGATIVE_INFINITY;
  private refusalsUnlogged = 0;
  private closed = false;
  private refusals: PeerRefusals = { connections: 0, lastReason: undefined, lastPeer: undefined };

  private constructor(
    private readonly options: PeerNetworkOptions,
    private readonly server: Server,
  ) {}

  static start(options: PeerNetworkOptions): Promise<PeerNetwork> {
    const tls = options.tls?.ca === undefined ? undefined : options.tls;
    const server =
      tls === undefined
        ? createServer({ noDelay: true })
        : createTlsServer({
            cert: tls.cert,
            key: tls.key,
            ca: tls.ca,
            requestCert: true,
            rejectUnauthorized: true,
            handshakeTimeout: peerGreetingMs,
          });
    // TCP connections at once, handshakes included (accept() keeps its own counts).
    server.maxConnections = peerConnectionsMax + peerUnprovedConnectionsMax;
    const network = new PeerNetwork(options, server);
    if (tls === undefined) {
      server.on('connection', (socket) => network.accept(socket));
    } else {
      server.on('secureConnection', (socket: Socket) => {
        socket.setNoDelay(true);
        network.accept(socket);
      });
      server.on('tlsClientError', (error, socket) => {
        // Node reports a handshake that failed or timed out here and leaves the socket to us.
        socket.destroy();
        network.refuse(socket.remoteAddress, `TLS handshake failed: ${error.message}`);
      });
    }
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
    const bytes = encodePeerFrame(frame);
    if (!link.greeted) {
      link.queue.push(bytes);
      link.queuedBytes += bytes.length;
    } else {
      link.socket.write(bytes);
    }
    if (link.socket.writableLength + link.queuedBytes > peerQueueBytesMax) {
      this.options.log.log('warn', 'peer is not draining: dropping the connection', { peer: to });
      this.drop(to, link);
    }
  }

  /** Bytes queued on the connection to this peer and not yet handed to the kernel. */
  backlogBytes(to: string): number {
    const link = this.links.get(to);
    return link === undefined ? 0 : link.socket.writableLength + link.queuedBytes;
  }

  /** Inbound connections refused so far, and the last reason. */
  refused(): PeerRefusals {
    return this.refusals;
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
    const tls = this.options.tls?.ca === undefined ? undefined : this.options.tls;
    const socket =
      tls === undefined
        ? connect({ host: address.host, port: address.port, noDelay: true })
        : tlsConnect({ host: address.host, port: address.port, cert: tls.cert, key: tls.key, ca: tls.ca });
    socket.setNoDelay(true);
    const link: Link = { address, socket, connected: false, greeted: false, queue: [], queuedBytes: 0 };
    this.links.set(to, link);
    socket.on('connect', () => {
      link.connected = true;
    });
    socket.on('error', (error) => {
      this.options.log.log('debug', 'peer connection failed', { peer: to, error: error.message });
      this.backoffUntil.set(to, Date.now() + peerReconnectMs);
    });
    // A listener that never sends its challenge is not a Catena node (or not a live one).
    const unanswered = setTimeout(() => {
      if (link.greeted) return;
      this.options.log.log('warn', 'peer sent no challenge in time: dropping the connection', { peer: to });
      this.backoffUntil.set(to, Date.now() + peerReconnectMs);
      this.drop(to, link);
    }, peerGreetingMs);
    socket.on('close', () => {
      clearTimeout(unanswered);
      const current = this.links.get(to) === link;
      this.drop(to, link);
      if (current && !this.closed) this.options.onPeerLost?.(to);
    });
    const decoder = new FrameDecoder(peerGreetingBytesMax);
    socket.on('data', (chunk: Buffer) => {
      // The accepting node sends one frame, its challenge; anything else ends the connection.
      for (const event of decoder.push(chunk)) {
        if (socket.destroyed) return;
        const decoded = event.kind === 'frame' ? decodePeerFrame(event.body) : undefined;
        const challenge = decoded?.ok === true && decoded.frame.kind === 'challenge' ? decoded.frame : undefined;
        if (link.greeted || challenge === undefined) {
          this.options.log.log('warn', 'peer sent something other than one challenge: dropping the connection', {
            peer: to,
          });
          this.drop(to, link);
          return;
        }
        if (challenge.from !== to || challenge.cluster !== this.options.cluster) {
          this.options.log.log('warn', 'the node at a peer address is not the one expected', {
            peer: to,
            address: `${address.host}:${address.port}`,
            answeredAs: `${challenge.from} of cluster ${challenge.cluster}`,
          });
          this.backoffUntil.set(to, Date.now() + peerReconnectMs);
          this.drop(to, link);
          return;
        }
        const { self, cluster, secret } = this.options;
        const proof = secret === undefined ? undefined : peerProof(secret, cluster, self, to, challenge.nonce);
        socket.write(
          encodePeerFrame({ kind: 'peer', from: self, cluster, to, ...(proof === undefined ? {} : { proof }) }),
        );
        link.greeted = true;
        clearTimeout(unanswered);
        for (const bytes of link.queue) socket.write(bytes);
        link.queue = [];
        link.queuedBytes = 0;
      }
    });
    return link;
  }

  private drop(to: string, link: Link): void {
    if (this.links.get(to) === link) this.links.delete(to);
    link.queue = [];
    link.queuedBytes = 0;
    link.socket.destroy();
  }

  private accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.inbound.add(socket);
    this.unproved.add(socket);
    let from: string | undefined;
    socket.on('close', () => {
      this.inbound.delete(socket);
      this.unproved.delete(socket);
      if (from !== undefined && !this.closed) this.options.onPeerLost?.(from);
    });
    socket.on('error', () => undefined); // 'close' follows
    if (this.inbound.size - this.unproved.size > peerConnectionsMax) {
      this.reject(socket, from, 'too many peer connections');
      return;
    }
    // Connections that have not proved who they are yet get few places, and a new one takes the
    // oldest one's: a stranger opening connections cannot keep a peer's reconnection out (it
    // would have to open more than the cap within the millisecond a peer's handshake takes).
    if (this.unproved.size > peerUnprovedConnectionsMax) {
      const oldest = this.unproved.values().next().value;
      if (oldest !== undefined && oldest !== socket)
        this.reject(oldest, undefined, 'too many unproved peer connections');
    }
    const { self, cluster, secret } = this.options;
    if (secret === undefined && !isLoopback(socket.remoteAddress)) {
      this.reject(
        socket,
        from,
        `a chain connection from ${socket.remoteAddress ?? '?'}: without --cluster-secret-file only loopback peers are accepted`,
      );
      return;
    }
    const nonce = newChallenge();
    socket.write(encodePeerFrame({ kind: 'challenge', from: self, cluster, nonce }));
    const decoder = new FrameDecoder(peerFrameBytesMax, peerGreetingBytesMax);
    // A connection that does not prove who it is in time is not a peer.
    const greeting = setTimeout(() => {
      if (from === undefined) this.reject(socket, from, 'no greeting in time');
    }, peerGreetingMs);
    // A frame, once started, must end in time (a peer that stalls mid-frame holds its buffer).
    let unfinished: NodeJS.Timeout | undefined;
    socket.on('close', () => {
      clearTimeout(greeting);
      clearTimeout(unfinished);
    });
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
          const refusal = this.greetingRefusal(frame, from, nonce);
          if (refusal !== undefined) {
            this.reject(socket, from, refusal);
            return;
          }
          from = frame.from;
          this.unproved.delete(socket);
          clearTimeout(greeting);
          this.options.onPeerConnected(from);
          continue;
        }
        if (frame.kind === 'challenge' || from === undefined || frame.from !== from) {
          this.reject(socket, from, 'a peer must prove who it is first, and only speak for itself');
          return;
        }
        const refusal = this.options.onFrame(frame);
        if (refusal !== undefined) {
          this.reject(socket, from, `refused ${frame.kind} frame: ${refusal}`);
          return;
        }
      }
      const oversized = decoder.oversizedBytes;
      if (oversized !== undefined && !socket.destroyed) {
        this.reject(socket, from, `peer frame of ${oversized} bytes is over the limit`);
        return;
      }
      if (!decoder.inFrame) {
        clearTimeout(unfinished);
        unfinished = undefined;
      } else {
        const timeoutMs = this.options.frameTimeoutMs ?? frameTimeoutMs;
        unfinished ??= setTimeout(
          () => this.reject(socket, from, `a frame was not completed within ${timeoutMs} ms`),
          timeoutMs,
        );
      }
    });
  }

  /** Why a greeting is refused, or undefined when it proves who sent it. */
  private greetingRefusal(
    frame: Extract<PeerFrame, { kind: 'peer' }>,
    from: string | undefined,
    nonce: Uint8Array,
  ): string | undefined {
    const { self, cluster, secret } = this.options;
    if (from !== undefined) return 'a second greeting';
    if (frame.cluster !== cluster) return `a greeting from ${frame.from} of cluster ${frame.cluster}`;
    if (frame.to !== self) return `a greeting from ${frame.from} meant for ${frame.to ?? '(no node named)'}`;
    if (secret !== undefined && !verifyPeerProof(secret, cluster, frame.from, self, nonce, frame.proof)) {
      return `${frame.from} did not prove the cluster secret (is --cluster-secret-file the same on every node?)`;
    }
    return undefined;
  }

  /** Counts and logs a connection refused before it reached accept() (a failed TLS handshake). */
  private refuse(address: string | undefined, reason: string): void {
    this.noteRefusal(undefined, address, reason);
  }

  /** `from` only once proved: a stranger's claimed name is never reported as the refused peer. */
  private reject(socket: Socket, from: string | undefined, reason: string): void {
    this.noteRefusal(from, socket.remoteAddress, reason);
    socket.destroy();
  }

  /**
   * Counts every refusal; logs the first in each repeatedWarningIntervalMs and then how many
   * followed (a stranger's refused connections must not fill the disk with log lines). What a
   * stranger wrote (names, clusters) is cut to a few dozen characters.
   */
  private noteRefusal(from: string | undefined, address: string | undefined, reason: string): void {
    const shortReason =
      reason.length > peerRefusalReasonCharsMax ? `${reason.slice(0, peerRefusalReasonCharsMax)}...` : reason;
    this.refusals = { connections: this.refusals.connections + 1, lastReason: shortReason, lastPeer: from };
    const nowMs = Date.now();
    if (nowMs - this.refusalLoggedAtMs < repeatedWarningIntervalMs) {
      this.refusalsUnlogged += 1;
      return;
    }
    this.options.log.log('warn', 'closing a peer connection', {
      peer: from ?? '(unknown)',
      address: address ?? '?',
      reason: shortReason,
      ...(this.refusalsUnlogged > 0 ? { refusedSinceLastLine: this.refusalsUnlogged } : {}),
    });
    this.refusalLoggedAtMs = nowMs;
    this.refusalsUnlogged = 0;
  }

  close(): Promise<void> {
    this.closed = true;
    for (const [to, link] of this.links) this.drop(to, link);
    for (const socket of this.inbound) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const sameAddress = (a: PeerAddress, b: PeerAddress): boolean => a.host === b.host && a.port === b.port;
