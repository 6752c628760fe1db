// The open partition logs of the broker, by topic, plus the waiters of long-polling fetches.
//
// Fetch long-poll is woken by appends, never by timers polling the disk: a fetch that found fewer
// than min_bytes registers a waiter on the partitions it reads; each completed append (which, under
// the `sync` flush policy, resolves after fsync — so the high watermark has moved) wakes the waiters
// of that partition. A waiter also ends on its max_wait_ms timer or when its topic is deleted.
import { join } from 'node:path';
import { PartitionLog } from '../storage/log.js';
import type { LogConfig } from '../storage/limits.js';
import type { StorageLogger } from '../storage/logger.js';
import type { Logger } from './logger.js';
import { PartitionProducerState } from './producer-state.js';
import { PartitionTransactions } from './transactions/partition-transactions.js';

export interface FetchWaiter {
  wake(): void;
}

export class PartitionSet {
  private readonly logs = new Map<string, PartitionLog[]>();
  private readonly producers = new Map<string, PartitionProducerState[]>();
  private readonly transactionStates = new Map<string, PartitionTransactions[]>();
  private readonly waiters = new Map<string, Set<FetchWaiter>>();

  constructor(
    private readonly dataDir: string,
    private readonly storageLogger: StorageLogger,
    private readonly producerOptions: { producerIdExpirationMs: number; logger: Logger },
  ) {}

  static directoryOf(dataDir: string, topic: string, partition: number): string {
    return join(dataDir, `${topic}-${partition}`);
  }

  get(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(topic)?.[partition];
  }

  /** Idempotent-producer state of a partition (sequence checks, duplicates). */
  producerState(topic: string, partition: number): PartitionProducerState | undefined {
    return this.producers.get(topic)?.[partition];
  }

  /** Open transactions and aborted transactions of a partition (last stable offset, read_committed). */
  transactions(topic: string, partition: number): PartitionTransactions | undefined {
    return this.transactionStates.get(topic)?.[partition];
  }

  partitionsOf(topic: string): readonly PartitionLog[] {
    return this.logs.get(topic) ?? [];
  }

  /** Opens (creating and recovering as needed) partitions `from`..`to`-1 of a topic. */
  async open(topic: string, topicId: Buffer, from: number, to: number, config: LogConfig): Promise<void> {
    const list = this.logs.get(topic) ?? [];
    const opened = await Promise.all(
      Array.from({ length: to - from }, (_, i) =>
        PartitionLog.open({
          directory: PartitionSet.directoryOf(this.dataDir, topic, from + i),
          topic,
          partition: from + i,
          topicId,
          config,
          logger: this.storageLogger,
          trustAppendedBatches: true, // the broker validates every produced batch (CRC included) first
        }),
      ),
    );
    // Producer state comes back from its snapshot plus the log tail before any produce is accepted.
    const states = await Promise.all(
      opened.map((log) => PartitionProducerState.recover(log, { ...this.producerOptions, nowMs: Date.now() })),
    );
    const transactions = await Promise.all(opened.map((log, i) => PartitionTransactions.recover(log, states[i])));
    const stateList = this.producers.get(topic) ?? [];
    const transactionList = this.transactionStates.get(topic) ?? [];
    opened.forEach((log, i) => {
      list[from + i] = log;
      stateList[from + i] = states[i]!;
      transactionList[from + i] = transactions[i]!;
    });
    this.logs.set(topic, list);
    this.producers.set(topic, stateList);
    this.transactionStates.set(topic, transactionList);
  }

  /** Closes and deletes every partition of a topic, waking its fetch waiters. */
  async delete(topic: string): Promise<void> {
    const list = this.logs.get(topic) ?? [];
    this.logs.delete(topic);
    this.producers.delete(topic);
    this.transactionStates.delete(topic);
    await Promise.all(list.map((log) => log.delete()));
    list.forEach((_, partition) => this.wake(topic, partition));
  }

  /** Snapshots producer state at each log end, then flushes and closes every log. */
  async closeAll(): Promise<void> {
    for (const [topic, list] of this.logs) {
      list.forEach((log, partition) => {
        if (log.readOnly === null) this.producers.get(topic)?.[partition]?.writeSnapshot(log.logEndOffset);
      });
    }
    const all = [...this.logs.values()].flat();
    this.logs.clear();
    this.producers.clear();
    this.transactionStates.clear();
    await Promise.all(all.map((log) => log.close()));
  }

  /** Forgets idle producers and snapshots producer state (a restart then replays less of the log). */
  maintainProducers(nowMs: number): void {
    for (const [topic, states] of this.producers) {
      states.forEach((state, partition) => {
        state.expire(nowMs);
        const log = this.logs.get(topic)?.[partition];
        if (log && log.readOnly === null && state.producerCount > 0) state.writeSnapshot(log.flushedOffset);
        if (log) this.transactionStates.get(topic)?.[partition]?.prune(log.logStartOffset);
      });
    }
  }

  all(): PartitionLog[] {
    return [...this.logs.values()].flat();
  }

  // ── long-poll ───────────────────────────────────────────────────────────────────────────────

  private static key(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  addWaiter(topic: string, partition: number, waiter: FetchWaiter): void {
    const key = PartitionSet.key(topic, partition);
    let set = this.waiters.get(key);
    if (!set) this.waiters.set(key, (set = new Set()));
    set.add(waiter);
  }

  removeWaiter(topic: string, partition: number, waiter: FetchWaiter): void {
    const key = PartitionSet.key(topic, partition);
    const set = this.waiters.get(key);
    if (!set) return;
    set.delete(waiter);
    if (set.size === 0) this.waiters.delete(key);
  }

  wakeAll(): void {
    for (const set of [...this.waiters.values()]) for (const waiter of [...set]) waiter.wake();
  }

  wake(topic: string, partition: number): void {
    const set = this.waiters.get(PartitionSet.key(topic, partition));
    if (!set) return;
    for (const waiter of [...set]) waiter.wake();
  }
}
