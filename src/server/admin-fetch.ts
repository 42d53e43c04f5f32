// One GET to another node's admin port, for the dashboard's /cluster (which reads every node's
// /series). The other node serves plain HTTP or HTTPS as this one does (a cluster shares its TLS
// setup), takes this node's admin token when one is configured (a cluster shares it too), and
// gets a deadline and a body limit: a slow or hostile node costs one failed fetch, never a stuck
// or swollen gather.

import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { splitAddress } from '../core/address.js';
import { CatenaError } from '../core/errors.js';

export interface AdminFetchOptions {
  /** Sent as a bearer token. */
  readonly token?: string;
  /** HTTPS, checking the other node against this CA (undefined: the system's). Absent: plain HTTP. */
  readonly tls?: { readonly ca?: string };
  readonly timeoutMs: number;
  readonly bytesMax: number;
}

/** The JSON body of `GET <path>` on the admin listener at `address` (host:port); rejects with a CatenaError. */
export function fetchAdminJson(address: string, path: string, options: AdminFetchOptions): Promise<unknown> {
  const target = splitAddress(address);
  if (target === undefined) {
    return Promise.reject(new CatenaError('ERR_INVALID_ARGUMENT', `not a host:port admin address: ${address}`));
  }
  const request = options.tls === undefined ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: target.host,
        port: target.port,
        path,
        method: 'GET',
        timeout: options.timeoutMs,
        headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
        ...(options.tls?.ca === undefined ? {} : { ca: options.tls.ca }),
      },
      (response) => {
        readJson(response, address, options.bytesMax).then(resolve, reject);
      },
    );
    outgoing.on('timeout', () =>
      outgoing.destroy(new CatenaError('ERR_TIMEOUT', `${address} did not answer within ${options.timeoutMs} ms`)),
    );
    outgoing.on('error', (error) =>
      reject(
        error instanceof CatenaError ? error : new CatenaError('ERR_CONNECTION_FAILED', `${address}: ${error.message}`),
      ),
    );
    outgoing.end();
  });
}

function readJson(response: IncomingMessage, address: string, bytesMax: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let failed = false;
    const fail = (message: string) => {
      if (failed) return;
      failed = true;
      response.destroy();
      reject(new CatenaError('ERR_UNAVAILABLE', `${address}: ${message}`));
    };
    if (response.statusCode !== 200) {
      fail(`answered ${response.statusCode ?? '?'}`);
      return;
    }
    response.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > bytesMax) fail(`answered more than ${bytesMax} bytes`);
      else chunks.push(chunk);
    });
    response.on('error', (error) => fail(error.message));
    response.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        fail('answered something that is not JSON');
      }
    });
  });
}
