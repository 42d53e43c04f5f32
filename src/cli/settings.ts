// Settings: the options a user sets once rather than on every command line (where the cluster
// is, credentials files, TLS) also come from `CATENA_*` environment variables and from a JSON
// config file. Precedence, per option: command line > environment > config file > default.
//
// The config file is --config FILE, else $CATENA_CONFIG, else $XDG_CONFIG_HOME/catena/config.json
// (~/.config/catena/config.json), read when it exists. Its keys are the options' long names
// ({"endpoints": "db1:7000,db2:7000", "password-file": "secret"}); a relative path in it is
// relative to the file. A key it does not know is an error (with the nearest known key), not
// silently ignored: a misspelt "prot" must not send a command to the default port.
//
// Only commands that talk to a running cluster read settings (`catena server` and `catena up`
// do not: CATENA_PORT is where a client connects, not where a node listens).

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CatenaError } from '../core/errors.js';
import { cliConfigBytesMax } from '../core/limits.js';
import { parseArgs, type Flag, type FlagSpec, type ParsedArgs, type Setting } from './args.js';
import { nearest } from './suggest.js';

interface SettingDef {
  readonly env: string;
  /** A file name: relative ones in a config file are relative to that file. */
  readonly path?: true;
}

/** Every option a setting may give, by its long flag name. */
export const settingsCatalogue: { readonly [name: string]: SettingDef } = {
  host: { env: 'CATENA_HOST' },
  port: { env: 'CATENA_PORT' },
  endpoints: { env: 'CATENA_ENDPOINTS' },
  timeout: { env: 'CATENA_TIMEOUT' },
  user: { env: 'CATENA_USER' },
  'password-file': { env: 'CATENA_PASSWORD_FILE', path: true },
  tls: { env: 'CATENA_TLS' },
  'tls-ca': { env: 'CATENA_TLS_CA', path: true },
  coordinator: { env: 'CATENA_COORDINATOR' },
  cluster: { env: 'CATENA_CLUSTER' },
  'cluster-secret-file': { env: 'CATENA_CLUSTER_SECRET_FILE', path: true },
  'admin-token-file': { env: 'CATENA_ADMIN_TOKEN_FILE', path: true },
  'unmet-ok': { env: 'CATENA_UNMET_OK' },
};

/** The flag that names the config file; every command that reads settings takes it. */
export const configFlag: FlagSpec = {
  config: {
    kind: 'string',
    description: 'JSON config file (default ~/.config/catena/config.json when it exists)',
    env: 'CATENA_CONFIG',
  },
};

/** The spec with each catalogued flag marked with its variable (shown in help, read by parseSettings). */
export function settable(spec: FlagSpec): FlagSpec {
  const out: Record<string, Flag> = {};
  for (const [name, flag] of Object.entries(spec)) {
    const def = settingsCatalogue[name];
    out[name] = def === undefined || flag.aliasOf !== undefined ? flag : { ...flag, env: def.env };
  }
  return out;
}

/** Parses a command line, then fills in what the environment and the config file set. */
export function parseCommandArgs(
  argv: readonly string[],
  spec: FlagSpec,
  env: NodeJS.ProcessEnv = process.env,
): ParsedArgs {
  const args = parseArgs(argv, spec);
  if (args.flags.has('help')) return args; // help never fails on a broken config file
  const config = readConfig(configPath(args, env), env);
  for (const [name, flag] of Object.entries(spec)) {
    if (flag.env === undefined || name === 'config' || args.flags.has(name)) continue;
    const fromEnv = envSetting(flag, flag.env, env);
    const fromFile = config?.values.get(name);
    const setting =
      fromEnv ??
      (config === undefined || fromFile === undefined ? undefined : fileSetting(name, flag, fromFile, config));
    if (setting !== undefined) args.settings.set(name, setting);
  }
  return args;
}

/** Which config file to read, and whether it must exist (named) or may be absent (the default). */
function configPath(args: ParsedArgs, env: NodeJS.ProcessEnv): { path: string; named: boolean } {
  const named = args.flags.get('config') ?? nonEmpty(env['CATENA_CONFIG']);
  if (typeof named === 'string') return { path: named, named: true };
  const base = nonEmpty(env['XDG_CONFIG_HOME']) ?? join(nonEmpty(env['HOME']) ?? homedir(), '.config');
  return { path: join(base, 'catena', 'config.json'), named: false };
}

const nonEmpty = (value: string | undefined): string | undefined => (value === '' ? undefined : value);

interface ConfigFile {
  readonly path: string;
  readonly values: Map<string, unknown>;
}

/** The config file's keys and values, checked; undefined when the default file is absent. */
export function readConfig(where: { path: string; named: boolean }, env: NodeJS.ProcessEnv): ConfigFile | undefined {
  const { path } = where;
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > cliConfigBytesMax) throw configError(path, `larger than ${cliConfigBytesMax} bytes`);
    text = bytes.toString('utf8');
  } catch (error) {
    if (error instanceof CatenaError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !where.named) return undefined;
    const how = typeof env['CATENA_CONFIG'] === 'string' && env['CATENA_CONFIG'] !== '' ? ' (CATENA_CONFIG)' : '';
    throw configError(path, `cannot be read${how}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw configError(path, `is not JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw configError(path, 'must hold one JSON object, {"endpoints": "host:port", ...}');
  }
  const values = new Map<string, unknown>();
  for (const [key, value] of Object.entries(parsed)) {
    if (settingsCatalogue[key] === undefined) {
      const near = nearest(key, Object.keys(settingsCatalogue));
      throw configError(path, `unknown key "${key}"${near === undefined ? '' : ` (did you mean "${near}"?)`}`);
    }
    values.set(key, value);
  }
  return { path, values };
}

const configError = (path: string, what: string) =>
  new CatenaError('ERR_INVALID_ARGUMENT', `config file ${path} ${what}`);

function envSetting(flag: Flag, variable: string, env: NodeJS.ProcessEnv): Setting | undefined {
  const text = nonEmpty(env[variable]);
  if (text === undefined) return undefined;
  if (flag.kind === 'string') return { value: text, layer: 'env', from: variable };
  const on = booleanWord(text);
  if (on === undefined) throw new CatenaError('ERR_INVALID_ARGUMENT', `${variable} must be 1 or 0 (true/false)`);
  return { value: on, layer: 'env', from: variable };
}

const booleanWord = (text: string): boolean | undefined =>
  /^(1|true|yes|on)$/i.test(text) ? true : /^(0|false|no|off)$/i.test(text) ? false : undefined;

function fileSetting(name: string, flag: Flag, value: unknown, { path }: ConfigFile): Setting {
  const from = `${name} in ${path}`;
  const wrong = (what: string) =>
    new CatenaError('ERR_INVALID_ARGUMENT', `config file ${path}: ${name} must be ${what}`);
  if (flag.kind === 'boolean') {
    if (typeof value !== 'boolean') throw wrong('true or false');
    return { value, layer: 'config', from };
  }
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) text = String(value);
  else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) text = value.join(',');
  else throw wrong(name === 'endpoints' ? 'a string or a list of strings' : 'a string');
  if (settingsCatalogue[name]?.path === true && text !== '') text = resolve(dirname(path), text);
  return { value: text, layer: 'config', from };
}
