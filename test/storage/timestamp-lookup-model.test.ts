// A seeded randomized test of the lookups by time (storage/timestamp-lookup.ts) against a brute-force
// scan of every record: random batches of records with random, unsorted timestamps (CreateTime),
// compressed with every codec or not, LogAppendTime batches, transaction markers; small segments,
// sparse indexes, DeleteRecords into the middle of a batch, close and reopen, random targets and limits.
// On failure the seed is printed; SLUICE_TEST_SEED=<seed> replays it, SLUICE_MODEL_SEEDS=<n> runs more.
//
// The rule checked (Kafka's): by time t, the first record in offset order at or after the log start
// with timestamp ≥ t, answered only if it is below the limit; MAX_TIMESTAMP, the first record with the
// largest timestamp, likewise. Batch headers are truthful here (the encoder computes maxTimestamp);
// headers that lie are log-model.test.ts's and timestamp-lookup.test.ts's.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ControlRecordType, encodeControlBatch } from '../../src/protocol/record-batch/control.js';
import { Compression } from '../../src/protocol/record-batch/header.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { PartitionLog } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import type { RecordAtTime } from '../../src/storage/timestamp-lookup.js';
import { seededRandom, temporaryDirectory } from './helpers.js';

const directories: { remove: () => void }[] = [];
after(() => directories.forEach((directory) => directory.remove()));

interface ModelRecord {
  offset: number;
  timestamp: number;
}

const codecs = [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd];

/** The brute-force answers. */
function firstAtOrAfter(records: readonly ModelRecord[], target: number, limit: number): RecordAtTime | null {
  const found = records.find((record) => record.timestamp >= target);
  return found === undefined || found.offset >= limit ? null : { ...found, leaderEpoch: 0 };
}

function firstWithLargest(records: readonly ModelRecord[], limit: number): RecordAtTime | null {
  let best: ModelRecord | undefined;
  for (const record of records) if (best === undefined || record.timestamp > best.timestamp) best = record;
  return best === undefined || best.offset >= limit ? null : { ...best, leaderEpoch: 0 };
}

async function runSeed(seed: number, operations: number): Promise<void> {
  const random = seededRandom(seed);
  const temporary = temporaryDirectory('sluice-time-model-');
  directories.push(temporary);
  const directory = `${temporary.path}/times-0`;
  const config = {
    segmentBytes: 300 + random.integer(3000),
    indexIntervalBytes: random.integer(600),
    segmentIndexBytes: 48 + random.integer(200),
  };
  const open = () => PartitionLog.open({ directory, topic: 'times', partition: 0, config, logger: new MemoryLogger() });
  let log = await open();
  const records: ModelRecord[] = []; // every record, in offset order
  let startOffset = 0;
  const trace: string[] = [];
  const check = (actual: unknown, expected: unknown, what: string) =>
    assert.deepEqual(
      actual,
      expected,
      `seed ${seed} (replay with SLUICE_TEST_SEED=${seed}): ${what}\nlast operations: ${trace.slice(-10).join(' | ')}`,
    );
  const base = 1_700_000_000_000;
  // Timestamps cluster (many equal ones) and go back and forth, as producers' CreateTime does; one in
  // ten is the ceiling, so the largest timestamp is shared by records in many batches and segments.
  const timestamp = () => {
    const pick = random.integer(10);
    return base + (pick === 0 ? 100_000 : random.integer(pick < 5 ? 50 : 100_000));
  };

  for (let step = 0; step < operations; step += 1) {
    const choice = random.integer(100);
    if (choice < 50) {
      const kind = random.integer(10);
      let batch: Buffer;
      let timestamps: number[];
      if (kind === 0) {
        const at = timestamp();
        batch = encodeControlBatch({
          type: ControlRecordType.Commit,
          producerId: 7,
          producerEpoch: 0,
          coordinatorEpoch: 0,
          timestamp: at,
        });
        timestamps = [at];
      } else {
        const count = 1 + random.integer(kind === 1 ? 200 : 8);
        const recordTimestamps = Array.from({ length: count }, timestamp);
        const logAppendTime = kind === 2;
        const appendTime = timestamp();
        batch = await encodeRecordBatch({
          compression: codecs[random.integer(codecs.length)]!,
          records: recordTimestamps.map((at, index) => ({
            value: Buffer.alloc(random.integer(60), index),
            timestamp: at,
          })),
          ...(logAppendTime ? { timestampType: 1, maxTimestamp: appendTime } : {}),
        });
        timestamps = logAppendTime ? recordTimestamps.map(() => appendTime) : recordTimestamps;
      }
      const { baseOffset } = await log.append(batch);
      timestamps.forEach((at, index) => records.push({ offset: baseOffset + index, timestamp: at }));
      trace.push(`append ${baseOffset}+${timestamps.length}`);
    } else if (choice < 57) {
      const end = log.logEndOffset;
      if (end === startOffset) continue;
      const to = startOffset + 1 + random.integer(Math.min(end - startOffset, 30));
      trace.push(`deleteRecordsBefore(${to})`);
      startOffset = await log.deleteRecordsBefore(to);
    } else if (choice < 60) {
      trace.push('close+reopen');
      await log.close();
      log = await open();
    } else {
      const live = records.filter((record) => record.offset >= startOffset);
      const end = log.logEndOffset;
      // The limit: the log end, a random offset, or right at or after the answer (the edge that counts).
      const limitFor = (answer: RecordAtTime | null) => {
        const pick = random.integer(4);
        if (pick === 0) return startOffset + random.integer(end - startOffset + 1);
        if (pick === 1 && answer !== null) return answer.offset + random.integer(2);
        return end;
      };
      if (random.integer(3) === 0) {
        const limit = limitFor(firstWithLargest(live, end));
        trace.push(`offsetOfMaxTimestamp(limit ${limit})`);
        check(await log.offsetOfMaxTimestamp(limit), firstWithLargest(live, limit), `max timestamp below ${limit}`);
      } else {
        const pick = random.integer(10);
        const target =
          pick === 0
            ? 0
            : pick === 1
              ? Number.MAX_SAFE_INTEGER
              : live.length === 0
                ? base
                : live[random.integer(live.length)]!.timestamp + random.integer(3) - 1;
        const limit = limitFor(firstAtOrAfter(live, target, end));
        trace.push(`offsetForTimestamp(${target}, limit ${limit})`);
        check(await log.offsetForTimestamp(target, limit), firstAtOrAfter(live, target, limit), `time ${target}`);
      }
    }
  }
  await log.close();
}

const fixedSeed = process.env.SLUICE_TEST_SEED;
const seeds =
  fixedSeed !== undefined
    ? [Number(fixedSeed)]
    : Array.from({ length: Number(process.env.SLUICE_MODEL_SEEDS ?? 4) }, () => Math.floor(Math.random() * 2 ** 31));

for (const seed of seeds) {
  test(`lookups by time equal a scan of every record, seed ${seed}`, async () => {
    await runSeed(seed, 400);
  });
}
