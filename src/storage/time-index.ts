// `.timeindex`: a sparse map from timestamp to offset inside one segment.
//
//   entry (12 bytes, big-endian):  timestamp int64 | relativeOffset int32
//
// timestamp = the largest batch maxTimestamp seen in the segment so far; relativeOffset = the last
// offset of the batch that carried it, minus the segment's base offset. An entry is added beside an
// offset-index entry, and only when the timestamp grew (as Kafka), so timestamps strictly increase.
// When a segment rolls, a final entry records its largest timestamp, which retention reads back.
// Kept in memory and persisted like the offset index (see offset-index.ts).

import { invariant } from './errors.js';
import { IndexCorruptError } from './offset-index.js';

export const timeIndexEntryBytes = 12;

export interface TimestampOffset {
  timestamp: number;
  offset: number;
}

export class TimeIndex {
  readonly baseOffset: number;
  readonly maxEntries: number;
  private buffer: Buffer;
  private count = 0;
  private persistedEntries = 0;
  private fileEntries = 0;

  constructor(baseOffset: number, maxBytes: number) {
    this.baseOffset = baseOffset;
    this.maxEntries = Math.floor(maxBytes / timeIndexEntryBytes);
    this.buffer = Buffer.alloc(Math.min(this.maxEntries, 512) * timeIndexEntryBytes);
  }

  /** Loads index file content, checking it against the segment's offsets. Throws IndexCorruptError. */
  static load(file: string, baseOffset: number, maxBytes: number, content: Buffer, nextOffset: number): TimeIndex {
    if (content.length % timeIndexEntryBytes !== 0)
      throw new IndexCorruptError(file, `size ${content.length} is not a multiple of ${timeIndexEntryBytes}`);
    const index = new TimeIndex(baseOffset, Math.max(maxBytes, content.length));
    let previousTimestamp = -Infinity;
    let previousOffset = -1;
    for (let at = 0; at < content.length; at += timeIndexEntryBytes) {
      const timestamp = Number(content.readBigInt64BE(at));
      const offset = baseOffset + content.readInt32BE(at + 8);
      if (timestamp <= previousTimestamp || offset < previousOffset || offset < baseOffset)
        throw new IndexCorruptError(file, `entry ${at / timeIndexEntryBytes} does not increase`);
      if (offset >= nextOffset)
        throw new IndexCorruptError(
          file,
          `entry ${at / timeIndexEntryBytes} names offset ${offset}, past the segment end ${nextOffset}`,
        );
      previousTimestamp = timestamp;
      previousOffset = offset;
      index.appendUnchecked(timestamp, offset);
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

  entry(index: number): TimestampOffset {
    invariant(index >= 0 && index < this.count, `time index entry ${index} of ${this.count}`);
    const at = index * timeIndexEntryBytes;
    return {
      timestamp: Number(this.buffer.readBigInt64BE(at)),
      offset: this.baseOffset + this.buffer.readInt32BE(at + 8),
    };
  }

  last(): TimestampOffset | undefined {
    return this.count === 0 ? undefined : this.entry(this.count - 1);
  }

  /** Adds an entry if `timestamp` is larger than the last one; returns whether it did. */
  maybeAppend(timestamp: number, offset: number, evenIfFull = false): boolean {
    const last = this.last();
    if (last !== undefined && timestamp <= last.timestamp) return false;
    if (this.isFull() && !evenIfFull) return false;
    invariant(
      last === undefined || offset >= last.offset,
      `time index offsets must not decrease: ${offset} after ${last?.offset}`,
    );
    this.appendUnchecked(timestamp, offset);
    return true;
  }

  private appendUnchecked(timestamp: number, offset: number): void {
    const at = this.count * timeIndexEntryBytes;
    if (at + timeIndexEntryBytes > this.buffer.length) {
      const grown = Buffer.alloc(
        Math.max(Math.min(this.buffer.length * 2, this.maxEntries * timeIndexEntryBytes), at + timeIndexEntryBytes),
      );
      this.buffer.copy(grown);
      this.buffer = grown;
    }
    this.buffer.writeBigInt64BE(BigInt(timestamp), at);
    this.buffer.writeInt32BE(offset - this.baseOffset, at + 8);
    this.count += 1;
  }

  /** The last entry whose timestamp is strictly below `timestamp`: every batch up to and including
   *  its offset has maxTimestamp < `timestamp`, so a search for the first batch ≥ `timestamp` may
   *  start right after it. Undefined when there is none. */
  lastBefore(timestamp: number): TimestampOffset | undefined {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (Number(this.buffer.readBigInt64BE(middle * timeIndexEntryBytes)) < timestamp) {
        found = middle;
        low = middle + 1;
      } else high = middle - 1;
    }
    return found < 0 ? undefined : this.entry(found);
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
      bytes: this.buffer.subarray(this.persistedEntries * timeIndexEntryBytes, this.count * timeIndexEntryBytes),
      position: this.persistedEntries * timeIndexEntryBytes,
      fileBytes: this.count * timeIndexEntryBytes,
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
}
