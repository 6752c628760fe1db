// What a partition log's collaborators (append path, checkpoint writer, trimmer, transaction indexes,
// reader) share: the segments, the log start and flushed offsets, the lifecycle flags and what turns
// the partition read-only. PartitionLog (log.ts) owns one and hands it to each collaborator; none of
// them imports log.ts, so the arrows run one way: log.ts → log-*.ts → log-state.ts.
//
// The offsets, and how they relate (asserted where they change):
//   logStartOffset ≤ flushedOffset ≤ readableEndOffset ≤ logEndOffset

import { StorageError } from './errors.js';
import { storageLimits, type LogConfig } from './limits.js';
import type { StorageLogger } from './logger.js';
import type { Segment, SegmentEnvironment } from './segment.js';

export class LogState {
  readonly config: LogConfig;
  /** Oldest first; the last one is the active segment. Never empty. */
  segments: Segment[];
  /** The first offset still served. */
  startOffset: number;
  /** The recovery point: every offset below it is fdatasync'ed. */
  flushed: number;
  /** Set by the first disk error; appends then fail with it. */
  readOnlyError: StorageError | null = null;
  closed = false;
  /** truncateTo is under way: no append or flush may start. */
  truncating = false;
  /** Called each time appended bytes reach the file (before they are flushed): a leader's parked
   *  replica fetches wake on it, so its followers write while it fsyncs. */
  onWritten: (() => void) | null = null;
  /** Every segment gets a `.txnindex`, empty or not (see TransactionIndexes.keep). */
  keepingTransactionIndexes = false;
  /** Sealed segments whose indexes are in memory, least recently used first. */
  private loadedIndexes: Segment[] = [];

  constructor(
    readonly directory: string,
    readonly environment: SegmentEnvironment,
    readonly logger: StorageLogger,
    recovered: { segments: Segment[]; logStartOffset: number; recoveryPoint: number },
  ) {
    this.config = environment.config;
    this.segments = recovered.segments;
    this.startOffset = recovered.logStartOffset;
    this.flushed = recovered.recoveryPoint;
  }

  get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  get logEndOffset(): number {
    return this.active.nextOffset;
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

  /** The last segment whose base offset is ≤ `offset` (the first one if none). */
  segmentIndexFor(offset: number): number {
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

  /** Nothing below the first segment exists any more, so it is (vacuously) flushed. */
  raiseFlushedToFirstSegment(): void {
    this.flushed = Math.max(this.flushed, this.segments[0]!.baseOffset);
  }

  /** Keeps the indexes of the most recently used sealed segments in memory and drops the others'
   *  (storageLimits.sealedSegmentIndexesLoadedMax); they load again from their files when needed. */
  noteIndexUse(segment: Segment): void {
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

  ensureOpen(): void {
    if (this.closed) throw new StorageError('LOG_CLOSED', this.directory);
  }

  ensureWritable(): void {
    this.ensureOpen();
    if (this.readOnlyError !== null) throw this.readOnlyError;
  }

  toStorageError(error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    return new StorageError('KAFKA_STORAGE_ERROR', `${this.directory}: ${(error as Error).message}`, error);
  }

  /** A disk error: the partition stops accepting writes rather than guess what is on disk. */
  markReadOnly(operation: string, error: unknown): void {
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
