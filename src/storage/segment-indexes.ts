// A segment's two sparse indexes in memory: the one rule that decides their entries (shared by
// appends, recovery and rebuilds, so all build identical indexes), loading them from their files,
// and rebuilding them from the batch headers when the files fail their checks. Writing them is
// segment-index-writer.ts's; when they are loaded or dropped is the segment's (segment.ts).

import { BATCH_HEADER_BYTES, RecordBatchHeader } from '../protocol/record-batch/header.js';
import type { FileSystem } from './file-system.js';
import { storageLimits, type LogConfig } from './limits.js';
import { IndexCorruptError, OffsetIndex } from './offset-index.js';
import { ChunkReader } from './segment-reader.js';
import { TimeIndex } from './time-index.js';

/** Kafka's "no timestamp". */
export const noTimestamp = -1;

export interface LoadedIndexes {
  offsetIndex: OffsetIndex;
  timeIndex: TimeIndex;
}

/** What indexBatch keeps between batches. */
export interface IndexingState {
  bytesSinceLastIndexEntry: number;
  maxTimestamp: number;
  offsetOfMaxTimestamp: number;
}

/** The one rule for index entries (as Kafka): after more than `index.interval.bytes` of batches, the
 *  next batch gets an offset-index entry (its last offset → its position) and, if the largest
 *  timestamp grew, a time-index entry. */
export function indexBatch(
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

/** The segment an index load or rebuild is for. */
export interface IndexedSegment {
  baseOffset: number;
  offsetIndexPath: string;
  timeIndexPath: string;
  sizeBytes: number;
  nextOffset: number;
}

/** Loads both indexes from their files; throws IndexCorruptError if one is missing or fails its checks. */
export async function readIndexFiles(
  fileSystem: FileSystem,
  config: LogConfig,
  segment: IndexedSegment,
): Promise<LoadedIndexes> {
  const offsetContent = await fileSystem.readFile(segment.offsetIndexPath);
  const timeContent = await fileSystem.readFile(segment.timeIndexPath);
  if (offsetContent === null || timeContent === null) throw new IndexCorruptError(segment.offsetIndexPath, 'missing');
  const { baseOffset } = segment;
  const offsetIndex = OffsetIndex.load(
    segment.offsetIndexPath,
    baseOffset,
    config.segmentIndexBytes,
    offsetContent,
    segment.sizeBytes,
  );
  const timeIndex = TimeIndex.load(
    segment.timeIndexPath,
    baseOffset,
    config.segmentIndexBytes,
    timeContent,
    segment.nextOffset,
  );
  offsetIndex.markPersisted(offsetIndex.entries);
  timeIndex.markPersisted(timeIndex.entries);
  return { offsetIndex, timeIndex };
}

/** Builds both indexes by walking the (already validated) batch headers of the file at `fd`; they
 *  still have to be written. */
export async function buildIndexesFromHeaders(
  fileSystem: FileSystem,
  fd: number,
  config: LogConfig,
  segment: IndexedSegment,
): Promise<LoadedIndexes> {
  const { baseOffset, sizeBytes } = segment;
  const reader = new ChunkReader(fileSystem, fd, sizeBytes, storageLimits.scanChunkBytes);
  const offsetIndex = new OffsetIndex(baseOffset, config.segmentIndexBytes);
  const timeIndex = new TimeIndex(baseOffset, config.segmentIndexBytes);
  offsetIndex.markFileUnknown();
  timeIndex.markFileUnknown();
  const state: IndexingState = {
    bytesSinceLastIndexEntry: 0,
    maxTimestamp: noTimestamp,
    offsetOfMaxTimestamp: baseOffset,
  };
  let position = 0;
  while (position + BATCH_HEADER_BYTES <= sizeBytes) {
    const view = await reader.header(position);
    const header = new RecordBatchHeader(view.buffer, view.offset);
    indexBatch(offsetIndex, timeIndex, state, header, position, config.indexIntervalBytes);
    position += header.totalBytes;
  }
  if (state.maxTimestamp !== noTimestamp) timeIndex.maybeAppend(state.maxTimestamp, state.offsetOfMaxTimestamp, true);
  return { offsetIndex, timeIndex };
}
