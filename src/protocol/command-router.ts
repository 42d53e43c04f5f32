// What a RESP or memcached session needs from the node it runs in: a way to run one native
// command and get its reply. The sessions (this layer) depend only on this interface; the node
// (src/server/router.ts) implements it, standalone on its own store or in a cluster through the
// cluster client, so the protocol layer never imports the server.

import type { CommandName, RequestInit } from '../commands/index.js';
import type { ReplyOf } from './native/codec.js';

export interface CommandRouter {
  /** Runs one command; resolves with its reply or rejects with a CatenaError. */
  send<C extends CommandName>(name: C, request: RequestInit<C>): Promise<ReplyOf<C>>;
  /**
   * True when commands take effect in the order they are sent (one node executing each at once).
   * False in a cluster, where a session must itself wait before sending a command that depends
   * on one still in flight.
   */
  readonly inOrder: boolean;
  close(): Promise<void>;
}
