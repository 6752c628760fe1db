// One segment: a `.log` file of whole batches plus its two sparse indexes and, in a log that holds
// transactions, its aborted-transaction index (`.txnindex`).
//
// Offsets inside a segment, and how they relate (asserted where they change):
//   baseOffset ≤ readableNextOffset ≤ nextOffset          (written ≤ appended)
//   readableBytes ≤ sizeBytes
// `nextOffset`/`sizeBytes` count every batch handed to append(); `readable*` only those whose write
// completed, which is what reads may see.
//
// Collaborators (none imports this file): segment-appender.ts (ordered writes, group commit),
// segment-batches.ts (walking the batch headers of the file), segment-indexes.ts (the index entry rule,
// loading and rebuilding the indexes), segment-index-writer.ts (writing the index files).

import type { RecordBatchHeader } from '../protocol/record-batch/header.js';
import type { Clock } from '../runtime/clock.js';
import { invariant } from './errors.js';
import type { FileSystem } from './file-system.js';
import { storageLimits, type LogConfig } from './limits.js';
import { IndexCorruptError, OffsetIndex } from './offset-index.js';
import { SegmentAppender, type AppenderHooks } from './segment-appender.js';
import { forEachBatchIn, locateBatch, readBatchRange, walkTail, type BatchRange } from './segment-batches.js';
import {
  logSuffix,
  offsetIndexSuffix,
  segmentFileName,
  timeIndexSuffix,
  transactionIndexSuffix,
} from './segment-files.js';
import { SegmentIndexWriter } from './segment-index-writer.js';
import {
  buildIndexesFromHeaders,
  indexBatch,
  noTimestamp,
  readIndexFiles,
  type LoadedIndexes,
} from './segment-indexes.js';
import { TimeIndex } from './time-index.js';
import { TransactionIndex, type AbortedTransactionEntry } from './transaction-index.js';

export type { BatchRange } from './segment-batches.js';
export { noTimestamp } from './segment-indexes.js';

export interface SegmentEnvironment {
  fileSystem: FileSystem;
  clock: Clock;
  config: LogConfig;
}

export class Segment {
  readonly baseOffset: number;
  readonly directory: string;
  sizeBytes = 0;
  readableBytes = 0;
  nextOffset: number;
  readableNextOffset: number;
  maxTimestamp = noTimestamp;
  offsetOfMaxTimestamp: number;
  /** When the first batch was appended (clock ms), for `segment.ms`; null while empty. */
  firstAppendAtMs: number | null = null;
  appender: SegmentAppender | null = null;
  /** Resolves once the segment is sealed (rolled) and durable. */
  sealed: Promise<void> | null = null;
  /** What is on disk of the `.txnindex` (its entries live with the broker). */
  readonly transactionIndex: TransactionIndex;

  // The indexes of a sealed segment may be dropped from memory (the files hold them) and loaded
  // again on the next lookup; see PartitionLog's index cache.
  private offsetIndexValue: OffsetIndex | null;
  private timeIndexValue: TimeIndex | null;
  private loadingIndexes: Promise<LoadedIndexes> | null = null;
  private sealedDone = false;
  /** Removed from its log (deleted, truncated away, replaced by compaction): its file names may
   *  already belong to a successor, so it never writes or reads index files again. */
  private retired = false;
  /** Bytes appended since the last offset-index entry (see indexBatch). */
  bytesSinceLastIndexEntry = 0;
  private fd = -1;
  private readonly opened: Promise<number>;
  private references = 0;
  private closeRequested: (() => void) | null = null;
  private closed: Promise<void> | null = null;
  private readonly indexWriter: SegmentIndexWriter;

  private constructor(
    private readonly environment: SegmentEnvironment,
    directory: string,
    baseOffset: number,
    opened: Promise<number>,
  ) {
    this.baseOffset = baseOffset;
    this.directory = directory;
    this.nextOffset = baseOffset;
    this.readableNextOffset = baseOffset;
    this.offsetOfMaxTimestamp = baseOffset;
    this.offsetIndexValue = new OffsetIndex(baseOffset, environment.config.segmentIndexBytes);
    this.timeIndexValue = new TimeIndex(baseOffset, environment.config.segmentIndexBytes);
    this.transactionIndex = new TransactionIndex(baseOffset);
    this.opened = opened.then((fd) => (this.fd = fd));
    this.opened.catch(() => undefined);
    this.indexWriter = new SegmentIndexWriter(environment.fileSystem, this);
  }

  get offsetIndex(): OffsetIndex {
    invariant(this.offsetIndexValue !== null, () => `offset index of ${this.logPath} used while unloaded`);
    return this.offsetIndexValue;
  }
  set offsetIndex(index: OffsetIndex) {
    this.offsetIndexValue = index;
  }
  get timeIndex(): TimeIndex {
    invariant(this.timeIndexValue !== null, () => `time index of ${this.logPath} used while unloaded`);
    return this.timeIndexValue;
  }
  set timeIndex(index: TimeIndex) {
    this.timeIndexValue = index;
  }

  get indexesLoaded(): boolean {
    return this.offsetIndexValue !== null && this.timeIndexValue !== null;
  }

  retire(): void {
    this.retired = true;
  }

  get isRetired(): boolean {
    return this.retired;
  }

  /** The offset and time indexes, or null while they are unloaded. */
  loadedIndexes(): LoadedIndexes | null {
    if (this.offsetIndexValue === null || this.timeIndexValue === null) return null;
    return { offsetIndex: this.offsetIndexValue, timeIndex: this.timeIndexValue };
  }

  /** Drops a sealed, idle segment's indexes from memory; false if it cannot now. */
  unloadIndexes(): boolean {
    if (
      !this.indexesLoaded ||
      this.appender !== null ||
      (this.sealed !== null && !this.sealedDone) ||
      this.references > 0 ||
      this.loadingIndexes !== null
    )
      return false;
    if (this.offsetIndex.pendingWrite() !== null || this.timeIndex.pendingWrite() !== null) return false;
    this.offsetIndexValue = null;
    this.timeIndexValue = null;
    return true;
  }

  /** Loads unloaded indexes from their files; if those fail their checks (changed on disk since),
   *  rebuilds them from the batch headers. */
  async ensureIndexes(): Promise<LoadedIndexes> {
    // Callers use what is returned, not this.offsetIndex later: another task may unload the
    // indexes at any await (the objects handed out stay valid).
    if (this.offsetIndexValue !== null && this.timeIndexValue !== null)
      return { offsetIndex: this.offsetIndexValue, timeIndex: this.timeIndexValue };
    return this.loadIndexes();
  }

  private loadIndexes(): Promise<LoadedIndexes> {
    this.loadingIndexes ??= (async (): Promise<LoadedIndexes> => {
      if (this.retired) return this.rebuildIndexesFromHeaders();
      try {
        const loaded = await readIndexFiles(this.environment.fileSystem, this.environment.config, this);
        this.offsetIndexValue = loaded.offsetIndex;
        this.timeIndexValue = loaded.timeIndex;
        return loaded;
      } catch (error) {
        if (!(error instanceof IndexCorruptError)) throw error;
        return this.rebuildIndexesFromHeaders();
      }
    })().finally(() => (this.loadingIndexes = null));
    return this.loadingIndexes;
  }

  /** Rebuilds both indexes by walking the (already validated) batch headers, then writes them.
   *  Builds on the side: the segment's counters, which reads use meanwhile, stay as they are. */
  private async rebuildIndexesFromHeaders(): Promise<LoadedIndexes> {
    const { fileSystem, config } = this.environment;
    const built = await buildIndexesFromHeaders(fileSystem, await this.opened, config, this);
    this.offsetIndexValue = built.offsetIndex;
    this.timeIndexValue = built.timeIndex;
    await this.persistIndexes(true);
    return built;
  }

  get logPath(): string {
    return `${this.directory}/${segmentFileName(this.baseOffset, logSuffix)}`;
  }
  get offsetIndexPath(): string {
    return `${this.directory}/${segmentFileName(this.baseOffset, offsetIndexSuffix)}`;
  }
  get timeIndexPath(): string {
    return `${this.directory}/${segmentFileName(this.baseOffset, timeIndexSuffix)}`;
  }
  get transactionIndexPath(): string {
    return `${this.directory}/${segmentFileName(this.baseOffset, transactionIndexSuffix)}`;
  }
  /** Every file of the segment, for deletion. */
  get filePaths(): string[] {
    return [this.logPath, this.offsetIndexPath, this.timeIndexPath, this.transactionIndexPath];
  }

  /** A new, empty segment. The file is created (and its directory entry made durable) in the
   *  background; writes and flushes wait for that. */
  static create(environment: SegmentEnvironment, directory: string, baseOffset: number): Segment {
    const path = `${directory}/${segmentFileName(baseOffset, logSuffix)}`;
    const { fileSystem } = environment;
    const opened = (async () => {
      const fd = await fileSystem.open(path, 'wx+');
      await fileSystem.syncDirectory(directory);
      return fd;
    })();
    return new Segment(environment, directory, baseOffset, opened);
  }

  /** An existing segment file; its indexes and tail are loaded by recovery. */
  static async open(environment: SegmentEnvironment, directory: string, baseOffset: number): Promise<Segment> {
    const fd = await environment.fileSystem.open(`${directory}/${segmentFileName(baseOffset, logSuffix)}`, 'r+');
    const segment = new Segment(environment, directory, baseOffset, Promise.resolve(fd));
    segment.fd = fd;
    const { size } = await environment.fileSystem.fstat(fd);
    segment.sizeBytes = size;
    segment.readableBytes = size;
    return segment;
  }

  async fileDescriptor(): Promise<number> {
    return this.opened;
  }

  /** Starts accepting appends (the active segment). */
  startAppending(acknowledgeAfterSync: boolean, predecessor: Segment | null, hooks: AppenderHooks): SegmentAppender {
    invariant(this.appender === null, 'segment already has an appender');
    const previous = predecessor?.appender ?? null;
    const sealed = predecessor?.sealed ?? Promise.resolve();
    const written = previous === null ? Promise.resolve(null) : previous.idle().then(() => previous.failed);
    this.appender = new SegmentAppender(
      this.environment.fileSystem,
      this.opened,
      this.sizeBytes,
      this.nextOffset,
      acknowledgeAfterSync,
      sealed,
      written,
      {
        onWritten: (position, nextOffset) => {
          invariant(position <= this.sizeBytes && nextOffset <= this.nextOffset, 'written past appended');
          this.readableBytes = position;
          this.readableNextOffset = nextOffset;
          hooks.onWritten(position, nextOffset);
        },
        onFlushed: hooks.onFlushed,
        onFailure: hooks.onFailure,
      },
    );
    return this.appender;
  }

  isEmpty(): boolean {
    return this.sizeBytes === 0;
  }

  /** Would a batch of `bytes` spanning `offsetSpan` offsets have to go into a new segment? */
  mustRollFor(bytes: number, lastOffset: number): string | null {
    if (this.isEmpty()) return null;
    const { config, clock } = this.environment;
    if (this.sizeBytes + bytes > config.segmentBytes) return 'segment.bytes';
    if (this.firstAppendAtMs !== null && clock.now() - this.firstAppendAtMs >= config.segmentMs) return 'segment.ms';
    if (this.offsetIndex.isFull()) return 'offset index full';
    if (this.timeIndex.isFull()) return 'time index full';
    if (lastOffset - this.baseOffset > storageLimits.relativeOffsetMax) return 'relative offset overflow';
    return null;
  }

  /** Records a batch placed at `position` (its baseOffset already assigned) in the indexes and
   *  counters. The same bookkeeping serves appends and recovery, so both build identical indexes. */
  track(header: RecordBatchHeader, position: number): void {
    invariant(position === this.sizeBytes, () => `batch at ${position}, segment ends at ${this.sizeBytes}`);
    const lastOffset = header.lastOffset;
    invariant(header.baseOffset >= this.nextOffset, () => `offset ${header.baseOffset} after ${this.nextOffset}`);
    indexBatch(this.offsetIndex, this.timeIndex, this, header, position, this.environment.config.indexIntervalBytes);
    const totalBytes = header.totalBytes;
    this.sizeBytes += totalBytes;
    this.nextOffset = lastOffset + 1;
    if (this.firstAppendAtMs === null) this.firstAppendAtMs = this.environment.clock.now();
  }

  /** The position of the first batch whose last offset is ≥ `offset`, below `endPosition`. */
  async locate(offset: number, endPosition: number): Promise<{ position: number; baseOffset: number } | null> {
    const { offsetIndex } = await this.ensureIndexes();
    const start = offsetIndex.lookup(offset).position;
    return locateBatch(this.environment.fileSystem, this.fd, offset, start, endPosition);
  }

  /** Whole batches from `position`: as many as fit in `maxBytes`, at least one (KIP-74), none at or
   *  past `limitOffset` or `endPosition`. */
  readBatches(
    position: number,
    maxBytes: number,
    limitOffset: number,
    endPosition: number,
  ): Promise<BatchRange | null> {
    return readBatchRange(this.environment.fileSystem, this.fd, position, maxBytes, limitOffset, endPosition);
  }

  /** Calls `visit` with each whole batch below `endPosition`, in order (compaction; off the hot path).
   *  The buffer is only valid during the call. */
  async forEachBatch(
    endPosition: number,
    visit: (batch: Buffer, position: number) => void | Promise<void>,
  ): Promise<void> {
    await forEachBatchIn(this.environment.fileSystem, await this.opened, this.logPath, endPosition, visit);
  }

  /**
   * For a segment recovery trusts (below the recovery point): walks the batch headers after the
   * last index entry to learn the segment's end offset and largest timestamp. Returns a reason if
   * the structure there is wrong (the segment must then be scanned and validated instead).
   */
  async loadTail(): Promise<string | null> {
    try {
      return await this.walkTail();
    } catch (error) {
      if (error instanceof RangeError) return error.message; // an int64 field outside the safe range
      throw error;
    }
  }

  private async walkTail(): Promise<string | null> {
    const end = await walkTail(this.environment.fileSystem, this.fd, {
      baseOffset: this.baseOffset,
      sizeBytes: this.sizeBytes,
      lastIndexEntry: this.offsetIndex.last(),
      maxTimestamp: this.timeIndex.last()?.timestamp ?? noTimestamp,
      offsetOfMaxTimestamp: this.timeIndex.last()?.offset ?? this.baseOffset,
    });
    if (typeof end === 'string') return end;
    this.nextOffset = end.nextOffset;
    this.readableNextOffset = end.nextOffset;
    this.maxTimestamp = end.maxTimestamp;
    this.offsetOfMaxTimestamp = end.offsetOfMaxTimestamp;
    this.bytesSinceLastIndexEntry = this.sizeBytes - (this.offsetIndex.last()?.position ?? 0);
    if (this.sizeBytes > 0) this.firstAppendAtMs = this.environment.clock.now();
    return null;
  }

  /** Forgets the indexes (recovery rebuilds them by tracking every valid batch again). */
  resetForRebuild(): void {
    this.offsetIndexValue = new OffsetIndex(this.baseOffset, this.environment.config.segmentIndexBytes);
    this.timeIndexValue = new TimeIndex(this.baseOffset, this.environment.config.segmentIndexBytes);
    this.offsetIndex.markFileUnknown();
    this.timeIndex.markFileUnknown();
    this.sizeBytes = 0;
    this.readableBytes = 0;
    this.nextOffset = this.baseOffset;
    this.readableNextOffset = this.baseOffset;
    this.maxTimestamp = noTimestamp;
    this.offsetOfMaxTimestamp = this.baseOffset;
    this.bytesSinceLastIndexEntry = 0;
    this.firstAppendAtMs = null;
  }

  /** Writes index changes to their files (and fsyncs them if `sync`). Serialized per segment. */
  persistIndexes(sync: boolean): Promise<void> {
    return this.indexWriter.persistIndexes(sync);
  }

  /** Writes the `.txnindex` entries appended since the last write now (page cache), without waiting
   *  for the next checkpoint: a process crash then loses none. Serialized with persistIndexes. */
  persistTransactionIndex(): Promise<void> {
    return this.indexWriter.persistTransactionIndex();
  }

  /** Records an aborted transaction whose marker this (active) segment holds, and writes it. */
  appendAbortedTransaction(entry: AbortedTransactionEntry): Promise<void> {
    this.transactionIndex.append(entry);
    return this.persistTransactionIndex();
  }

  /** The entries in the `.txnindex` file now (written ones only), or null when there is none. */
  readTransactionIndexFile(): Promise<Buffer | null> {
    return this.indexWriter.readTransactionIndexFile();
  }

  /** Replaces the `.txnindex` with exactly `entries`, atomically (temporary file, fsync, rename):
   *  a crash leaves either the old file or the new one. For recovery and its completion. */
  replaceTransactionIndex(entries: readonly AbortedTransactionEntry[]): Promise<void> {
    return this.indexWriter.replaceTransactionIndex(entries);
  }

  /** Rolls: waits for pending appends, records the final largest timestamp, makes log and indexes durable. */
  seal(): Promise<void> {
    if (this.sealed === null) {
      this.sealed = (async () => {
        if (this.appender !== null) await this.appender.drainAndFlush();
        if (!this.isEmpty() && this.maxTimestamp !== noTimestamp)
          this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp, true);
        await this.persistIndexes(true);
        this.sealedDone = true;
      })();
      this.sealed.catch(() => undefined);
    }
    return this.sealed;
  }

  /** Cuts the segment at `position` (a batch boundary). Appends must be idle. */
  async truncateTo(position: number, nextOffset: number): Promise<void> {
    invariant(position <= this.sizeBytes, 'truncate past the end');
    await this.ensureIndexes();
    const fd = await this.opened;
    await this.environment.fileSystem.ftruncate(fd, position);
    await this.environment.fileSystem.fsync(fd); // the new, smaller size must be durable too
    this.sizeBytes = position;
    this.readableBytes = position;
    this.offsetIndex.truncateToPosition(position);
    this.timeIndex.truncateToOffset(nextOffset);
    await this.indexWriter.truncateTransactionIndex(nextOffset);
    this.nextOffset = nextOffset;
    this.readableNextOffset = nextOffset;
    this.maxTimestamp = noTimestamp;
    const reason = await this.loadTail();
    invariant(reason === null, () => `segment damaged after truncation: ${reason}`);
    invariant(this.nextOffset <= nextOffset || position === 0, 'truncation kept offsets past the cut');
    if (position === 0) {
      this.nextOffset = nextOffset;
      this.readableNextOffset = nextOffset;
      this.firstAppendAtMs = null;
    }
    await this.persistIndexes(true);
  }

  /** Keeps the file open while a read uses it, even if retention deletes the segment meanwhile. */
  acquire(): void {
    this.references += 1;
  }

  release(): void {
    this.references -= 1;
    if (this.references === 0 && this.closeRequested !== null) this.closeRequested();
  }

  /** Closes the file once no read holds it. */
  close(): Promise<void> {
    if (this.closed === null) {
      this.closed = (async () => {
        if (this.appender !== null) await this.appender.idle();
        await this.indexWriter.settled(); // nothing of this segment is written after close
        if (this.references > 0) await new Promise<void>((resolve) => (this.closeRequested = resolve));
        const fd = await this.opened.catch(() => -1);
        if (fd >= 0) await this.environment.fileSystem.close(fd);
      })();
    }
    return this.closed;
  }
}
