// The producer: typed messages in, partition and offset out. This file is the facade: it checks the
// options, serialises each message, picks its partition and appends it, and runs transactions; the
// work behind it is done by collaborators it owns, each with one job, none of which imports it:
//
//   producer-memory.ts       the buffer memory bound (`bufferBytesMax`): a message reserves its size
//                            when appended and gets it back when its batch is settled
//   producer-accumulator.ts  per partition, the open batch records are encoded into, closed by
//                            `batchBytes` or `lingerMs`, and the batches ready to send
//   producer-sender.ts       Produce requests per leader, at most `maxInFlightPerPartition` batches in
//                            flight per partition, sequence numbers, order through retries, expiry
//   producer-identity.ts     the producer id and epoch of an idempotent producer (InitProducerId)
//   producer-results.ts      a sendBatch call's promise and where its messages went
//   transaction.ts           the transaction coordinator side (`transactionalId`, `transaction(fn)`)
//
// A message's way: send() → serialise, partition, reserve → accumulator.append (into the open batch)
// → batch closed → sender.drain → Produce → the answer settles the batch's runs and frees its memory.
//
// Idempotence (default): each batch carries the partition's next sequence number, assigned when the
// batch is first sent and kept through retries, so the broker drops a retried batch it already wrote
// and refuses one that would leave a gap (the sender's header says how order survives retries).
import { Compression } from '../protocol/record-batch/header.js';
import { Cluster, type TopicInfo } from './cluster.js';
import { ClientClosedError, ClientOptionError } from './errors.js';
import { booleanOption, integerOption, oneOfOption } from './options.js';
import { keyPartition, StickyPartitions } from './partitioners.js';
import { BatchAccumulator, type PartitionQueue } from './producer-accumulator.js';
import { ProducerIdentity } from './producer-identity.js';
import { BufferMemory } from './producer-memory.js';
import type { SendGroup } from './producer-results.js';
import { ProduceSender } from './producer-sender.js';
import type {
  CompressionName,
  MessageHeaders,
  PartitionSelector,
  ProducerMessage,
  ProducerOptions,
  RecordMetadata,
} from './producer-types.js';
import type { HeaderEntry } from './record-batch-builder.js';
import { bufferSerde, type Serializer } from './serializers.js';
import { TransactionCoordinator, type Transaction, type TransactionOffsets } from './transaction.js';

export type {
  CompressionName,
  MessageHeaders,
  PartitionSelector,
  ProducerMessage,
  ProducerOptions,
  RecordMetadata,
} from './producer-types.js';

const compressionCodes: Record<CompressionName, Compression> = {
  none: Compression.None,
  gzip: Compression.Gzip,
  snappy: Compression.Snappy,
  lz4: Compression.Lz4,
  zstd: Compression.Zstd,
};

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

/** Record overhead beyond key, value and headers (length, attributes, deltas, varints), upper bound. */
const RECORD_OVERHEAD_BYTES = 22;

export class Producer<K = Buffer, V = Buffer> {
  readonly cluster: Cluster;
  private readonly idempotent: boolean;
  private readonly partitioner: PartitionSelector<K, V> | undefined;
  private readonly keySerializer: Serializer<K>;
  private readonly valueSerializer: Serializer<V>;
  private readonly sticky = new StickyPartitions();
  private readonly memory: BufferMemory;
  private readonly accumulator: BatchAccumulator;
  private readonly sender: ProduceSender;
  private readonly identity: ProducerIdentity;
  private connected: Promise<void> | undefined;
  /** connect() has completed: a send to a topic whose metadata is known appends before returning. */
  private ready = false;
  /** sendBatch calls still waiting for connect() or metadata: later calls queue behind them, to keep call order. */
  private sendsWaiting = 0;
  private closed = false;
  /** Set for a producer with `transactionalId` (transaction.ts). */
  private readonly txn: TransactionCoordinator | undefined;
  private inTransaction = false;
  private transactionChain: Promise<unknown> = Promise.resolve();

  constructor(options: ProducerOptions<K, V> = {}) {
    this.cluster = new Cluster(options);
    this.idempotent = booleanOption('idempotent', options.idempotent, true);
    const acks = oneOfOption('acks', options.acks, -1, [-1, 0, 1] as const);
    if (this.idempotent && acks !== -1)
      throw new ClientOptionError(
        'an idempotent producer needs acks=-1 (all); set idempotent: false to use acks 0 or 1',
      );
    const lingerMs = integerOption('lingerMs', options.lingerMs, 5, 0);
    const batchBytes = integerOption('batchBytes', options.batchBytes, 16_384, 1);
    const compression =
      compressionCodes[
        oneOfOption('compression', options.compression, 'none', Object.keys(compressionCodes) as CompressionName[])
      ];
    const bufferBytesMax = integerOption('bufferBytesMax', options.bufferBytesMax, 32 * 1024 * 1024, 1);
    const bufferFullAction = oneOfOption('bufferFullAction', options.bufferFullAction, 'wait', [
      'wait',
      'fail',
    ] as const);
    const bufferWaitMs = integerOption('bufferWaitMs', options.bufferWaitMs, 60_000, 0);
    const maxInFlightPerPartition = integerOption(
      'maxInFlightPerPartition',
      options.maxInFlightPerPartition,
      5,
      1,
      this.idempotent ? 5 : 1000,
    );
    const ackTimeoutMs = integerOption('ackTimeoutMs', options.ackTimeoutMs, 30_000, 1);
    const deliveryTimeoutMs = integerOption('deliveryTimeoutMs', options.deliveryTimeoutMs, 120_000, 1);
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
    // Wiring, one way: the facade owns every part and passes each what it needs; the callbacks below
    // are the only way back (a closed batch → the sender drains; full memory → open batches close).
    this.memory = new BufferMemory(bufferBytesMax, bufferFullAction, bufferWaitMs, () => this.accumulator.closeAll());
    this.accumulator = new BatchAccumulator(
      batchBytes,
      lingerMs,
      this.memory,
      (queue, partitionCount, full) => this.batchClosed(queue, partitionCount, full),
      this.cluster.clock,
    );
    this.identity = new ProducerIdentity(this.cluster, this.txn, () => this.sender.resetSequences());
    this.sender = new ProduceSender(
      { idempotent: this.idempotent, acks, compression, maxInFlightPerPartition, ackTimeoutMs, deliveryTimeoutMs },
      this.cluster,
      this.accumulator,
      this.identity,
      this.txn,
    );
  }

  /** Connects to the cluster (and gets a producer id). Optional: the first send connects too. */
  async connect(): Promise<void> {
    this.connected ??= (async () => {
      await this.cluster.connect();
      if (this.idempotent) await this.identity.init();
      this.ready = true;
    })();
    try {
      await this.connected;
    } catch (error) {
      this.connected = undefined;
      throw error;
    }
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
      stalled = this.appendMessages(topic, messages, 0, group, partitionCount, this.cluster.clock.now());
    } catch (error) {
      return this.abandon(group, promise, error);
    }
    return stalled === undefined
      ? promise
      : this.appendAfterWaiting(topic, messages, group, promise, partitionCount, stalled);
  }

  /**
   * Goes on with a call whose message `stalled` has to wait for buffer room or for its partition to
   * join the transaction.
   */
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
        if (!this.memory.tryReserve(stalled.bytes)) await this.memory.reserve(stalled.bytes);
        this.accumulator.append(
          this.accumulator.queueOf(topic, stalled.partition),
          stalled.key,
          stalled.value,
          stalled.headers,
          stalled.timestamp,
          stalled.bytes,
          partitionCount,
          group,
          stalled.index,
        );
        stalled = this.appendMessages(
          topic,
          messages,
          stalled.index + 1,
          group,
          partitionCount,
          this.cluster.clock.now(),
        );
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
    const memory = this.memory;
    const accumulator = this.accumulator;
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
      if (!memory.tryReserve(bytes)) return { index, key, value, headers, partition, timestamp, bytes };
      if (queue === undefined || queue.partition !== partition) queue = accumulator.queueOf(topic, partition);
      accumulator.append(queue, key, value, headers, timestamp, bytes, partitionCount, group, index);
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

  /** The accumulator closed a batch: the sticky partitioner moves on, and the sender drains. */
  private batchClosed(queue: PartitionQueue, partitionCount: number | undefined, full: boolean): void {
    this.sticky.batchClosed(
      queue.topic,
      queue.partition,
      partitionCount ?? this.cluster.topics.get(queue.topic)?.partitions.length ?? 1,
    );
    // A full batch goes now, while its sender goes on appending; batches closed by linger or flush
    // wait for the end of the tick, to share requests with the others closed in it.
    if (full) this.sender.drain();
    else this.sender.scheduleDrain();
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
    if (this.identity.producerId < 0) await this.identity.init();
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
        this.identity.forget();
        await this.identity.init();
      } catch (abortError) {
        if (txn.fenced) throw txn.fenced;
        throw new AggregateError(
          [error, abortError],
          `the transaction failed (${(error as Error)?.message}) ` +
            `and could not be aborted (${(abortError as Error)?.message})`,
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
    this.accumulator.closeAll();
    if (this.accumulator.outstanding === 0) return;
    await this.accumulator.idle();
  }

  /** Flushes, then closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush().catch(() => undefined);
    this.closed = true;
    this.sender.close();
    this.memory.wakeAll();
    await this.cluster.close();
  }
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
