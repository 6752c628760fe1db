import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IndexCorruptError } from '../../src/storage/offset-index.js';
import { TimeIndex } from '../../src/storage/time-index.js';

test('time index: entries only when the timestamp grows; lastBefore is strict', () => {
  const index = new TimeIndex(50, 1200);
  assert.ok(index.maybeAppend(1000, 52));
  assert.ok(!index.maybeAppend(1000, 55), 'same timestamp: no entry');
  assert.ok(!index.maybeAppend(900, 56), 'older timestamp: no entry');
  assert.ok(index.maybeAppend(2000, 60));
  assert.equal(index.lastBefore(1000), undefined);
  assert.deepEqual(index.lastBefore(1001), { timestamp: 1000, offset: 52 });
  assert.deepEqual(index.lastBefore(5000), { timestamp: 2000, offset: 60 });
  const content = Buffer.alloc(24);
  content.writeBigInt64BE(1000n, 0);
  content.writeInt32BE(2, 8);
  content.writeBigInt64BE(2000n, 12);
  content.writeInt32BE(10, 20);
  assert.deepEqual(TimeIndex.load('t', 50, 1200, content, 61).last(), { timestamp: 2000, offset: 60 });
  assert.throws(() => TimeIndex.load('t', 50, 1200, content, 60), IndexCorruptError, 'offset past the segment end');
  assert.throws(() => TimeIndex.load('t', 50, 1200, content.subarray(0, 13), 61), IndexCorruptError);
});
