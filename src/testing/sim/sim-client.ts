// A client of the simulated cluster (simulation.ts), behaving like the TS ClusterClient: it routes
// each operation by the slot map and chain configurations it last learned (late, on purpose), a
// write to the owning chain's head and a read to its tail, as native requests. After every failed
// attempt (ERR_MOVED, ERR_SLOT_MOVING, not head or tail, a timeout) it asks nodes for their slot
// maps, keeps the newest, backs off and retries, as ClusterClient.withRetries does. A write keeps
// its request id through every retry, so the chains' client tables apply it at most once (§3.6);
// an operation given up on has an unknown outcome in the history.

import type { ChainConfig } from '../../replication/chain-config.js';
import type { SlotTable } from '../../sharding/slot-map.js';
import { keySlot } from '../../sharding/slots.js';
import type { Input, Operation, Output } from '../linearizability/history.js';
import { outputOf, requestFor, type SimOp } from './sim-node.js';
import { refusalOf, type Refusal, type RefusalCounts, type SimNetwork, type SimPacket } from './sim-network.js';

export interface SimClientLimits {
  readonly timeoutMs: number;
  /** Timeouts before an operation is given up on (its outcome unknown). */
  readonly timeoutsMax: number;
  /** Refusals (moved, moving, not head or tail) before an operation is given up on. */
  readonly refusalsMax: number;
  readonly backoffMsMax: number;
}

export const simClientLimits: SimClientLimits = {
  timeoutMs: 150,
  timeoutsMax: 6,
  refusalsMax: 80,
  backoffMsMax: 40,
};

export interface SimClientHooks {
  /** Records a finished operation. */
  readonly finished: (operation: Operation) => void;
  /** After a failed attempt: ask some nodes for their slot maps (adopted only if newer). */
  readonly refresh: (client: SimClient) => void;
  readonly refusals: RefusalCounts;
}

type Current = ({ kind: 'write'; clientSequence: number; op: SimOp } | { kind: 'read'; key: string }) & {
  tag: number;
  callAt: number;
  token: number;
  timeouts: number;
  refusals: number;
};

export class SimClient {
  readonly name: string;
  done = 0;
  private clientSequence = 0;
  /** Last version seen per key (for compare-and-set). */
  private readonly seen = new Map<string, number>();
  private current: Current | undefined;
  private tokens = 0;

  constructor(
    readonly id: number,
    readonly total: number,
    private readonly keys: readonly string[],
    private map: SlotTable,
    private readonly configs: Map<string, ChainConfig>,
    private readonly world: SimNetwork,
    private readonly hooks: SimClientHooks,
    private readonly limits: SimClientLimits = simClientLimits,
  ) {
    this.name = `client${id}`;
  }

  get mapVersion(): number {
    return this.map.version;
  }

  start(): void {
    this.world.after(this.world.random.int(0, 20), () => this.nextOperation());
  }

  learnMap(map: SlotTable): void {
    if (map.version > this.map.version) this.map = map;
  }

  learnConfig(config: ChainConfig): void {
    if ((this.configs.get(config.chainId)?.epoch ?? 0) < config.epoch) this.configs.set(config.chainId, config);
  }

  private nextOperation(): void {
    if (this.done >= this.total) return;
    const random = this.world.random;
    const key = this.keys[random.int(0, this.keys.length - 1)]!;
    const r = random.next();
    const base = { tag: this.world.nextTag(), callAt: this.world.now(), token: 0, timeouts: 0, refusals: 0 };
    if (r < 0.4) {
      this.current = { ...base, kind: 'read', key };
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
      this.current = { ...base, kind: 'write', clientSequence: this.clientSequence, op: { key, input } };
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
    const chain = this.configs.get(this.map.ownerOf(keySlot(Buffer.from(key))))!;
    const members = chain.members;
    const request =
      current.kind === 'write'
        ? requestFor(key, current.op.input, this.name, current.clientSequence)
        : requestFor(key, { f: 'get' }, this.name, 0);
    const to = current.kind === 'write' ? members[0]! : members[members.length - 1]!;
    this.world.transmit(this.name, to, { kind: 'request', request, tag: current.tag });
    this.world.after(this.limits.timeoutMs, () => {
      if (this.current !== current || current.token !== token) return;
      current.timeouts += 1;
      this.hooks.refresh(this);
      if (current.timeouts < this.limits.timeoutsMax) this.attempt();
      else this.finish(undefined); // gave up: the outcome is unknown
    });
  }

  receive(packet: SimPacket): void {
    const current = this.current;
    if (current === undefined || packet.kind !== 'reply' || packet.tag !== current.tag) return;
    const refusal = refusalOf(packet.result);
    const output = outputOf(packet.result);
    if (output === 'retry') return this.refused(refusal ?? 'other');
    if (current.kind === 'read' && output.f !== 'get') return this.refused('other');
    this.finish(output);
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
