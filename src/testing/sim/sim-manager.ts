// The manager of the simulated cluster (simulation.ts) as far as slot moves go: the real
// MigrationRunner (src/coordination/migration-runner.ts), unchanged, over
//   * a coordinator: an in-memory znode tree (embedded-tree.ts, ZooKeeper's rules and versions)
//     holding the slot map and the manager's lock, whose calls take virtual time and sometimes
//     fail with connection-loss, before or after taking effect (the runner's pass then ends, and
//     the next evaluation resumes from what the slot map records);
//   * a ChainTransport over the simulated network: each command a native request with the
//     manager's writer id, to the head (writes) or the tail (reads) of the chain as the
//     coordinator has it now, retried with the same id after a timeout or a refusal, as the
//     node's cluster client does;
//   * virtual time for its rate limit.
// What moves is the runner's own plan for the layout. The simulation changes the layout between
// all its chains and one fewer, back and forth, so the highest chain's slots leave it and come
// back, batch by batch, while clients run.

import { create } from '@bufbuild/protobuf';
import type { CommandName, RequestInit } from '../../commands/index.js';
import { CatenaError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { clusterPaths } from '../../coordination/cluster-paths.js';
import {
  CoordinatorError,
  type Coordinator,
  type MultiOp,
  type SessionState,
  type ZnodeData,
} from '../../coordination/coordinator.js';
import { ZnodeTree, type TreeResult } from '../../coordination/embedded-tree.js';
import {
  MigrationRunner,
  type ChainTransport,
  type MigrationFaults,
  type MigrationView,
} from '../../coordination/migration-runner.js';
import { wantedChains, type Layout } from '../../coordination/placement.js';
import { RequestSchema, type Request } from '../../protocol/native/gen/catena_pb.js';
import type { ReplyOf, ResponseResult } from '../../protocol/native/codec.js';
import type { ChainConfig } from '../../replication/chain-config.js';
import { misplaced, targetOwners } from '../../sharding/rebalance.js';
import { decodeSlotMap, encodeSlotMap, SlotTable, type SlotMap } from '../../sharding/slot-map.js';
import { refusalOf, type SimNetwork, type SimPacket } from './sim-network.js';

export const managerId = 'manager';
const session = 'manager-session';
const paths = clusterPaths('sim');
const lockPath = `${paths.manager}/lock-0000000000`;

/** What the manager needs from the simulation beyond the network. */
export interface ManagerWorld extends SimNetwork {
  /** The coordinator's configuration of a chain (the manager reads it as it is). */
  config(chainId: string): ChainConfig;
  /** A promise was settled: its jobs must run before the next event (simulation.ts). */
  settled(): void;
  /** The slot map znode changed: nodes and clients learn it late. */
  publish(map: SlotTable): void;
  /** True while the manager may start another rebalancing. */
  planning(): boolean;
}

export interface ManagerOptions {
  readonly chains: readonly string[];
  readonly batchSlots: number;
  readonly pageRecords: number;
  /** Per command attempt, as the cluster client's per-attempt timeout. */
  readonly requestTimeoutMs: number;
  /** Sends of one command (same request id) before it fails. */
  readonly attemptsMax: number;
  /** Refusals of one command before it fails. */
  readonly refusalsMax: number;
  /** Probability that a coordinator call fails with connection-loss (half of them after taking effect). */
  readonly coordinatorFailureRate: number;
  /** Rebalancings (layout changes) started at most. */
  readonly rebalancingsMax: number;
  readonly faults: MigrationFaults;
}

export interface ManagerCounts {
  /** Moves the runner planned (`moving slots`) and finished (the slot map's move record cleared). */
  started: number;
  completed: number;
  /** Passes of the runner that ended on a failure (resumed by a later one). */
  interrupted: number;
  /** Layout changes. */
  rebalancings: number;
  /** Commands sent (retries included). */
  sends: number;
  /** Commands refused by nodes, by error code. */
  refusals: Record<string, number>;
}

/** How often the manager evaluates (and pokes the runner), in virtual ms. */
const evaluateEveryMs = 150;

/** A manager that did nothing (a run of one chain has none). */
export function noManagerCounts(): ManagerCounts {
  return { started: 0, completed: 0, interrupted: 0, rebalancings: 0, sends: 0, refusals: {} };
}

export class SimManager {
  readonly counts: ManagerCounts = noManagerCounts();
  private readonly tree = new ZnodeTree();
  private readonly runner: MigrationRunner;
  private readonly transport: SimTransport;
  /** The slot map as the coordinator holds it. */
  private table: SlotTable;
  private layoutChains: number;
  private misplacedFor: { key: string; count: number } | undefined;

  constructor(
    initial: SlotMap,
    private readonly world: ManagerWorld,
    private readonly options: ManagerOptions,
  ) {
    this.table = new SlotTable(initial);
    this.layoutChains = options.chains.length;
    for (const path of ['/catena', paths.root, paths.manager])
      this.mustSucceed(this.tree.create(path, Buffer.alloc(0), 'persistent', session).result);
    this.mustSucceed(this.tree.create(paths.slots, Buffer.from(encodeSlotMap(initial)), 'persistent', session).result);
    this.mustSucceed(this.tree.create(lockPath, Buffer.alloc(0), 'ephemeral', session).result);
    this.transport = new SimTransport(world, this.options, this.counts);
    const coordinator = new SimCoordinator(this.tree, world, options.coordinatorFailureRate, (map) =>
      this.written(map),
    );
    const log: Logger = {
      log: (level, message, fields) => {
        if (message === 'moving slots') this.counts.started += 1;
        if (message.startsWith('slot move interrupted')) this.counts.interrupted += 1;
        world.note(`manager ${level} ${message}${fields === undefined ? '' : ` ${JSON.stringify(fields)}`}`);
      },
    };
    this.runner = new MigrationRunner(
      coordinator,
      paths,
      lockPath,
      log,
      () => Promise.resolve(this.transport),
      () => Promise.resolve(this.view()),
      { batchSlots: options.batchSlots, pageRecords: options.pageRecords, pagesInFlight: 3, bytesPerSecond: 1_000_000 },
      {
        nowMs: () => world.now(),
        sleep: (ms) =>
          new Promise((resolve) =>
            world.after(Math.max(1, Math.ceil(ms)), () => {
              world.settled();
              resolve();
            }),
          ),
      },
      options.faults,
    );
  }

  /** The slot map as the coordinator holds it now. */
  get map(): SlotTable {
    return this.table;
  }

  start(): void {
    this.world.after(this.world.random.int(50, 200), () => this.evaluate());
  }

  /** True while a move is recorded or the layout asks for slots elsewhere. */
  get busy(): boolean {
    return this.table.map.migration !== undefined || this.misplaced() > 0;
  }

  /** A transport reply (routed here by the simulation). */
  receive(packet: SimPacket): void {
    this.transport.receive(packet);
  }

  /** As the manager driver: evaluate, then poke the runner (a no-op while a pass runs). */
  private evaluate(): void {
    if (
      this.table.map.migration === undefined &&
      this.misplaced() === 0 &&
      this.counts.rebalancings < this.options.rebalancingsMax &&
      this.world.planning()
    ) {
      const all = this.options.chains.length;
      this.layoutChains = this.layoutChains === all ? all - 1 : all;
      this.counts.rebalancings += 1;
      this.world.note(`layout ${this.layoutChains} chains`);
    }
    if (this.busy) this.runner.poke();
    this.world.after(evaluateEveryMs, () => this.evaluate());
  }

  private layout(): Layout {
    // replicas 1: a chain takes slots whenever it has a member (faults may shrink it for a while).
    return { chains: this.layoutChains, replicas: 1 };
  }

  /** Slots not where the layout wants them (cached: the run asks after every event). */
  private misplaced(): number {
    const key = `${this.table.version}/${this.layoutChains}`;
    if (this.misplacedFor?.key !== key) {
      const owners = this.table.ownerList();
      this.misplacedFor = { key, count: misplaced(owners, targetOwners(owners, wantedChains(this.layout()))) };
    }
    return this.misplacedFor.count;
  }

  private view(): MigrationView {
    return { layout: this.layout(), chains: this.options.chains.map((id) => this.world.config(id)) };
  }

  /** The slot map znode was written. */
  private written(map: SlotMap): void {
    if (this.table.map.migration !== undefined && map.migration === undefined) this.counts.completed += 1;
    this.table = new SlotTable(map);
    this.world.publish(this.table);
  }

  private mustSucceed<T>(result: TreeResult<T>): void {
    if (!result.ok) throw new Error(`the simulated coordinator's tree: ${result.message}`);
  }
}

/** The coordinator as the runner uses it (get and multi), over the znode tree, in virtual time. */
class SimCoordinator implements Coordinator {
  readonly sessionTimeoutMs = 0;
  readonly state: SessionState = 'connected';

  constructor(
    private readonly tree: ZnodeTree,
    private readonly world: ManagerWorld,
    private readonly failureRate: number,
    private readonly slotsWritten: (map: SlotMap) => void,
  ) {}

  onStateChange(): () => void {
    return () => undefined;
  }

  get(path: string): Promise<ZnodeData | undefined> {
    return this.call(() => this.tree.get(path));
  }

  multi(ops: readonly MultiOp[]): Promise<void> {
    return this.call(() => {
      const { result } = this.tree.multi(ops, session);
      if (result.ok && ops.some((op) => op.kind === 'set' && op.path === paths.slots)) {
        const found = this.tree.get(paths.slots);
        const map = found.ok && found.value !== undefined ? decodeSlotMap(found.value.data) : undefined;
        if (map === undefined) throw new Error('the simulated slot map decodes');
        this.slotsWritten(map);
      }
      return result.ok ? { ok: true, value: undefined } : result;
    });
  }

  create(): Promise<string> {
    return unused('create');
  }
  ensurePath(): Promise<void> {
    return unused('ensurePath');
  }
  exists(): Promise<number | undefined> {
    return unused('exists');
  }
  children(): Promise<string[]> {
    return unused('children');
  }
  set(): Promise<number> {
    return unused('set');
  }
  delete(): Promise<void> {
    return unused('delete');
  }
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** One call: it takes 1-10 ms, and may be lost before or after taking effect. */
  private call<T>(apply: () => TreeResult<T>): Promise<T> {
    const random = this.world.random;
    const lostBefore = random.chance(this.failureRate / 2);
    const lostAfter = random.chance(this.failureRate / 2);
    return new Promise((resolve, reject) => {
      this.world.after(random.int(1, 10), () => {
        this.world.settled();
        const lost = () => reject(new CoordinatorError('connection-loss', 'the simulated coordinator call was lost'));
        if (lostBefore) return lost();
        const result = apply();
        if (lostAfter) return lost();
        if (!result.ok) return reject(new CoordinatorError(result.code, result.message));
        resolve(result.value);
      });
    });
  }
}

function unused<T>(call: string): Promise<T> {
  return Promise.reject(new Error(`the migration runner does not call ${call}`));
}

interface Command {
  readonly tag: number;
  readonly request: Request;
  readonly chainId: string;
  readonly at: 'head' | 'tail';
  attempts: number;
  refusals: number;
  token: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

/** The runner's ChainTransport over the simulated network, with the cluster client's retries. */
class SimTransport implements ChainTransport {
  private sequence = 0;
  private tokens = 0;
  /** Commands sent and not answered yet, by tag (the runner keeps several imports in flight). */
  private readonly pending = new Map<number, Command>();

  constructor(
    private readonly world: ManagerWorld,
    private readonly options: ManagerOptions,
    private readonly counts: ManagerCounts,
  ) {}

  send<C extends CommandName>(chainId: string, name: C, request: RequestInit<C>): Promise<ReplyOf<C>> {
    const mutates = name !== 'slotexport';
    if (mutates) this.sequence += 1;
    const ids = mutates ? { clientId: managerId, clientSequence: BigInt(this.sequence) } : {};
    const built = create(RequestSchema, { ...ids, command: { case: name, value: request } as never });
    return new Promise((resolve, reject) => {
      const command: Command = {
        tag: this.world.nextTag(),
        request: built,
        chainId,
        at: mutates ? 'head' : 'tail',
        attempts: 0,
        refusals: 0,
        token: 0,
        resolve: resolve as (value: unknown) => void,
        reject,
      };
      this.pending.set(command.tag, command);
      this.transmit(command);
    });
  }

  private transmit(command: Command): void {
    command.attempts += 1;
    command.token = ++this.tokens;
    const token = command.token;
    const members = this.world.config(command.chainId).members;
    const to = command.at === 'head' ? members[0]! : members[members.length - 1]!;
    this.counts.sends += 1;
    this.world.transmit(managerId, to, { kind: 'request', request: command.request, tag: command.tag });
    this.world.after(this.options.requestTimeoutMs, () => {
      if (this.pending.get(command.tag) !== command || command.token !== token) return;
      if (command.attempts < this.options.attemptsMax) return this.transmit(command);
      this.fail(command, new CatenaError('ERR_TIMEOUT', `${command.request.command.case} got no answer`));
    });
  }

  receive(packet: SimPacket): void {
    if (packet.kind !== 'reply') return;
    const command = this.pending.get(packet.tag);
    if (command === undefined) return;
    const result: ResponseResult = packet.result;
    if (result.case !== 'error') {
      this.pending.delete(command.tag);
      this.world.settled();
      command.resolve(result.value);
      return;
    }
    const code = result.value.code;
    this.counts.refusals[code] = (this.counts.refusals[code] ?? 0) + 1;
    const retryable = refusalOf(result) !== 'other';
    command.refusals += 1;
    command.token = ++this.tokens; // the backoff retries, not the pending timeout
    if (!retryable || command.refusals >= this.options.refusalsMax) {
      return this.fail(command, new CatenaError('ERR_INTERNAL', `${code}: ${result.value.message}`));
    }
    const token = command.token;
    this.world.after(this.world.random.int(5, 40), () => {
      if (this.pending.get(command.tag) === command && command.token === token) this.transmit(command);
    });
  }

  private fail(command: Command, error: Error): void {
    this.pending.delete(command.tag);
    this.world.settled();
    command.reject(error);
  }
}
