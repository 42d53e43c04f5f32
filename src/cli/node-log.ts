// A node's log file under `catena up` (<data-dir>/node<i>.log) holds JSON lines only, so `jq`, a
// log shipper or `grep '"level":"error"'` can read it whole. A node logs JSON records itself
// (core/log.ts); what else reaches its stdout or stderr (a crash's stack trace from Node.js, a
// runtime warning, the human listening line) is wrapped by the supervisor into a record of the
// same shape: {"ts","level","node","msg":<the line>,"stream":"stdout"|"stderr"}.
//
// The child's output arrives in chunks that split lines anywhere; LineSplitter joins them into
// whole lines and, so that a child writing without newlines cannot grow the supervisor's memory,
// cuts a line longer than supervisorLogLineCharsMax into pieces of that size (each wrapped).

import { assert } from '../core/assert.js';
import { formatJsonLine, type LogLevel } from '../core/log.js';

export type ChildStream = 'stdout' | 'stderr';

/** Whole lines out of a stream's chunks, none longer than `charsMax` (without its newline). */
export class LineSplitter {
  private partial = '';

  constructor(private readonly charsMax: number) {
    assert(charsMax > 0, 'a line holds at least one character');
  }

  /** The lines this chunk completes, in order. */
  push(chunk: string): string[] {
    const lines: string[] = [];
    let text = this.partial + chunk;
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n')) {
      lines.push(...this.cut(text.slice(0, newline)));
      text = text.slice(newline + 1);
    }
    const pieces = this.cut(text);
    this.partial = pieces.pop() ?? '';
    // A piece of exactly charsMax is complete; only the last, shorter one waits for more.
    if (this.partial.length === this.charsMax) {
      pieces.push(this.partial);
      this.partial = '';
    }
    return [...lines, ...pieces];
  }

  /** The last line, when the stream ended without a newline. */
  end(): string[] {
    const last = this.partial;
    this.partial = '';
    return last === '' ? [] : [last];
  }

  private cut(line: string): string[] {
    if (line.length <= this.charsMax) return [line];
    const pieces: string[] = [];
    for (let at = 0; at < line.length; at += this.charsMax) pieces.push(line.slice(at, at + this.charsMax));
    return pieces;
  }
}

/**
 * The line as it goes into the log file: a JSON object as it is, anything else wrapped into a
 * record; a blank line is dropped (undefined). On stderr a Node.js warning ("(node:123) Warning:
 * ...") is a warn, anything else an error (a crash trace); on stdout an info.
 */
export function nodeLogLine(line: string, source: { node: string; stream: ChildStream; ts: Date }): string | undefined {
  if (line.trim() === '') return undefined;
  if (isJsonObject(line)) return line;
  const level: LogLevel =
    source.stream === 'stdout' ? 'info' : /^\(node:\d+\) \w*Warning/.test(line) ? 'warn' : 'error';
  return formatJsonLine({ ts: source.ts, level, node: source.node, msg: line, fields: { stream: source.stream } });
}

function isJsonObject(line: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
