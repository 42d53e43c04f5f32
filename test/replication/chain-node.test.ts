// The chain-node core against a small synchronous harness: messages are queued and delivered
// when a test says, persists complete when a test says (or right after the step that issued
// them), so every interleaving is written out. Tests are named after the rules of chain replication (van Renesse & Schneider,
// OSDI 2004, §2–3) and docs/design.md §3.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arrayCatchUpLog, decideCatchUp } from '../../src/replication/catch-up.js';
import type { ChainConfig } from '../../src/replication/chain-config.js';
import { ChainNode } from '../../src/replication/chain-node.js';
import type { Effect } from '../../src/replication/effects.js';
import type { LogEntry } from '../../src/replication/log-entry.js';
import type { ChainMessage } from '../../src/replication/messages.js';

type Op = string;

class Harness {
  readonly nodes = new Map<string, ChainNode<Op>>();
  /** In-flight messages in send order (FIFO per link, and globally here). */
  queue: { to: string; message: ChainMessage<Op> }[] = [];
  readonly replies: number[] = [];
  readonly rejected: string[] = [];
  readonly caughtUp: string[] = [];
  /** Each node's last `suspect` effect: the neighbours it reports, and at which epoch. */
  readonly suspects = new Map<string, { peers: readonly string[]; epoch: number }>();
  /** The durable log of each node, as entries (what catch-up reads). */
  readonly logs = new Map<string, LogEntry<Op>[]>();
  /** Entries each node has persisted, in order. */
  readonly disk = new Map<string, Op[]>();
  /** Entries handed to persist but not yet reported durable. */
  readonly unsynced = new Map<string, number>();
  /** The last sequence each node applied (made readable). */
  readonly applied = new Map<string, number>();
  autoPersist = true;
  private epoch = 0;
  private clientSequence = 0;

  constructor(names: string[]) {
    for (const name of names) {
      this.nodes.set(name, new ChainNode<Op>({ self: name }));
      this.disk.set(name, []);
      this.logs.set(name, []);
    }
  }

  node(name: string): ChainNode<Op> {
    return this.nodes.get(name)!;
  }

  configure(
    members: string[],
    options: { only?: string[]; readsAllowedAtMs?: number; joining?: string } = {},
  ): ChainConfig {
    this.epoch += 1;
    const config: ChainConfig = {
      chainId: 'c0',
      epoch: this.epoch,
      members,
      joining: options.joining,
      readsAllowedAtMs: options.readsAllowedAtMs ?? 0,
    };
    for (const name of options.only ?? [...this.nodes.keys()]) this.run(name, this.node(name).configure(config));
    return config;
  }

  write(at: string, op: Op): void {
    this.clientSequence += 1;
    this.run(at, this.node(at).write({ clientId: 'client', clientSequence: this.clientSequence }, op));
  }

  run(name: string, effects: Effect<Op>[]): void {
    for (const effect of effects) {
      switch (effect.kind) {
        case 'persist':
          this.disk.get(name)!.push(...effect.entries.map((e) => e.operation));
          this.logs.get(name)!.push(...effect.entries);
          this.unsynced.set(name, effect.entries[effect.entries.length - 1]!.sequence);
          break;
        case 'apply':
          assert.ok(effect.upTo >= (this.applied.get(name) ?? 0), 'applying never goes back');
          this.applied.set(name, effect.upTo);
          break;
        case 'send':
          this.queue.push({ to: effect.to, message: effect.message });
          break;
        case 'reply':
          this.replies.push(effect.requestId.clientSequence);
          break;
        case 'reject':
          this.rejected.push(effect.reason);
          break;
        case 'caught-up':
          this.caughtUp.push(effect.joiner);
          break;
        case 'suspect':
          this.suspects.set(name, { peers: effect.peers, epoch: effect.epoch });
          break;
        case 'catch-up': {
          // The replica's rule (src/replication/catch-up.ts), without deferrals: a peer whose log
          // is longer than this one's gets its snapshot at once here.
          const log = this.logs.get(name)!;
          const decision = decideCatchUp(
            { ...effect, deferrals: 0, deferralsMax: 0, deltaEntriesMax: Number.MAX_SAFE_INTEGER },
            arrayCatchUpLog(log),
          );
          const message: ChainMessage<Op> =
            decision.kind === 'delta'
              ? {
                  kind: 'entries',
                  epoch: effect.epoch,
                  from: name,
                  entries: log.slice(effect.from.sequence, effect.upTo),
                  mark: effect.mark,
                }
              : {
                  kind: 'snapshot',
                  epoch: effect.epoch,
                  from: name,
                  sequence: effect.upTo,
                  lastEpoch: log[effect.upTo - 1]?.epoch ?? 0,
                  state: log.slice(0, effect.upTo),
                };
          this.queue.push({ to: effect.to, message });
          break;
        }
        case 'install': {
          const entries = effect.state as LogEntry<Op>[];
          this.logs.set(name, [...entries]);
          this.disk.set(
            name,
            entries.map((e) => e.operation),
          );
          break;
        }
      }
    }
    // The disk finishes after the node has done the rest of the step (sent the entries on).
    if (this.autoPersist) this.sync(name);
  }

  /** The disk of `name` finishes its writes. */
  sync(name: string): void {
    const upTo = this.unsynced.get(name);
    if (upTo === undefined) return;
    this.unsynced.delete(name);
    this.run(name, this.node(name).persisted(upTo));
  }

  /** Delivers queued messages (optionally only those matching) until none are left. */
  deliver(filter: (m: { to: string; message: ChainMessage<Op> }) => boolean = () => true): void {
    for (let guard = 0; guard < 10_000; guard++) {
      const index = this.queue.findIndex(filter);
      if (index < 0) return;
      const [item] = this.queue.splice(index, 1);
      this.run(item!.to, this.node(item!.to).message(item!.message));
    }
    assert.fail('message storm');
  }

  /** Every node ticks at `nowMs` (heartbeats go out when due), then everything is delivered. */
  tickAll(nowMs: number): void {
    for (const [name, node] of this.nodes) this.run(name, node.tick(nowMs));
    this.deliver();
  }

  /** `name` ticks every 50 ms (the replica's timer) from `fromMs` to `toMs`, its messages lost. */
  ticksAlone(name: string, fromMs: number, toMs: number): void {
    for (let t = fromMs; t <= toMs; t += 50) {
      this.run(name, this.node(name).tick(t));
      this.queue = [];
    }
  }

  /** Drops queued messages matching the filter (a crash, a broken connection). */
  drop(filter: (m: { to: string; message: ChainMessage<Op> }) => boolean): void {
    this.queue = this.queue.filter((m) => !filter(m));
  }
}

describe('chain node: the normal case', () => {
  it('updates enter at the head, flow to the tail, and are answered once applied at the tail', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.configure(['a', 'b', 'c']);
    h.write('a', 'x=1');
    h.write('a', 'x=2');
    assert.deepEqual(h.replies, [], 'no answer before the tail has it');
    h.deliver();
    assert.deepEqual(h.replies, [1, 2]);
    for (const name of ['a', 'b', 'c']) {
      assert.deepEqual(h.disk.get(name), ['x=1', 'x=2'], `${name} holds the same log`);
      assert.equal(h.node(name).progress.committed, 2);
      assert.equal(h.node(name).progress.pending, 0, 'acknowledged entries leave the pending list');
    }
  });

  it('an entry goes downstream at once, and commits only once durable on every member (§3.3)', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.configure(['a', 'b', 'c']);
    h.deliver(); // the configuration's hellos
    h.autoPersist = false;
    h.write('a', 'x=1');
    h.deliver();
    assert.deepEqual(h.disk.get('c'), ['x=1'], 'forwarded down the chain before any fsync finished');
    h.sync('c');
    h.sync('b');
    h.deliver();
    assert.deepEqual(h.replies, [], 'the head has not made it durable: not committed');
    assert.equal(h.applied.get('c') ?? 0, 0, 'nothing uncommitted is applied (readable), even at the tail');
    h.sync('a'); // the head's mark rises: a mark-only frame goes down, no new entry needed
    assert.deepEqual(
      h.queue.map((m) => [m.to, m.message.kind, m.message.kind === 'entries' ? m.message.entries.length : -1]),
      [['b', 'entries', 0]],
    );
    h.deliver();
    assert.deepEqual(h.replies, [1]);
    for (const name of ['a', 'b', 'c']) assert.equal(h.applied.get(name), 1, `${name} applied the committed entry`);
  });

  it('a mark is the smaller of the own durable end and the predecessor mark', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.configure(['a', 'b', 'c']);
    h.deliver();
    h.autoPersist = false;
    h.write('a', 'x=1');
    h.write('a', 'x=2');
    h.sync('a'); // a: durable to 2
    h.deliver((m) => m.to === 'b');
    assert.equal(h.node('b').progress.mark, 0, 'b has made nothing durable');
    h.sync('b');
    assert.equal(h.node('b').progress.mark, 2);
    h.deliver();
    h.sync('c');
    h.deliver();
    assert.deepEqual(h.replies, [1, 2]);
    // Now the tail is ahead of the middle: c durable, b not.
    h.write('a', 'x=3');
    h.sync('a');
    h.deliver((m) => m.to === 'b');
    h.deliver((m) => m.to === 'c');
    h.sync('c');
    h.deliver();
    assert.deepEqual(h.replies, [1, 2], 'not durable on the middle: not committed');
    h.sync('b');
    h.deliver();
    assert.deepEqual(h.replies, [1, 2, 3]);
  });

  it('a single-node chain is head and tail: it answers once persisted', () => {
    const h = new Harness(['a']);
    h.configure(['a']);
    h.write('a', 'x=1');
    assert.deepEqual(h.replies, [1]);
    assert.equal(h.node('a').role, 'head-and-tail');
  });

  it('writes anywhere but the head are refused', () => {
    const h = new Harness(['a', 'b']);
    h.write('a', 'early');
    h.configure(['a', 'b']);
    h.write('b', 'x=1');
    assert.deepEqual(h.rejected, ['no-configuration', 'not-head']);
  });

  it('only the tail serves reads, only while its session is connected and its predecessor renews its lease', () => {
    const h = new Harness(['a', 'b']);
    h.configure(['a', 'b']);
    assert.equal(h.node('b').canServeReads(), false, 'a new tail first hears from its predecessor what is committed');
    h.deliver();
    h.node('b').sessionChanged(true);
    h.node('a').sessionChanged(true);
    assert.equal(h.node('a').canServeReads(), false, 'the head never serves reads');
    assert.equal(h.node('b').canServeReads(), false, 'no lease yet');
    h.tickAll(0); // b stamps a heartbeat and asks for an echo; a echoes at once
    assert.equal(h.node('b').canServeReads(), true);
    h.node('b').observe(299);
    assert.equal(h.node('b').canServeReads(), true, 'the lease runs from the echoed stamp');
    h.node('b').observe(300);
    assert.equal(h.node('b').canServeReads(), false, 'the lease ran out: the predecessor said nothing since');
    h.tickAll(300);
    assert.equal(h.node('b').canServeReads(), true, 'renewed');
    h.node('b').sessionChanged(false);
    assert.equal(h.node('b').canServeReads(), false, 'a disconnected tail stops serving at once');
  });
});

describe('chain node: failures (§3.7)', () => {
  it('a new tail whose predecessor is removed before saying what is committed still serves reads', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.configure(['a', 'b'], { only: ['a', 'b'] });
    h.write('a', 'x=1');
    h.deliver((m) => m.message.kind !== 'committed'); // b holds x=1 but never hears what is committed
    h.configure(['b'], { only: ['b'] }); // then a is removed
    h.node('b').sessionChanged(true);
    assert.equal(h.node('b').canServeReads(), true, 'the sole member is the chain: nothing to wait for');
    h.configure(['b', 'c'], { only: ['b', 'c'] }); // a joiner appended behind it learns the mark from it
    h.deliver();
    h.node('c').sessionChanged(true);
    h.tickAll(0);
    assert.equal(h.node('c').canServeReads(), true);
  });

  it('head failure: its successor becomes head and continues the log', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.configure(['a', 'b', 'c']);
    h.write('a', 'x=1');
    h.deliver();
    h.write('a', 'lost'); // never leaves the old head
    h.drop(() => true);
    h.configure(['b', 'c'], { only: ['b', 'c'] });
    h.deliver();
    h.write('b', 'x=2');
    h.deliver();
    assert.deepEqual(h.disk.get('c'), ['x=1', 'x=2']);
    assert.deepEqual(h.replies, [1, 3]);
  });

  it('middle failure: the predecessor re-sends its pending entries to its new successor', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.configure(['a', 'b', 'c']);
    h.write('a', 'x=1');
    h.write('a', 'x=2');
    h.deliver((m) => m.to === 'b'); // b has them ...
    h.drop((m) => m.to === 'c'); // ... but dies before c gets them
    assert.deepEqual(h.disk.get('c'), []);
    h.configure(['a', 'c'], { only: ['a', 'c'] });
    h.deliver();
    assert.deepEqual(h.disk.get('c'), ['x=1', 'x=2']);
    assert.deepEqual(h.replies, [1, 2]);
  });

  it('middle failure, whichever of predecessor and successor learns the new epoch first', () => {
    for (const first of ['a', 'c']) {
      const h = new Harness(['a', 'b', 'c']);
      h.configure(['a', 'b', 'c']);
      h.write('a', 'x=1');
      h.deliver((m) => m.to === 'b');
      h.drop((m) => m.to === 'c' || m.to === 'a');
      const second = first === 'a' ? 'c' : 'a';
      const config = h.configure(['a', 'c'], { only: [first] });
      h.deliver(); // messages to the node still at the old epoch are fenced off
      h.run(second, h.node(second).configure(config));
      h.deliver();
      assert.deepEqual(h.disk.get('c'), ['x=1'], `${first} first`);
      assert.deepEqual(h.replies, [1], `${first} first`);
    }
  });

  it('tail failure: the predecessor becomes tail, and everything it holds is committed at once', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.configure(['a', 'b', 'c']);
    h.write('a', 'x=1');
    h.deliver((m) => m.to === 'b');
    h.drop(() => true); // c dies before it acknowledges
    assert.deepEqual(h.replies, []);
    h.configure(['a', 'b'], { only: ['a', 'b'] });
    h.deliver();
    assert.deepEqual(h.replies, [1]);
    assert.equal(h.node('b').progress.committed, 1);
  });

  it('epoch fencing: a removed head cannot get a write committed', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.configure(['a', 'b', 'c']);
    h.configure(['b', 'c'], { only: ['b', 'c'] }); // a is cut off and does not learn it
    h.write('a', 'zombie');
    h.deliver();
    assert.deepEqual(h.disk.get('b'), [], 'b drops entries from an old epoch');
    assert.deepEqual(h.replies, []);
  });

  it('epoch fencing: messages stamped with another epoch are dropped, even from the right neighbour', () => {
    const b = new ChainNode<Op>({ self: 'b' });
    b.configure({ chainId: 'c0', epoch: 2, members: ['a', 'b', 'c'], joining: undefined, readsAllowedAtMs: 0 });
    const entry = { sequence: 1, epoch: 1, requestId: { clientId: 'x', clientSequence: 1 }, operation: 'old' };
    assert.deepEqual(b.message({ kind: 'entries', epoch: 1, from: 'a', entries: [entry], mark: 0 }), []);
    assert.deepEqual(b.message({ kind: 'entries', epoch: 3, from: 'a', entries: [entry], mark: 0 }), []);
    assert.deepEqual(
      b.message({ kind: 'entries', epoch: 2, from: 'c', entries: [entry], mark: 0 }),
      [],
      'not its predecessor',
    );
    const accepted = b.message({ kind: 'entries', epoch: 2, from: 'a', entries: [entry], mark: 0 });
    assert.deepEqual(
      accepted.map((e) => e.kind),
      ['persist', 'send'],
      'persisted and forwarded at once',
    );
  });

  it('a gap in received entries makes the node ask its predecessor again', () => {
    const h = new Harness(['a', 'b']);
    h.configure(['a', 'b']);
    h.write('a', 'x=1');
    h.drop(() => true); // the first batch is lost with a connection
    h.write('a', 'x=2');
    h.deliver();
    assert.deepEqual(h.disk.get('b'), ['x=1', 'x=2']);
    assert.deepEqual(h.replies, [1, 2]);
  });

  it('a node removed from the chain stops taking writes', () => {
    const h = new Harness(['a', 'b']);
    h.configure(['a', 'b']);
    h.configure(['b']);
    h.write('a', 'x');
    assert.deepEqual(h.rejected, ['not-head']);
    assert.equal(h.node('a').role, 'outside');
  });
});

describe('chain node: joining is the only way in (§3.8)', () => {
  it('a new node catches up from the tail, is reported caught up, and becomes the tail', () => {
    const h = new Harness(['a', 'b', 'j']);
    h.configure(['a', 'b']);
    h.write('a', 'x=1');
    h.write('a', 'x=2');
    h.deliver();
    h.configure(['a', 'b'], { joining: 'j' });
    h.deliver();
    assert.deepEqual(h.disk.get('j'), ['x=1', 'x=2']);
    assert.deepEqual(h.caughtUp, ['j']);
    assert.equal(h.node('j').role, 'joining');
    h.write('a', 'x=3'); // the tail forwards new entries to a caught-up joiner
    h.deliver();
    assert.deepEqual(h.disk.get('j'), ['x=1', 'x=2', 'x=3']);
    h.configure(['a', 'b', 'j']);
    h.node('j').sessionChanged(true);
    h.node('b').sessionChanged(true); // a predecessor grants leases only while its session is up
    h.deliver();
    assert.equal(h.node('j').role, 'tail');
    h.tickAll(0);
    assert.equal(h.node('j').canServeReads(), true);
    h.write('a', 'x=4');
    h.deliver();
    assert.deepEqual(h.disk.get('j'), ['x=1', 'x=2', 'x=3', 'x=4']);
    assert.deepEqual(h.replies, [1, 2, 3, 4]);
  });

  it('a restarted node whose log diverges gets a snapshot and loses its divergent suffix', () => {
    const h = new Harness(['a', 'b']);
    h.configure(['a', 'b']);
    h.write('a', 'x=1');
    h.deliver();
    h.write('a', 'lost'); // persisted at a only: a crashes before sending it
    h.drop(() => true);
    const log = h.logs.get('a')!;
    h.nodes.set('a', new ChainNode<Op>({ self: 'a', lastSequence: 2, lastEpoch: log[1]!.epoch, restarted: true }));
    h.configure(['b']);
    h.write('b', 'y=1'); // the chain moved on: sequence 2 is a different write now
    h.configure(['b'], { joining: 'a' });
    h.deliver();
    assert.deepEqual(h.disk.get('a'), ['x=1', 'y=1'], 'the divergent entry is gone');
    assert.deepEqual(h.caughtUp, ['a']);
  });

  it('a restarted node still listed in a chain of several does not act until removed; a sole member resumes', () => {
    const h = new Harness(['a', 'b']);
    h.configure(['a', 'b']);
    h.write('a', 'x=1');
    h.deliver();
    h.nodes.set('b', new ChainNode<Op>({ self: 'b', lastSequence: 1, lastEpoch: 1, restarted: true }));
    h.configure(['a', 'b'], { only: ['b'] });
    assert.equal(h.node('b').role, 'outside');
    assert.equal(h.node('b').canServeReads(), false);
    const alone = new ChainNode<Op>({ self: 'a', lastSequence: 1, lastEpoch: 1, restarted: true });
    h.nodes.set('a', alone);
    h.configure(['a'], { only: ['a'] });
    assert.equal(alone.role, 'head-and-tail');
    assert.equal(alone.progress.committed, 1, 'its durable log is the committed state');
  });
});

describe('chain node: failure detection and read leases (§3.5, §3.7)', () => {
  /** a, b, c with leases granted at time 0 (every node heartbeated once, c's stamp echoed by b). */
  function chainWithLeases(): Harness {
    const h = new Harness(['a', 'b', 'c']);
    h.configure(['a', 'b', 'c']);
    h.deliver();
    for (const name of ['a', 'b', 'c']) h.node(name).sessionChanged(true);
    h.tickAll(0);
    return h;
  }

  it('a neighbour silent for the suspicion timeout is suspected, and the suspicion withdrawn when it speaks', () => {
    const h = chainWithLeases();
    for (const t of [50, 100, 150, 200, 250, 300, 350, 400, 450]) h.run('a', h.node('a').tick(t));
    h.queue = []; // nothing from b reaches a (nor anything else)
    assert.equal(h.suspects.get('a'), undefined, 'not before the timeout');
    h.run('a', h.node('a').tick(500));
    assert.deepEqual(h.suspects.get('a'), { peers: ['b'], epoch: 1 });
    h.queue = [];
    h.run('b', h.node('b').tick(520)); // b heartbeats again
    h.deliver((m) => m.to === 'a');
    h.run('a', h.node('a').tick(550));
    assert.deepEqual(h.suspects.get('a'), { peers: [], epoch: 1 }, 'withdrawn');
  });

  it('a node whose own event loop stalled suspects no one for that stall', () => {
    const h = chainWithLeases();
    h.queue = [];
    h.run('b', h.node('b').tick(2_000)); // 2 s since its last tick: the stall was its own
    assert.equal(h.suspects.get('b'), undefined);
    // The stall beyond a heartbeat interval is forgiven: b counts from 1,900.
    h.ticksAlone('b', 2_050, 2_350);
    assert.equal(h.suspects.get('b'), undefined, 'still within the timeout counted from the stall');
    h.ticksAlone('b', 2_400, 2_400);
    assert.deepEqual(h.suspects.get('b')?.peers, ['a', 'c']);
  });

  it('a closed connection makes silence count sooner; only neighbours are suspected', () => {
    const h = chainWithLeases();
    h.run('a', h.node('a').tick(50));
    h.run('a', h.node('a').peerLost('c')); // not a neighbour of a: no effect
    h.run('a', h.node('a').peerLost('b'));
    h.queue = [];
    h.run('a', h.node('a').tick(150));
    assert.equal(h.suspects.get('a'), undefined);
    h.run('a', h.node('a').tick(200));
    assert.deepEqual(h.suspects.get('a')?.peers, ['b'], 'within the grace after the loss, not the whole timeout');
  });

  it('a suspicion is repeated at a new epoch, or dropped with the neighbour', () => {
    const h = chainWithLeases();
    h.ticksAlone('b', 50, 500);
    assert.deepEqual(h.suspects.get('b'), { peers: ['a', 'c'], epoch: 1 });
    h.configure(['b', 'c'], { only: ['b'] }); // a removed
    assert.deepEqual(h.suspects.get('b'), { peers: ['c'], epoch: 2 }, 'c still silent, reported at the new epoch');
  });

  it('a predecessor that becomes tail waits out the lease it granted the removed tail', () => {
    const h = chainWithLeases(); // b last heard c's stamp at time 0: c may read until 300 on its clock
    assert.equal(h.node('c').canServeReads(), true);
    h.run('b', h.node('b').tick(100));
    h.queue = [];
    h.configure(['a', 'b'], { only: ['a', 'b'] }); // c removed while it may still be serving
    h.write('a', 'x=1');
    h.deliver();
    assert.deepEqual(h.replies, [], 'not committed during the wait');
    assert.equal(h.node('b').canServeReads(), false);
    assert.deepEqual(h.node('b').settled, { epoch: 2, settled: false });
    h.tickAll(331);
    assert.deepEqual(h.replies, [], 'the wait allows for clock rates: 300 * 1.05 / 0.95 -> 332 ms');
    h.node('b').observe(340);
    assert.equal(h.node('b').canServeReads(), false, 'the wait is over, but the commit it held back is still owed');
    h.tickAll(340);
    assert.deepEqual(h.replies, [1]);
    assert.equal(h.node('b').canServeReads(), true);
    assert.deepEqual(h.node('b').settled, { epoch: 2, settled: true });
  });

  it('a tail removed long after it was last heard is replaced without a wait', () => {
    const h = chainWithLeases();
    h.ticksAlone('b', 50, 400); // nothing from c arrives after its stamp of time 0
    h.configure(['a', 'b'], { only: ['a', 'b'] });
    h.write('a', 'x=1');
    h.deliver();
    assert.deepEqual(h.replies, [1], 'its stamp of time 0 was the last b received: 332 ms have passed');
  });

  it('a lease is renewed only by the predecessor at this epoch, and a new predecessor grants afresh', () => {
    const h = chainWithLeases();
    const c = h.node('c');
    c.message({ kind: 'heartbeat', epoch: 1, from: 'a', stampMs: 250, echoMs: 250, wantEcho: false });
    c.message({ kind: 'heartbeat', epoch: 0, from: 'b', stampMs: 250, echoMs: 250, wantEcho: false });
    c.observe(300);
    assert.equal(c.canServeReads(), false, 'neither a non-neighbour nor another epoch renews it');
    c.message({ kind: 'heartbeat', epoch: 1, from: 'b', stampMs: 250, echoMs: 320, wantEcho: false });
    assert.equal(c.canServeReads(), false, 'an echo of a stamp from the future is garbage');
    h.tickAll(300);
    assert.equal(c.canServeReads(), true);
    h.configure(['a', 'c']); // b removed: a has promised c nothing yet
    assert.equal(c.canServeReads(), false);
    h.tickAll(400);
    assert.equal(c.canServeReads(), true);
  });
});

describe('chain node: lease edge cases (§3.5)', () => {
  it('a node grants no lease while its own coordinator session is down', () => {
    const h = new Harness(['a', 'b']);
    h.configure(['a', 'b']);
    h.deliver();
    h.node('b').sessionChanged(true);
    h.tickAll(0);
    assert.equal(h.node('b').canServeReads(), false, 'a, disconnected, echoes nothing');
    h.node('a').sessionChanged(true);
    h.tickAll(100);
    assert.equal(h.node('b').canServeReads(), true);
  });

  it('a tail removed without a report: the new tail waits a lease from when it learns it', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.configure(['a', 'b', 'c']);
    h.deliver();
    for (const name of ['a', 'b', 'c']) h.node(name).sessionChanged(true);
    h.queue = [];
    h.ticksAlone('b', 0, 1_000); // nothing from c for a second: b owes it nothing
    const config = { chainId: 'c0', epoch: 2, members: ['a', 'b'], joining: undefined, readsAllowedAtMs: 0 };
    for (const name of ['a', 'b']) h.run(name, h.node(name).configure({ ...config, leaseWait: true }));
    h.write('a', 'x=1');
    h.deliver();
    assert.deepEqual(h.replies, [], 'c may have granted a lease to a node removed before, that never heard of it');
    h.run('b', h.node('b').tick(1_300));
    h.deliver();
    assert.deepEqual(h.replies, []);
    h.run('b', h.node('b').tick(1_350)); // past 1,000 + 332
    h.deliver();
    assert.deepEqual(h.replies, [1]);
  });
});

describe('chain node: durable marks after leaving the chain (§3.3)', () => {
  it('a node that left and rejoins forgets its old predecessor mark: it commits nothing not durable above', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.configure(['a', 'b', 'c']);
    h.deliver();
    for (const op of ['w1', 'w2', 'w3']) h.write('a', op);
    h.deliver((m) => m.to !== 'c'); // b has w1..w3 and a's mark 3; nothing reaches c
    h.drop((m) => m.to === 'c');
    assert.equal(h.node('b').progress.mark, 3);
    h.configure(['c']); // a and b removed: c, with an empty log, is the chain
    h.write('c', 'v1');
    h.write('c', 'v2');
    h.deliver();
    h.configure(['c'], { joining: 'b' }); // b's log (3) is longer than c's: a snapshot at 2
    h.deliver();
    h.configure(['c', 'b']);
    h.deliver();
    const before = h.replies.length;
    h.autoPersist = false;
    h.write('c', 'v3'); // sequence 3 again, another entry: not durable on c yet
    h.deliver();
    h.sync('b');
    h.deliver();
    assert.equal(h.node('b').progress.committed, 2, 'w3 was at 3 on the old chain; v3 is not durable on c');
    assert.equal(h.replies.length, before);
    h.sync('c');
    h.deliver();
    assert.equal(h.node('b').progress.committed, 3);
  });
});
