// Checks a produced record batch from its 61-byte header (and its CRC), never decoding records
// (DESIGN.md, "The hot path"). A client that sends a batch with a valid header and CRC but records
// that do not parse gets them stored and served back byte for byte; Kafka would decode and refuse
// them. Deciding that on the hot path would cost a decompression per produce. Topics that need their
// records read (compacted, recompressing) and headers whose maxTimestamp cannot be right go through
// produce/record-pass.ts after these checks (produce/policy.ts decides, per batch).
// Each problem maps to the Kafka error code the partition answers with; the other partitions of the
// same request are unaffected.
//
// | check (in order)                                   | error code                       |
// |----------------------------------------------------|----------------------------------|
// | records missing or shorter than a batch header     | CORRUPT_MESSAGE (2)              |
// | magic byte is not 2                                | UNSUPPORTED_FOR_MESSAGE_FORMAT (43) |
// | batchLength + 12 ≠ bytes sent (none or >1 batch)   | INVALID_RECORD (87) / CORRUPT_MESSAGE (2) |
// | batch larger than max.message.bytes                | MESSAGE_TOO_LARGE (10)           |
// | CRC32C mismatch                                    | CORRUPT_MESSAGE (2)              |
// | compression codec other than 0-4                   | CORRUPT_MESSAGE (2)              |
// | recordCount < 1 or lastOffsetDelta + 1 ≠ recordCount | INVALID_RECORD (87)            |
// | control batch from a client                        | INVALID_RECORD (87)              |
// | transactional batch without a producer id          | INVALID_RECORD (87)              |
// (Whether a transactional batch may go to this partition — it must be in the producer's ongoing
// transaction — is the broker's check, against the transaction coordinator: INVALID_TXN_STATE.)
import { ErrorCode } from '../protocol/generated/error-codes.js';
import { crc32c } from '../protocol/record-batch/crc32c.js';
import {
  isKnownCompression,
  BATCH_HEADER_BYTES,
  CRC_OFFSET,
  CRC_START_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  ATTRIBUTES_OFFSET,
  ATTRIBUTE_TIMESTAMP_TYPE,
  RECORD_BATCH_MAGIC,
  RecordBatchHeader,
  writeInt64FromNumber,
} from '../protocol/record-batch/header.js';

export interface BatchProblem {
  errorCode: number;
  errorMessage: string;
}

export function validateProducedBatch(batch: Buffer | null, maxMessageBytes: number): BatchProblem | null {
  if (batch === null || batch.length < BATCH_HEADER_BYTES) {
    return {
      errorCode: ErrorCode.CORRUPT_MESSAGE,
      errorMessage: `record set of ${batch?.length ?? 0} bytes is shorter than a batch header`,
    };
  }
  const header = new RecordBatchHeader(batch);
  if (header.magic !== RECORD_BATCH_MAGIC) {
    return {
      errorCode: ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
      errorMessage: `message format v${header.magic} is not supported; produce v3+ requires magic 2`,
    };
  }
  const total = header.batchLength + 12;
  if (total < BATCH_HEADER_BYTES || total > batch.length) {
    return {
      errorCode: ErrorCode.CORRUPT_MESSAGE,
      errorMessage: `batch length ${total} does not match the ${batch.length} bytes sent`,
    };
  }
  if (total < batch.length) {
    return {
      errorCode: ErrorCode.INVALID_RECORD,
      errorMessage: 'produce requests v3+ must carry exactly one record batch per partition',
    };
  }
  if (total > maxMessageBytes) {
    return {
      errorCode: ErrorCode.MESSAGE_TOO_LARGE,
      errorMessage: `batch of ${total} bytes is larger than max.message.bytes ${maxMessageBytes}`,
    };
  }
  if (crc32c(batch.subarray(CRC_START_OFFSET)) !== header.crc) {
    return { errorCode: ErrorCode.CORRUPT_MESSAGE, errorMessage: 'batch CRC32C does not match its contents' };
  }
  if (!isKnownCompression(header.compression)) {
    return { errorCode: ErrorCode.CORRUPT_MESSAGE, errorMessage: `unknown compression codec ${header.compression}` };
  }
  if (header.recordCount < 1 || header.lastOffsetDelta + 1 !== header.recordCount) {
    return {
      errorCode: ErrorCode.INVALID_RECORD,
      errorMessage: `recordCount ${header.recordCount} does not match lastOffsetDelta ${header.lastOffsetDelta}`,
    };
  }
  if (header.isControl)
    return { errorCode: ErrorCode.INVALID_RECORD, errorMessage: 'clients may not produce control batches' };
  if (header.isTransactional && (header.producerId < 0 || header.baseSequence < 0)) {
    return {
      errorCode: ErrorCode.INVALID_RECORD,
      errorMessage: 'a transactional batch needs a producer id and a base sequence',
    };
  }
  return null;
}

/** LogAppendTime topics: the broker's time becomes maxTimestamp and the type bit is set; the CRC is recomputed. */
export function stampLogAppendTime(batch: Buffer, nowMs: number): void {
  batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_OFFSET) | ATTRIBUTE_TIMESTAMP_TYPE, ATTRIBUTES_OFFSET);
  writeInt64FromNumber(batch, nowMs, MAX_TIMESTAMP_OFFSET);
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START_OFFSET)), CRC_OFFSET);
}
