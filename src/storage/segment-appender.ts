// Writes one segment's batches in order and makes them durable: the group commit.
//
// Appends queue up while a write is in flight and go out together in one writev; under `sync` every
// completed write joins the waiters of the next fdatasync, and a fdatasync takes everyone who is
// waiting when it starts. So with N appenders in flight a partition does about one write and one
// fdatasync per round trip of the disk, not N — durability costs latency, not throughput. Each
// partition has its own appender, so partitions write and flush in parallel.
//
// Offsets only become acknowledged in order, so an acknowledged offset never sits after a hole:
// a segment's first write waits until its predecessor (the segment that rolled) has written
// everything queued to it, and its flushes wait until the predecessor is sealed (durable).

import { invariant } from './errors.js';
import type { FileSystem } from './file-system.js';

interface PendingAppend {
  buffer: Buffer;
  endPosition: number;
  endOffset: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

export interface AppenderHooks {
  /** Bytes up to `position` (offsets below `nextOffset`) are in the file (page cache). */
  onWritten(position: number, nextOffset: number): void;
  /** Bytes up to `position` (offsets below `nextOffset`) are on stable storage. */
  onFlushed(position: number, nextOffset: number): void;
  /** A write or flush failed; everything pending has been rejected with `error`. */
  onFailure(error: Error): void;
}

export class SegmentAppender {
  private queue: PendingAppend[] = [];
  private awaitingFlush: PendingAppend[] = [];
  private writing = false;
  private flushing = false;
  /** flush() calls under way (the interval timer); idle() waits for them too. */
  private explicitFlushes = 0;
  private idleWaiters: (() => void)[] = [];
  private failure: Error | null = null;
  private retired = false;

  /** Position after the last byte handed to append(). */
  private queuedPosition: number;
  writtenPosition: number;
  writtenOffset: number;
  flushedPosition: number;
  flushedOffset: number;

  constructor(
    private readonly fileSystem: FileSystem,
    private readonly fd: Promise<number>,
    startPosition: number,
    startOffset: number,
    /** `sync`: resolve appends only after fdatasync. Otherwise after the write. */
    private readonly acknowledgeAfterSync: boolean,
    /** Resolves when the previous segment is sealed (durable); flushes wait for it. */
    private readonly predecessor: Promise<void>,
    /** Resolves when the previous segment's queued writes are done, with its failure if any;
     *  the first write waits for it. */
    private readonly predecessorWritten: Promise<Error | null>,
    private readonly hooks: AppenderHooks,
  ) {
    this.queuedPosition = startPosition;
    this.writtenPosition = startPosition;
    // Whether the bytes already in the file are durable is not this appender's knowledge (after a
    // truncation under `os` they may not be), so its first flush always fdatasyncs and reports.
    this.flushedPosition = -1;
    this.writtenOffset = startOffset;
    this.flushedOffset = startOffset;
  }

  get failed(): Error | null {
    return this.failure;
  }

  /** Queues `buffer` to be written right after everything queued before it. */
  append(buffer: Buffer, endOffset: number): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    this.queuedPosition += buffer.length;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ buffer, endPosition: this.queuedPosition, endOffset, resolve, reject });
      if (!this.writing) void this.writeLoop();
    });
  }

  private async writeLoop(): Promise<void> {
    this.writing = true;
    let group: PendingAppend[] = [];
    try {
      const fd = await this.fd;
      const predecessorFailure = await this.predecessorWritten;
      if (predecessorFailure !== null) throw predecessorFailure;
      while (this.queue.length > 0 && this.failure === null) {
        group = this.queue;
        this.queue = [];
        await this.fileSystem.writeAll(
          fd,
          group.map((pending) => pending.buffer),
          this.writtenPosition,
        );
        const last = group[group.length - 1]!;
        invariant(
          last.endPosition - this.writtenPosition === group.reduce((sum, pending) => sum + pending.buffer.length, 0),
          'appender positions drifted',
        );
        this.writtenPosition = last.endPosition;
        this.writtenOffset = last.endOffset;
        this.hooks.onWritten(this.writtenPosition, this.writtenOffset);
        if (this.acknowledgeAfterSync) {
          for (const pending of group) this.awaitingFlush.push(pending);
          if (!this.flushing) void this.flushLoop();
        } else {
          for (const pending of group) pending.resolve();
        }
        group = [];
      }
    } catch (error) {
      this.fail(error as Error, group);
    } finally {
      this.writing = false;
      this.notifyIdle();
    }
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    let waiters: PendingAppend[] = [];
    try {
      while (this.awaitingFlush.length > 0 && this.failure === null) {
        // Everyone whose write completed before this fdatasync starts is covered by it.
        waiters = this.awaitingFlush;
        this.awaitingFlush = [];
        await this.syncWritten();
        for (const pending of waiters) pending.resolve();
        waiters = [];
      }
    } catch (error) {
      this.fail(error as Error, waiters);
    } finally {
      this.flushing = false;
      this.notifyIdle();
    }
  }

  /** fdatasync everything written so far and report it flushed. */
  private async syncWritten(): Promise<void> {
    const position = this.writtenPosition;
    const offset = this.writtenOffset;
    if (position > this.flushedPosition) await this.fileSystem.fdatasync(await this.fd);
    await this.predecessor;
    if (position > this.flushedPosition || offset > this.flushedOffset) {
      this.flushedPosition = Math.max(this.flushedPosition, position);
      this.flushedOffset = Math.max(this.flushedOffset, offset);
      if (!this.retired) this.hooks.onFlushed(this.flushedPosition, this.flushedOffset);
    }
  }

  /** Makes everything written so far durable (the `interval` timer). Does not wait for writes
   *  still queued, so a steady stream of appends cannot starve it. */
  async flush(): Promise<void> {
    if (this.failure !== null) throw this.failure;
    this.explicitFlushes += 1;
    try {
      await this.syncWritten();
    } catch (error) {
      this.fail(error as Error);
      throw error;
    } finally {
      this.explicitFlushes -= 1;
      this.notifyIdle();
    }
  }

  /** Waits for every queued write, then makes it all durable (roll, close: nothing new arrives). */
  async drainAndFlush(): Promise<void> {
    await this.idle();
    await this.flush();
  }

  /** After this, flushes still under way report nothing (the log replaced this appender). */
  retire(): void {
    this.retired = true;
  }

  /** Resolves when nothing is being written or flushed. */
  idle(): Promise<void> {
    if (!this.busy()) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private busy(): boolean {
    return this.writing || this.flushing || this.explicitFlushes > 0 || this.queue.length > 0;
  }

  private notifyIdle(): void {
    if (this.busy()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private fail(error: Error, inFlight: PendingAppend[] = []): void {
    for (const entry of inFlight) entry.reject(this.failure ?? error);
    if (this.failure !== null) return;
    this.failure = error;
    const pending = [...this.awaitingFlush, ...this.queue];
    this.awaitingFlush = [];
    this.queue = [];
    for (const entry of pending) entry.reject(error);
    this.hooks.onFailure(error);
  }
}
