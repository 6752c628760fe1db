// Zig-zag varints as used inside records (docs/record-batch.md §3): `varint` is a signed 32-bit
// value, `varlong` a signed 64-bit value, both zig-zag mapped (0, -1, 1, -2 … → 0, 1, 2, 3 …)
// and written 7 bits per byte, least significant group first, high bit = "more follows".
// (Flexible protocol versions use *unsigned* varints for lengths; those live in primitives/.)
// varlongs are returned as JS numbers and must be within ±2^52, ample for timestamp deltas.
import { RecordDecodeError } from './errors.js';

/** A read position inside a buffer; decoding functions advance `position`. */
export interface Cursor {
  position: number;
}

const VARINT_MAX_BYTES = 5;
const VARLONG_MAX_BYTES = 10;
const VARLONG_ZIGZAG_MAX = 2 ** 53;

export function readVarint(buffer: Uint8Array, cursor: Cursor, end: number): number {
  let position = cursor.position;
  if (position >= end) throw new RecordDecodeError('truncated varint', position);
  const first = buffer[position]!;
  if (first < 0x80) {
    cursor.position = position + 1;
    return (first >>> 1) ^ -(first & 1);
  }
  let value = 0;
  for (let i = 0; i < VARINT_MAX_BYTES; i++) {
    if (position >= end) throw new RecordDecodeError('truncated varint', position);
    const byte = buffer[position++]!;
    if (i === VARINT_MAX_BYTES - 1 && byte > 0x0f) {
      throw new RecordDecodeError('varint does not fit in 32 bits', position - 1);
    }
    value |= (byte & 0x7f) << (7 * i);
    if (byte < 0x80) {
      cursor.position = position;
      return (value >>> 1) ^ -(value & 1);
    }
  }
  throw new RecordDecodeError('varint longer than 5 bytes', position);
}

export function readVarlong(buffer: Uint8Array, cursor: Cursor, end: number): number {
  let position = cursor.position;
  let zigzag = 0;
  for (let i = 0; i < VARLONG_MAX_BYTES; i++) {
    if (position >= end) throw new RecordDecodeError('truncated varlong', position);
    const byte = buffer[position++]!;
    zigzag += (byte & 0x7f) * 2 ** (7 * i);
    if (byte < 0x80) {
      if (zigzag > VARLONG_ZIGZAG_MAX)
        throw new RecordDecodeError('varlong outside the safe-integer range', cursor.position);
      cursor.position = position;
      return zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2;
    }
  }
  throw new RecordDecodeError('varlong longer than 10 bytes', position);
}

export function sizeOfVarint(value: number): number {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  let bytes = 1;
  while (zigzag >= 0x80) {
    zigzag >>>= 7;
    bytes++;
  }
  return bytes;
}

export function sizeOfVarlong(value: number): number {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  let bytes = 1;
  while (zigzag >= 0x80) {
    zigzag = Math.floor(zigzag / 128);
    bytes++;
  }
  return bytes;
}

/** Writes `value` (an int32) at `position`; returns the position after it. */
export function writeVarint(buffer: Uint8Array, value: number, position: number): number {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  while (zigzag >= 0x80) {
    buffer[position++] = (zigzag & 0x7f) | 0x80;
    zigzag >>>= 7;
  }
  buffer[position++] = zigzag;
  return position;
}

/** Writes `value` (a safe integer) at `position`; returns the position after it. */
export function writeVarlong(buffer: Uint8Array, value: number, position: number): number {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  while (zigzag >= 0x80) {
    buffer[position++] = (zigzag % 128) | 0x80;
    zigzag = Math.floor(zigzag / 128);
  }
  buffer[position++] = zigzag;
  return position;
}
