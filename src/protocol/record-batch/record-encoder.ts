// Encoding whole RecordBatch v2 batches with their records (docs/record-batch.md §3): producers,
// transaction markers (control.ts), and broker features that rewrite batches (compaction). The record
// grammar is in record-layout.ts.
import {
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_TIMESTAMP_TYPE,
  ATTRIBUTE_TRANSACTIONAL,
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  BATCH_LENGTH_PREFIX_BYTES,
  Compression,
  CRC_OFFSET,
  CRC_START_OFFSET,
  isKnownCompression,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_BATCH_MAGIC,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_LOG_APPEND_TIME,
  writeInt64FromNumber,
} from './header.js';
import { compress, compressSync } from './compression.js';
import { crc32c } from './crc32c.js';
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';
import type { RecordHeader } from './record-layout.js';
import { systemClock } from '../../runtime/clock.js';

/** A record to put in a batch. Offsets and timestamps default to "next" and "now". */
export interface RecordToEncode {
  key?: Buffer | null;
  value?: Buffer | null;
  headers?: RecordHeader[];
  /** Absolute timestamp in ms; defaults to the batch's `timestamp` option, or now. */
  timestamp?: number;
  /** Offset relative to the batch's base offset; defaults to the record's index. */
  offsetDelta?: number;
}

export interface EncodeRecordBatchOptions {
  records: RecordToEncode[];
  /** Producers send 0; the broker assigns the real one on append. */
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  /** −1 (the default for all three) for a producer that is not idempotent. */
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  transactional?: boolean;
  /** Control batches (transaction markers) are written by the broker only; see control.ts. */
  control?: boolean;
  timestampType?: 0 | 1;
  compression?: Compression;
  /** Default timestamp for records that do not carry one (default: the system Clock's now). */
  timestamp?: number;
  /** Overrides the computed maxTimestamp (a broker stamping LogAppendTime). */
  maxTimestamp?: number;
  /** Overrides the last record's offsetDelta (compaction keeps it when records are removed). */
  lastOffsetDelta?: number;
}

const INT32_MAX = 0x7fffffff;
const INT16_MAX = 0x7fff;

interface PreparedRecord {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  headerKeyBytes: number[];
  bodyBytes: number;
}

interface PreparedBatch {
  records: PreparedRecord[];
  recordsBytes: number;
  attributes: number;
  baseTimestamp: number;
  maxTimestamp: number;
  lastOffsetDelta: number;
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

function prepare(options: EncodeRecordBatchOptions): PreparedBatch {
  const compression = options.compression ?? Compression.None;
  if (!isKnownCompression(compression)) throw new RangeError(`unknown compression codec ${compression as number}`);
  const defaultTimestamp = options.timestamp ?? systemClock.now();
  const input = options.records;
  const timestamps = input.map((record) => record.timestamp ?? defaultTimestamp);
  const baseTimestamp = timestamps.length > 0 ? timestamps[0]! : -1;
  let maxTimestamp = -1;
  for (const timestamp of timestamps) {
    checkInteger('record timestamp', timestamp, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
  }
  const records: PreparedRecord[] = [];
  let recordsBytes = 0;
  let previousOffsetDelta = -1;
  for (let index = 0; index < input.length; index++) {
    const record = input[index]!;
    const offsetDelta = record.offsetDelta ?? index;
    checkInteger('offsetDelta', offsetDelta, 0, INT32_MAX);
    if (offsetDelta <= previousOffsetDelta) throw new RangeError(`offsetDelta ${offsetDelta} does not increase`);
    previousOffsetDelta = offsetDelta;
    const timestampDelta = timestamps[index]! - baseTimestamp;
    const key = record.key ?? null;
    const value = record.value ?? null;
    const headers = record.headers ?? [];
    const headerKeyBytes = headers.map((header) => Buffer.byteLength(header.key, 'utf8'));
    let bodyBytes =
      1 +
      sizeOfVarlong(timestampDelta) +
      sizeOfVarint(offsetDelta) +
      (key === null ? 1 : sizeOfVarint(key.length) + key.length) +
      (value === null ? 1 : sizeOfVarint(value.length) + value.length) +
      sizeOfVarint(headers.length);
    for (let h = 0; h < headers.length; h++) {
      const headerValue = headers[h]!.value;
      bodyBytes += sizeOfVarint(headerKeyBytes[h]!) + headerKeyBytes[h]!;
      bodyBytes += headerValue === null ? 1 : sizeOfVarint(headerValue.length) + headerValue.length;
    }
    records.push({ offsetDelta, timestampDelta, key, value, headers, headerKeyBytes, bodyBytes });
    recordsBytes += sizeOfVarint(bodyBytes) + bodyBytes;
  }
  const timestampType = options.timestampType ?? 0;
  const attributes =
    compression |
    (timestampType === TIMESTAMP_TYPE_LOG_APPEND_TIME ? ATTRIBUTE_TIMESTAMP_TYPE : 0) |
    (options.transactional ? ATTRIBUTE_TRANSACTIONAL : 0) |
    (options.control ? ATTRIBUTE_CONTROL : 0);
  const lastOffsetDelta =
    options.lastOffsetDelta ?? (records.length > 0 ? records[records.length - 1]!.offsetDelta : 0);
  checkInteger('lastOffsetDelta', lastOffsetDelta, 0, INT32_MAX);
  if (lastOffsetDelta < previousOffsetDelta)
    throw new RangeError(`lastOffsetDelta ${lastOffsetDelta} is before the last record`);
  return {
    records,
    recordsBytes,
    attributes,
    baseTimestamp,
    maxTimestamp: options.maxTimestamp ?? maxTimestamp,
    lastOffsetDelta,
  };
}

function writeRecords(prepared: PreparedBatch, target: Buffer, start: number): number {
  let position = start;
  for (const record of prepared.records) {
    position = writeVarint(target, record.bodyBytes, position);
    target[position++] = 0; // attributes
    position = writeVarlong(target, record.timestampDelta, position);
    position = writeVarint(target, record.offsetDelta, position);
    position = writeBytes(target, record.key, position);
    position = writeBytes(target, record.value, position);
    position = writeVarint(target, record.headers.length, position);
    for (let h = 0; h < record.headers.length; h++) {
      const header = record.headers[h]!;
      position = writeVarint(target, record.headerKeyBytes[h]!, position);
      position += target.write(header.key, position, 'utf8');
      position = writeBytes(target, header.value, position);
    }
  }
  return position;
}

function writeBytes(target: Buffer, bytes: Buffer | null, position: number): number {
  if (bytes === null) return writeVarint(target, -1, position);
  position = writeVarint(target, bytes.length, position);
  target.set(bytes, position);
  return position + bytes.length;
}

function writeHeaderAndCrc(options: EncodeRecordBatchOptions, prepared: PreparedBatch, batch: Buffer): void {
  const producerId = options.producerId ?? -1;
  const producerEpoch = options.producerEpoch ?? -1;
  const baseSequence = options.baseSequence ?? -1;
  const partitionLeaderEpoch = options.partitionLeaderEpoch ?? -1;
  checkInteger('producerEpoch', producerEpoch, -1, INT16_MAX);
  checkInteger('baseSequence', baseSequence, -1, INT32_MAX);
  checkInteger('partitionLeaderEpoch', partitionLeaderEpoch, -1, INT32_MAX);
  checkInteger('baseOffset', options.baseOffset ?? 0, 0, Number.MAX_SAFE_INTEGER);
  checkInteger('producerId', producerId, -1, Number.MAX_SAFE_INTEGER);
  if (batch.length - BATCH_LENGTH_PREFIX_BYTES > INT32_MAX) throw new RangeError('batch larger than 2 GiB');
  writeInt64FromNumber(batch, options.baseOffset ?? 0, BASE_OFFSET_OFFSET);
  batch.writeInt32BE(batch.length - BATCH_LENGTH_PREFIX_BYTES, BATCH_LENGTH_OFFSET);
  batch.writeInt32BE(partitionLeaderEpoch, PARTITION_LEADER_EPOCH_OFFSET);
  batch.writeInt8(RECORD_BATCH_MAGIC, MAGIC_OFFSET);
  batch.writeUInt16BE(prepared.attributes, ATTRIBUTES_OFFSET);
  batch.writeInt32BE(prepared.lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
  writeInt64FromNumber(batch, prepared.baseTimestamp, BASE_TIMESTAMP_OFFSET);
  writeInt64FromNumber(batch, prepared.maxTimestamp, MAX_TIMESTAMP_OFFSET);
  writeInt64FromNumber(batch, producerId, PRODUCER_ID_OFFSET);
  batch.writeInt16BE(producerEpoch, PRODUCER_EPOCH_OFFSET);
  batch.writeInt32BE(baseSequence, BASE_SEQUENCE_OFFSET);
  batch.writeInt32BE(prepared.records.length, RECORD_COUNT_OFFSET);
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START_OFFSET)), CRC_OFFSET);
}

function assemble(options: EncodeRecordBatchOptions, prepared: PreparedBatch, records: Buffer | null): Buffer {
  let batch: Buffer;
  if (records === null) {
    batch = Buffer.allocUnsafe(BATCH_HEADER_BYTES + prepared.recordsBytes);
    const end = writeRecords(prepared, batch, RECORDS_OFFSET);
    if (end !== batch.length)
      throw new Error(`record size computed as ${prepared.recordsBytes}, wrote ${end - RECORDS_OFFSET}`);
  } else {
    batch = Buffer.allocUnsafe(BATCH_HEADER_BYTES + records.length);
    records.copy(batch, RECORDS_OFFSET);
  }
  batch.fill(0, 0, RECORDS_OFFSET);
  writeHeaderAndCrc(options, prepared, batch);
  return batch;
}

function plainRecords(prepared: PreparedBatch): Buffer {
  const plain = Buffer.allocUnsafe(prepared.recordsBytes);
  const end = writeRecords(prepared, plain, 0);
  if (end !== plain.length) throw new Error(`record size computed as ${prepared.recordsBytes}, wrote ${end}`);
  return plain;
}

/** Encodes a complete batch: header, records (compressed when asked) and CRC. */
export function encodeRecordBatchSync(options: EncodeRecordBatchOptions): Buffer {
  const prepared = prepare(options);
  const compression = options.compression ?? Compression.None;
  if (compression === Compression.None) return assemble(options, prepared, null);
  return assemble(options, prepared, compressSync(compression, plainRecords(prepared)));
}

/** As encodeRecordBatchSync; gzip compresses on the thread pool. */
export async function encodeRecordBatch(options: EncodeRecordBatchOptions): Promise<Buffer> {
  const prepared = prepare(options);
  const compression = options.compression ?? Compression.None;
  if (compression === Compression.None) return assemble(options, prepared, null);
  return assemble(options, prepared, await compress(compression, plainRecords(prepared)));
}
