// Log compaction (`cleanup.policy=compact`, or `compact,delete`): keep the last record of every key.
//
//   1. Read every key of the sealed, flushed segments into a map key → last offset. As in Kafka,
//      the active segment is not part of it: a record there does not yet supersede older ones, so
//      truncating the active segment (replication, later) can never expose a key compaction removed.
//   2. Rewrite each sealed segment older than `min.compaction.lag.ms`, keeping a record when it is
//      the last one of its key (or has no key), and dropping a tombstone (null value) that is the
//      last of its key once its timestamp is older than `delete.retention.ms`.
//   3. Offsets never change: each run of consecutive kept records becomes one batch whose base
//      offset is the run's first offset, so offsets stay exact and every batch passes the same
//      strict header checks as a produced one (lastOffsetDelta + 1 = recordCount). Control batches
//      (transaction markers) are kept as they are. Batches are re-compressed with their own codec.
//   4. The copy is written to `<base>.log.cleaned`, fsync'ed, renamed `<base>.log.swap`, then
//      renamed over `<base>.log` (recovery completes or discards each step after a crash).
//
// This runs in the background on sealed segments only, so appends never wait for it; it decodes
// records, which is fine off the hot path. Simplifications against Kafka: the key map is not
// bounded (Kafka's log.cleaner.dedupe.buffer.size), every eligible segment is rewritten in one
// pass without the dirty-ratio check, and the tombstone horizon uses record timestamps rather than
// a delete horizon stamped in the batch.

import { Compression } from '../protocol/record-batch/header.js';
import { decodeRecordBatch, encodeRecordBatch, type DecodedRecord } from '../protocol/record-batch/records.js';
import type { Clock } from './clock.js';
import { isDiskError } from './errors.js';
import type { PartitionLog } from './log.js';
import type { StorageLogger } from './logger.js';
import { cleanedSuffix, swapSuffix } from './segment-files.js';
import type { Segment } from './segment.js';

export interface CompactionResult {
  segmentsRewritten: number;
  recordsRemoved: number;
  bytesBefore: number;
  bytesAfter: number;
}

function keyOf(record: DecodedRecord): string | null {
  return record.key === null ? null : record.key.toString('latin1');
}

async function collectLastOffsets(segments: readonly Segment[]): Promise<Map<string, number>> {
  const lastOffsetOfKey = new Map<string, number>();
  for (const segment of segments) {
    segment.acquire();
    try {
      await segment.forEachBatch(segment.readableBytes, async (bytes) => {
        const batch = await decodeRecordBatch(bytes);
        if (batch.isControl) return;
        for (const record of batch.records) {
          const key = keyOf(record);
          if (key !== null) lastOffsetOfKey.set(key, record.offset);
        }
      });
    } finally {
      segment.release();
    }
  }
  return lastOffsetOfKey;
}

/** Compacts the log's sealed segments. Safe to run while appends continue. */
export async function compactLog(log: PartitionLog, context: { clock: Clock; logger: StorageLogger }): Promise<CompactionResult> {
  try {
    return await compactSegments(log, context);
  } catch (error) {
    // The disk failed under us (an invalid record is a decode error, not a disk one: it is logged
    // and the partition keeps working, uncompacted).
    if (isDiskError(error)) log.reportDiskFailure('compaction', error);
    else context.logger.log('error', 'compaction-failed', { directory: log.directory, error: (error as Error).message });
    throw error;
  }
}

async function compactSegments(log: PartitionLog, context: { clock: Clock; logger: StorageLogger }): Promise<CompactionResult> {
  const result: CompactionResult = { segmentsRewritten: 0, recordsRemoved: 0, bytesBefore: 0, bytesAfter: 0 };
  const { sealed } = log.segmentsForCompaction();
  if (sealed.length === 0) return result;
  const lastOffsetOfKey = await collectLastOffsets(sealed);
  const now = context.clock.now();
  const { fileSystem } = log.segmentEnvironment;
  for (const segment of sealed) {
    if (segment.isEmpty() || now - segment.maxTimestamp < log.config.minCompactionLagMs) continue;
    const output: Buffer[] = [];
    let removed = 0;
    segment.acquire();
    try {
      await segment.forEachBatch(segment.readableBytes, async (bytes) => {
        const batch = await decodeRecordBatch(bytes);
        const keep = (record: DecodedRecord) => {
          if (batch.isControl) return true;
          const key = keyOf(record);
          if (key === null) return true;
          if (lastOffsetOfKey.get(key) !== record.offset) return false;
          return record.value !== null || now - record.timestamp <= log.config.deleteRetentionMs;
        };
        const kept = batch.records.filter(keep);
        removed += batch.records.length - kept.length;
        if (kept.length === batch.records.length) {
          output.push(Buffer.from(bytes));
          return;
        }
        // One batch per run of consecutive offsets.
        let run: DecodedRecord[] = [];
        const flush = async () => {
          if (run.length === 0) return;
          const first = run[0]!;
          output.push(
            await encodeRecordBatch({
              records: run.map((record, index) => ({ key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp, offsetDelta: index })),
              baseOffset: first.offset,
              partitionLeaderEpoch: batch.partitionLeaderEpoch,
              producerId: batch.producerId,
              producerEpoch: batch.producerEpoch,
              baseSequence: batch.baseSequence < 0 ? -1 : (batch.baseSequence + first.offsetDelta) % 2 ** 31,
              transactional: batch.isTransactional,
              timestampType: batch.timestampType,
              compression: batch.compression as Compression,
              timestamp: batch.baseTimestamp,
              ...(batch.timestampType === 1 ? { maxTimestamp: batch.maxTimestamp } : {}),
            }),
          );
          run = [];
        };
        for (const record of kept) {
          const previous = run.at(-1);
          if (previous !== undefined && record.offset !== previous.offset + 1) await flush();
          run.push(record);
        }
        await flush();
      });
    } finally {
      segment.release();
    }
    if (removed === 0) continue;
    const cleanedPath = `${segment.logPath}${cleanedSuffix}`;
    const swapPath = `${segment.logPath}${swapSuffix}`;
    const fd = await fileSystem.open(cleanedPath, 'w');
    try {
      await fileSystem.writeAll(fd, output, 0);
      await fileSystem.fsync(fd);
    } finally {
      await fileSystem.close(fd);
    }
    await fileSystem.rename(cleanedPath, swapPath);
    await fileSystem.syncDirectory(segment.directory);
    const bytesAfter = output.reduce((sum, part) => sum + part.length, 0);
    if (await log.replaceSegment(segment, swapPath)) {
      result.segmentsRewritten += 1;
      result.recordsRemoved += removed;
      result.bytesBefore += segment.sizeBytes;
      result.bytesAfter += bytesAfter;
    }
  }
  if (result.segmentsRewritten > 0) {
    context.logger.log('info', 'log-compacted', { directory: log.directory, ...result });
  }
  return result;
}
