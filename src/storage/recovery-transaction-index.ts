// Recovering the aborted-transaction index (`.txnindex`) of a segment: for a scanned segment, the
// file is trusted below the recovery point, and above it only entries naming a control batch that
// survived; control batches no entry names are left for the broker (`recovered.unverifiedFrom`). A
// trusted segment's file is checked when the broker reads it (PartitionLog.readTransactionIndexes).
// The cases are the `txnindex-*` rows of recovery-cases.ts.

import type { StorageLogger } from './logger.js';
import { note, type RecoveryContext, type RecoveryReport } from './recovery-cases.js';
import type { Segment, SegmentEnvironment } from './segment.js';
import {
  TransactionIndexCorruptError,
  decodeTransactionIndex,
  transactionIndexEntryBytes,
  type AbortedTransactionEntry,
} from './transaction-index.js';

/**
 * The `.txnindex` of a segment recovery scanned (its batches now validated, `controlOffsets` the
 * offsets of its control batches). Entries below the recovery point are trusted; above it only
 * those naming a control batch that survived. Control batches above it (all of them, when there is
 * no usable file) without an entry are left for the broker: `recovered.unverifiedFrom`.
 */
export async function recoverScannedTransactionIndex(
  context: RecoveryContext,
  segment: Segment,
  recoveryPoint: number,
  controlOffsets: readonly number[],
): Promise<void> {
  const index = segment.transactionIndex;
  const path = segment.transactionIndexPath;
  let trustedBelow = index.fileExists ? Math.max(segment.baseOffset, recoveryPoint) : segment.baseOffset;
  let entries: AbortedTransactionEntry[] = [];
  let rewrite = false;
  const content = index.fileExists ? await context.environment.fileSystem.readFile(path) : null;
  if (content !== null) {
    let whole = content;
    if (content.length % transactionIndexEntryBytes !== 0) {
      note(context, 'txnindex-torn');
      whole = content.subarray(0, content.length - (content.length % transactionIndexEntryBytes));
      context.logger.log('warn', 'recovery-txnindex-torn', {
        file: path,
        fromByte: whole.length,
        toByte: content.length,
      });
      rewrite = true;
    }
    try {
      // Bounds are checked below, entry by entry: past the end is a row of its own.
      entries = decodeTransactionIndex(path, segment.baseOffset, whole, Number.MAX_SAFE_INTEGER);
    } catch (error) {
      if (!(error instanceof TransactionIndexCorruptError)) throw error;
      note(context, 'txnindex-corrupt');
      context.logger.log('warn', 'recovery-txnindex-corrupt', { file: path, detail: error.message });
      entries = [];
      trustedBelow = segment.baseOffset;
      rewrite = true;
    }
  } else {
    trustedBelow = segment.baseOffset;
  }
  const controls = new Set(controlOffsets);
  const kept = entries.filter(
    (entry) =>
      entry.lastOffset < segment.nextOffset && (entry.lastOffset < trustedBelow || controls.has(entry.lastOffset)),
  );
  if (kept.length < entries.length) {
    note(context, 'txnindex-past-end');
    context.logger.log('warn', 'recovery-txnindex-dropped', {
      file: path,
      entries: entries.length - kept.length,
      logEndOffset: segment.nextOffset,
    });
    rewrite = true;
  }
  const named = new Set(kept.map((entry) => entry.lastOffset));
  const unverified = controlOffsets.filter((offset) => offset >= trustedBelow && !named.has(offset));
  if (unverified.length > 0) note(context, 'txnindex-unverified');
  if (rewrite) await segment.replaceTransactionIndex(kept);
  else if (index.fileExists) index.replaced(kept);
  index.recovered = { entries: kept, unverifiedFrom: unverified.length > 0 ? unverified[0]! : null };
}

/** The `.txnindex` entries of a segment recovery trusted (checked now), or null if the segment has
 *  none usable (missing, or corrupt and deleted): its entries must then be rebuilt. */
export async function loadTransactionIndex(
  environment: SegmentEnvironment,
  segment: Segment,
  logger: StorageLogger,
  report: RecoveryReport,
): Promise<AbortedTransactionEntry[] | null> {
  const context: RecoveryContext = { environment, directory: segment.directory, logger, report };
  const content = segment.transactionIndex.fileExists ? await segment.readTransactionIndexFile() : null;
  if (content === null) {
    note(context, 'txnindex-missing');
    logger.log('info', 'txnindex-missing', { file: segment.transactionIndexPath });
    segment.transactionIndex.fileExists = false;
    return null;
  }
  try {
    const entries = decodeTransactionIndex(
      segment.transactionIndexPath,
      segment.baseOffset,
      content,
      segment.nextOffset,
    );
    note(context, 'txnindex-loaded');
    segment.transactionIndex.fileEntries = entries.length;
    segment.transactionIndex.lastOffset = entries.at(-1)?.lastOffset ?? -1;
    return entries;
  } catch (error) {
    if (!(error instanceof TransactionIndexCorruptError)) throw error;
    note(context, 'txnindex-corrupt');
    logger.log('warn', 'recovery-txnindex-corrupt', { file: segment.transactionIndexPath, detail: error.message });
    await environment.fileSystem.unlink(segment.transactionIndexPath).catch(() => undefined);
    segment.transactionIndex.fileExists = false;
    segment.transactionIndex.fileEntries = -1;
    return null;
  }
}
