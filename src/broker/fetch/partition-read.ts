// The fetch pipeline's step for one partition: where the fetch may read (the high watermark, or the last
// stable offset for read_committed), whether its offset is in range, the read itself — whole batches as
// stored, never decoded — and, for read_committed, the aborted transactions overlapping what was read.
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import { storageFailure, UNKNOWN_PARTITION } from '../failures.js';
import type { Partition } from '../partition/partition.js';
import type { Failure } from '../services.js';
import type { AbortedTransaction } from '../transactions/partition-transactions.js';

export interface FetchPartitionRequest {
  topic: string;
  partition: number;
  fetchOffset: number;
  partitionMaxBytes: number;
}

export interface FetchPartitionResult extends Failure {
  topic: string;
  partition: number;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  records: Buffer;
  /** read_committed only: aborted transactions overlapping `records`; null for read_uncommitted. */
  abortedTransactions: AbortedTransaction[] | null;
}

/** Fetch/ListOffsets isolation level: 0 read_uncommitted (up to the high watermark), 1 read_committed
 *  (up to the last stable offset). */
export type IsolationLevel = 0 | 1;
export const READ_COMMITTED: IsolationLevel = 1;

export const EMPTY_RECORDS = Buffer.alloc(0);

/** Reads one partition for a fetch; `partition` undefined when it is not served here. A read that failed
 *  because the topic was deleted meanwhile (the partition retired) is UNKNOWN_TOPIC_OR_PARTITION, not a
 *  disk failure. */
export async function readPartition(
  partition: Partition | undefined,
  request: FetchPartitionRequest,
  maxBytes: number,
  isolationLevel: IsolationLevel,
): Promise<FetchPartitionResult> {
  const readCommitted = isolationLevel === READ_COMMITTED;
  const base = {
    topic: request.topic,
    partition: request.partition,
    highWatermark: -1,
    lastStableOffset: -1,
    logStartOffset: -1,
    records: EMPTY_RECORDS,
    abortedTransactions: readCommitted ? [] : null,
  };
  if (partition === undefined || partition.retired) return { ...base, ...UNKNOWN_PARTITION };
  const highWatermark = partition.highWatermark;
  const lastStableOffset = partition.lastStableOffset;
  const logStartOffset = partition.logStartOffset;
  const offsets = { highWatermark, lastStableOffset, logStartOffset };
  if (request.fetchOffset < logStartOffset || request.fetchOffset > highWatermark) {
    return {
      ...base,
      ...offsets,
      errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
      errorMessage: `offset ${request.fetchOffset} is outside [${logStartOffset}, ${highWatermark}]`,
    };
  }
  // read_committed stops at the last stable offset: records of open transactions stay hidden.
  const limit = readCommitted ? lastStableOffset : highWatermark;
  if (maxBytes <= 0 || request.fetchOffset >= limit) return { ...base, ...offsets, errorCode: 0, errorMessage: null };
  try {
    const read = await partition.read(request.fetchOffset, maxBytes, { maxOffset: limit });
    const aborted =
      readCommitted && read.records.length > 0
        ? partition.transactions.abortedOverlapping(Math.min(request.fetchOffset, read.firstOffset), read.nextOffset)
        : base.abortedTransactions;
    return {
      ...base,
      ...offsets,
      errorCode: 0,
      errorMessage: null,
      records: read.records,
      abortedTransactions: aborted,
    };
  } catch (error) {
    if (partition.retired)
      return {
        ...base,
        errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        errorMessage: 'The topic was deleted during the fetch.',
      };
    return { ...base, ...offsets, ...storageFailure(error) };
  }
}
