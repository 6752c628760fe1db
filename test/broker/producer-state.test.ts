import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MemoryLogger } from '../../src/broker/logger.js';
import {
  BATCHES_KEPT_PER_PRODUCER,
  PartitionProducerState,
  incrementSequence,
  snapshotFileName,
  type ProducerCheck,
  type ProducerEntry,
} from '../../src/broker/producer-state.js';
import { ErrorCode } from '../../src/protocol/generated/error-codes.js';
import { RecordBatchHeader } from '../../src/protocol/record-batch/header.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { MemoryLogger as StorageMemoryLogger } from '../../src/storage/logger.js';
import { PartitionLog } from '../../src/storage/log.js';

const MAX_SEQUENCE = 0x7fffffff;
const NOW = 1_700_000_000_000;

const directories: string[] = [];
after(() => directories.forEach((directory) => rmSync(directory, { recursive: true, force: true })));
function tempDir(): string {
  const directory = mkdtempSync(join(tmpdir(), 'sluice-producer-state-'));
  directories.push(directory);
  const partition = join(directory, 'orders-0');
  mkdirSync(partition);
  return partition;
}

interface BatchSpec {
  producerId: number;
  epoch: number;
  sequence: number;
  count?: number;
  transactional?: boolean;
  timestamp?: number;
}

async function encode(spec: BatchSpec): Promise<Buffer> {
  return encodeRecordBatch({
    records: Array.from({ length: spec.count ?? 1 }, (_, index) => ({
      value: Buffer.from(`value-${spec.sequence}-${index}`),
    })),
    producerId: spec.producerId,
    producerEpoch: spec.epoch,
    baseSequence: spec.sequence,
    transactional: spec.transactional ?? false,
    timestamp: spec.timestamp ?? NOW,
  });
}

/** A partition without a log: offsets are assigned here the way PartitionLog.append does. */
class FakePartition {
  nextOffset = 0;
  readonly state: PartitionProducerState;
  constructor(directory = tempDir(), options: ConstructorParameters<typeof PartitionProducerState>[1] = {}) {
    this.state = new PartitionProducerState(directory, options);
  }
  async check(spec: BatchSpec, nowMs = NOW): Promise<ProducerCheck> {
    return this.state.check(new RecordBatchHeader(await encode(spec)), nowMs);
  }
  /** check, then append and record when the check says new. Returns the check and the assigned offsets. */
  async produce(
    spec: BatchSpec,
    nowMs = NOW,
  ): Promise<{ check: ProducerCheck; baseOffset: number; lastOffset: number }> {
    const header = new RecordBatchHeader(await encode(spec));
    const check = this.state.check(header, nowMs);
    if (check.kind !== 'new') return { check, baseOffset: -1, lastOffset: -1 };
    header.setBaseOffset(this.nextOffset);
    this.nextOffset += header.lastOffsetDelta + 1;
    this.state.record(header, nowMs);
    return { check, baseOffset: header.baseOffset, lastOffset: header.lastOffset };
  }
}

function assertError(check: ProducerCheck, errorCode: number): void {
  assert.equal(check.kind, 'error', `expected error ${errorCode}, got ${JSON.stringify(check)}`);
  assert.equal((check as { errorCode: number }).errorCode, errorCode, JSON.stringify(check));
}

function snapshotOf(state: PartitionProducerState): ProducerEntry[] {
  return [...state.producers()].map((entry) => structuredClone(entry));
}

// ── check outcomes ───────────────────────────────────────────────────────────────────────────────

test('in-order batches are new; a gap, a repeat of an older range or a lower sequence is out of order', async () => {
  const partition = new FakePartition();
  assert.equal((await partition.produce({ producerId: 7, epoch: 0, sequence: 0, count: 3 })).check.kind, 'new');
  assert.equal((await partition.produce({ producerId: 7, epoch: 0, sequence: 3, count: 2 })).check.kind, 'new');
  assertError(await partition.check({ producerId: 7, epoch: 0, sequence: 6 }), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assertError(await partition.check({ producerId: 7, epoch: 0, sequence: 4 }), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  // Same base sequence as a kept batch but a different length: not a duplicate.
  assertError(
    await partition.check({ producerId: 7, epoch: 0, sequence: 3, count: 1 }),
    ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  );
  assert.equal((await partition.check({ producerId: 7, epoch: 0, sequence: 5 })).kind, 'new');
  // Producers are independent.
  assert.equal((await partition.produce({ producerId: 8, epoch: 0, sequence: 0 })).check.kind, 'new');
  assert.equal(partition.state.producerCount, 2);
  assert.equal(partition.state.endOffset, 6);
});

// A duplicate of the sixth-oldest batch is out of order.
test('a duplicate of one of the last five batches returns its original offsets', async () => {
  const partition = new FakePartition();
  const appended: { sequence: number; count: number; baseOffset: number; lastOffset: number }[] = [];
  let sequence = 0;
  for (let index = 0; index < 6; index += 1) {
    const count = index + 1;
    await partition.produce({ producerId: 1000 + index, epoch: 0, sequence: 0 }); // others move the offsets
    const result = await partition.produce({ producerId: 2, epoch: 3, sequence, count });
    assert.equal(result.check.kind, 'new');
    appended.push({ sequence, count, baseOffset: result.baseOffset, lastOffset: result.lastOffset });
    sequence += count;
  }
  assert.equal(partition.state.entry(2)!.batches.length, BATCHES_KEPT_PER_PRODUCER);
  for (const batch of appended.slice(1)) {
    const check = await partition.check({ producerId: 2, epoch: 3, sequence: batch.sequence, count: batch.count });
    assert.equal(check.kind, 'duplicate');
    assert.deepEqual(check, {
      kind: 'duplicate',
      baseOffset: batch.baseOffset,
      lastOffset: batch.lastOffset,
      maxTimestamp: NOW,
    });
  }
  const oldest = appended[0]!;
  assertError(
    await partition.check({ producerId: 2, epoch: 3, sequence: oldest.sequence, count: oldest.count }),
    ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  );
});

test('an older epoch is fenced, even for what would be a duplicate', async () => {
  const partition = new FakePartition();
  await partition.produce({ producerId: 5, epoch: 4, sequence: 0 });
  assertError(await partition.check({ producerId: 5, epoch: 3, sequence: 1 }), ErrorCode.INVALID_PRODUCER_EPOCH);
  assertError(await partition.check({ producerId: 5, epoch: 3, sequence: 0 }), ErrorCode.INVALID_PRODUCER_EPOCH);
  assert.equal((await partition.check({ producerId: 5, epoch: 4, sequence: 0 })).kind, 'duplicate');
});

test('a newer epoch must start at sequence 0, and then forgets the old epoch sequences', async () => {
  const partition = new FakePartition();
  await partition.produce({ producerId: 9, epoch: 0, sequence: 0, count: 10 });
  assertError(await partition.check({ producerId: 9, epoch: 1, sequence: 10 }), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assertError(await partition.check({ producerId: 9, epoch: 1, sequence: 5 }), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  const bumped = await partition.produce({ producerId: 9, epoch: 1, sequence: 0, count: 2 });
  assert.equal(bumped.check.kind, 'new');
  assert.equal(partition.state.entry(9)!.producerEpoch, 1);
  assert.deepEqual(
    partition.state.entry(9)!.batches.map((batch) => batch.baseSequence),
    [0],
  );
  assertError(await partition.check({ producerId: 9, epoch: 0, sequence: 10 }), ErrorCode.INVALID_PRODUCER_EPOCH);
  assert.deepEqual(await partition.check({ producerId: 9, epoch: 1, sequence: 0, count: 2 }), {
    kind: 'duplicate',
    baseOffset: 10,
    lastOffset: 11,
    maxTimestamp: NOW,
  });
  assert.equal((await partition.check({ producerId: 9, epoch: 1, sequence: 2 })).kind, 'new');
});

test('an unknown producer is accepted at any sequence (Kafka since KIP-360), then checked from there', async () => {
  const partition = new FakePartition();
  assert.equal((await partition.produce({ producerId: 11, epoch: 2, sequence: 42, count: 3 })).check.kind, 'new');
  assertError(await partition.check({ producerId: 11, epoch: 2, sequence: 0 }), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.equal((await partition.check({ producerId: 11, epoch: 2, sequence: 45 })).kind, 'new');
});

test('sequences wrap from 2^31-1 to 0, between batches and inside one', async () => {
  assert.equal(incrementSequence(MAX_SEQUENCE, 1), 0);
  assert.equal(incrementSequence(MAX_SEQUENCE - 1, 4), 2);
  assert.equal(incrementSequence(10, 4), 14);
  const partition = new FakePartition();
  await partition.produce({ producerId: 3, epoch: 0, sequence: MAX_SEQUENCE - 2, count: 3 });
  assert.equal(partition.state.entry(3)!.batches[0]!.lastSequence, MAX_SEQUENCE);
  assertError(
    await partition.check({ producerId: 3, epoch: 0, sequence: MAX_SEQUENCE }),
    ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  );
  assert.equal((await partition.produce({ producerId: 3, epoch: 0, sequence: 0, count: 2 })).check.kind, 'new');
  // A batch that itself crosses the wrap.
  const other = new FakePartition();
  const crossing = await other.produce({ producerId: 4, epoch: 0, sequence: MAX_SEQUENCE - 1, count: 5 });
  assert.equal(other.state.entry(4)!.batches[0]!.lastSequence, 2);
  assert.deepEqual(await other.check({ producerId: 4, epoch: 0, sequence: MAX_SEQUENCE - 1, count: 5 }), {
    kind: 'duplicate',
    baseOffset: crossing.baseOffset,
    lastOffset: crossing.lastOffset,
    maxTimestamp: NOW,
  });
  assertError(await other.check({ producerId: 4, epoch: 0, sequence: 0 }), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.equal((await other.check({ producerId: 4, epoch: 0, sequence: 3 })).kind, 'new');
});

test('a batch that is not an idempotent data batch is refused as INVALID_RECORD, never counted', async () => {
  const partition = new FakePartition();
  assertError(await partition.check({ producerId: 4, epoch: 0, sequence: -1 }), ErrorCode.INVALID_RECORD);
  assert.equal(partition.state.producerCount, 0);
});

// ── expiry and the producer cap ──────────────────────────────────────────────────────────────────

test('expire forgets producers idle for producer.id.expiration.ms, keeps active ones, open transactions', async () => {
  const partition = new FakePartition(tempDir(), { producerIdExpirationMs: 1000 });
  await partition.produce({ producerId: 1, epoch: 0, sequence: 0 }, NOW);
  await partition.produce({ producerId: 2, epoch: 0, sequence: 0 }, NOW);
  await partition.produce({ producerId: 3, epoch: 0, sequence: 0, transactional: true }, NOW);
  await partition.produce({ producerId: 2, epoch: 0, sequence: 1 }, NOW + 500);
  assert.equal(partition.state.entry(3)!.transactionFirstOffset, 2);
  assert.equal(partition.state.expire(NOW + 999), 0);
  assert.equal(partition.state.expire(NOW + 1000), 1);
  assert.equal(partition.state.entry(1), undefined);
  assert.ok(partition.state.entry(2) !== undefined);
  assert.ok(partition.state.entry(3) !== undefined, 'a producer with an open transaction does not expire');
  assert.equal(partition.state.expire(NOW + 1500), 1);
  assert.deepEqual(
    [...partition.state.producers()].map((entry) => entry.producerId),
    [3],
  );
  // An expired producer is unknown again: any sequence is accepted.
  assert.equal((await partition.check({ producerId: 1, epoch: 0, sequence: 17 })).kind, 'new');
});

test('past maxProducers the least recently used producer is dropped', async () => {
  const logger = new MemoryLogger();
  const partition = new FakePartition(tempDir(), { maxProducers: 3, logger });
  for (const producerId of [1, 2, 3]) await partition.produce({ producerId, epoch: 0, sequence: 0 });
  await partition.produce({ producerId: 1, epoch: 0, sequence: 1 }); // 1 becomes the most recently used
  await partition.produce({ producerId: 4, epoch: 0, sequence: 0 });
  assert.deepEqual(
    [...partition.state.producers()].map((entry) => entry.producerId),
    [3, 1, 4],
  );
  await partition.produce({ producerId: 5, epoch: 0, sequence: 0 });
  assert.deepEqual(
    [...partition.state.producers()].map((entry) => entry.producerId),
    [1, 4, 5],
  );
  assert.equal(logger.lines.filter((line) => line.level === 'warn').length, 2);
});

// ── snapshots and recovery against a real log ────────────────────────────────────────────────────

async function openLog(directory: string): Promise<PartitionLog> {
  return PartitionLog.open({
    directory,
    topic: 'orders',
    partition: 0,
    config: { flushPolicy: { kind: 'os' } },
    logger: new StorageMemoryLogger(),
  });
}

/** Produces through check → append → record, exactly as the broker does. */
async function produceTo(log: PartitionLog, state: PartitionProducerState, spec: BatchSpec): Promise<ProducerCheck> {
  const batch = await encode(spec);
  const header = new RecordBatchHeader(batch);
  if (spec.producerId >= 0) {
    const check = state.check(header, NOW);
    if (check.kind !== 'new') return check;
  }
  const done = log.append(batch);
  if (spec.producerId >= 0) state.record(header, NOW);
  await done;
  return { kind: 'new' };
}

/** A mixed workload: three idempotent producers (one bumping its epoch), plus plain batches. */
async function workload(
  log: PartitionLog,
  state: PartitionProducerState,
  rounds: number,
  firstRound = 0,
): Promise<void> {
  for (let round = firstRound; round < firstRound + rounds; round += 1) {
    assert.equal(
      (await produceTo(log, state, { producerId: 100, epoch: 0, sequence: round * 2, count: 2 })).kind,
      'new',
    );
    assert.equal((await produceTo(log, state, { producerId: -1, epoch: -1, sequence: -1, count: 3 })).kind, 'new');
    assert.equal(
      (
        await produceTo(log, state, {
          producerId: 200,
          epoch: round < 3 ? 0 : 1,
          sequence: round < 3 ? round : round - 3,
        })
      ).kind,
      'new',
    );
    if (round % 2 === 0)
      assert.equal(
        (await produceTo(log, state, { producerId: 300 + round, epoch: 0, sequence: 0, count: 4 })).kind,
        'new',
      );
  }
}

test('recovery from the newest snapshot plus the replayed tail equals the live state', async () => {
  const directory = tempDir();
  const log = await openLog(directory);
  const live = new PartitionProducerState(directory);
  await workload(log, live, 3);
  await live.writeSnapshot(log.logEndOffset);
  const snapshotOffset = log.logEndOffset;
  await workload(log, live, 4, 3);
  const expected = snapshotOf(live);
  const logEnd = log.logEndOffset;
  await log.close();

  const reopened = await openLog(directory);
  assert.equal(reopened.logEndOffset, logEnd);
  const recovered = await PartitionProducerState.recover(reopened, { nowMs: NOW });
  assert.equal(recovered.recovery!.snapshotOffset, snapshotOffset);
  assert.equal(recovered.recovery!.replayedFromOffset, snapshotOffset);
  assert.equal(recovered.recovery!.replayedBatches, 4 * 2 + 2);
  assert.deepEqual(snapshotOf(recovered), expected);
  assert.equal(recovered.endOffset, logEnd);

  // The recovered state answers as the live one did: duplicates with original offsets, gaps refused.
  const last = expected.find((entry) => entry.producerId === 100)!.batches.at(-1)!;
  assert.deepEqual(
    await produceTo(reopened, recovered, { producerId: 100, epoch: 0, sequence: last.baseSequence, count: 2 }),
    {
      kind: 'duplicate',
      baseOffset: last.baseOffset,
      lastOffset: last.lastOffset,
      maxTimestamp: NOW,
    },
  );
  assertError(
    await produceTo(reopened, recovered, { producerId: 200, epoch: 0, sequence: 3 }),
    ErrorCode.INVALID_PRODUCER_EPOCH,
  );
  assertError(
    await produceTo(reopened, recovered, { producerId: 200, epoch: 1, sequence: 9 }),
    ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  );
  assert.equal((await produceTo(reopened, recovered, { producerId: 100, epoch: 0, sequence: 14 })).kind, 'new');
  await reopened.close();
});

test('without a snapshot the state is rebuilt from the log start; one at the log end needs no replay', async () => {
  const directory = tempDir();
  const log = await openLog(directory);
  const live = new PartitionProducerState(directory);
  await workload(log, live, 5);
  const expected = snapshotOf(live);
  await log.close();

  const reopened = await openLog(directory);
  const fromLog = await PartitionProducerState.recover(reopened, { nowMs: NOW });
  assert.equal(fromLog.recovery!.snapshotOffset, null);
  assert.equal(fromLog.recovery!.replayedFromOffset, 0);
  assert.deepEqual(snapshotOf(fromLog), expected);

  await fromLog.writeSnapshot(reopened.logEndOffset);
  const fromSnapshot = await PartitionProducerState.recover(reopened, { nowMs: NOW });
  assert.equal(fromSnapshot.recovery!.snapshotOffset, reopened.logEndOffset);
  assert.equal(fromSnapshot.recovery!.replayedBatches, 0);
  assert.deepEqual(snapshotOf(fromSnapshot), expected);
  await reopened.close();
});

// The older snapshot plus a longer replay gives the same state.
test('a corrupt newest snapshot is ignored and deleted', async () => {
  const directory = tempDir();
  const log = await openLog(directory);
  const live = new PartitionProducerState(directory);
  await workload(log, live, 2);
  await live.writeSnapshot(log.logEndOffset);
  const older = log.logEndOffset;
  await workload(log, live, 2, 2);
  await live.writeSnapshot(log.logEndOffset);
  const newer = log.logEndOffset;
  await workload(log, live, 2, 4);
  const expected = snapshotOf(live);

  const newerPath = join(directory, snapshotFileName(newer));
  const bytes = readFileSync(newerPath);
  bytes[bytes.length - 10] ^= 0x04; // one bit flipped inside the JSON body
  writeFileSync(newerPath, bytes);
  const recovered = await PartitionProducerState.recover(log, { nowMs: NOW });
  assert.equal(recovered.recovery!.snapshotOffset, older);
  assert.deepEqual(
    recovered.recovery!.discardedSnapshots.map((entry) => entry.name),
    [snapshotFileName(newer)],
  );
  assert.match(recovered.recovery!.discardedSnapshots[0]!.reason, /checksum/);
  assert.deepEqual(snapshotOf(recovered), expected);
  assert.deepEqual(await recovered.snapshotOffsets(), [older]);

  // Garbage and a torn (empty) file are ignored too; then there is nothing but the log.
  writeFileSync(join(directory, snapshotFileName(older)), 'not a snapshot at all');
  writeFileSync(join(directory, snapshotFileName(older - 1)), '');
  const fromLog = await PartitionProducerState.recover(log, { nowMs: NOW });
  assert.equal(fromLog.recovery!.snapshotOffset, null);
  assert.equal(fromLog.recovery!.discardedSnapshots.length, 2);
  assert.deepEqual(snapshotOf(fromLog), expected);
  await log.close();
});

test('a snapshot whose checksum matches but whose content lies is ignored too', async () => {
  const directory = tempDir();
  const log = await openLog(directory);
  const live = new PartitionProducerState(directory);
  await workload(log, live, 2);
  const expected = snapshotOf(live);
  const offset = log.logEndOffset;
  const { crc32c } = await import('../../src/protocol/record-batch/crc32c.js');
  const write = (body: string) => {
    const checksum = crc32c(Buffer.from(body)).toString(16).padStart(8, '0');
    writeFileSync(join(directory, snapshotFileName(offset)), `sluice-producer-snapshot 1 ${checksum}\n${body}\n`);
  };
  for (const body of [
    JSON.stringify({ offset: offset + 1, producers: [] }), // the body names another offset than the file
    // a batch at or past the snapshot offset
    JSON.stringify({ offset, producers: [[1, 0, NOW, -1, [[0, 0, offset, offset, NOW]]]] }),
    JSON.stringify({
      offset,
      producers: [
        [1, 0, NOW, -1, []],
        [1, 0, NOW, -1, []],
      ],
    }), // a producer twice
    JSON.stringify({ offset, producers: [['1', 0, NOW, -1, []]] }),
  ]) {
    write(body);
    const recovered = await PartitionProducerState.recover(log, { nowMs: NOW });
    assert.equal(recovered.recovery!.snapshotOffset, null, body);
    assert.deepEqual(snapshotOf(recovered), expected);
  }
  await log.close();
});

test('snapshots above the log end (after a truncation) and below the log start are discarded', async () => {
  const directory = tempDir();
  const log = await openLog(directory);
  const live = new PartitionProducerState(directory);
  await workload(log, live, 2);
  const early = log.logEndOffset;
  await live.writeSnapshot(early);
  await workload(log, live, 2, 2);
  await live.writeSnapshot(log.logEndOffset + 50); // as if the log had held 50 more offsets before a truncation
  const expected = snapshotOf(live);

  const recovered = await PartitionProducerState.recover(log, { nowMs: NOW });
  assert.equal(recovered.recovery!.snapshotOffset, early);
  assert.match(recovered.recovery!.discardedSnapshots[0]!.reason, /above the log end/);
  assert.deepEqual(await recovered.snapshotOffsets(), [early]);
  assert.deepEqual(snapshotOf(recovered), expected);

  await log.deleteRecordsBefore(early + 1);
  const afterDelete = await PartitionProducerState.recover(log, { nowMs: NOW });
  assert.equal(afterDelete.recovery!.snapshotOffset, null);
  assert.match(afterDelete.recovery!.discardedSnapshots[0]!.reason, /below the log start/);
  assert.deepEqual(await afterDelete.snapshotOffsets(), []);
  // Only what the kept log shows is rebuilt: producers whose batches were all deleted are forgotten.
  for (const entry of snapshotOf(afterDelete)) {
    assert.ok(entry.batches.every((batch) => batch.lastOffset >= early + 1));
  }
  // The batch holding the new log start (offsets early, early + 1) is partly kept, so it counts.
  assert.equal(afterDelete.entry(100)!.batches[0]!.baseOffset, early);
  assert.deepEqual(
    afterDelete.entry(100)!.batches.map((batch) => batch.baseSequence),
    [4, 6],
  );
  await log.close();
});

test('writeSnapshot keeps the newest two and drops snapshots above the one written', async () => {
  const directory = tempDir();
  const state = new PartitionProducerState(directory);
  for (const offset of [10, 20, 30, 40]) await state.writeSnapshot(offset);
  assert.deepEqual(await state.snapshotOffsets(), [30, 40]);
  assert.deepEqual(readdirSync(directory).sort(), [snapshotFileName(30), snapshotFileName(40)]);
  // A state rebuilt after truncating to 35 writes at 35: the snapshot at 40 describes a lost future.
  const rebuilt = new PartitionProducerState(directory);
  await rebuilt.writeSnapshot(35);
  assert.deepEqual(await rebuilt.snapshotOffsets(), [30, 35]);
  await rebuilt.deleteSnapshotsAbove(30);
  assert.deepEqual(await rebuilt.snapshotOffsets(), [30]);
  // A snapshot below what the state already holds would lose batches: a bug, stopped by an assertion.
  const partition = new FakePartition(directory);
  await partition.produce({ producerId: 1, epoch: 0, sequence: 0, count: 5 });
  assert.throws(() => partition.state.writeSnapshot(4), /invariant/);
});

test('snapshot writes asked for at once run in call order: the newest two are what stays', async () => {
  const directory = tempDir();
  const state = new PartitionProducerState(directory);
  // Not awaited one by one: each write's clean-up must not delete a newer snapshot, nor run before it.
  await Promise.all([10, 20, 30, 40].map((offset) => state.writeSnapshot(offset)));
  assert.deepEqual(await state.snapshotOffsets(), [30, 40]);
  assert.deepEqual(readdirSync(directory).sort(), [snapshotFileName(30), snapshotFileName(40)]);
});

test('recovery expires producers whose snapshot shows them idle too long, and keeps their transactions', async () => {
  const directory = tempDir();
  const log = await openLog(directory);
  const live = new PartitionProducerState(directory, { producerIdExpirationMs: 60_000 });
  await produceTo(log, live, { producerId: 1, epoch: 0, sequence: 0 });
  await produceTo(log, live, { producerId: 2, epoch: 0, sequence: 0, transactional: true });
  await live.writeSnapshot(log.logEndOffset);
  await produceTo(log, live, { producerId: 3, epoch: 0, sequence: 0 }); // replayed: active at recovery time
  const recovered = await PartitionProducerState.recover(log, { nowMs: NOW + 60_000, producerIdExpirationMs: 60_000 });
  assert.equal(recovered.recovery!.expiredProducers, 1);
  assert.deepEqual(
    [...recovered.producers()].map((entry) => entry.producerId),
    [2, 3],
  );
  assert.equal(recovered.entry(2)!.transactionFirstOffset, 1);
  assert.equal(recovered.entry(3)!.lastActivityMs, NOW + 60_000);
  await log.close();
});
