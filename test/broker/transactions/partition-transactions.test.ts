// Per-partition transaction state: the first offset of each open transaction (→ last stable offset)
// and the aborted transactions a read_committed Fetch lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PartitionProducerState } from '../../../src/broker/producer-state.js';
import {
  PartitionTransactions,
  TRANSACTIONS_MARKER_FILE,
} from '../../../src/broker/transactions/partition-transactions.js';
import {
  ControlRecordType,
  decodeControlRecord,
  encodeControlBatch,
} from '../../../src/protocol/record-batch/control.js';
import { RecordBatchHeader } from '../../../src/protocol/record-batch/header.js';
import { decodeRecordBatches } from '../../../src/protocol/record-batch/record-decoder.js';
import { encodeRecordBatchSync } from '../../../src/protocol/record-batch/record-encoder.js';
import { PartitionLog } from '../../../src/storage/log.js';
import { MemoryLogger } from '../../../src/storage/logger.js';

function data(producerId: number, baseOffset: number, count: number): RecordBatchHeader {
  const batch = encodeRecordBatchSync({
    baseOffset,
    producerId,
    producerEpoch: 0,
    baseSequence: 0,
    transactional: true,
    records: Array.from({ length: count }, (_, i) => ({ value: Buffer.from(`v${i}`) })),
  });
  return new RecordBatchHeader(batch);
}

function marker(producerId: number, offset: number): RecordBatchHeader {
  return new RecordBatchHeader(
    encodeControlBatch({
      producerId,
      producerEpoch: 0,
      coordinatorEpoch: 0,
      type: ControlRecordType.Abort,
      baseOffset: offset,
    }),
  );
}

test('open transactions give the first unstable offset; markers close them; aborts are listed by overlap', () => {
  const directory = mkdtempSync(join(tmpdir(), 'sluice-ptx-'));
  try {
    const state = new PartitionTransactions(directory);
    assert.equal(state.firstUnstableOffset, null);
    state.apply(data(1, 10, 3), null); // producer 1: 10-12
    state.apply(data(2, 13, 2), null); // producer 2: 13-14
    state.apply(data(1, 15, 1), null); // producer 1 again: first offset stays 10
    assert.equal(state.firstUnstableOffset, 10);
    assert.equal(state.openTransactionCount, 2);
    state.apply(marker(1, 16), ControlRecordType.Abort);
    assert.equal(state.firstUnstableOffset, 13);
    state.apply(marker(2, 17), ControlRecordType.Commit);
    assert.equal(state.firstUnstableOffset, null);
    state.apply(data(3, 20, 1), null);
    state.apply(marker(3, 21), ControlRecordType.Abort);
    state.apply(marker(4, 22), ControlRecordType.Abort); // a marker of a producer with nothing here: not listed

    assert.deepEqual(state.abortedOverlapping(0, 100), [
      { producerId: 1, firstOffset: 10, lastOffset: 16 },
      { producerId: 3, firstOffset: 20, lastOffset: 21 },
    ]);
    assert.deepEqual(state.abortedOverlapping(0, 10), [], 'ends before the first aborted record');
    assert.deepEqual(state.abortedOverlapping(17, 20), [], 'between the two');
    assert.deepEqual(
      state.abortedOverlapping(16, 17),
      [{ producerId: 1, firstOffset: 10, lastOffset: 16 }],
      'the marker itself overlaps',
    );
    assert.deepEqual(
      state.abortedOverlapping(21, 30).map((a) => a.producerId),
      [3],
    );
    state.prune(17);
    assert.deepEqual(
      state.abortedOverlapping(0, 100).map((a) => a.producerId),
      [3],
      'wholly below the log start: forgotten',
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('the marker file is written once, durably, and makes the next open read the aborted list', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'sluice-ptx-'));
  try {
    const state = new PartitionTransactions(directory);
    assert.equal(existsSync(join(directory, TRANSACTIONS_MARKER_FILE)), false);
    await Promise.all([state.markTransactional(), state.markTransactional()]); // two at once share one write
    await state.markTransactional();
    assert.equal(existsSync(join(directory, TRANSACTIONS_MARKER_FILE)), true);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

// ── with a partition log: the aborted list from the .txnindex, open transactions from the producer state ──

/** Appends as the broker does: the batch, then the producer state and the transaction state. */
async function appendAs(
  log: PartitionLog,
  state: PartitionTransactions,
  producers: PartitionProducerState,
  batch: Buffer,
  controlType: number | null,
): Promise<number> {
  await state.markTransactional();
  const appended = log.append(batch);
  const header = new RecordBatchHeader(batch);
  producers.record(header, Date.now());
  state.apply(header, controlType);
  return (await appended).baseOffset;
}

function dataBatch(producerId: number, sequence: number): Buffer {
  return encodeRecordBatchSync({
    baseOffset: 0,
    producerId,
    producerEpoch: 0,
    baseSequence: sequence,
    transactional: true,
    records: [{ value: Buffer.alloc(120, 0x61) }, { value: Buffer.alloc(120, 0x62) }],
  });
}

function markerBatch(producerId: number, type: number): Buffer {
  return encodeControlBatch({ producerId, producerEpoch: 0, coordinatorEpoch: 0, type });
}

async function openLog(directory: string): Promise<PartitionLog> {
  return PartitionLog.open({
    directory,
    topic: 'ptx',
    partition: 0,
    config: { segmentBytes: 700 },
    logger: new MemoryLogger(),
  });
}

/** Producer 1's transaction spans several segments (aborted at the end); producer 2 commits and
 *  aborts short ones meanwhile; producer 3 leaves one open. */
async function writeHistory(directory: string): Promise<{
  aborted: ReturnType<PartitionTransactions['abortedOverlapping']>;
  firstUnstable: number | null;
  crash: () => Promise<void>;
  log: PartitionLog;
}> {
  const log = await openLog(directory);
  const state = new PartitionTransactions(directory, log);
  const producers = new PartitionProducerState(directory);
  const sequences = new Map<number, number>();
  const data = (producerId: number) => {
    const sequence = sequences.get(producerId) ?? 0;
    sequences.set(producerId, sequence + 1);
    return appendAs(log, state, producers, dataBatch(producerId, sequence), null);
  };
  await data(1);
  for (let round = 0; round < 6; round += 1) {
    await data(2);
    await data(1);
    await appendAs(
      log,
      state,
      producers,
      markerBatch(2, round % 2 === 0 ? ControlRecordType.Abort : ControlRecordType.Commit),
      round % 2 === 0 ? ControlRecordType.Abort : ControlRecordType.Commit,
    );
  }
  await data(3);
  await appendAs(log, state, producers, markerBatch(1, ControlRecordType.Abort), ControlRecordType.Abort);
  assert.ok(log.segmentCount >= 4, `producer 1's transaction crosses segments (${log.segmentCount})`);
  const crash = async () => {
    await new Promise((resolve) => setTimeout(resolve, 50)); // the index entries' writes
    await log.abandon();
  };
  await producers.writeSnapshot(log.logEndOffset);
  return {
    aborted: state.abortedOverlapping(0, Number.MAX_SAFE_INTEGER),
    firstUnstable: state.firstUnstableOffset,
    crash,
    log,
  };
}

async function reopen(directory: string): Promise<{ log: PartitionLog; state: PartitionTransactions }> {
  const log = await openLog(directory);
  const producers = await PartitionProducerState.recover(log, { nowMs: Date.now() });
  return { log, state: await PartitionTransactions.recover(log, producers) };
}

test('recover: the aborted list comes from the .txnindex, the open transactions from the producer state', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'sluice-ptx-'));
  try {
    const before = await writeHistory(directory);
    assert.equal(before.aborted.length, 4);
    assert.ok(before.firstUnstable !== null);
    await before.log.close();
    const { log, state } = await reopen(directory);
    assert.deepEqual(state.abortedOverlapping(0, Number.MAX_SAFE_INTEGER), before.aborted);
    assert.equal(state.firstUnstableOffset, before.firstUnstable);
    assert.equal(log.recovery.cases.get('txnindex-loaded'), log.segmentCount, 'read from the files');
    await log.close();
    // Without a producer state the open transactions are found by reading the log, with the same result.
    const again = await openLog(directory);
    const fallback = await PartitionTransactions.recover(again);
    assert.equal(fallback.firstUnstableOffset, before.firstUnstable);
    assert.deepEqual(fallback.abortedOverlapping(0, Number.MAX_SAFE_INTEGER), before.aborted);
    await again.close();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

// The transaction began segments earlier than the tail.
test("recover after a crash lost the tail's .txnindex: an older transaction gets its exact first offset", async () => {
  const directory = mkdtempSync(join(tmpdir(), 'sluice-ptx-'));
  try {
    const before = await writeHistory(directory);
    const last = before.log.segmentBaseOffsets.at(-1)!;
    await before.crash();
    const tail = join(directory, `${String(last).padStart(20, '0')}.txnindex`);
    if (existsSync(tail)) unlinkSync(tail);
    // The crash came before a checkpoint past it.
    writeFileSync(join(directory, 'recovery-point-offset-checkpoint'), `0\n1\nptx 0 ${last}\n`);
    const { log, state } = await reopen(directory);
    assert.ok(log.recovery.cases.get('txnindex-unverified'), 'the tail was rescanned');
    assert.deepEqual(state.abortedOverlapping(0, Number.MAX_SAFE_INTEGER), before.aborted);
    const producer1 = before.aborted.find((aborted) => aborted.producerId === 1)!;
    assert.ok(producer1.firstOffset < last, 'its first offset lies in an earlier segment');
    await log.close();
    const { log: clean, state: cleanState } = await reopen(directory);
    assert.equal(clean.recovery.scannedSegments, 0);
    assert.deepEqual(cleanState.abortedOverlapping(0, Number.MAX_SAFE_INTEGER), before.aborted, 'and written back');
    await clean.close();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('recover: segments written before .txnindex existed are rebuilt once and their files written', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'sluice-ptx-'));
  try {
    const before = await writeHistory(directory);
    await before.log.close();
    for (const name of readdirSync(directory)) if (name.endsWith('.txnindex')) unlinkSync(join(directory, name));
    const { log, state } = await reopen(directory);
    assert.equal(log.recovery.cases.get('txnindex-missing'), log.segmentCount);
    assert.deepEqual(state.abortedOverlapping(0, Number.MAX_SAFE_INTEGER), before.aborted);
    await log.close();
    const { log: again, state: againState } = await reopen(directory);
    assert.equal(again.recovery.cases.get('txnindex-missing'), undefined, 'rebuilt only once');
    assert.deepEqual(againState.abortedOverlapping(0, Number.MAX_SAFE_INTEGER), before.aborted);
    await again.close();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

/** The old way, as the oracle: read every batch from the log start. */
async function scanWholeLog(log: PartitionLog): Promise<{
  aborted: { producerId: number; firstOffset: number; lastOffset: number }[];
  firstUnstable: number | null;
}> {
  const open = new Map<number, number>();
  const aborted: { producerId: number; firstOffset: number; lastOffset: number }[] = [];
  for (let offset = log.logStartOffset; offset < log.logEndOffset;) {
    const read = await log.read(offset, 1 << 20, { maxOffset: log.logEndOffset });
    if (read.records.length === 0) break;
    for (const batch of await decodeRecordBatches(read.records)) {
      if (!batch.isTransactional) continue;
      if (!batch.isControl) {
        if (!open.has(batch.producerId)) open.set(batch.producerId, batch.baseOffset);
        continue;
      }
      const first = open.get(batch.producerId);
      open.delete(batch.producerId);
      const record = batch.records[0]!;
      if (decodeControlRecord(record.key, record.value).type === ControlRecordType.Abort && first !== undefined)
        aborted.push({ producerId: batch.producerId, firstOffset: first, lastOffset: batch.baseOffset });
    }
    offset = read.nextOffset;
  }
  return { aborted, firstUnstable: open.size === 0 ? null : Math.min(...open.values()) };
}

// That is, a full read of what the log kept after each crash.
test('randomized crashes: recovered aborted list and last stable offset equal a full read of the log', async () => {
  const seed = Number(process.env.SLUICE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
  let state = seed >>> 0;
  const random = (below: number) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return Math.floor((((value ^ (value >>> 14)) >>> 0) / 4294967296) * below);
  };
  for (let round = 0; round < 12; round += 1) {
    const directory = mkdtempSync(join(tmpdir(), 'sluice-ptx-'));
    const context = `seed ${seed} round ${round}`;
    try {
      const log = await openLog(directory);
      const transactions = new PartitionTransactions(directory, log);
      const producers = new PartitionProducerState(directory);
      const sequences = new Map<number, number>();
      const steps = 20 + random(60);
      for (let step = 0; step < steps; step += 1) {
        const producerId = 1 + random(4);
        const choice = random(10);
        if (choice < 6) {
          const sequence = sequences.get(producerId) ?? 0;
          sequences.set(producerId, sequence + 1);
          await appendAs(log, transactions, producers, dataBatch(producerId, sequence), null);
        } else if (transactions.isOpen(producerId)) {
          const type = choice < 8 ? ControlRecordType.Abort : ControlRecordType.Commit;
          await appendAs(log, transactions, producers, markerBatch(producerId, type), type);
        }
        if (random(25) === 0) await producers.writeSnapshot(log.logEndOffset);
        if (random(30) === 0) await log.checkpoint();
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      await log.abandon();
      // Damage what a crash may: the tail segment's end, its .txnindex, an older recovery point.
      const bases = log.segmentBaseOffsets;
      const last = bases.at(-1)!;
      const name = (base: number, suffix: string) => join(directory, `${String(base).padStart(20, '0')}${suffix}`);
      const recoveryPoint = bases[random(bases.length)]!;
      writeFileSync(join(directory, 'recovery-point-offset-checkpoint'), `0\n1\nptx 0 ${recoveryPoint}\n`);
      const lastLog = readFileSync(name(last, '.log'));
      if (random(2) === 0 && lastLog.length > 0)
        writeFileSync(name(last, '.log'), lastLog.subarray(0, random(lastLog.length)));
      for (const base of bases.filter((candidate) => candidate >= recoveryPoint)) {
        const path = name(base, '.txnindex');
        const damage = random(4);
        if (damage === 0 && existsSync(path)) unlinkSync(path);
        if (damage === 1 && existsSync(path))
          writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.alloc(1 + random(40), random(256))]));
        if (damage === 2) writeFileSync(path, Buffer.alloc(34 * (1 + random(3)), random(256)));
      }
      const { log: reopened, state: recovered } = await reopen(directory);
      const expected = await scanWholeLog(reopened);
      assert.deepEqual(recovered.abortedOverlapping(0, Number.MAX_SAFE_INTEGER), expected.aborted, context);
      assert.equal(recovered.firstUnstableOffset, expected.firstUnstable, context);
      await reopened.close();
      const { log: again, state: cleanly } = await reopen(directory);
      assert.equal(again.recovery.scannedSegments, 0, context);
      assert.deepEqual(
        cleanly.abortedOverlapping(0, Number.MAX_SAFE_INTEGER),
        expected.aborted,
        `${context}, clean reopen`,
      );
      await again.close();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }
});
