// `.txnindex`: the aborted transactions whose ABORT marker lies in one segment (Kafka's format).
//
//   entry (34 bytes, big-endian):
//     version int16 (0) | producerId int64 | firstOffset int64 | lastOffset int64 | lastStableOffset int64
//
// lastOffset is the ABORT marker's offset, inside this segment; firstOffset the transaction's first
// offset in the partition (it may lie in an earlier segment); lastStableOffset the partition's last
// stable offset once the transaction was complete. Entries are in marker order (lastOffset
// increasing). Storage owns the file and keeps it with its segment (rolled, deleted, truncated,
// compacted and recovered with it); what an aborted transaction is, the broker decides and hands in.
//
// Durability: an entry is written to the file (page cache) when it is appended and fsync'ed with
// the segment's other indexes — before the recovery point passes its marker, and at roll. After a
// crash the part of the file above the recovery point is not trusted: recovery drops what lies past
// the recovered end and lists the control batches there without an entry, for the broker to check
// (recovery.ts, rows `txnindex-*`). A log that keeps transaction indexes writes the file for every
// segment, empty when it has no entry, so that a missing file means "never built" (written by a
// Sluice without `.txnindex`, or lost) and is rebuilt once.

import { invariant } from './errors.js';

export const transactionIndexEntryBytes = 34;
const transactionIndexVersion = 0;

export interface AbortedTransactionEntry {
  producerId: number;
  firstOffset: number;
  /** Offset of the ABORT marker. */
  lastOffset: number;
  lastStableOffset: number;
}

export class TransactionIndexCorruptError extends Error {
  constructor(file: string, detail: string) {
    super(`corrupt transaction index ${file}: ${detail}`);
    this.name = 'TransactionIndexCorruptError';
  }
}

export function encodeTransactionIndexEntries(entries: readonly AbortedTransactionEntry[]): Buffer {
  const buffer = Buffer.alloc(entries.length * transactionIndexEntryBytes);
  entries.forEach((entry, index) => {
    const at = index * transactionIndexEntryBytes;
    buffer.writeInt16BE(transactionIndexVersion, at);
    buffer.writeBigInt64BE(BigInt(entry.producerId), at + 2);
    buffer.writeBigInt64BE(BigInt(entry.firstOffset), at + 10);
    buffer.writeBigInt64BE(BigInt(entry.lastOffset), at + 18);
    buffer.writeBigInt64BE(BigInt(entry.lastStableOffset), at + 26);
  });
  return buffer;
}

function readSafe(file: string, content: Buffer, at: number, field: string): number {
  const value = content.readBigInt64BE(at);
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER))
    throw new TransactionIndexCorruptError(file, `${field} ${value} at byte ${at}`);
  return Number(value);
}

/**
 * Decodes a file's content, checking that it can be trusted: whole entries, version 0, every
 * marker inside the segment [baseOffset, endOffset) and after the previous one, firstOffset ≤
 * lastOffset. Throws TransactionIndexCorruptError otherwise.
 */
export function decodeTransactionIndex(
  file: string,
  baseOffset: number,
  content: Buffer,
  endOffset: number,
): AbortedTransactionEntry[] {
  if (content.length % transactionIndexEntryBytes !== 0)
    throw new TransactionIndexCorruptError(
      file,
      `size ${content.length} is not a multiple of ${transactionIndexEntryBytes}`,
    );
  const entries: AbortedTransactionEntry[] = [];
  let previous = -1;
  for (let at = 0; at < content.length; at += transactionIndexEntryBytes) {
    const version = content.readInt16BE(at);
    if (version !== transactionIndexVersion)
      throw new TransactionIndexCorruptError(file, `version ${version} at byte ${at}`);
    const entry = {
      producerId: readSafe(file, content, at + 2, 'producerId'),
      firstOffset: readSafe(file, content, at + 10, 'firstOffset'),
      lastOffset: readSafe(file, content, at + 18, 'lastOffset'),
      lastStableOffset: readSafe(file, content, at + 26, 'lastStableOffset'),
    };
    if (entry.lastOffset < baseOffset || entry.lastOffset >= endOffset)
      throw new TransactionIndexCorruptError(
        file,
        `marker offset ${entry.lastOffset} outside the segment [${baseOffset}, ${endOffset})`,
      );
    if (entry.lastOffset <= previous)
      throw new TransactionIndexCorruptError(file, `marker offset ${entry.lastOffset} after ${previous}`);
    if (entry.firstOffset > entry.lastOffset)
      throw new TransactionIndexCorruptError(
        file,
        `first offset ${entry.firstOffset} after the marker ${entry.lastOffset}`,
      );
    previous = entry.lastOffset;
    entries.push(entry);
  }
  return entries;
}

/** What a recovery scan of the segment left for the broker: the entries it kept, and the first
 *  control batch past the trusted part without an entry (null: none, the index is complete). */
export interface RecoveredTransactionIndex {
  entries: AbortedTransactionEntry[];
  unverifiedFrom: number | null;
}

/**
 * The bookkeeping of one segment's `.txnindex`. Only entries not yet written are kept in memory
 * (the broker keeps the aborted list it serves); the file is append-only except for truncation
 * and for the complete rewrites of recovery.
 */
export class TransactionIndex {
  /** Does the file exist (as far as this process knows)? */
  fileExists = false;
  /** Entries in the file; −1 when not known (a sealed segment whose file was never read). */
  fileEntries = -1;
  /** Written since the last fsync. */
  unsynced = false;
  /** Created since the directory was last fsync'ed. */
  directoryUnsynced = false;
  /** Write the file even when it has no entry (the log keeps transaction indexes). */
  required = false;
  /** Marker offset of the last entry appended, −1 if none (or unknown). */
  lastOffset = -1;
  /** Appended, not yet written. */
  pending: AbortedTransactionEntry[] = [];
  /** Set by recovery for a segment it scanned; cleared once the broker has completed the index. */
  recovered: RecoveredTransactionIndex | null = null;

  constructor(readonly baseOffset: number) {}

  append(entry: AbortedTransactionEntry): void {
    invariant(
      entry.lastOffset >= this.baseOffset && entry.lastOffset > this.lastOffset,
      () => `aborted transaction at ${entry.lastOffset} after ${this.lastOffset} in segment ${this.baseOffset}`,
    );
    this.pending.push(entry);
    this.lastOffset = entry.lastOffset;
  }

  /** Is there something to write (entries, or the empty file a log keeping indexes needs)? */
  needsWrite(): boolean {
    return this.pending.length > 0 || (this.required && !this.fileExists);
  }

  /** The state after the file was replaced by `entries`. */
  replaced(entries: readonly AbortedTransactionEntry[]): void {
    this.fileExists = true;
    this.fileEntries = entries.length;
    this.pending = [];
    this.unsynced = false;
    this.lastOffset = entries.length === 0 ? -1 : entries[entries.length - 1]!.lastOffset;
  }
}
