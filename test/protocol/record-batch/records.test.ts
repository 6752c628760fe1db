import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeRecordBatch,
  decodeRecordBatches,
  decodeRecordBatchSync,
} from '../../../src/protocol/record-batch/record-decoder.js';
import {
  encodeRecordBatch,
  encodeRecordBatchSync,
  type RecordToEncode,
} from '../../../src/protocol/record-batch/record-encoder.js';
import {
  locatedRecordCount,
  locateRecordBatch,
  RECORD_SLOTS,
  recordHeadersAt,
  recordKeyAt,
  recordValueAt,
  SLOT_OFFSET_DELTA,
  type LocatedRecordBatch,
} from '../../../src/protocol/record-batch/record-locator.js';
import { type RecordHeader } from '../../../src/protocol/record-batch/record-layout.js';
import { Compression, RecordBatchHeader, validateBatch } from '../../../src/protocol/record-batch/header.js';
import { crc32c } from '../../../src/protocol/record-batch/crc32c.js';
import { writeVarint } from '../../../src/protocol/record-batch/varint.js';
import { DecompressionLimitError, RecordDecodeError } from '../../../src/protocol/record-batch/errors.js';
import { kafkajsBatch, kafkajsDecode, randomBytes, testSeed, withSeed } from './helpers.js';

const CODECS = [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd];

function randomRecords(random: () => number, count: number, baseTimestamp: number): RecordToEncode[] {
  const records: RecordToEncode[] = [];
  for (let i = 0; i < count; i++) {
    const headers = [];
    const headerCount = random() < 0.5 ? 0 : (random() * 4) | 0;
    for (let h = 0; h < headerCount; h++) {
      headers.push({
        key: random() < 0.2 ? `ключ-${h}-✓` : `header-${h}`,
        value: random() < 0.2 ? null : randomBytes(random, (random() * 40) | 0),
      });
    }
    records.push({
      key: random() < 0.2 ? null : randomBytes(random, (random() * 30) | 0),
      value: random() < 0.1 ? null : randomBytes(random, random() < 0.1 ? 5000 : (random() * 200) | 0),
      headers,
      timestamp: baseTimestamp + Math.floor((random() - 0.3) * 10_000),
    });
  }
  return records;
}

/** Recomputes the CRC after a test has tampered with the bytes, so the decoder must catch the damage itself. */
function fixCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

test('records: random batches round-trip through every codec, sync and async', async () => {
  await withSeed(testSeed(), async (random) => {
    for (const codec of CODECS) {
      for (const count of [0, 1, 2, 17, 300]) {
        const now = 1_700_000_000_000 + Math.floor(random() * 1e9);
        const records = randomRecords(random, count, now);
        const options = {
          baseOffset: Math.floor(random() * 2 ** 50),
          partitionLeaderEpoch: 3,
          producerId: 7777,
          producerEpoch: 2,
          baseSequence: 100,
          transactional: random() < 0.5,
          compression: codec,
          records,
        };
        const encoded = count % 2 === 0 ? encodeRecordBatchSync(options) : await encodeRecordBatch(options);
        assert.equal(validateBatch(encoded, 0, encoded.length), null);
        const header = new RecordBatchHeader(encoded);
        assert.equal(header.compression, codec);
        assert.equal(header.recordCount, count);
        const decoded = count % 2 === 0 ? await decodeRecordBatch(encoded) : decodeRecordBatchSync(encoded);
        assert.equal(decoded.baseOffset, options.baseOffset);
        assert.equal(decoded.totalBytes, encoded.length);
        assert.equal(decoded.producerId, 7777);
        assert.equal(decoded.producerEpoch, 2);
        assert.equal(decoded.baseSequence, 100);
        assert.equal(decoded.partitionLeaderEpoch, 3);
        assert.equal(decoded.isTransactional, options.transactional);
        assert.equal(decoded.isControl, false);
        assert.equal(decoded.lastOffsetDelta, Math.max(count - 1, 0));
        assert.equal(decoded.records.length, count);
        const timestamps = records.map((record) => record.timestamp!);
        assert.equal(decoded.baseTimestamp, count > 0 ? timestamps[0] : -1);
        assert.equal(decoded.maxTimestamp, count > 0 ? Math.max(...timestamps) : -1);
        decoded.records.forEach((record, i) => {
          const expected = records[i]!;
          assert.equal(record.offsetDelta, i);
          assert.equal(record.offset, options.baseOffset + i);
          assert.equal(record.timestamp, expected.timestamp);
          assert.deepEqual(record.key, expected.key);
          assert.deepEqual(record.value, expected.value);
          assert.deepEqual(record.headers, expected.headers);
        });
      }
    }
  });
});

test('records: an uncompressed batch is byte-for-byte what kafkajs encodes', async () => {
  const baseTimestamp = 1_700_000_000_000;
  const records: Array<{
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, Buffer>;
    timestampDelta: number;
  }> = [
    {
      key: Buffer.from('user-1'),
      value: Buffer.from('{"a":1}'),
      headers: { trace: Buffer.from('abc') },
      timestampDelta: 0,
    },
    { key: null, value: Buffer.from('second'), headers: {}, timestampDelta: 5 },
    { key: Buffer.from('k'), value: null, headers: { a: Buffer.from('1'), b: Buffer.from('') }, timestampDelta: 12 },
  ];
  const theirs = await kafkajsBatch({
    firstOffset: 0,
    firstTimestamp: baseTimestamp,
    maxTimestamp: baseTimestamp + 12,
    partitionLeaderEpoch: 0,
    lastOffsetDelta: 2,
    producerId: 42,
    producerEpoch: 1,
    firstSequence: 9,
    records: records.map((record, offsetDelta) => ({ ...record, offsetDelta })),
  });
  const ours = encodeRecordBatchSync({
    partitionLeaderEpoch: 0,
    producerId: 42,
    producerEpoch: 1,
    baseSequence: 9,
    records: records.map((record) => ({
      key: record.key,
      value: record.value,
      timestamp: baseTimestamp + record.timestampDelta,
      headers: Object.entries(record.headers).map(([key, value]) => ({ key, value })),
    })),
  });
  assert.equal(ours.toString('hex'), theirs.toString('hex'));
});

test('records: we decode kafkajs batches (none and gzip), kafkajs decodes ours', async () => {
  await withSeed(testSeed(), async (random) => {
    for (const compression of [Compression.None, Compression.Gzip]) {
      const values = Array.from({ length: 50 }, (_, i) =>
        Buffer.from(`message ${i} `.repeat(1 + ((random() * 20) | 0))),
      );
      const theirs = await kafkajsBatch({
        compression,
        firstOffset: 1000,
        firstTimestamp: 1_600_000_000_000,
        maxTimestamp: 1_600_000_000_049,
        lastOffsetDelta: 49,
        records: values.map((value, i) => ({
          offsetDelta: i,
          timestampDelta: i,
          key: Buffer.from(`k${i}`),
          value,
          headers: { n: String(i) },
        })),
      });
      const decoded = await decodeRecordBatch(theirs);
      assert.equal(decoded.compression, compression);
      assert.equal(decoded.records.length, 50);
      decoded.records.forEach((record, i) => {
        assert.equal(record.offset, 1000 + i);
        assert.equal(record.timestamp, 1_600_000_000_000 + i);
        assert.deepEqual(record.value, values[i]);
        assert.deepEqual(record.headers, [{ key: 'n', value: Buffer.from(String(i)) }]);
      });

      const ours = await encodeRecordBatch({
        compression,
        baseOffset: 500,
        producerId: 3,
        producerEpoch: 4,
        baseSequence: 5,
        transactional: true,
        timestamp: 1_650_000_000_000,
        records: values.map((value, i) => ({
          key: i % 3 === 0 ? null : Buffer.from(`k${i}`),
          value,
          headers: [{ key: 'h', value: Buffer.from('v') }],
        })),
      });
      const back = await kafkajsDecode(ours);
      assert.equal(back.firstOffset, '500');
      assert.equal(back.producerId, '3');
      assert.equal(back.producerEpoch, 4);
      assert.equal(back.firstSequence, 5);
      assert.equal(back.inTransaction, true);
      assert.equal(back.lastOffsetDelta, 49);
      assert.equal(back.records.length, 50);
      back.records.forEach((record, i) => {
        assert.equal(record.offset, String(500 + i));
        assert.equal(record.timestamp, '1650000000000');
        assert.deepEqual(record.key, i % 3 === 0 ? null : Buffer.from(`k${i}`));
        assert.deepEqual(record.value, values[i]);
        assert.deepEqual(record.headers, { h: Buffer.from('v') });
      });
    }
  });
});

test('records: LogAppendTime records report the batch maxTimestamp', () => {
  const batch = encodeRecordBatchSync({
    timestampType: 1,
    maxTimestamp: 1_999_999_999_999,
    records: [
      { value: Buffer.from('a'), timestamp: 1 },
      { value: Buffer.from('b'), timestamp: 2 },
    ],
  });
  const header = new RecordBatchHeader(batch);
  assert.equal(header.timestampType, 1);
  const decoded = decodeRecordBatchSync(batch);
  assert.deepEqual(
    decoded.records.map((record) => record.timestamp),
    [1_999_999_999_999, 1_999_999_999_999],
  );
  assert.deepEqual(
    decoded.records.map((record) => record.timestampDelta),
    [0, 1],
  );
});

test('records: explicit offset deltas with gaps (a compacted batch) keep lastOffsetDelta', () => {
  const batch = encodeRecordBatchSync({
    baseOffset: 10,
    lastOffsetDelta: 9,
    records: [
      { value: Buffer.from('x'), offsetDelta: 2 },
      { value: Buffer.from('y'), offsetDelta: 7 },
    ],
  });
  const decoded = decodeRecordBatchSync(batch);
  assert.equal(decoded.lastOffsetDelta, 9);
  assert.deepEqual(
    decoded.records.map((record) => record.offset),
    [12, 17],
  );
  // validateBatch's count check applies to producer batches (deltas 0..n-1), and says so.
  assert.equal(validateBatch(batch, 0, batch.length)?.kind, 'bad-count');
  assert.throws(() => encodeRecordBatchSync({ records: [{ offsetDelta: 3 }, { offsetDelta: 3 }] }), RangeError);
  assert.throws(() => encodeRecordBatchSync({ records: [{ offsetDelta: -1 }] }), RangeError);
});

test('records: an empty compressed batch decodes without inflating its records region', () => {
  for (const codec of [Compression.Gzip, Compression.Lz4]) {
    const empty = encodeRecordBatchSync({ compression: codec, records: [], lastOffsetDelta: 0 });
    assert.deepEqual(decodeRecordBatchSync(empty).records, []);
    // Even an empty region (which no codec would decode) is fine when there are no records.
    const bare = Buffer.from(empty.subarray(0, 61));
    bare.writeInt32BE(61 - 12, 8);
    assert.deepEqual(decodeRecordBatchSync(fixCrc(bare)).records, []);
  }
});

test('records: encoder option checks', () => {
  assert.throws(() => encodeRecordBatchSync({ records: [], compression: 6 as Compression }), RangeError);
  assert.throws(() => encodeRecordBatchSync({ records: [], producerEpoch: 40000 }), RangeError);
  assert.throws(() => encodeRecordBatchSync({ records: [], baseOffset: -5 }), RangeError);
  assert.throws(() => encodeRecordBatchSync({ records: [{ timestamp: 1.5 }] }), RangeError);
});

test('records: decodeRecordBatches reads whole batches and ignores a partial tail', async () => {
  const first = encodeRecordBatchSync({ baseOffset: 0, records: [{ value: Buffer.from('a') }] });
  const second = encodeRecordBatchSync({
    baseOffset: 1,
    compression: Compression.Lz4,
    records: [{ value: Buffer.from('b') }, { value: Buffer.from('c') }],
  });
  const third = encodeRecordBatchSync({ baseOffset: 3, records: [{ value: Buffer.from('d') }] });
  const fetched = Buffer.concat([first, second, third.subarray(0, third.length - 3)]);
  const batches = await decodeRecordBatches(fetched);
  assert.deepEqual(
    batches.map((batch) => batch.baseOffset),
    [0, 1],
  );
  assert.deepEqual(
    batches.flatMap((batch) => batch.records.map((record) => record.value?.toString())),
    ['a', 'b', 'c'],
  );
  assert.deepEqual(await decodeRecordBatches(Buffer.alloc(0)), []);
});

/** A one-record batch whose records region is replaced by `body` (CRC recomputed). */
function batchWithBody(body: Buffer, recordCount = 1): Buffer {
  const batch = Buffer.concat([encodeRecordBatchSync({ records: [] }).subarray(0, 61), body]);
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeInt32BE(recordCount, 57);
  batch.writeInt32BE(Math.max(recordCount - 1, 0), 23);
  return fixCrc(batch);
}

function record(fields: number[]): Buffer {
  const body = Buffer.from(fields);
  const prefix = Buffer.alloc(5);
  return Buffer.concat([prefix.subarray(0, writeVarint(prefix, body.length, 0)), body]);
}

test('records: hostile record bytes give RecordDecodeError before any big allocation', () => {
  const expectDecodeError = (batch: Buffer, pattern: RegExp): void => {
    assert.throws(
      () => decodeRecordBatchSync(batch),
      (error: unknown) => {
        assert.ok(error instanceof RecordDecodeError, String(error));
        assert.match(error.message, pattern);
        return true;
      },
    );
  };
  // attributes 0, tsDelta 0, offsetDelta 0, key null (01), value null (01), 0 headers.
  const good = record([0, 0, 0, 1, 1, 0]);
  assert.equal(decodeRecordBatchSync(batchWithBody(good)).records[0]!.value, null);

  expectDecodeError(batchWithBody(good, 2_000_000_000), /cannot fit/);
  expectDecodeError(batchWithBody(Buffer.concat([good, Buffer.from([9, 9])])), /bytes left/);
  expectDecodeError(batchWithBody(record([0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x07, 1, 0])), /key length/);
  expectDecodeError(batchWithBody(record([0, 0, 0, 1, 1, 0xfe, 0xff, 0xff, 0xff, 0x07])), /header count/);
  expectDecodeError(batchWithBody(record([0, 0, 0, 1, 1, 2, 0x03, 1, 0, 1])), /header key length -2/);
  expectDecodeError(batchWithBody(record([0, 0, 0, 1, 1, 0, 0, 0])), /record declares/);
  expectDecodeError(batchWithBody(record([0, 0, 0x02, 1, 1, 0])), /offsetDelta 1/);
  expectDecodeError(batchWithBody(Buffer.from([0x7e, 0, 0, 0, 1, 1, 0])), /record length 63/);
  expectDecodeError(batchWithBody(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0, 0])), /varint/);
  expectDecodeError(
    batchWithBody(record([0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 1, 1, 0])),
    /varlong/,
  );

  // Header-level problems surface as RecordDecodeError too.
  const valid = encodeRecordBatchSync({ records: [{ value: Buffer.from('v') }] });
  const badCrc = Buffer.from(valid);
  badCrc[valid.length - 1]! ^= 1;
  expectDecodeError(badCrc, /bad-crc/);
  expectDecodeError(valid.subarray(0, valid.length - 1), /truncated/);
  const badCodec = Buffer.from(valid);
  badCodec.writeUInt16BE(7, 21);
  expectDecodeError(fixCrc(badCodec), /unknown compression codec 7/);
});

test('records: error positions point into the batch', () => {
  const batch = batchWithBody(record([0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x07, 1, 0]));
  try {
    decodeRecordBatchSync(batch);
    assert.fail('expected a throw');
  } catch (error) {
    assert.ok(error instanceof RecordDecodeError);
    assert.equal(error.position, 61 + 1 + 3);
  }
});

test('records: random corruption (CRC fixed up) never escapes as anything but a typed error', async () => {
  await withSeed(testSeed(), async (random) => {
    for (let round = 0; round < 400; round++) {
      const codec = CODECS[(random() * CODECS.length) | 0]!;
      const batch = encodeRecordBatchSync({
        compression: codec,
        records: randomRecords(random, 1 + ((random() * 10) | 0), 1e12),
      });
      const flips = 1 + ((random() * 4) | 0);
      for (let f = 0; f < flips; f++) {
        const at = 57 + ((random() * (batch.length - 57)) | 0);
        batch[at] = (random() * 256) | 0;
      }
      fixCrc(batch);
      try {
        const decoded = await decodeRecordBatch(batch, { maxDecompressedBytes: 1 << 20 });
        assert.ok(decoded.records.length === decoded.recordCount);
      } catch (error) {
        assert.ok(
          error instanceof RecordDecodeError || (error as Error).name.startsWith('Decompression'),
          `round ${round} codec ${codec}: ${String(error)}`,
        );
      }
    }
  });
});

test('records: a compressed bomb inside a batch stops at the decode limit', async () => {
  const records = Array.from({ length: 100 }, () => ({ value: Buffer.alloc(1024 * 1024) }));
  for (const codec of [Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd]) {
    const batch = encodeRecordBatchSync({ compression: codec, records });
    assert.ok(batch.length < 6 * 1024 * 1024, `codec ${codec}: ${batch.length} bytes`);
    await assert.rejects(decodeRecordBatch(batch, { maxDecompressedBytes: 1024 * 1024 }), DecompressionLimitError);
    assert.throws(() => decodeRecordBatchSync(batch, { maxDecompressedBytes: 1024 * 1024 }), DecompressionLimitError);
  }
});

/** A located batch's records, built from its table the way the consumer builds them. */
function recordsOfLocated(batch: LocatedRecordBatch): Array<{
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}> {
  return Array.from({ length: locatedRecordCount(batch) }, (_, index) => ({
    offsetDelta: batch.recordTable[index * RECORD_SLOTS + SLOT_OFFSET_DELTA]!,
    timestampDelta: batch.timestampDeltas[index]!,
    key: recordKeyAt(batch, index),
    value: recordValueAt(batch, index),
    headers: recordHeadersAt(batch, index),
  }));
}

async function outcome<T>(run: () => Promise<T>): Promise<{ value?: T; error?: string }> {
  try {
    return { value: await run() };
  } catch (error) {
    return {
      error: `${(error as Error).name}: ${(error as Error).message} @${(error as RecordDecodeError).position ?? ''}`,
    };
  }
}

test('records: locating agrees with decoding — same records from the table, same error for damaged bytes', async () => {
  await withSeed(testSeed(), async (random) => {
    for (let round = 0; round < 3000; round++) {
      const codec = random() < 0.7 ? Compression.None : CODECS[(random() * CODECS.length) | 0]!;
      // Now and then a timestamp spread past 2^27 ms (a varlong of five bytes or more), or gaps in the offsets.
      const spread = random() < 0.2 ? 10 ** 10 : 10_000;
      // Mostly few, short records, so a damaged byte often lands in a length or a count.
      const records = randomRecords(random, random() < 0.8 ? (random() * 4) | 0 : (random() * 40) | 0, 1e12).map(
        (r, i) => ({
          ...r,
          timestamp: 1e12 + Math.floor(random() * spread),
          offsetDelta: i * (random() < 0.2 ? 3 : 1),
        }),
      );
      for (let i = 1; i < records.length; i++)
        records[i]!.offsetDelta = Math.max(records[i]!.offsetDelta!, records[i - 1]!.offsetDelta! + 1);
      const batch = encodeRecordBatchSync({
        compression: codec,
        records,
        lastOffsetDelta: records.length > 0 ? records[records.length - 1]!.offsetDelta! + ((random() * 3) | 0) : 0,
      });
      if (round % 2 === 1) {
        const flips = 1 + ((random() * 3) | 0);
        for (let f = 0; f < flips; f++) batch[61 + ((random() * (batch.length - 61)) | 0)] = (random() * 256) | 0;
        fixCrc(batch);
      }
      const decoded = await outcome(() => decodeRecordBatch(batch, { maxDecompressedBytes: 1 << 20 }));
      const located = await outcome(() => locateRecordBatch(batch, { maxDecompressedBytes: 1 << 20 }));
      assert.equal(located.error, decoded.error, `round ${round}`);
      if (decoded.value === undefined) continue;
      const expected = decoded.value.records.map((r) => ({
        offsetDelta: r.offsetDelta,
        timestampDelta: r.timestampDelta,
        key: r.key,
        value: r.value,
        headers: r.headers,
      }));
      assert.deepEqual(recordsOfLocated(located.value!), expected, `round ${round}`);
    }
    // The record count's low byte and every early byte of the records region (lengths, counts,
    // deltas of the first records) set to values around it: shorter, longer, continued, negative.
    for (let round = 0; round < 20; round++) {
      const pristine = encodeRecordBatchSync({ records: randomRecords(random, 1 + ((random() * 3) | 0), 1e12) });
      for (let at = 60; at < Math.min(pristine.length, 61 + 40); at++) {
        for (const value of [
          pristine[at]! - 1,
          pristine[at]! + 1,
          pristine[at]! - 2,
          pristine[at]! + 2,
          pristine[at]! | 0x80,
          0x01,
          0x00,
          0x7f,
          0xff,
        ]) {
          const batch = Buffer.from(pristine);
          batch[at] = value & 0xff;
          fixCrc(batch);
          const decoded = await outcome(() => decodeRecordBatch(batch));
          const located = await outcome(() => locateRecordBatch(batch));
          assert.equal(located.error, decoded.error, `byte ${at} set to ${value & 0xff}`);
        }
      }
    }
  });
});
