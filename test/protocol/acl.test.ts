// Client authentication's pure core (src/protocol/acl.ts): the ACL file syntax, the users and
// categories it gives, how a requirepass combines with it, and what a connection may run before
// and after it authenticates.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { CatenaError } from '../../src/core/errors.js';
import { accessOfCommand, Acl, ConnectionAuth, openAcl, parseAclText, secretFromFile } from '../../src/protocol/acl.js';

const users = `
# comment lines and blank lines are skipped

user default on >defaultpw +@all
user reader on >readpw +@read ~*
user writer on >w1 >w2 +@read +@write allkeys
user ops on #${createHash('sha256').update('opspw').digest('hex')} allcommands
user gone off >gonepw +@all
user anyone on nopass +@read
user fickle on >old resetpass >new +@all -@admin
`;

describe('ACL file', () => {
  const acl = Acl.fromConfig({ aclText: users });

  it('authenticates each user with each of its passwords, and no other', () => {
    assert.equal(acl.authenticate('default', 'defaultpw')?.name, 'default');
    assert.equal(acl.authenticate('reader', 'readpw')?.name, 'reader');
    assert.equal(acl.authenticate('writer', 'w1')?.name, 'writer');
    assert.equal(acl.authenticate('writer', 'w2')?.name, 'writer');
    assert.equal(acl.authenticate('ops', 'opspw')?.name, 'ops', 'a #sha256 digest');
    assert.equal(acl.authenticate('reader', 'readpw '), undefined);
    assert.equal(acl.authenticate('reader', 'w1'), undefined, "another user's password");
    assert.equal(acl.authenticate('nobody', 'readpw'), undefined);
    assert.equal(acl.authenticate('gone', 'gonepw'), undefined, 'an off user');
    assert.equal(acl.authenticate('anyone', 'whatever')?.name, 'anyone', 'nopass');
    assert.equal(acl.authenticate('fickle', 'old'), undefined, 'resetpass dropped it');
    assert.equal(acl.authenticate('fickle', 'new')?.name, 'fickle');
    assert.equal(acl.authenticate('reader', Buffer.from('readpw'))?.name, 'reader', 'bytes as well as text');
  });

  it('gives each user its categories', () => {
    const categories = (name: string, password: string) => [...acl.authenticate(name, password)!.categories].sort();
    assert.deepEqual(categories('reader', 'readpw'), ['read']);
    assert.deepEqual(categories('writer', 'w1'), ['read', 'write']);
    assert.deepEqual(categories('ops', 'opspw'), ['admin', 'read', 'write']);
    assert.deepEqual(categories('fickle', 'new'), ['read', 'write']);
  });

  it('requires authentication while the default user has a password or is off', () => {
    assert.equal(acl.required, true);
    assert.equal(Acl.fromConfig({ aclText: 'user default on nopass +@all' }).required, false);
    assert.equal(Acl.fromConfig({ aclText: 'user alice on >pw +@all' }).required, true, 'no default line: off');
    assert.equal(openAcl.required, false);
    assert.equal(openAcl.authenticate('default', 'anything')?.name, 'default', 'nopass, as Redis');
  });

  it('refuses bad lines, naming the line', () => {
    const refused = (text: string, pattern: RegExp) =>
      assert.throws(
        () => parseAclText(text),
        (error: unknown) => error instanceof CatenaError && pattern.test(error.message),
      );
    refused('user alice on >pw +@read\nuser alice on >pw', /line 2: user alice is defined twice/);
    refused('\n\nuser bob on +@dangerous', /line 3: unknown rule "\+@dangerous"/);
    refused('user bob on ~cache:*', /unknown rule "~cache:\*"/);
    refused('alice on >pw', /line 1: expected "user <name> <rules...>"/);
    refused('user bob on >', /empty password/);
    refused('user bob on #abc', /64 hex digits/);
  });

  it('a requirepass is the default user password, and cannot also be set by the ACL file', () => {
    const withPass = Acl.fromConfig({ requirepass: 'secret' });
    assert.equal(withPass.required, true);
    assert.equal(withPass.authenticate('default', 'secret')?.categories.size, 3);
    assert.equal(withPass.authenticate('default', 'Secret'), undefined);
    const both = Acl.fromConfig({ requirepass: 'secret', aclText: 'user reader on >r +@read' });
    assert.equal(both.authenticate('default', 'secret')?.name, 'default');
    assert.equal(both.authenticate('reader', 'r')?.name, 'reader');
    assert.throws(() => Acl.fromConfig({ requirepass: 'x', aclText: 'user default on >y +@all' }), /requirepass/);
    assert.throws(() => Acl.fromConfig({ requirepass: '' }), /empty/);
  });

  it('a secret file loses one trailing newline, nothing else', () => {
    assert.equal(secretFromFile('pw\n'), 'pw');
    assert.equal(secretFromFile('pw\r\n'), 'pw');
    assert.equal(secretFromFile('pw\n\n'), 'pw\n');
    assert.equal(secretFromFile(' pw '), ' pw ');
  });
});

describe('a connection', () => {
  const acl = Acl.fromConfig({ aclText: users });

  it('runs nothing before it authenticates, and keeps its user after a failed attempt', () => {
    const auth = new ConnectionAuth(acl);
    assert.equal(auth.check('connection'), 'noauth');
    assert.equal(auth.check('read'), 'noauth');
    assert.equal(auth.login('reader', 'wrong'), false);
    assert.equal(auth.check('read'), 'noauth');
    assert.equal(auth.login('reader', 'readpw'), true);
    assert.equal(auth.check('connection'), 'ok');
    assert.equal(auth.check('read'), 'ok');
    assert.equal(auth.check('write'), 'noperm');
    assert.equal(auth.check('admin'), 'noperm');
    assert.equal(auth.login('writer', 'nope'), false);
    assert.equal(auth.user?.name, 'reader', 'a failed AUTH keeps the user it had (as Redis)');
    assert.equal(auth.login('writer', 'w2'), true);
    assert.equal(auth.check('write'), 'ok');
  });

  it('is the open default user where no authentication is configured', () => {
    const auth = new ConnectionAuth(openAcl);
    for (const access of ['connection', 'read', 'write', 'admin'] as const) assert.equal(auth.check(access), 'ok');
  });

  it('native commands take their access from the command table', () => {
    assert.equal(accessOfCommand('get'), 'read');
    assert.equal(accessOfCommand('scan'), 'read');
    assert.equal(accessOfCommand('stats'), 'read');
    assert.equal(accessOfCommand('put'), 'write');
    assert.equal(accessOfCommand('mput'), 'write');
    assert.equal(accessOfCommand('flush'), 'admin');
    assert.equal(accessOfCommand('slotexport'), 'admin');
    assert.equal(accessOfCommand('slotimport'), 'admin');
    assert.equal(accessOfCommand('ping'), 'connection');
    assert.equal(accessOfCommand('topology'), 'connection');
  });
});
