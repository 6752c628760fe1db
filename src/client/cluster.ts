// What the client knows about the cluster: brokers, topics, partition leaders — from Metadata —
// and one connection per broker.
//
// Metadata is fetched on start from the first reachable bootstrap broker, again whenever a caller
// reports a stale view (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, a lost connection: see
// `invalidate`), and every `metadataMaxAgeMs` so new partitions and moved leaders are noticed.
// Concurrent refreshes share one request.
import { ApiKey } from '../protocol/generated/index.js';
import type { MetadataResponse } from '../protocol/generated/metadata.js';
import type { FindCoordinatorResponse } from '../protocol/generated/find-coordinator.js';
import { ErrorCode } from '../protocol/generated/error-codes.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { backoffDelayMs, sleep } from './backoff.js';
import { Connection, type RequestOptions } from './connection.js';
import { ClientClosedError, ConnectionError, KafkaError, SluiceClientError } from './errors.js';
import { bootstrapOption, booleanOption, integerOption, stringOption } from './options.js';

export interface ClusterOptions {
  /** "host:port" or a list of them; default 127.0.0.1:9092. */
  bootstrap?: string | readonly string[];
  clientId?: string;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  maxInFlightRequests?: number;
  /** Refresh metadata at least this often (default 300 000, Kafka's metadata.max.age.ms). */
  metadataMaxAgeMs?: number;
  /** Ask the broker to create unknown topics named in Metadata requests (default true, as Kafka clients). */
  allowAutoTopicCreation?: boolean;
  /** How often a retriable failure is retried by the client itself (default 5). */
  retries?: number;
  /** First retry delay; doubles up to 1 s (default 100). */
  retryBackoffMs?: number;
  /** Where the client reads the time (default the system clock; tests pass a ManualClock). */
  clock?: Clock;
}

export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionInfo {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  errorCode: number;
}

export interface TopicInfo {
  name: string;
  topicId: Buffer;
  isInternal: boolean;
  /** Ordered by partition index. */
  partitions: PartitionInfo[];
}

export class Cluster {
  readonly clientId: string;
  readonly retries: number;
  readonly retryBackoffMs: number;
  readonly requestTimeoutMs: number;
  /** The one clock of this client: every part built on this cluster reads time through it. */
  readonly clock: Clock;
  private readonly bootstrap: Array<{ host: string; port: number }>;
  private readonly connectTimeoutMs: number;
  private readonly maxInFlightRequests: number;
  /** Metadata older than this is refreshed (the timer here; the group's checks, see group.ts). */
  readonly metadataMaxAgeMs: number;
  private readonly allowAutoTopicCreation: boolean;
  readonly brokers = new Map<number, BrokerInfo>();
  readonly topics = new Map<string, TopicInfo>();
  clusterId: string | null = null;
  controllerId = -1;
  /** Topics the users of this cluster care about; refreshes ask for these. */
  private readonly interesting = new Set<string>();
  private readonly connections = new Map<string, Promise<Connection>>();
  /** The same connections once open, by address, for callers that must not wait (openConnectionTo). */
  private readonly openConnections = new Map<string, Connection>();
  private refreshing: Promise<void> | undefined;
  private lastRefreshMs = 0;
  private refreshTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly coordinators = new Map<string, number>();

  constructor(options: ClusterOptions = {}) {
    this.bootstrap = bootstrapOption(options.bootstrap);
    this.clientId = stringOption('clientId', options.clientId, 'sluice');
    this.connectTimeoutMs = integerOption('connectTimeoutMs', options.connectTimeoutMs, 10_000, 1);
    this.requestTimeoutMs = integerOption('requestTimeoutMs', options.requestTimeoutMs, 30_000, 1);
    this.maxInFlightRequests = integerOption('maxInFlightRequests', options.maxInFlightRequests, 16, 1, 1024);
    this.metadataMaxAgeMs = integerOption('metadataMaxAgeMs', options.metadataMaxAgeMs, 300_000, 1);
    this.allowAutoTopicCreation = booleanOption('allowAutoTopicCreation', options.allowAutoTopicCreation, true);
    this.retries = integerOption('retries', options.retries, 5, 0, 1000);
    this.retryBackoffMs = integerOption('retryBackoffMs', options.retryBackoffMs, 100, 0);
    this.clock = options.clock ?? systemClock;
  }

  /** Fetches metadata from the first reachable bootstrap broker and starts the periodic refresh. */
  async connect(): Promise<void> {
    await this.refreshMetadata();
    if (!this.refreshTimer) {
      this.refreshTimer = setInterval(
        () => {
          if (this.clock.now() - this.lastRefreshMs >= this.metadataMaxAgeMs)
            this.refreshMetadata().catch(() => undefined);
        },
        Math.min(this.metadataMaxAgeMs, 60_000),
      );
      this.refreshTimer.unref();
    }
  }

  /** How old the metadata view is (Infinity before the first answer). */
  metadataAgeMs(): number {
    return this.lastRefreshMs === 0 ? Infinity : this.clock.now() - this.lastRefreshMs;
  }

  /** Adds topics to those kept in the metadata view. */
  addTopics(topics: Iterable<string>): void {
    for (const topic of topics) this.interesting.add(topic);
  }

  /** Refreshes metadata for the topics of interest (and `topics`). Concurrent calls share one request. */
  async refreshMetadata(topics: Iterable<string> = []): Promise<void> {
    this.addTopics(topics);
    if (this.refreshing) return this.refreshing;
    this.refreshing = this.fetchMetadata().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async fetchMetadata(): Promise<void> {
    const response = await this.withRetries('Metadata', async () => {
      const connection = await this.anyConnection();
      const topics = this.interesting.size === 0 ? [] : [...this.interesting].map((name) => ({ name }));
      return connection.request<MetadataResponse>(ApiKey.Metadata, {
        topics,
        allowAutoTopicCreation: this.allowAutoTopicCreation,
      });
    });
    this.applyMetadata(response);
  }

  /** Metadata of every topic in the cluster (not only the interesting ones); updates the view. */
  async fetchAllTopics(): Promise<TopicInfo[]> {
    const response = await this.withRetries('Metadata', async () => {
      const connection = await this.anyConnection();
      return connection.request<MetadataResponse>(ApiKey.Metadata, { topics: null, allowAutoTopicCreation: false });
    });
    this.applyMetadata(response);
    return response.topics
      .filter((topic) => topic.errorCode === 0 && topic.name !== null)
      .map((topic) => this.topics.get(topic.name!)!);
  }

  private applyMetadata(response: MetadataResponse): void {
    this.lastRefreshMs = this.clock.now();
    this.clusterId = response.clusterId;
    this.controllerId = response.controllerId;
    this.brokers.clear();
    for (const broker of response.brokers)
      this.brokers.set(broker.nodeId, {
        nodeId: broker.nodeId,
        host: broker.host,
        port: broker.port,
        rack: broker.rack,
      });
    for (const topic of response.topics) {
      if (topic.name === null) continue;
      if (topic.errorCode !== 0) {
        this.topics.delete(topic.name);
        continue;
      }
      const partitions = topic.partitions
        .map((p) => ({
          partition: p.partitionIndex,
          leader: p.leaderId,
          leaderEpoch: p.leaderEpoch,
          replicas: p.replicaNodes,
          isr: p.isrNodes,
          errorCode: p.errorCode,
        }))
        .sort((a, b) => a.partition - b.partition);
      this.topics.set(topic.name, {
        name: topic.name,
        topicId: topic.topicId,
        isInternal: topic.isInternal,
        partitions,
      });
    }
  }

  /** The topic's metadata when it is known and kept fresh already (topic() would answer it at once), else undefined. */
  knownTopic(name: string): TopicInfo | undefined {
    const known = this.topics.get(name);
    return known && this.interesting.has(name) ? known : undefined;
  }

  /**
   * The metadata of `topic`, fetching it when unknown. Throws KafkaError(UNKNOWN_TOPIC_OR_PARTITION)
   * when the topic does not exist (and is not auto-created) after the retries.
   */
  async topic(name: string): Promise<TopicInfo> {
    const known = this.knownTopic(name);
    if (known) return known;
    for (let attempt = 0; ; attempt++) {
      await this.refreshMetadata([name]);
      const topic = this.topics.get(name);
      if (topic && topic.partitions.length > 0 && topic.partitions.every((p) => p.leader >= 0)) return topic;
      if (attempt >= this.retries) {
        if (topic) return topic;
        throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${name}" does not exist`);
      }
      await sleep(backoffDelayMs({ initialMs: this.retryBackoffMs, maxMs: 1000 }, attempt + 1));
    }
  }

  /** Leader node of a partition, from the current view. */
  leaderOf(topic: string, partition: number): number | undefined {
    const info = this.topics.get(topic)?.partitions[partition];
    return info && info.leader >= 0 ? info.leader : undefined;
  }

  /** A connection to `nodeId`, opened on first use and kept; a closed one is replaced. */
  async connectionTo(nodeId: number): Promise<Connection> {
    const broker = this.brokers.get(nodeId);
    if (!broker) {
      await this.refreshMetadata();
      if (!this.brokers.has(nodeId)) throw new ConnectionError(`broker ${nodeId} is not in the cluster metadata`);
      return this.connectionTo(nodeId);
    }
    return this.connectionToAddress(broker.host, broker.port);
  }

  /**
   * The connection to `nodeId` when it is open already, else undefined (then use connectionTo). For
   * a caller that must not yield: the producer writes a full batch before returning to its caller.
   */
  openConnectionTo(nodeId: number): Connection | undefined {
    const broker = this.brokers.get(nodeId);
    return broker === undefined ? undefined : this.openConnections.get(`${broker.host}:${broker.port}`);
  }

  private connectionToAddress(host: string, port: number): Promise<Connection> {
    if (this.closed) return Promise.reject(new ClientClosedError('the client'));
    const key = `${host}:${port}`;
    const existing = this.connections.get(key);
    if (existing) return existing;
    const opening = Connection.connect({
      host,
      port,
      clientId: this.clientId,
      connectTimeoutMs: this.connectTimeoutMs,
      requestTimeoutMs: this.requestTimeoutMs,
      maxInFlightRequests: this.maxInFlightRequests,
    }).then(
      (connection) => {
        this.openConnections.set(key, connection);
        connection.onClose(() => {
          if (this.connections.get(key) === opening) this.connections.delete(key);
          if (this.openConnections.get(key) === connection) this.openConnections.delete(key);
        });
        if (this.closed) connection.close();
        return connection;
      },
      (error: unknown) => {
        this.connections.delete(key);
        throw error;
      },
    );
    this.connections.set(key, opening);
    return opening;
  }

  /** Any usable connection: an open one, else a known broker, else a bootstrap address. */
  async anyConnection(): Promise<Connection> {
    for (const opening of this.connections.values()) {
      const connection = await opening.catch(() => undefined);
      if (connection && !connection.closed) return connection;
    }
    const candidates = [...[...this.brokers.values()].map((b) => ({ host: b.host, port: b.port })), ...this.bootstrap];
    let lastError: unknown;
    for (const { host, port } of candidates) {
      try {
        return await this.connectionToAddress(host, port);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError instanceof Error ? lastError : new ConnectionError('no broker reachable');
  }

  /** Sends a request to a broker by node id (or any broker for -1). */
  async request<Response>(nodeId: number, apiKey: number, body: object, options?: RequestOptions): Promise<Response> {
    const connection = nodeId < 0 ? await this.anyConnection() : await this.connectionTo(nodeId);
    return connection.request<Response>(apiKey, body, options);
  }

  /**
   * Runs `attempt` until it succeeds, a non-retriable error is thrown, or the retries are spent.
   * Before each retry the metadata is refreshed when the error says the view is stale.
   */
  async withRetries<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    for (let tries = 0; ; tries++) {
      if (this.closed) throw new ClientClosedError('the client');
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof SluiceClientError) || !error.retriable || tries >= this.retries) throw error;
        await sleep(backoffDelayMs({ initialMs: this.retryBackoffMs, maxMs: 1000 }, tries + 1));
        if (what !== 'Metadata' && staleMetadata(error)) await this.refreshMetadata().catch(() => undefined);
      }
    }
  }

  /** The node id of the coordinator of a consumer group, found with FindCoordinator and cached. */
  async groupCoordinator(groupId: string, refresh = false): Promise<number> {
    const known = this.coordinators.get(groupId);
    if (known !== undefined && !refresh) return known;
    const response = await this.withRetries('FindCoordinator', async () => {
      const answer = await this.request<FindCoordinatorResponse>(-1, ApiKey.FindCoordinator, {
        key: groupId,
        keyType: 0,
      });
      if (answer.errorCode !== 0)
        throw new KafkaError(answer.errorCode, answer.errorMessage, `FindCoordinator for group "${groupId}"`);
      return answer;
    });
    if (!this.brokers.has(response.nodeId))
      this.brokers.set(response.nodeId, {
        nodeId: response.nodeId,
        host: response.host,
        port: response.port,
        rack: null,
      });
    this.coordinators.set(groupId, response.nodeId);
    return response.nodeId;
  }

  /**
   * Sends a request to the coordinator of `groupId`; `check` throws the response's error. A moved or
   * loading coordinator is looked up again and the request retried.
   */
  async coordinatorRequest<Response>(
    groupId: string,
    apiKey: number,
    body: object,
    check: (response: Response) => void = () => undefined,
    options?: RequestOptions,
  ): Promise<Response> {
    return this.withRetries('coordinator', async () => {
      const nodeId = await this.groupCoordinator(groupId);
      try {
        const response = await this.request<Response>(nodeId, apiKey, body, options);
        check(response);
        return response;
      } catch (error) {
        if (
          error instanceof ConnectionError ||
          (error instanceof KafkaError &&
            (error.code === ErrorCode.NOT_COORDINATOR || error.code === ErrorCode.COORDINATOR_NOT_AVAILABLE))
        ) {
          this.coordinators.delete(groupId);
        }
        throw error;
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    const openings = [...this.connections.values()];
    this.connections.clear();
    for (const opening of openings) {
      const connection = await opening.catch(() => undefined);
      connection?.close();
    }
  }
}

/** Errors after which the client's view of leaders and topics should be refreshed. */
export function staleMetadata(error: unknown): boolean {
  if (error instanceof ConnectionError) return true;
  if (!(error instanceof KafkaError)) return false;
  switch (error.code) {
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.LEADER_NOT_AVAILABLE:
    case ErrorCode.FENCED_LEADER_EPOCH:
    case ErrorCode.UNKNOWN_LEADER_EPOCH:
    case ErrorCode.BROKER_NOT_AVAILABLE:
    case ErrorCode.REPLICA_NOT_AVAILABLE:
    case ErrorCode.NOT_CONTROLLER:
      return true;
    default:
      return false;
  }
}
