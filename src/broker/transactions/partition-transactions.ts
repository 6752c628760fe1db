// What one partition knows about transactions: the first offset of every open transaction (so the
// last stable offset is the smallest of them, or the high watermark when none is open) and the
// aborted transactions, (producerId, firstOffset, lastOffset = the ABORT marker's offset), that a
// read_committed Fetch lists so the client can drop their records.
//
// Where the aborted list lives: in memory, for Fetch, and on disk in the per-segment `.txnindex`
// files storage keeps (src/storage/transaction-index.ts, Kafka's format). This class decides what an
// aborted transaction is and hands each one to the log when its ABORT marker is appended; storage
// keeps the file with its segment through roll, retention, truncation, compaction and recovery.
// At open the list is read back from those files instead of from the batches. Only where storage
// cannot vouch for a file — a segment written before `.txnindex` existed, a file lost or corrupt,
// or the tail after a crash, whose control batches may lack an entry — are batches read, and only
// there: the marker's type is decoded, and the transaction's first offset found by reading forward
// from the range start or, for a transaction begun before it, backwards to that producer's previous
// marker. The open transactions come from the producer state (its snapshot plus the log tail), which
// already tracks each producer's transaction first offset.
//
// All of this only for partitions that have ever held a transactional batch: before the first one is
// appended, a marker file `transactions` is written durably in the partition directory; partitions
// without it pay nothing at open and have no `.txnindex` files.
import { join } from 'node:path';
import { BATCH_HEADER_BYTES, RecordBatchHeader } from '../../protocol/record-batch/header.js';
import { ControlRecordType, decodeControlRecord } from '../../protocol/record-batch/control.js';
import { decodeRecordBatchSync } from '../../protocol/record-batch/record-decoder.js';
import { pathExists, writeFileDurably } from '../../storage/durable-files.js';
import type { PartitionLog } from '../../storage/log.js';
import type { AbortedTransactionEntry } from '../../storage/transaction-index.js';
import type { PartitionProducerState } from '../producer-state.js';

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
  /** The marker file's write under way; every transactional append waits for the same one. */
  private marking: Promise<void> | undefined;

  /** `log`: where aborted transactions are indexed (none: in memory only, for tests). `marked`: the
   *  directory has the marker file (recover() looks; a new partition has none). */
  constructor(
    readonly directory: string,
    private readonly log: PartitionLog | null = null,
    marked = false,
  ) {
    this.marked = marked;
  }

  /**
   * The state of a partition at open (after the log and its producer state are recovered, before
   * any produce); cheap for partitions that never held a transactional batch. The open transactions
   * come from `producers` — a full read of the log only when it is missing or full (a producer with
   * an open transaction may have been evicted from it) — and the aborted ones from the `.txnindex`.
   */
  static async recover(log: PartitionLog, producers?: PartitionProducerState): Promise<PartitionTransactions> {
    const marked = await pathExists(join(log.directory, TRANSACTIONS_MARKER_FILE));
    const state = new PartitionTransactions(log.directory, log, marked);
    if (!state.marked) return state;
    log.keepTransactionIndexes(false);
    await state.findOpen(log, producers);
    const read = await log.readTransactionIndexes();
    const entries = [...read.entries];
    const known = new Set(entries.map((entry) => entry.lastOffset));
    entries.push(...(await rebuildAbortedTransactions(log, read.unindexed, known)));
    entries.sort((left, right) => left.lastOffset - right.lastOffset);
    state.aborted = entries.map(({ producerId, firstOffset, lastOffset }) => ({ producerId, firstOffset, lastOffset }));
    return state;
  }

  /** The open transactions, from `producers` or — when it is missing or full (a producer with an open
   *  transaction may have been evicted from it) — from a read of the whole log. */
  private async findOpen(log: PartitionLog, producers: PartitionProducerState | undefined): Promise<void> {
    this.open.clear();
    if (producers !== undefined && producers.producerCount < producers.maxProducers) {
      for (const entry of producers.producers()) {
        if (entry.transactionFirstOffset >= 0)
          this.open.set(entry.producerId, Math.max(entry.transactionFirstOffset, log.logStartOffset));
      }
      return;
    }
    await forEachTransactionalBatch(log, log.logStartOffset, log.logEndOffset, (header) => {
      if (!header.isControl) {
        if (!this.open.has(header.producerId)) this.open.set(header.producerId, header.baseOffset);
      } else this.open.delete(header.producerId);
    });
  }

  /**
   * The log was cut back (PartitionLog.truncateTo; its `.txnindex` files are cut with it): the
   * aborted transactions whose marker went are forgotten, and the open transactions come again from
   * `producers`, already rebuilt for the cut log — a transaction whose marker went is open again.
   * No append may run meanwhile.
   */
  async truncated(log: PartitionLog, producers: PartitionProducerState): Promise<void> {
    const end = log.logEndOffset;
    this.aborted = this.aborted.filter((aborted) => aborted.lastOffset < end);
    if (this.marked) await this.findOpen(log, producers);
    else this.open.clear();
  }

  /** Has the marker file been written? Then markTransactional() has nothing to do. */
  get isMarked(): boolean {
    return this.marked;
  }

  /** Writes the marker file once, durably; await it before appending a transactional batch or marker
   *  (callers on the produce path check isMarked first and await only the first time). */
  markTransactional(): Promise<void> {
    if (this.marked) return Promise.resolve();
    this.marking ??= writeFileDurably(
      join(this.directory, TRANSACTIONS_MARKER_FILE),
      'sluice: this partition holds transactional batches; its aborted transactions are kept in .txnindex files\n',
    ).then(
      () => {
        this.marking = undefined;
        if (this.marked) return;
        this.marked = true;
        // Nothing before this point is transactional: the segments there get empty indexes.
        this.log?.keepTransactionIndexes(true);
      },
      (error: unknown) => {
        this.marking = undefined; // the next transactional append tries again
        throw error;
      },
    );
    return this.marking;
  }

  /** Takes an appended transactional batch (its offsets assigned) into the state; an ABORT marker
   *  also goes to the log's `.txnindex`. */
  apply(header: RecordBatchHeader, controlType: number | null): void {
    const producerId = header.producerId;
    if (!header.isControl) {
      if (!this.open.has(producerId)) this.open.set(producerId, header.baseOffset);
      return;
    }
    const firstOffset = this.open.get(producerId);
    this.open.delete(producerId);
    if (controlType === ControlRecordType.Abort && firstOffset !== undefined) {
      const lastOffset = header.baseOffset;
      if (
        this.log !== null &&
        !this.log.appendAbortedTransaction({
          producerId,
          firstOffset,
          lastOffset,
          lastStableOffset: this.firstUnstableOffset ?? lastOffset + 1,
        })
      )
        return; // the marker's append failed
      this.aborted.push({ producerId, firstOffset, lastOffset });
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

/** Calls `visit` with each transactional batch (control batches included) whose last offset is in
 *  [from, to), in order. The buffer is only valid during the call. */
async function forEachTransactionalBatch(
  log: PartitionLog,
  from: number,
  to: number,
  visit: (header: RecordBatchHeader, batch: Buffer) => void,
): Promise<void> {
  let offset = Math.max(from, log.logStartOffset);
  while (offset < to) {
    const read = await log.read(offset, SCAN_READ_BYTES, { maxOffset: to });
    if (read.records.length === 0 || read.nextOffset <= offset) break;
    const records = read.records;
    for (let position = 0; position + BATCH_HEADER_BYTES <= records.length;) {
      const header = new RecordBatchHeader(records, position);
      const batchEnd = position + header.totalBytes;
      if (batchEnd > records.length) break;
      if (header.isTransactional && header.lastOffset >= offset) visit(header, records.subarray(position, batchEnd));
      position = batchEnd;
    }
    offset = read.nextOffset;
  }
}

/**
 * Finds the aborted transactions whose ABORT marker lies in the unindexed ranges and is not `known`,
 * and completes each range's `.txnindex` with them. Contiguous ranges are read as one pass, so a log
 * written before `.txnindex` existed is read once from its start. A transaction begun before the
 * pass started is traced back by firstOffsetBefore.
 */
async function rebuildAbortedTransactions(
  log: PartitionLog,
  ranges: TransactionIndexRange[],
  known: ReadonlySet<number>,
): Promise<AbortedTransactionEntry[]> {
  const added: AbortedTransactionEntry[] = [];
  /** producerId → first offset of its transaction since the pass started (undefined: none seen) and
   *  whether a marker of it was seen in the pass (then that first offset is exact). */
  let producers = new Map<number, { firstOffset: number | undefined; sawMarker: boolean }>();
  let passStart = -1;
  let passEnd = -1;
  for (const range of ranges) {
    if (range.fromOffset !== passEnd) {
      producers = new Map();
      passStart = Math.max(range.fromOffset, log.logStartOffset);
    }
    // A rebuilt entry's lastStableOffset (the LSO when the transaction completed) is not known any
    // more: the transaction's own first offset stands in for it. Sluice never reads the field.
    const found: AbortedTransactionEntry[] = [];
    const traced: { producerId: number; lastOffset: number; candidate: number | undefined }[] = [];
    await forEachTransactionalBatch(log, range.fromOffset, range.endOffset, (header, batch) => {
      const producerId = header.producerId;
      const tracked = producers.get(producerId);
      if (!header.isControl) {
        if (tracked === undefined) producers.set(producerId, { firstOffset: header.baseOffset, sawMarker: false });
        else tracked.firstOffset ??= header.baseOffset;
        return;
      }
      const lastOffset = header.baseOffset;
      if (!known.has(lastOffset) && controlTypeOf(batch) === ControlRecordType.Abort) {
        const firstOffset = tracked?.firstOffset;
        if (tracked?.sawMarker === true || passStart <= log.logStartOffset) {
          if (firstOffset !== undefined)
            found.push({ producerId, firstOffset, lastOffset, lastStableOffset: firstOffset });
        } else {
          traced.push({ producerId, lastOffset, candidate: firstOffset });
        }
      }
      producers.set(producerId, { firstOffset: undefined, sawMarker: true });
    });
    for (const { producerId, lastOffset, candidate } of traced) {
      const firstOffset = await firstOffsetBefore(log, passStart, producerId, candidate);
      if (firstOffset !== undefined) found.push({ producerId, firstOffset, lastOffset, lastStableOffset: firstOffset });
    }
    found.sort((left, right) => left.lastOffset - right.lastOffset);
    await log.completeTransactionIndex(range.baseOffset, found);
    added.push(...found);
    passEnd = range.endOffset;
  }
  return added;
}

type TransactionIndexRange = Awaited<ReturnType<PartitionLog['readTransactionIndexes']>>['unindexed'][number];

/**
 * The first offset of `producerId`'s transaction that was open at `before`: reads the segments
 * below it newest first until one holds a marker of that producer (its transaction began after
 * that marker) or the log start is reached. `candidate`: its first batch seen at or after `before`.
 * Undefined when the transaction has no batch left in the log.
 */
async function firstOffsetBefore(
  log: PartitionLog,
  before: number,
  producerId: number,
  candidate: number | undefined,
): Promise<number | undefined> {
  const bases = log.segmentBaseOffsets;
  let end = before;
  for (let index = bases.length - 1; index >= 0 && end > log.logStartOffset; index -= 1) {
    if (bases[index]! >= end) continue;
    const start = Math.max(bases[index]!, log.logStartOffset);
    let sawMarker = false;
    let firstAfterMarker: number | undefined;
    await forEachTransactionalBatch(log, start, end, (header) => {
      if (header.producerId !== producerId) return;
      if (header.isControl) {
        sawMarker = true;
        firstAfterMarker = undefined;
      } else firstAfterMarker ??= header.baseOffset;
    });
    if (firstAfterMarker !== undefined) candidate = firstAfterMarker;
    if (sawMarker) break;
    end = start;
  }
  return candidate;
}

/** The type of a control batch's one record (COMMIT or ABORT), or null if it does not decode. */
export function controlTypeOf(batch: Buffer): number | null {
  try {
    const decoded = decodeRecordBatchSync(batch);
    const record = decoded.records[0];
    return record ? decodeControlRecord(record.key, record.value).type : null;
  } catch {
    return null;
  }
}
