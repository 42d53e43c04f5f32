// memcached's ASCII authentication (`memcached -Y <authfile>`, protocol.txt "Authentication"), on
// Catena's users (../acl.ts). While a connection is not authenticated, the only request served is
// a `set` whose data is `<user> <password>`: it is answered STORED (even with noreply) or a
// CLIENT_ERROR, and stores nothing; every other request, a bad line included, is answered
// `CLIENT_ERROR unauthenticated` and the connection stays open, except `quit`, which closes it
// (memcached 1.6.18 refuses it too and stays open; our parser ends at quit). Observed on memcached 1.6.18 and
// kept byte for byte: the data is split at spaces, the first word is the user and the second the
// password, later words are ignored, fewer than two words is `bad authentication token format`.
// Once authenticated, each request also needs its user's category (memcached has none: a request
// outside them gets `CLIENT_ERROR NOPERM ...`, in Redis's words).

import { type AccessClass, type ConnectionAuth } from '../acl.js';
import { encodeClientError, replies, type MemcachedRequest } from './codec.js';

export const unauthenticated = encodeClientError('unauthenticated');
const authenticationFailure = encodeClientError('authentication failure');
const badTokenFormat = encodeClientError('bad authentication token format');

/** The reply to an authenticating `set`, whose data is `<user> <password>`. */
export function authenticateWithData(auth: ConnectionAuth, data: Uint8Array): Buffer {
  const words = Buffer.from(data.buffer, data.byteOffset, data.length)
    .toString('latin1')
    .split(' ')
    .filter((word) => word !== '');
  if (words.length < 2) return badTokenFormat;
  return auth.login(words[0]!, Buffer.from(words[1]!, 'latin1')) ? replies.stored : authenticationFailure;
}

/** The refusal of a request outside the connection's user's categories, or undefined. */
export function permissionRefusal(
  auth: ConnectionAuth,
  request: Exclude<MemcachedRequest, { command: 'quit' }>,
): Buffer | undefined {
  if (auth.check(memcachedAccess(request)) === 'ok') return undefined;
  return encodeClientError(`NOPERM this user has no permissions to run the '${request.command}' command`);
}

/** Who may run a memcached request (../acl.ts). */
function memcachedAccess(request: Exclude<MemcachedRequest, { command: 'quit' }>): AccessClass {
  switch (request.command) {
    case 'get':
    case 'gets':
    case 'stats':
      return 'read';
    case 'gat':
    case 'gats':
    case 'set':
    case 'add':
    case 'replace':
    case 'append':
    case 'prepend':
    case 'cas':
    case 'delete':
    case 'incr':
    case 'decr':
    case 'touch':
      return 'write';
    case 'flush_all':
      return 'admin';
    case 'version':
    case 'verbosity':
      return 'connection';
  }
}
