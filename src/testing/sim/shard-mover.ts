// The manager's slot mover in the two-chain simulation (sharded.ts), following the protocol of
// docs/sharding.md and src/coordination/migration-runner.ts step by step:
//
//   plan ──▶ freeze ──▶ export page ──▶ import page ─┐        (records, then the client table)
//   (map: move,        (logged at     (read at the   │ more
//    stage copy)        the source)    source tail) ◀┘
//        ──▶ hand over ──▶ drop page ─┐ ──▶ clear
//            (map: slots    (logged at │ more   (map: no move)
//             to target,     the source)◀┘
//             stage drop)
//
// Commands are retried with the same request id (the manager's client id is "manager"), so a
// command that applied before its answer was lost is not applied twice. After repeated failures
// the stage starts over with new request ids, as the runner's next pass would: the copy from the
// freeze (every step of it is safe to repeat), the drop from its first page.

import type { ChainConfig } from '../../replication/chain-config.js';
import type { RequestId } from '../../replication/log-entry.js';
import type { ExportPage, Refusal, ShardMap, ShardOp, ShardResult } from './shard-node.js';
import type { ShardPacket, ShardWorld } from './shard-wire.js';

export interface MoverHooks {
  /** The coordinator's configuration of a chain (the manager reads it as it is). */
  readonly config: (chainId: string) => ChainConfig;
  /** The map is written: nodes and clients learn it late, each at its own time. */
  readonly publish: (map: ShardMap) => void;
  /** True while the manager should start new moves. */
  readonly planning: () => boolean;
}

export interface MoverOptions {
  /** Records (or clients) per export, import and drop page. */
  readonly pageRecords: number;
  readonly requestTimeoutMs: number;
  /** Sends of one command (same request id) before its stage starts over. */
  readonly attemptsMax: number;
  /** Refusals of one command before its stage starts over. */
  readonly refusalsMax: number;
  /** Deliberate bug: drop the source's copy (unfreezing it) before the hand-over. */
  readonly dropBeforeHandOver: boolean;
}

export interface MoverCounts {
  started: number;
  completed: number;
  /** Stages started over after a command failed repeatedly. */
  restarts: number;
  /** Commands sent (retries included). */
  sends: number;
  /** Commands refused by nodes, by reason (a head that has not yet seen the map, ...). */
  refusals: Partial<Record<Refusal, number>>;
}

type Pending = {
  token: number;
  attempts: number;
  refusals: number;
  chainId: string;
  at: 'head' | 'tail';
  packet: Extract<ShardPacket, { kind: 'write' | 'export' }>;
  /** What to do with the answer. */
  then: (answer: ShardResult | ExportPage) => void;
};

export const managerId = 'manager';

export class SlotMover {
  readonly counts: MoverCounts = { started: 0, completed: 0, restarts: 0, sends: 0, refusals: {} };
  private pending: Pending | undefined;
  private sequence = 0;
  private tokens = 0;

  constructor(
    public map: ShardMap,
    private readonly chains: readonly string[],
    private readonly world: ShardWorld,
    private readonly hooks: MoverHooks,
    private readonly options: MoverOptions,
  ) {}

  /** True while a move is recorded in the map (the manager keeps at it until it is done). */
  get busy(): boolean {
    return this.map.move !== undefined;
  }

  start(): void {
    this.world.after(this.world.random.int(50, 200), () => this.plan());
  }

  private plan(): void {
    if (this.map.move !== undefined || !this.hooks.planning()) return;
    const random = this.world.random;
    const slots = this.map.owners.length;
    const first = random.int(0, slots - 1);
    const from = this.map.owners[first]!;
    const last = first + 1 < slots && this.map.owners[first + 1] === from && random.chance(0.5) ? first + 1 : first;
    const to = this.chains.find((chainId) => chainId !== from)!;
    this.write({ ...this.map, version: this.map.version + 1, move: { first, last, from, to, stage: 'copy' } });
    this.counts.started += 1;
    this.world.note(`move ${first}..${last} ${from}>${to}`);
    this.copy();
  }

  private write(map: ShardMap): void {
    this.map = map;
    this.hooks.publish(map);
  }

  // ---- the stages ------------------------------------------------------------------------------

  private copy(): void {
    const { first, last, from, to } = this.map.move!;
    const op: ShardOp = { kind: 'freeze', first, last, to, mapVersion: this.map.version };
    this.send(from, 'head', this.logged(op), () => this.exportPage(false, undefined));
  }

  private exportPage(clients: boolean, after: string | undefined): void {
    const { first, last, from, to } = this.map.move!;
    const request = { first, last, after, limit: this.options.pageRecords, clients };
    const packet: ShardPacket = { kind: 'export', request, readId: this.world.nextReadId() };
    this.send(from, 'tail', packet, (answer) => {
      const page = answer as ExportPage;
      const next = () => {
        if (page.cursor !== undefined) this.exportPage(clients, page.cursor);
        else if (!clients) this.exportPage(true, undefined);
        else this.copied();
      };
      if (page.records.length === 0 && page.clients.length === 0) return next();
      const op: ShardOp = {
        kind: 'import',
        first,
        last,
        mapVersion: this.map.version,
        records: page.records,
        clients: page.clients,
        revision: page.revision,
      };
      this.send(to, 'head', this.logged(op), next);
    });
  }

  private copied(): void {
    if (this.options.dropBeforeHandOver) return this.drop(undefined);
    this.handOver();
  }

  private handOver(): void {
    const move = this.map.move!;
    const owners = this.map.owners.map((owner, slot) => (slot >= move.first && slot <= move.last ? move.to : owner));
    this.write({ version: this.map.version + 1, owners, move: { ...move, stage: 'drop' } });
    this.world.note(`hand over ${move.first}..${move.last} to ${move.to}`);
    if (!this.options.dropBeforeHandOver) this.drop(undefined);
    else this.finished();
  }

  private drop(after: string | undefined): void {
    const { first, last, from } = this.map.move!;
    const op: ShardOp = {
      kind: 'drop',
      first,
      last,
      mapVersion: this.map.version,
      after,
      limit: this.options.pageRecords,
    };
    this.send(from, 'head', this.logged(op), (answer) => {
      const result = answer as Extract<ShardResult, { kind: 'dropped' }>;
      if (result.cursor !== undefined) this.drop(result.cursor);
      else if (this.map.move!.stage === 'copy')
        this.handOver(); // only with dropBeforeHandOver
      else this.finished();
    });
  }

  private finished(): void {
    this.write({ ...this.map, version: this.map.version + 1, move: undefined });
    this.counts.completed += 1;
    this.world.note('move done');
    this.world.after(this.world.random.int(20, 200), () => this.plan());
  }

  /** A stage failed repeatedly: start it over with new request ids (the runner's next pass). */
  private restart(): void {
    this.counts.restarts += 1;
    this.pending = undefined;
    this.world.after(this.world.random.int(10, 100), () => {
      if (this.pending !== undefined || this.map.move === undefined) return;
      if (this.map.move.stage === 'copy') this.copy();
      else this.drop(undefined);
    });
  }

  // ---- commands --------------------------------------------------------------------------------

  private logged(op: ShardOp): Extract<ShardPacket, { kind: 'write' }> {
    this.sequence += 1;
    const requestId: RequestId = { clientId: managerId, clientSequence: this.sequence };
    return { kind: 'write', requestId, op };
  }

  private send(chainId: string, at: Pending['at'], packet: Pending['packet'], then: Pending['then']): void {
    this.pending = { token: 0, attempts: 0, refusals: 0, chainId, at, packet, then };
    this.transmit();
  }

  private transmit(): void {
    const pending = this.pending!;
    pending.attempts += 1;
    this.tokens += 1;
    pending.token = this.tokens;
    const token = pending.token;
    const members = this.hooks.config(pending.chainId).members;
    const to = pending.at === 'head' ? members[0]! : members[members.length - 1]!;
    this.counts.sends += 1;
    this.world.transmit(managerId, to, pending.packet);
    this.world.after(this.options.requestTimeoutMs, () => {
      if (this.pending !== pending || pending.token !== token) return;
      if (pending.attempts < this.options.attemptsMax) this.transmit();
      else this.restart();
    });
  }

  receive(packet: ShardPacket): void {
    const pending = this.pending;
    if (pending === undefined) return;
    const sent = pending.packet;
    const mine =
      sent.kind === 'write'
        ? (packet.kind === 'write-reply' || packet.kind === 'refused') &&
          packet.requestId?.clientSequence === sent.requestId.clientSequence
        : (packet.kind === 'export-reply' || packet.kind === 'refused') && packet.readId === sent.readId;
    if (!mine) return;
    if (packet.kind === 'refused') {
      this.counts.refusals[packet.reason] = (this.counts.refusals[packet.reason] ?? 0) + 1;
      pending.refusals += 1;
      this.tokens += 1;
      pending.token = this.tokens; // the backoff retries, not the pending timeout
      const token = pending.token;
      if (pending.refusals >= this.options.refusalsMax) return this.restart();
      this.world.after(this.world.random.int(5, 40), () => {
        if (this.pending === pending && pending.token === token) this.transmit();
      });
      return;
    }
    this.pending = undefined;
    if (packet.kind === 'export-reply') return pending.then(packet.page);
    if (packet.kind !== 'write-reply') return;
    // No result: a late copy the client table saw as stale; it cannot be the command in flight.
    if (packet.result === undefined) return this.restart();
    pending.then(packet.result);
  }
}
