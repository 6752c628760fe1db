// Opening a whole RecordBatch v2 for the record codec (docs/record-batch.md §3): check it with the
// hot path's validateBatch, read its header into plain numbers, and find where whole batches end in a
// Fetch response's `records` field. The decoder (record-decoder.ts) and the consumer's locator
// (record-locator.ts) both start here.
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  BATCH_LENGTH_PREFIX_BYTES,
  Compression,
  isKnownCompression,
  RecordBatchHeader,
  RECORDS_OFFSET,
  validateBatch,
} from './header.js';
import { RecordDecodeError } from './errors.js';

/** A batch's header, as numbers. */
export interface RecordBatchFields {
  baseOffset: number;
  batchLength: number;
  /** Size of the whole batch, length prefix included. */
  totalBytes: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  compression: Compression;
  timestampType: 0 | 1;
  isTransactional: boolean;
  isControl: boolean;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export interface DecodeLimits {
  /** The most bytes the records region may inflate to. */
  maxDecompressedBytes?: number;
}

/**
 * Default bound on one batch's decompressed records. Kafka's default max.message.bytes is
 * about 1 MiB of compressed batch; 64 MiB leaves room for highly compressible data while
 * keeping a hostile batch from taking the process's memory.
 */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

/** Checks the batch at the start of `buffer` and reads its header; returns it with the raw records region. */
export function openBatch(buffer: Buffer): { header: RecordBatchHeader; records: Buffer } {
  const problem = validateBatch(buffer, 0, buffer.length);
  if (problem !== null && !(problem.kind === 'bad-count' && isCompactedCount(buffer))) {
    throw new RecordDecodeError(`${problem.kind}: ${problem.detail}`, 0);
  }
  const header = new RecordBatchHeader(buffer, 0);
  if (!isKnownCompression(header.compression)) {
    throw new RecordDecodeError(`unknown compression codec ${header.compression as number}`, ATTRIBUTES_OFFSET);
  }
  return { header, records: buffer.subarray(RECORDS_OFFSET, header.totalBytes) };
}

/**
 * validateBatch wants lastOffsetDelta + 1 == recordCount, true of every producer batch. A
 * compacted batch keeps its lastOffsetDelta with fewer records, so decoding accepts fewer
 * (each record's offsetDelta is then checked against lastOffsetDelta).
 */
function isCompactedCount(buffer: Buffer): boolean {
  const header = new RecordBatchHeader(buffer, 0);
  return header.recordCount >= 0 && header.recordCount <= header.lastOffsetDelta + 1;
}

export function readBatchFields(header: RecordBatchHeader): RecordBatchFields {
  let baseOffset: number;
  try {
    baseOffset = header.baseOffset;
  } catch (error) {
    throw new RecordDecodeError((error as Error).message, BASE_OFFSET_OFFSET);
  }
  return {
    baseOffset,
    batchLength: header.batchLength,
    totalBytes: header.totalBytes,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    magic: header.magic,
    crc: header.crc,
    attributes: header.attributes,
    compression: header.compression,
    timestampType: header.timestampType,
    isTransactional: header.isTransactional,
    isControl: header.isControl,
    lastOffsetDelta: header.lastOffsetDelta,
    baseTimestamp: header.baseTimestamp,
    maxTimestamp: header.maxTimestamp,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    recordCount: header.recordCount,
  };
}

/** The end of the whole batch starting at `position`, or `position` when no whole batch starts there. */
export function wholeBatchEnd(buffer: Buffer, position: number): number {
  if (buffer.length - position < BATCH_HEADER_BYTES) return position;
  const totalBytes = buffer.readInt32BE(position + BATCH_LENGTH_OFFSET) + BATCH_LENGTH_PREFIX_BYTES;
  if (totalBytes < BATCH_HEADER_BYTES)
    throw new RecordDecodeError(`batchLength ${totalBytes - 12} is too short`, position);
  return position + totalBytes > buffer.length ? position : position + totalBytes;
}
