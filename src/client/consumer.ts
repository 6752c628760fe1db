// The consumer: fetches its partitions, runs the handler through the ordered parallel engine,
// retries, dead-letters, de-duplicates, and commits only what is finished.
//
//   partitions   either assigned by hand (`assign`) or by the group (`subscribe`, see group.ts)
//   position     per partition, the next offset to fetch: from `assign`, a seek, the group's committed
//                offset, or `autoOffsetReset` (earliest/latest) when there is none
//   fetch loop   one Fetch per leader with every active partition (not paused, engine not full);
//                records below the position (a batch starts earlier) and control records are dropped;
//                read_committed drops the records of aborted transactions
//   engine       ordered-executor.ts: the ordering key is the message key within its partition
//                (`orderBy: 'key'`), or the partition (`orderBy: 'partition'`); a null key is ordered
//                with its partition (`nullKeyOrder: 'partition'`, default) or not at all ('none')
//   commit       the engine's lowest unfinished offset per partition, on an interval (autoCommit),
//                on `commit()`, before partitions are revoked, and on close
//
// Offsets are `bigint` in the public API (ConsumedMessage.offset, seek, committed) — int64 on the
// wire — and plain numbers inside, where they are safe integers.
import { ApiKey } from '../protocol/generated/index.js';
import type { FetchResponse } from '../protocol/generated/fetch.js';
import type { OffsetCommitResponse } from '../protocol/generated/offset-commit.js';
import type { OffsetFetchResponse } from '../protocol/generated/offset-fetch.js';
import { ErrorCode } from '../protocol/generated/error-codes.js';
import {
  locatedRecordCount,
  locateRecordBatches,
  RECORD_SLOTS,
  recordHeadersAt,
  recordKeyAt,
  recordValueAt,
  SLOT_HEADER_COUNT,
  SLOT_KEY_AT,
  SLOT_KEY_LENGTH,
  SLOT_OFFSET_DELTA,
  type LocatedRecordBatch,
  type RecordHeader,
} from '../protocol/record-batch/records.js';
import {
  BASE_OFFSET_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  BATCH_LENGTH_PREFIX_BYTES,
  LAST_OFFSET_DELTA_OFFSET,
  readInt64AsNumber,
  TIMESTAMP_TYPE_LOG_APPEND_TIME,
} from '../protocol/record-batch/header.js';
import { sleep } from './backoff.js';
import { Cluster, staleMetadata, type ClusterOptions } from './cluster.js';
import { deadLetterHeaders, defaultDeadLetterTopic } from './dead-letter.js';
import { deduplicate, type DedupOptions } from './dedup.js';
import { ClientClosedError, ClientOptionError, KafkaError, SluiceClientError, throwIfError } from './errors.js';
import { OrderedExecutor, type RetryPolicy } from './ordered-executor.js';
import { listOffsets, type OffsetSpec } from './offsets.js';
import { booleanOption, integerOption, oneOfOption } from './options.js';
import { Producer, type ProducerOptions } from './producer.js';
import { bufferSerde, type Deserializer } from './serializers.js';
import { GroupMember, type AssignorName } from './group.js';

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface ConsumedMessage<K = Buffer, V = Buffer> {
  topic: string;
  partition: number;
  offset: bigint;
  /** Create time or log append time, ms since the epoch. */
  timestamp: number;
  key: K | null;
  value: V | null;
  /** Header values by key (the last one wins when a key repeats; all of them in `headerList`). */
  headers: Record<string, Buffer | null>;
  headerList: Array<{ key: string; value: Buffer | null }>;
  /** 1 on the first run of the handler for this message, 2 on the first retry, … */
  attempt: number;
  /** The raw key and value bytes. */
  rawKey: Buffer | null;
  rawValue: Buffer | null;
}

export type MessageHandler<K, V> = (message: ConsumedMessage<K, V>) => Promise<void>;

export interface DeadLetterOptions {
  /** Dead-letter topic for a source topic (default `<topic>.DLQ`). */
  topic?: (topic: string) => string;
  /** Options of the producer that writes dead letters (bootstrap and clientId default to the consumer's). */
  producer?: ProducerOptions;
}

export interface ConsumerOptions<K = Buffer, V = Buffer> extends ClusterOptions {
  /** Consumer group: needed for `subscribe` and for committing offsets. */
  groupId?: string;
  /** Handlers running at once (default 1). */
  concurrency?: number;
  /** What must stay in order: messages of one key (default) or all messages of a partition. */
  orderBy?: 'key' | 'partition';
  /** Null-key messages: in partition order (default) or in parallel with no order. */
  nullKeyOrder?: 'partition' | 'none';
  retry?: RetryPolicy;
  /** Send messages that failed `retry.maxAttempts` times to a dead-letter topic (default off). */
  deadLetter?: boolean | DeadLetterOptions;
  /** Skip messages whose id was already processed (see dedup.ts). */
  dedup?: DedupOptions<ConsumedMessage<K, V>>;
  /** Default read_committed. */
  isolationLevel?: 'read_committed' | 'read_uncommitted';
  /** Where to start without a committed offset (default 'latest'). */
  autoOffsetReset?: 'earliest' | 'latest';
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
  partitionMaxBytes?: number;
  /** Fetching pauses while this many messages wait in the engine (default 10 000). */
  maxBufferedMessages?: number;
  /** Commit finished offsets every `autoCommitIntervalMs` (default true, 5 000). */
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
  /** Group membership (see group.ts). */
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Static membership (KIP-345): a stable id per instance, so a restart within the session timeout does not rebalance. */
  groupInstanceId?: string;
  /** Assignment strategies in order of preference (default ['cooperative-sticky', 'range']). */
  assignors?: AssignorName[];
  /** Called with newly assigned partitions (after the rebalance). */
  onAssigned?(partitions: TopicPartition[]): void | Promise<void>;
  /** Called with partitions about to be taken away, after their finished offsets were committed. */
  onRevoked?(partitions: TopicPartition[]): void | Promise<void>;
  /** After each successful commit, with the offsets committed (the next offset to consume per partition). */
  onCommit?(offsets: Array<TopicPartition & { offset: bigint }>): void;
  /** Every handler failure (the message will be retried or dead-lettered). */
  onError?(error: unknown, message: ConsumedMessage<K, V> | undefined): void;
  keyDeserializer?: Deserializer<K>;
  valueDeserializer?: Deserializer<V>;
}

/**
 * A fetched batch whose records wait in the engine. The engine holds this one object for every
 * record of the batch, next to each record's offset (an object per record, kept alive while it
 * waits, was a tenth of the consume time in garbage collection); a record becomes objects (key,
 * value, headers, the message) only when its handler runs.
 */
interface FetchedBatch {
  source: PartitionState;
  batch: LocatedRecordBatch;
  /**
   * True when record i has offset baseOffset + i (as validation guarantees when recordCount =
   * lastOffsetDelta + 1); false when the batch has gaps (compaction, aborted records removed).
   */
  dense: boolean;
}

/** The index in the batch's record table of the record at `offset`. */
function recordIndex(fetched: FetchedBatch, offset: number): number {
  const { batch } = fetched;
  const delta = offset - batch.baseOffset;
  if (fetched.dense) return delta;
  const table = batch.recordTable;
  let low = 0;
  let high = locatedRecordCount(batch) - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (table[middle * RECORD_SLOTS + SLOT_OFFSET_DELTA]! < delta) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** One fetch response's records on their way to the engine, a batch at a time (see deliverBatch). */
interface Delivery {
  state: PartitionState;
  /** The partition's epoch when the fetch was made: a seek or revoke since drops the rest. */
  epoch: number;
  id: string;
  nullKeyOrdering: string;
  /** The first offset not yet handed over (or skipped: control batches, aborted transactions). */
  next: number;
  /** Aborted transactions of the response not yet reached, by first offset (read_committed). */
  abortedList: Array<{ producerId: number; firstOffset: number }> | undefined;
  /** Producers whose aborted transaction is open at the current batch. */
  abortedNow: Set<number>;
}

/** A fetched record's fields, decoded (for the dead-letter topic). */
interface RawMessage {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

interface PartitionState {
  topic: string;
  partition: number;
  /** Next offset to fetch; undefined until resolved (committed offset or reset). */
  position: number | undefined;
  /** Reset target when the position is unknown or out of range. */
  reset: OffsetSpec | undefined;
  paused: boolean;
  /** After records that could not be decoded: not fetched again before this time (ms, Date.now()). */
  retryAt: number;
  /** Bumped by every seek, so an answer to an older fetch is dropped. */
  epoch: number;
  lastCommitted: number | undefined;
  /** Decoding and delivery of fetched records, chained so a partition's records arrive in order. */
  delivering: Promise<void>;
}

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
  private readonly keyDeserializer: Deserializer<K>;
  private readonly valueDeserializer: Deserializer<V>;
  private readonly partitions = new Map<string, PartitionState>();
  private engine: OrderedExecutor<FetchedBatch> | undefined;
  private group: GroupMember | undefined;
  private deadLetterProducer: Producer | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private closed = false;
  private commitTimer: NodeJS.Timeout | undefined;
  private readonly wakeController = { abort: new AbortController() };
  private committing: Promise<void> = Promise.resolve();
  /** Fetch responses whose records are not yet handed to the engine. */
  private undelivered = 0;
  private deliveredWaiter: (() => void) | undefined;

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
    this.keyDeserializer = options.keyDeserializer ?? (bufferSerde.deserialize as unknown as Deserializer<K>);
    this.valueDeserializer = options.valueDeserializer ?? (bufferSerde.deserialize as unknown as Deserializer<V>);
  }

  /** Consumes exactly these partitions (no group rebalancing); offsets as given, else committed, else reset. */
  assign(partitions: Array<TopicPartition & { offset?: bigint | OffsetSpec }>): void {
    if (this.group) throw new ClientOptionError('assign() cannot be used with subscribe()');
    const wanted = new Set(partitions.map((p) => partitionId(p.topic, p.partition)));
    const removed = [...this.partitions.keys()].filter((id) => !wanted.has(id));
    this.forget(removed);
    for (const p of partitions) {
      const state = this.addPartition(p.topic, p.partition);
      if (p.offset !== undefined) this.setPosition(state, p.offset);
    }
  }

  /** Joins the consumer group for these topics (names or a pattern matched against the cluster's topics). */
  subscribe(topics: string[] | RegExp): void {
    if (!this.groupId) throw new ClientOptionError('subscribe() needs the groupId option');
    if (this.partitions.size > 0 && !this.group)
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
    const state = this.partitions.get(id);
    if (!state) throw new ClientOptionError(`${id} is not assigned to this consumer`);
    this.engine?.dropPartitions([id]);
    this.setPosition(state, to);
    this.wake();
  }

  pause(partitions: TopicPartition[]): void {
    for (const p of partitions) {
      const state = this.partitions.get(partitionId(p.topic, p.partition));
      if (state) state.paused = true;
    }
  }

  resume(partitions: TopicPartition[]): void {
    for (const p of partitions) {
      const state = this.partitions.get(partitionId(p.topic, p.partition));
      if (state) state.paused = false;
    }
    this.wake();
  }

  /** The partitions currently consumed. */
  assignment(): TopicPartition[] {
    return [...this.partitions.values()].map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  private addPartition(topic: string, partition: number): PartitionState {
    const id = partitionId(topic, partition);
    let state = this.partitions.get(id);
    if (!state) {
      state = {
        topic,
        partition,
        position: undefined,
        reset: undefined,
        paused: false,
        retryAt: 0,
        epoch: 0,
        lastCommitted: undefined,
        delivering: Promise.resolve(),
      };
      this.partitions.set(id, state);
      this.cluster.addTopics([topic]);
    }
    return state;
  }

  private setPosition(state: PartitionState, to: bigint | OffsetSpec): void {
    state.epoch++;
    state.retryAt = 0;
    if (typeof to === 'bigint') {
      if (to < 0n) throw new ClientOptionError(`offset must be ≥ 0, got ${to}`);
      state.position = Number(to);
      state.reset = undefined;
    } else {
      state.position = undefined;
      state.reset = to;
    }
  }

  private forget(ids: string[]): void {
    if (ids.length === 0) return;
    this.engine?.dropPartitions(ids);
    for (const id of ids) this.partitions.delete(id);
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
    this.engine = new OrderedExecutor<FetchedBatch>({
      concurrency: this.concurrency,
      retry: this.options.retry,
      handle: (fetched, attempt, offset) => userHandler(this.typed(fetched, offset, attempt)),
      onError: (fetched, error, attempt, offset) =>
        this.options.onError?.(error, this.safeTyped(fetched, offset, attempt)),
      onExhausted: deadLetter
        ? (fetched, error, attempts, offset) =>
            this.sendToDeadLetter(fetched, offset, error, attempts, deadLetter === true ? {} : deadLetter)
        : undefined,
    });
    if (this.group) {
      this.group.onRebalance = {
        revoke: (partitions) => this.revoke(partitions),
        assign: (partitions) => this.assignFromGroup(partitions),
      };
      await this.group.join();
    }
    if (this.autoCommit && this.groupId) {
      this.commitTimer = setInterval(
        () => void this.commit().catch((error: unknown) => this.options.onError?.(error, undefined)),
        this.autoCommitIntervalMs,
      );
      this.commitTimer.unref();
    }
    this.running = this.loop();
  }

  /** The record's fields, from the batch's record table (checked when the response was located). */
  private raw(fetched: FetchedBatch, offset: number): RawMessage {
    const { batch } = fetched;
    const index = recordIndex(fetched, offset);
    return {
      topic: fetched.source.topic,
      partition: fetched.source.partition,
      offset,
      timestamp:
        batch.timestampType === TIMESTAMP_TYPE_LOG_APPEND_TIME
          ? batch.maxTimestamp
          : batch.baseTimestamp + batch.timestampDeltas[index]!,
      key: recordKeyAt(batch, index),
      value: recordValueAt(batch, index),
      headers: recordHeadersAt(batch, index),
    };
  }

  /** The message for the handler, built straight from the batch's record table (no RawMessage in between). */
  private typed(fetched: FetchedBatch, offset: number, attempt: number): ConsumedMessage<K, V> {
    const { batch } = fetched;
    const { topic, partition } = fetched.source;
    const index = recordIndex(fetched, offset);
    const timestamp =
      batch.timestampType === TIMESTAMP_TYPE_LOG_APPEND_TIME
        ? batch.maxTimestamp
        : batch.baseTimestamp + batch.timestampDeltas[index]!;
    const rawKey = recordKeyAt(batch, index);
    const rawValue = recordValueAt(batch, index);
    const headers: Record<string, Buffer | null> = {};
    const headerList =
      batch.recordTable[index * RECORD_SLOTS + SLOT_HEADER_COUNT]! > 0 ? recordHeadersAt(batch, index) : [];
    for (let h = 0; h < headerList.length; h++) headers[headerList[h]!.key] = headerList[h]!.value;
    return {
      topic,
      partition,
      offset: BigInt(offset),
      timestamp,
      key: rawKey === null ? null : this.keyDeserializer(rawKey, topic),
      value: rawValue === null ? null : this.valueDeserializer(rawValue, topic),
      headers,
      headerList,
      attempt,
      rawKey,
      rawValue,
    };
  }

  private safeTyped(fetched: FetchedBatch, offset: number, attempt: number): ConsumedMessage<K, V> | undefined {
    try {
      return this.typed(fetched, offset, attempt);
    } catch {
      return undefined;
    }
  }

  private async sendToDeadLetter(
    fetched: FetchedBatch,
    offset: number,
    error: unknown,
    attempts: number,
    options: DeadLetterOptions,
  ): Promise<void> {
    this.deadLetterProducer ??= new Producer({
      bootstrap: this.options.bootstrap,
      clientId: this.cluster.clientId,
      ...options.producer,
    });
    const raw = this.raw(fetched, offset);
    const topic = (options.topic ?? defaultDeadLetterTopic)(raw.topic);
    const headers: Array<[string, Buffer | string | null]> = raw.headers.map((h) => [h.key, h.value]);
    headers.push(
      ...deadLetterHeaders(
        { topic: raw.topic, partition: raw.partition, offset: BigInt(raw.offset), timestamp: raw.timestamp },
        attempts,
        error,
      ),
    );
    await this.deadLetterProducer.send(topic, { key: raw.key, value: raw.value, headers, timestamp: raw.timestamp });
  }

  private wake(): void {
    this.wakeController.abort.abort();
    this.deliveredWaiter?.();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        if (this.group) await this.group.poll();
        await this.resolvePositions();
        await this.engine!.waitForRoom(this.maxBufferedMessages);
        // One response may be decoding while the next fetch is out; not more.
        while (this.undelivered > 1 && !this.stopping)
          await new Promise<void>((resolve) => (this.deliveredWaiter = resolve));
        if (this.stopping) break;
        const fetched = await this.fetchOnce();
        failures = 0;
        if (!fetched) {
          // Nothing to fetch (no partitions, all paused or waiting to retry): wait to be woken, for
          // the next retry, or a short while.
          this.wakeController.abort = new AbortController();
          await sleep(Math.min(100, this.nextRetryInMs()), this.wakeController.abort.signal);
        }
      } catch (error) {
        if (this.stopping) break;
        failures++;
        this.options.onError?.(error, undefined);
        // Fenced by another member with our groupInstanceId: consuming on would process twice.
        if (error instanceof KafkaError && error.code === ErrorCode.FENCED_INSTANCE_ID) {
          this.stopping = true;
          throw error;
        }
        if (error instanceof SluiceClientError && !error.retriable && !(error instanceof KafkaError)) throw error;
        if (staleMetadata(error)) await this.cluster.refreshMetadata().catch(() => undefined);
        await sleep(Math.min(1000, this.cluster.retryBackoffMs * 2 ** Math.min(failures, 10)));
      }
    }
  }

  /** Milliseconds until the earliest partition waiting after a damaged batch may be fetched again (Infinity: none waits). */
  private nextRetryInMs(): number {
    let earliest = Infinity;
    for (const state of this.partitions.values())
      if (state.retryAt !== 0 && !state.paused) earliest = Math.min(earliest, state.retryAt);
    return Math.max(0, earliest - Date.now());
  }

  /** Gives every partition without a position one: committed offset, else its reset target. */
  private async resolvePositions(): Promise<void> {
    const unresolved = [...this.partitions.values()].filter((s) => s.position === undefined);
    if (unresolved.length === 0) return;
    const needCommitted = unresolved.filter((s) => s.reset === undefined);
    if (needCommitted.length > 0) {
      const committed = this.groupId ? await this.fetchCommitted(needCommitted) : new Map<string, number>();
      for (const state of needCommitted) {
        const offset = committed.get(partitionId(state.topic, state.partition));
        if (offset !== undefined && offset >= 0) {
          state.position = offset;
          state.lastCommitted = offset;
        } else state.reset = this.autoOffsetReset;
      }
    }
    const byReset = new Map<OffsetSpec, PartitionState[]>();
    for (const state of unresolved) {
      if (state.position !== undefined || state.reset === undefined) continue;
      const list = byReset.get(state.reset) ?? [];
      list.push(state);
      byReset.set(state.reset, list);
    }
    for (const [spec, states] of byReset) {
      const epochs = states.map((s) => s.epoch);
      const offsets = await listOffsets(this.cluster, states, spec, this.isolationLevel);
      states.forEach((state, index) => {
        if (state.epoch !== epochs[index]) return;
        const found = offsets.find((o) => o.topic === state.topic && o.partition === state.partition);
        if (!found) return;
        // A timestamp after the last message: start at the end.
        if (found.offset < 0n) state.reset = 'latest';
        else {
          state.position = Number(found.offset);
          state.reset = undefined;
        }
      });
    }
  }

  private async fetchCommitted(states: PartitionState[]): Promise<Map<string, number>> {
    const topics = new Map<string, number[]>();
    for (const s of states) topics.set(s.topic, [...(topics.get(s.topic) ?? []), s.partition]);
    const groupId = this.groupId!;
    const response = await this.cluster.coordinatorRequest<OffsetFetchResponse>(
      groupId,
      ApiKey.OffsetFetch,
      {
        groupId,
        topics: [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
        requireStable: true,
      },
      (r) => throwIfError(r.errorCode, null, `fetch committed offsets of group "${groupId}"`),
    );
    const out = new Map<string, number>();
    for (const t of response.topics) {
      for (const p of t.partitions) {
        throwIfError(p.errorCode, null, `committed offset of ${t.name}/${p.partitionIndex}`);
        out.set(partitionId(t.name, p.partitionIndex), Number(p.committedOffset));
      }
    }
    return out;
  }

  /** One round of fetches, one per leader in parallel. False when there was nothing to fetch. */
  private async fetchOnce(): Promise<boolean> {
    const byLeader = new Map<number, PartitionState[]>();
    for (const state of this.partitions.values()) {
      if (state.paused || state.position === undefined || (state.retryAt !== 0 && state.retryAt > Date.now())) continue;
      if (!this.cluster.topics.has(state.topic)) await this.cluster.topic(state.topic);
      const leader = this.cluster.leaderOf(state.topic, state.partition);
      if (leader === undefined) {
        await this.cluster.refreshMetadata();
        continue;
      }
      const list = byLeader.get(leader) ?? [];
      list.push(state);
      byLeader.set(leader, list);
    }
    if (byLeader.size === 0) return false;
    await Promise.all([...byLeader].map(([leader, states]) => this.fetchFrom(leader, states)));
    return true;
  }

  private async fetchFrom(leader: number, states: PartitionState[]): Promise<void> {
    const asked = states.map((s) => ({ state: s, epoch: s.epoch, position: s.position! }));
    const topics = new Map<string, Array<{ partition: number; fetchOffset: bigint; partitionMaxBytes: number }>>();
    for (const { state, position } of asked) {
      const list = topics.get(state.topic) ?? [];
      list.push({
        partition: state.partition,
        fetchOffset: BigInt(position),
        partitionMaxBytes: this.partitionMaxBytes,
      });
      topics.set(state.topic, list);
    }
    const body = {
      replicaId: -1,
      maxWaitMs: this.maxWaitMs,
      minBytes: this.minBytes,
      maxBytes: this.maxBytes,
      isolationLevel: this.isolationLevel,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
    };
    const response = await this.cluster.request<FetchResponse>(leader, ApiKey.Fetch, body, {
      timeoutMs: this.cluster.requestTimeoutMs + this.maxWaitMs,
    });
    throwIfError(response.errorCode, null, 'Fetch');
    let stale = false;
    for (const topic of response.responses) {
      for (const p of topic.partitions) {
        const entry = asked.find((a) => a.state.topic === topic.topic && a.state.partition === p.partitionIndex);
        if (!entry) continue;
        const { state, epoch, position } = entry;
        // Seeked, revoked or re-assigned while the fetch was out: this answer is for an old position.
        if (state.epoch !== epoch || this.partitions.get(partitionId(state.topic, state.partition)) !== state) continue;
        if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
          state.position = undefined;
          state.reset = this.autoOffsetReset;
          continue;
        }
        if (p.errorCode !== 0) {
          const error = new KafkaError(p.errorCode, null, `fetch ${state.topic}/${state.partition}`);
          if (staleMetadata(error)) stale = true;
          else if (!error.retriable) this.options.onError?.(error, undefined);
          continue;
        }
        if (!p.records || p.records.length === 0) continue;
        // The next position comes from the batch headers alone, so the next fetch goes out at once;
        // decoding and handing over the records runs meanwhile, in order per partition.
        const next = nextOffsetAfter(p.records);
        if (next === undefined) continue;
        state.position = Math.max(position, next);
        const records = p.records;
        const aborted = p.abortedTransactions;
        this.undelivered++;
        state.delivering = state.delivering
          .then(async () => {
            if (!this.current(state, epoch)) return;
            // Each batch goes to the engine as soon as it is located, so handlers start after the
            // first batch of a response, not after all of them.
            const delivery = this.startDelivery(state, epoch, position, aborted);
            try {
              await locateRecordBatches(
                records,
                {},
                (batch) => this.current(state, epoch) && this.deliverBatch(delivery, batch),
              );
            } catch (error) {
              // Undecodable records: fetch them again from the first one not handed over.
              if (state.epoch === epoch) {
                state.epoch++;
                state.position = delivery.next;
                state.retryAt = Date.now() + this.cluster.retryBackoffMs;
              }
              throw error;
            }
          })
          .catch((error: unknown) => this.options.onError?.(error, undefined))
          .finally(() => {
            this.undelivered--;
            this.deliveredWaiter?.();
          });
      }
    }
    if (stale) await this.cluster.refreshMetadata();
  }

  /** Whether `state` is still consumed from the position a fetch asked with `epoch` (no seek, revoke or close since). */
  private current(state: PartitionState, epoch: number): boolean {
    return (
      state.epoch === epoch &&
      !this.stopping &&
      this.partitions.get(partitionId(state.topic, state.partition)) === state
    );
  }

  private startDelivery(
    state: PartitionState,
    epoch: number,
    position: number,
    aborted: Array<{ producerId: bigint; firstOffset: bigint }> | null,
  ): Delivery {
    const id = partitionId(state.topic, state.partition);
    return {
      state,
      epoch,
      id,
      // One string for every null-key message of this partition (built once, hashed once per lookup).
      nullKeyOrdering: `${id}\u0000null`,
      next: position,
      // Usually there are none: then no list at all (an empty array of another shape than a full one
      // would send the delivery code back to the interpreter when the first aborted transaction shows up).
      abortedList:
        aborted !== null && aborted.length > 0
          ? aborted
              .map((a) => ({ producerId: Number(a.producerId), firstOffset: Number(a.firstOffset) }))
              .sort((a, b) => a.firstOffset - b.firstOffset)
          : undefined,
      abortedNow: new Set<number>(),
    };
  }

  /**
   * Hands the batch's records at/after `delivery.next` to the engine. A push can run a handler at
   * once (up to its first await), and that handler may seek: the partition's epoch then moved, the
   * rest is dropped and this returns false.
   */
  private deliverBatch(delivery: Delivery, batch: LocatedRecordBatch): boolean {
    const { state, epoch, id, abortedList, abortedNow } = delivery;
    const batchEnd = batch.baseOffset + batch.lastOffsetDelta + 1;
    while (
      abortedList !== undefined &&
      abortedList.length > 0 &&
      abortedList[0]!.firstOffset <= batch.baseOffset + batch.lastOffsetDelta
    )
      abortedNow.add(abortedList.shift()!.producerId);
    if (batch.isControl) {
      // An abort (or commit) marker ends the producer's transaction.
      abortedNow.delete(batch.producerId);
      delivery.next = Math.max(delivery.next, batchEnd);
      return true;
    }
    if (batch.isTransactional && this.isolationLevel === 1 && abortedNow.has(batch.producerId)) {
      delivery.next = Math.max(delivery.next, batchEnd);
      return true;
    }
    // The records stay in the fetch response (or the decompressed block) until their handlers run:
    // no copy per message. A response stays in memory until its last message is finished, which
    // the engine bound (maxBufferedMessages) and the fetch sizes limit.
    const next = delivery.next;
    const table = batch.recordTable;
    const count = locatedRecordCount(batch);
    const engine = this.engine!;
    const byKey = this.orderBy === 'key';
    const fetched: FetchedBatch = { source: state, batch, dense: count === batch.lastOffsetDelta + 1 };
    // Records of one key at consecutive offsets go to the engine as one run (one push for a batch
    // of null keys, or ordered by partition).
    let runKey = '';
    let runStart = 0;
    let runCount = 0;
    for (let index = fetched.dense ? Math.max(0, next - batch.baseOffset) : 0; index < count; index++) {
      const offset = batch.baseOffset + table[index * RECORD_SLOTS + SLOT_OFFSET_DELTA]!;
      if (offset < next) continue;
      const key = byKey ? this.orderingKey(id, delivery.nullKeyOrdering, batch, index, offset) : id;
      if (runCount > 0 && key === runKey && offset === runStart + runCount) {
        runCount++;
        continue;
      }
      if (runCount > 0) {
        engine.push(id, runStart, runKey, fetched, runCount);
        if (state.epoch !== epoch) return false;
      }
      runKey = key;
      runStart = offset;
      runCount = 1;
    }
    if (runCount > 0) engine.push(id, runStart, runKey, fetched, runCount);
    if (state.epoch !== epoch) return false;
    delivery.next = Math.max(next, batchEnd);
    return true;
  }

  private orderingKey(
    id: string,
    nullKeyOrdering: string,
    batch: LocatedRecordBatch,
    index: number,
    offset: number,
  ): string {
    const keyLength = batch.recordTable[index * RECORD_SLOTS + SLOT_KEY_LENGTH]!;
    if (keyLength < 0) return this.nullKeyOrder === 'partition' ? nullKeyOrdering : `${id}\u0000offset\u0000${offset}`;
    const keyAt = batch.recordTable[index * RECORD_SLOTS + SLOT_KEY_AT]!;
    return `${id}\u0000key\u0000${batch.recordBytes.toString('latin1', keyAt, keyAt + keyLength)}`;
  }

  /** Commits every partition's finished position (the lowest unfinished offset). Needs groupId. */
  async commit(): Promise<void> {
    if (!this.groupId) throw new ClientOptionError('commit() needs the groupId option');
    const run = this.committing.then(() => this.commitNow());
    this.committing = run.catch(() => undefined);
    return run;
  }

  private async commitNow(only?: Set<string>): Promise<void> {
    if (!this.engine || !this.groupId) return;
    const toCommit: Array<{ state: PartitionState; offset: number }> = [];
    for (const [id, state] of this.partitions) {
      if (only && !only.has(id)) continue;
      const offset = this.engine.committable(id);
      if (offset === undefined || offset === state.lastCommitted) continue;
      toCommit.push({ state, offset });
    }
    if (toCommit.length === 0) return;
    const topics = new Map<
      string,
      Array<{
        partitionIndex: number;
        committedOffset: bigint;
        committedLeaderEpoch: number;
        committedMetadata: string | null;
      }>
    >();
    for (const { state, offset } of toCommit) {
      const list = topics.get(state.topic) ?? [];
      list.push({
        partitionIndex: state.partition,
        committedOffset: BigInt(offset),
        committedLeaderEpoch: -1,
        committedMetadata: null,
      });
      topics.set(state.topic, list);
    }
    const generation = this.group?.generation ?? { generationId: -1, memberId: '', groupInstanceId: null };
    const groupId = this.groupId;
    await this.cluster.coordinatorRequest<OffsetCommitResponse>(
      groupId,
      ApiKey.OffsetCommit,
      {
        groupId,
        generationIdOrMemberEpoch: generation.generationId,
        memberId: generation.memberId,
        groupInstanceId: generation.groupInstanceId,
        retentionTimeMs: -1n,
        topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
      },
      (r) => {
        for (const t of r.topics)
          for (const p of t.partitions)
            throwIfError(p.errorCode, null, `commit ${t.name}/${p.partitionIndex} for group "${groupId}"`);
      },
    );
    for (const { state, offset } of toCommit) state.lastCommitted = offset;
    this.options.onCommit?.(
      toCommit.map(({ state, offset }) => ({ topic: state.topic, partition: state.partition, offset: BigInt(offset) })),
    );
  }

  /** The group takes partitions away: stop fetching them, let running handlers finish, commit, forget. */
  private async revoke(partitions: TopicPartition[]): Promise<void> {
    const ids = partitions.map((p) => partitionId(p.topic, p.partition)).filter((id) => this.partitions.has(id));
    if (ids.length === 0) return;
    for (const id of ids) {
      const state = this.partitions.get(id)!;
      state.paused = true;
      // A fetch answer still out or decoding would hand the engine records after the offset committed
      // below, and the new owner would consume them too: the new epoch drops it.
      state.epoch++;
    }
    this.engine?.dropQueued(ids);
    const deadline = Date.now() + (this.options.rebalanceTimeoutMs ?? 60_000) / 2;
    while (this.engine && this.engine.pendingIn(ids) > 0 && Date.now() < deadline) await sleep(10);
    await this.commitNow(new Set(ids)).catch((error: unknown) => this.options.onError?.(error, undefined));
    await this.options.onRevoked?.(partitions);
    this.forget(ids);
  }

  private async assignFromGroup(partitions: TopicPartition[]): Promise<void> {
    const added: TopicPartition[] = [];
    for (const p of partitions) {
      if (!this.partitions.has(partitionId(p.topic, p.partition))) added.push(p);
      this.addPartition(p.topic, p.partition);
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
    this.stopping = true;
    this.wake();
    if (this.commitTimer) clearInterval(this.commitTimer);
    if (this.engine) {
      const ids = [...this.partitions.keys()];
      this.engine.dropQueued(ids);
      const deadline = Date.now() + (options.timeoutMs ?? 30_000);
      while (this.engine.pendingIn(ids) > 0 && Date.now() < deadline) await sleep(10);
      this.engine.stop();
    }
    await this.running?.catch(() => undefined);
    if (this.groupId)
      await this.committing
        .then(() => this.commitNow())
        .catch((error: unknown) => this.options.onError?.(error, undefined));
    await this.group?.leave().catch(() => undefined);
    await this.deadLetterProducer?.close();
    await this.cluster.close();
  }
}

export function partitionId(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/** One past the last offset of the whole batches in a Fetch `records` field, read from batch headers only. */
function nextOffsetAfter(records: Buffer): number | undefined {
  let next: number | undefined;
  let position = 0;
  while (records.length - position >= BATCH_HEADER_BYTES) {
    const totalBytes = records.readInt32BE(position + BATCH_LENGTH_OFFSET) + BATCH_LENGTH_PREFIX_BYTES;
    if (totalBytes < BATCH_HEADER_BYTES || position + totalBytes > records.length) break;
    next =
      readInt64AsNumber(records, position + BASE_OFFSET_OFFSET) +
      records.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET) +
      1;
    position += totalBytes;
  }
  return next;
}
