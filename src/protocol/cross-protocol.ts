// Cross-protocol requests: a web page can make a browser send an HTTP request to any local port
// (a form POST, fetch with no-cors), and a text protocol that takes each line as a command would
// run the request's body: `curl -X POST --data $'SET pwned yes\r\n' 127.0.0.1:7001` sets the key.
// Redis defends by treating `POST` and `Host:` as commands that log "Possible SECURITY ATTACK
// detected" and close the connection (server.c, securityWarningCommand); the RESP and memcached
// sessions do the same here, before anything after such a line runs. An HTTP request always
// starts with its request line (`METHOD target HTTP/1.x`), so refusing that line is enough; the
// `Host:` header is refused too, as Redis does, in case the first line was mangled.
//
// Pure: words in, a verdict out. The sessions close the connection; warnOfCrossProtocol logs it,
// at most once per repeatedWarningIntervalMs per protocol (a page can send thousands).

import { repeatedWarningIntervalMs } from '../core/limits.js';
import type { Logger } from '../core/log.js';

/** HTTP's request methods (RFC 9110 §9, and PATCH): sent upper-case, as browsers and curl do. */
const httpMethods: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

export type CrossProtocolVerdict = 'http-request-line' | 'http-host-header' | undefined;

const latin1 = (word: Uint8Array | undefined): string =>
  word === undefined ? '' : Buffer.from(word.buffer, word.byteOffset, word.length).toString('latin1');

/**
 * A RESP command's words (argv): refused when the command is `POST` or `Host:` in any case (as
 * Redis), or an HTTP request line: an upper-case method, a target and `HTTP/<version>`. `GET key`
 * stays a command (two words); no RESP command of Catena takes `HTTP/...` as a third word after
 * an upper-case method name that it would run.
 */
export function respCrossProtocol(argv: readonly Uint8Array[]): CrossProtocolVerdict {
  const name = latin1(argv[0]);
  const lower = name.toLowerCase();
  if (lower === 'host:') return 'http-host-header';
  if (lower === 'post') return 'http-request-line';
  if (argv.length === 3 && httpMethods.has(name) && latin1(argv[2]).startsWith('HTTP/')) return 'http-request-line';
  return undefined;
}

/**
 * A memcached command line's words: memcached's command names are lower-case and
 * case-sensitive, so neither an HTTP request line (upper-case method, target, `HTTP/<version>`),
 * `POST` nor `Host:` (any case) is ever a command. `GET key` stays memcached's `ERROR`.
 */
export function memcachedCrossProtocol(words: readonly string[]): CrossProtocolVerdict {
  const name = words[0] ?? '';
  const lower = name.toLowerCase();
  if (lower === 'host:') return 'http-host-header';
  if (lower === 'post') return 'http-request-line';
  if (words.length === 3 && httpMethods.has(name) && words[2]!.startsWith('HTTP/')) return 'http-request-line';
  return undefined;
}

const lastWarnedAtMs = new Map<string, number>();

/** Logs (warn) a refused cross-protocol request, at most once per repeatedWarningIntervalMs per protocol. */
export function warnOfCrossProtocol(
  log: Logger,
  protocol: 'RESP' | 'memcached',
  verdict: Exclude<CrossProtocolVerdict, undefined>,
  remoteAddress: string | undefined,
  nowMs: number = Date.now(),
): void {
  const last = lastWarnedAtMs.get(protocol);
  if (last !== undefined && nowMs - last < repeatedWarningIntervalMs) return;
  lastWarnedAtMs.set(protocol, nowMs);
  log.log(
    'warn',
    `Possible SECURITY ATTACK detected: an HTTP request (${verdict === 'http-host-header' ? 'a Host: line' : 'a request line'}) ` +
      `on the ${protocol} port, likely a web page's cross-protocol scripting; connection closed (further ones within ` +
      `${repeatedWarningIntervalMs} ms are closed without this line)`,
    { remoteAddress: remoteAddress ?? '' },
  );
}
