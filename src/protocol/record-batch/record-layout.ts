// One record of a RecordBatch v2, read and checked in place (docs/record-batch.md §3). The decoder
// and the consumer's locator read records through it; the encoder writes the same grammar.
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
import { Compression } from './header.js';
import { RecordDecodeError } from './errors.js';
import { type Cursor, readVarint, readVarlong } from './varint.js';
import type { RecordBatchFields } from './batch-fields.js';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** length(1) attributes(1) timestampDelta(1) offsetDelta(1) keyLength(1) valueLength(1) headerCount(1). */
export const SMALLEST_RECORD_BYTES = 7;
/** keyLength(1) valueLength(1). */
export const SMALLEST_HEADER_BYTES = 2;

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
export function readCheckedHeaders(bytes: Buffer, position: number, count: number): RecordHeader[] {
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
export function countRecords(bytes: Buffer, batch: RecordBatchFields, base: number): number {
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
export function walkRecords(
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
