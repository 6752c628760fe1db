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
// Every situation recovery can meet is a row of `recoveryCases`; test/storage/recovery.test.ts
// fails unless each row is exercised.

import {
  BATCH_HEADER_BYTES,
  RecordBatchHeader,
  readInt64AsNumber,
  validateBatch,
} from '../protocol/record-batch/header.js';
import {
  CheckpointFormatError,
  leaderEpochFileName,
  logStartOffsetFileName,
  readLeaderEpochs,
  readOffsetCheckpoint,
  recoveryPointFileName,
  type EpochEntry,
} from './checkpoints.js';
import type { FileSystem } from './file-system.js';
import { storageLimits } from './limits.js';
import type { StorageLogger } from './logger.js';
import { IndexCorruptError, OffsetIndex } from './offset-index.js';
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
import { ChunkReader } from './segment-reader.js';
import { TimeIndex } from './time-index.js';
import {
  TransactionIndexCorruptError,
  decodeTransactionIndex,
  transactionIndexEntryBytes,
  type AbortedTransactionEntry,
} from './transaction-index.js';

/** The table of cases. `action` is what recovery does; every id must be covered by a test. */
export const recoveryCases = [
  // Files in the directory
  {
    id: 'leftover-file',
    when: 'a *.tmp, *.deleted or *.cleaned file left by an interrupted checkpoint, deletion or compaction',
    action: 'delete it',
  },
  {
    id: 'swap-file',
    when: 'a *.log.swap: compaction finished writing a replacement segment but crashed before renaming it',
    action: 'rename it over the .log and rebuild its indexes',
  },
  { id: 'orphan-index', when: 'an .index, .timeindex or .txnindex without its .log', action: 'delete it' },
  {
    id: 'no-segments',
    when: 'no .log file at all (new partition, or everything was deleted)',
    action: 'create an empty segment at the log start offset',
  },
  {
    id: 'no-recovery-point',
    when: 'no recovery-point checkpoint (never checkpointed) or an unreadable one',
    action: 'scan every segment',
  },
  {
    id: 'recovery-point-beyond-end',
    when: 'the recovery point is past the end of the data on disk',
    action: 'warn, treat the last segment as unflushed and scan it',
  },
  // Segments below the recovery point
  {
    id: 'trusted-segment',
    when: 'a segment wholly below the recovery point with sound indexes',
    action: 'load its indexes, read the headers after the last index entry',
  },
  {
    id: 'missing-index',
    when: 'a trusted segment whose .index or .timeindex is missing',
    action: 'rebuild both by scanning the segment',
  },
  {
    id: 'corrupt-index',
    when: 'a trusted segment whose index fails its sanity check (size, order, bounds, last entry)',
    action: 'delete it, rebuild both by scanning the segment',
  },
  {
    id: 'damaged-tail',
    when: 'a trusted segment whose headers after the last index entry are malformed',
    action: 'scan and validate the whole segment',
  },
  // Batches in a scanned segment
  {
    id: 'batch-valid',
    when: 'length within bounds and file, magic 2, CRC32C matches, counts agree, offsets increase',
    action: 'keep it and index it',
  },
  { id: 'clean-end', when: 'the file ends exactly after a batch', action: 'nothing to cut' },
  { id: 'torn-header', when: 'fewer bytes than a batch header remain', action: 'cut the file there' },
  {
    id: 'bad-length',
    when: 'batchLength smaller than a header or larger than any batch can be',
    action: 'cut the file there',
  },
  { id: 'torn-batch', when: 'the batch runs past the end of the file', action: 'cut the file there' },
  { id: 'bad-magic', when: 'magic is not 2', action: 'cut the file there' },
  { id: 'bad-crc', when: 'the CRC32C does not match', action: 'cut the file there' },
  { id: 'bad-count', when: 'recordCount and lastOffsetDelta disagree or are negative', action: 'cut the file there' },
  {
    id: 'bad-epoch',
    when: 'partitionLeaderEpoch is negative or newer than any epoch in the leader-epoch checkpoint',
    action: 'cut the file there',
  },
  {
    id: 'offset-mismatch',
    when: 'the batch does not start at the end of the previous batch (or its segment base); with compaction, only if it starts below',
    action: 'cut the file there',
  },
  {
    id: 'segment-gap',
    when: 'the next segment does not start where this one ends (this one lost its tail in a crash during a roll); with compaction, only if it starts below',
    action: 'treat as a cut: delete the segments after it',
  },
  { id: 'segment-after-cut', when: 'a segment after one that was cut', action: 'delete it' },
  // Aborted-transaction indexes (.txnindex)
  {
    id: 'txnindex-loaded',
    when: "a trusted segment's .txnindex passes its checks (whole entries, version 0, markers increasing inside the segment)",
    action: 'use its entries',
  },
  {
    id: 'txnindex-missing',
    when: 'a trusted segment without .txnindex in a log that keeps them (written before .txnindex existed, or lost)',
    action: 'list the segment as unindexed: the broker rebuilds its entries by scanning it, and the file is written',
  },
  {
    id: 'txnindex-corrupt',
    when: 'a .txnindex that fails its checks (garbage; in a trusted segment, also a torn size)',
    action: 'delete it and treat it as missing (a scanned segment: as empty, every control batch unverified)',
  },
  {
    id: 'txnindex-torn',
    when: "a scanned segment's .txnindex ends inside an entry (a crash during its write)",
    action: 'cut it to whole entries',
  },
  {
    id: 'txnindex-past-end',
    when: "a scanned segment's .txnindex has entries at or past the recovered end, or above the recovery point without a control batch at their marker offset",
    action: 'drop them (the file is rewritten)',
  },
  {
    id: 'txnindex-unverified',
    when: 'a scanned segment has control batches at or past the recovery point (or anywhere, without a .txnindex) that no entry names',
    action: 'list them for the broker to complete; the recovery point stays below the first until it has',
  },
] as const;

export type RecoveryCaseId = (typeof recoveryCases)[number]['id'];

export interface RecoveryCut {
  file: string;
  case: RecoveryCaseId;
  detail: string;
  /** Bytes [fromByte, toByte) were removed. */
  fromByte: number;
  toByte: number;
  /** Offsets from here on were lost (or never complete). */
  fromOffset: number;
}

export interface RecoveryReport {
  /** How often each case occurred. */
  cases: Map<RecoveryCaseId, number>;
  cuts: RecoveryCut[];
  scannedSegments: number;
  scannedBytes: number;
}

export interface RecoveredPartition {
  segments: Segment[];
  logStartOffset: number;
  recoveryPoint: number;
  leaderEpochs: EpochEntry[];
  report: RecoveryReport;
}

interface RecoveryContext {
  environment: SegmentEnvironment;
  /** The newest leader epoch on record; a batch claiming a newer one is corrupt. Undefined: unknown. */
  latestEpoch?: number;
  directory: string;
  logger: StorageLogger;
  report: RecoveryReport;
}

function note(context: RecoveryContext, id: RecoveryCaseId): void {
  context.report.cases.set(id, (context.report.cases.get(id) ?? 0) + 1);
}

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

/** Loads a trusted segment's indexes and tail. Returns the case that forces a scan, or null. */
async function loadTrustedSegment(context: RecoveryContext, segment: Segment): Promise<RecoveryCaseId | null> {
  const { fileSystem, config } = context.environment;
  const offsetContent = await fileSystem.readFile(segment.offsetIndexPath);
  const timeContent = await fileSystem.readFile(segment.timeIndexPath);
  if (offsetContent === null || timeContent === null) {
    context.logger.log('warn', 'recovery-missing-index', {
      file: offsetContent === null ? segment.offsetIndexPath : segment.timeIndexPath,
    });
    return 'missing-index';
  }
  try {
    segment.offsetIndex = OffsetIndex.load(
      segment.offsetIndexPath,
      segment.baseOffset,
      config.segmentIndexBytes,
      offsetContent,
      segment.sizeBytes,
    );
    segment.offsetIndex.markPersisted(segment.offsetIndex.entries);
    const tailProblem = await segment.loadTail();
    if (tailProblem !== null) {
      // A stale last index entry is an index problem; anything else is damage in the log itself.
      const indexStale = tailProblem.startsWith('index entry');
      context.logger.log('warn', indexStale ? 'recovery-corrupt-index' : 'recovery-damaged-tail', {
        file: segment.logPath,
        detail: tailProblem,
      });
      return indexStale ? 'corrupt-index' : 'damaged-tail';
    }
    segment.timeIndex = TimeIndex.load(
      segment.timeIndexPath,
      segment.baseOffset,
      config.segmentIndexBytes,
      timeContent,
      segment.nextOffset,
    );
    segment.timeIndex.markPersisted(segment.timeIndex.entries);
    // The time index's last entry may hold the segment's largest timestamp (written at roll). The tail
    // walk above saw only the batches after the last offset-index entry; when it met the same largest
    // timestamp, the entry names the earlier batch, the first to carry it (MAX_TIMESTAMP answers that).
    const lastTime = segment.timeIndex.last();
    if (
      lastTime !== undefined &&
      (lastTime.timestamp > segment.maxTimestamp ||
        (lastTime.timestamp === segment.maxTimestamp && lastTime.offset < segment.offsetOfMaxTimestamp))
    ) {
      segment.maxTimestamp = lastTime.timestamp;
      segment.offsetOfMaxTimestamp = lastTime.offset;
    }
    return null;
  } catch (error) {
    if (!(error instanceof IndexCorruptError)) throw error;
    context.logger.log('warn', 'recovery-corrupt-index', { file: segment.logPath, detail: error.message });
    return 'corrupt-index';
  }
}

/**
 * Scans a whole segment, validating each batch and rebuilding its indexes. Returns the cut made,
 * or null when the file ended cleanly.
 */
async function scanSegment(
  context: RecoveryContext,
  segment: Segment,
  previousNextOffset: number,
  controlOffsets: number[] = [],
): Promise<RecoveryCut | null> {
  const { fileSystem } = context.environment;
  const fd = await segment.fileDescriptor();
  const fileBytes = (await fileSystem.fstat(fd)).size;
  segment.resetForRebuild();
  context.report.scannedSegments += 1;
  const reader = new ChunkReader(fileSystem, fd, fileBytes, storageLimits.scanChunkBytes);
  let position = 0;
  let expectedOffset = Math.max(previousNextOffset, segment.baseOffset);
  let problem: { id: RecoveryCaseId; detail: string } | null = null;
  while (problem === null) {
    const remaining = fileBytes - position;
    if (remaining === 0) {
      note(context, 'clean-end');
      break;
    }
    if (remaining < BATCH_HEADER_BYTES) {
      problem = { id: 'torn-header', detail: `${remaining} bytes left, a header needs ${BATCH_HEADER_BYTES}` };
      break;
    }
    const headerView = await reader.header(position);
    const totalBytes = new RecordBatchHeader(headerView.buffer, headerView.offset).totalBytes;
    if (totalBytes < BATCH_HEADER_BYTES || totalBytes > storageLimits.recoveryBatchBytesMax) {
      problem = { id: 'bad-length', detail: `batch length ${totalBytes}` };
      break;
    }
    if (totalBytes > remaining) {
      problem = { id: 'torn-batch', detail: `batch of ${totalBytes} bytes, ${remaining} left in the file` };
      break;
    }
    const view = await reader.view(position, totalBytes);
    const invalid = validateBatch(view.buffer, view.offset, totalBytes);
    if (invalid !== null) {
      const id: RecoveryCaseId =
        invalid.kind === 'truncated'
          ? 'torn-batch'
          : invalid.kind === 'bad-length'
            ? 'bad-length'
            : invalid.kind === 'bad-magic'
              ? 'bad-magic'
              : invalid.kind === 'bad-crc'
                ? 'bad-crc'
                : 'bad-count';
      problem = { id, detail: invalid.detail };
      break;
    }
    const header = new RecordBatchHeader(view.buffer, view.offset);
    if (header.lastOffsetDelta < 0) {
      problem = { id: 'bad-count', detail: `lastOffsetDelta ${header.lastOffsetDelta}` };
      break;
    }
    const epoch = header.partitionLeaderEpoch;
    if (epoch < 0 || (context.latestEpoch !== undefined && epoch > context.latestEpoch)) {
      problem = { id: 'bad-epoch', detail: `partitionLeaderEpoch ${epoch}, latest known ${context.latestEpoch}` };
      break;
    }
    // baseOffset is outside the CRC. Without compaction offsets are contiguous, so a flipped bit
    // there is caught; compaction leaves gaps, so then only a step backwards is.
    const baseOffset = readInt64AsNumber(view.buffer, view.offset);
    const offsetsFit = context.environment.config.cleanupPolicy.compact
      ? baseOffset >= expectedOffset
      : baseOffset === expectedOffset;
    if (
      !Number.isSafeInteger(baseOffset) ||
      !offsetsFit ||
      baseOffset + header.lastOffsetDelta - segment.baseOffset > storageLimits.relativeOffsetMax
    ) {
      problem = { id: 'offset-mismatch', detail: `batch at offset ${baseOffset}, expected ${expectedOffset}` };
      break;
    }
    note(context, 'batch-valid');
    if (header.isControl) controlOffsets.push(baseOffset);
    segment.track(header, position);
    expectedOffset = header.lastOffset + 1;
    position += totalBytes;
  }
  context.report.scannedBytes += position;
  segment.readableBytes = segment.sizeBytes;
  segment.readableNextOffset = segment.nextOffset;
  let cut: RecoveryCut | null = null;
  if (problem !== null) {
    note(context, problem.id);
    cut = {
      file: segment.logPath,
      case: problem.id,
      detail: problem.detail,
      fromByte: position,
      toByte: fileBytes,
      fromOffset: segment.nextOffset,
    };
    context.logger.log('warn', 'recovery-cut', { ...cut });
    context.report.cuts.push(cut);
    await fileSystem.ftruncate(fd, position);
  }
  // Whatever survived is now made durable, so the recovery point can move past it (fsync, not
  // fdatasync: a shrunk file size is metadata that must reach the disk too).
  await (cut === null ? fileSystem.fdatasync(fd) : fileSystem.fsync(fd));
  await segment.persistIndexes(true);
  return cut;
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

/**
 * The `.txnindex` of a segment recovery scanned (its batches now validated, `controlOffsets` the
 * offsets of its control batches). Entries below the recovery point are trusted; above it only
 * those naming a control batch that survived. Control batches above it (all of them, when there is
 * no usable file) without an entry are left for the broker: `recovered.unverifiedFrom`.
 */
async function recoverScannedTransactionIndex(
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

/** Re-reads a segment file written by compaction, validating it and building its indexes. */
export async function rebuildSegment(
  environment: SegmentEnvironment,
  segment: Segment,
  logger: StorageLogger,
): Promise<RecoveryCut | null> {
  const context: RecoveryContext = {
    environment,
    directory: segment.directory,
    logger,
    report: { cases: new Map(), cuts: [], scannedSegments: 0, scannedBytes: 0 },
  };
  return scanSegment(context, segment, segment.baseOffset);
}

export async function recoverPartition(
  environment: SegmentEnvironment,
  directory: string,
  logger: StorageLogger,
): Promise<RecoveredPartition> {
  const { fileSystem } = environment;
  const report: RecoveryReport = { cases: new Map(), cuts: [], scannedSegments: 0, scannedBytes: 0 };
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
