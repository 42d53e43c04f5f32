// A small argument parser for the `catena` command: flags of the form --name value or
// --name=value (booleans take no value), everything else positional. Words that look like
// negative numbers are positional, so `catena incr n -5` works; `--` ends the flags.

import { CatenaError } from '../core/errors.js';

export interface FlagSpec {
  readonly [name: string]: { kind: 'string' | 'boolean'; description: string; default?: string };
}

export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string | true>;
}

export function parseArgs(argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (word === '-h') {
      flags.set('help', true);
      continue;
    }
    if (!word.startsWith('--') || /^-\d/.test(word)) {
      positional.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    const name = word.slice(2, eq < 0 ? undefined : eq);
    const flag = spec[name];
    if (flag === undefined) throw new CatenaError('ERR_INVALID_ARGUMENT', `unknown option --${name}`);
    if (flag.kind === 'boolean') {
      if (eq >= 0) throw new CatenaError('ERR_INVALID_ARGUMENT', `--${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    const value = eq >= 0 ? word.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new CatenaError('ERR_INVALID_ARGUMENT', `--${name} needs a value`);
    flags.set(name, value);
  }
  return { positional, flags };
}

export function flagString(args: ParsedArgs, spec: FlagSpec, name: string): string | undefined {
  const value = args.flags.get(name);
  if (typeof value === 'string') return value;
  return spec[name]?.default;
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
    throw new CatenaError('ERR_INVALID_ARGUMENT', `--${name} must be an integer from ${range.min} to ${range.max}`);
  }
  return value;
}

export function renderFlags(spec: FlagSpec): string {
  return Object.entries(spec)
    .map(([name, flag]) => {
      const left = flag.kind === 'boolean' ? `--${name}` : `--${name} <value>`;
      const def = flag.default === undefined ? '' : ` (default ${flag.default})`;
      return `  ${left.padEnd(26)} ${flag.description}${def}`;
    })
    .join('\n');
}
