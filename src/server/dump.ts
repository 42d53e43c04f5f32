// A node's whole table as JSON lines: `GET /dump` on the admin listener (admin.ts) streams it,
// `catena dump` (cli/dump-command.ts) saves it per node, and a node can write it to a file. It
// reads this node's own store, nothing routed: in a chain every replica holds the same table,
// and the tail's is the committed one (a head's may hold writes still on their way down).
//
//   {"catena":"dump","format":1,"nodeId":"<id>","takenAtMs":<ms>}          header, always first
//   {"key":K,"value":V,"version":<n>,"expiresAtMs":<ms, 0 = never>,"flags":<u32>}   one per key
//   ...                                                       keys in store order (memcmp), once
//
// Every line ends with "\n". K and V are JSON strings when the bytes are valid UTF-8 with no
// control character (U+0000-U+001F, U+007F-U+009F: tabs and newlines included), else
// {"base64":"<standard base64, padded>"}. So text stays readable, and any bytes round-trip.
//
// The store is read in pages (`Store.scan`, at most dumpPageRecords entries or about
// dumpPageBytesMax bytes each), each page written before the next is read, with a yield to the
// event loop between pages: a large store never sits in memory, and requests keep being served.
// Consequences: a dump is not a point-in-time snapshot (a key written during the dump may or may
// not be in it, with the value it had when its page was read), but every key appears at most
// once, in order, and a key expired when its page is read is left out. A page is written only
// after the store is durable up to the moment it was read, so a dump never holds a write that a
// crash of the node could take back.
//
// A dump written to a file goes to `<file>.tmp`, is fsynced, renamed over `<file>`, and the
// directory fsynced: a file at `<file>` is always a whole dump (writeFileAtomically, also used by
// the CLI). The encoding and the stream checks at the top are pure; the I/O is at the bottom.

import { isUtf8 } from 'node:buffer';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { assert } from '../core/assert.js';
import type { Clock } from '../core/clock.js';
import { CatenaError } from '../core/errors.js';
import {
  keyBytesMax,
  valueBytesCeiling,
  dumpHeaderBytesMax,
  dumpLineCharsMax,
  dumpNodeIdCharsMax,
  dumpPageBytesMax,
  dumpPageRecords,
} from '../core/limits.js';
import { compareKeys, type Store } from '../storage/store.js';

/** The format this code writes; a reader refuses any other. */
export const dumpFormat = 1;

export interface DumpHeader {
  readonly nodeId: string;
  readonly takenAtMs: number;
}

export interface DumpRecord {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly version: number;
  readonly expiresAtMs: number;
  readonly flags: number;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

/** What a dump held. `bytes` counts every byte of the stream, header and newlines included. */
export interface DumpSummary {
  readonly keys: number;
  readonly bytes: number;
}

// ---------------------------------------------------------------------------------------------
// The line format (pure).

/** True for a C0 or C1 control character or DEL. In valid UTF-8 these are the bytes 0x00-0x1F and
 * 0x7F (never part of a longer sequence) and the pairs 0xC2 0x80-0x9F. */
function hasControlCharacter(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte < 0x20 || byte === 0x7f) return true;
    if (byte === 0xc2 && (bytes[i + 1] ?? 0xff) <= 0x9f) return true;
  }
  return false;
}

/** Bytes as the dump writes them: text when they are printable UTF-8, else base64. */
export function encodeDumpBytes(bytes: Uint8Array): string | { base64: string } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (isUtf8(buffer) && !hasControlCharacter(buffer)) return buffer.toString('utf8');
  return { base64: buffer.toString('base64') };
}

/**
 * The bytes a dump field holds, or undefined when it is neither well-formed text nor canonical
 * base64 (a lone surrogate, which UTF-8 cannot carry, would silently become U+FFFD).
 */
export function decodeDumpBytes(field: unknown): Buffer | undefined {
  if (typeof field === 'string') {
    const bytes = Buffer.from(field, 'utf8');
    return bytes.toString('utf8') === field ? bytes : undefined;
  }
  if (field === null || typeof field !== 'object' || Array.isArray(field)) return undefined;
  const entries = Object.entries(field);
  const [name, text] = entries[0] ?? [];
  if (entries.length !== 1 || name !== 'base64' || typeof text !== 'string') return undefined;
  // Buffer.from skips what is not base64: only the canonical spelling is accepted.
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

export function encodeDumpHeader(header: DumpHeader): string {
  return `${JSON.stringify({ catena: 'dump', format: dumpFormat, nodeId: header.nodeId, takenAtMs: header.takenAtMs })}\n`;
}

export function encodeDumpRecord(record: DumpRecord): string {
  const line = {
    key: encodeDumpBytes(record.key),
    value: encodeDumpBytes(record.value),
    version: record.version,
    expiresAtMs: record.expiresAtMs,
    flags: record.flags,
  };
  return `${JSON.stringify(line)}\n`;
}

/** Parses a JSON object of exactly the given fields, refusing a line longer than `charsMax`. */
function parseObject(line: string, fields: readonly string[], charsMax: number): Decoded<Record<string, unknown>> {
  if (line.length > charsMax) return { ok: false, reason: `line longer than ${charsMax} characters` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  const names = Object.keys(parsed);
  if (names.length !== fields.length || !fields.every((field) => names.includes(field))) {
    return { ok: false, reason: `fields must be exactly ${fields.join(', ')}` };
  }
  return { ok: true, value: parsed as Record<string, unknown> };
}

const isCount = (value: unknown, max: number): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= max;

/** The header line (without its "\n"). */
export function decodeDumpHeader(line: string): Decoded<DumpHeader> {
  const parsed = parseObject(line, ['catena', 'format', 'nodeId', 'takenAtMs'], dumpHeaderBytesMax);
  if (!parsed.ok) return { ok: false, reason: `header: ${parsed.reason}` };
  const { catena, format, nodeId, takenAtMs } = parsed.value;
  if (catena !== 'dump') return { ok: false, reason: 'header: not a Catena dump' };
  if (format !== dumpFormat) return { ok: false, reason: `header: format ${String(format)}, expected ${dumpFormat}` };
  if (typeof nodeId !== 'string' || nodeId === '' || nodeId.length > dumpNodeIdCharsMax) {
    return { ok: false, reason: 'header: nodeId must be a non-empty string' };
  }
  if (!isCount(takenAtMs, Number.MAX_SAFE_INTEGER)) return { ok: false, reason: 'header: bad takenAtMs' };
  return { ok: true, value: { nodeId, takenAtMs } };
}

/** One record line (without its "\n"). */
export function decodeDumpRecord(line: string): Decoded<DumpRecord> {
  const parsed = parseObject(line, ['key', 'value', 'version', 'expiresAtMs', 'flags'], dumpLineCharsMax);
  if (!parsed.ok) return parsed;
  const fields = parsed.value;
  const key = decodeDumpBytes(fields.key);
  const value = decodeDumpBytes(fields.value);
  if (key === undefined || key.length === 0 || key.length > keyBytesMax) return { ok: false, reason: 'bad key' };
  if (value === undefined || value.length > valueBytesCeiling) return { ok: false, reason: 'bad value' };
  const { version, expiresAtMs, flags } = fields;
  if (!isCount(version, Number.MAX_SAFE_INTEGER) || version < 1) return { ok: false, reason: 'bad version' };
  if (!isCount(expiresAtMs, Number.MAX_SAFE_INTEGER)) return { ok: false, reason: 'bad expiresAtMs' };
  if (!isCount(flags, 0xffff_ffff)) return { ok: false, reason: 'bad flags' };
  return { ok: true, value: { key, value, version, expiresAtMs, flags } };
}

/** A whole dump held as text (tests, small dumps): its header and records, or the first problem. */
export function decodeDump(text: string): Decoded<{ header: DumpHeader; records: DumpRecord[] }> {
  if (!text.endsWith('\n')) return { ok: false, reason: 'the dump does not end with a newline (cut short?)' };
  const lines = text.slice(0, -1).split('\n');
  const header = decodeDumpHeader(lines[0]!);
  if (!header.ok) return header;
  const records: DumpRecord[] = [];
  for (let i = 1; i < lines.length; i++) {
    const record = decodeDumpRecord(lines[i]!);
    if (!record.ok) return { ok: false, reason: `line ${i + 1}: ${record.reason}` };
    if (records.length > 0 && compareKeys(records[records.length - 1]!.key, record.value.key) >= 0) {
      return { ok: false, reason: `line ${i + 1}: keys out of order` };
    }
    records.push(record.value);
  }
  return { ok: true, value: { header: header.value, records } };
}

/**
 * Checks a dump arriving in chunks split anywhere, without holding it: the header is whole and
 * names the expected node, and the stream ends at the end of a line. Counts the records.
 */
export class DumpStreamCheck {
  private headerBytes: Buffer[] = [];
  private headerLength = 0;
  private header: DumpHeader | undefined;
  private newlines = 0;
  private bytes = 0;
  private lastByte = -1;
  private problem: string | undefined;

  constructor(private readonly expectedNodeId: string) {}

  push(chunk: Uint8Array): void {
    if (chunk.length === 0 || this.problem !== undefined) return;
    this.bytes += chunk.length;
    this.lastByte = chunk[chunk.length - 1]!;
    for (let at = chunk.indexOf(0x0a); at >= 0; at = chunk.indexOf(0x0a, at + 1)) this.newlines += 1;
    if (this.header === undefined) this.collectHeader(chunk);
  }

  private collectHeader(chunk: Uint8Array): void {
    const end = chunk.indexOf(0x0a);
    const part = end < 0 ? chunk : chunk.subarray(0, end);
    this.headerLength += part.length;
    if (this.headerLength > dumpHeaderBytesMax) {
      this.problem = `header: first line longer than ${dumpHeaderBytesMax} bytes`;
      return;
    }
    this.headerBytes.push(Buffer.from(part));
    if (end < 0) return;
    const decoded = decodeDumpHeader(Buffer.concat(this.headerBytes).toString('utf8'));
    this.headerBytes = [];
    if (!decoded.ok) this.problem = decoded.reason;
    else if (decoded.value.nodeId !== this.expectedNodeId) {
      this.problem = `header: the dump is of node ${decoded.value.nodeId}, not ${this.expectedNodeId}`;
    } else this.header = decoded.value;
  }

  /** At the end of the stream: the header and counts, or what is wrong with it. */
  finish(): Decoded<DumpHeader & DumpSummary> {
    if (this.problem !== undefined) return { ok: false, reason: this.problem };
    if (this.header === undefined) return { ok: false, reason: 'no complete header line' };
    if (this.lastByte !== 0x0a) return { ok: false, reason: 'the dump does not end with a newline (cut short?)' };
    return { ok: true, value: { ...this.header, keys: this.newlines - 1, bytes: this.bytes } };
  }
}

// ---------------------------------------------------------------------------------------------
// Streaming a store (I/O).

export interface DumpSource {
  readonly nodeId: string;
  /** This node's own store. */
  readonly store: Store;
  /** For the header's takenAtMs (the node's clock). */
  readonly clock: Clock;
}

interface DumpSink {
  write(chunk: Buffer): Promise<void>;
  /** Throws when the destination is gone; checked before each page is read. */
  ensureOpen(): void;
}

async function streamDump(source: DumpSource, sink: DumpSink): Promise<DumpSummary> {
  const header = Buffer.from(encodeDumpHeader({ nodeId: source.nodeId, takenAtMs: source.clock.nowMs() }), 'utf8');
  await sink.write(header);
  let keys = 0;
  let bytes = header.length;
  let after: Uint8Array | undefined;
  for (;;) {
    sink.ensureOpen();
    const page = source.store.scan({ after, limit: dumpPageRecords, bytesMax: dumpPageBytesMax });
    const chunk = Buffer.from(page.entries.map(encodeDumpRecord).join(''), 'utf8');
    // What was read may not be on disk yet: never hand out a write a crash could take back.
    await source.store.sync();
    if (chunk.length > 0) await sink.write(chunk);
    keys += page.entries.length;
    bytes += chunk.length;
    if (page.cursor === undefined) return { keys, bytes };
    assert(after === undefined || compareKeys(page.cursor, after) > 0, 'each dump page moves forward');
    after = Buffer.from(page.cursor);
    await yieldToEventLoop();
  }
}

const destinationClosed = () => new CatenaError('ERR_CONNECTION_CLOSED', 'the dump destination closed');

/** Resolves on 'drain'; rejects when `out` closes or fails first. */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error: Error | undefined) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      out.off('error', onError);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onDrain = () => settle(undefined);
    const onClose = () => settle(destinationClosed());
    const onError = (error: Error) => settle(error);
    out.on('drain', onDrain);
    out.on('close', onClose);
    out.on('error', onError);
  });
}

/**
 * Streams this node's dump into `out` (an HTTP response), waiting for it to drain between pages.
 * Does not end `out`. Rejects with ERR_CONNECTION_CLOSED when `out` closes before the end.
 */
export function writeDump(out: Writable, source: DumpSource): Promise<DumpSummary> {
  const ensureOpen = () => {
    if (out.destroyed || out.writableEnded) throw destinationClosed();
  };
  return streamDump(source, {
    ensureOpen,
    write: async (chunk) => {
      ensureOpen();
      if (!out.write(chunk)) await drained(out);
    },
  });
}

/** Writes this node's dump to `path`, whole or not at all (see writeFileAtomically). */
export function dumpToFile(path: string, source: DumpSource): Promise<DumpSummary> {
  return writeFileAtomically(path, (write) => streamDump(source, { write, ensureOpen: () => undefined }));
}

/**
 * Writes a file through `<path>.tmp`: `produce` writes the content, then the file is fsynced,
 * renamed over `path`, and the directory fsynced, so `path` never holds a partial file. If
 * `produce` or any step fails, the temporary file is removed and the error rethrown. The file is
 * readable by its owner only: a dump holds every value of the store.
 */
export async function writeFileAtomically<T>(
  path: string,
  produce: (write: (chunk: Uint8Array) => Promise<void>) => Promise<T>,
): Promise<T> {
  const temporary = `${path}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  let closed = false;
  try {
    const result = await produce(async (chunk) => {
      for (let offset = 0; offset < chunk.length;) {
        const { bytesWritten } = await handle.write(chunk, offset);
        assert(bytesWritten > 0, 'a file write makes progress');
        offset += bytesWritten;
      }
    });
    await handle.sync();
    closed = true;
    await handle.close();
    await rename(temporary, path);
    await syncDirectory(dirname(path));
    return result;
  } catch (error) {
    if (!closed) await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Makes a rename in `directory` durable (POSIX: the entry lives in the directory's own data). */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
