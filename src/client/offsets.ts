// ListOffsets for a set of partitions, asked of each partition's leader. Used by Admin (offsets by
// time) and Consumer (seek to beginning, end or a timestamp).
import { ApiKey } from '../protocol/generated/index.js';
import type { ListOffsetsResponse } from '../protocol/generated/list-offsets.js';
import type { Cluster } from './cluster.js';
import { KafkaError } from './errors.js';

/** Kafka's special ListOffsets timestamps. */
export const LATEST_TIMESTAMP = -1n;
export const EARLIEST_TIMESTAMP = -2n;

export type OffsetSpec = 'earliest' | 'latest' | number;

export interface PartitionOffset {
  topic: string;
  partition: number;
  /** -1n when no message has a timestamp at or after the one asked for. */
  offset: bigint;
  /** The found message's timestamp, or -1. */
  timestamp: number;
}

export function specTimestamp(spec: OffsetSpec): bigint {
  if (spec === 'earliest') return EARLIEST_TIMESTAMP;
  if (spec === 'latest') return LATEST_TIMESTAMP;
  return BigInt(spec);
}

/** Offsets of the given partitions at `spec`; isolationLevel 1 (read committed) by default. */
export async function listOffsets(
  cluster: Cluster,
  partitions: ReadonlyArray<{ topic: string; partition: number }>,
  spec: OffsetSpec,
  isolationLevel = 1,
): Promise<PartitionOffset[]> {
  const timestamp = specTimestamp(spec);
  return cluster.withRetries('ListOffsets', async () => {
    for (const topic of new Set(partitions.map((p) => p.topic))) await cluster.topic(topic);
    const byLeader = new Map<number, Map<string, number[]>>();
    for (const { topic, partition } of partitions) {
      const leader = cluster.leaderOf(topic, partition);
      if (leader === undefined) throw new KafkaError(5, `no leader for ${topic}/${partition}`);
      let topics = byLeader.get(leader);
      if (!topics) byLeader.set(leader, (topics = new Map()));
      let list = topics.get(topic);
      if (!list) topics.set(topic, (list = []));
      list.push(partition);
    }
    const results: PartitionOffset[] = [];
    await Promise.all(
      [...byLeader].map(async ([leader, topics]) => {
        const body = {
          replicaId: -1,
          isolationLevel,
          topics: [...topics].map(([name, list]) => ({
            name,
            partitions: list.map((partitionIndex) => ({ partitionIndex, timestamp, currentLeaderEpoch: -1 })),
          })),
        };
        const response = await cluster.request<ListOffsetsResponse>(leader, ApiKey.ListOffsets, body);
        for (const topic of response.topics) {
          for (const p of topic.partitions) {
            if (p.errorCode !== 0)
              throw new KafkaError(p.errorCode, null, `ListOffsets ${topic.name}/${p.partitionIndex}`);
            results.push({
              topic: topic.name,
              partition: p.partitionIndex,
              offset: p.offset,
              timestamp: Number(p.timestamp),
            });
          }
        }
      }),
    );
    return results.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  });
}
