// Data-driven scenarios for the chain-node core, in the style of etcd/raft's testdata: each file
// is a list of blocks
//
//   command args...
//   ----
//   what the command produced (or "ok")
//
// run against nodes wired by hand: messages wait in a queue until `deliver`, disks complete at
// once unless `disk manual`. `SCENARIO_REWRITE=1 npm test -- scenarios` rewrites the expected
// output (read every change before committing it).

import { readFileSync, writeFileSync } from 'node:fs';
import type { ChainConfig } from '../../src/replication/chain-config.js';
import { ChainNode } from '../../src/replication/chain-node.js';
import type { Effect } from '../../src/replication/effects.js';
import type { LogEntry } from '../../src/replication/log-entry.js';
import type { ChainMessage } from '../../src/replication/messages.js';

type Op = string;

interface Block {
  command: string;
  expected: string;
}

export function parseScenario(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (lines[i + 1]?.trim() !== '----') throw new Error(`line ${i + 1}: expected ---- after "${line}"`);
    const output: string[] = [];
    let j = i + 2;
    for (; j < lines.length && lines[j]!.trim() !== ''; j++) output.push(lines[j]!.trimEnd());
    blocks.push({ command: line, expected: output.join('\n') });
    i = j;
  }
  return blocks;
}

export class ScenarioWorld {
  private readonly nodes = new Map<string, ChainNode<Op>>();
  private readonly logs = new Map<string, LogEntry<Op>[]>();
  private readonly unsynced = new Map<string, number>();
  private readonly crashed = new Set<string>();
  private queue: { from: string; to: string; message: ChainMessage<Op> }[] = [];
  private epoch = 0;
  private latest: ChainConfig | undefined;
  private manualDisk = false;
  private requests = 0;
  private readonly labels = new Map<number, string>();
  private out: string[] = [];

  run(command: string): string {
    this.out = [];
    const [verb, ...args] = command.split(/\s+/);
    switch (verb) {
      case 'chain':
        for (const id of args) this.addNode(id);
        this.configure(args, undefined, undefined);
        break;
      case 'add':
        this.addNode(args[0]!);
        break;
      case 'configure': {
        // configure <members...> [joining=x] [only=a,b]: only the listed nodes learn it (yet).
        const option = (name: string) => args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
        this.configure(
          args.filter((a) => !a.includes('=')),
          option('joining'),
          option('only')?.split(','),
        );
        break;
      }
      case 'learn': {
        // learn <node>: a node that missed configurations reads the latest one.
        this.effects(args[0]!, this.node(args[0]!).configure(this.latest!));
        break;
      }
      case 'write':
        this.write(args[0]!, args[1]!);
        break;
      case 'disk':
        if (args[0] === 'manual') this.manualDisk = true;
        else this.sync(args[0]!);
        break;
      case 'deliver':
        this.deliver(args[0]);
        break;
      case 'drop':
        this.drop(args[0]);
        break;
      case 'crash':
        this.crashed.add(args[0]!);
        this.unsynced.delete(args[0]!);
        this.queue = this.queue.filter((m) => m.to !== args[0] && m.from !== args[0]);
        break;
      case 'restart':
        this.restart(args[0]!);
        break;
      case 'session':
        this.effects(args[0]!, this.node(args[0]!).sessionChanged(args[1] === 'up'));
        break;
      case 'tick':
        this.effects(args[0]!, this.node(args[0]!).tick(Number(args[1])));
        break;
      case 'status':
        for (const id of args.length > 0 ? args : [...this.nodes.keys()]) this.status(id);
        break;
      default:
        throw new Error(`unknown scenario command ${verb}`);
    }
    return this.out.length === 0 ? 'ok' : this.out.join('\n');
  }

  private node(id: string): ChainNode<Op> {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  private addNode(id: string): void {
    this.nodes.set(id, new ChainNode<Op>({ self: id }));
    this.logs.set(id, []);
  }

  private configure(members: string[], joining: string | undefined, only: string[] | undefined): void {
    this.epoch += 1;
    const config: ChainConfig = { chainId: 'c0', epoch: this.epoch, members, joining, readsAllowedAtMs: 0 };
    this.latest = config;
    this.out.push(`epoch ${this.epoch}: ${members.join(' → ')}${joining === undefined ? '' : ` (joining ${joining})`}`);
    for (const id of only ?? this.nodes.keys())
      if (!this.crashed.has(id)) this.effects(id, this.node(id).configure(config));
  }

  private write(at: string, label: string): void {
    this.requests += 1;
    this.labels.set(this.requests, label);
    this.effects(at, this.node(at).write({ clientId: 'client', clientSequence: this.requests }, label));
  }

  private restart(id: string): void {
    this.crashed.delete(id);
    const log = this.logs.get(id)!;
    const last = log[log.length - 1];
    this.nodes.set(
      id,
      new ChainNode<Op>({ self: id, lastSequence: last?.sequence ?? 0, lastEpoch: last?.epoch ?? 0, restarted: true }),
    );
    this.out.push(`${id} restarts with ${log.length} entries`);
  }

  private sync(id: string): void {
    const upTo = this.unsynced.get(id);
    if (upTo === undefined) return;
    this.unsynced.delete(id);
    this.effects(id, this.node(id).persisted(upTo));
  }

  private deliver(link: string | undefined): void {
    for (let guard = 0; guard < 10_000; guard++) {
      const index = this.queue.findIndex((m) => link === undefined || `${m.from}->${m.to}` === link);
      if (index < 0) return;
      const [item] = this.queue.splice(index, 1);
      if (!this.crashed.has(item!.to)) this.effects(item!.to, this.node(item!.to).message(item!.message));
    }
    throw new Error('message storm');
  }

  private drop(link: string | undefined): void {
    const before = this.queue.length;
    this.queue = this.queue.filter((m) => link !== undefined && `${m.from}->${m.to}` !== link);
    this.out.push(`dropped ${before - this.queue.length} messages`);
  }

  private status(id: string): void {
    const node = this.node(id);
    const p = node.progress;
    const log =
      this.logs
        .get(id)!
        .map((e) => e.operation)
        .join(' ') || '-';
    const reads = node.canServeReads() ? ', serves reads' : '';
    this.out.push(`${id}: ${node.role} epoch ${node.epoch}, log [${log}], committed ${p.committed}${reads}`);
  }

  private effects(id: string, effects: Effect<Op>[]): void {
    for (const effect of effects) {
      switch (effect.kind) {
        case 'persist':
          this.logs.get(id)!.push(...effect.entries);
          this.unsynced.set(id, effect.entries[effect.entries.length - 1]!.sequence);
          if (!this.manualDisk) this.sync(id);
          break;
        case 'send':
          this.queue.push({ from: id, to: effect.to, message: effect.message });
          break;
        case 'reply':
          this.out.push(`reply ${this.labels.get(effect.requestId.clientSequence)} (sequence ${effect.sequence})`);
          break;
        case 'reject':
          this.out.push(`reject ${this.labels.get(effect.requestId.clientSequence)}: ${effect.reason}`);
          break;
        case 'caught-up':
          this.out.push(`${id} reports ${effect.joiner} caught up`);
          break;
        case 'catch-up':
          this.catchUp(id, effect);
          break;
        case 'install':
          this.logs.set(id, [...(effect.state as LogEntry<Op>[])]);
          this.out.push(`${id} installs a snapshot at ${effect.sequence}`);
          break;
      }
    }
  }

  private catchUp(id: string, effect: Extract<Effect<Op>, { kind: 'catch-up' }>): void {
    const log = this.logs.get(id)!;
    const anchor = effect.from.sequence === 0 ? undefined : log[effect.from.sequence - 1];
    const continues = effect.trusted || effect.from.sequence === 0 || anchor?.epoch === effect.from.epoch;
    const message: ChainMessage<Op> = continues
      ? { kind: 'entries', epoch: effect.epoch, from: id, entries: log.slice(effect.from.sequence, effect.upTo) }
      : {
          kind: 'snapshot',
          epoch: effect.epoch,
          from: id,
          sequence: effect.upTo,
          lastEpoch: log[effect.upTo - 1]?.epoch ?? 0,
          state: log.slice(0, effect.upTo),
        };
    this.queue.push({ from: id, to: effect.to, message });
  }
}

/** Runs a scenario file; returns mismatches (or rewrites the file when asked to). */
export function runScenarioFile(path: string, rewrite: boolean): string[] {
  const blocks = parseScenario(readFileSync(path, 'utf8'));
  const world = new ScenarioWorld();
  const mismatches: string[] = [];
  const rewritten: string[] = [];
  const header = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l, i, all) => l.startsWith('#') && all.slice(0, i).every((p) => p.startsWith('#')));
  for (const block of blocks) {
    const actual = world.run(block.command);
    if (actual !== block.expected)
      mismatches.push(`${block.command}\nexpected:\n${block.expected}\nactual:\n${actual}`);
    rewritten.push(`${block.command}\n----\n${actual}`);
  }
  if (rewrite) writeFileSync(path, `${header.join('\n')}\n\n${rewritten.join('\n\n')}\n`);
  return rewrite ? [] : mismatches;
}
