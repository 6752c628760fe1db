// The consumer: fetches its partitions, runs the handler through the ordered parallel engine,
// retries, dead-letters, de-duplicates, and commits only what is finished. This file is the facade:
// it checks the options, owns the parts below and the loop that drives them, and connects them to
// the group; none of the parts imports it or another part's owner:
//
//   consumer-partitions.ts  the partitions consumed (assigned by hand with `assign`, or by the group
//                           with `subscribe`, group.ts) and their positions: from `assign`, a seek,
//                           the group's committed offset, or `autoOffsetReset` when there is none
//   consumer-fetcher.ts     one Fetch per leader with every active partition (not paused, engine not
//                           full); answers handed over in order per partition
//   consumer-delivery.ts    an answer's records into the engine: below the position and control
//                           records dropped, read_committed drops aborted transactions
//   ordered-executor.ts     the engine: the ordering key is the message key within its partition
//                           (`orderBy: 'key'`), or the partition (`orderBy: 'partition'`); a null key
//                           is ordered with its partition (`nullKeyOrder: 'partition'`, default) or not
//                           at all ('none')
//   consumer-messages.ts    a record becomes the handler's message when its handler runs
//   consumer-commits.ts     the engine's lowest unfinished offset per partition, committed on an
//                           interval (autoCommit), on `commit()`, before partitions are revoked, on close
//   dead-letter.ts          messages that failed `retry.maxAttempts` times, to a dead-letter topic
//
// Offsets are `bigint` in the public API (ConsumedMessage.offset, seek, committed) — int64 on the
// wire — and plain numbers inside, where they are safe integers.
import { ErrorCode } from '../protocol/generated/error-codes.js';
import { sleep } from './backoff.js';
import { Cluster, staleMetadata } from './cluster.js';
import { CommittedOffsets } from './consumer-commits.js';
import { EngineDelivery } from './consumer-delivery.js';
import { Fetcher } from './consumer-fetcher.js';
import { MessageReader, type FetchedBatch } from './consumer-messages.js';
import { ConsumerPartitions, partitionId } from './consumer-partitions.js';
import type { ConsumerOptions, MessageHandler, TopicPartition } from './consumer-types.js';
import { DeadLetterPublisher } from './dead-letter.js';
import { deduplicate } from './dedup.js';
import { ClientClosedError, ClientOptionError, KafkaError, SluiceClientError } from './errors.js';
import { GroupMember } from './group.js';
import { OrderedExecutor } from './ordered-executor.js';
import type { OffsetSpec } from './offsets.js';
import { booleanOption, integerOption, oneOfOption } from './options.js';
import { bufferSerde, type Deserializer } from './serializers.js';

export type {
  ConsumedMessage,
  ConsumerOptions,
  DeadLetterOptions,
  MessageHandler,
  TopicPartition,
} from './consumer-types.js';
export { partitionId } from './consumer-partitions.js';

export class Consumer<K = Buffer, V = Buffer> {
  readonly cluster: Cluster;
  private readonly options: ConsumerOptions<K, V>;
  private readonly groupId: string | undefined;
  private readonly isolationLevel: number;
  private readonly autoOffsetReset: 'earliest' | 'latest';
  private readonly maxWaitMs: number;
  private readonly minBytes: number;
  private readonly maxBytes: number;
  private readonly partitionMaxBytes: number;
  private readonly maxBufferedMessages: number;
  private readonly autoCommit: boolean;
  private readonly autoCommitIntervalMs: number;
  private readonly orderBy: 'key' | 'partition';
  private readonly nullKeyOrder: 'partition' | 'none';
  private readonly concurrency: number;
  private readonly messages: MessageReader<K, V>;
  private readonly partitions: ConsumerPartitions;
  /** Set with `groupId`. */
  private readonly commits: CommittedOffsets | undefined;
  /** Made by run(). */
  private engine: OrderedExecutor<FetchedBatch> | undefined;
  private fetcher: Fetcher | undefined;
  private deadLetters: DeadLetterPublisher | undefined;
  private group: GroupMember | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private closed = false;
  private readonly wakeController = { abort: new AbortController() };

  constructor(options: ConsumerOptions<K, V> = {}) {
    this.options = options;
    this.cluster = new Cluster({ allowAutoTopicCreation: false, ...options });
    this.groupId = options.groupId;
    if (this.groupId !== undefined && (typeof this.groupId !== 'string' || this.groupId.length === 0))
      throw new ClientOptionError('option groupId must be a non-empty string');
    this.isolationLevel =
      oneOfOption('isolationLevel', options.isolationLevel, 'read_committed', [
        'read_committed',
        'read_uncommitted',
      ] as const) === 'read_committed'
        ? 1
        : 0;
    this.autoOffsetReset = oneOfOption('autoOffsetReset', options.autoOffsetReset, 'latest', [
      'earliest',
      'latest',
    ] as const);
    this.maxWaitMs = integerOption('maxWaitMs', options.maxWaitMs, 500, 0);
    this.minBytes = integerOption('minBytes', options.minBytes, 1, 0);
    this.maxBytes = integerOption('maxBytes', options.maxBytes, 50 * 1024 * 1024, 1);
    this.partitionMaxBytes = integerOption('partitionMaxBytes', options.partitionMaxBytes, 1024 * 1024, 1);
    this.maxBufferedMessages = integerOption('maxBufferedMessages', options.maxBufferedMessages, 10_000, 1);
    this.autoCommit = booleanOption('autoCommit', options.autoCommit, true);
    this.autoCommitIntervalMs = integerOption('autoCommitIntervalMs', options.autoCommitIntervalMs, 5000, 1);
    this.orderBy = oneOfOption('orderBy', options.orderBy, 'key', ['key', 'partition'] as const);
    this.nullKeyOrder = oneOfOption('nullKeyOrder', options.nullKeyOrder, 'partition', ['partition', 'none'] as const);
    this.concurrency = integerOption('concurrency', options.concurrency, 1, 1, 10_000);
    integerOption('retry.maxAttempts', options.retry?.maxAttempts, 1, 1);
    if (options.deadLetter && !options.retry)
      throw new ClientOptionError('option deadLetter needs retry (at least { maxAttempts: 1 })');
    this.messages = new MessageReader(
      options.keyDeserializer ?? (bufferSerde.deserialize as unknown as Deserializer<K>),
      options.valueDeserializer ?? (bufferSerde.deserialize as unknown as Deserializer<V>),
    );
    // Wiring, one way: the parts get callbacks to what they need of each other, never the consumer.
    this.partitions = new ConsumerPartitions(
      this.cluster,
      this.autoOffsetReset,
      this.isolationLevel,
      this.groupId === undefined ? undefined : (states) => this.commits!.fetch(states),
    );
    if (this.groupId !== undefined)
      this.commits = new CommittedOffsets(
        this.cluster,
        this.groupId,
        this.partitions,
        (id) => this.engine?.committable(id),
        () => this.group?.generation,
        options,
      );
  }

  /** Consumes exactly these partitions (no group rebalancing); offsets as given, else committed, else reset. */
  assign(partitions: Array<TopicPartition & { offset?: bigint | OffsetSpec }>): void {
    if (this.group) throw new ClientOptionError('assign() cannot be used with subscribe()');
    const wanted = new Set(partitions.map((p) => partitionId(p.topic, p.partition)));
    const removed = [...this.partitions.states.keys()].filter((id) => !wanted.has(id));
    this.forget(removed);
    for (const p of partitions) {
      const state = this.partitions.add(p.topic, p.partition);
      if (p.offset !== undefined) this.partitions.setPosition(state, p.offset);
    }
  }

  /** Joins the consumer group for these topics (names or a pattern matched against the cluster's topics). */
  subscribe(topics: string[] | RegExp): void {
    if (!this.groupId) throw new ClientOptionError('subscribe() needs the groupId option');
    if (this.partitions.states.size > 0 && !this.group)
      throw new ClientOptionError('subscribe() cannot be used after assign()');
    this.group = new GroupMember(this.cluster, {
      groupId: this.groupId,
      topics,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      rebalanceTimeoutMs: this.options.rebalanceTimeoutMs,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      groupInstanceId: this.options.groupInstanceId,
      assignors: this.options.assignors,
    });
  }

  /** Moves a partition's position; messages of it not yet started are dropped. */
  seek(topicPartition: TopicPartition, to: bigint | OffsetSpec): void {
    const id = partitionId(topicPartition.topic, topicPartition.partition);
    const state = this.partitions.states.get(id);
    if (!state) throw new ClientOptionError(`${id} is not assigned to this consumer`);
    this.engine?.dropPartitions([id]);
    this.partitions.setPosition(state, to);
    this.wake();
  }

  pause(partitions: TopicPartition[]): void {
    for (const p of partitions) {
      const state = this.partitions.states.get(partitionId(p.topic, p.partition));
      if (state) state.paused = true;
    }
  }

  resume(partitions: TopicPartition[]): void {
    for (const p of partitions) {
      const state = this.partitions.states.get(partitionId(p.topic, p.partition));
      if (state) state.paused = false;
    }
    this.wake();
  }

  /** The partitions currently consumed. */
  assignment(): TopicPartition[] {
    return [...this.partitions.states.values()].map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  /** Stops consuming these partitions: their messages not running are dropped, their states forgotten. */
  private forget(ids: string[]): void {
    if (ids.length === 0) return;
    this.engine?.dropPartitions(ids);
    this.partitions.delete(ids);
  }

  /**
   * Starts consuming with `handler` and returns once the loop runs. Errors thrown by the handler are
   * retried/dead-lettered by the options; the loop itself stops only on close().
   */
  async run(handler: MessageHandler<K, V>): Promise<void> {
    if (this.closed) throw new ClientClosedError('the consumer');
    if (this.running) throw new ClientOptionError('run() was already called');
    if (typeof handler !== 'function') throw new ClientOptionError('run() needs a handler function');
    await this.cluster.connect();
    const userHandler = this.options.dedup ? deduplicate(handler, this.options.dedup) : handler;
    const deadLetter = this.options.deadLetter;
    const messages = this.messages;
    const deadLetters = deadLetter
      ? (this.deadLetters = new DeadLetterPublisher(
          this.options,
          this.cluster.clientId,
          deadLetter === true ? {} : deadLetter,
          messages,
        ))
      : undefined;
    const engine = new OrderedExecutor<FetchedBatch>({
      concurrency: this.concurrency,
      retry: this.options.retry,
      handle: (fetched, attempt, offset) => userHandler(messages.typed(fetched, offset, attempt)),
      onError: (fetched, error, attempt, offset) =>
        this.options.onError?.(error, messages.safeTyped(fetched, offset, attempt)),
      onExhausted: deadLetters
        ? (fetched, error, attempts, offset) => deadLetters.publish(fetched, offset, error, attempts)
        : undefined,
    });
    this.engine = engine;
    this.fetcher = new Fetcher(
      {
        maxWaitMs: this.maxWaitMs,
        minBytes: this.minBytes,
        maxBytes: this.maxBytes,
        partitionMaxBytes: this.partitionMaxBytes,
        isolationLevel: this.isolationLevel,
        autoOffsetReset: this.autoOffsetReset,
      },
      this.cluster,
      this.partitions,
      new EngineDelivery(engine, this.orderBy, this.nullKeyOrder, this.isolationLevel),
      this.options,
    );
    if (this.group) {
      this.group.onRebalance = {
        revoke: (partitions) => this.revoke(partitions),
        assign: (partitions) => this.assignFromGroup(partitions),
      };
      await this.group.join();
    }
    if (this.autoCommit && this.commits) this.commits.startAutoCommit(this.autoCommitIntervalMs);
    this.running = this.loop(this.fetcher);
  }

  private wake(): void {
    this.wakeController.abort.abort();
    this.fetcher?.wakeWaiter();
  }

  /** Stops fetching and handing over (close, or fenced). */
  private stop(): void {
    this.stopping = true;
    this.fetcher?.stop();
  }

  private async loop(fetcher: Fetcher): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        if (this.group) await this.group.poll();
        await this.partitions.resolvePositions();
        await this.engine!.waitForRoom(this.maxBufferedMessages);
        // One response may be decoding while the next fetch is out; not more.
        while (fetcher.undelivered > 1 && !this.stopping) await fetcher.delivered();
        if (this.stopping) break;
        const fetched = await fetcher.fetchOnce();
        failures = 0;
        if (!fetched) {
          // Nothing to fetch (no partitions, all paused or waiting to retry): wait to be woken, for
          // the next retry, or a short while.
          this.wakeController.abort = new AbortController();
          await sleep(Math.min(100, this.partitions.nextRetryInMs()), this.wakeController.abort.signal);
        }
      } catch (error) {
        if (this.stopping) break;
        failures++;
        this.options.onError?.(error, undefined);
        // Fenced by another member with our groupInstanceId: consuming on would process twice.
        if (error instanceof KafkaError && error.code === ErrorCode.FENCED_INSTANCE_ID) {
          this.stop();
          throw error;
        }
        if (error instanceof SluiceClientError && !error.retriable && !(error instanceof KafkaError)) throw error;
        if (staleMetadata(error)) await this.cluster.refreshMetadata().catch(() => undefined);
        await sleep(Math.min(1000, this.cluster.retryBackoffMs * 2 ** Math.min(failures, 10)));
      }
    }
  }

  /** Commits every partition's finished position (the lowest unfinished offset). Needs groupId. */
  async commit(): Promise<void> {
    if (!this.commits) throw new ClientOptionError('commit() needs the groupId option');
    return this.commits.commit();
  }

  /** The group takes partitions away: stop fetching them, let running handlers finish, commit, forget. */
  private async revoke(partitions: TopicPartition[]): Promise<void> {
    const ids = partitions.map((p) => partitionId(p.topic, p.partition)).filter((id) => this.partitions.states.has(id));
    if (ids.length === 0) return;
    for (const id of ids) {
      const state = this.partitions.states.get(id)!;
      state.paused = true;
      // A fetch answer still out or decoding would hand the engine records after the offset committed
      // below, and the new owner would consume them too: the new epoch drops it.
      state.epoch++;
    }
    this.engine?.dropQueued(ids);
    const deadline = this.cluster.clock.now() + (this.options.rebalanceTimeoutMs ?? 60_000) / 2;
    while (this.engine && this.engine.pendingIn(ids) > 0 && this.cluster.clock.now() < deadline) await sleep(10);
    await this.commits?.commitNow(new Set(ids)).catch((error: unknown) => this.options.onError?.(error, undefined));
    await this.options.onRevoked?.(partitions);
    this.forget(ids);
  }

  private async assignFromGroup(partitions: TopicPartition[]): Promise<void> {
    const added: TopicPartition[] = [];
    for (const p of partitions) {
      if (!this.partitions.states.has(partitionId(p.topic, p.partition))) added.push(p);
      this.partitions.add(p.topic, p.partition);
    }
    if (added.length > 0) await this.options.onAssigned?.(added);
    this.wake();
  }

  /**
   * Stops fetching, lets running handlers finish (up to `timeoutMs`, default 30 000), commits what
   * finished, leaves the group and closes the connections. From inside a handler, call it without
   * awaiting it (`void consumer.close()`): it waits for that handler to return.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    this.wake();
    this.commits?.stopAutoCommit();
    if (this.engine) {
      const ids = [...this.partitions.states.keys()];
      this.engine.dropQueued(ids);
      const deadline = this.cluster.clock.now() + (options.timeoutMs ?? 30_000);
      while (this.engine.pendingIn(ids) > 0 && this.cluster.clock.now() < deadline) await sleep(10);
      this.engine.stop();
    }
    await this.running?.catch(() => undefined);
    if (this.commits) await this.commits.commitLast();
    await this.group?.leave().catch(() => undefined);
    await this.deadLetters?.close();
    await this.cluster.close();
  }
}
