// The producer's sender: takes the closed batches out of the accumulator's partition queues, sends
// them to each partition's leader and settles them with the answers.
//
//   drain      one Produce request per leader with one batch of every partition that may send now:
//              fewer than `maxInFlightPerPartition` in flight, not recovering, not waiting to retry
//   encode     the batch header is written when the batch is first sent: producer id and epoch
//              (producer-identity.ts), the partition's next sequence numbers, the transactional
//              flag; compressed batches and a producer id still to come take the slow path
//   order      a request that can be written at once is (a full batch reaches the socket while its
//              sender goes on appending); slow-path requests are prepared one at a time in the order
//              drain made them, and no request overtakes one still preparing, so a partition's
//              sequences reach the broker in order
//   retries    a failed batch stops its partition until everything in flight has answered; the
//              failed ones go back to the head of its queue in sequence order and are resent after
//              the backoff. A batch rejected for good leaves a gap: the batches behind it get new
//              sequences starting at the rejected one, so the broker accepts them
//   expiry     a batch not delivered within `deliveryTimeoutMs` fails instead of being retried
//
// It reads and changes the accumulator's queues (the sender's fields, see producer-accumulator.ts)
// and gives settled batches back to it; it does not know the producer facade.
import { ApiKey } from '../protocol/generated/index.js';
import type { ProduceResponse } from '../protocol/generated/produce.js';
import { ErrorCode } from '../protocol/generated/error-codes.js';
import { Compression } from '../protocol/record-batch/header.js';
import { backoffDelayMs } from './backoff.js';
import { staleMetadata, type Cluster } from './cluster.js';
import { KafkaError, RequestTimeoutError, SluiceClientError } from './errors.js';
import type { Batch, BatchAccumulator, PartitionQueue } from './producer-accumulator.js';
import type { ProducerIdentity } from './producer-identity.js';
import { acknowledgeRuns, rejectRuns } from './producer-results.js';
import { isFencingCode, type TransactionCoordinator } from './transaction.js';

export interface SenderOptions {
  idempotent: boolean;
  acks: number;
  compression: Compression;
  maxInFlightPerPartition: number;
  ackTimeoutMs: number;
  deliveryTimeoutMs: number;
}

/** What the sender needs of a transactional producer's coordinator side: its id, and fencing. */
export type SenderTransaction = Pick<TransactionCoordinator, 'transactionalId' | 'fence'>;

export class ProduceSender {
  private readonly idempotent: boolean;
  private readonly acks: number;
  private readonly compression: Compression;
  private readonly maxInFlightPerPartition: number;
  private readonly ackTimeoutMs: number;
  private readonly deliveryTimeoutMs: number;
  private drainScheduled = false;
  /** Produce requests on the slow path (requestLater) not yet written: none may be overtaken. */
  private requestsPreparing = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Settles when the last slow-path Produce request (requestLater) has been written. */
  private slowPathTail: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    options: SenderOptions,
    private readonly cluster: Cluster,
    private readonly accumulator: BatchAccumulator,
    private readonly identity: ProducerIdentity,
    private readonly txn: SenderTransaction | undefined,
  ) {
    this.idempotent = options.idempotent;
    this.acks = options.acks;
    this.compression = options.compression;
    this.maxInFlightPerPartition = options.maxInFlightPerPartition;
    this.ackTimeoutMs = options.ackTimeoutMs;
    this.deliveryTimeoutMs = options.deliveryTimeoutMs;
  }

  /** A new producer id or epoch: every partition's sequences start again at 0. */
  resetSequences(): void {
    for (const queue of this.accumulator.queues.values()) queue.nextSequence = 0;
  }

  /** Stops the retry timer; after this, drain sends only while messages are outstanding. */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    // Batches closed in the same tick go out in the same requests.
    queueMicrotask(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  /** Sends every batch that may go now, grouped into one Produce request per leader. */
  drain(): void {
    if (this.closed && this.accumulator.outstanding === 0) return;
    const now = this.cluster.clock.now();
    const byLeader = new Map<number, Array<{ queue: PartitionQueue; batch: Batch }>>();
    let needMetadata = false;
    let earliestRetryMs = Infinity;
    for (const queue of this.accumulator.queues.values()) {
      if (queue.recovering || queue.ready.length === 0 || queue.inFlight.size >= this.maxInFlightPerPartition) continue;
      if (queue.retryAtMs > now) {
        earliestRetryMs = Math.min(earliestRetryMs, queue.retryAtMs);
        continue;
      }
      const leader = this.cluster.leaderOf(queue.topic, queue.partition);
      if (leader === undefined) {
        this.expire(queue, now);
        needMetadata = true;
        queue.retryAtMs = now + this.cluster.retryBackoffMs;
        earliestRetryMs = Math.min(earliestRetryMs, queue.retryAtMs);
        continue;
      }
      const batch = queue.ready.shift()!;
      queue.inFlight.add(batch);
      let list = byLeader.get(leader);
      if (!list) byLeader.set(leader, (list = []));
      list.push({ queue, batch });
    }
    if (needMetadata) this.cluster.refreshMetadata().catch(() => undefined);
    for (const [leader, entries] of byLeader) this.sendRequest(leader, entries);
    if (earliestRetryMs !== Infinity && !this.retryTimer) {
      this.retryTimer = setTimeout(
        () => {
          this.retryTimer = undefined;
          this.drain();
        },
        Math.max(1, earliestRetryMs - now),
      );
    }
  }

  /** The header fields of a batch about to be encoded (the sequence is assigned first, see encode). */
  private batchFields(batch: Batch) {
    return {
      producerId: this.idempotent ? this.identity.producerId : -1,
      producerEpoch: this.idempotent ? this.identity.producerEpoch : -1,
      baseSequence: this.idempotent ? batch.baseSequence : -1,
      transactional: this.txn !== undefined,
      compression: this.compression,
    };
  }

  /** Gives a batch its sequence numbers when first sent; kept through retries, renumbered after a gap. */
  private assignSequence(queue: PartitionQueue, batch: Batch): void {
    if (!this.idempotent) return;
    batch.baseSequence = queue.nextSequence;
    queue.nextSequence = (queue.nextSequence + batch.builder.count) % 0x80000000;
  }

  private async encode(queue: PartitionQueue, batch: Batch): Promise<Buffer> {
    if (batch.encoded) return batch.encoded;
    if (this.idempotent && this.identity.producerId < 0) await this.identity.init();
    this.assignSequence(queue, batch);
    batch.encoded = await batch.builder.finish(this.batchFields(batch));
    return batch.encoded;
  }

  /** Can every batch be encoded without waiting: no compression, and the producer id known? */
  private canEncodeNow(entries: ReadonlyArray<{ batch: Batch }>): boolean {
    if (this.compression === Compression.None && (!this.idempotent || this.identity.producerId >= 0)) return true;
    for (const { batch } of entries) if (batch.encoded === undefined) return false;
    return true;
  }

  private encodeNow(queue: PartitionQueue, batch: Batch): Buffer {
    if (batch.encoded) return batch.encoded;
    this.assignSequence(queue, batch);
    batch.encoded = batch.builder.finishUncompressed(this.batchFields(batch));
    return batch.encoded;
  }

  private produceRequest(entries: ReadonlyArray<{ queue: PartitionQueue }>, records: Buffer[]): object {
    const topics = new Map<string, Array<{ index: number; records: Buffer }>>();
    for (let i = 0; i < entries.length; i++) {
      const queue = entries[i]!.queue;
      let list = topics.get(queue.topic);
      if (!list) topics.set(queue.topic, (list = []));
      list.push({ index: queue.partition, records: records[i]! });
    }
    return {
      transactionalId: this.txn?.transactionalId ?? null,
      acks: this.acks,
      timeoutMs: this.ackTimeoutMs,
      topicData: [...topics].map(([name, partitionData]) => ({ name, partitionData })),
    };
  }

  /** Sends one Produce request carrying one batch of each entry's partition. */
  private sendRequest(leader: number, entries: Array<{ queue: PartitionQueue; batch: Batch }>): void {
    const answer = this.requestNow(leader, entries) ?? this.requestLater(leader, entries);
    answer.then(
      (response) => this.answered(entries, response, undefined),
      (error: unknown) => this.answered(entries, undefined, error as Error),
    );
  }

  /**
   * Writes the request before returning, when nothing has to be waited for: the batches can be
   * encoded now, the leader's connection is open, and no request taking the slow path is still to
   * be written — it must not be overtaken, as a partition's batches go out in sequence order.
   * A full batch is so on the wire while its sender goes on appending (see the accumulator's append).
   */
  private requestNow(
    leader: number,
    entries: ReadonlyArray<{ queue: PartitionQueue; batch: Batch }>,
  ): Promise<ProduceResponse | undefined> | undefined {
    if (this.requestsPreparing > 0 || !this.canEncodeNow(entries)) return undefined;
    const connection = this.cluster.openConnectionTo(leader);
    if (connection === undefined) return undefined;
    try {
      const records = entries.map(({ queue, batch }) => this.encodeNow(queue, batch));
      return connection.request<ProduceResponse | undefined>(
        ApiKey.Produce,
        this.produceRequest(entries, records),
        this.produceOptions(),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The slow path: waits for the producer id, compression or a connection, then writes the request. */
  private async requestLater(
    leader: number,
    entries: ReadonlyArray<{ queue: PartitionQueue; batch: Batch }>,
  ): Promise<ProduceResponse | undefined> {
    this.requestsPreparing++;
    let preparing = true;
    // Slow-path requests prepare one at a time, in the order drain() made them: they take sequence
    // numbers when encoded, and a small request must not be written before a larger one still compressing.
    const previous = this.slowPathTail;
    let written!: () => void;
    this.slowPathTail = new Promise<void>((resolve) => (written = resolve));
    try {
      await previous;
      const records: Buffer[] = [];
      for (const { queue, batch } of entries) records.push(await this.encode(queue, batch));
      const connection = await this.cluster.connectionTo(leader);
      this.requestsPreparing--;
      preparing = false;
      const answer = connection.request<ProduceResponse | undefined>(
        ApiKey.Produce,
        this.produceRequest(entries, records),
        this.produceOptions(),
      );
      written();
      return await answer;
    } finally {
      if (preparing) this.requestsPreparing--;
      written();
    }
  }

  private produceOptions(): { expectResponse: boolean; timeoutMs: number } {
    return { expectResponse: this.acks !== 0, timeoutMs: this.cluster.requestTimeoutMs + this.ackTimeoutMs };
  }

  /** Settles the batches of a Produce request with its answer (or the error that stood for one). */
  private answered(
    entries: ReadonlyArray<{ queue: PartitionQueue; batch: Batch }>,
    response: ProduceResponse | undefined,
    requestError: Error | undefined,
  ): void {
    for (const { queue, batch } of entries) {
      queue.inFlight.delete(batch);
      if (requestError) {
        this.batchFailed(queue, batch, requestError);
        continue;
      }
      if (this.acks === 0) {
        this.batchDone(batch, -1n, -1);
        continue;
      }
      const answer = response!.responses
        .find((t) => t.name === queue.topic)
        ?.partitionResponses.find((p) => p.index === queue.partition);
      if (!answer)
        this.batchFailed(
          queue,
          batch,
          new SluiceClientError(`the broker did not answer for ${queue.topic}/${queue.partition}`, true),
        );
      else if (answer.errorCode === ErrorCode.NONE)
        this.batchDone(batch, answer.baseOffset, Number(answer.logAppendTimeMs));
      else if (answer.errorCode === ErrorCode.DUPLICATE_SEQUENCE_NUMBER) this.batchDone(batch, -1n, -1);
      else if (this.txn && isFencingCode(answer.errorCode))
        this.batchFailed(
          queue,
          batch,
          this.txn.fence(
            new KafkaError(answer.errorCode, answer.errorMessage, `produce to ${queue.topic}/${queue.partition}`),
          ),
        );
      else
        this.batchFailed(
          queue,
          batch,
          new KafkaError(answer.errorCode, answer.errorMessage, `produce to ${queue.topic}/${queue.partition}`),
        );
    }
    for (const { queue } of entries) this.maybeFinishRecovery(queue);
    this.drain();
  }

  private batchDone(batch: Batch, baseOffset: bigint, logAppendTimeMs: number): void {
    acknowledgeRuns(batch.runs, baseOffset, logAppendTimeMs);
    // Answered at the first attempt, its bytes are written and read: the buffer may serve again.
    // (With acks=0 nothing says the socket is done with them; a retried batch went out more than once.)
    this.accumulator.settled(batch, this.acks !== 0 && batch.attempts === 0);
  }

  private batchFailed(queue: PartitionQueue, batch: Batch, error: Error): void {
    batch.attempts++;
    const code = error instanceof KafkaError ? error.code : undefined;
    // OUT_OF_ORDER_SEQUENCE behind a batch that failed: the gap is ours and the resend fills it.
    const behindFailure = code === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER && queue.recovering;
    const expired = this.cluster.clock.now() - batch.createdMs > this.deliveryTimeoutMs;
    const retriable = error instanceof SluiceClientError && (error.retriable || behindFailure) && !expired;
    queue.recovering = true;
    if (retriable && batch.attempts <= this.cluster.retries) {
      queue.failed.push(batch);
      if (staleMetadata(error)) this.cluster.refreshMetadata().catch(() => undefined);
      return;
    }
    // Rejected for good: the broker did not write it, so later sequences must close the gap.
    if (this.idempotent && batch.baseSequence >= 0 && code !== undefined) {
      queue.gapAt = queue.gapAt === undefined ? batch.baseSequence : Math.min(queue.gapAt, batch.baseSequence);
    }
    rejectRuns(batch.runs, error);
    this.accumulator.settled(batch, false);
  }

  /** Fails the not-yet-sent batches of a partition that has had no leader for deliveryTimeoutMs. */
  private expire(queue: PartitionQueue, now: number): void {
    while (queue.ready.length > 0 && now - queue.ready[0]!.createdMs > this.deliveryTimeoutMs) {
      const batch = queue.ready.shift()!;
      const error = new RequestTimeoutError(
        `${batch.builder.count} messages for ${queue.topic}/${queue.partition} ` +
          `were not delivered within ${this.deliveryTimeoutMs} ms (no leader)`,
      );
      if (this.idempotent && batch.baseSequence >= 0) {
        // Sent before, so its sequence is used: the batches behind it get new ones.
        queue.gapAt = queue.gapAt === undefined ? batch.baseSequence : Math.min(queue.gapAt, batch.baseSequence);
        queue.recovering = true;
      }
      rejectRuns(batch.runs, error);
      this.accumulator.settled(batch, false);
    }
    this.maybeFinishRecovery(queue);
  }

  private maybeFinishRecovery(queue: PartitionQueue): void {
    if (!queue.recovering || queue.inFlight.size > 0) return;
    const failed = queue.failed.sort((a, b) => a.baseSequence - b.baseSequence);
    queue.failed = [];
    if (queue.gapAt !== undefined) {
      // Batches after the gap were not written (the broker refuses sequences past a gap): renumber
      // them, and the ones not yet sent, from the gap on.
      queue.nextSequence = queue.gapAt;
      for (const batch of [...failed, ...queue.ready]) {
        if (batch.encoded && batch.baseSequence > queue.gapAt) {
          batch.encoded = undefined;
          batch.baseSequence = -1;
        }
      }
      queue.gapAt = undefined;
    }
    queue.ready.unshift(...failed);
    queue.recovering = false;
    const attempts = Math.max(1, ...failed.map((b) => b.attempts));
    queue.retryAtMs =
      failed.length > 0
        ? this.cluster.clock.now() + backoffDelayMs({ initialMs: this.cluster.retryBackoffMs, maxMs: 1000 }, attempts)
        : 0;
  }
}
