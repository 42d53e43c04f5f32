// Every limit in Catena, in one place, with its unit last in its name. They are checked
// against each other when this module loads (a bad edit fails at start-up, not in production),
// and enforced at the edges before anything is buffered (docs/design.md §8). A new limit goes here,
// not in the module that uses it: `npm run check:layers` refuses a limit constant defined elsewhere.

import { assert } from './assert.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Largest key accepted by the native protocol and the store. The design asked for 64 KiB, but
 * LMDB keys are at most 1978 bytes (lmdb-js default page size), and longer keys would have to be
 * hashed, which breaks ordered scans. 1 KiB leaves room for the expiry index's 8-byte prefix.
 */
export const keyBytesMax = 1 * KiB;
/** Keys in one mget or mput request (RESP's MGET and MSET are split into requests this size). */
export const multiKeysMax = 1024;
/** Bytes of a key an error message shows (ERR_CROSSSLOT names two keys); longer keys are cut. */
export const errorKeyShownBytesMax = 64;
/** Value bytes one mget reply may carry (a reply must fit a frame; a node must not build a huge one). */
export const mgetReplyBytesMax = 32 * MiB;
/** LMDB's own key limit with lmdb-js's default page size. */
export const lmdbKeyBytesMax = 1978;
/**
 * A write nobody waits for (a replica applying entries whose log records are already durable)
 * reaches LMDB with the next transaction someone waits for, or after this long at the latest.
 */
export const lmdbLazyFlushMs = 20;
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
/** Client-side default deadline for opening a connection. */
export const connectTimeoutMsDefault = 5_000;
/** How often a client fails the requests whose deadline has passed. */
export const clientSweepIntervalMs = 50;
/** A closing client waits this long for the server to end the connection, then destroys the socket. */
export const clientCloseTimeoutMs = 1_000;
/** Entries per scan page when a client iterates over a whole prefix (Client.entries). */
export const clientEntriesPageRecordsDefault = 1_000;

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
// ---- failure detection between chain neighbours (docs/design.md §3.5, §3.7)
/** Every member sends its predecessor and successor a heartbeat this often. */
export const heartbeatIntervalMsDefault = 100;
/**
 * A neighbour heard nothing from for this long (or whose connection closed and did not come back
 * within peerLossGraceMs) is reported to the manager, which removes it from the chain. Above the
 * longest event-loop stalls measured under load (docs/operations.md), so a busy node is not removed.
 */
export const suspicionTimeoutMsDefault = 500;
/**
 * A neighbour whose connection closed is suspected once silent this long (instead of the whole
 * suspicion timeout). A live peer that dropped the connection reopens it with its next frame (a
 * heartbeat at the latest), and its greeting counts as hearing from it.
 */
export const peerLossGraceMs = 150;
/**
 * A tail's read lease, renewed by its predecessor echoing its heartbeats: it serves reads until
 * the echoed stamp + this (its own monotonic clock).
 */
export const readLeaseMsDefault = 300;
/** A node's read lease as a fraction of its suspicion timeout (300 of 500 ms by default). */
export const readLeaseFraction = readLeaseMsDefault / suspicionTimeoutMsDefault;
/**
 * Bound on how much two nodes' monotonic clocks may differ in rate (0.05: one runs at most 5 %
 * faster than real time, another at most 5 % slower). A predecessor that became tail waits
 * readLeaseMs * (1 + e) / (1 - e) after it last heard its old successor before it commits.
 */
export const clockRateErrorMax = 0.05;
/** The manager removes one node at most this many times on peers' reports per window (then its session decides). */
export const reportRemovalsPerNodeMax = 3;
export const reportRemovalWindowMs = 60_000;
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
assert(errorKeyShownBytesMax <= keyBytesMax, 'an error shows a prefix of a key, never more than a key');
assert(valueBytesMaxDefault <= valueBytesCeiling, 'default value limit within the ceiling');
assert(frameBytesMax(valueBytesCeiling) < 2 ** 32, 'a frame length fits the u32 prefix');
assert(scanReplyBytesMax <= valueBytesMaxDefault, 'a scan page fits a default frame');
assert(scanReplyBytesMax + scanCountMax * 64 < replyFrameBytesMax, 'a full scan page fits a reply frame');
assert(scanExamineMax >= 4 * scanCountMax, 'a listing may step over expired keys');
assert(frameTimeoutMs < idleTimeoutMs, 'a frame deadline is shorter than the idle deadline');
assert(Number.isSafeInteger(Date.UTC(2200, 0) + ttlMsMax), 'expiry times are exact in a float64');
assert(expiryReclaimBatchMax > 0 && expiryReclaimIntervalMs > 0, 'expiry reclamation makes progress');
assert(requestTimeoutMsDefault < frameTimeoutMs, 'a client gives up before the server does');

// ---- the cluster client (src/client/cluster-client.ts)
/** Deadline of one call, retries included. */
export const clusterClientTimeoutMsDefault = 10_000;
/** Deadline of one attempt at one node (capped by what is left of the call's). */
export const clusterClientAttemptTimeoutMsDefault = 1_000;
/** How often the topology is refreshed while the client is in use. */
export const clusterClientRefreshIntervalMsDefault = 1_000;
/** Backoff after a failed attempt: starts here, doubles (jittered) up to the maximum. */
export const clusterClientBackoffMsInitial = 50;
/**
 * An attempt unanswered after clusterClientFollowAfterMs makes the client re-read the topology
 * every clusterClientFollowPollMs: once another node holds the role (a failover), the attempt is
 * abandoned and sent there at once (the same request id: exactly-once), rather than waiting out
 * the attempt timeout on a node that is frozen or cut off.
 */
export const clusterClientFollowAfterMs = 150;
export const clusterClientFollowPollMs = 100;
export const clusterClientBackoffMsMax = 500;
/** After the first topology answer of a refresh, how long to wait for the others (newest wins). */
export const clusterClientRefreshSettleMs = 25;
/** Nodes asked at once in one wave of a refresh. */
export const clusterClientRefreshFanoutMax = 8;
/** Writes one client has in flight at once (one per writer lane); more wait for a lane. */
export const clusterClientWriteLanesMaxDefault = 256;
/** Random bytes of a cluster client's id (sent as hex): its writer ids are unique per client. */
export const clusterClientIdBytes = 8;

assert(clusterClientAttemptTimeoutMsDefault <= clusterClientTimeoutMsDefault, 'an attempt fits in its call');
assert(clusterClientBackoffMsInitial <= clusterClientBackoffMsMax, 'the backoff grows to its maximum');
assert(clusterClientBackoffMsMax < clusterClientTimeoutMsDefault, 'a call backs off and retries within its deadline');
assert(clusterClientRefreshSettleMs < clusterClientAttemptTimeoutMsDefault, 'a refresh settles within an attempt');
assert(
  clusterClientTimeoutMsDefault > sessionTimeoutMsDefault,
  'a call outlasts a failover (a dead node leaves its chain a session timeout after it died)',
);
assert(clientEntriesPageRecordsDefault <= scanCountMax, 'an entries page is one scan');
assert(clientSweepIntervalMs < requestTimeoutMsDefault, 'an overdue request is failed soon after its deadline');

// ---- a node (src/server/): relaying, stopping, RESP SCAN, peers, the admin port, dumps
/** Writes a node relays at once for its RESP and memcached sessions (one writer lane each). */
export const relayLanesMax = 4096;
/** On stop, how long relayed RESP and memcached commands get before the relay is closed. */
export const relayDrainMs = 1_000;
/** Each slot-moving command the manager sends gets this long, retries through failovers included. */
export const migrationCallTimeoutMs = 60_000;
/** Cursors a node remembers for RESP SCAN (oldest forgotten first). */
export const respScanCursorsMax = 10_000;
/** An inbound peer connection must send its `peer` greeting (and an outbound one get its challenge) within this long. */
export const peerGreetingMs = 5_000;
/** The first frame on a peer connection (a greeting or a challenge: ids, a nonce, a proof) is at most this big. */
export const peerGreetingBytesMax = 4 * KiB;
/** The challenge an accepting node sends on each new peer connection, in bytes (server/peer-auth.ts). */
export const peerChallengeBytes = 32;
/** A cluster secret shorter than this (whitespace trimmed) is refused: it could be guessed. */
export const clusterSecretBytesMin = 16;
/** Inbound peer connections at most (a cluster has a few dozen nodes; each opens one). */
export const peerConnectionsMax = 1_000;
/** Inbound peer connections not yet proved (in their handshake) at once; a new one closes the oldest. */
export const peerUnprovedConnectionsMax = 64;
/** A peer refusal's reason quotes what a stranger sent: at most this many characters of it (logs, /status). */
export const peerRefusalReasonCharsMax = 200;
/** Dumps streaming at once from the admin port; each walks the whole store, so more wait (503) rather than pile up. */
export const dumpsInFlightMax = 2;
/** Entries read from the store per dump page (one synchronous scan, one write). */
export const dumpPageRecords = 1024;
/** Key and value bytes per dump page, about (a page holds at least one entry, however large). */
export const dumpPageBytesMax = 1 * MiB;
/** Longest dump header line, its "\n" excluded (a reader refuses a longer first line). */
export const dumpHeaderBytesMax = 4 * KiB;
/** Longest dump record line, its "\n" excluded: escaped text takes at most 2 characters a byte, base64 4/3. */
export const dumpLineCharsMax = 2 * (keyBytesMax + valueBytesCeiling) + KiB;
/** Longest node id a dump header may carry. */
export const dumpNodeIdCharsMax = 256;

assert(relayDrainMs < shutdownDrainMsMax, 'relays are closed before the drain deadline');
assert(migrationCallTimeoutMs > sessionTimeoutMsDefault, 'a slot-moving command outlasts a failover');
assert(dumpPageRecords > 0 && dumpPageBytesMax > 0, 'a dump page makes progress');
assert(dumpLineCharsMax < 2 ** 29 - 24, 'a dump line fits a JavaScript string (V8 limit)');
assert(dumpHeaderBytesMax > dumpNodeIdCharsMax * 6 + 128, 'a header with the longest escaped node id fits');

// ---- client sessions (src/protocol/): writes, buffers, frames
/** Batches of replies up to this size are joined into one socket write; larger ones are written as they are. */
export const replyConcatBytesMax = 64 * KiB;
/**
 * Reply bytes each read in flight on a RESP or memcached connection is assumed to need until it
 * answers, against the connection's output budget: replies only exist once their reads finish, so
 * without it one chunk of pipelined gets of large values would all be started at once. Bounds what
 * one connection's reads can make the node hold to about connectionOutputBytesMax plus this many
 * reads' replies.
 */
export const readReserveBytes = 1 * MiB;
/** Native encoder output buffers are carved from a shared pool this large ... */
export const wirePoolBytes = 16 * KiB;
/** ... when they are at most this large (a larger message gets a buffer of its own). */
export const wirePooledBytesMax = 4 * KiB;
/** Bytes of an oversized native frame kept to find its request id. */
export const oversizedFrameHeadBytes = 16;

assert(replyConcatBytesMax <= connectionOutputBytesMax, 'a joined write fits the output budget');
assert(readReserveBytes <= connectionOutputBytesMax, 'a connection may have a read in flight');
assert(wirePooledBytesMax <= wirePoolBytes, 'a pooled buffer fits the pool');
assert(oversizedFrameHeadBytes >= 1 + 5, 'the kept head holds a request id (its field tag and a u32 varint)');

// ---- client connections, node-wide (src/protocol/client-budget.ts, src/server/client-limit.ts)
/**
 * Default bytes all client connections together may hold buffered (replies queued or in the
 * socket, reads in flight at readReserveBytes each, partial requests): past it every client
 * session stops reading until the total is back under three quarters of it
 * (`catena server --client-buffers-bytes-max`).
 */
export const clientBuffersBytesMaxDefault = 256 * MiB;
/** The least budget accepted: a few replies of the largest value must fit. */
export const clientBuffersBytesMin = 16 * MiB;
/** While over the budget, connections are measured again this often. */
export const clientBudgetCheckMs = 250;
/**
 * Over the budget, a connection holding replies it has not read any of for this long (its
 * output never shrank) is cut, largest first, until the total is back under the low-water mark.
 */
export const clientOutputStallMs = 2_000;
/** A reply this large raises what each read in flight counts for against the budget for this long. */
export const clientReplySizeMemoryMs = 10_000;
/** Default idle deadline of RESP, memcached and native connections (`--idle-timeout-ms`; 0: none). */
export const clientIdleTimeoutMsDefault = 10 * 60_000;
/**
 * File descriptors kept back from client connections when maxclients is sized from
 * RLIMIT_NOFILE: listeners, the admin port's connections (at most adminConnectionsMax), peer
 * connections, the coordinator, LMDB and log segment files, Node's own.
 */
export const clientFdReserve = 160;
/** Connections the admin HTTP port accepts at once. */
export const adminConnectionsMax = 100;
/** A warning that repeats (maxclients reached, a cross-protocol request) is logged at most this often. */
export const repeatedWarningIntervalMs = 10_000;

assert(clientBuffersBytesMin >= 4 * readReserveBytes, 'the least budget holds a few reads');
assert(clientBuffersBytesMaxDefault >= 4 * valueBytesCeiling, 'the default budget holds a few largest values');
assert(clientBudgetCheckMs < clientOutputStallMs, 'a stalled connection is noticed before it is cut');
assert(clientFdReserve > adminConnectionsMax + 32, "the reserve holds the admin port and the node's own files");
assert(clientIdleTimeoutMsDefault > frameTimeoutMs, 'a frame deadline is shorter than the idle deadline');

// ---- coordination (src/coordination/): coordinator clients, the embedded coordinator, membership
/** How long `connectEmbedded` and `connectZooKeeper` keep trying when the options do not say. */
export const embeddedConnectTimeoutMsDefault = 10_000;
export const zooKeeperConnectTimeoutMsDefault = 10_000;
/** Backoff between an embedded client's reconnect attempts: doubles from the minimum up to the maximum. */
export const embeddedReconnectDelayMsMin = 20;
export const embeddedReconnectDelayMsMax = 200;
/** The ZooKeeper library waits up to this long (random) before retrying a server list it has exhausted. */
export const zooKeeperReconnectSpinDelayMs = 100;
/** A coordinator client (embedded or ZooKeeper) checks its session's liveness this many times per session timeout. */
export const coordinatorLivenessChecksPerTimeout = 15;
/** Bounds of the session timeout the embedded coordinator grants when its options do not say. */
export const embeddedSessionTimeoutMsMinDefault = 1_000;
export const embeddedSessionTimeoutMsMaxDefault = 60_000;
/** The embedded coordinator checks for expired sessions this many times per shortest session timeout. */
export const embeddedExpiryChecksPerTimeout = 10;
/** Connections (and so live sessions attached to them) the embedded coordinator accepts at once. */
export const embeddedConnectionsMax = 10_000;
/** A coordinator connection must open (or resume) its session within this long. */
export const embeddedHelloMs = 5_000;
/** Bytes a coordinator connection may send before its hello is taken (the hello is far smaller). */
export const embeddedHelloBytesMax = 4 * KiB;
/** Coordinator connections without a session at once; a new one closes the oldest. */
export const embeddedUnwelcomedConnectionsMax = 64;
/** Sessions the embedded coordinator keeps at once (attached or waiting to resume). */
export const embeddedSessionsMax = 10_000;
/** Bytes queued on one embedded-coordinator socket before it drops that slow connection. */
export const embeddedConnectionOutputBytesMax = 16 * MiB;
/** Watch events a session may leave unacknowledged; past it the session is expired. */
export const embeddedUnackedEventsPerSessionMax = 100_000;
/** Longest line (one message, without its newline) either side of the embedded coordinator accepts. */
export const embeddedFrameBytesMax = 1 * MiB;
/** Largest znode data (ZooKeeper's default limit is about 1 MiB for a whole request). */
export const znodeDataBytesMax = 512 * KiB;
/** Longest znode path, in UTF-8 bytes. */
export const znodePathBytesMax = 4096;
/** Znodes the embedded tree may hold, the root included. */
export const znodeCountMax = 1_000_000;
/** Watches one session may have registered at once. */
export const watchesPerSessionMax = 100_000;
/** Sequential znode suffixes are 10 decimal digits (as ZooKeeper's). */
export const znodeSequenceSuffixMax = 9_999_999_999;
/** Chain changes the manager makes in one evaluation at most (each is one epoch); the next evaluation goes on. */
export const managerChangesPerEvaluationMax = 32;
/** A tail confirms its read lease this many times per session timeout ... */
export const leaseConfirmationsPerTimeout = 4;
/** ... and a confirmation sent at t holds until t + this fraction of the timeout. */
export const leaseTimeoutFraction = 2 / 3;
/** A node re-reads the whole cluster this often, in case a watch was missed. */
export const membershipRefreshIntervalMs = 2_000;
/** A node republishes a log position that moved (and nothing else) at most this often. */
export const nodePositionPublishMs = 2_000;
/** Between a node's attempts to reach the coordinator after its session expired. */
export const membershipReconnectDelayMs = 500;
/** How long a node's membership waits for its first coordinator session. */
export const membershipFirstSessionTimeoutMs = 30_000;
/** Chains a layout may ask for, and nodes per chain. */
export const layoutChainsMax = 1024;
export const layoutReplicasMax = 16;
/** Moving slots, by default: slots moved in one batch at most, records per export, import or drop page... */
export const migrationBatchSlotsDefault = 1024;
export const migrationPageRecordsDefault = 1_000;
/** ... import pages in flight at once (the next page is exported while earlier ones are imported) ... */
export const migrationPagesInFlightDefault = 4;
/** ... and the copy rate limit (keys and values), so a move does not starve client traffic. */
export const migrationBytesPerSecondDefault = 64 * MiB;

assert(embeddedReconnectDelayMsMin <= embeddedReconnectDelayMsMax, 'the reconnect delay grows to its maximum');
assert(
  embeddedSessionTimeoutMsMinDefault <= sessionTimeoutMsDefault &&
    sessionTimeoutMsDefault <= embeddedSessionTimeoutMsMaxDefault,
  "the embedded coordinator grants a node's default session timeout",
);
assert(
  Math.ceil(znodeDataBytesMax / 3) * 4 + znodePathBytesMax + KiB <= embeddedFrameBytesMax,
  'a create of the largest znode (its data in base64) fits one embedded-coordinator message',
);
assert(
  1 / leaseConfirmationsPerTimeout < leaseTimeoutFraction && leaseTimeoutFraction < 1,
  'a read lease is confirmed again before it runs out, and runs out before the session can expire',
);
assert(migrationPageRecordsDefault <= scanCountMax, 'a migration page is one export');

// ---- the command-line tools (src/cli/) and the benchmark (src/bench/)
/** Lines of shell history kept. */
export const shellHistoryLinesMax = 1000;
/** Longest --timeout a CLI command accepts. */
export const cliTimeoutMsMax = 3_600_000;
/** Largest CLI config file (~/.config/catena/config.json): a few settings, so anything bigger is a wrong file. */
export const cliConfigBytesMax = 64 * KiB;
/**
 * Most bytes `catena put k -` (or -x) reads from stdin: the largest value any node can be
 * configured to take. It is checked while reading, so a wrong pipe fails before filling memory;
 * a node with a lower --value-bytes-max refuses a smaller value itself.
 */
export const cliStdinBytesMax = valueBytesCeiling;
/** Edits apart an unknown command may be from a known one for the CLI to suggest it. */
export const cliSuggestDistanceMax = 2;
/** `catena dump`: a node that sends nothing for this long is given up on (it may be stuck, or the network gone). */
export const dumpIdleTimeoutMs = 30_000;
/** `catena dump`: nodes dumped at once. */
export const dumpFetchesConcurrentMax = 4;
/**
 * `catena restore`: records sent at once, and checkpointed together in the progress file (a rerun
 * after an interruption sends at most this many again). Enough to keep every writer lane busy.
 */
export const restoreBatchRecords = 512;
/** `catena restore`: key and value bytes of one batch, about (a batch holds at least one record, however large). */
export const restoreBatchBytesMax = 16 * MiB;
/** `catena restore`: the least time between two redraws of the progress line. */
export const restoreRedrawIntervalMs = 200;
assert(
  restoreBatchRecords >= clusterClientWriteLanesMaxDefault,
  'a restore batch keeps every writer lane of its client busy',
);
/** `catena status --watch` redraws this often. */
export const statusWatchIntervalMs = 1_000;
/** `catena status`: deadline of each node's nodestatus request; a node slower than this shows as unreachable. */
export const nodeStatusTimeoutMs = 1_000;
/** `catena up`: a node that dies is restarted after this delay, doubled on each quick death up to the max. */
export const supervisorRestartDelayMsInitial = 500;
export const supervisorRestartDelayMsMax = 10_000;
/** `catena up`: a node that ran this long is healthy again: its next restart is quick. */
export const supervisorHealthyAfterMs = 30_000;
/** `catena up`: on stop, nodes get this long to exit after SIGTERM before SIGKILL. */
export const supervisorStopGraceMs = 10_000;
/** `catena up`: past this long without every node ready, it warns. */
export const supervisorReadyTimeoutMs = 60_000;
/**
 * `catena up`: a node's output line longer than this (in characters, without a newline) goes into
 * its log file cut into records of this size, so a child that never writes a newline cannot grow
 * the supervisor's buffer. Far above any record a node logs (a few hundred characters).
 */
export const supervisorLogLineCharsMax = 64 * KiB;
/** `catena bench`: longest --duration and --warmup accepted. */
export const benchSecondsMax = 24 * 3600;
/** `catena bench`: largest --seed (the PRNG takes 32 bits). */
export const benchSeedMax = 2 ** 32 - 1;
/** Limits of a benchmark run, checked once before anything runs. */
export const benchRecordsMax = 100_000_000;
export const benchConcurrencyMax = 4_096;
export const benchValueBytesMax = 64 * MiB;
/** Width of one interval of a benchmark's timeline. */
export const benchTimelineIntervalMs = 1_000;
/** How often a running benchmark reports its progress. */
export const benchProgressIntervalMs = 200;
/** The least time between two redraws of the progress line. */
export const benchRedrawIntervalMs = 200;
/** How long a benchmark worker waits after a failed operation before its next one. */
export const benchErrorPauseMs = 10;
/** Record counts above this are refused by the zipfian chooser: its hash's modulo stays exact in doubles below it. */
export const zipfianRecordsMax = 2 ** 32;

assert(clusterClientTimeoutMsDefault <= cliTimeoutMsMax, 'the default deadline is one the CLI accepts');
assert(supervisorRestartDelayMsInitial <= supervisorRestartDelayMsMax, 'the restart delay grows to its maximum');
assert(
  supervisorStopGraceMs > shutdownDrainMsMax + shutdownCloseMsMax,
  'a stopping node drains and closes before the supervisor kills it',
);
assert(benchRecordsMax <= zipfianRecordsMax, 'the zipfian chooser takes every record count the bench does');
assert(benchValueBytesMax <= valueBytesCeiling, 'a benchmark value fits the store');

// ---- RESP (src/protocol/resp/codec.ts): modelled on Redis's defaults, scaled to Catena's limits
/** Largest bulk argument: a key plus a value at the ceiling (Redis: proto-max-bulk-len, 512 MiB). */
export const respBulkBytesMax = keyBytesMax + valueBytesCeiling;
// (the parser's defaults; a node derives its own from --value-bytes-max: respBulkBytesMaxFor, respRequestBytesMaxFor)
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
/** Longest text string2ll accepts ("-9223372036854775808"); Redis: LONG_STR_SIZE - 1. */
export const respInt64TextBytesMax = 20;
/** Numbers of up to this many digits are exact in a double; longer ones are parsed as a BigInt. */
export const respExactDigitsMax = 15;
/** KEYS walks every key in pages (yielding to the event loop between them); this many keys at most in one reply (more is an error). */
export const respKeysReplyMax = 100_000;
/** ... and this many key bytes at most. */
export const respKeysReplyBytesMax = 16 * MiB;
/** Keys KEYS reads per page (one scan each). */
export const respKeysPageKeys = 1_000;
/** Largest bulk argument for a node whose value limit is `valueBytesMax`: a key plus a value. */
export function respBulkBytesMaxFor(valueBytesMax: number): number {
  return keyBytesMax + valueBytesMax;
}
/** Largest multibulk request for a node whose value limit is `valueBytesMax`: one largest bulk plus room for the rest. */
export function respRequestBytesMaxFor(valueBytesMax: number): number {
  return respBulkBytesMaxFor(valueBytesMax) + 4 * MiB;
}

assert(respHeaderLineBytesMax >= '*-9223372036854775808'.length, 'a RESP header line holds any 64-bit length');
assert(respInlineBytesMax < respRequestBytesMax, 'an inline request is smaller than a multibulk one may be');
assert(respInt64TextBytesMax === '-9223372036854775808'.length, 'the longest 64-bit number text');
assert(respHeaderLineBytesMax > respInt64TextBytesMax, 'a RESP header line holds any 64-bit number');
assert(10 ** respExactDigitsMax < 2 ** 53, 'every number of respExactDigitsMax digits is exact in a double');
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
/** memcached lets this many spaces precede `get ` in a line it keeps buffering. */
export const memcachedMultiGetLeadingSpacesMax = 100;
/** memcached's REALTIME_MAXDELTA: an exptime up to this many seconds is relative, a larger one absolute. */
export const memcachedRelativeExptimeSecondsMax = 60 * 60 * 24 * 30;

assert(memcachedKeyBytesMax <= keyBytesMax, 'every memcached key fits the store');
assert(memcachedItemBytesMaxDefault <= valueBytesCeiling, 'the default memcached item fits the store');
assert(
  memcachedLineBytesMax >=
    'prepend '.length + memcachedKeyBytesMax + ' 4294967295 -2147483648 2147483647 noreply'.length,
  'a storage line with a longest key and widest numbers fits a line',
);
assert(memcachedGetLineBytesMax >= memcachedLineBytesMax, 'a multi-get line may be longer than other lines');
assert(
  memcachedMultiGetLeadingSpacesMax + 'gets '.length < memcachedLineBytesMax,
  'a multi-get line is recognised before the line limit',
);
assert(memcachedRelativeExptimeSecondsMax * 1000 <= ttlMsMax, 'a relative exptime is a TTL the store takes');
/**
 * Keys one memcached get/gets may name: its mget requests (multiKeysMax keys each) are sent at once
 * (program order), so this bounds what one line can make the node read to 4 * mgetReplyBytesMax;
 * the reply itself stops at mgetReplyBytesMax.
 */
export const memcachedGetKeysMax = 4 * multiKeysMax;
/**
 * Keys one memcached gat/gats may name for a node whose value limit is `valueBytesMax`: each key is
 * its own write returning its value, so their values together stay within mgetReplyBytesMax.
 */
export function memcachedGatKeysMaxFor(valueBytesMax: number): number {
  return Math.max(1, Math.floor(mgetReplyBytesMax / valueBytesMax));
}

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
assert(chainTickMs <= heartbeatIntervalMsDefault, 'heartbeats go out from the tick');
assert(
  heartbeatIntervalMsDefault * 3 <= suspicionTimeoutMsDefault,
  'a neighbour is suspected only after several heartbeats were missed',
);
assert(
  leaseWaitMs(readLeaseMsDefault, clockRateErrorMax) < suspicionTimeoutMsDefault,
  'a tail suspected for silence has lost its lease by the time it is reported: its predecessor takes over without a wait',
);
assert(peerLossGraceMs < suspicionTimeoutMsDefault, 'a closed connection is suspected sooner than silence');
assert(
  readLeaseMsDefault < sessionTimeoutMsDefault * (1 - leaseTimeoutFraction),
  'a lease granted just before the granter lost its session ends before that session can expire',
);
assert(snapshotStallMs < snapshotStreamMsMax, 'a stalled stream is noticed before a slow one is abandoned');
assert(snapshotBacklogBytesMax <= peerQueueBytesMax, 'a snapshot never fills a peer queue by itself');
assert(peerBatchBytesTarget <= catchUpBytesMax, 'one catch-up holds at least a batch');
assert(clientIdBytesMax + 'client:'.length <= lmdbKeyBytesMax, 'a client record key fits LMDB');
assert(2 * clusterClientIdBytes <= clientIdBytesMax, "a cluster client's id (in hex) is one the replica takes");

// ---- the dashboard (src/server/dashboard.ts, cluster-view.ts, throughput-series.ts, cluster-events.ts)
/** Each node samples its throughput and latency this often (a timer diffing its cumulative histograms). */
export const seriesSampleIntervalMs = 1_000;
/** ... and keeps this many samples: the last five minutes the dashboard charts. */
export const seriesSamplesKept = 300;
/** Cluster events (failovers, joins, slot moves) each node remembers, newest kept. */
export const clusterEventsKept = 200;
/** A /cluster document is gathered at most this often; requests meanwhile share the last one (many open pages, one fan-out). */
export const clusterViewCacheMs = 500;
/** Deadline of each request to another node while gathering /cluster (its nodestatus, its /series). */
export const clusterViewNodeTimeoutMs = 1_000;
/** A /series body read from another node is refused beyond this (300 samples are about 30 KiB). */
export const seriesBodyBytesMax = 256 * KiB;
/** A dashboard asset (HTML, script, style sheet) larger than this is refused at load: they are a few KiB. */
export const dashboardAssetBytesMax = 512 * KiB;

assert(seriesSamplesKept * seriesSampleIntervalMs >= 60_000, 'the series covers at least the last minute');
assert(
  clusterViewNodeTimeoutMs < 2 * statusWatchIntervalMs,
  'a dead node delays a /cluster gather by less than two polls',
);
assert(seriesSamplesKept * 120 < seriesBodyBytesMax, 'a full series (about 100 bytes a sample) fits the body limit');

// ---- the segment log (src/storage/segment-log.ts): each replica's append-only, checksummed log
/** A segment file is sealed, and the next commit starts a new one, once it holds this many bytes (a default). */
export const logSegmentBytesMaxDefault = 64 * MiB;
/**
 * A segment grows on disk in steps of this many zero bytes, written ahead of the data (a default):
 * only the commit that writes a step changes the file's size, so the others' fdatasync flushes data only.
 */
export const logPreallocateBytesDefault = 4 * MiB;
/** Largest payload of one log record: an entry whose request and result each carry a value at the ceiling. */
export const logRecordPayloadBytesMax = 256 * MiB;
/** A range read takes records from disk in runs of about this many bytes (a larger record is read alone). */
export const logReadRunBytes = 1 * MiB;

assert(logPreallocateBytesDefault <= logSegmentBytesMaxDefault, 'a segment holds at least one preallocation step');
assert(
  2 * replyFrameBytesMax + clientIdBytesMax + expiryReclaimBatchMax * (4 + keyBytesMax) + 64 <=
    logRecordPayloadBytesMax,
  'a log entry with the largest request, the largest result and a full reclamation fits one record',
);
assert(logRecordPayloadBytesMax + 13 < 2 ** 32, "a record's length fits its u32 length word");

/**
 * How long (on its own clock) a node that granted a read lease of `leaseMs` must wait after it
 * last heard the holder before it may take over: the holder's clock may run slow and its own fast.
 */
export function leaseWaitMs(leaseMs: number, clockRateError: number): number {
  return Math.ceil((leaseMs * (1 + clockRateError)) / (1 - clockRateError));
}
