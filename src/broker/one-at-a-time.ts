// Runs asynchronous work one at a time per key, in call order. For a check-then-act that awaits in
// between — CreatePartitions reads a topic's partition count, then opens the new logs — so that the
// next call's check sees what the previous call left instead of the same stale count (two requests
// growing one topic at once would otherwise both open the same new partition directories).
// An entry lives only while work for its key is queued, so the map is bounded by the work in flight.
export class OneAtATime {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(work);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
