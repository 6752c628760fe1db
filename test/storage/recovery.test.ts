// Recovery: one test per row of the recovery table (and a final test that every row was seen),
// then the torn-tail, garbage and bit-flip sweeps.

import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  readFileSync,
  readdirSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { test } from 'node:test';
import { crc32c } from '../../src/protocol/record-batch/crc32c.js';
import { validateBatch } from '../../src/protocol/record-batch/header.js';
import { PartitionLog, type PartitionLogOptions } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import { recoveryCases, type RecoveryCaseId } from '../../src/storage/recovery-cases.js';
import { decodeTransactionIndex, type AbortedTransactionEntry } from '../../src/storage/transaction-index.js';
import {
  makeMarker,
  makeTransactionalBatch,
  makeValueBatch,
  seededRandom,
  splitBatches,
  partitionDirectories,
} from './helpers.js';

const seen = new Set<RecoveryCaseId>();

const tempDir = partitionDirectories('events-3');

async function open(directory: string, config: PartitionLogOptions['config'] = {}): Promise<PartitionLog> {
  const log = await PartitionLog.open({ directory, topic: 'events', partition: 3, config, logger: new MemoryLogger() });
  for (const id of log.recovery.cases.keys()) seen.add(id);
  return log;
}

/** Appends `count` batches and "crashes" (closes the files without any checkpoint). Returns the
 *  stored bytes of each batch, in order. */
async function writeAndCrash(
  directory: string,
  count: number,
  config: PartitionLogOptions['config'] = {},
  records = 3,
): Promise<Buffer[]> {
  const log = await open(directory, config);
  const stored: Buffer[] = [];
  for (let index = 0; index < count; index += 1) {
    const batch = makeValueBatch(records, 40, index);
    await log.append(batch);
    stored.push(batch);
  }
  await log.abandon();
  return stored;
}

async function readAll(log: PartitionLog): Promise<Buffer[]> {
  const batches: Buffer[] = [];
  for (let offset = log.logStartOffset; offset < log.logEndOffset;) {
    const read = await log.read(offset, 1 << 20);
    if (read.records.length === 0) break;
    for (const batch of splitBatches(read.records)) {
      assert.equal(validateBatch(batch.bytes, 0, batch.bytes.length), null, 'a served batch must be valid');
      batches.push(Buffer.from(batch.bytes));
    }
    offset = read.nextOffset;
  }
  return batches;
}

function segmentPath(directory: string, baseOffset: number, suffix = '.log'): string {
  return `${directory}/${String(baseOffset).padStart(20, '0')}${suffix}`;
}

test('case batch-valid, clean-end, no-recovery-point: an unclean shutdown rescans and keeps everything', async () => {
  const directory = tempDir();
  const stored = await writeAndCrash(directory, 10);
  unlinkSync(`${directory}/recovery-point-offset-checkpoint`);
  const log = await open(directory);
  assert.ok(log.recovery.cases.get('no-recovery-point'));
  assert.equal(log.recovery.cases.get('batch-valid'), 10);
  assert.ok(log.recovery.cases.get('clean-end'));
  assert.deepEqual(await readAll(log), stored);
  await log.close();
});

test('case no-segments: a new partition gets an empty segment at the log start', async () => {
  const directory = tempDir();
  const log = await open(directory);
  assert.ok(log.recovery.cases.get('no-segments'));
  assert.ok(existsSync(segmentPath(directory, 0)));
  await log.close();
});

test('case trusted-segment: a clean reopen trusts every segment and scans none', async () => {
  const directory = tempDir();
  const log = await open(directory, { segmentBytes: 600 });
  for (let index = 0; index < 10; index += 1) await log.append(makeValueBatch(3, 40, index));
  await log.close();
  const reopened = await open(directory, { segmentBytes: 600 });
  assert.equal(reopened.recovery.scannedSegments, 0);
  assert.equal(reopened.recovery.cases.get('trusted-segment'), reopened.segmentCount);
  assert.equal(reopened.logEndOffset, 30);
  await reopened.close();
});

async function cleanLog(directory: string, batches = 12): Promise<Buffer[]> {
  const log = await open(directory, { segmentBytes: 1000, indexIntervalBytes: 100 });
  const stored: Buffer[] = [];
  for (let index = 0; index < batches; index += 1) {
    const batch = makeValueBatch(3, 40, index, { baseTimestamp: 5000 + index, maxTimestamp: 5000 + index });
    await log.append(batch);
    stored.push(batch);
  }
  await log.close();
  return stored;
}

test('case missing-index: a missing .index or .timeindex is rebuilt identically', async () => {
  const directory = tempDir();
  const stored = await cleanLog(directory);
  const index = readFileSync(segmentPath(directory, 0, '.index'));
  const timeIndex = readFileSync(segmentPath(directory, 0, '.timeindex'));
  assert.ok(index.length > 0);
  unlinkSync(segmentPath(directory, 0, '.index'));
  unlinkSync(segmentPath(directory, 0, '.timeindex'));
  const log = await open(directory, { segmentBytes: 1000, indexIntervalBytes: 100 });
  assert.ok(log.recovery.cases.get('missing-index'));
  assert.deepEqual(await readAll(log), stored);
  await log.close();
  assert.deepEqual(readFileSync(segmentPath(directory, 0, '.index')), index);
  const rebuiltTime = readFileSync(segmentPath(directory, 0, '.timeindex'));
  assert.deepEqual(rebuiltTime, timeIndex);
});

test('case corrupt-index: a malformed or stale index is deleted and rebuilt', async () => {
  for (const damage of ['odd-size', 'not-increasing', 'past-end', 'stale-last-entry', 'bad-time-index'] as const) {
    const directory = tempDir();
    const stored = await cleanLog(directory);
    const indexPath = segmentPath(directory, 0, '.index');
    const original = readFileSync(indexPath);
    const damaged = Buffer.from(original);
    if (damage === 'odd-size') writeFileSync(indexPath, Buffer.concat([original, Buffer.from([1, 2, 3])]));
    if (damage === 'not-increasing') {
      damaged.writeInt32BE(0, 8);
      writeFileSync(indexPath, damaged);
    }
    if (damage === 'past-end') {
      damaged.writeInt32BE(10_000_000, damaged.length - 4);
      writeFileSync(indexPath, damaged);
    }
    if (damage === 'stale-last-entry') {
      damaged.writeInt32BE(damaged.readInt32BE(damaged.length - 8) + 1, damaged.length - 8);
      writeFileSync(indexPath, damaged);
    }
    if (damage === 'bad-time-index') writeFileSync(segmentPath(directory, 0, '.timeindex'), Buffer.alloc(24, 0xff));
    const log = await open(directory, { segmentBytes: 1000, indexIntervalBytes: 100 });
    assert.ok(log.recovery.cases.get('corrupt-index'), damage);
    assert.deepEqual(await readAll(log), stored, damage);
    assert.deepEqual(await log.offsetForTimestamp(5003), { offset: 9, timestamp: 5003, leaderEpoch: 0 }, damage);
    await log.close();
    assert.deepEqual(readFileSync(indexPath), original, damage);
  }
});

test('case orphan-index and leftover-file: stray files are removed', async () => {
  const directory = tempDir();
  const stored = await cleanLog(directory);
  writeFileSync(segmentPath(directory, 999, '.index'), Buffer.alloc(8));
  writeFileSync(segmentPath(directory, 999, '.timeindex'), Buffer.alloc(12));
  writeFileSync(`${directory}/recovery-point-offset-checkpoint.tmp`, 'half');
  writeFileSync(segmentPath(directory, 500, '.log.deleted'), 'old');
  writeFileSync(segmentPath(directory, 600, '.log.cleaned'), 'partial');
  const log = await open(directory, { segmentBytes: 1000, indexIntervalBytes: 100 });
  assert.equal(log.recovery.cases.get('orphan-index'), 2);
  assert.equal(log.recovery.cases.get('leftover-file'), 3);
  assert.deepEqual(
    readdirSync(directory).filter(
      (name) => name.includes('999') || name.endsWith('.tmp') || name.endsWith('.deleted') || name.endsWith('.cleaned'),
    ),
    [],
  );
  assert.deepEqual(await readAll(log), stored);
  await log.close();
});

test('case swap-file: a finished compaction output is renamed over its segment', async () => {
  const directory = tempDir();
  const stored = await cleanLog(directory);
  const firstLog = segmentPath(directory, 0);
  copyFileSync(firstLog, `${firstLog}.swap`);
  writeFileSync(firstLog, Buffer.alloc(50, 0xee)); // the pre-compaction file, now obsolete
  const txnindex = Buffer.alloc(34); // an (empty-producer) entry for marker offset 0: compaction keeps it
  writeFileSync(segmentPath(directory, 0, '.txnindex'), txnindex);
  const log = await open(directory, { segmentBytes: 1000, indexIntervalBytes: 100 });
  assert.ok(log.recovery.cases.get('swap-file'));
  assert.ok(!existsSync(`${firstLog}.swap`));
  assert.deepEqual(
    readFileSync(segmentPath(directory, 0, '.txnindex')),
    txnindex,
    'the .txnindex stays with the compacted segment',
  );
  assert.deepEqual(await readAll(log), stored);
  await log.close();
});

test('case recovery-point-beyond-end: a checkpoint past the data is not believed', async () => {
  const directory = tempDir();
  const stored = await cleanLog(directory);
  writeFileSync(`${directory}/recovery-point-offset-checkpoint`, '0\n1\nevents 3 5000\n');
  const log = await open(directory, { segmentBytes: 1000, indexIntervalBytes: 100 });
  assert.ok(log.recovery.cases.get('recovery-point-beyond-end'));
  assert.equal(log.flushedOffset, 36);
  assert.deepEqual(await readAll(log), stored);
  await log.close();
});

test('case damaged-tail: garbage after the last indexed batch of a trusted segment is found and cut', async () => {
  const directory = tempDir();
  const stored = await cleanLog(directory);
  const last = readdirSync(directory)
    .filter((name) => name.endsWith('.log'))
    .sort()
    .at(-1)!;
  const path = `${directory}/${last}`;
  writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.alloc(30, 0x5a)]));
  const log = await open(directory, { segmentBytes: 1000, indexIntervalBytes: 100 });
  assert.ok(log.recovery.cases.get('damaged-tail'));
  assert.equal(log.recovery.cuts.length, 1);
  assert.deepEqual(await readAll(log), stored);
  await log.close();
});

/** Corrupts the last batch of a crashed log in a chosen way; returns the recovered batches. */
async function corruptLastBatch(
  damage: (file: Buffer, batchStart: number) => Buffer,
): Promise<{ log: PartitionLog; stored: Buffer[]; recovered: Buffer[] }> {
  const directory = tempDir();
  const stored = await writeAndCrash(directory, 6);
  const path = segmentPath(directory, 0);
  const file = readFileSync(path);
  const lastStart = file.length - stored.at(-1)!.length;
  writeFileSync(path, damage(Buffer.from(file), lastStart));
  const log = await open(directory);
  return { log, stored, recovered: await readAll(log) };
}

function resign(file: Buffer, start: number): void {
  const end = start + file.readInt32BE(start + 8) + 12;
  file.writeUInt32BE(crc32c(file.subarray(start + 21, end)), start + 17);
}

const batchCases: [RecoveryCaseId, (file: Buffer, start: number) => Buffer][] = [
  ['torn-header', (file, start) => file.subarray(0, start + 30)],
  ['torn-batch', (file) => file.subarray(0, file.length - 1)],
  ['bad-length', (file, start) => (file.writeInt32BE(10, start + 8), file)],
  ['bad-magic', (file, start) => (file.writeInt8(1, start + 16), file)],
  ['bad-crc', (file) => ((file[file.length - 1]! ^= 0x10), file)],
  ['bad-count', (file, start) => (file.writeInt32BE(7, start + 57), resign(file, start), file)],
  ['bad-epoch', (file, start) => (file.writeInt32BE(5, start + 12), file)],
  ['offset-mismatch', (file, start) => (file.writeBigInt64BE(3n, start), file)],
];

for (const [id, damage] of batchCases) {
  test(`case ${id}: the last batch is cut, every earlier one kept`, async () => {
    const { log, stored, recovered } = await corruptLastBatch(damage);
    assert.ok(log.recovery.cases.get(id), `expected case ${id}, saw ${[...log.recovery.cases.keys()].join(', ')}`);
    assert.deepEqual(recovered, stored.slice(0, -1));
    assert.equal(log.logEndOffset, 15);
    const cut = log.recovery.cuts[0]!;
    assert.equal(cut.case, id);
    assert.equal(cut.fromOffset, 15);
    assert.equal(
      cut.fromByte,
      stored.slice(0, -1).reduce((sum, batch) => sum + batch.length, 0),
    );
    // The log continues from the cut.
    assert.deepEqual(await log.append(makeValueBatch(1, 10)), { baseOffset: 15, lastOffset: 15 });
    await log.close();
  });
}

test('case segment-after-cut: segments after a cut are deleted', async () => {
  const directory = tempDir();
  const stored = await writeAndCrash(directory, 12, { segmentBytes: 700 });
  unlinkSync(`${directory}/recovery-point-offset-checkpoint`);
  const logs = readdirSync(directory)
    .filter((name) => name.endsWith('.log'))
    .sort();
  assert.ok(logs.length >= 3);
  const second = `${directory}/${logs[1]}`;
  const file = readFileSync(second);
  file[file.length - 5]! ^= 0xff;
  writeFileSync(second, file);
  const log = await open(directory, { segmentBytes: 700 });
  assert.equal(log.recovery.cases.get('segment-after-cut'), logs.length - 2);
  assert.equal(readdirSync(directory).filter((name) => name.endsWith('.log')).length, 2);
  const recovered = await readAll(log);
  assert.deepEqual(recovered, stored.slice(0, recovered.length));
  assert.equal(log.logEndOffset, recovered.length * 3);
  await log.close();
});

test('case segment-gap: a segment not continuing the previous one (tail lost in a roll) is dropped', async () => {
  const directory = tempDir();
  const stored = await writeAndCrash(directory, 12, { segmentBytes: 700 });
  const logs = readdirSync(directory)
    .filter((name) => name.endsWith('.log'))
    .sort();
  // The first segment loses its last batch, as if the crash came before that write reached the disk.
  const first = `${directory}/${logs[0]}`;
  truncateSync(first, statSync(first).size - stored[0]!.length);
  writeFileSync(`${directory}/recovery-point-offset-checkpoint`, '0\n1\nevents 3 0\n');
  const log = await open(directory, { segmentBytes: 700 });
  assert.equal(log.recovery.cases.get('segment-gap'), 1);
  assert.equal(log.recovery.cases.get('segment-after-cut'), logs.length - 1);
  assert.equal(log.segmentCount, 1);
  const recovered = await readAll(log);
  assert.deepEqual(recovered, stored.slice(0, recovered.length));
  assert.equal(log.logEndOffset, recovered.length * 3);
  await log.close();
});

// ── aborted-transaction indexes (.txnindex) ─────────────────────────────────────────────────────

/** Transactions of producers 1, 2, 3, … (two data batches each, every third committed, the others
 *  aborted and handed to the index as the broker does). Returns the index entries. */
async function writeTransactions(log: PartitionLog, count: number): Promise<AbortedTransactionEntry[]> {
  log.keepTransactionIndexes(true);
  const entries: AbortedTransactionEntry[] = [];
  for (let round = 0; round < count; round += 1) {
    const producerId = round + 1;
    const { baseOffset: firstOffset } = await log.append(makeTransactionalBatch(producerId, 2));
    await log.append(makeTransactionalBatch(producerId, 1));
    const abort = round % 3 !== 2;
    const { baseOffset: lastOffset } = await log.append(makeMarker(producerId, abort));
    if (!abort) continue;
    const entry = { producerId, firstOffset, lastOffset, lastStableOffset: lastOffset + 1 };
    assert.equal(log.appendAbortedTransaction(entry), true);
    entries.push(entry);
  }
  return entries;
}

async function readTransactionIndexes(log: PartitionLog) {
  log.keepTransactionIndexes(false);
  const read = await log.readTransactionIndexes();
  for (const id of log.recovery.cases.keys()) seen.add(id);
  return read;
}

function recoveryPointOnDisk(directory: string): number {
  return Number(
    readFileSync(`${directory}/recovery-point-offset-checkpoint`, 'utf8').trim().split('\n').at(-1)!.split(' ').at(-1),
  );
}

test('case txnindex-loaded, txnindex-missing, txnindex-corrupt: trusted indexes checked, bad ones listed', async () => {
  const directory = tempDir();
  const config = { segmentBytes: 500 };
  const log = await open(directory, config);
  const entries = await writeTransactions(log, 9);
  await log.close();
  const bases = log.segmentBaseOffsets;
  assert.ok(bases.length >= 4, `segments ${bases}`);
  const ends = [...bases.slice(1), log.logEndOffset];
  // Segment 0: no file (written before .txnindex existed); 1: garbage;
  // 2: torn (below the recovery point, so corrupt too).
  unlinkSync(segmentPath(directory, bases[0]!, '.txnindex'));
  writeFileSync(segmentPath(directory, bases[1]!, '.txnindex'), Buffer.alloc(34, 0x7f));
  const torn = readFileSync(segmentPath(directory, bases[2]!, '.txnindex'));
  writeFileSync(segmentPath(directory, bases[2]!, '.txnindex'), Buffer.concat([torn, Buffer.alloc(5)]));
  // An index without its segment goes.
  writeFileSync(segmentPath(directory, 999_999, '.txnindex'), Buffer.alloc(34));

  const reopened = await open(directory, config);
  assert.ok(!existsSync(segmentPath(directory, 999_999, '.txnindex')));
  const read = await readTransactionIndexes(reopened);
  assert.equal(reopened.recovery.cases.get('txnindex-missing'), 1);
  assert.equal(reopened.recovery.cases.get('txnindex-corrupt'), 2);
  assert.equal(reopened.recovery.cases.get('txnindex-loaded'), bases.length - 3);
  assert.deepEqual(
    read.unindexed,
    [0, 1, 2].map((index) => ({ baseOffset: bases[index]!, fromOffset: bases[index]!, endOffset: ends[index]! })),
  );
  const inRange = (index: number) =>
    entries.filter((entry) => entry.lastOffset >= bases[index]! && entry.lastOffset < ends[index]!);
  assert.deepEqual(
    read.entries,
    entries.filter((entry) => entry.lastOffset >= bases[3]!),
  );
  assert.ok(!existsSync(segmentPath(directory, bases[1]!, '.txnindex')), 'a corrupt index is deleted');
  // The broker finds the aborts there and completes each range; the files are written.
  for (const index of [0, 1, 2]) await reopened.completeTransactionIndex(bases[index]!, inRange(index));
  await reopened.close();
  const again = await open(directory, config);
  const complete = await readTransactionIndexes(again);
  assert.deepEqual(complete.entries, entries);
  assert.deepEqual(complete.unindexed, []);
  await again.close();
});

test("case txnindex-torn, txnindex-past-end, txnindex-unverified: a crashed tail's index is cut", async () => {
  const directory = tempDir();
  const log = await open(directory);
  const entries = await writeTransactions(log, 6); // markers: abort, abort, commit, abort, abort, commit
  await new Promise((resolve) => setTimeout(resolve, 50)); // the entries' writes (page cache)
  await log.abandon();
  const indexPath = segmentPath(directory, 0, '.txnindex');
  assert.equal(readFileSync(indexPath).length, entries.length * 34);
  // A torn last write, and the log cut before the last abort marker (a lost tail).
  writeFileSync(indexPath, Buffer.concat([readFileSync(indexPath), Buffer.alloc(20, 0x01)]));
  const lastAbort = entries.at(-1)!;
  const logBytes = readFileSync(segmentPath(directory, 0));
  const batches = splitBatches(logBytes);
  const cutAt = batches.find((batch) => batch.bytes.readBigInt64BE(0) === BigInt(lastAbort.lastOffset))!;
  truncateSync(segmentPath(directory, 0), cutAt.bytes.byteOffset - logBytes.byteOffset + 30);

  const reopened = await open(directory);
  assert.ok(reopened.recovery.cases.get('txnindex-torn'));
  assert.ok(reopened.recovery.cases.get('txnindex-past-end'));
  assert.ok(reopened.recovery.cases.get('txnindex-unverified'));
  assert.equal(reopened.logEndOffset, lastAbort.lastOffset);
  assert.deepEqual(
    decodeTransactionIndex('t', 0, readFileSync(indexPath), Number.MAX_SAFE_INTEGER),
    entries.slice(0, -1),
    'cut to whole entries the log still holds',
  );
  const read = await readTransactionIndexes(reopened);
  assert.deepEqual(read.entries, entries.slice(0, -1));
  // Above the recovery point (0: never checkpointed) the commit markers have no entry: the broker checks them.
  const firstCommit = entries[1]!.lastOffset + 4;
  assert.deepEqual(read.unindexed, [{ baseOffset: 0, fromOffset: firstCommit, endOffset: reopened.logEndOffset }]);
  assert.ok(recoveryPointOnDisk(directory) <= firstCommit, 'the recovery point waits for the completion');
  await reopened.completeTransactionIndex(0, []);
  await reopened.checkpoint();
  assert.equal(recoveryPointOnDisk(directory), reopened.logEndOffset);
  await reopened.close();
});

test('case txnindex-unverified: a lost tail index is relisted after a second crash, then completed', async () => {
  const directory = tempDir();
  const log = await open(directory);
  await log.append(makeValueBatch(2, 10));
  await log.checkpoint(); // the recovery point is now 2
  const entries = await writeTransactions(log, 2);
  await log.abandon();
  unlinkSync(segmentPath(directory, 0, '.txnindex')); // lost: never fsync'ed before the crash
  for (let crash = 0; crash < 2; crash += 1) {
    const reopened = await open(directory);
    const read = await readTransactionIndexes(reopened);
    assert.deepEqual(read.entries, []);
    assert.deepEqual(
      read.unindexed,
      [{ baseOffset: 0, fromOffset: entries[0]!.lastOffset, endOffset: reopened.logEndOffset }],
      `crash ${crash}`,
    );
    assert.ok(recoveryPointOnDisk(directory) <= entries[0]!.lastOffset);
    if (crash === 0) {
      await reopened.abandon(); // crashes again before the broker completed the index
      continue;
    }
    await reopened.completeTransactionIndex(0, entries);
    await reopened.close();
  }
  const last = await open(directory);
  assert.equal(last.recovery.scannedSegments, 0);
  const read = await readTransactionIndexes(last);
  assert.deepEqual(read.entries, entries);
  assert.deepEqual(read.unindexed, []);
  await last.close();
});

test('torn tail: cutting the last segment at every byte inside its last batch keeps all earlier batches', async () => {
  const directory = tempDir();
  const stored = await writeAndCrash(directory, 5);
  const path = segmentPath(directory, 0);
  const file = readFileSync(path);
  const lastStart = file.length - stored.at(-1)!.length;
  for (let cut = lastStart; cut < file.length; cut += 1) {
    writeFileSync(path, file.subarray(0, cut));
    writeFileSync(`${directory}/recovery-point-offset-checkpoint`, '0\n1\nevents 3 0\n');
    const log = await open(directory);
    assert.equal(log.logEndOffset, 12, `cut at ${cut}`);
    assert.deepEqual(await readAll(log), stored.slice(0, 4), `cut at ${cut}`);
    assert.equal(statSync(path).size, lastStart);
    await log.abandon();
  }
});

test('garbage appended after the last batch is cut, nothing else', async () => {
  const random = seededRandom(Number(process.env.SLUICE_TEST_SEED ?? 42));
  const directory = tempDir();
  const stored = await writeAndCrash(directory, 5);
  const path = segmentPath(directory, 0);
  const file = readFileSync(path);
  for (let round = 0; round < 40; round += 1) {
    const garbage = Buffer.alloc(1 + random.integer(300));
    for (let at = 0; at < garbage.length; at += 1) garbage[at] = random.integer(256);
    if (round % 4 === 0) garbage.fill(0); // a zero-filled tail, as a file system may leave
    writeFileSync(path, Buffer.concat([file, garbage]));
    writeFileSync(`${directory}/recovery-point-offset-checkpoint`, '0\n1\nevents 3 0\n');
    const log = await open(directory);
    assert.deepEqual(await readAll(log), stored, `round ${round}`);
    assert.equal(statSync(path).size, file.length);
    await log.abandon();
  }
});

test('bit flips after the recovery point: earlier batches survive, no corrupt batch is served', async () => {
  const seed = Number(process.env.SLUICE_TEST_SEED ?? Date.now() % 1_000_000);
  const random = seededRandom(seed);
  const directory = tempDir();
  // 6 batches flushed and checkpointed by a clean close, then 6 more and a crash.
  const log = await open(directory);
  const stored: Buffer[] = [];
  for (let index = 0; index < 6; index += 1) {
    const batch = makeValueBatch(2, 60, index);
    await log.append(batch);
    stored.push(batch);
  }
  await log.close();
  const flushedBytes = stored.reduce((sum, batch) => sum + batch.length, 0);
  const more = await writeAndCrash(directory, 6, {}, 2);
  stored.push(...more);
  const path = segmentPath(directory, 0);
  const file = readFileSync(path);
  const starts: number[] = [];
  for (let at = 0, index = 0; index < stored.length; at += stored[index]!.length, index += 1) starts.push(at);
  for (let round = 0; round < 200; round += 1) {
    const flipped = Buffer.from(file);
    const byte = flushedBytes + random.integer(file.length - flushedBytes);
    flipped[byte]! ^= 1 << random.integer(8);
    writeFileSync(path, flipped);
    writeFileSync(`${directory}/recovery-point-offset-checkpoint`, '0\n1\nevents 3 12\n');
    const reopened = await open(directory);
    const recovered = await readAll(reopened);
    let hit = 0;
    while (hit + 1 < starts.length && starts[hit + 1]! <= byte) hit += 1;
    assert.ok(recovered.length >= 6, `seed ${seed} round ${round}: flushed batches lost`);
    assert.deepEqual(recovered, stored.slice(0, recovered.length), `seed ${seed} round ${round}: served bytes differ`);
    assert.ok(recovered.length <= hit, `seed ${seed} round ${round}: flipped batch ${hit} served`);
    await reopened.abandon();
  }
});

test('every row of the recovery table is covered by a test above', () => {
  const missing = recoveryCases.map((row) => row.id).filter((id) => !seen.has(id));
  assert.deepEqual(missing, []);
});
