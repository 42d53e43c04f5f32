// Differential tests (issue #6 item 6): every sequence of the corpora (redis-corpus.ts,
// memcached-corpus.ts) is sent to a real redis-server / memcached and to a Catena node, each
// over its own fresh raw connection after a flush, and the replies are compared step by step,
// byte for byte after a few normalisations (TTL windows, cas uniques, VERSION and STAT values).
//
// Catena differs from Redis and memcached on purpose in a few places. Each such difference is
// listed below with its reason, and the same list is written for people in
// docs/compatibility.md. The test fails on any difference not listed, and on any listed
// difference that no longer differs, so the list stays true. An entry whose reason starts with
// A Catena bug found this way is fixed, not listed (a `BUG:` entry may mark one until then).
//
// Without redis-server or memcached the suites are skipped loudly on a workstation and fail on
// CI (the same rule as test/testing/real-servers.test.ts). CATENA_DIFF_VERBOSE=1 prints every
// step's replies.

import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CatenaNode } from '../../src/server/node.js';
import { memcachedAvailable, startMemcached, type MemcachedServer } from '../../src/testing/memcached-server.js';
import { redisServerAvailable, startRedisServer, type RedisServer } from '../../src/testing/redis-server.js';
import { tempDir } from '../helpers/tmp.js';
import { memcachedCorpus, memcachedItemBytesMax, type MemcachedSequence } from './memcached-corpus.js';
import {
  escapeBytes,
  memcachedUnitEnd,
  MemcachedRawClient,
  respReplyEnd,
  RespRawClient,
  type ReadResult,
} from './raw-clients.js';
import { redisCorpus, respValueBytesMax, type RespSequence } from './redis-corpus.js';

// ---- the known differences

interface KnownDifference {
  /** The corpus sequence, by name. */
  readonly sequence: string;
  /** The steps that differ, by label; each must still differ. */
  readonly steps: readonly string[];
  /** One line: why Catena answers differently (`BUG: ...` for a bug not fixed yet). */
  readonly reason: string;
}

const redisDifferences: readonly KnownDifference[] = [
  {
    sequence: 'expiry-beyond-catena-limits',
    steps: [
      'SET k v PX 3153600000001',
      'SET k v EX 3153600001',
      'SETEX k 3153600001 v',
      'PSETEX k 3153600000001 v',
      'SET k v PXAT 9223372036854775807',
      'SET k v EXAT 9223372036854775',
      'EXPIRE k 3153600001',
      'PEXPIRE k 3153600000001',
      'EXPIREAT k 9223372036854775',
      'PEXPIREAT k 9223372036854775807',
    ],
    reason:
      'a relative TTL is at most 100 years and an absolute expiry at most 2^53 ms, so expiry times stay exact in a float64; beyond that Catena answers "invalid expire time" where Redis accepts',
  },
  {
    sequence: 'expire-options',
    steps: ['EXPIRE k 100 NX', 'EXPIRE k 200 XX', 'EXPIRE k 300 GT', 'EXPIRE k 50 LT', 'PEXPIRE k 100000 gt'],
    reason: 'EXPIRE NX/XX/GT/LT are not implemented: the native expire has no condition, so they are refused',
  },
  {
    sequence: 'unimplemented-commands',
    steps: [
      'HSET h f v',
      'LPUSH l a',
      'SADD s a',
      'ZADD z 1 a',
      'GETRANGE k 0 1',
      'SETRANGE k 0 a',
      'INCRBYFLOAT f 1.5',
      'GETEX k',
      'MSETNX a 1',
      'RENAME a b',
      'EVAL "return 1" 0',
      'PUBLISH ch msg',
      'EXPIRETIME k',
      'TOUCH k',
      'COPY a c',
      'OBJECT ENCODING k',
      'WATCH k',
      'MULTI',
      'DISCARD',
    ],
    reason:
      'Catena stores strings only and implements a subset of the string and keyspace commands; the rest (other types, transactions, scripting, pub/sub) are unknown commands',
  },
  {
    sequence: 'select-client',
    steps: ['CLIENT SETINFO lib-name catena-test'],
    reason:
      'CLIENT SETINFO (Redis 7.2) is accepted although Catena follows 7.0, because current client libraries send it on connect',
  },
  {
    sequence: 'select-client',
    steps: ['SELECT 1'],
    reason: 'Catena has one database: SELECT 0 is accepted, any other index is out of range',
  },
  {
    sequence: 'protocol-count-over-catena-limit',
    steps: ['raw "*1048577\\r\\n"'],
    reason:
      "a multibulk request may have at most 1,048,576 arguments (Redis 6's limit); Redis 7 accepts up to 2^31-1 and waits for them",
  },
  {
    sequence: 'protocol-bulk-over-catena-limit',
    steps: ['raw "*2\\r\\n$4\\r\\nECHO\\r\\n$104857600\\r\\n"'],
    reason:
      'a bulk argument may be at most the key limit plus the value ceiling (64 MiB + 1 KiB), refused as soon as its header arrives; Redis allows 512 MiB',
  },
  {
    sequence: 'key-size',
    steps: ['SET <1025 bytes kkkkkkkk…> v', 'GET <1025 bytes kkkkkkkk…>'],
    reason: 'keys are at most 1 KiB (LMDB keys must be short and stay ordered); Redis allows 512 MiB',
  },
  {
    sequence: 'empty-key',
    steps: ['SET "" v', 'GET ""', 'EXISTS ""', 'DEL ""'],
    reason: 'the empty key is refused by every command; Redis allows it',
  },
  {
    sequence: 'value-size',
    steps: ['APPEND big x', 'STRLEN big', 'SET bigger <1048577 bytes bbbbbbbb…>', 'STRLEN bigger'],
    reason:
      "values are at most the node's value limit (--value-bytes-max: 8 MiB by default, 1 MiB in this test, 64 MiB at most); Redis allows 512 MiB",
  },
];

const memcachedDifferences: readonly KnownDifference[] = [
  {
    sequence: 'cas-after-touch',
    steps: ['gets k', 'cas k 0 0 1 {{c1}} "w"', 'get k'],
    reason:
      "touch and gat give the item a new cas unique (Catena's expire writes a new version), so a unique read before them no longer matches; memcached keeps it",
  },
  {
    sequence: 'cas-after-gat',
    steps: ['cas k 0 0 1 {{c1}} "w"'],
    reason: 'touch and gat give the item a new cas unique (see cas-after-touch)',
  },
  {
    sequence: 'cas-from-gats',
    steps: ['gats 0 k k'],
    reason:
      'each key of a gat/gats is touched separately, so a key named twice gets two cas uniques (see cas-after-touch)',
  },
  {
    sequence: 'flags-out-of-range',
    steps: ['set fbig 4294967296 0 1 "d"', 'get fbig'],
    reason:
      "flags must be a 32-bit unsigned decimal, or the line is refused; memcached's strtoul silently truncates 4294967296 to 0",
  },
  {
    sequence: 'expiry',
    steps: ['set future 0 4102444800 1 "v"'],
    reason:
      'exptime must fit a signed 32-bit integer, or the line is refused; memcached truncates it to 32 bits and answers STORED for an item that is already expired',
  },
  {
    sequence: 'expiry-out-of-range',
    steps: ['set big 0 2147483648 1 "v"'],
    reason: 'exptime must fit a signed 32-bit integer (see expiry)',
  },
  {
    sequence: 'item-size-boundary',
    steps: ['set edge 0 0 1048576 <1048576 bytes>', 'get edge'],
    reason:
      'the item limit applies to the value alone; memcached counts its item header and key against -I too, so its largest value is some 50 bytes smaller',
  },
  {
    sequence: 'garbage-lines',
    steps: ['3000-byte garbage line'],
    reason:
      'a command line (other than get/gets) is at most 2048 bytes however it arrives, answered CLIENT_ERROR line too long and closed; memcached checks only a line still incomplete in its buffer',
  },
  {
    sequence: 'line-too-long-without-newline',
    steps: ['4096 bytes, no newline'],
    reason: 'an over-long line is answered CLIENT_ERROR line too long before the close; memcached closes silently',
  },
  {
    sequence: 'flush-all',
    steps: ['flush_all 100'],
    reason:
      'flush_all with a delay is refused (CLIENT_ERROR): a delayed flush outlives the connection and would need state in the store',
  },
  {
    sequence: 'stats-reset',
    steps: ['stats reset'],
    reason: 'stats groups other than the general one (and items/slabs/sizes, empty) are not implemented: ERROR',
  },
  {
    sequence: 'unimplemented-commands',
    steps: ['mn', 'mg missing v', 'cache_memlimit 100'],
    reason:
      'the meta protocol (mg, ms, md, ma, mn, me) and administrative commands (cache_memlimit, slabs, lru_crawler, watch, shutdown, ...) are not implemented: ERROR',
  },
];

// ---- skip rules

const onCi = process.env['CI'] !== undefined && process.env['CI'] !== '';
const verbose = process.env['CATENA_DIFF_VERBOSE'] !== undefined && process.env['CATENA_DIFF_VERBOSE'] !== '';
const install = 'run scripts/install-system-packages.sh as root';
const hasRedis = redisServerAvailable();
const hasMemcached = memcachedAvailable();
const missing = [...(hasRedis ? [] : ['redis-server']), ...(hasMemcached ? [] : ['memcached'])];
if (missing.length > 0 && !onCi) {
  process.stderr.write(
    `\n${'!'.repeat(78)}\n!! SKIPPING differential tests: not installed: ${missing.join(', ')}.\n` +
      `!! Install them with: sudo scripts/install-system-packages.sh\n${'!'.repeat(78)}\n\n`,
  );
}
const skipUnless = (present: boolean, what: string) => (present ? undefined : `${what} is not installed: ${install}`);

// ---- running a sequence on one server

/** One step's reply, normalised, as latin1 text (exact bytes; escaped only for printing). */
interface StepOutcome {
  readonly label: string;
  readonly reply: string;
}

const latin1 = (bytes: Buffer) => bytes.toString('latin1');

/** The bytes read, then a marker when the read did not complete. */
function shown(read: ReadResult): string {
  const marker = read.outcome === 'closed' ? '<closed>' : read.outcome === 'timeout' ? '<no reply>' : '';
  return latin1(read.bytes) + marker;
}

async function runResp(port: number, sequence: RespSequence): Promise<StepOutcome[]> {
  const client = await RespRawClient.open(port);
  try {
    const flushed = await client.command(['FLUSHALL']);
    assert.equal(shown(flushed), '+OK\r\n', 'FLUSHALL before the sequence');
    const out: StepOutcome[] = [];
    let closed = false;
    for (const step of sequence.steps) {
      if (closed) {
        out.push({ label: step.label, reply: '<not sent: connection closed>' });
        continue;
      }
      if (step.sleepMs !== undefined) await sleep(step.sleepMs);
      const reads = await client.exchange(step.send, step.replies, step.timeoutMs ?? 2_000);
      let reply = reads
        .map((read) => {
          let text = shown(read);
          const integer = /^:(-?\d+)\r\n$/.exec(text);
          if (step.within !== undefined && integer !== null) {
            const [lo, hi] = step.within;
            const n = Number(integer[1]);
            if (n >= lo && n <= hi) text = `:<${lo}..${hi}>\r\n`;
          }
          if (step.typeOnly === true && read.outcome === 'complete') text = `${text[0]}<not compared>`;
          if (step.unordered === true && read.outcome === 'complete') text = latin1(sortedArrays(read.bytes));
          return text;
        })
        .join('');
      closed = reads.some((read) => read.outcome === 'closed');
      if (step.closes === true && !closed) {
        const rest = await client.connection.untilClosed(step.timeoutMs ?? 1_000);
        reply += latin1(rest.bytes) + (rest.outcome === 'closed' ? '<closed>' : '<still open>');
      }
      // After a step that closes the connection (or should have), nothing more is sent.
      closed ||= step.closes === true;
      out.push({ label: step.label, reply });
    }
    if (!closed) {
      // Nothing may be left over: the next reply is the sync point's.
      out.push({ label: '(end of sequence) ECHO sync', reply: shown(await client.command(['ECHO', 'sync'])) });
    }
    return out;
  } finally {
    client.close();
  }
}

/** The reply with every array whose items are all bulk strings sorted (recursively). */
function sortedArrays(reply: Buffer): Buffer {
  const headerEnd = reply.indexOf('\r\n') + 2;
  if (reply[0] !== 0x2a || headerEnd < 2) return reply; // '*'
  const count = Number(reply.toString('latin1', 1, headerEnd - 2));
  const items: Buffer[] = [];
  let offset = headerEnd;
  for (let i = 0; i < count; i++) {
    const end = respReplyEnd(reply, offset);
    if (end === undefined) return reply;
    items.push(sortedArrays(reply.subarray(offset, end)));
    offset = end;
  }
  if (items.every((item) => item[0] === 0x24)) items.sort(Buffer.compare); // '$'
  return Buffer.concat([reply.subarray(0, headerEnd), ...items]);
}

/** Each side's cas uniques, named c1, c2, ... by first appearance. */
class CasNames {
  private readonly names = new Map<string, string>();
  private readonly values = new Map<string, string>();

  name(value: string): string {
    let name = this.names.get(value);
    if (name === undefined) {
      name = `c${this.names.size + 1}`;
      this.names.set(value, name);
      this.values.set(name, value);
    }
    return name;
  }

  /** `{{cN}}` → this side's value for cN (an unseen name: a value no server has handed out). */
  substitute(bytes: Buffer): Buffer {
    const text = latin1(bytes);
    if (!text.includes('{{')) return bytes;
    return Buffer.from(
      text.replace(/\{\{(c\d+)\}\}/g, (_, name: string) => this.values.get(name) ?? '999999999'),
      'latin1',
    );
  }
}

/** cas uniques → names, VERSION's text and STAT lines' contents → placeholders. */
function normaliseMemcached(bytes: Buffer, cas: CasNames): string {
  let out = '';
  let offset = 0;
  while (offset < bytes.length) {
    const end = memcachedUnitEnd(bytes, offset);
    if (end === undefined) {
      out += latin1(bytes.subarray(offset));
      break;
    }
    const lineEnd = bytes.indexOf('\r\n', offset) + 2;
    const line = latin1(bytes.subarray(offset, lineEnd));
    const value = /^(VALUE \S+ \d+ \d+) (\d+)\r\n$/.exec(line);
    if (value !== null) out += `${value[1]} ${cas.name(value[2]!)}\r\n${latin1(bytes.subarray(lineEnd, end))}`;
    else if (line.startsWith('VERSION ')) out += 'VERSION <version>\r\n';
    else out += latin1(bytes.subarray(offset, end));
    offset = end;
  }
  return out.replace(/^(STAT [^\r\n]*\r\n)+END\r\n$/, '<STAT lines>\r\nEND\r\n');
}

async function runMemcached(port: number, sequence: MemcachedSequence): Promise<StepOutcome[]> {
  const client = await MemcachedRawClient.open(port);
  const cas = new CasNames();
  try {
    const flushed = await client.exchange(Buffer.from('flush_all\r\n'), 'line');
    assert.equal(shown(flushed), 'OK\r\n', 'flush_all before the sequence');
    const out: StepOutcome[] = [];
    let closed = false;
    for (const step of sequence.steps) {
      if (closed) {
        out.push({ label: step.label, reply: '<not sent: connection closed>' });
        continue;
      }
      if (step.sleepMs !== undefined) await sleep(step.sleepMs);
      const read = await client.exchange(cas.substitute(step.send), step.expect);
      closed = read.outcome === 'closed';
      const marker = read.outcome === 'complete' ? '' : read.outcome === 'closed' ? '<closed>' : '<no reply>';
      out.push({ label: step.label, reply: normaliseMemcached(read.bytes, cas) + marker });
    }
    return out;
  } finally {
    client.close();
  }
}

// ---- comparing

interface Verdict {
  /** Steps that differ and are not listed: failures. */
  readonly unexpected: string[];
  /** Listed steps that no longer differ: failures (the list must stay true). */
  readonly stale: string[];
  /** Listed steps that differ, as listed. */
  readonly expected: string[];
}

function describeStep(index: number, label: string, realName: string, real: string, catena: string): string {
  return (
    `  step ${index + 1}: ${label}\n` +
    `    ${realName.padEnd(9)}: ${escapeBytes(Buffer.from(real, 'latin1'))}\n` +
    `    ${'catena'.padEnd(9)}: ${escapeBytes(Buffer.from(catena, 'latin1'))}`
  );
}

function compare(
  sequence: string,
  realName: string,
  real: readonly StepOutcome[],
  catena: readonly StepOutcome[],
  differences: readonly KnownDifference[],
): Verdict {
  const listed = new Set(differences.filter((d) => d.sequence === sequence).flatMap((d) => d.steps));
  const differing = new Set<string>();
  const verdict: Verdict = { unexpected: [], stale: [], expected: [] };
  const steps = Math.max(real.length, catena.length);
  for (let i = 0; i < steps; i++) {
    const label = real[i]?.label ?? catena[i]!.label;
    const a = real[i]?.reply ?? '<no step>';
    const b = catena[i]?.reply ?? '<no step>';
    if (verbose) process.stdout.write(`[${sequence}]\n${describeStep(i, label, realName, a, b)}\n`);
    if (a === b) continue;
    differing.add(label);
    (listed.has(label) ? verdict.expected : verdict.unexpected).push(describeStep(i, label, realName, a, b));
  }
  for (const label of listed) if (!differing.has(label)) verdict.stale.push(`  ${label}`);
  return verdict;
}

function check(t: TestContext, sequence: string, verdict: Verdict): void {
  const problems: string[] = [];
  if (verdict.unexpected.length > 0) {
    problems.push(`replies differ in sequence '${sequence}':\n${verdict.unexpected.join('\n')}`);
  }
  if (verdict.stale.length > 0) {
    problems.push(`listed as known differences but now the same in '${sequence}':\n${verdict.stale.join('\n')}`);
  }
  for (const line of verdict.expected) t.diagnostic(`known difference:\n${line}`);
  assert.ok(problems.length === 0, problems.join('\n'));
}

function checkListedSequences(corpus: readonly { name: string }[], differences: readonly KnownDifference[]): void {
  const names = new Set(corpus.map((sequence) => sequence.name));
  for (const difference of differences) {
    assert.ok(names.has(difference.sequence), `known difference names no sequence: ${difference.sequence}`);
    assert.ok(difference.reason.trim() !== '' && !difference.reason.includes('\n'), 'a one-line reason');
  }
}

const stepCount = (corpus: readonly { steps: readonly unknown[] }[]) =>
  corpus.reduce((sum, sequence) => sum + sequence.steps.length, 0);

// ---- the suites

describe('real servers for the differential tests', () => {
  it('are installed when CI is set', { skip: onCi ? undefined : 'not on CI' }, () => {
    assert.deepEqual(missing, [], 'CI must install them (scripts/install-system-packages.sh)');
  });
});

describe('differential: Redis vs Catena RESP', { skip: skipUnless(hasRedis, 'redis-server') }, () => {
  let redis: RedisServer | undefined;
  let node: CatenaNode | undefined;
  const dir = tempDir('catena-diff-resp-');

  before(async () => {
    [redis, node] = await Promise.all([
      startRedisServer(),
      CatenaNode.start({
        dataDir: dir.path,
        port: 0,
        respPort: 0,
        durability: 'memory',
        valueBytesMax: respValueBytesMax,
      }),
    ]);
  });

  after(async () => {
    await Promise.all([redis?.stop(), node?.stop()]);
    dir.remove();
  });

  it('lists known differences only for sequences of the corpus', () => {
    checkListedSequences(redisCorpus, redisDifferences);
    const names = redisCorpus.map((sequence) => sequence.name);
    assert.equal(new Set(names).size, names.length, 'sequence names are unique');
  });

  for (const sequence of redisCorpus) {
    it(sequence.name, async (t) => {
      const [real, catena] = await Promise.all([runResp(redis!.port, sequence), runResp(node!.respPort!, sequence)]);
      check(t, sequence.name, compare(sequence.name, 'redis', real, catena, redisDifferences));
    });
  }

  it(`covers ${redisCorpus.length} sequences, ${stepCount(redisCorpus)} steps`, () => undefined);
});

/** Whether Catena's memcached port answers `version` (its session may not exist yet). */
async function memcachedSessionAnswers(port: number): Promise<boolean> {
  try {
    const client = await MemcachedRawClient.open(port);
    try {
      const read = await client.exchange(Buffer.from('version\r\n'), 'line', 1_000, false);
      return read.outcome === 'complete' && latin1(read.bytes).startsWith('VERSION ');
    } finally {
      client.close();
    }
  } catch {
    return false;
  }
}

describe('differential: memcached vs Catena memcached', { skip: skipUnless(hasMemcached, 'memcached') }, () => {
  let memcached: MemcachedServer | undefined;
  let node: CatenaNode | undefined;
  let catenaAnswers = false;
  const dir = tempDir('catena-diff-memcached-');

  before(async () => {
    [memcached, node] = await Promise.all([
      startMemcached({ itemBytesMax: memcachedItemBytesMax }),
      CatenaNode.start({
        dataDir: dir.path,
        port: 0,
        memcachedPort: 0,
        durability: 'memory',
        valueBytesMax: memcachedItemBytesMax,
      }),
    ]);
    catenaAnswers = await memcachedSessionAnswers(node.memcachedPort!);
  });

  after(async () => {
    await Promise.all([memcached?.stop(), node?.stop()]);
    dir.remove();
  });

  it('lists known differences only for sequences of the corpus', () => {
    checkListedSequences(memcachedCorpus, memcachedDifferences);
    const names = memcachedCorpus.map((sequence) => sequence.name);
    assert.equal(new Set(names).size, names.length, 'sequence names are unique');
  });

  // Without this, every step of every sequence would wait out its reply deadline.
  it("Catena's memcached port answers `version`", () => {
    assert.ok(catenaAnswers, "Catena's memcached port does not answer `version`: the sequences are skipped");
  });

  for (const sequence of memcachedCorpus) {
    it(sequence.name, async (t) => {
      if (!catenaAnswers) {
        t.skip("Catena's memcached port does not answer");
        return;
      }
      const [real, catena] = await Promise.all([
        runMemcached(memcached!.port, sequence),
        runMemcached(node!.memcachedPort!, sequence),
      ]);
      check(t, sequence.name, compare(sequence.name, 'memcached', real, catena, memcachedDifferences));
    });
  }

  it(`covers ${memcachedCorpus.length} sequences, ${stepCount(memcachedCorpus)} steps`, () => undefined);
});
