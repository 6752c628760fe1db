// The single-node broker, wired: the data directory, its topics and partitions, the produce and fetch
// pipelines, the topic admin and the services (groups, transactions, half messages). No sockets:
// server/handlers translate Kafka requests into these calls and the results back. Each method here is a
// one-line facade over the part that does the work:
//
//   | part                          | does                                                      |
//   |-------------------------------|-----------------------------------------------------------|
//   | PartitionSet, Partition       | open/recover/delete partitions; high watermark, LSO, parked fetches |
//   | ProducePipeline (produce/)    | a produced batch from the request to the log               |
//   | FetchService (fetch/)         | reads across partitions, long-poll                         |
//   | TopicAdmin                    | create/delete topics, partitions, configs                  |
//   | offset-lookup.ts              | ListOffsets                                                |
//   | groups/, transactions/, half-messages/ | the services, each given narrow interfaces (services.ts) |
//
// Errors a client caused come back as Kafka error codes per topic/partition (failures.ts); errors of
// the environment (disk) come from storage as StorageError and are answered with their code for that
// partition; anything else is our bug and propagates.
import { StorageError } from '../storage/errors.js';
import type { StorageLogger } from '../storage/logger.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import type { BrokerConfig } from './config.js';
import { lockDataDir, loadIdentity, type BrokerIdentity } from './data-dir.js';
import { diskFailure, OK, storageFailure, UNKNOWN_PARTITION } from './failures.js';
import { FetchService, type FetchLimits } from './fetch/fetch-service.js';
import type { FetchPartitionRequest, FetchPartitionResult } from './fetch/partition-read.js';
import { GroupCoordinator } from './groups/coordinator.js';
import { groupSettingsFrom, type GroupSettings } from './groups/limits.js';
import { halfMessageSettingsFrom, HalfMessageService } from './half-messages/service.js';
import { silentLogger, type Logger } from './logger.js';
import { LocalMetadataView } from './metadata/local-view.js';
import type { MetadataView } from './metadata/view.js';
import { lookUpOffset, type FetchableLimit, type OffsetAnswer } from './offset-lookup.js';
import { PartitionHooks } from './partition/hooks.js';
import { PartitionSet } from './partition-set.js';
import { ProducePipeline, type ProduceRequestFacts, type ProduceResult } from './produce/pipeline.js';
import { ProducerIdAllocator } from './producer-ids.js';
import { MarkerNotCommittedError, PartitionMarkerWriter, ServicePartitions } from './service-adapters.js';
import type { Failure, OffsetCommitRequest, PartitionErrors, TransactionMarkerWriter } from './services.js';
import { TopicAdmin } from './topic-admin.js';
import { isInternalTopic, isReplicatedInternalTopic } from './topic-names.js';

/** In a cluster: a topic the controller places and the brokers replicate (every topic but Sluice's own
 *  `__sluice_*` ones, which stay with one broker for now). */
const replicated = (name: string) => !isInternalTopic(name) || isReplicatedInternalTopic(name);
import { ErrorCode } from '../protocol/generated/error-codes.js';
import { TopicRegistry, type Topic } from './topic-registry.js';
import { TransactionCoordinator, transactionSettingsFrom } from './transactions/coordinator.js';

export type { Failure } from './services.js';
export type { ProduceRequestFacts, ProduceResult } from './produce/pipeline.js';
export type { FetchPartitionRequest, FetchPartitionResult, IsolationLevel } from './fetch/partition-read.js';
export { READ_COMMITTED } from './fetch/partition-read.js';

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

/**
 * Where topic changes are decided. One node decides them itself (TopicAdmin); in a cluster the
 * controller does (src/cluster/topic-requests.ts), and the broker's own internal topics stay local.
 */
export interface TopicRequests {
  createTopic(
    name: string,
    partitions: number,
    replicationFactor: number,
    configs: Record<string, string>,
    validateOnly: boolean,
  ): Promise<Failure & { topic?: Topic }>;
  deleteTopic(name: string): Promise<Failure & { topicId?: Buffer }>;
  createPartitions(name: string, count: number, validateOnly: boolean): Promise<Failure>;
}

export interface BrokerOptions {
  logger?: Logger;
  clock?: Clock;
  /** Where partitions are led (metadata/view.ts); default: this node leads every one (LocalMetadataView). */
  metadata?: (broker: Broker) => MetadataView;
  /** Blocks of producer ids unique across brokers (a cluster); default: this data directory's file. */
  reserveProducerIds?: (size: number) => Promise<number>;
  /** Who decides topic changes; default: this broker (one node). With it, topics other than the
   *  broker's own open as followers until the cluster says which this broker leads. */
  topicRequests?: TopicRequests;
  /** Where the transaction coordinator's markers go, given the writer for partitions led here; default:
   *  that writer (one node leads every partition). A cluster sends the others' with WriteTxnMarkers. */
  markers?: (local: TransactionMarkerWriter) => TransactionMarkerWriter;
}

export class Broker {
  private closed = false;
  /** The classic group coordinator (groups/): loaded from `__consumer_offsets` in open(), stopped in close(). */
  groups!: GroupCoordinator;
  /** The transaction coordinator (transactions/): loaded from `__transaction_state` in open(), after the
   *  groups. */
  transactions!: TransactionCoordinator;
  /** Half messages with check-back (half-messages/): rebuilt from `__sluice_half`/`__sluice_half_op` in
   *  open(), after the transactions. */
  halfMessages!: HalfMessageService;
  /** The pipelines' hook points: a broker-side feature adds its hooks here at start (partition/hooks.ts). */
  readonly hooks: PartitionHooks;
  /** The partitions as the services see them (service-adapters.ts), handed to each at open. With
   *  `groupSettings` and `logger` the broker is also a GroupDependencies: a test opens a second group
   *  coordinator on a running broker so. */
  readonly internalTopics: ServicePartitions;
  /** Read at open: a bad value stops it. */
  readonly groupSettings: GroupSettings;
  readonly topicAdmin: TopicAdmin;
  /** Placement — brokers, and per partition its leader, replicas, ISR and epoch — for the handlers. */
  metadata!: MetadataView;
  private readonly producePipeline: ProducePipeline;
  private readonly fetchService: FetchService;
  private readonly markers: PartitionMarkerWriter;
  /** The coordinator's markers: to `markers` here, or in a cluster to the partition's leader. */
  private markerRoute: TransactionMarkerWriter;
  private maintenance: NodeJS.Timeout | null = null;
  private topicRequests: TopicRequests | null = null;

  private constructor(
    readonly config: BrokerConfig,
    readonly identity: BrokerIdentity,
    readonly topics: TopicRegistry,
    readonly partitions: PartitionSet,
    readonly logger: Logger,
    readonly clock: Clock,
    hooks: PartitionHooks,
    private readonly producerIds: ProducerIdAllocator,
    private readonly releaseLock: () => Promise<void>,
  ) {
    this.hooks = hooks;
    this.topicAdmin = new TopicAdmin({
      config,
      topics,
      partitions,
      logger,
      topicDeleted: (name) => this.groups.forgetTopic(name),
    });
    this.internalTopics = new ServicePartitions(
      partitions,
      topics,
      (name, count, configs) => this.createTopic(name, count, configs),
      () => this.metadata as MetadataView | undefined,
    );
    this.groupSettings = groupSettingsFrom(config.properties);
    this.markers = new PartitionMarkerWriter(partitions, clock);
    this.markerRoute = this.markers;
    this.producePipeline = new ProducePipeline({
      topics,
      partitions,
      brokerProperties: config.properties,
      transactions: () => this.transactions,
      hooks,
      clock,
    });
    this.fetchService = new FetchService(partitions, config, clock, () => this.closed);
  }

  /** Locks the data directory, loads identity and topics, and opens (recovering) every partition. */
  static async open(config: BrokerConfig, options: BrokerOptions = {}): Promise<Broker> {
    const logger = options.logger ?? silentLogger;
    const clock = options.clock ?? systemClock;
    const lock = await lockDataDir(config.dataDir);
    try {
      const identity = await loadIdentity(config.dataDir, config.nodeId);
      const topics = await TopicRegistry.open(config.dataDir);
      const hooks = new PartitionHooks();
      const partitions = new PartitionSet(config.dataDir, storageLoggerFrom(logger), {
        producerIdExpirationMs: config.producerIdExpirationMs,
        logger,
        clock,
        hooks,
        ...(options.topicRequests
          ? { initialRole: (topic: string) => (replicated(topic) ? 'follower' : 'leader') }
          : {}),
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
        clock,
        hooks,
        await ProducerIdAllocator.open(
          config.dataDir,
          options.reserveProducerIds ? { reserveBlock: options.reserveProducerIds } : {},
        ),
        () => lock.release(),
      );
      broker.topicRequests = options.topicRequests ?? null;
      if (options.markers) broker.markerRoute = options.markers(broker.markers);
      broker.metadata = options.metadata
        ? options.metadata(broker)
        : new LocalMetadataView(identity.clusterId, identity.nodeId, config, partitions);
      for (const topic of topics.all())
        await partitions.open(topic.name, topic.id, 0, topic.partitions, broker.logConfigOf(topic));
      await broker.openServices();
      broker.maintenance = setInterval(
        () => void partitions.maintainProducers(clock.now()),
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

  /** Each service gets the narrow interfaces it uses (services.ts), never the broker. */
  private async openServices(): Promise<void> {
    const { logger, internalTopics } = this;
    this.groups = await GroupCoordinator.open({ logger, internalTopics, groupSettings: this.groupSettings });
    this.transactions = await TransactionCoordinator.open({
      logger,
      internalTopics,
      partitions: internalTopics,
      markers: { writeTransactionMarker: (...marker) => this.writeTransactionMarker(...marker) },
      producerIds: { nextProducerId: () => this.producerIds.next() },
      offsets: this.groups.transactionalOffsets,
      transactionSettings: transactionSettingsFrom(this.config),
    });
    this.halfMessages = await HalfMessageService.open({
      logger,
      partitions: internalTopics,
      appends: internalTopics,
      producer: { produce: (topic, partition, batch) => this.produce(topic, partition, batch) },
      halfMessageSettings: halfMessageSettingsFrom(this.config),
    });
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

  get isClosed(): boolean {
    return this.closed;
  }

  // ── topics (topic-admin.ts) ─────────────────────────────────────────────────────────────────

  logConfigOf(topic: Topic) {
    return this.topicAdmin.logConfigOf(topic);
  }

  /** Creates a topic (or only checks that it could be, with `validateOnly`). `replicationFactor` -1:
   *  the default; one node has one replica of everything. */
  createTopic(
    name: string,
    partitions: number,
    configs: Record<string, string>,
    validateOnly = false,
    replicationFactor = -1,
  ): Promise<Failure & { topic?: Topic }> {
    if (this.topicRequests !== null && replicated(name))
      return this.topicRequests.createTopic(name, partitions, replicationFactor, configs, validateOnly);
    if (replicationFactor !== -1 && replicationFactor !== 1)
      return Promise.resolve({
        errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
        errorMessage:
          replicationFactor > 1
            ? `Replication factor: ${replicationFactor} larger than available brokers: 1.`
            : `Replication factor must be larger than 0, got ${replicationFactor}.`,
      });
    return this.topicAdmin.createTopic(name, partitions, configs, validateOnly);
  }

  /** The topic for a Metadata request, creating it when allowed. */
  async topicForMetadata(name: string, allowAutoCreate: boolean): Promise<Failure & { topic?: Topic }> {
    if (this.topicRequests === null || isInternalTopic(name) || this.topics.get(name) !== undefined)
      return this.topicAdmin.topicForMetadata(name, allowAutoCreate);
    if (!allowAutoCreate || !this.config.autoCreateTopics) return this.topicAdmin.topicForMetadata(name, false);
    const created = await this.createTopic(name, this.config.numPartitions, {});
    if (created.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS && this.topics.get(name))
      return { ...OK, topic: this.topics.get(name)! };
    return created;
  }

  deleteTopic(name: string) {
    if (this.topicRequests !== null && replicated(name)) return this.topicRequests.deleteTopic(name);
    return this.topicAdmin.deleteTopic(name);
  }

  createPartitions(name: string, count: number, validateOnly: boolean): Promise<Failure> {
    if (this.topicRequests !== null && replicated(name))
      return this.topicRequests.createPartitions(name, count, validateOnly);
    return this.topicAdmin.createPartitions(name, count, validateOnly);
  }

  /** Leadership of partitions may have moved (the cluster's replica manager, after each pass): the
   *  coordinators load the partitions of their topics led here and drop the others. */
  leadershipChanged(): void {
    this.groups?.leadershipChanged();
    this.transactions?.leadershipChanged();
  }

  alterTopicConfigs(name: string, overrides: Record<string, string>, validateOnly: boolean): Promise<Failure> {
    return this.topicAdmin.alterTopicConfigs(name, overrides, validateOnly);
  }

  topicConfigs(name: string) {
    return this.topicAdmin.topicConfigs(name);
  }

  // ── produce and fetch (produce/pipeline.ts, fetch/) ─────────────────────────────────────────

  /** Appends one produced batch; resolves when it is as durable as the flush policy promises. */
  produce(
    topic: string,
    partition: number,
    batch: Buffer | null,
    request?: ProduceRequestFacts,
  ): Promise<ProduceResult> {
    return this.producePipeline.produce(topic, partition, batch, request);
  }

  /** Reads every requested partition, waiting up to `maxWaitMs` for `minBytes` (fetch/fetch-service.ts). */
  fetch(
    requests: readonly FetchPartitionRequest[],
    limits: FetchLimits,
    signal?: AbortSignal,
  ): Promise<FetchPartitionResult[]> {
    return this.fetchService.fetch(requests, limits, signal);
  }

  // ── offsets ─────────────────────────────────────────────────────────────────────────────────

  /** ListOffsets for one partition: a special timestamp (-1 latest, -2 earliest, -3 max timestamp, …)
   *  or the first record at or after a time; answers as Kafka's (offset-lookup.ts). */
  async listOffset(topic: string, partition: number, timestamp: bigint, limit: FetchableLimit): Promise<OffsetAnswer> {
    const found = this.partitions.get(topic, partition);
    if (!found) return { ...UNKNOWN_PARTITION, offset: -1, timestamp: -1, leaderEpoch: -1 };
    return lookUpOffset(found, timestamp, limit);
  }

  /** DeleteRecords: offset -1 means the high watermark. Returns the new low watermark. */
  async deleteRecords(topic: string, partition: number, offset: number): Promise<Failure & { lowWatermark: number }> {
    const found = this.partitions.get(topic, partition);
    if (!found) return { ...UNKNOWN_PARTITION, lowWatermark: -1 };
    try {
      return await found.deleteRecordsBefore(offset);
    } catch (error) {
      return { ...storageFailure(error), lowWatermark: -1 };
    }
  }

  /** OffsetForLeaderEpoch: the end offset of the largest epoch ≤ the one asked for. */
  endOffsetForEpoch(topic: string, partition: number, leaderEpoch: number) {
    const found = this.partitions.get(topic, partition);
    if (!found) return { ...UNKNOWN_PARTITION, leaderEpoch: -1, endOffset: -1 };
    return { ...OK, ...found.endOffsetForEpoch(leaderEpoch) };
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
    stillWanted?: () => boolean,
  ): Promise<void> {
    return this.markerRoute.writeTransactionMarker(topic, partition, producerId, producerEpoch, commit, stillWanted);
  }

  /**
   * TxnOffsetCommit, at the group's coordinator. When this broker also coordinates the transactional id,
   * the transaction is checked (the group's partition must be in it). When another broker does (a
   * cluster), as Kafka's group coordinator: the producer's epoch must not be older than the one the
   * group's offsets partition has seen; the coordinator's marker decides the offsets later.
   */
  async commitTransactionalOffsets(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    request: OffsetCommitRequest,
  ): Promise<PartitionErrors[]> {
    if (this.transactions.coordinates(transactionalId))
      return this.transactions.commitOffsets(transactionalId, producerId, producerEpoch, request);
    const offsets = this.groups.transactionalOffsets;
    const all = (errorCode: number) =>
      request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode })),
      }));
    let partition: number;
    try {
      partition = await offsets.partitionOf(request.groupId);
    } catch {
      return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
    const seen = this.partitions.get(offsets.topic, partition)?.producers.entry(producerId);
    if (seen !== undefined && producerEpoch < seen.producerEpoch) return all(ErrorCode.INVALID_PRODUCER_EPOCH);
    return offsets.prepare(
      request,
      { producerId, producerEpoch },
      (topic, p) => this.partitions.get(topic, p) !== undefined,
    );
  }

  /**
   * WriteTxnMarkers from another broker's transaction coordinator: the marker goes to this partition
   * if this broker leads it, and a marker in `__consumer_offsets` decides the group's transactional
   * offsets held here. Resolves with the partition's error code once the marker is committed.
   */
  async writeMarkerFromCoordinator(
    topic: string,
    partition: number,
    producerId: number,
    producerEpoch: number,
    commit: boolean,
  ): Promise<number> {
    const placement = this.metadata.placement(topic, partition);
    if (placement === undefined || this.partitions.get(topic, partition) === undefined)
      return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    if (placement.leaderId !== this.metadata.localNodeId) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    try {
      await this.markers.writeTransactionMarker(topic, partition, producerId, producerEpoch, commit);
    } catch (error) {
      this.logger.warn(
        { component: 'transactions', topic, partition, producerId, error: String(error) },
        'transaction marker from a coordinator not written',
      );
      return error instanceof StorageError || error instanceof MarkerNotCommittedError
        ? error.kafkaCode
        : ErrorCode.KAFKA_STORAGE_ERROR;
    }
    if (topic === this.groups.transactionalOffsets.topic)
      this.groups.transactionalOffsets.complete(producerId, partition, commit);
    return ErrorCode.NONE;
  }
}
