// Catena's public API: the client library, its error type and codes, and (for embedding and
// tests) the node itself.

export { Client, type ClientOptions, type Entry, type Bytes } from './client/client.js';
export { CatenaError, errorCodes, type ErrorCode } from './core/errors.js';
export { CatenaNode, type NodeOptions } from './server/node.js';
export { commandTable, commandNames } from './commands/index.js';
