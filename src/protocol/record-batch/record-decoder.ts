// Decoding whole RecordBatch v2 batches into record objects (docs/record-batch.md §3). This is the
// slow path — broker features that must see records (compaction, key index, delay, half messages)
// and tests. The broker's produce/fetch hot path only uses header.ts; the consumer locates records
// without building them (record-locator.ts).
//
// Decoding trusts no length: every varint and length is checked against the bytes present,
// and counts are checked against the smallest possible encoding before anything is allocated.
import { Compression, RECORDS_OFFSET, TIMESTAMP_TYPE_LOG_APPEND_TIME } from './header.js';
import { decompress, decompressSync } from './compression.js';
import {
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  openBatch,
  readBatchFields,
  wholeBatchEnd,
  type DecodeLimits,
  type RecordBatchFields,
} from './batch-fields.js';
import {
  countRecords,
  recordHeaders,
  recordKey,
  recordValue,
  walkRecords,
  type RecordHeader,
} from './record-layout.js';

/** A record as decoded, with absolute offset and timestamp next to the deltas. */
export interface DecodedRecord {
  offset: number;
  offsetDelta: number;
  /** Absolute timestamp; for LogAppendTime batches the batch's maxTimestamp, as Kafka clients report it. */
  timestamp: number;
  timestampDelta: number;
  attributes: number;
  /** Slices of the decoded bytes (of the input buffer when uncompressed): copy them to keep them longer. */
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface DecodedRecordBatch extends RecordBatchFields {
  records: DecodedRecord[];
}

function decodeRecords(bytes: Buffer, batch: RecordBatchFields, base: number): DecodedRecord[] {
  const count = countRecords(bytes, batch, base);
  const records: DecodedRecord[] = new Array<DecodedRecord>(count);
  const logAppendTime = batch.timestampType === TIMESTAMP_TYPE_LOG_APPEND_TIME;
  walkRecords(bytes, batch, count, base, (index, _at, layout) => {
    records[index] = {
      offset: batch.baseOffset + layout.offsetDelta,
      offsetDelta: layout.offsetDelta,
      timestamp: logAppendTime ? batch.maxTimestamp : batch.baseTimestamp + layout.timestampDelta,
      timestampDelta: layout.timestampDelta,
      attributes: layout.attributes,
      key: recordKey(bytes, layout),
      value: recordValue(bytes, layout),
      headers: layout.headerCount === 0 ? [] : recordHeaders(bytes, layout),
    };
  });
  return records;
}

/**
 * Decodes the batch at the start of `buffer` (which may hold more bytes after it): validates
 * length, magic, CRC and counts, inflates the records within `limits`, decodes every record.
 * Throws RecordDecodeError for bad bytes, DecompressionLimitError/DecompressionError from the codec.
 */
export function decodeRecordBatchSync(buffer: Buffer, limits: DecodeLimits = {}): DecodedRecordBatch {
  const { header, records } = openBatch(buffer);
  const fields = readBatchFields(header);
  if (fields.compression === Compression.None || fields.recordCount === 0)
    return { ...fields, records: decodeRecords(records, fields, RECORDS_OFFSET) };
  const limit = limits.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  return { ...fields, records: decodeRecords(decompressSync(fields.compression, records, limit), fields, 0) };
}

/** As decodeRecordBatchSync; gzip inflates on the thread pool. */
export async function decodeRecordBatch(buffer: Buffer, limits: DecodeLimits = {}): Promise<DecodedRecordBatch> {
  const { header, records } = openBatch(buffer);
  const fields = readBatchFields(header);
  if (fields.compression === Compression.None || fields.recordCount === 0)
    return { ...fields, records: decodeRecords(records, fields, RECORDS_OFFSET) };
  const limit = limits.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  return { ...fields, records: decodeRecords(await decompress(fields.compression, records, limit), fields, 0) };
}

/**
 * Decodes every whole batch in a `records` field (batches back to back). A trailing partial
 * batch — which a Fetch response may legitimately end with — is ignored.
 */
export async function decodeRecordBatches(buffer: Buffer, limits: DecodeLimits = {}): Promise<DecodedRecordBatch[]> {
  const batches: DecodedRecordBatch[] = [];
  for (
    let position = 0, end = wholeBatchEnd(buffer, position);
    end > position;
    position = end, end = wholeBatchEnd(buffer, position)
  ) {
    batches.push(await decodeRecordBatch(buffer.subarray(position, end), limits));
  }
  return batches;
}
