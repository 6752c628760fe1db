// The broker-wide budget of request bytes held in memory (`queued.max.request.bytes`): a frame is
// counted from the moment its size prefix has been read until its request has been answered, so the
// budget covers frames being received, requests waiting in a handler (a Produce waiting for fsync, a
// parked Fetch) and responses not yet handed to the socket.
//
// A connection reserves a whole frame at once, as soon as it knows the frame's size, before reading
// its body. A reserved frame can always be completed (it needs only bytes from its own socket), so
// the budget cannot deadlock the way counting bytes as they arrive could (many connections each
// holding half a frame and waiting for room). When the budget is spent, a connection stops reading
// and waits its turn; waiters are served in the order they asked. With nothing reserved, any frame
// fits, so a frame larger than the budget is still served, alone.
//
// A size prefix costs the client four bytes, so frames still arriving ("announced") may together hold
// only `announcedShare` of the budget: six connections that each announce 100 MiB and send nothing
// more cannot take the whole budget and lock out the requests that did arrive. A frame whose bytes
// are all there when it is reserved is "arrived" and may use the whole budget; an announced frame
// becomes arrived when its last byte comes (`arrived()`), and the connection closes a frame that
// does not complete within `sluice.request.receive.timeout.ms`, so a stalled client holds its share
// for a bounded time.

export type FrameState = 'announced' | 'arrived';

interface Waiter {
  bytes: number;
  state: FrameState;
  granted: () => void;
}

/** Frames still arriving may hold this fraction of the budget. */
const ANNOUNCED_SHARE = 0.5;

export class RequestMemory {
  private reservedBytes = 0;
  private announcedBytes = 0;
  private readonly announcedMax: number;
  private readonly waiting: Waiter[] = [];

  constructor(readonly bytesMax: number) {
    this.announcedMax = Math.floor(bytesMax * ANNOUNCED_SHARE);
  }

  /** Bytes reserved, arrived or not. */
  get reserved(): number {
    return this.reservedBytes;
  }

  /** Bytes reserved for frames still arriving. */
  get announced(): number {
    return this.announcedBytes;
  }

  get waiters(): number {
    return this.waiting.length;
  }

  /** Reserves `bytes` if they fit (and nobody of the same kind queued before), else returns false. */
  tryReserve(bytes: number, state: FrameState): boolean {
    if (this.waiting.some((waiter) => waiter.state === state || state === 'announced') || !this.fits(bytes, state))
      return false;
    this.take(bytes, state);
    return true;
  }

  /** Calls `granted` (from a microtask, never from inside the caller) once `bytes` are reserved for it.
   *  Returns a function that withdraws the request if it has not been granted yet. */
  reserveLater(bytes: number, state: FrameState, granted: () => void): () => void {
    const waiter: Waiter = { bytes, state, granted };
    this.waiting.push(waiter);
    queueMicrotask(() => this.grant());
    return () => {
      const at = this.waiting.indexOf(waiter);
      if (at >= 0) this.waiting.splice(at, 1);
      queueMicrotask(() => this.grant());
    };
  }

  /** An announced frame's last byte came: its bytes count as arrived from now on. */
  arrived(bytes: number): void {
    this.announcedBytes -= bytes;
    this.check();
    if (this.waiting.length > 0) queueMicrotask(() => this.grant());
  }

  release(bytes: number, state: FrameState = 'arrived'): void {
    if (bytes <= 0) return;
    this.reservedBytes -= bytes;
    if (state === 'announced') this.announcedBytes -= bytes;
    this.check();
    if (this.waiting.length > 0) queueMicrotask(() => this.grant());
  }

  private check(): void {
    if (this.reservedBytes < 0 || this.announcedBytes < 0 || this.announcedBytes > this.reservedBytes) {
      throw new Error(
        `request memory accounting broken: ${this.reservedBytes} reserved, ${this.announcedBytes} announced`,
      );
    }
  }

  private fits(bytes: number, state: FrameState): boolean {
    const inBudget = this.reservedBytes === 0 || this.reservedBytes + bytes <= this.bytesMax;
    if (state === 'arrived') return inBudget;
    return inBudget && (this.announcedBytes === 0 || this.announcedBytes + bytes <= this.announcedMax);
  }

  private take(bytes: number, state: FrameState): void {
    this.reservedBytes += bytes;
    if (state === 'announced') this.announcedBytes += bytes;
  }

  /** Serves waiters in order, each kind in its own order: an arrived frame is not held up behind an
   *  announced one that waits for the announced share. Runs from a microtask so a release never calls
   *  into another connection's pump on the caller's stack. */
  private grant(): void {
    let announcedBlocked = false;
    for (let at = 0; at < this.waiting.length;) {
      const waiter = this.waiting[at]!;
      const blocked = waiter.state === 'announced' && announcedBlocked;
      if (!blocked && this.fits(waiter.bytes, waiter.state)) {
        this.waiting.splice(at, 1);
        this.take(waiter.bytes, waiter.state);
        waiter.granted();
        continue;
      }
      if (waiter.state === 'arrived') return; // the budget itself is full: nothing behind fits in order
      announcedBlocked = true;
      at++;
    }
  }
}
