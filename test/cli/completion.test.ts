// `catena completion bash|zsh`: the bash script is sourced in a real bash and its completion
// function run as bash runs it on <TAB> (COMP_WORDS / COMP_CWORD in, COMPREPLY out). zsh is
// checked for its shape only when zsh is not installed, and parsed by `zsh -n` when it is.

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

  it('completes commands, leaving the internal ones out', () => {
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

  it('is printed by catena completion zsh: a #compdef function over the same commands', async () => {
    const printed = await runCli(['completion', 'zsh']);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout, zshScript());
    assert.ok(printed.stdout.startsWith('#compdef catena\n'));
    assert.match(printed.stdout, /'get:Read the value stored under a key\.'/);
    assert.match(printed.stdout, /compdef _catena catena/);
    assert.doesNotMatch(printed.stdout, /slotfreeze|nodestatus/);
  });

  it('parses in zsh', hasZsh ? {} : { skip: 'zsh not installed' }, () => {
    const file = join(dir.path, '_catena');
    writeFileSync(file, zshScript());
    const run = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
  });

  it('an unknown shell exits 2', async () => {
    const run = await runCli(['completion', 'fish']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /expected bash or zsh/);
  });
});
