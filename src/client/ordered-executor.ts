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
  handle(message: M, attempt: number): Promise<void>;
  retry?: RetryPolicy;
  /**
   * Runs after the last failed attempt (e.g. publish to a dead-letter topic); resolving marks the
   * message finished. Without it a failing message is retried with backoff until it succeeds: it is
   * never skipped.
   */
  onExhausted?(message: M, error: unknown, attempts: number): Promise<void>;
  /** Every handler failure (for logging). */
  onError?(message: M, error: unknown, attempt: number): void;
  random?: () => number;
}

interface Task<M> {
  message: M;
  partitionId: string;
  progress: PartitionProgress;
  offset: number;
  /** The run about to happen: handler attempts first, then onExhausted runs. */
  attempt: number;
  exhausted: boolean;
  handlerAttempts: number;
  lastError: unknown;
}

interface KeyQueue<M> {
  key: string;
  /** A deque: the live tasks are tasks[head..]; a key may hold a whole partition's backlog. */
  tasks: Task<M>[];
  head: number;
  /** Running, or waiting for a retry. */
  busy: boolean;
  running: boolean;
}

interface PartitionProgress {
  /** Offsets pushed and not yet popped from the front, in push (= offset) order. */
  offsets: number[];
  head: number;
  finished: Set<number>;
  nextOffset: number;
}

export class OrderedExecutor<M> {
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly backoff: BackoffPolicy;
  private readonly keys = new Map<string, KeyQueue<M>>();
  /** Keys with work and no handler running, in the order they became ready. */
  private readonly ready: KeyQueue<M>[] = [];
  private readonly partitions = new Map<string, PartitionProgress>();
  private running = 0;
  private queued = 0;
  private idleWaiters: Array<() => void> = [];
  private roomWaiters: Array<{ below: number; wake(): void }> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
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
   * partition, `orderingKey` groups the messages that must run in order.
   */
  push(partitionId: string, offset: number, orderingKey: string, message: M): void {
    let progress = this.partitions.get(partitionId);
    if (!progress) {
      progress = { offsets: [], head: 0, finished: new Set(), nextOffset: offset };
      this.partitions.set(partitionId, progress);
    }
    progress.offsets.push(offset);
    progress.nextOffset = offset + 1;
    let queue = this.keys.get(orderingKey);
    if (!queue) {
      queue = { key: orderingKey, tasks: [], head: 0, busy: false, running: false };
      this.keys.set(orderingKey, queue);
    }
    queue.tasks.push({ message, partitionId, progress, offset, attempt: 1, exhausted: false, handlerAttempts: 0, lastError: undefined });
    this.queued++;
    if (!queue.busy && size(queue) === 1) this.ready.push(queue);
    this.pump();
  }

  /** The offset to commit for a partition: the lowest unfinished one, else one past the last pushed. */
  committable(partitionId: string): number | undefined {
    const progress = this.partitions.get(partitionId);
    if (!progress) return undefined;
    this.advance(progress);
    return progress.head < progress.offsets.length ? progress.offsets[progress.head]! : progress.nextOffset;
  }

  /** Every partition's commit position. */
  committableAll(): Map<string, number> {
    const out = new Map<string, number>();
    for (const id of this.partitions.keys()) out.set(id, this.committable(id)!);
    return out;
  }

  private advance(progress: PartitionProgress): void {
    while (progress.head < progress.offsets.length && progress.finished.has(progress.offsets[progress.head]!)) {
      progress.finished.delete(progress.offsets[progress.head]!);
      progress.head++;
    }
    if (progress.head > 1024 && progress.head * 2 > progress.offsets.length) {
      progress.offsets = progress.offsets.slice(progress.head);
      progress.head = 0;
    }
  }

  private pump(): void {
    while (!this.stopped && this.running < this.concurrency && this.ready.length > 0) {
      const queue = this.ready.shift()!;
      if (queue.busy || size(queue) === 0) continue;
      queue.busy = true;
      queue.running = true;
      this.running++;
      if (this.running > this.peakRunning) this.peakRunning = this.running;
      void this.run(queue, queue.tasks[queue.head]!);
    }
  }

  private async run(queue: KeyQueue<M>, task: Task<M>): Promise<void> {
    try {
      if (task.exhausted) await this.options.onExhausted!(task.message, task.lastError, task.handlerAttempts);
      else await this.options.handle(task.message, task.attempt);
      this.running--;
      queue.running = false;
      this.finish(queue, task);
    } catch (error) {
      this.running--;
      queue.running = false;
      this.options.onError?.(task.message, error, task.attempt);
      if (!task.exhausted) {
        task.lastError = error;
        task.handlerAttempts = task.attempt;
        if (task.attempt >= this.maxAttempts && this.options.onExhausted) {
          // The handler is done trying: hand the message to onExhausted at once.
          task.exhausted = true;
          task.attempt++;
          queue.busy = false;
          this.ready.unshift(queue);
          this.pump();
          return;
        }
      }
      this.retryLater(queue, task.attempt);
      task.attempt++;
      this.pump();
    }
  }

  private finish(queue: KeyQueue<M>, task: Task<M>): void {
    if (queue.tasks[queue.head] === task) {
      shiftTask(queue);
      this.queued--;
    }
    queue.busy = false;
    // A partition dropped (revoked, seeked) while this ran has a new progress object, or none.
    const progress = task.progress;
    if (progress.offsets[progress.head] === task.offset) {
      // The oldest unfinished message finished: move the commit position at once (keeps `finished` small).
      progress.head++;
      this.advance(progress);
    } else {
      progress.finished.add(task.offset);
    }
    if (size(queue) > 0) this.ready.push(queue);
    else this.keys.delete(queue.key);
    this.wakeWaiters();
    this.pump();
  }

  private retryLater(queue: KeyQueue<M>, attempt: number): void {
    const delay = backoffDelayMs(this.backoff, attempt, this.options.random);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      queue.busy = false;
      if (size(queue) === 0) {
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
      const still: Array<{ below: number; wake(): void }> = [];
      for (const waiter of this.roomWaiters) {
        if (this.queued < waiter.below) waiter.wake();
        else still.push(waiter);
      }
      this.roomWaiters = still;
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
      const live = queue.tasks.slice(queue.head);
      const keep = live.filter((task, index) => !drop.has(task.partitionId) || (index === 0 && queue.running));
      this.queued -= live.length - keep.length;
      queue.tasks = keep;
      queue.head = 0;
      if (keep.length === 0 && !queue.busy) this.keys.delete(queue.key);
    }
    for (let i = this.ready.length - 1; i >= 0; i--) if (size(this.ready[i]!) === 0) this.ready.splice(i, 1);
    this.wakeWaiters();
  }

  /** Messages of these partitions not finished yet (after dropQueued: the running ones). */
  pendingIn(partitionIds: Iterable<string>): number {
    const ids = new Set(partitionIds);
    let count = 0;
    for (const queue of this.keys.values()) for (let i = queue.head; i < queue.tasks.length; i++) if (ids.has(queue.tasks[i]!.partitionId)) count++;
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

function size<M>(queue: KeyQueue<M>): number {
  return queue.tasks.length - queue.head;
}

function shiftTask<M>(queue: KeyQueue<M>): void {
  queue.tasks[queue.head] = undefined as unknown as Task<M>;
  queue.head++;
  if (queue.head === queue.tasks.length) {
    queue.tasks = [];
    queue.head = 0;
  } else if (queue.head > 1024 && queue.head * 2 > queue.tasks.length) {
    queue.tasks = queue.tasks.slice(queue.head);
    queue.head = 0;
  }
}
