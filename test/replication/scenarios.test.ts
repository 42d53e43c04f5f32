import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { runScenarioFile } from './scenario-runner.js';

const dir = new URL('./scenarios/', import.meta.url).pathname;
const rewrite = process.env['SCENARIO_REWRITE'] === '1';

describe('chain scenarios (test/replication/scenarios/*.txt)', () => {
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort()) {
    it(file.replace(/\.txt$/, '').replaceAll('-', ' '), () => {
      const mismatches = runScenarioFile(`${dir}${file}`, rewrite);
      assert.deepEqual(mismatches, [], mismatches.join('\n\n'));
    });
  }
});
