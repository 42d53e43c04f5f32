// What `npm pack` would publish: the compiled library and CLI, the protocol schema, README and
// LICENSE, and nothing meant for tests (the simulator, the real-server harnesses and the TCP proxy
// in src/testing are compiled only by the tests, through tsx). Builds with `npm run build` (which
// empties dist/ first, so no stale module from an earlier build can ship), then lists the tarball
// with `npm pack --dry-run --json --ignore-scripts` (the `prepare` script would build a second
// time, and its compiler output would land in the JSON on stdout).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(args: string[]): string {
  const result = spawnSync(npm, args, { cwd: root, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(result.error, undefined, `npm ${args.join(' ')}: ${String(result.error)}`);
  assert.equal(result.status, 0, `npm ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** Module specifiers a compiled file imports (static and dynamic imports, re-exports). */
function importsOf(source: string): string[] {
  const specifiers: string[] = [];
  for (const match of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)) specifiers.push(match[1]!);
  return specifiers;
}

test(
  'the package ships the library, the CLI and the docs, and nothing from src/testing or test/',
  { timeout: 180_000 },
  () => {
    run(['run', 'build']);
    const packed = JSON.parse(run(['pack', '--dry-run', '--json', '--ignore-scripts'])) as {
      files: { path: string }[];
    }[];
    assert.equal(packed.length, 1);
    const paths = packed[0]!.files.map((file) => file.path);

    for (const required of [
      'package.json',
      'README.md',
      'LICENSE',
      'bin/catena.js',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/cli/main.js',
      'proto/catena.proto',
      // The dashboard's page, served by every node (src/server/dashboard.ts finds it beside dist/).
      'dashboard/index.html',
      'dashboard/app.js',
      'dashboard/style.css',
    ]) {
      assert.ok(paths.includes(required), `${required} is in the package`);
    }
    const unwanted = paths.filter(
      (path) =>
        path.startsWith('dist/src/testing/') ||
        path.startsWith('test/') ||
        path.startsWith('src/') ||
        path.startsWith('bench/') ||
        path.startsWith('scripts/') ||
        path.startsWith('dist/test/'),
    );
    assert.deepEqual(unwanted, [], 'no simulator, test harness, test, benchmark or script is shipped');

    // Every compiled module comes from a source file of today (dist/ was emptied before the build).
    const modules = paths.filter((path) => path.startsWith('dist/src/') && path.endsWith('.js'));
    assert.ok(modules.length > 50, `the compiled modules are there (${modules.length})`);
    const stale = modules.filter(
      (path) => !existsSync(join(root, path.replace(/^dist\//, '').replace(/\.js$/, '.ts'))),
    );
    assert.deepEqual(stale, [], 'no module left over from an earlier build');

    // Nothing shipped imports what is not shipped.
    for (const path of [...modules, 'bin/catena.js']) {
      for (const specifier of importsOf(readFileSync(join(root, path), 'utf8'))) {
        assert.doesNotMatch(specifier, /(^|\/)testing\//, `${path} imports ${specifier}, which is not shipped`);
        if (!specifier.startsWith('.')) continue;
        const target = join(path, '..', specifier);
        assert.ok(paths.includes(target), `${path} imports ${specifier}, which is in the package`);
      }
    }
  },
);
