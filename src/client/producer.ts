// The producer: typed messages in, partition and offset out.
//
// send() serialises a message, picks its partition, reserves its size from the buffer memory and
// appends it to the open batch of that partition. A batch closes when it reaches `batchBytes` or is
// `lingerMs` old; closed batches wait in their partition's queue until the partition has fewer than
// `maxInFlightPerPartition` batches in flight, and are then sent, one batch per partition per
// Produce request, to the partition's leader.
//
// Idempotence (default): an InitProducerId gives a producer id and epoch; each batch carries the
// partition's next sequence number, assigned when the batch is first sent and kept through retries,
// so the broker drops a retried batch it already wrote and refuses one that would leave a gap.
// Order through retries: when a batch fails, the partition stops sending until everything in flight
// has answered, puts the failed batches back at the head of its queue in sequence order, waits the
// backoff and resumes. A batch the broker rejects for good leaves a gap: the batches behind it are
// given new sequences starting at the rejected one, so the broker accepts them.
//
// Transactions (`transactionalId`, `transaction(fn)`): the coordinator side is in transaction.ts.
import { ApiKey } from '../protocol/generated/index.js';
import type { ProduceResponse } from '../protocol/generated/produce.js';
import type { InitProducerIdResponse } from '../protocol/generated/init-producer-id.js';
import { ErrorCode } from '../protocol/generated/error-codes.js';
import { Compression } from '../protocol/record-batch/header.js';
import { backoffDelayMs } from './backoff.js';
import { Cluster, staleMetadata, type ClusterOptions, type TopicInfo } from './cluster.js';
import {
  BufferFullError,
  ClientClosedError,
  ClientOptionError,
  KafkaError,
  RequestTimeoutError,
  SluiceClientError,
} from './errors.js';
import { booleanOption, integerOption, oneOfOption } from './options.js';
import { keyPartition, StickyPartitions } from './partitioners.js';
import { RecordBatchBuilder, type HeaderEntry } from './record-batch-builder.js';
import { bufferSerde, type Serializer } from './serializers.js';
import { isFencingCode, TransactionCoordinator, type Transaction, type TransactionOffsets } from './transaction.js';

export type CompressionName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
const compressionCodes: Record<CompressionName, Compression> = {
  none: Compression.None,
  gzip: Compression.Gzip,
  snappy: Compression.Snappy,
  lz4: Compression.Lz4,
  zstd: Compression.Zstd,
};

export type MessageHeaders =
  Record<string, string | Buffer | null> | ReadonlyArray<readonly [string, string | Buffer | null]>;

export interface ProducerMessage<K = Buffer, V = Buffer> {
  key?: K | null;
  value: V | null;
  /** Send to this partition, bypassing the partitioner. */
  partition?: number;
  headers?: MessageHeaders;
  /** Create time in ms since the epoch (default: now). */
  timestamp?: number;
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  /** The message's offset; -1n when acks=0 (the broker does not answer). */
  offset: bigint;
  /** The log append time when the topic uses it, else the message's create time. */
  timestamp: number;
}

/** Picks a partition in [0, partitionCount); `key` is the serialised key (null when none). */
export type PartitionSelector<K = Buffer, V = Buffer> = (
  message: ProducerMessage<K, V>,
  partitionCount: number,
  key: Buffer | null,
) => number;

export interface ProducerOptions<K = Buffer, V = Buffer> extends ClusterOptions {
  /** Default true: acks=all, ≤ 5 batches in flight per partition, sequence numbers. */
  idempotent?: boolean;
  /** -1 (all, default), 1 (leader) or 0 (no answer). Idempotence requires -1. */
  acks?: -1 | 0 | 1;
  /** How long a batch may wait for more messages (default 5). */
  lingerMs?: number;
  /** A batch closes when its records reach this size (default 16 384). */
  batchBytes?: number;
  compression?: CompressionName;
  /** Memory for messages not yet acknowledged (default 32 MiB). */
  bufferBytesMax?: number;
  /** When the buffer is full: wait for room (default) or fail at once with BufferFullError. */
  bufferFullAction?: 'wait' | 'fail';
  /** How long `send` waits for buffer room before failing (default 60 000). */
  bufferWaitMs?: number;
  /** Default 5 (the most idempotence keeps in order). */
  maxInFlightPerPartition?: number;
  /** Time the broker may take to reach `acks` (default 30 000). */
  ackTimeoutMs?: number;
  /** A message not acknowledged this long after `send` fails instead of being retried again (default 120 000). */
  deliveryTimeoutMs?: number;
  partitioner?: PartitionSelector<K, V>;
  keySerializer?: Serializer<K>;
  valueSerializer?: Serializer<V>;
  /** Makes the producer transactional (needs idempotence): sends happen inside `transaction(fn)`. */
  transactionalId?: string;
  /** The coordinator aborts a transaction open longer than this (default 60 000). */
  transactionTimeoutMs?: number;
}

/**
 * One sendBatch call: a single promise for all its messages, however many batches they land in. Its
 * RecordMetadata are built when the last message is acknowledged, not batch by batch: objects made
 * just before the caller gets them are mostly dead by the next garbage collection, while objects
 * waiting for a later batch would be copied by it.
 */
interface SendGroup {
  topic: string;
  size: number;
  /** Where its messages went, in message order. */
  runs: SendRun[];
  remaining: number;
  settled: boolean;
  resolve(results: RecordMetadata[]): void;
  reject(error: Error): void;
}

/**
 * Consecutive records of a batch from one sendBatch call with one create time: messages
 * firstIndex … of the call. Messages without a timestamp share the call's, so a call is usually one
 * run per batch it lands in.
 */
interface SendRun {
  group: SendGroup;
  firstIndex: number;
  count: number;
  partition: number;
  /** The create time; once acknowledged, the log append time when the topic uses it. */
  timestamp: number;
  /** Once acknowledged: the offset of the run's first message (−1n when the broker did not say). */
  baseOffset: bigint;
}

/** A message serialised by appendMessages that has to wait before it is appended. */
interface StalledMessage {
  index: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: ReadonlyArray<HeaderEntry> | undefined;
  partition: number;
  timestamp: number;
  bytes: number;
}

interface Batch {
  /** The records, encoded as they are appended. */
  builder: RecordBatchBuilder;
  /** Whose records these are and their create times, in record order: runs, not an object per message. */
  runs: SendRun[];
  /** Header plus what the records reserved from the buffer memory (the estimate, not the encoding). */
  bytes: number;
  createdMs: number;
  /** Set when first sent; kept through retries. */
  encoded: Buffer | undefined;
  baseSequence: number;
  attempts: number;
}

interface PartitionQueue {
  topic: string;
  partition: number;
  open: Batch | undefined;
  lingerTimer: NodeJS.Timeout | undefined;
  ready: Batch[];
  inFlight: Set<Batch>;
  nextSequence: number;
  /** Stop sending until the in-flight batches answered, then requeue the failed ones in order. */
  recovering: boolean;
  failed: Batch[];
  /** Lowest sequence rejected for good during this recovery (batches after it are re-sequenced). */
  gapAt: number | undefined;
  retryAtMs: number;
  /** The first allocation of the partition's next batch: full size after a full batch, else about the last one's size. */
  nextBatchCapacity: number;
}

/** Record overhead beyond key, value and headers (length, attributes, deltas, varints), upper bound. */
const RECORD_OVERHEAD_BYTES = 22;
const BATCH_HEADER_BYTES = 61;
/** The smallest first allocation of a batch; it grows by doubling. */
const BATCH_CAPACITY_MIN_BYTES = 256;
/**
 * Full-size batch buffers kept for reuse once their batch is acknowledged: a new 1 MiB buffer per
 * batch costs an allocation, fresh pages and garbage-collector pressure from the external memory.
 * Memory outside bufferBytesMax, hence few.
 */
const BATCH_BUFFERS_KEPT_MAX = 4;

export class Producer<K = Buffer, V = Buffer> {
  readonly cluster: Cluster;
  private readonly idempotent: boolean;
  private readonly acks: number;
  private readonly lingerMs: number;
  private readonly batchBytes: number;
  private readonly compression: Compression;
  private readonly bufferBytesMax: number;
  private readonly bufferFullAction: 'wait' | 'fail';
  private readonly bufferWaitMs: number;
  private readonly maxInFlightPerPartition: number;
  private readonly ackTimeoutMs: number;
  private readonly deliveryTimeoutMs: number;
  private readonly partitioner: PartitionSelector<K, V> | undefined;
  private readonly keySerializer: Serializer<K>;
  private readonly valueSerializer: Serializer<V>;
  private readonly sticky = new StickyPartitions();
  private readonly queues = new Map<string, PartitionQueue>();
  /** The same queues by topic, indexed by partition: the lookup per message builds no string. */
  private readonly queuesByTopic = new Map<string, PartitionQueue[]>();
  /** What a full batch takes, header included. */
  private readonly fullBatchCapacity: number;
  /** Buffers of fullBatchCapacity bytes from acknowledged batches (at most BATCH_BUFFERS_KEPT_MAX). */
  private readonly freeBatchBuffers: Buffer[] = [];
  private bufferedBytes = 0;
  private readonly bufferWaiters: Array<{ bytes: number; wake(): void }> = [];
  private outstanding = 0;
  private idleWaiters: Array<() => void> = [];
  private producerId = -1;
  private producerEpoch = -1;
  private initializing: Promise<void> | undefined;
  private connected: Promise<void> | undefined;
  /** connect() has completed: a send to a topic whose metadata is known appends before returning. */
  private ready = false;
  /** sendBatch calls still waiting for connect() or metadata: later calls queue behind them, to keep call order. */
  private sendsWaiting = 0;
  private drainScheduled = false;
  /** Produce requests on the slow path (requestLater) not yet written: none may be overtaken. */
  private requestsPreparing = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Settles when the last slow-path Produce request (requestLater) has been written. */
  private slowPathTail: Promise<void> = Promise.resolve();
  private closed = false;
  /** Set for a producer with `transactionalId` (transaction.ts). */
  private readonly txn: TransactionCoordinator | undefined;
  private inTransaction = false;
  private transactionChain: Promise<unknown> = Promise.resolve();

  constructor(options: ProducerOptions<K, V> = {}) {
    this.cluster = new Cluster(options);
    this.idempotent = booleanOption('idempotent', options.idempotent, true);
    this.acks = oneOfOption('acks', options.acks, -1, [-1, 0, 1] as const);
    if (this.idempotent && this.acks !== -1)
      throw new ClientOptionError(
        'an idempotent producer needs acks=-1 (all); set idempotent: false to use acks 0 or 1',
      );
    this.lingerMs = integerOption('lingerMs', options.lingerMs, 5, 0);
    this.batchBytes = integerOption('batchBytes', options.batchBytes, 16_384, 1);
    this.fullBatchCapacity = BATCH_HEADER_BYTES + this.batchBytes;
    this.compression =
      compressionCodes[
        oneOfOption('compression', options.compression, 'none', Object.keys(compressionCodes) as CompressionName[])
      ];
    this.bufferBytesMax = integerOption('bufferBytesMax', options.bufferBytesMax, 32 * 1024 * 1024, 1);
    this.bufferFullAction = oneOfOption('bufferFullAction', options.bufferFullAction, 'wait', [
      'wait',
      'fail',
    ] as const);
    this.bufferWaitMs = integerOption('bufferWaitMs', options.bufferWaitMs, 60_000, 0);
    this.maxInFlightPerPartition = integerOption(
      'maxInFlightPerPartition',
      options.maxInFlightPerPartition,
      5,
      1,
      this.idempotent ? 5 : 1000,
    );
    this.ackTimeoutMs = integerOption('ackTimeoutMs', options.ackTimeoutMs, 30_000, 1);
    this.deliveryTimeoutMs = integerOption('deliveryTimeoutMs', options.deliveryTimeoutMs, 120_000, 1);
    if (options.partitioner !== undefined && typeof options.partitioner !== 'function')
      throw new ClientOptionError('option partitioner must be a function (message, partitionCount) => partition');
    this.partitioner = options.partitioner;
    this.keySerializer = options.keySerializer ?? (bufferSerde.serialize as unknown as Serializer<K>);
    this.valueSerializer = options.valueSerializer ?? (bufferSerde.serialize as unknown as Serializer<V>);
    if (options.transactionalId !== undefined) {
      if (typeof options.transactionalId !== 'string' || options.transactionalId.length === 0)
        throw new ClientOptionError('option transactionalId must be a non-empty string');
      if (!this.idempotent) throw new ClientOptionError('a transactional producer must be idempotent');
      this.txn = new TransactionCoordinator(
        this.cluster,
        options.transactionalId,
        integerOption('transactionTimeoutMs', options.transactionTimeoutMs, 60_000, 1),
      );
    }
  }

  /** Connects to the cluster (and gets a producer id). Optional: the first send connects too. */
  async connect(): Promise<void> {
    this.connected ??= (async () => {
      await this.cluster.connect();
      if (this.idempotent) await this.initProducerId();
      this.ready = true;
    })();
    try {
      await this.connected;
    } catch (error) {
      this.connected = undefined;
      throw error;
    }
  }

  private initProducerId(): Promise<void> {
    const txn = this.txn;
    this.initializing ??= (
      txn
        ? txn.initProducerId()
        : this.cluster.withRetries('InitProducerId', async () => {
            const response = await this.cluster.request<InitProducerIdResponse>(-1, ApiKey.InitProducerId, {
              transactionalId: null,
              transactionTimeoutMs: 60_000,
            });
            if (response.errorCode !== 0) throw new KafkaError(response.errorCode, null, 'InitProducerId');
            return response;
          })
    )
      .then((response) => {
        this.producerId = Number(response.producerId);
        this.producerEpoch = response.producerEpoch;
        for (const queue of this.queues.values()) queue.nextSequence = 0;
      })
      .finally(() => {
        this.initializing = undefined;
      });
    return this.initializing;
  }

  /** Sends one message; resolves when the broker acknowledged it. */
  async send(topic: string, message: ProducerMessage<K, V>): Promise<RecordMetadata> {
    const [result] = await this.sendBatch(topic, [message]);
    return result!;
  }

  /**
   * Sends messages to one topic; resolves with partition and offset for each, in order. Once connected
   * and with the topic's metadata at hand, the messages are appended (and full batches written)
   * before this returns, so the caller's array and message objects need not outlive the call.
   */
  sendBatch(topic: string, messages: ReadonlyArray<ProducerMessage<K, V>>): Promise<RecordMetadata[]> {
    try {
      if (this.closed) throw new ClientClosedError('the producer');
      if (this.txn?.fenced) throw this.txn.fenced;
      if (this.txn && !this.inTransaction)
        throw new ClientOptionError('a transactional producer sends inside producer.transaction(async (tx) => ...)');
      if (typeof topic !== 'string' || topic.length === 0)
        throw new ClientOptionError('topic must be a non-empty string');
      const info = this.ready && this.sendsWaiting === 0 ? this.cluster.knownTopic(topic) : undefined;
      if (info !== undefined) return this.sendToTopic(topic, info.partitions.length, messages);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.sendWhenReady(topic, messages);
  }

  private async sendWhenReady(
    topic: string,
    messages: ReadonlyArray<ProducerMessage<K, V>>,
  ): Promise<RecordMetadata[]> {
    let info: TopicInfo;
    this.sendsWaiting++;
    try {
      await this.connect();
      info = await this.cluster.topic(topic);
    } finally {
      this.sendsWaiting--;
    }
    return this.sendToTopic(topic, info.partitions.length, messages);
  }

  /** Appends the messages now, waiting only when one must (see appendMessages); settles when all are acknowledged. */
  private sendToTopic(
    topic: string,
    partitionCount: number,
    messages: ReadonlyArray<ProducerMessage<K, V>>,
  ): Promise<RecordMetadata[]> {
    if (messages.length === 0) return Promise.resolve([]);
    let group!: SendGroup;
    const promise = new Promise<RecordMetadata[]>((resolve, reject) => {
      group = { topic, size: messages.length, runs: [], remaining: messages.length, settled: false, resolve, reject };
    });
    let stalled: StalledMessage | undefined;
    try {
      stalled = this.appendMessages(topic, messages, 0, group, partitionCount, Date.now());
    } catch (error) {
      return this.abandon(group, promise, error);
    }
    return stalled === undefined
      ? promise
      : this.appendAfterWaiting(topic, messages, group, promise, partitionCount, stalled);
  }

  /** Goes on with a call whose message `stalled` has to wait for buffer room or for its partition to join the transaction. */
  private async appendAfterWaiting(
    topic: string,
    messages: ReadonlyArray<ProducerMessage<K, V>>,
    group: SendGroup,
    promise: Promise<RecordMetadata[]>,
    partitionCount: number,
    first: StalledMessage,
  ): Promise<RecordMetadata[]> {
    let stalled: StalledMessage | undefined = first;
    try {
      while (stalled !== undefined) {
        if (this.txn) {
          // A partition joins the transaction before its first batch exists.
          const adding = this.txn.addPartition(topic, stalled.partition);
          if (adding) await adding;
        }
        if (!this.tryReserve(stalled.bytes)) await this.reserve(stalled.bytes);
        this.append(
          this.queueOf(topic, stalled.partition),
          stalled.key,
          stalled.value,
          stalled.headers,
          stalled.timestamp,
          stalled.bytes,
          partitionCount,
          group,
          stalled.index,
        );
        stalled = this.appendMessages(topic, messages, stalled.index + 1, group, partitionCount, Date.now());
      }
    } catch (error) {
      return this.abandon(group, promise, error);
    }
    return promise;
  }

  /**
   * A message of the call was refused (or could not wait): the ones appended before it are still
   * sent, the caller gets the error, and the call's promise, settled here, is never resolved.
   */
  private abandon(group: SendGroup, promise: Promise<RecordMetadata[]>, error: unknown): Promise<never> {
    group.settled = true;
    promise.catch(() => undefined);
    return Promise.reject(error);
  }

  /**
   * Serialises, checks and appends messages[from …] until one has to wait for buffer room or for its
   * partition to join the transaction; returns that one, serialised but not appended (undefined when
   * all are appended). `now`: the create time of the messages without one.
   */
  private appendMessages(
    topic: string,
    messages: ReadonlyArray<ProducerMessage<K, V>>,
    from: number,
    group: SendGroup,
    partitionCount: number,
    now: number,
  ): StalledMessage | undefined {
    let queue: PartitionQueue | undefined;
    // Within one call a partition, once in the transaction, stays in it: ask the coordinator side once.
    let joinedPartition = -1;
    for (let index = from; index < messages.length; index++) {
      const message = messages[index]!;
      const key = message.key === undefined || message.key === null ? null : this.keySerializer(message.key, topic);
      const value =
        message.value === null || message.value === undefined ? null : this.valueSerializer(message.value, topic);
      const headers =
        message.headers === undefined || message.headers === null ? undefined : headerEntries(message.headers);
      const partition = this.choosePartition(topic, message, key, partitionCount);
      const timestamp = message.timestamp ?? now;
      if (!Number.isSafeInteger(timestamp) || timestamp < 0)
        throw new ClientOptionError(`message timestamp must be a non-negative integer (ms), got ${timestamp}`);
      let bytes = RECORD_OVERHEAD_BYTES + (key === null ? 0 : key.length) + (value === null ? 0 : value.length);
      if (headers !== undefined) bytes += headersEstimateBytes(headers);
      if (this.txn !== undefined && partition !== joinedPartition) {
        if (this.txn.addPartition(topic, partition) !== undefined)
          return { index, key, value, headers, partition, timestamp, bytes };
        joinedPartition = partition;
      }
      // Awaiting only when the buffer is full keeps a microtask per message off the common path.
      if (!this.tryReserve(bytes)) return { index, key, value, headers, partition, timestamp, bytes };
      if (queue === undefined || queue.partition !== partition) queue = this.queueOf(topic, partition);
      this.append(queue, key, value, headers, timestamp, bytes, partitionCount, group, index);
    }
    return undefined;
  }

  private choosePartition(
    topic: string,
    message: ProducerMessage<K, V>,
    key: Buffer | null,
    partitionCount: number,
  ): number {
    let partition: number;
    if (message.partition !== undefined) partition = message.partition;
    else if (this.partitioner) partition = this.partitioner(message, partitionCount, key);
    else if (key !== null) partition = keyPartition(key, partitionCount);
    else partition = this.sticky.partition(topic, partitionCount);
    if (!Number.isInteger(partition) || partition < 0 || partition >= partitionCount) {
      throw new ClientOptionError(
        `partition ${partition} is not one of the ${partitionCount} partitions of topic "${topic}"`,
      );
    }
    return partition;
  }

  private tryReserve(bytes: number): boolean {
    if (this.bufferWaiters.length > 0) return false;
    if (this.bufferedBytes + bytes <= this.bufferBytesMax || this.bufferedBytes === 0) {
      this.bufferedBytes += bytes;
      return true;
    }
    return false;
  }

  private async reserve(bytes: number): Promise<void> {
    if (this.tryReserve(bytes)) return;
    if (this.bufferFullAction === 'fail')
      throw new BufferFullError(
        `the producer buffer is full (${this.bufferedBytes} of ${this.bufferBytesMax} bytes waiting for acknowledgement)`,
      );
    this.flushOpenBatches();
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        bytes,
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const index = this.bufferWaiters.indexOf(waiter);
        if (index >= 0) this.bufferWaiters.splice(index, 1);
        reject(new BufferFullError(`the producer buffer stayed full for ${this.bufferWaitMs} ms`));
      }, this.bufferWaitMs);
      this.bufferWaiters.push(waiter);
    });
  }

  private release(bytes: number): void {
    this.bufferedBytes -= bytes;
    while (this.bufferWaiters.length > 0) {
      const next = this.bufferWaiters[0]!;
      if (this.bufferedBytes + next.bytes > this.bufferBytesMax && this.bufferedBytes > 0) break;
      this.bufferWaiters.shift();
      this.bufferedBytes += next.bytes;
      next.wake();
    }
  }

  private queueOf(topic: string, partition: number): PartitionQueue {
    let byPartition = this.queuesByTopic.get(topic);
    if (!byPartition) this.queuesByTopic.set(topic, (byPartition = []));
    let queue = byPartition[partition];
    if (!queue) {
      queue = {
        topic,
        partition,
        open: undefined,
        lingerTimer: undefined,
        ready: [],
        inFlight: new Set(),
        nextSequence: 0,
        recovering: false,
        failed: [],
        gapAt: undefined,
        retryAtMs: 0,
        nextBatchCapacity: BATCH_CAPACITY_MIN_BYTES,
      };
      byPartition[partition] = queue;
      this.queues.set(`${topic}\u0000${partition}`, queue);
    }
    return queue;
  }

  private append(
    queue: PartitionQueue,
    key: Buffer | null,
    value: Buffer | null,
    headers: ReadonlyArray<HeaderEntry> | undefined,
    timestamp: number,
    bytes: number,
    partitionCount: number,
    group: SendGroup,
    index: number,
  ): void {
    let batch = queue.open;
    if (batch !== undefined && batch.bytes + bytes > this.batchBytes && batch.builder.count > 0) {
      this.closeBatch(queue, partitionCount, true);
      batch = undefined;
    }
    if (batch === undefined)
      batch = this.openBatch(queue, partitionCount, newRun(group, index, queue.partition, timestamp));
    else {
      const last = batch.runs[batch.runs.length - 1]!;
      if (last.group === group && last.firstIndex + last.count === index && last.timestamp === timestamp) last.count++;
      else batch.runs.push(newRun(group, index, queue.partition, timestamp));
    }
    batch.builder.append(key, value, headers, timestamp);
    batch.bytes += bytes;
    this.outstanding++;
    if (this.lingerMs === 0 || batch.bytes >= this.batchBytes)
      this.closeBatch(queue, partitionCount, batch.bytes >= this.batchBytes);
  }

  /** Opens the partition's batch with the run of its first record (an array that never held anything but runs). */
  private openBatch(queue: PartitionQueue, partitionCount: number, firstRun: SendRun): Batch {
    const capacity = queue.nextBatchCapacity;
    const bytes =
      capacity === this.fullBatchCapacity && this.freeBatchBuffers.length > 0
        ? this.freeBatchBuffers.pop()!
        : Buffer.allocUnsafe(capacity);
    const batch: Batch = {
      builder: new RecordBatchBuilder(bytes, this.fullBatchCapacity),
      runs: [firstRun],
      bytes: BATCH_HEADER_BYTES,
      createdMs: Date.now(),
      encoded: undefined,
      baseSequence: -1,
      attempts: 0,
    };
    queue.open = batch;
    if (this.lingerMs > 0) {
      queue.lingerTimer = setTimeout(() => {
        queue.lingerTimer = undefined;
        this.closeBatch(queue, partitionCount);
      }, this.lingerMs);
    }
    return batch;
  }

  /** `full`: closed for size, not by linger or flush. */
  private closeBatch(queue: PartitionQueue, partitionCount?: number, full = false): void {
    if (queue.lingerTimer) clearTimeout(queue.lingerTimer);
    queue.lingerTimer = undefined;
    const batch = queue.open;
    if (!batch) return;
    queue.open = undefined;
    // A partition's batches tend to be alike: the next one starts at about this one's size.
    queue.nextBatchCapacity = full
      ? this.fullBatchCapacity
      : Math.min(this.fullBatchCapacity, Math.max(BATCH_CAPACITY_MIN_BYTES, Math.ceil(batch.builder.size * 1.25)));
    batch.builder.trim();
    queue.ready.push(batch);
    this.sticky.batchClosed(
      queue.topic,
      queue.partition,
      partitionCount ?? this.cluster.topics.get(queue.topic)?.partitions.length ?? 1,
    );
    // A full batch goes now, while its sender goes on appending; batches closed by linger or flush
    // wait for the end of the tick, to share requests with the others closed in it.
    if (full) this.drain();
    else this.scheduleDrain();
  }

  private flushOpenBatches(): void {
    for (const queue of this.queues.values()) this.closeBatch(queue);
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    // Batches closed in the same tick go out in the same requests.
    queueMicrotask(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  /** Sends every batch that may go now, grouped into one Produce request per leader. */
  private drain(): void {
    if (this.closed && this.outstanding === 0) return;
    const now = Date.now();
    const byLeader = new Map<number, Array<{ queue: PartitionQueue; batch: Batch }>>();
    let needMetadata = false;
    let earliestRetryMs = Infinity;
    for (const queue of this.queues.values()) {
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
      producerId: this.idempotent ? this.producerId : -1,
      producerEpoch: this.idempotent ? this.producerEpoch : -1,
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
    if (this.idempotent && this.producerId < 0) await this.initProducerId();
    this.assignSequence(queue, batch);
    batch.encoded = await batch.builder.finish(this.batchFields(batch));
    return batch.encoded;
  }

  /** Can every batch be encoded without waiting: no compression, and the producer id known? */
  private canEncodeNow(entries: ReadonlyArray<{ batch: Batch }>): boolean {
    if (this.compression === Compression.None && (!this.idempotent || this.producerId >= 0)) return true;
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
   * A full batch is so on the wire while its sender goes on appending (closeBatch).
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
    let position = 0;
    for (const run of batch.runs) {
      if (baseOffset >= 0n) run.baseOffset = position === 0 ? baseOffset : baseOffset + BigInt(position);
      position += run.count;
      if (logAppendTimeMs >= 0) run.timestamp = logAppendTimeMs;
      const group = run.group;
      group.remaining -= run.count;
      if (group.remaining === 0 && !group.settled) {
        group.settled = true;
        group.resolve(results(group));
      }
    }
    // Answered at the first attempt, its bytes are written and read: the buffer may serve again.
    // (With acks=0 nothing says the socket is done with them; a retried batch went out more than once.)
    const storage = batch.builder.storage;
    if (
      this.acks !== 0 &&
      batch.attempts === 0 &&
      storage.length === this.fullBatchCapacity &&
      this.freeBatchBuffers.length < BATCH_BUFFERS_KEPT_MAX
    )
      this.freeBatchBuffers.push(storage);
    this.finished(batch);
  }

  /** Fails every message of `batch` (each sendBatch call once, with the first error it meets). */
  private rejectBatch(batch: Batch, error: Error): void {
    for (const run of batch.runs) {
      if (run.group.settled) continue;
      run.group.settled = true;
      run.group.reject(error);
    }
  }

  private finished(batch: Batch): void {
    this.release(batch.bytes - BATCH_HEADER_BYTES);
    this.outstanding -= batch.builder.count;
    if (this.outstanding === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private batchFailed(queue: PartitionQueue, batch: Batch, error: Error): void {
    batch.attempts++;
    const code = error instanceof KafkaError ? error.code : undefined;
    // OUT_OF_ORDER_SEQUENCE behind a batch that failed: the gap is ours and the resend fills it.
    const behindFailure = code === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER && queue.recovering;
    const expired = Date.now() - batch.createdMs > this.deliveryTimeoutMs;
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
    this.rejectBatch(batch, error);
    this.finished(batch);
  }

  /** Fails the not-yet-sent batches of a partition that has had no leader for deliveryTimeoutMs. */
  private expire(queue: PartitionQueue, now: number): void {
    while (queue.ready.length > 0 && now - queue.ready[0]!.createdMs > this.deliveryTimeoutMs) {
      const batch = queue.ready.shift()!;
      const error = new RequestTimeoutError(
        `${batch.builder.count} messages for ${queue.topic}/${queue.partition} were not delivered within ${this.deliveryTimeoutMs} ms (no leader)`,
      );
      if (this.idempotent && batch.baseSequence >= 0) {
        // Sent before, so its sequence is used: the batches behind it get new ones.
        queue.gapAt = queue.gapAt === undefined ? batch.baseSequence : Math.min(queue.gapAt, batch.baseSequence);
        queue.recovering = true;
      }
      this.rejectBatch(batch, error);
      this.finished(batch);
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
        ? Date.now() + backoffDelayMs({ initialMs: this.cluster.retryBackoffMs, maxMs: 1000 }, attempts)
        : 0;
  }

  /**
   * Runs `fn` in a transaction (needs `transactionalId`): its sends and `tx.sendOffsets` are committed
   * together once `fn` returns and every send is acknowledged; if `fn` throws or a send fails the
   * transaction is aborted and the error rethrown. Transactions of one producer run one at a time.
   * A fenced producer (another one took the transactional id) throws ProducerFencedError from then on.
   */
  transaction<T>(fn: (tx: Transaction<K, V>) => Promise<T>): Promise<T> {
    const run = this.transactionChain.then(() => this.runTransaction(fn));
    this.transactionChain = run.catch(() => undefined);
    return run;
  }

  private async runTransaction<T>(fn: (tx: Transaction<K, V>) => Promise<T>): Promise<T> {
    const txn = this.txn;
    if (!txn) throw new ClientOptionError('transaction() needs the transactionalId option');
    if (this.closed) throw new ClientClosedError('the producer');
    if (txn.fenced) throw txn.fenced;
    await this.connect();
    if (this.producerId < 0) await this.initProducerId();
    txn.reset();
    this.inTransaction = true;
    let sendError: unknown;
    const pending: Array<Promise<unknown>> = [];
    const track = <R>(promise: Promise<R>): Promise<R> => {
      pending.push(promise);
      promise.catch((error: unknown) => {
        sendError ??= error;
      });
      return promise;
    };
    let open = true;
    const tx: Transaction<K, V> = {
      send: (topic, message) =>
        open ? track(this.send(topic, message)) : Promise.reject(new ClientOptionError('the transaction is over')),
      sendBatch: (topic, messages) =>
        open
          ? track(this.sendBatch(topic, messages))
          : Promise.reject(new ClientOptionError('the transaction is over')),
      sendOffsets: (offsets: TransactionOffsets) =>
        open ? track(txn.sendOffsets(offsets)) : Promise.reject(new ClientOptionError('the transaction is over')),
    };
    try {
      let result: T;
      try {
        result = await fn(tx);
      } finally {
        open = false;
        // Sends `fn` did not await may still be waiting for metadata: they belong to this transaction.
        await Promise.allSettled(pending);
        await this.flush();
      }
      if (sendError !== undefined) throw sendError;
      if (txn.touched) await txn.endTxn(true);
      return result;
    } catch (error) {
      if (txn.fenced) throw txn.fenced;
      try {
        if (txn.touched) await txn.endTxn(false);
        // A new epoch: sequence numbers restart whatever the failed batches left behind.
        this.producerId = -1;
        await this.initProducerId();
      } catch (abortError) {
        if (txn.fenced) throw txn.fenced;
        throw new AggregateError(
          [error, abortError],
          `the transaction failed (${(error as Error)?.message}) and could not be aborted (${(abortError as Error)?.message})`,
        );
      }
      throw error;
    } finally {
      this.inTransaction = false;
      txn.reset();
    }
  }

  /** Sends every buffered message now and waits until all are acknowledged (or failed). */
  async flush(): Promise<void> {
    this.flushOpenBatches();
    if (this.outstanding === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Flushes, then closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush().catch(() => undefined);
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const waiter of this.bufferWaiters.splice(0)) waiter.wake();
    await this.cluster.close();
  }
}

/** A run starting at message `index` of `group`'s call, listed in the group too. */
function newRun(group: SendGroup, index: number, partition: number, timestamp: number): SendRun {
  const run: SendRun = { group, firstIndex: index, count: 1, partition, timestamp, baseOffset: -1n };
  group.runs.push(run);
  return run;
}

/** The RecordMetadata of every message of an acknowledged sendBatch call, in message order. */
function results(group: SendGroup): RecordMetadata[] {
  const all = new Array<RecordMetadata>(group.size);
  const topic = group.topic;
  for (const run of group.runs) {
    const { partition, timestamp } = run;
    const known = run.baseOffset >= 0n;
    let offset = run.baseOffset;
    const end = run.firstIndex + run.count;
    for (let index = run.firstIndex; index < end; index++) {
      all[index] = { topic, partition, offset, timestamp };
      if (known) offset += 1n;
    }
  }
  return all;
}

function headerEntries(headers: MessageHeaders): ReadonlyArray<HeaderEntry> {
  return Array.isArray(headers)
    ? (headers as ReadonlyArray<HeaderEntry>)
    : Object.entries(headers as Record<string, string | Buffer | null>);
}

/** What headers reserve from the buffer memory; checks their types, as the encoder trusts them. */
function headersEstimateBytes(headers: ReadonlyArray<HeaderEntry>): number {
  let bytes = 0;
  for (const [key, value] of headers) {
    if (typeof key !== 'string') throw new ClientOptionError(`a header key must be a string, got ${typeof key}`);
    if (value !== null && typeof value !== 'string' && !(value instanceof Uint8Array))
      throw new ClientOptionError(`header "${key}" must be a string, a Buffer or null`);
    bytes +=
      Buffer.byteLength(key) +
      (value === null ? 0 : typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length) +
      10;
  }
  return bytes;
}
