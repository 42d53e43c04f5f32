// Client authentication: who may connect, with which password, and which commands each user may
// run. One Acl per node, read at start from `--requirepass-file` (the `default` user's password)
// and `--acl-file` (users, in a small subset of Redis's ACL file syntax); every protocol session
// (RESP, native, memcached) holds one ConnectionAuth over it. Pure: the files are read by the CLI.
//
// Access classes. Every command has one (the command table's `access`, else read or write from
// whether it mutates):
//
//   connection  AUTH, HELLO, PING, QUIT, SELECT, CLIENT, COMMAND, CLUSTER, topology, nodestatus:
//               any authenticated user (Redis asks for +@connection; clients send these on connect)
//   read        reads of data and statistics                            needs +@read
//   write       writes of data                                          needs +@write
//   admin       FLUSHALL, flush_all, the slot-moving commands           needs +@admin
//
// +@all (or allcommands) grants the three categories. Passwords are kept as SHA-256 digests and
// compared with timingSafeEqual against every one of the user's digests (an unknown user is
// compared against a dummy digest), so the time a check takes tells nothing about a password.
//
// ACL file syntax (docs/security.md), one user per line, rules applied left to right:
//
//   # a comment
//   user alice on >s3cret +@read
//   user app on >one >two +@read +@write ~*
//   user ops on #<64 hex digits: sha256 of the password> +@all
//   user default off
//
//   on | off            the user may (or may not) authenticate; a user starts off
//   >password           adds a password; #<sha256 hex> adds one by its digest
//   nopass              any password is accepted (and the passwords are dropped); resetpass drops all
//   +@read +@write +@admin +@all, -@... , allcommands, nocommands
//   ~* | allkeys        accepted for compatibility (Catena has no per-key permissions)

import { createHash, timingSafeEqual } from 'node:crypto';
import { commandByName, type CommandName } from '../commands/index.js';
import { CatenaError } from '../core/errors.js';

export type Category = 'read' | 'write' | 'admin';
export type AccessClass = 'connection' | Category;

export const categories: readonly Category[] = ['read', 'write', 'admin'];

export interface AclUser {
  readonly name: string;
  readonly enabled: boolean;
  /** Any password is accepted (Redis's nopass). */
  readonly nopass: boolean;
  /** SHA-256 digests of the user's passwords. */
  readonly passwordDigests: readonly Buffer[];
  readonly categories: ReadonlySet<Category>;
}

/** A user name as Redis allows one in an ACL file: printable, no spaces. */
const userNamePattern = /^[\x21-\x7e]{1,128}$/;

const digestOf = (password: Uint8Array | string): Buffer => createHash('sha256').update(password).digest();

/** Compared against when the user does not exist, so an unknown user costs what a known one does. */
const dummyDigest = digestOf('catena: no such user');

export class Acl {
  /** Refusals since start (Redis's INFO acl_access_denied_auth and acl_access_denied_cmd). */
  readonly denied = { auth: 0, commands: 0 };

  private constructor(private readonly users: ReadonlyMap<string, AclUser>) {}

  /** No authentication configured: the `default` user, nopass and every category (Redis's default). */
  static open(): Acl {
    return new Acl(new Map([['default', openDefaultUser]]));
  }

  /**
   * The node's users from its files' contents. `requirepass`: the default user's password, every
   * category. `aclText`: an ACL file; when it is given and does not name `default`, the default
   * user is off (unlike Redis, where it stays nopass: a forgotten line must not open the node).
   * Throws ERR_INVALID_ARGUMENT naming the line of a bad rule.
   */
  static fromConfig(config: { requirepass?: string; aclText?: string }): Acl {
    const users = new Map<string, AclUser>();
    if (config.aclText !== undefined) {
      for (const user of parseAclText(config.aclText)) users.set(user.name, user);
      if (!users.has('default')) users.set('default', { ...openDefaultUser, enabled: false });
    }
    if (config.requirepass !== undefined) {
      if (config.requirepass.length === 0) throw invalid('the requirepass file is empty');
      if (config.aclText !== undefined && users.get('default')?.enabled === true) {
        throw invalid('the ACL file sets the default user: give its password there, not with a requirepass file');
      }
      users.set('default', {
        ...openDefaultUser,
        nopass: false,
        passwordDigests: [digestOf(config.requirepass)],
      });
    }
    if (users.size === 0) return Acl.open();
    return new Acl(users);
  }

  /** True when a new connection must authenticate before it runs a command (the default user is not open). */
  get required(): boolean {
    const user = this.users.get('default');
    return user === undefined || !user.enabled || !user.nopass;
  }

  /** The default user has a password (Redis: AUTH <password> is meaningful); false when it is nopass. */
  get defaultHasPassword(): boolean {
    return this.users.get('default')?.nopass !== true;
  }

  /** The user a new connection is authenticated as before any AUTH (the open default user), if any. */
  initialUser(): AclUser | undefined {
    return this.required ? undefined : this.users.get('default');
  }

  /** The user if it exists, is on and the password is one of its own; undefined otherwise. */
  authenticate(name: string, password: Uint8Array | string): AclUser | undefined {
    const given = digestOf(password);
    const user = this.users.get(name);
    let match = false;
    for (const digest of user?.passwordDigests ?? [dummyDigest]) {
      if (timingSafeEqual(digest, given)) match = true; // no early exit: every digest is compared
    }
    if (user !== undefined && user.enabled && (match || user.nopass)) return user;
    this.denied.auth += 1;
    return undefined;
  }

  /** The users, by name (for tests and the log line at start). */
  get userNames(): string[] {
    return [...this.users.keys()];
  }
}

const openDefaultUser: AclUser = {
  name: 'default',
  enabled: true,
  nopass: true,
  passwordDigests: [],
  categories: new Set(categories),
};

/** No authentication configured (every connection is the open default user). */
export const openAcl = Acl.open();

/** Who may run a native command (the command table's `access`, else read or write). */
export function accessOfCommand(name: CommandName): AccessClass {
  const command = commandByName(name);
  return command.access ?? (command.mutates ? 'write' : 'read');
}

/** May `user` run a command of this access class? */
export function allows(user: AclUser, access: AccessClass): boolean {
  return access === 'connection' || user.categories.has(access);
}

/**
 * One connection's authentication: who it is (undefined until it authenticates, when the node
 * requires it) and what it may run.
 */
export class ConnectionAuth {
  private current: AclUser | undefined;

  constructor(readonly acl: Acl) {
    this.current = acl.initialUser();
  }

  get user(): AclUser | undefined {
    return this.current;
  }

  /** Authenticates as `name`; on failure the connection keeps the user it had (as Redis does). */
  login(name: string, password: Uint8Array | string): boolean {
    const user = this.acl.authenticate(name, password);
    if (user === undefined) return false;
    this.current = user;
    return true;
  }

  /** Whether a command of this access class may run now, and if not why. */
  check(access: AccessClass): 'ok' | 'noauth' | 'noperm' {
    const user = this.current;
    if (user === undefined) return 'noauth';
    if (allows(user, access)) return 'ok';
    this.acl.denied.commands += 1;
    return 'noperm';
  }
}

function invalid(message: string): CatenaError {
  return new CatenaError('ERR_INVALID_ARGUMENT', message);
}

/** The users an ACL file defines (see the syntax at the top of this file). */
export function parseAclText(text: string): AclUser[] {
  const users: AclUser[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `ACL file line ${index + 1}`;
    const words = line.split(/\s+/);
    if (words[0] !== 'user' || words.length < 2) throw invalid(`${where}: expected "user <name> <rules...>"`);
    const name = words[1]!;
    if (!userNamePattern.test(name)) throw invalid(`${where}: bad user name`);
    if (seen.has(name)) throw invalid(`${where}: user ${name} is defined twice`);
    seen.add(name);
    users.push(applyRules(name, words.slice(2), where));
  });
  return users;
}

function applyRules(name: string, rules: readonly string[], where: string): AclUser {
  let enabled = false;
  let nopass = false;
  let digests: Buffer[] = [];
  const granted = new Set<Category>();
  for (const rule of rules) {
    if (rule === 'on' || rule === 'off') enabled = rule === 'on';
    else if (rule === 'nopass') {
      nopass = true;
      digests = [];
    } else if (rule === 'resetpass') {
      nopass = false;
      digests = [];
    } else if (rule.startsWith('>')) {
      if (rule.length === 1) throw invalid(`${where}: empty password`);
      digests.push(digestOf(rule.slice(1)));
      nopass = false;
    } else if (rule.startsWith('#')) {
      if (!/^#[0-9a-fA-F]{64}$/.test(rule)) throw invalid(`${where}: a #digest is 64 hex digits (SHA-256)`);
      digests.push(Buffer.from(rule.slice(1), 'hex'));
      nopass = false;
    } else if (rule === 'allcommands' || rule === '+@all') categories.forEach((c) => granted.add(c));
    else if (rule === 'nocommands' || rule === '-@all') granted.clear();
    else if (/^[+-]@(read|write|admin)$/.test(rule)) {
      const category = rule.slice(2) as Category;
      if (rule.startsWith('+')) granted.add(category);
      else granted.delete(category);
    } else if (rule === '~*' || rule === 'allkeys' || rule === '&*' || rule === 'allchannels') {
      // Catena has no per-key or per-channel permissions: every user reaches every key.
    } else {
      throw invalid(
        `${where}: unknown rule ${JSON.stringify(rule)} ` +
          '(Catena knows on, off, >password, #sha256, nopass, resetpass, +@read, +@write, +@admin, +@all, -@..., allcommands, nocommands, ~*, allkeys)',
      );
    }
  }
  return { name, enabled, nopass, passwordDigests: digests, categories: granted };
}

/**
 * A password or token file's content as the secret: one trailing newline (LF or CRLF) is not
 * part of it, as `echo secret > file` writes one.
 */
export function secretFromFile(content: string): string {
  return content.replace(/\r?\n$/, '');
}
