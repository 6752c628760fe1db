// One partition as the broker serves it: its log, and everything the broker keeps about it beside the
// log — the high watermark, the last stable offset, the idempotent producers' state, the transaction
// index, the leader epoch and the fetches parked on it until it grows.
//
// Storage knows what is written (readableEndOffset) and what is flushed (flushedOffset); what is
// *committed* is the partition's decision, made by its HighWatermarkRule each time an append
// completes. A single node commits what the flush policy made durable (`flushedCommit`); a replicated
// partition will commit the minimum its in-sync replicas hold, with the same Partition around it.
//
// The offsets, and how they relate:
//   logStartOffset ≤ lastStableOffset ≤ highWatermark ≤ readableEndOffset ≤ logEndOffset
// The high watermark never moves back while the partition is open; each time it moves the
// afterHighWatermark hooks run and the parked fetches wake.
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import { storageFailure } from '../failures.js';
import type { AppendResult, PartitionLog, ReadResult } from '../../storage/log.js';
import type { PartitionProducerState } from '../producer-state.js';
import type { Failure, PartitionView } from '../services.js';
import type { PartitionTransactions } from '../transactions/partition-transactions.js';
import type { HookedPartition, PartitionHooks } from './hooks.js';

/** The offset below which a partition's records are committed, asked after every append. */
export type HighWatermarkRule = (log: PartitionLog) => number;

/** A single node: what the flush policy promised is committed — flushed under `sync` (a consumer never
 *  sees a message a crash could take back), written to the file otherwise. */
export const flushedCommit: HighWatermarkRule = (log) =>
  log.config.flushPolicy.kind === 'sync' ? log.flushedOffset : log.readableEndOffset;

/** Something waiting for the partition to change: a long-poll fetch, a service reading an internal topic. */
export interface ParkedFetch {
  wake(): void;
}

export interface PartitionParts {
  topic: string;
  index: number;
  log: PartitionLog;
  producers: PartitionProducerState;
  transactions: PartitionTransactions;
  hooks: PartitionHooks;
  highWatermarkRule?: HighWatermarkRule;
  /** The leader epoch its appends are stamped with (a single node: 0). */
  leaderEpoch?: number;
}

export class Partition implements PartitionView, HookedPartition {
  readonly topic: string;
  readonly index: number;
  readonly log: PartitionLog;
  /** Idempotent producers: sequence checks and duplicates. */
  readonly producers: PartitionProducerState;
  /** Open and aborted transactions: the last stable offset, read_committed's aborted list. */
  readonly transactions: PartitionTransactions;
  readonly leaderEpoch: number;
  private readonly hooks: PartitionHooks;
  private readonly rule: HighWatermarkRule;
  private committed: number;
  private readonly parked = new Set<ParkedFetch>();
  private retiredAlready = false;

  constructor(parts: PartitionParts) {
    this.topic = parts.topic;
    this.index = parts.index;
    this.log = parts.log;
    this.producers = parts.producers;
    this.transactions = parts.transactions;
    this.hooks = parts.hooks;
    this.rule = parts.highWatermarkRule ?? flushedCommit;
    this.leaderEpoch = parts.leaderEpoch ?? 0;
    this.committed = this.rule(parts.log);
  }

  // ── offsets ─────────────────────────────────────────────────────────────────────────────────

  get logStartOffset(): number {
    return this.log.logStartOffset;
  }

  get logEndOffset(): number {
    return this.log.logEndOffset;
  }

  /** Records below it are committed: a read_uncommitted consumer may see them. */
  get highWatermark(): number {
    return this.committed;
  }

  /** The first offset of the earliest open transaction, or the high watermark when none is open below
   *  it: a read_committed consumer sees records below this. */
  get lastStableOffset(): number {
    const firstUnstable = this.transactions.firstUnstableOffset;
    return firstUnstable === null ? this.committed : Math.min(firstUnstable, this.committed);
  }

  /** OffsetForLeaderEpoch: the end offset of the largest epoch ≤ `leaderEpoch`. */
  endOffsetForEpoch(leaderEpoch: number): { leaderEpoch: number; endOffset: number } {
    const entries = this.log.leaderEpochEntries;
    let found = -1;
    for (let i = 0; i < entries.length; i++) if (entries[i]!.epoch <= leaderEpoch) found = i;
    if (found < 0) return { leaderEpoch: -1, endOffset: -1 };
    const next = entries[found + 1];
    return { leaderEpoch: entries[found]!.epoch, endOffset: next ? next.startOffset : this.log.logEndOffset };
  }

  // ── append and read ─────────────────────────────────────────────────────────────────────────

  /**
   * Appends one batch as it is. Its offsets are assigned synchronously, before this returns (a caller
   * records producer and transaction state in the same tick); the promise resolves when the batch is
   * as durable as the flush policy promises, and the high watermark has moved over it.
   */
  append(batch: Buffer): Promise<AppendResult> {
    return this.log.append(batch).then(
      (appended) => {
        this.advanceHighWatermark();
        return appended;
      },
      (error: unknown) => {
        this.wakeParked(); // a waiter for this batch's offsets re-checks: the log may be read-only now
        throw error;
      },
    );
  }

  /** Whole batches from `offset`, none starting at or past `maxOffset` (default: the high watermark). */
  read(offset: number, maxBytes: number, options: { maxOffset?: number } = {}): Promise<ReadResult> {
    return this.log.read(offset, maxBytes, {
      maxOffset: Math.min(options.maxOffset ?? this.committed, this.committed),
    });
  }

  /** DeleteRecords: offset -1 means the high watermark. Resolves with the new log start offset. */
  async deleteRecordsBefore(offset: number): Promise<Failure & { lowWatermark: number }> {
    const target = offset === -1 ? this.committed : offset;
    if (target < 0 || target > this.committed)
      return {
        errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
        errorMessage: `offset ${offset} is above the high watermark ${this.committed}`,
        lowWatermark: -1,
      };
    const lowWatermark = await this.log.deleteRecordsBefore(target);
    return { errorCode: ErrorCode.NONE, errorMessage: null, lowWatermark };
  }

  /** Asks the rule again; if the high watermark moved, runs the hooks and wakes the parked fetches. */
  advanceHighWatermark(): void {
    const next = this.rule(this.log);
    if (next <= this.committed) return;
    const previous = this.committed;
    this.committed = next;
    if (this.hooks.afterHighWatermark.length > 0) this.hooks.runAfterHighWatermark(this, next, previous);
    this.wakeParked();
  }

  /**
   * Resolves with null once the high watermark reaches `offset` (an idempotent retry of a batch still on
   * its way to disk), or with why it never will: the log turned read-only, or the partition is retired.
   */
  async committedThrough(offset: number): Promise<Failure | null> {
    while (this.committed < offset) {
      const readOnly = this.log.readOnly;
      if (readOnly !== null) return storageFailure(readOnly);
      if (this.retiredAlready)
        return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, errorMessage: 'the partition is no longer served' };
      await new Promise<void>((resolve) => {
        const waiter: ParkedFetch = {
          wake: () => {
            this.unpark(waiter);
            resolve();
          },
        };
        this.park(waiter);
      });
    }
    return null;
  }

  // ── parked fetches ──────────────────────────────────────────────────────────────────────────

  /** `waiter.wake()` runs each time the high watermark moves (and on retire), until it is unparked. */
  park(waiter: ParkedFetch): void {
    if (this.retiredAlready) waiter.wake();
    else this.parked.add(waiter);
  }

  unpark(waiter: ParkedFetch): void {
    this.parked.delete(waiter);
  }

  wakeParked(): void {
    if (this.parked.size === 0) return;
    for (const waiter of [...this.parked]) waiter.wake();
  }

  get parkedCount(): number {
    return this.parked.size;
  }

  /** The partition is no longer served here (its topic was deleted, the broker closes): every parked
   *  fetch wakes now, and one parked later wakes at once. */
  retire(): void {
    this.retiredAlready = true;
    this.wakeParked();
  }

  get retired(): boolean {
    return this.retiredAlready;
  }
}
