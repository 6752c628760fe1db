// Errors raised while decoding record batches. All of them mean "the bytes are bad"
// (a client's fault on produce, corruption on recovery) and map to CORRUPT_MESSAGE.

/** A record, a varint or a length inside a batch that does not parse. `position` is the byte where parsing stopped. */
export class RecordDecodeError extends Error {
  override readonly name = 'RecordDecodeError';
  constructor(
    readonly reason: string,
    readonly position: number,
  ) {
    super(`cannot decode record batch (byte ${position}): ${reason}`);
  }
}

/** Decompression stopped because the output would exceed the allowed size (a "zip bomb" or an oversize batch). */
export class DecompressionLimitError extends Error {
  override readonly name = 'DecompressionLimitError';
  constructor(
    readonly codec: string,
    readonly maxDecompressedBytes: number,
  ) {
    super(`${codec} data decompresses to more than ${maxDecompressedBytes} bytes`);
  }
}

/** Compressed data that the codec cannot decompress (bad framing, bad checksum, truncated stream). */
export class DecompressionError extends Error {
  override readonly name = 'DecompressionError';
  constructor(
    readonly codec: string,
    readonly reason: string,
  ) {
    super(`cannot decompress ${codec} data: ${reason}`);
  }
}
