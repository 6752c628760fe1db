// The fault bed's checker (test/faults/checker.ts) on hand-made histories: each kind of anomaly is
// found, and a clean history reports none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check, describe, type History, type PartitionReads } from './faults/checker.js';

const reads = (entries: Array<[number, string[]]>): PartitionReads => new Map(entries);

const history: History = {
  acknowledged: [
    { writer: 'a', value: 'a-0', partition: 0 },
    { writer: 'a', value: 'a-1', partition: 0 },
    { writer: 'b', value: 'b-0', partition: 1 },
  ],
  committed: [{ writer: 't', value: 't-0', partition: 1 }],
  aborted: ['t-1'],
};

test('a clean run: everything acknowledged found once, in order, no aborted value read', () => {
  const all = reads([
    [0, ['a-0', 'x-unknown', 'a-1']],
    [1, ['b-0', 't-0', 't-1']],
  ]);
  const committed = reads([
    [0, ['a-0', 'x-unknown', 'a-1']],
    [1, ['b-0', 't-0']],
  ]);
  const report = check(history, all, committed);
  assert.deepEqual(
    { ...report, found: undefined },
    { lost: [], duplicated: [], reordered: [], abortedReads: [], found: undefined },
  );
  assert.equal(report.found, 6);
  assert.match(describe(report, 0), /lost 0; duplicated 0; reordered 0; aborted reads 0; divergent 0/);
});

test('lost, duplicated, reordered and aborted reads are each found', () => {
  const all = reads([
    [0, ['a-1', 'a-0', 'a-0']],
    [1, ['t-1']],
  ]);
  const committed = reads([
    [0, ['a-1', 'a-0', 'a-0']],
    [1, ['t-1']],
  ]);
  const report = check(history, all, committed);
  assert.deepEqual(report.lost, ['b-0', 't-0']);
  assert.deepEqual(report.duplicated, ['a-0']);
  assert.deepEqual(report.reordered, ['a-0 after a-1']);
  assert.deepEqual(report.abortedReads, ['t-1']);
  assert.match(describe(report, 2), /lost 2 \(e\.g\. b-0, t-0\).*divergent 2/);
});
