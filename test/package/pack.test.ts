// What `npm pack` publishes, and that it works where a user installs it. Builds once with
// `npm run build` (which empties dist/ first, so no stale module from an earlier build can ship),
// packs with `--ignore-scripts` (the `prepare` script would build a second time), then:
//  - checks the tarball's file list: the ES module and CommonJS builds, the CLI and the protocol
//    schema; nothing from src/testing (the simulator, the real-server harnesses, the TCP proxy),
//    no test, benchmark harness or script, no source map without its source, no module that no
//    entry point reaches, and every package a shipped module imports declared in `dependencies`;
//  - installs the tarball into empty folders, once with npm's default (hoisted) layout and once
//    nested (`--install-strategy=nested`, where only declared dependencies are reachable), starts a
//    node with the installed `catena` bin, and runs an ES module program (`import`) and a
//    CommonJS one (`require`) that put and get against it.
// The install fetches Catena's dependencies from the registry npm is configured with; the npm
// cache (`--prefer-offline`) makes a second run quick.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, posix } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { killLeftoverServers, startServer } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  dependencies: Record<string, string>;
};

/**
 * The environment for npm in a user's folder: without the npm_* variables `npm test` sets for its
 * script (npm_config_local_prefix and the like would point the install at this repository), but
 * with the cache and registry settings, so CI's npm configuration still applies.
 */
function userEnvironment(): NodeJS.ProcessEnv {
  const kept = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) || kept.has(name.toLowerCase())),
  );
}

function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? root,
    env: options.env ?? process.env,
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const shown = `${command} ${args.join(' ')}`;
  assert.equal(result.error, undefined, `${shown}: ${String(result.error)}`);
  assert.equal(result.status, 0, `${shown} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** Module specifiers a compiled file imports (static and dynamic imports, re-exports, require). */
function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((file) => file.fileName);
}

/** The package a bare specifier names: `@scope/name` or `name`, without a subpath. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

let work: { path: string; remove: () => void };
let tarball: string;
let paths: string[];

before(() => {
  run(npm, ['run', 'build']);
  work = tempDir('catena-pack-');
  const packed = JSON.parse(run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', work.path])) as {
    filename: string;
    files: { path: string }[];
    size: number;
    unpackedSize: number;
  }[];
  assert.equal(packed.length, 1);
  tarball = join(work.path, packed[0]!.filename);
  paths = packed[0]!.files.map((file) => file.path);
  console.log(
    `${packed[0]!.filename}: ${paths.length} files, ${packed[0]!.size} bytes packed, ` +
      `${packed[0]!.unpackedSize} unpacked`,
  );
});

after(async () => {
  await killLeftoverServers();
  work?.remove();
});

test('the tarball holds the two builds, the CLI and the schema, and nothing else', { timeout: 60_000 }, () => {
  for (const required of [
    'package.json',
    'README.md',
    'LICENSE',
    'bin/catena.js',
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/src/cli/main.js',
    'dist/cjs/index.js',
    'dist/cjs/index.d.ts',
    'dist/cjs/package.json',
    'proto/catena.proto',
    // The dashboard's page, served by every node (catena server finds it beside dist/: dashboard.ts).
    'dashboard/index.html',
    'dashboard/app.js',
    'dashboard/style.css',
  ]) {
    assert.ok(paths.includes(required), `${required} is in the package`);
  }
  const unwanted = paths.filter((path) =>
    /^(dist\/src\/testing|dist\/cjs\/testing|test|src|bench|scripts|dist\/test|dist\/bench|dist\/scripts)\//.test(path),
  );
  assert.deepEqual(unwanted, [], 'no simulator, test harness, test, benchmark or script is shipped');

  // A source map is only worth shipping with the source it maps to.
  for (const map of paths.filter((path) => path.endsWith('.map'))) {
    const { sources } = JSON.parse(readFileSync(join(root, map), 'utf8')) as { sources: string[] };
    for (const source of sources) {
      const target = posix.join(posix.dirname(map), source);
      assert.ok(paths.includes(target), `${map} maps to ${target}, which is in the package`);
    }
  }

  // Every compiled module comes from a source file of today (dist/ was emptied before the build).
  const modules = paths.filter((path) => /^dist\/(src|cjs)\/.*\.js$/.test(path));
  assert.ok(modules.length > 100, `the compiled modules are there (${modules.length})`);
  const sourceOf = (path: string) =>
    path.replace(/^dist\/(cjs\/)?/, (_, cjs) => (cjs ? 'src/' : '')).replace(/\.js$/, '.ts');
  const stale = modules.filter((path) => !existsSync(join(root, sourceOf(path))));
  assert.deepEqual(stale, [], 'no module left over from an earlier build');

  // Nothing shipped imports what is not shipped, or a package that is not a declared dependency
  // (it would be missing in a nested install, or whenever npm hoists differently).
  const declared = new Set(Object.keys(manifest.dependencies));
  const reached = new Set<string>();
  const pending = [
    'bin/catena.js',
    'dist/src/index.js',
    'dist/cjs/index.js',
    'dist/src/index.d.ts',
    'dist/cjs/index.d.ts',
  ];
  while (pending.length > 0) {
    const path = pending.pop()!;
    if (reached.has(path)) continue;
    reached.add(path);
    const declaration = path.endsWith('.d.ts');
    if (!declaration && paths.includes(path.replace(/\.js$/, '.d.ts'))) pending.push(path.replace(/\.js$/, '.d.ts'));
    for (const specifier of importsOf(readFileSync(join(root, path), 'utf8'))) {
      assert.doesNotMatch(specifier, /(^|\/)testing\//, `${path} imports ${specifier}, which is not shipped`);
      if (specifier.startsWith('.')) {
        const module = posix.join(posix.dirname(path), specifier);
        const target = declaration ? module.replace(/\.js$/, '.d.ts') : module;
        assert.ok(paths.includes(target), `${path} imports ${specifier}, which is in the package`);
        pending.push(target);
      } else if (!isBuiltin(specifier) && !declaration) {
        const name = packageOf(specifier);
        assert.ok(declared.has(name), `${path} imports ${name}, which is in package.json "dependencies"`);
      }
    }
  }
  // Every module is there for a user: it runs for the library, the CLI or `catena bench`
  // (src/bench), or it declares types a module that runs uses (tsc emits an empty .js for it).
  assert.deepEqual(
    modules.filter((path) => !reached.has(path) && !reached.has(path.replace(/\.js$/, '.d.ts'))),
    [],
    'every shipped module is reached from bin/catena.js or an `exports` entry',
  );
});

/** Programs a user would write: one ES module, one CommonJS; both print what they read back. */
const programs = {
  'esm.mjs': `import { Client, CatenaError } from '${manifest.name}';
const client = await Client.connect({ host: '127.0.0.1', port: Number(process.argv[2]) });
await client.put('esm', 'from an ES module');
const entry = await client.get('esm');
console.log(JSON.stringify({ value: entry.value.toString(), errors: typeof CatenaError }));
await client.close();
`,
  'cjs.cjs': `const { Client, CatenaError } = require('${manifest.name}');
(async () => {
  const client = await Client.connect({ host: '127.0.0.1', port: Number(process.argv[2]) });
  await client.put('cjs', 'from CommonJS');
  const entry = await client.get('cjs');
  console.log(JSON.stringify({ value: entry.value.toString(), errors: typeof CatenaError }));
  await client.close();
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
`,
};

/** TypeScript users of either module system get the types of what they load (`exports` types). */
const typedPrograms = {
  'typed.mts': `import { Client, CatenaError, type ErrorCode } from '${manifest.name}';
export async function put(port: number): Promise<ErrorCode> {
  const client: Client = await Client.connect({ host: '127.0.0.1', port });
  await client.put('k', 'v');
  return new CatenaError('ERR_TIMEOUT', 'late').code;
}
`,
  'typed.cts': `import { Client, type ErrorCode } from '${manifest.name}';
import catena = require('${manifest.name}');
export async function put(port: number): Promise<ErrorCode> {
  const client: Client = await catena.Client.connect({ host: '127.0.0.1', port });
  await client.put('k', 'v');
  return new catena.CatenaError('ERR_TIMEOUT', 'late').code;
}
`,
};

for (const layout of ['hoisted', 'nested'] as const) {
  test(
    `installed (${layout} node_modules), the bin runs a node and both module systems use it`,
    { timeout: 180_000 },
    async () => {
      const app = join(work.path, `app-${layout}`);
      mkdirSync(app);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'commonjs' }));
      for (const [file, source] of Object.entries(programs)) writeFileSync(join(app, file), source);
      run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', `--install-strategy=${layout}`, tarball], {
        cwd: app,
        env: userEnvironment(),
      });

      const installed = join(app, 'node_modules', manifest.name);
      assert.ok(existsSync(join(installed, 'bin', 'catena.js')));
      const server = await startServer({
        dataDir: join(app, 'data'),
        entry: join(installed, 'bin', 'catena.js'),
        startTimeoutMs: 20_000,
      });
      try {
        for (const [file, expected] of [
          ['esm.mjs', 'from an ES module'],
          ['cjs.cjs', 'from CommonJS'],
        ] as const) {
          const output = run(process.execPath, [file, String(server.port)], { cwd: app, env: userEnvironment() });
          assert.deepEqual(JSON.parse(output), { value: expected, errors: 'function' }, `${file} in ${layout}`);
        }
      } finally {
        await server.stop();
      }
    },
  );
}

test('TypeScript type-checks an ES module and a CommonJS user of the installed package', { timeout: 120_000 }, () => {
  const app = join(work.path, 'app-hoisted');
  assert.ok(existsSync(join(app, 'node_modules', manifest.name)), 'installed by the hoisted test');
  for (const [file, source] of Object.entries(typedPrograms)) writeFileSync(join(app, file), source);
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const types = ['--typeRoots', join(root, 'node_modules', '@types'), '--types', 'node'];
  const options = ['--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022', '--skipLibCheck', ...types];
  run(process.execPath, [tsc, ...options, ...Object.keys(typedPrograms)], { cwd: app });
});
