// Node-side dumps (src/server/dump.ts): the line format (golden lines, hostile lines, a
// round-trip property), the stream check split at every offset, dumps of both engines that parse
// back to exactly what was stored (binary bytes, expiries, flags, several pages), the atomic file
// write, backpressure and a destination that goes away, GET /dump on an AdminServer, and GET /dump
// on a real standalone `catena server --admin-port`.

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { Client } from '../../src/client/client.js';
import { ManualClock } from '../../src/core/clock.js';
import { keyBytesMax, dumpHeaderBytesMax, dumpLineCharsMax, dumpPageRecords } from '../../src/core/limits.js';
import { silentLogger } from '../../src/core/log.js';
import { AdminServer } from '../../src/server/admin.js';
import {
  decodeDump,
  decodeDumpBytes,
  decodeDumpHeader,
  decodeDumpRecord,
  dumpToFile,
  DumpStreamCheck,
  encodeDumpBytes,
  encodeDumpHeader,
  encodeDumpRecord,
  writeDump,
  writeFileAtomically,
  type DumpRecord,
  type DumpSource,
} from '../../src/server/dump.js';
import { LmdbStore } from '../../src/storage/lmdb-store.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import type { Store } from '../../src/storage/store.js';
import { Conn } from '../helpers/conn.js';
import { killLeftoverServers, startServer } from '../helpers/server-process.js';
import { bytes, tempDir } from '../helpers/tmp.js';

const hourMs = 3_600_000;

/** Records as plain comparable values: bytes as hex. */
const plain = (records: readonly DumpRecord[]) =>
  records.map((r) => ({
    key: Buffer.from(r.key).toString('hex'),
    value: Buffer.from(r.value).toString('hex'),
    version: r.version,
    expiresAtMs: r.expiresAtMs,
    flags: r.flags,
  }));

/** Everything the store would return to a reader now, in key order, read with a plain scan. */
function storeContents(store: Store): DumpRecord[] {
  const records: DumpRecord[] = [];
  let after: Uint8Array | undefined;
  do {
    const page = store.scan({ after, limit: 100 });
    records.push(...page.entries);
    after = page.cursor;
  } while (after !== undefined);
  return records;
}

/**
 * A store with the cases a dump must carry: text, binary and control-character keys and values,
 * an empty value, flags, a future expiry, a key already expired (left out), and enough keys for
 * several pages. Returns the records a dump must hold.
 */
function fill(store: Store, clock: ManualClock): void {
  store.put(bytes('plain'), bytes('hello'));
  store.put(Buffer.from([0x00, 0xff, 0x0a]), Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]));
  store.put(bytes('tab\tkey'), bytes('line\nbreak'));
  store.put(bytes('c1-\u0085'), bytes('next line (U+0085)'));
  store.put(bytes('emoji-🔑'), bytes('välue ✓'));
  store.put(bytes('empty'), Buffer.alloc(0));
  store.put(bytes('flagged'), bytes('with flags'), { flags: 0xffff_ffff });
  store.put(bytes('expiring'), bytes('for an hour'), { expiresAtMs: clock.nowMs() + hourMs, flags: 7 });
  store.put(bytes('expired'), bytes('gone'), { expiresAtMs: clock.nowMs() + 10 });
  store.put(Buffer.alloc(keyBytesMax, 0x80), Buffer.alloc(1000, 0x01));
  for (let i = 0; i < dumpPageRecords * 2 + 17; i++)
    store.put(bytes(`bulk:${String(i).padStart(5, '0')}`), bytes(`v${i}`));
  clock.advance(10); // 'expired' is now expired, not yet reclaimed
}

describe('dump line format', () => {
  it('writes text as strings and anything else as base64 (golden lines)', () => {
    assert.equal(
      encodeDumpHeader({ nodeId: 'n1', takenAtMs: 1_700_000_000_000 }),
      '{"catena":"dump","format":1,"nodeId":"n1","takenAtMs":1700000000000}\n',
    );
    assert.equal(
      encodeDumpRecord({ key: bytes('k'), value: bytes('a "quoted" \\ välue'), version: 3, expiresAtMs: 0, flags: 0 }),
      '{"key":"k","value":"a \\"quoted\\" \\\\ välue","version":3,"expiresAtMs":0,"flags":0}\n',
    );
    assert.equal(
      encodeDumpRecord({
        key: Buffer.from([0, 255]),
        value: bytes('a\nb'),
        version: 9,
        expiresAtMs: 1_700_000_003_600,
        flags: 42,
      }),
      '{"key":{"base64":"AP8="},"value":{"base64":"YQpi"},"version":9,"expiresAtMs":1700000003600,"flags":42}\n',
    );
    const cases: [number[] | string, string | { base64: string }][] = [
      ['', ''],
      ['plain text', 'plain text'],
      ['emoji 🔑 and U+2028 \u2028', 'emoji 🔑 and U+2028 \u2028'],
      ['tab\t', { base64: 'dGFiCQ==' }],
      ['del\u007f', { base64: 'ZGVsfw==' }],
      ['c1 \u0085', { base64: 'YzEgwoU=' }],
      ['nbsp \u00a0', 'nbsp \u00a0'],
      [[0xc0, 0x80], { base64: 'wIA=' }], // overlong NUL: not valid UTF-8
      [[0xed, 0xa0, 0x80], { base64: '7aCA' }], // a surrogate: not valid UTF-8
      [[0xff], { base64: '/w==' }],
      [[0xc2], { base64: 'wg==' }], // a lead byte cut short
    ];
    for (const [input, expected] of cases) {
      const raw = typeof input === 'string' ? bytes(input) : Buffer.from(input);
      assert.deepEqual(encodeDumpBytes(raw), expected, JSON.stringify(input));
      assert.deepEqual(decodeDumpBytes(expected), raw);
    }
  });

  it('rejects hostile and malformed lines with a reason', () => {
    const good = { key: 'k', value: 'v', version: 1, expiresAtMs: 0, flags: 0 };
    const line = (fields: object) => JSON.stringify(fields);
    assert.equal(decodeDumpRecord(line(good)).ok, true);
    const bad: [string, RegExp][] = [
      ['not json', /not JSON/],
      ['[1,2]', /not a JSON object/],
      ['null', /not a JSON object/],
      [line({ ...good, extra: 1 }), /fields must be exactly/],
      [line({ key: 'k', value: 'v', version: 1, expiresAtMs: 0 }), /fields must be exactly/],
      [line({ ...good, key: '' }), /bad key/],
      [line({ ...good, key: 'x'.repeat(keyBytesMax + 1) }), /bad key/],
      [line({ ...good, key: { base64: 'a' } }), /bad key/], // not canonical base64
      [line({ ...good, key: { base64: 'AP8=', extra: 1 } }), /bad key/],
      [line({ ...good, value: { hex: '00' } }), /bad value/],
      [line({ ...good, value: 5 }), /bad value/],
      [line({ ...good, value: 'lone \ud800 surrogate' }), /bad value/],
      [line({ ...good, version: 0 }), /bad version/],
      [line({ ...good, version: 1.5 }), /bad version/],
      [line({ ...good, version: '1' }), /bad version/],
      [line({ ...good, expiresAtMs: -1 }), /bad expiresAtMs/],
      [line({ ...good, flags: 2 ** 32 }), /bad flags/],
      [' '.repeat(dumpLineCharsMax + 1), /longer than/],
    ];
    for (const [text, reason] of bad) {
      const decoded = decodeDumpRecord(text);
      assert.equal(decoded.ok, false, text.slice(0, 80));
      assert.match(decoded.ok ? '' : decoded.reason, reason, text.slice(0, 80));
    }
    assert.match(reasonOf(decodeDumpHeader('{"catena":"dump","format":2,"nodeId":"n","takenAtMs":1}')), /format 2/);
    assert.match(reasonOf(decodeDumpHeader('{"catena":"dumb","format":1,"nodeId":"n","takenAtMs":1}')), /not a Catena/);
    assert.match(reasonOf(decodeDumpHeader('{"catena":"dump","format":1,"nodeId":"","takenAtMs":1}')), /nodeId/);
    assert.match(reasonOf(decodeDumpHeader(' '.repeat(dumpHeaderBytesMax + 1))), /longer than/);
    assert.match(reasonOf(decodeDump('{"catena":"dump","format":1,"nodeId":"n","takenAtMs":1}')), /newline/);
    const header = encodeDumpHeader({ nodeId: 'n', takenAtMs: 1 });
    const [a, b] = [line({ ...good, key: 'a' }), line({ ...good, key: 'b' })];
    assert.match(reasonOf(decodeDump(`${header}${b}\n${a}\n`)), /line 3: keys out of order/);
    assert.match(reasonOf(decodeDump(`${header}${a}\n${a}\n`)), /line 3: keys out of order/);
    assert.match(reasonOf(decodeDump(`${header}${a}\n{"key"\n`)), /line 3: not JSON/);
  });

  it('decodes every record it encodes (property)', () => {
    const record = fc.record({
      key: fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.string({ minLength: 1 }).map((s) => bytes(s)),
      ),
      value: fc.oneof(
        fc.uint8Array({ maxLength: 256 }),
        fc.string({ unit: 'binary' }).map((s) => bytes(s)),
      ),
      version: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      expiresAtMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      flags: fc.integer({ min: 0, max: 0xffff_ffff }),
    });
    fc.assert(
      fc.property(record, (r) => {
        const line = encodeDumpRecord(r);
        assert.ok(line.endsWith('\n') && line.indexOf('\n') === line.length - 1, 'one line');
        const decoded = decodeDumpRecord(line.slice(0, -1));
        assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason);
        assert.deepEqual(plain([decoded.value]), plain([r]));
      }),
      { numRuns: 500 },
    );
  });
});

describe('dump stream check', () => {
  const header = encodeDumpHeader({ nodeId: 'node-a', takenAtMs: 5 });
  const records = ['a', 'b', 'c'].map((k) =>
    encodeDumpRecord({ key: bytes(k), value: bytes(`v-${k}\n`), version: 1, expiresAtMs: 0, flags: 0 }),
  );
  const dump = Buffer.from(header + records.join(''), 'utf8');

  const check = (chunks: Buffer[], nodeId = 'node-a') => {
    const stream = new DumpStreamCheck(nodeId);
    for (const chunk of chunks) stream.push(chunk);
    return stream.finish();
  };

  it('gives the same answer however the stream is split', () => {
    for (let i = 0; i <= dump.length; i++) {
      for (const j of [i, Math.min(dump.length, i + 1), Math.min(dump.length, i + 7)]) {
        const result = check([dump.subarray(0, i), dump.subarray(i, j), dump.subarray(j)]);
        assert.deepEqual(result, { ok: true, value: { nodeId: 'node-a', takenAtMs: 5, keys: 3, bytes: dump.length } });
      }
    }
  });

  it('refuses a dump cut short, of another node, without a header, or with an endless first line', () => {
    for (let cut = 0; cut < dump.length; cut++) {
      const result = check([dump.subarray(0, cut)]);
      if (
        cut === header.length ||
        records.some((_, n) => cut === header.length + records.slice(0, n + 1).join('').length)
      ) {
        continue; // a cut at a line end looks complete: the HTTP layer (chunked end) tells those apart
      }
      assert.equal(result.ok, false, `cut at ${cut}`);
    }
    assert.match(reasonOf(check([dump], 'node-b')), /of node node-a, not node-b/);
    assert.match(reasonOf(check([Buffer.from('{"hello":1}\n')])), /header/);
    assert.match(reasonOf(check([Buffer.alloc(5000, 0x20)])), /longer than/);
    assert.match(reasonOf(check([])), /no complete header/);
  });
});

describe('dumps of a store', () => {
  const dir = tempDir();
  after(() => dir.remove());

  for (const engine of ['memory', 'lmdb'] as const) {
    it(`${engine}: the file parses back to exactly what the store holds, and nothing else is left`, async () => {
      const clock = new ManualClock();
      const dataDir = join(dir.path, `${engine}-data`);
      const store: Store =
        engine === 'memory' ? new MemoryStore(clock) : new LmdbStore({ dataDir, clock, durability: 'fsync' });
      try {
        fill(store, clock);
        const outDir = join(dir.path, `${engine}-out`);
        mkdirSync(outDir);
        const file = join(outDir, 'node.jsonl');
        const summary = await dumpToFile(file, { nodeId: 'node-1', store, clock });

        assert.deepEqual(readdirSync(outDir), ['node.jsonl'], 'no .tmp left');
        assert.equal(statSync(file).mode & 0o777, 0o600);
        const text = readFileSync(file, 'utf8');
        assert.equal(summary.bytes, Buffer.byteLength(text));
        const decoded = decodeDump(text);
        assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason);
        assert.deepEqual(decoded.value.header, { nodeId: 'node-1', takenAtMs: clock.nowMs() });
        const expected = storeContents(store);
        assert.equal(summary.keys, expected.length);
        assert.equal(expected.length, 10 + dumpPageRecords * 2 + 17 - 1, 'all but the expired key');
        assert.deepEqual(plain(decoded.value.records), plain(expected));

        const byKey = new Map(decoded.value.records.map((r) => [Buffer.from(r.key).toString('latin1'), r]));
        assert.equal(byKey.has('expired'), false);
        assert.equal(byKey.get('expiring')?.expiresAtMs, clock.nowMs() - 10 + hourMs);
        assert.equal(byKey.get('expiring')?.flags, 7);
        assert.equal(byKey.get('flagged')?.flags, 0xffff_ffff);
        assert.deepEqual(byKey.get('\u0000\u00ff\n')?.value, Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]));
        assert.match(text, /"key":"emoji-🔑","value":"välue ✓"/);
        assert.match(text, /"key":{"base64":"dGFiCWtleQ=="},"value":{"base64":"bGluZQpicmVhaw=="}/);
      } finally {
        await store.close();
      }
    });
  }

  it('pages by bytes too: large values stream through in several writes', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    for (let i = 0; i < 8; i++) store.put(bytes(`big${i}`), Buffer.alloc(700_000, 0x41 + i));
    const writes: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        writes.push(chunk);
        callback();
      },
    });
    const summary = await writeDump(sink, { nodeId: 'n', store, clock });
    assert.equal(summary.keys, 8);
    assert.ok(writes.length >= 5, `header plus pages of about 1 MiB: ${writes.length} writes`);
    const decoded = decodeDump(Buffer.concat(writes).toString('utf8'));
    assert.ok(decoded.ok);
    assert.deepEqual(plain(decoded.value.records), plain(storeContents(store)));
  });

  it('replaces a file only with a whole new one: a failed dump leaves the old file and no .tmp', async () => {
    const outDir = join(dir.path, 'atomic');
    mkdirSync(outDir);
    const file = join(outDir, 'dump.jsonl');
    writeFileSync(file, 'the previous dump\n');
    await assert.rejects(
      writeFileAtomically(file, async (write) => {
        await write(bytes('half of a new'));
        throw new Error('disk on fire');
      }),
      /disk on fire/,
    );
    assert.deepEqual(readdirSync(outDir), ['dump.jsonl']);
    assert.equal(readFileSync(file, 'utf8'), 'the previous dump\n');
    await assert.rejects(dumpToFile(join(dir.path, 'missing-dir', 'x.jsonl'), memorySource()), { code: 'ENOENT' });
  });

  it('waits for a slow destination, and stops reading the store when it goes away', async () => {
    const source = memorySource(3 * dumpPageRecords);
    const chunks: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 16,
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        setImmediate(callback);
      },
    });
    const summary = await writeDump(slow, source);
    assert.equal(summary.keys, 3 * dumpPageRecords);
    assert.equal(Buffer.concat(chunks).length, summary.bytes);

    let scans = 0;
    const counting: DumpSource = {
      ...source,
      store: {
        scan: (options: Parameters<Store['scan']>[0]) => {
          scans += 1;
          return source.store.scan(options);
        },
        sync: () => source.store.sync(),
      } as Partial<Store> as Store,
    };
    const leaving = new Writable({
      highWaterMark: 16,
      write(_chunk: Buffer, _encoding, callback) {
        callback();
        this.destroy(); // the client hung up after the first write
      },
    });
    await assert.rejects(writeDump(leaving, counting), { code: 'ERR_CONNECTION_CLOSED' });
    assert.ok(scans <= 1, `no page read after the destination closed (${scans} scans)`);
  });
});

describe('GET /dump on an admin listener', () => {
  const admins: AdminServer[] = [];
  after(async () => {
    await Promise.all(admins.map((admin) => admin.close()));
  });
  const start = async (dump?: (out: Writable) => ReturnType<typeof writeDump>) => {
    const admin = await AdminServer.start({
      host: '127.0.0.1',
      port: 0,
      log: silentLogger,
      sources: {
        nodeId: 'n1',
        status: () => ({}),
        ready: () => ({ ready: true, role: 'standalone' }),
        ...(dump === undefined ? {} : { dump }),
      },
    });
    admins.push(admin);
    return `http://127.0.0.1:${admin.port}`;
  };

  it('streams the table as JSON lines; HEAD sends headers only; without a source it is 404', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    fill(store, clock);
    const url = await start((out) => writeDump(out, { nodeId: 'n1', store, clock }));
    const response = await fetch(`${url}/dump`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/x-ndjson');
    const decoded = decodeDump(await response.text());
    assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason);
    assert.equal(decoded.value.header.nodeId, 'n1');
    assert.deepEqual(plain(decoded.value.records), plain(storeContents(store)));

    const head = await fetch(`${url}/dump`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.equal((await fetch(`${url}/dump`, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`${url}/health`)).status, 200);

    const without = await start();
    const missing = await fetch(`${without}/dump`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /try \/health, \/ready, \/status"/);
  });

  it('cuts the stream off when a dump fails midway, so it never looks complete', async () => {
    const url = await start(async (out) => {
      out.write(encodeDumpHeader({ nodeId: 'n1', takenAtMs: 1 }));
      await new Promise((resolve) => setImmediate(resolve));
      throw new Error('store failed');
    });
    const response = await fetch(`${url}/dump`);
    assert.equal(response.status, 200);
    await assert.rejects(response.text());
  });

  it('stops a dump whose client hangs up, and frees its place', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    for (let i = 0; i < 20_000; i++) store.put(bytes(`key${i}`), Buffer.alloc(200, 0x41)); // ~4 MB: more than sockets buffer
    let abandoned = 0;
    let onAbandoned: () => void = () => undefined;
    const twoAbandoned = new Promise<void>((resolve) => (onAbandoned = resolve));
    const admin = await AdminServer.start({
      host: '127.0.0.1',
      port: 0,
      log: {
        log: (_level, message) => {
          if (message === 'dump abandoned by the client' && ++abandoned === 2) onAbandoned();
        },
      },
      sources: {
        nodeId: 'n1',
        status: () => ({}),
        ready: () => ({ ready: true, role: 'standalone' }),
        dump: (out) => writeDump(out, { nodeId: 'n1', store, clock }),
      },
    });
    admins.push(admin);
    const hangUpAfterFirstChunk = () =>
      new Promise<void>((resolve) => {
        const req = request({ host: '127.0.0.1', port: admin.port, path: '/dump' }, (response) => {
          response.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => undefined);
        req.end();
      });
    await Promise.all([hangUpAfterFirstChunk(), hangUpAfterFirstChunk()]);
    await twoAbandoned;
    const response = await fetch(`http://127.0.0.1:${admin.port}/dump`);
    assert.equal(response.status, 200, 'both places are free again');
    const decoded = decodeDump(await response.text());
    assert.equal(decoded.ok && decoded.value.records.length, 20_000);
  });

  it('answers 503 while two dumps stream, and serves again once they end', async () => {
    // The first two dumps hold until released; later ones end at once.
    const held: (() => void)[] = [];
    let bothHeld: () => void = () => undefined;
    const bothStarted = new Promise<void>((resolve) => (bothHeld = resolve));
    const url = await start(async (out) => {
      const header = encodeDumpHeader({ nodeId: 'n1', takenAtMs: 1 });
      out.write(header);
      if (held.length < 2) {
        await new Promise<void>((resolve) => {
          held.push(resolve);
          if (held.length === 2) bothHeld();
        });
      }
      return { keys: 0, bytes: header.length };
    });
    const first = fetch(`${url}/dump`);
    const second = fetch(`${url}/dump`);
    await bothStarted;
    const third = await fetch(`${url}/dump`);
    assert.equal(third.status, 503);
    assert.equal(third.headers.get('retry-after'), '1');
    assert.match(await third.text(), /already streaming/);
    for (const release of held) release();
    for (const response of await Promise.all([first, second])) {
      assert.equal(response.status, 200);
      assert.ok(decodeDump(await response.text()).ok);
    }
    const fourth = await fetch(`${url}/dump`);
    assert.equal(fourth.status, 200);
    assert.ok(decodeDump(await fourth.text()).ok);
  });
});

describe('GET /dump on a standalone catena server (needs the dump source wired in src/server/node.ts)', () => {
  const dir = tempDir();
  after(async () => {
    await killLeftoverServers();
    dir.remove();
  });

  it('dumps what clients stored, binary keys, expiries and memcached flags included', async () => {
    const server = await startServer({
      dataDir: dir.path,
      extraArgs: ['--admin-port', '0', '--memcached-port', '0'],
    });
    const adminPort = Number(/admin http:\/\/[^ ,]+:(\d+)/.exec(server.stdout())?.[1]);
    assert.ok(adminPort > 0, server.stdout());
    const client = await Client.connect({ port: server.port });
    try {
      await client.put(Buffer.from([0xff, 0x00, 0x01]), Buffer.from([0x80, 0x0a]));
      await client.put('text', 'välue');
      const beforeMs = Date.now();
      await client.put('ttl', 'soon gone', { ttlMs: hourMs });
      await memcachedSet(server.memcachedPort!, 'mc', 42, 'from memcached');

      const response = await fetch(`http://127.0.0.1:${adminPort}/dump`);
      assert.equal(response.status, 200, 'a 404 here means node.ts does not wire the dump source yet');
      const decoded = decodeDump(await response.text());
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason);
      assert.equal(decoded.value.header.nodeId, server.nodeId);
      const records = decoded.value.records;
      assert.deepEqual(
        records.map((r) => [Buffer.from(r.key).toString('hex'), Buffer.from(r.value).toString('hex'), r.flags]),
        [
          [bytes('mc').toString('hex'), bytes('from memcached').toString('hex'), 42],
          [bytes('text').toString('hex'), bytes('välue').toString('hex'), 0],
          [bytes('ttl').toString('hex'), bytes('soon gone').toString('hex'), 0],
          ['ff0001', '800a', 0],
        ],
      );
      for (const record of records) {
        const stored = await client.get(Buffer.from(record.key));
        assert.equal(BigInt(record.version), stored?.version);
      }
      const ttl = records.find((r) => Buffer.from(r.key).toString() === 'ttl')!;
      assert.ok(
        ttl.expiresAtMs >= beforeMs + hourMs && ttl.expiresAtMs <= Date.now() + hourMs,
        String(ttl.expiresAtMs),
      );
      assert.ok(records.filter((r) => r !== ttl).every((r) => r.expiresAtMs === 0));
    } finally {
      await client.close();
      await server.stop();
    }
  });
});

function reasonOf(decoded: { ok: true } | { ok: false; reason: string }): string {
  return decoded.ok ? '(decoded fine)' : decoded.reason;
}

function memorySource(keys = 10): DumpSource {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  for (let i = 0; i < keys; i++) store.put(bytes(`key${String(i).padStart(6, '0')}`), bytes(`value ${i}`));
  return { nodeId: 'm', store, clock };
}

/** `set` over the memcached text protocol, with client flags. */
async function memcachedSet(port: number, key: string, flags: number, value: string): Promise<void> {
  const conn = new Conn(port);
  try {
    await conn.expect(`set ${key} ${flags} 0 ${Buffer.byteLength(value)}\r\n${value}\r\n`, 'STORED\r\n');
  } finally {
    conn.end();
  }
}
