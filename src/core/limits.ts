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
