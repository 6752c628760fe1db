// Admin: topics, configs, offsets, records, groups and the cluster — thin typed wrappers over the
// Kafka admin APIs. Every call throws KafkaError for the first failed item, naming it.
import { ApiKey } from '../protocol/generated/index.js';
import type { CreateTopicsResponse } from '../protocol/generated/create-topics.js';
import type { DeleteTopicsResponse } from '../protocol/generated/delete-topics.js';
import type { CreatePartitionsResponse } from '../protocol/generated/create-partitions.js';
import type { DescribeConfigsResponse } from '../protocol/generated/describe-configs.js';
import type { IncrementalAlterConfigsResponse } from '../protocol/generated/incremental-alter-configs.js';
import type { DeleteRecordsResponse } from '../protocol/generated/delete-records.js';
import type { DescribeClusterResponse } from '../protocol/generated/describe-cluster.js';
import type { ListGroupsResponse } from '../protocol/generated/list-groups.js';
import type { DescribeGroupsResponse } from '../protocol/generated/describe-groups.js';
import type { DeleteGroupsResponse } from '../protocol/generated/delete-groups.js';
import type { OffsetFetchResponse } from '../protocol/generated/offset-fetch.js';
import type { OffsetCommitResponse } from '../protocol/generated/offset-commit.js';
import { ErrorCode } from '../protocol/generated/error-codes.js';
import { Cluster, type ClusterOptions, type TopicInfo } from './cluster.js';
import { ClientOptionError, KafkaError, throwIfError } from './errors.js';
import { listOffsets, type OffsetSpec, type PartitionOffset } from './offsets.js';

export type AdminOptions = ClusterOptions;

export interface NewTopic {
  name: string;
  /** Default: the broker's num.partitions. */
  partitions?: number;
  /** Default: the broker's default.replication.factor. */
  replicationFactor?: number;
  configs?: Record<string, string>;
}

export type ConfigResourceType = 'topic' | 'broker';
const resourceTypeCodes: Record<ConfigResourceType, number> = { topic: 2, broker: 4 };

export interface ConfigEntry {
  value: string | null;
  readOnly: boolean;
  isDefault: boolean;
  isSensitive: boolean;
}

export interface GroupDescription {
  groupId: string;
  state: string;
  protocolType: string;
  protocol: string;
  members: Array<{ memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string }>;
}

export class Admin {
  readonly cluster: Cluster;
  private connected: Promise<void> | undefined;

  constructor(options: AdminOptions = {}) {
    this.cluster = new Cluster({ allowAutoTopicCreation: false, ...options });
  }

  async connect(): Promise<void> {
    this.connected ??= this.cluster.connect();
    try {
      await this.connected;
    } catch (error) {
      this.connected = undefined;
      throw error;
    }
  }

  private async controller(): Promise<number> {
    await this.connect();
    return this.cluster.controllerId;
  }

  /** Creates topics; with `ignoreExisting`, a topic that already exists is not an error. */
  async createTopics(
    topics: NewTopic[],
    options: { validateOnly?: boolean; timeoutMs?: number; ignoreExisting?: boolean } = {},
  ): Promise<void> {
    for (const topic of topics) if (!topic.name) throw new ClientOptionError('every topic needs a name');
    const body = {
      topics: topics.map((t) => ({
        name: t.name,
        numPartitions: t.partitions ?? -1,
        replicationFactor: t.replicationFactor ?? -1,
        assignments: [],
        configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
      timeoutMs: options.timeoutMs ?? 30_000,
      validateOnly: options.validateOnly ?? false,
    };
    const response = await this.cluster.request<CreateTopicsResponse>(
      await this.controller(),
      ApiKey.CreateTopics,
      body,
    );
    for (const result of response.topics) {
      if (result.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS && options.ignoreExisting) continue;
      throwIfError(result.errorCode, result.errorMessage, `create topic "${result.name}"`);
    }
    await this.cluster.refreshMetadata().catch(() => undefined);
  }

  async deleteTopics(names: string[], options: { timeoutMs?: number } = {}): Promise<void> {
    const body = { topicNames: names, topics: names.map((name) => ({ name })), timeoutMs: options.timeoutMs ?? 30_000 };
    const response = await this.cluster.request<DeleteTopicsResponse>(
      await this.controller(),
      ApiKey.DeleteTopics,
      body,
    );
    for (const result of response.responses)
      throwIfError(result.errorCode, result.errorMessage, `delete topic "${result.name}"`);
    for (const name of names) this.cluster.topics.delete(name);
  }

  /** Names of all topics; internal ones (like __consumer_offsets) only when asked. */
  async listTopics(options: { includeInternal?: boolean } = {}): Promise<string[]> {
    await this.connect();
    const topics = await this.cluster.fetchAllTopics();
    return topics
      .filter((t) => options.includeInternal || !t.isInternal)
      .map((t) => t.name)
      .sort();
  }

  async describeTopics(names: string[]): Promise<TopicInfo[]> {
    await this.connect();
    const out: TopicInfo[] = [];
    for (const name of names) out.push(await this.cluster.topic(name));
    return out;
  }

  /** Grows a topic to `count` partitions in total. */
  async createPartitions(
    topic: string,
    count: number,
    options: { validateOnly?: boolean; timeoutMs?: number } = {},
  ): Promise<void> {
    const body = {
      topics: [{ name: topic, count, assignments: null }],
      timeoutMs: options.timeoutMs ?? 30_000,
      validateOnly: options.validateOnly ?? false,
    };
    const response = await this.cluster.request<CreatePartitionsResponse>(
      await this.controller(),
      ApiKey.CreatePartitions,
      body,
    );
    for (const result of response.results)
      throwIfError(result.errorCode, result.errorMessage, `create partitions of "${result.name}"`);
    await this.cluster.refreshMetadata([topic]);
  }

  /** The configs of a topic or broker (all of them, or just `keys`). */
  async describeConfigs(type: ConfigResourceType, name: string, keys?: string[]): Promise<Record<string, ConfigEntry>> {
    await this.connect();
    const body = {
      resources: [{ resourceType: resourceTypeCodes[type], resourceName: name, configurationKeys: keys ?? null }],
      includeSynonyms: false,
      includeDocumentation: false,
    };
    const nodeId = type === 'broker' && /^\d+$/.test(name) ? Number(name) : -1;
    const response = await this.cluster.request<DescribeConfigsResponse>(nodeId, ApiKey.DescribeConfigs, body);
    const result = response.results[0]!;
    throwIfError(result.errorCode, result.errorMessage, `describe configs of ${type} "${name}"`);
    const out: Record<string, ConfigEntry> = {};
    // configSource 5 = DEFAULT_CONFIG (DescribeConfigs v1+).
    for (const c of result.configs)
      out[c.name] = {
        value: c.value,
        readOnly: c.readOnly,
        isDefault: c.configSource === 5,
        isSensitive: c.isSensitive,
      };
    return out;
  }

  /** Sets configs (a null value removes the override), leaving the others as they are. */
  async alterConfigs(
    type: ConfigResourceType,
    name: string,
    configs: Record<string, string | null>,
    options: { validateOnly?: boolean } = {},
  ): Promise<void> {
    await this.connect();
    const body = {
      resources: [
        {
          resourceType: resourceTypeCodes[type],
          resourceName: name,
          configs: Object.entries(configs).map(([key, value]) => ({
            name: key,
            configOperation: value === null ? 1 : 0,
            value,
          })),
        },
      ],
      validateOnly: options.validateOnly ?? false,
    };
    const nodeId = type === 'broker' && /^\d+$/.test(name) ? Number(name) : -1;
    const response = await this.cluster.request<IncrementalAlterConfigsResponse>(
      nodeId,
      ApiKey.IncrementalAlterConfigs,
      body,
    );
    for (const r of response.responses) throwIfError(r.errorCode, r.errorMessage, `alter configs of ${type} "${name}"`);
  }

  /** Per partition of `topic`: the offset at the start, the end, or the first message at/after a time (ms). */
  async listOffsets(
    topic: string,
    spec: OffsetSpec,
    options: { isolationLevel?: 'read_committed' | 'read_uncommitted' } = {},
  ): Promise<PartitionOffset[]> {
    await this.connect();
    const info = await this.cluster.topic(topic);
    return listOffsets(
      this.cluster,
      info.partitions.map((p) => ({ topic, partition: p.partition })),
      spec,
      options.isolationLevel === 'read_uncommitted' ? 0 : 1,
    );
  }

  /** Deletes the records before `offset` in each given partition; returns the new log start offsets. */
  async deleteRecords(
    topic: string,
    partitions: Array<{ partition: number; offset: bigint }>,
    options: { timeoutMs?: number } = {},
  ): Promise<Array<{ partition: number; lowWatermark: bigint }>> {
    await this.connect();
    await this.cluster.topic(topic);
    const byLeader = new Map<number, Array<{ partitionIndex: number; offset: bigint }>>();
    for (const { partition, offset } of partitions) {
      const leader = this.cluster.leaderOf(topic, partition);
      if (leader === undefined)
        throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null, `${topic}/${partition}`);
      let list = byLeader.get(leader);
      if (!list) byLeader.set(leader, (list = []));
      list.push({ partitionIndex: partition, offset });
    }
    const out: Array<{ partition: number; lowWatermark: bigint }> = [];
    for (const [leader, list] of byLeader) {
      const response = await this.cluster.request<DeleteRecordsResponse>(leader, ApiKey.DeleteRecords, {
        topics: [{ name: topic, partitions: list }],
        timeoutMs: options.timeoutMs ?? 30_000,
      });
      for (const p of response.topics[0]!.partitions) {
        throwIfError(p.errorCode, null, `delete records of ${topic}/${p.partitionIndex}`);
        out.push({ partition: p.partitionIndex, lowWatermark: p.lowWatermark });
      }
    }
    return out.sort((a, b) => a.partition - b.partition);
  }

  async describeCluster(): Promise<{
    clusterId: string;
    controllerId: number;
    brokers: Array<{ nodeId: number; host: string; port: number; rack: string | null }>;
  }> {
    await this.connect();
    const response = await this.cluster.request<DescribeClusterResponse>(-1, ApiKey.DescribeCluster, {
      includeClusterAuthorizedOperations: false,
    });
    throwIfError(response.errorCode, response.errorMessage, 'DescribeCluster');
    return {
      clusterId: response.clusterId,
      controllerId: response.controllerId,
      brokers: response.brokers.map((b) => ({ nodeId: b.brokerId, host: b.host, port: b.port, rack: b.rack })),
    };
  }

  /** Consumer groups known to the brokers. */
  async listGroups(): Promise<Array<{ groupId: string; protocolType: string; state: string }>> {
    await this.connect();
    const out: Array<{ groupId: string; protocolType: string; state: string }> = [];
    for (const nodeId of this.cluster.brokers.keys()) {
      const response = await this.cluster.request<ListGroupsResponse>(nodeId, ApiKey.ListGroups, {});
      throwIfError(response.errorCode, null, 'ListGroups');
      for (const g of response.groups)
        out.push({ groupId: g.groupId, protocolType: g.protocolType, state: g.groupState });
    }
    return out.sort((a, b) => (a.groupId < b.groupId ? -1 : 1));
  }

  async describeGroups(groupIds: string[]): Promise<GroupDescription[]> {
    await this.connect();
    const out: GroupDescription[] = [];
    for (const groupId of groupIds) {
      const response = await this.cluster.coordinatorRequest<DescribeGroupsResponse>(
        groupId,
        ApiKey.DescribeGroups,
        { groups: [groupId] },
        (r) => throwIfError(r.groups[0]!.errorCode, r.groups[0]!.errorMessage, `describe group "${groupId}"`),
      );
      const g = response.groups[0]!;
      out.push({
        groupId: g.groupId,
        state: g.groupState,
        protocolType: g.protocolType,
        protocol: g.protocolData,
        members: g.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
        })),
      });
    }
    return out;
  }

  async deleteGroups(groupIds: string[]): Promise<void> {
    await this.connect();
    for (const groupId of groupIds) {
      await this.cluster.coordinatorRequest<DeleteGroupsResponse>(
        groupId,
        ApiKey.DeleteGroups,
        { groupsNames: [groupId] },
        (r) => throwIfError(r.results[0]!.errorCode, null, `delete group "${groupId}"`),
      );
    }
  }

  /** Committed offsets of a group (all its topics, or `topics`). -1n means none committed. */
  async fetchOffsets(
    groupId: string,
    topics?: string[],
  ): Promise<Array<{ topic: string; partition: number; offset: bigint; metadata: string | null }>> {
    await this.connect();
    let request: Array<{ name: string; partitionIndexes: number[] }> | null = null;
    if (topics) {
      request = [];
      for (const name of topics)
        request.push({ name, partitionIndexes: (await this.cluster.topic(name)).partitions.map((p) => p.partition) });
    }
    const response = await this.cluster.coordinatorRequest<OffsetFetchResponse>(
      groupId,
      ApiKey.OffsetFetch,
      { groupId, topics: request, requireStable: true },
      (r) => throwIfError(r.errorCode, null, `fetch offsets of group "${groupId}"`),
    );
    const out: Array<{ topic: string; partition: number; offset: bigint; metadata: string | null }> = [];
    for (const t of response.topics) {
      for (const p of t.partitions) {
        throwIfError(p.errorCode, null, `offset of group "${groupId}" on ${t.name}/${p.partitionIndex}`);
        out.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.metadata });
      }
    }
    return out;
  }

  /**
   * Sets a group's committed offsets (the group must have no active members): to explicit offsets,
   * or to 'earliest' / 'latest' / a timestamp for every partition of `topic`.
   */
  async resetOffsets(
    groupId: string,
    topic: string,
    to: OffsetSpec | Array<{ partition: number; offset: bigint }>,
  ): Promise<Array<{ partition: number; offset: bigint }>> {
    const targets = Array.isArray(to)
      ? to
      : (await this.listOffsets(topic, to)).map((p) => ({ partition: p.partition, offset: p.offset }));
    if (!Array.isArray(to)) {
      // A timestamp after the last message has no offset: such partitions go to the end.
      const ends = await this.listOffsets(topic, 'latest');
      for (const target of targets)
        if (target.offset < 0n) target.offset = ends.find((e) => e.partition === target.partition)!.offset;
    }
    const body = {
      groupId,
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [
        {
          name: topic,
          partitions: targets.map((t) => ({
            partitionIndex: t.partition,
            committedOffset: t.offset,
            committedLeaderEpoch: -1,
            committedMetadata: null,
          })),
        },
      ],
    };
    await this.cluster.coordinatorRequest<OffsetCommitResponse>(groupId, ApiKey.OffsetCommit, body, (r) => {
      for (const t of r.topics)
        for (const p of t.partitions)
          throwIfError(p.errorCode, null, `reset offset of group "${groupId}" on ${t.name}/${p.partitionIndex}`);
    });
    return targets;
  }

  async close(): Promise<void> {
    await this.cluster.close();
  }
}
