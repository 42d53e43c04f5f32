// The admin HTTP listener: read-only JSON for operators and scripts (curl, a load balancer's
// health check). Nothing here changes state, and nothing here is on a request's path.
//
//   GET /health   200 {"ok":true,"nodeId":...,"pid":...} while the node runs (the process answers)
//   GET /ready    200 {"ready":true,...} while the node serves its role (session connected, placed
//                 in a chain, caught up); 503 {"ready":false,"reason":...} otherwise
//   GET /status   200 {"node": nodestatus, "topology": topology, "stats": stats, "liveness": ...}
//                 (documented in docs/operations.md; protobuf message types are not part of it)
//   GET /metrics  200 Prometheus text format (metrics.ts)
//   GET /dump     200 application/x-ndjson: this node's whole table, streamed (format: dump.ts);
//                 404 when the node has no dump source; 503 while dumpsInFlightMax dumps stream
//   GET /, /dashboard, /cluster, /series: the dashboard (dashboard.ts, docs/dashboard.md)
//   anything else 404; methods other than GET/HEAD 405
//
// With a token (`--admin-token-file`), every path but /health needs `Authorization: Bearer
// <token>` (401 without it, 403 with a wrong one): /dump is every key, /status the cluster's
// addresses and counters, and anything that changes state added later is covered by the same
// rule. /health stays open for load balancers. The token is compared in constant time (digests).
//
// A dump that fails after its 200 went out is cut off (the connection destroyed, never ended
// cleanly), so a reader sees a broken chunked body rather than a dump that looks complete.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Writable } from 'node:stream';
import { assert } from '../core/assert.js';
import { CatenaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { adminConnectionsMax, dumpsInFlightMax, frameTimeoutMs } from '../core/limits.js';
import type { DumpSummary } from './dump.js';
import type { Registry } from 'prom-client';
import type { ClusterView } from './cluster-view.js';
import { serveDashboard } from './dashboard.js';

export interface AdminSources {
  nodeId: string;
  status(): unknown;
  /** Whether the node serves its role now, and if not why (a load balancer's or orchestrator's probe). */
  ready(): Readiness;
  /** The node's metrics; absent: no /metrics. */
  metrics?: Registry;
  /** Streams this node's table into `out` (dump.ts writeDump) without ending it; absent: no /dump. */
  dump?(out: Writable): Promise<DumpSummary>;
  /** The dashboard's page, /cluster and /series (dashboard.ts); absent: none of them. */
  dashboard?: ClusterView;
  /** The folder of the dashboard page's files (NodeOptions.dashboardAssets). */
  dashboardAssets?: string;
}

export type Readiness = { ready: true; role: string } | { ready: false; role: string; reason: string };

/**
 * JSON with bigints as numbers (they are counters well below 2^53 here) and byte arrays as text;
 * protobuf-es's message type tags (`$typeName`) are left out: they are the library's, not the shape.
 */
function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (key, v: unknown) => {
      if (key === '$typeName') return undefined;
      if (typeof v === 'bigint') return Number(v);
      if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
      return v;
    },
    2,
  );
}

const digestOf = (text: string): Buffer => createHash('sha256').update(text).digest();

/** 401 (no bearer token) or 403 (a wrong one) when the listener has a token; undefined: go on. */
function tokenRefusal(request: IncomingMessage, token: string | undefined): 401 | 403 | undefined {
  if (token === undefined) return undefined;
  const match = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
  if (match === null) return 401;
  return timingSafeEqual(digestOf(match[1]!), digestOf(token)) ? undefined : 403;
}

export class AdminServer {
  private dumpsInFlight = 0;

  private constructor(private readonly server: Server) {}

  static start(options: {
    host: string;
    port: number;
    sources: AdminSources;
    log: Logger;
    /** Every path but /health needs this bearer token; absent: none does. */
    token?: string;
    /** Serve HTTPS with this certificate (the node's --tls-cert). */
    tls?: { cert: string; key: string };
  }): Promise<AdminServer> {
    const handler = (request: IncomingMessage, response: ServerResponse) => admin.handle(request, response, options);
    const server =
      options.tls === undefined
        ? createServer(handler)
        : createHttpsServer(
            { cert: options.tls.cert, key: options.tls.key, handshakeTimeout: frameTimeoutMs },
            handler,
          );
    // A handshake that failed or did not finish in time: Node leaves the socket open for us to close.
    server.on('tlsClientError', (_error: Error, socket: { destroy(): void }) => socket.destroy());
    const admin = new AdminServer(server);
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    server.maxConnections = adminConnectionsMax; // within the descriptors kept back from clients (clientFdReserve)
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        server.on('error', (error) => options.log.log('error', 'admin listener error', { error: error.message }));
        resolve(admin);
      });
    });
  }

  private handle(
    request: IncomingMessage,
    response: ServerResponse,
    options: { sources: AdminSources; log: Logger; token?: string },
  ): void {
    const send = (code: number, body: unknown) => {
      response.writeHead(code, { 'content-type': 'application/json' });
      response.end(request.method === 'HEAD' ? undefined : `${toJson(body)}\n`);
    };
    const path = (request.url ?? '/').split('?')[0];
    // The dashboard's paths first (dashboard.ts: its page needs no token, its data does).
    const view = options.sources.dashboard;
    const refuses = () => tokenRefusal(request, options.token);
    if (
      view !== undefined &&
      serveDashboard(request, response, {
        view,
        refusal: refuses,
        log: options.log,
        assets: options.sources.dashboardAssets,
      })
    )
      return;
    // The token first: without it a client learns nothing, not even which methods a path takes.
    const refusal = path === '/health' ? undefined : tokenRefusal(request, options.token);
    if (refusal !== undefined) {
      response.writeHead(refusal, { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="catena"' });
      response.end(`${toJson({ error: refusal === 401 ? 'this path needs the admin token' : 'wrong admin token' })}\n`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(405, { error: 'only GET' });
      return;
    }
    const { dump, metrics } = options.sources;
    try {
      if (path === '/health') send(200, { ok: true, nodeId: options.sources.nodeId, pid: process.pid });
      else if (path === '/ready') {
        const readiness = options.sources.ready();
        send(readiness.ready ? 200 : 503, { ...readiness, nodeId: options.sources.nodeId });
      } else if (path === '/status') send(200, options.sources.status());
      else if (path === '/metrics' && metrics !== undefined) this.serveMetrics(request, response, metrics, options.log);
      else if (path === '/dump' && dump !== undefined) this.serveDump(request, response, dump, options.log);
      else {
        const paths = ['/health', '/ready', '/status', ...(metrics ? ['/metrics'] : []), ...(dump ? ['/dump'] : [])];
        if (options.sources.dashboard !== undefined) paths.push('/dashboard');
        send(404, { error: `no ${path}: try ${paths.join(', ')}` });
      }
    } catch (error) {
      options.log.log('error', 'admin request failed', { path, error: String(error) });
      send(500, { error: 'internal error' });
    }
  }

  private serveMetrics(request: IncomingMessage, response: ServerResponse, metrics: Registry, log: Logger): void {
    metrics.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        log.log('error', 'metrics failed', { error: String(error) });
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end(`${toJson({ error: 'internal error' })}\n`);
      },
    );
  }

  private serveDump(
    request: IncomingMessage,
    response: ServerResponse,
    dump: (out: Writable) => Promise<DumpSummary>,
    log: Logger,
  ): void {
    if (this.dumpsInFlight >= dumpsInFlightMax) {
      response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
      response.end(`${toJson({ error: `${dumpsInFlightMax} dumps are already streaming: try again later` })}\n`);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    this.dumpsInFlight += 1;
    const startedMs = performance.now();
    // Through a promise even if the source throws at once: the 200 is already out.
    void Promise.resolve()
      .then(() => dump(response))
      .then(
        (summary) => {
          response.end();
          log.log('info', 'dump served', { ...summary, ms: Math.round(performance.now() - startedMs) });
        },
        (error: unknown) => {
          response.destroy();
          const clientLeft = error instanceof CatenaError && error.code === 'ERR_CONNECTION_CLOSED';
          log.log(clientLeft ? 'info' : 'error', clientLeft ? 'dump abandoned by the client' : 'dump failed', {
            error: String(error),
          });
        },
      )
      .finally(() => {
        this.dumpsInFlight -= 1;
        assert(this.dumpsInFlight >= 0, 'dumps in flight never go below zero');
      });
  }

  get port(): number {
    const address = this.server.address();
    assert(address !== null && typeof address === 'object', 'admin listener is on TCP');
    return address.port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
