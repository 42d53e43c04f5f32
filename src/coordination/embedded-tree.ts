// The embedded coordinator's znode tree and its server-side watch table, with ZooKeeper's
// rules (see coordinator.ts): the parent must exist, ephemerals have no children, a non-empty
// znode cannot be deleted, versions are checked, and a sequential znode's suffix is its parent's
// child version (`cversion`: +1 on every child created or deleted), zero-padded to 10 digits,
// exactly as ZooKeeper numbers them. Pure: no I/O, no clock; the server (embedded-coordinator.ts)
// owns sessions, sockets and the data file.
//
// Watches are one-shot and per session, as on a ZooKeeper server: a data watch (set by get and
// exists, whether or not the znode exists) fires on created, deleted or data-changed of its
// path; a child watch (set by children) fires on children-changed of its path or its deletion.
// A session receives at most one event per change even if it holds both kinds on one path.
// A mutation records triggers; they are turned into deliveries only once it has fully
// succeeded, so a failed `multi` fires nothing (its partial effects are rolled back first).

import { assert } from '../core/assert.js';
import {
  watchesPerSessionMax,
  znodeCountMax,
  znodeDataBytesMax,
  znodePathBytesMax,
  znodeSequenceSuffixMax,
} from '../core/limits.js';
import type { CoordinatorErrorCode, CreateMode, MultiOp, WatchEventType } from './coordinator.js';
import { anyVersion } from './coordinator.js';

export type TreeResult<T> = { ok: true; value: T } | { ok: false; code: CoordinatorErrorCode; message: string };

/** A mutation's outcome and the watch events it fired (none when it failed). */
export interface Mutation<T> {
  readonly result: TreeResult<T>;
  readonly fired: WatchDelivery[];
}

export interface WatchDelivery {
  readonly sessionId: string;
  readonly type: WatchEventType;
  readonly path: string;
}

/** A persistent znode as written to the data file. */
export interface PersistedZnode {
  readonly path: string;
  readonly data: string;
  readonly version: number;
  readonly cversion: number;
}

interface Znode {
  data: Buffer;
  version: number;
  cversion: number;
  readonly ephemeralOwner: string | undefined;
  readonly children: Set<string>;
}

interface Trigger {
  readonly type: WatchEventType;
  readonly path: string;
}

type Undo = () => void;

function fail<T>(code: CoordinatorErrorCode, message: string): TreeResult<T> {
  return { ok: false, code, message };
}
function ok<T>(value: T): TreeResult<T> {
  return { ok: true, value };
}

/** Characters ZooKeeper's PathUtils.validatePath rejects: controls and reserved ranges. */
function isForbiddenPathCharacter(code: number): boolean {
  return (
    code <= 0x1f ||
    (code >= 0x7f && code <= 0x9f) ||
    (code >= 0xd800 && code <= 0xf8ff) ||
    (code >= 0xfff0 && code <= 0xffff)
  );
}

function hasForbiddenPathCharacter(path: string): boolean {
  for (let index = 0; index < path.length; index += 1) {
    if (isForbiddenPathCharacter(path.charCodeAt(index))) return true;
  }
  return false;
}

/** Checks a path as ZooKeeper does; returns why it is invalid, or undefined. */
export function invalidPathReason(path: string): string | undefined {
  if (path.length === 0 || path[0] !== '/') return 'a path must start with /';
  if (Buffer.byteLength(path) > znodePathBytesMax) return `a path is at most ${znodePathBytesMax} bytes`;
  if (hasForbiddenPathCharacter(path)) return 'a path must not contain control or reserved characters';
  if (path === '/') return undefined;
  if (path.endsWith('/')) return 'a path must not end with /';
  const segments = path.slice(1).split('/');
  if (segments.some((segment) => segment === '')) return 'a path must not contain an empty segment';
  if (segments.some((segment) => segment === '.' || segment === '..')) return 'a path must not contain . or ..';
  return undefined;
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === 0 ? '/' : path.slice(0, slash);
}
function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
function isSequential(mode: CreateMode): boolean {
  return mode === 'persistent-sequential' || mode === 'ephemeral-sequential';
}
function isEphemeral(mode: CreateMode): boolean {
  return mode === 'ephemeral' || mode === 'ephemeral-sequential';
}
function versionMatches(expected: number, actual: number): boolean {
  return expected === anyVersion || expected === actual;
}

export class ZnodeTree {
  private readonly nodes = new Map<string, Znode>();
  private readonly ephemeralsBySession = new Map<string, Set<string>>();
  /** path -> sessions watching its data (or existence). */
  private readonly dataWatches = new Map<string, Set<string>>();
  /** path -> sessions watching its children. */
  private readonly childWatches = new Map<string, Set<string>>();
  private readonly watchCountBySession = new Map<string, number>();

  constructor() {
    this.nodes.set('/', {
      data: Buffer.alloc(0),
      version: 0,
      cversion: 0,
      ephemeralOwner: undefined,
      children: new Set(),
    });
  }

  get size(): number {
    return this.nodes.size;
  }

  // ---- reads ---------------------------------------------------------------------------------

  get(path: string): TreeResult<{ data: Buffer; version: number } | undefined> {
    const reason = invalidPathReason(path);
    if (reason !== undefined) return fail('bad-arguments', `${reason}: ${path}`);
    const node = this.nodes.get(path);
    return ok(node === undefined ? undefined : { data: node.data, version: node.version });
  }

  children(path: string): TreeResult<string[]> {
    const reason = invalidPathReason(path);
    if (reason !== undefined) return fail('bad-arguments', `${reason}: ${path}`);
    const node = this.nodes.get(path);
    if (node === undefined) return fail('no-node', `no znode ${path}`);
    return ok([...node.children].sort());
  }

  // ---- watches -------------------------------------------------------------------------------

  /** Registers a data watch (get/exists) for a session; fails if it holds too many. */
  watchData(sessionId: string, path: string): TreeResult<null> {
    return this.addWatch(this.dataWatches, sessionId, path);
  }

  /** Registers a child watch; call only after `children` succeeded. */
  watchChildren(sessionId: string, path: string): TreeResult<null> {
    return this.addWatch(this.childWatches, sessionId, path);
  }

  private addWatch(table: Map<string, Set<string>>, sessionId: string, path: string): TreeResult<null> {
    const sessions = table.get(path) ?? new Set<string>();
    if (sessions.has(sessionId)) return ok(null);
    const count = this.watchCountBySession.get(sessionId) ?? 0;
    if (count >= watchesPerSessionMax)
      return fail('bad-arguments', `a session may hold ${watchesPerSessionMax} watches`);
    sessions.add(sessionId);
    table.set(path, sessions);
    this.watchCountBySession.set(sessionId, count + 1);
    return ok(null);
  }

  /** Drops every watch of a session (it expired or closed). */
  dropWatches(sessionId: string): void {
    for (const table of [this.dataWatches, this.childWatches]) {
      for (const [path, sessions] of table) {
        if (sessions.delete(sessionId) && sessions.size === 0) table.delete(path);
      }
    }
    this.watchCountBySession.delete(sessionId);
  }

  private takeWatchers(table: Map<string, Set<string>>, path: string, into: Set<string>): void {
    const sessions = table.get(path);
    if (sessions === undefined) return;
    table.delete(path);
    for (const sessionId of sessions) {
      into.add(sessionId);
      const count = this.watchCountBySession.get(sessionId) ?? 0;
      assert(count > 0, 'a registered watch is counted');
      this.watchCountBySession.set(sessionId, count - 1);
    }
  }

  private fire(triggers: readonly Trigger[]): WatchDelivery[] {
    const deliveries: WatchDelivery[] = [];
    for (const { type, path } of triggers) {
      const sessions = new Set<string>();
      if (type !== 'children-changed') this.takeWatchers(this.dataWatches, path, sessions);
      if (type === 'children-changed' || type === 'deleted') this.takeWatchers(this.childWatches, path, sessions);
      for (const sessionId of sessions) deliveries.push({ sessionId, type, path });
    }
    return deliveries;
  }

  // ---- mutations -----------------------------------------------------------------------------

  create(path: string, data: Buffer, mode: CreateMode, sessionId: string): Mutation<string> {
    return this.single((triggers, undo) => this.applyCreate(path, data, mode, sessionId, triggers, undo));
  }

  set(path: string, data: Buffer, version: number): Mutation<number> {
    return this.single((triggers, undo) => this.applySet(path, data, version, triggers, undo));
  }

  delete(path: string, version: number): Mutation<null> {
    return this.single((triggers, undo) => this.applyDelete(path, version, triggers, undo));
  }

  /** All or nothing: on the first failure every earlier op is undone and nothing fires. */
  multi(ops: readonly MultiOp[], sessionId: string): Mutation<null> {
    return this.single((triggers, undo) => {
      for (const op of ops) {
        const result = this.applyMultiOp(op, sessionId, triggers, undo);
        if (!result.ok) return fail(result.code, result.message);
      }
      return ok(null);
    });
  }

  /** Deletes every ephemeral znode of a session (expired or closed) and fires their watches. */
  deleteEphemerals(sessionId: string): { deleted: number; fired: WatchDelivery[] } {
    const paths = [...(this.ephemeralsBySession.get(sessionId) ?? [])];
    const triggers: Trigger[] = [];
    for (const path of paths) {
      const result = this.applyDelete(path, anyVersion, triggers, []);
      assert(result.ok, `an ephemeral of a session can always be deleted: ${path}`);
    }
    assert(!this.ephemeralsBySession.has(sessionId), 'no ephemerals left for the session');
    return { deleted: paths.length, fired: this.fire(triggers) };
  }

  private single<T>(apply: (triggers: Trigger[], undo: Undo[]) => TreeResult<T>): Mutation<T> {
    const triggers: Trigger[] = [];
    const undo: Undo[] = [];
    const result = apply(triggers, undo);
    if (!result.ok) {
      for (const step of undo.reverse()) step();
      return { result, fired: [] };
    }
    return { result, fired: this.fire(triggers) };
  }

  private applyMultiOp(op: MultiOp, sessionId: string, triggers: Trigger[], undo: Undo[]): TreeResult<unknown> {
    switch (op.kind) {
      case 'create':
        return this.applyCreate(op.path, Buffer.from(op.data), op.mode, sessionId, triggers, undo);
      case 'set':
        return this.applySet(op.path, Buffer.from(op.data), op.version, triggers, undo);
      case 'delete':
        return this.applyDelete(op.path, op.version, triggers, undo);
      case 'check':
        return this.check(op.path, op.version);
    }
  }

  private check(path: string, version: number): TreeResult<null> {
    const reason = invalidPathReason(path);
    if (reason !== undefined) return fail('bad-arguments', `${reason}: ${path}`);
    const node = this.nodes.get(path);
    if (node === undefined) return fail('no-node', `no znode ${path}`);
    if (!versionMatches(version, node.version)) return fail('bad-version', `${path} is at version ${node.version}`);
    return ok(null);
  }

  private applyCreate(
    requested: string,
    data: Buffer,
    mode: CreateMode,
    sessionId: string,
    triggers: Trigger[],
    undo: Undo[],
  ): TreeResult<string> {
    const reason = invalidPathReason(isSequential(mode) ? `${requested}0` : requested);
    if (reason !== undefined) return fail('bad-arguments', `${reason}: ${requested}`);
    if (requested === '/') return fail('node-exists', 'the root always exists');
    if (data.length > znodeDataBytesMax)
      return fail('bad-arguments', `znode data is at most ${znodeDataBytesMax} bytes`);
    if (this.nodes.size >= znodeCountMax)
      return fail('bad-arguments', `the tree holds at most ${znodeCountMax} znodes`);
    const parentPath = parentOf(requested);
    const parent = this.nodes.get(parentPath);
    if (parent === undefined) return fail('no-node', `parent ${parentPath} does not exist`);
    if (parent.ephemeralOwner !== undefined) {
      return fail('no-children-for-ephemerals', `${parentPath} is ephemeral and cannot have children`);
    }
    assert(parent.cversion <= znodeSequenceSuffixMax, 'sequence counter fits 10 digits');
    const path = isSequential(mode) ? `${requested}${String(parent.cversion).padStart(10, '0')}` : requested;
    if (this.nodes.has(path)) return fail('node-exists', `${path} exists`);
    const owner = isEphemeral(mode) ? sessionId : undefined;
    const cversionBefore = parent.cversion;
    this.insert(path, { data, version: 0, cversion: 0, ephemeralOwner: owner, children: new Set() });
    undo.push(() => {
      this.remove(path);
      parent.cversion = cversionBefore;
    });
    triggers.push({ type: 'created', path }, { type: 'children-changed', path: parentPath });
    return ok(path);
  }

  private applySet(path: string, data: Buffer, version: number, triggers: Trigger[], undo: Undo[]): TreeResult<number> {
    const checked = this.check(path, version);
    if (!checked.ok) return checked;
    if (data.length > znodeDataBytesMax)
      return fail('bad-arguments', `znode data is at most ${znodeDataBytesMax} bytes`);
    const node = this.nodes.get(path)!;
    const before = { data: node.data, version: node.version };
    node.data = data;
    node.version += 1;
    undo.push(() => Object.assign(node, before));
    triggers.push({ type: 'data-changed', path });
    return ok(node.version);
  }

  private applyDelete(path: string, version: number, triggers: Trigger[], undo: Undo[]): TreeResult<null> {
    if (path === '/') return fail('bad-arguments', 'the root cannot be deleted');
    const checked = this.check(path, version);
    if (!checked.ok) return checked;
    const node = this.nodes.get(path)!;
    if (node.children.size > 0) return fail('not-empty', `${path} has children`);
    const parent = this.nodes.get(parentOf(path))!;
    const cversionBefore = parent.cversion;
    this.remove(path);
    undo.push(() => {
      this.insert(path, node);
      parent.cversion = cversionBefore;
    });
    triggers.push({ type: 'deleted', path }, { type: 'children-changed', path: parentOf(path) });
    return ok(null);
  }

  /** Links a znode under its (existing) parent; bumps the parent's child version. */
  private insert(path: string, node: Znode): void {
    const parent = this.nodes.get(parentOf(path));
    assert(parent !== undefined && !this.nodes.has(path), `insert ${path} under an existing parent`);
    this.nodes.set(path, node);
    parent.children.add(nameOf(path));
    parent.cversion += 1;
    if (node.ephemeralOwner !== undefined) {
      const owned = this.ephemeralsBySession.get(node.ephemeralOwner) ?? new Set<string>();
      owned.add(path);
      this.ephemeralsBySession.set(node.ephemeralOwner, owned);
    }
  }

  /**
   * Unlinks a childless znode; the parent's child version rises on removal too (ZooKeeper's
   * rule). An undone multi restores it: nobody saw the intermediate values, so it never goes back.
   */
  private remove(path: string): void {
    const node = this.nodes.get(path);
    const parent = this.nodes.get(parentOf(path));
    assert(node !== undefined && parent !== undefined && node.children.size === 0, `remove a childless ${path}`);
    this.nodes.delete(path);
    parent.children.delete(nameOf(path));
    parent.cversion += 1;
    if (node.ephemeralOwner !== undefined) {
      const owned = this.ephemeralsBySession.get(node.ephemeralOwner);
      owned?.delete(path);
      if (owned?.size === 0) this.ephemeralsBySession.delete(node.ephemeralOwner);
    }
  }

  // ---- persistence ---------------------------------------------------------------------------

  /** Every persistent znode, parents before children (ephemerals are never persisted). */
  persistentZnodes(): PersistedZnode[] {
    const result: PersistedZnode[] = [];
    for (const [path, node] of this.nodes) {
      if (node.ephemeralOwner !== undefined) continue;
      result.push({ path, data: node.data.toString('base64'), version: node.version, cversion: node.cversion });
    }
    return result.sort((a, b) => depthOf(a.path) - depthOf(b.path) || (a.path < b.path ? -1 : 1));
  }

  /** Rebuilds a tree from `persistentZnodes()` output; throws on an inconsistent list. */
  static fromPersisted(znodes: readonly PersistedZnode[]): ZnodeTree {
    const tree = new ZnodeTree();
    const sorted = [...znodes].sort((a, b) => depthOf(a.path) - depthOf(b.path));
    for (const znode of sorted) {
      const reason = invalidPathReason(znode.path);
      if (reason !== undefined) throw new Error(`invalid znode path ${znode.path}: ${reason}`);
      if (znode.path === '/') {
        Object.assign(tree.nodes.get('/')!, { data: Buffer.from(znode.data, 'base64'), version: znode.version });
      } else {
        if (!tree.nodes.has(parentOf(znode.path))) throw new Error(`znode ${znode.path} has no parent`);
        if (tree.nodes.has(znode.path)) throw new Error(`znode ${znode.path} is listed twice`);
        const node = { data: Buffer.from(znode.data, 'base64'), version: znode.version, cversion: 0 };
        tree.insert(znode.path, { ...node, ephemeralOwner: undefined, children: new Set() });
      }
    }
    // Child versions are restored last: inserting the children above bumped them.
    for (const znode of sorted) tree.nodes.get(znode.path)!.cversion = znode.cversion;
    return tree;
  }
}

function depthOf(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1;
}
