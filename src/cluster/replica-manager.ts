// Makes this broker's partitions what the cluster state says: every topic of the cluster exists here
// (with the cluster's topic id, so a topic deleted and created again elsewhere is not mistaken for the
// old one), and each partition this broker holds a replica of is led here, or followed from its
// leader, at the epoch the controller recorded. One pass at a time, after each batch of watched
// changes; a pass that finds nothing to do costs a walk over the topics.
//
// Every broker opens every partition of every topic, also those it holds no replica of (they stay
// empty and are never served: the view says another broker leads them). That keeps Metadata,
// DescribeConfigs and the topic list identical on every broker at the price of empty directories;
// placing only the replicas is for the reassignment work (docs/cluster.md).
import type { Broker } from '../broker/broker.js';
import type { Logger } from '../broker/logger.js';
import type { Partition } from '../broker/partition/partition.js';
import { isInternalTopic, isReplicatedInternalTopic } from '../broker/topic-names.js';
import type { Clock } from '../runtime/clock.js';
import type { ClusterState } from './cluster-state.js';
import { LeaderReplication, type IsrProposer } from './leader-replication.js';
import type { PartitionRecord, TopicRecord } from './records.js';
import { ReplicaFetcher, type FetcherSettings } from './replica-fetcher.js';

export interface ReplicaManagerParts {
  broker: Broker;
  state: ClusterState;
  localId: number;
  proposer: IsrProposer;
  fetcher: Omit<FetcherSettings, 'localId'>;
  replicaLagTimeMaxMs: number;
  logger: Logger;
  clock: Clock;
}

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class ReplicaManager {
  private readonly leaders = new Map<string, LeaderReplication>();
  private readonly following = new Map<string, { leaderId: number; leaderEpoch: number }>();
  private readonly fetchers = new Map<number, ReplicaFetcher>();
  private running: Promise<void> | null = null;
  private again = false;
  private lagTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Runs after every pass: admin requests wait for their topic to be here. */
  onPass: () => void = () => {};

  constructor(private readonly parts: ReplicaManagerParts) {}

  start(): void {
    const interval = Math.max(100, Math.floor(this.parts.replicaLagTimeMaxMs / 4));
    this.lagTimer = setInterval(() => this.checkLag(), interval).unref();
  }

  /** The epoch at which this broker's Partition leads, or -1. */
  leadingEpoch(topic: string, partition: number): number {
    return this.leaders.get(keyOf(topic, partition))?.leaderEpoch ?? -1;
  }

  leaderOf(topic: string, partition: number): LeaderReplication | undefined {
    return this.leaders.get(keyOf(topic, partition));
  }

  /** Partitions led here, for a controlled shutdown to wait on. */
  get leadershipCount(): number {
    return this.leaders.size;
  }

  changed(): void {
    if (this.stopped) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
          this.parts.broker.leadershipChanged();
          this.onPass();
        } while (this.again && !this.stopped);
      } catch (error) {
        this.parts.logger.error({ error: String(error), stack: (error as Error).stack }, 'replica manager pass failed');
      } finally {
        this.running = null;
      }
    })();
  }

  /** Stops leading everything here at once (the etcd lease may have ended): waiting acks=-1 produces fail. */
  resignAll(): void {
    for (const [key, leader] of this.leaders) {
      leader.partition.becomeFollower(leader.leaderEpoch);
      this.leaders.delete(key);
    }
    this.parts.broker.leadershipChanged(); // the coordinators drop what they loaded
  }

  /** Stops following and leading changes; resolves once the pass and the fetches under way ended, so
   *  that nothing of the cluster's touches a log the broker closes next. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.lagTimer) clearInterval(this.lagTimer);
    await this.running;
    await Promise.all([...this.fetchers.values()].map((fetcher) => fetcher.stop()));
    this.fetchers.clear();
  }

  private checkLag(): void {
    const now = this.parts.clock.now();
    for (const leader of this.leaders.values()) leader.checkLag(now, this.parts.replicaLagTimeMaxMs);
  }

  private async pass(): Promise<void> {
    const { broker, state } = this.parts;
    for (const { value: record } of state.topics.values()) await this.mirror(record);
    for (const local of broker.topics.all())
      if ((!isInternalTopic(local.name) || isReplicatedInternalTopic(local.name)) && !state.topics.has(local.name)) {
        this.forgetTopic(local.name);
        const deleted = await broker.topicAdmin.deleteTopic(local.name);
        this.parts.logger.info({ topic: local.name, errorCode: deleted.errorCode }, 'topic deleted by the controller');
      }
    for (const { value: record } of state.topics.values())
      for (let index = 0; index < record.partitions.length; index++) {
        const partition = broker.partitions.get(record.name, index);
        if (partition !== undefined) await this.takeRole(record, partition, record.partitions[index]!);
      }
  }

  /** The cluster's topic exists here with its id, partitions and configs. */
  private async mirror(record: TopicRecord): Promise<void> {
    const { broker } = this.parts;
    const id = Buffer.from(record.id, 'base64url');
    let local = broker.topics.get(record.name);
    if (local !== undefined && !local.id.equals(id)) {
      this.forgetTopic(record.name);
      await broker.topicAdmin.deleteTopic(record.name);
      local = undefined;
    }
    if (local === undefined) {
      const created = await broker.topicAdmin.createTopic(
        record.name,
        record.partitions.length,
        record.configs,
        false,
        id,
      );
      if (created.errorCode !== 0)
        this.parts.logger.error({ topic: record.name, error: created.errorMessage }, 'cluster topic not created here');
      return;
    }
    if (local.partitions < record.partitions.length)
      await broker.topicAdmin.createPartitions(record.name, record.partitions.length, false);
  }

  private forgetTopic(name: string): void {
    for (const key of [...this.leaders.keys()]) if (key.startsWith(`${name}\u0000`)) this.leaders.delete(key);
    for (const [key, f] of [...this.following]) {
      if (!key.startsWith(`${name}\u0000`)) continue;
      this.fetchers.get(f.leaderId)?.unfollow(name, Number(key.slice(name.length + 1)));
      this.following.delete(key);
    }
  }

  private async takeRole(topic: TopicRecord, partition: Partition, record: PartitionRecord): Promise<void> {
    const { localId, broker } = this.parts;
    const key = keyOf(topic.name, partition.index);
    partition.minInSyncReplicas = Number(
      topic.configs['min.insync.replicas'] ?? broker.config.properties['min.insync.replicas'] ?? '1',
    );
    if (!record.replicas.includes(localId)) {
      this.stopFollowing(key, partition);
      this.leaders.delete(key);
      return;
    }
    if (record.leader === localId) {
      const leading = this.leaders.get(key);
      if (leading !== undefined && leading.leaderEpoch === record.leaderEpoch) {
        leading.update(record);
        return;
      }
      if (!this.leaseFresh()) return; // the lease may have ended: lead again once etcd answers
      this.stopFollowing(key, partition);
      await partition.becomeLeader(record.leaderEpoch);
      const leader = new LeaderReplication(
        partition,
        localId,
        record.leaderEpoch,
        record,
        this.parts.proposer,
        this.parts.clock.now(),
      );
      this.leaders.set(key, leader);
      this.parts.logger.info(
        {
          topic: topic.name,
          partition: partition.index,
          epoch: record.leaderEpoch,
          logEndOffset: partition.logEndOffset,
          highWatermark: partition.highWatermark,
          epochs: partition.log.leaderEpochEntries,
        },
        'leading',
      );
      return;
    }
    const leading = this.leaders.get(key);
    if (leading !== undefined) {
      this.leaders.delete(key);
      partition.becomeFollower(record.leaderEpoch);
    }
    const current = this.following.get(key);
    if (record.leader < 0) {
      this.stopFollowing(key, partition);
      return;
    }
    if (current !== undefined && current.leaderId === record.leader && current.leaderEpoch === record.leaderEpoch)
      return;
    this.stopFollowing(key, partition);
    const node = this.parts.state.brokers.get(record.leader);
    if (node === undefined) return;
    partition.becomeFollower(record.leaderEpoch);
    let fetcher = this.fetchers.get(record.leader);
    if (fetcher === undefined) {
      fetcher = new ReplicaFetcher(record.leader, node, { ...this.parts.fetcher, localId });
      this.fetchers.set(record.leader, fetcher);
    } else fetcher.moveTo(node);
    fetcher.follow(partition, record.leaderEpoch);
    this.following.set(key, { leaderId: record.leader, leaderEpoch: record.leaderEpoch });
    this.parts.logger.info(
      { topic: topic.name, partition: partition.index, leader: record.leader, epoch: record.leaderEpoch },
      'following',
    );
  }

  private stopFollowing(key: string, partition: Partition): void {
    const current = this.following.get(key);
    if (current === undefined) return;
    this.fetchers.get(current.leaderId)?.unfollow(partition.topic, partition.index);
    this.following.delete(key);
  }

  /** Set by the cluster node: false once the etcd lease may have ended. */
  leaseFresh: () => boolean = () => true;
}
