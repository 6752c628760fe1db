// Committed offsets of every group: OffsetCommit, OffsetFetch, OffsetDelete, the offsets of a deleted
// topic, retention (KIP-211), and offsets committed inside a transaction (TxnOffsetCommit), which wait
// aside until their transaction's marker decides them. Each change is written to `__consumer_offsets`
// (offsets-store.ts) and takes effect in memory only once that write is durable.
//
// The member checks of a commit are membership's (membership.ts); this file is handed a group the
// commit may go to. It reads a group's state (for retention) but never changes it.
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import type { Clock, Logger } from '../services.js';
import type { Group } from './group.js';
import type { GroupTable } from './group-table.js';
import type { GroupSettings } from './limits.js';
import { partitionForGroup, type CommittedOffset } from './offsets-records.js';
import { OFFSETS_TOPIC, type OffsetsStore } from './offsets-store.js';
import type { CommitRequest, FetchedOffset, PartitionError, TopicPartitionErrors } from './requests.js';

type Entry = { topic: string; partition: number; value: CommittedOffset };

/** Offsets are safe integers inside Sluice; a commit of one beyond 2^53 (the handlers' Number() of an
 *  INT64 near Long.MAX_VALUE) cannot be stored exactly, so it is refused as a commit the coordinator
 *  cannot store, per partition. */
const UNSTORABLE_OFFSET = ErrorCode.INVALID_COMMIT_OFFSET_SIZE;

export class GroupOffsets {
  /** TxnOffsetCommit offsets of open transactions: producerId → groupId → topic/partition → offset. */
  private readonly pendingTransactional = new Map<number, Map<string, Map<string, Entry>>>();

  constructor(
    private readonly table: GroupTable,
    private readonly store: OffsetsStore,
    private readonly settings: GroupSettings,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /**
   * OffsetCommit to a group the member may commit to. `partitionExists` checks the partition is real so
   * a client cannot fill memory with invented ones.
   */
  async commit(
    group: Group,
    request: CommitRequest,
    partitionExists: (topic: string, partition: number) => boolean,
  ): Promise<TopicPartitionErrors[]> {
    const now = this.clock.now();
    // A retention past what a timestamp can hold (clients send Long.MAX_VALUE) means: never expires.
    const expireTimestamp =
      request.retentionTimeMs >= 0 ? Math.min(now + request.retentionTimeMs, Number.MAX_SAFE_INTEGER) : null;
    const accepted: Entry[] = [];
    let newEntries = 0;
    const results = request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p): PartitionError => {
        if (!partitionExists(topic.name, p.partition))
          return { partition: p.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
        const metadata = p.metadata ?? '';
        if (Buffer.byteLength(metadata) > this.settings.offsetMetadataMaxBytes)
          return { partition: p.partition, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE };
        if (!Number.isSafeInteger(p.offset)) return { partition: p.partition, errorCode: UNSTORABLE_OFFSET };
        // Negative offsets are stored as given, as Kafka does: kafkajs's admin resetOffsets commits
        // -2/-1 (earliest/latest) and its consumers resolve them when they start.
        if (!group.offsets.get(topic.name)?.has(p.partition)) {
          if (this.table.offsetCount + newEntries >= this.settings.offsetsMax) {
            this.logger.warn(
              { component: 'groups', groupId: request.groupId, limit: this.settings.offsetsMax },
              'sluice.group.offsets.max reached: commit refused',
            );
            return { partition: p.partition, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
          }
          newEntries++;
        }
        const value: CommittedOffset = {
          offset: p.offset,
          leaderEpoch: p.leaderEpoch,
          metadata,
          commitTimestamp: now,
          expireTimestamp,
        };
        accepted.push({ topic: topic.name, partition: p.partition, value });
        return { partition: p.partition, errorCode: ErrorCode.NONE };
      }),
    }));
    if (accepted.length === 0) {
      this.table.removeIfUnused(group);
      return results;
    }
    try {
      await this.store.writeOffsets(request.groupId, accepted, now);
    } catch (error) {
      this.logger.error(
        { component: 'groups', groupId: request.groupId, error: String(error) },
        'offset commit not stored',
      );
      const code =
        (error as { kafkaCode?: number }).kafkaCode === ErrorCode.MESSAGE_TOO_LARGE
          ? ErrorCode.INVALID_COMMIT_OFFSET_SIZE
          : ErrorCode.COORDINATOR_NOT_AVAILABLE;
      failAccepted(results, code);
      this.table.removeIfUnused(group);
      return results;
    }
    if (this.table.holds(group))
      for (const { topic, partition, value } of accepted) this.table.setOffset(group, topic, partition, value);
    return results;
  }

  // ── transactional offsets (TxnOffsetCommit) ───────────────────────────────────────────────

  /**
   * TxnOffsetCommit: the offsets are written to the group's partition as a transactional batch of the
   * producer and kept aside; they become the group's committed offsets only when the transaction
   * commits (complete), and are dropped when it aborts. The transaction coordinator has checked the
   * producer and that the group's partition is in the transaction.
   */
  async commitTransactional(
    group: Group,
    request: CommitRequest,
    producer: { producerId: number; producerEpoch: number },
    partitionExists: (topic: string, partition: number) => boolean,
  ): Promise<TopicPartitionErrors[]> {
    const now = this.clock.now();
    const accepted: Entry[] = [];
    const results = request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p): PartitionError => {
        if (!partitionExists(topic.name, p.partition))
          return { partition: p.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
        const metadata = p.metadata ?? '';
        if (Buffer.byteLength(metadata) > this.settings.offsetMetadataMaxBytes)
          return { partition: p.partition, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE };
        if (!Number.isSafeInteger(p.offset)) return { partition: p.partition, errorCode: UNSTORABLE_OFFSET };
        const value: CommittedOffset = {
          offset: p.offset,
          leaderEpoch: p.leaderEpoch,
          metadata,
          commitTimestamp: now,
          expireTimestamp: null,
        };
        accepted.push({ topic: topic.name, partition: p.partition, value });
        return { partition: p.partition, errorCode: ErrorCode.NONE };
      }),
    }));
    if (accepted.length === 0) {
      this.table.removeIfUnused(group);
      return results;
    }
    try {
      await this.store.writeOffsets(request.groupId, accepted, now, producer);
    } catch (error) {
      this.logger.error(
        { component: 'groups', groupId: request.groupId, error: String(error) },
        'transactional offset commit not stored',
      );
      failAccepted(results, ErrorCode.COORDINATOR_NOT_AVAILABLE);
      return results;
    }
    for (const { topic, partition, value } of accepted)
      this.addPending(producer.producerId, request.groupId, topic, partition, value);
    return results;
  }

  /** Offsets of `producerId`'s open transaction (TxnOffsetCommit, or read back at open without a marker). */
  addPending(producerId: number, groupId: string, topic: string, partition: number, value: CommittedOffset): void {
    let byGroup = this.pendingTransactional.get(producerId);
    if (!byGroup) this.pendingTransactional.set(producerId, (byGroup = new Map()));
    let entries = byGroup.get(groupId);
    if (!entries) byGroup.set(groupId, (entries = new Map()));
    entries.set(`${topic}\u0000${partition}`, { topic, partition, value });
  }

  private hasPending(groupId: string, topic: string, partition: number): boolean {
    for (const byGroup of this.pendingTransactional.values())
      if (byGroup.get(groupId)?.has(`${topic}\u0000${partition}`)) return true;
    return false;
  }

  /** Forgets the open transactions' offsets of the groups in one partition (it moved to another broker). */
  dropPartition(offsetsPartition: number, partitions: number): void {
    for (const [producerId, byGroup] of this.pendingTransactional) {
      for (const groupId of [...byGroup.keys()])
        if (partitionForGroup(groupId, partitions) === offsetsPartition) byGroup.delete(groupId);
      if (byGroup.size === 0) this.pendingTransactional.delete(producerId);
    }
  }

  /** A COMMIT or ABORT marker of `producerId` was written to `__consumer_offsets-offsetsPartition`. */
  complete(producerId: number, offsetsPartition: number, commit: boolean): void {
    const byGroup = this.pendingTransactional.get(producerId);
    const count = this.store.partitionCount;
    if (!byGroup || count === null) return;
    for (const [groupId, entries] of byGroup) {
      if (partitionForGroup(groupId, count) !== offsetsPartition) continue;
      byGroup.delete(groupId);
      let group = this.table.get(groupId);
      if (!commit) {
        if (group) this.table.removeIfUnused(group);
        continue;
      }
      if (!group) {
        if (!this.table.canAdd()) continue;
        group = this.table.add(groupId);
      }
      for (const { topic, partition, value } of entries.values()) this.table.setOffset(group, topic, partition, value);
    }
    if (byGroup.size === 0) this.pendingTransactional.delete(producerId);
  }

  // ── OffsetFetch, OffsetDelete, deleted topics ───────────────────────────────────────────────

  /**
   * OffsetFetch for one group; `topics` null means every partition the group committed. With
   * `requireStable` (v7+, KIP-447) a partition with a transactional offset commit still pending answers
   * UNSTABLE_OFFSET_COMMIT (retriable) instead of the last committed offset, so a consumer taking over
   * a partition does not start from an offset the open transaction is about to replace.
   */
  fetch(
    groupId: string,
    topics: Array<{ name: string; partitions: number[] }> | null,
    requireStable: boolean,
  ): { errorCode: number; topics: Array<{ name: string; partitions: FetchedOffset[] }> } {
    const group = this.table.get(groupId);
    const fetched = (topic: string, partition: number): FetchedOffset => {
      if (requireStable && this.hasPending(groupId, topic, partition)) {
        return { partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT };
      }
      const committed = group?.offsets.get(topic)?.get(partition);
      return committed
        ? {
            partition,
            offset: committed.offset,
            leaderEpoch: committed.leaderEpoch,
            metadata: committed.metadata,
            errorCode: ErrorCode.NONE,
          }
        : { partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE };
    };
    if (topics === null) {
      const all = [...(group?.offsets ?? new Map<string, Map<number, CommittedOffset>>())].map(
        ([name, partitions]) => ({
          name,
          partitions: [...partitions.keys()].sort((a, b) => a - b).map((p) => fetched(name, p)),
        }),
      );
      return { errorCode: ErrorCode.NONE, topics: all };
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => fetched(t.name, p)) })),
    };
  }

  /**
   * OffsetDelete (KIP-496): removes committed offsets of a group. Allowed for an Empty group, or for
   * topics the members of a consumer group are not subscribed to (GROUP_SUBSCRIBED_TO_TOPIC otherwise).
   */
  async delete(
    groupId: string,
    topics: Array<{ name: string; partitions: number[] }>,
  ): Promise<{ errorCode: number; topics: Array<{ name: string; partitions: PartitionError[] }> }> {
    const group = this.table.get(groupId);
    if (!group || group.is('Dead')) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] };
    if (!group.is('Empty') && (group.protocolType !== 'consumer' || group.subscribedTopics === null))
      return { errorCode: ErrorCode.NON_EMPTY_GROUP, topics: [] };
    const removed: Array<[string, number]> = [];
    const results = topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((partition): PartitionError => {
        if (!group.is('Empty') && group.subscribedTopics!.has(t.name))
          return { partition, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC };
        if (group.offsets.get(t.name)?.has(partition)) removed.push([t.name, partition]);
        return { partition, errorCode: ErrorCode.NONE };
      }),
    }));
    try {
      await this.store.writeTombstones(groupId, removed, this.clock.now());
    } catch (error) {
      this.logger.error({ component: 'groups', groupId, error: String(error) }, 'offset deletion not stored');
      return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, topics: [] };
    }
    for (const [topic, partition] of removed) this.table.forgetOffset(group, topic, partition);
    this.table.removeIfUnused(group);
    return { errorCode: ErrorCode.NONE, topics: results };
  }

  /** A topic was deleted: its committed offsets go too (tombstones), as Kafka's handleDeletedPartitions does. */
  async forgetTopic(topic: string): Promise<void> {
    if (topic === OFFSETS_TOPIC) return;
    for (const group of [...this.table.values()]) {
      const partitions = group.offsets.get(topic);
      if (!partitions) continue;
      const removed = [...partitions.keys()];
      try {
        await this.store.writeTombstones(
          group.groupId,
          removed.map((partition) => [topic, partition] as const),
          this.clock.now(),
        );
      } catch (error) {
        this.logger.error(
          { component: 'groups', groupId: group.groupId, topic, error: String(error) },
          'offsets of a deleted topic not removed',
        );
        continue;
      }
      for (const partition of removed) this.table.forgetOffset(group, topic, partition);
      this.table.removeIfUnused(group);
    }
  }

  // ── retention ─────────────────────────────────────────────────────────────────────────────

  /**
   * Offset retention (KIP-211), run every offsets.retention.check.interval.ms: an Empty group's
   * offsets expire offsets.retention.minutes after it emptied (a group that never had members:
   * after the commit); a consumer group's offsets of topics it no longer subscribes to expire after
   * the commit; a commit with its own retention (OffsetCommit v2-v4) expires at its own time.
   * An Empty group left without offsets is removed.
   */
  async expire(): Promise<number> {
    const now = this.clock.now();
    let expiredCount = 0;
    for (const group of [...this.table.values()]) {
      const expired = this.expiredOffsets(group, now);
      if (expired === null) continue;
      if (expired.length > 0) {
        try {
          await this.store.writeTombstones(group.groupId, expired, now);
        } catch (error) {
          this.logger.error(
            { component: 'groups', groupId: group.groupId, error: String(error) },
            'expired offsets not removed',
          );
          continue;
        }
        for (const [topic, partition] of expired) this.table.forgetOffset(group, topic, partition);
        expiredCount += expired.length;
        this.logger.info(
          { component: 'groups', groupId: group.groupId, offsets: expired.length },
          'expired offsets removed',
        );
      }
      this.table.removeIfUnused(group);
    }
    return expiredCount;
  }

  /** The offsets of a group past their retention; null when retention does not apply to it now. */
  private expiredOffsets(group: Group, now: number): Array<[string, number]> | null {
    let base: ((o: CommittedOffset) => number) | null = null;
    let applies: (topic: string) => boolean = () => true;
    if (group.is('Empty')) {
      base = group.protocolType !== null ? () => group.stateTimestamp : (o) => o.commitTimestamp;
    } else if (group.protocolType === 'consumer' && group.subscribedTopics !== null && group.is('Stable')) {
      const subscribed = group.subscribedTopics;
      base = (o) => o.commitTimestamp;
      applies = (topic) => !subscribed.has(topic);
    }
    if (base === null) return null;
    const expired: Array<[string, number]> = [];
    for (const [topic, partitions] of group.offsets) {
      if (!applies(topic)) continue;
      for (const [partition, o] of partitions) {
        const isExpired =
          o.expireTimestamp !== null ? now >= o.expireTimestamp : now - base(o) >= this.settings.offsetsRetentionMs;
        if (isExpired) expired.push([topic, partition]);
      }
    }
    return expired;
  }
}

/** A write failed: every partition that was going to be committed gets `errorCode` instead. */
function failAccepted(results: TopicPartitionErrors[], errorCode: number): void {
  for (const topic of results)
    for (const p of topic.partitions) if (p.errorCode === ErrorCode.NONE) p.errorCode = errorCode;
}
