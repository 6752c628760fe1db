// kill -9 a process that appends under `sync`, at random moments, again and again; after each kill
// reopen the log and check that every acknowledged batch is there, byte-identical and in order,
// and that every batch served — acknowledged or not — is exactly what was written.
//
//   cycles: `npm run test:crash --cycles=<n>`, SLUICE_CRASH_CYCLES=<n>, or
//           `node dist/test/crash/kill9.test.js --cycles <n>` (default 50)
//   seed:   SLUICE_TEST_SEED=<n> replays the kill timings (printed on failure)
// Three more tests, a fifth as many cycles each (at least 10): the same under the `interval` and `os`
// flush policies; while a background loop compacts the partition; while retention deletes segments.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { validateBatch } from '../../src/protocol/record-batch/header.js';
import { PartitionLog } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import { seededRandom, splitBatches, temporaryDirectory } from '../storage/helpers.js';
import { decodeRecordBatches } from '../../src/protocol/record-batch/record-decoder.js';
import { systemClock } from '../../src/runtime/clock.js';
import { compactLog } from '../../src/storage/compaction.js';
import {
  crashBatchFor,
  crashCompactedLogConfig,
  crashKeyedBatchFor,
  crashLogConfig,
  crashRecordAborted,
  crashRecordAt,
  crashRetentionLogConfig,
  crashTransactionAt,
} from './crash-batches.js';

const cyclesFlag = process.argv.indexOf('--cycles');
// npm turns `npm run test:crash --cycles=500` into npm_config_cycles.
const cycles = Number(
  cyclesFlag >= 0
    ? process.argv[cyclesFlag + 1]
    : (process.env.SLUICE_CRASH_CYCLES ?? process.env.npm_config_cycles ?? 50),
);
const seed = Number(process.env.SLUICE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
const child = fileURLToPath(new URL('./appender.js', import.meta.url));

const temporary = temporaryDirectory('sluice-kill9-');
after(() => temporary.remove());

interface CycleResult {
  acks: { baseOffset: number; lastOffset: number }[];
  startOffset: number | null;
  stderr: string;
}

/** Runs the appender and SIGKILLs it `killAfterMs` after it is ready (or after spawn, if
 *  `duringStartup`, which may land in open and recovery). */
function runAndKill(
  directory: string,
  killAfterMs: number,
  duringStartup: boolean,
  childArguments: string[],
): Promise<CycleResult> {
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, [child, directory, ...childArguments], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const arm = () => (timer ??= setTimeout(() => process_.kill('SIGKILL'), killAfterMs));
    if (duringStartup) arm();
    process_.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (stdout.includes('ready ')) arm();
    });
    process_.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    process_.on('error', reject);
    process_.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`appender exited with ${code}: ${stderr}`));
      // Only whole lines count: a line cut by the kill was never fully acknowledged.
      const lines = stdout.split('\n').slice(0, -1);
      const ready = lines.find((line) => line.startsWith('ready '));
      const acks = lines
        .filter((line) => line.startsWith('ack '))
        .map((line) => {
          const [, base, last] = line.split(' ');
          return { baseOffset: Number(base), lastOffset: Number(last) };
        });
      resolve({ acks, startOffset: ready === undefined ? null : Number(ready.split(' ')[1]), stderr });
    });
  });
}

async function killRepeatedly(policy: string, cycles: number): Promise<void> {
  const random = seededRandom(seed);
  const directory = `${temporary.path}/crash-${policy.replace(':', '-')}-0`;
  const acknowledged = new Map<number, number>(); // baseOffset → lastOffset
  let highestAcknowledged = -1;
  let totalAcks = 0;
  let killsBeforeReady = 0;
  let verifiedEnd = 0;
  for (let cycle = 0; cycle < cycles; cycle += 1) {
    // Three kills in four land while appends run; the fourth may land in startup and recovery.
    const duringStartup = random.integer(4) === 0;
    const killAfterMs = duringStartup ? random.integer(300) : random.integer(250);
    const result = await runAndKill(directory, killAfterMs, duringStartup, [policy]);
    if (result.startOffset === null) killsBeforeReady += 1;
    for (const ack of result.acks) {
      acknowledged.set(ack.baseOffset, ack.lastOffset);
      highestAcknowledged = Math.max(highestAcknowledged, ack.lastOffset);
    }
    totalAcks += result.acks.length;
    const where =
      `seed ${seed} (replay with SLUICE_TEST_SEED=${seed}), cycle ${cycle}, killed ${killAfterMs} ms ` +
      `after ${duringStartup ? 'spawn' : 'ready'}`;

    const log = await PartitionLog.open({
      directory,
      topic: 'crash',
      partition: 0,
      config: crashLogConfig,
      logger: new MemoryLogger(),
    });
    assert.ok(
      log.logEndOffset > highestAcknowledged,
      `${where}: log ends at ${log.logEndOffset}, offset ${highestAcknowledged} was acknowledged`,
    );
    // Every 10th cycle (and the last) reads the whole log; the others read from the segment before
    // the one where the previous cycle's log ended — recovery cuts nowhere earlier — so that long
    // runs stay linear.
    const full = cycle % 10 === 0 || cycle === cycles - 1;
    const bases = log.segmentBaseOffsets;
    const holding = bases.findLastIndex((base) => base <= verifiedEnd);
    const from = full ? log.logStartOffset : Math.max(log.logStartOffset, bases[Math.max(0, holding - 1)] ?? 0);
    const seen = new Set<number>();
    let expectedOffset = from;
    for (let offset = from; offset < log.logEndOffset;) {
      const read = await log.read(offset, 1 << 20);
      assert.ok(
        read.records.length > 0,
        `${where}: nothing to read at ${offset} below the log end ${log.logEndOffset}`,
      );
      for (const batch of splitBatches(read.records)) {
        assert.equal(
          validateBatch(batch.bytes, 0, batch.bytes.length),
          null,
          `${where}: corrupt batch served at ${batch.baseOffset}`,
        );
        assert.equal(batch.baseOffset, expectedOffset, `${where}: batches out of order`);
        assert.ok(
          batch.bytes.equals(crashBatchFor(batch.baseOffset)),
          `${where}: batch at ${batch.baseOffset} is not what was written`,
        );
        seen.add(batch.baseOffset);
        expectedOffset = batch.lastOffset + 1;
      }
      offset = read.nextOffset;
    }
    for (const [baseOffset, lastOffset] of acknowledged) {
      if (baseOffset >= from)
        assert.ok(seen.has(baseOffset), `${where}: acknowledged batch ${baseOffset}..${lastOffset} is missing`);
    }
    verifiedEnd = log.logEndOffset;
    await log.abandon();
  }
  console.log(
    `kill -9 (${policy}): ${cycles} cycles, ${totalAcks} acknowledged batches checked, ${killsBeforeReady} kills ` +
      `during open/recovery, seed ${seed}`,
  );
  assert.ok(totalAcks > 0, 'the appender never acknowledged anything');
}

test(`kill -9 during sync appends, ${cycles} cycles (seed ${seed})`, { timeout: 30 * 60_000 }, () =>
  killRepeatedly('sync', cycles),
);

// A process crash leaves the page cache alone, so `interval` and `os` must not lose an
// acknowledged append to kill -9 either (they lose only to a machine crash).
const otherCycles = Math.max(10, Math.round(cycles / 5));
test(
  `kill -9 during interval:50 and os appends, ${otherCycles} cycles each (seed ${seed})`,
  { timeout: 30 * 60_000 },
  async () => {
    await killRepeatedly('interval:50', otherCycles);
    await killRepeatedly('os', otherCycles);
  },
);

// Compaction rewrites sealed segments (.cleaned → .swap → rename over the .log) while appends go
// on; kill -9 may land anywhere in that. Some batches are transactions, committed or aborted
// (crashTransactionAt), and a kill may leave one open. After each kill: every record served is the
// one written at its offset, offsets increase, every marker is where it was written, and for every
// key the newest acknowledged record not of an aborted transaction — or a newer such record of that
// key — is still there. At the end, a roll and one more compaction leave no record of an aborted
// transaction whose marker was written.
test(`kill -9 while compacting, ${otherCycles} cycles (seed ${seed})`, { timeout: 30 * 60_000 }, async () => {
  const random = seededRandom(seed + 1);
  const directory = `${temporary.path}/crash-compact-0`;
  const newestAcknowledged = new Map<string, number>();
  let totalAcks = 0;
  let servedRecords = 0;
  let logOffsets = 0;
  for (let cycle = 0; cycle < otherCycles; cycle += 1) {
    const duringStartup = random.integer(4) === 0;
    const killAfterMs = duringStartup ? random.integer(300) : random.integer(400);
    const result = await runAndKill(directory, killAfterMs, duringStartup, ['sync', 'compact']);
    for (const ack of result.acks) {
      const transaction = crashTransactionAt(ack.baseOffset);
      if (transaction.kind === 'marker') continue;
      for (let offset = ack.baseOffset; offset <= ack.lastOffset; offset += 1) {
        if (crashRecordAborted(offset, transaction.kind === 'data')) continue;
        const { key } = crashRecordAt(offset);
        newestAcknowledged.set(key, Math.max(newestAcknowledged.get(key) ?? -1, offset));
      }
    }
    totalAcks += result.acks.length;
    const where =
      `seed ${seed} (replay with SLUICE_TEST_SEED=${seed}), compaction cycle ${cycle}, killed ` +
      `${killAfterMs} ms after ${duringStartup ? 'spawn' : 'ready'}`;
    const log = await PartitionLog.open({
      directory,
      topic: 'crash',
      partition: 0,
      config: crashCompactedLogConfig,
      logger: new MemoryLogger(),
    });
    const newestServed = new Map<string, number>();
    let previous = -1;
    for (let offset = log.logStartOffset; offset < log.logEndOffset;) {
      const read = await log.read(offset, 1 << 20);
      if (read.records.length === 0) break;
      for (const batch of splitBatches(read.records)) {
        assert.equal(
          validateBatch(batch.bytes, 0, batch.bytes.length),
          null,
          `${where}: corrupt batch served at ${batch.baseOffset}`,
        );
      }
      for (const batch of await decodeRecordBatches(read.records)) {
        if (batch.isControl) {
          const expected = crashTransactionAt(batch.baseOffset);
          assert.ok(batch.baseOffset > previous, `${where}: offsets go back at ${batch.baseOffset}`);
          previous = batch.baseOffset;
          assert.ok(
            expected.kind === 'marker' && expected.producerId === batch.producerId,
            `${where}: a marker at ${batch.baseOffset} where none was written`,
          );
          continue;
        }
        for (const record of batch.records) {
          assert.ok(record.offset > previous, `${where}: offsets go back at ${record.offset}`);
          previous = record.offset;
          const expected = crashRecordAt(record.offset);
          assert.equal(record.key?.toString(), expected.key, `${where}: key at ${record.offset}`);
          assert.equal(record.value?.toString() ?? null, expected.value, `${where}: value at ${record.offset}`);
          if (!crashRecordAborted(record.offset, batch.isTransactional)) newestServed.set(expected.key, record.offset);
          if (cycle === otherCycles - 1) servedRecords += 1;
        }
      }
      offset = read.nextOffset;
    }
    for (const [key, offset] of newestAcknowledged) {
      assert.ok(
        (newestServed.get(key) ?? -1) >= offset,
        `${where}: newest acknowledged record of ${key} (offset ${offset}) is gone`,
      );
    }
    logOffsets = log.logEndOffset - log.logStartOffset;
    if (cycle === otherCycles - 1) {
      // Finish the last transaction (the appender's next batches), seal every marker, compact once
      // more: no record of an aborted transaction is left.
      while (log.logEndOffset % 50 !== 0) await log.append(crashKeyedBatchFor(log.logEndOffset));
      log.roll();
      for (
        let waited = 0;
        log.segmentsForCompaction().sealed.length < log.segmentCount - 1 && waited < 5000;
        waited += 10
      )
        await new Promise((resolve) => setTimeout(resolve, 10));
      await compactLog(log, { clock: systemClock, logger: new MemoryLogger() });
      const decidedBelow = log.logEndOffset; // every window is wholly written: each has its marker
      let abortedLeft = 0;
      for (let offset = log.logStartOffset; offset < log.logEndOffset;) {
        const read = await log.read(offset, 1 << 20);
        if (read.records.length === 0) break;
        for (const batch of await decodeRecordBatches(read.records)) {
          for (const record of batch.records)
            if (
              !batch.isControl &&
              record.offset < decidedBelow &&
              crashRecordAborted(record.offset, batch.isTransactional)
            )
              abortedLeft += 1;
        }
        offset = read.nextOffset;
      }
      assert.equal(abortedLeft, 0, `seed ${seed}: records of aborted transactions left after the final compaction`);
      assert.ok(decidedBelow >= 100, 'the test wrote aborted transactions');
    }
    await log.abandon();
  }
  console.log(
    `kill -9 (compacting): ${otherCycles} cycles, ${totalAcks} acknowledged batches, ${servedRecords} of ` +
      `${logOffsets} offsets still hold a record, seed ${seed}`,
  );
  assert.ok(totalAcks > 0);
  assert.ok(servedRecords < logOffsets, 'compaction never removed anything: the test did not test it');
});

// Retention deletes segments from the front (rename to .deleted, unlink, log start checkpoint)
// while appends go on. After each kill: the log starts at a segment boundary, everything from there
// to the end is exactly what was written, contiguous, and every acknowledged batch at or after the
// log start is there; the log never shrinks below retention.bytes by more than a segment.
test(
  `kill -9 while retention deletes segments, ${otherCycles} cycles (seed ${seed})`,
  { timeout: 30 * 60_000 },
  async () => {
    const random = seededRandom(seed + 2);
    const directory = `${temporary.path}/crash-retention-0`;
    const acknowledged = new Map<number, number>();
    let highestAcknowledged = -1;
    let previousStart = 0;
    let totalAcks = 0;
    for (let cycle = 0; cycle < otherCycles; cycle += 1) {
      const duringStartup = random.integer(4) === 0;
      const killAfterMs = duringStartup ? random.integer(300) : random.integer(400);
      const result = await runAndKill(directory, killAfterMs, duringStartup, ['sync', 'retention']);
      for (const ack of result.acks) {
        acknowledged.set(ack.baseOffset, ack.lastOffset);
        highestAcknowledged = Math.max(highestAcknowledged, ack.lastOffset);
      }
      totalAcks += result.acks.length;
      const where =
        `seed ${seed} (replay with SLUICE_TEST_SEED=${seed}), retention cycle ${cycle}, killed ` +
        `${killAfterMs} ms after ${duringStartup ? 'spawn' : 'ready'}`;
      const log = await PartitionLog.open({
        directory,
        topic: 'crash',
        partition: 0,
        config: crashRetentionLogConfig,
        logger: new MemoryLogger(),
      });
      assert.ok(
        log.logEndOffset > highestAcknowledged,
        `${where}: log ends at ${log.logEndOffset}, ${highestAcknowledged} was acknowledged`,
      );
      assert.ok(
        log.logStartOffset >= previousStart,
        `${where}: log start went back from ${previousStart} to ${log.logStartOffset}`,
      );
      // Retention moves the log start (to a segment boundary) before it renames the segments away, so a
      // kill in between may leave one or more whole segments below the log start: hidden from reads and
      // deleted by the next pass, as after DeleteRecords.
      const bases = log.segmentBaseOffsets;
      assert.ok(
        bases.includes(log.logStartOffset) || log.logStartOffset === log.logEndOffset,
        `${where}: log start ${log.logStartOffset} is not a segment boundary (${bases.join(', ')})`,
      );
      previousStart = log.logStartOffset;
      const seen = new Set<number>();
      let expectedOffset = log.logStartOffset;
      for (let offset = log.logStartOffset; offset < log.logEndOffset;) {
        const read = await log.read(offset, 1 << 20);
        assert.ok(read.records.length > 0, `${where}: nothing to read at ${offset}`);
        for (const batch of splitBatches(read.records)) {
          assert.equal(batch.baseOffset, expectedOffset, `${where}: batches out of order`);
          assert.ok(
            batch.bytes.equals(crashBatchFor(batch.baseOffset)),
            `${where}: batch at ${batch.baseOffset} is not what was written`,
          );
          seen.add(batch.baseOffset);
          expectedOffset = batch.lastOffset + 1;
        }
        offset = read.nextOffset;
      }
      for (const [baseOffset] of acknowledged) {
        if (baseOffset >= log.logStartOffset)
          assert.ok(seen.has(baseOffset), `${where}: acknowledged batch ${baseOffset} is missing`);
      }
      assert.ok(
        log.sizeBytes >= 256 * 1024 - 64 * 1024 || log.logStartOffset === 0,
        `${where}: retention left only ${log.sizeBytes} bytes`,
      );
      await log.abandon();
    }
    console.log(
      `kill -9 (retention): ${otherCycles} cycles, ${totalAcks} acknowledged batches, log start reached ` +
        `${previousStart}, seed ${seed}`,
    );
    assert.ok(previousStart > 0, 'retention never deleted anything: the test did not test it');
  },
);
