// The single-node broker: topics and their partition logs, produce, fetch and the admin operations.
// No sockets: server/handlers translate Kafka requests into these calls and the results back.
//
// Errors a client caused come back as Kafka error codes per topic/partition (ErrorCode); errors of
// the environment (disk) come from storage as StorageError and are answered KAFKA_STORAGE_ERROR for
// that partition; anything else is our bug and propagates.
import { ErrorCode } from '../protocol/generated/error-codes.js';
import { RecordBatchHeader } from '../protocol/record-batch/header.js';
import { PartitionLog } from '../storage/log.js';
import { InvariantError, StorageError } from '../storage/errors.js';
import type { StorageLogger } from '../storage/logger.js';
import type { BrokerConfig } from './config.js';
import { OneAtATime } from './one-at-a-time.js';
import { lockDataDir, loadIdentity, type BrokerIdentity } from './data-dir.js';
import { GroupCoordinator } from './groups/coordinator.js';
import { groupSettingsFrom, type GroupSettings } from './groups/limits.js';
import { acceptsClientProduce } from './half-messages/records.js';
import { halfMessageSettingsFrom, HalfMessageService } from './half-messages/service.js';
import { silentLogger, type Logger } from './logger.js';
import { lookUpOffset, type FetchableLimit, type OffsetAnswer } from './offset-lookup.js';
import { PartitionSet, type FetchWaiter } from './partition-set.js';
import { ProducerIdAllocator } from './producer-ids.js';
import { validateProducedBatch, stampLogAppendTime } from './produce-validation.js';
import { PartitionMarkerWriter, ServicePartitions } from './service-adapters.js';
import { systemClock, type Failure } from './services.js';
import { needsRecordPass, producePolicyOf } from './produce/policy.js';
import { passRecords, type RecordError } from './produce/record-pass.js';
import { addToTransactionImplicitly, transactionalRefusal } from './produce/transaction-admission.js';
import { topicSizeLimitProblem } from './size-limits.js';
import { effectiveTopicConfigs, logConfigFor, topicConfigProblem } from './topic-config.js';
import { isInternalTopic, topicNameProblem } from './topic-names.js';
import { PARTITIONS_PER_TOPIC_MAX, TopicRegistry, type Topic } from './topic-registry.js';
import { TransactionCoordinator, transactionSettingsFrom } from './transactions/coordinator.js';
import type { AbortedTransaction } from './transactions/partition-transactions.js';

export type { Failure } from './services.js';

export interface ProduceResult extends Failure {
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
  /** KIP-467: the records that made the batch fail (Produce v8+ answers them). */
  recordErrors?: RecordError[];
}

/** What the Produce request says besides the batch: its transactional id, and whether (v12+, KIP-890 part 2)
 *  a transactional batch adds its partition to the transaction itself. */
export interface ProduceRequestFacts {
  transactionalId: string | null;
  addsPartitionsToTransaction: boolean;
}
const PLAIN_PRODUCE: ProduceRequestFacts = { transactionalId: null, addsPartitionsToTransaction: false };

export interface FetchPartitionRequest {
  topic: string;
  partition: number;
  fetchOffset: number;
  partitionMaxBytes: number;
}

export interface FetchPartitionResult extends Failure {
  topic: string;
  partition: number;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  records: Buffer;
  /** read_committed only: aborted transactions overlapping `records`; null for read_uncommitted. */
  abortedTransactions: AbortedTransaction[] | null;
}

/** Fetch/ListOffsets isolation level: 0 read_uncommitted (up to the high watermark), 1 read_committed (up to the last stable offset). */
export type IsolationLevel = 0 | 1;
export const READ_COMMITTED: IsolationLevel = 1;

const OK: Failure = { errorCode: ErrorCode.NONE, errorMessage: null };

function fail(errorCode: number, errorMessage: string): Failure {
  return { errorCode, errorMessage };
}

function storageFailure(error: unknown): Failure {
  if (error instanceof StorageError) return fail(error.kafkaCode, error.message);
  throw error;
}

/** A file operation failed (opening or renaming partition directories, writing topics.json or
 *  producer-ids.properties): the environment's fault — a StorageError with its code, or the file
 *  system's error as KAFKA_STORAGE_ERROR — unless it is our own bug (an invariant), which propagates. */
function diskFailure(error: unknown): Failure {
  if (error instanceof StorageError) return fail(error.kafkaCode, error.message);
  if (error instanceof InvariantError) throw error;
  return fail(ErrorCode.KAFKA_STORAGE_ERROR, (error as Error).message);
}

/** Adapts the broker's structured logger to storage's event logger. */
function storageLoggerFrom(logger: Logger): StorageLogger {
  return {
    log(level, event, fields) {
      logger[level]({ component: 'storage', event, ...fields }, event);
    },
  };
}

/** How often idle producers are expired and producer state is snapshotted (Kafka checks every 10 min). */
const PRODUCER_MAINTENANCE_INTERVAL_MS = 10 * 60 * 1000;

export class Broker {
  private closed = false;
  /** The classic group coordinator (groups/): loaded from `__consumer_offsets` in open(), stopped in close(). */
  groups!: GroupCoordinator;
  /** The transaction coordinator (transactions/): loaded from `__transaction_state` in open(), after the groups. */
  transactions!: TransactionCoordinator;
  /** Half messages with check-back (half-messages/): rebuilt from `__sluice_half`/`__sluice_half_op` in open(), after the transactions. */
  halfMessages!: HalfMessageService;
  private maintenance: NodeJS.Timeout | null = null;
  private readonly partitionGrowth = new OneAtATime();
  /** The partitions as the services see them (service-adapters.ts), handed to each at open. With
   *  `groupSettings` and `logger` the broker is also a GroupDependencies: a test opens a second group
   *  coordinator on a running broker so. */
  readonly internalTopics: ServicePartitions;
  /** Read at open: a bad value stops it. */
  readonly groupSettings: GroupSettings;
  private readonly markers: PartitionMarkerWriter;

  private constructor(
    readonly config: BrokerConfig,
    readonly identity: BrokerIdentity,
    readonly topics: TopicRegistry,
    readonly partitions: PartitionSet,
    readonly logger: Logger,
    private readonly producerIds: ProducerIdAllocator,
    private readonly releaseLock: () => Promise<void>,
  ) {
    this.internalTopics = new ServicePartitions(partitions, topics, (name, count, configs) =>
      this.createTopic(name, count, configs),
    );
    this.groupSettings = groupSettingsFrom(config.properties);
    this.markers = new PartitionMarkerWriter(partitions, systemClock);
  }

  /** Locks the data directory, loads identity and topics, and opens (recovering) every partition. */
  static async open(config: BrokerConfig, options: { logger?: Logger } = {}): Promise<Broker> {
    const logger = options.logger ?? silentLogger;
    const lock = await lockDataDir(config.dataDir);
    try {
      const identity = await loadIdentity(config.dataDir, config.nodeId);
      const topics = await TopicRegistry.open(config.dataDir);
      const partitions = new PartitionSet(config.dataDir, storageLoggerFrom(logger), {
        producerIdExpirationMs: config.producerIdExpirationMs,
        logger,
      });
      // Deletions a stop interrupted end before any partition opens: a topic of the same name may exist again.
      await partitions.finishDeletions(topics.deletions());
      await topics.deletionsFinished(topics.deletions().map((deleted) => deleted.id));
      const broker = new Broker(
        config,
        identity,
        topics,
        partitions,
        logger,
        await ProducerIdAllocator.open(config.dataDir),
        () => lock.release(),
      );
      for (const topic of topics.all())
        await partitions.open(topic.name, topic.id, 0, topic.partitions, broker.logConfigOf(topic));
      // Each service gets the narrow interfaces it uses (services.ts), never the broker.
      const internalTopics = broker.internalTopics;
      broker.groups = await GroupCoordinator.open({ logger, internalTopics, groupSettings: broker.groupSettings });
      broker.transactions = await TransactionCoordinator.open({
        logger,
        internalTopics,
        partitions: internalTopics,
        markers: { writeTransactionMarker: (...marker) => broker.writeTransactionMarker(...marker) },
        producerIds: { nextProducerId: () => broker.producerIds.next() },
        offsets: broker.groups.transactionalOffsets,
        transactionSettings: transactionSettingsFrom(config),
      });
      broker.halfMessages = await HalfMessageService.open({
        logger,
        partitions: internalTopics,
        appends: internalTopics,
        producer: { produce: (topic, partition, batch) => broker.produce(topic, partition, batch) },
        halfMessageSettings: halfMessageSettingsFrom(config),
      });
      broker.maintenance = setInterval(
        () => partitions.maintainProducers(Date.now()),
        PRODUCER_MAINTENANCE_INTERVAL_MS,
      ).unref();
      logger.info(
        {
          dataDir: config.dataDir,
          clusterId: identity.clusterId,
          nodeId: identity.nodeId,
          topics: topics.all().length,
          partitions: partitions.all().length,
        },
        'broker opened',
      );
      return broker;
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** Flushes every partition, writes checkpoints and releases the data directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.maintenance) clearInterval(this.maintenance);
    await this.halfMessages?.close(); // its pass in progress may still append to the logs
    this.partitions.wakeAll(); // parked fetches answer now instead of holding the process open
    this.transactions?.close();
    this.groups?.close();
    try {
      await this.partitions.closeAll();
    } finally {
      await this.releaseLock();
    }
    this.logger.info({ dataDir: this.config.dataDir }, 'broker closed');
  }

  logConfigOf(topic: Topic) {
    return logConfigFor(topic.configs, this.config.properties);
  }

  // ── topics ────────────────────────────────────────────────────────────────────────────────

  /** Creates a topic (or only checks that it could be, with `validateOnly`). */
  async createTopic(
    name: string,
    partitions: number,
    configs: Record<string, string>,
    validateOnly = false,
  ): Promise<Failure & { topic?: Topic }> {
    const nameProblem = topicNameProblem(name);
    if (nameProblem) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
    if (this.topics.get(name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`);
    const colliding = this.topics.collidingWith(name);
    if (colliding)
      return fail(
        ErrorCode.INVALID_TOPIC_EXCEPTION,
        `Topic '${name}' collides with existing topic '${colliding}' ('.' and '_' are interchangeable in metric names)`,
      );
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > PARTITIONS_PER_TOPIC_MAX) {
      return fail(
        ErrorCode.INVALID_PARTITIONS,
        `Number of partitions must be between 1 and ${PARTITIONS_PER_TOPIC_MAX}, got ${partitions}`,
      );
    }
    const configProblem = topicConfigProblem(configs, this.config.properties);
    if (configProblem) return fail(ErrorCode.INVALID_CONFIG, configProblem);
    let logConfig;
    try {
      logConfig = logConfigFor(configs, this.config.properties);
    } catch (error) {
      return fail(ErrorCode.INVALID_CONFIG, (error as Error).message);
    }
    const sizeProblem = topicSizeLimitProblem(name, configs, logConfig, this.config.properties, this.logger);
    if (sizeProblem) return fail(ErrorCode.INVALID_CONFIG, sizeProblem);
    if (validateOnly) return OK;
    let topic: Topic;
    try {
      topic = await this.topics.create(name, partitions, configs);
    } catch (error) {
      return diskFailure(error); // topics.json could not be written
    }
    try {
      await this.partitions.open(name, topic.id, 0, partitions, logConfig);
    } catch (error) {
      // None of its partitions opened (a directory there holds another topic's data; the disk failed).
      if (this.topics.get(name) === topic) {
        try {
          await this.topics.delete(name);
          await this.deletionFinished(topic);
        } catch (undoError) {
          this.logger.error({ topic: name, error: String(undoError) }, 'topic not removed after its failed creation');
        }
      }
      this.logger.error({ topic: name, error: String(error) }, 'topic not created: its partitions did not open');
      return diskFailure(error);
    }
    // The broker's own topics are announced by the service that creates them.
    this.logger[isInternalTopic(name) ? 'debug' : 'info'](
      { topic: name, partitions, topicId: topic.id.toString('base64url'), configs },
      'topic created',
    );
    return { ...OK, topic };
  }

  /** The topic for a Metadata request, creating it when allowed. */
  async topicForMetadata(name: string, allowAutoCreate: boolean): Promise<Failure & { topic?: Topic }> {
    const existing = this.topics.get(name);
    if (existing) return { ...OK, topic: existing };
    const nameProblem = topicNameProblem(name);
    if (nameProblem) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
    if (!allowAutoCreate || !this.config.autoCreateTopics || isInternalTopic(name)) {
      return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host this topic-partition.`);
    }
    const created = await this.createTopic(name, this.config.numPartitions, {});
    if (created.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) return { ...OK, topic: this.topics.get(name)! };
    return created;
  }

  /**
   * Deletes a topic. It is gone once topics.json says so; its partition directories are renamed
   * `-delete` (durably) before this resolves, so the topic can be created again at once with empty
   * logs; their files are removed in the background. The broker's own topics cannot be deleted.
   */
  async deleteTopic(name: string): Promise<Failure & { topicId?: Buffer }> {
    const topic = this.topics.get(name);
    if (!topic) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host this topic-partition.`);
    if (isInternalTopic(name))
      return fail(ErrorCode.INVALID_REQUEST, `Deletion of internal topic ${name} is prohibited.`);
    try {
      await this.topics.delete(name);
    } catch (error) {
      return diskFailure(error); // topics.json could not be written: the topic stays
    }
    let failure: Failure = OK;
    try {
      await this.partitions.delete(name);
      await this.deletionFinished(topic);
    } catch (error) {
      // The topic is deleted all the same; the next start renames what is left (topics.json lists it).
      this.logger.error({ topic: name, error: String(error) }, 'topic deleted, but its directories were not renamed');
      failure = diskFailure(error);
    }
    await this.groups.forgetTopic(name);
    this.logger.info({ topic: name }, 'topic deleted');
    return { ...failure, topicId: topic.id };
  }

  /** The topic's directories are renamed: topics.json may forget it (if that write fails, the next start does). */
  private async deletionFinished(topic: Topic): Promise<void> {
    try {
      await this.topics.deletionsFinished([topic.id]);
    } catch (error) {
      this.logger.warn({ topic: topic.name, error: String(error) }, 'finished deletion not recorded');
    }
  }

  /** CreatePartitions of one topic run one at a time, each checking the count the one before left. */
  createPartitions(name: string, count: number, validateOnly: boolean): Promise<Failure> {
    return this.partitionGrowth.run(name, () => this.growPartitions(name, count, validateOnly));
  }

  private async growPartitions(name: string, count: number, validateOnly: boolean): Promise<Failure> {
    const topic = this.topics.get(name);
    if (!topic) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host this topic-partition.`);
    if (!Number.isInteger(count) || count <= topic.partitions) {
      return fail(
        ErrorCode.INVALID_PARTITIONS,
        `Topic currently has ${topic.partitions} partitions, which is higher than or equal to the requested ${count}.`,
      );
    }
    if (count > PARTITIONS_PER_TOPIC_MAX)
      return fail(ErrorCode.INVALID_PARTITIONS, `at most ${PARTITIONS_PER_TOPIC_MAX} partitions per topic`);
    if (validateOnly) return OK;
    const from = topic.partitions;
    try {
      await this.partitions.open(name, topic.id, from, count, this.logConfigOf(topic));
    } catch (error) {
      this.logger.error({ topic: name, from, to: count, error: String(error) }, 'partitions not added');
      return diskFailure(error);
    }
    // Deleted while its new partitions opened: the deletion took them.
    if (this.topics.get(name) !== topic)
      return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' was deleted meanwhile.`);
    try {
      await this.topics.setPartitions(name, count);
    } catch (error) {
      return diskFailure(error); // the new partitions stay open but unlisted; a retry lists them
    }
    this.logger.info({ topic: name, from, to: count }, 'partitions added');
    return OK;
  }

  /** Replaces (AlterConfigs) or edits (IncrementalAlterConfigs) a topic's overrides. */
  async alterTopicConfigs(name: string, overrides: Record<string, string>, validateOnly: boolean): Promise<Failure> {
    const topic = this.topics.get(name);
    if (!topic) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host this topic-partition.`);
    const problem = topicConfigProblem(overrides, this.config.properties);
    if (problem) return fail(ErrorCode.INVALID_CONFIG, problem);
    let logConfig;
    try {
      logConfig = logConfigFor(overrides, this.config.properties);
    } catch (error) {
      return fail(ErrorCode.INVALID_CONFIG, (error as Error).message);
    }
    const sizeProblem = topicSizeLimitProblem(name, overrides, logConfig, this.config.properties, this.logger);
    if (sizeProblem) return fail(ErrorCode.INVALID_CONFIG, sizeProblem);
    if (validateOnly) return OK;
    try {
      await this.topics.setConfigs(name, overrides);
    } catch (error) {
      return diskFailure(error);
    }
    // Applies at once: the logs read their settings (segment size, retention, max message size) when
    // they use them. The flush policy is broker-wide and never changes at run time.
    const updated = this.logConfigOf(topic);
    for (const log of this.partitions.partitionsOf(name))
      Object.assign(log.config, { ...updated, flushPolicy: log.config.flushPolicy });
    this.logger.info({ topic: name, configs: overrides }, 'topic configs altered');
    return OK;
  }

  topicConfigs(name: string) {
    const topic = this.topics.get(name);
    return topic ? effectiveTopicConfigs(topic.configs, this.config.properties) : undefined;
  }

  // ── produce ───────────────────────────────────────────────────────────────────────────────

  /**
   * Appends one produced batch (a slice of the request) to a partition after checking its header;
   * a batch the topic's policy needs to read goes through the record pass first (produce/policy.ts).
   * Resolves when the batch is as durable as the flush policy promises (after fsync under `sync`).
   */
  async produce(
    topicName: string,
    partition: number,
    batch: Buffer | null,
    request: ProduceRequestFacts = PLAIN_PRODUCE,
  ): Promise<ProduceResult> {
    const result = (failure: Failure): ProduceResult => ({
      ...failure,
      baseOffset: -1,
      logAppendTimeMs: -1,
      logStartOffset: -1,
    });
    // The half-message channel is written by producers (docs/half-messages.md); other internal topics are the broker's.
    if (isInternalTopic(topicName) && !acceptsClientProduce(topicName))
      return result(fail(ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${topicName}`));
    const topic = this.topics.get(topicName);
    const log = this.partitions.get(topicName, partition);
    if (!topic || !log)
      return result(fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host this topic-partition.`));
    const problem = validateProducedBatch(batch, log.config.maxMessageBytes);
    if (problem) return result(problem);
    const policy = producePolicyOf(topic.configs, this.config.properties);
    let header = batch!;
    if (needsRecordPass(policy, header)) {
      const passed = passRecords(header, policy, `${topicName}-${partition}`, log.config.maxMessageBytes);
      if (passed.problem) return result(passed.problem); // its record errors, if any, go along
      header = passed.batch;
    }
    let logAppendTimeMs = -1;
    if (policy.logAppendTime) {
      logAppendTimeMs = Date.now();
      stampLogAppendTime(header, logAppendTimeMs);
    }
    const view = new RecordBatchHeader(header);
    if (request.addsPartitionsToTransaction && view.isTransactional) {
      const refused = await addToTransactionImplicitly(
        this.transactions,
        request.transactionalId,
        view,
        topicName,
        partition,
      );
      if (refused) return result(refused);
    }
    const producers = view.producerId >= 0 ? this.partitions.producerState(topicName, partition) : undefined;
    if (producers) {
      const transactions = this.partitions.transactions(topicName, partition);
      if (view.isTransactional && transactions !== undefined && !transactions.isMarked) {
        // Once per partition, before the one-tick section below: a durable file saying "scan me at open".
        try {
          await transactions.markTransactional();
        } catch (error) {
          return result(storageFailure(error));
        }
      }
      // Sequence check, append and state update happen in one tick: the log assigns the offset
      // synchronously inside append(), so no other produce can slip in between.
      if (log.readOnly !== null) return result(storageFailure(log.readOnly));
      const refused = transactionalRefusal(this.transactions, transactions, view, topicName, partition);
      if (refused) return result(refused);
      const now = Date.now();
      const check = producers.check(view, now);
      if (check.kind === 'error') return result(fail(check.errorCode, check.message));
      if (check.kind === 'duplicate') {
        // A retry of a batch we already have: answer with its original offset, once it is durable.
        const durable = await this.awaitHighWatermark(topicName, partition, log, check.lastOffset + 1);
        if (durable !== null) return result(durable);
        return {
          ...OK,
          baseOffset: check.baseOffset,
          logAppendTimeMs: logAppendTimeMs === -1 ? -1 : check.maxTimestamp,
          logStartOffset: log.logStartOffset,
        };
      }
      const appended = log.append(header);
      producers.record(view, now);
      if (view.isTransactional) transactions?.apply(view, null);
      return this.finishAppend(topicName, partition, log, appended, logAppendTimeMs, result);
    }
    return this.finishAppend(topicName, partition, log, log.append(header), logAppendTimeMs, result);
  }

  private async finishAppend(
    topicName: string,
    partition: number,
    log: PartitionLog,
    appended: Promise<{ baseOffset: number }>,
    logAppendTimeMs: number,
    result: (failure: Failure) => ProduceResult,
  ): Promise<ProduceResult> {
    try {
      const { baseOffset } = await appended;
      this.partitions.wake(topicName, partition);
      return { ...OK, baseOffset, logAppendTimeMs, logStartOffset: log.logStartOffset };
    } catch (error) {
      return result(storageFailure(error));
    }
  }

  /** Waits until the high watermark reaches `offset`; a failure if the partition turns read-only or goes away. */
  private async awaitHighWatermark(
    topic: string,
    partition: number,
    log: PartitionLog,
    offset: number,
  ): Promise<Failure | null> {
    while (log.highWatermark < offset) {
      if (log.readOnly !== null) return storageFailure(log.readOnly);
      if (this.closed || this.partitions.get(topic, partition) !== log)
        return fail(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'the partition is no longer served');
      await this.waitForAppend([{ topic, partition, fetchOffset: 0, partitionMaxBytes: 0 }], 50);
    }
    return null;
  }

  // ── fetch ─────────────────────────────────────────────────────────────────────────────────

  /**
   * Last stable offset of a partition: the first offset of its earliest open transaction, or the
   * high watermark when none is open (or the open one has not reached it yet).
   */
  lastStableOffset(topic: string, partition: number, log: PartitionLog): number {
    const highWatermark = log.highWatermark;
    const firstUnstable = this.partitions.transactions(topic, partition)?.firstUnstableOffset ?? null;
    return firstUnstable === null ? highWatermark : Math.min(firstUnstable, highWatermark);
  }

  private async readPartition(
    request: FetchPartitionRequest,
    maxBytes: number,
    isolationLevel: IsolationLevel,
  ): Promise<FetchPartitionResult> {
    const readCommitted = isolationLevel === READ_COMMITTED;
    const base = {
      topic: request.topic,
      partition: request.partition,
      highWatermark: -1,
      lastStableOffset: -1,
      logStartOffset: -1,
      records: EMPTY,
      abortedTransactions: readCommitted ? [] : null,
    };
    const log = this.partitions.get(request.topic, request.partition);
    if (!log)
      return {
        ...base,
        ...fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'This server does not host this topic-partition.'),
      };
    const highWatermark = log.highWatermark;
    const lastStableOffset = this.lastStableOffset(request.topic, request.partition, log);
    const offsets = { highWatermark, lastStableOffset, logStartOffset: log.logStartOffset };
    if (request.fetchOffset < log.logStartOffset || request.fetchOffset > highWatermark) {
      return {
        ...base,
        ...offsets,
        ...fail(
          ErrorCode.OFFSET_OUT_OF_RANGE,
          `offset ${request.fetchOffset} is outside [${log.logStartOffset}, ${highWatermark}]`,
        ),
      };
    }
    // read_committed stops at the last stable offset: records of open transactions stay hidden.
    const limit = readCommitted ? lastStableOffset : highWatermark;
    if (maxBytes <= 0 || request.fetchOffset >= limit) return { ...base, ...offsets, ...OK };
    try {
      const read = await log.read(request.fetchOffset, maxBytes, { maxOffset: limit });
      const aborted =
        readCommitted && read.records.length > 0
          ? (this.partitions
              .transactions(request.topic, request.partition)
              ?.abortedOverlapping(Math.min(request.fetchOffset, read.firstOffset), read.nextOffset) ?? [])
          : base.abortedTransactions;
      return { ...base, ...offsets, ...OK, records: read.records, abortedTransactions: aborted };
    } catch (error) {
      if (this.partitions.get(request.topic, request.partition) !== log)
        return { ...base, ...fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'The topic was deleted during the fetch.') };
      return { ...base, ...offsets, ...storageFailure(error) };
    }
  }

  /**
   * Reads every requested partition; if fewer than `minBytes` came back, waits (up to `maxWaitMs`)
   * for an append to one of them and reads again. `maxBytes` bounds the response, except that the
   * first partition with data returns at least one whole batch (KIP-74).
   */
  async fetch(
    requests: readonly FetchPartitionRequest[],
    limits: { maxWaitMs: number; minBytes: number; maxBytes: number; isolationLevel?: IsolationLevel },
    signal?: AbortSignal,
  ): Promise<FetchPartitionResult[]> {
    const deadline = Date.now() + Math.max(0, limits.maxWaitMs);
    limits = { ...limits, maxBytes: Math.min(limits.maxBytes, this.config.fetchMaxBytes) };
    for (;;) {
      const results: FetchPartitionResult[] = [];
      let remaining = limits.maxBytes;
      let total = 0;
      for (const request of requests) {
        const budget =
          total === 0
            ? Math.max(1, Math.min(request.partitionMaxBytes, remaining))
            : Math.min(request.partitionMaxBytes, remaining);
        const result = await this.readPartition(request, budget, limits.isolationLevel ?? 0);
        // KIP-74: only the first partition with data may exceed its limits (by one whole batch);
        // storage returns at least one batch, so a later partition's oversized batch is dropped here.
        if (total > 0 && result.records.length > budget) result.records = EMPTY;
        results.push(result);
        total += result.records.length;
        remaining -= result.records.length;
      }
      const anyError = results.some((r) => r.errorCode !== ErrorCode.NONE);
      const waitMs = deadline - Date.now();
      if (total >= limits.minBytes || anyError || waitMs <= 0 || this.closed || signal?.aborted) return results;
      await this.waitForAppend(requests, waitMs, signal);
    }
  }

  /** Resolves on the next append to one of `requests`' partitions, after `waitMs`, on abort, or on close. */
  private waitForAppend(
    requests: readonly FetchPartitionRequest[],
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<void> {
    return new Promise((resolve) => {
      const waiter: FetchWaiter = {
        wake: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', waiter.wake);
          for (const r of requests) this.partitions.removeWaiter(r.topic, r.partition, waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, waitMs);
      signal?.addEventListener('abort', waiter.wake, { once: true });
      for (const r of requests) this.partitions.addWaiter(r.topic, r.partition, waiter);
    });
  }

  // ── offsets ───────────────────────────────────────────────────────────────────────────────

  /** ListOffsets for one partition: a special timestamp (-1 latest, -2 earliest, -3 max timestamp, …)
   *  or the first record at or after a time; answers as Kafka's (offset-lookup.ts). */
  async listOffset(topic: string, partition: number, timestamp: bigint, limit: FetchableLimit): Promise<OffsetAnswer> {
    const log = this.partitions.get(topic, partition);
    if (!log)
      return {
        ...fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'This server does not host this topic-partition.'),
        offset: -1,
        timestamp: -1,
        leaderEpoch: -1,
      };
    return lookUpOffset(
      { log, lastStableOffset: () => this.lastStableOffset(topic, partition, log) },
      timestamp,
      limit,
    );
  }

  /** DeleteRecords: offset -1 means the high watermark. Returns the new low watermark. */
  async deleteRecords(topic: string, partition: number, offset: number): Promise<Failure & { lowWatermark: number }> {
    const log = this.partitions.get(topic, partition);
    if (!log)
      return {
        ...fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'This server does not host this topic-partition.'),
        lowWatermark: -1,
      };
    const target = offset === -1 ? log.highWatermark : offset;
    if (target < 0 || target > log.highWatermark)
      return {
        ...fail(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${offset} is above the high watermark ${log.highWatermark}`),
        lowWatermark: -1,
      };
    try {
      return { ...OK, lowWatermark: await log.deleteRecordsBefore(target) };
    } catch (error) {
      return { ...storageFailure(error), lowWatermark: -1 };
    }
  }

  /** OffsetForLeaderEpoch: the end offset of the largest epoch ≤ the one asked for. */
  endOffsetForEpoch(
    topic: string,
    partition: number,
    leaderEpoch: number,
  ): Failure & { leaderEpoch: number; endOffset: number } {
    const log = this.partitions.get(topic, partition);
    if (!log)
      return {
        ...fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'This server does not host this topic-partition.'),
        leaderEpoch: -1,
        endOffset: -1,
      };
    return { ...OK, ...endOffsetForEpoch(log, leaderEpoch) };
  }

  // ── producers ─────────────────────────────────────────────────────────────────────────────

  /**
   * InitProducerId. Without a transactional id: always a new producer id with epoch 0, as Kafka does —
   * the producer id and epoch a client may send (v3+) are only used to bump the epoch of a
   * transactional producer. (Reusing them here would let two clients that both send id 0 share a
   * producer id, and the second one's batches would be answered as duplicates of the first one's
   * without being stored.) With one: the transaction coordinator (new id, or epoch bump that fences
   * the previous instance and aborts its open transaction).
   */
  async initProducerId(
    transactionalId: string | null,
    transactionTimeoutMs: number,
    producerId: number,
    producerEpoch: number,
  ): Promise<Failure & { producerId: number; producerEpoch: number }> {
    if (transactionalId !== null)
      return this.transactions.initProducerId(transactionalId, transactionTimeoutMs, producerId, producerEpoch);
    try {
      return { ...OK, producerId: await this.producerIds.next(), producerEpoch: 0 };
    } catch (error) {
      // The next block of ids could not be reserved on disk (producer-ids.ts): no id is handed out.
      return { ...diskFailure(error), producerId: -1, producerEpoch: -1 };
    }
  }

  // ── transactions ──────────────────────────────────────────────────────────────────────────

  /** The transaction coordinator's TransactionMarkerWriter (service-adapters.ts), through the broker so a
   *  test can make markers fail. */
  writeTransactionMarker(
    topic: string,
    partition: number,
    producerId: number,
    producerEpoch: number,
    commit: boolean,
  ): Promise<void> {
    return this.markers.writeTransactionMarker(topic, partition, producerId, producerEpoch, commit);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

const EMPTY = Buffer.alloc(0);

export function endOffsetForEpoch(log: PartitionLog, leaderEpoch: number): { leaderEpoch: number; endOffset: number } {
  const entries = log.leaderEpochEntries;
  let found = -1;
  for (let i = 0; i < entries.length; i++) if (entries[i]!.epoch <= leaderEpoch) found = i;
  if (found < 0) return { leaderEpoch: -1, endOffset: -1 };
  const next = entries[found + 1];
  return { leaderEpoch: entries[found]!.epoch, endOffset: next ? next.startOffset : log.logEndOffset };
}
