// scripts/check-layers.ts (`npm run check:layers`): it refuses an upward import, an undeclared
// package, an import of src/testing and a limit outside limits.ts in a small fixture project, and
// finds nothing in the real src/.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { checkLayers } from '../../scripts/check-layers.js';
import { tempDir } from '../helpers/tmp.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** A project with package.json and the given src/ files. */
function fixture(files: Record<string, string>): string {
  const dir = tempDir('catena-layers-');
  after(dir.remove);
  writeFileSync(
    join(dir.path, 'package.json'),
    JSON.stringify({ dependencies: { lmdb: '1' }, devDependencies: { 'fast-check': '1' } }),
  );
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir.path, path)), { recursive: true });
    writeFileSync(join(dir.path, path), text);
  }
  return dir.path;
}

describe('check-layers', () => {
  it('passes on the real src/', () => {
    assert.deepEqual(checkLayers(root), []);
  });

  it('passes imports that point down, or stay in their layer, and declared packages', () => {
    const project = fixture({
      'src/core/a.ts': "import { b } from './b.js';\nexport const a = b;\n",
      'src/core/b.ts': 'export const b = 1;\n',
      'src/commands/c.ts': "import { a } from '../core/a.js';\nimport { open } from 'lmdb';\nexport { a, open };\n",
      'src/server/s.ts': "export * from '../commands/c.js';\nimport type { X } from '../protocol/native/codec.js';\n",
      'src/protocol/native/codec.ts': 'export type X = number;\n',
      'src/testing/t.ts': "import fc from 'fast-check';\nimport { a } from '../core/a.js';\nexport { a, fc };\n",
    });
    assert.deepEqual(checkLayers(project), []);
  });

  it('fails on an upward import, naming the file, the line, the import and both layers', () => {
    const project = fixture({
      'src/core/a.ts': "// the core\nimport type { S } from '../server/s.js';\nexport type A = S;\n",
      'src/server/s.ts': 'export type S = string;\n',
    });
    const findings = checkLayers(project);
    assert.equal(findings.length, 1);
    assert.deepEqual(
      { file: findings[0]!.file, line: findings[0]!.line, code: findings[0]!.code },
      { file: 'src/core/a.ts', line: 2, code: "import type { S } from '../server/s.js';" },
    );
    assert.match(findings[0]!.message, /core \(rank 0\) imports server \(rank 5\)/);
  });

  it('fails on dynamic imports, re-exports, peers, src/testing, undeclared packages and stray limits', () => {
    const project = fixture({
      'src/core/a.ts': "export const load = () => import('../cli/main.js');\n",
      'src/core/b.ts': "export * from '../commands/c.js';\n",
      'src/storage/s.ts': "import '../sharding/slots.js';\n",
      'src/server/t.ts': "import { proxy } from '../testing/proxy.js';\nexport { proxy };\n",
      'src/client/p.ts': "import fc from 'fast-check';\nexport default fc;\n",
      'src/client/q.ts':
        'export const retryDelayMs = 100;\nexport const lanesMax = 2 ** 8;\nexport const label = 3;\nconst waitMsMinDefault = -(1 << 4);\n',
      'src/client/r.ts': 'const dynamic = (name: string) => import(name);\nexport { dynamic };\n',
    });
    const messages = checkLayers(project).map((finding) => `${finding.file}:${finding.line} ${finding.message}`);
    const expected = [
      /^src\/client\/p\.ts:1 imports the package fast-check/,
      /^src\/client\/q\.ts:1 the limit retryDelayMs/,
      /^src\/client\/q\.ts:2 the limit lanesMax/,
      /^src\/client\/q\.ts:4 the limit waitMsMinDefault/,
      /^src\/client\/r\.ts:1 the module is not a string literal/,
      /^src\/core\/a\.ts:1 core \(rank 0\) imports cli/,
      /^src\/core\/b\.ts:1 core \(rank 0\) imports commands/,
      /^src\/server\/t\.ts:1 server imports src\/testing/,
      /^src\/storage\/s\.ts:1 storage imports sharding: peers/,
    ];
    assert.equal(messages.length, expected.length, messages.join('\n'));
    expected.forEach((pattern, i) => assert.match(messages[i]!, pattern));
  });
});
