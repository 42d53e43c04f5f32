// The node-wide client budget (src/protocol/client-budget.ts) on its own, with a manual clock and
// members that only record what the budget asks of them: over the budget a member holding
// something is paused and one holding nothing is not; back under the low-water mark the paused
// ones resume; a member whose client has not read for clientOutputStallMs is cut, largest first,
// and one that reads (its unread bytes shrink) never is. The cross-protocol verdicts
// (src/protocol/cross-protocol.ts) and maxclients from the open-file limit (src/server/client-limit.ts)
// are pure too and tested here.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { clientFdReserve, clientOutputStallMs, connectionsMax, readReserveBytes } from '../../src/core/limits.js';
import { silentLogger } from '../../src/core/log.js';
import { ClientBudget, type BudgetMember, type BudgetShare } from '../../src/protocol/client-budget.js';
import { memcachedCrossProtocol, respCrossProtocol } from '../../src/protocol/cross-protocol.js';
import { MemcachedParser } from '../../src/protocol/memcached/codec.js';
import { clientsMaxFor, parseOpenFilesLimit } from '../../src/server/client-limit.js';
import { cut } from '../helpers/chunks.js';

const MiB = 1024 * 1024;

class FakeMember implements BudgetMember {
  resumed = 0;
  cutWith: Record<string, unknown> | undefined;
  measured = 0;
  share!: BudgetShare;
  constructor(
    private readonly budget: ClientBudget,
    public held = 0,
    public unread = 0,
  ) {}
  measure(): void {
    this.measured += 1;
    this.budget.update(this.share, this.held, this.unread);
  }
  resume(): void {
    this.resumed += 1;
  }
  cut(fields: Record<string, unknown>): void {
    this.cutWith = fields;
  }
}

function setup(bytesMax: number) {
  let now = 0;
  const budget = new ClientBudget({ bytesMax, log: silentLogger, nowMs: () => now });
  const join = (held: number, unread = 0): FakeMember => {
    const member = new FakeMember(budget, held, unread);
    member.share = budget.join(member);
    member.measure();
    return member;
  };
  return { budget, join, advance: (ms: number) => (now += ms) };
}

describe('ClientBudget', () => {
  const budgets: ClientBudget[] = [];
  after(() => budgets.forEach((budget) => budget.close()));

  it('pauses members holding something once the total passes the budget, not those holding nothing', () => {
    const { budget, join } = setup(100 * MiB);
    budgets.push(budget);
    const a = join(60 * MiB, 60 * MiB);
    assert.equal(budget.exceeded(a.share), false);
    const b = join(50 * MiB, 0);
    assert.equal(budget.heldBytes, 110 * MiB);
    assert.equal(budget.exceeded(a.share), true);
    assert.equal(budget.exceeded(b.share), true);
    const fresh = join(0);
    assert.equal(budget.exceeded(fresh.share), false, 'a new client may still send one request');
    assert.equal(budget.pauses, 1);
  });

  it('resumes the paused members once back under three quarters of the budget', () => {
    const { budget, join } = setup(100 * MiB);
    budgets.push(budget);
    const a = join(60 * MiB, 60 * MiB);
    const b = join(50 * MiB);
    assert.equal(budget.exceeded(a.share), true);
    assert.equal(budget.exceeded(b.share), true);
    a.held = 30 * MiB; // its client read half
    a.unread = 30 * MiB;
    budget.check();
    assert.equal(budget.heldBytes, 80 * MiB);
    assert.equal(a.resumed + b.resumed, 0, '80 MiB is not under the low-water mark');
    b.held = 0;
    budget.check();
    assert.equal([a.resumed, b.resumed].join(), '1,1');
    assert.equal(budget.exceeded(a.share), false);
  });

  it('cuts the members that read nothing for clientOutputStallMs, largest first, and spares those that read', () => {
    const { budget, join, advance } = setup(100 * MiB);
    budgets.push(budget);
    const small = join(20 * MiB, 20 * MiB);
    const large = join(50 * MiB, 50 * MiB);
    const reader = join(40 * MiB, 40 * MiB);
    assert.equal(budget.exceeded(large.share), true);
    advance(clientOutputStallMs - 1);
    budget.check();
    assert.equal(large.cutWith, undefined, 'not cut before the stall time');
    reader.unread = 39 * MiB; // it read something
    reader.held = 39 * MiB;
    advance(1);
    budget.check();
    const cutWith = large.cutWith as Record<string, unknown> | undefined;
    assert.equal(cutWith?.['heldBytes'], 50 * MiB, 'the largest stalled member is cut');
    assert.equal(reader.cutWith, undefined, 'a member that reads is never cut');
    assert.equal(small.cutWith, undefined, 'cutting stops once under the low-water mark');
    assert.equal(budget.cuts, 1);
    assert.equal(budget.heldBytes, 59 * MiB);
    assert.equal(small.resumed, 0, 'small never paused');
    assert.ok(small.measured >= 2 && reader.measured >= 2, 'the check measures every member again');
  });

  it('resumes without waiting for the next check when a member reports the drop itself', async () => {
    const { budget, join } = setup(100 * MiB);
    budgets.push(budget);
    const a = join(110 * MiB, 110 * MiB);
    assert.equal(budget.exceeded(a.share), true);
    a.held = 10 * MiB;
    a.unread = 10 * MiB;
    a.measure(); // its socket drained: SessionIo reports on 'drain'
    assert.equal(a.resumed, 0, "not from inside the member's own call");
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(a.resumed, 1);
    assert.equal(budget.exceeded(a.share), false);
  });

  it('counts a read in flight as the largest recent reply, at least readReserveBytes', () => {
    const { budget, advance } = setup(100 * MiB);
    budgets.push(budget);
    assert.equal(budget.readReserveBytes, readReserveBytes);
    budget.noteReply(8 * MiB);
    budget.noteReply(1000);
    assert.equal(budget.readReserveBytes, 8 * MiB);
    advance(60_000);
    budget.noteReply(1000);
    assert.equal(budget.readReserveBytes, readReserveBytes, 'a large reply long ago no longer counts');
  });

  it('forgets a member that left', () => {
    const { budget, join } = setup(100 * MiB);
    budgets.push(budget);
    const a = join(70 * MiB, 70 * MiB);
    budget.leave(a.share);
    budget.leave(a.share);
    assert.equal(budget.heldBytes, 0);
    assert.equal(budget.connections, 0);
  });
});

describe('cross-protocol verdicts', () => {
  const words = (...list: string[]) => list.map((word) => Buffer.from(word));

  it('refuses HTTP request lines, POST and Host: on RESP, and keeps real commands', () => {
    assert.equal(respCrossProtocol(words('POST', '/', 'HTTP/1.1')), 'http-request-line');
    assert.equal(respCrossProtocol(words('post')), 'http-request-line');
    assert.equal(respCrossProtocol(words('GET', '/index.html', 'HTTP/1.0')), 'http-request-line');
    assert.equal(respCrossProtocol(words('PUT', '/x', 'HTTP/2')), 'http-request-line');
    assert.equal(respCrossProtocol(words('Host:', 'localhost:7001')), 'http-host-header');
    assert.equal(respCrossProtocol(words('HOST:', 'x')), 'http-host-header');
    assert.equal(respCrossProtocol(words('GET', 'key')), undefined);
    assert.equal(respCrossProtocol(words('SET', 'k', 'HTTP/1.1')), undefined);
    assert.equal(respCrossProtocol(words('get', '/', 'HTTP/1.1')), undefined, 'HTTP methods are upper-case');
    assert.equal(respCrossProtocol(words('host')), undefined);
  });

  it('refuses them on memcached, where GET is memcached ERROR, not an attack', () => {
    assert.equal(memcachedCrossProtocol(['POST', '/', 'HTTP/1.1']), 'http-request-line');
    assert.equal(memcachedCrossProtocol(['DELETE', '/', 'HTTP/1.1']), 'http-request-line');
    assert.equal(memcachedCrossProtocol(['Host:', 'x']), 'http-host-header');
    assert.equal(memcachedCrossProtocol(['GET', 'a']), undefined);
    assert.equal(memcachedCrossProtocol(['get', 'a', 'b']), undefined);
  });

  it('makes the memcached parser close before the body, from every split point', () => {
    const stream = Buffer.from('version\r\nPOST / HTTP/1.1\r\nHost: x\r\n\r\nset pwned 0 0 3\r\nyes\r\n');
    for (let at = 0; at <= stream.length; at++) {
      const parser = new MemcachedParser();
      const events = cut(stream, [at]).flatMap((chunk) => parser.push(chunk));
      assert.deepEqual(
        events.map((event) => (event.kind === 'fatal' ? `fatal:${event.code}` : event.kind)),
        ['request', 'fatal:cross-protocol'],
        `split at ${at}`,
      );
      assert.equal(parser.closed, true);
    }
  });
});

describe('maxclients from the open-file limit', () => {
  const limits = (soft: string, hard: string) =>
    'Limit                     Soft Limit           Hard Limit           Units     \n' +
    'Max cpu time              unlimited            unlimited            seconds   \n' +
    `Max open files            ${soft.padEnd(20)} ${hard.padEnd(20)} files     \n` +
    'Max locked memory         8388608              8388608              bytes     \n';

  it('reads the soft limit of /proc/self/limits', () => {
    assert.equal(parseOpenFilesLimit(limits('1024', '1048576')), 1024);
    assert.equal(parseOpenFilesLimit(limits('unlimited', 'unlimited')), undefined);
    assert.equal(parseOpenFilesLimit('nothing here'), undefined);
  });

  it('keeps clientFdReserve descriptors back, and says when a request is reduced', () => {
    assert.deepEqual(
      { ...clientsMaxFor({ openFilesLimit: 1024 }), reason: '' },
      { max: 1024 - clientFdReserve, reason: '', reduced: false },
    );
    assert.equal(clientsMaxFor({ openFilesLimit: 1_048_576 }).max, connectionsMax);
    assert.equal(clientsMaxFor({ openFilesLimit: undefined }).max, connectionsMax);
    assert.equal(clientsMaxFor({ openFilesLimit: 256 }).max, 128, 'a small limit leaves clients half of it');
    assert.equal(clientsMaxFor({ requested: 5000, openFilesLimit: 1024 }).reduced, true);
    assert.equal(clientsMaxFor({ requested: 50, openFilesLimit: 1024 }).max, 50);
  });
});
