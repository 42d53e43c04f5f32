// The CLI's options without a cluster: short flags, a value from stdin, settings from the
// environment and a config file with their precedence, where the cluster is, options before the
// command, "did you mean", hidden commands (slot*, topology, nodestatus), exit codes, and the coordinator URL as seen
// from here. (The same, end to end against a real node: options-cli.test.ts.)

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { flagOn, parseArgs } from '../../src/cli/args.js';
import { reachableCoordinator } from '../../src/cli/chain-command.js';
import { connectionFlags, seedsFromFlags } from '../../src/cli/connection.js';
import { exitCodeOf, exitCodes } from '../../src/cli/exit-codes.js';
import { oneShotFlags, oneShotHelp, readStdin } from '../../src/cli/one-shot.js';
import { parseCommandArgs } from '../../src/cli/settings.js';
import { hoistLeadingOptions, unknownCommand, visibleCommands } from '../../src/cli/subcommands.js';
import { editDistance, nearestAll } from '../../src/cli/suggest.js';
import { commandTable, slotCommands } from '../../src/commands/index.js';
import { CatenaError } from '../../src/core/errors.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('catena-options-');
after(() => dir.remove());

/** An environment with no config file of the user's: XDG_CONFIG_HOME is an empty folder. */
const cleanEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ XDG_CONFIG_HOME: dir.path, ...extra });

function usageError(run: () => unknown, message: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof CatenaError, `expected a CatenaError, got ${String(error)}`);
    assert.equal(error.code, 'ERR_INVALID_ARGUMENT');
    assert.match(error.message, message);
    return true;
  });
}

function configFile(name: string, content: unknown): string {
  const path = join(dir.path, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('short flags', () => {
  it('-h is the host and -p the port, as in redis-cli, anywhere on the line', () => {
    const args = parseArgs(['get', '-h', 'db1', 'k', '-p', '8000'], oneShotFlags);
    assert.deepEqual(args.positional, ['get', 'k']);
    assert.deepEqual(Object.fromEntries(args.flags), { host: 'db1', port: '8000' });
  });

  it('-h without a host says what -h is and where help is', () => {
    usageError(() => parseArgs(['get', 'k', '-h'], oneShotFlags), /-h is the host .* help is --help/);
  });

  it('an unknown one-letter option is refused; - and -5 stay positional; --seeds is --endpoints', () => {
    usageError(() => parseArgs(['get', 'k', '-q'], oneShotFlags), /unknown option -q/);
    const args = parseArgs(['incr', '-', '-5', '--seeds', 'a:1'], oneShotFlags);
    assert.deepEqual(args.positional, ['incr', '-', '-5']);
    assert.equal(args.stdinAt, 1);
    assert.equal(args.flags.get('endpoints'), 'a:1');
  });

  it('reads stdin once: a second - is refused, and a - after -- is a plain word', () => {
    usageError(() => parseArgs(['mput', '-', '-'], oneShotFlags), /stdin can be read once/);
    const args = parseArgs(['put', '--', '-'], oneShotFlags);
    assert.deepEqual(args.positional, ['put', '-']);
    assert.equal(args.stdinAt, undefined);
  });

  it('every help lists the short forms beside the long ones, and each variable', () => {
    const help = oneShotHelp();
    assert.match(help, /-h, --host <value> +node address \(default 127\.0\.0\.1; CATENA_HOST\)/);
    assert.match(help, /-p, --port <value> +node native-protocol port \(default 7000; CATENA_PORT\)/);
    assert.match(help, /-x, --stdin/);
    assert.match(help, /--endpoints <value> .*CATENA_ENDPOINTS/);
    assert.doesNotMatch(help, /--seeds/);
  });
});

describe('reading a value from stdin', () => {
  it('returns the bytes exactly, binary ones and a trailing newline included', async () => {
    const input = Readable.from([Buffer.from([0, 255, 10]), Buffer.from('x\n')]);
    assert.deepEqual(await readStdin(input, 100), Buffer.from([0, 255, 10, 0x78, 10]));
  });

  it('stops with ERR_VALUE_TOO_LARGE past the limit', async () => {
    const input = Readable.from([Buffer.alloc(60), Buffer.alloc(60)]);
    await assert.rejects(readStdin(input, 100), (error: unknown) => {
      assert.ok(error instanceof CatenaError);
      assert.equal(error.code, 'ERR_VALUE_TOO_LARGE');
      assert.match(error.message, /more than 100 bytes/);
      return true;
    });
  });
});

describe('settings: command line > environment > config file > default', () => {
  const port = (argv: string[], env: NodeJS.ProcessEnv) =>
    seedsFromFlags(parseCommandArgs(argv, oneShotFlags, env), connectionFlags);

  it('takes each level when the ones above it say nothing', () => {
    const file = configFile('levels.json', { port: 7100 });
    assert.deepEqual(port([], cleanEnv()), ['127.0.0.1:7000']);
    assert.deepEqual(port([], cleanEnv({ CATENA_CONFIG: file })), ['127.0.0.1:7100']);
    assert.deepEqual(port([], cleanEnv({ CATENA_CONFIG: file, CATENA_PORT: '7200' })), ['127.0.0.1:7200']);
    assert.deepEqual(port(['-p', '7300'], cleanEnv({ CATENA_CONFIG: file, CATENA_PORT: '7200' })), ['127.0.0.1:7300']);
  });

  it('reads the default file ($XDG_CONFIG_HOME/catena/config.json) when it exists, and --config over CATENA_CONFIG', () => {
    const home = tempDir('catena-xdg-');
    try {
      mkdirSync(join(home.path, 'catena'));
      writeFileSync(join(home.path, 'catena', 'config.json'), '{"host": "from-default-file"}');
      assert.deepEqual(port([], { XDG_CONFIG_HOME: home.path }), ['from-default-file:7000']);
      const named = configFile('named.json', { host: 'from-named' });
      const other = configFile('other.json', { host: 'from-env-named' });
      assert.deepEqual(port(['--config', named], { XDG_CONFIG_HOME: home.path, CATENA_CONFIG: other }), [
        'from-named:7000',
      ]);
    } finally {
      home.remove();
    }
  });

  it('CATENA_ENDPOINTS names the cluster; -p on the command line replaces it, not adds to it', () => {
    const env = cleanEnv({ CATENA_ENDPOINTS: 'a:1, b:2' });
    assert.deepEqual(port([], env), ['a:1', 'b:2']);
    assert.deepEqual(port(['-p', '8000'], env), ['127.0.0.1:8000']);
    assert.deepEqual(port(['--endpoints', 'c:3'], cleanEnv({ CATENA_HOST: 'db1' })), ['c:3']);
    // Host and port from different levels make one address; on one level with endpoints, both.
    assert.deepEqual(port(['-p', '8000'], cleanEnv({ CATENA_HOST: 'db1' })), ['db1:8000']);
    assert.deepEqual(port(['-p', '8000', '--endpoints', 'c:3'], cleanEnv()), ['127.0.0.1:8000', 'c:3']);
    const file = configFile('endpoints.json', { endpoints: ['d:4', 'e:5'] });
    assert.deepEqual(port([], cleanEnv({ CATENA_CONFIG: file })), ['d:4', 'e:5']);
    assert.deepEqual(port([], cleanEnv({ CATENA_CONFIG: file, CATENA_PORT: '9000' })), ['127.0.0.1:9000']);
  });

  it('says where a bad value came from', () => {
    usageError(() => port([], cleanEnv({ CATENA_PORT: 'seventy' })), /^CATENA_PORT must be an integer/);
    const file = configFile('bad-port.json', { port: 70000 });
    usageError(() => port([], cleanEnv({ CATENA_CONFIG: file })), /^port in .*bad-port\.json must be an integer/);
    usageError(() => port([], cleanEnv({ CATENA_ENDPOINTS: ' , ' })), /CATENA_ENDPOINTS needs at least one host:port/);
  });

  it('refuses a config file with an unknown key (with the nearest), bad JSON, a wrong type, or missing when named', () => {
    const parse = (file: string) => parseCommandArgs([], oneShotFlags, cleanEnv({ CATENA_CONFIG: file }));
    usageError(() => parse(configFile('typo.json', { prot: 7000 })), /unknown key "prot" \(did you mean "port"\?\)/);
    usageError(() => parse(configFile('notjson.json', '{port: 1')), /is not JSON/);
    usageError(() => parse(configFile('array.json', [1])), /one JSON object/);
    usageError(() => parse(configFile('tls.json', { tls: 'yes' })), /tls must be true or false/);
    usageError(() => parse(join(dir.path, 'absent.json')), /absent\.json cannot be read \(CATENA_CONFIG\)/);
    // --help never fails on a broken config file.
    assert.ok(parseCommandArgs(['--help'], oneShotFlags, cleanEnv({ CATENA_CONFIG: 'nope' })).flags.has('help'));
  });

  it('resolves a path in the config file against the file, and turns booleans on from either level', () => {
    const file = configFile('paths.json', { 'password-file': 'secret.txt', tls: true });
    const fromFile = parseCommandArgs([], oneShotFlags, cleanEnv({ CATENA_CONFIG: file }));
    assert.equal(fromFile.settings.get('password-file')?.value, join(dir.path, 'secret.txt'));
    assert.equal(fromFile.settings.get('tls')?.value, true);
    const fromEnv = parseCommandArgs([], oneShotFlags, cleanEnv({ CATENA_UNMET_OK: '1', CATENA_TLS: '0' }));
    assert.equal(fromEnv.settings.get('unmet-ok')?.value, true);
    assert.equal(flagOn(fromEnv, 'tls'), false);
    // Off in the environment hides on in the file; --tls on the command line wins over both.
    const off = cleanEnv({ CATENA_CONFIG: file, CATENA_TLS: 'no' });
    assert.equal(flagOn(parseCommandArgs([], oneShotFlags, off), 'tls'), false);
    assert.equal(flagOn(parseCommandArgs(['--tls'], oneShotFlags, off), 'tls'), true);
    usageError(
      () => parseCommandArgs([], oneShotFlags, cleanEnv({ CATENA_TLS: 'maybe' })),
      /CATENA_TLS must be 1 or 0/,
    );
  });
});

describe('options before the command, as in redis-cli', () => {
  it('moves connection options given first to just after the command', () => {
    assert.deepEqual(hoistLeadingOptions(['-h', 'db1', '-p', '7001', 'get', 'k']), [
      'get',
      '-h',
      'db1',
      '-p',
      '7001',
      'k',
    ]);
    assert.deepEqual(hoistLeadingOptions(['--tls', '--port=1', 'status', '--json']), [
      'status',
      '--tls',
      '--port=1',
      '--json',
    ]);
    assert.deepEqual(hoistLeadingOptions(['get', 'k', '-p', '1']), ['get', 'k', '-p', '1']);
    assert.deepEqual(hoistLeadingOptions(['--help']), ['--help']);
    assert.deepEqual(hoistLeadingOptions(['-h']), ['-h']);
  });
});

describe('unknown commands and hidden ones', () => {
  it('suggests the nearest visible command in a few lines, not the whole help', () => {
    assert.equal(
      unknownCommand('gte'),
      'catena: unknown command "gte"\ndid you mean "get"?\nRun "catena --help" for the commands.\n',
    );
    assert.match(unknownCommand('stauts'), /did you mean "status" or "stats"\?/);
    assert.match(unknownCommand('chian'), /did you mean "chain"\?/);
    assert.equal(unknownCommand('xyzzy').split('\n').length, 3);
  });

  it('never suggests or lists a hidden command (the slot commands, topology, nodestatus), though they still run', () => {
    for (const name of ['slotfreeze', 'slotexport', 'slotimport', 'slotdrop', 'topology', 'nodestatus'] as const) {
      assert.equal(commandTable[name].hidden, true, name);
      assert.ok(!visibleCommands().includes(name), name);
      assert.doesNotMatch(unknownCommand(`${name}x`), new RegExp(`"${name}"`));
      assert.ok(!oneShotHelp().includes(`  ${name}`), `help lists ${name}`);
    }
    assert.ok(visibleCommands().includes('get') && visibleCommands().includes('chain'));
    for (const name of slotCommands) assert.equal(commandTable[name].hidden, true, `${name}: a slot command is hidden`);
  });

  it('measures edits with swaps of neighbours as one', () => {
    assert.equal(editDistance('stauts', 'status'), 1);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.deepEqual(nearestAll('ab', ['get', 'del']), []);
  });
});

describe('exit codes', () => {
  it('maps errors to documented codes that do not collide with catena status', () => {
    assert.equal(exitCodeOf(new CatenaError('ERR_INVALID_ARGUMENT', 'x')), 2);
    for (const code of ['ERR_CONNECTION_FAILED', 'ERR_CONNECTION_CLOSED', 'ERR_TIMEOUT'] as const)
      assert.equal(exitCodeOf(new CatenaError(code, 'x')), 3, code);
    assert.equal(exitCodeOf(new CatenaError('ERR_NOPERM', 'x')), 1);
    const values = Object.values(exitCodes);
    assert.equal(new Set(values).size, values.length, 'every exit code means one thing');
    assert.deepEqual([exitCodes.degraded, exitCodes.unavailable, exitCodes.conditionNotMet], [4, 5, 6]);
  });

  it('set and cas say whether their condition held; other commands have no condition', () => {
    assert.equal(commandTable.set.conditionMet?.({ stored: false } as never), false);
    assert.equal(commandTable.set.conditionMet?.({ stored: true } as never), true);
    assert.equal(commandTable.cas.conditionMet?.({ swapped: false } as never), false);
    assert.equal(commandTable.put.conditionMet, undefined);
  });
});

describe('the coordinator URL a node reports, as seen from here', () => {
  it('puts a loopback embedded coordinator on the host the node was reached at', () => {
    assert.equal(reachableCoordinator('embedded://127.0.0.1:7009', '10.0.0.5'), 'embedded://10.0.0.5:7009');
    assert.equal(reachableCoordinator('embedded://127.0.0.1:7009', '127.0.0.1'), 'embedded://127.0.0.1:7009');
    assert.equal(reachableCoordinator('embedded://10.0.0.9:7009', '10.0.0.5'), 'embedded://10.0.0.9:7009');
    assert.equal(reachableCoordinator('zk://127.0.0.1:2181', '10.0.0.5'), 'zk://127.0.0.1:2181');
    assert.equal(reachableCoordinator('embedded://localhost:7009', '::1'), 'embedded://localhost:7009');
  });
});
