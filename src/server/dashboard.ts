// The dashboard's routes on the admin listener (docs/dashboard.md). admin.ts hands every request
// here first; what is not the dashboard's goes back to it.
//
//   GET /                      302 to /dashboard
//   GET /dashboard             the page (dashboard/index.html in the package), and its two assets:
//   GET /dashboard/app.js, /dashboard/style.css
//   GET /cluster[?seconds=N]   the cluster document (cluster-view.ts), each series' newest N samples
//   GET /series[?seconds=N]    this node's throughput series
//
// The page and its assets hold no data and are served without the admin token; /cluster and
// /series need it like every admin path but /health (the page asks for it and sends it as a
// bearer header, never in a URL). /cluster and /series answer any origin (CORS `*`, and the
// preflight a bearer header needs): a page loaded from one node reads the others when that node
// dies. Without a token, that also lets any web page a browser opens read them from an admin port
// the browser can reach, as curl could: a token (or an admin port on a private interface) closes
// that. The page's own headers (a content security policy) let it load nothing from elsewhere.

import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert } from '../core/assert.js';
import { dashboardAssetBytesMax, seriesSamplesKept } from '../core/limits.js';
import type { Logger } from '../core/log.js';
import type { ClusterView } from './cluster-view.js';

/** The files of the page, by path: what else is under /dashboard/ is 404. */
const assets: ReadonlyMap<string, { file: string; type: string }> = new Map([
  ['/dashboard', { file: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/dashboard/', { file: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/dashboard/app.js', { file: 'app.js', type: 'text/javascript; charset=utf-8' }],
  ['/dashboard/style.css', { file: 'style.css', type: 'text/css; charset=utf-8' }],
]);

const dataPaths: ReadonlySet<string> = new Set(['/cluster', '/series']);

const pageHeaders = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Scripts and styles from this node only; data from any node of the cluster (their admin ports).
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src http: https:; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

const corsHeaders = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD',
  'access-control-allow-headers': 'authorization',
  'access-control-max-age': '600',
};

export interface DashboardRequest {
  readonly view: ClusterView;
  /** The admin token check (admin.ts): 401 or 403 when the request may not read data, else undefined. */
  readonly refusal: () => 401 | 403 | undefined;
  readonly log: Logger;
  /** The folder holding the page's files (the package's dashboard/); undefined: the page is not served. */
  readonly assets: string | undefined;
}

/** Serves `request` when it is one of the dashboard's; false when it is not (admin.ts goes on). Never throws. */
export function serveDashboard(request: IncomingMessage, response: ServerResponse, options: DashboardRequest): boolean {
  try {
    return route(request, response, options);
  } catch (error) {
    options.log.log('error', 'dashboard request failed', { url: request.url, error: String(error) });
    sendJson(response, request.method ?? 'GET', 500, { error: 'internal error' }, {});
    return true;
  }
}

function route(request: IncomingMessage, response: ServerResponse, options: DashboardRequest): boolean {
  let url: URL;
  try {
    url = new URL(request.url ?? '/', 'http://admin.invalid');
  } catch {
    return false; // not a path admin.ts or the dashboard serves: its 404
  }
  const path = url.pathname;
  const isPage = path === '/' || assets.has(path);
  if (!isPage && !dataPaths.has(path)) return false;
  const method = request.method ?? 'GET';
  if (isPage) {
    if (method !== 'GET' && method !== 'HEAD') {
      sendJson(response, method, 405, { error: 'only GET' }, { allow: 'GET, HEAD' });
    } else if (path === '/') {
      response.writeHead(302, { location: '/dashboard' });
      response.end();
    } else {
      servePage(path, method, response, options);
    }
    return true;
  }
  // A preflight never carries the token (it asks whether it may send one).
  if (method === 'OPTIONS') {
    response.writeHead(204, corsHeaders);
    response.end();
    return true;
  }
  // The token before the method, as admin.ts does: without it a client learns nothing.
  const refusal = options.refusal();
  if (refusal !== undefined) {
    const error = refusal === 401 ? 'this path needs the admin token' : 'wrong admin token';
    sendJson(response, method, refusal, { error }, { ...corsHeaders, 'www-authenticate': 'Bearer realm="catena"' });
  } else if (method !== 'GET' && method !== 'HEAD') {
    sendJson(response, method, 405, { error: 'only GET' }, { allow: 'GET, HEAD', ...corsHeaders });
  } else {
    serveData(path, url.searchParams, method, response, options.view, options.log);
  }
  return true;
}

function serveData(
  path: string,
  query: URLSearchParams,
  method: string,
  response: ServerResponse,
  view: ClusterView,
  log: Logger,
): void {
  const seconds = secondsOf(query);
  if (typeof seconds === 'string') {
    sendJson(response, method, 400, { error: seconds }, corsHeaders);
    return;
  }
  if (path === '/series') {
    sendJson(response, method, 200, view.ownSeries(seconds), corsHeaders);
    return;
  }
  view.document(seconds).then(
    (document) => sendJson(response, method, 200, document, corsHeaders),
    (error: unknown) => {
      // Not gathered now (the node has not joined, its coordinator is away): a page asks another node.
      log.log('info', 'cluster view not available', { error: String(error) });
      const message = error instanceof Error ? error.message : String(error);
      sendJson(
        response,
        method,
        503,
        { error: `cannot gather the cluster now: ${message}` },
        {
          ...corsHeaders,
          'retry-after': '1',
        },
      );
    },
  );
}

/** ?seconds=N (1..seriesSamplesKept; default all kept), or the error to answer; any other parameter is an error. */
export function secondsOf(query: URLSearchParams): number | string {
  for (const key of query.keys()) {
    if (key !== 'seconds') return `unknown parameter ${JSON.stringify(key)}: the only one is seconds`;
  }
  const values = query.getAll('seconds');
  if (values.length === 0) return seriesSamplesKept;
  const text = values[0]!;
  const seconds = Number(text);
  if (values.length > 1 || !/^\d{1,6}$/.test(text) || seconds < 1 || seconds > seriesSamplesKept) {
    return `seconds must be one whole number from 1 to ${seriesSamplesKept}`;
  }
  return seconds;
}

function sendJson(
  response: ServerResponse,
  method: string,
  code: number,
  body: unknown,
  headers: Record<string, string>,
): void {
  if (response.headersSent || response.destroyed) return; // the client left while /cluster was gathered
  response.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  response.end(method === 'HEAD' ? undefined : `${JSON.stringify(body)}\n`);
}

// ---- the page's files ----------------------------------------------------------------------

/**
 * The package's dashboard/ folder, found from a module of the package's ES module build (the
 * CLI passes its own `import.meta.url`): dashboard/ is two levels above src/<dir>/ and three
 * above dist/src/<dir>/. Kept out of this module, which the CommonJS build compiles too (where
 * `import.meta` does not exist).
 */
export function dashboardAssetsBeside(moduleUrl: string): string | undefined {
  for (const up of ['../../dashboard/', '../../../dashboard/']) {
    const dir = fileURLToPath(new URL(up, moduleUrl));
    try {
      if (statSync(join(dir, 'index.html')).isFile()) return dir;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** Read once, on first request, and kept: the package's files do not change under a running node. */
let loaded: Map<string, Buffer> | undefined;

function assetBody(file: string, dir: string | undefined): Buffer | string {
  if (loaded === undefined) {
    if (dir === undefined) {
      return 'the dashboard files were not found (dashboard/ in the package; a node started from code needs NodeOptions.dashboardAssets)';
    }
    const files = new Map<string, Buffer>();
    for (const { file: name } of assets.values()) {
      if (files.has(name)) continue;
      const body = readFileSync(join(dir, name));
      if (body.length > dashboardAssetBytesMax)
        return `dashboard/${name} is larger than ${dashboardAssetBytesMax} bytes`;
      files.set(name, body);
    }
    loaded = files;
  }
  return loaded.get(file) ?? `dashboard/${file} is missing`;
}

function servePage(path: string, method: string, response: ServerResponse, options: DashboardRequest): void {
  const log = options.log;
  const asset = assets.get(path);
  assert(asset !== undefined, 'a page path is one of the assets');
  let body: Buffer | string;
  try {
    body = assetBody(asset.file, options.assets);
  } catch (error) {
    body = `cannot read the dashboard files: ${String(error)}`;
  }
  if (typeof body === 'string') {
    log.log('error', 'dashboard not served', { error: body });
    sendJson(response, method, 500, { error: body }, {});
    return;
  }
  response.writeHead(200, { 'content-type': asset.type, 'content-length': String(body.length), ...pageHeaders });
  response.end(method === 'HEAD' ? undefined : body);
}
