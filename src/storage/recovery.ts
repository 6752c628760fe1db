// Opening a partition directory after a clean or unclean shutdown.
//
// The recovery point (checkpoint) says every byte below that offset was fdatasync'ed together with
// its indexes. Segments wholly below it are trusted: their indexes are sanity-checked and only the
// headers after the last index entry are read. The segment holding the recovery point and every
// later one are scanned from their first byte, as Kafka does — each batch's length, magic and
// CRC32C checked, indexes rebuilt from the batches that pass — and the log is cut at the first byte
// that fails. Segments after a cut are deleted: their data would follow a hole. What is cut is
// logged with file, byte range and offsets. A clean shutdown checkpoints the log end, so the next
// open scans nothing.
//
// The aborted-transaction index (`.txnindex`) of a scanned segment is trusted only below the
// recovery point (its entries are fsync'ed before the checkpoint moves past their markers): above
// it, entries past the recovered end or without their control batch are dropped, and the control
// batches without an entry are listed for the broker, which alone can tell an ABORT marker and its
// transaction's first offset (PartitionLog.readTransactionIndexes / completeTransactionIndex). Until
// it has completed them, the recovery point is not checkpointed past them, so a second crash finds
// them again. The `.txnindex` of a trusted segment is checked when the broker reads it (only logs
// that keep transaction indexes do), with the same table.
//
// Every situation recovery can meet is a row of `recoveryCases` (recovery-cases.ts);
// test/storage/recovery.test.ts fails unless each row is exercised. This file walks the directory,
// the checkpoints and the segments in order; recovery-scan.ts recovers one segment's batches and
// indexes, recovery-transaction-index.ts its `.txnindex`.

import {
  CheckpointFormatError,
  leaderEpochFileName,
  logStartOffsetFileName,
  readLeaderEpochs,
  readOffsetCheckpoint,
  recoveryPointFileName,
} from './checkpoints.js';
import type { FileSystem } from './file-system.js';
import type { StorageLogger } from './logger.js';
import {
  emptyReport,
  note,
  type RecoveredPartition,
  type RecoveryContext,
  type RecoveryCut,
  type RecoveryReport,
} from './recovery-cases.js';
import { loadTrustedSegment, scanSegment } from './recovery-scan.js';
import { recoverScannedTransactionIndex } from './recovery-transaction-index.js';
import { Segment, type SegmentEnvironment } from './segment.js';
import {
  cleanedSuffix,
  deletedSuffix,
  logSuffix,
  offsetIndexSuffix,
  parseSegmentFileName,
  segmentFileName,
  swapSuffix,
  temporarySuffix,
  timeIndexSuffix,
  transactionIndexSuffix,
} from './segment-files.js';

async function readCheckpointOrNull<T>(
  context: RecoveryContext,
  name: string,
  read: () => Promise<T | null>,
): Promise<T | null> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof CheckpointFormatError)) throw error;
    context.logger.log('warn', 'checkpoint-unreadable', {
      directory: context.directory,
      file: name,
      error: error.message,
    });
    return null;
  }
}

/** Deletes leftovers, completes swaps, deletes orphan indexes; returns the base offsets of segments
 *  and of those with a `.txnindex`. */
async function tidyDirectory(
  context: RecoveryContext,
): Promise<{ baseOffsets: number[]; withTransactionIndex: Set<number> }> {
  const { fileSystem } = context.environment;
  const { directory, logger } = context;
  const names = await fileSystem.readdir(directory);
  for (const name of names) {
    const parsed = parseSegmentFileName(name);
    if (
      name.endsWith(temporarySuffix) ||
      (parsed !== null && (parsed.suffix.endsWith(deletedSuffix) || parsed.suffix.endsWith(cleanedSuffix)))
    ) {
      note(context, 'leftover-file');
      logger.log('info', 'recovery-deleted-leftover', { directory, file: name });
      await fileSystem.unlink(`${directory}/${name}`);
    }
  }
  for (const name of names) {
    const parsed = parseSegmentFileName(name);
    if (parsed === null || parsed.suffix !== `${logSuffix}${swapSuffix}`) continue;
    note(context, 'swap-file');
    const target = segmentFileName(parsed.baseOffset, logSuffix);
    logger.log('warn', 'recovery-completed-swap', { directory, file: name, segment: target });
    await fileSystem.rename(`${directory}/${name}`, `${directory}/${target}`);
    // The .txnindex stays: compaction keeps control batches and offsets, so its entries still hold.
    for (const suffix of [offsetIndexSuffix, timeIndexSuffix]) {
      await fileSystem.unlink(`${directory}/${segmentFileName(parsed.baseOffset, suffix)}`).catch(() => undefined);
    }
  }
  await fileSystem.syncDirectory(directory);
  const current = await fileSystem.readdir(directory);
  const logs = new Set<number>();
  for (const name of current) {
    const parsed = parseSegmentFileName(name);
    if (parsed?.suffix === logSuffix) logs.add(parsed.baseOffset);
  }
  const withTransactionIndex = new Set<number>();
  for (const name of current) {
    const parsed = parseSegmentFileName(name);
    if (
      parsed === null ||
      (parsed.suffix !== offsetIndexSuffix &&
        parsed.suffix !== timeIndexSuffix &&
        parsed.suffix !== transactionIndexSuffix)
    )
      continue;
    if (!logs.has(parsed.baseOffset)) {
      note(context, 'orphan-index');
      logger.log('warn', 'recovery-deleted-orphan-index', { directory, file: name });
      await fileSystem.unlink(`${directory}/${name}`);
    } else if (parsed.suffix === transactionIndexSuffix) {
      withTransactionIndex.add(parsed.baseOffset);
    }
  }
  return { baseOffsets: [...logs].sort((a, b) => a - b), withTransactionIndex };
}

async function deleteSegmentFiles(fileSystem: FileSystem, directory: string, baseOffset: number): Promise<void> {
  for (const suffix of [logSuffix, offsetIndexSuffix, timeIndexSuffix, transactionIndexSuffix]) {
    await fileSystem
      .unlink(`${directory}/${segmentFileName(baseOffset, suffix)}`)
      .catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
  }
}

export async function recoverPartition(
  environment: SegmentEnvironment,
  directory: string,
  logger: StorageLogger,
): Promise<RecoveredPartition> {
  const { fileSystem } = environment;
  const report: RecoveryReport = emptyReport();
  const context: RecoveryContext = { environment, directory, logger, report };
  await fileSystem.mkdir(directory);
  const { baseOffsets, withTransactionIndex } = await tidyDirectory(context);

  const checkpointedStart = await readCheckpointOrNull(context, logStartOffsetFileName, () =>
    readOffsetCheckpoint(fileSystem, directory, logStartOffsetFileName),
  );
  let recoveryPoint = await readCheckpointOrNull(context, recoveryPointFileName, () =>
    readOffsetCheckpoint(fileSystem, directory, recoveryPointFileName),
  );
  const leaderEpochs =
    (await readCheckpointOrNull(context, leaderEpochFileName, () => readLeaderEpochs(fileSystem, directory))) ?? [];
  if (leaderEpochs.length > 0) context.latestEpoch = Math.max(...leaderEpochs.map((entry) => entry.epoch));

  const segments: Segment[] = [];
  if (baseOffsets.length === 0) {
    note(context, 'no-segments');
    const start = checkpointedStart ?? 0;
    const segment = Segment.create(environment, directory, start);
    await segment.fileDescriptor();
    segments.push(segment);
    return { segments, logStartOffset: start, recoveryPoint: start, leaderEpochs, report };
  }
  if (recoveryPoint === null) {
    note(context, 'no-recovery-point');
    recoveryPoint = -1;
  }

  let cutAt: RecoveryCut | null = null;
  let previousNextOffset = baseOffsets[0]!;
  for (let index = 0; index < baseOffsets.length; index += 1) {
    const baseOffset = baseOffsets[index]!;
    if (cutAt !== null) {
      note(context, 'segment-after-cut');
      const file = `${directory}/${segmentFileName(baseOffset, logSuffix)}`;
      const size = (await fileSystem.stat(file))?.size ?? 0;
      logger.log('warn', 'recovery-deleted-segment', {
        file,
        fromByte: 0,
        toByte: size,
        fromOffset: baseOffset,
        reason: `follows the cut in ${cutAt.file}`,
      });
      report.cuts.push({
        file,
        case: 'segment-after-cut',
        detail: `follows the cut in ${cutAt.file}`,
        fromByte: 0,
        toByte: size,
        fromOffset: baseOffset,
      });
      await deleteSegmentFiles(fileSystem, directory, baseOffset);
      continue;
    }
    const segment = await Segment.open(environment, directory, baseOffset);
    segment.transactionIndex.fileExists = withTransactionIndex.has(baseOffset);
    segments.push(segment);
    const nextBase = baseOffsets[index + 1];
    const isLast = nextBase === undefined;
    // A segment is trusted when the recovery point is at or past its end.
    let mustScan =
      recoveryPoint < 0 || baseOffset > recoveryPoint || (nextBase !== undefined && nextBase > recoveryPoint);
    if (!mustScan || (isLast && baseOffset <= recoveryPoint)) {
      const reason = await loadTrustedSegment(context, segment);
      if (reason !== null) {
        note(context, reason);
        mustScan = true;
      } else if (segment.nextOffset > recoveryPoint && segment.nextOffset > baseOffset) {
        mustScan = true; // the recovery point falls inside this segment
      } else {
        note(context, 'trusted-segment');
        mustScan = false;
        if (isLast && segment.nextOffset < recoveryPoint) {
          note(context, 'recovery-point-beyond-end');
          logger.log('warn', 'recovery-point-beyond-end', {
            directory,
            recoveryPoint,
            logEndOffset: segment.nextOffset,
          });
          mustScan = true;
        }
      }
    }
    if (mustScan) {
      const controlOffsets: number[] = [];
      cutAt = await scanSegment(context, segment, previousNextOffset, controlOffsets);
      await recoverScannedTransactionIndex(context, segment, recoveryPoint, controlOffsets);
    }
    previousNextOffset = segment.nextOffset;
    // Acknowledgements wait for the previous segment to be sealed, so a later segment that does not
    // continue this one holds nothing acknowledged.
    const continues =
      nextBase === undefined ||
      (environment.config.cleanupPolicy.compact ? nextBase >= segment.nextOffset : nextBase === segment.nextOffset);
    if (cutAt === null && !continues) {
      note(context, 'segment-gap');
      cutAt = {
        file: segment.logPath,
        case: 'segment-gap',
        detail: `ends at offset ${segment.nextOffset}, next segment starts at ${nextBase}`,
        fromByte: segment.sizeBytes,
        toByte: segment.sizeBytes,
        fromOffset: segment.nextOffset,
      };
      logger.log('warn', 'recovery-cut', { ...cutAt });
      report.cuts.push(cutAt);
    }
  }
  if (report.cuts.length > 0) await fileSystem.syncDirectory(directory);

  const first = segments[0]!;
  const logEndOffset = segments[segments.length - 1]!.nextOffset;
  const logStartOffset = Math.min(Math.max(checkpointedStart ?? first.baseOffset, first.baseOffset), logEndOffset);
  return { segments, logStartOffset, recoveryPoint: logEndOffset, leaderEpochs, report };
}
