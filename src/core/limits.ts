// Every limit in Catena, in one place, with its unit last in its name. They are checked
// against each other when this module loads (a bad edit fails at start-up, not in production),
// and enforced at the edges before anything is buffered (DESIGN.md §8).

import { assert } from './assert.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Largest key accepted by the native protocol and the store. DESIGN.md §8 asked for 64 KiB, but
 * LMDB keys are at most 1978 bytes (lmdb-js default page size), and longer keys would have to be
 * hashed, which breaks ordered scans. 1 KiB leaves room for the expiry index's 8-byte prefix.
 */
export const keyBytesMax = 1 * KiB;
/** Keys in one mget or mput request (RESP's MGET and MSET are split into requests this size). */
export const multiKeysMax = 1024;
/** Value bytes one mget reply may carry (a reply must fit a frame; a node must not build a huge one). */
export const mgetReplyBytesMax = 32 * MiB;
/** LMDB's own key limit with lmdb-js's default page size. */
export const lmdbKeyBytesMax = 1978;
/** Bytes the LMDB expiry index puts before a key (the expiry time). */
export const expiryIndexPrefixBytes = 8;
/** Default largest value; `catena server --value-bytes-max` may lower or raise it up to valueBytesCeiling. */
export const valueBytesMaxDefault = 8 * MiB;
/** Hard ceiling for a configured value limit. */
export const valueBytesCeiling = 64 * MiB;
/** Bytes a native frame may carry besides one key and one value (ids, field tags, options). */
export const frameOverheadBytes = 4 * KiB;
/** Largest native frame body, derived from the other limits: one key + one value + overhead. */
export function frameBytesMax(valueBytesMax: number): number {
  return keyBytesMax + valueBytesMax + frameOverheadBytes;
}
/** Largest message of a request that carries no value (get, scan, ...): a key, a cursor, options. */
export const keylessRequestBytesMax = 2 * keyBytesMax + KiB;
/** Length of the u32 big-endian prefix of each native frame. */
export const framePrefixBytes = 4;

/** Requests one connection may have in flight; past it the server stops reading that socket. */
export const pipelineDepthMax = 4096;
/** Reply bytes queued on one socket before the server stops reading from it. */
export const connectionOutputBytesMax = 16 * MiB;
/** Concurrent client connections a node accepts. */
export const connectionsMax = 10_000;
/** A started frame must be complete within this time, or the connection is closed (slow loris). */
export const frameTimeoutMs = 10_000;
/** A connection with nothing in flight and nothing received for this long is closed. */
export const idleTimeoutMs = 10 * 60_000;

/** Entries a single scan, getkeys or gettable reply may hold. */
export const scanCountMax = 10_000;
/** Default entries per scan page. */
export const scanCountDefault = 100;
/** Bytes of keys and values one scan reply may carry (it stops early and returns a cursor). */
export const scanReplyBytesMax = 4 * MiB;
/** Records (expired ones included) one getkeys or gettable reply may step over. */
export const scanExamineMax = 100_000;
/** Largest reply frame any node can send (a scan page, or one value at the ceiling): the client's limit. */
export const replyFrameBytesMax = frameBytesMax(valueBytesCeiling);

/** Largest TTL accepted (about 100 years), so expiry times stay exact in a float64. */
export const ttlMsMax = 100 * 365 * 24 * 3600 * 1000;
/** How often a node reclaims expired keys, and how many it may reclaim per pass. */
export const expiryReclaimIntervalMs = 100;
export const expiryReclaimBatchMax = 1_000;

/** Client-side default deadline for one request. */
export const requestTimeoutMsDefault = 5_000;

// ---- chain traffic between nodes (src/server/peers.ts, chain-wire.ts)
/** Largest frame between nodes: one entry with the largest value, plus room for a batch around it. */
export const peerFrameBytesMax = frameBytesMax(valueBytesCeiling) + 4 * MiB;
/** An entries message is split into frames of about this many bytes (a frame always holds one entry). */
export const peerBatchBytesTarget = 1 * MiB;
/** Frames queued for a peer (connecting, or its socket not draining) past this are dropped with the connection. */
export const peerQueueBytesMax = 256 * MiB;
/** Snapshot records per chunk streamed to a joiner; the stream yields to the event loop between chunks. */
export const snapshotChunkRecords = 512;
/** Log entries a catch-up sends from the log; a joiner further behind gets a snapshot. */
export const catchUpEntriesMax = 100_000;
/** Log entries kept behind the newest (for delta catch-up and the exactly-once table); older ones are trimmed. */
export const logEntriesKept = 200_000;
/** Between retries of a failed peer connection. */
export const peerReconnectMs = 100;
/** Coordinator session timeout: a dead node is removed from its chain this long after it died. */
export const sessionTimeoutMsDefault = 4_000;
/** The replication core's timer (join retries, lease checks). */
export const chainTickMs = 50;
/** How long a stopping server waits for in-flight requests before closing anyway. */
export const shutdownDrainMsMax = 5_000;
/** After draining, how long a stopping server waits for queued replies to reach each client. */
export const shutdownCloseMsMax = 2_000;

/** Latency histogram range: 1 µs .. 60 s, with this many sub-buckets per power of two. */
export const latencyHistogramMaxUs = 60_000_000;
export const latencyHistogramSubBuckets = 16;

export interface ServerLimits {
  keyBytesMax: number;
  valueBytesMax: number;
}

/** Validates a configured value limit; returns a message or undefined when it is acceptable. */
export function checkValueBytesMax(value: number): string | undefined {
  if (!Number.isInteger(value) || value < 1) return 'value limit must be a positive integer';
  if (value > valueBytesCeiling) return `value limit must be at most ${valueBytesCeiling} bytes`;
  return undefined;
}

assert(keyBytesMax < valueBytesMaxDefault, 'keys are smaller than values');
assert(keyBytesMax + expiryIndexPrefixBytes <= lmdbKeyBytesMax, 'every key and its expiry index entry fit LMDB');
assert(valueBytesMaxDefault <= valueBytesCeiling, 'default value limit within the ceiling');
assert(frameBytesMax(valueBytesCeiling) < 2 ** 32, 'a frame length fits the u32 prefix');
assert(scanReplyBytesMax <= valueBytesMaxDefault, 'a scan page fits a default frame');
assert(scanReplyBytesMax + scanCountMax * 64 < replyFrameBytesMax, 'a full scan page fits a reply frame');
assert(scanExamineMax >= 4 * scanCountMax, 'a listing may step over expired keys');
assert(frameTimeoutMs < idleTimeoutMs, 'a frame deadline is shorter than the idle deadline');
assert(Number.isSafeInteger(Date.UTC(2200, 0) + ttlMsMax), 'expiry times are exact in a float64');
assert(expiryReclaimBatchMax > 0 && expiryReclaimIntervalMs > 0, 'expiry reclamation makes progress');
assert(requestTimeoutMsDefault < frameTimeoutMs, 'a client gives up before the server does');

// ---- RESP (src/protocol/resp/codec.ts): modelled on Redis's defaults, scaled to Catena's limits
/** Largest bulk argument: a key plus a value at the ceiling (Redis: proto-max-bulk-len, 512 MiB). */
export const respBulkBytesMax = keyBytesMax + valueBytesCeiling;
/** Most arguments in one multibulk request (Redis: 1024 * 1024). */
export const respArgumentsMax = 1024 * 1024;
/** Longest inline request line, its line ending excluded (Redis: PROTO_INLINE_MAX_SIZE). */
export const respInlineBytesMax = 64 * KiB;
/** Longest `*<count>` or `$<length>` line of a multibulk request, `\r\n` excluded (Redis: PROTO_INLINE_MAX_SIZE). */
export const respHeaderLineBytesMax = 64 * KiB;
/** Bytes one parsed argument is charged besides its payload: the Buffer object that holds it. */
export const respArgumentOverheadBytes = 64;
/** Largest multibulk request: its wire bytes plus respArgumentOverheadBytes per argument. Redis has no such
 * limit short of the 1 GiB query buffer; here one request holds at most one largest bulk plus room for the rest. */
export const respRequestBytesMax = respBulkBytesMax + 4 * MiB;
/** Deepest nesting of a reply value (arrays, maps, sets inside each other). */
export const respReplyDepthMax = 32;

assert(respHeaderLineBytesMax >= '*-9223372036854775808'.length, 'a RESP header line holds any 64-bit length');
assert(respInlineBytesMax < respRequestBytesMax, 'an inline request is smaller than a multibulk one may be');
assert(
  respBulkBytesMax + 2 * respHeaderLineBytesMax + respArgumentOverheadBytes <= respRequestBytesMax,
  'a request may carry one largest bulk',
);

// ---- memcached text protocol (src/protocol/memcached/codec.ts): memcached's own limits
/** Longest key (memcached.h KEY_MAX_LENGTH); longer keys get `CLIENT_ERROR bad command line format`. */
export const memcachedKeyBytesMax = 250;
/** Default largest data block of a storage command (memcached's `-I` default, 1 MiB); a parser option. */
export const memcachedItemBytesMaxDefault = 1 * MiB;
/** Bytes before a command line's `\n` past which the connection is closed, unless it is a get/gets line
 * (proto_text.c try_read_command_ascii: `rbytes > 2048` without a newline). */
export const memcachedLineBytesMax = 2048;
/** Longest get/gets line. memcached lets multi-get lines grow without bound; Catena stops here. */
export const memcachedGetLineBytesMax = 64 * KiB;

assert(memcachedKeyBytesMax <= keyBytesMax, 'every memcached key fits the store');
assert(memcachedItemBytesMaxDefault <= valueBytesCeiling, 'the default memcached item fits the store');
assert(
  memcachedLineBytesMax >=
    'prepend '.length + memcachedKeyBytesMax + ' 4294967295 -2147483648 2147483647 noreply'.length,
  'a storage line with a longest key and widest numbers fits a line',
);
assert(memcachedGetLineBytesMax >= memcachedLineBytesMax, 'a multi-get line may be longer than other lines');

// ---- the replica (src/server/replica/): catch-up, snapshots, slot moves, the client table
/** A joiner whose log is longer than the tail's asks this many times before it gets a snapshot. */
export const catchUpDeferralsMax = 3;
/** A delta catch-up sends at most this many bytes at once; the peer's acknowledgement asks for the rest. */
export const catchUpBytesMax = 64 * MiB;
/** A joiner receiving a snapshot gives up on a stream that sends nothing for this long. */
export const snapshotStallMs = 10_000;
/** A snapshot stream that takes longer than this is abandoned (the joiner asks again). */
export const snapshotStreamMsMax = 10 * 60_000;
/** A snapshot stream waits for its connection to drain below this before the next chunk. */
export const snapshotBacklogBytesMax = 8 * MiB;
/** Every node repeats `hello` and its ack to its predecessor this often, repairing lost frames on an idle chain. */
export const chainRepairIntervalMs = 1_000;
/** A joiner (or a member waiting on its predecessor) asks again this long after its last request. */
export const joinRetryMs = 1_000;
/** Moving slots: keys one export or drop page steps over at most (values unread). */
export const migrationExamineMax = 1_000_000;
/** Moving slots: bytes of one export page at most. */
export const migrationPageBytesMax = 4 * MiB;
/** Hand-over fences a replica keeps: the oldest are forgotten past this. */
export const migrationFencesKept = 1024;
/** Clients the exactly-once table remembers, and entries it keeps before forgetting idle clients. */
export const clientTableClientsMax = 100_000;
export const clientTableIdleEntriesMax = 100_000;
/** Longest client id taken (its meta key, `client:<id>`, must fit LMDB's key limit with room to spare). */
export const clientIdBytesMax = 256;

assert(chainTickMs < chainRepairIntervalMs, 'the repair runs from the tick');
assert(snapshotStallMs < snapshotStreamMsMax, 'a stalled stream is noticed before a slow one is abandoned');
assert(snapshotBacklogBytesMax <= peerQueueBytesMax, 'a snapshot never fills a peer queue by itself');
assert(peerBatchBytesTarget <= catchUpBytesMax, 'one catch-up holds at least a batch');
assert(clientIdBytesMax + 'client:'.length <= lmdbKeyBytesMax, 'a client record key fits LMDB');
