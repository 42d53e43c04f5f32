// Recovery never goes backwards: the pure rules (when a node refuses a coordinator below its log,
// what `catena chain rebuild` writes), then real nodes in this process over the embedded
// coordinator: a lost coordinator.json is refused and rebuilt from the nodes' logs with nothing
// acknowledged lost, and a node started from a copy of a live node's data directory refuses to
// start instead of evicting it; over a real ZooKeeper, an empty ensemble is refused too (skipped,
// saying so, when ZooKeeper is not installed).

import assert from 'node:assert/strict';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ClusterClient } from '../../src/client/cluster-client.js';
import { runChain } from '../../src/cli/chain-command.js';
import { clusterPaths } from '../../src/coordination/cluster-paths.js';
import { connectCoordinator } from '../../src/coordination/connect.js';
import { EmbeddedCoordinatorServer } from '../../src/coordination/embedded-coordinator.js';
import {
  behindReason,
  planRebuild,
  readChainConfigs,
  readRecoveryRecords,
  type RecoveryRecord,
} from '../../src/coordination/recovery.js';
import type { ChainConfig } from '../../src/replication/chain-config.js';
import { CatenaError } from '../../src/core/errors.js';
import { CatenaNode } from '../../src/server/node.js';
import { tempDir } from '../helpers/tmp.js';
import { startZooKeeper, zookeeperAvailable, type ZooKeeperServer } from '../../src/testing/zookeeper.js';
import { encodeJson } from '../../src/coordination/cluster-paths.js';
import { ManagerDriver } from '../../src/coordination/manager-driver.js';
import { silentLogger } from '../../src/core/log.js';

const config = (chainId: string, epoch: number, members: string[] = ['a']): ChainConfig => ({
  chainId,
  epoch,
  members,
  joining: undefined,
  readsAllowedAtMs: 0,
});
const record = (nodeId: string, chainId: string, lastEpoch: number, lastSequence: number): RecoveryRecord => ({
  nodeId,
  chainId,
  lastEpoch,
  lastSequence,
  where: 'host:/data',
  atMs: 0,
});

describe('recovery rules', () => {
  it('a node with a log refuses a coordinator with no chain, or with its chain below its log', () => {
    const logged = { chainId: 'c0', lastEpoch: 7, lastSequence: 120 };
    assert.match(behindReason(logged, []) ?? '', /holds no chain configuration.*epoch 7, sequence 120/);
    assert.match(behindReason(logged, [config('c0', 1)]) ?? '', /chain c0 at epoch 1.*up to epoch 7/);
    assert.equal(behindReason(logged, [config('c0', 7)]), undefined, 'at its epoch: a normal restart');
    assert.equal(behindReason(logged, [config('c0', 9)]), undefined);
    assert.equal(behindReason(logged, [config('c1', 1)]), undefined, 'its chain retired, others alive: a spare');
    assert.equal(behindReason({ chainId: '', lastEpoch: 0, lastSequence: 0 }, []), undefined, 'an empty log joins');
  });

  it('rebuilds each chain one epoch above its highest logged epoch, from the furthest log', () => {
    const records = [
      record('a', 'c0', 5, 900),
      record('b', 'c0', 6, 850), // a later epoch wins over a longer log of an earlier one
      record('c', 'c0', 6, 840),
      record('d', 'c1', 3, 10),
      record('e', 'c1', 3, 12),
      record('f', 'c2', 0, 0), // nothing logged: not a source
    ];
    const plan = planRebuild(records, [config('c1', 2, ['x'])]);
    assert.deepEqual(
      plan.map((p) => [p.config.chainId, p.config.epoch, p.config.members, p.replaces?.epoch]),
      [
        ['c0', 7, ['b'], undefined],
        ['c1', 4, ['e'], 2],
      ],
    );
    assert.deepEqual(planRebuild(records, [config('c0', 8), config('c1', 4)]), [], 'already above: nothing');
  });
});

const sessionTimeoutMs = 1000;

async function startCoordinator(dataFile: string, port = 0): Promise<EmbeddedCoordinatorServer> {
  return EmbeddedCoordinatorServer.start({ port, dataFile, sessionTimeoutMsMin: 500, sessionTimeoutMsMax: 10_000 });
}

function startNode(dataDir: string, coordinator: number | string): Promise<CatenaNode> {
  return CatenaNode.start({
    dataDir,
    port: 0,
    durability: 'memory',
    cluster: {
      name: 'rec',
      coordinator: typeof coordinator === 'string' ? coordinator : `embedded://127.0.0.1:${coordinator}`,
      peerPort: 0,
      sessionTimeoutMs,
    },
  });
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`timed out waiting until ${what}`);
}

async function chainOf(port: number): Promise<ChainConfig | undefined> {
  const coordinator = await connectCoordinator(`embedded://127.0.0.1:${port}`, { sessionTimeoutMs: 2000 });
  try {
    return (await readChainConfigs(coordinator, clusterPaths('rec')))[0];
  } finally {
    await coordinator.close();
  }
}

describe('a lost coordinator state, with real nodes', () => {
  const dir = tempDir('catena-recovery-');
  const nodes: CatenaNode[] = [];
  const coordinators: EmbeddedCoordinatorServer[] = [];
  after(async () => {
    for (const node of nodes) await node.stop().catch(() => undefined);
    for (const coordinator of coordinators) await coordinator.stop().catch(() => undefined);
    dir.remove();
  });

  it('refuses to join, and `catena chain rebuild` restarts the chain above every logged epoch', async () => {
    const dataFile = join(dir.path, 'coordinator.json');
    let coordinator = await startCoordinator(dataFile);
    coordinators.push(coordinator);
    const port = coordinator.port;
    const dirs = ['n0', 'n1'].map((name) => join(dir.path, name));
    for (const d of dirs) nodes.push(await startNode(d, port));
    await eventually(async () => (await chainOf(port))?.members.length === 2, 'both nodes are members');
    const client = await ClusterClient.connect({ seeds: nodes.map((n) => `127.0.0.1:${n.port}`) });
    const acked = new Map<string, string>();
    for (let i = 0; i < 50; i++) {
      await client.put(`k${i}`, `v${i}`);
      acked.set(`k${i}`, `v${i}`);
    }
    await client.close();
    const epochBefore = (await chainOf(port))!.epoch;
    for (const node of nodes.splice(0)) await node.stop();
    await coordinator.stop();

    // The coordinator's file is lost; a new, empty one starts on the same port.
    rmSync(dataFile);
    coordinator = await startCoordinator(dataFile, port);
    coordinators.push(coordinator);
    for (const d of dirs) {
      await assert.rejects(
        startNode(d, port),
        (error: unknown) =>
          error instanceof CatenaError &&
          /coordinator holds no chain configuration, but this node's log holds chain c0 up to epoch \d+/.test(
            error.message,
          ) &&
          /catena chain rebuild/.test(error.message),
      );
    }
    assert.equal(await chainOf(port), undefined, 'no chain was started at epoch 1');

    const url = `embedded://127.0.0.1:${port}`;
    const coordinatorClient = await connectCoordinator(url, { sessionTimeoutMs: 2000 });
    const records = await readRecoveryRecords(coordinatorClient, clusterPaths('rec'));
    await coordinatorClient.close();
    assert.equal(records.length, 2, 'each refusing node recorded where its log ends');
    const highest = Math.max(...records.map((r) => r.lastEpoch));
    assert.ok(highest >= 1 && highest <= epochBefore, `logged epochs (${highest}) are the chain's (${epochBefore})`);

    assert.equal(await runChain(['rebuild', '--coordinator', url, '--cluster', 'rec']), 0, 'dry run');
    assert.equal(await chainOf(port), undefined, 'a dry run writes nothing');
    assert.equal(await runChain(['rebuild', '--yes', '--coordinator', url, '--cluster', 'rec']), 0);
    const rebuilt = await chainOf(port);
    assert.equal(rebuilt?.epoch, highest + 1, 'the chain starts one epoch above the highest logged');

    for (const d of dirs) nodes.push(await startNode(d, port));
    await eventually(async () => (await chainOf(port))?.members.length === 2, 'the other node rejoined');
    const after = await ClusterClient.connect({ seeds: nodes.map((n) => `127.0.0.1:${n.port}`) });
    try {
      for (const [key, value] of acked) assert.equal((await after.get(key))?.value.toString(), value, key);
      await after.put('after-rebuild', 'yes'); // the head takes writes (it crashed here before)
      assert.equal((await after.get('after-rebuild'))?.value.toString(), 'yes');
    } finally {
      await after.close();
    }
    assert.ok(existsSync(dataFile));
  });
});

describe('two nodes with one node id', () => {
  const dir = tempDir('catena-dupid-');
  const nodes: CatenaNode[] = [];
  let coordinator: EmbeddedCoordinatorServer | undefined;
  after(async () => {
    for (const node of nodes) await node.stop().catch(() => undefined);
    await coordinator?.stop();
    dir.remove();
  });

  it('a node started from a copy of a live node data directory refuses to start; the live one keeps its place', async () => {
    coordinator = await startCoordinator(join(dir.path, 'coordinator.json'));
    const original = join(dir.path, 'original');
    const first = await startNode(original, coordinator.port);
    await first.stop();
    const copy = join(dir.path, 'copy');
    cpSync(original, copy, { recursive: true });
    const live = await startNode(original, coordinator.port);
    nodes.push(live);
    await eventually(async () => (await chainOf(coordinator!.port))?.members[0] === live.nodeId, 'it heads the chain');
    const copyStart = startNode(copy, coordinator.port);
    await assert.rejects(
      copyStart,
      (error: unknown) =>
        error instanceof CatenaError &&
        new RegExp(`node id ${live.nodeId} is in use by a live node`).test(error.message) &&
        error.message.includes(original) &&
        /refuses to start/.test(error.message),
    );
    // The live node's znode is still its own: it still serves.
    const client = await ClusterClient.connect({ seeds: [`127.0.0.1:${live.port}`] });
    await client.put('still', 'here');
    assert.equal((await client.get('still'))?.value.toString(), 'here');
    await client.close();
    // A restart of the live node itself (same directory) replaces its old znode at once.
    await live.stop();
    nodes.pop();
    nodes.push(await startNode(original, coordinator.port));
  });
});

describe('a ZooKeeper with no znodes, with a real node', () => {
  const dir = tempDir('catena-recovery-zk-');
  const servers: ZooKeeperServer[] = [];
  const nodes: CatenaNode[] = [];
  after(async () => {
    for (const node of nodes) await node.stop().catch(() => undefined);
    for (const server of servers) await server.stop().catch(() => undefined);
    dir.remove();
  });

  it(
    'refuses to join an empty ensemble while its log holds entries',
    { skip: zookeeperAvailable() ? false : 'ZooKeeper is not installed (scripts/install-system-packages.sh)' },
    async () => {
      const first = await startZooKeeper();
      servers.push(first);
      const dataDir = join(dir.path, 'n0');
      const node = await startNode(dataDir, first.url);
      nodes.push(node);
      const client = await ClusterClient.connect({ seeds: [`127.0.0.1:${node.port}`] });
      await client.put('zk-key', 'zk-value');
      await client.close();
      await node.stop();
      nodes.pop();
      // Another, empty ensemble (its data lost): the node must not start a chain at epoch 1 there.
      const empty = await startZooKeeper();
      servers.push(empty);
      await assert.rejects(
        startNode(dataDir, empty.url),
        (error: unknown) =>
          error instanceof CatenaError && /coordinator holds no chain configuration/.test(error.message),
      );
      const coordinator = await connectCoordinator(empty.url, { sessionTimeoutMs: 4000 });
      try {
        const records = await readRecoveryRecords(coordinator, clusterPaths('rec'));
        assert.deepEqual(
          records.map((r) => [r.nodeId, r.chainId, r.lastSequence > 0]),
          [[node.nodeId, 'c0', true]],
        );
        assert.deepEqual(await readChainConfigs(coordinator, clusterPaths('rec')), [], 'no chain started');
      } finally {
        await coordinator.close();
      }
    },
  );
});

describe('the manager starting a chain', () => {
  it('starts it above every epoch a registered node logged for a chain of that id (a chain id reused)', async () => {
    const coordinatorServer = await EmbeddedCoordinatorServer.start({ port: 0 });
    const coordinator = await connectCoordinator(`embedded://127.0.0.1:${coordinatorServer.port}`, {
      sessionTimeoutMs: 2000,
    });
    try {
      const paths = clusterPaths('reuse');
      for (const path of [paths.nodes, paths.manager, paths.chains]) await coordinator.ensurePath(path);
      const spare = {
        nodeId: 'spare',
        native: '',
        peer: '',
        admin: '',
        resp: '',
        memcached: '',
        lastSequence: 40,
        lastEpoch: 9,
        chainId: 'c0',
        awaitingRemoval: false,
      };
      await coordinator.create(paths.node('spare'), encodeJson(spare), 'ephemeral');
      const lock = await coordinator.create(`${paths.manager}/lock-`, encodeJson('spare'), 'ephemeral-sequential');
      await new ManagerDriver(coordinator, paths, lock, silentLogger).evaluate();
      const [started] = await readChainConfigs(coordinator, paths);
      assert.deepEqual([started?.chainId, started?.epoch, started?.members], ['c0', 10, ['spare']]);
    } finally {
      await coordinator.close();
      await coordinatorServer.stop();
    }
  });
});
