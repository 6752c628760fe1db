// The fixed 61-byte RecordBatch v2 header, read and patched in place (docs/record-batch.md §1).
// This is all the broker looks at on the produce/fetch hot path: no record is decoded here.
//
//   offset size field
//      0    8  baseOffset            int64   (outside the CRC: the broker assigns it)
//      8    4  batchLength           int32   bytes after this field = total - 12
//     12    4  partitionLeaderEpoch  int32   (outside the CRC: the broker stamps it)
//     16    1  magic                 int8    = 2
//     17    4  crc                   uint32  CRC-32C of bytes 21 .. end of batch
//     21    2  attributes            int16   see the ATTRIBUTE_* masks
//     23    4  lastOffsetDelta       int32
//     27    8  baseTimestamp         int64
//     35    8  maxTimestamp          int64
//     43    8  producerId            int64
//     51    2  producerEpoch         int16
//     53    4  baseSequence          int32
//     57    4  recordCount           int32
//     61    …  records (compressed as one block when attributes say so)
//
// int64 fields are returned as JS numbers: offsets and timestamps are safe integers inside
// Sluice (bigint appears only at the wire-codec edge). They are read as hi * 2^32 + lo, which
// allocates nothing; baseOffset, the one value the broker computes with, is checked to be safe.
import { crc32c } from './crc32c.js';

export const BATCH_HEADER_BYTES = 61;
/** baseOffset (8) + batchLength (4): the bytes not counted by batchLength. */
export const BATCH_LENGTH_PREFIX_BYTES = 12;
export const RECORD_BATCH_MAGIC = 2;

export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORD_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;
/** The CRC covers attributes to the end of the batch. */
export const CRC_START_OFFSET = ATTRIBUTES_OFFSET;

export enum Compression {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

export const ATTRIBUTE_COMPRESSION_MASK = 0x07;
export const ATTRIBUTE_TIMESTAMP_TYPE = 0x08;
export const ATTRIBUTE_TRANSACTIONAL = 0x10;
export const ATTRIBUTE_CONTROL = 0x20;
export const ATTRIBUTE_DELETE_HORIZON = 0x40;

export const TIMESTAMP_TYPE_CREATE_TIME = 0;
export const TIMESTAMP_TYPE_LOG_APPEND_TIME = 1;

const TWO_TO_32 = 2 ** 32;

export function isKnownCompression(codec: number): codec is Compression {
  return Number.isInteger(codec) && codec >= Compression.None && codec <= Compression.Zstd;
}

/** Reads a big-endian int64 as a number without allocating a bigint. Exact for safe integers. */
export function readInt64AsNumber(buffer: Buffer, at: number): number {
  return buffer.readInt32BE(at) * TWO_TO_32 + buffer.readUInt32BE(at + 4);
}

/** Writes a safe integer as a big-endian int64. */
export function writeInt64FromNumber(buffer: Buffer, value: number, at: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`int64 value ${value} is not a safe integer`);
  const high = Math.floor(value / TWO_TO_32);
  buffer.writeInt32BE(high, at);
  buffer.writeUInt32BE(value - high * TWO_TO_32, at + 4);
}

/** A view over one batch header inside `buffer` at `offset`. Nothing is copied; setters write through. */
export class RecordBatchHeader {
  readonly buffer: Buffer;
  readonly offset: number;

  constructor(buffer: Buffer, offset = 0) {
    if (!Number.isInteger(offset) || offset < 0 || buffer.length - offset < BATCH_HEADER_BYTES) {
      throw new RangeError(
        `a record batch header needs ${BATCH_HEADER_BYTES} bytes at offset ${offset}; buffer has ${buffer.length}`,
      );
    }
    this.buffer = buffer;
    this.offset = offset;
  }

  get baseOffset(): number {
    const value = readInt64AsNumber(this.buffer, this.offset + BASE_OFFSET_OFFSET);
    if (!Number.isSafeInteger(value)) {
      const exact = this.buffer.readBigInt64BE(this.offset + BASE_OFFSET_OFFSET);
      throw new RangeError(`batch baseOffset ${exact} is outside the safe-integer range`);
    }
    return value;
  }
  get batchLength(): number {
    return this.buffer.readInt32BE(this.offset + BATCH_LENGTH_OFFSET);
  }
  /** Size of the whole batch in bytes, length prefix included. */
  get totalBytes(): number {
    return this.batchLength + BATCH_LENGTH_PREFIX_BYTES;
  }
  get partitionLeaderEpoch(): number {
    return this.buffer.readInt32BE(this.offset + PARTITION_LEADER_EPOCH_OFFSET);
  }
  get magic(): number {
    return this.buffer.readInt8(this.offset + MAGIC_OFFSET);
  }
  get crc(): number {
    return this.buffer.readUInt32BE(this.offset + CRC_OFFSET);
  }
  get attributes(): number {
    return this.buffer.readUInt16BE(this.offset + ATTRIBUTES_OFFSET);
  }
  /** Bits 0-2 of attributes. 5-7 are invalid codecs; check with isKnownCompression() before use. */
  get compression(): Compression {
    return (this.attributes & ATTRIBUTE_COMPRESSION_MASK) as Compression;
  }
  get timestampType(): 0 | 1 {
    return (this.attributes & ATTRIBUTE_TIMESTAMP_TYPE) === 0 ? 0 : 1;
  }
  get isTransactional(): boolean {
    return (this.attributes & ATTRIBUTE_TRANSACTIONAL) !== 0;
  }
  get isControl(): boolean {
    return (this.attributes & ATTRIBUTE_CONTROL) !== 0;
  }
  get hasDeleteHorizon(): boolean {
    return (this.attributes & ATTRIBUTE_DELETE_HORIZON) !== 0;
  }
  get lastOffsetDelta(): number {
    return this.buffer.readInt32BE(this.offset + LAST_OFFSET_DELTA_OFFSET);
  }
  get lastOffset(): number {
    return this.baseOffset + this.lastOffsetDelta;
  }
  get baseTimestamp(): number {
    return readInt64AsNumber(this.buffer, this.offset + BASE_TIMESTAMP_OFFSET);
  }
  get maxTimestamp(): number {
    return readInt64AsNumber(this.buffer, this.offset + MAX_TIMESTAMP_OFFSET);
  }
  get producerId(): number {
    return readInt64AsNumber(this.buffer, this.offset + PRODUCER_ID_OFFSET);
  }
  get producerEpoch(): number {
    return this.buffer.readInt16BE(this.offset + PRODUCER_EPOCH_OFFSET);
  }
  get baseSequence(): number {
    return this.buffer.readInt32BE(this.offset + BASE_SEQUENCE_OFFSET);
  }
  get recordCount(): number {
    return this.buffer.readInt32BE(this.offset + RECORD_COUNT_OFFSET);
  }

  /** Assigns the batch's first offset. Outside the CRC range, so the CRC stays valid. */
  setBaseOffset(offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new RangeError(`baseOffset must be a non-negative safe integer, got ${offset}`);
    }
    writeInt64FromNumber(this.buffer, offset, this.offset + BASE_OFFSET_OFFSET);
  }

  /** Stamps the leader epoch. Outside the CRC range, so the CRC stays valid. */
  setPartitionLeaderEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < -1 || epoch > 0x7fffffff) {
      throw new RangeError(`partitionLeaderEpoch must be an int32 >= -1, got ${epoch}`);
    }
    this.buffer.writeInt32BE(epoch, this.offset + PARTITION_LEADER_EPOCH_OFFSET);
  }

  /** CRC-32C over attributes .. end of batch. The whole batch must be inside `buffer`. */
  computeCrc(): number {
    const end = this.offset + this.totalBytes;
    if (this.batchLength < BATCH_HEADER_BYTES - BATCH_LENGTH_PREFIX_BYTES || end > this.buffer.length) {
      throw new RangeError(
        `batch of ${this.totalBytes} bytes at offset ${this.offset} ` +
          `is not wholly inside a buffer of ${this.buffer.length}`,
      );
    }
    return crc32c(this.buffer.subarray(this.offset + CRC_START_OFFSET, end));
  }

  isCrcValid(): boolean {
    return this.computeCrc() === this.crc;
  }
}

export type BatchProblemKind = 'truncated' | 'bad-length' | 'bad-magic' | 'bad-crc' | 'bad-count';

export interface BatchProblem {
  kind: BatchProblemKind;
  detail: string;
}

/**
 * Checks the batch at `buffer[offset]` using only its header and CRC, given that `available`
 * bytes from `offset` on are present. Checks in order: a whole header present, a sane
 * batchLength that fits, magic 2, CRC, recordCount and lastOffsetDelta consistent.
 * 'truncated' means the bytes may just be incomplete (a torn tail on recovery); the other kinds
 * mean the bytes are wrong. Returns null when the batch is sound.
 */
export function validateBatch(buffer: Buffer, offset: number, available: number): BatchProblem | null {
  const present = Math.min(available, buffer.length - offset);
  if (!(present >= BATCH_HEADER_BYTES)) {
    return {
      kind: 'truncated',
      detail: `${Math.max(present, 0)} bytes present, a batch header needs ${BATCH_HEADER_BYTES}`,
    };
  }
  const header = new RecordBatchHeader(buffer, offset);
  const totalBytes = header.totalBytes;
  if (totalBytes < BATCH_HEADER_BYTES) {
    return { kind: 'bad-length', detail: `batchLength ${header.batchLength} is shorter than a batch header` };
  }
  if (totalBytes > present) {
    return { kind: 'truncated', detail: `batch needs ${totalBytes} bytes, ${present} present` };
  }
  if (header.magic !== RECORD_BATCH_MAGIC) {
    return { kind: 'bad-magic', detail: `magic ${header.magic}, expected ${RECORD_BATCH_MAGIC}` };
  }
  const computed = header.computeCrc();
  if (computed !== header.crc) {
    return { kind: 'bad-crc', detail: `stored CRC ${hex32(header.crc)}, computed ${hex32(computed)}` };
  }
  const recordCount = header.recordCount;
  if (recordCount < 0) {
    return { kind: 'bad-count', detail: `recordCount ${recordCount} is negative` };
  }
  if (recordCount > 0 && header.lastOffsetDelta + 1 !== recordCount) {
    return {
      kind: 'bad-count',
      detail: `lastOffsetDelta ${header.lastOffsetDelta} does not match recordCount ${recordCount}`,
    };
  }
  return null;
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}
