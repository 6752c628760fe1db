// The replication paths of a partition log (issue 14; leader epochs as in KIP-101):
//
// - a follower appends the leader's batches exactly as the leader's log holds them — the same
//   offsets, the same bytes, each batch's partitionLeaderEpoch kept — one chunk (the records of a
//   fetch response) at a time, and learns from those epochs where each epoch starts;
// - a new leader stamps its epoch on the batches it appends from now on and records where it starts.
//
// A chunk is checked whole, on its batch headers and CRCs alone (no record is decoded), before any
// of it is taken; a refused chunk changes nothing:
//
//   | check                                                         | refused with (StorageError code) |
//   |---------------------------------------------------------------|----------------------------------|
//   | batchLength covers a header and fits an int32                 | CORRUPT_MESSAGE                  |
//   | magic 2, CRC32C                                               | CORRUPT_MESSAGE                  |
//   | recordCount and lastOffsetDelta agree, neither negative       | INVALID_RECORD                   |
//   | partitionLeaderEpoch ≥ 0 (the leader stamped it)              | INVALID_RECORD                   |
//   | the first batch starts at the log end, each later one where   | UNEXPECTED_APPEND_OFFSET         |
//   | the one before ended (compacted topics: not before, as gaps   |                                  |
//   | are normal there, and as recovery checks)                     |                                  |
//   | its epoch is not older than the log's last epoch (entries     | FENCED_LEADER_EPOCH              |
//   | that start at or past the log end aside: no batch backs them) |                                  |
//   | a partial batch at the end of the chunk                       | not refused: left for the next   |
//   |                                                               | fetch (`bytes` says what was     |
//   |                                                               | taken)                           |
//
// Every check recovery makes of a batch is here too, so a batch a follower takes is never cut at the
// next open. `max.message.bytes` is not checked: the leader took the batch already (Kafka's followers
// ignore the record size too).
//
// Taking a chunk is synchronous, as append is: the offsets, indexes and epochs are the log's before
// appendReplicated returns, and the bytes go to the active segment's appender as one write (one per
// segment when the chunk spans a roll), so they share the group commit of the flush policy. An epoch
// entry a chunk adds is written to the leader-epoch checkpoint at once, and the append resolves only
// when that file is durable too: recovery cuts a batch whose epoch the file does not know.

import type { EpochEntry } from './checkpoints.js';
import { BATCH_HEADER_BYTES, RecordBatchHeader, validateBatch } from '../protocol/record-batch/header.js';
import { StorageError, invariant } from './errors.js';
import type { LogAppender } from './log-appender.js';
import type { CheckpointWriter } from './log-checkpoint-writer.js';
import type { LogState } from './log-state.js';
import { storageLimits } from './limits.js';
import type { Segment } from './segment.js';

/** What a replicated append took. */
export interface ReplicatedAppendResult {
  /** First offset taken; the log end offset when nothing was. */
  baseOffset: number;
  /** Last offset taken; baseOffset − 1 when nothing was. */
  lastOffset: number;
  /** Whole batches taken. */
  batches: number;
  /** Bytes of the chunk taken, its whole batches from the start; a partial batch after them is not. */
  bytes: number;
  /** The log end offset after the chunk: where to fetch next. */
  logEndOffset: number;
}

/** Sees each batch of a chunk the log took, in order, synchronously, while its segment is still the
 *  active one (so an ABORT marker's `.txnindex` entry can go with it). `header` views the chunk. */
export type ReplicatedBatchVisitor = (header: RecordBatchHeader) => void;

/** The checked whole batches of a chunk, and the epochs they start from the log end on. */
export interface ReplicatedChunkPlan {
  headers: RecordBatchHeader[];
  bytes: number;
  /** Epoch entries the batches begin (each newer than the one before), replacing those at or past the
   *  log end. */
  epochs: EpochEntry[];
}

/** Where the chunk must fit. */
export interface ReplicaLogEnd {
  logEndOffset: number;
  /** Compacted topics have offset gaps: a batch may start past where the previous one ended. */
  compacted: boolean;
  epochs: readonly EpochEntry[];
}

function refuse(code: ConstructorParameters<typeof StorageError>[0], position: number, detail: string): never {
  throw new StorageError(code, `replicated batch at byte ${position} of the chunk: ${detail}`);
}

/** Checks the whole batches of `chunk` against the table above; throws the first refusal. Pure. */
export function planReplicatedChunk(chunk: Buffer, end: ReplicaLogEnd): ReplicatedChunkPlan {
  const headers: RecordBatchHeader[] = [];
  const epochs: EpochEntry[] = [];
  let backed = end.epochs.length;
  while (backed > 0 && end.epochs[backed - 1]!.startOffset >= end.logEndOffset) backed -= 1;
  let lastEpoch = backed === 0 ? -1 : end.epochs[backed - 1]!.epoch;
  let expected = end.logEndOffset;
  let position = 0;
  while (position + BATCH_HEADER_BYTES <= chunk.length) {
    const header = new RecordBatchHeader(chunk, position);
    const totalBytes = header.totalBytes;
    if (totalBytes < BATCH_HEADER_BYTES || totalBytes > storageLimits.recoveryBatchBytesMax)
      refuse('CORRUPT_MESSAGE', position, `batch length ${totalBytes}`);
    if (position + totalBytes > chunk.length) break; // the rest comes with the next fetch
    const problem = validateBatch(chunk, position, totalBytes);
    if (problem !== null)
      refuse(problem.kind === 'bad-count' ? 'INVALID_RECORD' : 'CORRUPT_MESSAGE', position, problem.detail);
    if (header.lastOffsetDelta < 0) refuse('INVALID_RECORD', position, `lastOffsetDelta ${header.lastOffsetDelta}`);
    let baseOffset: number;
    try {
      baseOffset = header.baseOffset;
    } catch (error) {
      refuse('CORRUPT_MESSAGE', position, (error as Error).message);
    }
    const continues = end.compacted ? baseOffset >= expected : baseOffset === expected;
    if (!continues || !Number.isSafeInteger(baseOffset + header.lastOffsetDelta)) {
      const after = headers.length === 0 ? 'the log ends at' : 'the batch before ends at';
      refuse('UNEXPECTED_APPEND_OFFSET', position, `starts at offset ${baseOffset}, ${after} ${expected}`);
    }
    const epoch = header.partitionLeaderEpoch;
    if (epoch < 0) refuse('INVALID_RECORD', position, `partitionLeaderEpoch ${epoch}: no leader stamped it`);
    if (epoch < lastEpoch) {
      refuse(
        'FENCED_LEADER_EPOCH',
        position,
        `offset ${baseOffset} has leader epoch ${epoch}, older than epoch ${lastEpoch} the log holds ` +
          '(the tail diverged: truncate it first)',
      );
    }
    if (epoch > lastEpoch) {
      epochs.push({ epoch, startOffset: baseOffset });
      lastEpoch = epoch;
    }
    headers.push(header);
    expected = baseOffset + header.lastOffsetDelta + 1;
    position += totalBytes;
  }
  return { headers, bytes: position, epochs };
}

/** The replicated append and the new leader's epoch, on the log's shared state. */
export class ReplicaAppender {
  constructor(
    private readonly state: LogState,
    private readonly checkpoints: CheckpointWriter,
    private readonly appender: LogAppender,
  ) {}

  /** See PartitionLog.appendReplicated. */
  appendReplicated(chunk: Buffer, visit?: ReplicatedBatchVisitor): Promise<ReplicatedAppendResult> {
    try {
      return this.appendNow(chunk, visit);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private appendNow(chunk: Buffer, visit: ReplicatedBatchVisitor | undefined): Promise<ReplicatedAppendResult> {
    const { state, checkpoints } = this;
    state.ensureWritable();
    invariant(!state.truncating, 'replicated append while the log is being truncated');
    const logEndOffset = state.logEndOffset;
    const plan = planReplicatedChunk(chunk, {
      logEndOffset,
      compacted: state.config.cleanupPolicy.compact,
      epochs: checkpoints.leaderEpochs.list(),
    });
    const { headers } = plan;
    if (headers.length === 0)
      return Promise.resolve({
        baseOffset: logEndOffset,
        lastOffset: logEndOffset - 1,
        batches: 0,
        bytes: 0,
        logEndOffset,
      });
    // Written at once; the append below resolves only once it is durable (whenDurable).
    if (checkpoints.leaderEpochs.replaceFrom(logEndOffset, plan.epochs)) void checkpoints.epochsChanged();
    const writes: Promise<void>[] = [];
    let segment = state.active;
    let pieceStart = 0;
    for (let index = 0; index < headers.length; index += 1) {
      const header = headers[index]!;
      const rollReason = segment.mustRollFor(header.totalBytes, header.lastOffset);
      if (rollReason !== null) {
        if (index > pieceStart) writes.push(this.write(segment, chunk, headers, pieceStart, index, visit));
        segment = this.appender.roll(rollReason, header.baseOffset);
        pieceStart = index;
      }
      segment.track(header, segment.sizeBytes);
    }
    writes.push(this.write(segment, chunk, headers, pieceStart, headers.length, visit));
    const result: ReplicatedAppendResult = {
      baseOffset: headers[0]!.baseOffset,
      lastOffset: headers[headers.length - 1]!.lastOffset,
      batches: headers.length,
      bytes: plan.bytes,
      logEndOffset: state.logEndOffset,
    };
    return this.appender.whenDurable(writes.length === 1 ? writes[0]! : Promise.all(writes), result);
  }

  /** Hands batches [from, to) of the plan, tracked in `segment` already, to its appender as one
   *  slice of the chunk (not copied), then shows them to the visitor. */
  private write(
    segment: Segment,
    chunk: Buffer,
    headers: readonly RecordBatchHeader[],
    from: number,
    to: number,
    visit: ReplicatedBatchVisitor | undefined,
  ): Promise<void> {
    const appender = segment.appender;
    invariant(appender !== null, 'active segment has no appender');
    const first = headers[from]!;
    const last = headers[to - 1]!;
    const written = appender.append(chunk.subarray(first.offset, last.offset + last.totalBytes), last.lastOffset + 1);
    if (visit !== undefined) for (let index = from; index < to; index += 1) visit(headers[index]!);
    return written;
  }

  /** See PartitionLog.assignLeaderEpoch. */
  assignLeaderEpoch(epoch: number): Promise<void> {
    try {
      const { state, checkpoints } = this;
      state.ensureWritable();
      if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0x7fffffff)
        throw new RangeError(`a leader epoch is an int32 ≥ 0, got ${epoch}`);
      const latest = checkpoints.leaderEpochs.latestEpoch();
      if (latest !== undefined && epoch < latest)
        throw new StorageError('FENCED_LEADER_EPOCH', `epoch ${epoch}, the log holds epoch ${latest}`);
      this.appender.leaderEpoch = epoch;
      // Entries at or past the log end (an earlier epoch of this replica that wrote nothing) give way.
      const logEndOffset = state.logEndOffset;
      if (latest === undefined || epoch > latest) {
        if (checkpoints.leaderEpochs.replaceFrom(logEndOffset, [{ epoch, startOffset: logEndOffset }]))
          return checkpoints.epochsChanged();
      }
      return checkpoints.epochsDurable ?? Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
