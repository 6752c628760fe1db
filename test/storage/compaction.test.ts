import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { decodeRecordBatches } from '../../src/protocol/record-batch/record-decoder.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { compactLog } from '../../src/storage/compaction.js';
import type { LogConfig } from '../../src/storage/limits.js';
import { PartitionLog } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import { makeBatch, partitionDirectories } from './helpers.js';

const tempDir = partitionDirectories('__consumer_offsets-0');

const config: Partial<LogConfig> = {
  segmentBytes: 600,
  cleanupPolicy: { compact: true, delete: false },
  deleteRetentionMs: 10_000,
  fileDeleteDelayMs: 0,
};

async function contents(log: PartitionLog): Promise<{ offset: number; key: string | null; value: string | null }[]> {
  const records: { offset: number; key: string | null; value: string | null }[] = [];
  for (let offset = log.logStartOffset; offset < log.logEndOffset;) {
    const read = await log.read(offset, 1 << 20);
    if (read.records.length === 0) break;
    for (const batch of await decodeRecordBatches(read.records)) {
      for (const record of batch.records)
        records.push({
          offset: record.offset,
          key: record.key?.toString() ?? null,
          value: record.value?.toString() ?? null,
        });
    }
    offset = read.nextOffset;
  }
  return records;
}

/** Writes 5 rounds over keys k0..k4 (two records per batch), then a tombstone for k1. */
async function fill(
  log: PartitionLog,
  clock: ManualClock,
): Promise<Map<string, { offset: number; value: string | null }>> {
  const latest = new Map<string, { offset: number; value: string | null }>();
  for (let round = 0; round < 5; round += 1) {
    for (let key = 0; key < 5; key += 2) {
      const keys = [`k${key}`, `k${(key + 1) % 5}`];
      const { baseOffset } = await log.append(
        makeBatch(
          keys.map((name) => ({ key: Buffer.from(name), value: Buffer.from(`${name}@${round}`) })),
          { baseTimestamp: clock.now() },
        ),
      );
      keys.forEach((name, index) => latest.set(name, { offset: baseOffset + index, value: `${name}@${round}` }));
    }
  }
  const { baseOffset } = await log.append(
    makeBatch([{ key: Buffer.from('k1'), value: null }], { baseTimestamp: clock.now() }),
  );
  latest.set('k1', { offset: baseOffset, value: null });
  log.roll();
  await log.append(
    makeBatch([{ key: Buffer.from('k9'), value: Buffer.from('active') }], { baseTimestamp: clock.now() }),
  );
  latest.set('k9', { offset: baseOffset + 1, value: 'active' });
  return latest;
}

test('compaction keeps the last record per key at its offset; tombstones go after delete.retention.ms', async () => {
  const directory = tempDir();
  const clock = new ManualClock(1_000_000);
  const log = await PartitionLog.open({
    directory,
    topic: '__consumer_offsets',
    partition: 0,
    clock,
    config,
    logger: new MemoryLogger(),
  });
  const latest = await fill(log, clock);
  const before = await contents(log);
  const sizeBefore = log.sizeBytes;
  const result = await compactLog(log, { clock, logger: new MemoryLogger() });
  assert.ok(result.segmentsRewritten > 0 && result.recordsRemoved > 0);
  const after1 = await contents(log);
  assert.ok(log.sizeBytes < sizeBefore);
  // Every surviving record is the latest of its key, at the offset it was written at.
  for (const record of after1) {
    const original = before.find((candidate) => candidate.offset === record.offset)!;
    assert.deepEqual(record, original);
    assert.equal(latest.get(record.key!)!.offset, record.offset);
  }
  assert.deepEqual(new Set(after1.map((record) => record.key)), new Set(latest.keys()), 'the tombstone is still there');
  // After delete.retention.ms the tombstone goes too.
  clock.advance(20_000);
  log.roll();
  await compactLog(log, { clock, logger: new MemoryLogger() });
  const after2 = await contents(log);
  assert.ok(!after2.some((record) => record.key === 'k1'));
  assert.equal(after2.length, latest.size - 1);
  // A reopen (clean or after a crash) sees the same thing.
  await log.close();
  const reopened = await PartitionLog.open({
    directory,
    topic: '__consumer_offsets',
    partition: 0,
    clock,
    config,
    logger: new MemoryLogger(),
  });
  assert.equal(reopened.recovery.scannedSegments, 0);
  assert.deepEqual(await contents(reopened), after2);
  await reopened.abandon();
  const recovered = await PartitionLog.open({
    directory,
    topic: '__consumer_offsets',
    partition: 0,
    clock,
    config: { ...config },
    logger: new MemoryLogger(),
  });
  assert.deepEqual(await contents(recovered), after2);
  assert.deepEqual(
    readdirSync(directory).filter((name) => name.endsWith('.cleaned') || name.endsWith('.swap')),
    [],
  );
  await recovered.close();
});

test('compaction runs beside appends without blocking them', async () => {
  const clock = new ManualClock(1_000_000);
  const log = await PartitionLog.open({
    directory: tempDir(),
    topic: '__consumer_offsets',
    partition: 0,
    clock,
    config,
    logger: new MemoryLogger(),
  });
  await fill(log, clock);
  const appends: Promise<unknown>[] = [];
  const compaction = compactLog(log, { clock, logger: new MemoryLogger() });
  for (let index = 0; index < 50; index += 1)
    appends.push(log.append(makeBatch([{ key: Buffer.from(`n${index % 7}`), value: Buffer.from(String(index)) }])));
  await Promise.all([compaction, ...appends]);
  const records = await contents(log);
  const offsets = records.map((record) => record.offset);
  assert.deepEqual(
    offsets,
    [...offsets].sort((a, b) => a - b),
  );
  assert.equal(
    records.filter((record) => record.key?.startsWith('n')).length,
    50,
    'appends made during compaction are all there',
  );
  await log.close();
});

test('a compacted partition with compact,delete still applies retention', async () => {
  const clock = new ManualClock(1_000_000);
  const log = await PartitionLog.open({
    directory: tempDir(),
    topic: 't',
    partition: 0,
    clock,
    config: { ...config, cleanupPolicy: { compact: true, delete: true }, retentionMs: 5_000 },
    logger: new MemoryLogger(),
  });
  await fill(log, clock);
  await compactLog(log, { clock, logger: new MemoryLogger() });
  clock.advance(10_000);
  assert.ok((await log.applyRetention()) > 0);
  assert.deepEqual(await contents(log), []);
  assert.ok(!existsSync(`${log.directory}/00000000000000000000.log`));
  await log.close();
});

// A seeded randomized test of compaction against a record-level model: append keyed batches,
// roll, compact, truncate, DeleteRecords, close/crash and reopen. After every step: each record
// served exists in the model at the same offset with the same key and value, offsets increase,
// and the newest record of every key at or above the log start is served.
// SLUICE_TEST_SEED=<seed> replays one seed.
async function compactionModel(seed: number, operations: number): Promise<void> {
  const { seededRandom } = await import('./helpers.js');
  const random = seededRandom(seed);
  const directory = tempDir();
  const clock = new ManualClock(1_000_000);
  const modelConfig: Partial<LogConfig> = {
    segmentBytes: 300 + random.integer(1500),
    cleanupPolicy: { compact: true, delete: false },
    deleteRetentionMs: 1e12,
    fileDeleteDelayMs: 0,
    indexIntervalBytes: random.integer(500),
  };
  const open = () =>
    PartitionLog.open({ directory, topic: 'c', partition: 0, clock, config: modelConfig, logger: new MemoryLogger() });
  let log = await open();
  const model = new Map<number, { key: string; value: string | null }>();
  let startOffset = 0;
  const trace: string[] = [];
  const fail = (message: string) =>
    assert.fail(
      `seed ${seed} (replay with SLUICE_TEST_SEED=${seed}): ${message}\n` +
        `last operations: ${trace.slice(-10).join(' | ')}`,
    );
  const verify = async () => {
    const served = await contents(log);
    let previous = -1;
    for (const record of served) {
      if (record.offset <= previous) fail(`offsets not increasing at ${record.offset}`);
      previous = record.offset;
      const expected = model.get(record.offset);
      if (expected === undefined || expected.key !== record.key || expected.value !== record.value)
        fail(`record at ${record.offset} is ${JSON.stringify(record)}, model has ${JSON.stringify(expected)}`);
    }
    const newest = new Map<string, number>();
    for (const [offset, record] of model)
      if (offset >= startOffset) newest.set(record.key, Math.max(newest.get(record.key) ?? -1, offset));
    const servedOffsets = new Set(served.map((record) => record.offset));
    for (const [key, offset] of newest) {
      // DeleteRecords may start the log inside a batch; the batch is served whole, so look at ≥ start only.
      if (!servedOffsets.has(offset)) fail(`newest record of ${key} (offset ${offset}) is missing`);
    }
  };
  for (let step = 0; step < operations; step += 1) {
    const choice = random.integer(100);
    if (choice < 50) {
      const pending = Array.from({ length: 1 + random.integer(3) }, () => {
        const records = Array.from({ length: 1 + random.integer(4) }, () => ({
          key: `k${random.integer(12)}`,
          value: random.integer(10) === 0 ? null : `v${random.integer(1e6)}`,
        }));
        return {
          records,
          done: log.append(
            makeBatch(
              records.map((record) => ({
                key: Buffer.from(record.key),
                value: record.value === null ? null : Buffer.from(record.value),
              })),
              { baseTimestamp: clock.now() },
            ),
          ),
        };
      });
      trace.push(`append×${pending.length}`);
      for (const { records, done } of pending) {
        const { baseOffset } = await done;
        records.forEach((record, index) => model.set(baseOffset + index, record));
      }
    } else if (choice < 62) {
      trace.push('roll');
      log.roll();
    } else if (choice < 80) {
      trace.push('compact');
      await compactLog(log, { clock, logger: new MemoryLogger() });
    } else if (choice < 85) {
      // Within the active segment: compaction's horizon is its base, as Kafka's is the high watermark.
      const end = log.logEndOffset;
      const floor = Math.max(startOffset + 1, log.segmentBaseOffsets.at(-1)!);
      const offset = floor + random.integer(Math.max(1, end - floor));
      trace.push(`truncate(${offset})`);
      await log.truncateTo(offset);
      if (log.logEndOffset > offset && offset < end) fail(`truncate(${offset}) left the end at ${log.logEndOffset}`);
      for (const recordOffset of [...model.keys()]) if (recordOffset >= log.logEndOffset) model.delete(recordOffset);
      startOffset = log.logStartOffset;
    } else if (choice < 88) {
      const offset = startOffset + random.integer(Math.max(1, log.readableEndOffset - startOffset));
      trace.push(`deleteRecords(${offset})`);
      startOffset = await log.deleteRecordsBefore(offset);
    } else if (choice < 94) {
      trace.push('close+reopen');
      await log.close();
      log = await open();
      if (log.recovery.scannedSegments !== 0) fail('a clean reopen scanned segments');
    } else {
      trace.push('crash+reopen');
      await log.abandon();
      log = await open();
      if (log.recovery.cuts.length > 0) fail(`recovery cut data: ${JSON.stringify(log.recovery.cuts)}`);
    }
    if (step % 5 === 0) await verify();
  }
  await verify();
  await log.close();
}

const compactionSeeds =
  process.env.SLUICE_TEST_SEED !== undefined
    ? [Number(process.env.SLUICE_TEST_SEED)]
    : Array.from({ length: 4 }, () => Math.floor(Math.random() * 2 ** 31));
for (const seed of compactionSeeds) {
  test(`randomized compaction model, seed ${seed}`, async () => {
    await compactionModel(seed, Number(process.env.SLUICE_MODEL_OPERATIONS ?? 250));
  });
}

test('a disk error during compaction leaves the partition read-only, and a reopen restores it intact', async () => {
  const { failingFileSystem } = await import('./helpers.js');
  for (const operation of ['writeAll', 'rename'] as const) {
    const directory = tempDir();
    const clock = new ManualClock(1_000_000);
    const failing = failingFileSystem('EIO');
    const log = await PartitionLog.open({
      directory,
      topic: 'c',
      partition: 0,
      clock,
      config,
      fileSystem: failing.fileSystem,
      logger: new MemoryLogger(),
    });
    await fill(log, clock);
    const before = await contents(log);
    await new Promise((resolve) => setTimeout(resolve, 20)); // let the rolls' seals finish
    failing.arm([operation]);
    await assert.rejects(compactLog(log, { clock, logger: new MemoryLogger() }));
    assert.equal(log.readOnly?.code, 'KAFKA_STORAGE_ERROR', operation);
    failing.disarm();
    await log.abandon();
    const reopened = await PartitionLog.open({
      directory,
      topic: 'c',
      partition: 0,
      clock,
      config,
      logger: new MemoryLogger(),
    });
    assert.deepEqual(await contents(reopened), before, operation);
    assert.deepEqual(
      readdirSync(directory).filter((name) => name.endsWith('.cleaned') || name.endsWith('.swap')),
      [],
      operation,
    );
    await reopened.close();
  }
});
