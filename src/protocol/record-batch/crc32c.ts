// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of RecordBatch v2.
// Backed by @node-rs/crc32, which uses the SSE4.2/ARMv8 CRC instructions: a pure-TS table
// implementation runs several times slower (see bench/crc32c.ts), and the broker checks the
// CRC of every produced batch and every batch recovered from disk.
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/**
 * CRC-32C of `data`, as an unsigned 32-bit number.
 * `initial` is the CRC of the bytes before `data`, so a checksum can be computed in pieces:
 * `crc32c(b, crc32c(a)) === crc32c(concat(a, b))`.
 */
export function crc32c(data: Uint8Array, initial = 0): number {
  return nativeCrc32c(data, initial) >>> 0;
}
