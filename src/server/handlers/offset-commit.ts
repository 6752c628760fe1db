// OffsetCommit (key 8), v2-8: committed offsets are appended to `__consumer_offsets` and the
// append awaited (fsync under the default flush policy) before the answer. v2-4 carry
// retention_time_ms (-1: the broker's offsets.retention.minutes); v6+ the leader epoch; v7+
// group.instance.id. Generation -1 with an empty member id is a "simple" commit (admin tools).
import type { Broker } from '../../broker/broker.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { OffsetCommitRequest, OffsetCommitResponseInput } from '../../protocol/generated/offset-commit.js';
import type { KafkaHandler } from './handler.js';

export function offsetCommitHandler(broker: Broker): KafkaHandler<OffsetCommitRequest, OffsetCommitResponseInput> {
  const partitionExists = (topic: string, partition: number) => {
    const found = broker.topics.get(topic);
    return found !== undefined && Number.isInteger(partition) && partition >= 0 && partition < found.partitions;
  };
  return {
    apiKey: ApiKey.OffsetCommit,
    name: 'OffsetCommit',
    versions: { min: 2, max: 8 },
    async handle(request, context) {
      const topics = await broker.groups.commitOffsets(
        {
          groupId: request.groupId,
          generationId: request.generationIdOrMemberEpoch,
          memberId: request.memberId,
          groupInstanceId: context.apiVersion >= 7 ? request.groupInstanceId : null,
          retentionTimeMs: context.apiVersion <= 4 ? Number(request.retentionTimeMs) : -1,
          topics: request.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((p) => ({
              partition: p.partitionIndex,
              offset: Number(p.committedOffset),
              leaderEpoch: context.apiVersion >= 6 ? p.committedLeaderEpoch : -1,
              metadata: p.committedMetadata,
            })),
          })),
        },
        partitionExists,
      );
      return {
        throttleTimeMs: 0,
        topics: topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, errorCode: p.errorCode })),
        })),
      };
    },
  };
}
