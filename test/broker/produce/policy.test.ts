// The rows of the table in src/broker/produce/policy.ts: which batches leave the header-only path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  maxTimestampCannotBeRight,
  needsRecordPass,
  producePolicyOf,
  topicCompressionCodecs,
} from '../../../src/broker/produce/policy.js';
import { Compression, MAX_TIMESTAMP_OFFSET, writeInt64FromNumber } from '../../../src/protocol/record-batch/header.js';
import { encodeRecordBatchSync } from '../../../src/protocol/record-batch/record-encoder.js';

function batch(options: { compression?: Compression; maxTimestamp?: number; timestamps?: number[] } = {}): Buffer {
  const timestamps = options.timestamps ?? [1_000, 2_000];
  const encoded = encodeRecordBatchSync({
    records: timestamps.map((timestamp, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from('v'), timestamp })),
    compression: options.compression ?? Compression.None,
  });
  if (options.maxTimestamp !== undefined) writeInt64FromNumber(encoded, options.maxTimestamp, MAX_TIMESTAMP_OFFSET);
  return encoded;
}

test('a plain topic with a right header stays header-only', () => {
  const policy = producePolicyOf({}, {});
  assert.deepEqual(policy, { compacted: false, compression: null, compressionLevel: null, logAppendTime: false });
  assert.equal(needsRecordPass(policy, batch()), false);
  assert.equal(needsRecordPass(policy, batch({ compression: Compression.Lz4 })), false);
  // compression.type=producer and delete-only cleanup are the plain case too.
  assert.equal(needsRecordPass(producePolicyOf({ 'compression.type': 'producer' }, {}), batch()), false);
  assert.equal(needsRecordPass(producePolicyOf({ 'cleanup.policy': 'delete' }, {}), batch()), false);
});

test('row: cleanup.policy with compact (topic or broker setting) always takes the record pass', () => {
  for (const [overrides, broker] of [
    [{ 'cleanup.policy': 'compact' }, {}],
    [{ 'cleanup.policy': 'compact,delete' }, {}],
    [{ 'cleanup.policy': 'delete, compact' }, {}],
    [{}, { 'log.cleanup.policy': 'compact' }],
  ] as Array<[Record<string, string>, Record<string, string>]>) {
    const policy = producePolicyOf(overrides, broker);
    assert.equal(policy.compacted, true, JSON.stringify([overrides, broker]));
    assert.equal(needsRecordPass(policy, batch()), true);
  }
  // The topic's own setting wins over the broker's.
  assert.equal(producePolicyOf({ 'cleanup.policy': 'delete' }, { 'log.cleanup.policy': 'compact' }).compacted, false);
});

test('row: compression.type differing from the batch codec takes the record pass; the same codec does not', () => {
  for (const [name, codec] of topicCompressionCodecs) {
    const policy = producePolicyOf({ 'compression.type': name }, {});
    assert.equal(policy.compression, codec, name);
    for (const batchCodec of [
      Compression.None,
      Compression.Gzip,
      Compression.Snappy,
      Compression.Lz4,
      Compression.Zstd,
    ]) {
      const expected = codec !== null && codec !== batchCodec;
      assert.equal(needsRecordPass(policy, batch({ compression: batchCodec })), expected, `${name} ← ${batchCodec}`);
    }
  }
  assert.equal(producePolicyOf({}, { 'compression.type': 'zstd' }).compression, Compression.Zstd, 'broker default');
});

test('compression levels are read for the topic codec, in range only', () => {
  assert.equal(producePolicyOf({ 'compression.type': 'gzip', 'compression.gzip.level': '9' }, {}).compressionLevel, 9);
  assert.equal(
    producePolicyOf({ 'compression.type': 'zstd' }, { 'compression.zstd.level': '-5' }).compressionLevel,
    -5,
  );
  assert.equal(
    producePolicyOf({ 'compression.type': 'gzip', 'compression.gzip.level': '42' }, {}).compressionLevel,
    null,
  );
  assert.equal(producePolicyOf({ 'compression.type': 'lz4', 'compression.lz4.level': '9' }, {}).compressionLevel, null);
  assert.equal(producePolicyOf({ 'compression.gzip.level': '9' }, {}).compressionLevel, null, 'no codec, no level');
});

test('row: a CreateTime header whose maxTimestamp cannot be right takes the record pass', () => {
  const plain = producePolicyOf({}, {});
  const cases: Array<[string, Buffer, boolean]> = [
    ['right header', batch(), false],
    ['maxTimestamp -1 (sarama 1.22)', batch({ maxTimestamp: -1 }), true],
    ['maxTimestamp below baseTimestamp', batch({ maxTimestamp: 999 }), true],
    ['negative maxTimestamp', batch({ maxTimestamp: -7 }), true],
    ['maxTimestamp = baseTimestamp (a lie it cannot see: documented)', batch({ maxTimestamp: 1_000 }), false],
    ['records without timestamps (-1) and a -1 header', batch({ timestamps: [-1] }), true],
  ];
  for (const [name, bytes, expected] of cases) {
    assert.equal(maxTimestampCannotBeRight(bytes), expected, name);
    assert.equal(needsRecordPass(plain, bytes), expected, name);
  }
  // LogAppendTime overwrites maxTimestamp: no record pass for it.
  const stamped = producePolicyOf({ 'message.timestamp.type': 'LogAppendTime' }, {});
  assert.equal(stamped.logAppendTime, true);
  assert.equal(needsRecordPass(stamped, batch({ maxTimestamp: -1 })), false);
  const brokerStamped = producePolicyOf({}, { 'log.message.timestamp.type': 'LogAppendTime' });
  assert.equal(needsRecordPass(brokerStamped, batch({ maxTimestamp: -1 })), false);
});
