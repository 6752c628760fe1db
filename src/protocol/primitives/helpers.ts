// Small shared pieces of the generated codecs.
import type { ByteReader } from './byte-reader.js';

export interface DecodeOptions {
  /** Accept bytes after the end of the message instead of raising a DecodeError. */
  allowTrailingBytes?: boolean;
}

/** Default for non-nullable bytes fields. Shared and never written to. */
export const EMPTY_BYTES: Buffer = Buffer.alloc(0);
/** The all-zero UUID Kafka uses for "no topic id". Shared and never written to. */
export const ZERO_UUID: Buffer = Buffer.alloc(16);

/** Reads an ARRAY / COMPACT_ARRAY whose elements are read by `readElement`. */
export function readArray<T>(
  r: ByteReader,
  compact: boolean,
  path: string,
  minElementBytes: number,
  readElement: () => T,
): T[] {
  const count = compact
    ? r.compactArrayLength(path, minElementBytes, false)
    : r.arrayLength(path, minElementBytes, false);
  const items = new Array<T>(count);
  for (let i = 0; i < count; i++) items[i] = readElement();
  return items;
}

/** As readArray, where a null array (count -1) is allowed when `nullable`. */
export function readNullableArray<T>(
  r: ByteReader,
  compact: boolean,
  path: string,
  minElementBytes: number,
  nullable: boolean,
  readElement: () => T,
): T[] | null {
  const count = compact
    ? r.compactArrayLength(path, minElementBytes, nullable)
    : r.arrayLength(path, minElementBytes, nullable);
  if (count < 0) return null;
  const items = new Array<T>(count);
  for (let i = 0; i < count; i++) items[i] = readElement();
  return items;
}
