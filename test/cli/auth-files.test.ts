// Secrets for client authentication from files and the environment (src/cli/auth-files.ts): what
// `catena server` builds from its flags, and the credentials a client command takes.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseArgs } from '../../src/cli/args.js';
import {
  clientAuthFlags,
  clientCredentialsFromFlags,
  nodeAuthFromFlags,
  serverAuthFlags,
} from '../../src/cli/auth-files.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('catena-auth-files-');
after(() => dir.remove());

function file(name: string, content: string): string {
  const path = join(dir.path, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

describe('catena server: authentication flags', () => {
  const server = (...argv: string[]) => nodeAuthFromFlags(parseArgs(argv, serverAuthFlags));

  it('none given: no authentication (the node stays open)', () => {
    assert.equal(server(), undefined);
  });

  it('a requirepass file: the default user, and the relay credential by default', () => {
    const auth = server('--requirepass-file', file('pass', 'p4ss\n'));
    assert.equal(auth?.acl.required, true);
    assert.equal(auth?.acl.authenticate('default', 'p4ss')?.name, 'default');
    assert.deepEqual(auth?.relay, { user: 'default', password: 'p4ss' });
    assert.equal(auth?.adminToken, undefined);
  });

  it('an ACL file, a relay file and an admin token file', () => {
    const auth = server(
      '--acl-file',
      file('users.acl', 'user relay on >r3lay +@all\nuser app on >a +@read +@write\n'),
      '--relay-auth-file',
      file('relay', 'relay r3lay\n'),
      '--admin-token-file',
      file('token', 'tok\n'),
    );
    assert.equal(auth?.acl.authenticate('app', 'a')?.name, 'app');
    assert.deepEqual(auth?.relay, { user: 'relay', password: 'r3lay' });
    assert.equal(auth?.adminToken, 'tok');
  });

  it('refuses an empty or missing file and a malformed relay file, saying which', () => {
    assert.throws(() => server('--requirepass-file', file('empty', '\n')), /requirepass file .* is empty/);
    assert.throws(() => server('--admin-token-file', join(dir.path, 'missing')), /cannot read the admin token file/);
    assert.throws(() => server('--relay-auth-file', file('relay1', 'justauser\n')), /"<user> <password>"/);
    assert.throws(() => server('--acl-file', file('bad.acl', 'user x on +@nope\n')), /line 1: unknown rule/);
  });
});

describe('client commands: credentials', () => {
  const client = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
    clientCredentialsFromFlags(parseArgs(argv, clientAuthFlags), env);

  it('none: no authentication', () => {
    assert.equal(client([]), undefined);
    assert.equal(client([], { CATENA_PASSWORD: '', CATENA_USER: '' }), undefined, 'empty variables are unset');
  });

  it('a password file flag wins over the environment, CATENA_PASSWORD over CATENA_PASSWORD_FILE', () => {
    const flagFile = file('flag.pw', 'from-flag\n');
    const envFile = file('env.pw', 'from-env-file\n');
    assert.deepEqual(client(['--password-file', flagFile], { CATENA_PASSWORD: 'from-env' }), {
      password: 'from-flag',
    });
    assert.deepEqual(client([], { CATENA_PASSWORD: 'from-env', CATENA_PASSWORD_FILE: envFile }), {
      password: 'from-env',
    });
    assert.deepEqual(client([], { CATENA_PASSWORD_FILE: envFile, CATENA_USER: 'app' }), {
      user: 'app',
      password: 'from-env-file',
    });
    assert.deepEqual(client(['--user', 'ops'], { CATENA_PASSWORD: 'x', CATENA_USER: 'app' }), {
      user: 'ops',
      password: 'x',
    });
  });

  it('--user without any password is an error, not an anonymous connection', () => {
    assert.throws(() => client(['--user', 'ops']), /--user needs a password/);
  });
});
