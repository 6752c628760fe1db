// `.index`: a sparse map from offset to file position inside one segment.
//
//   entry (8 bytes, big-endian):  relativeOffset int32 | position int32
//
// relativeOffset = a batch's last offset − the segment's base offset (as Kafka, so tools that check
// "index offset = batch last offset" agree); position = where that batch starts in the `.log`.
// One entry per `index.interval.bytes` of batches. Entries strictly increase in both fields.
//
// The index lives in memory and is written to its file when the recovery point is checkpointed,
// when the segment rolls and on close; the file is then exactly `entries × 8` bytes (Kafka
// preallocates and trims on roll; without mmap there is nothing to preallocate for). An index that
// may be stale after a crash is truncated or rebuilt by recovery.

import { invariant } from './errors.js';

export const offsetIndexEntryBytes = 8;

export class IndexCorruptError extends Error {
  constructor(file: string, detail: string) {
    super(`corrupt index ${file}: ${detail}`);
    this.name = 'IndexCorruptError';
  }
}

export interface OffsetPosition {
  offset: number;
  position: number;
}

export class OffsetIndex {
  readonly baseOffset: number;
  readonly maxEntries: number;
  private buffer: Buffer;
  private count = 0;
  /** Entries [0, persistedEntries) are on disk as they are in memory. */
  private persistedEntries = 0;
  /** Entries the file holds (it may hold more than memory after a truncation, until persisted). */
  private fileEntries = 0;

  constructor(baseOffset: number, maxBytes: number) {
    this.baseOffset = baseOffset;
    this.maxEntries = Math.floor(maxBytes / offsetIndexEntryBytes);
    this.buffer = Buffer.alloc(Math.min(this.maxEntries, 512) * offsetIndexEntryBytes);
  }

  /** Loads index file content, checking that it can be trusted. Throws IndexCorruptError if not. */
  static load(file: string, baseOffset: number, maxBytes: number, content: Buffer, logSizeBytes: number): OffsetIndex {
    if (content.length % offsetIndexEntryBytes !== 0)
      throw new IndexCorruptError(file, `size ${content.length} is not a multiple of ${offsetIndexEntryBytes}`);
    const index = new OffsetIndex(baseOffset, Math.max(maxBytes, content.length));
    let previousRelative = -1;
    let previousPosition = -1;
    for (let at = 0; at < content.length; at += offsetIndexEntryBytes) {
      const relative = content.readInt32BE(at);
      const position = content.readInt32BE(at + 4);
      if (relative <= previousRelative || position <= previousPosition)
        throw new IndexCorruptError(file, `entry ${at / offsetIndexEntryBytes} does not increase`);
      if (position >= logSizeBytes)
        throw new IndexCorruptError(
          file,
          `entry ${at / offsetIndexEntryBytes} points to ${position}, past the log end ${logSizeBytes}`,
        );
      previousRelative = relative;
      previousPosition = position;
      index.append(baseOffset + relative, position);
    }
    index.persistedEntries = index.count;
    index.fileEntries = index.count;
    return index;
  }

  get entries(): number {
    return this.count;
  }

  isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  entry(index: number): OffsetPosition {
    invariant(index >= 0 && index < this.count, `offset index entry ${index} of ${this.count}`);
    const at = index * offsetIndexEntryBytes;
    return { offset: this.baseOffset + this.buffer.readInt32BE(at), position: this.buffer.readInt32BE(at + 4) };
  }

  last(): OffsetPosition | undefined {
    return this.count === 0 ? undefined : this.entry(this.count - 1);
  }

  append(offset: number, position: number): void {
    const relative = offset - this.baseOffset;
    invariant(!this.isFull(), 'append to a full offset index');
    invariant(relative >= 0 && relative <= 0x7fffffff, `relative offset ${relative} out of int32 range`);
    const last = this.last();
    invariant(
      last === undefined || (offset > last.offset && position > last.position),
      () => `offset index must increase: ${offset}@${position} after ${last?.offset}@${last?.position}`,
    );
    const at = this.count * offsetIndexEntryBytes;
    if (at + offsetIndexEntryBytes > this.buffer.length) {
      const grown = Buffer.alloc(
        Math.max(Math.min(this.buffer.length * 2, this.maxEntries * offsetIndexEntryBytes), at + offsetIndexEntryBytes),
      );
      this.buffer.copy(grown);
      this.buffer = grown;
    }
    this.buffer.writeInt32BE(relative, at);
    this.buffer.writeInt32BE(position, at + 4);
    this.count += 1;
  }

  /** The last entry at or below `offset`, or the segment start when there is none. */
  lookup(offset: number): OffsetPosition {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    const relative = offset - this.baseOffset;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.buffer.readInt32BE(middle * offsetIndexEntryBytes) <= relative) {
        found = middle;
        low = middle + 1;
      } else high = middle - 1;
    }
    return found < 0 ? { offset: this.baseOffset, position: 0 } : this.entry(found);
  }

  /** Drops entries for batches at or after `position` (the log was cut there). */
  truncateToPosition(position: number): void {
    while (this.count > 0 && this.entry(this.count - 1).position >= position) this.count -= 1;
    this.persistedEntries = Math.min(this.persistedEntries, this.count);
  }

  /** Drops entries whose offset is at or after `offset`. */
  truncateToOffset(offset: number): void {
    while (this.count > 0 && this.entry(this.count - 1).offset >= offset) this.count -= 1;
    this.persistedEntries = Math.min(this.persistedEntries, this.count);
  }

  /** What must be written to bring the file up to date: `bytes` at `position`, then the file cut to
   *  `fileBytes` if `truncate`. Pass `entries` back to markPersisted() once written. */
  pendingWrite(): { bytes: Buffer; position: number; fileBytes: number; truncate: boolean; entries: number } | null {
    if (this.persistedEntries === this.count && this.fileEntries === this.count) return null;
    return {
      bytes: this.buffer.subarray(this.persistedEntries * offsetIndexEntryBytes, this.count * offsetIndexEntryBytes),
      position: this.persistedEntries * offsetIndexEntryBytes,
      fileBytes: this.count * offsetIndexEntryBytes,
      truncate: this.fileEntries > this.count,
      entries: this.count,
    };
  }

  /** The file's content is unknown (a rebuild): the next persist rewrites and trims it. */
  markFileUnknown(): void {
    this.persistedEntries = 0;
    this.fileEntries = Number.MAX_SAFE_INTEGER;
  }

  markPersisted(entries: number): void {
    this.persistedEntries = Math.min(entries, this.count);
    this.fileEntries = entries;
  }

  /** The whole index as file bytes. */
  contents(): Buffer {
    return this.buffer.subarray(0, this.count * offsetIndexEntryBytes);
  }
}
