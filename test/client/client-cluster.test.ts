// `Client` pointed at any node of a cluster (issue 19, part 2): a write at a node that is not its
// chain's head fails with ERR_NOT_HEAD naming the head's client address (not a bare node id), a
// read away from the tail with ERR_NOT_TAIL naming the tail's, and a Client connected to the
// address named works. ClusterClient, seeded with any node, runs the typed commands on the
// cluster. Three real `catena server` processes, one chain, on the embedded coordinator.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '../../src/client/client.js';
import { ClusterClient } from '../../src/client/cluster-client.js';
import { CatenaError, type ErrorCode } from '../../src/core/errors.js';
import { startCluster, type ChainView, type TestCluster } from '../helpers/cluster.js';
import { killLeftoverServers } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

/** The message of the error `promise` rejects with, asserting it is a CatenaError with `code`. */
async function failure(promise: Promise<unknown>, code: ErrorCode): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof CatenaError, String(error));
    assert.equal(error.code, code, error.message);
    return error.message;
  }
  return assert.fail(`expected ${code}`);
}

describe('Client against any node of a 3-node chain', { concurrency: 1 }, () => {
  const dir = tempDir();
  let cluster: TestCluster;
  let chain: ChainView;
  const opened: { close(): Promise<void> }[] = [];
  const address = (nodeId: string) => `127.0.0.1:${cluster.byId(nodeId).port}`;
  const connect = async (nodeId: string) => {
    const client = await Client.connect({ port: cluster.byId(nodeId).port });
    opened.push(client);
    return client;
  };

  before(async () => {
    cluster = await startCluster({ nodes: 3, coordinator: 'embedded', dir: dir.path, durability: 'memory' });
    chain = await cluster.waitForChain((c) => c.members.length === 3, 'a chain of three');
  });
  after(async () => {
    await Promise.all(opened.map((client) => client.close()));
    await cluster?.stop();
    await killLeftoverServers();
    dir.remove();
  });

  it("a write at the tail fails with ERR_NOT_HEAD naming the head's address; a Client there writes", async () => {
    const head = chain.members[0]!;
    const tail = chain.members.at(-1)!;
    const message = await failure((await connect(tail)).put('greeting', 'hello'), 'ERR_NOT_HEAD');
    assert.ok(
      message.includes(`the head is ${address(head)} (node ${head})`),
      `the error names the head's address: ${message}`,
    );
    assert.match(message, /ClusterClient/, 'and points at the client that finds it');

    const named = /the head is ([^ ]+:\d+) /.exec(message)![1]!;
    const [host, port] = [named.slice(0, named.lastIndexOf(':')), Number(named.slice(named.lastIndexOf(':') + 1))];
    const atHead = await Client.connect({ host, port });
    opened.push(atHead);
    assert.equal(typeof (await atHead.put('greeting', 'hello')).version, 'bigint');
  });

  it("a read at the head fails with ERR_NOT_TAIL naming the tail's address; the tail answers it", async () => {
    const tail = chain.members.at(-1)!;
    const message = await failure((await connect(chain.members[0]!)).get('greeting'), 'ERR_NOT_TAIL');
    assert.ok(message.includes(`the tail is ${address(tail)} (node ${tail})`), message);
    assert.equal(await (await connect(tail)).getString('greeting'), 'hello');
  });

  it('ClusterClient seeded with the middle node runs the typed commands on the chain', async () => {
    const client = await ClusterClient.connect({ seeds: [address(chain.members[1]!)], timeoutMs: 15_000 });
    opened.push(client);
    assert.equal(await client.getString('greeting'), 'hello');
    await client.mput({ 'c:a': 'A', 'c:b': 'B' });
    assert.equal((await client.set('c:a', 'again', { when: 'absent' })).stored, false);
    const [a, missing, b] = await client.mget(['c:a', 'c:missing', 'c:b']);
    assert.deepEqual([a?.value.toString(), missing, b?.value.toString()], ['A', undefined, 'B']);
    assert.deepEqual(await client.getdel('c:b'), Buffer.from('B'));
    assert.equal(await client.incr('c:n', 5), 5n);
    assert.equal(await client.flush(), 3, 'greeting, c:a and c:n');
    assert.deepEqual(await client.size(), { keys: 0, bytes: 0 });
  });
});
