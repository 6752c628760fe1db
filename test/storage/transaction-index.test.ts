// The aborted-transaction index (`.txnindex`): its format, and that it follows its segment — written
// on abort, kept across a reopen, rolled, deleted (retention, DeleteRecords, truncation) and
// compacted with it. Recovery's `txnindex-*` rows are in recovery.test.ts.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { compactLog } from '../../src/storage/compaction.js';
import type { LogConfig } from '../../src/storage/limits.js';
import { PartitionLog } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import {
  TransactionIndexCorruptError,
  decodeTransactionIndex,
  encodeTransactionIndexEntries,
  transactionIndexEntryBytes,
  type AbortedTransactionEntry,
} from '../../src/storage/transaction-index.js';
import { makeTransactionalBatch, makeValueBatch, partitionDirectories, appendTransaction } from './helpers.js';

const tempDir = partitionDirectories('orders-0');

function open(directory: string, config: Partial<LogConfig> = {}): Promise<PartitionLog> {
  return PartitionLog.open({ directory, topic: 'orders', partition: 0, config, logger: new MemoryLogger() });
}

function txnindexPath(directory: string, baseOffset: number): string {
  return `${directory}/${String(baseOffset).padStart(20, '0')}.txnindex`;
}

function txnindexFiles(directory: string): string[] {
  return readdirSync(directory)
    .filter((name) => name.endsWith('.txnindex'))
    .sort();
}

async function waitFor(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** One transaction of `producerId`: `batches` data batches, then its marker; an abort is handed to
 *  the log's index as the broker does. Returns the index entry (or null for a commit). */
function transaction(
  log: PartitionLog,
  producerId: number,
  abort: boolean,
  batches = 1,
  key?: (index: number) => Buffer | null,
): Promise<AbortedTransactionEntry | null> {
  return appendTransaction(
    log,
    producerId,
    Array.from({ length: batches }, () => makeTransactionalBatch(producerId, 2, key)),
    abort,
  );
}

test('format: 34-byte entries as Kafka (version int16, producerId, firstOffset, lastOffset, lastStableOffset)', () => {
  const entries = [
    { producerId: 7, firstOffset: 100, lastOffset: 105, lastStableOffset: 106 },
    { producerId: 2 ** 40, firstOffset: 90, lastOffset: 110, lastStableOffset: 95 },
  ];
  const bytes = encodeTransactionIndexEntries(entries);
  assert.equal(transactionIndexEntryBytes, 34);
  assert.equal(bytes.length, 68);
  assert.equal(bytes.readInt16BE(0), 0);
  assert.equal(bytes.readBigInt64BE(2), 7n);
  assert.equal(bytes.readBigInt64BE(10), 100n);
  assert.equal(bytes.readBigInt64BE(18), 105n);
  assert.equal(bytes.readBigInt64BE(26), 106n);
  assert.deepEqual(decodeTransactionIndex('t', 100, bytes, 200), entries);
  const corrupt = (content: Buffer, end = 200) =>
    assert.throws(() => decodeTransactionIndex('t', 100, content, end), TransactionIndexCorruptError);
  corrupt(bytes.subarray(0, 50)); // torn
  corrupt(Buffer.concat([bytes.subarray(34), bytes.subarray(0, 34)])); // markers out of order
  corrupt(bytes, 110); // a marker past the segment end
  // before the segment
  corrupt(encodeTransactionIndexEntries([{ producerId: 1, firstOffset: 1, lastOffset: 99, lastStableOffset: 1 }]));
  // first after last
  corrupt(encodeTransactionIndexEntries([{ producerId: 1, firstOffset: 120, lastOffset: 110, lastStableOffset: 1 }]));
  const badVersion = Buffer.from(bytes);
  badVersion.writeInt16BE(3, 34);
  corrupt(badVersion);
  const negative = Buffer.from(bytes);
  negative.writeBigInt64BE(-5n, 2);
  corrupt(negative);
});

test('an entry is written to the .txnindex when the abort is appended, and read back after a reopen', async () => {
  const directory = tempDir();
  const log = await open(directory);
  log.keepTransactionIndexes(true);
  await log.append(makeValueBatch(2, 10));
  const first = await transaction(log, 7, true, 2);
  await transaction(log, 8, false);
  const second = await transaction(log, 9, true);
  // Written at once (page cache), before any checkpoint: a process crash loses nothing.
  await waitFor(
    'the entries in the file',
    () => existsSync(txnindexPath(directory, 0)) && readFileSync(txnindexPath(directory, 0)).length === 68,
  );
  assert.deepEqual(decodeTransactionIndex('t', 0, readFileSync(txnindexPath(directory, 0)), log.logEndOffset), [
    first,
    second,
  ]);
  // A marker the log does not hold (its append failed), or out of order, is refused.
  assert.equal(
    log.appendAbortedTransaction({ producerId: 1, firstOffset: 0, lastOffset: log.logEndOffset, lastStableOffset: 0 }),
    false,
  );
  assert.equal(
    log.appendAbortedTransaction({ producerId: 1, firstOffset: 0, lastOffset: first!.lastOffset, lastStableOffset: 0 }),
    false,
  );
  await log.close();

  const reopened = await open(directory);
  reopened.keepTransactionIndexes(false);
  const read = await reopened.readTransactionIndexes();
  assert.deepEqual(read.entries, [first, second]);
  assert.deepEqual(read.unindexed, []);
  assert.equal(reopened.recovery.cases.get('txnindex-loaded'), 1);
  // Appends continue after the entries already in the file.
  const third = await transaction(reopened, 10, true);
  await reopened.close();
  assert.deepEqual(decodeTransactionIndex('t', 0, readFileSync(txnindexPath(directory, 0)), Number.MAX_SAFE_INTEGER), [
    first,
    second,
    third,
  ]);
});

test('a log that keeps no transaction indexes writes no .txnindex', async () => {
  const directory = tempDir();
  const log = await open(directory, { segmentBytes: 300 });
  for (let index = 0; index < 6; index += 1) await log.append(makeValueBatch(2, 60, index));
  await log.close();
  assert.deepEqual(txnindexFiles(directory), []);
});

test("rolled with its segment: entries go to their marker's segment; each segment of a kept log has one", async () => {
  const directory = tempDir();
  const log = await open(directory, { segmentBytes: 400 });
  await log.append(makeValueBatch(2, 100)); // a segment from before the partition became transactional
  log.roll();
  log.keepTransactionIndexes(true);
  const entries: AbortedTransactionEntry[] = [];
  for (let round = 0; round < 6; round += 1) {
    const entry = await transaction(log, 20 + round, round % 2 === 0, 2);
    if (entry) entries.push(entry);
  }
  await log.close();
  const bases = (await open(directory)).segmentBaseOffsets;
  assert.ok(bases.length >= 4, `segments ${bases}`);
  assert.deepEqual(txnindexFiles(directory).length, bases.length, 'one .txnindex per segment, empty ones included');
  for (const entry of entries) {
    const base = bases.filter((candidate) => candidate <= entry.lastOffset).at(-1)!;
    const inFile = decodeTransactionIndex(
      't',
      base,
      readFileSync(txnindexPath(directory, base)),
      Number.MAX_SAFE_INTEGER,
    );
    assert.ok(
      inFile.some((candidate) => candidate.lastOffset === entry.lastOffset),
      `entry ${entry.lastOffset} in segment ${base}`,
    );
  }
  const reopened = await open(directory);
  reopened.keepTransactionIndexes(false);
  const read = await reopened.readTransactionIndexes();
  assert.deepEqual(read.entries, entries);
  assert.deepEqual(read.unindexed, [], 'the segment from before was given its empty file, not left to a rebuild');
  await reopened.close();
});

test('deleted with its segment: DeleteRecords, retention and truncation take the .txnindex along', async () => {
  const directory = tempDir();
  const log = await open(directory, { segmentBytes: 400, fileDeleteDelayMs: 0 });
  log.keepTransactionIndexes(true);
  const entries: AbortedTransactionEntry[] = [];
  for (let round = 0; round < 14; round += 1) entries.push((await transaction(log, 30 + round, true, 2))!);
  const bases = log.segmentBaseOffsets;
  assert.ok(bases.length >= 5);
  await log.checkpoint();

  // DeleteRecords past the second segment: the first two segments' files go.
  await log.deleteRecordsBefore(bases[2]!);
  await waitFor(
    'deletion',
    () => !existsSync(txnindexPath(directory, bases[0]!)) && !existsSync(txnindexPath(directory, bases[1]!)),
  );
  assert.ok(existsSync(txnindexPath(directory, bases[2]!)));

  // Truncation inside a segment: its entries past the cut are dropped, later segments' files go.
  const cutEntry = entries.find((entry) => entry.lastOffset > log.segmentBaseOffsets[3]!)!;
  const holder = log.segmentBaseOffsets.filter((base) => base <= cutEntry.lastOffset).at(-1)!;
  await log.truncateTo(cutEntry.lastOffset);
  assert.equal(log.segmentBaseOffsets.at(-1), holder);
  const left = decodeTransactionIndex(
    't',
    holder,
    readFileSync(txnindexPath(directory, holder)),
    Number.MAX_SAFE_INTEGER,
  );
  assert.ok(left.every((entry) => entry.lastOffset < cutEntry.lastOffset));
  assert.deepEqual(
    txnindexFiles(directory).map((name) => Number(name.slice(0, 20))),
    log.segmentBaseOffsets,
  );
  await log.close();

  // Retention (bytes): the oldest segments go with their files; what is read back is what is left.
  const reopened = await open(directory, { segmentBytes: 400, fileDeleteDelayMs: 0, retentionBytes: 1 });
  reopened.keepTransactionIndexes(false);
  assert.ok((await reopened.applyRetention()) > 0);
  await waitFor('retention', () => txnindexFiles(directory).length === reopened.segmentCount);
  const read = await reopened.readTransactionIndexes();
  assert.deepEqual(
    read.entries,
    entries.filter((entry) => entry.lastOffset >= reopened.logStartOffset && entry.lastOffset < reopened.logEndOffset),
  );
  assert.deepEqual(read.unindexed, []);
  await reopened.close();
});

test('compacted with its segment: a rewritten segment keeps the aborted entries of its range', async () => {
  const directory = tempDir();
  const config: Partial<LogConfig> = {
    segmentBytes: 700,
    cleanupPolicy: { compact: true, delete: false },
    fileDeleteDelayMs: 0,
  };
  const log = await open(directory, config);
  log.keepTransactionIndexes(true);
  const entries: AbortedTransactionEntry[] = [];
  for (let round = 0; round < 8; round += 1) {
    const entry = await transaction(log, 40 + (round % 3), round % 3 !== 1, 2, (index) => Buffer.from(`key-${index}`));
    if (entry) entries.push(entry);
  }
  log.roll();
  await log.append(makeValueBatch(1, 10));
  await log.checkpoint();
  const before = new Map(
    log.segmentBaseOffsets.map((base) => [
      base,
      existsSync(txnindexPath(directory, base)) ? readFileSync(txnindexPath(directory, base)) : null,
    ]),
  );
  const result = await compactLog(log, { clock: { now: () => Date.now() }, logger: new MemoryLogger() });
  assert.ok(result.segmentsRewritten > 0, 'compaction rewrote segments');
  for (const [base, content] of before) {
    if (!log.segmentBaseOffsets.includes(base)) continue;
    assert.deepEqual(
      existsSync(txnindexPath(directory, base)) ? readFileSync(txnindexPath(directory, base)) : null,
      content,
      `.txnindex of ${base} unchanged`,
    );
  }
  await log.close();
  const reopened = await open(directory, config);
  reopened.keepTransactionIndexes(false);
  const read = await reopened.readTransactionIndexes();
  assert.deepEqual(read.entries, entries);
  assert.deepEqual(read.unindexed, []);
  await reopened.close();
});
