// ListOffsets' answer for one partition, as Kafka's broker gives it (ReplicaManager.fetchOffset,
// Partition.fetchOffsetForTimestamp, UnifiedLog.fetchOffsetByTimestamp). Which versions may ask for
// which special timestamp is the handler's business (server/handlers/list-offsets.ts); what each one
// answers is here:
//
//   timestamp                     answer: offset / timestamp / leader epoch
//   -2 EARLIEST                   log start / -1 / the first epoch, if it starts at or before the log start
//   -4 EARLIEST_LOCAL             as EARLIEST: all of a Sluice log is local (no tiered storage, KIP-405)
//   -1 LATEST                     last fetchable offset / -1 / the partition's leader epoch
//   -3 MAX_TIMESTAMP              the first record with the largest timestamp / its timestamp / its batch's epoch
//   -5 LATEST_TIERED              -1 / -1 / -1: nothing is tiered (KIP-1005)
//   -6 EARLIEST_PENDING_UPLOAD    -1 / -1 / -1: nothing waits for upload (KIP-1023)
//   t ≥ 0                         the first record with timestamp ≥ t / its timestamp / its batch's epoch
//
// The last fetchable offset is the last stable offset for a read_committed consumer, the high
// watermark for a read_uncommitted one, and the log end for a replica (replica id ≠ -1), as Kafka.
// An answer of MAX_TIMESTAMP or by time that is at or past it is "none": offset -1, timestamp -1,
// leader epoch -1, error NONE. The record lookups are storage's (storage/timestamp-lookup.ts).

import { ErrorCode } from '../protocol/generated/error-codes.js';
import { StorageError } from '../storage/errors.js';
import type { PartitionLog } from '../storage/log.js';
import type { RecordAtTime } from '../storage/timestamp-lookup.js';

/** Kafka's special ListOffsets timestamps (ListOffsetsRequest.*_TIMESTAMP). */
export const SpecialTimestamp = {
  LATEST: -1,
  EARLIEST: -2,
  MAX_TIMESTAMP: -3,
  EARLIEST_LOCAL: -4,
  LATEST_TIERED: -5,
  EARLIEST_PENDING_UPLOAD: -6,
} as const;

/** Which offsets a ListOffsets answer may name: Kafka's lastFetchableOffset. */
export type FetchableLimit = 'last-stable-offset' | 'high-watermark' | 'log-end';

export interface OffsetAnswer {
  errorCode: number;
  errorMessage: string | null;
  offset: number;
  timestamp: number;
  leaderEpoch: number;
}

const none: OffsetAnswer = {
  errorCode: ErrorCode.NONE,
  errorMessage: null,
  offset: -1,
  timestamp: -1,
  leaderEpoch: -1,
};

/** What the lookup needs of the partition (a Partition is one). */
export interface OffsetLookupPartition {
  readonly log: PartitionLog;
  /** Records below it are committed (read_uncommitted). */
  readonly highWatermark: number;
  /** The first offset of the earliest open transaction, or the high watermark (read_committed). */
  readonly lastStableOffset: number;
}

/**
 * The answer for `timestamp` (the request's int64), never throwing for a client's input: a timestamp
 * no version defines is UNSUPPORTED_VERSION, as Kafka; a disk or damaged-batch failure is the
 * StorageError's code. Timestamps beyond 2^53 ms compare at double precision (records past the year
 * 287 396 are not told apart).
 */
export async function lookUpOffset(
  partition: OffsetLookupPartition,
  timestamp: bigint,
  limit: FetchableLimit,
): Promise<OffsetAnswer> {
  const { log } = partition;
  const found = (offset: number, leaderEpoch: number): OffsetAnswer => ({ ...none, offset, leaderEpoch });
  try {
    const lastFetchable =
      limit === 'last-stable-offset'
        ? partition.lastStableOffset
        : limit === 'high-watermark'
          ? partition.highWatermark
          : log.readableEndOffset;
    if (timestamp >= 0n) return answer(await log.offsetForTimestamp(Number(timestamp), lastFetchable));
    switch (Number(timestamp)) {
      case SpecialTimestamp.EARLIEST:
      case SpecialTimestamp.EARLIEST_LOCAL: {
        const first = log.leaderEpochEntries[0];
        return found(
          log.logStartOffset,
          first !== undefined && first.startOffset <= log.logStartOffset ? first.epoch : -1,
        );
      }
      case SpecialTimestamp.LATEST:
        return found(lastFetchable, log.leaderEpochEntries.at(-1)?.epoch ?? -1);
      case SpecialTimestamp.MAX_TIMESTAMP:
        return answer(await log.offsetOfMaxTimestamp(lastFetchable));
      case SpecialTimestamp.LATEST_TIERED:
      case SpecialTimestamp.EARLIEST_PENDING_UPLOAD:
        return none;
      default:
        return {
          ...none,
          errorCode: ErrorCode.UNSUPPORTED_VERSION,
          errorMessage: `no ListOffsets version defines the timestamp ${timestamp}`,
        };
    }
  } catch (error) {
    if (!(error instanceof StorageError)) throw error;
    return { ...none, errorCode: error.kafkaCode, errorMessage: error.message };
  }
}

function answer(record: RecordAtTime | null): OffsetAnswer {
  return record === null ? none : { ...none, ...record };
}
