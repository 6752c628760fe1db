// One partition's log: a directory of segments, appended at the end, read anywhere, trimmed at the
// front by retention and DeleteRecords, cut at the back by truncateTo (replication, later).
//
// The offsets of a partition, and how they relate (asserted where they change):
//   logStartOffset ≤ flushedOffset ≤ readableEndOffset ≤ logEndOffset
//   flushed  = recovery point: fdatasync'ed, survives a machine crash
//   readable = written to the file (page cache); reads see at most this
//   logEnd   = next offset to assign; batches up to here are queued for writing
// What is *committed* (the high watermark) is not storage's to say: the broker's Partition decides it
// from these (broker/partition/partition.ts).

import {
  BATCH_HEADER_BYTES,
  RECORD_BATCH_MAGIC,
  RecordBatchHeader,
  validateBatch,
} from '../protocol/record-batch/header.js';
import {
  LeaderEpochCache,
  ensurePartitionMetadata,
  logStartOffsetFileName,
  recoveryPointFileName,
  writeLeaderEpochs,
  writeOffsetCheckpoint,
} from './checkpoints.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { StorageError, invariant } from './errors.js';
import { nodeFileSystem, type FileSystem } from './file-system.js';
import { resolveLogConfig, storageLimits, type LogConfig } from './limits.js';
import { stderrLogger, type StorageLogger } from './logger.js';
import { compactLog } from './compaction.js';
import { loadTransactionIndex, rebuildSegment, recoverPartition, type RecoveryReport } from './recovery.js';
import { selectSegmentsToDelete } from './retention.js';
import { Segment, type SegmentEnvironment } from './segment.js';
import { renameForDeletion } from './deleted-directories.js';
import { deletedSuffix } from './segment-files.js';
import {
  firstRecordAtOrAfter,
  recordWithLargestTimestamp,
  type RecordAtTime,
  type TimestampLookupScope,
} from './timestamp-lookup.js';
import type { AbortedTransactionEntry } from './transaction-index.js';

export interface PartitionLogOptions {
  /** The partition directory, `<data-dir>/<topic>-<partition>`. */
  directory: string;
  topic: string;
  partition: number;
  /** The topic's 16-byte id, written once to `partition.metadata`; checked on every later open. */
  topicId?: Uint8Array;
  config?: Partial<LogConfig>;
  fileSystem?: FileSystem;
  clock?: Clock;
  logger?: StorageLogger;
  /** The leader epoch stamped on appended batches. A single node uses 0. */
  leaderEpoch?: number;
  /** The caller already checked each batch's CRC (the broker does on produce): skip doing it twice. */
  trustAppendedBatches?: boolean;
  /** Run retention and compaction on this log's own timer (`log.retention.check.interval.ms`).
   *  Default true; the LogManager turns it off and runs them for all its partitions in turn. */
  backgroundWork?: boolean;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
}

export interface ReadOptions {
  /** Return no batch that starts at or after this offset (default: the readable end). */
  maxOffset?: number;
}

export interface ReadResult {
  /** Whole batches, back to back, exactly as stored. Empty when there is nothing to return yet. */
  records: Buffer;
  /** Base offset of the first batch (may be below the offset asked for: the batch holding it). */
  firstOffset: number;
  /** Offset to ask for next. */
  nextOffset: number;
  /** The file range the records came from, for a caller that would send it with sendfile. */
  file: { path: string; position: number; length: number } | null;
  logStartOffset: number;
}

/** What readTransactionIndexes found. */
export interface TransactionIndexRead {
  /** The entries of every segment from the log start on, in marker order. */
  entries: AbortedTransactionEntry[];
  /** Offset ranges, one per segment, whose aborted transactions are not known (a `.txnindex` missing,
   *  corrupt, or a recovered tail with control batches no entry names). The caller finds the aborted
   *  transactions whose marker lies there and hands them to completeTransactionIndex — every range,
   *  even with none found. Oldest first. */
  unindexed: { baseOffset: number; fromOffset: number; endOffset: number }[];
}

export class PartitionLog {
  readonly directory: string;
  readonly topic: string;
  readonly partition: number;
  readonly config: LogConfig;
  readonly topicId: Buffer | null;
  /** What the last open found and did. */
  readonly recovery: RecoveryReport;
  /** The open made the directory: the partition is new. */
  created = false;

  private segments: Segment[];
  private startOffset: number;
  private flushed: number;
  private checkpointedRecoveryPoint: number;
  private checkpointedStartOffset: number;
  private readOnlyError: StorageError | null = null;
  private closed = false;
  private truncating = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private checkpointChain: Promise<void> = Promise.resolve();
  private backgroundChain: Promise<void> = Promise.resolve();
  /** Sealed segments whose indexes are in memory, least recently used first. */
  private loadedIndexes: Segment[] = [];
  /** Segments renamed `.deleted`, waiting for `file.delete.delay.ms` before their files go. */
  private readonly deletingSegments = new Set<Segment>();
  /** Every segment gets a `.txnindex`, empty or not (see keepTransactionIndexes). */
  private keepingTransactionIndexes = false;
  /** Damaged or inconsistent batches the lookups by time logged already (timestamp-lookup.ts). */
  private readonly reportedLookupProblems = new Set<string>();

  private constructor(
    private readonly environment: SegmentEnvironment,
    private readonly logger: StorageLogger,
    private readonly options: PartitionLogOptions,
    recovered: Awaited<ReturnType<typeof recoverPartition>>,
    topicId: Buffer | null,
    private readonly leaderEpochs: LeaderEpochCache,
  ) {
    this.directory = options.directory;
    this.topic = options.topic;
    this.partition = options.partition;
    this.config = environment.config;
    this.topicId = topicId;
    this.recovery = recovered.report;
    this.segments = recovered.segments;
    this.startOffset = recovered.logStartOffset;
    this.flushed = recovered.recoveryPoint;
    this.checkpointedRecoveryPoint = -1;
    this.checkpointedStartOffset = -1;
  }

  /** Opens (creating if needed) and recovers the partition in `options.directory`. */
  static async open(options: PartitionLogOptions): Promise<PartitionLog> {
    const environment: SegmentEnvironment = {
      fileSystem: options.fileSystem ?? nodeFileSystem,
      clock: options.clock ?? systemClock,
      config: resolveLogConfig(options.config),
    };
    const logger = options.logger ?? stderrLogger;
    const created = (await environment.fileSystem.stat(options.directory)) === null;
    await environment.fileSystem.mkdir(options.directory);
    const topicId = await ensurePartitionMetadata(environment.fileSystem, options.directory, options.topicId);
    const started = Date.now();
    const recovered = await recoverPartition(environment, options.directory, logger);
    const epochs = new LeaderEpochCache(recovered.leaderEpochs);
    const log = new PartitionLog(environment, logger, options, recovered, topicId, epochs);
    log.created = created;
    const cutAtEnd = epochs.truncateFromEnd(log.logEndOffset);
    const cutAtStart = epochs.truncateFromStart(log.startOffset);
    // A log without epochs (new, or its file lost) was written by this node alone: its epoch covers it all.
    const assigned = epochs.assign(
      options.leaderEpoch ?? 0,
      epochs.list().length === 0 ? log.startOffset : log.logEndOffset,
    );
    if (assigned || cutAtEnd || cutAtStart || recovered.leaderEpochs.length === 0) {
      await writeLeaderEpochs(environment.fileSystem, options.directory, epochs.list());
    }
    await log.checkpoint();
    log.active.startAppending(environment.config.flushPolicy.kind === 'sync', null, log.appenderHooks(log.active));
    log.startTimers();
    for (const segment of log.segments.slice(0, -1)) log.noteIndexUse(segment);
    logger.log('info', 'log-opened', {
      directory: options.directory,
      segments: log.segments.length,
      logStartOffset: log.startOffset,
      logEndOffset: log.logEndOffset,
      scannedSegments: recovered.report.scannedSegments,
      cuts: recovered.report.cuts.length,
      ms: Date.now() - started,
    });
    return log;
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  get logStartOffset(): number {
    return this.startOffset;
  }

  get logEndOffset(): number {
    return this.active.nextOffset;
  }

  /** The recovery point: every offset below it is on stable storage. */
  get flushedOffset(): number {
    return this.flushed;
  }

  /** Offsets below this are written to the file and may be read. */
  get readableEndOffset(): number {
    let end = this.active.readableNextOffset;
    for (let index = this.segments.length - 1; index >= 0; index -= 1) {
      const segment = this.segments[index]!;
      if (segment.appender === null && index < this.segments.length - 1) break;
      if (segment.readableNextOffset < segment.nextOffset) end = Math.min(end, segment.readableNextOffset);
    }
    return end;
  }

  /** Bytes in all segments. */
  get sizeBytes(): number {
    return this.segments.reduce((sum, segment) => sum + segment.sizeBytes, 0);
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Base offsets of the segments, oldest first. */
  get segmentBaseOffsets(): number[] {
    return this.segments.map((segment) => segment.baseOffset);
  }

  /** Set when a disk error made the partition read-only; appends then fail with it. */
  get readOnly(): StorageError | null {
    return this.readOnlyError;
  }

  get leaderEpochEntries(): readonly { epoch: number; startOffset: number }[] {
    return this.leaderEpochs.list();
  }

  // ── append ────────────────────────────────────────────────────────────────────────────────────

  /**
   * Appends one batch (RecordBatch v2, exactly one batch in `batch`). Assigns its offsets by
   * writing baseOffset and partitionLeaderEpoch into `batch` itself — outside the CRC, so nothing
   * else changes and no record is decoded. Resolves when the batch is as durable as the flush
   * policy promises.
   */
  append(batch: Buffer): Promise<AppendResult> {
    try {
      return this.appendNow(batch);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private appendNow(batch: Buffer): Promise<AppendResult> {
    if (this.closed) throw new StorageError('LOG_CLOSED', this.directory);
    if (this.readOnlyError !== null) throw this.readOnlyError;
    invariant(!this.truncating, 'append while the log is being truncated');
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
    if (batch.length > this.config.maxMessageBytes)
      throw new StorageError(
        'MESSAGE_TOO_LARGE',
        `${batch.length} bytes > max.message.bytes ${this.config.maxMessageBytes}`,
      );
    if (this.options.trustAppendedBatches !== true) {
      const problem = validateBatch(batch, 0, batch.length);
      if (problem !== null)
        throw new StorageError(problem.kind === 'bad-count' ? 'INVALID_RECORD' : 'CORRUPT_MESSAGE', problem.detail);
    }
    const lastOffsetDelta = header.lastOffsetDelta;
    if (lastOffsetDelta < 0) throw new StorageError('INVALID_RECORD', `lastOffsetDelta ${lastOffsetDelta}`);

    let segment = this.active;
    const rollReason = segment.mustRollFor(batch.length, segment.nextOffset + lastOffsetDelta);
    if (rollReason !== null) segment = this.roll(rollReason);

    const baseOffset = segment.nextOffset;
    header.setBaseOffset(baseOffset);
    header.setPartitionLeaderEpoch(this.options.leaderEpoch ?? 0);
    segment.track(header, segment.sizeBytes);
    const lastOffset = baseOffset + lastOffsetDelta;
    const appender = segment.appender;
    invariant(appender !== null, 'active segment has no appender');
    return appender.append(batch, lastOffset + 1).then(
      () => ({ baseOffset, lastOffset }),
      (error: unknown) => {
        throw this.readOnlyError ?? this.toStorageError(error);
      },
    );
  }

  /** Starts a new segment at the log end; the old one is sealed (made durable) in the background. */
  roll(reason = 'requested'): Segment {
    const previous = this.active;
    if (previous.isEmpty()) return previous; // a new segment would have the same base offset
    const sealed = previous.seal();
    sealed.then(
      () => {
        previous.appender = null;
        this.noteIndexUse(previous);
        if (!this.closed) this.requestCheckpoint();
      },
      (error: unknown) => this.markReadOnly('seal', error),
    );
    const segment = Segment.create(this.environment, this.directory, previous.nextOffset);
    segment.transactionIndex.required = this.keepingTransactionIndexes;
    segment.startAppending(this.config.flushPolicy.kind === 'sync', previous, this.appenderHooks(segment));
    this.segments.push(segment);
    this.logger.log('info', 'segment-rolled', {
      directory: this.directory,
      baseOffset: segment.baseOffset,
      reason,
      previousBytes: previous.sizeBytes,
    });
    return segment;
  }

  private appenderHooks(segment: Segment) {
    return {
      onWritten: () => undefined,
      onFlushed: (_position: number, nextOffset: number) => {
        if (nextOffset > this.flushed) this.flushed = nextOffset;
        invariant(
          this.flushed <= segment.nextOffset || segment !== this.active || this.truncating,
          'flushed past appended',
        );
      },
      onFailure: (error: Error) => this.markReadOnly('write', error),
    };
  }

  /** fdatasync everything written so far (the `interval` timer, `os` on close, tests). */
  async flush(): Promise<void> {
    if (this.truncating || this.closed) return;
    for (const segment of [...this.segments]) {
      // A segment deleted or truncated away meanwhile is skipped; one still listed cannot close
      // before this flush ends (close waits for its appender to be idle).
      if (this.segments.includes(segment) && segment.appender !== null && !this.truncating)
        await segment.appender.flush();
    }
  }

  // ── read ──────────────────────────────────────────────────────────────────────────────────────

  /**
   * Whole batches starting with the one that holds `offset`: as many as fit in `maxBytes`, but at
   * least one even if it is larger (KIP-74). Batches come from one segment per call.
   */
  async read(offset: number, maxBytes: number, options: ReadOptions = {}): Promise<ReadResult> {
    if (this.closed) throw new StorageError('LOG_CLOSED', this.directory);
    if (offset < this.startOffset || offset > this.logEndOffset) {
      throw new StorageError(
        'OFFSET_OUT_OF_RANGE',
        `offset ${offset}, log has [${this.startOffset}, ${this.logEndOffset})`,
      );
    }
    const readableEnd = this.readableEndOffset;
    const limit = Math.min(options.maxOffset ?? readableEnd, readableEnd);
    const empty: ReadResult = {
      records: Buffer.alloc(0),
      firstOffset: offset,
      nextOffset: offset,
      file: null,
      logStartOffset: this.startOffset,
    };
    if (offset >= limit) return empty;
    for (let index = this.segmentIndexFor(offset); index < this.segments.length; index += 1) {
      const segment = this.segments[index]!;
      if (segment.baseOffset >= limit) break;
      segment.acquire();
      try {
        await segment.fileDescriptor();
        const endPosition = segment.readableBytes;
        const located = await segment.locate(offset, endPosition);
        if (located === null) continue;
        const range = await segment.readBatches(located.position, maxBytes, limit, endPosition);
        this.noteIndexUse(segment);
        if (range === null) return empty;
        return {
          records: range.buffer,
          firstOffset: range.firstOffset,
          nextOffset: range.nextOffset,
          file: { path: segment.logPath, position: range.position, length: range.buffer.length },
          logStartOffset: this.startOffset,
        };
      } catch (error) {
        throw this.toStorageError(error);
      } finally {
        segment.release();
      }
    }
    return empty;
  }

  /** Keeps the indexes of the most recently used sealed segments in memory and drops the others'
   *  (storageLimits.sealedSegmentIndexesLoadedMax); they load again from their files when needed. */
  private noteIndexUse(segment: Segment): void {
    const live = new Set(this.segments);
    this.loadedIndexes = this.loadedIndexes.filter(
      (candidate) => candidate !== segment && live.has(candidate) && candidate.indexesLoaded,
    );
    if (segment !== this.active && live.has(segment) && segment.indexesLoaded) this.loadedIndexes.push(segment);
    let excess = this.loadedIndexes.length - storageLimits.sealedSegmentIndexesLoadedMax;
    for (const candidate of [...this.loadedIndexes]) {
      if (excess <= 0) break;
      if (candidate !== this.active && candidate.unloadIndexes()) {
        this.loadedIndexes.splice(this.loadedIndexes.indexOf(candidate), 1);
        excess -= 1;
      }
    }
  }

  /** Sealed segments whose indexes are in memory now (tests, metrics). */
  get loadedIndexCount(): number {
    return this.segments.filter((segment) => segment !== this.active && segment.indexesLoaded).length;
  }

  /** Nothing below the first segment exists any more, so it is (vacuously) flushed. */
  private raiseFlushedToFirstSegment(): void {
    this.flushed = Math.max(this.flushed, this.segments[0]!.baseOffset);
  }

  /** The last segment whose base offset is ≤ `offset` (the first one if none). */
  private segmentIndexFor(offset: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    let found = 0;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.segments[middle]!.baseOffset <= offset) {
        found = middle;
        low = middle + 1;
      } else high = middle - 1;
    }
    return found;
  }

  /** ListOffsets by time: the first record at or after the log start whose timestamp is ≥ `timestamp`,
   *  or null if there is none below `limitOffset` (see timestamp-lookup.ts for the exact rule). */
  offsetForTimestamp(timestamp: number, limitOffset = this.readableEndOffset): Promise<RecordAtTime | null> {
    return this.lookUpByTime((scope) => firstRecordAtOrAfter(scope, timestamp), limitOffset);
  }

  /** ListOffsets MAX_TIMESTAMP: the first record with the largest timestamp, or null if there is none
   *  or it is at or past `limitOffset`. */
  offsetOfMaxTimestamp(limitOffset = this.readableEndOffset): Promise<RecordAtTime | null> {
    return this.lookUpByTime(recordWithLargestTimestamp, limitOffset);
  }

  private async lookUpByTime(
    lookup: (scope: TimestampLookupScope) => Promise<RecordAtTime | null>,
    limitOffset: number,
  ): Promise<RecordAtTime | null> {
    if (this.closed) throw new StorageError('LOG_CLOSED', this.directory);
    try {
      return await lookup({
        segments: [...this.segments],
        logStartOffset: this.startOffset,
        limitOffset: Math.min(limitOffset, this.readableEndOffset),
        fileSystem: this.environment.fileSystem,
        logger: this.logger,
        directory: this.directory,
        noteIndexUse: (segment) => this.noteIndexUse(segment),
        reported: this.reportedLookupProblems,
      });
    } catch (error) {
      throw this.toStorageError(error);
    }
  }

  // ── trimming ──────────────────────────────────────────────────────────────────────────────────

  /** DeleteRecords: offsets below `offset` are no longer served; whole segments below it are deleted.
   *  Returns the new log start offset. The broker bounds `offset` by the high watermark; storage only
   *  by what is written. */
  async deleteRecordsBefore(offset: number): Promise<number> {
    this.ensureWritable();
    const readableEnd = this.readableEndOffset;
    if (offset > readableEnd || offset < 0) {
      throw new StorageError(
        'OFFSET_OUT_OF_RANGE',
        `cannot delete records before ${offset}: the log is written up to ${readableEnd}`,
      );
    }
    if (offset > this.startOffset) {
      this.startOffset = offset;
      this.logger.log('info', 'log-start-moved', {
        directory: this.directory,
        logStartOffset: offset,
        reason: 'delete-records',
      });
      const doomed: Segment[] = [];
      while (this.segments.length > 1 && this.segments[1]!.baseOffset <= offset) doomed.push(this.segments.shift()!);
      this.raiseFlushedToFirstSegment();
      await this.removeSegments(doomed, 'delete-records');
      await this.checkpoint();
    }
    return this.startOffset;
  }

  /** Deletes whole segments past `retention.ms` or beyond `retention.bytes`. Returns how many. */
  async applyRetention(): Promise<number> {
    if (this.closed || this.readOnlyError !== null) return 0;
    const byPolicy = !this.config.cleanupPolicy.delete
      ? 0
      : selectSegmentsToDelete(
          this.segments.map((segment) => ({
            sizeBytes: segment.sizeBytes,
            maxTimestamp: segment.maxTimestamp,
            isEmpty: segment.isEmpty(),
          })),
          this.config,
          this.environment.clock.now(),
        );
    // Whatever the policy, segments wholly below the log start are deleted (as Kafka does): they
    // are left when a crash came between moving the log start and deleting the files.
    let belowStart = 0;
    while (belowStart + 1 < this.segments.length && this.segments[belowStart + 1]!.baseOffset <= this.startOffset)
      belowStart += 1;
    const count = Math.max(byPolicy, belowStart);
    if (count === 0) return 0;
    if (count === this.segments.length) this.roll('retention deletes the active segment');
    const doomed = this.segments.splice(0, count);
    const newStart = this.segments[0]!.baseOffset;
    for (const segment of doomed) {
      if (segment.sealed !== null) await segment.sealed.catch(() => undefined);
    }
    if (newStart > this.startOffset) this.startOffset = newStart;
    this.raiseFlushedToFirstSegment();
    this.logger.log('info', 'retention-deleted-segments', {
      directory: this.directory,
      segments: doomed.map((segment) => segment.baseOffset),
      logStartOffset: this.startOffset,
      belowLogStart: belowStart,
    });
    await this.removeSegments(doomed, 'retention');
    await this.checkpoint();
    return count;
  }

  /** Renames the segments' files `.deleted`, and unlinks them once reads holding them are done and
   *  `file.delete.delay.ms` has passed. */
  private async removeSegments(doomed: Segment[], reason: string): Promise<void> {
    const { fileSystem } = this.environment;
    for (const segment of doomed) segment.retire();
    try {
      for (const segment of doomed) {
        for (const path of segment.filePaths) {
          await fileSystem.rename(path, `${path}${deletedSuffix}`).catch((error: NodeJS.ErrnoException) => {
            if (error.code !== 'ENOENT') throw error;
          });
        }
      }
      if (doomed.length > 0) await fileSystem.syncDirectory(this.directory);
    } catch (error) {
      this.markReadOnly(`delete segments (${reason})`, error);
      throw this.toStorageError(error);
    }
    for (const segment of doomed) {
      this.deletingSegments.add(segment);
      void (async () => {
        if (this.config.fileDeleteDelayMs > 0)
          await new Promise<void>((resolve) => setTimeout(resolve, this.config.fileDeleteDelayMs).unref());
        await this.finishDeleting(segment);
      })().catch((error: unknown) =>
        this.logger.log('warn', 'segment-delete-failed', { file: segment.logPath, error: (error as Error).message }),
      );
    }
  }

  private async finishDeleting(segment: Segment): Promise<void> {
    if (!this.deletingSegments.delete(segment)) return;
    await segment.close();
    for (const path of segment.filePaths) {
      await this.environment.fileSystem.unlink(`${path}${deletedSuffix}`).catch(() => undefined);
    }
  }

  /**
   * Removes every batch at or after `offset`; a batch that holds `offset` goes entirely, so the log
   * end may land below `offset` (as Kafka). For replication: a follower cuts its divergent tail.
   * No append may run meanwhile.
   */
  async truncateTo(offset: number): Promise<void> {
    this.ensureWritable();
    if (offset >= this.logEndOffset) return;
    this.truncating = true;
    try {
      for (const segment of this.segments) if (segment.appender !== null) await segment.appender.idle();
      for (const segment of this.segments) if (segment.sealed !== null) await segment.sealed;
      const { fileSystem } = this.environment;
      const index = this.segmentIndexFor(offset);
      const holder = this.segments[index]!;
      const located = offset <= this.startOffset ? null : await holder.locate(offset, holder.sizeBytes);
      // The batch holding `offset` goes whole; if it also holds the log start, nothing is left.
      const resetAt =
        offset <= this.startOffset
          ? offset
          : located !== null && located.baseOffset < this.startOffset
            ? this.startOffset
            : null;
      if (resetAt !== null) {
        // Nothing below the cut is kept: start over with one empty segment at `resetAt`.
        const doomed = this.segments.splice(0);
        await this.removeSegments(doomed, 'truncate');
        const fresh = Segment.create(this.environment, this.directory, resetAt);
        fresh.transactionIndex.required = this.keepingTransactionIndexes;
        await fresh.fileDescriptor();
        this.segments.push(fresh);
        this.startOffset = resetAt;
      } else {
        const doomed = this.segments.splice(index + 1);
        for (const segment of doomed) {
          segment.retire();
          await segment.close();
          for (const path of segment.filePaths) {
            await fileSystem.unlink(path).catch(() => undefined);
          }
        }
        // With compaction `offset` may sit in a gap before the located batch; the end is then `offset`.
        if (located !== null) await holder.truncateTo(located.position, Math.min(located.baseOffset, offset));
        await fileSystem.syncDirectory(this.directory);
      }
      const segment = this.active;
      segment.appender?.retire();
      segment.appender = null;
      segment.sealed = null;
      segment.startAppending(this.config.flushPolicy.kind === 'sync', null, this.appenderHooks(segment));
      this.flushed = Math.min(this.flushed, this.logEndOffset);
      this.raiseFlushedToFirstSegment();
      const epochsChanged = this.leaderEpochs.truncateFromEnd(this.logEndOffset);
      await this.checkpoint(epochsChanged);
      this.logger.log('info', 'log-truncated', {
        directory: this.directory,
        requested: offset,
        logEndOffset: this.logEndOffset,
      });
    } catch (error) {
      this.markReadOnly('truncate', error);
      throw this.toStorageError(error);
    } finally {
      this.truncating = false;
    }
  }

  // ── aborted-transaction indexes ─────────────────────────────────────────────────────────────

  /**
   * From now on every segment keeps a `.txnindex`, written empty when it has no entry, so that a
   * missing one means "never built" and is rebuilt. The broker calls this for partitions that hold
   * transactional batches (others never pay for the files). `existingAreEmpty`: the segments there
   * are now hold no transactional batch (the partition is becoming transactional), so their empty
   * files are written now, in the background, instead of being rebuilt by a scan at the next open.
   */
  keepTransactionIndexes(existingAreEmpty: boolean): void {
    if (this.keepingTransactionIndexes) return;
    this.keepingTransactionIndexes = true;
    for (const segment of this.segments) segment.transactionIndex.required = true;
    if (!existingAreEmpty) return;
    const sealed = this.segments.slice(0, -1).filter((segment) => !segment.transactionIndex.fileExists);
    void (async () => {
      for (const segment of sealed) if (this.segments.includes(segment)) await segment.persistIndexes(true);
    })().catch((error: unknown) => this.markReadOnly('transaction index', error));
  }

  /**
   * Records an aborted transaction whose ABORT marker was just appended (the broker decides what an
   * aborted transaction is; storage keeps it with the marker's segment). Written to the `.txnindex`
   * at once, fsync'ed with the segment's other indexes. False, and nothing recorded, if the marker
   * is not in the active segment after the last entry (its append failed) or the log is closed.
   */
  appendAbortedTransaction(entry: AbortedTransactionEntry): boolean {
    const segment = this.active;
    const index = segment.transactionIndex;
    if (
      this.closed ||
      this.readOnlyError !== null ||
      entry.lastOffset < segment.baseOffset ||
      entry.lastOffset >= segment.nextOffset ||
      entry.lastOffset <= index.lastOffset
    )
      return false;
    segment.appendAbortedTransaction(entry).catch((error: unknown) => this.markReadOnly('transaction index', error));
    return true;
  }

  /**
   * The aborted transactions of the whole log, from the `.txnindex` files (checked; recovery table
   * rows `txnindex-*`), and the ranges whose entries must be rebuilt. Call once at open, before any
   * append, then completeTransactionIndex for every unindexed range.
   */
  async readTransactionIndexes(): Promise<TransactionIndexRead> {
    const read: TransactionIndexRead = { entries: [], unindexed: [] };
    for (const segment of [...this.segments]) {
      const index = segment.transactionIndex;
      if (segment.nextOffset <= this.startOffset && !segment.isEmpty()) {
        index.recovered = null; // wholly below the log start: nothing there is served
        continue;
      }
      const recovered = index.recovered;
      let entries: AbortedTransactionEntry[] | null;
      let unindexedFrom: number | null;
      if (recovered !== null) {
        entries = recovered.entries;
        unindexedFrom = recovered.unverifiedFrom;
      } else {
        entries = await loadTransactionIndex(this.environment, segment, this.logger, this.recovery);
        unindexedFrom = entries === null ? segment.baseOffset : null;
      }
      for (const entry of entries ?? []) if (entry.lastOffset >= this.startOffset) read.entries.push(entry);
      const fromOffset = unindexedFrom === null ? null : Math.max(unindexedFrom, this.startOffset);
      if (fromOffset !== null && fromOffset < segment.nextOffset) {
        read.unindexed.push({ baseOffset: segment.baseOffset, fromOffset, endOffset: segment.nextOffset });
      } else {
        // Complete: drop what recovery kept for the broker, and write the file a kept log needs.
        index.recovered = null;
        if (unindexedFrom !== null) await segment.replaceTransactionIndex(entries ?? []);
        else if (index.needsWrite()) await segment.persistIndexes(true);
      }
    }
    return read;
  }

  /** Completes the `.txnindex` of one unindexed range with the aborted transactions whose marker lies
   *  there (those not already listed by readTransactionIndexes), writing the file durably. Once no
   *  range is left, the recovery point may be checkpointed past them. */
  async completeTransactionIndex(baseOffset: number, found: readonly AbortedTransactionEntry[]): Promise<void> {
    const segment = this.segments.find((candidate) => candidate.baseOffset === baseOffset);
    if (segment === undefined) return; // deleted meanwhile
    const index = segment.transactionIndex;
    const byMarker = new Map<number, AbortedTransactionEntry>();
    for (const entry of found) {
      invariant(
        entry.lastOffset >= segment.baseOffset && entry.lastOffset < segment.nextOffset,
        () => `aborted transaction at ${entry.lastOffset} outside segment ${segment.baseOffset}`,
      );
      byMarker.set(entry.lastOffset, entry);
    }
    for (const entry of index.recovered?.entries ?? []) byMarker.set(entry.lastOffset, entry); // written before the crash: exact
    const entries = [...byMarker.values()].sort((left, right) => left.lastOffset - right.lastOffset);
    try {
      await segment.replaceTransactionIndex(entries);
    } catch (error) {
      this.markReadOnly('transaction index', error);
      throw this.toStorageError(error);
    }
    index.recovered = null;
    this.requestCheckpoint();
  }

  /** The recovery point may not pass a control batch whose `.txnindex` entry is not settled yet. */
  private transactionIndexHold(): number {
    let hold = Number.POSITIVE_INFINITY;
    for (const segment of this.segments) {
      const from = segment.transactionIndex.recovered?.unverifiedFrom;
      if (from !== undefined && from !== null && from < hold) hold = from;
    }
    return hold;
  }

  // ── compaction support ──────────────────────────────────────────────────────────────────────

  /** The segments compaction may rewrite (sealed and durable, not the active one), and all segments
   *  (whose keys decide what is superseded). */
  segmentsForCompaction(): { sealed: Segment[]; all: Segment[] } {
    const all = [...this.segments];
    const sealed = all
      .slice(0, -1)
      .filter((segment) => segment.appender === null && segment.nextOffset <= this.flushed);
    return { sealed, all };
  }

  /**
   * Puts a compacted copy (`swapPath`, a complete and fsync'ed `.log.swap`) in place of `segment`.
   * Crash-safe with recovery's swap-file case: the rename over the `.log` is the commit point.
   * Returns false (and drops the copy) if the segment went away meanwhile (retention, truncation).
   */
  async replaceSegment(segment: Segment, swapPath: string): Promise<boolean> {
    const { fileSystem } = this.environment;
    const index = this.segments.indexOf(segment);
    if (index < 0 || index === this.segments.length - 1 || this.closed || this.readOnlyError !== null) {
      await fileSystem.unlink(swapPath).catch(() => undefined);
      return false;
    }
    try {
      segment.retire();
      await fileSystem.rename(swapPath, segment.logPath);
      for (const path of [segment.offsetIndexPath, segment.timeIndexPath])
        await fileSystem.unlink(path).catch(() => undefined);
      await fileSystem.syncDirectory(this.directory);
      const fresh = await Segment.open(this.environment, this.directory, segment.baseOffset);
      // The `.txnindex` stays as it is: compaction keeps control batches and offsets.
      fresh.transactionIndex.fileExists = segment.transactionIndex.fileExists;
      fresh.transactionIndex.required = segment.transactionIndex.required;
      const cut = await rebuildSegment(this.environment, fresh, this.logger);
      invariant(cut === null, () => `compaction wrote an invalid segment: ${JSON.stringify(cut)}`);
      this.segments[this.segments.indexOf(segment)] = fresh;
      this.noteIndexUse(fresh);
      segment.close().catch(() => undefined);
      return true;
    } catch (error) {
      this.markReadOnly('compaction swap', error);
      throw this.toStorageError(error);
    }
  }

  get segmentEnvironment(): SegmentEnvironment {
    return this.environment;
  }

  // ── checkpoints, lifecycle ────────────────────────────────────────────────────────────────────

  /** Writes the recovery point (after making the indexes it vouches for durable) and the log start
   *  offset, if either moved. Serialized. */
  checkpoint(epochsChanged = false): Promise<void> {
    const run = () => this.writeCheckpoints(epochsChanged);
    this.checkpointChain = this.checkpointChain.then(run, run);
    return this.checkpointChain;
  }

  private requestCheckpoint(): void {
    this.checkpoint().catch((error: unknown) => this.markReadOnly('checkpoint', error));
  }

  private async writeCheckpoints(epochsChanged: boolean): Promise<void> {
    if (this.readOnlyError !== null) return;
    const { fileSystem } = this.environment;
    if (epochsChanged) await writeLeaderEpochs(fileSystem, this.directory, this.leaderEpochs.list());
    const name = { topic: this.topic, partition: this.partition };
    const recoveryPoint = Math.min(this.flushed, this.transactionIndexHold());
    if (recoveryPoint !== this.checkpointedRecoveryPoint) {
      for (const segment of this.segments) if (segment.appender !== null) await segment.persistIndexes(true);
      await writeOffsetCheckpoint(fileSystem, this.directory, recoveryPointFileName, name, recoveryPoint);
      this.checkpointedRecoveryPoint = recoveryPoint;
    }
    const startOffset = this.startOffset;
    if (startOffset !== this.checkpointedStartOffset) {
      await writeOffsetCheckpoint(fileSystem, this.directory, logStartOffsetFileName, name, startOffset);
      this.checkpointedStartOffset = startOffset;
      if (this.leaderEpochs.truncateFromStart(startOffset))
        await writeLeaderEpochs(fileSystem, this.directory, this.leaderEpochs.list());
    }
  }

  private startTimers(): void {
    const policy = this.config.flushPolicy;
    if (policy.kind === 'interval') {
      this.timers.push(
        setInterval(
          () => void this.flush().catch((error: unknown) => this.markReadOnly('flush', error)),
          policy.intervalMs,
        ).unref(),
      );
    }
    this.timers.push(
      setInterval(() => this.requestCheckpoint(), this.config.recoveryPointCheckpointIntervalMs).unref(),
    );
    if (this.options.backgroundWork !== false) {
      this.timers.push(setInterval(() => void this.runBackgroundWork(), this.config.retentionCheckIntervalMs).unref());
    }
  }

  /** One round of retention and (for compacted topics) compaction. Never rejects: failures are
   *  logged, and a disk failure has already turned the partition read-only. */
  runBackgroundWork(): Promise<void> {
    const run = async () => {
      if (this.closed || this.readOnlyError !== null) return;
      try {
        await this.applyRetention();
        if (this.config.cleanupPolicy.compact)
          await compactLog(this, { clock: this.environment.clock, logger: this.logger });
      } catch (error) {
        this.logger.log('warn', 'background-work-failed', {
          directory: this.directory,
          error: (error as Error).message,
        });
      }
    };
    this.backgroundChain = this.backgroundChain.then(run, run);
    return this.backgroundChain;
  }

  /** Makes everything durable, writes the checkpoints (so the next open scans nothing) and closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.backgroundChain;
    try {
      if (this.readOnlyError === null) {
        for (const segment of this.segments) if (segment.sealed !== null) await segment.sealed;
        await this.active.seal();
        await this.checkpoint();
      }
    } catch (error) {
      this.markReadOnly('close', error);
    } finally {
      for (const segment of this.segments) await segment.close().catch(() => undefined);
      // Deletions still waiting out their delay finish now (reads are over: the log is closed).
      await Promise.allSettled([...this.deletingSegments].map((segment) => this.finishDeleting(segment)));
    }
  }

  /** Closes without flushing or checkpointing, as a crash would leave things (tests). */
  async abandon(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    // Let work already under way settle, so nothing writes after this returns.
    await this.checkpointChain.catch(() => undefined);
    for (const segment of this.segments) {
      if (segment.appender !== null) await segment.appender.idle();
      if (segment.sealed !== null) await segment.sealed.catch(() => undefined);
    }
    await this.checkpointChain.catch(() => undefined);
    for (const segment of [...this.segments, ...this.deletingSegments]) await segment.close().catch(() => undefined);
  }

  /**
   * DeleteTopics: closes the log without flushing (its data is going), once its background work and
   * the writes under way have ended, and renames its directory `<topic>-<partition>.<uuid>-delete`,
   * durably (deleted-directories.ts). Returns the new path; the caller removes it later. Nothing of
   * this log touches the old path afterwards, so a new partition of the same name may be created there.
   */
  async delete(): Promise<string> {
    this.closed = true; // no new append, read or background round starts
    for (const timer of this.timers) clearInterval(timer);
    await this.backgroundChain; // a compaction under way finishes on open files
    await this.abandon();
    // Segments waiting out file.delete.delay.ms go with the directory; their timers find nothing to do.
    this.deletingSegments.clear();
    return renameForDeletion(this.environment.fileSystem, this.directory, this.topic, this.partition);
  }

  private ensureWritable(): void {
    if (this.closed) throw new StorageError('LOG_CLOSED', this.directory);
    if (this.readOnlyError !== null) throw this.readOnlyError;
  }

  private toStorageError(error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    return new StorageError('KAFKA_STORAGE_ERROR', `${this.directory}: ${(error as Error).message}`, error);
  }

  /** For background work on this log (compaction) that hit a disk error. */
  reportDiskFailure(operation: string, error: unknown): void {
    this.markReadOnly(operation, error);
  }

  /** A disk error: the partition stops accepting writes rather than guess what is on disk. */
  private markReadOnly(operation: string, error: unknown): void {
    if (this.readOnlyError !== null) return;
    this.readOnlyError = this.toStorageError(error);
    this.logger.log('error', 'partition-read-only', {
      directory: this.directory,
      operation,
      error: (error as Error).message,
      code: (error as { code?: string }).code,
      logEndOffset: this.logEndOffset,
      flushedOffset: this.flushed,
    });
  }
}
