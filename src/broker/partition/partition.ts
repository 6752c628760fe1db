// One partition as the broker serves it: its log, and everything the broker keeps about it beside the
// log — the high watermark, the last stable offset, the idempotent producers' state, the transaction
// index, the leader epoch and the fetches parked on it until it grows.
//
// Storage knows what is written (readableEndOffset) and what is flushed (flushedOffset); what is
// *committed* is the partition's decision. Replicated or not, a partition is the leader or a follower
// of its partition at a leader epoch (issue 14, KIP-101):
//
//   | role     | appends                                        | high watermark                             |
//   |----------|------------------------------------------------|--------------------------------------------|
//   | leader   | append(): produce, markers, the broker's own   | its HighWatermarkRule, asked after every   |
//   |          | topics; stamped with its leader epoch          | append: a single node commits what the     |
//   |          |                                                | flush policy made durable (flushedCommit); |
//   |          |                                                | a replicated one the ISR's minimum         |
//   |          |                                                | (setHighWatermarkRule)                     |
//   | follower | appendReplicated(): its leader's batches, byte | min(the leader's, as followHighWatermark   |
//   |          | for byte; append() is refused                  | last reported; what its own flush policy   |
//   |          |                                                | made durable)                              |
//
// Either way the idempotent producers' and the transactions' state take each batch from its header in
// the tick the log takes it, so a follower that becomes leader answers a retried batch as a duplicate
// and knows the open and aborted transactions; a follower's divergent tail goes with truncateTo(),
// which rebuilds that state from the log.
//
// The offsets, and how they relate:
//   logStartOffset ≤ lastStableOffset ≤ highWatermark ≤ readableEndOffset ≤ logEndOffset
// The high watermark never moves back while the partition is open; each time it moves the
// afterHighWatermark hooks run and the parked fetches wake. So a follower opens with it at the log
// start (it does not know what of its log is committed until its leader says so: there is no
// high-watermark checkpoint yet), follows its leader's only upwards, keeps it when it changes role,
// and never truncates below it: the records below the high watermark are on every in-sync replica, so
// a divergent tail always lies above it (a cut below it is refused, as only an unclean election needs it).
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import { BATCH_HEADER_BYTES, RecordBatchHeader } from '../../protocol/record-batch/header.js';
import { systemClock, type Clock } from '../../runtime/clock.js';
import { StorageError } from '../../storage/errors.js';
import type { AppendResult, PartitionLog, ReadResult, ReplicatedAppendResult } from '../../storage/log.js';
import { storageFailure } from '../failures.js';
import type { PartitionProducerState } from '../producer-state.js';
import type { Failure, PartitionView } from '../services.js';
import { controlTypeOf, type PartitionTransactions } from '../transactions/partition-transactions.js';
import type { HookedPartition, PartitionHooks } from './hooks.js';

/** The offset below which a partition's records are committed, asked after every append. */
export type HighWatermarkRule = (log: PartitionLog) => number;

/** A single node: what the flush policy promised is committed — flushed under `sync` (a consumer never
 *  sees a message a crash could take back), written to the file otherwise. */
export const flushedCommit: HighWatermarkRule = (log) =>
  log.config.flushPolicy.kind === 'sync' ? log.flushedOffset : log.readableEndOffset;

/** Whether this replica leads its partition or follows the leader. */
export type PartitionRole = 'leader' | 'follower';

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
  /** The leader's rule (default flushedCommit); setHighWatermarkRule replaces it. */
  highWatermarkRule?: HighWatermarkRule;
  /** The partition's leader epoch (default: the log's, which its appends are stamped with; a single
   *  node: 0). becomeLeader and becomeFollower move it. */
  leaderEpoch?: number;
  /** Default leader (a single node). A follower opens with its high watermark at the log start. */
  role?: PartitionRole;
  /** The broker's clock: producer activity of replicated batches. */
  clock?: Clock;
}

export class Partition implements PartitionView, HookedPartition {
  readonly topic: string;
  readonly index: number;
  readonly log: PartitionLog;
  /** Idempotent producers: sequence checks and duplicates. */
  readonly producers: PartitionProducerState;
  /** Open and aborted transactions: the last stable offset, read_committed's aborted list. */
  readonly transactions: PartitionTransactions;
  private readonly hooks: PartitionHooks;
  private readonly clock: Clock;
  private leaderRule: HighWatermarkRule;
  private roleNow: PartitionRole;
  private epoch: number;
  /** Role changes so far: a becomeLeader overtaken by a later change while it waited does nothing. */
  private transitions = 0;
  /** A follower's last word from its leader: the leader's high watermark. */
  private leaderHighWatermark: number;
  private committed: number;
  private readonly parked = new Set<ParkedFetch>();
  /** Woken each time appended bytes reach the log file (before the flush), whether or not the high
   *  watermark moved: followers' fetches wait here, since on a replicated leader the high watermark
   *  moves only after they fetched. */
  private readonly appendWaiters = new Set<ParkedFetch>();
  /** The in-sync replicas a cluster recorded for this partition (one node: itself). */
  inSyncReplicaCount = 1;
  /** `min.insync.replicas` as a cluster applies it; one node has one replica and does not check. */
  minInSyncReplicas = 1;
  private retiredAlready = false;

  constructor(parts: PartitionParts) {
    this.topic = parts.topic;
    this.index = parts.index;
    this.log = parts.log;
    this.producers = parts.producers;
    this.transactions = parts.transactions;
    this.hooks = parts.hooks;
    this.clock = parts.clock ?? systemClock;
    this.leaderRule = parts.highWatermarkRule ?? flushedCommit;
    this.roleNow = parts.role ?? 'leader';
    this.epoch = parts.leaderEpoch ?? parts.log.leaderEpoch;
    this.committed = this.roleNow === 'leader' ? this.leaderRule(parts.log) : parts.log.logStartOffset;
    this.leaderHighWatermark = this.committed;
    // A follower's parked fetch is answered once the batch is written here, not once it is flushed:
    // the follower writes and fsyncs while this leader does (its next fetch reports its durable end).
    parts.log.onWritten = () => this.wakeAppendWaiters();
  }

  private wakeAppendWaiters(): void {
    if (this.appendWaiters.size > 0) for (const waiter of [...this.appendWaiters]) waiter.wake();
  }

  get role(): PartitionRole {
    return this.roleNow;
  }

  /** The leader epoch this replica knows its partition at (as leader: the one its appends carry). */
  get leaderEpoch(): number {
    return this.epoch;
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
    if (this.roleNow !== 'leader') return Promise.reject(notInRole("a follower appends only its leader's batches"));
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

  /**
   * Why an append would be refused now — the log is read-only, or this replica follows — or null.
   * Callers that record producer or transaction state in the tick of the append check it first:
   * that state cannot be taken back.
   */
  get appendRefusal(): StorageError | null {
    return this.log.readOnly ?? (this.roleNow === 'leader' ? null : notInRole('this replica is a follower'));
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

  /** Asks the rule again (a follower: its leader's word and its own flushed end); if the high watermark
   *  moved, runs the hooks and wakes the parked fetches. */
  advanceHighWatermark(): void {
    const next =
      this.roleNow === 'leader'
        ? this.leaderRule(this.log)
        : Math.min(this.leaderHighWatermark, flushedCommit(this.log));
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
      if (this.roleNow !== 'leader')
        return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, errorMessage: 'this replica no longer leads' };
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

  // ── replication ─────────────────────────────────────────────────────────────────────────────

  /**
   * This replica leads its partition from now on at `leaderEpoch`: its appends carry that epoch, and
   * the leader-epoch checkpoint records where it starts (PartitionLog.assignLeaderEpoch); its high
   * watermark follows its leader rule again. Resolves once the epoch is durable; a role change made
   * meanwhile wins (then this one does nothing; check `role`). Rejects an epoch older than the
   * partition's (FENCED_LEADER_EPOCH).
   */
  async becomeLeader(leaderEpoch: number): Promise<void> {
    this.checkEpoch(leaderEpoch);
    const transition = ++this.transitions;
    await this.log.assignLeaderEpoch(leaderEpoch);
    if (transition !== this.transitions) return;
    this.epoch = leaderEpoch;
    this.roleNow = 'leader';
    this.advanceHighWatermark();
  }

  /**
   * This replica follows the leader of `leaderEpoch` from now on: append() is refused, the leader's
   * batches come through appendReplicated(), and the high watermark follows the leader's
   * (followHighWatermark) from where it is. Throws for an epoch older than the partition's
   * (FENCED_LEADER_EPOCH). Parked fetches wake, to find out who leads now.
   */
  becomeFollower(leaderEpoch: number): void {
    this.checkEpoch(leaderEpoch);
    this.transitions += 1;
    this.epoch = leaderEpoch;
    if (this.roleNow === 'follower') return;
    this.roleNow = 'follower';
    this.leaderHighWatermark = this.committed;
    this.wakeParked();
  }

  private checkEpoch(leaderEpoch: number): void {
    if (!Number.isInteger(leaderEpoch) || leaderEpoch < 0) throw new RangeError(`leader epoch ${leaderEpoch}`);
    if (leaderEpoch < this.epoch)
      throw new StorageError('FENCED_LEADER_EPOCH', `epoch ${leaderEpoch}, the partition is at ${this.epoch}`);
  }

  /** The leader's rule from now on (a replicated leader: the ISR's minimum); asked at once if this
   *  replica leads. The high watermark still never moves back. */
  setHighWatermarkRule(rule: HighWatermarkRule): void {
    this.leaderRule = rule;
    if (this.roleNow === 'leader') this.advanceHighWatermark();
  }

  /**
   * A follower learnt its leader's high watermark (a fetch response): its own becomes
   * min(`leaderHighWatermark`, what its flush policy made durable — flushed under `sync`, written
   * otherwise), if that is higher than it is. Ignored on a leader (a response that arrived after
   * becomeLeader).
   */
  followHighWatermark(leaderHighWatermark: number): void {
    if (this.roleNow !== 'follower') return;
    this.leaderHighWatermark = leaderHighWatermark;
    this.advanceHighWatermark();
  }

  /**
   * A follower appends its leader's batches exactly as they are (PartitionLog.appendReplicated: one
   * chunk of whole RecordBatch v2 batches, a fetch response's records; a partial last batch is left,
   * see `bytes`), and takes each into the producer and transaction state as the produce pipeline and
   * the marker writer do: idempotent producers' sequences, open transactions, COMMIT and ABORT markers
   * (an abort goes to the `.txnindex`). Resolves when the batches are as durable as the flush policy
   * promises; the high watermark is then asked again. A chunk that fails its checks is refused whole
   * (StorageError); on a leader everything is (NOT_LEADER_OR_FOLLOWER). One chunk at a time.
   */
  async appendReplicated(chunk: Buffer): Promise<ReplicatedAppendResult> {
    if (this.roleNow !== 'follower') throw notInRole('a leader takes no replicated batches');
    if (!this.transactions.isMarked && holdsTransactionalBatch(chunk)) {
      await this.transactions.markTransactional(); // once per partition, before its first transactional batch
      if (this.roleNow !== 'follower') throw notInRole('a leader takes no replicated batches');
    }
    const nowMs = this.clock.now();
    let result: ReplicatedAppendResult;
    try {
      result = await this.log.appendReplicated(chunk, (header) => this.takeReplicated(header, nowMs));
    } catch (error) {
      this.wakeParked(); // a waiter re-checks: the log may be read-only now
      throw error;
    }
    this.advanceHighWatermark();
    return result;
  }

  /** One replicated batch, just taken by the log (its segment still the active one). */
  private takeReplicated(header: RecordBatchHeader, nowMs: number): void {
    if (header.producerId >= 0) this.producers.record(header, nowMs);
    if (!header.isTransactional) return;
    const batch = header.buffer.subarray(header.offset, header.offset + header.totalBytes);
    this.transactions.apply(header, header.isControl ? controlTypeOf(batch) : null);
  }

  /** For a follower's fetch: whole batches from `offset` up to the readable end — past the high
   *  watermark, where read() stops, since the followers' copies are what moves it. */
  readForReplica(offset: number, maxBytes: number): Promise<ReadResult> {
    return this.log.read(offset, maxBytes);
  }

  /**
   * A follower cuts its divergent tail (KIP-101: at the end offset its leader gave for the last
   * common epoch): every batch at or after `offset` goes, the one holding it whole
   * (PartitionLog.truncateTo), and the producer and transaction state are rebuilt for the log that is
   * left (snapshots above it deleted; aborted transactions whose marker went forgotten; transactions
   * whose marker went open again). Refused below the high watermark (OFFSET_OUT_OF_RANGE) and on a
   * leader. No append may run meanwhile.
   */
  async truncateTo(offset: number): Promise<void> {
    if (this.roleNow !== 'follower') throw notInRole('a leader never cuts its log');
    if (offset >= this.log.logEndOffset) return;
    const refuse = (cut: number) =>
      new StorageError(
        'OFFSET_OUT_OF_RANGE',
        `cannot truncate to ${offset} (the cut starts at ${cut}): ` +
          `below the high watermark ${this.committed}, committed records are never cut`,
      );
    if (offset < this.committed) throw refuse(offset);
    // The batch holding `offset` goes whole; what of it lies below the log start is not served anyway.
    const readable = offset >= this.log.logStartOffset && offset < this.log.readableEndOffset;
    const holder = readable ? await this.log.read(offset, 1) : null;
    const first = holder !== null && holder.records.length > 0 ? holder.firstOffset : offset;
    const cut = Math.max(Math.min(offset, first), this.log.logStartOffset);
    if (cut < this.committed) throw refuse(cut);
    await this.log.truncateTo(offset);
    await this.producers.truncated(this.log, this.clock.now());
    await this.transactions.truncated(this.log, this.producers);
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

  parkAppendWaiter(waiter: ParkedFetch): void {
    this.appendWaiters.add(waiter);
  }

  unparkAppendWaiter(waiter: ParkedFetch): void {
    this.appendWaiters.delete(waiter);
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

function notInRole(detail: string): StorageError {
  return new StorageError('NOT_LEADER_OR_FOLLOWER', detail);
}

/** Whether any whole-header batch of `chunk` is transactional (headers only). */
function holdsTransactionalBatch(chunk: Buffer): boolean {
  for (let position = 0; position + BATCH_HEADER_BYTES <= chunk.length;) {
    const header = new RecordBatchHeader(chunk, position);
    if (header.isTransactional) return true;
    if (header.totalBytes < BATCH_HEADER_BYTES) return false;
    position += header.totalBytes;
  }
  return false;
}
