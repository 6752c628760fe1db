// Trimming a partition log: at the front, retention (`retention.ms`, `retention.bytes`, and segments
// wholly below the log start whatever the policy) and DeleteRecords move the log start and delete
// whole segments; at the back, truncateTo cuts the tail (replication: a follower's divergent tail).
// A deleted segment is renamed `.deleted` at once (durably) and unlinked after `file.delete.delay.ms`,
// once the reads that hold it are done.

import type { CheckpointWriter } from './log-checkpoint-writer.js';
import type { LogAppender } from './log-appender.js';
import type { LogState } from './log-state.js';
import { selectSegmentsToDelete } from './retention.js';
import { deletedSuffix } from './segment-files.js';
import { Segment } from './segment.js';

export class LogTrimmer {
  /** Segments renamed `.deleted`, waiting for `file.delete.delay.ms` before their files go. */
  private readonly deleting = new Set<Segment>();

  constructor(
    private readonly state: LogState,
    private readonly checkpoints: CheckpointWriter,
    private readonly appender: LogAppender,
  ) {}

  /** Moves the log start up to `offset` (DeleteRecords, already checked) and deletes the segments
   *  wholly below it. */
  async moveStartTo(offset: number): Promise<void> {
    const { state } = this;
    if (offset <= state.startOffset) return;
    state.startOffset = offset;
    state.logger.log('info', 'log-start-moved', {
      directory: state.directory,
      logStartOffset: offset,
      reason: 'delete-records',
    });
    const doomed: Segment[] = [];
    while (state.segments.length > 1 && state.segments[1]!.baseOffset <= offset) doomed.push(state.segments.shift()!);
    state.raiseFlushedToFirstSegment();
    await this.removeSegments(doomed, 'delete-records');
    await this.checkpoints.checkpoint();
  }

  /** Deletes whole segments past `retention.ms` or beyond `retention.bytes`. Returns how many. */
  async applyRetention(): Promise<number> {
    const { state } = this;
    if (state.closed || state.readOnlyError !== null) return 0;
    const byPolicy = !state.config.cleanupPolicy.delete
      ? 0
      : selectSegmentsToDelete(
          state.segments.map((segment) => ({
            sizeBytes: segment.sizeBytes,
            maxTimestamp: segment.maxTimestamp,
            isEmpty: segment.isEmpty(),
          })),
          state.config,
          state.environment.clock.now(),
        );
    // Whatever the policy, segments wholly below the log start are deleted (as Kafka does): they
    // are left when a crash came between moving the log start and deleting the files.
    let belowStart = 0;
    while (belowStart + 1 < state.segments.length && state.segments[belowStart + 1]!.baseOffset <= state.startOffset)
      belowStart += 1;
    const count = Math.max(byPolicy, belowStart);
    if (count === 0) return 0;
    if (count === state.segments.length) this.appender.roll('retention deletes the active segment');
    const doomed = state.segments.splice(0, count);
    const newStart = state.segments[0]!.baseOffset;
    for (const segment of doomed) {
      if (segment.sealed !== null) await segment.sealed.catch(() => undefined);
    }
    if (newStart > state.startOffset) state.startOffset = newStart;
    state.raiseFlushedToFirstSegment();
    state.logger.log('info', 'retention-deleted-segments', {
      directory: state.directory,
      segments: doomed.map((segment) => segment.baseOffset),
      logStartOffset: state.startOffset,
      belowLogStart: belowStart,
    });
    await this.removeSegments(doomed, 'retention');
    await this.checkpoints.checkpoint();
    return count;
  }

  /** Removes every batch at or after `offset` (the batch holding it entirely). No append may run. */
  async truncateTo(offset: number): Promise<void> {
    const { state } = this;
    state.ensureWritable();
    if (offset >= state.logEndOffset) return;
    state.truncating = true;
    try {
      for (const segment of state.segments) if (segment.appender !== null) await segment.appender.idle();
      for (const segment of state.segments) if (segment.sealed !== null) await segment.sealed;
      const { fileSystem } = state.environment;
      const index = state.segmentIndexFor(offset);
      const holder = state.segments[index]!;
      const located = offset <= state.startOffset ? null : await holder.locate(offset, holder.sizeBytes);
      // The batch holding `offset` goes whole; if it also holds the log start, nothing is left.
      const resetAt =
        offset <= state.startOffset
          ? offset
          : located !== null && located.baseOffset < state.startOffset
            ? state.startOffset
            : null;
      if (resetAt !== null) {
        // Nothing below the cut is kept: start over with one empty segment at `resetAt`.
        const doomed = state.segments.splice(0);
        await this.removeSegments(doomed, 'truncate');
        const fresh = Segment.create(state.environment, state.directory, resetAt);
        fresh.transactionIndex.required = state.keepingTransactionIndexes;
        await fresh.fileDescriptor();
        state.segments.push(fresh);
        state.startOffset = resetAt;
      } else {
        const doomed = state.segments.splice(index + 1);
        for (const segment of doomed) {
          segment.retire();
          await segment.close();
          for (const path of segment.filePaths) {
            await fileSystem.unlink(path).catch(() => undefined);
          }
        }
        // With compaction `offset` may sit in a gap before the located batch; the end is then `offset`.
        if (located !== null) await holder.truncateTo(located.position, Math.min(located.baseOffset, offset));
        await fileSystem.syncDirectory(state.directory);
      }
      const segment = state.active;
      segment.appender?.retire();
      segment.appender = null;
      segment.sealed = null;
      this.appender.startAppending(segment, null);
      state.flushed = Math.min(state.flushed, state.logEndOffset);
      state.raiseFlushedToFirstSegment();
      const epochsChanged = this.checkpoints.leaderEpochs.truncateFromEnd(state.logEndOffset);
      await this.checkpoints.checkpoint(epochsChanged);
      state.logger.log('info', 'log-truncated', {
        directory: state.directory,
        requested: offset,
        logEndOffset: state.logEndOffset,
      });
    } catch (error) {
      state.markReadOnly('truncate', error);
      throw state.toStorageError(error);
    } finally {
      state.truncating = false;
    }
  }

  /** The segments waiting out their delay (closed with the log). */
  get deletingSegments(): ReadonlySet<Segment> {
    return this.deleting;
  }

  /** The log closes: deletions still waiting out their delay finish now (reads are over). */
  async finishAllDeletions(): Promise<void> {
    await Promise.allSettled([...this.deleting].map((segment) => this.finishDeleting(segment)));
  }

  /** The whole directory goes (DeleteTopics): the waiting deletions have nothing left to do. */
  forgetDeletions(): void {
    this.deleting.clear();
  }

  /** Renames the segments' files `.deleted`, and unlinks them once reads holding them are done and
   *  `file.delete.delay.ms` has passed. */
  private async removeSegments(doomed: Segment[], reason: string): Promise<void> {
    const { state } = this;
    const { fileSystem } = state.environment;
    for (const segment of doomed) segment.retire();
    try {
      for (const segment of doomed) {
        for (const path of segment.filePaths) {
          await fileSystem.rename(path, `${path}${deletedSuffix}`).catch((error: NodeJS.ErrnoException) => {
            if (error.code !== 'ENOENT') throw error;
          });
        }
      }
      if (doomed.length > 0) await fileSystem.syncDirectory(state.directory);
    } catch (error) {
      state.markReadOnly(`delete segments (${reason})`, error);
      throw state.toStorageError(error);
    }
    const delayMs = state.config.fileDeleteDelayMs;
    for (const segment of doomed) {
      this.deleting.add(segment);
      void (async () => {
        if (delayMs > 0) await new Promise<void>((resolve) => setTimeout(resolve, delayMs).unref());
        await this.finishDeleting(segment);
      })().catch((error: unknown) =>
        state.logger.log('warn', 'segment-delete-failed', { file: segment.logPath, error: (error as Error).message }),
      );
    }
  }

  private async finishDeleting(segment: Segment): Promise<void> {
    if (!this.deleting.delete(segment)) return;
    await segment.close();
    for (const path of segment.filePaths) {
      await this.state.environment.fileSystem.unlink(`${path}${deletedSuffix}`).catch(() => undefined);
    }
  }
}
