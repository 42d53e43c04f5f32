// `catena completion bash|zsh`: the bash script is sourced in a real bash and its completion
// function run as bash runs it on <TAB> (COMP_WORDS / COMP_CWORD in, COMPREPLY out). The zsh
// script is checked for its shape, and when zsh is installed, parsed and run with zsh's
// completion builtins replaced by functions that print what they are given.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bashScript, zshScript } from '../../src/cli/completion.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('catena-completion-');
after(() => dir.remove());
const script = join(dir.path, 'catena.bash');
writeFileSync(script, bashScript());

/** What bash offers for the line `words`, the cursor on the last word. */
function complete(...words: string[]): string[] {
  const quoted = words.map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ');
  const run = spawnSync(
    'bash',
    [
      '--norc',
      '-c',
      `source "$1"; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _catena; printf '%s\\n' "\${COMPREPLY[@]}"`,
      'bash',
      script,
    ],
    { cwd: dir.path, encoding: 'utf8' },
  );
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stderr, '');
  return run.stdout.split('\n').filter((line) => line !== '');
}

describe('bash completion', () => {
  it('is printed by catena completion bash and registers a function for catena', async () => {
    const printed = await runCli(['completion', 'bash']);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout, bashScript());
    const run = spawnSync('bash', ['--norc', '-c', 'source "$1"; complete -p catena', 'bash', script], {
      encoding: 'utf8',
    });
    assert.equal(run.stdout.trim(), 'complete -F _catena catena');
  });

  it('completes commands, leaving the hidden ones out', () => {
    assert.deepEqual(complete('catena', 'ge'), ['get', 'getkeys', 'gettable', 'getdel']);
    assert.deepEqual(complete('catena', 'ch'), ['chain']);
    assert.deepEqual(complete('catena', 'st'), ['status', 'stats']);
    assert.deepEqual(complete('catena', 'slot'), []);
    assert.deepEqual(complete('catena', 'top'), []);
    assert.ok(complete('catena', '').includes('completion'));
  });

  it("completes a command's actions once, then its options", () => {
    assert.deepEqual(complete('catena', 'chain', ''), ['add', 'remove', 'show', 'rebuild']);
    assert.deepEqual(complete('catena', 'chain', 'add', ''), []);
    assert.ok(complete('catena', 'chain', 'add', '--co').includes('--coordinator'));
    assert.deepEqual(complete('catena', 'completion', ''), ['bash', 'zsh']);
  });

  it("completes a command's options, short and long", () => {
    const get = complete('catena', 'get', 'k', '-');
    for (const flag of ['-h', '--host', '-p', '--port', '--endpoints', '-x', '--unmet-ok', '--json', '--config'])
      assert.ok(get.includes(flag), `get offers ${flag}: ${get.join(' ')}`);
    assert.ok(!get.includes('--seeds'), 'the old name is not offered');
    assert.deepEqual(complete('catena', 'status', '--w'), ['--watch']);
    assert.ok(complete('catena', 'up', '--').includes('--nodes'));
  });

  it('finds the command after options given before it, and offers no word for an option value', () => {
    assert.deepEqual(complete('catena', '-p', '7000', 'ge'), ['get', 'getkeys', 'gettable', 'getdel']);
    assert.deepEqual(complete('catena', '-h', 'db1', 'chain', ''), ['add', 'remove', 'show', 'rebuild']);
    assert.deepEqual(complete('catena', 'get', '-p', ''), []);
    assert.deepEqual(complete('catena', '--po'), ['--port']);
  });

  it('completes file names for options that take a file', () => {
    writeFileSync(join(dir.path, 'my-config.json'), '{}');
    assert.deepEqual(complete('catena', 'get', 'k', '--config', 'my-'), ['my-config.json']);
    assert.deepEqual(complete('catena', 'status', '--password-file', 'my-c'), ['my-config.json']);
  });
});

describe('zsh completion', () => {
  const hasZsh = spawnSync('zsh', ['--version']).status === 0;

  // CI installs zsh (scripts/install-system-packages.sh): there its tests never skip.
  it('zsh is installed when CI is set', { skip: process.env.CI === undefined ? 'not on CI' : false }, () => {
    assert.ok(hasZsh, 'CI must install zsh (scripts/install-system-packages.sh)');
  });

  it('is printed by catena completion zsh: a #compdef function over the same commands', async () => {
    const printed = await runCli(['completion', 'zsh']);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout, zshScript());
    assert.ok(printed.stdout.startsWith('#compdef catena\n'));
    assert.match(printed.stdout, /'get:Read the value stored under a key\.'/);
    assert.match(printed.stdout, /compdef _catena catena/);
    assert.doesNotMatch(printed.stdout, /slotfreeze|nodestatus/);
  });

  const zshFile = join(dir.path, '_catena');
  writeFileSync(zshFile, zshScript());

  /**
   * What the zsh function offers for `words`, the cursor on the last: run outside a completion
   * widget, with compadd, _describe, _files and _hosts (zsh's completion system) replaced by
   * functions that print what they were given, and compdef by one that records the registration.
   */
  function zshComplete(...words: string[]): string[] {
    const quoted = words.map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ');
    const stubs = [
      'compdef() { print -r -- "compdef $*" }',
      'compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@" }',
      '_describe() { print -rl -- ${${(P)2}%%:*} }',
      '_files() { print -r -- "<files $*>" }',
      '_hosts() { print -r -- "<hosts>" }',
    ].join('; ');
    const run = spawnSync(
      'zsh',
      [
        '-f',
        '-c',
        `${stubs}; source "$1" >/dev/null; words=(${quoted}); CURRENT=${words.length}; _catena`,
        'zsh',
        zshFile,
      ],
      { cwd: dir.path, encoding: 'utf8' },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    return run.stdout.split('\n').filter((line) => line !== '');
  }

  it('parses in zsh and registers _catena with compdef', hasZsh ? {} : { skip: 'zsh not installed' }, () => {
    const parse = spawnSync('zsh', ['-n', zshFile], { encoding: 'utf8' });
    assert.equal(parse.status, 0, parse.stderr);
    const run = spawnSync('zsh', ['-f', '-c', 'compdef() { print -r -- "compdef $*" }; source "$1"', 'zsh', zshFile], {
      encoding: 'utf8',
    });
    assert.equal(run.stdout, 'compdef _catena catena\n', run.stderr);
  });

  it(
    'completes when autoloaded from $fpath as _catena, as compinit does',
    hasZsh ? {} : { skip: 'zsh not installed' },
    () => {
      const stubs = 'compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@" }';
      const body = `${stubs}; fpath=("$1" $fpath); autoload -U _catena; words=(catena chain ''); CURRENT=3; _catena`;
      const run = spawnSync('zsh', ['-f', '-c', body, 'zsh', dir.path], { encoding: 'utf8' });
      assert.equal(run.stderr, '');
      assert.equal(run.stdout, 'add\nremove\nshow\nrebuild\n');
    },
  );

  it('completes as the bash script does', hasZsh ? {} : { skip: 'zsh not installed' }, () => {
    assert.deepEqual(
      zshComplete('catena', 'ge').filter((word) => word.startsWith('ge')),
      ['get', 'getkeys', 'gettable', 'getdel'],
    );
    assert.ok(!zshComplete('catena', '').includes('slotfreeze'));
    assert.deepEqual(zshComplete('catena', '-p', '7000', 'chain', ''), ['add', 'remove', 'show', 'rebuild']);
    assert.deepEqual(zshComplete('catena', 'chain', 'add', ''), []);
    const get = zshComplete('catena', 'get', 'k', '-');
    for (const flag of ['-h', '--port', '-x', '--unmet-ok']) assert.ok(get.includes(flag), get.join(' '));
    assert.deepEqual(zshComplete('catena', 'get', '--config', ''), ['<files >']);
    assert.deepEqual(zshComplete('catena', 'get', '-h', ''), ['<hosts>']);
    assert.deepEqual(zshComplete('catena', 'get', '-p', ''), []);
  });

  it('an unknown shell exits 2', async () => {
    const run = await runCli(['completion', 'fish']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /expected bash or zsh/);
  });
});
