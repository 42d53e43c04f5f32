// The cluster's health from a `catena status` report, on made-up replies: each kind of problem,
// how bad it is where it happens (a chain serves writes at its head, reads at its tail), the
// lines printed under the report, and the exit code.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Topology } from '../../src/client/cluster-client.js';
import { findProblems, healthOf, renderProblems, statusExitCodes } from '../../src/client/cluster-health.js';
import {
  buildReport,
  renderStatus,
  standaloneReport,
  statusDocument,
  unansweredReport,
  type NodeAnswer,
  type StatusReport,
} from '../../src/cli/status.js';
import type { ReplyOf } from '../../src/protocol/native/codec.js';
import { result } from '../client/fake-cluster.js';

interface ChainSpec {
  id: string;
  members: string[];
  joining?: string;
}

/** A topology of these chains plus spare nodes, every node registered at a made-up address. */
function topologyOf(chains: ChainSpec[], spares: string[] = []): Topology {
  const ids = [...chains.flatMap((c) => [...c.members, ...(c.joining === undefined ? [] : [c.joining])]), ...spares];
  return result({
    case: 'topology',
    value: {
      cluster: 'demo',
      manager: ids[0] ?? '',
      chains: chains.map((c) => ({ chainId: c.id, epoch: 3n, members: c.members, joining: c.joining ?? '' })),
      nodes: ids.map((nodeId, i) => ({ nodeId, native: `127.0.0.1:${7000 + 10 * i}` })),
    },
  }).value as Topology;
}

function answer(init: Partial<Omit<ReplyOf<'nodestatus'>, '$typeName'>>): NodeAnswer {
  const reply = result({ case: 'nodestatus', value: { epoch: 3n, sessionConnected: true, ...init } });
  return { ok: true, status: reply.value as ReplyOf<'nodestatus'> };
}

const down: NodeAnswer = { ok: false, code: 'ERR_CONNECTION_FAILED', message: 'connect ECONNREFUSED' };

/** Every node healthy in its place (the tail serving reads), then the overrides. */
function report(chains: ChainSpec[], spares: string[] = [], overrides: Record<string, NodeAnswer> = {}): StatusReport {
  const answers = new Map<string, NodeAnswer>();
  for (const chain of chains) {
    chain.members.forEach((nodeId, i) => {
      const last = i === chain.members.length - 1;
      const role = chain.members.length === 1 ? 'head-and-tail' : i === 0 ? 'head' : last ? 'tail' : 'middle';
      answers.set(nodeId, answer({ nodeId, chainId: chain.id, role, servingReads: last }));
    });
    if (chain.joining !== undefined) answers.set(chain.joining, answer({ nodeId: chain.joining, role: 'joining' }));
  }
  for (const nodeId of spares) answers.set(nodeId, answer({ nodeId, role: 'outside' }));
  for (const [nodeId, override] of Object.entries(overrides)) answers.set(nodeId, override);
  return buildReport(topologyOf(chains, spares), answers);
}

const chain3: ChainSpec = { id: 'c0', members: ['h', 'm', 't'] };
const summary = (r: StatusReport) => findProblems(r).map((p) => [p.chain, p.node, p.problem, p.severity]);

describe('cluster health (pure)', () => {
  it('is healthy when every node answers, is connected, and every tail serves reads: no problems printed', () => {
    const healthy = report([chain3, { id: 'c1', members: ['a', 'b'], joining: 'j' }], ['s']);
    assert.deepEqual(findProblems(healthy), []);
    assert.equal(healthOf(findProblems(healthy)), 'healthy');
    assert.doesNotMatch(renderStatus(healthy), /problems/);
    assert.deepEqual(statusDocument(healthy).problems, []);
    assert.equal(statusDocument(healthy).health, 'healthy');
  });

  it('an unreachable member costs what its place serves: head writes, tail reads, a middle only slack', () => {
    assert.deepEqual(summary(report([chain3], [], { h: down })), [['c0', 'h', 'unreachable', 'unavailable']]);
    assert.deepEqual(summary(report([chain3], [], { t: down })), [['c0', 't', 'unreachable', 'unavailable']]);
    assert.deepEqual(summary(report([chain3], [], { m: down })), [['c0', 'm', 'unreachable', 'degraded']]);
    const single = report([{ id: 'c0', members: ['only'] }], [], { only: down });
    assert.deepEqual(summary(single), [['c0', 'only', 'unreachable', 'unavailable']]);
    assert.deepEqual(renderProblems(findProblems(report([chain3], [], { t: down }))), [
      'problems (unavailable):',
      '  chain c0 tail t unreachable (ERR_CONNECTION_FAILED connect ECONNREFUSED): the chain serves no reads',
    ]);
    assert.match(
      renderStatus(report([chain3], [], { h: down })),
      /\n {2}chain c0 head h unreachable .*: the chain takes no writes$/,
    );
    assert.match(renderStatus(single), /chain c0 head-and-tail only unreachable .*: the chain serves nothing$/);
  });

  it('a joining or spare node that does not answer leaves the cluster degraded', () => {
    const r = report([{ ...chain3, joining: 'j' }], ['s'], { j: down, s: down });
    assert.deepEqual(summary(r), [
      ['c0', 'j', 'unreachable', 'degraded'],
      [null, 's', 'unreachable', 'degraded'],
    ]);
    assert.equal(healthOf(findProblems(r)), 'degraded');
    assert.match(renderStatus(r), /^ {2}spare node s unreachable \(ERR_CONNECTION_FAILED connect ECONNREFUSED\)$/m);
  });

  it('a member whose coordinator session is lost is degraded (it still serves)', () => {
    const r = report([chain3], [], {
      t: answer({ nodeId: 't', role: 'tail', servingReads: true, sessionConnected: false }),
    });
    assert.deepEqual(summary(r), [['c0', 't', 'session-lost', 'degraded']]);
    assert.deepEqual(renderProblems(findProblems(r)), [
      'problems (degraded):',
      '  chain c0 tail t lost its coordinator session',
    ]);
  });

  it('a tail that answers but does not serve reads makes the chain unavailable', () => {
    const r = report([chain3], [], { t: answer({ nodeId: 't', role: 'tail', servingReads: false }) });
    assert.deepEqual(summary(r), [['c0', 't', 'not-serving-reads', 'unavailable']]);
    assert.match(renderStatus(r), /chain c0 tail t does not serve reads: the chain serves no reads$/);
  });

  it('a member that restarted and waits for its removal serves nothing in its place', () => {
    const r = report([chain3], [], {
      t: answer({ nodeId: 't', role: 'restarted', servingReads: false }),
      m: answer({ nodeId: 'm', role: 'restarted' }),
    });
    assert.deepEqual(summary(r), [
      ['c0', 'm', 'restarted', 'degraded'],
      ['c0', 't', 'restarted', 'unavailable'],
    ]);
  });

  it('a configured chain with no members, or a cluster with no chain yet, is unavailable', () => {
    const empty = report([chain3, { id: 'c1', members: [] }]);
    assert.deepEqual(summary(empty), [['c1', null, 'no-members', 'unavailable']]);
    assert.match(renderStatus(empty), /\n {2}chain c1 has no members: its keys are not served$/);
    const none = report([], ['s']);
    assert.deepEqual(summary(none), [[null, null, 'no-chain', 'unavailable']]);
    assert.match(renderStatus(none), /\nproblems \(unavailable\):\n {2}no chain configured yet: nothing is served$/);
  });

  it('the worst problem decides, and each problem of a chain is listed in chain order', () => {
    const r = report([chain3, { id: 'c1', members: ['a', 'b'] }], [], { m: down, b: down });
    assert.deepEqual(summary(r), [
      ['c0', 'm', 'unreachable', 'degraded'],
      ['c1', 'b', 'unreachable', 'unavailable'],
    ]);
    assert.equal(healthOf(findProblems(r)), 'unavailable');
  });

  it('a standalone node is healthy when it answers (it has no session), unavailable when it does not', () => {
    const node = { nodeId: 'f00d', role: 'standalone' as const, native: '127.0.0.1:7000' };
    const up = standaloneReport({
      ...node,
      answer: answer({ role: 'standalone', sessionConnected: false, servingReads: true }),
    });
    assert.deepEqual(findProblems(up), []);
    assert.deepEqual(summary(standaloneReport({ ...node, answer: down })), [
      [null, 'f00d', 'unreachable', 'unavailable'],
    ]);
  });

  it('no node answering is a report of its own: unavailable, in text and JSON', () => {
    const r = unansweredReport({ code: 'ERR_CONNECTION_FAILED', message: 'could not connect to 127.0.0.1:7000' });
    assert.equal(
      renderStatus(r),
      [
        'no node answered: ERR_CONNECTION_FAILED could not connect to 127.0.0.1:7000',
        '',
        'problems (unavailable):',
        '  no node answered: ERR_CONNECTION_FAILED could not connect to 127.0.0.1:7000',
      ].join('\n'),
    );
    const doc = statusDocument(r);
    assert.equal(doc.health, 'unavailable');
    assert.deepEqual(doc.problems, [
      {
        chain: null,
        node: null,
        problem: 'no-node-answered',
        severity: 'unavailable',
        detail: 'ERR_CONNECTION_FAILED could not connect to 127.0.0.1:7000',
      },
    ]);
    assert.deepEqual([doc.cluster, doc.chains, doc.outside, doc.standalone], ['', [], [], null]);
  });

  it("exit codes are distinct, 0 only when healthy, and clear of every catena command's own", () => {
    const codes = Object.values(statusExitCodes);
    assert.equal(statusExitCodes.healthy, 0);
    assert.equal(new Set(codes).size, codes.length);
    for (const taken of [1, 2, 3, 70]) assert.ok(!codes.includes(taken), `${taken} means something else`);
  });
});
