// The coordinator interface (docs/design.md §1, §2): the small part of ZooKeeper that Catena uses,
// with ZooKeeper's semantics, so the two backends — ZooKeeper itself (zookeeper-coordinator.ts)
// and the embedded coordinator inside `catena up` (embedded-coordinator.ts) — are
// interchangeable and pass one contract suite (test/coordination/coordinator-contract.ts).
//
// Semantics, as ZooKeeper defines them:
// * A tree of znodes addressed by absolute paths ("/catena/c1/nodes/n1"); each holds bytes and a
//   data version that starts at 0 and rises by one on every `set`.
// * A session: created by `connect`, kept alive by the client library. It is `connected` while
//   the client hears from the server; `disconnected` when it has not for about ⅔ of the session
//   timeout (the session may still be alive on the server, and the library keeps trying to
//   reconnect to it); `expired` once the server has not heard from it for the whole timeout: its
//   ephemeral znodes are gone and this handle is dead for good (make a new one).
// * Ephemeral znodes belong to the session that created them and disappear when it expires or
//   closes. Sequential znodes get a 10-digit, zero-padded counter appended to the given path,
//   taken from a per-parent counter that never goes back.
// * Watches are one-shot: a watcher passed to `get`/`exists` fires once on the next change of
//   that znode (created, deleted, data-changed); a watcher passed to `children` fires once on the
//   next change of the list of children (children-changed) or on deletion of the parent. Watches
//   survive disconnections within a session; when a session expires its watches are dropped.
// * `multi` applies every operation or none; `check` asserts a znode's version (or, with -1,
//   only that it exists).
//
// Errors are CoordinatorError with a stable code; a call that cannot reach the server fails with
// 'connection-loss' (its effect unknown) and one on an expired session with 'session-expired'.

import type { Logger } from '../core/log.js';

export type CreateMode = 'persistent' | 'ephemeral' | 'persistent-sequential' | 'ephemeral-sequential';

export type SessionState = 'connected' | 'disconnected' | 'expired';

export type WatchEventType = 'created' | 'deleted' | 'data-changed' | 'children-changed';

export interface WatchEvent {
  readonly type: WatchEventType;
  readonly path: string;
}

export type Watcher = (event: WatchEvent) => void;

export interface ZnodeData {
  readonly data: Uint8Array;
  readonly version: number;
}

/** Any version (for set, delete and check). */
export const anyVersion = -1;

export type MultiOp =
  | { readonly kind: 'create'; readonly path: string; readonly data: Uint8Array; readonly mode: CreateMode }
  | { readonly kind: 'set'; readonly path: string; readonly data: Uint8Array; readonly version: number }
  | { readonly kind: 'delete'; readonly path: string; readonly version: number }
  | { readonly kind: 'check'; readonly path: string; readonly version: number };

export type CoordinatorErrorCode =
  | 'no-node'
  | 'node-exists'
  | 'bad-version'
  | 'not-empty'
  | 'no-children-for-ephemerals'
  | 'bad-arguments'
  | 'connection-loss'
  | 'session-expired'
  | 'closed';

export class CoordinatorError extends Error {
  constructor(
    readonly code: CoordinatorErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CoordinatorError';
  }
}

export interface Coordinator {
  /** The session timeout the server granted, in ms. */
  readonly sessionTimeoutMs: number;
  readonly state: SessionState;
  /** Called on every state change; returns a function that removes the listener. */
  onStateChange(listener: (state: SessionState) => void): () => void;

  /** Creates a znode; the parent must exist. Returns the created path (with a sequence suffix if sequential). */
  create(path: string, data: Uint8Array, mode: CreateMode): Promise<string>;
  /** Creates every missing persistent znode along the path (empty data); never fails on existing ones. */
  ensurePath(path: string): Promise<void>;
  /** The znode's data and version, or undefined if it does not exist (the watcher then waits for its creation). */
  get(path: string, watcher?: Watcher): Promise<ZnodeData | undefined>;
  /** The znode's version, or undefined if it does not exist. */
  exists(path: string, watcher?: Watcher): Promise<number | undefined>;
  /** Names (not paths) of the znode's children, sorted; throws 'no-node' if it does not exist. */
  children(path: string, watcher?: Watcher): Promise<string[]>;
  /** Replaces the data if the version matches (or is anyVersion); returns the new version. */
  set(path: string, data: Uint8Array, version: number): Promise<number>;
  delete(path: string, version: number): Promise<void>;
  /** All or nothing. Throws the first failing operation's error. */
  multi(ops: readonly MultiOp[]): Promise<void>;
  /** Ends the session: its ephemeral znodes go at once. */
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Asked-for session timeout in ms (the server may grant another within its bounds). */
  readonly sessionTimeoutMs: number;
  /** How long `connect` tries before failing with 'connection-loss'. */
  readonly connectTimeoutMs?: number;
  /**
   * The cluster secret. ZooKeeper: the client authenticates with a digest credential derived
   * from it, and the znodes it creates are readable and writable only with that credential.
   * The embedded coordinator: the client proves it holds the secret the coordinator was started
   * with. Absent: open znodes, and only a coordinator started without a secret takes the client.
   */
  readonly secret?: Uint8Array;
  /** Where the client logs (reconnections, errors); absent: JSON on stderr, warnings and errors only. */
  readonly log?: Logger;
}
