// The ordered parallel processing engine.
//
// Messages arrive per partition in offset order. Each carries an ordering key: messages with the
// same key run one after another in arrival order, messages with different keys run in parallel, at
// most `concurrency` handlers at a time. A key whose handler is running or waiting for a retry holds
// its later messages back; other keys go on.
//
// Commit position per partition: the lowest offset not yet finished (or, when everything pushed is
// finished, one past the last pushed offset). Committing that and no more means a crash re-delivers
// unfinished messages and never skips one (at-least-once), whatever order the keys finished in.
//
// Failures: the handler is retried up to `maxAttempts` with the backoff policy. During the backoff
// the key keeps its place but gives up its concurrency slot, so a failing key never stalls the
// others. After the last attempt `onExhausted` runs (e.g. publish to a dead-letter topic); when it
// succeeds the message counts as finished. If `onExhausted` itself fails, it is retried with the
// same backoff, and the offset stays uncommitted until it succeeds.
import { backoffDelayMs, type BackoffPolicy } from './backoff.js';

export interface RetryPolicy {
  /** Total handler runs per message, the first included (default 1: no retry). */
  maxAttempts?: number;
  /** Default: exponential from 100 ms to 30 s with 20% jitter. */
  backoff?: BackoffPolicy;
}

export interface OrderedExecutorOptions<M> {
  concurrency: number;
  /**
   * Runs a message. `offset` is the one it was pushed with: a caller can push one object for many
   * messages (the consumer pushes a fetched batch once per record) and tell them apart by it.
   */
  handle(message: M, attempt: number, offset: number): Promise<void>;
  retry?: RetryPolicy;
  /**
   * Runs after the last failed attempt (e.g. publish to a dead-letter topic); resolving marks the
   * message finished. Without it a failing message is retried with backoff until it succeeds: it is
   * never skipped.
   */
  onExhausted?(message: M, error: unknown, attempts: number, offset: number): Promise<void>;
  /** Every handler failure (for logging). */
  onError?(message: M, error: unknown, attempt: number, offset: number): void;
  random?: () => number;
}

/**
 * The messages of one ordering key, oldest first, as runs: a run is `count` messages with
 * consecutive offsets that share one message object (the consumer pushes a fetched batch's records
 * of one key as one run), so a batch of a single key costs one entry, not one per record. The runs
 * are a ring of parallel arrays (message, first offset, count, partition): a push stores four values
 * and allocates nothing once the ring is big enough. Only the front message can be running or
 * waiting for a retry (the key's order), so the attempt state lives here, not in an object per message.
 */
class KeyQueue<M> {
  key: string;
  private messages: Array<M | undefined>;
  private offsets: number[];
  private counts: number[];
  private partitions: Array<PartitionProgress | undefined>;
  /** Capacity − 1; the capacity is a power of two. */
  private mask = KEY_QUEUE_INITIAL_CAPACITY - 1;
  private head = 0;
  /** Runs in the ring. */
  private runs = 0;
  /** Messages of the front run already finished. */
  private frontDone = 0;
  /** Messages not yet finished (the running one included). */
  length = 0;
  /** Running, or waiting for a retry. */
  busy = false;
  running = false;
  /** The front message's next run: handler attempts first, then onExhausted runs. */
  attempt = 1;
  exhausted = false;
  handlerAttempts = 0;
  lastError: unknown = undefined;

  constructor(key: string) {
    this.key = key;
    this.messages = new Array<M | undefined>(KEY_QUEUE_INITIAL_CAPACITY);
    this.offsets = new Array<number>(KEY_QUEUE_INITIAL_CAPACITY).fill(0);
    this.counts = new Array<number>(KEY_QUEUE_INITIAL_CAPACITY).fill(0);
    this.partitions = new Array<PartitionProgress | undefined>(KEY_QUEUE_INITIAL_CAPACITY);
  }

  /** Adds `count` messages at offsets offset … offset + count − 1; extends the last run when they continue it. */
  push(message: M, offset: number, count: number, partition: PartitionProgress): void {
    if (this.runs > 0) {
      const last = (this.head + this.runs - 1) & this.mask;
      if (
        this.messages[last] === message &&
        this.partitions[last] === partition &&
        this.offsets[last]! + this.counts[last]! === offset
      ) {
        this.counts[last]! += count;
        this.length += count;
        return;
      }
    }
    if (this.runs > this.mask) this.grow();
    const at = (this.head + this.runs) & this.mask;
    this.messages[at] = message;
    this.offsets[at] = offset;
    this.counts[at] = count;
    this.partitions[at] = partition;
    this.runs++;
    this.length += count;
  }

  /** The front message (the next to run, or running). */
  frontMessage(): M {
    return this.messages[this.head]!;
  }
  frontOffset(): number {
    return this.offsets[this.head]! + this.frontDone;
  }
  frontPartition(): PartitionProgress {
    return this.partitions[this.head]!;
  }

  /** Removes the front message; the next one starts at attempt 1. */
  shift(): void {
    this.length--;
    if (++this.frontDone === this.counts[this.head]) {
      this.messages[this.head] = undefined;
      this.partitions[this.head] = undefined;
      this.head = (this.head + 1) & this.mask;
      this.runs--;
      this.frontDone = 0;
    }
    this.resetAttempts();
  }

  /** Makes an empty queue the queue of another key, keeping its grown arrays. */
  reuseFor(key: string): void {
    this.key = key;
    this.head = 0;
    this.runs = 0;
    this.frontDone = 0;
    this.length = 0;
    this.busy = false;
    this.running = false;
    this.resetAttempts();
  }

  get capacity(): number {
    return this.mask + 1;
  }

  resetAttempts(): void {
    this.attempt = 1;
    this.exhausted = false;
    this.handlerAttempts = 0;
    this.lastError = undefined;
  }

  /** Messages not finished whose partition is one of `ids`. */
  countIn(ids: Set<string>): number {
    let count = 0;
    for (let run = 0; run < this.runs; run++) {
      const at = (this.head + run) & this.mask;
      if (ids.has(this.partitions[at]!.id)) count += this.counts[at]! - (run === 0 ? this.frontDone : 0);
    }
    return count;
  }

  /**
   * Drops the messages of the partitions in `drop`, except the front message while it runs (it
   * finishes; its result is then ignored by the caller). Order is kept.
   */
  drop(ids: Set<string>): void {
    const messages: M[] = [];
    const offsets: number[] = [];
    const counts: number[] = [];
    const partitions: PartitionProgress[] = [];
    for (let run = 0; run < this.runs; run++) {
      const at = (this.head + run) & this.mask;
      const partition = this.partitions[at]!;
      let offset = this.offsets[at]!;
      let count = this.counts[at]!;
      if (run === 0) {
        offset += this.frontDone;
        count -= this.frontDone;
      }
      if (ids.has(partition.id)) {
        if (run !== 0 || !this.running) continue;
        count = 1;
      }
      messages.push(this.messages[at]!);
      offsets.push(offset);
      counts.push(count);
      partitions.push(partition);
    }
    this.messages.fill(undefined);
    this.partitions.fill(undefined);
    this.head = 0;
    this.runs = 0;
    this.frontDone = 0;
    this.length = 0;
    for (let index = 0; index < messages.length; index++)
      this.push(messages[index]!, offsets[index]!, counts[index]!, partitions[index]!);
  }

  private grow(): void {
    const capacity = (this.mask + 1) * 2;
    const messages = new Array<M | undefined>(capacity);
    const offsets = new Array<number>(capacity).fill(0);
    const counts = new Array<number>(capacity).fill(0);
    const partitions = new Array<PartitionProgress | undefined>(capacity);
    for (let run = 0; run < this.runs; run++) {
      const at = (this.head + run) & this.mask;
      messages[run] = this.messages[at];
      offsets[run] = this.offsets[at]!;
      counts[run] = this.counts[at]!;
      partitions[run] = this.partitions[at];
    }
    this.messages = messages;
    this.offsets = offsets;
    this.counts = counts;
    this.partitions = partitions;
    this.mask = capacity - 1;
    this.head = 0;
  }
}

/**
 * Handler runs between two turns of the event loop when handlers resolve at once. A turn costs a few
 * microseconds; 1 024 runs of a trivial handler take about a millisecond, so sockets and timers wait
 * at most that long and the yields cost well under 1 %.
 */
const RUNS_BETWEEN_YIELDS = 1024;

/** Small: most keys hold a few messages at a time; a key holding a partition's backlog doubles up to it. */
const KEY_QUEUE_INITIAL_CAPACITY = 8;

/**
 * A partition's pushed offsets that are not yet finished in order. They are kept as runs of
 * consecutive offsets — one run unless compaction, transaction markers or aborted records left gaps
 * — so a push allocates nothing. `finished` holds the offsets that finished while a lower one had not.
 */
class PartitionProgress {
  readonly id: string;
  /** Run i is [runStarts[i], runEnds[i]); runs before runHead are popped. */
  private runStarts: number[] = [];
  private runEnds: number[] = [];
  private runHead = 0;
  private readonly finished = new Set<number>();
  /** One past the last pushed offset. */
  private nextOffset: number;

  constructor(id: string, offset: number) {
    this.id = id;
    this.nextOffset = offset;
  }

  /** Adds offsets offset … offset + count − 1. */
  push(offset: number, count: number): void {
    const last = this.runStarts.length - 1;
    if (last >= this.runHead && this.runEnds[last] === offset) this.runEnds[last] = offset + count;
    else {
      this.runStarts.push(offset);
      this.runEnds.push(offset + count);
    }
    this.nextOffset = offset + count;
  }

  /** The offset to commit: the lowest unfinished one, else one past the last pushed. */
  committable(): number {
    return this.runHead < this.runStarts.length ? this.runStarts[this.runHead]! : this.nextOffset;
  }

  finish(offset: number): void {
    if (this.runHead < this.runStarts.length && this.runStarts[this.runHead] === offset) {
      // The oldest unfinished message finished: move the commit position at once (keeps `finished` small).
      this.popFront();
      while (this.runHead < this.runStarts.length && this.finished.delete(this.runStarts[this.runHead]!))
        this.popFront();
    } else {
      this.finished.add(offset);
    }
  }

  private popFront(): void {
    const start = ++this.runStarts[this.runHead]!;
    if (start < this.runEnds[this.runHead]!) return;
    this.runHead++;
    if (this.runHead === this.runStarts.length) {
      this.runStarts = [];
      this.runEnds = [];
      this.runHead = 0;
    } else if (this.runHead > 1024 && this.runHead * 2 > this.runStarts.length) {
      this.runStarts = this.runStarts.slice(this.runHead);
      this.runEnds = this.runEnds.slice(this.runHead);
      this.runHead = 0;
    }
  }
}

export class OrderedExecutor<M> {
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly backoff: BackoffPolicy;
  private readonly keys = new Map<string, KeyQueue<M>>();
  /** Keys with work and no handler running, in the order they became ready. */
  private readonly ready: KeyQueue<M>[] = [];
  private readonly partitions = new Map<string, PartitionProgress>();
  /**
   * The last grown queue that emptied, for the next new key: a key holding a partition's backlog
   * empties whenever handling catches up with fetching, and growing a new ring back to the backlog's
   * size each time cost a tenth of the consume time.
   */
  private spare: KeyQueue<M> | undefined;
  private running = 0;
  private queued = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly roomWaiters: Array<{ below: number; wake(): void }> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  /** Handler runs since the engine last let the event loop run (see RUNS_BETWEEN_YIELDS). */
  private runsSinceYield = 0;
  /** No handler starts until the event loop has run once (set while the engine yields). */
  private yielding = false;
  /** Highest number of handlers seen running at once (for tests and metrics). */
  peakRunning = 0;

  constructor(private readonly options: OrderedExecutorOptions<M>) {
    this.concurrency = options.concurrency;
    this.maxAttempts = options.retry?.maxAttempts ?? 1;
    this.backoff = options.retry?.backoff ?? { initialMs: 100, maxMs: 30_000, jitter: 0.2 };
  }

  /** Messages pushed and not finished (queued, running or waiting for a retry). */
  get pending(): number {
    return this.queued;
  }

  /**
   * Adds a message. `partitionId` names its partition ("topic/partition"), `offset` must increase per
   * partition, `orderingKey` groups the messages that must run in order. With `count` > 1 it adds that
   * many messages at consecutive offsets from `offset`, all of this key and this one object (the
   * handler tells them apart by offset) — a fetched batch's records of one key in one call.
   */
  push(partitionId: string, offset: number, orderingKey: string, message: M, count = 1): void {
    // A run of zero would never be popped from its key's queue.
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError(`push count must be a positive integer, got ${count}`);
    let progress = this.partitions.get(partitionId);
    if (!progress) {
      progress = new PartitionProgress(partitionId, offset);
      this.partitions.set(partitionId, progress);
    }
    progress.push(offset, count);
    let queue = this.keys.get(orderingKey);
    if (!queue) {
      queue = this.spare ?? new KeyQueue<M>(orderingKey);
      if (queue === this.spare) {
        queue.reuseFor(orderingKey);
        this.spare = undefined;
      }
      this.keys.set(orderingKey, queue);
    }
    const wasEmpty = queue.length === 0;
    queue.push(message, offset, count, progress);
    this.queued += count;
    if (!queue.busy && wasEmpty) {
      this.ready.push(queue);
      this.pump();
    }
  }

  /** The offset to commit for a partition: the lowest unfinished one, else one past the last pushed. */
  committable(partitionId: string): number | undefined {
    return this.partitions.get(partitionId)?.committable();
  }

  /** Every partition's commit position. */
  committableAll(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, progress] of this.partitions) out.set(id, progress.committable());
    return out;
  }

  private pump(): void {
    while (!this.stopped && !this.yielding && this.running < this.concurrency && this.ready.length > 0) {
      const queue = this.ready.shift()!;
      if (queue.busy || queue.length === 0) continue;
      void this.drive(queue);
    }
  }

  /**
   * Runs the key's front message, and after it the next one of the same key for as long as no other
   * key is waiting for a slot — what pump() would pick anyway — without going back through it.
   */
  private async drive(queue: KeyQueue<M>): Promise<void> {
    for (;;) {
      queue.busy = true;
      queue.running = true;
      this.running++;
      if (this.running > this.peakRunning) this.peakRunning = this.running;
      const message = queue.frontMessage();
      const offset = queue.frontOffset();
      const progress = queue.frontPartition();
      try {
        if (queue.exhausted) await this.options.onExhausted!(message, queue.lastError, queue.handlerAttempts, offset);
        else await this.options.handle(message, queue.attempt, offset);
      } catch (error) {
        this.running--;
        queue.running = false;
        this.failed(queue, message, offset, error);
        return;
      }
      this.running--;
      queue.running = false;
      this.finish(queue, message, offset, progress);
      if (++this.runsSinceYield >= RUNS_BETWEEN_YIELDS && !this.yielding) this.yieldToEventLoop();
      if (
        this.stopped ||
        this.yielding ||
        queue.length === 0 ||
        this.running >= this.concurrency ||
        this.ready.length > 0
      ) {
        if (queue.length > 0) this.ready.push(queue);
        else {
          this.keys.delete(queue.key);
          // Nothing refers to an emptied queue once it has run (not in `ready`, no retry timer).
          if (
            queue.capacity > KEY_QUEUE_INITIAL_CAPACITY &&
            (this.spare === undefined || this.spare.capacity < queue.capacity)
          )
            this.spare = queue;
        }
        this.pump();
        return;
      }
    }
  }

  /**
   * Handlers that resolve at once run back to back in microtasks, which never let the event loop
   * read a socket or fire a timer: the next fetch response waited in the kernel until the engine ran
   * dry, and a group heartbeat could wait as long. Every RUNS_BETWEEN_YIELDS runs, no handler starts
   * until the event loop has turned once (running ones finish; keys wait in `ready`, in order).
   */
  private yieldToEventLoop(): void {
    this.yielding = true;
    this.runsSinceYield = 0;
    setImmediate(() => {
      this.yielding = false;
      this.pump();
    });
  }

  private failed(queue: KeyQueue<M>, message: M, offset: number, error: unknown): void {
    this.options.onError?.(message, error, queue.attempt, offset);
    if (!queue.exhausted) {
      queue.lastError = error;
      queue.handlerAttempts = queue.attempt;
      if (queue.attempt >= this.maxAttempts && this.options.onExhausted) {
        // The handler is done trying: hand the message to onExhausted at once.
        queue.exhausted = true;
        queue.attempt++;
        queue.busy = false;
        this.ready.unshift(queue);
        this.pump();
        return;
      }
    }
    this.retryLater(queue, queue.attempt);
    queue.attempt++;
    this.pump();
  }

  /** The front message finished: pop it, move the commit position, wake waiters. The caller re-queues the key. */
  private finish(queue: KeyQueue<M>, message: M, offset: number, progress: PartitionProgress): void {
    if (
      queue.length > 0 &&
      queue.frontMessage() === message &&
      queue.frontOffset() === offset &&
      queue.frontPartition() === progress
    ) {
      queue.shift();
      this.queued--;
    }
    queue.busy = false;
    // A partition dropped (revoked, seeked) while this ran has a new progress object, or none.
    progress.finish(offset);
    this.wakeWaiters();
  }

  private retryLater(queue: KeyQueue<M>, attempt: number): void {
    const delay = backoffDelayMs(this.backoff, attempt, this.options.random);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      queue.busy = false;
      if (queue.length === 0) {
        this.keys.delete(queue.key);
        return;
      }
      // A retried key goes first: its messages are the oldest.
      this.ready.unshift(queue);
      this.pump();
    }, delay);
    this.timers.add(timer);
  }

  private wakeWaiters(): void {
    if (this.queued === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    if (this.roomWaiters.length > 0) {
      // Filtered in place: one array for the engine's life keeps this path's shapes steady.
      let kept = 0;
      for (let index = 0; index < this.roomWaiters.length; index++) {
        const waiter = this.roomWaiters[index]!;
        if (this.queued < waiter.below) waiter.wake();
        else this.roomWaiters[kept++] = waiter;
      }
      this.roomWaiters.length = kept;
    }
  }

  /** Resolves when fewer than `below` messages are pending. */
  waitForRoom(below: number): Promise<void> {
    if (this.queued < below) return Promise.resolve();
    return new Promise((wake) => this.roomWaiters.push({ below, wake }));
  }

  /** Resolves when every pushed message finished. */
  idle(): Promise<void> {
    if (this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Drops the messages of the given partitions that are not running right now (queued, or waiting for
   * a retry); their offsets stay unfinished, so the commit position stops at the first of them.
   */
  dropQueued(partitionIds: Iterable<string>): void {
    const drop = new Set(partitionIds);
    for (const queue of this.keys.values()) {
      const before = queue.length;
      if (before === 0 || queue.countIn(drop) === 0) continue;
      const front = queue.frontMessage();
      const frontOffset = queue.frontOffset();
      const frontPartition = queue.frontPartition();
      queue.drop(drop);
      this.queued -= before - queue.length;
      // The front message (waiting for a retry) was dropped: the next one starts at attempt 1. One
      // object may stand for several messages (see `handle`), so the offset tells them apart.
      if (
        queue.length === 0 ||
        queue.frontMessage() !== front ||
        queue.frontOffset() !== frontOffset ||
        queue.frontPartition() !== frontPartition
      )
        queue.resetAttempts();
      if (queue.length === 0 && !queue.busy) this.keys.delete(queue.key);
    }
    for (let i = this.ready.length - 1; i >= 0; i--) if (this.ready[i]!.length === 0) this.ready.splice(i, 1);
    this.wakeWaiters();
  }

  /** Messages of these partitions not finished yet (after dropQueued: the running ones). */
  pendingIn(partitionIds: Iterable<string>): number {
    const ids = new Set(partitionIds);
    let count = 0;
    for (const queue of this.keys.values()) count += queue.countIn(ids);
    return count;
  }

  /**
   * Drops the partitions' messages not running and forgets their progress — for a seek or a
   * revoked partition. Running handlers finish; their results no longer count.
   */
  dropPartitions(partitionIds: Iterable<string>): void {
    const ids = [...partitionIds];
    this.dropQueued(ids);
    for (const id of ids) this.partitions.delete(id);
  }

  /** Stops starting handlers and cancels pending retries. Running handlers are not interrupted. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
