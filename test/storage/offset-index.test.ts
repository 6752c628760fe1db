import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IndexCorruptError, OffsetIndex } from '../../src/storage/offset-index.js';

test('offset index: lookup finds the last entry at or below an offset, or the segment start', () => {
  const index = new OffsetIndex(100, 1024);
  index.append(104, 500);
  index.append(110, 1200);
  index.append(125, 3000);
  assert.deepEqual(index.lookup(100), { offset: 100, position: 0 });
  assert.deepEqual(index.lookup(103), { offset: 100, position: 0 });
  assert.deepEqual(index.lookup(104), { offset: 104, position: 500 });
  assert.deepEqual(index.lookup(124), { offset: 110, position: 1200 });
  assert.deepEqual(index.lookup(1_000_000), { offset: 125, position: 3000 });
  index.truncateToPosition(1200);
  assert.deepEqual(index.last(), { offset: 104, position: 500 });
  index.truncateToOffset(104);
  assert.equal(index.entries, 0);
});

test('offset index: file bytes are relative offset and position, big-endian; load checks them', () => {
  const index = new OffsetIndex(1000, 64);
  index.append(1003, 77);
  index.append(1009, 4100);
  const bytes = Buffer.from(index.contents());
  assert.deepEqual(bytes, Buffer.from([0, 0, 0, 3, 0, 0, 0, 77, 0, 0, 0, 9, 0, 0, 16, 4]));
  assert.deepEqual(OffsetIndex.load('x', 1000, 64, bytes, 5000).lookup(1010), { offset: 1009, position: 4100 });
  assert.throws(() => OffsetIndex.load('x', 1000, 64, bytes.subarray(0, 12), 5000), IndexCorruptError);
  assert.throws(() => OffsetIndex.load('x', 1000, 64, bytes, 4100), IndexCorruptError, 'position past the log end');
  assert.throws(
    () => OffsetIndex.load('x', 1000, 64, Buffer.concat([bytes.subarray(8), bytes.subarray(0, 8)]), 5000),
    IndexCorruptError,
    'not increasing',
  );
  // Full at maxBytes / 8 entries.
  const small = new OffsetIndex(0, 16);
  small.append(1, 10);
  small.append(2, 20);
  assert.ok(small.isFull());
});

test('offset index: pendingWrite hands out only what changed, and a cut after a truncation', () => {
  const index = new OffsetIndex(0, 1024);
  index.append(1, 10);
  index.append(2, 20);
  let pending = index.pendingWrite()!;
  assert.equal(pending.position, 0);
  assert.equal(pending.bytes.length, 16);
  index.markPersisted(pending.entries);
  assert.equal(index.pendingWrite(), null);
  index.append(3, 30);
  pending = index.pendingWrite()!;
  assert.equal(pending.position, 16);
  assert.equal(pending.bytes.length, 8);
  index.markPersisted(pending.entries);
  index.truncateToOffset(2);
  pending = index.pendingWrite()!;
  assert.equal(pending.truncate, true);
  assert.equal(pending.fileBytes, 8);
});
