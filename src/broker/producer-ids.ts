// Producer ids for InitProducerId (idempotent producers), unique across restarts and crashes.
//
// Kafka's controller hands brokers blocks of 1000 ids and records each block in its metadata log
// before any id of it is used (KIP-730). A single Sluice node does the same against one small file
// in the data directory:
//
//   producer-ids.properties   next.block.start=<first id of the next block never handed out>
//
// Before the first id of a block is returned, the block's end is written with writeFileDurably
// (temp file, fsync, rename, fsync dir). A crash at any moment therefore leaves a file whose value
// is at or above every id ever returned, and the next open starts from it: ids are never reused.
// The price of a crash is at most one block of ids skipped, which is why blocks stay small.
import { join } from 'node:path';
import { readTextIfExists, writeFileDurably } from '../storage/durable-files.js';
import { DataDirError, parseProperties } from './data-dir.js';

export const PRODUCER_IDS_FILE_NAME = 'producer-ids.properties';
/** Ids reserved per durable write: Kafka's block size. One fsync per 1000 InitProducerId calls, and at
 *  most 1000 ids skipped by a crash, out of 2^53. */
export const PRODUCER_ID_BLOCK_SIZE = 1000;

const NEXT_BLOCK_KEY = 'next.block.start';

export interface ProducerIdAllocatorOptions {
  /** Ids reserved per durable write (tests use small blocks). */
  blockSize?: number;
  /**
   * Where blocks come from when the ids must be unique across brokers (a cluster: src/cluster/ reserves
   * them in etcd, as Kafka's controller does with AllocateProducerIds). Resolves with the first id of a
   * block of `size` ids no other broker was or will be given. Default: this data directory's file.
   */
  reserveBlock?: (size: number) => Promise<number>;
}

export class ProducerIdAllocator {
  private nextId: number;
  /** Ids below this are reserved on disk; `nextId < blockEnd` means an id can be handed out without I/O. */
  private blockEnd: number;
  /** The reservation of the next block under way: callers that find the block used up wait for it. */
  private reserving: Promise<void> | undefined;

  private constructor(
    private readonly dataDir: string,
    start: number,
    private readonly blockSize: number,
    private readonly shared?: (size: number) => Promise<number>,
  ) {
    this.nextId = start;
    this.blockEnd = start;
  }

  /** Reads where the last run stopped reserving (0 on a fresh data directory). Refuses an unreadable file
   *  rather than guessing, since a guess could hand an id out twice. */
  static async open(dataDir: string, options: ProducerIdAllocatorOptions = {}): Promise<ProducerIdAllocator> {
    const blockSize = options.blockSize ?? PRODUCER_ID_BLOCK_SIZE;
    if (!Number.isSafeInteger(blockSize) || blockSize < 1)
      throw new RangeError(`producer id block size must be a positive integer, got ${blockSize}`);
    if (options.reserveBlock !== undefined) return new ProducerIdAllocator(dataDir, 0, blockSize, options.reserveBlock);
    const path = join(dataDir, PRODUCER_IDS_FILE_NAME);
    const text = await readTextIfExists(path);
    if (text === null) return new ProducerIdAllocator(dataDir, 0, blockSize);
    const value = parseProperties(text)[NEXT_BLOCK_KEY];
    const start = value !== undefined && /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(start)) {
      throw new DataDirError(
        `${path} does not hold a valid ${NEXT_BLOCK_KEY}; refusing to allocate producer ids that might repeat`,
      );
    }
    return new ProducerIdAllocator(dataDir, start, blockSize);
  }

  /** The next unused producer id. Writes the file durably once per block; the other 999 calls of a
   *  block resolve without I/O. */
  async next(): Promise<number> {
    while (this.nextId >= this.blockEnd) {
      this.reserving ??= this.reserveBlock().finally(() => (this.reserving = undefined));
      await this.reserving;
    }
    const id = this.nextId;
    this.nextId += 1;
    return id;
  }

  /** The first id the next run may use if this one stopped now: everything below is possibly handed out. */
  get reservedEnd(): number {
    return this.blockEnd;
  }

  private async reserveBlock(): Promise<void> {
    if (this.shared !== undefined) {
      const start = await this.shared(this.blockSize);
      this.nextId = start;
      this.blockEnd = start + this.blockSize;
      return;
    }
    const end = this.nextId + this.blockSize;
    if (!Number.isSafeInteger(end))
      throw new DataDirError('producer ids exhausted: the next block would pass 2^53 - 1');
    await writeFileDurably(
      join(this.dataDir, PRODUCER_IDS_FILE_NAME),
      `# written by sluice: producer ids below next.block.start may have been handed out; do not edit\n` +
        `${NEXT_BLOCK_KEY}=${end}\n`,
    );
    this.blockEnd = end;
  }
}
