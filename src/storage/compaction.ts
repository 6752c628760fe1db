// Log compaction (`cleanup.policy=compact`, or `compact,delete`): keep the last record of every key,
// and drop the records of aborted transactions, as Kafka's log cleaner does.
//
//   1. Read the sealed, flushed segments in offset order. As in Kafka, the active segment is not
//      part of it: a record there does not yet supersede older ones, so truncating the active
//      segment (replication, later) can never expose a key compaction removed. On the way, follow
//      every producer's transaction: a transactional data batch opens one (if none is open), the
//      producer's COMMIT or ABORT control batch ends it. An ABORT gives the range [first offset of
//      the transaction, marker offset] of that producer: its transactional batches are aborted.
//   2. A transaction still open at the end — its marker not in a sealed, flushed segment, whether
//      the transaction is undecided or only its marker is newer — bounds the pass: only segments
//      that end at or before its first offset are compacted, and only their records count as the
//      latest of a key. So compaction never passes the last stable offset (the first offset of the
//      oldest open transaction), even for a transaction that spans segments, and an undecided
//      record is neither removed nor allowed to supersede another. Storage learns this from the
//      batches themselves — nothing from the broker — so the `.txnindex` files (which after a crash
//      may wait for the broker to complete them) are not needed here.
//   3. Key map: key → offset of its last record, over the compacted segments, leaving out aborted
//      batches, so an aborted record never shadows a committed older value. Transactional records
//      count only once their COMMIT is seen (a record's place is its offset, not its marker's).
//   4. Rewrite each compacted segment older than `min.compaction.lag.ms`: drop every batch of an
//      aborted transaction; keep a record when it is the last one of its key (or has no key),
//      dropping a tombstone (null value) that is the last of its key once its timestamp is older
//      than `delete.retention.ms`. Control batches (COMMIT/ABORT markers) are always kept, so the
//      `.txnindex` entries of a segment (each naming its ABORT marker) stay valid unchanged.
//   5. Offsets never change: each run of consecutive kept records becomes one batch whose base
//      offset is the run's first offset, so offsets stay exact and every batch passes the same
//      strict header checks as a produced one (lastOffsetDelta + 1 = recordCount). Batches are
//      re-compressed with their own codec and keep their producer, epoch and transactional bit.
//   6. The copy is written to `<base>.log.cleaned`, fsync'ed, renamed `<base>.log.swap`, then
//      renamed over `<base>.log` (recovery completes or discards each step after a crash).
//
// This runs in the background on sealed segments only, so appends never wait for it; it decodes
// records, which is fine off the hot path. Simplifications against Kafka: the key map is not
// bounded (Kafka's log.cleaner.dedupe.buffer.size), every eligible segment is rewritten in one
// pass without the dirty-ratio check, the tombstone horizon uses record timestamps rather than a
// delete horizon stamped in the batch, and transaction markers are never removed (Kafka removes a
// marker once its transaction has no data left and delete.retention.ms has passed).

import { ControlRecordType, decodeControlBatchMarker } from '../protocol/record-batch/control.js';
import { Compression } from '../protocol/record-batch/header.js';
import {
  decodeRecordBatch,
  type DecodedRecord,
  type DecodedRecordBatch,
} from '../protocol/record-batch/record-decoder.js';
import { encodeRecordBatch } from '../protocol/record-batch/record-encoder.js';
import type { Clock } from '../runtime/clock.js';
import { isDiskError } from './errors.js';
import type { LogConfig } from './limits.js';
import type { StorageLogger } from './logger.js';
import { cleanedSuffix, swapSuffix } from './segment-files.js';
import type { Segment, SegmentEnvironment } from './segment.js';

/** What compaction needs of a partition log — PartitionLog gives it, and this file does not know
 *  PartitionLog: the segments it may rewrite, a way to swap one in, and where to report a disk error. */
export interface CompactionTarget {
  readonly directory: string;
  readonly config: LogConfig;
  readonly segmentEnvironment: SegmentEnvironment;
  /** The sealed, flushed segments compaction may rewrite, and all segments. */
  segmentsForCompaction(): { sealed: Segment[]; all: Segment[] };
  /** Puts a complete, fsync'ed `.log.swap` in place of `segment`; false if the segment went away. */
  replaceSegment(segment: Segment, swapPath: string): Promise<boolean>;
  reportDiskFailure(operation: string, error: unknown): void;
}

export interface CompactionResult {
  segmentsRewritten: number;
  recordsRemoved: number;
  bytesBefore: number;
  bytesAfter: number;
}

function keyOf(record: DecodedRecord): string | null {
  return record.key === null ? null : record.key.toString('latin1');
}

/** What the sealed segments say about transactions. */
class TransactionsSeen {
  /** producerId → aborted ranges [firstOffset, markerOffset], in offset order. */
  private readonly aborted = new Map<number, { firstOffset: number; lastOffset: number }[]>();
  /** producerId → its open transaction: first offset, and its keyed records waiting for a COMMIT. */
  readonly open = new Map<number, { firstOffset: number; records: { key: string; offset: number }[] }>();

  /** Is this a batch of an aborted transaction? */
  isAborted(batch: DecodedRecordBatch): boolean {
    if (!batch.isTransactional || batch.isControl) return false;
    const ranges = this.aborted.get(batch.producerId);
    if (ranges === undefined) return false;
    // The first range whose marker is at or after the batch; ranges of one producer do not overlap.
    let low = 0;
    let high = ranges.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (ranges[middle]!.lastOffset < batch.baseOffset) low = middle + 1;
      else high = middle;
    }
    const range = ranges[low];
    return range !== undefined && range.firstOffset <= batch.baseOffset;
  }

  /** Takes a control batch: returns the committed records of the transaction it ends, if any. */
  end(batch: DecodedRecordBatch): { key: string; offset: number }[] {
    const marker = decodeControlBatchMarker(batch);
    if (marker.type !== ControlRecordType.Abort && marker.type !== ControlRecordType.Commit) return [];
    const open = this.open.get(batch.producerId);
    if (open === undefined) return []; // a marker of a transaction without data here (or removed)
    this.open.delete(batch.producerId);
    if (marker.type === ControlRecordType.Commit) return open.records;
    let ranges = this.aborted.get(batch.producerId);
    if (ranges === undefined) this.aborted.set(batch.producerId, (ranges = []));
    ranges.push({ firstOffset: open.firstOffset, lastOffset: marker.offset });
    return [];
  }

  /** First offset of the oldest transaction still open, or +∞. */
  firstOpenOffset(): number {
    let first = Number.POSITIVE_INFINITY;
    for (const { firstOffset } of this.open.values()) first = Math.min(first, firstOffset);
    return first;
  }
}

async function forEachDecodedBatch(
  segment: Segment,
  visit: (batch: DecodedRecordBatch, bytes: Buffer) => void | Promise<void>,
): Promise<void> {
  segment.acquire();
  try {
    await segment.forEachBatch(segment.readableBytes, async (bytes) => visit(await decodeRecordBatch(bytes), bytes));
  } finally {
    segment.release();
  }
}

/**
 * One pass over the sealed segments: the transactions they hold, the offset below which nothing is
 * undecided (`horizon`), and the key map — exact when no transaction is left open; otherwise it
 * counted records past the horizon and collectLastOffsets builds it again below.
 */
async function scanSealed(
  segments: readonly Segment[],
): Promise<{ transactions: TransactionsSeen; horizon: number; lastOffsetOfKey: Map<string, number> }> {
  const transactions = new TransactionsSeen();
  const lastOffsetOfKey = new Map<string, number>();
  const count = (key: string, offset: number) => {
    // Committed records are counted at their marker, so later records of the key may be in already.
    if ((lastOffsetOfKey.get(key) ?? -1) < offset) lastOffsetOfKey.set(key, offset);
  };
  for (const segment of segments) {
    await forEachDecodedBatch(segment, (batch) => {
      if (batch.isControl) {
        if (batch.isTransactional) for (const { key, offset } of transactions.end(batch)) count(key, offset);
        return;
      }
      if (batch.isTransactional) {
        let open = transactions.open.get(batch.producerId);
        if (open === undefined)
          transactions.open.set(batch.producerId, (open = { firstOffset: batch.baseOffset, records: [] }));
        for (const record of batch.records) {
          const key = keyOf(record);
          if (key !== null) open.records.push({ key, offset: record.offset });
        }
        return;
      }
      for (const record of batch.records) {
        const key = keyOf(record);
        if (key !== null) count(key, record.offset);
      }
    });
  }
  return { transactions, horizon: transactions.firstOpenOffset(), lastOffsetOfKey };
}

/** The key map over `segments` (all below the horizon: every transaction there is decided). */
async function collectLastOffsets(
  segments: readonly Segment[],
  transactions: TransactionsSeen,
): Promise<Map<string, number>> {
  const lastOffsetOfKey = new Map<string, number>();
  for (const segment of segments) {
    await forEachDecodedBatch(segment, (batch) => {
      if (batch.isControl || transactions.isAborted(batch)) return;
      for (const record of batch.records) {
        const key = keyOf(record);
        if (key !== null) lastOffsetOfKey.set(key, record.offset);
      }
    });
  }
  return lastOffsetOfKey;
}

/** Compacts the log's sealed segments. Safe to run while appends continue. */
export async function compactLog(
  log: CompactionTarget,
  context: { clock: Clock; logger: StorageLogger },
): Promise<CompactionResult> {
  try {
    return await compactSegments(log, context);
  } catch (error) {
    // The disk failed under us (an invalid record is a decode error, not a disk one: it is logged
    // and the partition keeps working, uncompacted).
    if (isDiskError(error)) log.reportDiskFailure('compaction', error);
    else
      context.logger.log('error', 'compaction-failed', { directory: log.directory, error: (error as Error).message });
    throw error;
  }
}

async function compactSegments(
  log: CompactionTarget,
  context: { clock: Clock; logger: StorageLogger },
): Promise<CompactionResult> {
  const result: CompactionResult = { segmentsRewritten: 0, recordsRemoved: 0, bytesBefore: 0, bytesAfter: 0 };
  const { sealed } = log.segmentsForCompaction();
  if (sealed.length === 0) return result;
  const scanned = await scanSealed(sealed);
  const { transactions, horizon } = scanned;
  // Only segments wholly below the oldest open transaction (the last stable offset, as far as the
  // sealed segments tell) are compacted, and only their records supersede others.
  const compacted = sealed.filter((segment) => segment.nextOffset <= horizon);
  if (compacted.length === 0) return result;
  const lastOffsetOfKey =
    compacted.length === sealed.length ? scanned.lastOffsetOfKey : await collectLastOffsets(compacted, transactions);
  const now = context.clock.now();
  const { fileSystem } = log.segmentEnvironment;
  for (const segment of compacted) {
    if (segment.isEmpty() || now - segment.maxTimestamp < log.config.minCompactionLagMs) continue;
    const output: Buffer[] = [];
    let removed = 0;
    await forEachDecodedBatch(segment, async (batch, bytes) => {
      if (transactions.isAborted(batch)) {
        removed += batch.records.length; // the whole batch: an aborted transaction leaves no record
        return;
      }
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
            records: run.map((record, index) => ({
              key: record.key,
              value: record.value,
              headers: record.headers,
              timestamp: record.timestamp,
              offsetDelta: index,
            })),
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
