// `catena status`: the report built from made-up topology and nodestatus replies, rendered for
// people and as the JSON document; then gathered from fake nodes (one of them dead), and the
// command itself run as a child process against them.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClusterClient, type Topology } from '../../src/client/cluster-client.js';
import { parseArgs } from '../../src/cli/args.js';
import { connectionFlags, seedsFromFlags } from '../../src/cli/connection.js';
import {
  alignColumns,
  buildReport,
  gatherStatus,
  renderStatus,
  standaloneReport,
  statusDocument,
  type NodeAnswer,
  type StatusDocument,
} from '../../src/cli/status.js';
import { statusExitCodes } from '../../src/client/cluster-health.js';
import type { ReplyOf } from '../../src/protocol/native/codec.js';
import { FakeCluster, result } from '../client/fake-cluster.js';
import { runCli } from '../helpers/cli.js';
import { repoRoot } from '../helpers/server-process.js';

const topology: Topology = result({
  case: 'topology',
  value: {
    cluster: 'demo',
    manager: 'n2',
    chains: [{ chainId: 'c0', epoch: 7n, members: ['n1', 'n2', 'n3'], joining: 'n4' }],
    nodes: [
      { nodeId: 'n1', native: '127.0.0.1:7000' },
      { nodeId: 'n2', native: '127.0.0.1:7010' },
      { nodeId: 'n3', native: '127.0.0.1:7020' },
      { nodeId: 'n4', native: '127.0.0.1:7030' },
      { nodeId: 'n5', native: '127.0.0.1:7040' },
    ],
  },
}).value as Topology;

function status(init: Partial<Omit<ReplyOf<'nodestatus'>, '$typeName'>>): NodeAnswer {
  const reply = result({ case: 'nodestatus', value: { chainId: 'c0', epoch: 7n, sessionConnected: true, ...init } });
  return { ok: true, status: reply.value as ReplyOf<'nodestatus'> };
}

const answers = new Map<string, NodeAnswer>([
  [
    'n1',
    status({ nodeId: 'n1', role: 'head', lastSequence: 1042n, persistedSequence: 1042n, committedSequence: 1040n }),
  ],
  ['n2', { ok: false, code: 'ERR_TIMEOUT', message: 'request timed out after 1000 ms' }],
  [
    'n3',
    status({
      nodeId: 'n3',
      role: 'tail',
      lastSequence: 1040n,
      persistedSequence: 1040n,
      committedSequence: 1040n,
      servingReads: true,
    }),
  ],
  [
    'n4',
    status({ nodeId: 'n4', role: 'joining', lastSequence: 900n, persistedSequence: 899n, committedSequence: 900n }),
  ],
  ['n5', status({ nodeId: 'n5', role: 'middle', epoch: 6n, sessionConnected: false })],
]);

describe('catena status report (pure)', () => {
  it('renders each chain in order with aligned columns, lag against the tail, and unreachable nodes', () => {
    assert.equal(
      renderStatus(buildReport(topology, answers)),
      [
        'cluster demo  manager n2',
        '',
        'chain c0  epoch 7  3 members, joining n4',
        '  ROLE     NODE  NATIVE          EPOCH  LAST  PERSISTED  COMMITTED  LAG   SESSION    READS  MGR',
        '  head     n1    127.0.0.1:7000  7      1042  1042       1040       +2    connected  no',
        '  middle   n2    127.0.0.1:7010  -      -     -          -          -     -          -      *    unreachable: ERR_TIMEOUT request timed out after 1000 ms',
        '  tail     n3    127.0.0.1:7020  7      1040  1040       1040       0     connected  yes',
        '  joining  n4    127.0.0.1:7030  7      900   899        900        -140  connected  no',
        '',
        'nodes in no chain (spare: they join a chain that needs a node)',
        '  ROLE     NODE  NATIVE          EPOCH  LAST  PERSISTED  COMMITTED  LAG  SESSION  READS  MGR',
        '  outside  n5    127.0.0.1:7040  6      0     0          0          -    lost     no          node says middle',
        '',
        'problems (degraded):',
        '  chain c0 middle n2 unreachable (ERR_TIMEOUT request timed out after 1000 ms): writes wait until the manager removes it',
        '  spare node n5 lost its coordinator session',
      ].join('\n'),
    );
  });

  it('shows lag as unknown when the tail does not answer, and a cluster with no chain yet', () => {
    const tailDown = new Map(answers).set('n3', { ok: false, code: 'ERR_CONNECTION_FAILED', message: 'refused' });
    const text = renderStatus(buildReport(topology, tailDown));
    assert.match(text, /^ {2}head +n1 .* 1040 +\? +connected/m);
    const empty = result({ case: 'topology', value: { cluster: 'demo', nodes: topology.nodes } }).value as Topology;
    const emptyText = renderStatus(buildReport(empty, answers));
    assert.ok(emptyText.startsWith('cluster demo  manager (none elected)\nno chain configured yet\n'), emptyText);
    assert.equal(emptyText.split('\n').filter((line) => line.startsWith('  outside')).length, 5);
  });

  it("shows each chain's slots and a move in progress with its progress bar", () => {
    const sharded = result({
      case: 'topology',
      value: {
        cluster: 'demo',
        manager: 'n2',
        nodes: topology.nodes.map((n) => ({ nodeId: n.nodeId, native: n.native })),
        chains: [
          { chainId: 'c0', epoch: 7n, members: ['n1', 'n2', 'n3'], joining: '' },
          { chainId: 'c1', epoch: 2n, members: ['n4'], joining: '' },
        ],
        slots: [
          { first: 0, last: 8191, chainId: 'c0' },
          { first: 8192, last: 16383, chainId: 'c1' },
        ],
        slotsVersion: 5n,
        migration: {
          first: 4096,
          last: 5119,
          fromChain: 'c0',
          toChain: 'c1',
          stage: 'copy',
          remaining: 3072,
          planned: 4096,
        },
      },
    }).value as Topology;
    const report = buildReport(sharded, answers);
    const text = renderStatus(report);
    assert.match(text, /^chain c0 {2}epoch 7 {2}3 members {2}8192 slots \(0-8191\)$/m);
    assert.match(text, /^chain c1 {2}epoch 2 {2}1 members {2}8192 slots \(8192-16383\)$/m);
    assert.match(text, /^moving slots 4096-5119 from c0 to c1 \(copying\)$/m);
    assert.match(text, /^ {2}\[#{8}\.{22}\] 25% {2}3072 of 4096 slots still to move$/m);
    const doc = statusDocument(report);
    assert.deepEqual(
      doc.chains.map((c) => [c.chainId, c.slots]),
      [
        ['c0', 8192],
        ['c1', 8192],
      ],
    );
    assert.deepEqual(doc.migration, {
      first: 4096,
      last: 5119,
      from: 'c0',
      to: 'c1',
      stage: 'copy',
      remaining: 3072,
      planned: 4096,
    });
  });

  it('prints a stable JSON document: every key present, null when unknown', () => {
    const doc = statusDocument(buildReport(topology, answers));
    assert.deepEqual(Object.keys(doc), [
      'cluster',
      'manager',
      'standalone',
      'chains',
      'outside',
      'migration',
      'health',
      'problems',
    ]);
    assert.equal(doc.health, 'degraded');
    assert.deepEqual(doc.problems, [
      {
        chain: 'c0',
        node: 'n2',
        problem: 'unreachable',
        severity: 'degraded',
        detail: 'ERR_TIMEOUT request timed out after 1000 ms',
      },
      { chain: null, node: 'n5', problem: 'session-lost', severity: 'degraded', detail: '' },
    ]);
    assert.equal(doc.migration, null);
    assert.equal(doc.chains[0]!.slots, null, 'no slot map yet');
    assert.equal(doc.standalone, null);
    assert.equal(doc.chains.length, 1);
    const chain = doc.chains[0]!;
    assert.equal(chain.epoch, 7);
    assert.deepEqual(
      chain.members.map((m) => [m.nodeId, m.role, m.reachable, m.lag, m.manager]),
      [
        ['n1', 'head', true, 2, false],
        ['n2', 'middle', false, null, true],
        ['n3', 'tail', true, 0, false],
      ],
    );
    assert.deepEqual(chain.members[1], {
      nodeId: 'n2',
      role: 'middle',
      native: '127.0.0.1:7010',
      reachable: false,
      error: { code: 'ERR_TIMEOUT', message: 'request timed out after 1000 ms' },
      reportedRole: null,
      epoch: null,
      lastSequence: null,
      persistedSequence: null,
      committedSequence: null,
      lag: null,
      sessionConnected: null,
      servingReads: null,
      manager: true,
    });
    assert.deepEqual(chain.joining, {
      nodeId: 'n4',
      role: 'joining',
      native: '127.0.0.1:7030',
      reachable: true,
      error: null,
      reportedRole: 'joining',
      epoch: 7,
      lastSequence: 900,
      persistedSequence: 899,
      committedSequence: 900,
      lag: -140,
      sessionConnected: true,
      servingReads: false,
      manager: false,
    });
    assert.deepEqual(
      doc.outside.map((n) => [n.nodeId, n.role, n.reportedRole, n.lag]),
      [['n5', 'outside', 'middle', null]],
    );
    assert.doesNotThrow(() => JSON.stringify(doc));
  });

  it('renders a standalone node as one row', () => {
    const report = standaloneReport({
      nodeId: 'f00d',
      role: 'standalone',
      native: '127.0.0.1:7000',
      answer: status({
        nodeId: 'f00d',
        role: 'standalone',
        chainId: '',
        epoch: 0n,
        lastSequence: 12n,
        sessionConnected: false,
        servingReads: true,
      }),
    });
    assert.equal(
      renderStatus(report),
      [
        'standalone node f00d at 127.0.0.1:7000',
        '  ROLE        NODE  NATIVE          EPOCH  LAST  PERSISTED  COMMITTED  LAG  SESSION  READS  MGR',
        '  standalone  f00d  127.0.0.1:7000  0      12    0          0          -    -        yes',
      ].join('\n'),
    );
    assert.equal(statusDocument(report).standalone?.lastSequence, 12);
  });

  it('aligns every column but the last', () => {
    assert.deepEqual(
      alignColumns([
        ['a', 'bb', 'c'],
        ['ddd', 'e', ''],
      ]),
      ['a    bb  c', 'ddd  e'],
    );
  });
});

describe('connection flags (status, shell, one-shot commands)', () => {
  const seeds = (...argv: string[]) => seedsFromFlags(parseArgs(argv, connectionFlags), connectionFlags);

  it('takes --seeds, comma-separated, plus --host/--port when given; else the default address', () => {
    assert.deepEqual(seeds(), ['127.0.0.1:7000']);
    assert.deepEqual(seeds('--port', '7010'), ['127.0.0.1:7010']);
    assert.deepEqual(seeds('--seeds', 'a:1, b:2,,c:3'), ['a:1', 'b:2', 'c:3']);
    assert.deepEqual(seeds('--seeds', 'a:1,b:2', '--port', '7020'), ['127.0.0.1:7020', 'a:1', 'b:2']);
    assert.deepEqual(seeds('--host', '::1', '--port', '7000'), ['[::1]:7000']);
    assert.throws(() => seeds('--seeds', ','), { code: 'ERR_INVALID_ARGUMENT' });
  });
});

describe('catena status against fake nodes', () => {
  let fake: FakeCluster;
  let standalone: FakeCluster;

  before(async () => {
    fake = await FakeCluster.start(['a', 'b', 'c']);
    fake.setChain(['a', 'b'], { joining: 'c' });
    standalone = await FakeCluster.start(['s'], { cluster: '' });
  });

  after(async () => {
    await fake.close();
    await standalone.close();
  });

  it('asks every node in parallel and shows a dead one as unreachable', async () => {
    await fake.kill('c');
    const client = await ClusterClient.connect({ seeds: [fake.node('a').address] });
    try {
      const report = await gatherStatus(client, { nodeTimeoutMs: 500 });
      const chain = report.chains[0]!;
      assert.deepEqual(
        chain.members.map((m) => [m.nodeId, m.role, m.answer.ok]),
        [
          ['a', 'head', true],
          ['b', 'tail', true],
        ],
      );
      assert.equal(chain.joining?.answer.ok, false);
      assert.equal(chain.joining?.answer.ok === false && chain.joining.answer.code, 'ERR_CONNECTION_FAILED');
    } finally {
      await client.close();
    }
  });

  it('with --watch, exits with the code of its last report once stopped', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'status', '--watch', '--seeds', fake.node('a').address],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('problems (degraded)')) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, statusExitCodes.degraded, out);
  });

  it('runs as `catena status` for a cluster (--json) and a standalone node', async () => {
    const [cluster, single, help, nobody] = await Promise.all([
      runCli(['status', '--seeds', `${fake.node('b').address},${fake.node('a').address}`, '--json'], 20_000),
      runCli(['status', '--port', String(standalone.node('s').port)], 20_000),
      runCli(['status', '--help'], 20_000),
      runCli(['status', '--seeds', fake.node('c').address, '--timeout', '2000'], 20_000),
    ]);
    // Only the dead node as a seed: no node answers, which is a report (unavailable), not an error.
    assert.equal(nobody.code, statusExitCodes.unavailable, nobody.stderr);
    assert.match(
      nobody.stdout,
      /^no node answered: ERR_CONNECTION_FAILED .*\n\nproblems \(unavailable\):\n {2}no node answered: /,
    );
    // The joining node c was killed above: everything is served, with less to spare.
    assert.equal(cluster.code, statusExitCodes.degraded, cluster.stderr);
    const doc = JSON.parse(cluster.stdout) as StatusDocument;
    assert.equal(doc.cluster, 'test');
    assert.deepEqual(
      doc.chains[0]?.members.map((m) => m.nodeId),
      ['a', 'b'],
    );
    assert.equal(doc.health, 'degraded');
    assert.deepEqual(
      doc.problems.map((p) => [p.chain, p.node, p.problem]),
      [['c0', 'c', 'unreachable']],
    );
    assert.equal(single.code, 0, single.stderr);
    assert.doesNotMatch(single.stdout, /problems/);
    assert.match(single.stdout, /^standalone node s at 127\.0\.0\.1:\d+\n {2}ROLE /);
    assert.equal(help.code, 0);
    assert.ok(help.stdout.startsWith('Usage: catena status '), help.stdout);
    assert.ok(help.stdout.includes('--endpoints <value>'));
    assert.ok(help.stdout.includes('-h, --host <value>') && help.stdout.includes('CATENA_ENDPOINTS'));
    assert.match(help.stdout, /^ {2}0 {2}healthy: .*\n(?:.*\n)*? {2}4 {2}degraded: (?:.*\n)*? {2}5 {2}unavailable: /m);
  });
});
