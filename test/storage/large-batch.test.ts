// A batch larger than 100 MiB, appended with max.message.bytes raised, survives an unclean open
// byte for byte — in a segment of the default size, and alone in its own segment when it is larger
// than segment.bytes. Before issue 13 recovery believed at most 100 MiB and cut it as bad-length.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PartitionLog } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import { storageLimits } from '../../src/storage/limits.js';
import { makeValueBatch, partitionDirectories } from './helpers.js';

const directories = partitionDirectories('large-0');
const MiB = 1024 * 1024;

/** Appends small, large[, small], crashes, reopens and reads the large batch back. The large batch
 *  must stay in the segment recovery scans (the active one), so with a small segment.bytes nothing
 *  follows it: a later roll would checkpoint it as trusted and recovery would not look at it. */
async function appendCrashReopen(name: string, segmentBytes: number, trailing: boolean): Promise<void> {
  const directory = directories(name);
  const config = { maxMessageBytes: 200 * MiB, segmentBytes };
  const small = makeValueBatch(3, 100, 1);
  const large = makeValueBatch(1, 101 * MiB, 2);
  assert.ok(large.length > 101 * MiB);
  const log = await PartitionLog.open({ directory, topic: 'large', partition: 0, config, logger: new MemoryLogger() });
  await log.append(small);
  await log.append(large);
  if (trailing) await log.append(small);
  await log.abandon(); // as a crash: no checkpoint, so recovery scans every byte

  const reopened = await PartitionLog.open({
    directory,
    topic: 'large',
    partition: 0,
    config,
    logger: new MemoryLogger(),
  });
  try {
    assert.deepEqual(reopened.recovery.cuts, [], 'nothing cut');
    assert.equal(reopened.logEndOffset, trailing ? 7 : 4);
    const read = await reopened.read(3, 1); // less than the batch: it comes whole all the same
    assert.equal(read.records.length, large.length);
    // The broker assigned the base offset; every byte from the length field on is what was written.
    assert.ok(read.records.subarray(8).equals(large.subarray(8)), 'the batch reads back byte-identical');
  } finally {
    await reopened.close();
  }
}

test('recovery believes every batch max.message.bytes can ever allow', () => {
  assert.equal(storageLimits.recoveryBatchBytesMax, 2 ** 31 - 1);
});

test('a 101 MiB batch survives a crash and recovery in a 1 GiB segment', { timeout: 120_000 }, async () => {
  await appendCrashReopen('default-segment', 1024 * MiB, true);
});

test(
  'a 101 MiB batch larger than segment.bytes gets a segment of its own and survives',
  { timeout: 120_000 },
  async () => {
    await appendCrashReopen('small-segment', 16 * MiB, false);
  },
);
