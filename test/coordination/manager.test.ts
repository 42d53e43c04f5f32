// The manager's decisions, named after the failure cases of chain replication
// (van Renesse & Schneider, OSDI 2004, §3) and docs/design.md §3.7–3.8.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ChainConfig } from '../../src/replication/chain-config.js';
import { decide, type ClusterView, type Decision } from '../../src/coordination/manager.js';

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

  it('tail fails after its session expired: its predecessor is tail and may serve at once', () => {
    const next = changed(decide(chain(['a', 'b', 'c']), view(['a', 'b'])));
    assert.deepEqual(next.members, ['a', 'b']);
    assert.equal(next.readsAllowedAtMs, 0);
  });

  it('a tail removed on a peer report, session still live: the new tail waits out the session timeout', () => {
    const next = changed(decide(chain(['a', 'b', 'c']), view(['a', 'b', 'c'], { suspectedNodes: new Set(['c']) })));
    assert.deepEqual(next.members, ['a', 'b']);
    assert.equal(next.readsAllowedAtMs, 1_000 + 3_000);
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

  it('keeps its invariants over any sequence of views (property)', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e'];
    const subset = fc.subarray(nodes);
    const viewArb = fc.record({
      live: subset,
      suspected: subset,
      caughtUp: subset,
      candidates: fc.shuffledSubarray(nodes),
      nowMs: fc.nat(100_000),
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
