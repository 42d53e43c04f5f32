// A node's log file under `catena up` is JSON lines only: the child's output joined into whole
// lines however it is chunked, bounded in length, and every line that is not a JSON object
// wrapped into a record of the node's shape.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineSplitter, nodeLogLine } from '../../src/cli/node-log.js';

const ts = new Date('2026-01-02T21:51:03.045Z');

describe('LineSplitter', () => {
  const output = '{"level":"info","msg":"a"}\nTypeError: boom\n    at x (file.ts:1:2)\n\nlast';

  it('gives the same lines whatever the chunks, at every split point', () => {
    for (let cut = 0; cut <= output.length; cut++) {
      for (let second = cut; second <= output.length; second += 7) {
        const splitter = new LineSplitter(1000);
        const lines = [
          ...splitter.push(output.slice(0, cut)),
          ...splitter.push(output.slice(cut, second)),
          ...splitter.push(output.slice(second)),
          ...splitter.end(),
        ];
        assert.deepEqual(
          lines,
          ['{"level":"info","msg":"a"}', 'TypeError: boom', '    at x (file.ts:1:2)', '', 'last'],
          `split at ${cut} and ${second}`,
        );
      }
    }
  });

  it('cuts a line longer than its limit into pieces, and holds no more than the limit', () => {
    const splitter = new LineSplitter(4);
    assert.deepEqual(splitter.push('abcdefghij'), ['abcd', 'efgh']);
    assert.deepEqual(splitter.push('k\n123'), ['ijk']);
    assert.deepEqual(splitter.push('4'), ['1234'], 'a piece of exactly the limit is complete');
    assert.deepEqual(splitter.push('\n'), ['']);
    assert.deepEqual(splitter.end(), []);
    assert.deepEqual(new LineSplitter(3).push('abcdefg\nxy'), ['abc', 'def', 'g']);
  });
});

describe('nodeLogLine', () => {
  const source = { node: 'f00d', stream: 'stderr' as const, ts };

  it('keeps a JSON object as it is', () => {
    const line = '{"ts":"2026-01-02T21:51:03.045Z","level":"warn","node":"f00d","msg":"suspecting a chain neighbour"}';
    assert.equal(nodeLogLine(line, source), line);
  });

  it('wraps anything else into a record of the same shape: a crash trace as an error', () => {
    for (const line of ['TypeError: boom', '    at x (file.ts:1:2)', '[1,2]', '{not json', 'null']) {
      assert.deepEqual(JSON.parse(nodeLogLine(line, source)!), {
        ts: '2026-01-02T21:51:03.045Z',
        level: 'error',
        node: 'f00d',
        msg: line,
        stream: 'stderr',
      });
    }
  });

  it('makes a Node.js warning a warn, stdout an info, and drops blank lines', () => {
    const warning = '(node:4242) ExperimentalWarning: something is experimental';
    assert.equal((JSON.parse(nodeLogLine(warning, source)!) as { level: string }).level, 'warn');
    const out = JSON.parse(nodeLogLine('hello', { ...source, stream: 'stdout' })!) as Record<string, unknown>;
    assert.deepEqual([out['level'], out['stream']], ['info', 'stdout']);
    assert.equal(nodeLogLine('', source), undefined);
    assert.equal(nodeLogLine('   ', source), undefined);
  });
});
