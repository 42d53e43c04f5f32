// --admin-host and --peer-host: the admin and peer ports listen on their own address (a private
// interface), not the clients' --host, and the node publishes the peer address it listens on.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { clusterPaths, decodeNodeInfo } from '../../src/coordination/cluster-paths.js';
import { connectCoordinator } from '../../src/coordination/connect.js';
import { EmbeddedCoordinatorServer } from '../../src/coordination/embedded-coordinator.js';
import { killLeftoverServers, startServer } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const reachable = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

describe('listen addresses', () => {
  const dir = tempDir();
  after(async () => {
    await killLeftoverServers();
    dir.remove();
  });

  it('the admin and peer ports listen where --admin-host and --peer-host say', async () => {
    const coordinator = await EmbeddedCoordinatorServer.start({ port: 0, sessionTimeoutMsMin: 500 });
    const server = await startServer({
      dataDir: dir.path,
      durability: 'memory',
      extraArgs: [
        '--admin-port',
        '0',
        '--admin-host',
        '127.0.0.2',
        '--cluster',
        'hosts',
        '--coordinator',
        coordinator.url,
        '--peer-host',
        '127.0.0.3',
      ],
    });
    try {
      const admin = /admin http:\/\/127\.0\.0\.2:(\d+)/.exec(server.stdout());
      const peer = /peer 127\.0\.0\.3:(\d+)/.exec(server.stdout());
      assert.ok(admin !== null && peer !== null, server.stdout());
      const [adminPort, peerPort] = [Number(admin[1]), Number(peer[1])];
      const health = await fetch(`http://127.0.0.2:${adminPort}/health`);
      assert.equal(health.status, 200);
      assert.equal(await reachable('127.0.0.1', adminPort), false, 'the admin port is not on --host');
      assert.equal(await reachable('127.0.0.3', peerPort), true);
      assert.equal(await reachable('127.0.0.1', peerPort), false, 'the peer port is not on --host');
      // Other nodes are told the address the peer port listens on.
      const client = await connectCoordinator(coordinator.url, { sessionTimeoutMs: 2_000 });
      try {
        let published: string | undefined;
        for (let i = 0; i < 50 && published === undefined; i++) {
          const found = await client.get(clusterPaths('hosts').node(server.nodeId));
          published = found === undefined ? undefined : decodeNodeInfo(found.data)?.peer;
          if (published === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.equal(published, `127.0.0.3:${peerPort}`);
      } finally {
        await client.close();
      }
    } finally {
      await server.stop();
      await coordinator.stop();
    }
  });
});
