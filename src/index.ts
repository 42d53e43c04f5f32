// Catena's public API: the client libraries (Client for one node, ClusterClient for a cluster),
// their error type and codes, and (for embedding and tests) the node itself. docs/api is generated
// from this file's exports and their doc comments (`npm run docs:api`).

/**
 * The `catena-kv` package: `ClusterClient` for a cluster (it sends each request to the node that
 * can serve it and retries around failovers), `Client` for one node, and `CatenaNode` to run a
 * node inside a process. Both clients have the methods of {@link ClientCommands}.
 *
 * ```ts
 * import { ClusterClient } from 'catena-kv';
 *
 * const db = await ClusterClient.connect({ seeds: ['127.0.0.1:7000'] });
 * await db.put('greeting', 'hello');
 * console.log(await db.getString('greeting')); // 'hello'
 * await db.close();
 * ```
 *
 * Keys and values are `string` (UTF-8) or bytes (`Uint8Array`, `Buffer`); values come back as
 * Buffers (`getString` decodes one as UTF-8). Counts, lengths, flags and times in ms are
 * numbers; versions, `incr` counters and the epochs and sequences of `topology()` and
 * `nodeStatus()` are bigint. Failures reject with a {@link CatenaError} whose `code` is stable.
 *
 * @packageDocumentation
 */

export { Client, type ClientOptions, type ClientTls, type Credentials, type SendOptions } from './client/client.js';
export {
  ClientCommands,
  clientMethods,
  type Bytes,
  type CommandStats,
  type Entry,
  type InternalCommandName,
  type MgetEntry,
  type Stats,
  type NodeStatus,
  type PublicCommandName,
  type SetOptions,
  type SetResult,
  type SetWhen,
  type Topology,
} from './client/client-commands.js';
export { ClusterClient, type ClusterClientOptions } from './client/cluster-client.js';
export { CatenaError, errorCodes, type ErrorCode } from './core/errors.js';
export { CatenaNode, type ClusterOptions, type NodeAuth, type NodeOptions } from './server/node.js';
export type { Readiness } from './server/admin.js';
export type { TlsMaterial } from './server/tls.js';
export type { Logger, LogLevel } from './core/log.js';
export {
  commandTable,
  commandNames,
  type CommandDefinition,
  type CommandName,
  type RequestInit,
} from './commands/index.js';
// The wire types `send` takes and returns, for the options the typed methods leave out, and the
// messages `topology()` and `nodeStatus()` resolve with (proto/catena.proto).
export type { ReplyOf, WriterIds } from './protocol/native/codec.js';
export {
  SetCondition,
  type ChainInfo,
  type NodeAddress,
  type NodeStatusReply,
  type SlotMigration,
  type SlotRange,
  type TopologyReply,
} from './protocol/native/gen/catena_pb.js';
