// Recovering one segment: loading a trusted segment's indexes and tail (below the recovery point),
// and scanning a segment from its first byte — each batch's length, magic, CRC32C, counts, leader
// epoch and offset continuity checked, the indexes rebuilt from the batches that pass, the file cut
// at the first byte that fails. The cases are rows of the table in recovery-cases.ts.

import {
  BATCH_HEADER_BYTES,
  RecordBatchHeader,
  readInt64AsNumber,
  validateBatch,
} from '../protocol/record-batch/header.js';
import { storageLimits } from './limits.js';
import type { StorageLogger } from './logger.js';
import { IndexCorruptError, OffsetIndex } from './offset-index.js';
import { emptyReport, note, type RecoveryCaseId, type RecoveryContext, type RecoveryCut } from './recovery-cases.js';
import type { Segment, SegmentEnvironment } from './segment.js';
import { ChunkReader } from './segment-reader.js';
import { TimeIndex } from './time-index.js';

/** Loads a trusted segment's indexes and tail. Returns the case that forces a scan, or null. */
export async function loadTrustedSegment(context: RecoveryContext, segment: Segment): Promise<RecoveryCaseId | null> {
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
export async function scanSegment(
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
    report: emptyReport(),
  };
  return scanSegment(context, segment, segment.baseOffset);
}
