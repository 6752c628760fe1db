import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ManualClock } from '../../src/runtime/clock.js';
import { StorageError } from '../../src/storage/errors.js';
import { PartitionLog } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import { makeBatch, makeValueBatch, splitBatches, partitionDirectories } from './helpers.js';

const tempDir = partitionDirectories('orders-0');

const topicId = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

test('append assigns offsets from the header, read returns the same bytes', async () => {
  const directory = tempDir();
  const log = await PartitionLog.open({
    directory,
    topic: 'orders',
    partition: 0,
    topicId,
    logger: new MemoryLogger(),
  });
  const first = makeValueBatch(3, 100, 1);
  const second = makeValueBatch(5, 100, 2);
  assert.deepEqual(await log.append(first), { baseOffset: 0, lastOffset: 2 });
  assert.deepEqual(await log.append(second), { baseOffset: 3, lastOffset: 7 });
  assert.equal(log.logEndOffset, 8);
  assert.equal(log.flushedOffset, 8);
  const read = await log.read(0, 1 << 20);
  assert.deepEqual(read.records, Buffer.concat([first, second]));
  assert.equal(read.nextOffset, 8);
  assert.equal(first.readInt32BE(12), 0, 'partition leader epoch stamped');
  // An offset inside a batch returns that whole batch.
  const middle = await log.read(5, 1 << 20);
  assert.deepEqual(middle.records, second);
  assert.equal(middle.firstOffset, 3);
  // At the end: empty, not an error. Past the end: out of range.
  assert.equal((await log.read(8, 1000)).records.length, 0);
  await assert.rejects(log.read(9, 1000), (error: StorageError) => error.code === 'OFFSET_OUT_OF_RANGE');
  await log.close();
});

test('read returns at least one whole batch (KIP-74) and only whole batches', async () => {
  const log = await PartitionLog.open({
    directory: tempDir(),
    topic: 'orders',
    partition: 0,
    logger: new MemoryLogger(),
  });
  const big = makeValueBatch(10, 1000, 1);
  const small = makeValueBatch(1, 10, 2);
  await log.append(big);
  await log.append(small);
  assert.deepEqual((await log.read(0, 100)).records, big);
  assert.deepEqual((await log.read(0, big.length + small.length - 1)).records, big);
  assert.deepEqual((await log.read(0, big.length + small.length)).records, Buffer.concat([big, small]));
  assert.deepEqual((await log.read(0, 1 << 20, { maxOffset: 10 })).records, big);
  await log.close();
});

test('segments roll at segment.bytes and segment.ms with 20-digit names; reads cross segments', async () => {
  const directory = tempDir();
  const clock = new ManualClock(1_000);
  const log = await PartitionLog.open({
    directory,
    topic: 'orders',
    partition: 0,
    clock,
    config: { segmentBytes: 1000, segmentMs: 60_000, indexIntervalBytes: 100 },
    logger: new MemoryLogger(),
  });
  const batches: Buffer[] = [];
  for (let index = 0; index < 20; index += 1) {
    const batch = makeValueBatch(2, 100, index);
    batches.push(Buffer.from(batch));
    await log.append(batch);
  }
  assert.ok(log.segmentCount > 4);
  const files = readdirSync(directory).sort();
  assert.ok(files.includes('00000000000000000000.log'));
  assert.ok(files.includes('00000000000000000000.index'));
  assert.ok(files.includes('00000000000000000000.timeindex'));
  for (const name of files.filter((file) => file.endsWith('.log'))) assert.match(name, /^\d{20}\.log$/);
  const collected: Buffer[] = [];
  for (let offset = 0; offset < log.logEndOffset;) {
    const read = await log.read(offset, 300);
    assert.ok(read.records.length > 0);
    collected.push(read.records);
    offset = read.nextOffset;
  }
  const all = splitBatches(Buffer.concat(collected));
  assert.equal(all.length, 20);
  all.forEach((batch, index) => {
    assert.equal(batch.baseOffset, index * 2);
    const expected = Buffer.from(batches[index]!);
    expected.writeBigInt64BE(BigInt(index * 2), 0);
    expected.writeInt32BE(0, 12);
    assert.deepEqual(batch.bytes, expected);
  });
  // segment.ms: a segment older than that rolls on the next append.
  const before = log.segmentCount;
  clock.advance(60_000);
  await log.append(makeValueBatch(1, 10));
  assert.equal(log.segmentCount, before + 1);
  await log.close();
});

test('offset index: batch last offsets every index.interval.bytes; the time index is monotonic', async () => {
  const directory = tempDir();
  const log = await PartitionLog.open({
    directory,
    topic: 'orders',
    partition: 0,
    config: { indexIntervalBytes: 500 },
    logger: new MemoryLogger(),
  });
  let position = 0;
  let sinceEntry = 0;
  const expected: [number, number][] = [];
  for (let index = 0; index < 40; index += 1) {
    const batch = makeValueBatch(3, 50, index, { baseTimestamp: 1000 + index, maxTimestamp: 1000 + index });
    const { lastOffset } = await log.append(batch);
    if (sinceEntry > 500) {
      expected.push([lastOffset, position]);
      sinceEntry = 0;
    }
    sinceEntry += batch.length;
    position += batch.length;
  }
  await log.close();
  const index = readFileSync(`${directory}/00000000000000000000.index`);
  assert.equal(index.length, expected.length * 8);
  expected.forEach(([offset, at], entry) => {
    assert.equal(index.readInt32BE(entry * 8), offset);
    assert.equal(index.readInt32BE(entry * 8 + 4), at);
  });
  const timeIndex = readFileSync(`${directory}/00000000000000000000.timeindex`);
  assert.equal(timeIndex.length % 12, 0);
  let previous = -1n;
  for (let at = 0; at < timeIndex.length; at += 12) {
    assert.ok(timeIndex.readBigInt64BE(at) > previous);
    previous = timeIndex.readBigInt64BE(at);
  }
  assert.equal(previous, 1039n, 'final entry at close records the largest timestamp');
});

test('lookups: offset for timestamp, max timestamp, start/end/flushed, size', async () => {
  const log = await PartitionLog.open({
    directory: tempDir(),
    topic: 'orders',
    partition: 0,
    config: { indexIntervalBytes: 0, segmentBytes: 2000 },
    logger: new MemoryLogger(),
  });
  const timestamps = [100, 300, 200, 400, 400, 500, 1000, 900];
  let size = 0;
  for (const [index, timestamp] of timestamps.entries()) {
    // Two records per batch, 5 ms apart; the header's maxTimestamp is the second one's.
    const values = [Buffer.alloc(200, index), Buffer.alloc(200, index + 100)];
    const batch = makeBatch(
      values.map((value, at) => ({ key: null, value, timestampDelta: at * 5 })),
      { baseTimestamp: timestamp - 5 },
    );
    size += batch.length;
    await log.append(batch);
  }
  assert.equal(log.sizeBytes, size);
  assert.ok(log.segmentCount > 1);
  const at = (offset: number, timestamp: number) => ({ offset, timestamp, leaderEpoch: 0 });
  assert.deepEqual(await log.offsetForTimestamp(0), at(0, 95));
  assert.deepEqual(await log.offsetForTimestamp(150), at(2, 295));
  assert.deepEqual(await log.offsetForTimestamp(300), at(3, 300), 'the record, not the batch holding it');
  assert.deepEqual(await log.offsetForTimestamp(301), at(6, 395), 'past a later batch with older records');
  assert.deepEqual(await log.offsetForTimestamp(950), at(12, 995));
  assert.equal(await log.offsetForTimestamp(1001), null);
  assert.deepEqual(await log.offsetOfMaxTimestamp(), at(13, 1000));
  assert.equal(await log.offsetForTimestamp(0, 0), null, 'nothing below a limit of 0');
  assert.equal(await log.offsetForTimestamp(300, 3), null, 'the first record at the time is past the limit');
  assert.equal(await log.offsetOfMaxTimestamp(13), null, 'the largest timestamp is past the limit');
  assert.equal(log.logStartOffset, 0);
  assert.equal(log.logEndOffset, 16);
  assert.equal(log.flushedOffset, 16);
  await log.close();
});

test('checkpoints, leader epochs and partition metadata are written; a clean reopen scans nothing', async () => {
  const directory = tempDir();
  const log = await PartitionLog.open({
    directory,
    topic: 'orders',
    partition: 0,
    topicId,
    config: { segmentBytes: 500 },
    logger: new MemoryLogger(),
  });
  for (let index = 0; index < 10; index += 1) await log.append(makeValueBatch(1, 100, index));
  await log.close();
  assert.equal(
    readFileSync(`${directory}/partition.metadata`, 'utf8'),
    `version: 0\ntopic_id: ${topicId.toString('base64url')}\n`,
  );
  assert.equal(readFileSync(`${directory}/leader-epoch-checkpoint`, 'utf8'), '0\n1\n0 0\n');
  assert.equal(readFileSync(`${directory}/recovery-point-offset-checkpoint`, 'utf8'), '0\n1\norders 0 10\n');
  assert.equal(readFileSync(`${directory}/log-start-offset-checkpoint`, 'utf8'), '0\n1\norders 0 0\n');
  const reopened = await PartitionLog.open({
    directory,
    topic: 'orders',
    partition: 0,
    topicId,
    config: { segmentBytes: 500 },
    logger: new MemoryLogger(),
  });
  assert.equal(reopened.recovery.scannedSegments, 0);
  assert.equal(reopened.logEndOffset, 10);
  assert.equal((await reopened.read(9, 1 << 20)).nextOffset, 10);
  assert.deepEqual(await reopened.append(makeValueBatch(1, 10)), { baseOffset: 10, lastOffset: 10 });
  await reopened.close();
  await assert.rejects(
    PartitionLog.open({
      directory,
      topic: 'orders',
      partition: 0,
      topicId: Buffer.alloc(16, 7),
      logger: new MemoryLogger(),
    }),
    (error: StorageError) => error.code === 'INCONSISTENT_TOPIC_ID',
  );
});

test('append rejects malformed and oversize batches without touching the log', async () => {
  const log = await PartitionLog.open({
    directory: tempDir(),
    topic: 'orders',
    partition: 0,
    config: { maxMessageBytes: 1000 },
    logger: new MemoryLogger(),
  });
  const corrupt = makeValueBatch(1, 10);
  corrupt[corrupt.length - 1] ^= 1;
  await assert.rejects(log.append(corrupt), (error: StorageError) => error.code === 'CORRUPT_MESSAGE');
  await assert.rejects(
    log.append(makeValueBatch(10, 200)),
    (error: StorageError) => error.code === 'MESSAGE_TOO_LARGE',
  );
  await assert.rejects(log.append(Buffer.alloc(20)), (error: StorageError) => error.code === 'CORRUPT_MESSAGE');
  const two = Buffer.concat([makeValueBatch(1, 10), makeValueBatch(1, 10)]);
  await assert.rejects(log.append(two), (error: StorageError) => error.code === 'INVALID_RECORD');
  assert.equal(log.logEndOffset, 0);
  assert.deepEqual(await log.append(makeBatch([{ key: Buffer.from('k'), value: null }])), {
    baseOffset: 0,
    lastOffset: 0,
  });
  await log.close();
});

test('only the most recently used sealed segments keep their indexes in memory; others load on demand', async () => {
  const { writeFileSync } = await import('node:fs');
  const directory = tempDir();
  const config = { segmentBytes: 600, indexIntervalBytes: 50 };
  const log = await PartitionLog.open({ directory, topic: 'orders', partition: 0, config, logger: new MemoryLogger() });
  const stored: Buffer[] = [];
  for (let index = 0; index < 60; index += 1) {
    const batch = makeValueBatch(2, 100, index, { baseTimestamp: 10_000 + index, maxTimestamp: 10_000 + index });
    await log.append(batch);
    stored.push(batch);
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(log.segmentCount > 20);
  assert.ok(log.loadedIndexCount <= 8, `${log.loadedIndexCount} sealed indexes in memory`);
  await log.close();
  // An index changed on disk while unloaded is rebuilt when next needed.
  writeFileSync(`${directory}/00000000000000000000.index`, Buffer.from([1, 2, 3]));
  const reopened = await PartitionLog.open({
    directory,
    topic: 'orders',
    partition: 0,
    config,
    logger: new MemoryLogger(),
  });
  writeFileSync(`${directory}/00000000000000000004.index`, Buffer.from([9]));
  assert.ok(reopened.loadedIndexCount <= 8);
  for (let index = 0; index < 60; index += 1) {
    const read = await reopened.read(index * 2 + 1, 1);
    assert.deepEqual(read.records, stored[index]);
  }
  assert.ok(reopened.loadedIndexCount <= 8);
  assert.deepEqual(await reopened.offsetForTimestamp(10_003), { offset: 6, timestamp: 10_003, leaderEpoch: 0 });
  await reopened.close();
});

test('offsetForTimestamp finds the first record with a timestamp at or after the target, not its batch', async () => {
  const log = await PartitionLog.open({
    directory: tempDir(),
    topic: 'orders',
    partition: 0,
    logger: new MemoryLogger(),
  });
  await log.append(
    makeBatch(
      [
        { key: null, value: Buffer.from('a'), timestampDelta: 0 },
        { key: null, value: Buffer.from('b'), timestampDelta: 10 },
        { key: null, value: Buffer.from('c'), timestampDelta: 20 },
      ],
      { baseTimestamp: 1000 },
    ),
  );
  await log.append(makeBatch([{ key: null, value: Buffer.from('d'), timestampDelta: 0 }], { baseTimestamp: 2000 }));
  assert.deepEqual(await log.offsetForTimestamp(1005), { offset: 1, timestamp: 1010, leaderEpoch: 0 });
  assert.deepEqual(await log.offsetForTimestamp(1020), { offset: 2, timestamp: 1020, leaderEpoch: 0 });
  assert.deepEqual(await log.offsetForTimestamp(1500), { offset: 3, timestamp: 2000, leaderEpoch: 0 });
  assert.equal(await log.offsetForTimestamp(2001), null);
  await log.close();
});
