// The aborted-transaction indexes (`.txnindex`) of a partition log, across its segments: which logs
// keep them, recording an entry right after its ABORT marker, and reading them all at open — with the
// ranges the broker must complete (recovery table rows `txnindex-*`, recovery-transaction-index.ts).
// One file per segment lives with the segment (segment-index-writer.ts writes it); README.md has the lifecycle.

import { invariant } from './errors.js';
import type { CheckpointWriter } from './log-checkpoint-writer.js';
import type { LogState } from './log-state.js';
import type { RecoveryReport } from './recovery-cases.js';
import { loadTransactionIndex } from './recovery-transaction-index.js';
import type { AbortedTransactionEntry } from './transaction-index.js';

/** What readTransactionIndexes found. */
export interface TransactionIndexRead {
  /** The entries of every segment from the log start on, in marker order. */
  entries: AbortedTransactionEntry[];
  /** Offset ranges, one per segment, whose aborted transactions are not known (a `.txnindex` missing,
   *  corrupt, or a recovered tail with control batches no entry names). The caller finds the aborted
   *  transactions whose marker lies there and hands them to completeTransactionIndex — every range,
   *  even with none found. Oldest first. */
  unindexed: { baseOffset: number; fromOffset: number; endOffset: number }[];
}

export class TransactionIndexes {
  constructor(
    private readonly state: LogState,
    private readonly checkpoints: CheckpointWriter,
    private readonly recovery: RecoveryReport,
  ) {}

  /** From now on every segment keeps a `.txnindex`; with `existingAreEmpty` the sealed segments'
   *  empty files are written now, in the background. */
  keep(existingAreEmpty: boolean): void {
    const { state } = this;
    if (state.keepingTransactionIndexes) return;
    state.keepingTransactionIndexes = true;
    for (const segment of state.segments) segment.transactionIndex.required = true;
    if (!existingAreEmpty) return;
    const sealed = state.segments.slice(0, -1).filter((segment) => !segment.transactionIndex.fileExists);
    void (async () => {
      for (const segment of sealed) if (state.segments.includes(segment)) await segment.persistIndexes(true);
    })().catch((error: unknown) => state.markReadOnly('transaction index', error));
  }

  /** Records an aborted transaction whose ABORT marker was just appended; false if it cannot be. */
  appendAborted(entry: AbortedTransactionEntry): boolean {
    const { state } = this;
    const segment = state.active;
    const index = segment.transactionIndex;
    if (
      state.closed ||
      state.readOnlyError !== null ||
      entry.lastOffset < segment.baseOffset ||
      entry.lastOffset >= segment.nextOffset ||
      entry.lastOffset <= index.lastOffset
    )
      return false;
    segment.appendAbortedTransaction(entry).catch((error: unknown) => state.markReadOnly('transaction index', error));
    return true;
  }

  /** Every segment's entries from the log start on, and the ranges whose entries must be rebuilt. */
  async read(): Promise<TransactionIndexRead> {
    const { state } = this;
    const read: TransactionIndexRead = { entries: [], unindexed: [] };
    for (const segment of [...state.segments]) {
      const index = segment.transactionIndex;
      if (segment.nextOffset <= state.startOffset && !segment.isEmpty()) {
        index.recovered = null; // wholly below the log start: nothing there is served
        continue;
      }
      const recovered = index.recovered;
      let entries: AbortedTransactionEntry[] | null;
      let unindexedFrom: number | null;
      if (recovered !== null) {
        entries = recovered.entries;
        unindexedFrom = recovered.unverifiedFrom;
      } else {
        entries = await loadTransactionIndex(state.environment, segment, state.logger, this.recovery);
        unindexedFrom = entries === null ? segment.baseOffset : null;
      }
      for (const entry of entries ?? []) if (entry.lastOffset >= state.startOffset) read.entries.push(entry);
      const fromOffset = unindexedFrom === null ? null : Math.max(unindexedFrom, state.startOffset);
      if (fromOffset !== null && fromOffset < segment.nextOffset) {
        read.unindexed.push({ baseOffset: segment.baseOffset, fromOffset, endOffset: segment.nextOffset });
      } else {
        // Complete: drop what recovery kept for the broker, and write the file a kept log needs.
        index.recovered = null;
        if (unindexedFrom !== null) await segment.replaceTransactionIndex(entries ?? []);
        else if (index.needsWrite()) await segment.persistIndexes(true);
      }
    }
    return read;
  }

  /** Completes one unindexed range with the entries the broker found there, durably, and lets the
   *  recovery point move on. */
  async complete(baseOffset: number, found: readonly AbortedTransactionEntry[]): Promise<void> {
    const { state } = this;
    const segment = state.segments.find((candidate) => candidate.baseOffset === baseOffset);
    if (segment === undefined) return; // deleted meanwhile
    const index = segment.transactionIndex;
    const byMarker = new Map<number, AbortedTransactionEntry>();
    for (const entry of found) {
      invariant(
        entry.lastOffset >= segment.baseOffset && entry.lastOffset < segment.nextOffset,
        () => `aborted transaction at ${entry.lastOffset} outside segment ${segment.baseOffset}`,
      );
      byMarker.set(entry.lastOffset, entry);
    }
    // Written before the crash: exact.
    for (const entry of index.recovered?.entries ?? []) byMarker.set(entry.lastOffset, entry);
    const entries = [...byMarker.values()].sort((left, right) => left.lastOffset - right.lastOffset);
    try {
      await segment.replaceTransactionIndex(entries);
    } catch (error) {
      state.markReadOnly('transaction index', error);
      throw state.toStorageError(error);
    }
    index.recovered = null;
    this.checkpoints.request();
  }
}
