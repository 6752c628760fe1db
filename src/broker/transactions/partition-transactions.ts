// What one partition knows about transactions: the first offset of every open transaction (so the
// last stable offset is the smallest of them, or the high watermark when none is open) and the
// aborted transactions, (producerId, firstOffset, lastOffset = the ABORT marker's offset), that a
// read_committed Fetch lists so the client can drop their records.
//
// Where the aborted list lives: in memory, rebuilt when the partition opens by reading the batch
// headers of the whole log (control batches are decoded, they hold one tiny record). Kafka keeps a
// `.txnindex` file per segment instead; Sluice does not (yet) because that file has to be kept
// consistent with the log through crashes, truncation, retention and compaction — all storage code
// another engineer is changing — while a rebuild is correct by construction. Its cost is one read
// of the log at open, so it is paid only by partitions that have ever held a transactional batch:
// before the first one is appended, a marker file `transactions` is written durably in the
// partition directory, and only partitions with that file are scanned. A later `.txnindex` can
// replace the scan without changing this class's interface.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BATCH_HEADER_BYTES, RecordBatchHeader } from '../../protocol/record-batch/header.js';
import { ControlRecordType, decodeControlRecord } from '../../protocol/record-batch/control.js';
import { decodeRecordBatchSync } from '../../protocol/record-batch/records.js';
import type { PartitionLog } from '../../storage/log.js';
import { writeFileDurably } from '../data-dir.js';

export const TRANSACTIONS_MARKER_FILE = 'transactions';
const SCAN_READ_BYTES = 1024 * 1024;

export interface AbortedTransaction {
  producerId: number;
  firstOffset: number;
  /** Offset of the ABORT marker. */
  lastOffset: number;
}

export class PartitionTransactions {
  /** producerId → first offset of its open transaction. */
  private readonly open = new Map<number, number>();
  /** In marker order, so sorted by lastOffset. */
  private aborted: AbortedTransaction[] = [];
  private marked: boolean;

  constructor(readonly directory: string) {
    this.marked = existsSync(join(directory, TRANSACTIONS_MARKER_FILE));
  }

  /** Rebuilds the state of a partition that has held transactional batches; cheap for the others. */
  static async recover(log: PartitionLog): Promise<PartitionTransactions> {
    const state = new PartitionTransactions(log.directory);
    if (!state.marked) return state;
    const end = log.logEndOffset;
    let offset = log.logStartOffset;
    while (offset < end) {
      const read = await log.read(offset, SCAN_READ_BYTES, { maxOffset: end });
      if (read.records.length === 0 || read.nextOffset <= offset) break;
      const records = read.records;
      for (let position = 0; position + BATCH_HEADER_BYTES <= records.length; ) {
        const header = new RecordBatchHeader(records, position);
        const batchEnd = position + header.totalBytes;
        if (batchEnd > records.length) break;
        if (header.isTransactional && header.lastOffset >= offset) {
          state.apply(header, header.isControl ? controlTypeOf(records.subarray(position, batchEnd)) : null);
        }
        position = batchEnd;
      }
      offset = read.nextOffset;
    }
    return state;
  }

  /** Writes the marker file once, durably; call before appending a transactional batch or marker. */
  markTransactional(): void {
    if (this.marked) return;
    writeFileDurably(this.directory, TRANSACTIONS_MARKER_FILE, 'sluice: this partition holds transactional batches; its aborted transactions are rebuilt at open\n');
    this.marked = true;
  }

  /** Takes an appended transactional batch (its offsets assigned) into the state. */
  apply(header: RecordBatchHeader, controlType: number | null): void {
    const producerId = header.producerId;
    if (!header.isControl) {
      if (!this.open.has(producerId)) this.open.set(producerId, header.baseOffset);
      return;
    }
    const firstOffset = this.open.get(producerId);
    this.open.delete(producerId);
    if (controlType === ControlRecordType.Abort && firstOffset !== undefined) {
      this.aborted.push({ producerId, firstOffset, lastOffset: header.baseOffset });
    }
  }

  /** Has this producer a transaction open in this partition? */
  isOpen(producerId: number): boolean {
    return this.open.has(producerId);
  }

  /** First offset of the earliest open transaction, or null. */
  get firstUnstableOffset(): number | null {
    let first: number | null = null;
    for (const offset of this.open.values()) if (first === null || offset < first) first = offset;
    return first;
  }

  get openTransactionCount(): number {
    return this.open.size;
  }

  /** Aborted transactions with records in [from, to): lastOffset ≥ from and firstOffset < to. */
  abortedOverlapping(from: number, to: number): AbortedTransaction[] {
    const found: AbortedTransaction[] = [];
    for (let i = this.aborted.length - 1; i >= 0; i--) {
      const aborted = this.aborted[i]!;
      if (aborted.lastOffset < from) break; // sorted by lastOffset: nothing older overlaps
      if (aborted.firstOffset < to) found.push(aborted);
    }
    return found.reverse();
  }

  /** Forgets aborted transactions wholly below the log start (retention, DeleteRecords). */
  prune(logStartOffset: number): void {
    const keepFrom = this.aborted.findIndex((aborted) => aborted.lastOffset >= logStartOffset);
    this.aborted = keepFrom < 0 ? [] : this.aborted.slice(keepFrom);
  }
}

function controlTypeOf(batch: Buffer): number | null {
  try {
    const decoded = decodeRecordBatchSync(batch);
    const record = decoded.records[0];
    return record ? decodeControlRecord(record.key, record.value).type : null;
  } catch {
    return null;
  }
}
