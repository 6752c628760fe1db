// Storage benchmark: appends under the `sync` flush policy against the machine's own raw
// write+fdatasync speed, measured in the same run with the same write size and the same number
// of files in parallel; then reads from the page cache.
//
//   npm run bench storage        SLUICE_BENCH_SECONDS=<s per case> (default 3)
//                                SLUICE_BENCH_DIR=<dir> (default: the OS temp dir)
//
// Each append is one 16 KiB RecordBatch (of 100-byte or 1 KiB records), 64 appenders in flight
// in total, spread over 1, 8 or 64 partitions. The raw figure is N files, each written 16 KiB at a
// time and fdatasync'ed after every write — what a broker without group commit could do. With
// group commit one fdatasync covers many appends, so the log may beat the raw figure.

import * as fs from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecordBatchSync } from '../src/protocol/record-batch/record-encoder.js';
import { nodeFileSystem } from '../src/storage/file-system.js';
import { PartitionLog } from '../src/storage/log.js';
import { MemoryLogger } from '../src/storage/logger.js';

const batchBytesTarget = 16 * 1024;
const appendersInFlight = 64;
const secondsPerCase = Number(process.env.SLUICE_BENCH_SECONDS ?? 3);

function makeBatch(recordBytes: number): Buffer {
  const value = Buffer.alloc(recordBytes, 0x61);
  const records = [];
  // Fill up to ~16 KiB including per-record overhead.
  for (let total = 61; total + recordBytes + 10 <= batchBytesTarget; total += recordBytes + 10)
    records.push({ key: null, value });
  return encodeRecordBatchSync({ records, timestamp: Date.now() });
}

function megabytesPerSecond(bytes: number, ms: number): number {
  return bytes / (1024 * 1024) / (ms / 1000);
}

/** N files in parallel, each: write 16 KiB at the end, fdatasync, repeat. */
async function rawWriteSync(
  directory: string,
  files: number,
  writeBytes: number,
): Promise<{ mbps: number; syncs: number }> {
  const block = Buffer.alloc(writeBytes, 0x62);
  const deadline = Date.now() + secondsPerCase * 1000;
  let bytes = 0;
  let syncs = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: files }, async (_, index) => {
      const fd = await nodeFileSystem.open(join(directory, `raw-${index}`), 'w');
      let position = 0;
      while (Date.now() < deadline) {
        await nodeFileSystem.writeAll(fd, [block], position);
        await nodeFileSystem.fdatasync(fd);
        position += writeBytes;
        bytes += writeBytes;
        syncs += 1;
      }
      await nodeFileSystem.close(fd);
    }),
  );
  return { mbps: megabytesPerSecond(bytes, Date.now() - started), syncs };
}

async function logAppends(
  directory: string,
  partitions: number,
  recordBytes: number,
): Promise<{ mbps: number; appends: number; logs: PartitionLog[] }> {
  const logs = await Promise.all(
    Array.from({ length: partitions }, (_, partition) =>
      PartitionLog.open({
        directory: join(directory, `bench-${partition}`),
        topic: 'bench',
        partition,
        config: { flushPolicy: { kind: 'sync' } },
        logger: new MemoryLogger(),
        trustAppendedBatches: true,
      }),
    ),
  );
  const template = makeBatch(recordBytes);
  const deadline = Date.now() + secondsPerCase * 1000;
  let bytes = 0;
  let appends = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: appendersInFlight }, async (_, appender) => {
      const log = logs[appender % partitions]!;
      const batch = Buffer.from(template); // each appender owns its buffer: append writes offsets into it
      while (Date.now() < deadline) {
        await log.append(batch);
        bytes += batch.length;
        appends += 1;
      }
    }),
  );
  return { mbps: megabytesPerSecond(bytes, Date.now() - started), appends, logs };
}

async function readAll(logs: PartitionLog[]): Promise<number> {
  let bytes = 0;
  const started = Date.now();
  await Promise.all(
    logs.map(async (log) => {
      for (let offset = log.logStartOffset; offset < log.logEndOffset;) {
        const read = await log.read(offset, 1024 * 1024);
        if (read.records.length === 0) break;
        bytes += read.records.length;
        offset = read.nextOffset;
      }
    }),
  );
  return megabytesPerSecond(bytes, Date.now() - started);
}

function machineFacts(directory: string): string {
  const cpu = cpus();
  let free = 'unknown';
  try {
    const stats = fs.statfsSync(directory);
    free = `${((stats.bavail * stats.bsize) / 1024 ** 3).toFixed(1)} GiB free`;
  } catch {
    // statfs is missing on some platforms
  }
  return [
    `cpu: ${cpu[0]?.model ?? 'unknown'} × ${cpu.length} cores`,
    `disk: ${directory} (${free})`,
    `node ${process.version} on ${process.platform}/${process.arch}, ` +
      `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}`,
  ].join('\n');
}

export async function run(): Promise<void> {
  const base = fs.mkdtempSync(join(process.env.SLUICE_BENCH_DIR ?? tmpdir(), 'sluice-bench-storage-'));
  try {
    console.log(machineFacts(base));
    console.log(
      `${secondsPerCase} s per case, 16 KiB batches, ${appendersInFlight} appenders in flight, log.flush.policy=sync\n`,
    );
    console.log('records  partitions  raw write+fdatasync MB/s  log MB/s  log/raw  read MB/s (page cache)');
    for (const recordBytes of [100, 1024]) {
      for (const partitions of [1, 8, 64]) {
        const caseDirectory = fs.mkdtempSync(join(base, `case-`));
        const raw = await rawWriteSync(caseDirectory, partitions, batchBytesTarget);
        const appended = await logAppends(caseDirectory, partitions, recordBytes);
        const readMbps = await readAll(appended.logs);
        await Promise.all(appended.logs.map((log) => log.close()));
        fs.rmSync(caseDirectory, { recursive: true, force: true });
        const ratio = appended.mbps / raw.mbps;
        console.log(
          `${String(recordBytes).padStart(7)}  ${String(partitions).padStart(10)}  ` +
            `${raw.mbps.toFixed(1).padStart(24)}  ${appended.mbps.toFixed(1).padStart(8)}  ` +
            `${(ratio * 100).toFixed(0).padStart(6)}%  ${readMbps.toFixed(0).padStart(9)}`,
        );
      }
    }
    console.log('\ntarget: log ≥ 70% of raw at 8 partitions (issue 4)');
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}
