// Catena's public API: the client libraries (Client for one node, ClusterClient for a cluster),
// their error type and codes, and (for embedding and tests) the node itself.

export { Client, type ClientOptions, type ClientTls, type Credentials, type SendOptions } from './client/client.js';
export {
  ClientCommands,
  clientMethods,
  type Bytes,
  type CommandStats,
  type Entry,
  type InternalCommandName,
  type MgetEntry,
  type NodeStats,
  type NodeStatus,
  type PublicCommandName,
  type SetOptions,
  type SetResult,
  type SetWhen,
  type Topology,
} from './client/client-commands.js';
export { ClusterClient, type ClusterClientOptions, type LocalNode } from './client/cluster-client.js';
export { CatenaError, errorCodes, type ErrorCode } from './core/errors.js';
export { CatenaNode, type NodeOptions } from './server/node.js';
export { commandTable, commandNames, type CommandName, type RequestInit } from './commands/index.js';
// The wire types `send` takes and returns, for the options the typed methods leave out.
export type { ReplyOf } from './protocol/native/codec.js';
export { SetCondition } from './protocol/native/gen/catena_pb.js';
