// Data-driven scenarios for the chain-node core, in the style of etcd/raft's testdata: each file
// is a list of blocks
//
//   command args...
//   ----
//   what the command produced (or "ok")
//
// run against nodes wired by hand: messages wait in one queue (in send order) until `deliver`,
// disks complete right after each step (once its messages are sent) unless `disk manual`. `SCENARIO_REWRITE=1 npm test -- scenarios`
// rewrites the expected output (read every change before committing it).
//
// The output shows the traffic, printed when it is delivered (not when sent): every message is one
// line, `from->to kind e<epoch> ...` (the epoch is the sender's, stamped on the message), followed
// by what the receiver did with it (its replies, reports and snapshot installs; the messages it
// sends get their own line when they are delivered in turn). One format per message kind:
//
//   a->b entries e1 [w1@1 w2@2] mark 1
//                                  entries, each as its write's label @ its sequence (an entry's
//                                  own epoch is not shown: it may be older than the message's),
//                                  and the sender's durable mark (durable on it and above it)
//   b->a ack e1 @2                 every sequence <= 2 is committed
//   c->b hello e2 last 3/1         c's log ends at sequence 3, written in epoch 1
//   a->b committed e2 @3           everything <= 3 is committed (to a new successor)
//   j->b join e2 last 0/0          j's durable log ends at sequence 0 (empty)
//   b->j snapshot e2 @3/1          b's state at sequence 3, whose entry is from epoch 1
//
// A message is never hidden: one the receiver does not take says why, at the end of its line:
// `(ignored: b is at e2)` (the receiver is at another epoch and drops it, docs/design.md §3.4),
// `(lost: c is down)` (delivered to a crashed node), `(lost: c crashed)` (in flight when its
// sender or receiver crashed), `(dropped)` (by `drop`). Catch-up (the `catch-up` effect) is
// decided by the replica's own rule (src/replication/catch-up.ts): its delta or snapshot appears
// as traffic; when it puts a catch-up off, the line `b defers j's catch-up (its log is longer)`.

import { readFileSync, writeFileSync } from 'node:fs';
import { catchUpDeferralsMax } from '../../src/core/limits.js';
import { arrayCatchUpLog, decideCatchUp } from '../../src/replication/catch-up.js';
import type { ChainConfig } from '../../src/replication/chain-config.js';
import { ChainNode } from '../../src/replication/chain-node.js';
import type { Effect } from '../../src/replication/effects.js';
import type { LogEntry } from '../../src/replication/log-entry.js';
import type { ChainMessage } from '../../src/replication/messages.js';

type Op = string;

/** Deltas in scenarios are never cut short (the replica bounds them by bytes and count). */
const deltaEntriesMax = 10_000;

/** One line per message: `from->to kind e<epoch>` and what the kind carries (see the header). */
export function formatMessage(to: string, message: ChainMessage<Op>): string {
  const link = `${message.from}->${to} ${message.kind} e${message.epoch}`;
  switch (message.kind) {
    case 'entries':
      return `${link} [${message.entries.map((e) => `${e.operation}@${e.sequence}`).join(' ')}] mark ${message.mark}`;
    case 'ack':
    case 'committed':
      return `${link} @${message.sequence}`;
    case 'hello':
    case 'join':
      return `${link} last ${message.lastSequence}/${message.lastEpoch}`;
    case 'snapshot':
      return `${link} @${message.sequence}/${message.lastEpoch}`;
    case 'heartbeat':
      return `${link} stamp ${message.stampMs} echo ${message.echoMs}${message.wantEcho ? ' want-echo' : ''}`;
    default: {
      const unknown: never = message;
      throw new Error(`no format for ${JSON.stringify(unknown)}`);
    }
  }
}

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
  /** Per deciding node, per peer: how often that peer's catch-up was put off (as the replica keeps it). */
  private readonly deferrals = new Map<string, Map<string, number>>();
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
        this.crash(args[0]!);
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
      case 'lease':
        this.lease(args[0]!, Number(args[1]));
        break;
      case 'status':
        for (const id of args.length > 0 ? args : [...this.nodes.keys()]) this.status(id);
        break;
      default:
        throw new Error(`unknown scenario command ${verb}`);
    }
    return this.out.length === 0 ? 'ok' : this.out.join('\n');
  }

  /**
   * lease <node> <ms>: the node and its predecessor tick at <ms> and exchange heartbeats (only
   * those, and not shown): the predecessor echoes the node's stamp, which renews its read lease.
   */
  private lease(id: string, nowMs: number): void {
    const members = this.latest?.members ?? [];
    const predecessor = members[members.indexOf(id) - 1];
    for (const name of predecessor === undefined ? [id] : [predecessor, id]) {
      if (!this.crashed.has(name)) this.effects(name, this.node(name).tick(nowMs));
    }
    const isHeartbeat = (m: { message: ChainMessage<Op> }) => m.message.kind === 'heartbeat';
    for (let guard = 0; guard < 100; guard++) {
      const index = this.queue.findIndex(isHeartbeat);
      if (index < 0) break;
      const [item] = this.queue.splice(index, 1);
      if (item!.to === id || item!.to === predecessor)
        this.effects(item!.to, this.node(item!.to).message(item!.message));
    }
    this.out.push(`${id} ${this.node(id).canServeReads() ? 'serves reads' : 'serves no reads'} at ${nowMs}`);
  }

  private node(id: string): ChainNode<Op> {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  private addNode(id: string): void {
    this.nodes.set(id, new ChainNode<Op>({ self: id }));
    this.logs.set(id, []);
    this.deferrals.set(id, new Map());
  }

  private crash(id: string): void {
    this.crashed.add(id);
    this.unsynced.delete(id);
    // Messages in flight to or from it are lost with its connections.
    for (const m of this.queue)
      if (m.to === id || m.from === id) this.out.push(`${formatMessage(m.to, m.message)} (lost: ${id} crashed)`);
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
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
    this.deferrals.set(id, new Map()); // a new process
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
      const { to, message } = this.queue.splice(index, 1)[0]!;
      const line = formatMessage(to, message);
      if (this.crashed.has(to)) {
        this.out.push(`${line} (lost: ${to} is down)`);
        continue;
      }
      const node = this.node(to);
      // The core drops a message from another epoch (§3.4); say so rather than print nothing after it.
      this.out.push(node.epoch === message.epoch ? line : `${line} (ignored: ${to} is at e${node.epoch})`);
      this.effects(to, node.message(message));
    }
    throw new Error('message storm');
  }

  private drop(link: string | undefined): void {
    const dropped = this.queue.filter((m) => link === undefined || `${m.from}->${m.to}` === link);
    this.queue = this.queue.filter((m) => !dropped.includes(m));
    this.out.push(`dropped ${dropped.length} messages`);
    for (const m of dropped) this.out.push(`${formatMessage(m.to, m.message)} (dropped)`);
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
          break;
        case 'apply':
          break; // `status` shows what is committed (and so applied)
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
    // The disk finishes after the node has done the rest (sent the entries on): unless `disk manual`.
    if (!this.manualDisk) this.sync(id);
  }

  /** The `catch-up` effect, decided by the replica's rule over this node's log (kept as an array from sequence 1). */
  private catchUp(id: string, effect: Extract<Effect<Op>, { kind: 'catch-up' }>): void {
    const log = this.logs.get(id)!;
    const deferrals = this.deferrals.get(id)!;
    const { to, from, upTo, epoch, trusted } = effect;
    const decision = decideCatchUp(
      { from, upTo, trusted, deferrals: deferrals.get(to) ?? 0, deferralsMax: catchUpDeferralsMax, deltaEntriesMax },
      arrayCatchUpLog(log),
    );
    if (decision.kind === 'defer') {
      deferrals.set(to, (deferrals.get(to) ?? 0) + 1);
      this.out.push(`${id} defers ${to}'s catch-up (its log is longer)`);
      return;
    }
    deferrals.delete(to);
    const message: ChainMessage<Op> =
      decision.kind === 'delta'
        ? { kind: 'entries', epoch, from: id, entries: log.slice(from.sequence, upTo), mark: effect.mark }
        : {
            kind: 'snapshot',
            epoch,
            from: id,
            sequence: upTo,
            lastEpoch: log[upTo - 1]?.epoch ?? 0,
            state: log.slice(0, upTo),
          };
    this.queue.push({ from: id, to, message });
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
