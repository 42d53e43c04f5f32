// The `catena` command end to end: a real server, the CLI run as a child process (one-shot
// commands, help, exit codes, the shell reading a script from a pipe) and the interactive shell
// in a pseudo-terminal (tmux), with its history file.

import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '../../src/client/client.js';
import { catenaVersion } from '../../src/core/version.js';
import { killLeftoverServers, sleep, startServer, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainScript = join(repoRoot, 'src/cli/main.ts');
// A deadline for a hung CLI, not a speed check: under a load of 20 on two cores (a clean-clone
// CI run beside other test runs) starting tsx alone took over 20 s.
const cliTimeoutMs = 90_000;

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const running = new Set<ChildProcess>();
let historyFile = '';

/** Runs `catena ...args` from source; `input` is piped to stdin (then closed). */
function runCli(args: readonly string[], options: { input?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', mainScript, ...args], {
      cwd: repoRoot,
      // Never touch the real ~/.catena_history.
      env: { ...process.env, CATENA_HISTORY: historyFile },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    running.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `catena ${args.join(' ')} did not exit within ${cliTimeoutMs} ms\n--- stdout ---\n${Buffer.concat(out).toString()}\n--- stderr ---\n${Buffer.concat(err).toString()}`,
        ),
      );
    }, cliTimeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      running.delete(child);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {
      // The CLI may exit without reading all of its input (quit, --help): not an error here.
    });
    child.stdin.end(options.input ?? '');
  });
}

const describeRun = (run: CliRun): string =>
  `exit ${run.code} (signal ${run.signal})\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;

function assertExit(run: CliRun, code: number): void {
  assert.equal(run.code, code, `expected exit code ${code}; got ${describeRun(run)}`);
}

/** A script for the shell: one line per entry, ending in a newline. */
const script = (...lines: string[]): string => `${lines.join('\n')}\n`;

function tmuxAvailable(): boolean {
  const probe = spawnSync('tmux', ['-V'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

describe('catena CLI against a real server', () => {
  const dir = tempDir('catena-cli-');
  let server: ServerProcess;
  let client: Client;
  let port = '';

  before(async () => {
    historyFile = join(dir.path, 'default-history');
    server = await startServer({ dataDir: join(dir.path, 'node'), durability: 'memory' });
    port = String(server.port);
    client = await Client.connect({ port: server.port });
  });

  after(async () => {
    for (const child of running) child.kill('SIGKILL');
    await client?.close();
    if (server?.alive()) await server.stop();
    await killLeftoverServers();
    dir.remove();
  });

  // First, while the store is empty: getkeys and gettable list everything the node holds.
  describe('the shell reading a script from a pipe', () => {
    it('runs each line, shows replies binary-safe, stops at quit and exits 1 after an error', async () => {
      assert.equal((await client.size()).keys, 0, 'this test expects to run first, on an empty store');
      const run = await runCli(['shell', '--port', port], {
        input: script(
          String.raw`put "a b" "x\x00y"`,
          'get "a b"',
          'getkeys',
          'gettable',
          'del "a b"',
          'get "a b"',
          'bogus',
          'help',
          'help get',
          'quit',
          'put "after quit" 1',
          'put "also after" 2',
        ),
      });
      assertExit(run, 1);
      assert.equal(run.stderr, '');
      const lines = run.stdout.split('\n');
      assert.match(lines[0] ?? '', /^OK \(version \d+\)$/, describeRun(run));
      assert.deepEqual(lines.slice(1, 8), [
        String.raw`"x\x00y"`,
        '1) "a b"',
        String.raw`"a b" => "x\x00y"`,
        '(deleted)',
        '(nil)',
        '(error) unknown command "bogus"; type help for the list',
        'Commands:',
      ]);
      // help lists every command, then help get shows one; nothing is printed after quit.
      const helpEnd = lines.indexOf(
        'Quote words with spaces: put "my key" "a value". In double quotes \\n \\t \\" \\\\ and \\xHH work.',
      );
      assert.ok(helpEnd > 8, describeRun(run));
      const helpBody = lines.slice(8, helpEnd).join('\n');
      for (const command of [
        'put <key> <value> [ttl-ms]',
        'get <key>',
        'del <key>',
        'getkeys [prefix] [limit]',
        'quit',
      ])
        assert.ok(helpBody.includes(`  ${command}`), `help lists ${command}:\n${helpBody}`);
      assert.deepEqual(lines.slice(helpEnd + 1), ['get <key>', '  Read the value stored under a key.', '']);
      assert.equal(await client.get('after quit'), undefined, 'a line after quit was run');
      assert.equal(await client.get('also after'), undefined, 'a line after quit was run');
      assert.equal((await client.size()).keys, 0);
    });

    it('exits 0 when no line errors, skips blank lines and runs every line of a long script', async () => {
      const incrs = Array.from({ length: 150 }, () => 'incr "pipe counter"');
      const run = await runCli(['shell', '--port', port], {
        input: script(`put 'pipe key' "tab\\there"`, '', '   ', "GET 'pipe key'", ...incrs, 'ping'),
      });
      assertExit(run, 0);
      assert.equal(run.stderr, '');
      const lines = run.stdout.split('\n');
      assert.match(lines[0] ?? '', /^OK \(version \d+\)$/);
      assert.equal(lines[1], String.raw`"tab\there"`);
      assert.deepEqual(
        lines.slice(2, 152),
        incrs.map((_, i) => `(integer) ${i + 1}`),
      );
      assert.deepEqual(lines.slice(152), ['"PONG"', '']);
      assert.equal(await client.incr('pipe counter', 0), 150n);
    });

    it('exits 0 at the end of input without quit, and 1 for a line that does not split', async () => {
      const [clean, unterminated] = await Promise.all([
        runCli(['shell', '--port', port], { input: 'ping "no newline at the end"' }),
        runCli(['shell', '--port', port], { input: script('put "open k v', 'ping') }),
      ]);
      assertExit(clean, 0);
      assert.equal(clean.stdout, '"no newline at the end"\n');
      assertExit(unterminated, 1);
      assert.equal(unterminated.stdout, '(error) unterminated double quote\n"PONG"\n');
    });

    it('prints one JSON document per reply with --json', async () => {
      const bin = await client.put('json bin', Buffer.from([0xff, 0x00]));
      const run = await runCli(['shell', '--port', port, '--json'], {
        input: script('put "json k" "vé"', 'get "json k"', 'get "json missing"', 'get "json bin"', 'incr "json n" -3'),
      });
      assertExit(run, 0);
      assert.equal(run.stderr, '');
      const lines = run.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 5, describeRun(run));
      const docs = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.equal(typeof docs[0]?.['version'], 'number');
      assert.deepEqual(docs.slice(1), [
        { found: true, value: 'vé', version: docs[0]?.['version'], ttlMs: 0 },
        { found: false, value: '', version: 0, ttlMs: 0 },
        { found: true, value: { base64: '/wA=' }, version: Number(bin.version), ttlMs: 0 },
        { value: -3, found: true },
      ]);
    });

    it('prints errors as JSON too with --json', async () => {
      const run = await runCli(['shell', '--port', port, '--json'], {
        input: script('put "json e" x', 'incr "json e"'),
      });
      assertExit(run, 1);
      const lines = run.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 2);
      for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
      assert.deepEqual(JSON.parse(lines[1] ?? ''), {
        error: { code: 'ERR_NOT_AN_INTEGER', message: 'value is not an integer or out of range' },
      });
    });
  });

  // Independent invocations with their own keys: run a few at a time.
  describe('one-shot commands', { concurrency: 2 }, () => {
    it('put prints OK (version N) and exits 0; the value is stored at that version', async () => {
      const run = await runCli(['put', 'cli put', 'v', '--port', port]);
      assertExit(run, 0);
      assert.equal(run.stderr, '');
      const match = /^OK \(version (\d+)\)\n$/.exec(run.stdout);
      assert.ok(match, describeRun(run));
      const entry = await client.get('cli put');
      assert.equal(entry?.value.toString('utf8'), 'v');
      assert.equal(entry?.version, BigInt(match[1]!));
    });

    it('get prints the value quoted, and (nil) for a missing key', async () => {
      await client.put('cli get', 'v');
      await client.put('cli get escaped', 'say "hi"\n\x01');
      const [found, escaped, missing] = await Promise.all([
        runCli(['get', 'cli get', '--port', port]),
        runCli(['get', '--port', port, 'cli get escaped']),
        runCli(['get', 'cli missing', '--port', port]),
      ]);
      assertExit(found, 0);
      assert.equal(found.stdout, '"v"\n');
      assert.equal(found.stderr, '');
      assertExit(escaped, 0);
      assert.equal(escaped.stdout, '"say \\"hi\\"\\n\\x01"\n');
      assertExit(missing, 0);
      assert.equal(missing.stdout, '(nil)\n');
      assert.equal(missing.stderr, '');
    });

    it('get --json prints one parseable JSON document', async () => {
      const { version } = await client.put('cli json', 'v');
      await client.put('cli json bin', Buffer.from([0x00, 0xfe]));
      const [run, binary, missing] = await Promise.all([
        runCli(['get', 'cli json', '--port', port, '--json']),
        runCli(['get', '--json', 'cli json bin', `--port=${port}`]),
        runCli(['get', 'cli json missing', '--port', port, '--json']),
      ]);
      assertExit(run, 0);
      assert.deepEqual(JSON.parse(run.stdout), { found: true, value: 'v', version: Number(version), ttlMs: 0 });
      assert.ok(run.stdout.endsWith('}\n'));
      assertExit(binary, 0);
      assert.deepEqual((JSON.parse(binary.stdout) as { value: unknown }).value, { base64: 'AP4=' });
      assertExit(missing, 0);
      assert.equal((JSON.parse(missing.stdout) as { found: unknown }).found, false);
    });

    it('incr on a value that is not an integer exits 1 with the error code on stderr', async () => {
      await client.put('cli not a number', 'v');
      const [run, json] = await Promise.all([
        runCli(['incr', 'cli not a number', '--port', port]),
        runCli(['incr', 'cli not a number', '--port', port, '--json']),
      ]);
      assertExit(run, 1);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /^\(error\) ERR_NOT_AN_INTEGER: .+\n$/);
      assertExit(json, 1);
      assert.deepEqual(JSON.parse(json.stdout), {
        error: { code: 'ERR_NOT_AN_INTEGER', message: 'value is not an integer or out of range' },
      });
      assert.equal((await client.get('cli not a number'))?.value.toString('utf8'), 'v');
    });

    it('incr takes a negative delta as a positional word', async () => {
      const run = await runCli(['incr', 'cli counter', '-5', '--port', port]);
      assertExit(run, 0);
      assert.equal(run.stdout, '(integer) -5\n');
      assert.equal(await client.incr('cli counter', 0), -5n);
    });

    it('wrong number of arguments exits 2 with the usage, without sending anything', async () => {
      const [none, two, put] = await Promise.all([
        runCli(['get', '--port', port]),
        runCli(['get', 'cli a', 'cli b', '--port', port]),
        runCli(['put', 'cli arity', '--port', port]),
      ]);
      for (const [run, usage] of [
        [none, 'get <key>'],
        [two, 'get <key>'],
        [put, 'put <key> <value> [ttl-ms]'],
      ] as const) {
        assertExit(run, 2);
        assert.equal(run.stdout, '');
        assert.match(run.stderr, /ERR_INVALID_ARGUMENT/);
        assert.ok(run.stderr.includes(`usage: ${usage}`), describeRun(run));
      }
      assert.equal(await client.get('cli arity'), undefined);
    });

    it('--help shows the main usage and exits 0; no arguments shows it and exits 2; -h is a host', async () => {
      const [help, short, bare, version] = await Promise.all([
        runCli(['--help']),
        runCli(['-h']),
        runCli([]),
        runCli(['--version']),
      ]);
      assertExit(help, 0);
      assert.equal(help.stderr, '');
      assert.ok(help.stdout.startsWith(`Catena ${catenaVersion}: `), describeRun(help));
      for (const text of ['Usage:', 'catena server [options]', 'catena shell', 'put <key> <value> [ttl-ms]', '--json'])
        assert.ok(help.stdout.includes(text), `main help mentions ${text}`);
      // As in redis-cli, -h is the host: alone it is a usage error that points at --help.
      assertExit(short, 2);
      assert.equal(short.stdout, '');
      assert.match(short.stderr, /^catena: ERR_INVALID_ARGUMENT: -h is the host .* help is --help\n$/);
      assertExit(bare, 2);
      assert.equal(bare.stdout, help.stdout);
      assertExit(version, 0);
      assert.equal(version.stdout, `${catenaVersion}\n`);
    });

    it('<command> --help shows that command and exits 0 without connecting', async () => {
      const unusedPort = String(await freePort());
      const [get, short, put] = await Promise.all([
        runCli(['get', '--help', '--port', unusedPort]),
        runCli(['get', '-h']),
        runCli(['put', '--help']),
      ]);
      assertExit(get, 0);
      assert.equal(get.stderr, '');
      assert.ok(get.stdout.startsWith('Usage: catena get <key> [options]\n'), describeRun(get));
      assert.ok(get.stdout.includes('Read the value stored under a key.'));
      assert.ok(get.stdout.includes('--port <value>'));
      assertExit(short, 2);
      assert.match(short.stderr, /-h is the host \(as in redis-cli\) and needs a value: -h HOST; help is --help/);
      assertExit(put, 0);
      assert.ok(put.stdout.startsWith('Usage: catena put <key> <value> [ttl-ms] [options]\n'), describeRun(put));
    });

    it('server --help and shell --help exit 0 with their usage', async () => {
      const [serverHelp, shellHelp] = await Promise.all([runCli(['server', '--help']), runCli(['shell', '--help'])]);
      assertExit(serverHelp, 0);
      assert.ok(serverHelp.stdout.startsWith('Usage: catena server [options]\n'), describeRun(serverHelp));
      for (const flag of ['--port', '--data-dir', '--durability', '--value-bytes-max', '--log-level'])
        assert.ok(serverHelp.stdout.includes(flag), `server help lists ${flag}`);
      assertExit(shellHelp, 0);
      assert.ok(shellHelp.stdout.startsWith('Usage: catena shell [options]\n'), describeRun(shellHelp));
    });

    it('an unknown command or option exits 2', async () => {
      const [command, option, serverArg] = await Promise.all([
        runCli(['bogus', 'k', '--port', port]),
        runCli(['get', 'k', '--bogus', '--port', port]),
        runCli(['server', 'extra', '--port', '0']),
      ]);
      assertExit(command, 2);
      assert.equal(
        command.stderr,
        'catena: unknown command "bogus"\nRun "catena --help" for the commands.\n',
        describeRun(command),
      );
      assertExit(option, 2);
      assert.match(option.stderr, /^catena: ERR_INVALID_ARGUMENT: unknown option --bogus\n$/);
      assertExit(serverArg, 2);
      assert.match(serverArg.stderr, /unexpected argument extra/);
    });

    it('a port nothing listens on exits 3 with ERR_CONNECTION_FAILED', async () => {
      const unusedPort = String(await freePort());
      const [oneShot, shell] = await Promise.all([
        runCli(['get', 'k', '--port', unusedPort]),
        runCli(['shell', '--port', unusedPort], { input: script('put k v') }),
      ]);
      for (const run of [oneShot, shell]) {
        assertExit(run, 3);
        assert.equal(run.stdout, '');
        assert.match(
          run.stderr,
          new RegExp(`^catena: ERR_CONNECTION_FAILED: could not connect to 127\\.0\\.0\\.1:${unusedPort}`),
        );
      }
    });

    it('a bad --port value exits 2', async () => {
      const run = await runCli(['get', 'k', '--port', '70000']);
      assertExit(run, 2);
      assert.match(run.stderr, /--port must be an integer from 1 to 65535/);
    });
  });

  describe('the interactive shell in a terminal', () => {
    const tmux = tmuxAvailable();
    const socket = `catena-cli-test-${process.pid}`;
    const runTmux = (...args: string[]) =>
      promisify(execFile)('tmux', ['-L', socket, '-f', '/dev/null', ...args], { timeout: 10_000 });

    after(async () => {
      // Only this test's own tmux server (a private socket), if it is still up.
      if (tmux) await runTmux('kill-server').catch(() => undefined);
    });

    /** Polls the pane until `done` holds for its text; fails with the screen after `timeoutMs`. */
    async function waitForPane(done: (screen: string) => boolean, what: string, timeoutMs = 10_000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const screen = (await runTmux('capture-pane', '-p', '-t', 'cli')).stdout;
        if (done(screen)) return screen;
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; the screen:\n${screen}`);
        await sleep(50);
      }
    }

    const count = (screen: string, pattern: RegExp) => screen.match(new RegExp(pattern, 'gm'))?.length ?? 0;

    it(
      'shows a prompt, runs commands, recalls history with the Up arrow and saves it',
      tmux ? { timeout: 60_000 } : { skip: 'tmux not installed' },
      async () => {
        const history = join(dir.path, 'interactive-history');
        const exitFile = join(dir.path, 'interactive-exit');
        writeFileSync(history, 'ping "from an earlier session"\n');
        await runTmux(
          'new-session',
          '-d',
          '-s',
          'cli',
          '-x',
          '120',
          '-y',
          '40',
          '-c',
          repoRoot,
          'sh',
          '-c',
          'CATENA_HISTORY="$1" "$2" --import tsx "$3" shell --port "$4"; echo $? > "$5"',
          'sh',
          history,
          process.execPath,
          mainScript,
          port,
          exitFile,
        );
        await waitForPane((s) => /^catena> $/m.test(s) || /^catena>$/m.test(s), 'the first prompt');

        await runTmux('send-keys', '-t', 'cli', 'put k1 hello', 'Enter');
        await waitForPane((s) => count(s, /^OK \(version \d+\)$/m) === 1, 'the put reply');
        await runTmux('send-keys', '-t', 'cli', 'get k1', 'Enter');
        await waitForPane((s) => s.includes('"hello"'), 'the get reply');
        // Up twice: past "get k1" to "put k1 hello", which runs again.
        await runTmux('send-keys', '-t', 'cli', 'Up', 'Up', 'Enter');
        await waitForPane((s) => count(s, /^OK \(version \d+\)$/m) === 2, 'the recalled put reply');
        // Up four times: past this session's three lines to the one loaded from the history file.
        await runTmux('send-keys', '-t', 'cli', 'Up', 'Up', 'Up', 'Up', 'Enter');
        const screen = await waitForPane((s) => s.includes('\n"from an earlier session"'), 'the recalled ping');
        await waitForPane((s) => /^catena>\s*$/m.test(s.trimEnd().split('\n').at(-1) ?? ''), 'the last prompt');

        const lines = (await runTmux('capture-pane', '-p', '-t', 'cli')).stdout
          .split('\n')
          .map((line) => line.trimEnd())
          .filter((line) => line !== '');
        assert.equal(lines.length, 10, screen);
        assert.equal(lines[0], `Connected to 127.0.0.1:${port}. Type help for commands, quit to leave.`);
        assert.equal(lines[1], 'catena> put k1 hello');
        assert.match(lines[2] ?? '', /^OK \(version (\d+)\)$/);
        assert.deepEqual(lines.slice(3, 5), ['catena> get k1', '"hello"']);
        assert.equal(lines[5], 'catena> put k1 hello');
        assert.match(lines[6] ?? '', /^OK \(version (\d+)\)$/);
        assert.notEqual(lines[6], lines[2], 'the recalled put wrote a new version');
        assert.deepEqual(lines.slice(7), [
          'catena> ping "from an earlier session"',
          '"from an earlier session"',
          'catena>',
        ]);
        assert.equal((await client.get('k1'))?.value.toString('utf8'), 'hello');

        await runTmux('send-keys', '-t', 'cli', 'quit', 'Enter');
        const deadline = Date.now() + 10_000;
        while (!existsSync(exitFile) || readFileSync(exitFile, 'utf8') === '') {
          if (Date.now() > deadline) assert.fail('the shell did not exit after quit');
          await sleep(50);
        }
        assert.equal(readFileSync(exitFile, 'utf8').trim(), '0');
        assert.deepEqual(readFileSync(history, 'utf8').split('\n'), [
          'ping "from an earlier session"',
          'put k1 hello',
          'get k1',
          'put k1 hello',
          'ping "from an earlier session"',
          'quit',
          '',
        ]);
      },
    );
  });
});
