// A follower's log (src/storage/log-replication.ts): it takes the leader's batches byte for byte,
// learns the leader epochs from them, refuses a chunk that does not check out without writing any of
// it, leaves a partial batch for the next fetch, keeps it all across a crash, and a new leader's
// epoch is stamped on later appends and recorded where it starts.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../../src/runtime/clock.js';
import { StorageError } from '../../src/storage/errors.js';
import { nodeFileSystem, type FileSystem } from '../../src/storage/file-system.js';
import { PartitionLog, type PartitionLogOptions } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import { planReplicatedChunk } from '../../src/storage/log-replication.js';
import { failingFileSystem, makeValueBatch, partitionDirectories, splitBatches } from './helpers.js';

const tempDir = partitionDirectories('orders-0');
const clock = new ManualClock(1_700_000_000_000);

function open(directory: string, options: Partial<PartitionLogOptions> = {}): Promise<PartitionLog> {
  return PartitionLog.open({
    directory,
    topic: 'orders',
    partition: 0,
    config: { segmentBytes: 1200, indexIntervalBytes: 300 },
    clock,
    logger: new MemoryLogger(),
    ...options,
  });
}

/** The files of a partition directory with `suffix`, by name. */
function filesOf(directory: string, suffix: string): Map<string, Buffer> {
  const found = new Map<string, Buffer>();
  for (const name of readdirSync(directory).sort())
    if (name.endsWith(suffix)) found.set(name, readFileSync(join(directory, name)));
  return found;
}

/** Everything of `leader` from `from` on, fetched as a follower would, `maxBytes` per fetch, appended
 *  to `follower`. Returns the number of fetches. */
async function replicate(leader: PartitionLog, follower: PartitionLog, maxBytes = 700): Promise<number> {
  let fetches = 0;
  while (follower.logEndOffset < leader.logEndOffset) {
    const read = await leader.read(follower.logEndOffset, maxBytes);
    const taken = await follower.appendReplicated(read.records);
    assert.equal(taken.bytes, read.records.length, 'whole batches: all taken');
    assert.equal(taken.logEndOffset, read.nextOffset);
    fetches += 1;
  }
  return fetches;
}

/** A leader log with batches of epochs 0, 0, 3, 3, 5 (two records each, 150-byte values). */
async function leaderWithEpochs(directory: string): Promise<PartitionLog> {
  const leader = await open(directory);
  for (const [index, epoch] of [0, 0, 3, 3, 5].entries()) {
    if (epoch !== leader.leaderEpoch) await leader.assignLeaderEpoch(epoch);
    await leader.append(makeValueBatch(2, 150, index));
  }
  return leader;
}

test("the follower's segments are byte-identical to the leader's, and its epochs follow the batches", async () => {
  const leaderDirectory = tempDir();
  const followerDirectory = tempDir();
  const leader = await leaderWithEpochs(leaderDirectory);
  for (let index = 0; index < 6; index += 1) await leader.append(makeValueBatch(3, 120, 10 + index));
  const follower = await open(followerDirectory);
  const fetches = await replicate(leader, follower);
  assert.ok(fetches > 1, 'several fetches');
  assert.ok(leader.segmentCount > 2, 'several segments');
  assert.deepEqual(follower.segmentBaseOffsets, leader.segmentBaseOffsets);
  assert.deepEqual(follower.leaderEpochEntries, [
    { epoch: 0, startOffset: 0 },
    { epoch: 3, startOffset: 4 },
    { epoch: 5, startOffset: 8 },
  ]);
  assert.deepEqual(follower.leaderEpochEntries, leader.leaderEpochEntries);
  await leader.close();
  await follower.close();
  for (const suffix of ['.log', '.index', '.timeindex', 'leader-epoch-checkpoint']) {
    const ours = filesOf(followerDirectory, suffix);
    assert.ok(ours.size > 0, suffix);
    assert.deepEqual(ours, filesOf(leaderDirectory, suffix), `${suffix} files identical`);
  }
});

/** The real file system, counting the writes to `.log` files. */
function countingLogWrites(): { fileSystem: FileSystem; logWrites: () => number } {
  const logFiles = new Set<number>();
  let writes = 0;
  const fileSystem: FileSystem = {
    ...nodeFileSystem,
    open: async (path, flags) => {
      const fd = await nodeFileSystem.open(path, flags);
      if (path.endsWith('.log')) logFiles.add(fd);
      else logFiles.delete(fd);
      return fd;
    },
    writeAll: (fd, buffers, position) => {
      if (logFiles.has(fd)) writes += 1;
      return nodeFileSystem.writeAll(fd, buffers, position);
    },
  };
  return { fileSystem, logWrites: () => writes };
}

test('a chunk spanning a roll is taken whole, one write per segment, and the visitor sees each batch', async () => {
  const leader = await leaderWithEpochs(tempDir());
  const counting = countingLogWrites();
  const follower = await open(tempDir(), { fileSystem: counting.fileSystem });
  const everything = await leader.read(0, 1 << 20);
  // One segment per read: read the rest of the leader's segments and join them into one chunk.
  const parts = [everything.records];
  for (let next = everything.nextOffset; next < leader.logEndOffset;) {
    const more = await leader.read(next, 1 << 20);
    parts.push(more.records);
    next = more.nextOffset;
  }
  const chunk = Buffer.concat(parts);
  const seen: number[] = [];
  const taken = await follower.appendReplicated(chunk, (header) => seen.push(header.baseOffset));
  assert.deepEqual(taken, { baseOffset: 0, lastOffset: 9, batches: 5, bytes: chunk.length, logEndOffset: 10 });
  assert.deepEqual(seen, [0, 2, 4, 6, 8]);
  assert.deepEqual(follower.segmentBaseOffsets, leader.segmentBaseOffsets);
  assert.equal(follower.segmentCount, 2);
  assert.equal(counting.logWrites(), 2, 'one write per segment the chunk lands in');
  const back = await follower.read(0, 1 << 20);
  assert.deepEqual(back.records, everything.records);
  await leader.close();
  await follower.close();
});

test('a partial batch at the end of a chunk is left for the next fetch', async () => {
  const leader = await leaderWithEpochs(tempDir());
  const follower = await open(tempDir());
  const read = await leader.read(0, 1 << 20);
  const [first, second] = splitBatches(read.records);
  const cut = read.records.subarray(0, first!.bytes.length + second!.bytes.length + 40);
  const taken = await follower.appendReplicated(cut);
  assert.equal(taken.batches, 2);
  assert.equal(taken.bytes, first!.bytes.length + second!.bytes.length);
  assert.equal(follower.logEndOffset, 4);
  const headerOnly = await follower.appendReplicated(read.records.subarray(taken.bytes, taken.bytes + 30));
  assert.deepEqual(headerOnly, { baseOffset: 4, lastOffset: 3, batches: 0, bytes: 0, logEndOffset: 4 });
  const rest = await follower.appendReplicated(read.records.subarray(taken.bytes));
  assert.equal(rest.logEndOffset, read.nextOffset);
  await leader.close();
  await follower.close();
});

test('a chunk with a bad batch is refused whole: the log, its files and its epochs stay as they were', async () => {
  const leader = await leaderWithEpochs(tempDir());
  const followerDirectory = tempDir();
  const follower = await open(followerDirectory);
  const read = await leader.read(0, 1 << 20);
  const batches = splitBatches(read.records);
  await follower.appendReplicated(batches[0]!.bytes);
  const before = {
    logEnd: follower.logEndOffset,
    epochs: [...follower.leaderEpochEntries],
    files: filesOf(followerDirectory, '.log'),
  };
  const rest = read.records.subarray(batches[0]!.bytes.length);
  const refusals: [string, Buffer, string][] = [];
  // A bit flipped in the chunk's second batch: its CRC fails (the first one is fine).
  const flipped = Buffer.from(rest);
  const second = batches[1]!.bytes.length;
  flipped[second + 80] = flipped[second + 80]! ^ 0x10;
  refusals.push(['bad CRC', flipped, 'CORRUPT_MESSAGE']);
  // A gap: the second batch of the chunk claims to start one offset later than the first ends.
  const gap = Buffer.from(rest);
  gap.writeBigInt64BE(BigInt(batches[2]!.baseOffset + 1), batches[1]!.bytes.length);
  refusals.push(['gap in offsets', gap, 'UNEXPECTED_APPEND_OFFSET']);
  // Not at the log end: the chunk starts with a batch the follower has already.
  refusals.push(['overlap', read.records, 'UNEXPECTED_APPEND_OFFSET']);
  const magic = Buffer.from(rest);
  magic[16] = 1;
  refusals.push(['magic 1', magic, 'CORRUPT_MESSAGE']);
  const unstamped = Buffer.from(rest);
  unstamped.writeInt32BE(-1, 12);
  refusals.push(['no leader epoch', unstamped, 'INVALID_RECORD']);
  for (const [what, chunk, code] of refusals) {
    await assert.rejects(
      follower.appendReplicated(chunk),
      (error: StorageError) =>
        error instanceof StorageError && error.code === code && /replicated batch/.test(error.message),
      what,
    );
    assert.equal(follower.logEndOffset, before.logEnd, what);
    assert.deepEqual(follower.leaderEpochEntries, before.epochs, what);
    assert.deepEqual(filesOf(followerDirectory, '.log'), before.files, what);
  }
  assert.equal(follower.readOnly, null, 'a refused chunk is the leader\u2019s problem, not the disk\u2019s');
  const taken = await follower.appendReplicated(rest);
  assert.equal(taken.logEndOffset, read.nextOffset, 'the good chunk goes in afterwards');
  await leader.close();
  await follower.close();
});

test("a batch of an epoch older than the log's last is refused; entries no batch backs give way", async () => {
  const leader = await leaderWithEpochs(tempDir());
  const follower = await open(tempDir());
  await replicate(leader, follower);
  const stale = makeValueBatch(1, 10);
  stale.writeBigInt64BE(BigInt(follower.logEndOffset), 0);
  stale.writeInt32BE(4, 12);
  await assert.rejects(follower.appendReplicated(stale), (error: StorageError) => error.code === 'FENCED_LEADER_EPOCH');
  // This replica led at epoch 7 for a moment and wrote nothing: the entry 7 → 10 has no batch.
  await follower.assignLeaderEpoch(7);
  assert.deepEqual(follower.leaderEpochEntries.at(-1), { epoch: 7, startOffset: 10 });
  stale.writeInt32BE(6, 12);
  const taken = await follower.appendReplicated(stale);
  assert.equal(taken.batches, 1);
  assert.deepEqual(follower.leaderEpochEntries.slice(-2), [
    { epoch: 5, startOffset: 8 },
    { epoch: 6, startOffset: 10 },
  ]);
  await leader.close();
  await follower.close();
});

test('after a crash the replicated batches and the leader epochs are there', async () => {
  for (const flushPolicy of ['sync', 'os'] as const) {
    const leader = await leaderWithEpochs(tempDir());
    const directory = tempDir();
    const follower = await open(directory, { config: { segmentBytes: 1200, flushPolicy: { kind: flushPolicy } } });
    await replicate(leader, follower);
    if (flushPolicy === 'os') await follower.flush();
    const stored = filesOf(directory, '.log');
    await follower.abandon(); // no checkpoint at close
    // As if the crash came before any recovery point was written: the next open scans every batch,
    // checking each one's epoch against the leader-epoch checkpoint.
    unlinkSync(join(directory, 'recovery-point-offset-checkpoint'));
    const reopened = await open(directory);
    assert.equal(reopened.logEndOffset, 10, flushPolicy);
    assert.equal(reopened.recovery.scannedSegments, 2, `${flushPolicy}: every segment scanned, epochs checked`);
    assert.equal(reopened.recovery.cuts.length, 0, flushPolicy);
    assert.deepEqual(reopened.leaderEpochEntries, leader.leaderEpochEntries, flushPolicy);
    assert.equal(reopened.leaderEpoch, 5, `${flushPolicy}: it goes on with the latest epoch`);
    assert.deepEqual(filesOf(directory, '.log'), stored, flushPolicy);
    await reopened.close();
    await leader.close();
  }
});

test('a replicated append is never acknowledged while its new epoch is not in the checkpoint', async () => {
  const leader = await leaderWithEpochs(tempDir());
  const failing = failingFileSystem();
  const follower = await open(tempDir(), { fileSystem: failing.fileSystem });
  const first = await leader.read(0, 1 << 20);
  await follower.appendReplicated(first.records); // epochs 0 and 3: written
  const second = await leader.read(first.nextOffset, 1 << 20);
  failing.arm(['rename']); // the checkpoint's temporary file cannot replace the old one
  await assert.rejects(follower.appendReplicated(second.records), (error: StorageError) => {
    return error.code === 'KAFKA_STORAGE_ERROR';
  });
  assert.notEqual(follower.readOnly, null, 'the partition turned read-only');
  failing.disarm();
  await follower.abandon();
  await leader.close();
});

test('truncating a divergent tail drops its epochs, and the true leader\u2019s batches follow', async () => {
  const leaderDirectory = tempDir();
  const followerDirectory = tempDir();
  const leader = await leaderWithEpochs(leaderDirectory);
  const follower = await open(followerDirectory);
  await replicate(leader, follower);
  // The follower briefly led at epoch 6 and wrote two batches nobody else got.
  await follower.assignLeaderEpoch(6);
  await follower.append(makeValueBatch(2, 150, 90));
  await follower.append(makeValueBatch(2, 150, 91));
  // Meanwhile the leader went on at epoch 7.
  await leader.assignLeaderEpoch(7);
  for (let index = 0; index < 3; index += 1) await leader.append(makeValueBatch(2, 150, 20 + index));
  assert.deepEqual(follower.leaderEpochEntries.at(-1), { epoch: 6, startOffset: 10 });
  await follower.truncateTo(10); // where the leader says epoch 5 ended (OffsetForLeaderEpoch)
  assert.equal(follower.logEndOffset, 10);
  assert.deepEqual(follower.leaderEpochEntries.at(-1), { epoch: 5, startOffset: 8 });
  await replicate(leader, follower);
  assert.deepEqual(follower.leaderEpochEntries, leader.leaderEpochEntries);
  await leader.close();
  await follower.close();
  assert.deepEqual(filesOf(followerDirectory, '.log'), filesOf(leaderDirectory, '.log'));
});

test('a new leader stamps its epoch on later appends, durably, and never goes back to an older one', async () => {
  const directory = tempDir();
  const log = await open(directory);
  await log.append(makeValueBatch(1, 10));
  const assigned = log.assignLeaderEpoch(2);
  const batch = makeValueBatch(1, 10);
  const appended = log.append(batch);
  assert.equal(batch.readInt32BE(12), 2, 'stamped at once');
  await Promise.all([assigned, appended]);
  assert.deepEqual(log.leaderEpochEntries, [
    { epoch: 0, startOffset: 0 },
    { epoch: 2, startOffset: 1 },
  ]);
  assert.match(readFileSync(join(directory, 'leader-epoch-checkpoint'), 'utf8'), /^0\n2\n0 0\n2 1\n$/);
  await log.assignLeaderEpoch(2); // the same epoch again: nothing new
  assert.equal(log.leaderEpochEntries.length, 2);
  await assert.rejects(log.assignLeaderEpoch(1), (error: StorageError) => error.code === 'FENCED_LEADER_EPOCH');
  await assert.rejects(log.assignLeaderEpoch(-1), RangeError);
  assert.equal(log.leaderEpoch, 2);
  await log.abandon();
  const reopened = await open(directory);
  assert.equal(reopened.logEndOffset, 2);
  assert.equal(reopened.leaderEpoch, 2);
  assert.equal((await reopened.read(1, 1000)).records.readInt32BE(12), 2);
  await reopened.close();
});

test('a compacted topic takes a batch past a gap, as its recovery does; another topic does not', () => {
  const batch = makeValueBatch(1, 10);
  batch.writeBigInt64BE(15n, 0);
  batch.writeInt32BE(0, 12);
  const end = { logEndOffset: 10, epochs: [{ epoch: 0, startOffset: 0 }] };
  assert.equal(planReplicatedChunk(batch, { ...end, compacted: true }).headers.length, 1);
  assert.throws(
    () => planReplicatedChunk(batch, { ...end, compacted: false }),
    (error: StorageError) =>
      error.code === 'UNEXPECTED_APPEND_OFFSET' && /offset 15, the log ends at 10/.test(error.message),
  );
});
