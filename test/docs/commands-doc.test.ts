import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { renderCommandsDoc } from '../../src/commands/doc.js';

it('docs/commands.md matches the command table (run `npm run docs` after changing a command)', () => {
  const onDisk = readFileSync(new URL('../../docs/commands.md', import.meta.url), 'utf8');
  assert.equal(onDisk, renderCommandsDoc());
});
