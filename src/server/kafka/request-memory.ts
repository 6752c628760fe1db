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

export class RequestMemory {
  private reservedBytes = 0;
  private readonly waiting: Array<{ bytes: number; granted: () => void }> = [];

  constructor(readonly bytesMax: number) {}

  get reserved(): number {
    return this.reservedBytes;
  }

  get waiters(): number {
    return this.waiting.length;
  }

  /** Reserves `bytes` if they fit (and nobody queued before), else returns false. */
  tryReserve(bytes: number): boolean {
    if (this.waiting.length > 0 || !this.fits(bytes)) return false;
    this.reservedBytes += bytes;
    return true;
  }

  /** Calls `granted` (from a microtask, never from inside the caller) once `bytes` are reserved for it.
   *  Returns a function that withdraws the request if it has not been granted yet. */
  reserveLater(bytes: number, granted: () => void): () => void {
    const waiter = { bytes, granted };
    this.waiting.push(waiter);
    queueMicrotask(() => this.grant());
    return () => {
      const at = this.waiting.indexOf(waiter);
      if (at >= 0) this.waiting.splice(at, 1);
      queueMicrotask(() => this.grant());
    };
  }

  release(bytes: number): void {
    if (bytes <= 0) return;
    this.reservedBytes -= bytes;
    if (this.reservedBytes < 0) throw new Error(`request memory released below zero (${this.reservedBytes})`);
    if (this.waiting.length > 0) queueMicrotask(() => this.grant());
  }

  private fits(bytes: number): boolean {
    return this.reservedBytes === 0 || this.reservedBytes + bytes <= this.bytesMax;
  }

  /** Serves waiters in order while the first one fits. Runs from a microtask so a release never calls
   *  into another connection's pump on the caller's stack. */
  private grant(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.bytes)) {
      const waiter = this.waiting.shift()!;
      this.reservedBytes += waiter.bytes;
      waiter.granted();
    }
  }
}
