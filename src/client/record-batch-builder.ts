// The producer's open batch: each record is written into the batch's bytes when it is sent, so a
// buffered message costs its encoded bytes and nothing else — no record object, no header array,
// no second pass to size and encode a whole batch when it closes (record-encoder.ts's encodeRecordBatch
// does that, for callers that hold their records as objects).
//
// Layout (docs/record-batch.md): 61 header bytes, left blank until `finish`, then the records:
//
//   Record := length varint, attributes int8 (0), timestampDelta varlong, offsetDelta varint,
//             keyLength varint (−1 = null), key, valueLength varint (−1 = null), value,
//             headerCount varint, { keyLength varint, key UTF-8, valueLength varint (−1 = null), value }*
//
// The timestamp delta is against the first record's timestamp; the offset delta is the record's
// index. `finish` writes the header (producer id, epoch and sequence are only known when the batch
// is first sent, and change when a gap renumbers it) and the CRC, compressing the records when asked.
import { compress } from '../protocol/record-batch/compression.js';
import { crc32c } from '../protocol/record-batch/crc32c.js';
import {
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
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_BATCH_MAGIC,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  writeInt64FromNumber,
} from '../protocol/record-batch/header.js';
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from '../protocol/record-batch/varint.js';

/** A header as the producer takes it: the value as a string (UTF-8), bytes or null. */
export type HeaderEntry = readonly [string, string | Buffer | null];

/** What the header of a batch says about its producer; known when the batch is first sent. */
export interface BatchProducerFields {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  transactional: boolean;
  compression: Compression;
}

/** A varint of an int32 takes at most 5 bytes. */
const VARINT_MAX_BYTES = 5;
/** Deltas in this range are written with the int32 varint code (same bytes as the varlong code). */
const INT32_ZIGZAG_SAFE = 0x3fffffff;

export class RecordBatchBuilder {
  /** The batch so far: blank header, then `position - RECORDS_OFFSET` bytes of records. */
  private bytes: Buffer;
  private position = RECORDS_OFFSET;
  /** Records written so far; the next record's offset delta. */
  count = 0;
  // Set by the first record. NaN rather than −1 so that V8 stores these fields as doubles from the
  // start: a field that starts as a small integer and then takes a ms timestamp changes the object's
  // layout and throws away the optimised code of every function that handled it.
  baseTimestamp = Number.NaN;
  maxTimestamp = Number.NaN;

  /**
   * `bytes`: where to write the batch (the caller may reuse the buffer of a finished batch);
   * when records need more room it doubles, but not past `growthLimitBytes` (the size a full batch
   * takes) unless one record needs it.
   */
  constructor(
    bytes: Buffer,
    private readonly growthLimitBytes: number,
  ) {
    if (bytes.length < BATCH_HEADER_BYTES)
      throw new RangeError(`a batch buffer needs at least ${BATCH_HEADER_BYTES} bytes`);
    this.bytes = bytes;
  }

  /** The buffer written in: the caller may reuse it once the batch and its encoding are no longer needed. */
  get storage(): Buffer {
    return this.bytes;
  }

  /** Encoded size so far, header included. */
  get size(): number {
    return this.position;
  }

  /**
   * Appends one record. `headers` may be undefined (none); header keys are UTF-8, string values too.
   * `timestamp` must be a safe integer (the producer checks it).
   */
  append(
    key: Buffer | null,
    value: Buffer | null,
    headers: ReadonlyArray<HeaderEntry> | undefined,
    timestamp: number,
  ): void {
    if (this.count === 0) {
      this.baseTimestamp = timestamp;
      this.maxTimestamp = timestamp;
    } else if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
    const timestampDelta = timestamp - this.baseTimestamp;
    const offsetDelta = this.count;
    const smallDelta = timestampDelta >= -INT32_ZIGZAG_SAFE && timestampDelta <= INT32_ZIGZAG_SAFE;
    let headersBytes = 1; // the header count, 0
    let headerCount = 0;
    if (headers !== undefined && headers.length > 0) {
      headerCount = headers.length;
      headersBytes = sizeOfVarint(headerCount);
      for (let h = 0; h < headerCount; h++) {
        const header = headers[h]!;
        const keyBytes = Buffer.byteLength(header[0], 'utf8');
        headersBytes += sizeOfVarint(keyBytes) + keyBytes;
        const headerValue = header[1];
        if (headerValue === null) headersBytes += 1;
        else {
          const valueBytes =
            typeof headerValue === 'string' ? Buffer.byteLength(headerValue, 'utf8') : headerValue.length;
          headersBytes += sizeOfVarint(valueBytes) + valueBytes;
        }
      }
    }
    const bodyBytes =
      1 +
      (smallDelta ? sizeOfVarint(timestampDelta) : sizeOfVarlong(timestampDelta)) +
      sizeOfVarint(offsetDelta) +
      (key === null ? 1 : sizeOfVarint(key.length) + key.length) +
      (value === null ? 1 : sizeOfVarint(value.length) + value.length) +
      headersBytes;
    this.ensure(VARINT_MAX_BYTES + bodyBytes);
    const target = this.bytes;
    let position = writeVarint(target, bodyBytes, this.position);
    const bodyStart = position;
    target[position++] = 0; // attributes
    position = smallDelta
      ? writeVarint(target, timestampDelta, position)
      : writeVarlong(target, timestampDelta, position);
    position = writeVarint(target, offsetDelta, position);
    if (key === null)
      target[position++] = 1; // zig-zag −1
    else {
      position = writeVarint(target, key.length, position);
      target.set(key, position);
      position += key.length;
    }
    if (value === null) target[position++] = 1;
    else {
      position = writeVarint(target, value.length, position);
      target.set(value, position);
      position += value.length;
    }
    position = writeVarint(target, headerCount, position);
    for (let h = 0; h < headerCount; h++) {
      const header = headers![h]!;
      position = writeVarint(target, Buffer.byteLength(header[0], 'utf8'), position);
      position += target.write(header[0], position, 'utf8');
      const headerValue = header[1];
      if (headerValue === null) target[position++] = 1;
      else if (typeof headerValue === 'string') {
        position = writeVarint(target, Buffer.byteLength(headerValue, 'utf8'), position);
        position += target.write(headerValue, position, 'utf8');
      } else {
        position = writeVarint(target, headerValue.length, position);
        target.set(headerValue, position);
        position += headerValue.length;
      }
    }
    // A size computed wrong would corrupt every record after this one: stop here instead.
    if (position - bodyStart !== bodyBytes)
      throw new Error(`record size computed as ${bodyBytes}, wrote ${position - bodyStart}`);
    this.position = position;
    this.count++;
  }

  /**
   * The complete batch: header, records (compressed when asked) and CRC. May be called again (a
   * renumbered batch gets a new sequence); the records are not touched, only the header is rewritten.
   */
  async finish(fields: BatchProducerFields): Promise<Buffer> {
    if (fields.compression === Compression.None) return this.finishUncompressed(fields);
    const compressed = await compress(fields.compression, this.bytes.subarray(RECORDS_OFFSET, this.position));
    const batch = Buffer.allocUnsafe(BATCH_HEADER_BYTES + compressed.length);
    compressed.copy(batch, RECORDS_OFFSET);
    writeHeader(batch, this, fields);
    return batch;
  }

  /**
   * Gives back the room the last doubling left unused, when that is much: a closed batch holds it
   * until acknowledged.
   */
  trim(): void {
    const unused = this.bytes.length - this.position;
    if (unused <= 1024 || unused <= this.position / 4) return;
    const exact = Buffer.allocUnsafe(this.position);
    this.bytes.copy(exact, 0, 0, this.position);
    this.bytes = exact;
  }

  /** As finish, for a batch without compression: the header and CRC go over the records in place, now. */
  finishUncompressed(fields: BatchProducerFields): Buffer {
    if (fields.compression !== Compression.None)
      throw new Error('finishUncompressed is for batches without compression');
    const batch = this.bytes.subarray(0, this.position);
    writeHeader(batch, this, fields);
    return batch;
  }

  private ensure(bytes: number): void {
    const needed = this.position + bytes;
    if (needed <= this.bytes.length) return;
    // Doubling keeps the copies to about the batch's size in total.
    const grown = Buffer.allocUnsafe(Math.max(needed, Math.min(this.bytes.length * 2, this.growthLimitBytes)));
    this.bytes.copy(grown, 0, 0, this.position);
    this.bytes = grown;
  }
}

function writeHeader(batch: Buffer, builder: RecordBatchBuilder, fields: BatchProducerFields): void {
  if (builder.count === 0) throw new Error('a batch needs at least one record');
  writeInt64FromNumber(batch, 0, BASE_OFFSET_OFFSET);
  batch.writeInt32BE(batch.length - BATCH_LENGTH_PREFIX_BYTES, BATCH_LENGTH_OFFSET);
  batch.writeInt32BE(-1, PARTITION_LEADER_EPOCH_OFFSET);
  batch.writeInt8(RECORD_BATCH_MAGIC, MAGIC_OFFSET);
  batch.writeUInt16BE(fields.compression | (fields.transactional ? ATTRIBUTE_TRANSACTIONAL : 0), ATTRIBUTES_OFFSET);
  batch.writeInt32BE(builder.count - 1, LAST_OFFSET_DELTA_OFFSET);
  writeInt64FromNumber(batch, builder.baseTimestamp, BASE_TIMESTAMP_OFFSET);
  writeInt64FromNumber(batch, builder.maxTimestamp, MAX_TIMESTAMP_OFFSET);
  writeInt64FromNumber(batch, fields.producerId, PRODUCER_ID_OFFSET);
  batch.writeInt16BE(fields.producerEpoch, PRODUCER_EPOCH_OFFSET);
  batch.writeInt32BE(fields.baseSequence, BASE_SEQUENCE_OFFSET);
  batch.writeInt32BE(builder.count, RECORD_COUNT_OFFSET);
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START_OFFSET)), CRC_OFFSET);
}
