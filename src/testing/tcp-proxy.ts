// A TCP proxy a test controls, for fault injection between processes: put it between a client
// and its server, then cut, stall or reset the path without touching either process.
//
// * `blackhole(true)` behaves as a network partition: connections stay open, nothing moves in
//   either direction (both sides stop being read, so bytes wait in kernel buffers as they would
//   in retransmission), new connections are accepted but not forwarded, and a side that closes
//   is not told to the other. `blackhole(false)` heals it: held connections are forwarded, waiting
//   bytes flow in order, and closes are passed on — as TCP does after a partition that was
//   shorter than its retransmission timeout.
// * `resetAll()` closes every open connection at once, on both sides.
// * `stop()` closes the listener and every connection.

import { connect, createServer, type Server, type Socket } from 'node:net';
import { assert } from '../core/assert.js';

export interface TcpProxyOptions {
  readonly target: { readonly host: string; readonly port: number };
  readonly listenHost?: string;
  /** 0 (the default) picks a free port; read it back from `proxy.port`. */
  readonly listenPort?: number;
}

interface Link {
  readonly client: Socket;
  upstream: Socket | undefined;
  /** A side closed while the path was blackholed; passed on when it heals. */
  closedDuringBlackhole: boolean;
}

export class TcpProxy {
  private readonly links = new Set<Link>();
  private blackholed = false;

  private constructor(
    private readonly server: Server,
    private readonly target: TcpProxyOptions['target'],
    readonly host: string,
    readonly port: number,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  static async start(options: TcpProxyOptions): Promise<TcpProxy> {
    const host = options.listenHost ?? '127.0.0.1';
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.listenPort ?? 0, host, () => {
        server.off('error', reject);
        const address = server.address();
        assert(address !== null && typeof address === 'object', 'a TCP listener has an address');
        resolve(address.port);
      });
    });
    return new TcpProxy(server, options.target, host, port);
  }

  /** Connections currently open through the proxy (held ones included). */
  get connectionCount(): number {
    return this.links.size;
  }

  get isBlackholed(): boolean {
    return this.blackholed;
  }

  blackhole(on: boolean): void {
    if (on === this.blackholed) return;
    this.blackholed = on;
    for (const link of [...this.links]) {
      if (on) {
        link.client.pause();
        link.upstream?.pause();
      } else {
        this.heal(link);
      }
    }
  }

  /**
   * Closes every open connection at once. Sockets are destroyed, not `resetAndDestroy()`ed:
   * with the latter, Node 20 sometimes never finished closing a handle and spun at process exit.
   */
  resetAll(): void {
    for (const link of [...this.links]) this.destroy(link);
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.resetAll();
    await closed;
  }

  private accept(client: Socket): void {
    const link: Link = { client, upstream: undefined, closedDuringBlackhole: false };
    this.links.add(link);
    client.on('error', () => this.sideClosed(link)); // a reset from the client: 'close' follows
    client.on('close', () => this.sideClosed(link));
    if (!this.blackholed) this.forward(link);
  }

  /** Connects upstream and starts moving bytes both ways. */
  private forward(link: Link): void {
    const upstream = connect({ host: this.target.host, port: this.target.port, allowHalfOpen: true });
    link.upstream = upstream;
    upstream.on('error', () => this.sideClosed(link)); // the target refused or reset: 'close' follows
    upstream.on('close', () => this.sideClosed(link));
    this.pipe(link, link.client, upstream);
    this.pipe(link, upstream, link.client);
    link.client.resume();
  }

  /** Copies bytes from one side to the other, with backpressure, while not blackholed. */
  private pipe(link: Link, from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (!this.blackholed && this.links.has(link)) from.resume();
    });
    from.on('end', () => to.end());
  }

  private heal(link: Link): void {
    if (link.closedDuringBlackhole) {
      this.destroy(link);
      return;
    }
    if (link.upstream === undefined) {
      this.forward(link);
      return;
    }
    link.client.resume();
    link.upstream.resume();
  }

  private sideClosed(link: Link): void {
    if (!this.links.has(link)) return;
    if (this.blackholed) link.closedDuringBlackhole = true;
    else this.destroy(link);
  }

  private destroy(link: Link): void {
    this.links.delete(link);
    link.client.destroy();
    link.upstream?.destroy();
  }
}
