// Per-partition transaction state: the first offset of each open transaction (→ last stable offset)
// and the aborted transactions a read_committed Fetch lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PartitionTransactions, TRANSACTIONS_MARKER_FILE } from '../../../src/broker/transactions/partition-transactions.js';
import { ControlRecordType, encodeControlBatch } from '../../../src/protocol/record-batch/control.js';
import { RecordBatchHeader } from '../../../src/protocol/record-batch/header.js';
import { encodeRecordBatchSync } from '../../../src/protocol/record-batch/records.js';

function data(producerId: number, baseOffset: number, count: number): RecordBatchHeader {
  const batch = encodeRecordBatchSync({ baseOffset, producerId, producerEpoch: 0, baseSequence: 0, transactional: true, records: Array.from({ length: count }, (_, i) => ({ value: Buffer.from(`v${i}`) })) });
  return new RecordBatchHeader(batch);
}

function marker(producerId: number, offset: number): RecordBatchHeader {
  return new RecordBatchHeader(encodeControlBatch({ producerId, producerEpoch: 0, coordinatorEpoch: 0, type: ControlRecordType.Abort, baseOffset: offset }));
}

test('open transactions give the first unstable offset; markers close them; aborts are listed by overlap', () => {
  const directory = mkdtempSync(join(tmpdir(), 'sluice-ptx-'));
  try {
    const state = new PartitionTransactions(directory);
    assert.equal(state.firstUnstableOffset, null);
    state.apply(data(1, 10, 3), null); // producer 1: 10-12
    state.apply(data(2, 13, 2), null); // producer 2: 13-14
    state.apply(data(1, 15, 1), null); // producer 1 again: first offset stays 10
    assert.equal(state.firstUnstableOffset, 10);
    assert.equal(state.openTransactionCount, 2);
    state.apply(marker(1, 16), ControlRecordType.Abort);
    assert.equal(state.firstUnstableOffset, 13);
    state.apply(marker(2, 17), ControlRecordType.Commit);
    assert.equal(state.firstUnstableOffset, null);
    state.apply(data(3, 20, 1), null);
    state.apply(marker(3, 21), ControlRecordType.Abort);
    state.apply(marker(4, 22), ControlRecordType.Abort); // a marker of a producer with nothing here: not listed

    assert.deepEqual(state.abortedOverlapping(0, 100), [{ producerId: 1, firstOffset: 10, lastOffset: 16 }, { producerId: 3, firstOffset: 20, lastOffset: 21 }]);
    assert.deepEqual(state.abortedOverlapping(0, 10), [], 'ends before the first aborted record');
    assert.deepEqual(state.abortedOverlapping(17, 20), [], 'between the two');
    assert.deepEqual(state.abortedOverlapping(16, 17), [{ producerId: 1, firstOffset: 10, lastOffset: 16 }], 'the marker itself overlaps');
    assert.deepEqual(state.abortedOverlapping(21, 30).map((a) => a.producerId), [3]);
    state.prune(17);
    assert.deepEqual(state.abortedOverlapping(0, 100).map((a) => a.producerId), [3], 'wholly below the log start: forgotten');
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('the marker file is written once, durably, and makes the next open scan the log', () => {
  const directory = mkdtempSync(join(tmpdir(), 'sluice-ptx-'));
  try {
    const state = new PartitionTransactions(directory);
    assert.equal(existsSync(join(directory, TRANSACTIONS_MARKER_FILE)), false);
    state.markTransactional();
    state.markTransactional();
    assert.equal(existsSync(join(directory, TRANSACTIONS_MARKER_FILE)), true);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
