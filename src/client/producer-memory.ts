// The producer's buffer memory (`bufferBytesMax`): every message reserves its estimated size when it
// is appended and gives it back when its batch is settled, so a producer that sends faster than the
// broker acknowledges waits (or fails, `bufferFullAction: 'fail'`) instead of growing without bound.
//
// Waiters are served in order: while one waits, later reservations wait behind it, so a large
// message is not starved by small ones. A single message larger than the whole buffer still goes
// when nothing else is buffered (it could never fit otherwise).
import { BufferFullError } from './errors.js';

export class BufferMemory {
  private bufferedBytes = 0;
  private readonly waiters: Array<{ bytes: number; wake(): void }> = [];

  /** `onWait`: called before a reservation starts to wait (the producer sends its open batches). */
  constructor(
    private readonly bytesMax: number,
    private readonly fullAction: 'wait' | 'fail',
    private readonly waitMs: number,
    private readonly onWait: () => void,
  ) {}

  /** Reserves `bytes` if that needs no wait. */
  tryReserve(bytes: number): boolean {
    if (this.waiters.length > 0) return false;
    if (this.bufferedBytes + bytes <= this.bytesMax || this.bufferedBytes === 0) {
      this.bufferedBytes += bytes;
      return true;
    }
    return false;
  }

  /** Reserves `bytes`, waiting up to `waitMs` for room (or failing at once with `fullAction: 'fail'`). */
  async reserve(bytes: number): Promise<void> {
    if (this.tryReserve(bytes)) return;
    if (this.fullAction === 'fail')
      throw new BufferFullError(
        `the producer buffer is full (${this.bufferedBytes} of ${this.bytesMax} bytes waiting for acknowledgement)`,
      );
    this.onWait();
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        bytes,
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new BufferFullError(`the producer buffer stayed full for ${this.waitMs} ms`));
      }, this.waitMs);
      this.waiters.push(waiter);
    });
  }

  release(bytes: number): void {
    this.bufferedBytes -= bytes;
    while (this.waiters.length > 0) {
      const next = this.waiters[0]!;
      if (this.bufferedBytes + next.bytes > this.bytesMax && this.bufferedBytes > 0) break;
      this.waiters.shift();
      this.bufferedBytes += next.bytes;
      next.wake();
    }
  }

  /** Lets every waiting reservation go (the producer is closing). */
  wakeAll(): void {
    for (const waiter of this.waiters.splice(0)) waiter.wake();
  }
}
