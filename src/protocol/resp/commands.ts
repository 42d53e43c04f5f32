// The Redis commands Catena answers, each mapped onto the native command table (src/commands/):
// RESP is a protocol over the same commands, not a second implementation of them. A handler
// checks its arguments the way Redis does (same error texts), sends native requests through the
// context (which routes them to the head or tail of the owning chain, or runs them locally), and
// builds the Redis-shaped reply. Handlers never touch the store or a socket.
//
// Atomicity: a command that maps onto one native request (SET, INCR, GETDEL, MSET of up to
// multiKeysMax keys, ...) is exactly as atomic and linearizable as that request. DEL, EXISTS and
// MGET/MSET with more keys than one request holds are split into several requests; each is
// linearizable, the whole is not one atomic step (docs/compatibility.md lists this).

import { CatenaError } from '../../core/errors.js';
import {
  mgetReplyBytesMax,
  multiKeysMax,
  ttlMsMax,
  respKeysPageKeys,
  respKeysReplyBytesMax,
  respKeysReplyMax,
} from '../../core/limits.js';
import type { CommandName, RequestInit } from '../../commands/index.js';
import type { ReplyOf } from '../native/codec.js';
import { SetCondition } from '../native/gen/catena_pb.js';
import type { AccessClass, ConnectionAuth } from '../acl.js';
import { encodeReplies } from './codec.js';
import { globMatch, literalPrefix } from './glob.js';
import {
  arrayReply,
  bulkReply,
  errorReply,
  integerReply,
  nullReply,
  okReply,
  type RespProtocol,
  type RespReply,
} from './reply.js';

/** The Redis version whose command behaviour Catena follows (reported by HELLO and INFO). */
export const redisCompatibleVersion = '7.0.15';

/** What a handler may do: send native requests, and read or change its connection's state. */
export interface RespContext {
  send<C extends CommandName>(name: C, request: RequestInit<C>): Promise<ReplyOf<C>>;
  readonly connection: RespConnectionState;
  readonly server: RespServerFacts;
}

export interface RespConnectionState {
  readonly id: number;
  protocol: RespProtocol;
  name: string | undefined;
  /** Set by QUIT: the session closes after this reply. */
  closing: boolean;
  /** Who the connection is authenticated as (AUTH, HELLO ... AUTH change it). */
  readonly auth: ConnectionAuth;
}

/** Facts about the node that INFO, HELLO, CLUSTER and SCAN need. */
export interface RespServerFacts {
  /** INFO's sections, in order, as name → [field, value] lines (Keyspace is added here). */
  info(): Promise<[section: string, fields: [string, string | number | bigint][]][]>;
  /** The cluster's chains as Redis Cluster would describe them. */
  shards(): RespShard[];
  nodeId: string;
  /** SCAN cursors: Redis clients need a u64; the node remembers which key each stands for. */
  saveCursor(after: Uint8Array): bigint;
  loadCursor(cursor: bigint): Uint8Array | undefined;
  /** How many chains own these keys' slots (absent: one, a standalone node). */
  chainsOf?(keys: readonly Uint8Array[]): number;
}

export interface RespShard {
  readonly slotStart: number;
  readonly slotEnd: number;
  /** Head first (Redis's "master": every request may go to it), then the other members. */
  readonly nodes: readonly { id: string; host: string; port: number }[];
}

export interface RespCommand {
  readonly name: string;
  /** Redis arity: n means exactly n words (name included), -n means at least n. */
  readonly arity: number;
  readonly flags: readonly string[];
  /** Redis key positions (1-based first, last (-1 = last word), step); 0 0 0 for keyless. */
  readonly keys: readonly [first: number, last: number, step: number];
  /** Changes data: ordered after earlier commands on the same keys of its connection. */
  readonly write: boolean;
  /** Affects every key (FLUSHALL, KEYS, SCAN, DBSIZE): ordered against every write. */
  readonly allKeys?: boolean;
  /** Who may run it (../acl.ts); absent: `connection` for the connection group, else write or read. */
  readonly access?: AccessClass;
  /**
   * True when these arguments make the command send its requests over time (one after another)
   * rather than all at once: a connection then starts nothing after it until it is done.
   */
  readonly multiStep?: (argv: readonly Buffer[]) => boolean;
  readonly summary: string;
  readonly group: string;
  run(context: RespContext, argv: readonly Buffer[]): RespReply | Promise<RespReply>;
}

// ---- Redis's error texts (server.c, t_string.c, expire.c, object.c)

const syntaxError = (): CatenaError => respError('ERR syntax error');
const notInteger = (): CatenaError => respError('ERR value is not an integer or out of range');
const invalidExpire = (command: string): CatenaError => respError(`ERR invalid expire time in '${command}' command`);

/** An error whose RESP text is given whole (`CODE message`); the session sends it as is. */
export class RespError extends CatenaError {
  constructor(readonly line: string) {
    super('ERR_INVALID_ARGUMENT', line);
  }
}
export const respError = (line: string): RespError => new RespError(line);

export function wrongArity(name: string): RespReply {
  return errorReply('ERR', `wrong number of arguments for '${name}' command`);
}

/** `-ERR unknown command 'x', with args beginning with: 'a' 'b' ` exactly as Redis 7 words it. */
export function unknownCommand(argv: readonly Buffer[]): RespReply {
  // Redis echoes the raw bytes; decoding as UTF-8 gives the same bytes back for UTF-8 input.
  const name = argv[0]!.toString('utf8').slice(0, 128);
  let args = '';
  for (const arg of argv.slice(1)) {
    if (args.length >= 128) break;
    const room = 128 - args.length;
    args += `'${arg.toString('utf8').slice(0, room)}' `;
  }
  return errorReply('ERR', `unknown command '${name}', with args beginning with: ${args}`);
}

/** A Catena error in Redis's words where Redis has them. */
export function errorFor(error: CatenaError): RespReply {
  if (error instanceof RespError) {
    const space = error.line.indexOf(' ');
    return space < 0 ? errorReply(error.line, '') : errorReply(error.line.slice(0, space), error.line.slice(space + 1));
  }
  switch (error.code) {
    case 'ERR_NOT_AN_INTEGER':
      return errorReply('ERR', 'value is not an integer or out of range');
    case 'ERR_OVERFLOW':
      return errorReply('ERR', 'increment or decrement would overflow');
    case 'ERR_UNAVAILABLE':
    case 'ERR_NOT_HEAD':
    case 'ERR_NOT_TAIL':
    case 'ERR_MOVED':
      return errorReply('CLUSTERDOWN', error.message);
    case 'ERR_CROSSSLOT':
      return errorReply('CROSSSLOT', "Keys in request don't hash to the same slot");
    case 'ERR_TIMEOUT':
    case 'ERR_SLOT_MOVING':
    case 'ERR_CONNECTION_CLOSED':
    case 'ERR_CONNECTION_FAILED':
      return errorReply('TRYAGAIN', error.message);
    default:
      return errorReply('ERR', error.message.replace(/[\r\n]/g, ' '));
  }
}

// ---- argument parsing, as Redis's getLongLongFromObject / string2ll

const int64Pattern = /^-?(0|[1-9][0-9]{0,18})$/;
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

export function parseInteger(word: Buffer | undefined): bigint {
  const text = word?.toString('latin1') ?? '';
  if (!int64Pattern.test(text) || text === '-0') throw notInteger();
  const value = BigInt(text);
  if (value > INT64_MAX || value < INT64_MIN) throw notInteger();
  return value;
}

const lower = (word: Buffer): string => word.toString('latin1').toLowerCase();

/** Splits `items` into runs of at most `size`. */
/** An array of `count` items already encoded (in `parts`), as one reply. */
function encodedArray(count: number, parts: readonly Buffer[]): RespReply {
  return { kind: 'encoded', bytes: Buffer.concat([Buffer.from(`*${count}\r\n`), ...parts]) };
}

/** Resolves on the event loop's next turn: a long command lets every other client in between its steps. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Reads `keys` with one native mget of multiKeysMax keys at a time, the next only once `take`
 * has kept what it needs of the previous one, yielding to the event loop between them (a
 * multi-step command: its connection starts nothing else meanwhile). Stops early, returning
 * false, when `take` says so (a reply limit was passed).
 */
async function inRequests(
  context: RespContext,
  keys: readonly Buffer[],
  take: (reply: ReplyOf<'mget'>) => boolean,
): Promise<boolean> {
  const batches = chunks(keys, multiKeysMax);
  for (const [i, batch] of batches.entries()) {
    if (i > 0) await turn();
    if (!take(await context.send('mget', { keys: batch }))) return false;
  }
  return true;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A relative expiry in ms, or the Redis error for a bad one (`unit` 1000 for seconds). */
function ttlFrom(word: Buffer | undefined, unit: number, command: string): bigint {
  const amount = parseInteger(word);
  if (amount <= 0n) throw invalidExpire(command);
  const ms = amount * BigInt(unit);
  if (ms > BigInt(ttlMsMax)) throw invalidExpire(command);
  return ms;
}

// ---- the commands

function define(spec: RespCommand): RespCommand {
  return spec;
}

const ping = define({
  name: 'ping',
  arity: -1,
  flags: ['fast'],
  keys: [0, 0, 0],
  write: false,
  summary: 'Returns the server\u2019s liveliness response.',
  group: 'connection',
  run(_context, argv) {
    if (argv.length > 2) return wrongArity('ping');
    return argv.length === 2 ? bulkReply(argv[1]!) : { kind: 'simple', text: 'PONG' };
  },
});

const echo = define({
  name: 'echo',
  arity: 2,
  flags: ['fast'],
  keys: [0, 0, 0],
  write: false,
  summary: 'Returns the given string.',
  group: 'connection',
  run: (_context, argv) => bulkReply(argv[1]!),
});

const quit = define({
  name: 'quit',
  arity: -1,
  flags: ['fast'],
  keys: [0, 0, 0],
  write: false,
  summary: 'Closes the connection.',
  group: 'connection',
  run(context) {
    context.connection.closing = true;
    return okReply;
  },
});

const select = define({
  name: 'select',
  arity: 2,
  flags: ['fast'],
  keys: [0, 0, 0],
  write: false,
  summary: 'Changes the selected database (Catena has database 0 only).',
  group: 'connection',
  run(_context, argv) {
    const index = parseInteger(argv[1]);
    if (index !== 0n) return errorReply('ERR', 'DB index is out of range');
    return okReply;
  },
});

/**
 * AUTH's and HELLO's authentication, in Redis's words: undefined when the connection is now
 * `user`. Without a user, the password is the default user's; with no authentication
 * configured, the default user takes any password (Redis's nopass).
 */
function authenticate(auth: ConnectionAuth, user: Buffer | undefined, password: Buffer): RespReply | undefined {
  if (user === undefined && !auth.acl.defaultHasPassword) {
    return errorReply(
      'ERR',
      'AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
    );
  }
  if (auth.login(user?.toString('latin1') ?? 'default', password)) return undefined;
  return errorReply('WRONGPASS', 'invalid username-password pair or user is disabled.');
}

/** What a command needs (../acl.ts): its own `access`, else by its group and whether it writes. */
export function respAccess(spec: RespCommand): AccessClass {
  return spec.access ?? (spec.group === 'connection' ? 'connection' : spec.write ? 'write' : 'read');
}

/** Commands a connection may send before it authenticates (Redis's no-auth flag). */
export const respNoAuthCommands: ReadonlySet<string> = new Set(['auth', 'hello', 'quit']);

const auth = define({
  name: 'auth',
  arity: -2,
  flags: ['fast'],
  keys: [0, 0, 0],
  write: false,
  summary: 'Authenticates the connection (AUTH password, AUTH user password).',
  group: 'connection',
  run(context, argv) {
    if (argv.length > 3) return errorReply('ERR', 'syntax error');
    const user = argv.length === 3 ? argv[1] : undefined;
    return authenticate(context.connection.auth, user, argv[argv.length - 1]!) ?? okReply;
  },
});

function helloReply(context: RespContext): RespReply {
  const entries: [string, RespReply][] = [
    ['server', bulkReply('redis')],
    ['version', bulkReply(redisCompatibleVersion)],
    ['proto', integerReply(context.connection.protocol)],
    ['id', integerReply(context.connection.id)],
    ['mode', bulkReply('standalone')],
    ['role', bulkReply('master')],
    ['modules', arrayReply([])],
  ];
  return { kind: 'map', entries: entries.map(([key, value]) => [bulkReply(key), value] as const) };
}

const hello = define({
  name: 'hello',
  arity: -1,
  flags: ['fast'],
  keys: [0, 0, 0],
  write: false,
  summary: 'Handshakes with the server: chooses RESP2 or RESP3.',
  group: 'connection',
  run(context, argv) {
    let protocol: RespProtocol = context.connection.protocol;
    let name: string | undefined;
    if (argv.length >= 2) {
      let version: bigint;
      try {
        version = parseInteger(argv[1]);
      } catch {
        return errorReply('ERR', 'Protocol version is not an integer or out of range');
      }
      if (version !== 2n && version !== 3n) return errorReply('NOPROTO', 'unsupported protocol version');
      protocol = Number(version) as RespProtocol;
      for (let i = 2; i < argv.length; i++) {
        const option = lower(argv[i]!);
        if (option === 'auth' && i + 2 < argv.length) {
          const refused = authenticate(context.connection.auth, argv[i + 1], argv[i + 2]!);
          if (refused !== undefined) return refused;
          i += 2;
        } else if (option === 'setname' && i + 1 < argv.length) {
          const candidate = argv[++i]!.toString('latin1');
          if (!validClientName(candidate)) return clientNameError();
          name = candidate;
        } else {
          return errorReply('ERR', `Syntax error in HELLO option '${argv[i]!.toString('utf8')}'`);
        }
      }
    }
    if (context.connection.auth.user === undefined) {
      return errorReply(
        'NOAUTH',
        'HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
      );
    }
    context.connection.protocol = protocol;
    if (name !== undefined) context.connection.name = name === '' ? undefined : name;
    return helloReply(context);
  },
});

const validClientName = (name: string): boolean => /^[\x21-\x7e]*$/.test(name);
const clientNameError = (): RespReply =>
  errorReply('ERR', 'Client names cannot contain spaces, newlines or special characters.');

const client = define({
  name: 'client',
  arity: -2,
  flags: [],
  keys: [0, 0, 0],
  write: false,
  summary: 'CLIENT SETNAME, GETNAME, ID, SETINFO (the connection\u2019s own state).',
  group: 'connection',
  run(context, argv) {
    const sub = lower(argv[1]!);
    const wrong = () => errorReply('ERR', `wrong number of arguments for 'client|${sub}' command`);
    switch (sub) {
      case 'setname': {
        if (argv.length !== 3) return wrong();
        const name = argv[2]!.toString('latin1');
        if (!validClientName(name)) return clientNameError();
        context.connection.name = name === '' ? undefined : name;
        return okReply;
      }
      case 'getname':
        if (argv.length !== 2) return wrong();
        return context.connection.name === undefined ? nullReply : bulkReply(context.connection.name);
      case 'id':
        if (argv.length !== 2) return wrong();
        return integerReply(context.connection.id);
      case 'setinfo':
        if (argv.length !== 4) return wrong();
        return okReply;
      default:
        return errorReply('ERR', `unknown subcommand '${argv[1]!.toString('latin1')}'. Try CLIENT HELP.`);
    }
  },
});

const get = define({
  name: 'get',
  arity: 2,
  flags: ['readonly', 'fast'],
  keys: [1, 1, 1],
  write: false,
  summary: 'Returns the string value of a key.',
  group: 'string',
  async run(context, argv) {
    const reply = await context.send('get', { key: argv[1]! });
    return reply.found ? bulkReply(reply.value) : nullReply;
  },
});

const strlen = define({
  name: 'strlen',
  arity: 2,
  flags: ['readonly', 'fast'],
  keys: [1, 1, 1],
  write: false,
  summary: 'Returns the length of a string value.',
  group: 'string',
  async run(context, argv) {
    const reply = await context.send('get', { key: argv[1]! });
    return integerReply(reply.found ? reply.value.length : 0);
  },
});

const type = define({
  name: 'type',
  arity: 2,
  flags: ['readonly', 'fast'],
  keys: [1, 1, 1],
  write: false,
  summary: 'Returns the type of a key (Catena stores strings only).',
  group: 'generic',
  async run(context, argv) {
    const reply = await context.send('get', { key: argv[1]! });
    return { kind: 'simple', text: reply.found ? 'string' : 'none' };
  },
});

/**
 * SET's options, parsed as Redis's parseExtendedStringArgumentsOrReply does: an option may be
 * repeated (the last expiry wins), only conflicting ones are a syntax error (NX with XX, two
 * different expiry forms, an expiry with KEEPTTL), and the expiry is checked once parsing is done.
 */
function parseSetOptions(argv: readonly Buffer[], from: number): RequestInit<'set'> {
  const request: RequestInit<'set'> = { key: argv[1]!, value: argv[2]! };
  let condition: 'nx' | 'xx' | undefined;
  let expiry: { kind: 'keepttl' | 'ex' | 'px' | 'exat' | 'pxat'; word: Buffer | undefined } | undefined;
  for (let i = from; i < argv.length; i++) {
    const option = lower(argv[i]!);
    const next = argv[i + 1];
    if (option === 'nx' || option === 'xx') {
      if (condition !== undefined && condition !== option) throw syntaxError();
      condition = option;
    } else if (option === 'get') {
      request.returnPrevious = true;
    } else if (option === 'keepttl') {
      if (expiry !== undefined && expiry.kind !== 'keepttl') throw syntaxError();
      expiry = { kind: 'keepttl', word: undefined };
    } else if ((option === 'ex' || option === 'px' || option === 'exat' || option === 'pxat') && next !== undefined) {
      if (expiry !== undefined && expiry.kind !== option) throw syntaxError();
      expiry = { kind: option, word: next };
      i += 1;
    } else {
      throw syntaxError();
    }
  }
  if (condition !== undefined) {
    request.condition = condition === 'nx' ? SetCondition.SET_IF_ABSENT : SetCondition.SET_IF_PRESENT;
  }
  if (expiry?.kind === 'keepttl') request.keepTtl = true;
  else if (expiry?.kind === 'ex' || expiry?.kind === 'px') {
    request.ttlMs = ttlFrom(expiry.word, expiry.kind === 'ex' ? 1000 : 1, 'set');
  } else if (expiry !== undefined) {
    const at = parseInteger(expiry.word);
    if (at <= 0n) throw invalidExpire('set');
    const ms = expiry.kind === 'exat' ? at * 1000n : at;
    if (ms > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidExpire('set');
    request.expiresAtMs = ms;
  }
  return request;
}

const set = define({
  name: 'set',
  arity: -3,
  flags: ['write', 'denyoom'],
  keys: [1, 1, 1],
  write: true,
  summary: 'Sets the string value of a key, with NX, XX, GET, EX, PX, EXAT, PXAT, KEEPTTL.',
  group: 'string',
  async run(context, argv) {
    if (argv.length === 3) {
      // The plain form takes the native hot path.
      await context.send('put', { key: argv[1]!, value: argv[2]! });
      return okReply;
    }
    const request = parseSetOptions(argv, 3);
    const reply = await context.send('set', request);
    if (request.returnPrevious === true) return reply.previousFound ? bulkReply(reply.previousValue) : nullReply;
    return reply.stored ? okReply : nullReply;
  },
});

const setnx = define({
  name: 'setnx',
  arity: 3,
  flags: ['write', 'denyoom', 'fast'],
  keys: [1, 1, 1],
  write: true,
  summary: 'Sets the string value of a key only when the key does not exist.',
  group: 'string',
  async run(context, argv) {
    const reply = await context.send('set', { key: argv[1]!, value: argv[2]!, condition: SetCondition.SET_IF_ABSENT });
    return integerReply(reply.stored ? 1 : 0);
  },
});

function defineSetex(name: 'setex' | 'psetex', unit: number): RespCommand {
  return define({
    name,
    arity: 4,
    flags: ['write', 'denyoom'],
    keys: [1, 1, 1],
    write: true,
    summary: `Sets the string value and expiration time (in ${unit === 1000 ? 'seconds' : 'milliseconds'}) of a key.`,
    group: 'string',
    async run(context, argv) {
      const ttlMs = ttlFrom(argv[2], unit, name);
      await context.send('set', { key: argv[1]!, value: argv[3]!, ttlMs });
      return okReply;
    },
  });
}

const getset = define({
  name: 'getset',
  arity: 3,
  flags: ['write', 'denyoom', 'fast'],
  keys: [1, 1, 1],
  write: true,
  summary: 'Sets the string value of a key and returns its previous value.',
  group: 'string',
  async run(context, argv) {
    const reply = await context.send('set', { key: argv[1]!, value: argv[2]!, returnPrevious: true });
    return reply.previousFound ? bulkReply(reply.previousValue) : nullReply;
  },
});

const getdel = define({
  name: 'getdel',
  arity: 2,
  flags: ['write', 'fast'],
  keys: [1, 1, 1],
  write: true,
  summary: 'Returns the string value of a key after deleting the key.',
  group: 'string',
  async run(context, argv) {
    const reply = await context.send('getdel', { key: argv[1]! });
    return reply.found ? bulkReply(reply.value) : nullReply;
  },
});

const append = define({
  name: 'append',
  arity: 3,
  flags: ['write', 'denyoom', 'fast'],
  keys: [1, 1, 1],
  write: true,
  summary: 'Appends a string to the value of a key; creates the key if needed.',
  group: 'string',
  async run(context, argv) {
    const reply = await context.send('append', { key: argv[1]!, value: argv[2]! });
    return integerReply(reply.length);
  },
});

function defineIncr(name: 'incr' | 'decr' | 'incrby' | 'decrby'): RespCommand {
  const byArgument = name === 'incrby' || name === 'decrby';
  const negate = name === 'decr' || name === 'decrby';
  return define({
    name,
    arity: byArgument ? 3 : 2,
    flags: ['write', 'denyoom', 'fast'],
    keys: [1, 1, 1],
    write: true,
    summary: `${negate ? 'Decrements' : 'Increments'} the integer value of a key by ${byArgument ? 'a number' : 'one'}.`,
    group: 'string',
    async run(context, argv) {
      let delta = byArgument ? parseInteger(argv[2]) : 1n;
      if (negate) {
        if (delta === INT64_MIN) return errorReply('ERR', 'decrement would overflow');
        delta = -delta;
      }
      const reply = await context.send('incr', { key: argv[1]!, delta });
      return integerReply(reply.value);
    },
  });
}

const del = define({
  name: 'del',
  arity: -2,
  flags: ['write'],
  keys: [1, -1, 1],
  write: true,
  summary: 'Deletes one or more keys.',
  group: 'generic',
  async run(context, argv) {
    const replies = await Promise.all(argv.slice(1).map((key) => context.send('del', { key })));
    return integerReply(replies.filter((reply) => reply.deleted).length);
  },
});

const exists = define({
  name: 'exists',
  arity: -2,
  flags: ['readonly', 'fast'],
  keys: [1, -1, 1],
  write: false,
  summary: 'Counts how many of the given keys exist (a key given twice counts twice).',
  group: 'generic',
  multiStep: (argv) => argv.length > multiKeysMax + 1,
  async run(context, argv) {
    let found = 0;
    // One request of multiKeysMax keys at a time: only one request's values are ever held.
    await inRequests(context, argv.slice(1), (reply) => {
      for (const item of reply.items) if (item.found) found += 1;
      return true;
    });
    return integerReply(found);
  },
});

const mget = define({
  name: 'mget',
  arity: -2,
  flags: ['readonly', 'fast'],
  keys: [1, -1, 1],
  write: false,
  summary: `Returns the string values of one or more keys (values adding up to at most ${mgetReplyBytesMax} bytes).`,
  group: 'string',
  multiStep: (argv) => argv.length > multiKeysMax + 1,
  async run(context, argv) {
    const values: RespReply[] = [];
    let bytes = 0;
    const whole = await inRequests(context, argv.slice(1), (reply) => {
      for (const item of reply.items) {
        values.push(item.found ? bulkReply(item.value) : nullReply);
        bytes += item.found ? item.value.length : 0;
      }
      return bytes <= mgetReplyBytesMax;
    });
    if (!whole) {
      return errorReply(
        'ERR',
        `MGET values add up to more than ${mgetReplyBytesMax} bytes (the MGET reply limit); read fewer keys at once`,
      );
    }
    return arrayReply(values);
  },
});

const mset = define({
  name: 'mset',
  arity: -3,
  flags: ['write', 'denyoom'],
  keys: [1, -1, 2],
  write: true,
  summary: 'Sets the string values of one or more keys (atomically up to 1024 keys).',
  group: 'string',
  multiStep: (argv) => argv.length > 2 * multiKeysMax + 1,
  async run(context, argv) {
    if (argv.length % 2 === 0) return wrongArity('mset');
    const entries = [];
    for (let i = 1; i < argv.length; i += 2) entries.push({ key: argv[i]!, value: argv[i + 1]! });
    // MSET is atomic; keys of several chains cannot be written atomically (docs/sharding.md).
    if ((context.server.chainsOf?.(entries.map((entry) => entry.key)) ?? 1) > 1) {
      throw new CatenaError('ERR_CROSSSLOT');
    }
    // Later pairs win over earlier ones for the same key: requests are sent in order and each
    // applies its own pairs in order.
    for (const batch of chunks(entries, multiKeysMax)) await context.send('mput', { entries: batch });
    return okReply;
  },
});

/** EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT: a time not in the future deletes the key, as Redis does. */
function defineExpire(name: 'expire' | 'pexpire' | 'expireat' | 'pexpireat'): RespCommand {
  const seconds = name === 'expire' || name === 'expireat';
  const absolute = name === 'expireat' || name === 'pexpireat';
  return define({
    name,
    arity: -3,
    flags: ['write', 'fast'],
    keys: [1, 1, 1],
    write: true,
    summary: `Sets a key\u2019s time to live ${absolute ? 'as a Unix time' : 'relative to now'} in ${seconds ? 'seconds' : 'milliseconds'}.`,
    group: 'generic',
    async run(context, argv) {
      const amount = parseInteger(argv[2]);
      if (argv.length > 3) {
        const option = lower(argv[3]!);
        if (['nx', 'xx', 'gt', 'lt'].includes(option)) {
          return errorReply('ERR', `EXPIRE option ${option.toUpperCase()} is not supported by Catena`);
        }
        return errorReply('ERR', `Unsupported option ${argv[3]!.toString('latin1')}`);
      }
      const ms = seconds ? amount * 1000n : amount;
      if (ms > BigInt(Number.MAX_SAFE_INTEGER) || ms < -BigInt(Number.MAX_SAFE_INTEGER))
        return invalidExpireReply(name);
      const nowMs = BigInt(Date.now());
      const past = absolute ? ms <= nowMs : ms <= 0n;
      if (past) {
        const reply = await context.send('del', { key: argv[1]! });
        return integerReply(reply.deleted ? 1 : 0);
      }
      const request: RequestInit<'expire'> = absolute
        ? { key: argv[1]!, expiresAtMs: ms }
        : { key: argv[1]!, ttlMs: ms };
      if (!absolute && ms > BigInt(ttlMsMax)) return invalidExpireReply(name);
      const reply = await context.send('expire', request);
      return integerReply(reply.found ? 1 : 0);
    },
  });
}

const invalidExpireReply = (name: string): RespReply => errorReply('ERR', `invalid expire time in '${name}' command`);

const persist = define({
  name: 'persist',
  arity: 2,
  flags: ['write', 'fast'],
  keys: [1, 1, 1],
  write: true,
  summary: 'Removes the expiration time of a key.',
  group: 'generic',
  async run(context, argv) {
    const reply = await context.send('expire', { key: argv[1]!, ttlMs: 0n });
    return integerReply(reply.found && reply.hadTtl ? 1 : 0);
  },
});

function defineTtl(name: 'ttl' | 'pttl'): RespCommand {
  return define({
    name,
    arity: 2,
    flags: ['readonly', 'fast'],
    keys: [1, 1, 1],
    write: false,
    summary: `Returns the remaining time to live of a key in ${name === 'ttl' ? 'seconds' : 'milliseconds'}.`,
    group: 'generic',
    async run(context, argv) {
      const reply = await context.send('ttl', { key: argv[1]! });
      if (!reply.found) return integerReply(-2);
      if (reply.ttlMs === 0n) return integerReply(-1);
      return integerReply(name === 'pttl' ? reply.ttlMs : (reply.ttlMs + 500n) / 1000n);
    },
  });
}

const dbsize = define({
  name: 'dbsize',
  arity: 1,
  flags: ['readonly', 'fast'],
  keys: [0, 0, 0],
  write: false,
  allKeys: true,
  summary: 'Returns the number of keys.',
  group: 'server',
  async run(context) {
    return integerReply((await context.send('size', {})).keys);
  },
});

const flushall = (name: 'flushall' | 'flushdb'): RespCommand =>
  define({
    name,
    arity: -1,
    flags: ['write'],
    keys: [0, 0, 0],
    write: true,
    allKeys: true,
    access: 'admin',
    summary: 'Removes every key.',
    group: 'server',
    async run(context, argv) {
      if (argv.length > 2) return errorReply('ERR', 'syntax error');
      if (argv.length === 2 && !['async', 'sync'].includes(lower(argv[1]!))) return errorReply('ERR', 'syntax error');
      await context.send('flush', {});
      return okReply;
    },
  });

/** Scan pages of `count` keys starting after `after`; the keys that match, and where to go on. */
async function scanPage(
  context: RespContext,
  after: Uint8Array,
  count: number,
  pattern: Buffer | undefined,
): Promise<{ keys: Uint8Array[]; next: Uint8Array | undefined }> {
  const prefix = pattern === undefined ? undefined : literalPrefix(pattern);
  const reply = await context.send('scan', { prefix, after, limit: count, keysOnly: true });
  const keys = reply.entries
    .map((entry) => entry.key)
    .filter((key) => pattern === undefined || globMatch(pattern, key));
  return { keys, next: reply.cursor.length === 0 ? undefined : reply.cursor };
}

const scan = define({
  name: 'scan',
  arity: -2,
  flags: ['readonly'],
  keys: [0, 0, 0],
  write: false,
  allKeys: true,
  summary: 'Iterates over the keys (MATCH, COUNT, TYPE).',
  group: 'generic',
  async run(context, argv) {
    const cursorText = argv[1]!.toString('latin1');
    if (!/^[0-9]{1,20}$/.test(cursorText) || BigInt(cursorText) >= 1n << 64n) {
      return errorReply('ERR', 'invalid cursor');
    }
    const cursor = BigInt(cursorText);
    let count = 10;
    let pattern: Buffer | undefined;
    let onlyStrings = true;
    for (let i = 2; i < argv.length; i += 2) {
      const option = lower(argv[i]!);
      const value = argv[i + 1];
      if (value === undefined) return errorReply('ERR', 'syntax error');
      if (option === 'count') {
        const n = parseInteger(value);
        if (n < 1n) return errorReply('ERR', 'syntax error');
        count = Number(n > 10_000n ? 10_000n : n);
      } else if (option === 'match') {
        pattern = value.length === 1 && value[0] === 0x2a ? undefined : value;
      } else if (option === 'type') {
        onlyStrings = lower(value) === 'string';
      } else {
        return errorReply('ERR', 'syntax error');
      }
    }
    let after: Uint8Array = Buffer.alloc(0);
    if (cursor !== 0n) {
      const saved = context.server.loadCursor(cursor);
      if (saved === undefined) return errorReply('ERR', 'invalid cursor');
      after = saved;
    }
    const page = await scanPage(context, after, count, pattern);
    const next = page.next === undefined ? 0n : context.server.saveCursor(page.next);
    const keys = onlyStrings ? page.keys.map((key) => bulkReply(key)) : [];
    return arrayReply([bulkReply(next.toString()), arrayReply(keys)]);
  },
});

const keys = define({
  name: 'keys',
  arity: 2,
  flags: ['readonly'],
  keys: [0, 0, 0],
  write: false,
  allKeys: true,
  multiStep: () => true,
  summary: 'Returns all key names that match a pattern.',
  group: 'generic',
  async run(context, argv) {
    const pattern = argv[1]!.length === 1 && argv[1]![0] === 0x2a ? undefined : argv[1]!;
    // Each page is encoded as it arrives (an array of bulk strings reads the same in RESP2 and
    // RESP3), so no single step at the end encodes the whole reply while other clients wait.
    const pages: Buffer[] = [];
    let count = 0;
    let bytes = 0;
    let after: Uint8Array = Buffer.alloc(0);
    for (;;) {
      const page = await scanPage(context, after, respKeysPageKeys, pattern);
      count += page.keys.length;
      for (const key of page.keys) bytes += key.length;
      const replies = page.keys.map((key) => bulkReply(key));
      if (replies.length > 0) pages.push(encodeReplies(replies, 2));
      if (count > respKeysReplyMax || bytes > respKeysReplyBytesMax) {
        return errorReply(
          'ERR',
          `KEYS matched more than ${respKeysReplyMax} keys or ${respKeysReplyBytesMax} bytes (the KEYS reply limit); use SCAN`,
        );
      }
      if (page.next === undefined) return encodedArray(count, pages);
      after = page.next;
      await turn(); // other clients are served between pages
    }
  },
});

const info = define({
  name: 'info',
  arity: -1,
  flags: [],
  keys: [0, 0, 0],
  write: false,
  summary: 'Returns information and statistics about the server (Catena\u2019s own included).',
  group: 'server',
  async run(context, argv) {
    const wanted = new Set(argv.slice(1).map(lower));
    const all = wanted.size === 0 || wanted.has('all') || wanted.has('everything') || wanted.has('default');
    const sections = await context.server.info();
    const lines: string[] = [];
    for (const [section, fields] of sections) {
      if (!all && !wanted.has(section.toLowerCase())) continue;
      if (lines.length > 0) lines.push('');
      lines.push(`# ${section}`);
      for (const [field, value] of fields) lines.push(`${field}:${value}`);
    }
    const body = lines.length === 0 ? '' : `${lines.join('\r\n')}\r\n`;
    return context.connection.protocol === 3 ? { kind: 'verbatim', format: 'txt', text: body } : bulkReply(body);
  },
});

const cluster = define({
  name: 'cluster',
  arity: -2,
  flags: [],
  keys: [0, 0, 0],
  write: false,
  access: 'connection',
  summary: 'CLUSTER SLOTS, SHARDS, MYID, INFO: the chains and their slots as Redis Cluster describes them.',
  group: 'cluster',
  run(context, argv) {
    const sub = lower(argv[1]!);
    if (['slots', 'shards', 'myid', 'info'].includes(sub) && argv.length !== 2) {
      return errorReply('ERR', `wrong number of arguments for 'cluster|${sub}' command`);
    }
    const shards = context.server.shards();
    const nodeEntry = (node: { id: string; host: string; port: number }) =>
      arrayReply([bulkReply(node.host), integerReply(node.port), bulkReply(node.id)]);
    switch (sub) {
      case 'slots':
        return arrayReply(
          shards.map((shard) =>
            arrayReply([integerReply(shard.slotStart), integerReply(shard.slotEnd), ...shard.nodes.map(nodeEntry)]),
          ),
        );
      case 'shards':
        return arrayReply(
          shards.map((shard) => ({
            kind: 'map',
            entries: [
              [bulkReply('slots'), arrayReply([integerReply(shard.slotStart), integerReply(shard.slotEnd)])],
              [
                bulkReply('nodes'),
                arrayReply(
                  shard.nodes.map((node, index) => ({
                    kind: 'map',
                    entries: [
                      [bulkReply('id'), bulkReply(node.id)],
                      [bulkReply('port'), integerReply(node.port)],
                      [bulkReply('ip'), bulkReply(node.host)],
                      [bulkReply('endpoint'), bulkReply(node.host)],
                      [bulkReply('role'), bulkReply(index === 0 ? 'master' : 'replica')],
                      [bulkReply('replication-offset'), integerReply(0)],
                      [bulkReply('health'), bulkReply('online')],
                    ],
                  })),
                ),
              ],
            ],
          })),
        );
      case 'myid':
        return bulkReply(context.server.nodeId);
      case 'info': {
        const assigned = shards.reduce((sum, shard) => sum + shard.slotEnd - shard.slotStart + 1, 0);
        const known = new Set(shards.flatMap((shard) => shard.nodes.map((node) => node.id))).size;
        const body = [
          `cluster_state:${assigned === 16384 ? 'ok' : 'fail'}`,
          `cluster_slots_assigned:${assigned}`,
          `cluster_slots_ok:${assigned}`,
          'cluster_slots_pfail:0',
          'cluster_slots_fail:0',
          `cluster_known_nodes:${known}`,
          `cluster_size:${shards.length}`,
        ].join('\r\n');
        return bulkReply(`${body}\r\n`);
      }
      default:
        return errorReply('ERR', `unknown subcommand '${argv[1]!.toString('latin1')}'. Try CLUSTER HELP.`);
    }
  },
});

const command = define({
  name: 'command',
  arity: -1,
  flags: [],
  keys: [0, 0, 0],
  write: false,
  access: 'connection',
  summary: 'COMMAND, COMMAND COUNT, COMMAND INFO, COMMAND DOCS: the commands this server answers.',
  group: 'server',
  run(_context, argv) {
    if (argv.length === 1) return arrayReply(respCommandList.map(commandInfo));
    const sub = lower(argv[1]!);
    switch (sub) {
      case 'count':
        if (argv.length !== 2) return errorReply('ERR', "wrong number of arguments for 'command|count' command");
        return integerReply(respCommandList.length);
      case 'info': {
        const names = argv.slice(2).map(lower);
        if (names.length === 0) return arrayReply(respCommandList.map(commandInfo));
        return arrayReply(
          names.map((name) => {
            const spec = respCommands.get(name);
            return spec === undefined ? { kind: 'null-array' } : commandInfo(spec);
          }),
        );
      }
      case 'docs': {
        const names = argv.slice(2).map(lower);
        const specs = names.length === 0 ? respCommandList : names.flatMap((name) => respCommands.get(name) ?? []);
        return {
          kind: 'map',
          entries: specs.map((spec) => [
            bulkReply(spec.name),
            {
              kind: 'map',
              entries: [
                [bulkReply('summary'), bulkReply(spec.summary)],
                [bulkReply('since'), bulkReply('1.0.0')],
                [bulkReply('group'), bulkReply(spec.group)],
              ],
            },
          ]),
        };
      }
      default:
        return errorReply('ERR', `unknown subcommand '${argv[1]!.toString('latin1')}'. Try COMMAND HELP.`);
    }
  },
});

function commandInfo(spec: RespCommand): RespReply {
  return arrayReply([
    bulkReply(spec.name),
    integerReply(spec.arity),
    { kind: 'set', items: spec.flags.map((flag) => ({ kind: 'simple', text: flag })) },
    integerReply(spec.keys[0]),
    integerReply(spec.keys[1]),
    integerReply(spec.keys[2]),
    { kind: 'set', items: [] },
    { kind: 'set', items: [] },
    arrayReply([]),
    arrayReply([]),
  ]);
}

const respCommandList: readonly RespCommand[] = [
  ping,
  echo,
  quit,
  select,
  auth,
  hello,
  client,
  get,
  strlen,
  type,
  set,
  setnx,
  defineSetex('setex', 1000),
  defineSetex('psetex', 1),
  getset,
  getdel,
  append,
  defineIncr('incr'),
  defineIncr('decr'),
  defineIncr('incrby'),
  defineIncr('decrby'),
  del,
  { ...del, name: 'unlink', summary: 'Deletes one or more keys (as DEL: Catena frees memory at once).' },
  exists,
  mget,
  mset,
  defineExpire('expire'),
  defineExpire('pexpire'),
  defineExpire('expireat'),
  defineExpire('pexpireat'),
  persist,
  defineTtl('ttl'),
  defineTtl('pttl'),
  dbsize,
  flushall('flushall'),
  flushall('flushdb'),
  scan,
  keys,
  info,
  cluster,
  command,
];

/** The RESP command table, by lower-case name. */
export const respCommands: ReadonlyMap<string, RespCommand> = new Map(respCommandList.map((spec) => [spec.name, spec]));

/** The keys a command names (for ordering a connection's pipelined commands). */
export function commandKeys(spec: RespCommand, argv: readonly Buffer[]): Buffer[] {
  const [first, lastSpec, step] = spec.keys;
  if (first === 0) return [];
  const last = lastSpec < 0 ? argv.length + lastSpec : lastSpec;
  const out: Buffer[] = [];
  for (let i = first; i <= last && i < argv.length; i += step) out.push(argv[i]!);
  return out;
}

/** True when argv has the number of words the command's arity allows. */
export function arityAllows(spec: RespCommand, words: number): boolean {
  return spec.arity >= 0 ? words === spec.arity : words >= -spec.arity;
}
