import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ControlRecordType,
  decodeControlBatchMarker,
  decodeControlRecord,
  encodeControlBatch,
} from '../../../src/protocol/record-batch/control.js';
import { RecordBatchHeader, validateBatch } from '../../../src/protocol/record-batch/header.js';
import { decodeRecordBatchSync } from '../../../src/protocol/record-batch/record-decoder.js';
import { RecordDecodeError } from '../../../src/protocol/record-batch/errors.js';
import { kafkajsDecode } from './helpers.js';

test('control: a COMMIT marker batch has the layout of docs/record-batch.md §4', () => {
  const batch = encodeControlBatch({
    producerId: 4242,
    producerEpoch: 7,
    coordinatorEpoch: 13,
    type: ControlRecordType.Commit,
    baseOffset: 99,
    timestamp: 1_700_000_000_500,
    partitionLeaderEpoch: 0,
  });
  assert.equal(validateBatch(batch, 0, batch.length), null);
  const header = new RecordBatchHeader(batch);
  assert.equal(header.isControl, true);
  assert.equal(header.isTransactional, true);
  assert.equal(header.attributes, 0x30);
  assert.equal(header.recordCount, 1);
  assert.equal(header.lastOffsetDelta, 0);
  assert.equal(header.baseOffset, 99);
  assert.equal(header.producerId, 4242);
  assert.equal(header.producerEpoch, 7);
  assert.equal(header.baseSequence, -1);
  assert.equal(header.partitionLeaderEpoch, 0);
  assert.equal(header.baseTimestamp, 1_700_000_000_500);
  assert.equal(header.maxTimestamp, 1_700_000_000_500);
  // The one record: length 16 (zig-zag 0x20), attributes, tsDelta 0, offsetDelta 0, key (4 bytes),
  // value (6 bytes), 0 headers.
  assert.equal(
    batch.subarray(61).toString('hex'),
    ['20', '00', '00', '00', '08', '00000001', '0c', '00000000000d', '00'].join(''),
  );
  const decoded = decodeRecordBatchSync(batch);
  const marker = decodeControlBatchMarker(decoded);
  assert.deepEqual(marker, {
    type: ControlRecordType.Commit,
    keyVersion: 0,
    valueVersion: 0,
    coordinatorEpoch: 13,
    producerId: 4242,
    producerEpoch: 7,
    offset: 99,
    timestamp: 1_700_000_000_500,
  });
});

test('control: ABORT round-trips, and kafkajs sees a control batch', async () => {
  const batch = encodeControlBatch({
    producerId: 1,
    producerEpoch: 0,
    coordinatorEpoch: 0,
    type: ControlRecordType.Abort,
  });
  const marker = decodeControlBatchMarker(decodeRecordBatchSync(batch));
  assert.equal(marker.type, ControlRecordType.Abort);
  assert.equal(marker.coordinatorEpoch, 0);
  const theirs = await kafkajsDecode(batch);
  assert.equal(theirs.isControlBatch, true);
  assert.equal(theirs.inTransaction, true);
  assert.equal(theirs.records.length, 1);
  assert.deepEqual(theirs.records[0]!.key, Buffer.from('00000000', 'hex'));
});

test('control: decodeControlRecord accepts newer versions and other types, rejects short or negative', () => {
  assert.deepEqual(decodeControlRecord(Buffer.from('00010001', 'hex'), Buffer.from('0001000000050000ff', 'hex')), {
    type: 1,
    keyVersion: 1,
    valueVersion: 1,
    coordinatorEpoch: 5,
  });
  assert.deepEqual(decodeControlRecord(Buffer.from('00000002', 'hex'), Buffer.from('00', 'hex')), {
    type: 2,
    keyVersion: 0,
  });
  assert.throws(() => decodeControlRecord(Buffer.from('0000', 'hex'), null), RecordDecodeError);
  assert.throws(() => decodeControlRecord(null, null), RecordDecodeError);
  assert.throws(() => decodeControlRecord(Buffer.from('ffff0000', 'hex'), Buffer.alloc(6)), /negative/);
  assert.throws(() => decodeControlRecord(Buffer.from('00000001', 'hex'), Buffer.alloc(5)), RecordDecodeError);
  assert.throws(() => decodeControlRecord(Buffer.from('00000000', 'hex'), null), RecordDecodeError);
});

test('control: option checks', () => {
  const base = { producerId: 1, producerEpoch: 0, coordinatorEpoch: 0 };
  assert.throws(() => encodeControlBatch({ ...base, type: 2 as ControlRecordType }), RangeError);
  assert.throws(() => encodeControlBatch({ ...base, producerId: -1, type: ControlRecordType.Commit }), RangeError);
  assert.throws(
    () => encodeControlBatch({ ...base, coordinatorEpoch: 2 ** 31, type: ControlRecordType.Commit }),
    RangeError,
  );
  const notControl = decodeRecordBatchSync(encodeControlBatch({ ...base, type: ControlRecordType.Commit }));
  assert.throws(() => decodeControlBatchMarker({ ...notControl, isControl: false }), /not a control batch/);
});
