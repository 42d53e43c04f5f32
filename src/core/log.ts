// Structured logs: one record per line on stderr, each naming the node, so logs from a cluster's
// processes can be merged and filtered. Levels: error, warn, info, debug.
//
// One record, two formats:
//   json   {"ts":"2026-01-02T21:51:03.412Z","level":"warn","node":"supervisor","msg":"...",...fields}
//          for files and log shippers (jq, Loki, Elasticsearch): `catena server`'s default, and
//          what every node writes under `catena up`.
//   text   22:51:03.412 warn  supervisor node1 exited: restarting (code=null signal=SIGKILL inMs=500)
//          for a person at a terminal: `catena up`'s own messages, `catena server --log-format
//          text`. Local wall-clock time (the reader knows the date), the level padded so messages
//          line up, the fields as key=value; a string is quoted (JSON-style, so a newline stays
//          on the line as \n) only when it has a space, quote, '=', parenthesis or control
//          character, or is empty.
//
// Field values are made plain before either format sees them: an Error becomes its text ("Name:
// message", with its code) because JSON.stringify would print {}, and a bigint its decimal digits
// because JSON.stringify would throw: a log call never throws and never loses the reason.

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const rank: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export type LogFormat = 'json' | 'text';
export const logFormats: readonly LogFormat[] = ['json', 'text'];
export const isLogFormat = (text: string | undefined): text is LogFormat => logFormats.includes(text as LogFormat);

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

/** One log record, before formatting. */
export interface LogRecord {
  readonly ts: Date;
  readonly level: LogLevel;
  readonly node: string;
  readonly msg: string;
  readonly fields?: Record<string, unknown> | undefined;
}

export function createLogger(options: {
  node: string;
  level: LogLevel;
  /** Default json. */
  format?: LogFormat;
  write?: (line: string) => void;
  now?: () => Date;
}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const format = options.format === 'text' ? formatTextLine : formatJsonLine;
  const now = options.now ?? (() => new Date());
  return {
    log(level, message, fields) {
      if (rank[level] > rank[options.level]) return;
      write(`${format({ ts: now(), level, node: options.node, msg: message, fields })}\n`);
    },
  };
}

export const silentLogger: Logger = { log: () => undefined };

/** The record as one JSON object (no newline): ts, level, node, msg, then the fields. */
export function formatJsonLine(record: LogRecord): string {
  const { ts, level, node, msg, fields } = record;
  return JSON.stringify({ ts: ts.toISOString(), level, node, msg, ...fields }, plainValue);
}

/** The record as one line for people (no newline); fields whose value is undefined are left out, as in JSON. */
export function formatTextLine(record: LogRecord): string {
  const { ts, level, node, msg, fields } = record;
  const pairs = Object.entries(fields ?? {})
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${textValue(value)}`);
  const tail = pairs.length === 0 ? '' : ` (${pairs.join(' ')})`;
  return `${clockTime(ts)} ${level.padEnd(5)} ${node} ${msg}${tail}`;
}

/** HH:MM:SS.mmm in local time. */
function clockTime(ts: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(ts.getHours())}:${two(ts.getMinutes())}:${two(ts.getSeconds())}.${String(ts.getMilliseconds()).padStart(3, '0')}`;
}

/** A string that reads unambiguously without quotes: printable, none of space " = ( ) \. */
const bareWord = /^[^\s"=()\\\p{C}]+$/u;

function textValue(value: unknown): string {
  const plain = plainValue('', value);
  if (typeof plain === 'string') return bareWord.test(plain) ? plain : JSON.stringify(plain);
  if (plain === null || typeof plain !== 'object') return String(plain);
  return JSON.stringify(plain, plainValue);
}

/** JSON.stringify's replacer (and the text format's first step): Errors and bigints made plain. */
function plainValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return errorText(value);
  return value;
}

/** "Name: message", plus the error's code when the message does not already name it. */
export function errorText(error: Error): string {
  const text = `${error.name}: ${error.message}`;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !text.includes(code) ? `${text} (${code})` : text;
}
