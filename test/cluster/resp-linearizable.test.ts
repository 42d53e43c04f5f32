// Issue #6: "every reply is as linearizable as the native protocol's, on any node". Redis
// clients (ioredis) pipeline GET, SET, INCR and DEL on a few keys through the middle and the tail
// of a 3-node chain, so every write is relayed to the head and reads are relayed to the tail or
// served there; the head is SIGKILLed half-way. The recorded history, plus a final read of every
// key, must be linearizable (values only: Redis replies carry no versions), and operations must
// complete again after the failover.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { checkHistory } from '../../src/testing/linearizability/checker.js';
import { HistoryRecorder, type Input, type Output } from '../../src/testing/linearizability/history.js';
import { finalReads, sleep, startCluster } from '../helpers/cluster.js';
import { killLeftoverServers } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const keys = 4;
const clientsPerNode = 2;
const runMs = 9_000;
const killAtMs = 2_500;

/** One Redis command for an input, and its reply as the checker's output (undefined: unknown). */
async function perform(redis: Redis, key: string, input: Input): Promise<Output | undefined> {
  try {
    switch (input.f) {
      case 'get': {
        const value = await redis.get(key);
        return value === null ? { f: 'get', found: false } : { f: 'get', found: true, value };
      }
      case 'put':
        await redis.set(key, input.value);
        return { f: 'put' };
      case 'incr':
        return { f: 'incr', value: BigInt(await redis.incrby(key, Number(input.delta))) };
      case 'del':
        return { f: 'del', deleted: (await redis.del(key)) === 1 };
      default:
        throw new Error(`unexpected input ${input.f}`);
    }
  } catch (error) {
    const message = String(error);
    if (/value is not an integer/.test(message)) return { f: 'error', reason: 'not-an-integer' };
    return undefined; // TRYAGAIN, CLUSTERDOWN, a closed connection: the outcome is unknown
  }
}

describe('RESP through a 3-node chain while the head is killed', () => {
  const dir = tempDir();
  after(async () => {
    await killLeftoverServers();
    dir.remove();
  });

  it('keeps every history linearizable, on whichever node a client is connected to', async () => {
    const cluster = await startCluster({
      nodes: 3,
      coordinator: 'embedded',
      dir: join(dir.path, 'c'),
      sessionTimeoutMs: 2_000,
    });
    const recorder = new HistoryRecorder();
    const redises: Redis[] = [];
    try {
      const chain = await cluster.waitForMembers(3);
      const head = cluster.byId(chain.members[0]!);
      const survivors = chain.members.slice(1).map((id) => cluster.byId(id));
      const started = Date.now();
      let okAfterKill = 0;
      let unknown = 0;
      let killed = false;
      const worker = async (index: number, port: number): Promise<void> => {
        const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, commandTimeout: 15_000 });
        redises.push(redis);
        for (let step = 0; Date.now() - started < runMs; step++) {
          const key = `k${(index + step) % keys}`;
          const roll = (index * 7 + step * 13) % 10;
          const input: Input =
            roll < 4
              ? { f: 'get' }
              : roll < 7
                ? { f: 'put', value: String(index * 1_000_000 + step) }
                : roll < 9
                  ? { f: 'incr', delta: 1n }
                  : { f: 'del' };
          const finish = recorder.invoke(index, key, input, performance.now());
          const output = await perform(redis, key, input);
          finish(output, performance.now());
          if (output === undefined) unknown += 1;
          else if (killed) okAfterKill += 1;
        }
      };
      const workers = survivors.flatMap((server, n) =>
        Array.from({ length: clientsPerNode }, (_, i) => worker(n * clientsPerNode + i, server.respPort!)),
      );
      await sleep(killAtMs);
      head.kill('SIGKILL');
      killed = true;
      await Promise.all(workers);
      const operations = [...recorder.operations];
      await finalReads(cluster, keys, operations);
      const check = checkHistory(operations);
      console.log(
        `RESP history: ${operations.length} operations, ${unknown} with unknown outcome, ${okAfterKill} completed after the kill`,
      );
      assert.ok(check.ok, check.ok ? '' : `not linearizable on ${check.key}: ${check.reason}`);
      assert.ok(okAfterKill > 50, `operations complete again after the failover (${okAfterKill})`);
    } finally {
      for (const redis of redises) redis.disconnect();
      await cluster.stop();
    }
  });
});
