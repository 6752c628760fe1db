// Transaction-aware compaction (src/storage/compaction.ts), as Kafka's log cleaner: records of
// aborted transactions are removed and never count as the latest value of a key; committed
// transactional records compact like any others; an open (undecided) transaction bounds the pass —
// its records are neither removed nor counted, even when it spans segments; markers and the
// `.txnindex` survive compaction, a reopen and a crash.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { encodeRecordBatchSync } from '../../src/protocol/record-batch/record-encoder.js';
import { decodeRecordBatches } from '../../src/protocol/record-batch/record-decoder.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { compactLog } from '../../src/storage/compaction.js';
import type { LogConfig } from '../../src/storage/limits.js';
import { PartitionLog } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import type { AbortedTransactionEntry } from '../../src/storage/transaction-index.js';
import { makeBatch, makeMarker, seededRandom, partitionDirectories, appendTransaction } from './helpers.js';

const tempDir = partitionDirectories('compacted-0');

const config: Partial<LogConfig> = {
  segmentBytes: 400,
  cleanupPolicy: { compact: true, delete: false },
  deleteRetentionMs: 1e12,
  fileDeleteDelayMs: 0,
};

function open(directory: string, clock: ManualClock, overrides: Partial<LogConfig> = {}): Promise<PartitionLog> {
  return PartitionLog.open({
    directory,
    topic: 'compacted',
    partition: 0,
    clock,
    config: { ...config, ...overrides },
    logger: new MemoryLogger(),
  });
}

function compact(log: PartitionLog, clock: ManualClock) {
  return compactLog(log, { clock, logger: new MemoryLogger() });
}

type Pair = [key: string, value: string | null];

function plain(records: Pair[], clock: ManualClock): Buffer {
  return makeBatch(
    records.map(([key, value]) => ({ key: Buffer.from(key), value: value === null ? null : Buffer.from(value) })),
    { baseTimestamp: clock.now() },
  );
}

function transactional(producerId: number, records: Pair[], clock: ManualClock): Buffer {
  return encodeRecordBatchSync({
    baseOffset: 0,
    producerId,
    producerEpoch: 0,
    baseSequence: 0,
    transactional: true,
    timestamp: clock.now(),
    records: records.map(([key, value]) => ({
      key: Buffer.from(key),
      value: value === null ? null : Buffer.from(value),
    })),
  });
}

interface Served {
  offset: number;
  key: string | null;
  value: string | null;
  producerId: number;
  transactional: boolean;
  control: boolean;
}

/** Every record served, control records included (their key is not text: reported as null). */
async function contents(log: PartitionLog): Promise<Served[]> {
  const served: Served[] = [];
  for (let offset = log.logStartOffset; offset < log.logEndOffset;) {
    const read = await log.read(offset, 1 << 20);
    if (read.records.length === 0) break;
    for (const batch of await decodeRecordBatches(read.records)) {
      for (const record of batch.records) {
        served.push({
          offset: record.offset,
          key: batch.isControl ? null : (record.key?.toString() ?? null),
          value: batch.isControl ? null : (record.value?.toString() ?? null),
          producerId: batch.producerId,
          transactional: batch.isTransactional,
          control: batch.isControl,
        });
      }
    }
    offset = read.nextOffset;
  }
  return served;
}

const values = (served: Served[], key: string) =>
  served.filter((record) => !record.control && record.key === key).map((record) => record.value);
const dataOf = (served: Served[], producerId: number) =>
  served.filter((record) => !record.control && record.producerId === producerId);

/** A transaction of `producerId` over `batches`, then its marker; an abort is indexed as the broker does. */
function transaction(
  log: PartitionLog,
  clock: ManualClock,
  producerId: number,
  batches: Pair[][],
  abort: boolean,
): Promise<AbortedTransactionEntry | null> {
  return appendTransaction(
    log,
    producerId,
    batches.map((records) => transactional(producerId, records, clock)),
    abort,
  );
}

function txnindexFiles(directory: string): Map<string, Buffer> {
  return new Map(
    readdirSync(directory)
      .filter((name) => name.endsWith('.txnindex'))
      .sort()
      .map((name) => [name, readFileSync(`${directory}/${name}`)]),
  );
}

test('an aborted transaction never shadows the committed value of its key, and its records are removed', async () => {
  const directory = tempDir();
  const clock = new ManualClock(Date.now() + 3_600_000);
  const log = await open(directory, clock);
  log.keepTransactionIndexes(true);
  await log.append(
    plain(
      [
        ['k', 'committed'],
        ['j', 'j-committed'],
      ],
      clock,
    ),
  );
  // Aborted, across segments (400-byte segments roll between its batches), with keys k and j last.
  const entry = await transaction(
    log,
    clock,
    7,
    [
      [
        ['k', 'aborted-1'],
        ['j', 'aborted-j'],
      ],
      [['k', 'aborted-2']],
      [['x', 'aborted-x']],
    ],
    true,
  );
  await log.append(plain([['other', 'o']], clock));
  log.roll();
  await log.append(plain([['active', 'a']], clock));
  const before = await contents(log);
  assert.equal(dataOf(before, 7).length, 4, 'the aborted records are there before compaction');
  assert.ok(
    log.segmentBaseOffsets.some((base) => base > entry!.firstOffset && base <= entry!.lastOffset),
    `the transaction spans segments (${log.segmentBaseOffsets.join(', ')})`,
  );
  const indexesBefore = txnindexFiles(directory);

  const result = await compact(log, clock);
  assert.ok(result.recordsRemoved >= 4);
  const after1 = await contents(log);
  assert.deepEqual(values(after1, 'k'), ['committed'], 'the committed value of k is the one left');
  assert.deepEqual(values(after1, 'j'), ['j-committed']);
  assert.deepEqual(values(after1, 'x'), [], 'a key only the aborted transaction wrote is gone');
  assert.deepEqual(dataOf(after1, 7), [], 'no record of the aborted transaction is left');
  assert.ok(
    after1.some((record) => record.control && record.offset === entry!.lastOffset),
    'the ABORT marker is kept',
  );
  for (const record of after1)
    assert.deepEqual(
      record,
      before.find((candidate) => candidate.offset === record.offset),
      `record at ${record.offset} unchanged`,
    );
  assert.deepEqual(txnindexFiles(directory), indexesBefore, '.txnindex files unchanged');

  // A clean reopen reads the same records and the same aborted transactions from the files.
  await log.close();
  const reopened = await open(directory, clock);
  assert.equal(reopened.recovery.scannedSegments, 0);
  reopened.keepTransactionIndexes(false);
  assert.deepEqual(await contents(reopened), after1);
  const read = await reopened.readTransactionIndexes();
  assert.deepEqual(read.entries, [entry]);
  assert.deepEqual(read.unindexed, []);
  // A second pass finds nothing more to do.
  assert.equal((await compact(reopened, clock)).recordsRemoved, 0);
  await reopened.close();
});

test('committed transactional records compact like others and keep producer and transactional bit', async () => {
  const directory = tempDir();
  const clock = new ManualClock(Date.now() + 3_600_000);
  const log = await open(directory, clock);
  log.keepTransactionIndexes(true);
  await transaction(
    log,
    clock,
    8,
    [
      [
        ['k', 'v1'],
        ['m', 'm1'],
      ],
    ],
    false,
  );
  await transaction(log, clock, 8, [[['k', 'v2']]], false);
  await log.append(plain([['m', 'm2']], clock));
  await transaction(log, clock, 9, [[['n', 'n1']]], false);
  await log.append(plain([['n', 'n2']], clock));
  log.roll();
  await log.append(plain([['active', 'a']], clock));
  await compact(log, clock);
  const served = await contents(log);
  assert.deepEqual(values(served, 'k'), ['v2'], 'the newer committed value supersedes the older one');
  assert.deepEqual(values(served, 'm'), ['m2'], 'a plain record supersedes a committed one');
  assert.deepEqual(values(served, 'n'), ['n2']);
  const v2 = served.find((record) => record.value === 'v2')!;
  assert.equal(v2.transactional, true);
  assert.equal(v2.producerId, 8);
  assert.equal(served.filter((record) => record.control).length, 3, 'every COMMIT marker is kept');
  await log.close();
});

test('an open transaction bounds compaction: its records are neither removed nor counted until it ends', async () => {
  const directory = tempDir();
  const clock = new ManualClock(Date.now() + 3_600_000);
  const log = await open(directory, clock);
  log.keepTransactionIndexes(true);
  await log.append(plain([['k', 'c0']], clock));
  await log.append(plain([['k', 'c1']], clock));
  log.roll();
  // Producer 5 opens a transaction that writes k, then spans several segments.
  await log.append(transactional(5, [['k', 'open-1']], clock));
  await log.append(plain([['k', 'plain-after']], clock));
  for (let index = 0; index < 6; index += 1) await log.append(transactional(5, [[`t${index}`, 'x'.repeat(60)]], clock));
  // An aborted transaction of another producer, after the open one began: not compacted yet either.
  await transaction(log, clock, 6, [[['k', 'aborted']]], true);
  log.roll();
  await log.append(plain([['active', 'a']], clock));
  assert.ok(log.segmentCount > 4, `the open transaction spans segments (${log.segmentCount})`);

  await compact(log, clock);
  let served = await contents(log);
  // The segment wholly before the open transaction is compacted (c0 superseded by c1) ...
  assert.deepEqual(
    values(served, 'k'),
    ['c1', 'open-1', 'plain-after', 'aborted'],
    'nothing at or after the open transaction is removed or counted',
  );
  assert.equal(dataOf(served, 5).length, 7, 'every record of the open transaction is kept');

  // The transaction commits, but its marker is still in the active segment: still left alone.
  await log.append(makeMarker(5, false));
  await compact(log, clock);
  served = await contents(log);
  assert.deepEqual(
    values(served, 'k'),
    ['c1', 'open-1', 'plain-after', 'aborted'],
    'a marker in the active segment does not end the transaction for compaction',
  );

  // Once the marker is sealed, the transaction counts: k's last value is plain-after (the aborted one never counts).
  log.roll();
  await log.append(plain([['active', 'b']], clock));
  await compact(log, clock);
  served = await contents(log);
  assert.deepEqual(values(served, 'k'), ['plain-after']);
  assert.equal(dataOf(served, 5).length, 6, 'committed records of other keys stay');
  assert.deepEqual(dataOf(served, 6), [], 'the aborted transaction is gone');
  await log.close();
});

test('a crash after compaction: the recovered log serves the same records and aborted transactions', async () => {
  const directory = tempDir();
  const clock = new ManualClock(Date.now() + 3_600_000);
  const log = await open(directory, clock);
  log.keepTransactionIndexes(true);
  const entries: AbortedTransactionEntry[] = [];
  for (let round = 0; round < 6; round += 1) {
    await log.append(plain([['k', `plain-${round}`]], clock));
    const entry = await transaction(
      log,
      clock,
      20 + (round % 2),
      [
        [
          ['k', `txn-${round}`],
          [`only-${round}`, 'x'],
        ],
      ],
      round % 3 !== 2,
    );
    if (entry !== null) entries.push(entry);
  }
  log.roll();
  await log.append(plain([['active', 'a']], clock));
  await compact(log, clock);
  const compacted = await contents(log);
  // Rounds 2 and 5 committed; k's last value is txn-5 (committed, after plain-5).
  assert.deepEqual(values(compacted, 'k'), ['txn-5']);
  assert.deepEqual(
    compacted.filter((record) => !record.control && record.key?.startsWith('only-')).map((record) => record.key),
    ['only-2', 'only-5'],
  );
  await log.checkpoint();
  await log.abandon(); // as a crash leaves it
  const recovered = await open(directory, clock);
  assert.deepEqual(await contents(recovered), compacted);
  recovered.keepTransactionIndexes(false);
  const read = await recovered.readTransactionIndexes();
  assert.deepEqual(read.entries, entries);
  assert.deepEqual(read.unindexed, []);
  assert.deepEqual(
    readdirSync(directory).filter((name) => name.endsWith('.cleaned') || name.endsWith('.swap')),
    [],
  );
  await recovered.close();
});

// A seeded randomized test against a record-level model: plain and transactional appends of three
// producers (commits and aborts), rolls, compactions, crashes and reopens. After every step: each
// record served is the one written at its offset; every record of an open transaction is served;
// the newest record of each key among those visible (plain, or committed) is served. At the end,
// with every transaction decided and sealed, no aborted record is served.
// SLUICE_TEST_SEED=<seed> replays one seed.
async function transactionalModel(seed: number, operations: number): Promise<void> {
  const random = seededRandom(seed);
  const directory = tempDir();
  const clock = new ManualClock(Date.now() + 3_600_000);
  const overrides: Partial<LogConfig> = {
    segmentBytes: 300 + random.integer(1200),
    indexIntervalBytes: random.integer(400),
  };
  let log = await open(directory, clock, overrides);
  log.keepTransactionIndexes(true);
  /** offset → what was written there; `producer` null for plain records. */
  const model = new Map<number, { key: string; value: string; producer: number | null }>();
  /** producerId → offsets of its open transaction. */
  const openTransactions = new Map<number, number[]>();
  const aborted = new Set<number>();
  const trace: string[] = [];
  const fail = (message: string) =>
    assert.fail(
      `seed ${seed} (replay with SLUICE_TEST_SEED=${seed}): ${message}\n` +
        `last operations: ${trace.slice(-12).join(' | ')}`,
    );
  const verify = async (final: boolean) => {
    const served = (await contents(log)).filter((record) => !record.control);
    const servedOffsets = new Set(served.map((record) => record.offset));
    let previous = -1;
    for (const record of served) {
      if (record.offset <= previous) fail(`offsets not increasing at ${record.offset}`);
      previous = record.offset;
      const expected = model.get(record.offset);
      if (expected === undefined || expected.key !== record.key || expected.value !== record.value)
        fail(`record at ${record.offset} is ${JSON.stringify(record)}, model has ${JSON.stringify(expected)}`);
      if (final && aborted.has(record.offset))
        fail(`aborted record at ${record.offset} still served after the final compaction`);
    }
    for (const offsets of openTransactions.values())
      for (const offset of offsets)
        if (!servedOffsets.has(offset)) fail(`record ${offset} of an open transaction was removed`);
    const openOffsets = new Set([...openTransactions.values()].flat());
    const newest = new Map<string, number>();
    for (const [offset, record] of model) {
      if (aborted.has(offset) || openOffsets.has(offset)) continue;
      newest.set(record.key, Math.max(newest.get(record.key) ?? -1, offset));
    }
    for (const [key, offset] of newest)
      if (!servedOffsets.has(offset)) fail(`newest visible record of ${key} (offset ${offset}) is missing`);
  };
  const records = (): Pair[] =>
    Array.from({ length: 1 + random.integer(3) }, () => [`k${random.integer(8)}`, `v${random.integer(1e6)}`]);
  for (let step = 0; step < operations; step += 1) {
    const choice = random.integer(100);
    if (choice < 30) {
      const written = records();
      trace.push('plain');
      const { baseOffset } = await log.append(plain(written, clock));
      written.forEach(([key, value], index) => model.set(baseOffset + index, { key, value: value!, producer: null }));
    } else if (choice < 55) {
      const producerId = 1 + random.integer(3);
      const written = records();
      trace.push(`txn(${producerId})`);
      const { baseOffset } = await log.append(transactional(producerId, written, clock));
      const offsets = openTransactions.get(producerId) ?? [];
      written.forEach(([key, value], index) => {
        model.set(baseOffset + index, { key, value: value!, producer: producerId });
        offsets.push(baseOffset + index);
      });
      openTransactions.set(producerId, offsets);
    } else if (choice < 70) {
      const producers = [...openTransactions.keys()];
      if (producers.length === 0) continue;
      const producerId = producers[random.integer(producers.length)]!;
      const abort = random.integer(2) === 0;
      trace.push(`${abort ? 'abort' : 'commit'}(${producerId})`);
      const offsets = openTransactions.get(producerId)!;
      openTransactions.delete(producerId);
      const { baseOffset } = await log.append(makeMarker(producerId, abort));
      if (abort) {
        offsets.forEach((offset) => aborted.add(offset));
        assert.equal(
          log.appendAbortedTransaction({
            producerId,
            firstOffset: offsets[0]!,
            lastOffset: baseOffset,
            lastStableOffset: baseOffset + 1,
          }),
          true,
        );
      }
    } else if (choice < 80) {
      trace.push('roll');
      log.roll();
    } else if (choice < 93) {
      trace.push('compact');
      await compact(log, clock);
    } else if (choice < 97) {
      trace.push('close+reopen');
      await log.close();
      log = await open(directory, clock, overrides);
      log.keepTransactionIndexes(false);
    } else {
      trace.push('crash+reopen');
      await log.abandon();
      log = await open(directory, clock, overrides);
      if (log.recovery.cuts.length > 0) fail(`recovery cut data: ${JSON.stringify(log.recovery.cuts)}`);
      log.keepTransactionIndexes(false);
    }
    if (step % 5 === 0) await verify(false);
  }
  // Decide every transaction, seal the markers, compact: nothing aborted may be left.
  for (const [producerId, offsets] of [...openTransactions]) {
    openTransactions.delete(producerId);
    const { baseOffset } = await log.append(makeMarker(producerId, true));
    offsets.forEach((offset) => aborted.add(offset));
    log.appendAbortedTransaction({
      producerId,
      firstOffset: offsets[0]!,
      lastOffset: baseOffset,
      lastStableOffset: baseOffset + 1,
    });
  }
  log.roll();
  await log.append(plain([['active', 'end']], clock));
  model.set(log.logEndOffset - 1, { key: 'active', value: 'end', producer: null });
  trace.push('final compact');
  await compact(log, clock);
  await verify(true);
  await log.close();
}

const seeds =
  process.env.SLUICE_TEST_SEED !== undefined
    ? [Number(process.env.SLUICE_TEST_SEED)]
    : Array.from({ length: 4 }, () => Math.floor(Math.random() * 2 ** 31));
for (const seed of seeds) {
  test(`randomized transactional compaction model, seed ${seed}`, async () => {
    await transactionalModel(seed, Number(process.env.SLUICE_MODEL_OPERATIONS ?? 250));
  });
}
