// Client authentication in a cluster (docs/security.md): every node of a 3-node chain requires
// authentication, and a command sent to any node is served wherever it runs. A RESP or memcached
// command read by the middle or the tail that writes is relayed to the head over the node's own
// connections, authenticated as its relay user (--relay-auth-file); the user's permissions are
// checked where the client connected. Native clients authenticate on every connection they open.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClusterClient } from '../../src/client/cluster-client.js';
import { CatenaError } from '../../src/core/errors.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { Conn } from '../helpers/conn.js';
import { killLeftoverServers } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const resp = (...words: string[]): string =>
  `*${words.length}\r\n${words.map((word) => `$${Buffer.byteLength(word)}\r\n${word}\r\n`).join('')}`;

async function replies(port: number, script: string): Promise<string> {
  const conn = new Conn(port);
  conn.send(script);
  return conn.waitClosed();
}

describe('client authentication on a 3-node chain (relays authenticate as the relay user)', () => {
  const dir = tempDir('catena-auth-cluster-');
  let cluster: TestCluster;

  before(async () => {
    const acl = join(dir.path, 'users.acl');
    const relay = join(dir.path, 'relay.auth');
    writeFileSync(
      acl,
      'user relay on >relay-secret-1 +@all\nuser reader on >readpw +@read\nuser writer on >writepw +@read +@write\n',
      { mode: 0o600 },
    );
    writeFileSync(relay, 'relay relay-secret-1\n', { mode: 0o600 });
    cluster = await startCluster({
      nodes: 3,
      coordinator: 'embedded',
      dir: join(dir.path, 'cluster'),
      serverArgs: ['--acl-file', acl, '--relay-auth-file', relay],
      clientAuth: { user: 'reader', password: 'readpw' },
    });
  });

  after(async () => {
    await cluster?.stop();
    await killLeftoverServers();
    dir.remove();
  });

  it('RESP: a write sent to every node is relayed to the head and read back from every node', async () => {
    for (const [i, server] of cluster.servers.entries()) {
      const out = await replies(
        server.respPort!,
        resp('SET', `c:${i}`, 'v') +
          resp('AUTH', 'writer', 'writepw') +
          resp('SET', `c:${i}`, `from-${i}`) +
          resp('INCR', 'c:n') +
          resp('QUIT'),
      );
      assert.equal(out, `-NOAUTH Authentication required.\r\n+OK\r\n+OK\r\n:${i + 1}\r\n+OK\r\n`, `node ${i}`);
    }
    for (const [i, server] of cluster.servers.entries()) {
      const out = await replies(
        server.respPort!,
        resp('AUTH', 'reader', 'readpw') +
          resp('MGET', 'c:0', 'c:1', 'c:2', 'c:n') +
          resp('SET', 'c:0', 'x') +
          resp('QUIT'),
      );
      assert.equal(
        out,
        '+OK\r\n*4\r\n$6\r\nfrom-0\r\n$6\r\nfrom-1\r\n$6\r\nfrom-2\r\n$1\r\n3\r\n' +
          "-NOPERM this user has no permissions to run the 'set' command\r\n+OK\r\n",
        `node ${i}`,
      );
    }
  });

  it('memcached: authenticated with its first set on any node, relayed like RESP', async () => {
    for (const [i, server] of cluster.servers.entries()) {
      const out = await replies(
        server.memcachedPort!,
        `get m:${i}\r\nset a 0 0 14\r\nwriter writepw\r\nset m:${i} 0 0 1\r\n${i}\r\nget m:${i}\r\nquit\r\n`,
      );
      assert.equal(out, `CLIENT_ERROR unauthenticated\r\nSTORED\r\nSTORED\r\nVALUE m:${i} 0 1\r\n${i}\r\nEND\r\n`);
    }
  });

  it('native: a ClusterClient authenticates on every node it talks to; a reader cannot write', async () => {
    const seeds = cluster.servers.map((server) => `127.0.0.1:${server.port}`);
    await assert.rejects(
      ClusterClient.connect({ seeds, timeoutMs: 5_000 }),
      (error: unknown) => error instanceof CatenaError && error.code === 'ERR_NOAUTH',
    );
    const writer = await ClusterClient.connect({ seeds, auth: { user: 'writer', password: 'writepw' } });
    const reader = await ClusterClient.connect({ seeds, auth: { user: 'reader', password: 'readpw' } });
    try {
      await writer.put('n:k', 'v'); // at the head
      assert.equal((await reader.get('n:k'))?.value.toString(), 'v'); // at the tail
      assert.equal((await reader.get('c:1'))?.value.toString(), 'from-1');
      await assert.rejects(
        reader.put('n:k', 'w'),
        (error: unknown) => error instanceof CatenaError && error.code === 'ERR_NOPERM',
      );
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });
});
