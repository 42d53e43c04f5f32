// `npm run build` (also run by `npm ci` through the prepare script): compiles src/ twice.
//  - dist/src: ES modules, the CLI and the library (`import` in package.json `exports`).
//  - dist/cjs: CommonJS, the library only (src/index.ts and what it imports), for `require()`:
//    Node 20 cannot require an ES module, and a second build is what lets a CommonJS program use
//    Catena without `await import()`. dist/cjs/package.json says `"type": "commonjs"`, since the
//    package's own package.json says `module`.
// dist/ is emptied first, so no module removed from the source can ship from an earlier build.
// Neither build writes source maps: the package ships no .ts to map them to.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
for (const project of ['tsconfig.build.json', 'tsconfig.cjs.json']) {
  const result = spawnSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
mkdirSync(new URL('../dist/cjs', import.meta.url), { recursive: true });
writeFileSync(new URL('../dist/cjs/package.json', import.meta.url), '{ "type": "commonjs" }\n');
