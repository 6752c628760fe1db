import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_PREFIX_BYTES,
  Compression,
  CRC_OFFSET,
  RecordBatchHeader,
  validateBatch,
} from '../../../src/protocol/record-batch/header.js';
import { crc32c } from '../../../src/protocol/record-batch/crc32c.js';
import { encodeRecordBatchSync } from '../../../src/protocol/record-batch/record-encoder.js';
import { kafkajsBatch, randomBytes, testSeed, withSeed } from './helpers.js';

/** Builds a batch header plus `body` by hand from the layout in docs/record-batch.md. */
function handBatch(fields: {
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
  magic?: number;
  attributes?: number;
  lastOffsetDelta?: number;
  baseTimestamp?: bigint;
  maxTimestamp?: bigint;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  recordCount?: number;
  body?: Buffer;
}): Buffer {
  const body = fields.body ?? Buffer.alloc(0);
  const batch = Buffer.alloc(61 + body.length);
  batch.writeBigInt64BE(fields.baseOffset ?? 0n, 0);
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeInt32BE(fields.partitionLeaderEpoch ?? -1, 12);
  batch.writeInt8(fields.magic ?? 2, 16);
  batch.writeInt16BE(fields.attributes ?? 0, 21);
  batch.writeInt32BE(fields.lastOffsetDelta ?? 0, 23);
  batch.writeBigInt64BE(fields.baseTimestamp ?? 0n, 27);
  batch.writeBigInt64BE(fields.maxTimestamp ?? 0n, 35);
  batch.writeBigInt64BE(fields.producerId ?? -1n, 43);
  batch.writeInt16BE(fields.producerEpoch ?? -1, 51);
  batch.writeInt32BE(fields.baseSequence ?? -1, 53);
  batch.writeInt32BE(fields.recordCount ?? 1, 57);
  body.copy(batch, 61);
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

test('header: constants', () => {
  assert.equal(BATCH_HEADER_BYTES, 61);
  assert.equal(BATCH_LENGTH_PREFIX_BYTES, 12);
});

test('header: every getter on a batch encoded by kafkajs', async () => {
  const now = 1_700_000_000_123;
  const bytes = await kafkajsBatch({
    firstOffset: 123_456_789_012,
    firstTimestamp: now,
    maxTimestamp: now + 7,
    partitionLeaderEpoch: 9,
    lastOffsetDelta: 2,
    transactional: true,
    producerId: 4_000_000_000_123,
    producerEpoch: 3,
    firstSequence: 77,
    records: [
      { offsetDelta: 0, key: Buffer.from('a'), value: Buffer.from('1') },
      { offsetDelta: 1, timestampDelta: 3, key: null, value: Buffer.from('2') },
      { offsetDelta: 2, timestampDelta: 7, key: Buffer.from('c'), value: null },
    ],
  });
  const header = new RecordBatchHeader(bytes);
  assert.equal(header.baseOffset, 123_456_789_012);
  assert.equal(header.batchLength, bytes.length - 12);
  assert.equal(header.totalBytes, bytes.length);
  assert.equal(header.partitionLeaderEpoch, 9);
  assert.equal(header.magic, 2);
  assert.equal(header.crc, bytes.readUInt32BE(CRC_OFFSET));
  assert.equal(header.attributes, 0x10);
  assert.equal(header.compression, Compression.None);
  assert.equal(header.timestampType, 0);
  assert.equal(header.isTransactional, true);
  assert.equal(header.isControl, false);
  assert.equal(header.lastOffsetDelta, 2);
  assert.equal(header.lastOffset, 123_456_789_014);
  assert.equal(header.baseTimestamp, now);
  assert.equal(header.maxTimestamp, now + 7);
  assert.equal(header.producerId, 4_000_000_000_123);
  assert.equal(header.producerEpoch, 3);
  assert.equal(header.baseSequence, 77);
  assert.equal(header.recordCount, 3);
  assert.equal(header.isCrcValid(), true);
  assert.equal(validateBatch(bytes, 0, bytes.length), null);
});

test('header: every getter on a batch from our encoder, for every codec', () => {
  for (const codec of [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd]) {
    const bytes = encodeRecordBatchSync({
      baseOffset: 2 ** 40 + 3,
      partitionLeaderEpoch: 5,
      producerId: 2 ** 45,
      producerEpoch: 32767,
      baseSequence: 2 ** 31 - 2,
      transactional: true,
      timestampType: 1,
      compression: codec,
      maxTimestamp: 1_800_000_000_000,
      records: [
        { value: Buffer.from('a'), timestamp: 1_700_000_000_000 },
        { value: Buffer.from('b'), timestamp: 1_600_000_000_000 },
      ],
    });
    const header = new RecordBatchHeader(bytes);
    assert.equal(header.baseOffset, 2 ** 40 + 3);
    assert.equal(header.totalBytes, bytes.length);
    assert.equal(header.batchLength, bytes.length - 12);
    assert.equal(header.partitionLeaderEpoch, 5);
    assert.equal(header.magic, 2);
    assert.equal(header.compression, codec);
    assert.equal(header.attributes, codec | 0x08 | 0x10);
    assert.equal(header.timestampType, 1);
    assert.equal(header.isTransactional, true);
    assert.equal(header.isControl, false);
    assert.equal(header.hasDeleteHorizon, false);
    assert.equal(header.lastOffsetDelta, 1);
    assert.equal(header.lastOffset, 2 ** 40 + 4);
    assert.equal(header.baseTimestamp, 1_700_000_000_000);
    assert.equal(header.maxTimestamp, 1_800_000_000_000);
    assert.equal(header.producerId, 2 ** 45);
    assert.equal(header.producerEpoch, 32767);
    assert.equal(header.baseSequence, 2 ** 31 - 2);
    assert.equal(header.recordCount, 2);
    assert.equal(header.crc, header.computeCrc());
    assert.equal(validateBatch(bytes, 0, bytes.length), null);
    header.setBaseOffset(17);
    header.setPartitionLeaderEpoch(0);
    assert.equal(header.isCrcValid(), true);
  }
});

test('header: gzip attribute on a kafkajs gzip batch', async () => {
  const bytes = await kafkajsBatch({
    compression: Compression.Gzip,
    records: [{ key: null, value: Buffer.from('hello') }],
  });
  const header = new RecordBatchHeader(bytes);
  assert.equal(header.compression, Compression.Gzip);
  assert.equal(header.isCrcValid(), true);
});

test('header: negative and edge int64 values read exactly without bigint', () => {
  const bytes = handBatch({
    baseOffset: 2n ** 53n - 1n,
    baseTimestamp: -1n,
    maxTimestamp: -(2n ** 40n) - 5n,
    producerId: -1n,
    producerEpoch: -1,
    baseSequence: -1,
    attributes: 0x08 | 0x20 | 0x04,
  });
  const header = new RecordBatchHeader(bytes);
  assert.equal(header.baseOffset, Number.MAX_SAFE_INTEGER);
  assert.equal(header.baseTimestamp, -1);
  assert.equal(header.maxTimestamp, -(2 ** 40) - 5);
  assert.equal(header.producerId, -1);
  assert.equal(header.producerEpoch, -1);
  assert.equal(header.baseSequence, -1);
  assert.equal(header.compression, Compression.Zstd);
  assert.equal(header.timestampType, 1);
  assert.equal(header.isControl, true);
  assert.equal(header.isTransactional, false);
});

test('header: baseOffset outside the safe-integer range throws a clear error', () => {
  const header = new RecordBatchHeader(handBatch({ baseOffset: 2n ** 53n + 2n }));
  assert.throws(() => header.baseOffset, /9007199254740994.*safe-integer/);
});

test('header: a view at a non-zero offset reads its own batch', async () => {
  const first = handBatch({ baseOffset: 10n, recordCount: 1 });
  const second = await kafkajsBatch({ firstOffset: 42, records: [{ key: null, value: Buffer.from('x') }] });
  const both = Buffer.concat([first, second]);
  const header = new RecordBatchHeader(both, first.length);
  assert.equal(header.offset, first.length);
  assert.equal(header.buffer, both);
  assert.equal(header.baseOffset, 42);
  assert.equal(header.isCrcValid(), true);
  assert.equal(validateBatch(both, 0, both.length), null);
  assert.equal(validateBatch(both, first.length, second.length), null);
});

test('header: setBaseOffset and setPartitionLeaderEpoch write in place and keep the CRC valid', async () => {
  const bytes = await kafkajsBatch({ records: [{ key: null, value: Buffer.from('x') }] });
  const crcBefore = bytes.readUInt32BE(CRC_OFFSET);
  const header = new RecordBatchHeader(bytes);
  for (const offset of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 987_654_321_012_345, Number.MAX_SAFE_INTEGER]) {
    header.setBaseOffset(offset);
    assert.equal(header.baseOffset, offset);
    assert.equal(bytes.readBigInt64BE(0), BigInt(offset));
  }
  header.setPartitionLeaderEpoch(17);
  assert.equal(header.partitionLeaderEpoch, 17);
  assert.equal(bytes.readInt32BE(12), 17);
  assert.equal(header.crc, crcBefore);
  assert.equal(header.isCrcValid(), true);
  assert.throws(() => header.setBaseOffset(-1), RangeError);
  assert.throws(() => header.setBaseOffset(2 ** 53), RangeError);
  assert.throws(() => header.setBaseOffset(1.5), RangeError);
  assert.throws(() => header.setPartitionLeaderEpoch(2 ** 31), RangeError);
});

test('header: the constructor refuses a view shorter than a header', () => {
  assert.throws(() => new RecordBatchHeader(Buffer.alloc(60)), RangeError);
  assert.throws(() => new RecordBatchHeader(Buffer.alloc(100), 40), RangeError);
  assert.doesNotThrow(() => new RecordBatchHeader(Buffer.alloc(100), 39));
});

test('validateBatch: each problem kind, in the documented order', () => {
  const good = handBatch({ recordCount: 3, lastOffsetDelta: 2, body: Buffer.from('not really records') });
  assert.equal(validateBatch(good, 0, good.length), null);

  assert.equal(validateBatch(good, 0, 60)?.kind, 'truncated');
  assert.equal(validateBatch(good.subarray(0, 40), 0, 61)?.kind, 'truncated');
  assert.equal(validateBatch(good, 0, good.length - 1)?.kind, 'truncated');

  const shortLength = Buffer.from(good);
  shortLength.writeInt32BE(48, 8);
  assert.equal(validateBatch(shortLength, 0, shortLength.length)?.kind, 'bad-length');
  const negativeLength = Buffer.from(good);
  negativeLength.writeInt32BE(-5, 8);
  assert.equal(validateBatch(negativeLength, 0, negativeLength.length)?.kind, 'bad-length');

  const badMagic = handBatch({ magic: 1, recordCount: 3, lastOffsetDelta: 2 });
  assert.equal(validateBatch(badMagic, 0, badMagic.length)?.kind, 'bad-magic');

  for (const position of [21, 30, 60, good.length - 1]) {
    const flipped = Buffer.from(good);
    flipped[position]! ^= 0x01;
    const problem = validateBatch(flipped, 0, flipped.length);
    assert.equal(problem?.kind, 'bad-crc', `bit flip at ${position}`);
    assert.match(problem.detail, /0x[0-9a-f]{8}/);
  }
  // Flips outside the CRC range (offset, epoch) are not CRC problems.
  const epochFlip = Buffer.from(good);
  epochFlip[13]! ^= 0x01;
  assert.equal(validateBatch(epochFlip, 0, epochFlip.length), null);

  const negativeCount = handBatch({ recordCount: -1 });
  assert.equal(validateBatch(negativeCount, 0, negativeCount.length)?.kind, 'bad-count');
  const mismatch = handBatch({ recordCount: 3, lastOffsetDelta: 1 });
  assert.equal(validateBatch(mismatch, 0, mismatch.length)?.kind, 'bad-count');
  // An empty batch (left by compaction) keeps its lastOffsetDelta and is valid.
  const empty = handBatch({ recordCount: 0, lastOffsetDelta: 4 });
  assert.equal(validateBatch(empty, 0, empty.length), null);
});

test('validateBatch: a bad magic is reported before a bad CRC', () => {
  const batch = handBatch({ magic: 0 });
  batch[40]! ^= 0xff;
  assert.equal(validateBatch(batch, 0, batch.length)?.kind, 'bad-magic');
});

test('validateBatch: every prefix of a valid batch is truncated, random bytes never throw', async () => {
  const batch = encodeRecordBatchSync({
    records: [{ value: Buffer.from('hello') }, { key: Buffer.from('k'), value: null }],
  });
  for (let length = 0; length < batch.length; length++) {
    assert.equal(validateBatch(batch.subarray(0, length), 0, length)?.kind, 'truncated', `prefix ${length}`);
    assert.equal(validateBatch(batch, 0, length)?.kind, 'truncated', `available ${length}`);
  }
  await withSeed(testSeed(), (random) => {
    for (let round = 0; round < 2000; round++) {
      const bytes = randomBytes(random, (random() * 200) | 0);
      if (bytes.length > 16 && random() < 0.5) bytes[16] = 2;
      if (bytes.length > 12 && random() < 0.5) bytes.writeInt32BE(bytes.length - 12 - ((random() * 3) | 0), 8);
      const offset = (random() * 5) | 0;
      const problem = validateBatch(bytes, offset, bytes.length - offset + ((random() * 3) | 0) - 1);
      if (problem !== null)
        assert.ok(['truncated', 'bad-length', 'bad-magic', 'bad-crc', 'bad-count'].includes(problem.kind));
    }
  });
});
