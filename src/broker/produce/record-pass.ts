// The produce path's slow lane: the one pass over a batch's records that some topics need (policy.ts
// says which batches come here). It runs after the header checks (produce-validation.ts) and before
// the producer-state checks and the append, synchronously, so a batch that takes it cannot be
// overtaken by a later batch of the same partition. Kafka does the same work in its LogValidator.
//
// It inflates the records (when compressed), reads each record once with one reused layout (no
// object per record), and then:
// - refuses a record without a key on a compacted topic (KIP-467: the batch's record errors);
// - derives the batch's maxTimestamp from the records (CreateTime) and writes it into the header;
// - recompresses into the topic's codec when it differs from the batch's: the inflated records
//   region is the same bytes whatever the codec, so it is compressed again unchanged. The header
//   keeps everything else — producer id, epoch, base sequence, transactional bit, timestamps, counts
//   — and gets the new codec bits, batchLength and CRC.
// The result is the batch to append: the same buffer edited in place, or a new one when recompressed.
//
// | problem                                                  | error code        |
// |----------------------------------------------------------|-------------------|
// | the records region does not inflate with its codec       | CORRUPT_MESSAGE   |
// | it inflates past DEFAULT_MAX_DECOMPRESSED_BYTES          | CORRUPT_MESSAGE   |
// | a record does not parse (varint, length, count, order)   | INVALID_RECORD    |
// | compacted topic, a record with a null key                | INVALID_RECORD, with record errors |
// | the recompressed batch is larger than max.message.bytes  | MESSAGE_TOO_LARGE |
// Nothing is appended for any of them; the other partitions of the request are unaffected.
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import { decompressSync, compressSync, compressionName } from '../../protocol/record-batch/compression.js';
import { crc32c } from '../../protocol/record-batch/crc32c.js';
import { DecompressionError, DecompressionLimitError, RecordDecodeError } from '../../protocol/record-batch/errors.js';
import {
  ATTRIBUTE_COMPRESSION_MASK,
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  BATCH_LENGTH_PREFIX_BYTES,
  Compression,
  CRC_OFFSET,
  CRC_START_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  RecordBatchHeader,
  RECORDS_OFFSET,
  writeInt64FromNumber,
} from '../../protocol/record-batch/header.js';
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from '../../protocol/record-batch/batch-fields.js';
import { newRecordLayout, readRecordLayout } from '../../protocol/record-batch/record-layout.js';
import type { ProducePolicy } from './policy.js';

/** One entry of a Produce v8+ response's record_errors (KIP-467). */
export interface RecordError {
  batchIndex: number;
  batchIndexErrorMessage: string | null;
}

export interface ProduceProblem {
  errorCode: number;
  errorMessage: string;
  recordErrors?: RecordError[];
}

export type RecordPassResult = { batch: Buffer; problem?: undefined } | { batch?: undefined; problem: ProduceProblem };

/**
 * The most record errors one partition's answer lists. Kafka lists every bad record; a batch of
 * max.message.bytes of 7-byte keyless records would make each ~100-byte error entry a 15-fold
 * amplification of the request. The batch fails whole either way, and clients fail the records not
 * listed with the partition's error.
 */
export const RECORD_ERRORS_MAX = 1000;

/** The smallest record: length, attributes, timestampDelta, offsetDelta, key and value lengths, header count. */
const SMALLEST_RECORD_BYTES = 7;

/**
 * Runs the record pass over `batch` (one whole batch whose header and CRC were checked) for the
 * partition `topicPartition` ("topic-partition", as Kafka names it in messages).
 */
export function passRecords(
  batch: Buffer,
  policy: ProducePolicy,
  topicPartition: string,
  maxMessageBytes: number,
): RecordPassResult {
  const header = new RecordBatchHeader(batch);
  const codec = header.compression;
  if (header.isControl) return { batch }; // never reaches here from a client (refused before); never recompressed
  let records: Buffer;
  try {
    const region = batch.subarray(RECORDS_OFFSET, header.totalBytes);
    records = codec === Compression.None ? region : decompressSync(codec, region, DEFAULT_MAX_DECOMPRESSED_BYTES);
  } catch (error) {
    if (error instanceof DecompressionError || error instanceof DecompressionLimitError)
      return {
        problem: { errorCode: ErrorCode.CORRUPT_MESSAGE, errorMessage: `${error.message} in ${topicPartition}` },
      };
    throw error;
  }
  const scan = scanRecords(records, header, policy.compacted, topicPartition);
  if ('problem' in scan) return scan;

  const target = policy.compression ?? codec;
  // CreateTime: the records' maximum goes into the header. LogAppendTime: the stamp that follows sets it.
  // A maximum past the safe-integer range (a hostile baseTimestamp) cannot be written as a number, and
  // nothing reads such a time meaningfully: the header keeps what the producer sent.
  const fixMaxTimestamp =
    !policy.logAppendTime && scan.maxTimestamp !== header.maxTimestamp && Number.isSafeInteger(scan.maxTimestamp);
  let out = batch;
  if (target !== codec) {
    const compressed = target === Compression.None ? records : compressSync(target, records, policy.compressionLevel);
    out = Buffer.allocUnsafe(RECORDS_OFFSET + compressed.length);
    batch.copy(out, 0, 0, RECORDS_OFFSET);
    compressed.copy(out, RECORDS_OFFSET);
    out.writeInt32BE(out.length - BATCH_LENGTH_PREFIX_BYTES, BATCH_LENGTH_OFFSET);
    const attributes = out.readUInt16BE(ATTRIBUTES_OFFSET);
    out.writeUInt16BE((attributes & ~ATTRIBUTE_COMPRESSION_MASK) | target, ATTRIBUTES_OFFSET);
    if (out.length > maxMessageBytes) {
      return {
        problem: {
          errorCode: ErrorCode.MESSAGE_TOO_LARGE,
          errorMessage:
            `the batch is ${out.length} bytes once recompressed from ${compressionName(codec)} to ` +
            `${compressionName(target)}, larger than max.message.bytes ${maxMessageBytes} of ${topicPartition}`,
        },
      };
    }
  } else if (!fixMaxTimestamp) {
    return { batch }; // nothing to change: the header was right, the records are fine
  }
  if (fixMaxTimestamp) writeInt64FromNumber(out, scan.maxTimestamp, MAX_TIMESTAMP_OFFSET);
  out.writeUInt32BE(crc32c(out.subarray(CRC_START_OFFSET)), CRC_OFFSET);
  return { batch: out };
}

type ScanResult = { maxTimestamp: number } | { problem: ProduceProblem };

/**
 * Reads every record of the inflated `records` region once: checks its structure, that the offset
 * deltas run 0 … lastOffsetDelta (the header check made recordCount = lastOffsetDelta + 1), and, for a
 * compacted topic, that it has a key; returns the largest record timestamp.
 */
function scanRecords(
  records: Buffer,
  header: RecordBatchHeader,
  compacted: boolean,
  topicPartition: string,
): ScanResult {
  const count = header.recordCount;
  const baseTimestamp = header.baseTimestamp;
  const invalid = (reason: string): ScanResult => ({
    problem: { errorCode: ErrorCode.INVALID_RECORD, errorMessage: `${reason} in topic partition ${topicPartition}` },
  });
  if (count * SMALLEST_RECORD_BYTES > records.length)
    return invalid(`the batch declares ${count} records but its records region has ${records.length} bytes`);
  const layout = newRecordLayout();
  const end = records.length;
  let maxTimestamp = -1;
  let recordErrors: RecordError[] | null = null;
  let keylessRecords = 0;
  const keylessMessage = `Compacted topic cannot accept message without key in topic partition ${topicPartition}.`;
  try {
    for (let index = 0; index < count; index++) {
      readRecordLayout(records, layout.position, end, layout);
      if (layout.offsetDelta !== index)
        return invalid(`record ${index} has offsetDelta ${layout.offsetDelta}, expected ${index}`);
      const timestamp = baseTimestamp + layout.timestampDelta;
      if (timestamp > maxTimestamp) maxTimestamp = timestamp;
      if (compacted && layout.keyLength < 0) {
        keylessRecords++;
        recordErrors ??= [];
        if (recordErrors.length < RECORD_ERRORS_MAX)
          recordErrors.push({
            batchIndex: index,
            batchIndexErrorMessage: keylessMessage,
          });
      }
    }
  } catch (error) {
    if (error instanceof RecordDecodeError) return invalid(`invalid record structure (${error.message})`);
    throw error;
  }
  if (layout.position !== end) return invalid(`${end - layout.position} bytes follow the batch's ${count} records`);
  if (recordErrors !== null) {
    // Kafka's summary line, word for word, so clients and operators see what they would see from Kafka.
    const shown = recordErrors
      .slice(0, 3)
      .map((e) => `RecordError(batchIndex=${e.batchIndex}, message='${e.batchIndexErrorMessage}')`);
    return {
      problem: {
        errorCode: ErrorCode.INVALID_RECORD,
        errorMessage:
          `One or more records have been rejected due to ${keylessRecords} record errors in total, ` +
          `and only showing the first three errors at most: [${shown.join(', ')}]`,
        recordErrors,
      },
    };
  }
  return { maxTimestamp };
}
