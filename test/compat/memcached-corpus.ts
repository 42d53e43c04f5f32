// The memcached half of the differential corpus (differential.test.ts): named sequences of text
// protocol requests, as data. Each sequence runs on a fresh connection after `flush_all`,
// against a real memcached (started with -I equal to Catena's value limit) and against Catena.
// After each request the runner reads the reply its kind calls for, then a `version` sync point
// (raw-clients.ts), so every byte a request provokes is attributed to it.
//
// cas uniques differ between servers: the runner maps each distinct one in a VALUE line to c1,
// c2, ... by first appearance on each side, and a request may say `{{c1}}` to send that side's
// own value back.

import { escapeBytes, type MemcachedExpect } from './raw-clients.js';

export interface MemcachedStep {
  /** Printed on a mismatch; the exceptions table names steps by it. */
  readonly label: string;
  readonly send: Buffer;
  readonly expect: MemcachedExpect;
  /** Wait this long before sending. */
  readonly sleepMs?: number;
}

export interface MemcachedSequence {
  readonly name: string;
  readonly steps: readonly MemcachedStep[];
}

/** The item/value limit both servers are started with. */
export const memcachedItemBytesMax = 1024 * 1024;

const retrievalCommands = new Set(['get', 'gets', 'gat', 'gats']);

/** What a request line is answered with, from its command name and a trailing noreply. */
function expectFor(line: string): MemcachedExpect {
  const words = line.split(' ').filter((word) => word !== '');
  const name = words[0] ?? '';
  if (retrievalCommands.has(name) && words.length > 1) return 'retrieval';
  if (name === 'stats') return 'stats';
  if (name === 'quit') return 'closed';
  if (words.at(-1) === 'noreply' && words.length > 1) return 'nothing';
  return 'line';
}

/** A request line (no data block); its line ending is added. */
export function mc(line: string, expect: MemcachedExpect = expectFor(line)): MemcachedStep {
  const bytes = Buffer.from(`${line}\r\n`, 'latin1');
  const text = Buffer.from(line, 'latin1');
  const label = text.length > 120 ? `${escapeBytes(text.subarray(0, 60))}…(${text.length} bytes)` : escapeBytes(text);
  return { label, send: bytes, expect };
}

/**
 * A storage request: `<command line> <bytes>[ <cas>][ noreply]\r\n<data>\r\n`. `head` is the
 * command, key, flags and exptime (`set k 0 0`); `bytes` overrides the declared length, and
 * `tail` the two bytes after the data.
 */
export function store(
  head: string,
  data: string | Buffer,
  options: { cas?: string; noreply?: boolean; bytes?: number | string; tail?: string; expect?: MemcachedExpect } = {},
): MemcachedStep {
  const value = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const line =
    `${head} ${options.bytes ?? value.length}` +
    (options.cas === undefined ? '' : ` ${options.cas}`) +
    (options.noreply === true ? ' noreply' : '');
  const send = Buffer.concat([
    Buffer.from(`${line}\r\n`, 'latin1'),
    value,
    Buffer.from(options.tail ?? '\r\n', 'latin1'),
  ]);
  const shownData = value.length > 40 ? `<${value.length} bytes>` : JSON.stringify(escapeBytes(value));
  const escaped = (text: string) => escapeBytes(Buffer.from(text, 'latin1'));
  const shownHead = line.length > 80 ? `${escaped(line.slice(0, 40))}…${escaped(line.slice(-30))}` : escaped(line);
  const tail =
    options.tail === undefined ? '' : ` + ${JSON.stringify(escapeBytes(Buffer.from(options.tail, 'latin1')))}`;
  return {
    label: `${shownHead} ${shownData}${tail}`,
    send,
    expect: options.expect ?? (options.noreply === true ? 'nothing' : 'line'),
  };
}

/** Raw bytes with an explicit label and expectation. */
export function rawMc(label: string, bytes: string | Buffer, expect: MemcachedExpect): MemcachedStep {
  return { label, send: typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes, expect };
}

const after = (sleepMs: number, step: MemcachedStep): MemcachedStep => ({
  ...step,
  sleepMs,
  label: `${step.label} (after ${sleepMs} ms)`,
});

const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const key250 = 'k'.repeat(250);
const key251 = 'k'.repeat(251);
const u64Max = '18446744073709551615';
/** An absolute unix time in the past (memcached reads exptimes above 30 days as absolute). */
const thirtyDaysPlusOne = String(30 * 24 * 3600 + 1);

export const memcachedCorpus: readonly MemcachedSequence[] = [
  {
    name: 'missing-keys',
    steps: [
      mc('get a'),
      mc('get a b c'),
      mc('gets a'),
      mc('gat 100 a'),
      mc('gats 100 a b'),
      mc('delete a'),
      mc('incr a 1'),
      mc('decr a 1'),
      mc('touch a 10'),
      store('append a 0 0', 'x'),
      store('prepend a 0 0', 'x'),
      store('replace a 0 0', 'x'),
      store('cas a 0 0', 'x', { cas: '1' }),
      mc('get a'),
    ],
  },
  {
    name: 'set-get',
    steps: [
      store('set k 0 0', 'hello'),
      mc('get k'),
      mc('get k k'),
      mc('get k missing k'),
      store('set k 0 0', 'second value'),
      mc('get k'),
      mc('gets k'),
      store('set k2 0 0', 'two'),
      mc('get k k2'),
      mc('get   k    k2  '),
      mc('delete k'),
      mc('get k k2'),
    ],
  },
  {
    name: 'flags',
    steps: [
      store('set f0 0 0', 'a'),
      store('set f1 1 0', 'b'),
      store('set fmax 4294967295 0', 'c'),
      mc('get f0 f1 fmax'),
      mc('gets fmax'),
      store('set fneg -1 0', 'd'),
      mc('get fneg'),
      store('append f1 99 0', 'x'),
      store('prepend fmax 7 0', 'y'),
      mc('get f1 fmax'),
      store('set fplus +5 0', 'e'),
      mc('get fplus'),
    ],
  },
  {
    name: 'flags-out-of-range',
    steps: [store('set fbig 4294967296 0', 'd'), mc('get fbig')],
  },
  {
    name: 'add-replace',
    steps: [
      store('add k 0 0', 'first'),
      store('add k 0 0', 'second'),
      mc('get k'),
      store('replace k 5 0', 'third'),
      mc('get k'),
      store('replace missing 0 0', 'x'),
      mc('get missing'),
      store('add k 0 0', 'x', { noreply: true }),
      store('replace k 0 0', 'fourth', { noreply: true }),
      store('add new 0 0', 'x', { noreply: true }),
      mc('get k new'),
    ],
  },
  {
    name: 'append-prepend',
    steps: [
      store('append k 0 0', 'tail'),
      store('set k 3 0', 'middle'),
      store('append k 9 0', '-tail'),
      store('prepend k 9 0', 'head-'),
      mc('get k'),
      store('append k 0 0', ''),
      store('prepend k 0 0', ''),
      mc('get k'),
      store('append k 0 0', '\r\n', { noreply: true }),
      mc('get k'),
      store('append k 0 -1', 'x'),
      mc('get k'),
    ],
  },
  {
    name: 'cas',
    steps: [
      store('set k 0 0', 'v1'),
      mc('gets k'),
      store('cas k 0 0', 'v2', { cas: '{{c1}}' }),
      mc('gets k'),
      store('cas k 0 0', 'v3', { cas: '{{c1}}' }),
      mc('get k'),
      store('cas k 7 0', 'v4', { cas: '{{c2}}' }),
      mc('gets k'),
      store('cas missing 0 0', 'x', { cas: '{{c3}}' }),
      store('cas k 0 0', 'x', { cas: '{{c3}}', noreply: true }),
      mc('gets k'),
      store('cas k 0 0', 'y', { cas: '{{c4}}', noreply: true }),
      mc('gets k'),
      store('cas k 0 0', 'z', { cas: 'abc' }),
      store('cas k 0 0', 'z', { cas: '-1' }),
      mc('cas k 0 0 1'),
      store('set other 0 0', 'o'),
      mc('gets k other'),
      store('cas k 0 0', 'after-set', { cas: '{{c4}}' }),
      store('append k 0 0', '+'),
      mc('gets k'),
      mc('incr other 0'),
      mc('gets other'),
    ],
  },
  {
    name: 'cas-after-touch',
    steps: [
      store('set k 0 0', 'v'),
      mc('gets k'),
      mc('touch k 100'),
      mc('gets k'),
      store('cas k 0 0', 'w', { cas: '{{c1}}' }),
      mc('get k'),
    ],
  },
  {
    name: 'cas-after-gat',
    steps: [store('set k 0 0', 'v'), mc('gets k'), mc('gat 100 k'), store('cas k 0 0', 'w', { cas: '{{c1}}' })],
  },
  {
    name: 'cas-from-gats',
    steps: [
      store('set k 0 0', 'v'),
      mc('gats 100 k'),
      store('cas k 0 0', 'w', { cas: '{{c1}}' }),
      mc('gets k'),
      mc('gats 0 k k'),
    ],
  },
  {
    name: 'cas-expired-and-deleted',
    steps: [
      store('set k 0 0', 'v'),
      mc('gets k'),
      mc('delete k'),
      store('cas k 0 0', 'w', { cas: '{{c1}}' }),
      store('set e 0 0', 'v'),
      mc('gets e'),
      mc('touch e -1'),
      store('cas e 0 0', 'w', { cas: '{{c2}}' }),
      store('set f 0 0', 'v'),
      mc('gets f'),
      store('cas f 0 -1', 'w', { cas: '{{c3}}' }),
      mc('get f'),
    ],
  },
  {
    name: 'delete',
    steps: [
      mc('delete k'),
      store('set k 0 0', 'v'),
      mc('delete k'),
      mc('delete k'),
      store('set k 0 0', 'v'),
      mc('delete k 0'),
      store('set k 0 0', 'v'),
      mc('delete k noreply'),
      mc('get k'),
      store('set k 0 0', 'v'),
      mc('delete k 0 noreply'),
      mc('get k'),
      store('set k 0 0', 'v'),
      mc('delete k 1'),
      mc('delete k 0 extra'),
      mc('delete k 1 noreply'),
      mc('get k'),
      mc('delete'),
      mc('delete a b c d'),
    ],
  },
  {
    name: 'incr-decr',
    steps: [
      store('set n 5 0', '10'),
      mc('incr n 5'),
      mc('get n'),
      mc('decr n 3'),
      mc('decr n 100'),
      mc('get n'),
      mc('incr n 0'),
      store('set n 0 0', '9'),
      mc('incr n 1'),
      mc('get n'),
      store('set n 0 0', u64Max),
      mc('incr n 1'),
      mc('get n'),
      store('set n 0 0', '18446744073709551610'),
      mc('incr n 10'),
      store('set n 0 0', '1'),
      mc(`incr n ${u64Max}`),
      mc('decr n 18446744073709551616'),
      mc('incr n 18446744073709551616'),
      mc('incr n -1'),
      mc('incr n abc'),
      mc('incr n 1.5'),
      mc('incr n +2'),
      mc('incr n noreply'),
      mc('incr n 2 noreply'),
      mc('decr n 1 noreply'),
      mc('get n'),
      mc('incr n'),
      mc('incr'),
    ],
  },
  {
    name: 'incr-shrinking',
    steps: [store('set n 0 0', '100'), mc('decr n 1'), mc('get n'), mc('incr n 1'), mc('get n')],
  },
  {
    name: 'incr-non-numeric',
    steps: [
      store('set s 0 0', 'abc'),
      mc('incr s 1'),
      mc('decr s 1'),
      mc('incr s 1 noreply'),
      store('set s 0 0', '12abc'),
      mc('incr s 1'),
      store('set s 0 0', ''),
      mc('incr s 1'),
      store('set s 0 0', '-5'),
      mc('incr s 1'),
      store('set s 0 0', '99999999999999999999'),
      mc('incr s 1'),
      store('set s 0 0', '184467440737095516150'),
      mc('incr s 1'),
      store('set s 0 0', allBytes),
      mc('incr s 1'),
      mc('get s'),
    ],
  },
  {
    name: 'incr-padded-values',
    steps: [
      store('set s 0 0', ' 5'),
      mc('incr s 1'),
      store('set t 0 0', '5 '),
      mc('incr t 1'),
      store('set u 0 0', '007'),
      mc('incr u 1'),
      mc('get u'),
    ],
  },
  {
    name: 'touch-gat',
    steps: [
      store('set k 3 0', 'v'),
      mc('touch k 100'),
      mc('touch missing 100'),
      mc('gat 100 k'),
      mc('gat 100 k missing k'),
      mc('gats 100 missing'),
      mc('gat 0 k'),
      mc('touch k abc'),
      mc('gat abc k'),
      mc('touch k 10 noreply'),
      mc('touch k'),
      mc('gat'),
      mc('gats'),
      mc('gat 10', 'retrieval'),
      mc('touch k -1'),
      mc('get k'),
      store('set g 0 0', 'w'),
      mc('gat -1 g'),
      mc('get g'),
    ],
  },
  {
    name: 'expiry',
    steps: [
      store('set neg 0 -1', 'v'),
      mc('get neg'),
      store(`set abs 0 ${thirtyDaysPlusOne}`, 'v'),
      mc('get abs'),
      store('set rel 0 100', 'v'),
      mc('get rel'),
      store('set month 0 2592000', 'v'),
      mc('get month'),
      store('set future 0 4102444800', 'v'),
      store('set y2038 0 2147483647', 'v'),
      mc('get y2038 future'),
      store('add neg 0 0', 'again'),
      mc('get neg'),
      store('set gone 0 0', 'v'),
      store('set gone 0 -100', 'w'),
      mc('get gone'),
      store('replace gone 0 0', 'x'),
      store('set t 0 0', 'v'),
      mc(`touch t ${thirtyDaysPlusOne}`),
      mc('get t'),
      store('set plus 0 +100', 'v'),
      mc('get plus'),
      store('set expbad 0 abc', 'v'),
      mc('get expbad'),
    ],
  },
  {
    name: 'expiry-out-of-range',
    steps: [store('set big 0 2147483648', 'v'), mc('get big')],
  },
  {
    name: 'noreply',
    steps: [
      store('set a 0 0', '1', { noreply: true }),
      store('add a 0 0', '2', { noreply: true }),
      store('add b 0 0', '2', { noreply: true }),
      store('replace b 0 0', '3', { noreply: true }),
      store('replace c 0 0', '4', { noreply: true }),
      store('append a 0 0', '0', { noreply: true }),
      store('prepend a 0 0', '9', { noreply: true }),
      store('append c 0 0', '0', { noreply: true }),
      mc('get a b c'),
      mc('incr a 1 noreply'),
      mc('decr b 1 noreply'),
      mc('incr c 1 noreply'),
      mc('get a b'),
      mc('touch a 100 noreply'),
      mc('touch c 100 noreply'),
      mc('delete b noreply'),
      mc('delete c noreply'),
      mc('get a b c'),
      mc('verbosity 1 noreply'),
      mc('flush_all 0 noreply'),
      mc('get a'),
      store('set a 0 0', '1', { noreply: true }),
      mc('flush_all noreply'),
      mc('get a'),
    ],
  },
  {
    name: 'noreply-errors',
    steps: [
      mc('incr a abc noreply'),
      mc('touch a abc noreply'),
      store('set a 0 0', 'x', { noreply: true }),
      mc('incr a 1 noreply'),
      mc('get a'),
      mc('delete a 5 noreply'),
      mc('flush_all abc noreply'),
      mc('get a'),
    ],
  },
  {
    name: 'noreply-bad-storage-line',
    steps: [store('set a 0 x', 'get a', { bytes: 5, noreply: true, expect: 'nothing' }), mc('get a')],
  },
  {
    name: 'key-length',
    steps: [
      store(`set ${key250} 0 0`, 'v'),
      mc(`get ${key250}`),
      mc(`gets ${key250}`),
      mc(`delete ${key250}`),
      store(`set ${key251} 0 0`, 'stored'),
      mc(`get ${key251}`),
      mc(`get a ${key251}`),
      mc(`delete ${key251}`),
      mc(`incr ${key251} 1`),
      mc(`touch ${key251} 1`),
      store(`set ${key250} 0 0`, 'v'),
      mc(`get a ${key250} ${key251}`),
    ],
  },
  {
    name: 'key-control-characters',
    steps: [store('set a\x01b 0 0', 'v'), mc('get a\x01b'), store('set tab\tkey 0 0', 'v'), mc('get tab\tkey')],
  },
  {
    name: 'key-del-character',
    steps: [store('set del\x7f 0 0', 'v'), mc('get del\x7f')],
  },
  {
    name: 'key-high-bytes',
    steps: [store('set caf\xe9\xff 0 0', 'v'), mc('get caf\xe9\xff'), mc('delete caf\xe9\xff')],
  },
  {
    name: 'binary-values',
    steps: [
      store('set all 0 0', allBytes),
      mc('get all'),
      store('set crlf 0 0', 'a\r\nb\r\nEND\r\nVALUE x 0 1\r\n'),
      mc('get crlf'),
      mc('gets crlf all'),
      store('set empty 0 0', ''),
      mc('get empty'),
      store('append empty 0 0', allBytes),
      mc('get empty'),
      store('set nul 0 0', Buffer.from([0, 0, 0])),
      mc('get nul'),
    ],
  },
  {
    name: 'too-large',
    steps: [
      store('set k 0 0', 'small'),
      store('set k 0 0', Buffer.alloc(memcachedItemBytesMax + 1, 0x61)),
      mc('get k'),
      store('set k 0 0', 'small'),
      store('add k 0 0', Buffer.alloc(memcachedItemBytesMax + 1, 0x61)),
      mc('get k'),
      store('set k 0 0', Buffer.alloc(memcachedItemBytesMax + 1, 0x61), { noreply: true }),
      mc('get k'),
      store('set big 0 0', Buffer.alloc(memcachedItemBytesMax - 4096, 0x62)),
      mc('get big'),
      store('set k 0 0', Buffer.alloc(memcachedItemBytesMax * 2, 0x61)),
      mc('get k'),
    ],
  },
  {
    name: 'item-size-boundary',
    steps: [store('set edge 0 0', Buffer.alloc(memcachedItemBytesMax, 0x63)), mc('get edge')],
  },
  {
    name: 'append-past-limit',
    steps: [
      store('set big 0 0', Buffer.alloc(memcachedItemBytesMax - 4096, 0x62)),
      store('append big 0 0', Buffer.alloc(8192, 0x62)),
      mc('gets big'),
    ],
  },
  {
    name: 'bad-data-chunk',
    steps: [
      store('set k 0 0', 'abc', { tail: 'XY' }),
      mc('get k'),
      store('set k 0 0', 'old'),
      store('set k 0 0', 'abc', { bytes: 3, tail: 'de\r\n' }),
      mc('get k'),
      store('set k 0 0', 'abc', { bytes: 2 }),
      mc('get k'),
      store('set k 0 0', 'ab\r\nX', { bytes: 3, tail: '' }),
      mc('get k'),
      store('set k 0 0', 'abc', { tail: '\n\n' }),
      store('set k 0 0', 'xyz', { tail: 'XY', noreply: true }),
      mc('get k'),
    ],
  },
  {
    name: 'bad-command-lines',
    steps: [
      store('set k a 0', 'get k', { bytes: 5 }),
      store('set k 0 0', 'hello', { bytes: -1 }),
      store('set k 0 0', 'hi', { bytes: 'x' }),
      mc('set k 0 0'),
      mc('set k 0 0 1 noreply extra'),
      mc('set'),
      mc('cas k 0 0 1'),
      mc('incr k 1 2 3'),
      mc('get'),
      mc('flush_all 1 2 3'),
      mc('get k'),
    ],
  },
  {
    name: 'garbage-lines',
    steps: [
      mc('foo bar'),
      mc(''),
      mc('   '),
      mc('GET k'),
      mc('Set k 0 0 1'),
      rawMc('binary garbage line', Buffer.from([0x00, 0xff, 0xfe, 0x0d, 0x0a]), 'line'),
      rawMc('bare newline', '\n', 'line'),
      rawMc('line ending \\n only', 'version\n', 'line'),
      mc('get\tk'),
      mc('version extra'),
      mc('stat'),
      mc('gets'),
      mc('get '),
      mc('delete k noreply extra'),
      store('set k 00 0', '5', { bytes: '01' }),
      mc('get k'),
      mc('incr k 00001'),
      rawMc('3000-byte garbage line', `${'x'.repeat(3000)}\r\n`, 'line'),
    ],
  },
  {
    name: 'long-get-line',
    steps: [
      store('set k1 0 0', 'v'),
      mc(`get ${Array.from({ length: 600 }, (_, i) => `k${i}`).join(' ')}`),
      mc(`gets ${Array.from({ length: 800 }, () => 'k1').join(' ')}`),
    ],
  },
  {
    name: 'line-too-long-without-newline',
    steps: [rawMc('4096 bytes, no newline', 'x'.repeat(4096), 'closed')],
  },
  {
    name: 'flush-all',
    steps: [
      store('set a 0 0', '1'),
      mc('flush_all'),
      mc('get a'),
      store('set a 0 0', '1'),
      mc('get a'),
      mc('flush_all 0'),
      mc('get a'),
      store('set a 0 0', '1'),
      mc('flush_all abc'),
      mc('flush_all -1'),
      mc('get a'),
      store('set b 0 0', '2'),
      mc('flush_all 100'),
      mc('get b'),
      mc('flush_all'),
    ],
  },
  {
    name: 'version-verbosity-stats',
    steps: [
      mc('version'),
      mc('verbosity 1'),
      mc('verbosity 0'),
      mc('verbosity'),
      mc('verbosity abc'),
      mc('verbosity 1 2 3'),
      mc('stats'),
    ],
  },
  {
    name: 'stats-reset',
    steps: [mc('stats reset', 'line')],
  },
  {
    name: 'unimplemented-commands',
    steps: [mc('mn'), mc('mg missing v'), mc('cache_memlimit 100')],
  },
  {
    name: 'expiry-elapses',
    steps: [store('set k 0 1', 'v'), mc('touch k 1'), mc('get k'), after(2100, mc('get k')), mc('touch k 1')],
  },
  {
    name: 'quit',
    steps: [store('set q 0 0', 'v'), mc('quit')],
  },
  {
    name: 'quit-with-argument',
    steps: [mc('quit now', 'line')],
  },
  {
    name: 'quit-pipelined',
    steps: [rawMc('get q then quit then get q', 'get q\r\nquit\r\nget q\r\n', 'closed')],
  },
];
