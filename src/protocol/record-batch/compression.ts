// The five RecordBatch codecs (attributes bits 0-2), as Kafka clients write them:
//
//   gzip    one or more gzip members (RFC 1952)                                  node:zlib
//   snappy  the "xerial" stream of snappy-java (Java client, kafkajs plug-ins):   snappy (napi)
//             magic 82 'SNAPPY' 00 | int32 version 1 | int32 compatible 1 |
//             { int32 BE compressed length | raw snappy block }*
//           or a single raw snappy block (some non-Java clients). We accept both, write xerial.
//   lz4     the LZ4 *frame* format (magic 0x184D2204), little-endian sizes:       lz4-napi blocks,
//             magic | FLG | BD | [content size u64] | [dict id u32] | HC |          our framing
//             { u32 size (bit 31 = stored) | block | [u32 block checksum] }* | u32 0 | [u32 checksum]
//   zstd    standard zstd frames (RFC 8878)                                      zstd-napi
//
// Decompression is bounded: as soon as the output would exceed `maxDecompressedBytes` it stops
// with DecompressionLimitError, before allocating the oversize output. Declared sizes (snappy's
// length preamble, LZ4's content size) are checked before anything is allocated; gzip and zstd
// are inflated in bounded steps. The xxHash checksums inside LZ4 frames are not verified: the
// batch's CRC-32C already covers every compressed byte.
import { constants as bufferConstants } from 'node:buffer';
import { createRequire } from 'node:module';
import { gunzip, gunzipSync, gzip, gzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import { compressSync as snappyCompressSync, uncompressSync as snappyUncompressSync } from 'snappy';
import { compressSync as lz4CompressBlockSync } from 'lz4-napi';
import { compress as zstdCompressSync } from 'zstd-napi';
import type * as ZstdBinding from 'zstd-napi/binding.js';
import { Compression } from './header.js';
import { DecompressionError, DecompressionLimitError } from './errors.js';

const zstdBinding = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof ZstdBinding;
const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export function compressionName(codec: Compression): string {
  switch (codec) {
    case Compression.None:
      return 'none';
    case Compression.Gzip:
      return 'gzip';
    case Compression.Snappy:
      return 'snappy';
    case Compression.Lz4:
      return 'lz4';
    case Compression.Zstd:
      return 'zstd';
    default:
      return `unknown codec ${codec as number}`;
  }
}

/**
 * Compresses `data` with `codec` in the form Kafka clients expect inside a batch. `level` (Kafka's
 * compression.gzip.level / compression.zstd.level) is the codec's own level: gzip -1 (zlib's default)
 * or 1-9, zstd as zstd numbers them; null for the codec's default. snappy has no levels, and lz4-napi
 * writes only LZ4's fast mode, so an lz4 level is not applied (the data stays valid LZ4 either way).
 */
export function compressSync(codec: Compression, data: Uint8Array, level: number | null = null): Buffer {
  switch (codec) {
    case Compression.None:
      return Buffer.from(data);
    case Compression.Gzip:
      return level === null ? gzipSync(data) : gzipSync(data, { level });
    case Compression.Snappy:
      return xerialCompress(data);
    case Compression.Lz4:
      return lz4FrameCompress(data);
    case Compression.Zstd:
      return level === null ? zstdCompressSync(data) : zstdCompressSync(data, { compressionLevel: level });
    default:
      throw new RangeError(`cannot compress with unknown codec ${codec as number}`);
  }
}

/** As compressSync; gzip runs on the libuv thread pool, the other codecs are fast enough to run inline. */
export async function compress(codec: Compression, data: Uint8Array): Promise<Buffer> {
  if (codec === Compression.Gzip) return gzipAsync(data);
  return compressSync(codec, data);
}

/**
 * Decompresses `data`. Throws DecompressionLimitError when the output would exceed
 * `maxDecompressedBytes`, DecompressionError when the data does not decode.
 */
export function decompressSync(codec: Compression, data: Uint8Array, maxDecompressedBytes: number): Buffer {
  checkLimit(maxDecompressedBytes);
  switch (codec) {
    case Compression.None:
      if (data.length > maxDecompressedBytes) throw new DecompressionLimitError('none', maxDecompressedBytes);
      return Buffer.from(data);
    case Compression.Gzip:
      try {
        return checkGzipOutput(
          gunzipSync(data, { maxOutputLength: zlibOutputCap(maxDecompressedBytes) }),
          maxDecompressedBytes,
        );
      } catch (error) {
        throw gzipError(error, maxDecompressedBytes);
      }
    case Compression.Snappy:
      return snappyDecompress(data, maxDecompressedBytes);
    case Compression.Lz4:
      return lz4FrameDecompress(data, maxDecompressedBytes);
    case Compression.Zstd:
      return zstdDecompress(data, maxDecompressedBytes);
    default:
      throw new DecompressionError(compressionName(codec), 'unknown compression codec');
  }
}

/** As decompressSync; gzip inflates on the libuv thread pool. */
export async function decompress(codec: Compression, data: Uint8Array, maxDecompressedBytes: number): Promise<Buffer> {
  if (codec === Compression.Gzip) {
    checkLimit(maxDecompressedBytes);
    try {
      return checkGzipOutput(
        await gunzipAsync(data, { maxOutputLength: zlibOutputCap(maxDecompressedBytes) }),
        maxDecompressedBytes,
      );
    } catch (error) {
      throw gzipError(error, maxDecompressedBytes);
    }
  }
  return decompressSync(codec, data, maxDecompressedBytes);
}

function checkLimit(maxDecompressedBytes: number): void {
  if (!Number.isSafeInteger(maxDecompressedBytes) || maxDecompressedBytes < 0) {
    throw new RangeError(`maxDecompressedBytes must be a non-negative integer, got ${maxDecompressedBytes}`);
  }
}

/** zlib accepts a maxOutputLength in [1, buffer.constants.MAX_LENGTH]; a limit of 0 is enforced by checkGzipOutput. */
function zlibOutputCap(maxDecompressedBytes: number): number {
  return Math.min(Math.max(maxDecompressedBytes, 1), bufferConstants.MAX_LENGTH);
}

/** zlib's maxOutputLength must be at least 1, so a limit of 0 is enforced here. */
function checkGzipOutput(output: Buffer, maxDecompressedBytes: number): Buffer {
  if (output.length > maxDecompressedBytes) throw new DecompressionLimitError('gzip', maxDecompressedBytes);
  return output;
}

function gzipError(error: unknown, maxDecompressedBytes: number): Error {
  if (error instanceof DecompressionLimitError) return error;
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_BUFFER_TOO_LARGE') return new DecompressionLimitError('gzip', maxDecompressedBytes);
  return new DecompressionError('gzip', error instanceof Error ? error.message : String(error));
}

// ---------------------------------------------------------------- snappy

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
const XERIAL_VERSION = 1;
const XERIAL_COMPATIBLE_VERSION = 1;
/** snappy-java's default block size; each block is compressed independently. */
const XERIAL_BLOCK_BYTES = 32 * 1024;

function xerialCompress(data: Uint8Array): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_COMPATIBLE_VERSION, 12);
  parts.push(header);
  for (let start = 0; start < data.length; start += XERIAL_BLOCK_BYTES) {
    const block = snappyCompressSync(data.subarray(start, Math.min(start + XERIAL_BLOCK_BYTES, data.length)));
    const length = Buffer.allocUnsafe(4);
    length.writeInt32BE(block.length, 0);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

function isXerial(data: Uint8Array): boolean {
  if (data.length < XERIAL_HEADER_BYTES) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (data[i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

function snappyDecompress(data: Uint8Array, maxDecompressedBytes: number): Buffer {
  if (!isXerial(data)) return snappyBlock(data, maxDecompressedBytes);
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const parts: Buffer[] = [];
  let total = 0;
  let position = XERIAL_HEADER_BYTES;
  while (position < view.length) {
    if (position + 4 > view.length)
      throw new DecompressionError('snappy', `truncated xerial block length at byte ${position}`);
    const blockLength = view.readInt32BE(position);
    position += 4;
    if (blockLength < 0 || position + blockLength > view.length) {
      throw new DecompressionError(
        'snappy',
        `xerial block of ${blockLength} bytes at byte ${position} overruns the data`,
      );
    }
    const part = snappyBlock(
      view.subarray(position, position + blockLength),
      maxDecompressedBytes - total,
      maxDecompressedBytes,
    );
    total += part.length;
    parts.push(part);
    position += blockLength;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

/** One raw snappy block; its length preamble (unsigned LEB128) is checked before the native call allocates. */
function snappyBlock(block: Uint8Array, remainingBytes: number, maxDecompressedBytes = remainingBytes): Buffer {
  let declared = 0;
  let position = 0;
  for (let shift = 0; ; shift += 7) {
    if (position >= block.length || shift > 28) throw new DecompressionError('snappy', 'bad length preamble');
    const byte = block[position++]!;
    declared += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
  }
  if (declared > remainingBytes) throw new DecompressionLimitError('snappy', maxDecompressedBytes);
  let output: Buffer;
  try {
    output = snappyUncompressSync(block, { asBuffer: true }) as Buffer;
  } catch (error) {
    throw new DecompressionError('snappy', error instanceof Error ? error.message : String(error));
  }
  if (output.length !== declared) {
    throw new DecompressionError('snappy', `block declared ${declared} bytes and produced ${output.length}`);
  }
  return output;
}

// ---------------------------------------------------------------- lz4

const LZ4_FRAME_MAGIC = 0x184d2204;
const LZ4_SKIPPABLE_MAGIC_MIN = 0x184d2a50;
const LZ4_SKIPPABLE_MAGIC_MAX = 0x184d2a5f;
/** The frame header Kafka's Java client writes: version 1, independent blocks, no checksums, 64 KiB blocks. */
const LZ4_KAFKA_FRAME_HEADER = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
const LZ4_KAFKA_BLOCK_BYTES = 64 * 1024;
const LZ4_STORED_BLOCK_FLAG = 0x80000000;
const LZ4_FLG_VERSION_MASK = 0xc0;
const LZ4_FLG_VERSION_1 = 0x40;
const LZ4_FLG_BLOCK_CHECKSUM = 0x10;
const LZ4_FLG_CONTENT_SIZE = 0x08;
const LZ4_FLG_CONTENT_CHECKSUM = 0x04;
const LZ4_FLG_DICTIONARY_ID = 0x01;
/** A match can only produce output from earlier output, so a block expands at most ~255x. */
const LZ4_MAX_EXPANSION = 256;
/** Below this many bytes a plain loop beats a native copy call. */
const SHORT_COPY_BYTES = 32;

function lz4FrameCompress(data: Uint8Array): Buffer {
  const parts: Buffer[] = [LZ4_KAFKA_FRAME_HEADER];
  for (let start = 0; start < data.length; start += LZ4_KAFKA_BLOCK_BYTES) {
    const chunk = Buffer.from(
      data.buffer,
      data.byteOffset + start,
      Math.min(LZ4_KAFKA_BLOCK_BYTES, data.length - start),
    );
    // lz4-napi's compressSync returns a raw LZ4 block after a 4-byte little-endian size prefix.
    const compressed = lz4CompressBlockSync(chunk).subarray(4);
    const size = Buffer.allocUnsafe(4);
    if (compressed.length < chunk.length) {
      size.writeUInt32LE(compressed.length, 0);
      parts.push(size, compressed);
    } else {
      size.writeUInt32LE((chunk.length | LZ4_STORED_BLOCK_FLAG) >>> 0, 0);
      parts.push(size, chunk);
    }
  }
  parts.push(Buffer.alloc(4)); // end mark
  return Buffer.concat(parts);
}

function lz4FrameDecompress(data: Uint8Array, maxDecompressedBytes: number): Buffer {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const fail = (reason: string): never => {
    throw new DecompressionError('lz4', reason);
  };
  const parts: Buffer[] = [];
  let total = 0;
  let position = 0;
  if (view.length === 0) fail('empty input');
  while (position < view.length) {
    if (position + 4 > view.length) fail(`truncated magic at byte ${position}`);
    const magic = view.readUInt32LE(position);
    position += 4;
    if (magic >= LZ4_SKIPPABLE_MAGIC_MIN && magic <= LZ4_SKIPPABLE_MAGIC_MAX) {
      if (position + 4 > view.length) fail('truncated skippable frame');
      position += 4 + view.readUInt32LE(position);
      if (position > view.length) fail('truncated skippable frame');
      continue;
    }
    if (magic !== LZ4_FRAME_MAGIC) fail(`bad frame magic 0x${magic.toString(16)} (a legacy or raw LZ4 block?)`);
    if (position + 3 > view.length) fail('truncated frame descriptor');
    const flags = view[position]!;
    const blockDescriptor = view[position + 1]!;
    position += 2;
    if ((flags & LZ4_FLG_VERSION_MASK) !== LZ4_FLG_VERSION_1)
      fail(`unsupported frame version in FLG 0x${flags.toString(16)}`);
    if (flags & LZ4_FLG_DICTIONARY_ID) fail('frames with a dictionary are not supported');
    const blockSizeCode = (blockDescriptor >> 4) & 0x07;
    if (blockSizeCode < 4) fail(`bad block maximum size code ${blockSizeCode}`);
    const blockMaxBytes = 1 << (2 * blockSizeCode + 8); // 4 → 64 KiB … 7 → 4 MiB
    if (flags & LZ4_FLG_CONTENT_SIZE) {
      if (position + 8 > view.length) fail('truncated content size');
      const contentBytes = view.readUInt32LE(position) + view.readUInt32LE(position + 4) * 2 ** 32;
      if (contentBytes > maxDecompressedBytes - total) throw new DecompressionLimitError('lz4', maxDecompressedBytes);
      position += 8;
    }
    position += 1; // header checksum: not verified, the batch CRC covers these bytes
    const blockChecksumBytes = flags & LZ4_FLG_BLOCK_CHECKSUM ? 4 : 0;
    for (;;) {
      if (position + 4 > view.length) fail('truncated block size (no end mark)');
      const word = view.readUInt32LE(position);
      position += 4;
      if (word === 0) break;
      const stored = (word & LZ4_STORED_BLOCK_FLAG) !== 0;
      const blockBytes = word & 0x7fffffff;
      if (blockBytes > blockMaxBytes) fail(`block of ${blockBytes} bytes exceeds the frame's maximum ${blockMaxBytes}`);
      if (position + blockBytes + blockChecksumBytes > view.length) fail('truncated block');
      const block = view.subarray(position, position + blockBytes);
      position += blockBytes + blockChecksumBytes;
      let part: Buffer;
      if (stored) {
        if (blockBytes > maxDecompressedBytes - total) throw new DecompressionLimitError('lz4', maxDecompressedBytes);
        part = Buffer.from(block);
      } else {
        part = lz4DecodeBlock(block, blockMaxBytes, maxDecompressedBytes - total, maxDecompressedBytes);
      }
      total += part.length;
      parts.push(part);
    }
    if (flags & LZ4_FLG_CONTENT_CHECKSUM) {
      if (position + 4 > view.length) fail('truncated content checksum');
      position += 4;
    }
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

/**
 * Decodes one raw LZ4 block (sequences of token | literals | offset | match) into a fresh
 * buffer no larger than the block maximum or the remaining allowance. Written in TypeScript
 * so every read and write is bounds-checked by us.
 */
export function lz4DecodeBlock(
  block: Uint8Array,
  blockMaxBytes: number,
  remainingBytes: number,
  maxDecompressedBytes = remainingBytes,
): Buffer {
  const fail = (reason: string): never => {
    throw new DecompressionError('lz4', reason);
  };
  const structuralCapacity = Math.min(blockMaxBytes, block.length * LZ4_MAX_EXPANSION + 16);
  const capacity = Math.min(structuralCapacity, remainingBytes);
  const output = Buffer.allocUnsafe(capacity);
  const overflow = (): never => {
    if (remainingBytes < structuralCapacity) throw new DecompressionLimitError('lz4', maxDecompressedBytes);
    return fail('block decodes to more than its maximum size');
  };
  const end = block.length;
  let input = 0;
  let out = 0;
  for (;;) {
    if (input >= end) fail('block ends with a match instead of literals');
    const token = block[input++]!;
    let literalBytes = token >>> 4;
    if (literalBytes === 15) {
      let byte: number;
      do {
        if (input >= end) fail('truncated literal length');
        byte = block[input++]!;
        literalBytes += byte;
      } while (byte === 255);
    }
    if (input + literalBytes > end) fail('literals overrun the block');
    if (out + literalBytes > capacity) overflow();
    if (literalBytes < SHORT_COPY_BYTES) {
      for (let i = 0; i < literalBytes; i++) output[out + i] = block[input + i]!;
    } else {
      output.set(block.subarray(input, input + literalBytes), out);
    }
    input += literalBytes;
    out += literalBytes;
    if (input === end) break; // the last sequence has literals only
    if (input + 2 > end) fail('truncated match offset');
    const distance = block[input]! | (block[input + 1]! << 8);
    input += 2;
    if (distance === 0 || distance > out) fail(`match offset ${distance} points before the block start`);
    let matchBytes = token & 0x0f;
    if (matchBytes === 15) {
      let byte: number;
      do {
        if (input >= end) fail('truncated match length');
        byte = block[input++]!;
        matchBytes += byte;
      } while (byte === 255);
    }
    matchBytes += 4;
    if (out + matchBytes > capacity) overflow();
    const from = out - distance;
    if (matchBytes < SHORT_COPY_BYTES) {
      // Byte by byte is right for overlapping matches too: each byte copied is already final.
      for (let i = 0; i < matchBytes; i++) output[out + i] = output[from + i]!;
      out += matchBytes;
    } else if (distance >= matchBytes) {
      output.copyWithin(out, from, from + matchBytes);
      out += matchBytes;
    } else {
      // Overlapping match: a repeating pattern of `distance` bytes; copy in doubling runs.
      const stop = out + matchBytes;
      while (out < stop) {
        const run = Math.min(out - from, stop - out);
        output.copyWithin(out, from, from + run);
        out += run;
      }
    }
  }
  return output.subarray(0, out);
}

// ---------------------------------------------------------------- zstd

const ZSTD_OUTPUT_CHUNK_BYTES = 128 * 1024;
/**
 * The decoder allocates the window a frame asks for. Level 19 and below use at most 2^23 (8 MiB);
 * beyond that only "ultra"/long-distance modes, which need a larger limit to be accepted anyway.
 */
const ZSTD_WINDOW_LOG_FLOOR = 23;
const ZSTD_WINDOW_LOG_CEILING = 27;

function zstdWindowLogMax(maxDecompressedBytes: number): number {
  const needed = Math.ceil(Math.log2(Math.max(maxDecompressedBytes, 1)));
  return Math.min(ZSTD_WINDOW_LOG_CEILING, Math.max(ZSTD_WINDOW_LOG_FLOOR, needed));
}

let sharedZstdContext: ZstdBinding.DCtx | undefined;

/** One decompression context for the process, reset before each use (decoding is synchronous). */
function zstdContext(): ZstdBinding.DCtx {
  sharedZstdContext ??= new zstdBinding.DCtx();
  return sharedZstdContext;
}

function zstdDecompress(data: Uint8Array, maxDecompressedBytes: number): Buffer {
  if (data.length === 0) throw new DecompressionError('zstd', 'empty input');
  // A declared content size over the limit is refused before anything is inflated.
  let declared: number | null = null;
  try {
    declared = zstdBinding.getFrameContentSize(data);
  } catch {
    declared = null; // not a regular frame first (skippable, or bad): the stream below decides
  }
  if (declared !== null && declared > maxDecompressedBytes)
    throw new DecompressionLimitError('zstd', maxDecompressedBytes);

  const context = zstdContext();
  context.reset(zstdBinding.ResetDirective.sessionAndParameters);
  context.setParameter(zstdBinding.DParameter.windowLogMax, zstdWindowLogMax(maxDecompressedBytes));
  const parts: Buffer[] = [];
  let total = 0;
  let input = 0;
  let chunk = Buffer.allocUnsafe(Math.min(ZSTD_OUTPUT_CHUNK_BYTES, maxDecompressedBytes + 1));
  let chunkUsed = 0;
  for (;;) {
    let result: [number, number, number];
    try {
      result = context.decompressStream(chunk.subarray(chunkUsed), data.subarray(input));
    } catch (error) {
      throw new DecompressionError('zstd', error instanceof Error ? error.message : String(error));
    }
    const [hint, produced, consumed] = result;
    input += consumed;
    chunkUsed += produced;
    total += produced;
    if (total > maxDecompressedBytes) throw new DecompressionLimitError('zstd', maxDecompressedBytes);
    // hint 0: the current frame is decoded and fully flushed; with no input left we are done.
    if (input === data.length && hint === 0) break;
    if (chunkUsed === chunk.length) {
      parts.push(chunk);
      chunk = Buffer.allocUnsafe(Math.min(ZSTD_OUTPUT_CHUNK_BYTES, maxDecompressedBytes - total + 1));
      chunkUsed = 0;
      continue;
    }
    if (produced === 0 && consumed === 0) {
      throw new DecompressionError('zstd', input === data.length ? 'truncated frame' : 'no progress');
    }
  }
  if (chunkUsed > 0) parts.push(chunk.subarray(0, chunkUsed));
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}
