// The log's lookups by time for ListOffsets, record-exact as Kafka answers them: the first record whose
// timestamp is at or after a target (KIP-79), and the record with the largest timestamp (KIP-734).
// This is a lookup, not the hot path: the batch headers and indexes find the one batch to look inside,
// and that batch is decoded (decompressed if need be) to find the record.
//
// By time, target t (Kafka's UnifiedLog.searchOffsetInLocalLog → LogSegment.findOffsetByTimestamp →
// FileRecords.searchForTimestamp): the first record, in offset order, at or after the log start,
// whose timestamp is ≥ t.
//   1. A segment whose largest batch timestamp is < t holds no such record: skipped.
//   2. Inside a segment, the time index's last entry below t says every batch up to its offset is
//      older; the offset index gives the position to walk the batch headers from.
//   3. A batch whose header maxTimestamp is < t is stepped over; the first one with maxTimestamp ≥ t
//      is decoded and its first record (at or after the log start) with timestamp ≥ t is the answer.
//      Batches are not sorted by timestamp (CreateTime is the producer's), so a batch before it with
//      a smaller maxTimestamp cannot hold one, and none after it comes earlier.
//   4. If that batch holds no such record (its header claimed more than its records have, or the
//      record is below the log start), the walk goes on with the next batch, into later segments too.
//      Kafka searches only the first segment whose largest timestamp is ≥ t and answers none then.
// Largest timestamp (UnifiedLog.fetchOffsetByTimestamp for MAX_TIMESTAMP): the segment with the
// largest timestamp (the first of equals) names the first batch that reached it; the answer is that
// batch's first record carrying it. The first segment may hold records below the log start
// (DeleteRecords); when its largest timestamp could come from those, its batches are walked from the
// log start instead (Kafka would answer an offset below the log start).
//
// Both answers count only records below `limitOffset` (the caller's last fetchable offset) and, as
// Kafka, look for the record first and then drop it if it is at or past the limit: a record past the
// limit is not replaced by a later or smaller one. Control batches (transaction markers) are records
// here as in Kafka: a lookup can answer a marker's offset; a consumer starting there skips it.
//
// What a batch whose header disagrees with its records does (sarama 1.22 sends maxTimestamp −1; the
// broker corrects headers on produce, but older data may hold such batches):
//   header larger than its records:  decoded, found wanting, skipped with a warning (step 4): the
//                                    answer is still the right one.
//   header smaller than its records: never looked into, so its records are missed: the answer is a
//                                    later record, or none. Never an earlier one.
//   MAX_TIMESTAMP on a batch whose records lack the header's timestamp: the batch's own first record
//                                    with its largest timestamp, with a warning.
// A batch that fails its checks when read back (length, magic, CRC, records) is a StorageError
// DAMAGED_BATCH (KAFKA_STORAGE_ERROR for that partition), logged; nothing is changed on disk. A batch
// that inflates past the record decoder's bound (DEFAULT_MAX_DECOMPRESSED_BYTES, 64 MiB) is not looked
// into: it answers its first offset (at or after the log start) and its header's maxTimestamp, with a
// warning — a consumer starting there gets at most that one batch's older records again. So does a
// batch whose bytes are sound (CRC as written) but whose records do not decode: its producer wrote it
// so, and the disk is not to blame (a warning, not a storage error).

import {
  BATCH_HEADER_BYTES,
  RECORD_BATCH_MAGIC,
  RecordBatchHeader,
  TIMESTAMP_TYPE_LOG_APPEND_TIME,
  validateBatch,
} from '../protocol/record-batch/header.js';
import { DecompressionLimitError } from '../protocol/record-batch/errors.js';
import {
  locateRecordBatch,
  locatedRecordCount,
  RECORD_SLOTS,
  SLOT_OFFSET_DELTA,
} from '../protocol/record-batch/record-locator.js';
import { StorageError } from './errors.js';
import type { FileSystem } from './file-system.js';
import { storageLimits } from './limits.js';
import type { StorageLogger } from './logger.js';
import type { Segment } from './segment.js';
import { ChunkReader } from './segment-reader.js';

/** One record a lookup answers with. */
export interface RecordAtTime {
  offset: number;
  timestamp: number;
  /** The partitionLeaderEpoch of the batch holding the record (Kafka answers that); −1 if none. */
  leaderEpoch: number;
}

/** What a lookup sees of the log. */
export interface TimestampLookupScope {
  /** The segments, oldest first: a copy, so retention or a roll meanwhile does not move them. */
  segments: readonly Segment[];
  logStartOffset: number;
  /** No record at or past this offset is an answer (the high watermark, the last stable offset, …). */
  limitOffset: number;
  fileSystem: FileSystem;
  logger: StorageLogger;
  directory: string;
  /** Called after a segment's indexes were used (the log's cache of loaded indexes). */
  noteIndexUse(segment: Segment): void;
  /** What was logged already (kept by the log across lookups): each problem is logged once, not at
   *  every request that meets it. */
  reported: Set<string>;
}

/** Problems remembered as logged; past this the memory starts over (a log line again, not a leak). */
const reportedProblemsMax = 1024;

/** A batch header met on a walk, copied out of the read buffer (which the next read reuses). */
interface BatchHeading {
  position: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  totalBytes: number;
  leaderEpoch: number;
}

/** A decoded batch's records, in offset order; null when it is too large to decompress here. */
type BatchRecords = { offsets: number[]; timestamps: number[] } | null;

/** The answer's leader epoch: Kafka answers none (−1) for a batch that carries none. */
function epochOf(batch: BatchHeading): number {
  return batch.leaderEpoch >= 0 ? batch.leaderEpoch : -1;
}

/** Reads batch headers and whole batches of one segment, checking what it reads. */
class SegmentWalk {
  private readonly reader: ChunkReader;

  constructor(
    private readonly scope: TimestampLookupScope,
    private readonly segment: Segment,
    fd: number,
    readonly endPosition: number,
  ) {
    this.reader = new ChunkReader(scope.fileSystem, fd, endPosition, storageLimits.scanChunkBytes);
  }

  /** The header at `position`, checked for structure (the walk must never step by a garbage length). */
  async heading(position: number): Promise<BatchHeading> {
    const view = await this.reader.header(position);
    if (view.available < BATCH_HEADER_BYTES)
      throw this.damaged(position, `${view.available} bytes where a batch header should be`);
    const header = new RecordBatchHeader(view.buffer, view.offset);
    if (header.magic !== RECORD_BATCH_MAGIC) throw this.damaged(position, `magic ${header.magic}`);
    const totalBytes = header.totalBytes;
    if (totalBytes < BATCH_HEADER_BYTES || position + totalBytes > this.endPosition)
      throw this.damaged(position, `batch length ${totalBytes} does not fit before ${this.endPosition}`);
    try {
      return {
        position,
        baseOffset: header.baseOffset,
        lastOffset: header.lastOffset,
        maxTimestamp: header.maxTimestamp,
        totalBytes,
        leaderEpoch: header.partitionLeaderEpoch,
      };
    } catch (error) {
      throw this.damaged(position, (error as Error).message); // an offset outside the safe range
    }
  }

  /** Decodes the batch (checking its CRC and every record) into its records' offsets and timestamps. */
  async records(batch: BatchHeading): Promise<BatchRecords> {
    const view = await this.reader.view(batch.position, batch.totalBytes);
    const bytes = Buffer.from(view.buffer.subarray(view.offset, view.offset + batch.totalBytes));
    try {
      const located = await locateRecordBatch(bytes); // inflates at most DEFAULT_MAX_DECOMPRESSED_BYTES
      const count = locatedRecordCount(located);
      const logAppendTime = located.timestampType === TIMESTAMP_TYPE_LOG_APPEND_TIME;
      const offsets = new Array<number>(count);
      const timestamps = new Array<number>(count);
      for (let index = 0; index < count; index += 1) {
        offsets[index] = located.baseOffset + located.recordTable[index * RECORD_SLOTS + SLOT_OFFSET_DELTA]!;
        // A LogAppendTime batch's records all carry the broker's time, its maxTimestamp (as clients read them).
        timestamps[index] = logAppendTime
          ? located.maxTimestamp
          : located.baseTimestamp + located.timestampDeltas[index]!;
      }
      return { offsets, timestamps };
    } catch (error) {
      if (error instanceof DecompressionLimitError) {
        this.warn('lookup-batch-too-large', batch, { error: error.message });
        return null;
      }
      // Sound bytes (length, magic, CRC as written) whose records do not decode: the producer wrote
      // them so (produce checks the header and CRC, not each record); the disk is not at fault.
      if (validateBatch(bytes, 0, bytes.length) === null) {
        this.warn('lookup-batch-unreadable', batch, { error: (error as Error).message });
        return null;
      }
      throw this.damaged(batch.position, (error as Error).message);
    }
  }

  warn(event: string, batch: BatchHeading, fields: Record<string, unknown>): void {
    if (this.alreadyReported(event, batch.position)) return;
    this.scope.logger.log('warn', event, {
      directory: this.scope.directory,
      segment: this.segment.baseOffset,
      position: batch.position,
      baseOffset: batch.baseOffset,
      headerMaxTimestamp: batch.maxTimestamp,
      ...fields,
    });
  }

  private damaged(position: number, detail: string): StorageError {
    if (!this.alreadyReported('damaged-batch', position))
      this.scope.logger.log('error', 'damaged-batch', {
        directory: this.scope.directory,
        segment: this.segment.baseOffset,
        position,
        detail,
        during: 'timestamp lookup',
      });
    return new StorageError('DAMAGED_BATCH', `segment ${this.segment.baseOffset} at byte ${position}: ${detail}`);
  }

  private alreadyReported(event: string, position: number): boolean {
    const key = `${event} ${this.segment.baseOffset} ${position}`;
    const { reported } = this.scope;
    if (reported.has(key)) return true;
    if (reported.size >= reportedProblemsMax) reported.clear();
    reported.add(key);
    return false;
  }
}

/** Runs `work` on a walk of `segment`, holding the segment's file open meanwhile. */
async function withWalk<T>(
  scope: TimestampLookupScope,
  segment: Segment,
  work: (walk: SegmentWalk) => Promise<T>,
): Promise<T> {
  segment.acquire();
  try {
    const fd = await segment.fileDescriptor();
    const result = await work(new SegmentWalk(scope, segment, fd, segment.readableBytes));
    scope.noteIndexUse(segment);
    return result;
  } finally {
    segment.release();
  }
}

/** Not found in this segment: go on with the next one. */
const continueSearch = Symbol('continue');

/** The first record at or after the log start whose timestamp is ≥ `target`, if below the limit. */
export async function firstRecordAtOrAfter(scope: TimestampLookupScope, target: number): Promise<RecordAtTime | null> {
  const { logStartOffset, limitOffset } = scope;
  for (const segment of scope.segments) {
    if (segment.nextOffset <= logStartOffset || segment.isEmpty() || segment.maxTimestamp < target) continue;
    if (segment.baseOffset >= limitOffset) return null;
    const found = await withWalk(scope, segment, async (walk) => {
      const fromOffset = Math.max(logStartOffset, segment.baseOffset);
      const { offsetIndex, timeIndex } = await segment.ensureIndexes();
      const older = timeIndex.lastBefore(target);
      const startOffset = Math.max(fromOffset, older === undefined ? segment.baseOffset : older.offset + 1);
      let position = offsetIndex.lookup(startOffset).position;
      while (position + BATCH_HEADER_BYTES <= walk.endPosition) {
        const batch = await walk.heading(position);
        position += batch.totalBytes;
        if (batch.lastOffset < fromOffset || batch.maxTimestamp < target) continue;
        if (batch.baseOffset >= limitOffset) return null;
        const records = await walk.records(batch);
        let found: RecordAtTime | null = null;
        if (records === null) {
          found = { offset: Math.max(batch.baseOffset, fromOffset), timestamp: batch.maxTimestamp, leaderEpoch: -1 };
        } else {
          const index = records.offsets.findIndex(
            (offset, at) => offset >= fromOffset && records.timestamps[at]! >= target,
          );
          if (index >= 0)
            found = { offset: records.offsets[index]!, timestamp: records.timestamps[index]!, leaderEpoch: -1 };
          else if (batch.baseOffset >= fromOffset)
            walk.warn('batch-header-timestamp-mismatch', batch, {
              recordsMaxTimestamp: largest(records.timestamps),
              target,
            });
        }
        if (found !== null) return found.offset < limitOffset ? { ...found, leaderEpoch: epochOf(batch) } : null;
      }
      return continueSearch;
    });
    if (found !== continueSearch) return found;
  }
  return null;
}

/** The first record (at or after the log start) with the largest timestamp, if below the limit. */
export async function recordWithLargestTimestamp(scope: TimestampLookupScope): Promise<RecordAtTime | null> {
  const live = scope.segments.filter((segment) => segment.nextOffset > scope.logStartOffset && !segment.isEmpty());
  const first = live[0];
  if (first === undefined) return null;
  let best = firstWithLargestTimestamp(live)!;
  if (best === first && first.baseOffset < scope.logStartOffset) {
    // The first segment's largest timestamp may belong to a record below the log start.
    const inFirst = await largestFromOffset(scope, first, scope.logStartOffset);
    const others = firstWithLargestTimestamp(live.slice(1));
    if (others === undefined || (inFirst !== null && inFirst.timestamp >= others.maxTimestamp))
      return inFirst === null || inFirst.offset >= scope.limitOffset ? null : inFirst;
    best = others;
  }
  const found = await recordWithTimestamp(scope, best, best.maxTimestamp);
  return found === null || found.offset >= scope.limitOffset ? null : found;
}

function largest(values: readonly number[]): number {
  let result = -Infinity;
  for (const value of values) if (value > result) result = value;
  return result;
}

/** The segment with the largest maxTimestamp; the first of several with the same. */
function firstWithLargestTimestamp(segments: readonly Segment[]): Segment | undefined {
  let best: Segment | undefined;
  for (const segment of segments) if (best === undefined || segment.maxTimestamp > best.maxTimestamp) best = segment;
  return best;
}

/** The first record with the segment's largest timestamp `timestamp`: in the first batch whose header
 *  carries it, found from the segment's offsetOfMaxTimestamp. Null if no written batch carries it. */
async function recordWithTimestamp(
  scope: TimestampLookupScope,
  segment: Segment,
  timestamp: number,
): Promise<RecordAtTime | null> {
  return withWalk(scope, segment, async (walk) => {
    const { offsetIndex } = await segment.ensureIndexes();
    let position = offsetIndex.lookup(segment.offsetOfMaxTimestamp).position;
    while (position + BATCH_HEADER_BYTES <= walk.endPosition) {
      const batch = await walk.heading(position);
      position += batch.totalBytes;
      if (batch.maxTimestamp === timestamp) return largestInBatch(walk, batch, scope.logStartOffset);
    }
    return null; // appended but not yet written: past every limit
  });
}

/** The first record at or after `fromOffset` with the largest timestamp among the segment's records
 *  there: a walk of its headers from `fromOffset`, decoding only the batch that holds it and the
 *  batch `fromOffset` falls inside. */
async function largestFromOffset(
  scope: TimestampLookupScope,
  segment: Segment,
  fromOffset: number,
): Promise<RecordAtTime | null> {
  return withWalk(scope, segment, async (walk) => {
    const { offsetIndex } = await segment.ensureIndexes();
    let straddling: RecordAtTime | null = null;
    let best: BatchHeading | null = null;
    let position = offsetIndex.lookup(fromOffset).position;
    while (position + BATCH_HEADER_BYTES <= walk.endPosition) {
      const batch = await walk.heading(position);
      position += batch.totalBytes;
      if (batch.lastOffset < fromOffset) continue;
      if (batch.baseOffset < fromOffset) straddling = await largestInBatch(walk, batch, fromOffset);
      else if (best === null || batch.maxTimestamp > best.maxTimestamp) best = batch;
    }
    const later = best === null || (straddling !== null && straddling.timestamp >= best.maxTimestamp) ? null : best;
    return later === null ? straddling : largestInBatch(walk, later, fromOffset);
  });
}

/** The batch's first record at or after `fromOffset` with the batch's largest timestamp. Warns when
 *  that is not the header's maxTimestamp (a header that lies). Null if no record is at or after it. */
async function largestInBatch(
  walk: SegmentWalk,
  batch: BatchHeading,
  fromOffset: number,
): Promise<RecordAtTime | null> {
  const records = await walk.records(batch);
  if (records === null) {
    const offset = Math.max(batch.baseOffset, fromOffset);
    return { offset, timestamp: batch.maxTimestamp, leaderEpoch: epochOf(batch) };
  }
  let best = -1;
  records.offsets.forEach((offset, index) => {
    if (offset >= fromOffset && (best < 0 || records.timestamps[index]! > records.timestamps[best]!)) best = index;
  });
  if (best < 0) return null;
  const timestamp = records.timestamps[best]!;
  if (timestamp !== batch.maxTimestamp && batch.baseOffset >= fromOffset)
    walk.warn('batch-header-timestamp-mismatch', batch, { recordsMaxTimestamp: timestamp });
  return { offset: records.offsets[best]!, timestamp, leaderEpoch: epochOf(batch) };
}
