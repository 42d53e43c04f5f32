// Moving slots between chains (docs/design.md §6, docs/sharding.md): the manager's background task
// that brings the slot map to what the layout asks for, one batch of slots at a time, without
// losing or duplicating an acknowledged write and with reads linearizable throughout.
//
// One move of slots S from chain A to chain B, each step safe to repeat (a new manager resumes
// from what the slot map records):
//   1. plan: the slot map records the move {S, A → B, stage copy} (compare-and-set, fenced by
//      the manager lock like every configuration write);
//   2. freeze: a logged write at A's head. From its place in A's log on, A takes no write and
//      serves no read of S (ERR_SLOT_MOVING, which clients retry): every earlier write of S is
//      before it in the log, so once it commits, A's tail holds S's final state;
//   3. copy: pages of S's records read at A's tail, written at B's head (slotimport: versions,
//      expiries and flags kept), then A's exactly-once client table, merged into B's (a client
//      retrying at B a write A applied gets A's result instead of applying it again). B refuses
//      requests for S meanwhile: it does not own S yet;
//   4. hand over: the slot map gives S to B and records stage drop (compare-and-set). B serves S
//      as soon as it learns this; A already refuses S, so no read anywhere sees an older S than a
//      write acknowledged by B;
//   5. drop: pages of S removed from A by logged writes (admitted only once A's map shows S as
//      B's); the last page unfreezes S, and the slot map's move record is cleared.
// Pages are rate-limited (migrationBytesPerSecond) and every step awaits the network, so the
// node's event loop is never held. Any failure (a node dying, the coordinator unreachable) ends
// this pass; the next evaluation starts another, which picks up where the slot map says.
//
// Time (the rate limit's clock and its waits) comes from a MigrationEnvironment: a node passes
// the system's, the deterministic simulator virtual time (src/testing/sim/), and both run this.

import { setTimeout as delay } from 'node:timers/promises';
import type { CommandName, RequestInit } from '../commands/index.js';
import type { Logger } from '../core/log.js';
import {
  migrationBatchSlotsDefault,
  migrationBytesPerSecondDefault,
  migrationPageRecordsDefault,
  migrationPagesInFlightDefault,
} from '../core/limits.js';
import type { ReplyOf } from '../protocol/native/codec.js';
import { applyMove, misplaced, nextMove, rangesOf, targetOwners } from '../sharding/rebalance.js';
import { decodeSlotMap, encodeSlotMap, SlotTable, type Migration, type SlotMap } from '../sharding/slot-map.js';
import type { ChainConfig } from '../replication/chain-config.js';
import type { ClusterPaths } from './cluster-paths.js';
import { anyVersion, CoordinatorError, type Coordinator } from './coordinator.js';
import { wantedChains, type Layout } from './placement.js';

/** Sends one command to a chain (a write to its head, a read to its tail), retrying through failovers. */
export interface ChainTransport {
  send<C extends CommandName>(chainId: string, name: C, request: RequestInit<C>): Promise<ReplyOf<C>>;
}

export interface MigrationOptions {
  /** Slots moved in one batch at most. */
  readonly batchSlots: number;
  /** Records per export, import or drop page. */
  readonly pageRecords: number;
  /** Import pages sent and not yet answered, at most (the next page is exported meanwhile). */
  readonly pagesInFlight: number;
  /** Copy rate limit (keys and values), so a move does not starve client traffic. */
  readonly bytesPerSecond: number;
  /** Where the runner counts what it moved (the node's metrics); absent: not counted. */
  readonly progress?: MigrationProgress;
}

/** What a manager's runners moved since the node started (its metrics read them). */
export class MigrationProgress {
  /** Slot ranges handed over to their new chain. */
  moves = 0;
  slots = 0;
  /** Records and bytes (keys and values) copied, counted page by page as exports arrive. */
  records = 0;
  bytes = 0;
  /** Slots being copied now (0 when no copy runs here). */
  copying = 0;
}

export const migrationOptionsDefault: MigrationOptions = {
  batchSlots: migrationBatchSlotsDefault,
  pageRecords: migrationPageRecordsDefault,
  pagesInFlight: migrationPagesInFlightDefault,
  bytesPerSecond: migrationBytesPerSecondDefault,
};

/** Time as the runner sees it: the system's in a node, virtual time in the simulator. */
export interface MigrationEnvironment {
  /** Milliseconds from any fixed origin (only differences are used). */
  nowMs(): number;
  /** Resolves `ms` from now. */
  sleep(ms: number): Promise<void>;
}

export const systemMigrationEnvironment: MigrationEnvironment = {
  nowMs: () => performance.now(),
  sleep: (ms) => delay(ms),
};

/** Deliberate faults, for the simulator's broken variants only (a node never sets any). */
export interface MigrationFaults {
  /** The source's exactly-once client table is not copied to the target. */
  readonly clientTableNotMerged?: boolean;
  /** Imports do not carry the source's revision (the target raises its own only to the records' versions). */
  readonly revisionNotCarried?: boolean;
  /** The source's copy is dropped (and so unfrozen) before the slot map hands the slots over. */
  readonly dropBeforeHandOver?: boolean;
}

/** What the driver reads for each pass. */
export interface MigrationView {
  readonly layout: Layout;
  readonly chains: readonly ChainConfig[];
}

export class MigrationRunner {
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Slots misplaced when the current rebalancing began (for progress); reset when it ends. */
  private planned = 0;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly paths: ClusterPaths,
    private readonly lockPath: string,
    private readonly log: Logger,
    private readonly transport: () => Promise<ChainTransport>,
    private readonly view: () => Promise<MigrationView>,
    private readonly options: MigrationOptions = migrationOptionsDefault,
    private readonly environment: MigrationEnvironment = systemMigrationEnvironment,
    private readonly faults: MigrationFaults = {},
  ) {}

  /** Starts a pass unless one runs; a pass goes on while there is something to move. */
  poke(): void {
    if (this.running !== undefined || this.stopped) return;
    this.running = this.pass().finally(() => {
      this.running = undefined;
    });
  }

  /** Stops after the current step (a later manager resumes from the slot map). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async pass(): Promise<void> {
    try {
      while (!this.stopped && (await this.step())) {
        // each step is one stage of one move
      }
    } catch (error) {
      const level = lostRace(error) ? 'debug' : 'warn';
      this.log.log(level, 'slot move interrupted (the next evaluation resumes it)', { error: String(error) });
    }
  }

  /** One stage of one move; false when there is nothing to do now. */
  private async step(): Promise<boolean> {
    const found = await this.coordinator.get(this.paths.slots);
    if (found === undefined) return false;
    const map = decodeSlotMap(found.data);
    if (map === undefined) return false;
    const { layout, chains } = await this.view();
    if (map.migration !== undefined) {
      if (map.migration.stage === 'copy') await this.copy(map, found.version);
      else await this.drop(map, found.version);
      return true;
    }
    const table = new SlotTable(map);
    const current = table.ownerList();
    const target = targetOwners(current, wantedChains(layout));
    const need = Math.max(1, layout.replicas);
    const configs = new Map(chains.map((chain) => [chain.chainId, chain]));
    // A chain takes slots once it has its nodes; a chain gives them up while it has any member.
    const canGive = (id: string) => (configs.get(id)?.members.length ?? 0) > 0;
    const canTake = (id: string) => (configs.get(id)?.members.length ?? 0) >= need;
    const move = nextMove(current, target, this.options.batchSlots, (from, to) => canGive(from) && canTake(to));
    if (move === undefined) {
      this.planned = 0;
      return false;
    }
    const remaining = misplaced(current, target);
    this.planned = Math.max(this.planned, remaining);
    const migration: Migration = { ...move, stage: 'copy', remaining, planned: this.planned };
    await this.writeMap({ version: map.version + 1, ranges: map.ranges, migration }, found.version);
    this.log.log('info', 'moving slots', {
      first: move.first,
      last: move.last,
      from: move.from,
      to: move.to,
      remaining,
    });
    return true;
  }

  private async copy(map: SlotMap, znodeVersion: number): Promise<void> {
    const move = map.migration!;
    const transport = await this.transport();
    const { first, last, from, to } = move;
    const mapVersion = BigInt(map.version);
    await transport.send(from, 'slotfreeze', { first, last, toChain: to, mapVersion });
    const started = this.environment.nowMs();
    const progress = this.options.progress;
    if (progress !== undefined) progress.copying = last - first + 1;
    const { bytes, records } = await this.copyPages(move, mapVersion, transport, progress).finally(() => {
      if (progress !== undefined) progress.copying = 0;
    });
    if (this.stopped) return;
    if (this.faults.dropBeforeHandOver === true && !(await this.dropPages(from, first, last, mapVersion))) return;
    const owners = applyMove(new SlotTable(map).ownerList(), move);
    await this.writeMap(
      { version: map.version + 1, ranges: rangesOf(owners), migration: { ...move, stage: 'drop' } },
      znodeVersion,
    );
    if (progress !== undefined) {
      progress.moves += 1;
      progress.slots += last - first + 1;
    }
    this.log.log('info', 'slots handed over', {
      first,
      last,
      from,
      to,
      records,
      bytes,
      ms: Math.round(this.environment.nowMs() - started),
    });
  }

  /** Copies the slots' records, then their client table, page by page (a stop leaves it part-way). */
  private async copyPages(
    move: Migration,
    mapVersion: bigint,
    transport: ChainTransport,
    progress: MigrationProgress | undefined,
  ): Promise<{ bytes: number; records: number }> {
    const { first, last, from, to } = move;
    const started = this.environment.nowMs();
    let bytes = 0;
    let records = 0;
    for (const clients of this.faults.clientTableNotMerged === true ? [false] : [false, true]) {
      let after: Uint8Array = new Uint8Array();
      let firstPage = !clients;
      // Imports of earlier pages go on while the next page is exported (they touch other keys,
      // and each raises the target's revision to at least the source's: their order does not
      // matter); the client table pass starts once every record is in.
      const imports: Promise<unknown>[] = [];
      do {
        const page = await transport.send(from, 'slotexport', {
          first,
          last,
          after,
          limit: this.options.pageRecords,
          clients,
        });
        // The first page goes even when empty: it carries the source's revision (slots whose
        // keys were all deleted still raise the target's versions above the source's).
        if (firstPage || page.records.length > 0 || page.clients.length > 0) {
          const imported = transport.send(to, 'slotimport', {
            first,
            last,
            records: page.records,
            clients: page.clients,
            mapVersion,
            revision: this.faults.revisionNotCarried === true ? 0n : page.revision,
          });
          imported.catch(() => undefined); // awaited below, where a failure stops the move
          imports.push(imported);
          if (imports.length >= this.options.pagesInFlight) await imports.shift();
        }
        firstPage = false;
        records += page.records.length;
        let pageBytes = 0;
        for (const record of page.records) pageBytes += record.key.length + record.value.length;
        bytes += pageBytes;
        if (progress !== undefined) {
          progress.records += page.records.length;
          progress.bytes += pageBytes;
        }
        await this.throttle(bytes, started);
        after = page.cursor;
      } while (after.length > 0 && !this.stopped);
      for (const imported of imports) await imported;
      if (this.stopped) break;
    }
    return { bytes, records };
  }

  private async drop(map: SlotMap, znodeVersion: number): Promise<void> {
    const { first, last, from } = map.migration!;
    if (!(await this.dropPages(from, first, last, BigInt(map.version)))) return;
    await this.writeMap({ version: map.version + 1, ranges: map.ranges }, znodeVersion);
  }

  /** Removes the source's copy page by page (the last page unfreezes it); false when stopped first. */
  private async dropPages(from: string, first: number, last: number, mapVersion: bigint): Promise<boolean> {
    const transport = await this.transport();
    let after: Uint8Array = new Uint8Array();
    do {
      const page = await transport.send(from, 'slotdrop', {
        first,
        last,
        after,
        limit: this.options.pageRecords,
        mapVersion,
      });
      after = page.cursor;
    } while (after.length > 0 && !this.stopped);
    return !this.stopped;
  }

  /** Waits so that `bytes` copied since `startedMs` stay within the rate limit. */
  private async throttle(bytes: number, startedMs: number): Promise<void> {
    const dueMs = (bytes / this.options.bytesPerSecond) * 1000 - (this.environment.nowMs() - startedMs);
    await this.environment.sleep(Math.max(1, dueMs)); // at least a turn of the event loop between pages
  }

  /** Compare-and-set of the slot map, fenced by the manager lock. */
  private async writeMap(map: SlotMap, znodeVersion: number): Promise<void> {
    await this.coordinator.multi([
      { kind: 'check', path: this.lockPath, version: anyVersion },
      { kind: 'set', path: this.paths.slots, data: encodeSlotMap(map), version: znodeVersion },
    ]);
  }
}

/** A coordinator write lost a race (another manager, a changed map): not an error, the next pass reads again. */
export function lostRace(error: unknown): boolean {
  return error instanceof CoordinatorError && (error.code === 'bad-version' || error.code === 'no-node');
}
