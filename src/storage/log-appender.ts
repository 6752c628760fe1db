// The append path of a partition log: check the batch header (61 bytes; the CRC too unless the
// caller already did), roll when the active segment is full, assign the offsets by writing
// baseOffset and partitionLeaderEpoch (outside the CRC), and hand the bytes to the active segment's
// appender (segment-appender.ts: ordered writes, group-commit fdatasync). No record is decoded and
// nothing is allocated per record.

import {
  BATCH_HEADER_BYTES,
  RECORD_BATCH_MAGIC,
  RecordBatchHeader,
  validateBatch,
} from '../protocol/record-batch/header.js';
import { StorageError, invariant } from './errors.js';
import type { CheckpointWriter } from './log-checkpoint-writer.js';
import type { LogState } from './log-state.js';
import { Segment } from './segment.js';

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
}

export class LogAppender {
  constructor(
    private readonly state: LogState,
    private readonly checkpoints: CheckpointWriter,
    /** The leader epoch stamped on appended batches; a new leader changes it (log-replication.ts). */
    public leaderEpoch: number,
    /** The caller checked each batch's CRC already (the broker does on produce). */
    private readonly trustAppendedBatches: boolean,
  ) {}

  append(batch: Buffer): Promise<AppendResult> {
    try {
      return this.appendNow(batch);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private appendNow(batch: Buffer): Promise<AppendResult> {
    const { state } = this;
    state.ensureWritable();
    invariant(!state.truncating, 'append while the log is being truncated');
    if (batch.length < BATCH_HEADER_BYTES)
      throw new StorageError('CORRUPT_MESSAGE', `${batch.length} bytes is shorter than a batch header`);
    const header = new RecordBatchHeader(batch);
    if (header.magic !== RECORD_BATCH_MAGIC)
      throw new StorageError('CORRUPT_MESSAGE', `magic ${header.magic}, only RecordBatch v2 is stored`);
    if (header.totalBytes !== batch.length) {
      throw new StorageError(
        header.totalBytes < batch.length ? 'INVALID_RECORD' : 'CORRUPT_MESSAGE',
        `batch length ${header.totalBytes} but ${batch.length} bytes given (exactly one batch per append)`,
      );
    }
    const { maxMessageBytes } = state.config;
    if (batch.length > maxMessageBytes)
      throw new StorageError('MESSAGE_TOO_LARGE', `${batch.length} bytes > max.message.bytes ${maxMessageBytes}`);
    if (!this.trustAppendedBatches) {
      const problem = validateBatch(batch, 0, batch.length);
      if (problem !== null)
        throw new StorageError(problem.kind === 'bad-count' ? 'INVALID_RECORD' : 'CORRUPT_MESSAGE', problem.detail);
    }
    const lastOffsetDelta = header.lastOffsetDelta;
    if (lastOffsetDelta < 0) throw new StorageError('INVALID_RECORD', `lastOffsetDelta ${lastOffsetDelta}`);

    let segment = state.active;
    const rollReason = segment.mustRollFor(batch.length, segment.nextOffset + lastOffsetDelta);
    if (rollReason !== null) segment = this.roll(rollReason);

    const baseOffset = segment.nextOffset;
    header.setBaseOffset(baseOffset);
    header.setPartitionLeaderEpoch(this.leaderEpoch);
    segment.track(header, segment.sizeBytes);
    const lastOffset = baseOffset + lastOffsetDelta;
    const appender = segment.appender;
    invariant(appender !== null, 'active segment has no appender');
    return this.whenDurable(appender.append(batch, lastOffset + 1), { baseOffset, lastOffset });
  }

  /** Resolves with `result` once `written` is as durable as the flush policy promises and the leader
   *  epochs it may carry are in the leader-epoch file (the write, if any, under way now). */
  whenDurable<T>(written: Promise<unknown>, result: T): Promise<T> {
    const { state } = this;
    const epochs = this.checkpoints.epochsDurable;
    const done = epochs === null ? written : Promise.all([written, epochs]);
    return done.then(
      () => result,
      (error: unknown) => {
        throw state.readOnlyError ?? state.toStorageError(error);
      },
    );
  }

  /** Starts a new segment at the log end (or at `baseOffset` past it: a replicated batch after a
   *  compaction gap); the old one is sealed (made durable) in the background. */
  roll(reason: string, baseOffset = this.state.active.nextOffset): Segment {
    const { state } = this;
    const previous = state.active;
    if (previous.isEmpty()) return previous; // a new segment would have the same base offset
    invariant(
      baseOffset >= previous.nextOffset,
      () => `roll to ${baseOffset} below the log end ${previous.nextOffset}`,
    );
    const sealed = previous.seal();
    sealed.then(
      () => {
        previous.appender = null;
        state.noteIndexUse(previous);
        if (!state.closed) this.checkpoints.request();
      },
      (error: unknown) => state.markReadOnly('seal', error),
    );
    const segment = Segment.create(state.environment, state.directory, baseOffset);
    segment.transactionIndex.required = state.keepingTransactionIndexes;
    this.startAppending(segment, previous);
    state.segments.push(segment);
    state.logger.log('info', 'segment-rolled', {
      directory: state.directory,
      baseOffset: segment.baseOffset,
      reason,
      previousBytes: previous.sizeBytes,
    });
    return segment;
  }

  /** Makes `segment` (the active one) take appends; its first fdatasync waits for `predecessor`'s seal. */
  startAppending(segment: Segment, predecessor: Segment | null): void {
    const { state } = this;
    segment.startAppending(state.config.flushPolicy.kind === 'sync', predecessor, {
      onWritten: () => state.onWritten?.(),
      onFlushed: (_position: number, nextOffset: number) => {
        if (nextOffset > state.flushed) state.flushed = nextOffset;
        invariant(
          state.flushed <= segment.nextOffset || segment !== state.active || state.truncating,
          'flushed past appended',
        );
      },
      onFailure: (error: Error) => state.markReadOnly('write', error),
    });
  }

  /** fdatasync everything written so far. */
  async flush(): Promise<void> {
    const { state } = this;
    if (state.truncating || state.closed) return;
    for (const segment of [...state.segments]) {
      // A segment deleted or truncated away meanwhile is skipped; one still listed cannot close
      // before this flush ends (close waits for its appender to be idle).
      if (state.segments.includes(segment) && segment.appender !== null && !state.truncating)
        await segment.appender.flush();
    }
  }
}
