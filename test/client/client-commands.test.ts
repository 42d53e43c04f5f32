// Every typed client method against a real node (in this process, on LMDB in a temp directory),
// through `Client` and through `ClusterClient` pointed at the same standalone node: strings and
// Buffers in, Buffers out, numbers where they fit and bigint for versions and counters.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '../../src/client/client.js';
import type { ClientCommands } from '../../src/client/client-commands.js';
import { ClusterClient } from '../../src/client/cluster-client.js';
import { CatenaError } from '../../src/core/errors.js';
import { CatenaNode } from '../../src/server/node.js';
import { tempDir } from '../helpers/tmp.js';

const binary = Buffer.from([0, 0xff, 0x80, 0x0a, 0x00]);

const variants: { name: string; connect(port: number): Promise<ClientCommands & { close(): Promise<void> }> }[] = [
  { name: 'Client', connect: (port) => Client.connect({ port }) },
  {
    name: 'ClusterClient on a standalone node',
    connect: (port) => ClusterClient.connect({ seeds: [`127.0.0.1:${port}`] }),
  },
];

describe('typed client methods against a node', () => {
  const dir = tempDir('catena-client-');
  let node: CatenaNode;

  before(async () => {
    node = await CatenaNode.start({ dataDir: dir.path, port: 0, durability: 'memory' });
  });
  after(async () => {
    await node.stop();
    dir.remove();
  });

  for (const variant of variants) {
    describe(variant.name, () => {
      let client: ClientCommands & { close(): Promise<void> };
      before(async () => {
        client = await variant.connect(node.port);
        await client.flush();
      });
      after(() => client.close());

      it('put, get, getString, del: strings and Buffers in, Buffers out, bigint versions, number TTLs', async () => {
        const first = await client.put('greeting', 'hello wörld');
        assert.equal(typeof first.version, 'bigint');
        const entry = await client.get('greeting');
        assert.ok(entry !== undefined && Buffer.isBuffer(entry.value) && Buffer.isBuffer(entry.key));
        assert.equal(entry.value.toString(), 'hello wörld');
        assert.equal(entry.version, first.version);
        assert.equal(entry.ttlMs, 0);
        assert.equal(await client.getString('greeting'), 'hello wörld');
        assert.equal(await client.getString('missing'), undefined);
        assert.equal(await client.get('missing'), undefined);

        await client.put(binary, new Uint8Array(binary), { ttlMs: 60_000 });
        const raw = await client.get(Buffer.from(binary));
        assert.deepEqual(raw?.value, binary, 'binary-safe both ways');
        assert.ok(typeof raw.ttlMs === 'number' && raw.ttlMs > 59_000 && raw.ttlMs <= 60_000, `ttl ${raw.ttlMs}`);
        assert.equal(await client.del(binary), true);
        assert.equal(await client.del(binary), false);
      });

      it('set: nx, xx, a version, returnPrevious, flags, expiry', async () => {
        const stored = await client.set('s', 'one', { when: 'absent' });
        assert.equal(stored.stored, true);
        assert.deepEqual(await client.set('s', 'two', { when: 'absent' }), { stored: false, version: stored.version });
        assert.equal((await client.set('s-missing', 'x', { when: 'present' })).stored, false);
        assert.equal(await client.get('s-missing'), undefined, 'a refused set writes nothing');

        const swapped = await client.set('s', 'three', { when: { version: stored.version }, returnPrevious: true });
        assert.equal(swapped.stored, true);
        assert.deepEqual(swapped.previous, Buffer.from('one'));
        const stale = await client.set('s', 'four', { when: { version: stored.version } });
        assert.deepEqual(stale, { stored: false, version: swapped.version });
        const previousOfMissing = await client.set('s-new', 'x', { returnPrevious: true });
        assert.equal(previousOfMissing.previous, undefined);
        assert.ok(!('previous' in (await client.set('s-new', 'y'))), 'no previous unless asked');

        await client.set('s', 'five', { ttlMs: 5_000, flags: 42 });
        const ttl = await client.ttl('s');
        assert.ok(ttl !== undefined && ttl > 4_000 && ttl <= 5_000, `ttl ${ttl}`);
        await client.set('s', 'six', { keepTtl: true });
        assert.ok(((await client.ttl('s')) ?? 0) > 0, 'keepTtl keeps the expiry');
        await assert.rejects(
          client.set('s', 'x', { ttlMs: 10, keepTtl: true }),
          (e: unknown) => e instanceof CatenaError && e.code === 'ERR_INVALID_ARGUMENT',
        );
      });

      it('mput and mget: pairs, objects and Maps in; one result per key, in order', async () => {
        const written = await client.mput([
          ['m:a', 'A'],
          ['m:b', binary],
        ]);
        assert.equal(typeof written.version, 'bigint');
        await client.mput({ 'm:c': 'C' });
        await client.mput(new Map([['m:d', 'D']]));
        await client.set('m:f', 'F', { flags: 7 });
        const items = await client.mget(['m:a', 'm:missing', Buffer.from('m:b'), 'm:c', 'm:d', 'm:f']);
        assert.deepEqual(
          items.map((item) => item?.value),
          [Buffer.from('A'), undefined, binary, Buffer.from('C'), Buffer.from('D'), Buffer.from('F')],
        );
        assert.equal(items[0]?.version, written.version - 1n, 'each entry gets its own version, in order');
        assert.equal(items[2]?.key.toString(), 'm:b');
        assert.equal(items[5]?.flags, 7);
        assert.equal(items[0]?.flags, 0);
      });

      it('getdel, incr (bigint past 2^53), append and prepend, cas, expire, expireAt, ttl', async () => {
        await client.put('g', 'gone soon');
        assert.deepEqual(await client.getdel('g'), Buffer.from('gone soon'));
        assert.equal(await client.getdel('g'), undefined);

        assert.equal(await client.incr('n'), 1n);
        assert.equal(await client.incr('n', -3), -2n);
        assert.equal(await client.incr('n', 2n ** 60n), 2n ** 60n - 2n);

        assert.equal(await client.append('log', 'b'), 1);
        assert.equal(await client.append('log', 'c'), 2);
        assert.equal(await client.append('log', 'a', { prepend: true }), 3);
        assert.equal(await client.getString('log'), 'abc');

        const { version } = await client.put('c', 'v1');
        assert.deepEqual(await client.cas('c', version + 1n, 'no'), { swapped: false, version });
        const swapped = await client.cas('c', version, 'v2', { ttlMs: 10_000 });
        assert.equal(swapped.swapped, true);
        assert.equal((await client.cas('c-new', 0, 'first')).swapped, true);

        assert.equal(await client.expire('c', 0), true);
        assert.equal(await client.ttl('c'), 0);
        assert.equal(await client.expire('nope', 100), false);
        assert.equal(await client.ttl('nope'), undefined);
        assert.equal(await client.expireAt('c', Date.now() + 30_000), true);
        const ttl = await client.ttl('c');
        assert.ok(ttl !== undefined && ttl > 25_000 && ttl <= 30_000, `ttl ${ttl}`);
      });

      it('size, getkeys, gettable, scan, entries, ping, stats, topology, nodeStatus, flush', async () => {
        await client.flush();
        await client.mput([
          ['p:1', 'one'],
          ['p:2', 'two'],
          ['p:3', 'three'],
          ['q:1', 'other'],
        ]);
        assert.deepEqual(await client.size(), { keys: 4, bytes: (await client.size()).bytes });
        const keys = await client.getkeys({ prefix: 'p:', limit: 2 });
        assert.deepEqual(
          keys.keys.map((k) => k.toString()),
          ['p:1', 'p:2'],
        );
        assert.equal(keys.truncated, true);
        const table = await client.gettable({ prefix: 'p:' });
        assert.deepEqual(
          table.entries.map((e) => e.value.toString()),
          ['one', 'two', 'three'],
        );
        const page = await client.scan({ prefix: 'p:', after: 'p:1', limit: 1 });
        assert.deepEqual(
          page.entries.map((e) => e.key.toString()),
          ['p:2'],
        );
        assert.equal(page.cursor?.toString(), 'p:2');
        const all: string[] = [];
        for await (const e of client.entries({ pageSize: 2 })) all.push(e.key.toString());
        assert.deepEqual(all, ['p:1', 'p:2', 'p:3', 'q:1']);

        assert.deepEqual(await client.ping(), Buffer.from('PONG'));
        assert.deepEqual(await client.ping('echo'), Buffer.from('echo'));
        const stats = await client.stats();
        assert.equal(typeof stats.uptimeMs, 'number');
        assert.equal(stats.keys, 4);
        assert.ok(stats.commands.some((c) => c.name === 'mput' && c.calls >= 1 && typeof c.p99Us === 'number'));
        assert.equal((await client.topology()).cluster, '');
        assert.equal((await client.nodeStatus()).role, 'standalone');
        assert.equal(await client.flush(), 4);
        assert.equal((await client.size()).keys, 0);
      });
    });
  }
});
