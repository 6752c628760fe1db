// What the broker hands its services (groups/, transactions/, half-messages/): one narrow interface per
// thing a service uses, never the Broker itself. A service declares, in its own folder, the bundle of
// these it needs (`GroupDependencies`, `TransactionDependencies`, `HalfMessageDependencies`);
// broker.ts builds the adapters (service-adapters.ts) and passes them at open.
//
// The rule, checked by test/tidy.test.ts: a file in a service folder imports neither broker.ts nor the
// broker's wiring (service-adapters.ts, partition-set.ts), nor any file of another service folder.
// Where one service needs another — the transaction coordinator and a group's transactional offsets —
// the interface is declared here (`TransactionalOffsets`) and the other service implements it.
//
//   | interface                 | what it offers                                         | used by        |
//   |---------------------------|--------------------------------------------------------|----------------|
//   | PartitionLookup           | a topic's partition count; an open partition to read   | all three      |
//   | InternalTopicWriter       | create a topic; append a batch to an internal one      | all three      |
//   | PartitionLeadership       | whether this broker leads a partition, at which epoch  | groups, txns   |
//   | AppendWatcher             | be woken when a partition's high watermark moves       | half messages  |
//   | ClientProducer            | produce a batch into a client topic, as a client would | half messages  |
//   | TransactionMarkerWriter   | write a COMMIT/ABORT marker to a partition             | transactions   |
//   | ProducerIdSource          | a producer id never handed out before                  | transactions   |
//   | TransactionalOffsets      | a group's offsets as part of a producer's transaction  | transactions   |
//   | Clock, Timers             | the time, and timers that do not hold the process open | all three      |
import type { Clock } from '../runtime/clock.js';

export type { Clock } from '../runtime/clock.js';
export { systemClock } from '../runtime/clock.js';
export type { Logger } from './logger.js';

/** The answer of an operation a client asked for: a Kafka error code, and a message where there is one. */
export interface Failure {
  errorCode: number;
  errorMessage: string | null;
}

export interface PartitionRead {
  /** Whole batches, back to back, exactly as stored; at least one when there is data (KIP-74). */
  records: Buffer;
  /** Base offset of the first batch (may be below the offset asked for: the batch holding it). */
  firstOffset: number;
  /** Offset to ask for next. */
  nextOffset: number;
}

/** One open partition, as a service reads it. */
export interface PartitionView {
  readonly logStartOffset: number;
  readonly highWatermark: number;
  readonly logEndOffset: number;
  /** Batches from `offset`; none starting at or past `maxOffset` (default: the high watermark). */
  read(offset: number, maxBytes: number, options?: { maxOffset?: number }): Promise<PartitionRead>;
}

export interface PartitionLookup {
  /** Partitions of a topic, or null when the topic does not exist. */
  partitionCount(topic: string): number | null;
  /** An open partition, or undefined when there is none (unknown topic or partition, or deleted). */
  partition(topic: string, partition: number): PartitionView | undefined;
}

export interface InternalTopicWriter {
  /** Creates a topic, internal names allowed; the answer a CreateTopics request would get. */
  createTopic(topic: string, partitions: number, configs: Record<string, string>): Promise<Failure>;
  /**
   * Appends one batch as it is to a partition of an internal topic (no produce checks: the broker wrote
   * it) and resolves with its base offset once committed — durable, and in a cluster on every in-sync
   * replica (as acks=-1); fetches waiting on the partition are woken. Rejects when the partition is not
   * open, this broker does not lead it (or stops leading it before the batch is committed), or storage
   * refuses (a StorageError carries its Kafka code).
   */
  append(topic: string, partition: number, batch: Buffer): Promise<number>;
}

/** Where a coordinator may act: its partition's leader (broker/partition-ownership.ts). */
export interface PartitionLeadership {
  /** The leader epoch at which this broker leads the partition and may act for it, or -1 (another broker
   *  leads it, none does, or this broker cannot know it still does). One node: its log's epoch. */
  leaderEpoch(topic: string, partition: number): number;
  /** True while the cluster names this broker the partition's leader but it does not act as one yet
   *  (taking leadership up; its etcd lease in doubt): a coordinator answers "loading", not "elsewhere". */
  leaderPending(topic: string, partition: number): boolean;
  /** Resolves once the partition's high watermark reached its log end offset as it is now — what a new
   *  leader was elected with is then committed and can be loaded; rejects if it stops leading first. */
  settled(topic: string, partition: number): Promise<void>;
}

/** What a service that keeps its state in internal topics is given. */
export type InternalPartitions = PartitionLookup & InternalTopicWriter & PartitionLeadership;

export interface AppendWaiter {
  wake(): void;
}

export interface AppendWatcher {
  /** `waiter.wake()` runs each time the open partition's high watermark moves (an append), until it is
   *  removed. A partition not open takes no waiter. */
  addWaiter(topic: string, partition: number, waiter: AppendWaiter): void;
  removeWaiter(topic: string, partition: number, waiter: AppendWaiter): void;
}

export interface ClientProducer {
  /** Appends a batch to a client topic through the produce path (validation, producer checks);
   *  resolves when durable. */
  produce(topic: string, partition: number, batch: Buffer): Promise<Failure & { baseOffset: number }>;
}

export interface TransactionMarkerWriter {
  /** Appends a COMMIT or ABORT marker of a producer's transaction to one partition and resolves when it
   *  is durable; a partition that no longer exists is skipped. */
  writeTransactionMarker(
    topic: string,
    partition: number,
    producerId: number,
    producerEpoch: number,
    commit: boolean,
    /** False once the coordinator no longer holds the transaction (its partition moved): a writer that
     *  retries stops then, so a deposed coordinator sends no late marker. */
    stillWanted?: () => boolean,
  ): Promise<void>;
}

export interface ProducerIdSource {
  /** A producer id never handed out before, across restarts (durably reserved before it resolves). */
  nextProducerId(): Promise<number>;
}

export interface PartitionErrors {
  name: string;
  partitions: Array<{ partition: number; errorCode: number }>;
}

/** An OffsetCommit or TxnOffsetCommit as the group coordinator takes it. */
export interface OffsetCommitRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** OffsetCommit v2-v4 retention_time_ms; -1 = the broker's offsets.retention.minutes. */
  retentionTimeMs: number;
  topics: Array<{
    name: string;
    partitions: Array<{ partition: number; offset: number; leaderEpoch: number; metadata: string | null }>;
  }>;
}

/** A group's offsets committed inside a producer's transaction (AddOffsetsToTxn, TxnOffsetCommit). */
export interface TransactionalOffsets {
  /** The internal topic holding the offsets; its partitions join transactions like any other. */
  readonly topic: string;
  /** The partition of `topic` holding a group's offsets (creating the topic if needed). */
  partitionOf(groupId: string): Promise<number>;
  /** Writes the offsets as part of the producer's transaction; they count only once it commits. */
  prepare(
    request: OffsetCommitRequest,
    producer: { producerId: number; producerEpoch: number },
    partitionExists: (topic: string, partition: number) => boolean,
  ): Promise<PartitionErrors[]>;
  /** The COMMIT or ABORT marker of `producerId` is durable in partition `partition` of `topic`. */
  complete(producerId: number, partition: number, commit: boolean): void;
}

export interface Timer {
  cancel(): void;
}

/** Timers for the services' own clocks (sessions, rebalances, expiry, polling). */
export interface Timers {
  /** Runs `action` once, `delayMs` (at least 0) from now. */
  after(delayMs: number, action: () => void): Timer;
  /** Runs `action` every `intervalMs`. */
  every(intervalMs: number, action: () => void): Timer;
}

/** Node's timers, unref'd: a service's timer never keeps the process alive (close() cancels them anyway). */
export const systemTimers: Timers = {
  after(delayMs, action) {
    const timeout = setTimeout(action, Math.max(0, delayMs));
    timeout.unref();
    return { cancel: () => clearTimeout(timeout) };
  },
  every(intervalMs, action) {
    const interval = setInterval(action, intervalMs);
    interval.unref();
    return { cancel: () => clearInterval(interval) };
  },
};

/** Time and timers of a service; tests pass their own. */
export interface ServiceTime {
  clock?: Clock;
  timers?: Timers;
}
