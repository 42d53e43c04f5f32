// The dashboard's event log (src/server/cluster-events.ts) on made-up topology snapshots: each
// change a node's watches deliver becomes one event with the time it was seen, a slot move is
// followed from its first batch to its last, and the log stays bounded.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterEventsKept } from '../../src/core/limits.js';
import {
  ClusterEventLog,
  type BatchSnapshot,
  type ChainSnapshot,
  type TopologySnapshot,
} from '../../src/server/cluster-events.js';

const chain = (chainId: string, epoch: number, members: string[], joining = ''): ChainSnapshot => ({
  chainId,
  epoch,
  members,
  joining,
});

const healthy: TopologySnapshot = {
  manager: 'n0',
  nodes: ['n0', 'n1', 'n2'],
  chains: [chain('c0', 3, ['n0', 'n1', 'n2'])],
  batch: undefined,
};

const kinds = (log: ClusterEventLog) => log.events().map((event) => event.kind);
const texts = (log: ClusterEventLog) => log.events().map((event) => event.text);

describe('ClusterEventLog', () => {
  it('starts with one event summing up what it sees', () => {
    const log = new ClusterEventLog();
    log.observe(healthy, 1_000);
    assert.deepEqual(log.events(), [
      {
        seq: 1,
        atMs: 1_000,
        kind: 'watching',
        chainId: null,
        nodeId: null,
        text: 'watching the cluster: 1 chain, 3 nodes, manager n0',
      },
    ]);
  });

  it('logs nothing when nothing changed', () => {
    const log = new ClusterEventLog();
    log.observe(healthy, 1_000);
    log.observe({ ...healthy, chains: [chain('c0', 3, ['n0', 'n1', 'n2'])] }, 2_000);
    assert.equal(log.events().length, 1);
  });

  it('a head failover: the head removed, the new head named, then the node gone and a new manager', () => {
    const log = new ClusterEventLog();
    log.observe(healthy, 1_000);
    log.observe({ ...healthy, chains: [chain('c0', 4, ['n1', 'n2'])] }, 2_000);
    log.observe(
      { manager: 'n1', nodes: ['n1', 'n2'], chains: [chain('c0', 4, ['n1', 'n2'])], batch: undefined },
      3_000,
    );
    assert.deepEqual(kinds(log), ['watching', 'failover', 'node-down', 'manager']);
    assert.deepEqual(texts(log).slice(1), [
      'failover in c0: head n0 removed (epoch 4); n1 is the head',
      'node n0 is gone (its coordinator session ended)',
      'n1 is the manager (was n0)',
    ]);
    const failover = log.events()[1]!;
    assert.deepEqual([failover.atMs, failover.chainId, failover.nodeId], [2_000, 'c0', 'n0']);
  });

  it('a tail and a middle removed, then a node back: it registers, catches up and joins as the tail', () => {
    const log = new ClusterEventLog();
    log.observe({ ...healthy, nodes: ['n0', 'n1', 'n2', 'n3'], chains: [chain('c0', 1, ['n0', 'n1', 'n2', 'n3'])] }, 0);
    log.observe({ ...healthy, chains: [chain('c0', 2, ['n0', 'n2'])] }, 1);
    log.observe({ ...healthy, nodes: ['n0', 'n1', 'n2', 'n3'], chains: [chain('c0', 2, ['n0', 'n2'], 'n3')] }, 2);
    log.observe({ ...healthy, nodes: ['n0', 'n1', 'n2', 'n3'], chains: [chain('c0', 3, ['n0', 'n2', 'n3'])] }, 3);
    assert.deepEqual(texts(log).slice(1), [
      'failover in c0: middle n1 removed (epoch 2)',
      'failover in c0: tail n3 removed (epoch 2); n2 is the tail',
      'node n3 is gone (its coordinator session ended)',
      'node n3 registered',
      'n3 is catching up to join c0',
      'n3 joined c0 as its tail (epoch 3)',
    ]);
  });

  it('chains added and retired', () => {
    const log = new ClusterEventLog();
    log.observe(healthy, 0);
    log.observe({ ...healthy, chains: [...healthy.chains, chain('c1', 1, ['n3'])] }, 1);
    log.observe(healthy, 2);
    assert.deepEqual(texts(log).slice(1), ['chain c1 started with n3', 'chain c1 retired']);
  });

  describe('a slot move', () => {
    const batch = (first: number, last: number, stage: 'copy' | 'drop', remaining: number): BatchSnapshot => ({
      first,
      last,
      from: 'c0',
      to: 'c1',
      stage,
      remaining,
      planned: 8192,
    });
    const withBatch = (b: BatchSnapshot | undefined): TopologySnapshot => ({ ...healthy, batch: b });

    it('is followed from its first batch to its last, with its progress between batches', () => {
      const log = new ClusterEventLog();
      log.observe(healthy, 0);
      assert.equal(log.progress(), null);
      log.observe(withBatch(batch(8192, 12287, 'copy', 8192)), 10);
      assert.deepEqual(log.progress(), {
        first: 8192,
        last: 12287,
        from: 'c0',
        to: 'c1',
        stage: 'copy',
        remaining: 8192,
        planned: 8192,
        startedAtMs: 10,
      });
      log.observe(withBatch(batch(8192, 12287, 'drop', 8192)), 20);
      assert.equal(log.progress()!.remaining, 4096, 'the batch is handed over');
      log.observe(withBatch(undefined), 30);
      assert.deepEqual([log.progress()!.stage, log.progress()!.remaining], ['next-batch', 4096]);
      // The last batch's drop stage is never seen: its hand-over is still logged.
      log.observe(withBatch(batch(12288, 16383, 'copy', 4096)), 40);
      log.observe(withBatch(undefined), 50);
      assert.equal(log.progress(), null);
      assert.deepEqual(texts(log).slice(1), [
        'slot move started: 8192 slots to move, first slots 8192-12287 c0 → c1',
        'slots 8192-12287 handed over from c0 to c1',
        'slots 12288-16383 handed over from c0 to c1',
        'slot move finished: 8192 slots moved',
      ]);
    });

    it('seen first in the middle: no start event, and the progress it can tell', () => {
      const log = new ClusterEventLog();
      log.observe(withBatch(batch(0, 1023, 'drop', 2048)), 5);
      assert.match(log.events()[0]!.text, /a slot move under way \(slots 0-1023 c0 → c1\)/);
      assert.deepEqual([log.progress()!.remaining, log.progress()!.startedAtMs], [1024, null]);
      log.observe(withBatch(undefined), 6);
      log.observe(withBatch(batch(1024, 2047, 'copy', 1024)), 7);
      log.observe(withBatch(batch(1024, 2047, 'drop', 1024)), 8);
      log.observe(withBatch(undefined), 9);
      assert.deepEqual(kinds(log), ['watching', 'slots-moved', 'move-finished']);
    });
  });

  it('keeps the newest clusterEventsKept events', () => {
    const log = new ClusterEventLog();
    log.observe(healthy, 0);
    for (let i = 1; i <= clusterEventsKept; i++) {
      log.observe({ ...healthy, manager: i % 2 === 0 ? 'n0' : 'n1' }, i);
    }
    const events = log.events();
    assert.equal(events.length, clusterEventsKept);
    assert.equal(events[0]!.seq, 2, 'the oldest went first');
    assert.equal(events.at(-1)!.seq, clusterEventsKept + 1);
  });
});
