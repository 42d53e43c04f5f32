// The one catalogue of error codes. A code is stable forever once released: clients, the CLI
// and every protocol map from it (the native protocol sends it as is; RESP and memcached
// translate it into their own error lines). Add codes, never renumber or reuse them.

export const errorCodes = {
  ERR_KEY_TOO_LARGE: 'key is larger than the key limit',
  ERR_KEY_EMPTY: 'key must not be empty',
  ERR_VALUE_TOO_LARGE: 'value is larger than the value limit',
  ERR_NOT_AN_INTEGER: 'value is not an integer or out of range',
  ERR_OVERFLOW: 'increment or decrement would overflow a signed 64-bit integer',
  ERR_INVALID_ARGUMENT: 'invalid argument',
  ERR_UNKNOWN_COMMAND: 'unknown command',
  ERR_MALFORMED_FRAME: 'frame could not be decoded',
  ERR_FRAME_TOO_LARGE: 'frame is larger than the frame limit',
  ERR_SHUTTING_DOWN: 'server is shutting down',
  ERR_TIMEOUT: 'request timed out',
  ERR_CONNECTION_CLOSED: 'connection closed',
  ERR_CONNECTION_FAILED: 'could not connect',
  ERR_DATA_DIR_LOCKED: 'data directory is in use by another process',
  ERR_LISTEN_FAILED: 'could not listen on the address',
  ERR_STORAGE: 'storage failure',
  ERR_INTERNAL: 'internal error',
  ERR_NOT_HEAD: 'this node is not the head of the chain: send writes to the head',
  ERR_NOT_TAIL: 'this node does not serve reads now: send reads to the tail',
  ERR_UNAVAILABLE: 'the chain cannot take requests now (no configuration, or no coordinator session)',
  ERR_COORDINATOR: 'coordinator failure',
  ERR_MOVED:
    "this node's chain does not own the key's hash slot: ask the cluster for its slot map and send it to the owner",
  ERR_SLOT_MOVING: "the key's hash slot is moving to another chain: retry shortly",
  ERR_CROSSSLOT: 'the keys of an atomic request belong to more than one chain',
  ERR_NOAUTH: 'authentication required: send an auth request first',
  ERR_WRONGPASS: 'invalid username-password pair or user is disabled',
  ERR_NOPERM: 'this user has no permissions to run this command',
} as const;

export type ErrorCode = keyof typeof errorCodes;

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(errorCodes, value);
}

/** An error at an edge of the system, carrying a stable code. */
export class CatenaError extends Error {
  override readonly name = 'CatenaError';
  constructor(
    readonly code: ErrorCode,
    message: string = errorCodes[code],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
