import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { ManualClock } from '../../src/runtime/clock.js';
import { StorageError } from '../../src/storage/errors.js';
import { PartitionLog } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import { selectSegmentsToDelete } from '../../src/storage/retention.js';
import { makeBatch, makeValueBatch, partitionDirectories } from './helpers.js';

const tempDir = partitionDirectories('r-0');

test('selectSegmentsToDelete: by time stops at the first young segment; by size keeps at least retention.bytes', () => {
  const segments = [
    { sizeBytes: 100, maxTimestamp: 10, isEmpty: false },
    { sizeBytes: 100, maxTimestamp: 50, isEmpty: false },
    { sizeBytes: 100, maxTimestamp: 20, isEmpty: false },
    { sizeBytes: 100, maxTimestamp: 90, isEmpty: false },
  ];
  assert.equal(selectSegmentsToDelete(segments, { retentionMs: 30, retentionBytes: -1 }, 70), 1);
  assert.equal(selectSegmentsToDelete(segments, { retentionMs: 5, retentionBytes: -1 }, 70), 3);
  assert.equal(
    selectSegmentsToDelete(segments, { retentionMs: 0, retentionBytes: -1 }, 100),
    4,
    'the active segment too, once expired',
  );
  assert.equal(selectSegmentsToDelete(segments, { retentionMs: -1, retentionBytes: 250 }, 0), 1);
  assert.equal(
    selectSegmentsToDelete(segments, { retentionMs: -1, retentionBytes: 0 }, 0),
    3,
    'never the active segment by size',
  );
  assert.equal(selectSegmentsToDelete(segments, { retentionMs: -1, retentionBytes: -1 }, 1e9), 0);
});

test('retention.ms deletes whole expired segments and moves the log start', async () => {
  const clock = new ManualClock(0);
  const directory = tempDir();
  const log = await PartitionLog.open({
    directory,
    topic: 'r',
    partition: 0,
    clock,
    config: { segmentBytes: 500, retentionMs: 1000, fileDeleteDelayMs: 0 },
    logger: new MemoryLogger(),
  });
  for (let index = 0; index < 12; index += 1) {
    clock.set(index * 100);
    await log.append(makeValueBatch(1, 150, index, { baseTimestamp: index * 100, maxTimestamp: index * 100 }));
  }
  const segments = log.segmentCount;
  clock.set(1650);
  const deleted = await log.applyRetention();
  assert.ok(deleted > 0 && deleted < segments);
  assert.equal(log.logStartOffset, log.segmentBaseOffsets[0]);
  await assert.rejects(log.read(0, 100), (error: StorageError) => error.code === 'OFFSET_OUT_OF_RANGE');
  assert.ok((await log.read(log.logStartOffset, 100)).records.length > 0);
  await log.close();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(readdirSync(directory).filter((name) => name.endsWith('.log')).length, log.segmentCount);
  assert.deepEqual(
    readdirSync(directory).filter((name) => name.endsWith('.deleted')),
    [],
  );
  // Everything expired: the active segment goes too and the log is empty at its end offset.
  const reopened = await PartitionLog.open({
    directory,
    topic: 'r',
    partition: 0,
    clock,
    config: { segmentBytes: 500, retentionMs: 1000, fileDeleteDelayMs: 0 },
    logger: new MemoryLogger(),
  });
  assert.equal(reopened.logStartOffset, log.logStartOffset);
  clock.set(100_000);
  await reopened.applyRetention();
  assert.equal(reopened.logStartOffset, 12);
  assert.equal(reopened.logEndOffset, 12);
  await reopened.close();
});

test('retention.bytes keeps the newest segments within the limit', async () => {
  const log = await PartitionLog.open({
    directory: tempDir(),
    topic: 'r',
    partition: 0,
    config: { segmentBytes: 500, retentionBytes: 1000, retentionMs: -1, fileDeleteDelayMs: 0 },
    logger: new MemoryLogger(),
  });
  for (let index = 0; index < 20; index += 1) await log.append(makeValueBatch(1, 150, index));
  await log.applyRetention();
  assert.ok(log.sizeBytes >= 1000 - 500 && log.sizeBytes <= 1000 + 500, `size ${log.sizeBytes}`);
  await log.close();
});

test('DeleteRecords moves the log start (checkpointed) and deletes segments wholly below it', async () => {
  const directory = tempDir();
  const log = await PartitionLog.open({
    directory,
    topic: 'r',
    partition: 0,
    config: { segmentBytes: 500, fileDeleteDelayMs: 0 },
    logger: new MemoryLogger(),
  });
  for (let index = 0; index < 12; index += 1) await log.append(makeValueBatch(2, 100, index));
  const segments = log.segmentCount;
  assert.equal(await log.deleteRecordsBefore(9), 9);
  assert.ok(log.segmentCount < segments);
  const read = await log.read(9, 100);
  assert.ok(read.firstOffset <= 9 && read.nextOffset > 9);
  await assert.rejects(log.read(8, 100), (error: StorageError) => error.code === 'OFFSET_OUT_OF_RANGE');
  await assert.rejects(log.deleteRecordsBefore(1000), (error: StorageError) => error.code === 'OFFSET_OUT_OF_RANGE');
  await log.abandon();
  const reopened = await PartitionLog.open({
    directory,
    topic: 'r',
    partition: 0,
    config: { segmentBytes: 500 },
    logger: new MemoryLogger(),
  });
  assert.equal(reopened.logStartOffset, 9);
  await reopened.close();
});

test('truncateTo removes the batch holding the offset and everything after, across segments', async () => {
  const directory = tempDir();
  const log = await PartitionLog.open({
    directory,
    topic: 'r',
    partition: 0,
    config: { segmentBytes: 500 },
    logger: new MemoryLogger(),
  });
  for (let index = 0; index < 12; index += 1) await log.append(makeValueBatch(2, 100, index));
  await log.truncateTo(11); // batch 10..11 goes entirely
  assert.equal(log.logEndOffset, 10);
  assert.equal(log.flushedOffset, 10);
  assert.deepEqual(await log.append(makeValueBatch(1, 10)), { baseOffset: 10, lastOffset: 10 });
  await log.close();
  const reopened = await PartitionLog.open({
    directory,
    topic: 'r',
    partition: 0,
    config: { segmentBytes: 500 },
    logger: new MemoryLogger(),
  });
  assert.equal(reopened.logEndOffset, 11);
  assert.equal(reopened.recovery.scannedSegments, 0);
  await reopened.truncateTo(0);
  assert.equal(reopened.logEndOffset, 0);
  assert.equal(reopened.segmentCount, 1);
  await reopened.close();
});

test('a read holding a segment finishes correctly while retention deletes that segment', async () => {
  const { nodeFileSystem } = await import('../../src/storage/file-system.js');
  let hold: Promise<void> | null = null;
  let release = () => {};
  const fileSystem = {
    ...nodeFileSystem,
    async read(fd: number, buffer: Buffer, offset: number, length: number, position: number) {
      if (hold !== null) await hold;
      return nodeFileSystem.read(fd, buffer, offset, length, position);
    },
  };
  const clock = new ManualClock(0);
  const directory = tempDir();
  const log = await PartitionLog.open({
    directory,
    topic: 'r',
    partition: 0,
    clock,
    fileSystem,
    config: { segmentBytes: 500, retentionMs: 1000, fileDeleteDelayMs: 0 },
    logger: new MemoryLogger(),
  });
  const first = makeValueBatch(1, 300, 1, { baseTimestamp: 0, maxTimestamp: 0 });
  const expected = Buffer.from(first);
  await log.append(first);
  await log.append(makeValueBatch(1, 300, 2, { baseTimestamp: 5000, maxTimestamp: 5000 }));
  expected.writeBigInt64BE(0n, 0);
  expected.writeInt32BE(0, 12);
  hold = new Promise<void>((resolve) => (release = resolve));
  const reading = log.read(0, 10_000);
  await new Promise((resolve) => setTimeout(resolve, 10));
  clock.set(3000);
  assert.equal(await log.applyRetention(), 1);
  assert.ok(readdirSync(directory).some((name) => name.endsWith('.log.deleted')));
  hold = null;
  release();
  assert.deepEqual((await reading).records, expected, 'the read saw the whole batch of the deleted segment');
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(
    readdirSync(directory).filter((name) => name.endsWith('.deleted')),
    [],
    'files go once the read released them',
  );
  await log.close();
});

test('retention runs in the background on the log.retention.check.interval.ms timer', async () => {
  const clock = new ManualClock(0);
  const log = await PartitionLog.open({
    directory: tempDir(),
    topic: 'r',
    partition: 0,
    clock,
    config: { segmentBytes: 500, retentionMs: 1000, retentionCheckIntervalMs: 10, fileDeleteDelayMs: 0 },
    logger: new MemoryLogger(),
  });
  for (let index = 0; index < 8; index += 1)
    await log.append(makeValueBatch(1, 150, index, { baseTimestamp: 0, maxTimestamp: 0 }));
  assert.equal(log.logStartOffset, 0);
  clock.set(10_000);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(log.logStartOffset, 8, 'every expired segment went without anyone asking');
  await log.close();
});

test('a background round: retention on a delete topic, compaction (no retention) on a compact one', async () => {
  // (Once the LogManager's test: the broker opens its PartitionLogs itself, and each runs its own rounds.)
  const clock = new ManualClock(0);
  const config = { segmentBytes: 400, retentionMs: 1000, fileDeleteDelayMs: 0 };
  const plain = await PartitionLog.open({
    directory: tempDir(),
    topic: 'r',
    partition: 0,
    clock,
    config,
    logger: new MemoryLogger(),
  });
  for (let index = 0; index < 6; index += 1)
    await plain.append(makeValueBatch(1, 100, index, { baseTimestamp: 0, maxTimestamp: 0 }));
  const compacted = await PartitionLog.open({
    directory: tempDir(),
    topic: 'r',
    partition: 0,
    clock,
    config: { ...config, cleanupPolicy: { compact: true, delete: false } },
    logger: new MemoryLogger(),
  });
  for (let index = 0; index < 12; index += 1)
    await compacted.append(
      makeBatch([{ key: Buffer.from('same'), value: Buffer.from(`v${index}`) }], { baseTimestamp: 0 }),
    );
  // Reopened, so every segment but the last is sealed and flushed: compaction's input.
  await plain.close();
  await compacted.close();
  const reopenedPlain = await PartitionLog.open({
    directory: plain.directory,
    topic: 'r',
    partition: 0,
    clock,
    config,
    logger: new MemoryLogger(),
  });
  const reopenedCompacted = await PartitionLog.open({
    directory: compacted.directory,
    topic: 'r',
    partition: 0,
    clock,
    config: { ...config, cleanupPolicy: { compact: true, delete: false } },
    logger: new MemoryLogger(),
  });
  const compactedBytes = reopenedCompacted.sizeBytes;
  clock.set(5000);
  await reopenedPlain.runBackgroundWork();
  await reopenedCompacted.runBackgroundWork();
  assert.ok(reopenedPlain.logStartOffset > 0, 'retention ran on the delete topic');
  assert.ok(reopenedCompacted.sizeBytes < compactedBytes, 'compaction ran on the compacted topic');
  assert.equal(reopenedCompacted.logStartOffset, 0, 'a compact-only topic is not trimmed by retention');
  await reopenedPlain.close();
  await reopenedCompacted.close();
});

test('segments wholly below the log start are deleted by the next retention pass, whatever the policy', async () => {
  const { writeFileSync } = await import('node:fs');
  const directory = tempDir();
  const config = { segmentBytes: 500, fileDeleteDelayMs: 0, cleanupPolicy: { compact: true, delete: false } };
  const log = await PartitionLog.open({ directory, topic: 'r', partition: 0, config, logger: new MemoryLogger() });
  for (let index = 0; index < 12; index += 1) await log.append(makeValueBatch(2, 100, index));
  const bases = log.segmentBaseOffsets;
  await log.close();
  // As a crash between moving the log start and renaming the segments away leaves it.
  writeFileSync(`${directory}/log-start-offset-checkpoint`, `0\n1\nr 0 ${bases[2]}\n`);
  const reopened = await PartitionLog.open({ directory, topic: 'r', partition: 0, config, logger: new MemoryLogger() });
  assert.equal(reopened.logStartOffset, bases[2]);
  assert.equal(reopened.segmentBaseOffsets[0], bases[0]);
  assert.equal(await reopened.applyRetention(), 2);
  assert.deepEqual(reopened.segmentBaseOffsets, bases.slice(2));
  await reopened.close();
});
