// The ZooKeeper backend against a real ZooKeeper (Debian's package, started per file by
// src/testing/zookeeper.ts): the shared contract, a chroot, and URL parsing. Without ZooKeeper
// the suite is skipped loudly on a workstation and fails on CI (CI must install it with
// scripts/install-system-packages.sh).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectCoordinator } from '../../src/coordination/connect.js';
import { parseZooKeeperUrl } from '../../src/coordination/zookeeper-coordinator.js';
import { CatenaError } from '../../src/core/errors.js';
import { startZooKeeper, zookeeperAvailable } from '../../src/testing/zookeeper.js';
import { bytes } from '../helpers/tmp.js';
import { contractSessionTimeoutMs, coordinatorContract } from './coordinator-contract.js';

const zookeeperOptions = { tickTimeMs: 100, minSessionTimeoutMs: 500, maxSessionTimeoutMs: 10_000 };
const available = zookeeperAvailable();
const onCi = process.env['CI'] !== undefined && process.env['CI'] !== '';
const skip = available ? undefined : 'ZooKeeper is not installed: run scripts/install-system-packages.sh as root';

if (!available && !onCi) {
  process.stderr.write(
    `\n${'!'.repeat(78)}\n!! SKIPPING the ZooKeeper coordinator suite: ZooKeeper is not installed.\n` +
      `!! Install it with: sudo scripts/install-system-packages.sh\n${'!'.repeat(78)}\n\n`,
  );
}

describe('zookeeper availability', () => {
  it('is installed when CI is set', { skip: onCi ? undefined : 'not on CI' }, () => {
    assert.ok(available, 'CI must install ZooKeeper (scripts/install-system-packages.sh)');
  });
});

coordinatorContract(
  'zookeeper',
  async () => {
    const zookeeper = await startZooKeeper(zookeeperOptions);
    return {
      address: { host: zookeeper.host, port: zookeeper.port },
      urlFor: (address) => `zk://${address.host}:${address.port}`,
      stop: () => zookeeper.stop(),
    };
  },
  { skip },
);

describe('zookeeper backend', { skip }, () => {
  it('with a cluster secret, what a node creates is closed to clients without it', async () => {
    const zookeeper = await startZooKeeper(zookeeperOptions);
    const secret = Buffer.from('a cluster secret of 32 bytes!!!!');
    const options = { sessionTimeoutMs: contractSessionTimeoutMs };
    const member = await connectCoordinator(zookeeper.url, { ...options, secret });
    const stranger = await connectCoordinator(zookeeper.url, options);
    const otherCluster = await connectCoordinator(zookeeper.url, {
      ...options,
      secret: Buffer.from('another secret, another cluster!'),
    });
    const sameCluster = await connectCoordinator(zookeeper.url, { ...options, secret });
    try {
      await member.ensurePath('/catena/prod');
      await member.create('/catena/prod/chain', bytes('epoch 7'), 'persistent');
      await member.multi([{ kind: 'create', path: '/catena/prod/nodes', data: bytes(''), mode: 'persistent' }]);
      for (const client of [stranger, otherCluster]) {
        await assert.rejects(client.get('/catena/prod/chain'), /NO_AUTH/);
        await assert.rejects(client.set('/catena/prod/chain', bytes('epoch 1'), -1), /NO_AUTH/);
        await assert.rejects(client.delete('/catena/prod/nodes', -1), /NO_AUTH/);
        await assert.rejects(client.create('/catena/prod/nodes/x', bytes(''), 'ephemeral'), /NO_AUTH/);
        await assert.rejects(client.children('/catena/prod'), /NO_AUTH/);
      }
      // A subtree made by someone without the secret before the cluster first started is refused,
      // not used: they could read and rewrite everything the cluster put in it.
      await stranger.ensurePath('/catena/squatted/nodes');
      await assert.rejects(member.ensurePath('/catena/squatted/nodes'), /exists with an ACL other than this cluster's/);
      // The top level is shared: another cluster on the same ensemble makes its own subtree.
      await otherCluster.ensurePath('/catena/staging');
      await assert.rejects(member.get('/catena/staging'), /NO_AUTH/);
      // Every node of the cluster holds the secret: another session reads and writes.
      assert.equal(Buffer.from((await sameCluster.get('/catena/prod/chain'))!.data).toString(), 'epoch 7');
      await sameCluster.set('/catena/prod/chain', bytes('epoch 8'), -1);
      assert.deepEqual(await sameCluster.children('/catena/prod'), ['chain', 'nodes']);
    } finally {
      for (const client of [member, stranger, otherCluster, sameCluster]) await client.close();
      await zookeeper.stop();
    }
  });

  it('creates a missing chroot and keeps every path inside it', async () => {
    const zookeeper = await startZooKeeper(zookeeperOptions);
    try {
      const inside = await connectCoordinator(`${zookeeper.url}/catena/test`, {
        sessionTimeoutMs: contractSessionTimeoutMs,
      });
      const outside = await connectCoordinator(zookeeper.url, { sessionTimeoutMs: contractSessionTimeoutMs });
      try {
        assert.equal(await inside.create('/a', bytes('x'), 'persistent'), '/a');
        assert.equal(await outside.exists('/catena/test/a'), 0);
        assert.deepEqual(await inside.children('/'), ['a']);
      } finally {
        await inside.close();
        await outside.close();
      }
    } finally {
      await zookeeper.stop();
    }
  });
});

describe('zookeeper URLs', () => {
  it('parses hosts, default ports and a chroot', () => {
    assert.deepEqual(parseZooKeeperUrl('zk://a:1,b:2/x/y'), { hosts: 'a:1,b:2', chroot: '/x/y' });
    assert.deepEqual(parseZooKeeperUrl('zk://zk1'), { hosts: 'zk1:2181', chroot: undefined });
    assert.deepEqual(parseZooKeeperUrl('zk://127.0.0.1:2181/'), { hosts: '127.0.0.1:2181', chroot: undefined });
  });

  it('rejects malformed URLs with ERR_INVALID_ARGUMENT', () => {
    for (const url of ['zk://', 'zk://a:99999', 'zk://a:1,,b:2', 'zk://a:1/x/', 'zk://a b:1', 'zookeeper://a:1']) {
      assert.throws(
        () => parseZooKeeperUrl(url),
        (error: unknown) => error instanceof CatenaError && error.code === 'ERR_INVALID_ARGUMENT',
        url,
      );
    }
  });
});
