// Encoding and decoding whole RecordBatch v2 batches with their records (docs/record-batch.md §3).
// This is the slow path — producers, and broker features that must see records (compaction, key
// index, delay). The broker's produce/fetch hot path only uses header.ts. The consumer locates the
// records of a fetch without building objects (locateRecordBatches: each record read and checked
// once, its fields' places kept in a table) and builds a record's key, value and headers from the
// table when its handler runs (recordKeyAt, recordValueAt, recordHeadersAt).
//
// Record := length varint                  bytes after this field
//           attributes int8                unused, 0
//           timestampDelta varlong         record timestamp − batch baseTimestamp
//           offsetDelta varint             record offset − batch baseOffset
//           keyLength varint, key          −1 = null
//           valueLength varint, value      −1 = null
//           headerCount varint
//           { keyLength varint (≥ 0), key UTF-8, valueLength varint (−1 = null), value }*
//
// Decoding trusts no length: every varint and length is checked against the bytes present,
// and counts are checked against the smallest possible encoding before anything is allocated.
import {
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_TIMESTAMP_TYPE,
  ATTRIBUTE_TRANSACTIONAL,
  ATTRIBUTES_OFFSET,
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
  RecordBatchHeader,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_LOG_APPEND_TIME,
  validateBatch,
  writeInt64FromNumber,
  BASE_OFFSET_OFFSET,
} from './header.js';
import { compress, compressSync, decompress, decompressSync } from './compression.js';
import { crc32c } from './crc32c.js';
import { RecordDecodeError } from './errors.js';
import {
  type Cursor,
  readVarint,
  readVarlong,
  sizeOfVarint,
  sizeOfVarlong,
  writeVarint,
  writeVarlong,
} from './varint.js';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

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
  /** Default timestamp for records that do not carry one (default: Date.now()). */
  timestamp?: number;
  /** Overrides the computed maxTimestamp (a broker stamping LogAppendTime). */
  maxTimestamp?: number;
  /** Overrides the last record's offsetDelta (compaction keeps it when records are removed). */
  lastOffsetDelta?: number;
}

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

export interface DecodedRecordBatch extends RecordBatchFields {
  records: DecodedRecord[];
}

/**
 * A batch whose records are checked and located but not built (see locateRecordBatch). A class, not
 * a spread of the header fields: every located batch then has one shape, and the consumer's code
 * that reads them is not thrown back to the interpreter by a new shape while it warms up.
 */
export class LocatedRecordBatch implements RecordBatchFields {
  readonly baseOffset: number;
  readonly batchLength: number;
  readonly totalBytes: number;
  readonly partitionLeaderEpoch: number;
  readonly magic: number;
  readonly crc: number;
  readonly attributes: number;
  readonly compression: Compression;
  readonly timestampType: 0 | 1;
  readonly isTransactional: boolean;
  readonly isControl: boolean;
  readonly lastOffsetDelta: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordCount: number;

  constructor(
    fields: RecordBatchFields,
    /** The records region, inflated when the batch is compressed; keys and values are slices of it. */
    readonly recordBytes: Buffer,
    /**
     * Record i's fields are at `recordTable[i * RECORD_SLOTS + SLOT_…]`: where its key, value and
     * headers lie in `recordBytes`, and its offsetDelta. One table per batch, so locating allocates
     * nothing per record and nothing needs to read the record's varints again.
     */
    readonly recordTable: Int32Array,
    /** Record i's timestampDelta (a varlong on the wire). */
    readonly timestampDeltas: Float64Array,
  ) {
    this.baseOffset = fields.baseOffset;
    this.batchLength = fields.batchLength;
    this.totalBytes = fields.totalBytes;
    this.partitionLeaderEpoch = fields.partitionLeaderEpoch;
    this.magic = fields.magic;
    this.crc = fields.crc;
    this.attributes = fields.attributes;
    this.compression = fields.compression;
    this.timestampType = fields.timestampType;
    this.isTransactional = fields.isTransactional;
    this.isControl = fields.isControl;
    this.lastOffsetDelta = fields.lastOffsetDelta;
    this.baseTimestamp = fields.baseTimestamp;
    this.maxTimestamp = fields.maxTimestamp;
    this.producerId = fields.producerId;
    this.producerEpoch = fields.producerEpoch;
    this.baseSequence = fields.baseSequence;
    this.recordCount = fields.recordCount;
  }
}

// The numbers kept per located record (see LocatedRecordBatch.recordTable): its offsetDelta; start
// and length of its key and value in recordBytes (length −1 for null); where its first header starts
// and how many there are.
export const SLOT_OFFSET_DELTA = 0;
export const SLOT_KEY_AT = 1;
export const SLOT_KEY_LENGTH = 2;
export const SLOT_VALUE_AT = 3;
export const SLOT_VALUE_LENGTH = 4;
export const SLOT_HEADERS_AT = 5;
export const SLOT_HEADER_COUNT = 6;
export const RECORD_SLOTS = 7;

/** The number of records in a located batch (recordCount, or 0 for an empty compressed batch). */
export function locatedRecordCount(batch: LocatedRecordBatch): number {
  return batch.timestampDeltas.length;
}

/** A located record's key: a slice of recordBytes (no copy), or null. */
export function recordKeyAt(batch: LocatedRecordBatch, index: number): Buffer | null {
  const table = batch.recordTable;
  const length = table[index * RECORD_SLOTS + SLOT_KEY_LENGTH]!;
  if (length < 0) return null;
  const at = table[index * RECORD_SLOTS + SLOT_KEY_AT]!;
  return batch.recordBytes.subarray(at, at + length);
}

/** A located record's value: a slice of recordBytes (no copy), or null. */
export function recordValueAt(batch: LocatedRecordBatch, index: number): Buffer | null {
  const table = batch.recordTable;
  const length = table[index * RECORD_SLOTS + SLOT_VALUE_LENGTH]!;
  if (length < 0) return null;
  const at = table[index * RECORD_SLOTS + SLOT_VALUE_AT]!;
  return batch.recordBytes.subarray(at, at + length);
}

/** A located record's headers (checked when located): keys as UTF-8, values sliced. */
export function recordHeadersAt(batch: LocatedRecordBatch, index: number): RecordHeader[] {
  const table = batch.recordTable;
  return readCheckedHeaders(
    batch.recordBytes,
    table[index * RECORD_SLOTS + SLOT_HEADERS_AT]!,
    table[index * RECORD_SLOTS + SLOT_HEADER_COUNT]!,
  );
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

/** length(1) attributes(1) timestampDelta(1) offsetDelta(1) keyLength(1) valueLength(1) headerCount(1). */
const SMALLEST_RECORD_BYTES = 7;
/** keyLength(1) valueLength(1). */
const SMALLEST_HEADER_BYTES = 2;
const INT32_MAX = 0x7fffffff;
const INT16_MAX = 0x7fff;

// ---------------------------------------------------------------- encoding

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
  const defaultTimestamp = options.timestamp ?? Date.now();
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

// ---------------------------------------------------------------- decoding

/** Checks the batch at the start of `buffer` and reads its header; returns it with the raw records region. */
function openBatch(buffer: Buffer): { header: RecordBatchHeader; records: Buffer } {
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

function readBatchFields(header: RecordBatchHeader): RecordBatchFields {
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

function fail(reason: string, position: number): never {
  throw new RecordDecodeError(reason, position);
}

/**
 * Where one record's fields lie in the record bytes. readRecordLayout fills it in place, so walking
 * a batch allocates nothing; the fields become objects only when someone asks (recordKey, …).
 */
export interface RecordLayout {
  /** The read position while reading; afterwards the first byte after the record. */
  position: number;
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  /** Start and length of the key in the record bytes; length −1 for a null key. */
  keyAt: number;
  keyLength: number;
  valueAt: number;
  valueLength: number;
  headerCount: number;
  /** Where the first header starts. */
  headersAt: number;
}

export function newRecordLayout(): RecordLayout {
  return {
    position: 0,
    attributes: 0,
    timestampDelta: 0,
    offsetDelta: 0,
    keyAt: 0,
    keyLength: -1,
    valueAt: 0,
    valueLength: -1,
    headerCount: 0,
    headersAt: 0,
  };
}

/**
 * Reads the record starting at `position` (its length varint) within `bytes[..end]` into `layout`,
 * checking every length against the bytes present. The offsetDelta order needs the batch and is
 * checked by the caller.
 */
export function readRecordLayout(bytes: Buffer, position: number, end: number, layout: RecordLayout): void {
  layout.position = position;
  const bodyBytes = readVarint(bytes, layout, end);
  if (bodyBytes < SMALLEST_RECORD_BYTES - 1 || bodyBytes > end - layout.position) {
    fail(`record length ${bodyBytes} does not fit in the ${end - layout.position} bytes left`, position);
  }
  const recordEnd = layout.position + bodyBytes;
  layout.attributes = bytes[layout.position++]!;
  layout.timestampDelta = readTimestampDelta(bytes, layout, recordEnd);
  layout.offsetDelta = readVarint(bytes, layout, recordEnd);
  layout.keyLength = readNullableLength(bytes, layout, recordEnd, 'key');
  layout.keyAt = layout.position;
  if (layout.keyLength > 0) layout.position += layout.keyLength;
  layout.valueLength = readNullableLength(bytes, layout, recordEnd, 'value');
  layout.valueAt = layout.position;
  if (layout.valueLength > 0) layout.position += layout.valueLength;
  const headerCountAt = layout.position;
  const headerCount = readVarint(bytes, layout, recordEnd);
  if (headerCount < 0 || headerCount * SMALLEST_HEADER_BYTES > recordEnd - layout.position) {
    fail(`header count ${headerCount} cannot fit in the record`, headerCountAt);
  }
  layout.headerCount = headerCount;
  layout.headersAt = layout.position;
  for (let h = 0; h < headerCount; h++) {
    const keyAt = layout.position;
    const keyBytes = readVarint(bytes, layout, recordEnd);
    if (keyBytes < 0 || keyBytes > recordEnd - layout.position) fail(`header key length ${keyBytes} is invalid`, keyAt);
    layout.position += keyBytes;
    const valueLength = readNullableLength(bytes, layout, recordEnd, 'header value');
    if (valueLength > 0) layout.position += valueLength;
  }
  if (layout.position !== recordEnd) {
    fail(
      `record declares ${bodyBytes} bytes but its fields end at ${layout.position - (recordEnd - bodyBytes)}`,
      position,
    );
  }
}

/** A varint known to be well formed (at most 5 bytes, within the buffer): integer arithmetic only. */
function readCheckedVarint(bytes: Buffer, cursor: Cursor): number {
  let position = cursor.position;
  let byte = bytes[position++]!;
  let zigzag = byte & 0x7f;
  for (let shift = 7; byte >= 0x80; shift += 7) {
    byte = bytes[position++]!;
    zigzag |= (byte & 0x7f) << shift;
  }
  cursor.position = position;
  return (zigzag >>> 1) ^ -(zigzag & 1);
}

/**
 * readVarlong for the usual timestamp delta, under 2^27 ms (1.5 days) from the batch's first record:
 * integer arithmetic for up to four bytes. readVarlong's floating-point arithmetic took a third of
 * the time of reading a record. Longer or truncated deltas go to readVarlong (and its errors).
 */
function readTimestampDelta(bytes: Buffer, cursor: Cursor, end: number): number {
  let position = cursor.position;
  let zigzag = 0;
  for (let shift = 0; shift < 28 && position < end; shift += 7) {
    const byte = bytes[position++]!;
    zigzag |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      cursor.position = position;
      return (zigzag >>> 1) ^ -(zigzag & 1);
    }
  }
  return readVarlong(bytes, cursor, end);
}

/** Reads a nullable length (−1 = null) and checks that many bytes follow before `end`. */
function readNullableLength(bytes: Buffer, cursor: Cursor, end: number, what: string): number {
  const at = cursor.position;
  const length = readVarint(bytes, cursor, end);
  if (length === -1) return -1;
  if (length < 0 || length > end - cursor.position) fail(`${what} length ${length} does not fit in the record`, at);
  return length;
}

/** The key of the record in `layout`: a slice of `bytes` (no copy), or null. */
export function recordKey(bytes: Buffer, layout: RecordLayout): Buffer | null {
  return layout.keyLength < 0 ? null : bytes.subarray(layout.keyAt, layout.keyAt + layout.keyLength);
}

/** The value of the record in `layout`: a slice of `bytes` (no copy), or null. */
export function recordValue(bytes: Buffer, layout: RecordLayout): Buffer | null {
  return layout.valueLength < 0 ? null : bytes.subarray(layout.valueAt, layout.valueAt + layout.valueLength);
}

/** The headers of the record in `layout` (already checked by readRecordLayout): keys as UTF-8, values sliced. */
export function recordHeaders(bytes: Buffer, layout: RecordLayout): RecordHeader[] {
  return readCheckedHeaders(bytes, layout.headersAt, layout.headerCount);
}

/** `count` headers from `position`, whose lengths were checked when the record was read or located. */
function readCheckedHeaders(bytes: Buffer, position: number, count: number): RecordHeader[] {
  const headers = new Array<RecordHeader>(count);
  const cursor: Cursor = { position };
  for (let h = 0; h < count; h++) {
    const keyBytes = readCheckedVarint(bytes, cursor);
    const key = bytes.toString('utf8', cursor.position, cursor.position + keyBytes);
    cursor.position += keyBytes;
    const valueLength = readCheckedVarint(bytes, cursor);
    headers[h] = {
      key,
      value: valueLength < 0 ? null : bytes.subarray(cursor.position, cursor.position + valueLength),
    };
    if (valueLength > 0) cursor.position += valueLength;
  }
  return headers;
}

/**
 * The number of records to read: recordCount, checked against the bytes present before anything is
 * allocated for them. Error positions are reported relative to the batch when the records are not
 * compressed (`base` = 61), relative to the inflated block otherwise.
 */
function countRecords(bytes: Buffer, batch: RecordBatchFields, base: number): number {
  const count = batch.recordCount;
  if (count === 0 && batch.compression !== Compression.None) return 0;
  if (count * SMALLEST_RECORD_BYTES > bytes.length)
    throw new RecordDecodeError(`${count} records cannot fit in ${bytes.length} bytes`, base);
  return count;
}

/**
 * Reads and checks `count` records in `bytes` in order, calling `visit` with each one's index, start
 * and layout (one layout object, reused). Error positions as in countRecords.
 */
function walkRecords(
  bytes: Buffer,
  batch: RecordBatchFields,
  count: number,
  base: number,
  visit: (index: number, at: number, layout: RecordLayout) => void,
): void {
  // An empty compressed batch may still carry a (never inflated) compressed empty stream, as Kafka allows.
  if (count === 0 && batch.compression !== Compression.None) return;
  try {
    const end = bytes.length;
    const layout = newRecordLayout();
    let previousOffsetDelta = -1;
    for (let index = 0; index < count; index++) {
      const at = layout.position;
      readRecordLayout(bytes, at, end, layout);
      const offsetDelta = layout.offsetDelta;
      if (offsetDelta <= previousOffsetDelta || offsetDelta > batch.lastOffsetDelta) {
        fail(`offsetDelta ${offsetDelta} is out of order or past lastOffsetDelta ${batch.lastOffsetDelta}`, at);
      }
      previousOffsetDelta = offsetDelta;
      visit(index, at, layout);
    }
    if (layout.position !== end) fail(`${end - layout.position} bytes left after ${count} records`, layout.position);
  } catch (error) {
    if (error instanceof RecordDecodeError && base !== 0)
      throw new RecordDecodeError(error.reason, base + error.position);
    throw error;
  }
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

function locateRecords(bytes: Buffer, batch: RecordBatchFields, base: number): LocatedRecordBatch {
  const count = countRecords(bytes, batch, base);
  const table = new Int32Array(count * RECORD_SLOTS);
  const timestampDeltas = new Float64Array(count);
  const located = new LocatedRecordBatch(batch, bytes, table, timestampDeltas);
  if (count === 0 && batch.compression !== Compression.None) return located;
  if (locateRecordsFast(bytes, batch.lastOffsetDelta, count, table, timestampDeltas)) return located;
  // Something is wrong or unusual (a varint longer than four bytes): the checking reader says what,
  // or fills the table when the records are fine after all.
  walkRecords(bytes, batch, count, base, (index, _at, layout) => {
    const slot = index * RECORD_SLOTS;
    table[slot + SLOT_OFFSET_DELTA] = layout.offsetDelta;
    table[slot + SLOT_KEY_AT] = layout.keyAt;
    table[slot + SLOT_KEY_LENGTH] = layout.keyLength;
    table[slot + SLOT_VALUE_AT] = layout.valueAt;
    table[slot + SLOT_VALUE_LENGTH] = layout.valueLength;
    table[slot + SLOT_HEADERS_AT] = layout.headersAt;
    table[slot + SLOT_HEADER_COUNT] = layout.headerCount;
    timestampDeltas[index] = layout.timestampDelta;
  });
  return located;
}

/** The read position of shortVarint (−1 after a varint it does not take). */
let shortCursor = 0;

/**
 * The zig-zag varint at `shortCursor`, if it has at most four bytes (|value| < 2^27) before `end`;
 * otherwise shortCursor becomes −1. Integer arithmetic only, and no object for the position.
 */
function shortVarint(bytes: Buffer, end: number): number {
  let position = shortCursor;
  let zigzag = 0;
  for (let shift = 0; shift < 28 && position < end; shift += 7) {
    const byte = bytes[position++]!;
    zigzag |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      shortCursor = position;
      return (zigzag >>> 1) ^ -(zigzag & 1);
    }
  }
  shortCursor = -1;
  return 0;
}

/**
 * The consumer's common case in one loop: records whose varints all have at most four bytes. Makes
 * the checks of readRecordLayout and walkRecords (lengths within the record and the bytes present,
 * offsetDelta increasing up to lastOffsetDelta, nothing left over) and fills the table. False at the
 * first thing it does not accept — a malformed record or a long varint — and the caller runs the
 * checking reader, which names the problem. One function with no calls through a visitor compiles
 * early: the consumer's first fetches no longer spend most of their time locating records.
 */
function locateRecordsFast(
  bytes: Buffer,
  lastOffsetDelta: number,
  count: number,
  table: Int32Array,
  timestampDeltas: Float64Array,
): boolean {
  const end = bytes.length;
  let position = 0;
  let previousOffsetDelta = -1;
  for (let index = 0; index < count; index++) {
    shortCursor = position;
    const bodyBytes = shortVarint(bytes, end);
    if (shortCursor < 0 || bodyBytes < SMALLEST_RECORD_BYTES - 1 || bodyBytes > end - shortCursor) return false;
    const recordEnd = shortCursor + bodyBytes;
    shortCursor++; // attributes
    const timestampDelta = shortVarint(bytes, recordEnd);
    if (shortCursor < 0) return false;
    const offsetDelta = shortVarint(bytes, recordEnd);
    if (shortCursor < 0 || offsetDelta <= previousOffsetDelta || offsetDelta > lastOffsetDelta) return false;
    previousOffsetDelta = offsetDelta;
    const keyLength = shortVarint(bytes, recordEnd);
    if (shortCursor < 0 || keyLength < -1 || keyLength > recordEnd - shortCursor) return false;
    const keyAt = shortCursor;
    if (keyLength > 0) shortCursor += keyLength;
    const valueLength = shortVarint(bytes, recordEnd);
    if (shortCursor < 0 || valueLength < -1 || valueLength > recordEnd - shortCursor) return false;
    const valueAt = shortCursor;
    if (valueLength > 0) shortCursor += valueLength;
    const headerCount = shortVarint(bytes, recordEnd);
    if (shortCursor < 0 || headerCount < 0 || headerCount * SMALLEST_HEADER_BYTES > recordEnd - shortCursor)
      return false;
    const headersAt = shortCursor;
    for (let h = 0; h < headerCount; h++) {
      const keyBytes = shortVarint(bytes, recordEnd);
      if (shortCursor < 0 || keyBytes < 0 || keyBytes > recordEnd - shortCursor) return false;
      shortCursor += keyBytes;
      const headerValueLength = shortVarint(bytes, recordEnd);
      if (shortCursor < 0 || headerValueLength < -1 || headerValueLength > recordEnd - shortCursor) return false;
      if (headerValueLength > 0) shortCursor += headerValueLength;
    }
    if (shortCursor !== recordEnd) return false;
    const slot = index * RECORD_SLOTS;
    table[slot + SLOT_OFFSET_DELTA] = offsetDelta;
    table[slot + SLOT_KEY_AT] = keyAt;
    table[slot + SLOT_KEY_LENGTH] = keyLength;
    table[slot + SLOT_VALUE_AT] = valueAt;
    table[slot + SLOT_VALUE_LENGTH] = valueLength;
    table[slot + SLOT_HEADERS_AT] = headersAt;
    table[slot + SLOT_HEADER_COUNT] = headerCount;
    timestampDeltas[index] = timestampDelta;
    position = recordEnd;
  }
  return position === end;
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
 * As decodeRecordBatch, but the records are only checked and located, not built: the consumer's
 * fetch path, which turns a record into objects only when its handler runs (recordKeyAt,
 * recordValueAt, recordHeadersAt).
 */
export async function locateRecordBatch(buffer: Buffer, limits: DecodeLimits = {}): Promise<LocatedRecordBatch> {
  const { header, records } = openBatch(buffer);
  const fields = readBatchFields(header);
  if (fields.compression === Compression.None || fields.recordCount === 0)
    return locateRecords(records, fields, RECORDS_OFFSET);
  const limit = limits.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  const inflated = await decompress(fields.compression, records, limit);
  return locateRecords(inflated, fields, 0);
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

/**
 * As decodeRecordBatches with locateRecordBatch. With `each`, every batch goes to it as soon as it is
 * located (and is not collected); `each` returning false stops there.
 */
export async function locateRecordBatches(
  buffer: Buffer,
  limits: DecodeLimits = {},
  each?: (batch: LocatedRecordBatch) => boolean,
): Promise<LocatedRecordBatch[]> {
  const batches: LocatedRecordBatch[] = [];
  for (
    let position = 0, end = wholeBatchEnd(buffer, position);
    end > position;
    position = end, end = wholeBatchEnd(buffer, position)
  ) {
    const batch = await locateRecordBatch(buffer.subarray(position, end), limits);
    if (each === undefined) batches.push(batch);
    else if (!each(batch)) break;
  }
  return batches;
}

/** The end of the whole batch starting at `position`, or `position` when no whole batch starts there. */
function wholeBatchEnd(buffer: Buffer, position: number): number {
  if (buffer.length - position < BATCH_HEADER_BYTES) return position;
  const totalBytes = buffer.readInt32BE(position + BATCH_LENGTH_OFFSET) + BATCH_LENGTH_PREFIX_BYTES;
  if (totalBytes < BATCH_HEADER_BYTES)
    throw new RecordDecodeError(`batchLength ${totalBytes - 12} is too short`, position);
  return position + totalBytes > buffer.length ? position : position + totalBytes;
}
