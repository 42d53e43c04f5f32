// The admin HTTP listener: read-only JSON for operators and scripts (curl, a load balancer's
// health check). Nothing here changes state, and nothing here is on a request's path.
//
//   GET /health   200 {"ok":true,"nodeId":...,"pid":...} while the node runs
//   GET /status   200 {"node": nodestatus, "topology": topology, "stats": stats}
//   anything else 404; methods other than GET/HEAD 405

import { createServer, type Server } from 'node:http';
import { assert } from '../core/assert.js';
import type { Logger } from '../core/log.js';

export interface AdminSources {
  nodeId: string;
  status(): unknown;
}

/** JSON with bigints as numbers (they are counters well below 2^53 here) and byte arrays as text. */
function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === 'bigint') return Number(v);
      if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
      return v;
    },
    2,
  );
}

export class AdminServer {
  private constructor(private readonly server: Server) {}

  static start(options: { host: string; port: number; sources: AdminSources; log: Logger }): Promise<AdminServer> {
    const server = createServer((request, response) => {
      const send = (code: number, body: unknown) => {
        response.writeHead(code, { 'content-type': 'application/json' });
        response.end(request.method === 'HEAD' ? undefined : `${toJson(body)}\n`);
      };
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        send(405, { error: 'only GET' });
        return;
      }
      const path = (request.url ?? '/').split('?')[0];
      try {
        if (path === '/health') send(200, { ok: true, nodeId: options.sources.nodeId, pid: process.pid });
        else if (path === '/status') send(200, options.sources.status());
        else send(404, { error: `no ${path}: try /health or /status` });
      } catch (error) {
        options.log.log('error', 'admin request failed', { path, error: String(error) });
        send(500, { error: 'internal error' });
      }
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    server.maxConnections = 100;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        server.on('error', (error) => options.log.log('error', 'admin listener error', { error: error.message }));
        resolve(new AdminServer(server));
      });
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
