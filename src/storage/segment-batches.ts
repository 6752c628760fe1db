// Walking the batches of a segment's `.log` file by their headers alone: finding the batch that holds
// an offset, reading a range of whole batches for a fetch, visiting every batch (compaction), and
// walking a trusted segment's tail after its last index entry (recovery). Pure reads of one file
// descriptor; the segment (segment.ts) decides what to do with what they find.

import { BATCH_HEADER_BYTES, RECORD_BATCH_MAGIC, RecordBatchHeader } from '../protocol/record-batch/header.js';
import { invariant } from './errors.js';
import { readFully, type FileSystem } from './file-system.js';
import { storageLimits } from './limits.js';
import { ChunkReader } from './segment-reader.js';

export interface BatchRange {
  buffer: Buffer;
  /** Base offset of the first batch in `buffer`. */
  firstOffset: number;
  /** Offset after the last batch in `buffer`. */
  nextOffset: number;
  /** Where `buffer` came from, for a caller that would rather send the file range itself. */
  position: number;
}

/** The position of the first batch from `position` on whose last offset is ≥ `offset`, below `endPosition`. */
export async function locateBatch(
  fileSystem: FileSystem,
  fd: number,
  offset: number,
  position: number,
  endPosition: number,
): Promise<{ position: number; baseOffset: number } | null> {
  const reader = new ChunkReader(fileSystem, fd, endPosition, storageLimits.lookupChunkBytes);
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
export async function readBatchRange(
  fileSystem: FileSystem,
  fd: number,
  position: number,
  maxBytes: number,
  limitOffset: number,
  endPosition: number,
): Promise<BatchRange | null> {
  const first = Buffer.allocUnsafe(BATCH_HEADER_BYTES);
  if ((await readFully(fileSystem, fd, first, BATCH_HEADER_BYTES, position)) < BATCH_HEADER_BYTES) return null;
  const firstHeader = new RecordBatchHeader(first);
  if (firstHeader.baseOffset >= limitOffset || position + firstHeader.totalBytes > endPosition) return null;
  const length = Math.max(firstHeader.totalBytes, Math.min(maxBytes, endPosition - position));
  const buffer = Buffer.allocUnsafe(length);
  const read = await readFully(fileSystem, fd, buffer, length, position);
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

/** Calls `visit` with each whole batch below `endPosition`, in order. The buffer is only valid during
 *  the call. `path` names the file in an assertion. */
export async function forEachBatchIn(
  fileSystem: FileSystem,
  fd: number,
  path: string,
  endPosition: number,
  visit: (batch: Buffer, position: number) => void | Promise<void>,
): Promise<void> {
  const reader = new ChunkReader(fileSystem, fd, endPosition, storageLimits.scanChunkBytes);
  let position = 0;
  while (position + BATCH_HEADER_BYTES <= endPosition) {
    const headerView = await reader.header(position);
    const totalBytes = new RecordBatchHeader(headerView.buffer, headerView.offset).totalBytes;
    const view = await reader.view(position, totalBytes);
    invariant(view.available >= totalBytes, () => `batch at ${position} of ${path} runs past ${endPosition}`);
    await visit(view.buffer.subarray(view.offset, view.offset + totalBytes), position);
    position += totalBytes;
  }
}

/** Where a tail walk starts: the last offset-index entry and the largest timestamp known so far. */
export interface TailStart {
  baseOffset: number;
  sizeBytes: number;
  lastIndexEntry: { offset: number; position: number } | undefined;
  maxTimestamp: number;
  offsetOfMaxTimestamp: number;
}

/** What a tail walk learned. */
export interface TailEnd {
  nextOffset: number;
  maxTimestamp: number;
  offsetOfMaxTimestamp: number;
}

/**
 * Walks the batch headers after the last index entry of a segment recovery trusts, to learn its end
 * offset and largest timestamp. Returns a reason (a string) if the structure there is wrong: the
 * segment must then be scanned and validated instead. May throw a RangeError (an int64 field outside
 * the safe range).
 */
export async function walkTail(fileSystem: FileSystem, fd: number, start: TailStart): Promise<TailEnd | string> {
  const last = start.lastIndexEntry;
  const { sizeBytes } = start;
  let position = last?.position ?? 0;
  const reader = new ChunkReader(fileSystem, fd, sizeBytes, storageLimits.scanChunkBytes);
  let nextOffset = start.baseOffset;
  let { maxTimestamp, offsetOfMaxTimestamp } = start;
  let first = true;
  while (position < sizeBytes) {
    const view = await reader.header(position);
    if (view.available < BATCH_HEADER_BYTES) return `${view.available} stray bytes at ${position}`;
    const header = new RecordBatchHeader(view.buffer, view.offset);
    if (header.magic !== RECORD_BATCH_MAGIC) return `magic ${header.magic} at ${position}`;
    if (header.totalBytes < BATCH_HEADER_BYTES || position + header.totalBytes > sizeBytes)
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
  return { nextOffset, maxTimestamp, offsetOfMaxTimestamp };
}
