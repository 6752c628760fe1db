// The record pass (src/broker/produce/record-pass.ts) on its own: every row of its table, the
// recompression matrix, the derived maxTimestamp, and damaged records that must never throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { producePolicyOf, type ProducePolicy } from '../../../src/broker/produce/policy.js';
import { passRecords, RECORD_ERRORS_MAX } from '../../../src/broker/produce/record-pass.js';
import { ErrorCode } from '../../../src/protocol/generated/error-codes.js';
import { ControlRecordType, encodeControlBatch } from '../../../src/protocol/record-batch/control.js';
import { crc32c } from '../../../src/protocol/record-batch/crc32c.js';
import {
  Compression,
  CRC_OFFSET,
  CRC_START_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  RecordBatchHeader,
  RECORDS_OFFSET,
  writeInt64FromNumber,
} from '../../../src/protocol/record-batch/header.js';
import { decodeRecordBatchSync } from '../../../src/protocol/record-batch/record-decoder.js';
import { encodeRecordBatchSync, type RecordToEncode } from '../../../src/protocol/record-batch/record-encoder.js';
import { withSeed } from '../../support/random.js';

const codecs = [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd];
const codecNames = ['uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'];
const compacted = producePolicyOf({ 'cleanup.policy': 'compact' }, {});
const plain = producePolicyOf({}, {});
const MAX_MESSAGE_BYTES = 1024 * 1024;

function records(count: number, keyless: (i: number) => boolean = () => false): RecordToEncode[] {
  return Array.from({ length: count }, (_, i) => ({
    key: keyless(i) ? null : Buffer.from(`key-${i}`),
    value: Buffer.from(`value-${i}-`.repeat(20)),
    headers: [{ key: 'h', value: Buffer.from(String(i)) }],
    timestamp: 1_700_000_000_000 + ((i * 7919) % 1000), // not in order: the maximum is not the last
  }));
}

function withCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START_OFFSET)), CRC_OFFSET);
  return batch;
}

function pass(batch: Buffer, policy: ProducePolicy, maxMessageBytes = MAX_MESSAGE_BYTES) {
  return passRecords(batch, policy, 'topic-0', maxMessageBytes);
}

test('compacted topic: keyed records pass unchanged, the same buffer', () => {
  const batch = encodeRecordBatchSync({ records: records(5) });
  const copy = Buffer.from(batch);
  const result = pass(batch, compacted);
  assert.equal(result.problem, undefined);
  assert.equal(result.batch, batch);
  assert.deepEqual(batch, copy);
});

test('compacted topic: null keys are refused with one record error each, in Kafka words', () => {
  for (const codec of codecs) {
    const batch = encodeRecordBatchSync({ records: records(6, (i) => i === 1 || i === 4), compression: codec });
    const { problem } = pass(batch, compacted);
    assert.ok(problem, `codec ${codec}`);
    assert.equal(problem.errorCode, ErrorCode.INVALID_RECORD);
    const message = 'Compacted topic cannot accept message without key in topic partition topic-0.';
    assert.deepEqual(problem.recordErrors, [
      { batchIndex: 1, batchIndexErrorMessage: message },
      { batchIndex: 4, batchIndexErrorMessage: message },
    ]);
    assert.equal(
      problem.errorMessage,
      'One or more records have been rejected due to 2 record errors in total, and only showing the first three ' +
        `errors at most: [RecordError(batchIndex=1, message='${message}'), ` +
        `RecordError(batchIndex=4, message='${message}')]`,
    );
  }
  // A plain topic takes keyless records.
  assert.equal(pass(encodeRecordBatchSync({ records: records(3, () => true) }), plain).problem, undefined);
});

test('compacted topic: the summary shows three errors, the list stops at RECORD_ERRORS_MAX', () => {
  const count = RECORD_ERRORS_MAX + 5;
  const batch = encodeRecordBatchSync({ records: Array.from({ length: count }, () => ({ value: Buffer.from('v') })) });
  const { problem } = pass(batch, compacted);
  assert.ok(problem);
  assert.equal(problem.recordErrors!.length, RECORD_ERRORS_MAX);
  assert.match(problem.errorMessage, new RegExp(`due to ${count} record errors in total`));
  assert.equal(problem.errorMessage.match(/RecordError\(/g)!.length, 3);
});

test('recompression: every codec to every other; records, producer fields and flags unchanged', () => {
  for (const [fromIndex, from] of codecs.entries()) {
    for (const [toIndex, to] of codecs.entries()) {
      const [fromName, toName] = [codecNames[fromIndex]!, codecNames[toIndex]!];
      const original = encodeRecordBatchSync({
        records: records(20),
        compression: from,
        producerId: 42,
        producerEpoch: 3,
        baseSequence: 17,
        transactional: true,
      });
      const before = decodeRecordBatchSync(Buffer.from(original));
      const result = pass(original, producePolicyOf({ 'compression.type': toName }, {}));
      assert.equal(result.problem, undefined, `${fromName} → ${toName}`);
      const out = result.batch!;
      const header = new RecordBatchHeader(out);
      assert.ok(header.isCrcValid(), `${fromName} → ${toName}: CRC`);
      assert.equal(header.totalBytes, out.length);
      assert.equal(header.compression, to, `${fromName} → ${toName}: codec bits`);
      const after = decodeRecordBatchSync(out);
      for (const field of ['producerId', 'producerEpoch', 'baseSequence', 'isTransactional', 'isControl'] as const)
        assert.equal(after[field], before[field], `${fromName} → ${toName}: ${field}`);
      assert.equal(after.baseTimestamp, before.baseTimestamp);
      assert.equal(after.maxTimestamp, before.maxTimestamp);
      assert.equal(after.recordCount, before.recordCount);
      assert.equal(after.lastOffsetDelta, before.lastOffsetDelta);
      assert.deepEqual(after.records, before.records, `${fromName} → ${toName}: records`);
      if (from === to) assert.equal(out, original, 'same codec: no copy');
    }
  }
});

test('control batches are never recompressed (they never come from a client; the pass leaves them alone)', () => {
  const marker = encodeControlBatch({
    producerId: 7,
    producerEpoch: 1,
    coordinatorEpoch: 0,
    type: ControlRecordType.Commit,
  });
  const copy = Buffer.from(marker);
  const result = pass(marker, producePolicyOf({ 'compression.type': 'zstd', 'cleanup.policy': 'compact' }, {}));
  assert.equal(result.batch, marker);
  assert.deepEqual(marker, copy);
});

test('recompression honours the zstd and gzip levels', () => {
  const data = encodeRecordBatchSync({ records: records(200), compression: Compression.None });
  const sizeAt = (name: string, overrides: Record<string, string>) =>
    pass(Buffer.from(data), producePolicyOf({ 'compression.type': name, ...overrides }, {})).batch!.length;
  assert.ok(sizeAt('zstd', { 'compression.zstd.level': '19' }) <= sizeAt('zstd', { 'compression.zstd.level': '-5' }));
  assert.ok(sizeAt('gzip', { 'compression.gzip.level': '9' }) < sizeAt('gzip', { 'compression.gzip.level': '1' }));
});

test('recompression past max.message.bytes is MESSAGE_TOO_LARGE', () => {
  const batch = encodeRecordBatchSync({
    records: [{ key: Buffer.from('k'), value: Buffer.alloc(50_000, 7) }],
    compression: Compression.Zstd,
  });
  assert.ok(batch.length < 10_000);
  const { problem } = pass(batch, producePolicyOf({ 'compression.type': 'uncompressed' }, {}), 10_000);
  assert.equal(problem?.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
  assert.match(problem!.errorMessage, /zstd to none/);
});

test('maxTimestamp: a wrong header is replaced by the records maximum, CRC recomputed', () => {
  for (const codec of codecs) {
    const batch = encodeRecordBatchSync({ records: records(10), compression: codec });
    const truth = new RecordBatchHeader(batch).maxTimestamp;
    writeInt64FromNumber(batch, -1, MAX_TIMESTAMP_OFFSET);
    withCrc(batch);
    const result = pass(batch, plain);
    assert.equal(result.problem, undefined);
    const header = new RecordBatchHeader(result.batch!);
    assert.equal(header.maxTimestamp, truth, `codec ${codec}`);
    assert.ok(header.isCrcValid());
    assert.equal(result.batch, batch, 'edited in place');
  }
  // LogAppendTime: left for the stamp that follows.
  const batch = withCrc(encodeRecordBatchSync({ records: records(3), maxTimestamp: -1 }));
  assert.equal(
    new RecordBatchHeader(pass(batch, producePolicyOf({ 'message.timestamp.type': 'LogAppendTime' }, {})).batch!)
      .maxTimestamp,
    -1,
  );
});

test('damaged records on a compacted topic: INVALID_RECORD or CORRUPT_MESSAGE, never a throw', () => {
  const cases: Array<[string, () => Buffer, number]> = [
    [
      'recordCount larger than the records',
      () => {
        const b = encodeRecordBatchSync({ records: records(3) });
        b.writeInt32BE(500, RECORDS_OFFSET - 4);
        b.writeInt32BE(499, 23);
        return withCrc(b);
      },
      ErrorCode.INVALID_RECORD,
    ],
    [
      'recordCount smaller than the records (bytes left over)',
      () => {
        const b = encodeRecordBatchSync({ records: records(3) });
        b.writeInt32BE(2, RECORDS_OFFSET - 4);
        b.writeInt32BE(1, 23);
        return withCrc(b);
      },
      ErrorCode.INVALID_RECORD,
    ],
    [
      'a varint that never ends',
      () => {
        const b = encodeRecordBatchSync({ records: records(2) });
        b.fill(0xff, RECORDS_OFFSET, RECORDS_OFFSET + 12);
        return withCrc(b);
      },
      ErrorCode.INVALID_RECORD,
    ],
    [
      'a key length past the record',
      () => {
        const b = encodeRecordBatchSync({ records: [{ key: Buffer.from('k'), value: Buffer.from('v') }] });
        b[RECORDS_OFFSET + 4] = 0x7e; // key length 63
        return withCrc(b);
      },
      ErrorCode.INVALID_RECORD,
    ],
    [
      'gzip bytes that do not inflate',
      () => {
        const b = encodeRecordBatchSync({ records: records(3), compression: Compression.Gzip });
        b.fill(0x55, RECORDS_OFFSET + 10, b.length - 10);
        return withCrc(b);
      },
      ErrorCode.CORRUPT_MESSAGE,
    ],
    [
      'offset deltas that skip',
      () => {
        // Records at offsetDelta 1 and 2 under a header that says 0 … 1.
        const b = encodeRecordBatchSync({ records: records(2).map((r, i) => ({ ...r, offsetDelta: i + 1 })) });
        b.writeInt32BE(1, 23);
        return withCrc(b);
      },
      ErrorCode.INVALID_RECORD,
    ],
  ];
  for (const [name, make, expected] of cases) {
    let batch: Buffer;
    try {
      batch = make();
    } catch (error) {
      assert.fail(`${name}: building the case threw ${String(error)}`);
    }
    const { problem } = pass(batch, compacted);
    assert.equal(problem?.errorCode, expected, name);
    assert.match(problem!.errorMessage, /topic-0/, name);
  }
});

test('hostile header timestamps (far past the safe-integer range) get an answer, not a throw', () => {
  for (const policy of [compacted, plain, producePolicyOf({ 'compression.type': 'gzip' }, {})]) {
    const batch = encodeRecordBatchSync({ records: records(3) });
    batch.writeBigInt64BE(2n ** 62n, 27); // baseTimestamp
    batch.writeBigInt64BE(-1n, MAX_TIMESTAMP_OFFSET);
    withCrc(batch);
    const result = pass(batch, policy);
    assert.equal(result.problem, undefined);
    assert.ok(new RecordBatchHeader(result.batch!).isCrcValid());
  }
});

test('randomly damaged compacted batches (CRC fixed up): an answer every time, never a throw', () => {
  withSeed('record-pass damage', (random) => {
    for (let round = 0; round < 3000; round++) {
      const codec = random.pick(codecs);
      const batch = encodeRecordBatchSync({
        records: records(random.int(1, 8), () => random.chance(0.1)),
        compression: codec,
      });
      const flips = random.int(1, 6);
      for (let f = 0; f < flips; f++) {
        const at = random.int(RECORDS_OFFSET, batch.length - 1);
        batch[at] = random.chance(0.5) ? random.int(0, 255) : batch[at]! ^ (1 << random.int(0, 7));
      }
      withCrc(batch);
      const result = pass(batch, compacted);
      if (result.problem) {
        assert.ok(
          [ErrorCode.INVALID_RECORD, ErrorCode.CORRUPT_MESSAGE].includes(result.problem.errorCode as 2 | 87),
          `round ${round}: ${result.problem.errorCode} ${result.problem.errorMessage}`,
        );
      } else {
        // Accepted: then it must decode, every record has a key, and the header is right.
        const decoded = decodeRecordBatchSync(result.batch);
        assert.ok(
          decoded.records.every((r) => r.key !== null),
          `round ${round}`,
        );
        assert.equal(decoded.maxTimestamp, Math.max(...decoded.records.map((r) => r.timestamp)), `round ${round}`);
      }
    }
  });
});
