// A min-heap of (time, item): which pending half messages are due for a check (or abandonment) next,
// without looking at all of them on every poll. Entries are never removed or updated in place; the
// caller pushes a new one when an item's time changes and skips entries that no longer match
// (`isCurrent`), so each stale entry costs one pop when its time comes.
export class DueQueue<T> {
  private readonly times: number[] = [];
  private readonly items: T[] = [];

  get size(): number {
    return this.times.length;
  }

  /** The earliest time queued, or Infinity. */
  get nextAtMs(): number {
    return this.times.length === 0 ? Infinity : this.times[0]!;
  }

  push(atMs: number, item: T): void {
    this.times.push(atMs);
    this.items.push(item);
    this.up(this.times.length - 1);
  }

  /** Removes and returns every item due at `nowMs` whose entry is still current. */
  takeDue(nowMs: number, isCurrent: (item: T, atMs: number) => boolean): T[] {
    const due: T[] = [];
    while (this.times.length > 0 && this.times[0]! <= nowMs) {
      const atMs = this.times[0]!;
      const item = this.pop();
      if (isCurrent(item, atMs)) due.push(item);
    }
    return due;
  }

  private pop(): T {
    const top = this.items[0]!;
    const lastTime = this.times.pop()!;
    const lastItem = this.items.pop()!;
    if (this.times.length > 0) {
      this.times[0] = lastTime;
      this.items[0] = lastItem;
      this.down(0);
    }
    return top;
  }

  private up(index: number): void {
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.times[parent]! <= this.times[index]!) return;
      this.swap(index, parent);
      index = parent;
    }
  }

  private down(index: number): void {
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < this.times.length && this.times[left]! < this.times[smallest]!) smallest = left;
      if (right < this.times.length && this.times[right]! < this.times[smallest]!) smallest = right;
      if (smallest === index) return;
      this.swap(index, smallest);
      index = smallest;
    }
  }

  private swap(a: number, b: number): void {
    [this.times[a], this.times[b]] = [this.times[b]!, this.times[a]!];
    [this.items[a], this.items[b]] = [this.items[b]!, this.items[a]!];
  }
}
