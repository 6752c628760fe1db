// Reads a segment file front to back in large chunks and hands out views of whole batch headers
// or whole batches, so a walk over thousands of batches costs a handful of read calls.

import { BATCH_HEADER_BYTES } from '../protocol/record-batch/header.js';
import { readFully, type FileSystem } from './file-system.js';

export interface FileView {
  buffer: Buffer;
  /** Where `position` sits inside `buffer`. */
  offset: number;
  /** Bytes of the file from `position` present in `buffer` (fewer than asked only at the end). */
  available: number;
}

export class ChunkReader {
  private buffer: Buffer = Buffer.alloc(0);
  private start = 0;
  private length = 0;

  constructor(
    private readonly fileSystem: FileSystem,
    private readonly fd: number,
    /** Nothing at or past this position is read. */
    private readonly end: number,
    private readonly chunkBytes: number,
  ) {}

  /** A view of at least `length` bytes at `position`, or of all bytes up to the end. */
  async view(position: number, length: number): Promise<FileView> {
    const wanted = Math.min(length, this.end - position);
    if (position < this.start || position + wanted > this.start + this.length) {
      const size = Math.min(Math.max(this.chunkBytes, wanted), this.end - position);
      if (this.buffer.length < size) this.buffer = Buffer.allocUnsafe(size);
      this.start = position;
      this.length = await readFully(this.fileSystem, this.fd, this.buffer, size, position);
    }
    const offset = position - this.start;
    return { buffer: this.buffer, offset, available: Math.max(0, this.length - offset) };
  }

  /** A view holding at least a whole batch header at `position` (fewer bytes only at the end). */
  header(position: number): Promise<FileView> {
    return this.view(position, BATCH_HEADER_BYTES);
  }
}
