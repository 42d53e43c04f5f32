// A small argument parser for the `catena` command: flags of the form --name value or
// --name=value (booleans take no value), a few with a one-letter form (-h host, -p port, as in
// redis-cli), everything else positional. Words that look like negative numbers are positional,
// so `catena incr n -5` works; so is any longer word starting with one dash (a key "-foo"), and
// a lone `-` (a value read from stdin, one-shot.ts); `--` ends the flags.
//
// A flag's value comes from the command line, else from the environment or a config file
// (settings.ts fills `settings`), else from its default: flagString and friends read the three
// layers in that order, and an error about a value names where it came from.

import { CatenaError } from '../core/errors.js';

export interface Flag {
  readonly kind: 'string' | 'boolean';
  readonly description: string;
  readonly default?: string;
  /** One letter: `-p 7000` is `--port 7000`. */
  readonly short?: string;
  /** Accepted and parsed as this other flag of the spec, but not shown in help (an old name). */
  readonly aliasOf?: string;
  /** The environment variable that sets it when the command line does not (settings.ts). */
  readonly env?: string;
}

export interface FlagSpec {
  readonly [name: string]: Flag;
}

/**
 * A value from below the command line: an environment variable or a key of the config file. A
 * boolean set off (CATENA_TLS=0, "tls": false) is kept as false, so it hides a level below it.
 */
export interface Setting {
  readonly value: string | boolean;
  readonly layer: 'env' | 'config';
  /** Where it came from, for messages: `CATENA_PORT`, `port in /home/me/.config/catena/config.json`. */
  readonly from: string;
}

export interface ParsedArgs {
  positional: string[];
  /** Flags given on the command line. */
  flags: Map<string, string | true>;
  /** Values from the environment and the config file, for flags not on the command line. */
  settings: Map<string, Setting>;
  /** Index in `positional` of a lone `-` before any `--`: that argument is read from stdin. */
  stdinAt?: number;
}

/** What `-h` means in a spec with a host flag; said when it is given without one. */
const dashHNeedsHost = '-h is the host (as in redis-cli) and needs a value: -h HOST; help is --help';

export function parseArgs(argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const args: ParsedArgs = { positional: [], flags: new Map(), settings: new Map() };
  const shorts = new Map<string, string>();
  for (const [name, flag] of Object.entries(spec)) if (flag.short !== undefined) shorts.set(flag.short, name);
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      args.positional.push(...argv.slice(i + 1));
      break;
    }
    if (word === '-') {
      if (args.stdinAt !== undefined) throw new CatenaError('ERR_INVALID_ARGUMENT', 'stdin can be read once: one -');
      args.stdinAt = args.positional.length;
      args.positional.push(word);
      continue;
    }
    const short = /^-([A-Za-z])$/.exec(word)?.[1];
    if (short !== undefined) {
      const name = shorts.get(short);
      // Commands without a host flag (server, up) keep -h as help, as they always had it.
      if (name === undefined && short === 'h' && spec['help'] !== undefined) args.flags.set('help', true);
      else if (name === undefined) throw new CatenaError('ERR_INVALID_ARGUMENT', `unknown option ${word}`);
      else if (takeFlag(args, spec, { name, written: word, next: argv[i + 1] })) i += 1;
      continue;
    }
    if (!word.startsWith('--') || /^-\d/.test(word)) {
      args.positional.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    const name = word.slice(2, eq < 0 ? undefined : eq);
    if (spec[name] === undefined) throw new CatenaError('ERR_INVALID_ARGUMENT', `unknown option --${name}`);
    const attached = eq >= 0 ? word.slice(eq + 1) : undefined;
    if (takeFlag(args, spec, { name, written: `--${name}`, attached, next: argv[i + 1] })) i += 1;
  }
  return args;
}

/**
 * Records one flag, `written` as the user wrote it (`-p`, `--port`), with its value after `=`
 * (`attached`) or in the next word; returns whether it took the next word.
 */
function takeFlag(
  args: ParsedArgs,
  spec: FlagSpec,
  word: { name: string; written: string; attached?: string | undefined; next: string | undefined },
): boolean {
  const { written, attached, next } = word;
  const name = spec[word.name]?.aliasOf ?? word.name;
  const flag = spec[name];
  if (flag === undefined) throw new CatenaError('ERR_INVALID_ARGUMENT', `unknown option ${written}`);
  if (flag.kind === 'boolean') {
    if (attached !== undefined) throw new CatenaError('ERR_INVALID_ARGUMENT', `${written} takes no value`);
    args.flags.set(name, true);
    return false;
  }
  if (attached !== undefined) {
    args.flags.set(name, attached);
    return false;
  }
  if (next === undefined) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', written === '-h' ? dashHNeedsHost : `${written} needs a value`);
  }
  args.flags.set(name, next);
  return true;
}

/** The flag's value: the command line's, else the environment's or config file's, else the default. */
export function flagString(args: ParsedArgs, spec: FlagSpec, name: string): string | undefined {
  const value = args.flags.get(name) ?? args.settings.get(name)?.value;
  if (typeof value === 'string') return value;
  return spec[name]?.default;
}

/** Whether a boolean flag is on, from the command line, the environment or the config file. */
export function flagOn(args: ParsedArgs, name: string): boolean {
  return args.flags.get(name) === true || args.settings.get(name)?.value === true;
}

/** How a flag got its value: 3 the command line, 2 the environment, 1 the config file, 0 not at all. */
export function flagRank(args: ParsedArgs, name: string): number {
  if (args.flags.has(name)) return 3;
  const layer = args.settings.get(name)?.layer;
  return layer === 'env' ? 2 : layer === 'config' ? 1 : 0;
}

/** The flag as the user gave it, for messages: `--port`, `CATENA_PORT`, `port in FILE`. */
export function flagSource(args: ParsedArgs, name: string): string {
  return args.flags.has(name) ? `--${name}` : (args.settings.get(name)?.from ?? `--${name}`);
}

export function flagInt(
  args: ParsedArgs,
  spec: FlagSpec,
  name: string,
  range: { min: number; max: number },
): number | undefined {
  const text = flagString(args, spec, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < range.min || value > range.max) {
    throw new CatenaError(
      'ERR_INVALID_ARGUMENT',
      `${flagSource(args, name)} must be an integer from ${range.min} to ${range.max}`,
    );
  }
  return value;
}

export function renderFlags(spec: FlagSpec): string {
  return Object.entries(spec)
    .filter(([, flag]) => flag.aliasOf === undefined)
    .map(([name, flag]) => {
      const long = flag.kind === 'boolean' ? `--${name}` : `--${name} <value>`;
      const left = flag.short === undefined ? long : `-${flag.short}, ${long}`;
      const notes = [flag.default === undefined ? '' : `default ${flag.default}`, flag.env ?? ''].filter(Boolean);
      return `  ${left.padEnd(26)} ${flag.description}${notes.length === 0 ? '' : ` (${notes.join('; ')})`}`;
    })
    .join('\n');
}
