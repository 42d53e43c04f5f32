// A client of the two-chain simulation (sharded.ts), behaving like the TS ClusterClient: it routes
// each operation by the slot map and chain configurations it last learned (late, on purpose), a
// write to the owner's head and a read to its tail. After every failed attempt (ERR_MOVED,
// ERR_SLOT_MOVING, not head or tail, a timeout) it asks nodes for their slot maps, keeps the
// newest, backs off and retries, as ClusterClient.withRetries does. A write keeps its request id through every retry, so the chains' client tables apply
// it at most once (§3.6); an operation given up on has an unknown outcome in the history.

import type { ChainConfig } from '../../replication/chain-config.js';
import type { RequestId } from '../../replication/log-entry.js';
import type { Input, Operation, Output } from '../linearizability/history.js';
import type { ShardWorld, ShardPacket } from './shard-wire.js';
import { slotOfKey, type Refusal, type ShardMap, type ShardOp } from './shard-node.js';
import type { SimOp } from './sim-node.js';

export interface ShardClientLimits {
  readonly timeoutMs: number;
  /** Timeouts before an operation is given up on (its outcome unknown). */
  readonly timeoutsMax: number;
  /** Refusals (moved, moving, not head or tail) before an operation is given up on. */
  readonly refusalsMax: number;
  readonly backoffMsMax: number;
}

export const shardClientLimits: ShardClientLimits = {
  timeoutMs: 150,
  timeoutsMax: 6,
  refusalsMax: 80,
  backoffMsMax: 40,
};

/** Refusals clients met, by reason, over a run. */
export type RefusalCounts = Record<Refusal, number>;

export const noRefusals = (): RefusalCounts => ({
  'not-head': 0,
  'not-tail': 0,
  moved: 0,
  moving: 0,
  'map-older': 0,
  'stale-move': 0,
  'not-handed-over': 0,
  'not-frozen': 0,
});

type Current =
  | { kind: 'write'; requestId: RequestId; op: Extract<ShardOp, { kind: 'client' }>; callAt: number }
  | { kind: 'read'; key: string; readId: number; callAt: number };

export interface ShardClientHooks {
  /** Records a finished operation. */
  readonly finished: (operation: Operation) => void;
  /** After a failed attempt: ask some nodes for their slot maps (adopted only if newer). */
  readonly refresh: (client: ShardClient) => void;
  readonly refusals: RefusalCounts;
}

export class ShardClient {
  readonly name: string;
  done = 0;
  private clientSequence = 0;
  /** Last version seen per key (for compare-and-set). */
  private readonly seen = new Map<string, number>();
  private current: (Current & { token: number; timeouts: number; refusals: number }) | undefined;
  private tokens = 0;

  constructor(
    readonly id: number,
    readonly total: number,
    private map: ShardMap,
    private readonly configs: Map<string, ChainConfig>,
    private readonly world: ShardWorld,
    private readonly hooks: ShardClientHooks,
    private readonly limits: ShardClientLimits = shardClientLimits,
  ) {
    this.name = `client${id}`;
  }

  get mapVersion(): number {
    return this.map.version;
  }

  start(): void {
    this.world.after(this.world.random.int(0, 20), () => this.nextOperation());
  }

  learnMap(map: ShardMap): void {
    if (map.version > this.map.version) this.map = map;
  }

  learnConfig(config: ChainConfig): void {
    if ((this.configs.get(config.chainId)?.epoch ?? 0) < config.epoch) this.configs.set(config.chainId, config);
  }

  private nextOperation(): void {
    if (this.done >= this.total) return;
    const random = this.world.random;
    const key = `k${random.int(0, this.map.owners.length - 1)}`;
    const r = random.next();
    const base = { token: 0, timeouts: 0, refusals: 0, callAt: this.world.now() };
    if (r < 0.4) {
      this.current = { ...base, kind: 'read', key, readId: this.world.nextReadId() };
    } else {
      this.clientSequence += 1;
      const value = `c${this.id}-${this.clientSequence}`;
      const input: SimOp['input'] =
        r < 0.55
          ? { f: 'put', value }
          : r < 0.65
            ? { f: 'cas', expectedVersion: this.seen.get(key) ?? 0, value }
            : r < 0.8
              ? { f: 'incr', delta: 1n }
              : r < 0.9
                ? { f: 'append', value: String.fromCharCode(97 + (this.id % 26)) }
                : { f: 'del' };
      const requestId = { clientId: this.name, clientSequence: this.clientSequence };
      this.current = { ...base, kind: 'write', requestId, op: { kind: 'client', key, input } };
    }
    this.attempt();
  }

  private attempt(): void {
    const current = this.current;
    if (current === undefined) return;
    this.tokens += 1;
    current.token = this.tokens;
    const token = current.token;
    const key = current.kind === 'write' ? current.op.key : current.key;
    const chain = this.configs.get(this.map.owners[slotOfKey(key)]!)!;
    if (current.kind === 'write') {
      const packet: ShardPacket = { kind: 'write', requestId: current.requestId, op: current.op };
      this.world.transmit(this.name, chain.members[0]!, packet);
    } else {
      const packet: ShardPacket = { kind: 'read', key: current.key, readId: current.readId };
      this.world.transmit(this.name, chain.members[chain.members.length - 1]!, packet);
    }
    this.world.after(this.limits.timeoutMs, () => {
      if (this.current !== current || current.token !== token) return;
      current.timeouts += 1;
      this.hooks.refresh(this);
      if (current.timeouts < this.limits.timeoutsMax) this.attempt();
      else this.finish(undefined); // gave up: the outcome is unknown
    });
  }

  receive(packet: ShardPacket): void {
    const current = this.current;
    if (current === undefined) return;
    const mine =
      current.kind === 'write'
        ? (packet.kind === 'write-reply' || packet.kind === 'refused') &&
          packet.requestId?.clientSequence === current.requestId.clientSequence
        : (packet.kind === 'read-reply' || packet.kind === 'refused') && packet.readId === current.readId;
    if (!mine) return;
    if (packet.kind === 'refused') return this.refused(packet.reason);
    if (packet.kind === 'read-reply') return this.finish(packet.output);
    if (packet.kind !== 'write-reply') return;
    const result = packet.result;
    if (result === undefined) return this.finish(undefined); // a late copy nobody waits for
    if (result.kind === 'moving') return this.refused('moving'); // the freeze came first in the log
    if (result.kind === 'output') return this.finish(result.output);
  }

  private refused(reason: Refusal): void {
    const current = this.current!;
    this.hooks.refusals[reason] += 1;
    current.refusals += 1;
    this.tokens += 1;
    current.token = this.tokens; // the pending timeout no longer retries: the backoff does
    if (current.refusals >= this.limits.refusalsMax) return this.finish(undefined);
    this.hooks.refresh(this); // as ClusterClient.withRetries: every failed attempt refreshes
    const token = current.token;
    this.world.after(this.world.random.int(1, this.limits.backoffMsMax), () => {
      if (this.current === current && current.token === token) this.attempt();
    });
  }

  /** The version a client last saw for a key: what its next compare-and-set expects. */
  private remember(key: string, output: Output | undefined): void {
    if (output === undefined) return;
    if (output.f === 'get') {
      if (output.found && output.version !== undefined) this.seen.set(key, output.version);
      else this.seen.delete(key);
    } else if (output.f === 'put' || (output.f === 'cas' && output.swapped)) {
      if (output.version !== undefined) this.seen.set(key, output.version);
    } else if (output.f === 'cas') {
      this.seen.set(key, output.currentVersion);
    } else if (output.f === 'del') {
      this.seen.delete(key);
    }
  }

  private finish(output: Output | undefined): void {
    const current = this.current!;
    const input: Input = current.kind === 'write' ? current.op.input : { f: 'get' };
    const key = current.kind === 'write' ? current.op.key : current.key;
    // A read nobody answered tells nothing; keep it out of the history.
    if (!(current.kind === 'read' && output === undefined)) {
      this.hooks.finished({ client: this.id, key, input, output, callAt: current.callAt, returnAt: this.world.now() });
    }
    this.remember(key, output);
    this.current = undefined;
    this.done += 1;
    this.world.note(`${this.name} ${key} ${input.f} -> ${output === undefined ? '?' : output.f}`);
    this.world.after(this.world.random.int(0, 10), () => this.nextOperation());
  }
}
