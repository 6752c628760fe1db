// The consumer's fetch path (docs/record-batch.md §3): the records of a fetch are located without
// building objects — each record read and checked once, its fields' places kept in a table — and a
// record's key, value and headers are built from the table when its handler runs (recordKeyAt,
// recordValueAt, recordHeadersAt).
import { Compression, RECORDS_OFFSET } from './header.js';
import { decompress } from './compression.js';
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
  readCheckedHeaders,
  SMALLEST_HEADER_BYTES,
  SMALLEST_RECORD_BYTES,
  walkRecords,
  type RecordHeader,
} from './record-layout.js';

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
