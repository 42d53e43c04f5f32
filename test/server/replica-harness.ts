// An in-process cluster of Replicas (src/server/replica/) for tests: each replica on its own
// LmdbStore in a temporary directory, a fake peer network between them, and the test playing
// the manager (it builds every ChainConfig and hands it to every replica).
//
// The network delivers frames asynchronously (one setImmediate each), in FIFO order per
// (from, to), through the real peer-frame codec (chain-wire.ts). Like the real PeerNetwork it
// tells a receiver `peerConnected(sender)` before the first frame on a new connection, and it
// can drop traffic: everything to and from an isolated node, or single frames a filter refuses.
// Every frame sent is recorded (delivered or dropped) so tests can spy on what went where.

import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import type { CommandContext, NodeFacts } from '../../src/commands/index.js';
import type { ChainConfig } from '../../src/replication/chain-config.js';
import type { Logger, LogLevel } from '../../src/core/log.js';
import { systemClock } from '../../src/core/clock.js';
import { valueBytesMaxDefault } from '../../src/core/limits.js';
import type { ReplyCase, ReplyOf, ResponseResult } from '../../src/protocol/native/codec.js';
import { RequestSchema, type Request } from '../../src/protocol/native/gen/catena_pb.js';
import { decodePeerFrame, encodePeerFrame, type PeerFrame } from '../../src/server/chain-wire.js';
import { ApplyClock } from '../../src/server/replica/apply-clock.js';
import { Replica, type ReplicaPeers } from '../../src/server/replica/replica.js';
import { systemEnvironment } from '../../src/server/system-environment.js';
import { LmdbStore } from '../../src/storage/lmdb-store.js';
import { tempDir } from '../helpers/tmp.js';

export interface SentFrame {
  readonly from: string;
  readonly to: string;
  readonly frame: PeerFrame;
  dropped: boolean;
}

type InboundFrame = Exclude<PeerFrame, { kind: 'peer' }>;

export class FakeNetwork {
  /** Every frame any replica sent, in send order. */
  readonly sent: SentFrame[] = [];
  /** Return false to drop this frame (called at send time, after isolation is checked). */
  filter: ((sent: SentFrame) => boolean) | undefined;
  /** Called right after a frame was handed to its receiver, in the same turn. */
  afterDelivery: ((sent: SentFrame) => void) | undefined;
  private readonly replicas = new Map<string, Replica>();
  private readonly isolated = new Set<string>();
  /** Open connections "from>to" and their generation: a dropped connection loses what is in flight. */
  private readonly links = new Map<string, number>();
  private generation = 0;
  private inFlight = 0;

  attach(id: string, replica: Replica): void {
    this.replicas.set(id, replica);
    this.dropLinks(id);
  }

  detach(id: string): void {
    this.replicas.delete(id);
    this.dropLinks(id);
  }

  /** Drops all traffic to and from `id` until `heal`. */
  isolate(id: string): void {
    this.isolated.add(id);
    this.dropLinks(id);
  }

  heal(id: string): void {
    this.isolated.delete(id);
  }

  /** Drops the connections to and from `id` (what is in flight on them is lost); later frames open new ones. */
  reconnect(id: string): void {
    this.dropLinks(id);
  }

  get idle(): boolean {
    return this.inFlight === 0;
  }

  peersFor(from: string): ReplicaPeers {
    return { send: (to, frame) => this.send(from, to, frame), backlogBytes: () => 0 };
  }

  /** Frames sent to `to` (optionally from one sender, of some kinds), delivered or not. */
  framesTo(to: string, kinds?: readonly string[]): SentFrame[] {
    return this.sent.filter((s) => s.to === to && (kinds === undefined || kinds.includes(s.frame.kind)));
  }

  private send(from: string, to: string, frame: PeerFrame): void {
    const sent: SentFrame = { from, to, frame, dropped: false };
    this.sent.push(sent);
    if (this.blocked(from, to) || this.filter?.(sent) === false) {
      sent.dropped = true;
      return;
    }
    const link = `${from}>${to}`;
    let generation = this.links.get(link);
    const fresh = generation === undefined;
    if (generation === undefined) {
      generation = ++this.generation;
      this.links.set(link, generation);
    }
    const target = this.replicas.get(to);
    const bytes = encodePeerFrame(frame); // the real wire format: what does not survive it fails here
    this.inFlight += 1;
    setImmediate(() => {
      this.inFlight -= 1;
      const replica = this.replicas.get(to);
      if (this.links.get(link) !== generation || replica === undefined || replica !== target) {
        sent.dropped = true; // the connection (or the receiving process) went away meanwhile
        return;
      }
      if (fresh) replica.peerConnected(from);
      const decoded = decodePeerFrame(bytes.subarray(4));
      assert.ok(decoded.ok, 'a frame a replica sent decodes');
      assert.notEqual(decoded.frame.kind, 'peer');
      replica.frame(decoded.frame as InboundFrame);
      this.afterDelivery?.(sent);
    });
  }

  private blocked(from: string, to: string): boolean {
    return this.isolated.has(from) || this.isolated.has(to) || !this.replicas.has(to);
  }

  private dropLinks(id: string): void {
    for (const link of [...this.links.keys()]) {
      const [from, to] = link.split('>');
      if (from === id || to === id) this.links.delete(link);
    }
  }
}

/** A replica's system clock, off by `skewMs` from the others (the head's clock must win when applying). */
class SkewedApplyClock extends ApplyClock {
  private pinned: number | undefined;
  constructor(private readonly skewMs: number) {
    super(systemClock);
  }
  override pin(nowMs: number | undefined): void {
    this.pinned = nowMs;
    super.pin(nowMs);
  }
  override nowMs(): number {
    return this.pinned ?? Date.now() + this.skewMs;
  }
}

export interface MemberOptions {
  durability?: 'fsync' | 'memory';
  /** This member's system clock is off by this much. */
  clockSkewMs?: number;
  logEntriesKept?: number;
  catchUpEntriesMax?: number;
  snapshotChunkRecords?: number;
  /** How often the head reclaims expired keys through the log (a test that must see them stay sets it high). */
  expiryReclaimIntervalMs?: number;
}

export interface Member {
  readonly id: string;
  readonly dataDir: string;
  readonly store: LmdbStore;
  readonly replica: Replica;
  readonly options: MemberOptions;
  /** What readLeaseValid answers. */
  leaseValid: boolean;
}

export interface Dumped {
  key: string;
  value: string;
  version: number;
  expiresAtMs: number;
}

export const put = (key: string, value: string, ttlMs = 0n): Request['command'] =>
  create(RequestSchema, {
    command: { case: 'put', value: { key: Buffer.from(key), value: Buffer.from(value), ttlMs } },
  }).command;
export const get = (key: string): Request['command'] =>
  create(RequestSchema, { command: { case: 'get', value: { key: Buffer.from(key) } } }).command;
export const incr = (key: string, delta: bigint): Request['command'] =>
  create(RequestSchema, { command: { case: 'incr', value: { key: Buffer.from(key), delta } } }).command;
export const del = (key: string): Request['command'] =>
  create(RequestSchema, { command: { case: 'del', value: { key: Buffer.from(key) } } }).command;

export function request(command: Request['command'], clientId: string, clientSequence: number): Request {
  return create(RequestSchema, { command, clientId, clientSequence: BigInt(clientSequence) });
}

/** The error code of a result, or undefined when it is not an error. */
export const errorCode = (result: ResponseResult): string | undefined =>
  result.case === 'error' ? result.value.code : undefined;

export const errorMessage = (result: ResponseResult): string =>
  result.case === 'error' ? result.value.message : assert.fail(`expected an error, got a ${result.case} reply`);

export function replyOf<C extends ReplyCase>(result: ResponseResult, kind: C): ReplyOf<C> {
  if (result.case !== kind) assert.fail(`expected a ${kind} reply, got ${JSON.stringify(result, jsonSafe)}`);
  return result.value as ReplyOf<C>;
}

const jsonSafe = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? value.toString() : value);

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it holds, or fails after `timeoutMs` naming `what`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 4_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await pause(3);
  }
}

export class TestCluster {
  readonly network = new FakeNetwork();
  readonly members = new Map<string, Member>();
  /** Every onCaughtUp: which tail reported which joiner at which epoch. */
  readonly caughtUp: { tail: string; joiner: string; epoch: number }[] = [];
  readonly fatals: unknown[] = [];
  /** What the replicas logged at warn and error level (a swallowed exception shows up here). */
  readonly logs: { node: string; level: LogLevel; message: string; fields: Record<string, unknown> | undefined }[] = [];
  config: ChainConfig | undefined;
  private epoch = 0;
  private readonly dirs = new Map<string, { path: string; remove: () => void }>();
  private clientSequence = 0;

  /** Starts a replica on `id`'s data directory (a fresh one the first time). */
  start(id: string, options: MemberOptions = {}): Member {
    assert.ok(!this.members.has(id), `${id} is not running yet`);
    let dir = this.dirs.get(id);
    if (dir === undefined) {
      dir = tempDir(`catena-replica-${id}-`);
      this.dirs.set(id, dir);
    }
    const applyClock =
      options.clockSkewMs === undefined ? new ApplyClock(systemClock) : new SkewedApplyClock(options.clockSkewMs);
    const durability = options.durability ?? 'memory';
    const store = new LmdbStore({
      dataDir: dir.path,
      clock: applyClock,
      durability,
      onFatal: (error) => this.fatals.push(error),
      // Small log segments, so the tests that lower logEntriesKept see trims (whole segments go).
      logSegmentBytesMax: 512,
      logPreallocateBytes: 0,
    });
    const member: Member = {
      id,
      dataDir: dir.path,
      store,
      options,
      leaseValid: true,
      replica: undefined as unknown as Replica,
    };
    const context: CommandContext = {
      store,
      clock: applyClock,
      valueBytesMax: valueBytesMaxDefault,
      node: facts(id),
      // As the node's: the replica moves slots (slotfreeze, slotimport, slotdrop run through it).
      get slots() {
        return member.replica;
      },
    };
    const replica = new Replica({
      self: id,
      store,
      environment: systemEnvironment(applyClock),
      applyClock,
      context,
      durable: durability === 'fsync',
      log: this.logger(id),
      onCaughtUp: (joiner, epoch) => this.caughtUp.push({ tail: id, joiner, epoch }),
      onStateChanged: () => undefined,
      readLeaseValid: () => member.leaseValid,
      // Every member's client address, as the membership's node info would give it.
      nativeAddressOf: (nodeId) => (this.members.has(nodeId) ? `${nodeId}.test:7000` : undefined),
      fatal: (error) => this.fatals.push(error),
      ...(options.logEntriesKept === undefined ? {} : { logEntriesKept: options.logEntriesKept }),
      ...(options.catchUpEntriesMax === undefined ? {} : { catchUpEntriesMax: options.catchUpEntriesMax }),
      ...(options.snapshotChunkRecords === undefined ? {} : { snapshotChunkRecords: options.snapshotChunkRecords }),
      ...(options.expiryReclaimIntervalMs === undefined
        ? {}
        : { expiryReclaimIntervalMs: options.expiryReclaimIntervalMs }),
    });
    (member as { replica: Replica }).replica = replica;
    this.members.set(id, member);
    this.network.attach(id, replica);
    replica.start(this.network.peersFor(id));
    replica.sessionChanged(true);
    return member;
  }

  private logger(node: string): Logger {
    return {
      log: (level, message, fields) => {
        if (level === 'warn' || level === 'error') this.logs.push({ node, level, message, fields });
      },
    };
  }

  member(id: string): Member {
    const member = this.members.get(id);
    assert.ok(member !== undefined, `${id} is running`);
    return member;
  }

  replica(id: string): Replica {
    return this.member(id).replica;
  }

  store(id: string): LmdbStore {
    return this.member(id).store;
  }

  /** The manager publishes a new configuration (epoch + 1); every running replica but `except` learns it. */
  configure(members: string[], options: { joining?: string; except?: string[] } = {}): ChainConfig {
    this.epoch += 1;
    const config: ChainConfig = {
      chainId: 'chain-0',
      epoch: this.epoch,
      members,
      joining: options.joining,
      readsAllowedAtMs: 0,
    };
    this.config = config;
    for (const [id, member] of this.members) {
      if (options.except?.includes(id)) continue;
      member.replica.configure(config);
    }
    return config;
  }

  /** Hands the current configuration to one replica (a restarted node reading it from the coordinator). */
  tellConfig(id: string): void {
    assert.ok(this.config !== undefined);
    this.replica(id).configure(this.config);
  }

  /** Stops a replica and closes its store (its data directory stays). */
  async stop(id: string): Promise<void> {
    const member = this.member(id);
    member.replica.stop();
    this.network.detach(id);
    this.members.delete(id);
    await pause(3); // a snapshot stream in progress notices the stop and ends its read transaction
    await member.store.close();
  }

  /** Stops `id` and starts a new replica on the same data directory. */
  async restart(id: string, options?: MemberOptions): Promise<Member> {
    const previous = this.member(id).options;
    await this.stop(id);
    return this.start(id, options ?? previous);
  }

  /** A write with its own request id (client "load" unless given). */
  write(
    id: string,
    command: Request['command'],
    writer?: { clientId: string; clientSequence: number },
  ): Promise<ResponseResult> {
    const ids = writer ?? { clientId: 'load', clientSequence: ++this.clientSequence };
    return this.replica(id).write(request(command, ids.clientId, ids.clientSequence));
  }

  async read(id: string, command: Request['command']): Promise<ResponseResult> {
    const execution = this.replica(id).read(request(command, '', 0));
    if (execution.kind === 'now') return execution.result;
    if (execution.kind === 'after-sync') {
      await execution.sync;
      return execution.result;
    }
    return execution.result;
  }

  /** Every live record of `id`'s store, raw (value, version, absolute expiry), in key order. */
  dump(id: string): Dumped[] {
    const store = this.store(id);
    return store.scan({ limit: 100_000, examineMax: 100_000 }).entries.map((e) => ({
      key: Buffer.from(e.key).toString(),
      value: Buffer.from(e.value).toString(),
      version: e.version,
      expiresAtMs: e.expiresAtMs,
    }));
  }

  /** The exactly-once client table as `id` keeps it durably (committed meta `client:*`). */
  clientTable(id: string): [string, unknown][] {
    return [...this.store(id).clients()];
  }

  /** Waits until no frame is in flight and every store is synced, for a few consecutive polls. */
  async settle(): Promise<void> {
    let quiet = 0;
    const deadline = Date.now() + 4_000;
    while (quiet < 5) {
      if (Date.now() > deadline) assert.fail('the cluster did not settle');
      await pause(2);
      await Promise.all([...this.members.values()].map((m) => m.store.sync()));
      const synced = [...this.members.values()].every((m) => m.store.isSynced());
      quiet = this.network.idle && synced ? quiet + 1 : 0;
    }
  }

  async close(): Promise<void> {
    for (const member of this.members.values()) member.replica.stop();
    await pause(3);
    for (const id of [...this.members.keys()]) await this.stop(id);
    for (const dir of this.dirs.values()) dir.remove();
    assert.deepEqual(this.fatals, [], 'no replica reported a fatal error');
    assert.deepEqual(
      this.logs.filter((l) => l.level === 'error'),
      [],
      'no replica logged an error',
    );
  }
}

function facts(id: string): NodeFacts {
  return {
    nodeId: id,
    durability: 'memory',
    startedAtMs: Date.now(),
    version: 'test',
    connections: () => ({ open: 0, total: 0 }),
    commandStats: () => [],
    protocolErrors: () => 0,
    topology: () => ({ cluster: '', manager: '', chains: [], nodes: [] }),
    nodeStatus: () => ({
      nodeId: id,
      chainId: '',
      role: 'test',
      sessionConnected: true,
      servingReads: false,
      manager: false,
    }),
  };
}
