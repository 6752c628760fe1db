// Writes Kafka's primitive types (see byte-reader.ts for the grammar) into a list of chunks.
// Small values go into a growing scratch chunk; large byte fields (record batches) are kept by
// reference as their own chunk, so a Fetch response can hand the record bytes to `socket.writev`
// (or `Buffer.concat` once) without the codec copying them.

/** Byte fields at least this long are referenced, not copied. */
const ZERO_COPY_MIN_BYTES = 4096;
const INITIAL_CHUNK_BYTES = 512;

export class ByteWriter {
  private readonly done: Buffer[] = [];
  private chunk: Buffer;
  private position = 0;
  /** Bytes in `done`. */
  private doneBytes = 0;

  constructor(initialBytes = INITIAL_CHUNK_BYTES) {
    this.chunk = Buffer.allocUnsafe(Math.max(16, initialBytes));
  }

  get length(): number {
    return this.doneBytes + this.position;
  }

  private ensure(bytes: number): void {
    if (this.position + bytes <= this.chunk.length) return;
    if (this.position > 0) {
      this.done.push(this.chunk.subarray(0, this.position));
      this.doneBytes += this.position;
    }
    this.chunk = Buffer.allocUnsafe(Math.max(bytes, this.chunk.length * 2));
    this.position = 0;
  }

  int8(value: number): void {
    this.ensure(1);
    this.chunk.writeInt8(value, this.position);
    this.position += 1;
  }
  int16(value: number): void {
    this.ensure(2);
    this.chunk.writeInt16BE(value, this.position);
    this.position += 2;
  }
  uint16(value: number): void {
    this.ensure(2);
    this.chunk.writeUInt16BE(value, this.position);
    this.position += 2;
  }
  int32(value: number): void {
    this.ensure(4);
    this.chunk.writeInt32BE(value, this.position);
    this.position += 4;
  }
  uint32(value: number): void {
    this.ensure(4);
    this.chunk.writeUInt32BE(value, this.position);
    this.position += 4;
  }
  int64(value: bigint): void {
    this.ensure(8);
    this.chunk.writeBigInt64BE(value, this.position);
    this.position += 8;
  }
  float64(value: number): void {
    this.ensure(8);
    this.chunk.writeDoubleBE(value, this.position);
    this.position += 8;
  }
  bool(value: boolean): void {
    this.int8(value ? 1 : 0);
  }
  uuid(value: Uint8Array): void {
    if (value.length !== 16) throw new RangeError(`a UUID is 16 bytes, got ${value.length}`);
    this.ensure(16);
    this.chunk.set(value, this.position);
    this.position += 16;
  }

  uvarint(value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
      throw new RangeError(`uvarint out of range: ${value}`);
    this.ensure(5);
    while (value >= 0x80) {
      this.chunk[this.position++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.chunk[this.position++] = value;
  }
  varint(value: number): void {
    this.uvarint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  private utf8(value: string, lengthBytes: number): void {
    const length = Buffer.byteLength(value, 'utf8');
    if (lengthBytes === 2 && length > 0x7fff) throw new RangeError(`string of ${length} bytes exceeds INT16 length`);
    if (lengthBytes === 2) this.int16(length);
    else this.uvarint(length + 1);
    this.ensure(length);
    this.chunk.write(value, this.position, length, 'utf8');
    this.position += length;
  }

  string(value: string): void {
    this.utf8(value, 2);
  }
  nullableString(value: string | null): void {
    if (value === null) this.int16(-1);
    else this.utf8(value, 2);
  }
  compactString(value: string): void {
    this.utf8(value, 0);
  }
  compactNullableString(value: string | null): void {
    if (value === null) this.uvarint(0);
    else this.utf8(value, 0);
  }

  /** Appends bytes as they are: copied when small, referenced when large. */
  raw(value: Uint8Array): void {
    if (value.length >= ZERO_COPY_MIN_BYTES) {
      if (this.position > 0) {
        this.done.push(this.chunk.subarray(0, this.position));
        this.doneBytes += this.position;
        this.chunk = this.chunk.subarray(this.position);
        this.position = 0;
      }
      const asBuffer = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.length);
      this.done.push(asBuffer);
      this.doneBytes += value.length;
      return;
    }
    this.ensure(value.length);
    this.chunk.set(value, this.position);
    this.position += value.length;
  }

  bytes(value: Uint8Array): void {
    this.int32(value.length);
    this.raw(value);
  }
  nullableBytes(value: Uint8Array | null): void {
    if (value === null) this.int32(-1);
    else this.bytes(value);
  }
  compactBytes(value: Uint8Array): void {
    this.uvarint(value.length + 1);
    this.raw(value);
  }
  compactNullableBytes(value: Uint8Array | null): void {
    if (value === null) this.uvarint(0);
    else this.compactBytes(value);
  }

  /** Reserves 4 bytes to be filled later with `patchInt32` (e.g. a frame's size prefix). */
  reserveInt32(): { chunk: Buffer; position: number } {
    this.ensure(4);
    const mark = { chunk: this.chunk, position: this.position };
    this.position += 4;
    return mark;
  }
  patchInt32(mark: { chunk: Buffer; position: number }, value: number): void {
    mark.chunk.writeInt32BE(value, mark.position);
  }

  /** The written bytes as chunks, in order, without copying. The writer must not be used afterwards. */
  chunks(): Buffer[] {
    if (this.position > 0) {
      this.done.push(this.chunk.subarray(0, this.position));
      this.doneBytes += this.position;
      this.position = 0;
    }
    return this.done;
  }

  /** The written bytes as one Buffer (one copy unless there is a single chunk). */
  toBuffer(): Buffer {
    const chunks = this.chunks();
    if (chunks.length === 1) return chunks[0]!;
    return Buffer.concat(chunks, this.doneBytes);
  }
}
