// Runs asynchronous work one at a time per key, in call order. For a check-then-act that awaits in
// between — CreatePartitions reads a topic's partition count, then opens the new logs — so that the
// next call's check sees what the previous call left instead of a stale reading (two requests growing
// one topic at once would otherwise both open the same new partition directories; a CreatePartitions
// racing a DeleteTopics would open logs for a topic that is gone).
// An entry lives only while work for its key is queued, so the map is bounded by the work in flight.
export class OneAtATime {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Whether work for the key is queued or running. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

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
