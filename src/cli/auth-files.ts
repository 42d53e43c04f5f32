// Secrets for client authentication (docs/security.md), read from files and the environment,
// never from the command line (argv is visible to every user of the machine in `ps`).
//
//   catena server --requirepass-file F   the default user's password (the file's content, one
//                 --acl-file F           trailing newline dropped); users in the ACL syntax of
//                 --admin-token-file F   protocol/acl.ts; the admin listener's bearer token;
//                 --relay-auth-file F    "<user> <password>": who this node relays as
//   catena <client command> --user U --password-file F, or CATENA_USER / CATENA_PASSWORD /
//   CATENA_PASSWORD_FILE in the environment, or "user" / "password-file" in the config file
//   (settings.ts; a flag wins over the environment, which wins over the file; CATENA_PASSWORD
//   wins over a password file from the environment or the config file).

import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Credentials } from '../client/client.js';
import { CatenaError } from '../core/errors.js';
import { Acl, secretFromFile } from '../protocol/acl.js';
import type { NodeAuth } from '../server/node.js';
import { flagString, type FlagSpec, type ParsedArgs } from './args.js';

export const serverAuthFlags: FlagSpec = {
  'requirepass-file': {
    kind: 'string',
    description: "file holding the default user's password: clients must authenticate (AUTH, auth request, ...)",
  },
  'acl-file': {
    kind: 'string',
    description: 'file of users (user <name> on >password +@read|+@write|+@admin|+@all): docs/security.md',
  },
  'admin-token-file': {
    kind: 'string',
    description: 'file holding the admin listener bearer token: every path but /health needs it',
  },
  'relay-auth-file': {
    kind: 'string',
    description:
      'file holding "<user> <password>" (a +@all user) this node relays to other nodes as; default: the requirepass',
  },
};

export const clientAuthFlags: FlagSpec = {
  user: { kind: 'string', description: 'authenticate as this user (default: default)' },
  'password-file': {
    kind: 'string',
    description: 'file holding the password (or the password itself in CATENA_PASSWORD)',
  },
};

/** A secret file's content (one trailing newline dropped); a clear error when it cannot be read or is empty. */
export function readSecretFile(path: string, what: string): string {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `cannot read the ${what} file ${path}: ${(error as Error).message}`);
  }
  const secret = secretFromFile(content);
  if (secret === '') throw new CatenaError('ERR_INVALID_ARGUMENT', `the ${what} file ${path} is empty`);
  return secret;
}

/** The node's authentication from `catena server`'s flags; undefined when none is given. */
export function nodeAuthFromFlags(args: ParsedArgs): NodeAuth | undefined {
  const requirepassFile = flagString(args, serverAuthFlags, 'requirepass-file');
  const aclFile = flagString(args, serverAuthFlags, 'acl-file');
  const tokenFile = flagString(args, serverAuthFlags, 'admin-token-file');
  const relayFile = flagString(args, serverAuthFlags, 'relay-auth-file');
  if ([requirepassFile, aclFile, tokenFile, relayFile].every((file) => file === undefined)) return undefined;
  const requirepass = requirepassFile === undefined ? undefined : readSecretFile(requirepassFile, 'requirepass');
  const aclText = aclFile === undefined ? undefined : readAclFile(aclFile);
  const acl = Acl.fromConfig({
    ...(requirepass === undefined ? {} : { requirepass }),
    ...(aclText === undefined ? {} : { aclText }),
  });
  const relay = relayFile === undefined ? undefined : relayCredentials(readSecretFile(relayFile, 'relay auth'));
  return {
    acl,
    ...(tokenFile === undefined ? {} : { adminToken: readSecretFile(tokenFile, 'admin token') }),
    ...(relay !== undefined
      ? { relay }
      : requirepass !== undefined
        ? { relay: { user: 'default', password: requirepass } }
        : {}),
  };
}

function readAclFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new CatenaError('ERR_INVALID_ARGUMENT', `cannot read the ACL file ${path}: ${(error as Error).message}`);
  }
}

function relayCredentials(line: string): Credentials {
  const match = /^(\S+) (.+)$/.exec(line.trim());
  if (match === null) throw new CatenaError('ERR_INVALID_ARGUMENT', 'the relay auth file holds "<user> <password>"');
  return { user: match[1]!, password: match[2]! };
}

/**
 * A client's credentials from --user / --password-file, else CATENA_USER, CATENA_PASSWORD or
 * CATENA_PASSWORD_FILE; undefined when no password is given (no authentication).
 */
export function clientCredentialsFromFlags(
  args: ParsedArgs,
  env: NodeJS.ProcessEnv = process.env,
): Credentials | undefined {
  const fromEnv = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]); // set but empty: unset
  const user = flagString(args, clientAuthFlags, 'user') ?? fromEnv('CATENA_USER');
  const file = flagString(args, clientAuthFlags, 'password-file') ?? fromEnv('CATENA_PASSWORD_FILE');
  const password =
    !args.flags.has('password-file') && fromEnv('CATENA_PASSWORD') !== undefined
      ? fromEnv('CATENA_PASSWORD')
      : file === undefined
        ? undefined
        : readSecretFile(file, 'password');
  if (password === undefined) {
    if (user !== undefined && args.flags.has('user')) {
      throw new CatenaError('ERR_INVALID_ARGUMENT', '--user needs a password: --password-file or CATENA_PASSWORD');
    }
    return undefined;
  }
  return { ...(user === undefined ? {} : { user }), password };
}

/**
 * `catena up --auth`: `<data-dir>/client.password` (the default user's password) and
 * `<data-dir>/admin.token`, each 32 random bytes in base64url, written once (mode 600) and kept,
 * so restarts and clients share them.
 */
export function ensureUpAuthFiles(dataDir: string): { passwordFile: string; adminTokenFile: string } {
  const files = { passwordFile: join(dataDir, 'client.password'), adminTokenFile: join(dataDir, 'admin.token') };
  for (const path of Object.values(files)) {
    try {
      writeFileSync(path, `${randomBytes(32).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return files;
}
