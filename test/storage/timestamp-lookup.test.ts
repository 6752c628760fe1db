// The lookups by time of storage/timestamp-lookup.ts, case by case: record-exact answers inside
// multi-record batches of every codec, LogAppendTime, the log start inside a batch, headers that lie,
// a damaged batch at the candidate position, a batch too large to look into, and the largest timestamp
// shared by batches on both sides of a reopened segment's tail.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { Compression, CRC_OFFSET, RecordBatchHeader } from '../../src/protocol/record-batch/header.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import type { StorageError } from '../../src/storage/errors.js';
import { PartitionLog, type PartitionLogOptions } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import { makeBatch, partitionDirectories } from './helpers.js';

const tempDir = partitionDirectories('times-0');

async function open(directory: string, options: Partial<PartitionLogOptions> = {}) {
  const logger = new MemoryLogger();
  const log = await PartitionLog.open({ directory, topic: 'times', partition: 0, logger, ...options });
  return { log, logger };
}

/** A batch of records with exactly these timestamps (the encoder computes the header's maxTimestamp). */
function timed(timestamps: readonly number[], compression = Compression.None): Promise<Buffer> {
  return encodeRecordBatch({
    compression,
    records: timestamps.map((timestamp, index) => ({ value: Buffer.from(`v${index}`), timestamp })),
  });
}

const at = (offset: number, timestamp: number) => ({ offset, timestamp, leaderEpoch: 0 });

test('two records in one batch, 1234 and 999999999999: each time answers its own record (issue 13)', async () => {
  const { log } = await open(tempDir());
  await log.append(await timed([1234, 999_999_999_999]));
  assert.deepEqual(await log.offsetForTimestamp(999_999_999_999), at(1, 999_999_999_999));
  assert.deepEqual(await log.offsetForTimestamp(1235), at(1, 999_999_999_999));
  assert.deepEqual(await log.offsetForTimestamp(1234), at(0, 1234));
  assert.deepEqual(await log.offsetForTimestamp(0), at(0, 1234));
  assert.equal(await log.offsetForTimestamp(1_000_000_000_000), null);
  assert.deepEqual(await log.offsetOfMaxTimestamp(), at(1, 999_999_999_999));
  await log.close();
});

for (const compression of [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd]) {
  test(`record-exact in ${Compression[compression]} batches of unsorted timestamps, several segments`, async () => {
    const directory = tempDir();
    const options = { config: { segmentBytes: 100, indexIntervalBytes: 0 } };
    let { log } = await open(directory, options);
    await log.append(await timed([5000, 1000, 3000], compression)); // offsets 0-2
    await log.append(await timed([2000, 2500], compression)); // 3-4
    await log.append(await timed([7000, 7000, 6000, 9000], compression)); // 5-8
    await log.append(await timed([8000, 9000], compression)); // 9-10
    assert.ok(log.segmentCount >= 3, `${log.segmentCount} segments`);
    for (let round = 0; round < 2; round += 1) {
      assert.deepEqual(await log.offsetForTimestamp(900), at(0, 5000));
      assert.deepEqual(await log.offsetForTimestamp(5000), at(0, 5000));
      assert.deepEqual(await log.offsetForTimestamp(5001), at(5, 7000), 'not the batch of 2000s after it');
      assert.deepEqual(await log.offsetForTimestamp(7500), at(8, 9000), 'the last record of a batch');
      assert.deepEqual(await log.offsetForTimestamp(9000), at(8, 9000));
      assert.equal(await log.offsetForTimestamp(9001), null);
      assert.deepEqual(await log.offsetOfMaxTimestamp(), at(8, 9000), 'the first of the two 9000s');
      await log.close();
      ({ log } = await open(directory, options)); // the same answers from the indexes on disk
    }
    await log.close();
  });
}

test('LogAppendTime batches: every record carries the batch time', async () => {
  const { log } = await open(tempDir());
  await log.append(
    await encodeRecordBatch({
      timestampType: 1,
      maxTimestamp: 50_000,
      records: [
        { value: Buffer.from('a'), timestamp: 10 },
        { value: Buffer.from('b'), timestamp: 90_000 },
      ],
    }),
  );
  await log.append(await timed([60_000]));
  assert.deepEqual(await log.offsetForTimestamp(20), at(0, 50_000));
  assert.deepEqual(await log.offsetForTimestamp(50_001), at(2, 60_000), 'not the CreateTime inside the batch');
  assert.deepEqual(await log.offsetOfMaxTimestamp(), at(2, 60_000));
  await log.close();
});

test('the log start inside a batch: no answer below it, also for the largest timestamp', async () => {
  const { log } = await open(tempDir(), { config: { segmentBytes: 10_000 } });
  await log.append(await timed([9000, 100, 200, 300])); // 0-3
  await log.append(await timed([400, 8000])); // 4-5
  assert.equal(await log.deleteRecordsBefore(2), 2);
  assert.deepEqual(await log.offsetForTimestamp(0), at(2, 200));
  assert.deepEqual(await log.offsetForTimestamp(301), at(4, 400));
  assert.deepEqual(await log.offsetOfMaxTimestamp(), at(5, 8000), 'the 9000 at offset 0 is gone');
  assert.equal(await log.deleteRecordsBefore(6), 6);
  assert.equal(await log.offsetOfMaxTimestamp(), null);
  assert.equal(await log.offsetForTimestamp(0), null);
  await log.close();
});

test('an empty log answers none', async () => {
  const { log } = await open(tempDir());
  assert.equal(await log.offsetOfMaxTimestamp(), null);
  assert.equal(await log.offsetForTimestamp(0), null);
  assert.equal(await log.offsetForTimestamp(Number.MAX_VALUE), null);
  await log.close();
});

test('a header that claims more than its records have is looked into, warned about and stepped over', async () => {
  const { log, logger } = await open(tempDir());
  const records = (deltas: number[]) =>
    deltas.map((timestampDelta) => ({ key: null, value: Buffer.from('x'), timestampDelta }));
  await log.append(makeBatch(records([0, 10]), { baseTimestamp: 1000, maxTimestamp: 5000 })); // records 1000, 1010
  await log.append(makeBatch(records([0, 20]), { baseTimestamp: 3000 })); // 3000, 3020
  assert.deepEqual(await log.offsetForTimestamp(2000), at(2, 3000));
  const warned = logger.events('batch-header-timestamp-mismatch');
  assert.equal(warned.length, 1);
  assert.equal(warned[0]!.headerMaxTimestamp, 5000);
  assert.equal(warned[0]!.recordsMaxTimestamp, 1010);
  // MAX_TIMESTAMP trusts the header to find the batch, then answers that batch's own largest record.
  assert.deepEqual(await log.offsetOfMaxTimestamp(), at(1, 1010));
  assert.deepEqual(await log.offsetForTimestamp(2000), at(2, 3000));
  assert.equal(logger.events('batch-header-timestamp-mismatch').length, 1, 'logged once, not per lookup');
  await log.close();
});

test('a header maxTimestamp of -1 (sarama 1.22) is never looked into: a later record answers', async () => {
  const { log } = await open(tempDir());
  const records = (deltas: number[]) =>
    deltas.map((timestampDelta) => ({ key: null, value: Buffer.from('x'), timestampDelta }));
  await log.append(makeBatch(records([0, 10]), { baseTimestamp: 1000, maxTimestamp: -1 })); // 1000, 1010: missed
  await log.append(makeBatch(records([0]), { baseTimestamp: 2000 }));
  assert.deepEqual(await log.offsetForTimestamp(1005), at(2, 2000), 'a perfect scan would say 1');
  assert.deepEqual(await log.offsetForTimestamp(0), at(2, 2000));
  await log.close();
});

test('a damaged batch at the candidate position: DAMAGED_BATCH, logged, nothing changed', async () => {
  const directory = tempDir();
  // An index entry after every batch: recovery's walk of the tail (after the last entry) never reaches
  // the damaged batch, only the lookup does — as with damage found long after the data was written.
  const options = { config: { indexIntervalBytes: 0 } };
  let { log } = await open(directory, options);
  await log.append(await timed([1000, 1100])); // 0-1
  await log.append(await timed([2000, 2100], Compression.Gzip)); // 2-3
  await log.append(await timed([3000])); // 4
  await log.append(await timed([3500])); // 5
  await log.close();
  const file = `${directory}/00000000000000000000.log`;
  const original = readFileSync(file);
  const secondBatch = original.readInt32BE(8) + 12;
  const damaged = Buffer.from(original);
  damaged[secondBatch + 70] ^= 0xff; // inside the gzip stream of offsets 2-3, under the CRC
  writeFileSync(file, damaged);
  let logger: MemoryLogger;
  ({ log, logger } = await open(directory, options)); // a clean shutdown: recovery does not scan it
  await assert.rejects(log.offsetForTimestamp(1500), (error: StorageError) => {
    assert.equal(error.code, 'DAMAGED_BATCH');
    assert.equal(error.kafkaCode, 56);
    return true;
  });
  await assert.rejects(log.offsetForTimestamp(1600), (error: StorageError) => error.code === 'DAMAGED_BATCH');
  assert.equal(logger.events('damaged-batch').length, 1, 'logged once, not per lookup');
  assert.equal(logger.events('damaged-batch')[0]!.position, secondBatch);
  assert.deepEqual(await log.offsetForTimestamp(900), at(0, 1000), 'a lookup answered before it still works');
  assert.deepEqual(await log.offsetForTimestamp(2500), at(4, 3000), 'and one after it');
  assert.equal(log.readOnly, null, 'not a disk failure: appends go on');
  assert.deepEqual(await log.append(await timed([4000])), { baseOffset: 6, lastOffset: 6 });
  await log.close();
  const after = readFileSync(file);
  assert.deepEqual(after.subarray(0, damaged.length), damaged, 'nothing rewritten');

  // A header whose length is garbage is not stepped by: the walk stops with the same error.
  after.writeInt32BE(-12, secondBatch + 8); // batchLength -12: a batch of 0 bytes
  writeFileSync(file, after);
  ({ log, logger } = await open(directory, options));
  await assert.rejects(log.offsetForTimestamp(1500), (error: StorageError) => error.code === 'DAMAGED_BATCH');
  assert.match(String(logger.events('damaged-batch')[0]!.detail), /batch length 0/);
  await log.close();
});

test('a batch too large to decompress here answers its first offset, with a warning', async () => {
  const { log, logger } = await open(tempDir(), { config: { maxMessageBytes: 8 * 1024 * 1024 } });
  await log.append(await timed([100]));
  const huge = await encodeRecordBatch({
    compression: Compression.Zstd,
    records: [
      { value: Buffer.alloc(33 * 1024 * 1024), timestamp: 200 }, // 66 MiB inflated: past the 64 MiB bound
      { value: Buffer.alloc(33 * 1024 * 1024), timestamp: 300 },
    ],
  });
  await log.append(huge); // 1-2
  assert.deepEqual(await log.offsetForTimestamp(250), at(1, 300), 'the batch start, not a record inside');
  assert.equal(logger.events('lookup-batch-too-large').length, 1);
  await log.close();
});

test('a batch with a right CRC whose records do not decode is the producer’s: a warning, no disk error', async () => {
  const { log, logger } = await open(tempDir());
  await log.append(await timed([1000]));
  const garbage = await timed([2000, 3000]);
  garbage.fill(0xff, 61, 66); // the first record's length: a varint that never ends
  garbage.writeUInt32BE(new RecordBatchHeader(garbage).computeCrc(), CRC_OFFSET);
  await log.append(garbage); // 1-2: header and CRC sound, as produce checks them
  await log.append(await timed([4000])); // 3
  assert.deepEqual(await log.offsetForTimestamp(2500), at(1, 3000), 'the batch start, its header’s time');
  assert.deepEqual(await log.offsetForTimestamp(3500), at(3, 4000));
  assert.equal(logger.events('lookup-batch-unreadable').length, 1);
  assert.equal(logger.events('damaged-batch').length, 0);
  await log.close();
});

test('the largest timestamp on both sides of a reopened segment tail: its first record', async () => {
  const directory = tempDir();
  // Index entries every ~100 bytes, so the segment's last batches are a tail recovery walks on open.
  const options = { config: { indexIntervalBytes: 100 } };
  let { log } = await open(directory, options);
  await log.append(await timed([10, 20])); // 0-1
  await log.append(await timed([500, 30])); // 2-3: the first 500
  for (let index = 0; index < 6; index += 1) await log.append(await timed([40, 500])); // 4-15
  assert.deepEqual(await log.offsetOfMaxTimestamp(), at(2, 500));
  await log.close();
  ({ log } = await open(directory, options));
  assert.deepEqual(await log.offsetOfMaxTimestamp(), at(2, 500), 'after recovery read the indexes back');
  await log.close();
});
