// `__consumer_offsets`: the internal topic (internal-topic.ts) that holds committed offsets and group
// metadata (offsets-records.ts). Created on first use (FindCoordinator, a join or a commit) with
// `offsets.topic.num.partitions` partitions. This file is the only one of the group coordinator that
// knows the records: it writes them (every write awaited, committed before the answer) and reads a
// partition back when the coordinator takes it up. It holds no group state.
import { InternalTopicStore, type InternalRecord, type StoredRecord } from '../internal-topic.js';
import type { InternalPartitions, Logger } from '../services.js';
import type { Group } from './group.js';
import {
  decodeGroupValue,
  decodeKey,
  decodeOffsetValue,
  encodeGroupKey,
  encodeGroupValue,
  encodeOffsetKey,
  encodeOffsetValue,
  partitionForGroup,
  type CommittedOffset,
  type StoredGroup,
} from './offsets-records.js';

export const OFFSETS_TOPIC = '__consumer_offsets';

export type OffsetsRecord = InternalRecord;

/** What was in the topic for one group: its last metadata record (null: none, or a tombstone) and offsets. */
export interface LoadedGroup {
  group: StoredGroup | null;
  /** topic → partition → offset; topics left without partitions are dropped. */
  offsets: Map<string, Map<number, CommittedOffset>>;
}

/** A transactional offset commit whose transaction had no marker yet when the topic was read. */
export interface LoadedPendingOffset {
  producerId: number;
  groupId: string;
  topic: string;
  partition: number;
  value: CommittedOffset;
}

export interface LoadedOffsets {
  /** Records read, markers included. */
  records: number;
  groups: Map<string, LoadedGroup>;
  /** In log order. */
  pending: LoadedPendingOffset[];
}

/** A group's metadata record: members with their subscription and assignment (`assignments` when given). */
export function storedGroup(group: Group, assignments: Map<string, Buffer> | null): StoredGroup {
  return {
    protocolType: group.protocolType ?? '',
    generation: group.generationId,
    protocol: group.protocolName,
    leader: group.leaderId,
    currentStateTimestamp: group.stateTimestamp,
    members: [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      sessionTimeoutMs: m.sessionTimeoutMs,
      subscription: m.metadataFor(group.protocolName),
      assignment: assignments?.get(m.memberId) ?? m.assignment,
    })),
  };
}

export class OffsetsStore {
  private readonly topic: InternalTopicStore;

  constructor(
    partitions: InternalPartitions,
    private readonly logger: Logger,
    partitionsWhenCreated: number,
    onCreated?: () => void,
  ) {
    this.topic = new InternalTopicStore(partitions, logger, OFFSETS_TOPIC, partitionsWhenCreated, 'groups', onCreated);
  }

  /** The partition of `__consumer_offsets` holding a group, or -1 before the topic exists. */
  partitionOfNow(groupId: string): number {
    return this.topic.partitionOf(groupId);
  }

  /** Partitions of `__consumer_offsets`, or null before it exists. */
  get partitionCount(): number | null {
    return this.topic.partitionCount;
  }

  ensureTopic(): Promise<number> {
    return this.topic.ensureTopic();
  }

  /** The partition holding a group (creating the topic if needed): AddOffsetsToTxn adds it to a transaction. */
  async partitionOf(groupId: string): Promise<number> {
    return partitionForGroup(groupId, await this.topic.ensureTopic());
  }

  /** Committed offsets of a group; with `producer`, as part of its transaction (TxnOffsetCommit). */
  writeOffsets(
    groupId: string,
    offsets: ReadonlyArray<{ topic: string; partition: number; value: CommittedOffset }>,
    timestamp: number,
    producer?: { producerId: number; producerEpoch: number },
  ): Promise<void> {
    const records = offsets.map(({ topic, partition, value }) => ({
      key: encodeOffsetKey(groupId, topic, partition),
      value: encodeOffsetValue(value),
    }));
    return this.topic.append(groupId, records, timestamp, producer);
  }

  /** Tombstones for offsets of a group, and for its metadata record with `withGroup`. */
  writeTombstones(
    groupId: string,
    offsets: ReadonlyArray<readonly [topic: string, partition: number]>,
    timestamp: number,
    withGroup = false,
  ): Promise<void> {
    const records: OffsetsRecord[] = offsets.map(([topic, partition]) => ({
      key: encodeOffsetKey(groupId, topic, partition),
      value: null,
    }));
    if (withGroup) records.push({ key: encodeGroupKey(groupId), value: null });
    return this.topic.append(groupId, records, timestamp);
  }

  /** The group's metadata record; the group is then marked `stored` (a tombstone is owed on removal). */
  async writeGroup(group: Group, assignments: Map<string, Buffer> | null, timestamp: number): Promise<void> {
    await this.topic.append(
      group.groupId,
      [{ key: encodeGroupKey(group.groupId), value: encodeGroupValue(storedGroup(group, assignments)) }],
      timestamp,
    );
    group.stored = true;
  }

  /**
   * Everything in one partition of the topic, the last record per key winning. Records of transactional offset commits
   * wait, per partition and producer, for their marker: COMMIT applies them at the marker's place in the
   * log, ABORT drops them (Kafka does the same); those still waiting at the end are `pending`.
   * Unreadable records are logged and skipped.
   */
  async load(partition: number): Promise<LoadedOffsets> {
    const groups = new Map<string, LoadedGroup>();
    const entry = (groupId: string) => {
      let e = groups.get(groupId);
      if (!e) groups.set(groupId, (e = { group: null, offsets: new Map() }));
      return e;
    };
    let records = 0;
    const pendingLoaded = new Map<string, StoredRecord[]>();
    const apply = (record: StoredRecord) => {
      let key;
      try {
        key = decodeKey(record.key);
      } catch (error) {
        this.skipped(record, error, 'unreadable offsets record key skipped');
        return;
      }
      if (key === null) return;
      const e = entry(key.group);
      try {
        if (key.kind === 'offset') {
          let partitions = e.offsets.get(key.topic);
          if (record.value === null) {
            partitions?.delete(key.partition);
          } else {
            if (!partitions) e.offsets.set(key.topic, (partitions = new Map()));
            partitions.set(key.partition, decodeOffsetValue(record.value));
          }
        } else {
          e.group = record.value === null ? null : decodeGroupValue(record.value);
        }
      } catch (error) {
        this.skipped(record, error, 'unreadable offsets record value skipped');
      }
    };
    for await (const record of this.topic.read(partition)) {
      records++;
      const producerKey = `${record.partition}:${record.transactionalProducerId}`;
      if (record.marker !== undefined) {
        const pending = pendingLoaded.get(producerKey) ?? [];
        pendingLoaded.delete(producerKey);
        if (record.marker === 'commit') for (const waiting of pending) apply(waiting);
        continue;
      }
      if (record.transactionalProducerId >= 0) {
        let pending = pendingLoaded.get(producerKey);
        if (!pending) pendingLoaded.set(producerKey, (pending = []));
        pending.push(record);
        continue;
      }
      apply(record);
    }
    // Transactions still open (their coordinator completes or aborts them after it loads).
    const pending: LoadedPendingOffset[] = [];
    for (const [producerKey, waiting] of pendingLoaded) {
      const producerId = Number(producerKey.slice(producerKey.indexOf(':') + 1));
      for (const record of waiting) {
        try {
          const key = decodeKey(record.key);
          if (key === null || key.kind !== 'offset' || record.value === null) continue;
          pending.push({
            producerId,
            groupId: key.group,
            topic: key.topic,
            partition: key.partition,
            value: decodeOffsetValue(record.value),
          });
        } catch (error) {
          this.skipped(record, error, 'unreadable transactional offsets record skipped');
        }
      }
    }
    for (const e of groups.values())
      for (const [topic, partitions] of e.offsets) if (partitions.size === 0) e.offsets.delete(topic);
    return { records, groups, pending };
  }

  private skipped(record: StoredRecord, error: unknown, message: string): void {
    this.logger.warn(
      { component: 'groups', partition: record.partition, offset: record.offset, error: String(error) },
      message,
    );
  }
}
