// One segment: a `.log` file of whole batches plus its two sparse indexes and, in a log that holds
// transactions, its aborted-transaction index (`.txnindex`).
//
// Offsets inside a segment, and how they relate (asserted where they change):
//   baseOffset ≤ readableNextOffset ≤ nextOffset          (written ≤ appended)
//   readableBytes ≤ sizeBytes
// `nextOffset`/`sizeBytes` count every batch handed to append(); `readable*` only those whose write
// completed, which is what reads may see.

import { BATCH_HEADER_BYTES, RECORD_BATCH_MAGIC, RecordBatchHeader } from '../protocol/record-batch/header.js';
import type { Clock } from '../runtime/clock.js';
import { invariant } from './errors.js';
import { readFully, type FileSystem } from './file-system.js';
import { storageLimits, type LogConfig } from './limits.js';
import { IndexCorruptError, OffsetIndex } from './offset-index.js';
import { SegmentAppender, type AppenderHooks } from './segment-appender.js';
import {
  logSuffix,
  offsetIndexSuffix,
  segmentFileName,
  temporarySuffix,
  timeIndexSuffix,
  transactionIndexSuffix,
} from './segment-files.js';
import { ChunkReader } from './segment-reader.js';
import { TimeIndex } from './time-index.js';
import {
  TransactionIndex,
  encodeTransactionIndexEntries,
  transactionIndexEntryBytes,
  type AbortedTransactionEntry,
} from './transaction-index.js';

export interface SegmentEnvironment {
  fileSystem: FileSystem;
  clock: Clock;
  config: LogConfig;
}

/** Kafka's "no timestamp". */
export const noTimestamp = -1;

export interface BatchRange {
  buffer: Buffer;
  /** Base offset of the first batch in `buffer`. */
  firstOffset: number;
  /** Offset after the last batch in `buffer`. */
  nextOffset: number;
  /** Where `buffer` came from, for a caller that would rather send the file range itself. */
  position: number;
}

interface LoadedIndexes {
  offsetIndex: OffsetIndex;
  timeIndex: TimeIndex;
}

/** What indexBatch keeps between batches. */
interface IndexingState {
  bytesSinceLastIndexEntry: number;
  maxTimestamp: number;
  offsetOfMaxTimestamp: number;
}

/** The one rule for index entries, shared by appends, recovery and rebuilds (as Kafka): after more
 *  than `index.interval.bytes` of batches, the next batch gets an offset-index entry (its last
 *  offset → its position) and, if the largest timestamp grew, a time-index entry. */
function indexBatch(
  offsetIndex: OffsetIndex,
  timeIndex: TimeIndex,
  state: IndexingState,
  header: RecordBatchHeader,
  position: number,
  intervalBytes: number,
): void {
  const lastOffset = header.lastOffset;
  if (header.maxTimestamp > state.maxTimestamp) {
    state.maxTimestamp = header.maxTimestamp;
    state.offsetOfMaxTimestamp = lastOffset;
  }
  if (state.bytesSinceLastIndexEntry > intervalBytes) {
    offsetIndex.append(lastOffset, position);
    timeIndex.maybeAppend(state.maxTimestamp, state.offsetOfMaxTimestamp);
    state.bytesSinceLastIndexEntry = 0;
  }
  state.bytesSinceLastIndexEntry += header.totalBytes;
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
  private indexWrites: Promise<void> = Promise.resolve();

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
      const { fileSystem, config } = this.environment;
      if (this.retired) return this.rebuildIndexesFromHeaders();
      try {
        const offsetContent = await fileSystem.readFile(this.offsetIndexPath);
        const timeContent = await fileSystem.readFile(this.timeIndexPath);
        if (offsetContent === null || timeContent === null)
          throw new IndexCorruptError(this.offsetIndexPath, 'missing');
        const offsetIndex = OffsetIndex.load(
          this.offsetIndexPath,
          this.baseOffset,
          config.segmentIndexBytes,
          offsetContent,
          this.sizeBytes,
        );
        const timeIndex = TimeIndex.load(
          this.timeIndexPath,
          this.baseOffset,
          config.segmentIndexBytes,
          timeContent,
          this.nextOffset,
        );
        offsetIndex.markPersisted(offsetIndex.entries);
        timeIndex.markPersisted(timeIndex.entries);
        this.offsetIndexValue = offsetIndex;
        this.timeIndexValue = timeIndex;
        return { offsetIndex, timeIndex };
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
    const { config } = this.environment;
    const reader = new ChunkReader(
      this.environment.fileSystem,
      await this.opened,
      this.sizeBytes,
      storageLimits.scanChunkBytes,
    );
    const offsetIndex = new OffsetIndex(this.baseOffset, config.segmentIndexBytes);
    const timeIndex = new TimeIndex(this.baseOffset, config.segmentIndexBytes);
    offsetIndex.markFileUnknown();
    timeIndex.markFileUnknown();
    const state: IndexingState = {
      bytesSinceLastIndexEntry: 0,
      maxTimestamp: noTimestamp,
      offsetOfMaxTimestamp: this.baseOffset,
    };
    let position = 0;
    while (position + BATCH_HEADER_BYTES <= this.sizeBytes) {
      const view = await reader.header(position);
      const header = new RecordBatchHeader(view.buffer, view.offset);
      indexBatch(offsetIndex, timeIndex, state, header, position, config.indexIntervalBytes);
      position += header.totalBytes;
    }
    if (state.maxTimestamp !== noTimestamp) timeIndex.maybeAppend(state.maxTimestamp, state.offsetOfMaxTimestamp, true);
    this.offsetIndexValue = offsetIndex;
    this.timeIndexValue = timeIndex;
    await this.persistIndexes(true);
    return { offsetIndex, timeIndex };
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
    const reader = new ChunkReader(this.environment.fileSystem, this.fd, endPosition, storageLimits.lookupChunkBytes);
    let position = offsetIndex.lookup(offset).position;
    while (position + BATCH_HEADER_BYTES <= endPosition) {
      const view = await reader.header(position);
      if (view.available < BATCH_HEADER_BYTES) return null;
      const header = new RecordBatchHeader(view.buffer, view.offset);
      if (header.lastOffset >= offset) return { position, baseOffset: header.baseOffset };
      position += header.totalBytes;
    }
    return null;
  }

  /** Whole batches from `position`: as many as fit in `maxBytes`, at least one (KIP-74), none at or
   *  past `limitOffset` or `endPosition`. */
  async readBatches(
    position: number,
    maxBytes: number,
    limitOffset: number,
    endPosition: number,
  ): Promise<BatchRange | null> {
    const first = Buffer.allocUnsafe(BATCH_HEADER_BYTES);
    if (
      (await readFully(this.environment.fileSystem, this.fd, first, BATCH_HEADER_BYTES, position)) < BATCH_HEADER_BYTES
    )
      return null;
    const firstHeader = new RecordBatchHeader(first);
    if (firstHeader.baseOffset >= limitOffset || position + firstHeader.totalBytes > endPosition) return null;
    const length = Math.max(firstHeader.totalBytes, Math.min(maxBytes, endPosition - position));
    const buffer = Buffer.allocUnsafe(length);
    const read = await readFully(this.environment.fileSystem, this.fd, buffer, length, position);
    let end = 0;
    let nextOffset = firstHeader.baseOffset;
    while (end + BATCH_HEADER_BYTES <= read) {
      const header = new RecordBatchHeader(buffer, end);
      if (header.baseOffset >= limitOffset || end + header.totalBytes > read) break;
      end += header.totalBytes;
      nextOffset = header.lastOffset + 1;
    }
    invariant(end > 0, 'read found no whole batch where the first one was');
    return { buffer: buffer.subarray(0, end), firstOffset: firstHeader.baseOffset, nextOffset, position };
  }

  /** Calls `visit` with each whole batch below `endPosition`, in order (compaction; off the hot path).
   *  The buffer is only valid during the call. */
  async forEachBatch(
    endPosition: number,
    visit: (batch: Buffer, position: number) => void | Promise<void>,
  ): Promise<void> {
    const reader = new ChunkReader(
      this.environment.fileSystem,
      await this.opened,
      endPosition,
      storageLimits.scanChunkBytes,
    );
    let position = 0;
    while (position + BATCH_HEADER_BYTES <= endPosition) {
      const headerView = await reader.header(position);
      const totalBytes = new RecordBatchHeader(headerView.buffer, headerView.offset).totalBytes;
      const view = await reader.view(position, totalBytes);
      invariant(view.available >= totalBytes, () => `batch at ${position} of ${this.logPath} runs past ${endPosition}`);
      await visit(view.buffer.subarray(view.offset, view.offset + totalBytes), position);
      position += totalBytes;
    }
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
    const last = this.offsetIndex.last();
    let position = last?.position ?? 0;
    const reader = new ChunkReader(this.environment.fileSystem, this.fd, this.sizeBytes, storageLimits.scanChunkBytes);
    let nextOffset = this.baseOffset;
    let maxTimestamp = this.timeIndex.last()?.timestamp ?? noTimestamp;
    let offsetOfMaxTimestamp = this.timeIndex.last()?.offset ?? this.baseOffset;
    let first = true;
    while (position < this.sizeBytes) {
      const view = await reader.header(position);
      if (view.available < BATCH_HEADER_BYTES) return `${view.available} stray bytes at ${position}`;
      const header = new RecordBatchHeader(view.buffer, view.offset);
      if (header.magic !== RECORD_BATCH_MAGIC) return `magic ${header.magic} at ${position}`;
      if (header.totalBytes < BATCH_HEADER_BYTES || position + header.totalBytes > this.sizeBytes)
        return `batch length ${header.totalBytes} at ${position}`;
      if (first && last !== undefined && header.lastOffset !== last.offset)
        return `index entry names offset ${last.offset}, batch at ${position} ends at ${header.lastOffset}`;
      if (!first && header.baseOffset < nextOffset)
        return `offset ${header.baseOffset} after ${nextOffset} at ${position}`;
      if (header.maxTimestamp > maxTimestamp) {
        maxTimestamp = header.maxTimestamp;
        offsetOfMaxTimestamp = header.lastOffset;
      }
      nextOffset = header.lastOffset + 1;
      position += header.totalBytes;
      first = false;
    }
    this.nextOffset = nextOffset;
    this.readableNextOffset = nextOffset;
    this.maxTimestamp = maxTimestamp;
    this.offsetOfMaxTimestamp = offsetOfMaxTimestamp;
    this.bytesSinceLastIndexEntry = this.sizeBytes - (last?.position ?? 0);
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
    const run = async (): Promise<void> => {
      const { fileSystem } = this.environment;
      if (this.retired) return; // the files are not ours any more
      await this.writeTransactionIndex(sync);
      if (!this.indexesLoaded) return; // nothing pending
      for (const [index, path] of [
        [this.offsetIndex, this.offsetIndexPath],
        [this.timeIndex, this.timeIndexPath],
      ] as const) {
        const pending = index.pendingWrite();
        if (pending === null && !sync) continue;
        // Not 'a': with O_APPEND, Linux ignores the position of a positional write.
        const fd = await fileSystem.open(path, 'r+').catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return fileSystem.open(path, 'w+');
          throw error;
        });
        try {
          if (pending !== null) {
            await fileSystem.writeAll(fd, [pending.bytes], pending.position);
            if (pending.truncate || (await fileSystem.fstat(fd)).size !== pending.fileBytes)
              await fileSystem.ftruncate(fd, pending.fileBytes);
          }
          if (sync) await fileSystem.fsync(fd);
        } finally {
          await fileSystem.close(fd);
        }
        if (pending !== null) index.markPersisted(pending.entries);
      }
    };
    this.indexWrites = this.indexWrites.then(run, run);
    return this.indexWrites;
  }

  /** Writes the `.txnindex` entries appended since the last write now (page cache), without waiting
   *  for the next checkpoint: a process crash then loses none. Serialized with persistIndexes. */
  persistTransactionIndex(): Promise<void> {
    const run = async (): Promise<void> => {
      if (!this.retired) await this.writeTransactionIndex(false);
    };
    this.indexWrites = this.indexWrites.then(run, run);
    return this.indexWrites;
  }

  /** Appends the pending `.txnindex` entries (creating the file if needed); fsyncs if `sync` and
   *  anything was written since the last fsync. */
  private async writeTransactionIndex(sync: boolean): Promise<void> {
    const index = this.transactionIndex;
    if (!index.needsWrite() && !(sync && index.unsynced)) return;
    const { fileSystem } = this.environment;
    const path = this.transactionIndexPath;
    const fd = await fileSystem.open(path, 'r+').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return fileSystem.open(path, 'w+');
      throw error;
    });
    if (!index.fileExists) index.directoryUnsynced = true;
    const created = !index.fileExists;
    try {
      const pending = index.pending.slice();
      if (pending.length > 0 || created) {
        // Entries go after the whole entries already there (a sealed segment's count is learned from the size).
        const fileBytes = (await fileSystem.fstat(fd)).size;
        const entries = index.fileEntries >= 0 ? index.fileEntries : Math.floor(fileBytes / transactionIndexEntryBytes);
        const position = entries * transactionIndexEntryBytes;
        await fileSystem.writeAll(fd, [encodeTransactionIndexEntries(pending)], position);
        const end = position + pending.length * transactionIndexEntryBytes;
        if (fileBytes > end) await fileSystem.ftruncate(fd, end);
        index.fileEntries = entries + pending.length;
        index.pending = index.pending.slice(pending.length);
        index.fileExists = true;
        index.unsynced = true;
      }
      if (sync) {
        await fileSystem.fsync(fd);
        index.unsynced = false;
      }
    } finally {
      await fileSystem.close(fd);
    }
    if (sync && index.directoryUnsynced) {
      await fileSystem.syncDirectory(this.directory);
      index.directoryUnsynced = false;
    }
  }

  /** Records an aborted transaction whose marker this (active) segment holds, and writes it. */
  appendAbortedTransaction(entry: AbortedTransactionEntry): Promise<void> {
    this.transactionIndex.append(entry);
    return this.persistTransactionIndex();
  }

  /** The entries in the `.txnindex` file now (written ones only), or null when there is none. */
  async readTransactionIndexFile(): Promise<Buffer | null> {
    await this.indexWrites.catch(() => undefined);
    return this.environment.fileSystem.readFile(this.transactionIndexPath);
  }

  /** Replaces the `.txnindex` with exactly `entries`, atomically (temporary file, fsync, rename):
   *  a crash leaves either the old file or the new one. For recovery and its completion. */
  replaceTransactionIndex(entries: readonly AbortedTransactionEntry[]): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.retired) return;
      invariant(this.transactionIndex.pending.length === 0, 'transaction index replaced while entries are pending');
      const { fileSystem } = this.environment;
      const temporary = `${this.transactionIndexPath}${temporarySuffix}`;
      const fd = await fileSystem.open(temporary, 'w');
      try {
        await fileSystem.writeAll(fd, [encodeTransactionIndexEntries(entries)], 0);
        await fileSystem.fsync(fd);
      } finally {
        await fileSystem.close(fd);
      }
      await fileSystem.rename(temporary, this.transactionIndexPath);
      await fileSystem.syncDirectory(this.directory);
      this.transactionIndex.replaced(entries);
    };
    this.indexWrites = this.indexWrites.then(run, run);
    return this.indexWrites;
  }

  /** Drops the `.txnindex` entries whose marker is at or after `endOffset` (truncation). */
  private async truncateTransactionIndex(endOffset: number): Promise<void> {
    const index = this.transactionIndex;
    index.pending = index.pending.filter((entry) => entry.lastOffset < endOffset);
    const content = await this.readTransactionIndexFile();
    if (content === null) return;
    let keep = 0;
    while (
      (keep + 1) * transactionIndexEntryBytes <= content.length &&
      Number(content.readBigInt64BE(keep * transactionIndexEntryBytes + 18)) < endOffset
    )
      keep += 1;
    const { fileSystem } = this.environment;
    if (keep * transactionIndexEntryBytes < content.length) {
      const fd = await fileSystem.open(this.transactionIndexPath, 'r+');
      try {
        await fileSystem.ftruncate(fd, keep * transactionIndexEntryBytes);
        await fileSystem.fsync(fd);
      } finally {
        await fileSystem.close(fd);
      }
    }
    index.fileEntries = keep;
    index.lastOffset =
      index.pending.at(-1)?.lastOffset ??
      (keep === 0 ? -1 : Number(content.readBigInt64BE((keep - 1) * transactionIndexEntryBytes + 18)));
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
    await this.truncateTransactionIndex(nextOffset);
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
        await this.indexWrites.catch(() => undefined); // nothing of this segment is written after close
        if (this.references > 0) await new Promise<void>((resolve) => (this.closeRequested = resolve));
        const fd = await this.opened.catch(() => -1);
        if (fd >= 0) await this.environment.fileSystem.close(fd);
      })();
    }
    return this.closed;
  }
}
