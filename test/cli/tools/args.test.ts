// The separator escapes of the client tools (`sluice produce --key-separator`): one case per row of
// the table in src/cli/tools/args.ts, and what kcat -K does with the same text where it agrees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ToolUsageError, unescapeSeparator } from '../../../src/cli/tools/args.js';

test('every row of the separator escape table', () => {
  const cases: [written: string, means: string][] = [
    ['\\t', '\t'], // the README's --key-separator '\t': the shell passes backslash and t
    ['\\n', '\n'],
    ['\\x3a', ':'],
    ['\\x01', '\u0001'],
    ['\\\\', '\\'],
    ['\\\\t', '\\t'], // a literal backslash-t
    ['\\z', '\\z'], // any other escape stays as written
    ['a\\', 'a\\'], // a trailing backslash too
    [':', ':'],
    ['\t', '\t'], // a real tab ($'\t') passes unchanged
    ['=>', '=>'],
    ['k\\tv\\x3d', 'k\tv='],
  ];
  for (const [written, means] of cases) assert.equal(unescapeSeparator(written), means, JSON.stringify(written));
});

test('\\x takes exactly two hex digits of an ASCII character', () => {
  for (const bad of ['\\x', '\\x3', '\\xzz', '\\xff', '\\x80'])
    assert.throws(() => unescapeSeparator(bad), ToolUsageError, bad);
});
