// The typed methods every Catena client offers, one per user-facing command of the command table
// (src/commands/index.ts), written once over one abstract `call`: `Client` implements it with one
// connection, `ClusterClient` with routing and retries over one `Client` per node.
//
// Conventions (README, "The client library"):
//  * keys and values go in as `string` (UTF-8) or any `Uint8Array` (a Buffer); values come back
//    as Buffers, which are binary-safe; `getString` is `get` decoded as UTF-8 (ioredis's `get`
//    against its `getBuffer`, the other way round because Catena stores bytes).
//  * counts, lengths, flags and times (TTLs, expiry times in ms) are numbers: every one fits in a
//    float64 exactly (ttlMsMax, the store's sizes). Three things are bigint, because they can
//    pass 2^53 or are compared exactly across systems: versions (uint64 on the wire), the value of
//    an `incr` counter (a signed 64-bit integer) and the replication epochs and sequences in
//    `topology()` and `nodeStatus()`.
//  * the slot commands (slotfreeze, slotexport, slotimport, slotdrop) are internal: the manager
//    moves slots with them through `ClusterClient.sendToChain`; they have no typed method.
//    `clientMethods` below maps every other command to its method, and a test checks each method
//    builds the request the command's CLI words build (test/client/typed-commands.test.ts).

import { CatenaError } from '../core/errors.js';
import { clientEntriesPageRecordsDefault } from '../core/limits.js';
import type { CommandName, RequestInit } from '../commands/index.js';
import type { ReplyOf } from '../protocol/native/codec.js';
import { SetCondition } from '../protocol/native/gen/catena_pb.js';

/** A key or value: a string (stored as UTF-8) or bytes (a Buffer or any Uint8Array). */
export type Bytes = string | Uint8Array;

/** A stored key with its value. */
export interface Entry {
  key: Buffer;
  value: Buffer;
  /** Raised on every write of the key; `cas` and `set({ when: { version } })` compare it. */
  version: bigint;
  /** Remaining time to live in ms; 0 when the key does not expire. */
  ttlMs: number;
}

/** An `mget` result: an entry with the client flags stored with it (memcached's; 0 otherwise). */
export interface MgetEntry extends Entry {
  flags: number;
}

/** When `set` stores: always (the default), only if the key is absent or present, or at a version. */
export type SetWhen = 'always' | 'absent' | 'present' | { version: bigint | number };

/** Options of `set`: Redis's SET options, memcached's add, replace, cas and flags. */
export interface SetOptions {
  /** `absent` is Redis's NX (memcached's add), `present` XX (replace), `{ version }` memcached's cas. */
  when?: SetWhen;
  /** Expire after this many ms (Redis's PX). At most one of ttlMs, expiresAtMs and keepTtl. */
  ttlMs?: number;
  /** Expire at this time, in ms since the Unix epoch on the head's clock (Redis's PXAT). */
  expiresAtMs?: number;
  /** Keep the key's current expiry (Redis's KEEPTTL); otherwise a set removes it. */
  keepTtl?: boolean;
  /** Return the value the key had before (Redis's SET ... GET) as `previous`. */
  returnPrevious?: boolean;
  /** Client flags stored with the value (memcached's), 0 to 2^32 - 1. */
  flags?: number;
}

export interface SetResult {
  /** False when `when` did not hold: nothing was written. */
  stored: boolean;
  /** The new version when stored, else the key's current version (0n when missing). */
  version: bigint;
  /** With `returnPrevious`: the value before this request, undefined when the key was missing. */
  previous?: Buffer;
}

/** One node's counters (the `stats` command). */
export interface Stats {
  nodeId: string;
  uptimeMs: number;
  connections: number;
  connectionsTotal: number;
  /** Keys stored, including expired keys not yet reclaimed. */
  keys: number;
  bytes: number;
  durability: string;
  version: string;
  /** Frames rejected before reaching a command (undecodable, unknown, over the size limit). */
  protocolErrors: number;
  /** Per command: calls, errors and latency percentiles in microseconds. */
  commands: CommandStats[];
}

export interface CommandStats {
  name: string;
  calls: number;
  errors: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

/** The cluster as a node describes it (a standalone node: cluster '' and no chains). */
export type Topology = ReplyOf<'topology'>;
/** One node's replication state (role, epoch, sequences: bigint). */
export type NodeStatus = ReplyOf<'nodestatus'>;

/** Commands with no typed method: the manager's slot moves (docs/sharding.md). */
export type InternalCommandName = 'slotfreeze' | 'slotexport' | 'slotimport' | 'slotdrop';
/** Commands with a typed method on every client. */
export type PublicCommandName = Exclude<CommandName, InternalCommandName>;

/**
 * The typed method of every user-facing command. Adding a command to the table without a method
 * here fails the type check (the type lists every command name); the test checks each method.
 */
export const clientMethods = {
  put: 'put',
  get: 'get',
  del: 'del',
  size: 'size',
  getkeys: 'getkeys',
  gettable: 'gettable',
  stats: 'stats',
  cas: 'cas',
  incr: 'incr',
  append: 'append',
  expire: 'expire',
  ttl: 'ttl',
  scan: 'scan',
  ping: 'ping',
  topology: 'topology',
  nodestatus: 'nodeStatus',
  set: 'set',
  mget: 'mget',
  mput: 'mput',
  getdel: 'getdel',
  flush: 'flush',
} as const satisfies { readonly [C in PublicCommandName]: keyof ClientCommands };

/** A non-negative integer as a uint64 field, or ERR_INVALID_ARGUMENT. */
function toUint64(value: number | bigint, what: string): bigint {
  if (typeof value === 'bigint' ? value < 0n : !Number.isSafeInteger(value) || value < 0) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `${what} must be a non-negative integer`);
  }
  return BigInt(value);
}

function toUint32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `${what} must be an integer from 0 to ${0xffff_ffff}`);
  }
  return value;
}

/** The bytes of a key or value: a string as UTF-8, bytes as a Buffer over the same memory. */
export const toBuffer = (value: Bytes): Buffer =>
  typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value.buffer, value.byteOffset, value.length);

const optionalBuffer = (value: Bytes | undefined): Buffer | undefined =>
  value === undefined ? undefined : toBuffer(value);

/**
 * A view of a reply's bytes as a Buffer, no copy: for `get`, the hot path, whose reply frame is
 * the caller's alone. Other replies are copied (`Buffer.from`): a ClusterClient inside a node gets
 * replies executed in-process, whose bytes may be the store's.
 */
const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
const copyOf = (bytes: Uint8Array): Buffer => Buffer.from(bytes);

function toEntry(entry: ReplyOf<'scan'>['entries'][number]): Entry {
  return { key: copyOf(entry.key), value: copyOf(entry.value), version: entry.version, ttlMs: Number(entry.ttlMs) };
}

function setRequest(key: Bytes, value: Bytes, options: SetOptions): RequestInit<'set'> {
  const when = options.when ?? 'always';
  const conditions = {
    always: SetCondition.SET_ALWAYS,
    absent: SetCondition.SET_IF_ABSENT,
    present: SetCondition.SET_IF_PRESENT,
  } as const;
  if (typeof when === 'string' && !Object.hasOwn(conditions, when)) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `when must be 'always', 'absent', 'present' or { version }`);
  }
  return {
    key: toBuffer(key),
    value: toBuffer(value),
    condition: typeof when === 'string' ? conditions[when] : SetCondition.SET_IF_VERSION,
    expectedVersion: typeof when === 'string' ? 0n : toUint64(when.version, 'when.version'),
    ttlMs: toUint64(options.ttlMs ?? 0, 'ttlMs'),
    expiresAtMs: toUint64(options.expiresAtMs ?? 0, 'expiresAtMs'),
    keepTtl: options.keepTtl ?? false,
    returnPrevious: options.returnPrevious ?? false,
    flags: toUint32(options.flags ?? 0, 'flags'),
  };
}

/** mput's pairs from an iterable of [key, value] (an array, a Map) or a plain object. */
function pairsOf(entries: Iterable<readonly [Bytes, Bytes]> | Readonly<Record<string, Bytes>>): RequestInit<'mput'> {
  const pairs: Iterable<readonly [Bytes, Bytes]> =
    Symbol.iterator in entries
      ? (entries as Iterable<readonly [Bytes, Bytes]>)
      : Object.entries(entries as Readonly<Record<string, Bytes>>);
  return { entries: Array.from(pairs, ([key, value]) => ({ key: toBuffer(key), value: toBuffer(value) })) };
}

const statsOf = (reply: ReplyOf<'stats'>): Stats => ({
  nodeId: reply.nodeId,
  uptimeMs: Number(reply.uptimeMs),
  connections: reply.connections,
  connectionsTotal: Number(reply.connectionsTotal),
  keys: Number(reply.keys),
  bytes: Number(reply.bytes),
  durability: reply.durability,
  version: reply.version,
  protocolErrors: Number(reply.protocolErrors),
  commands: reply.commands.map((c) => ({
    name: c.name,
    calls: Number(c.calls),
    errors: Number(c.errors),
    p50Us: Number(c.p50Us),
    p99Us: Number(c.p99Us),
    p999Us: Number(c.p999Us),
    maxUs: Number(c.maxUs),
  })),
});

/**
 * The typed methods every Catena client offers, written once over `call`: build the request
 * (bad arguments reject, never throw), send it somewhere, convert the reply.
 */
export abstract class ClientCommands {
  /**
   * Sends one request and converts its reply. `build` runs once per call, so arguments are
   * checked once and a retry sends the very same request.
   */
  protected abstract call<T>(name: CommandName, build: () => object, convert: (reply: unknown) => T): Promise<T>;

  /**
   * Sends any command from the table and resolves with its reply as decoded (bytes fields as
   * Uint8Array, uint64 fields as bigint). The typed methods are easier; this reaches every option
   * of the wire protocol (`proto/catena.proto`) and the internal slot commands.
   */
  send<C extends CommandName>(name: C, request: RequestInit<C>): Promise<ReplyOf<C>> {
    return this.call(
      name,
      () => request,
      (reply) => reply as ReplyOf<C>,
    );
  }

  // The hot commands convert their reply inside the one promise each call makes (no async
  // wrapper, no second promise): this is most of the client's cost per request.

  /** Stores a value; `ttlMs` makes it expire (0 or absent: never). Resolves with its new version. */
  put(key: Bytes, value: Bytes, options: { ttlMs?: number } = {}): Promise<{ version: bigint }> {
    return this.call(
      'put',
      () => ({ key: toBuffer(key), value: toBuffer(value), ttlMs: toUint64(options.ttlMs ?? 0, 'ttlMs') }),
      (reply) => ({ version: (reply as ReplyOf<'put'>).version }),
    );
  }

  /** The entry stored under key, or undefined when there is none. Its buffers are the client's own. */
  get(key: Bytes): Promise<Entry | undefined> {
    const keyBytes = toBuffer(key);
    return this.call(
      'get',
      () => ({ key: keyBytes }),
      (result) => {
        const reply = result as ReplyOf<'get'>;
        if (!reply.found) return undefined;
        return { key: keyBytes, value: asBuffer(reply.value), version: reply.version, ttlMs: Number(reply.ttlMs) };
      },
    );
  }

  /** The value stored under key decoded as UTF-8, or undefined when there is none (`get` for bytes). */
  getString(key: Bytes): Promise<string | undefined> {
    return this.call(
      'get',
      () => ({ key: toBuffer(key) }),
      (result) => {
        const reply = result as ReplyOf<'get'>;
        return reply.found ? asBuffer(reply.value).toString('utf8') : undefined;
      },
    );
  }

  /** Removes a key; false when there was none. */
  del(key: Bytes): Promise<boolean> {
    return this.call(
      'del',
      () => ({ key: toBuffer(key) }),
      (reply) => (reply as ReplyOf<'del'>).deleted,
    );
  }

  /** Stores a value under conditions and options (Redis's SET, memcached's add, replace and cas). */
  set(key: Bytes, value: Bytes, options: SetOptions = {}): Promise<SetResult> {
    return this.call(
      'set',
      () => setRequest(key, value, options),
      (result) => {
        const reply = result as ReplyOf<'set'>;
        const outcome: SetResult = { stored: reply.stored, version: reply.version };
        if (options.returnPrevious === true && reply.previousFound) outcome.previous = copyOf(reply.previousValue);
        return outcome;
      },
    );
  }

  /** Reads several keys from one consistent state: one result per key, in order, undefined when missing. */
  mget(keys: readonly Bytes[]): Promise<(MgetEntry | undefined)[]> {
    const keyBytes = keys.map(toBuffer);
    return this.call(
      'mget',
      () => ({ keys: keyBytes }),
      (result) =>
        (result as ReplyOf<'mget'>).items.map((item, i) =>
          item.found
            ? {
                key: keyBytes[i]!,
                value: copyOf(item.value),
                version: item.version,
                ttlMs: Number(item.ttlMs),
                flags: item.flags,
              }
            : undefined,
        ),
    );
  }

  /**
   * Stores several values at once, atomically; each key loses any expiry (Redis's MSET). Takes
   * `[key, value]` pairs (an array, a Map) or an object. On a sharded cluster the keys must be in
   * one chain (a hash tag, `{user:1}name`, keeps keys together), else ERR_CROSSSLOT.
   * Resolves with the version of the last entry.
   */
  mput(entries: Iterable<readonly [Bytes, Bytes]> | Readonly<Record<string, Bytes>>): Promise<{ version: bigint }> {
    return this.call(
      'mput',
      () => pairsOf(entries),
      (reply) => ({ version: (reply as ReplyOf<'mput'>).version }),
    );
  }

  /** Removes a key and resolves with the value it had, or undefined when there was none. */
  getdel(key: Bytes): Promise<Buffer | undefined> {
    return this.call(
      'getdel',
      () => ({ key: toBuffer(key) }),
      (result) => {
        const reply = result as ReplyOf<'getdel'>;
        return reply.found ? copyOf(reply.value) : undefined;
      },
    );
  }

  /** Removes every key (on every chain of a cluster); resolves with how many there were. Needs +@admin. */
  async flush(): Promise<number> {
    return Number((await this.send('flush', {})).keys);
  }

  /** Keys stored (expired ones not yet reclaimed included) and their bytes. */
  async size(): Promise<{ keys: number; bytes: number }> {
    const reply = await this.send('size', {});
    return { keys: Number(reply.keys), bytes: Number(reply.bytes) };
  }

  /** At most `limit` keys (default 100, at most 10000) in key order; `scan` or `entries` page through more. */
  async getkeys(options: { prefix?: Bytes; limit?: number } = {}): Promise<{ keys: Buffer[]; truncated: boolean }> {
    const reply = await this.send('getkeys', { prefix: optionalBuffer(options.prefix), limit: options.limit ?? 0 });
    return { keys: reply.keys.map(copyOf), truncated: reply.truncated };
  }

  /** At most `limit` entries (default 100, at most 10000) in key order. */
  async gettable(options: { prefix?: Bytes; limit?: number } = {}): Promise<{ entries: Entry[]; truncated: boolean }> {
    const reply = await this.send('gettable', { prefix: optionalBuffer(options.prefix), limit: options.limit ?? 0 });
    return { entries: reply.entries.map(toEntry), truncated: reply.truncated };
  }

  /** The counters of the node that answers. */
  async stats(): Promise<Stats> {
    return statsOf(await this.send('stats', {}));
  }

  /** Writes only if the key is at expectedVersion (0: only if absent). */
  async cas(
    key: Bytes,
    expectedVersion: bigint | number,
    value: Bytes,
    options: { ttlMs?: number } = {},
  ): Promise<{ swapped: boolean; version: bigint }> {
    const reply = await this.send('cas', {
      key: toBuffer(key),
      expectedVersion: toUint64(expectedVersion, 'expectedVersion'),
      value: toBuffer(value),
      ttlMs: toUint64(options.ttlMs ?? 0, 'ttlMs'),
    });
    return { swapped: reply.swapped, version: reply.version };
  }

  /** Adds delta (default 1, may be negative) to a signed 64-bit decimal counter; a missing key counts as 0. */
  async incr(key: Bytes, delta: bigint | number = 1n): Promise<bigint> {
    return (await this.send('incr', { key: toBuffer(key), delta: BigInt(delta) })).value;
  }

  /** Appends (or with `prepend`, prepends) to the value, a missing key starting empty; resolves with the new length. */
  async append(key: Bytes, value: Bytes, options: { prepend?: boolean } = {}): Promise<number> {
    const reply = await this.send('append', {
      key: toBuffer(key),
      value: toBuffer(value),
      prepend: options.prepend ?? false,
    });
    return Number(reply.length);
  }

  /** Sets the key's TTL in ms (0 removes it); false when the key does not exist. */
  async expire(key: Bytes, ttlMs: number): Promise<boolean> {
    return (await this.send('expire', { key: toBuffer(key), ttlMs: toUint64(ttlMs, 'ttlMs') })).found;
  }

  /** Makes the key expire at a time in ms since the Unix epoch (the head's clock); false when it does not exist. */
  async expireAt(key: Bytes, expiresAtMs: number): Promise<boolean> {
    if (expiresAtMs === 0) throw new CatenaError('ERR_INVALID_ARGUMENT', 'expiresAtMs must be after the epoch');
    const request = { key: toBuffer(key), expiresAtMs: toUint64(expiresAtMs, 'expiresAtMs') };
    return (await this.send('expire', request)).found;
  }

  /** Remaining TTL in ms (0: no expiry), or undefined when the key does not exist. */
  async ttl(key: Bytes): Promise<number | undefined> {
    const reply = await this.send('ttl', { key: toBuffer(key) });
    return reply.found ? Number(reply.ttlMs) : undefined;
  }

  /** One page of entries in key order after `after`; pass `cursor` back as `after` (undefined: done). */
  async scan(
    options: { prefix?: Bytes; after?: Bytes; limit?: number; keysOnly?: boolean } = {},
  ): Promise<{ entries: Entry[]; cursor: Buffer | undefined }> {
    const reply = await this.send('scan', {
      prefix: optionalBuffer(options.prefix),
      after: optionalBuffer(options.after),
      limit: options.limit ?? 0,
      keysOnly: options.keysOnly ?? false,
    });
    return {
      entries: reply.entries.map(toEntry),
      cursor: reply.cursor.length === 0 ? undefined : copyOf(reply.cursor),
    };
  }

  /** Every entry, in key order, paging with scan. */
  async *entries(options: { prefix?: Bytes; pageSize?: number } = {}): AsyncIterable<Entry> {
    let after: Buffer | undefined;
    do {
      const page = await this.scan({
        prefix: options.prefix,
        after,
        limit: options.pageSize ?? clientEntriesPageRecordsDefault,
      });
      yield* page.entries;
      after = page.cursor;
    } while (after !== undefined);
  }

  /** The message back (`PONG` without one): a round trip to a node. */
  async ping(message?: Bytes): Promise<Buffer> {
    return copyOf((await this.send('ping', { message: optionalBuffer(message) })).message);
  }

  /** The cluster as the node describes it (a standalone node: cluster '' and no chains). */
  async topology(): Promise<Topology> {
    return this.send('topology', {});
  }

  /** The replication state of the node that answers (its role, epoch and sequences). */
  async nodeStatus(): Promise<NodeStatus> {
    return this.send('nodestatus', {});
  }
}
