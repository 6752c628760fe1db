// OffsetDelete (key 47), v0: deletes committed offsets of a group for partitions it no longer
// consumes (GROUP_SUBSCRIBED_TO_TOPIC while an active member subscribes to the topic).
import type { Broker } from '../../broker/broker.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { OffsetDeleteRequest, OffsetDeleteResponseInput } from '../../protocol/generated/offset-delete.js';
import type { KafkaHandler } from './handler.js';

export function offsetDeleteHandler(broker: Broker): KafkaHandler<OffsetDeleteRequest, OffsetDeleteResponseInput> {
  return {
    apiKey: ApiKey.OffsetDelete,
    name: 'OffsetDelete',
    versions: { min: 0, max: 0 },
    async handle(request) {
      const result = await broker.groups.deleteOffsets(
        request.groupId,
        request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })),
      );
      return {
        errorCode: result.errorCode,
        throttleTimeMs: 0,
        topics: result.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, errorCode: p.errorCode })),
        })),
      };
    },
  };
}
