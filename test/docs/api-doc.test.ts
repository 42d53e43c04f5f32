// docs/api is generated from the package's types and doc comments by TypeDoc (`npm run
// docs:api`, typedoc.json). This regenerates it into a temporary directory and compares every
// file, so a change to an exported type or its comment without `npm run docs:api` fails here.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/server-process.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);

/** Every file under `dir`, by its path relative to it, with its text. */
function filesUnder(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path, 'utf8'));
    }
  };
  walk(dir);
  return files;
}

it('docs/api matches the exported types and their comments (run `npm run docs:api` after changing them)', async () => {
  const out = tempDir('catena-api-doc-');
  try {
    const typedoc = join(repoRoot, 'node_modules', 'typedoc', 'bin', 'typedoc');
    await run(process.execPath, [typedoc, '--out', out.path, '--logLevel', 'Error'], { cwd: repoRoot });
    const fresh = filesUnder(out.path);
    const committed = filesUnder(join(repoRoot, 'docs', 'api'));
    assert.ok(fresh.size > 0, 'typedoc wrote nothing');
    assert.deepEqual([...committed.keys()].sort(), [...fresh.keys()].sort(), 'the files of docs/api');
    for (const [path, text] of fresh) assert.equal(committed.get(path), text, `docs/api/${path} is stale`);
  } finally {
    out.remove();
  }
});
