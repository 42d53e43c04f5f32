// The manager's decisions, named after the failure cases of chain replication
// (van Renesse & Schneider, OSDI 2004, §3) and docs/design.md §3.7–3.8.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ChainConfig } from '../../src/replication/chain-config.js';
import { decide, type ClusterView, type Decision, type MemberReport } from '../../src/coordination/manager.js';

const chain = (members: string[], joining?: string, epoch = 7): ChainConfig => ({
  chainId: 'c0',
  epoch,
  members,
  joining,
  readsAllowedAtMs: 0,
});

const view = (live: string[], extra: Partial<ClusterView> = {}): ClusterView => ({
  liveNodes: new Set(live),
  suspectedNodes: new Set(),
  caughtUp: new Set(),
  candidates: [],
  nowMs: 1_000,
  sessionTimeoutMs: 3_000,
  ...extra,
});

function changed(decision: Decision): ChainConfig {
  assert.equal(decision.kind, 'change', decision.kind === 'none' ? decision.reason : '');
  return (decision as Extract<Decision, { kind: 'change' }>).config;
}

describe('manager decisions', () => {
  it('head fails: its successor becomes head', () => {
    const next = changed(decide(chain(['a', 'b', 'c']), view(['b', 'c'])));
    assert.deepEqual(next.members, ['b', 'c']);
    assert.equal(next.epoch, 8);
  });

  it('middle fails: its predecessor and successor become neighbours', () => {
    assert.deepEqual(changed(decide(chain(['a', 'b', 'c']), view(['a', 'c']))).members, ['a', 'c']);
  });

  it('tail fails after its session expired: its predecessor is tail', () => {
    const next = changed(decide(chain(['a', 'b', 'c']), view(['a', 'b'])));
    assert.deepEqual(next.members, ['a', 'b']);
    assert.equal(next.readsAllowedAtMs, 0);
  });

  it('a restarted tail is removed; the new tail waits out any lease itself, so the configuration says nothing', () => {
    const next = changed(decide(chain(['a', 'b', 'c']), view(['a', 'b', 'c'], { suspectedNodes: new Set(['c']) })));
    assert.deepEqual(next.members, ['a', 'b']);
    assert.equal(next.readsAllowedAtMs, 0);
  });

  it('a tail removed without a report asks the new tail to wait a lease; the flag is not carried on', () => {
    const next = changed(decide(chain(['a', 'b', 'c']), view(['a', 'b'])));
    assert.equal(next.leaseWait, true);
    const after = changed(decide(next, view(['a', 'b', 'd'], { candidates: ['d'] })));
    assert.equal(after.leaseWait, undefined);
    assert.equal(changed(decide(chain(['a', 'b', 'c']), view(['a', 'c']))).leaseWait, undefined, 'a middle');
  });

  it('the last live member is never removed: the chain waits for it', () => {
    const decision = decide(chain(['a']), view([]));
    assert.equal(decision.kind, 'none');
    assert.match(decision.kind === 'none' ? decision.reason : '', /last member/);
  });

  it('with every member down, members are removed down to one and no further', () => {
    let config = chain(['a', 'b', 'c']);
    for (let i = 0; i < 5; i++) {
      const decision = decide(config, view([]));
      if (decision.kind === 'none') break;
      config = decision.config;
    }
    assert.deepEqual(config.members, ['c']);
    assert.equal(config.epoch, 9);
  });

  it('a dead member goes before a restarted one, so the member kept is one that is back', () => {
    // [a, b]: b is dead for good, a restarted and waits to be removed (so it is not "live" either).
    let config = chain(['a', 'b']);
    const restarted = view([], { restartedNodes: new Set(['a']) });
    config = changed(decide(config, restarted));
    assert.deepEqual(config.members, ['a'], 'b (dead) removed, a kept: it resumes as the only member');
    assert.equal(decide(config, restarted).kind, 'none', 'never the last member');
  });

  it('one change per decision, each raising the epoch by exactly one', () => {
    const first = changed(decide(chain(['a', 'b', 'c']), view(['c'])));
    const second = changed(decide(first, view(['c'])));
    assert.deepEqual([first.members, first.epoch], [['b', 'c'], 8]);
    assert.deepEqual([second.members, second.epoch], [['c'], 9]);
    assert.equal(decide(second, view(['c'])).kind, 'none');
  });

  it('joining is the only way in: a candidate joins, and becomes tail only once caught up', () => {
    const joining = changed(decide(chain(['a', 'b']), view(['a', 'b', 'd'], { candidates: ['d'] })));
    assert.deepEqual([joining.members, joining.joining], [['a', 'b'], 'd']);
    assert.equal(decide(joining, view(['a', 'b', 'd'], { candidates: ['d'] })).kind, 'none', 'not caught up yet');
    const appended = changed(decide(joining, view(['a', 'b', 'd'], { caughtUp: new Set(['d']) })));
    assert.deepEqual([appended.members, appended.joining], [['a', 'b', 'd'], undefined]);
    assert.equal(appended.readsAllowedAtMs, 0, 'no wait: the old tail commits everything it passes on');
    assert.equal(appended.epoch, 9);
  });

  it('a joiner that dies is dropped; a member is never a candidate; one joiner at a time', () => {
    assert.equal(changed(decide(chain(['a'], 'd'), view(['a']))).joining, undefined);
    assert.equal(decide(chain(['a', 'b']), view(['a', 'b'], { candidates: ['b'] })).kind, 'none');
    const busy = decide(chain(['a'], 'd'), view(['a', 'd', 'e'], { candidates: ['e'] }));
    assert.equal(busy.kind, 'none');
  });

  it('keeps its invariants over any sequence of views, reports included (property)', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e'];
    const subset = fc.subarray(nodes);
    const viewArb = fc.record({
      live: subset,
      suspected: subset,
      caughtUp: subset,
      candidates: fc.shuffledSubarray(nodes),
      nowMs: fc.nat(100_000),
      reports: fc.array(
        fc.record({ node: fc.constantFrom(...nodes), suspects: subset, settled: fc.boolean(), behind: fc.nat(2) }),
        { maxLength: 5 },
      ),
    });
    fc.assert(
      fc.property(fc.array(viewArb, { maxLength: 40 }), (views) => {
        let config = chain(['a', 'b', 'c']);
        for (const v of views) {
          const decision = decide(
            config,
            view(v.live, {
              suspectedNodes: new Set(v.suspected),
              caughtUp: new Set(v.caughtUp),
              candidates: v.candidates,
              nowMs: v.nowMs,
              reports: new Map(
                v.reports.map((r) => [
                  r.node,
                  { epoch: config.epoch - r.behind, settled: r.settled, suspects: r.suspects },
                ]),
              ),
            }),
          );
          if (decision.kind === 'none') continue;
          const next = decision.config;
          assert.equal(next.epoch, config.epoch + 1);
          assert.ok(next.members.length >= 1);
          assert.equal(new Set(next.members).size, next.members.length);
          assert.ok(next.joining === undefined || !next.members.includes(next.joining));
          const added = next.members.filter((m) => !config.members.includes(m));
          // The only way in is as the caught-up joiner, appended at the tail.
          for (const m of added) {
            assert.equal(m, config.joining);
            assert.equal(next.members[next.members.length - 1], m);
          }
          // Order of the remaining members never changes.
          const kept = config.members.filter((m) => next.members.includes(m));
          assert.deepEqual(next.members.slice(0, kept.length), kept);
          config = next;
        }
      }),
    );
  });
});

describe('manager decisions: removal on a peer report (docs/design.md §3.7)', () => {
  /** Reports at the chain's epoch (7): every member settled, `suspects` by reporter. */
  const reports = (suspects: Record<string, string[]>, overrides: Record<string, Partial<MemberReport>> = {}) =>
    new Map<string, MemberReport>(
      ['a', 'b', 'c'].map((node) => [
        node,
        { epoch: 7, settled: true, suspects: suspects[node] ?? [], ...(overrides[node] ?? {}) },
      ]),
    );
  const live = ['a', 'b', 'c'];

  it('a member is removed on its predecessor report, faster than its session expires', () => {
    const next = changed(decide(chain(['a', 'b', 'c']), view(live, { reports: reports({ a: ['b'] }) })));
    assert.deepEqual(next.members, ['a', 'c']);
    assert.deepEqual(next.reportRemovals, [['b', 1_000]]);
  });

  it('the head is removed on its successor report; a middle or tail is not on its successor report alone', () => {
    assert.deepEqual(changed(decide(chain(['a', 'b', 'c']), view(live, { reports: reports({ b: ['a'] }) }))).members, [
      'b',
      'c',
    ]);
    assert.equal(decide(chain(['a', 'b', 'c']), view(live, { reports: reports({ c: ['b'] }) })).kind, 'none');
  });

  it('a report from another epoch, from a node whose session is gone, or about a non-neighbour counts for nothing', () => {
    const old = reports({ a: ['b'] }, { a: { epoch: 6 } });
    assert.equal(decide(chain(['a', 'b', 'c']), view(live, { reports: old })).kind, 'none', 'stale');
    const ghost = decide(chain(['a', 'b', 'c']), view(['b', 'c'], { reports: reports({ a: ['b'] }) }));
    assert.deepEqual(changed(ghost).members, ['b', 'c'], 'the dead reporter is removed, not the node it named');
    assert.equal(decide(chain(['a', 'b', 'c']), view(live, { reports: reports({ a: ['c'] }) })).kind, 'none');
  });

  it('a member is removed on report only once it stands at the current epoch, settled', () => {
    const behind = reports({ b: ['c'] }, { c: { epoch: 6 } });
    assert.equal(decide(chain(['a', 'b', 'c']), view(live, { reports: behind })).kind, 'none');
    const waiting = reports({ b: ['c'] }, { c: { settled: false } });
    assert.equal(decide(chain(['a', 'b', 'c']), view(live, { reports: waiting })).kind, 'none');
    const silent = new Map([...reports({ b: ['c'] })].filter(([node]) => node !== 'c'));
    assert.equal(decide(chain(['a', 'b', 'c']), view(live, { reports: silent })).kind, 'none');
  });

  it('a tail appended at this epoch, last heard as the joiner, is removed on its judge report', () => {
    const appended = reports({ b: ['c'] }, { c: { epoch: 6, joining: true } });
    assert.deepEqual(changed(decide(chain(['a', 'b', 'c']), view(live, { reports: appended }))).members, ['a', 'b']);
    const older = reports({ b: ['c'] }, { c: { epoch: 5, joining: true } });
    assert.equal(decide(chain(['a', 'b', 'c']), view(live, { reports: older })).kind, 'none', 'epochs it never saw');
    const notTail = reports({ a: ['b'] }, { b: { epoch: 6, joining: true } });
    assert.equal(decide(chain(['a', 'b', 'c']), view(live, { reports: notTail })).kind, 'none');
  });

  it('a cut link: both ends report each other, and the one further down goes', () => {
    const next = changed(decide(chain(['a', 'b', 'c']), view(live, { reports: reports({ a: ['b'], b: ['a'] }) })));
    assert.deepEqual(next.members, ['a', 'c']);
    const two = changed(decide(chain(['a', 'b']), view(live, { reports: reports({ a: ['b'], b: ['a'] }) })));
    assert.deepEqual(two.members, ['a']);
  });

  it('a node cut off from both neighbours, which report it, goes (it reports everyone: itself suspect)', () => {
    const isolated = reports({ a: ['b'], b: ['a', 'c'], c: ['b'] });
    assert.deepEqual(changed(decide(chain(['a', 'b', 'c']), view(live, { reports: isolated }))).members, ['a', 'c']);
  });

  it('a node removed on reports reportRemovalsPerNodeMax times in a window is left to its session (no flapping)', () => {
    const removals: [string, number][] = [
      ['b', 100],
      ['b', 200],
      ['b', 300],
      ['c', 400],
    ];
    const recent = { ...chain(['a', 'b', 'c']), reportRemovals: removals };
    const blocked = decide(recent, view(live, { reports: reports({ a: ['b'] }), nowMs: 1_000 }));
    assert.equal(blocked.kind, 'none');
    const other = changed(decide(recent, view(live, { reports: reports({ b: ['c'] }), nowMs: 1_000 })));
    assert.deepEqual(other.members, ['a', 'b'], 'another node is still removed on report');
    const later = changed(decide(recent, view(live, { reports: reports({ a: ['b'] }), nowMs: 60_250 })));
    assert.deepEqual(later.members, ['a', 'c']);
    assert.deepEqual(
      later.reportRemovals,
      [
        ['b', 300],
        ['c', 400],
        ['b', 60_250],
      ],
      'older removals leave the window',
    );
    const dead = changed(decide(recent, view(['a', 'c'], { reports: reports({ a: ['b'] }) })));
    assert.deepEqual(dead.members, ['a', 'c'], 'session expiry is never limited');
  });
});
