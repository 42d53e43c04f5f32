// `catena bench`: the key choosers (range, skew, scrambling, determinism, the FNV hash against a
// BigInt reference), the workload engine against an in-memory target (mixes, read-modify-write,
// warm-up, exact operation counts, errors, progress, JSON), the text and HTML reports, the
// progress bar, and the command's argument parsing. No assertion depends on timing.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compact, ProgressBar, renderProgress } from '../../src/bench/progress.js';
import { escapeHtml, formatMs, niceTicks, renderHtml, renderTable } from '../../src/bench/report.js';
import {
  keyName,
  runWorkload,
  type BenchResult,
  type BenchTarget,
  type Progress,
  type WorkloadOptions,
} from '../../src/bench/workload.js';
import { hashRank, scrambledZipfianChooser, uniformChooser, zipfianChooser } from '../../src/bench/zipfian.js';
import { benchHelp, catenaTarget, parseBenchArgs, runBench } from '../../src/cli/bench-command.js';
import { CatenaError } from '../../src/core/errors.js';
import { Prng } from '../../src/core/prng.js';
import { runCli } from '../helpers/cli.js';

// ---------------------------------------------------------------------------------------------
// Helpers.

/** An in-memory target: answers at once, logs every call, fails the calls `fails` picks. */
class FakeTarget implements BenchTarget {
  readonly store = new Map<string, Buffer>();
  readonly log: { call: 'read' | 'update'; key: string }[] = [];
  calls = 0;
  closed = false;

  constructor(private readonly fails: (call: number) => boolean = () => false) {}

  async read(key: string): Promise<void> {
    this.note('read', key);
  }

  async update(key: string, value: Buffer): Promise<void> {
    this.note('update', key);
    this.store.set(key, value);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private note(call: 'read' | 'update', key: string): void {
    this.calls += 1;
    if (this.log.length < 100_000) this.log.push({ call, key });
    if (this.fails(this.calls)) throw new CatenaError('ERR_UNAVAILABLE', `call ${this.calls} refused`);
  }
}

const baseOptions: WorkloadOptions = {
  workload: 'a',
  records: 1000,
  distribution: 'zipfian',
  valueBytes: 16,
  concurrency: 8,
  operations: 10_000,
  warmupMs: 0,
  seed: 42,
  load: false,
};

const run = (options: Partial<WorkloadOptions>, target = new FakeTarget()) =>
  runWorkload(target, { ...baseOptions, ...options });

const opCount = (result: BenchResult, op: string) => result.operations.find((o) => o.op === op)?.count ?? 0;

function histogram(draws: number, n: number, choose: () => number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (let i = 0; i < draws; i++) counts[choose()]! += 1;
  return counts;
}

/** FNV-1a 64 of the rank's 8 little-endian bytes, modulo n, with BigInt. */
function referenceHash(rank: number, n: number): number {
  let hash = 0xcbf29ce484222325n;
  let rest = BigInt(rank);
  for (let i = 0; i < 8; i++) {
    hash ^= rest & 0xffn;
    rest >>= 8n;
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return Number(hash % BigInt(n));
}

// ---------------------------------------------------------------------------------------------

describe('key choosers', () => {
  it('stay in [0, n) for every distribution and size', () => {
    for (const n of [1, 2, 3, 1000]) {
      for (const make of [uniformChooser, zipfianChooser, scrambledZipfianChooser]) {
        const choose = make(n, new Prng(7));
        for (let i = 0; i < 20_000; i++) {
          const index = choose();
          assert.ok(Number.isInteger(index) && index >= 0 && index < n, `${make.name}(${n}) drew ${index}`);
        }
      }
    }
  });

  it('zipfian is skewed (the hottest of 1000 keys gets several % of draws), uniform is not', () => {
    const draws = 100_000;
    const zipf = histogram(draws, 1000, scrambledZipfianChooser(1000, new Prng(1)));
    const flat = histogram(draws, 1000, uniformChooser(1000, new Prng(1)));
    assert.ok(Math.max(...zipf) / draws > 0.05, `hottest zipfian key: ${Math.max(...zipf)} of ${draws}`);
    assert.ok(Math.max(...flat) / draws < 0.005, `hottest uniform key: ${Math.max(...flat)} of ${draws}`);
    const ranks = histogram(draws, 1000, zipfianChooser(1000, new Prng(1)));
    assert.ok(
      ranks[0]! > ranks[1]! && ranks[1]! > ranks[10]! && ranks[10]! > ranks[500]!,
      'popularity falls with rank',
    );
  });

  it('scrambling spreads the hot keys over the key space', () => {
    const counts = histogram(100_000, 1000, scrambledZipfianChooser(1000, new Prng(3)));
    const hottest = counts
      .map((count, index) => ({ count, index }))
      .sort((a, b) => b.count - a.count)
      .slice(0, 10)
      .map((entry) => entry.index);
    assert.ok(
      hottest.some((index) => index >= 100),
      `the ten hottest keys: ${hottest.join(', ')}`,
    );
  });

  it('replay exactly from a seed', () => {
    for (const make of [uniformChooser, scrambledZipfianChooser]) {
      const sequence = (seed: number) => {
        const choose = make(10_000, new Prng(seed));
        return Array.from({ length: 1000 }, () => choose());
      };
      assert.deepEqual(sequence(5), sequence(5));
      assert.notDeepEqual(sequence(5), sequence(6));
    }
  });

  it('hash ranks with FNV-1a 64 (checked against BigInt arithmetic)', () => {
    const random = new Prng(11);
    for (const n of [1, 7, 1000, 2 ** 20 + 3, 2 ** 32]) {
      for (const rank of [0, 1, 255, 256, 65_535, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, random.int(0, 2 ** 31)]) {
        assert.equal(hashRank(rank, n), referenceHash(rank, n), `rank ${rank} mod ${n}`);
      }
    }
  });
});

describe('workload engine', () => {
  it('names keys user<zero-padded index>', () => {
    assert.equal(keyName(7, 10_000), 'user0007');
    assert.equal(keyName(9999, 10_000), 'user9999');
    assert.equal(keyName(0, 1), 'user0');
  });

  it('mixes operations as YCSB A, B, C and write do', async () => {
    const expected = { a: [0.5, 0.5], b: [0.95, 0.05], c: [1, 0], write: [0, 1] } as const;
    for (const [workload, [readShare, updateShare]] of Object.entries(expected)) {
      const target = new FakeTarget();
      const result = await run({ workload: workload as WorkloadOptions['workload'] }, target);
      assert.equal(result.totalOps, 10_000);
      const reads = opCount(result, 'read');
      const updates = opCount(result, 'update');
      assert.ok(Math.abs(reads / 10_000 - readShare) < 0.02, `${workload}: ${reads} reads`);
      assert.ok(Math.abs(updates / 10_000 - updateShare) < 0.02, `${workload}: ${updates} updates`);
      assert.deepEqual(
        result.operations.map((op) => op.op),
        [readShare > 0 ? ['read'] : [], updateShare > 0 ? ['update'] : []].flat(),
      );
      assert.equal(target.log.filter((c) => c.call === 'read').length, reads);
    }
  });

  it('F reads a key and then updates the same key, timed as one operation', async () => {
    const target = new FakeTarget();
    const result = await run({ workload: 'f', concurrency: 1 }, target);
    const rmw = opCount(result, 'read-modify-write');
    assert.equal(opCount(result, 'read') + rmw, 10_000);
    assert.ok(Math.abs(rmw / 10_000 - 0.5) < 0.02, `${rmw} read-modify-writes`);
    const updates = target.log.flatMap((call, i) => (call.call === 'update' ? [i] : []));
    assert.equal(updates.length, rmw);
    for (const i of updates) assert.deepEqual(target.log[i - 1], { call: 'read', key: target.log[i]!.key });
    assert.equal(target.log.length, 10_000 + rmw);
  });

  it('loads every record once before the run, values of the size asked for', async () => {
    const target = new FakeTarget();
    const progress: Progress[] = [];
    const result = await run(
      { workload: 'c', records: 500, load: true, valueBytes: 33, operations: 100, onProgress: (p) => progress.push(p) },
      target,
    );
    assert.equal(target.store.size, 500);
    assert.ok([...target.store.values()].every((value) => value.length === 33));
    assert.ok(target.store.has('user000') && target.store.has('user499'));
    assert.equal(result.load?.records, 500);
    assert.equal(result.load?.errors, 0);
    const load = progress.filter((p) => p.phase === 'load');
    assert.deepEqual([load.at(-1)?.done, load.at(-1)?.total], [500, 500]);
    const last = progress.at(-1)!;
    assert.deepEqual([last.phase, last.done, last.total], ['run', 100, 100]);
  });

  it('records nothing of the warm-up', async () => {
    const target = new FakeTarget();
    const result = await run({ warmupMs: 30, operations: 500 }, target);
    assert.ok(target.calls > 500, `${target.calls} calls: the warm-up ran`);
    assert.equal(result.totalOps, 500);
    assert.equal(
      result.timeline.reduce((sum, point) => sum + point.ops, 0),
      500,
    );
  });

  it('runs exactly N measured operations whatever the concurrency', async () => {
    for (const concurrency of [1, 3, 64]) {
      const target = new FakeTarget();
      const result = await run({ operations: 777, concurrency }, target);
      assert.equal(result.totalOps, 777);
      assert.equal(target.calls, 777);
      assert.equal(
        result.operations.reduce((sum, op) => sum + op.count, 0),
        777,
      );
    }
  });

  it('counts errors per operation type, keeps the first message, and goes on', async () => {
    const target = new FakeTarget((call) => call % 10 === 0);
    const result = await run({ operations: 2000, load: true, records: 100 }, target);
    assert.equal(result.totalOps, 2000);
    assert.equal(result.load?.errors, 10);
    assert.equal(result.load?.firstError, 'ERR_UNAVAILABLE: call 10 refused');
    assert.ok(result.totalErrors >= 150 && result.totalErrors <= 250, `${result.totalErrors} errors`);
    for (const op of result.operations) {
      assert.ok(op.errors > 0 && op.errors < op.count);
      assert.match(op.firstError ?? '', /^ERR_UNAVAILABLE: call \d+ refused$/);
    }
    assert.equal(
      result.timeline.reduce((sum, point) => sum + point.errors, 0),
      result.totalErrors,
    );
    assert.match(renderTable(result), /first read error: ERR_UNAVAILABLE/);
  });

  it('stops for a bug (an AssertionError) rather than counting it', async () => {
    const { AssertionError } = await import('../../src/core/assert.js');
    const target = new FakeTarget();
    target.read = async () => {
      throw new AssertionError('broken invariant');
    };
    await assert.rejects(run({ workload: 'c' }, target), AssertionError);
  });

  it('replays the same calls from the same seed', async () => {
    const calls = async (seed: number) => {
      const target = new FakeTarget();
      await run({ seed, operations: 300, concurrency: 4 }, target);
      return target.log;
    };
    assert.deepEqual(await calls(9), await calls(9));
    assert.notDeepEqual(await calls(9), await calls(10));
  });

  it('measures a duration into a per-second timeline', async () => {
    const result = await run({ operations: undefined, durationMs: 50, concurrency: 2 });
    assert.equal(result.options.durationMs, 50);
    assert.equal('operations' in result.options, false);
    assert.equal(result.timeline.length, 1);
    assert.equal(result.timeline[0]!.ops, result.totalOps);
    assert.ok(result.totalOps > 0);
  });

  it('returns a result that round-trips through JSON', async () => {
    const result = await run({ workload: 'f', load: true, records: 50, operations: 200 });
    result.label = 'round trip';
    assert.deepEqual(JSON.parse(JSON.stringify(result)), result);
    assert.ok(!Number.isNaN(Date.parse(result.startedAt)));
    for (const op of result.operations) {
      for (const field of ['p50Us', 'p95Us', 'p99Us', 'p999Us', 'maxUs', 'meanUs', 'opsPerSec'] as const) {
        assert.ok(Number.isFinite(op[field]) && op[field] >= 0, `${op.op}.${field} = ${op[field]}`);
      }
      assert.ok(op.p50Us <= op.p95Us && op.p95Us <= op.p99Us && op.p99Us <= op.p999Us && op.p999Us <= op.maxUs);
    }
  });

  it('refuses bad options', async () => {
    const bad: Partial<WorkloadOptions>[] = [
      { records: 0 },
      { concurrency: 0 },
      { durationMs: 1000 }, // and operations
      { operations: undefined },
      { workload: 'z' as WorkloadOptions['workload'] },
      { warmupMs: -1 },
    ];
    for (const options of bad) {
      await assert.rejects(run(options), { code: 'ERR_INVALID_ARGUMENT' }, JSON.stringify(options));
    }
  });
});

describe('reports', () => {
  const results = async () => [
    { ...(await run({ workload: 'a', operations: 300 })), label: 'first <run>' },
    { ...(await run({ workload: 'f', operations: 300 })), label: 'second' },
    await run({ workload: 'c', operations: 300 }),
  ];

  it('renderTable has a header and a row per operation type', async () => {
    const [a, f] = await results();
    const text = renderTable(f!);
    const lines = text.split('\n');
    const header = lines.find((line) => line.startsWith('op '))!;
    for (const column of ['count', 'ops/s', 'p50 ms', 'p95 ms', 'p99 ms', 'p99.9 ms', 'max ms']) {
      assert.ok(header.includes(column), column);
    }
    assert.ok(lines.some((line) => /^read\s+\d/.test(line)));
    assert.ok(lines.some((line) => /^read-modify-write\s+\d/.test(line)));
    assert.ok(lines.some((line) => line.startsWith('total ')));
    assert.match(text, /workload f \(50% read, 50% read-modify-write\)/);
    assert.ok(
      renderTable(a!)
        .split('\n')
        .some((line) => /^update\s+\d/.test(line)),
    );
  });

  it('formats latencies in ms with about three significant digits', () => {
    assert.deepEqual([43, 1087, 24_575, 123_456, 0].map(formatMs), ['0.043', '1.09', '24.6', '123', '0']);
  });

  it('renderHtml draws one throughput line per run in a self-contained page', async () => {
    const all = await results();
    for (const input of [all[0]!, all]) {
      const runs = Array.isArray(input) ? input.length : 1;
      const page = renderHtml(input);
      assert.ok(page.startsWith('<!doctype html>'));
      const throughput = /<svg id="throughput"[\s\S]*?<\/svg>/.exec(page)?.[0] ?? '';
      assert.equal(throughput.match(/<polyline/g)?.length, runs);
      assert.match(page, /<svg id="percentiles"/);
      assert.equal(
        /<svg id="percentiles"[\s\S]*?<\/svg>/.exec(page)?.[0].match(/<rect class="bar"/g)?.length,
        4 * (runs === 1 ? 2 : 5),
      );
      assert.doesNotMatch(page, /<script|<link|@import|url\(/);
      assert.doesNotMatch(page, /first <run>/);
      assert.match(page, /first &lt;run&gt;/);
      for (const legend of ['p50', 'p95', 'p99', 'p99.9', 'ops/s', 'time (s)']) assert.ok(page.includes(legend));
    }
    assert.match(renderHtml(all), /run 3 \(workload c\)/);
  });

  it('picks round axis ticks', () => {
    assert.deepEqual(niceTicks(10), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(niceTicks(7), [0, 2, 4, 6, 8]);
    assert.deepEqual(niceTicks(12_345), [0, 5000, 10_000, 15_000]);
    assert.deepEqual(niceTicks(3.0005), [0, 1, 2, 3]);
    assert.deepEqual(niceTicks(0.7), [0, 0.2, 0.4, 0.6, 0.8]);
    assert.deepEqual(niceTicks(0), [0, 1]);
    assert.equal(escapeHtml(`<a href="x">&'`), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
  });
});

describe('progress bar', () => {
  const progress = (p: Partial<Progress>): Progress => ({
    phase: 'run',
    elapsedMs: 5100,
    totalMs: 12_000,
    done: 1000,
    opsPerSec: 12_345,
    ...p,
  });

  it('renders phase, bar, percentage, rate and time', () => {
    assert.equal(renderProgress(progress({})), `run     [#############.................]  42% 12.3k ops/s 5.1s/12s`);
    assert.equal(
      renderProgress(progress({ phase: 'load', totalMs: undefined, total: 10_000, done: 2500, opsPerSec: 950 })),
      `load    [########......................]  25% 950 ops/s 2.50k/10.0k ops 5.1s`,
    );
    assert.deepEqual(
      [compact(999), compact(1234), compact(56_789), compact(2_500_000)],
      ['999', '1.23k', '56.8k', '2.50M'],
    );
  });

  it('redraws in place at most every 200 ms, only on a terminal', () => {
    let now = 0;
    const written: string[] = [];
    const tty = new ProgressBar({ isTTY: true, write: (text) => written.push(text) > 0 }, () => now);
    tty.update(progress({ elapsedMs: 0 }));
    now = 100;
    tty.update(progress({ elapsedMs: 100 }));
    now = 250;
    tty.update(progress({ elapsedMs: 250 }));
    tty.finish();
    assert.equal(written.length, 3);
    assert.ok(written[0]!.startsWith('\r') && written[1]!.startsWith('\r'));
    assert.equal(written[2], '\n');
    const quiet: string[] = [];
    const pipe = new ProgressBar({ isTTY: false, write: (text) => quiet.push(text) > 0 }, () => now);
    pipe.update(progress({}));
    pipe.finish();
    assert.deepEqual(quiet, []);
  });
});

describe('catena bench arguments', () => {
  it('has defaults for everything', () => {
    const args = parseBenchArgs([]);
    assert.deepEqual(args.workload, {
      workload: 'a',
      records: 10_000,
      distribution: 'zipfian',
      valueBytes: 100,
      concurrency: 16,
      durationMs: 10_000,
      warmupMs: 2000,
      seed: 1,
      load: true,
    });
    assert.deepEqual([args.jsonFile, args.reportFile, args.label], [undefined, undefined, undefined]);
  });

  it('reads every option', () => {
    const args = parseBenchArgs(
      '--workload f --records 500 --distribution uniform --value-bytes 10 --concurrency 4 --operations 99 --warmup 0.5 --no-load --seed 7 --json r.json --report r.html --label x'.split(
        ' ',
      ),
    );
    assert.deepEqual(args.workload, {
      workload: 'f',
      records: 500,
      distribution: 'uniform',
      valueBytes: 10,
      concurrency: 4,
      operations: 99,
      warmupMs: 500,
      seed: 7,
      load: false,
    });
    assert.deepEqual([args.jsonFile, args.reportFile, args.label], ['r.json', 'r.html', 'x']);
    assert.equal(parseBenchArgs(['--duration', '1.5']).workload.durationMs, 1500);
  });

  it('refuses bad arguments with ERR_INVALID_ARGUMENT before connecting', async () => {
    const bad = [
      ['--workload', 'd'],
      ['--distribution', 'latest'],
      ['--records', '0'],
      ['--concurrency', 'many'],
      ['--duration', '0'],
      ['--duration', '5', '--operations', '10'],
      ['--warmup', '-1'],
      ['--bogus'],
      ['extra'],
    ];
    for (const argv of bad) {
      assert.throws(() => parseBenchArgs(argv), { code: 'ERR_INVALID_ARGUMENT' }, argv.join(' '));
      // runBench fails the same way, before it connects (nothing listens on port 1).
      await assert.rejects(runBench([...argv, '--port', '1']), { code: 'ERR_INVALID_ARGUMENT' }, argv.join(' '));
    }
    assert.ok(benchHelp.startsWith('Usage: catena bench '));
  });

  it('exits 2 with a clear message on a bad argument', async () => {
    const result = await runCli(['bench', '--workload', 'd']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^catena: ERR_INVALID_ARGUMENT: --workload must be one of a, b, c, f, write/);
  });

  it('catenaTarget reads with get (a missing key is an answer) and writes with put', async () => {
    const puts: [string, Buffer][] = [];
    let closed = false;
    const client = {
      get: async (key: string | Uint8Array) =>
        key === 'bad' ? Promise.reject(new CatenaError('ERR_TIMEOUT')) : undefined,
      put: async (key: string | Uint8Array, value: string | Uint8Array) => {
        puts.push([String(key), Buffer.from(value)]);
        return { version: 1n };
      },
      close: async () => {
        closed = true;
      },
    };
    const target = catenaTarget(client as never);
    await target.read('missing');
    await assert.rejects(target.read('bad'), { code: 'ERR_TIMEOUT' });
    await target.update('k', Buffer.from('v'));
    await target.close();
    assert.deepEqual(puts, [['k', Buffer.from('v')]]);
    assert.ok(closed);
  });
});
