// One partition's log: a directory of segments, appended at the end (by the broker, or with the
// leader's batches as they are on a follower), read anywhere, trimmed at the front by retention and
// DeleteRecords, cut at the back by truncateTo (a follower's divergent tail).
//
// The offsets of a partition, and how they relate (asserted where they change):
//   logStartOffset ≤ flushedOffset ≤ readableEndOffset ≤ logEndOffset
//   flushed  = recovery point: fdatasync'ed, survives a machine crash
//   readable = written to the file (page cache); reads see at most this
//   logEnd   = next offset to assign; batches up to here are queued for writing
// What is *committed* (the high watermark) is not storage's to say: the broker's Partition decides it
// from these (broker/partition/partition.ts).
//
// PartitionLog is the public face and the reads; its collaborators each own one path and share the
// LogState (log-state.ts) it hands them, never importing this file:
//   log-appender.ts            header checks, offsets, roll, flush
//   log-replication.ts         a follower's append of the leader's batches; a new leader's epoch
//   log-trimming.ts            retention, DeleteRecords, truncateTo, delayed deletion of segments
//   log-checkpoint-writer.ts   recovery point, log start offset, leader epochs (asynchronous, atomic)
//   log-transaction-indexes.ts the `.txnindex` files across segments, at open and after aborts
//   log-compaction.ts          compactable segments, swapping in a compacted copy, background rounds

import { LeaderEpochCache, ensurePartitionMetadata } from './checkpoints.js';
import type { CompactionTarget } from './compaction.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { StorageError } from './errors.js';
import { nodeFileSystem, type FileSystem } from './file-system.js';
import { resolveLogConfig, type LogConfig } from './limits.js';
import { LogAppender, type AppendResult } from './log-appender.js';
import { CheckpointWriter } from './log-checkpoint-writer.js';
import { BackgroundWork, compactableSegments, swapInCompactedSegment } from './log-compaction.js';
import { LogState } from './log-state.js';
import { LogTrimmer } from './log-trimming.js';
import { TransactionIndexes, type TransactionIndexRead } from './log-transaction-indexes.js';
import { ReplicaAppender, type ReplicatedAppendResult, type ReplicatedBatchVisitor } from './log-replication.js';
import { stderrLogger, type StorageLogger } from './logger.js';
import type { RecoveryReport } from './recovery-cases.js';
import { recoverPartition } from './recovery.js';
import { Segment, type SegmentEnvironment } from './segment.js';
import { renameForDeletion } from './deleted-directories.js';
import {
  firstRecordAtOrAfter,
  recordWithLargestTimestamp,
  type RecordAtTime,
  type TimestampLookupScope,
} from './timestamp-lookup.js';
import type { AbortedTransactionEntry } from './transaction-index.js';

export type { AppendResult } from './log-appender.js';
export type { TransactionIndexRead } from './log-transaction-indexes.js';
export type { ReplicatedAppendResult, ReplicatedBatchVisitor } from './log-replication.js';

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
  /** The leader epoch stamped on appended batches; recorded as starting at the log end if newer than
   *  the log's latest. Default: the log's latest epoch (0 for a new log; a single node only has 0). */
  leaderEpoch?: number;
  /** The caller already checked each batch's CRC (the broker does on produce): skip doing it twice. */
  trustAppendedBatches?: boolean;
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

export class PartitionLog implements CompactionTarget {
  readonly directory: string;
  readonly topic: string;
  readonly partition: number;
  readonly config: LogConfig;
  readonly topicId: Buffer | null;
  /** What the last open found and did. */
  readonly recovery: RecoveryReport;
  /** The open made the directory: the partition is new. */
  created = false;

  private readonly state: LogState;
  private readonly checkpoints: CheckpointWriter;
  private readonly appender: LogAppender;
  private readonly replica: ReplicaAppender;
  private readonly trimmer: LogTrimmer;
  private readonly transactionIndexes: TransactionIndexes;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly background: BackgroundWork;
  /** Damaged or inconsistent batches the lookups by time logged already (timestamp-lookup.ts). */
  private readonly reportedLookupProblems = new Set<string>();

  private constructor(
    environment: SegmentEnvironment,
    logger: StorageLogger,
    options: PartitionLogOptions,
    recovered: Awaited<ReturnType<typeof recoverPartition>>,
    topicId: Buffer | null,
    leaderEpochs: LeaderEpochCache,
  ) {
    this.directory = options.directory;
    this.topic = options.topic;
    this.partition = options.partition;
    this.config = environment.config;
    this.topicId = topicId;
    this.recovery = recovered.report;
    this.state = new LogState(options.directory, environment, logger, recovered);
    this.checkpoints = new CheckpointWriter(this.state, { topic: this.topic, partition: this.partition }, leaderEpochs);
    this.appender = new LogAppender(
      this.state,
      this.checkpoints,
      options.leaderEpoch ?? 0,
      options.trustAppendedBatches === true,
    );
    this.replica = new ReplicaAppender(this.state, this.checkpoints, this.appender);
    this.trimmer = new LogTrimmer(this.state, this.checkpoints, this.appender);
    this.transactionIndexes = new TransactionIndexes(this.state, this.checkpoints, this.recovery);
    this.background = new BackgroundWork(this.state, this.trimmer, this);
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
    const cutAtStart = epochs.truncateFromStart(log.logStartOffset);
    // By default the log goes on with the epoch of its last batch (or a newer one its leader recorded).
    if (options.leaderEpoch === undefined) log.appender.leaderEpoch = epochs.latestEpoch() ?? 0;
    // A log without epochs (new, or its file lost) was written by this node alone: its epoch covers it all.
    const assigned = epochs.assign(
      log.appender.leaderEpoch,
      epochs.list().length === 0 ? log.logStartOffset : log.logEndOffset,
    );
    if (assigned || cutAtEnd || cutAtStart || recovered.leaderEpochs.length === 0)
      await log.checkpoints.writeLeaderEpochs();
    await log.checkpoint();
    log.appender.startAppending(log.state.active, null);
    log.startTimers();
    for (const segment of log.state.segments.slice(0, -1)) log.state.noteIndexUse(segment);
    logger.log('info', 'log-opened', {
      directory: options.directory,
      segments: log.segmentCount,
      logStartOffset: log.logStartOffset,
      logEndOffset: log.logEndOffset,
      scannedSegments: recovered.report.scannedSegments,
      cuts: recovered.report.cuts.length,
      ms: Date.now() - started,
    });
    return log;
  }

  get logStartOffset(): number {
    return this.state.startOffset;
  }

  get logEndOffset(): number {
    return this.state.logEndOffset;
  }

  /** The recovery point: every offset below it is on stable storage. */
  /** Called each time appended bytes reach the file, before they are flushed (replication wakes on it). */
  set onWritten(listener: (() => void) | null) {
    this.state.onWritten = listener;
  }

  get flushedOffset(): number {
    return this.state.flushed;
  }

  /** Offsets below this are written to the file and may be read. */
  get readableEndOffset(): number {
    return this.state.readableEndOffset;
  }

  /** Bytes in all segments. */
  get sizeBytes(): number {
    return this.state.segments.reduce((sum, segment) => sum + segment.sizeBytes, 0);
  }

  get segmentCount(): number {
    return this.state.segments.length;
  }

  /** Base offsets of the segments, oldest first. */
  get segmentBaseOffsets(): number[] {
    return this.state.segments.map((segment) => segment.baseOffset);
  }

  /** Set when a disk error made the partition read-only; appends then fail with it. */
  get readOnly(): StorageError | null {
    return this.state.readOnlyError;
  }

  get leaderEpochEntries(): readonly { epoch: number; startOffset: number }[] {
    return this.checkpoints.leaderEpochs.list();
  }

  /** The leader epoch append() stamps on batches. */
  get leaderEpoch(): number {
    return this.appender.leaderEpoch;
  }

  // ── append ────────────────────────────────────────────────────────────────────────────────────

  /**
   * Appends one batch (RecordBatch v2, exactly one batch in `batch`). Assigns its offsets by
   * writing baseOffset and partitionLeaderEpoch into `batch` itself — outside the CRC, so nothing
   * else changes and no record is decoded. Resolves when the batch is as durable as the flush
   * policy promises.
   */
  append(batch: Buffer): Promise<AppendResult> {
    return this.appender.append(batch);
  }

  // ── replication ───────────────────────────────────────────────────────────────────────────────

  /**
   * A follower appends `chunk` — one or more whole RecordBatch v2 batches as the leader's log holds
   * them (a fetch response's records) — keeping every byte: baseOffset and partitionLeaderEpoch are
   * not rewritten. The chunk's whole batches are checked (log-replication.ts has the table: length,
   * magic, CRC32C, counts, offsets continuing the log end, epochs) and taken before this returns,
   * or, if any fails, none of them are and the promise rejects with a StorageError. A partial batch
   * at the end is left (`bytes` says how many were taken). A batch of an epoch newer than the last
   * one on record starts an entry epoch → its baseOffset in the leader-epoch checkpoint. `visit`
   * sees each batch taken, synchronously (the broker's producer and transaction state). Resolves
   * when the batches are as durable as the flush policy promises (group commit, as append) and the
   * epoch entries they added are in the checkpoint. No append or truncation may run meanwhile.
   */
  appendReplicated(chunk: Buffer, visit?: ReplicatedBatchVisitor): Promise<ReplicatedAppendResult> {
    return this.replica.appendReplicated(chunk, visit);
  }

  /**
   * This replica leads from now on at `epoch`: append() stamps it on every later batch and, if it is
   * newer than the log's latest epoch, the entry epoch → log end offset is recorded (entries at or
   * past the log end, which no batch backs, give way to it). Resolves once the leader-epoch
   * checkpoint holds it; appends made meanwhile resolve only after that too. An epoch older than
   * the log's latest is refused (FENCED_LEADER_EPOCH): a leader's epochs only grow.
   */
  assignLeaderEpoch(epoch: number): Promise<void> {
    return this.replica.assignLeaderEpoch(epoch);
  }

  /** Starts a new segment at the log end; the old one is sealed (made durable) in the background. */
  roll(reason = 'requested'): Segment {
    return this.appender.roll(reason);
  }

  /** fdatasync everything written so far (the `interval` timer, `os` on close, tests). */
  flush(): Promise<void> {
    return this.appender.flush();
  }

  // ── read ──────────────────────────────────────────────────────────────────────────────────────

  /**
   * Whole batches starting with the one that holds `offset`: as many as fit in `maxBytes`, but at
   * least one even if it is larger (KIP-74). Batches come from one segment per call.
   */
  async read(offset: number, maxBytes: number, options: ReadOptions = {}): Promise<ReadResult> {
    this.state.ensureOpen();
    if (offset < this.state.startOffset || offset > this.logEndOffset) {
      throw new StorageError(
        'OFFSET_OUT_OF_RANGE',
        `offset ${offset}, log has [${this.state.startOffset}, ${this.logEndOffset})`,
      );
    }
    const readableEnd = this.readableEndOffset;
    const limit = Math.min(options.maxOffset ?? readableEnd, readableEnd);
    const empty: ReadResult = {
      records: Buffer.alloc(0),
      firstOffset: offset,
      nextOffset: offset,
      file: null,
      logStartOffset: this.state.startOffset,
    };
    if (offset >= limit) return empty;
    for (let index = this.state.segmentIndexFor(offset); index < this.state.segments.length; index += 1) {
      const segment = this.state.segments[index]!;
      if (segment.baseOffset >= limit) break;
      segment.acquire();
      try {
        await segment.fileDescriptor();
        const endPosition = segment.readableBytes;
        const located = await segment.locate(offset, endPosition);
        if (located === null) continue;
        const range = await segment.readBatches(located.position, maxBytes, limit, endPosition);
        this.state.noteIndexUse(segment);
        if (range === null) return empty;
        return {
          records: range.buffer,
          firstOffset: range.firstOffset,
          nextOffset: range.nextOffset,
          file: { path: segment.logPath, position: range.position, length: range.buffer.length },
          logStartOffset: this.state.startOffset,
        };
      } catch (error) {
        throw this.state.toStorageError(error);
      } finally {
        segment.release();
      }
    }
    return empty;
  }

  /** Sealed segments whose indexes are in memory now (tests, metrics). */
  get loadedIndexCount(): number {
    return this.state.segments.filter((segment) => segment !== this.state.active && segment.indexesLoaded).length;
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
    this.state.ensureOpen();
    try {
      return await lookup({
        segments: [...this.state.segments],
        logStartOffset: this.state.startOffset,
        limitOffset: Math.min(limitOffset, this.readableEndOffset),
        fileSystem: this.state.environment.fileSystem,
        logger: this.state.logger,
        directory: this.directory,
        noteIndexUse: (segment) => this.state.noteIndexUse(segment),
        reported: this.reportedLookupProblems,
      });
    } catch (error) {
      throw this.state.toStorageError(error);
    }
  }

  // ── trimming ──────────────────────────────────────────────────────────────────────────────────

  /** DeleteRecords: offsets below `offset` are no longer served; whole segments below it are deleted.
   *  Returns the new log start offset. The broker bounds `offset` by the high watermark; storage only
   *  by what is written. */
  async deleteRecordsBefore(offset: number): Promise<number> {
    this.state.ensureWritable();
    const readableEnd = this.readableEndOffset;
    if (offset > readableEnd || offset < 0) {
      throw new StorageError(
        'OFFSET_OUT_OF_RANGE',
        `cannot delete records before ${offset}: the log is written up to ${readableEnd}`,
      );
    }
    await this.trimmer.moveStartTo(offset);
    return this.state.startOffset;
  }

  /** Deletes whole segments past `retention.ms` or beyond `retention.bytes`. Returns how many. */
  applyRetention(): Promise<number> {
    return this.trimmer.applyRetention();
  }

  /**
   * Removes every batch at or after `offset`; a batch that holds `offset` goes entirely, so the log
   * end may land below `offset` (as Kafka). For replication: a follower cuts its divergent tail.
   * No append may run meanwhile.
   */
  truncateTo(offset: number): Promise<void> {
    return this.trimmer.truncateTo(offset);
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
    this.transactionIndexes.keep(existingAreEmpty);
  }

  /**
   * Records an aborted transaction whose ABORT marker was just appended (the broker decides what an
   * aborted transaction is; storage keeps it with the marker's segment). Written to the `.txnindex`
   * at once, fsync'ed with the segment's other indexes. False, and nothing recorded, if the marker
   * is not in the active segment after the last entry (its append failed) or the log is closed.
   */
  appendAbortedTransaction(entry: AbortedTransactionEntry): boolean {
    return this.transactionIndexes.appendAborted(entry);
  }

  /**
   * The aborted transactions of the whole log, from the `.txnindex` files (checked; recovery table
   * rows `txnindex-*`), and the ranges whose entries must be rebuilt. Call once at open, before any
   * append, then completeTransactionIndex for every unindexed range.
   */
  readTransactionIndexes(): Promise<TransactionIndexRead> {
    return this.transactionIndexes.read();
  }

  /** Completes the `.txnindex` of one unindexed range with the aborted transactions whose marker lies
   *  there (those not already listed by readTransactionIndexes), writing the file durably. Once no
   *  range is left, the recovery point may be checkpointed past them. */
  completeTransactionIndex(baseOffset: number, found: readonly AbortedTransactionEntry[]): Promise<void> {
    return this.transactionIndexes.complete(baseOffset, found);
  }

  // ── compaction support ──────────────────────────────────────────────────────────────────────

  /** The segments compaction may rewrite (sealed and durable, not the active one), and all segments
   *  (whose keys decide what is superseded). */
  segmentsForCompaction(): { sealed: Segment[]; all: Segment[] } {
    return compactableSegments(this.state);
  }

  /**
   * Puts a compacted copy (`swapPath`, a complete and fsync'ed `.log.swap`) in place of `segment`.
   * Crash-safe with recovery's swap-file case: the rename over the `.log` is the commit point.
   * Returns false (and drops the copy) if the segment went away meanwhile (retention, truncation).
   */
  replaceSegment(segment: Segment, swapPath: string): Promise<boolean> {
    return swapInCompactedSegment(this.state, segment, swapPath);
  }

  get segmentEnvironment(): SegmentEnvironment {
    return this.state.environment;
  }

  // ── checkpoints, lifecycle ────────────────────────────────────────────────────────────────────

  /** Writes the recovery point (after making the indexes it vouches for durable) and the log start
   *  offset, if either moved. Serialized. */
  checkpoint(epochsChanged = false): Promise<void> {
    return this.checkpoints.checkpoint(epochsChanged);
  }

  private startTimers(): void {
    const policy = this.config.flushPolicy;
    const { state } = this;
    if (policy.kind === 'interval') {
      this.timers.push(
        setInterval(
          () => void this.flush().catch((error: unknown) => state.markReadOnly('flush', error)),
          policy.intervalMs,
        ).unref(),
      );
    }
    this.timers.push(
      setInterval(() => this.checkpoints.request(), this.config.recoveryPointCheckpointIntervalMs).unref(),
    );
    this.timers.push(setInterval(() => void this.runBackgroundWork(), this.config.retentionCheckIntervalMs).unref());
  }

  /** One round of retention and (for compacted topics) compaction, as the
   *  `log.retention.check.interval.ms` timer runs it. Never rejects: failures are logged, and a disk
   *  failure has already turned the partition read-only. */
  runBackgroundWork(): Promise<void> {
    return this.background.run();
  }

  /** Makes everything durable, writes the checkpoints (so the next open scans nothing) and closes. */
  async close(): Promise<void> {
    const { state } = this;
    if (state.closed) return;
    state.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.background.settled();
    try {
      if (state.readOnlyError === null) {
        for (const segment of state.segments) if (segment.sealed !== null) await segment.sealed;
        await state.active.seal();
        await this.checkpoint();
      }
    } catch (error) {
      state.markReadOnly('close', error);
    } finally {
      for (const segment of state.segments) await segment.close().catch(() => undefined);
      // Deletions still waiting out their delay finish now (reads are over: the log is closed).
      await this.trimmer.finishAllDeletions();
    }
  }

  /** Closes without flushing or checkpointing, as a crash would leave things (tests). */
  async abandon(): Promise<void> {
    const { state } = this;
    state.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    // Let work already under way settle, so nothing writes after this returns.
    await this.checkpoints.settled();
    for (const segment of state.segments) {
      if (segment.appender !== null) await segment.appender.idle();
      if (segment.sealed !== null) await segment.sealed.catch(() => undefined);
    }
    await this.checkpoints.settled();
    for (const segment of [...state.segments, ...this.trimmer.deletingSegments])
      await segment.close().catch(() => undefined);
  }

  /**
   * DeleteTopics: closes the log without flushing (its data is going), once its background work and
   * the writes under way have ended, and renames its directory `<topic>-<partition>.<uuid>-delete`,
   * durably (deleted-directories.ts). Returns the new path; the caller removes it later. Nothing of
   * this log touches the old path afterwards, so a new partition of the same name may be created there.
   */
  async delete(): Promise<string> {
    this.state.closed = true; // no new append, read or background round starts
    for (const timer of this.timers) clearInterval(timer);
    await this.background.settled(); // a compaction under way finishes on open files
    await this.abandon();
    // Segments waiting out file.delete.delay.ms go with the directory; their timers find nothing to do.
    this.trimmer.forgetDeletions();
    return renameForDeletion(this.state.environment.fileSystem, this.directory, this.topic, this.partition);
  }

  /** For background work on this log (compaction) that hit a disk error. */
  reportDiskFailure(operation: string, error: unknown): void {
    this.state.markReadOnly(operation, error);
  }
}
