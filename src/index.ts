// Catena's public API: the client libraries (Client for one node, ClusterClient for a cluster),
// their error type and codes, and (for embedding and tests) the node itself.

export {
  Client,
  ClientCommands,
  type ClientOptions,
  type Entry,
  type Bytes,
  type SendOptions,
} from './client/client.js';
export { ClusterClient, type ClusterClientOptions, type Topology } from './client/cluster-client.js';
export { CatenaError, errorCodes, type ErrorCode } from './core/errors.js';
export { CatenaNode, type NodeOptions } from './server/node.js';
export { commandTable, commandNames } from './commands/index.js';
