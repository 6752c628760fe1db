// OffsetForLeaderEpoch (key 23), versions 2-4: the end offset of the largest leader epoch ≤ the
// one asked for (a single node has epoch 0 only, so: the log end offset).
import type { Broker } from '../../broker/broker.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type {
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponseInput,
} from '../../protocol/generated/offset-for-leader-epoch.js';
import type { KafkaHandler } from './handler.js';

export function offsetForLeaderEpochHandler(
  broker: Broker,
): KafkaHandler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponseInput> {
  return {
    apiKey: ApiKey.OffsetForLeaderEpoch,
    name: 'OffsetForLeaderEpoch',
    versions: { min: 2, max: 4 },
    handle(request) {
      return {
        throttleTimeMs: 0,
        topics: request.topics.map((topic) => ({
          topic: topic.topic,
          partitions: topic.partitions.map((p) => {
            const found = broker.endOffsetForEpoch(topic.topic, p.partition, p.leaderEpoch);
            return {
              errorCode: found.errorCode,
              partition: p.partition,
              leaderEpoch: found.leaderEpoch,
              endOffset: BigInt(found.endOffset),
            };
          }),
        })),
      };
    },
  };
}
