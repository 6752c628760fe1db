// A Partition as a follower (src/broker/partition/partition.ts, issue 14): it appends its leader's
// batches byte for byte, keeps its high watermark at min(leader's, its own durable end) and never
// lets it move back, refuses appends of its own, cuts a divergent tail and rebuilds its producer
// state for what is left, and comes back after a crash with its batches, epochs and producers. A
// leader's high watermark follows a rule that can be replaced while it runs; its followers read past it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLogger } from '../../src/broker/logger.js';
import { PartitionHooks } from '../../src/broker/partition/hooks.js';
import type { Partition, PartitionRole } from '../../src/broker/partition/partition.js';
import { PartitionSet } from '../../src/broker/partition-set.js';
import { DEFAULT_PRODUCER_ID_EXPIRATION_MS } from '../../src/broker/producer-state.js';
import { RecordBatchHeader } from '../../src/protocol/record-batch/header.js';
import { encodeRecordBatchSync } from '../../src/protocol/record-batch/record-encoder.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { StorageError } from '../../src/storage/errors.js';
import { resolveLogConfig } from '../../src/storage/limits.js';
import type { AppendResult } from '../../src/storage/log.js';
import { MemoryLogger as StorageMemoryLogger } from '../../src/storage/logger.js';

const topic = 'orders';
const topicId = Buffer.alloc(16, 7);
const clock = new ManualClock(1_700_000_000_000);
const dataDirs: string[] = [];
after(() => dataDirs.forEach((directory) => rmSync(directory, { recursive: true, force: true })));

interface Opened {
  set: PartitionSet;
  partition: Partition;
  directory: string;
  dataDir: string;
}

/** Partition 0 of `topic` in a data directory (a new one unless given), opened as the broker does. */
async function openPartition(role: PartitionRole, dataDir = mkdtempSync(join(tmpdir(), 'sluice-replica-'))) {
  if (!dataDirs.includes(dataDir)) dataDirs.push(dataDir);
  const set = new PartitionSet(dataDir, new StorageMemoryLogger(), {
    producerIdExpirationMs: DEFAULT_PRODUCER_ID_EXPIRATION_MS,
    logger: new MemoryLogger(),
    clock,
    hooks: new PartitionHooks(),
    initialRole: role,
  });
  await set.open(topic, topicId, 0, 1, resolveLogConfig({ segmentBytes: 1500, indexIntervalBytes: 400 }));
  const opened: Opened = {
    set,
    partition: set.get(topic, 0)!,
    directory: PartitionSet.directoryOf(dataDir, topic, 0),
    dataDir,
  };
  return opened;
}

/** A batch of `count` records; of idempotent producer `producerId` from `sequence` when given. */
function batch(count: number, producer?: { id: number; sequence: number }): Buffer {
  return encodeRecordBatchSync({
    records: Array.from({ length: count }, (_, i) => ({ value: Buffer.from(`value ${i} `.repeat(20)) })),
    ...(producer === undefined ? {} : { producerId: producer.id, producerEpoch: 0, baseSequence: producer.sequence }),
  });
}

/** What the produce pipeline does with an admitted batch: the append, and its producer recorded in the
 *  same tick. */
function produce(partition: Partition, bytes: Buffer): Promise<AppendResult> {
  assert.equal(partition.appendRefusal, null);
  const appended = partition.append(bytes);
  const header = new RecordBatchHeader(bytes);
  if (header.producerId >= 0) partition.producers.record(header, clock.now());
  return appended;
}

/** What a follower's fetch loop does: read past the leader's high watermark, append, follow its high watermark. */
async function replicate(leader: Partition, follower: Partition, maxBytes = 900): Promise<void> {
  while (follower.logEndOffset < leader.logEndOffset) {
    const read = await leader.readForReplica(follower.logEndOffset, maxBytes);
    const taken = await follower.appendReplicated(read.records);
    assert.equal(taken.bytes, read.records.length);
    follower.followHighWatermark(leader.highWatermark);
  }
}

function logFiles(directory: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(directory).sort())
    if (name.endsWith('.log')) files.set(name, readFileSync(join(directory, name)));
  return files;
}

test("a follower's copy is byte for byte the leader's, with the leader's epochs", async () => {
  const leader = await openPartition('leader');
  const follower = await openPartition('follower');
  let sequence = 0;
  for (const epoch of [0, 0, 3, 3, 5]) {
    if (epoch !== leader.partition.leaderEpoch) await leader.partition.becomeLeader(epoch);
    await produce(leader.partition, batch(3, { id: 77, sequence }));
    sequence += 3;
  }
  for (let i = 0; i < 4; i += 1) await produce(leader.partition, batch(2));
  assert.equal(follower.partition.role, 'follower');
  await replicate(leader.partition, follower.partition);
  assert.equal(follower.partition.logEndOffset, leader.partition.logEndOffset);
  assert.deepEqual(follower.partition.log.leaderEpochEntries, [
    { epoch: 0, startOffset: 0 },
    { epoch: 3, startOffset: 6 },
    { epoch: 5, startOffset: 12 },
  ]);
  assert.deepEqual(follower.partition.endOffsetForEpoch(3), { leaderEpoch: 3, endOffset: 12 });
  assert.deepEqual(
    follower.partition.producers.entry(77)?.batches.at(-1),
    leader.partition.producers.entry(77)?.batches.at(-1),
  );
  assert.ok(leader.partition.log.segmentCount > 1);
  await leader.set.closeAll();
  await follower.set.closeAll();
  assert.deepEqual(logFiles(follower.directory), logFiles(leader.directory));
});

test("a follower's high watermark: the lower of its leader's and its own durable end, never back", async () => {
  const leader = await openPartition('leader');
  const follower = await openPartition('follower');
  for (let i = 0; i < 5; i += 1) await produce(leader.partition, batch(2));
  assert.equal(leader.partition.highWatermark, 10);
  const first = await leader.partition.readForReplica(0, 1); // one batch (KIP-74)
  await follower.partition.appendReplicated(first.records);
  assert.equal(follower.partition.highWatermark, 0, 'nothing is known committed before the leader says so');
  follower.partition.followHighWatermark(leader.partition.highWatermark);
  assert.equal(follower.partition.highWatermark, 2, 'its own end bounds it: 2 < the leader\u2019s 10');
  const more = await leader.partition.readForReplica(2, 1 << 20); // the rest of the first segment
  await follower.partition.appendReplicated(more.records);
  assert.equal(more.nextOffset, 6);
  assert.equal(follower.partition.highWatermark, 6, 'each append asks again, up to the leader\u2019s last word');
  follower.partition.followHighWatermark(4); // a new leader that has not caught up yet
  assert.equal(follower.partition.highWatermark, 6, 'never back');
  const last = await leader.partition.readForReplica(6, 1 << 20);
  await follower.partition.appendReplicated(last.records);
  assert.equal(follower.partition.logEndOffset, 10);
  assert.equal(follower.partition.highWatermark, 6, 'the leader\u2019s word (4 now) bounds it');
  assert.equal(follower.partition.lastStableOffset, 6);
  assert.equal((await follower.partition.read(6, 1 << 20)).records.length, 0, 'a read stops at the high watermark');
  assert.equal((await follower.partition.readForReplica(6, 1 << 20)).nextOffset, 10, 'a replica read does not');
  follower.partition.followHighWatermark(8);
  assert.equal(follower.partition.highWatermark, 8);
  await leader.set.closeAll();
  await follower.set.closeAll();
});

test('a follower refuses appends of its own, a leader replicated ones; the roles change with the epoch', async () => {
  const leader = await openPartition('leader');
  const follower = await openPartition('follower');
  const notInRole = (error: StorageError) => error instanceof StorageError && error.code === 'NOT_LEADER_OR_FOLLOWER';
  assert.equal(follower.partition.appendRefusal?.code, 'NOT_LEADER_OR_FOLLOWER');
  await assert.rejects(follower.partition.append(batch(1)), notInRole);
  assert.equal(follower.partition.logEndOffset, 0);
  await produce(leader.partition, batch(1));
  const read = await leader.partition.readForReplica(0, 1 << 20);
  await assert.rejects(leader.partition.appendReplicated(read.records), notInRole);
  await assert.rejects(leader.partition.truncateTo(0), notInRole);
  leader.partition.followHighWatermark(0); // ignored on a leader
  assert.equal(leader.partition.highWatermark, 1);
  // Epochs only grow.
  leader.partition.becomeFollower(2);
  assert.equal(leader.partition.role, 'follower');
  assert.equal(leader.partition.highWatermark, 1, 'kept across the change');
  assert.throws(
    () => leader.partition.becomeFollower(1),
    (error: StorageError) => error.code === 'FENCED_LEADER_EPOCH',
  );
  await assert.rejects(leader.partition.becomeLeader(1), (error: StorageError) => error.code === 'FENCED_LEADER_EPOCH');
  await leader.partition.becomeLeader(3);
  assert.equal(leader.partition.role, 'leader');
  assert.equal(leader.partition.leaderEpoch, 3);
  const appended = batch(1);
  await produce(leader.partition, appended);
  assert.equal(appended.readInt32BE(12), 3, 'stamped with the new epoch');
  assert.deepEqual(leader.partition.log.leaderEpochEntries.at(-1), { epoch: 3, startOffset: 1 });
  // A becomeLeader overtaken by a becomeFollower while its epoch was being written does nothing.
  const overtaken = follower.partition.becomeLeader(4);
  follower.partition.becomeFollower(5);
  await overtaken;
  assert.equal(follower.partition.role, 'follower');
  assert.equal(follower.partition.leaderEpoch, 5);
  await leader.set.closeAll();
  await follower.set.closeAll();
});

test("a leader's rule can be replaced while it runs, and its followers read past its high watermark", async () => {
  const leader = await openPartition('leader');
  const follower = await openPartition('follower');
  let followerEnd = 0; // what the follower's last fetch said it has
  leader.partition.setHighWatermarkRule((log) => Math.min(log.flushedOffset, followerEnd));
  for (let i = 0; i < 3; i += 1) await produce(leader.partition, batch(2));
  assert.equal(leader.partition.highWatermark, 0, 'the follower has nothing yet');
  assert.equal((await leader.partition.read(0, 1 << 20)).records.length, 0);
  await replicate(leader.partition, follower.partition);
  followerEnd = follower.partition.logEndOffset; // its next fetch asks from there
  leader.partition.advanceHighWatermark();
  assert.equal(leader.partition.highWatermark, 6);
  follower.partition.followHighWatermark(leader.partition.highWatermark);
  assert.equal(follower.partition.highWatermark, 6);
  await leader.set.closeAll();
  await follower.set.closeAll();
});

test('a divergent tail is cut, producer state rebuilt for what is left, the leader\u2019s batches follow', async () => {
  const leader = await openPartition('leader');
  const follower = await openPartition('follower');
  await leader.partition.becomeLeader(5);
  for (let i = 0; i < 5; i += 1) await produce(leader.partition, batch(2, { id: 100, sequence: i * 2 }));
  await replicate(leader.partition, follower.partition);
  assert.equal(follower.partition.highWatermark, 10);
  // The follower led at epoch 6 for a moment and took batches nobody else got: its ISR's minimum
  // (the others have 10) held its high watermark.
  follower.partition.setHighWatermarkRule((log) => Math.min(log.flushedOffset, 10));
  await follower.partition.becomeLeader(6);
  await produce(follower.partition, batch(2, { id: 200, sequence: 0 }));
  await produce(follower.partition, batch(2, { id: 100, sequence: 10 }));
  await follower.partition.producers.writeSnapshot(follower.partition.logEndOffset);
  // Meanwhile the leader came back at epoch 7 and went on.
  await leader.partition.becomeLeader(7);
  for (let i = 0; i < 3; i += 1) await produce(leader.partition, batch(3, { id: 300, sequence: i * 3 }));
  follower.partition.becomeFollower(7);
  // KIP-101: the follower asks the leader where its own latest epoch ended.
  const { endOffset } = leader.partition.endOffsetForEpoch(6);
  assert.equal(endOffset, 10);
  await assert.rejects(follower.partition.truncateTo(8), (error: StorageError) => error.code === 'OFFSET_OUT_OF_RANGE');
  assert.equal(follower.partition.logEndOffset, 14, 'nothing cut by the refused truncation');
  await follower.partition.truncateTo(endOffset);
  assert.equal(follower.partition.logEndOffset, 10);
  assert.equal(follower.partition.highWatermark, 10);
  assert.deepEqual(follower.partition.log.leaderEpochEntries.at(-1), { epoch: 5, startOffset: 0 });
  const producers = follower.partition.producers;
  assert.equal(producers.entry(200), undefined, 'the divergent producer is gone');
  assert.equal(producers.entry(100)?.batches.at(-1)?.lastSequence, 9);
  assert.deepEqual(
    (await producers.snapshotOffsets()).filter((offset) => offset > 10),
    [],
    'no snapshot of the cut tail',
  );
  await replicate(leader.partition, follower.partition);
  assert.deepEqual(follower.partition.log.leaderEpochEntries, leader.partition.log.leaderEpochEntries);
  assert.deepEqual(producers.entry(300)?.batches, leader.partition.producers.entry(300)?.batches);
  await leader.set.closeAll();
  await follower.set.closeAll();
  assert.deepEqual(logFiles(follower.directory), logFiles(leader.directory));
});

test('after a crash a follower has its batches, epochs and producers, and a high watermark to learn', async () => {
  const leader = await openPartition('leader');
  const follower = await openPartition('follower');
  await leader.partition.becomeLeader(2);
  for (let i = 0; i < 4; i += 1) await produce(leader.partition, batch(2, { id: 9, sequence: i * 2 }));
  await leader.partition.becomeLeader(4);
  await produce(leader.partition, batch(2, { id: 9, sequence: 8 }));
  await replicate(leader.partition, follower.partition);
  await follower.partition.log.abandon(); // kill -9: no snapshot, no checkpoint at close
  const again = await openPartition('follower', follower.dataDir);
  assert.equal(again.partition.logEndOffset, 10);
  assert.equal(again.partition.highWatermark, 0, 'a follower learns it from its leader');
  assert.deepEqual(again.partition.log.leaderEpochEntries, leader.partition.log.leaderEpochEntries);
  assert.equal(again.partition.leaderEpoch, 4);
  assert.deepEqual(again.partition.producers.entry(9)?.batches, leader.partition.producers.entry(9)?.batches);
  again.partition.followHighWatermark(leader.partition.highWatermark);
  assert.equal(again.partition.highWatermark, 10);
  await leader.set.closeAll();
  await again.set.closeAll();
});
