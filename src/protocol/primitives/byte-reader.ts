import { DecodeError } from '../errors.js';

// Kafka's primitive types, read from a Buffer with every length checked against the bytes actually
// present, so a hostile length can neither read past the end nor make us allocate more than we hold.
//
// Grammar (https://kafka.apache.org/protocol#protocol_types):
//   INT8..INT64, UINT16, FLOAT64  big-endian fixed width
//   UNSIGNED_VARINT                7 bits per byte, low group first, at most 5 bytes for 32 bits
//   STRING / BYTES                 INT16 / INT32 length, then bytes; -1 = null where nullable
//   COMPACT_STRING / COMPACT_BYTES UNSIGNED_VARINT length+1, then bytes; 0 = null where nullable
//   ARRAY                          INT32 count (-1 = null);  COMPACT_ARRAY: UNSIGNED_VARINT count+1
//   UUID                           16 raw bytes

const UUID_BYTES = 16;

export class ByteReader {
  offset: number;
  readonly end: number;

  constructor(
    readonly buffer: Buffer,
    offset = 0,
    end = buffer.length,
    /** API name and version, only used to label errors. */
    readonly api = 'message',
    readonly version = 0,
  ) {
    if (offset < 0 || end > buffer.length || offset > end) throw new RangeError('reader window outside buffer');
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  fail(path: string, reason: string): never {
    throw new DecodeError(this.api, this.version, path, reason, this.offset);
  }

  private need(bytes: number, path: string): number {
    const at = this.offset;
    if (bytes > this.end - at) this.fail(path, `needs ${bytes} bytes, ${this.end - at} left`);
    this.offset = at + bytes;
    return at;
  }

  int8(path: string): number {
    return this.buffer.readInt8(this.need(1, path));
  }
  int16(path: string): number {
    return this.buffer.readInt16BE(this.need(2, path));
  }
  uint16(path: string): number {
    return this.buffer.readUInt16BE(this.need(2, path));
  }
  int32(path: string): number {
    return this.buffer.readInt32BE(this.need(4, path));
  }
  uint32(path: string): number {
    return this.buffer.readUInt32BE(this.need(4, path));
  }
  int64(path: string): bigint {
    return this.buffer.readBigInt64BE(this.need(8, path));
  }
  float64(path: string): number {
    return this.buffer.readDoubleBE(this.need(8, path));
  }
  bool(path: string): boolean {
    return this.buffer[this.need(1, path)] !== 0;
  }
  uuid(path: string): Buffer {
    const at = this.need(UUID_BYTES, path);
    return this.buffer.subarray(at, at + UUID_BYTES);
  }

  /** Unsigned varint of at most 32 bits (5 bytes). */
  uvarint(path: string): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.offset >= this.end) this.fail(path, 'unterminated varint');
      const byte = this.buffer[this.offset++]!;
      if (shift === 28 && byte > 0x0f) this.fail(path, 'varint does not fit in 32 bits');
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    return this.fail(path, 'varint longer than 5 bytes');
  }

  /** Zig-zag signed varint of at most 32 bits. */
  varint(path: string): number {
    const raw = this.uvarint(path);
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  private slice(length: number, path: string): Buffer {
    if (length < 0) this.fail(path, `negative length ${length}`);
    const at = this.need(length, path);
    return this.buffer.subarray(at, at + length);
  }

  string(path: string): string {
    const length = this.int16(path);
    if (length < 0) this.fail(path, 'null string where not nullable');
    return this.slice(length, path).toString('utf8');
  }
  nullableString(path: string): string | null {
    const length = this.int16(path);
    if (length === -1) return null;
    return this.slice(length, path).toString('utf8');
  }
  compactString(path: string): string {
    const length = this.uvarint(path) - 1;
    if (length < 0) this.fail(path, 'null string where not nullable');
    return this.slice(length, path).toString('utf8');
  }
  compactNullableString(path: string): string | null {
    const length = this.uvarint(path) - 1;
    if (length < 0) return null;
    return this.slice(length, path).toString('utf8');
  }

  /** Bytes are returned as a slice of the input buffer: no copy. */
  bytes(path: string): Buffer {
    const length = this.int32(path);
    if (length < 0) this.fail(path, 'null bytes where not nullable');
    return this.slice(length, path);
  }
  nullableBytes(path: string): Buffer | null {
    const length = this.int32(path);
    if (length === -1) return null;
    return this.slice(length, path);
  }
  compactBytes(path: string): Buffer {
    const length = this.uvarint(path) - 1;
    if (length < 0) this.fail(path, 'null bytes where not nullable');
    return this.slice(length, path);
  }
  compactNullableBytes(path: string): Buffer | null {
    const length = this.uvarint(path) - 1;
    if (length < 0) return null;
    return this.slice(length, path);
  }

  /**
   * An array count (INT32, -1 = null). The count is checked against the bytes left: every element
   * takes at least `minElementBytes`, so a hostile count cannot make the caller loop or allocate past
   * what the buffer could hold.
   */
  arrayLength(path: string, minElementBytes: number, nullable: boolean): number {
    const count = this.int32(path);
    return this.checkCount(count, path, minElementBytes, nullable);
  }
  compactArrayLength(path: string, minElementBytes: number, nullable: boolean): number {
    const count = this.uvarint(path) - 1;
    return this.checkCount(count, path, minElementBytes, nullable);
  }
  private checkCount(count: number, path: string, minElementBytes: number, nullable: boolean): number {
    if (count < 0) {
      if (count === -1 && nullable) return -1;
      this.fail(path, count === -1 ? 'null array where not nullable' : `negative array count ${count}`);
    }
    if (count * Math.max(1, minElementBytes) > this.end - this.offset) {
      this.fail(path, `array count ${count} larger than the ${this.end - this.offset} bytes left`);
    }
    return count;
  }

  skip(bytes: number, path: string): void {
    this.need(bytes, path);
  }
}
