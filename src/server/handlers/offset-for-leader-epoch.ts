// OffsetForLeaderEpoch (key 23), versions 2-4: the end offset of the largest leader epoch ≤ the
// one asked for (a single node has epoch 0 only, so: the log end offset). Only the leader answers, as
// in Kafka: a partition the metadata view says another broker leads (or none does) is
// NOT_LEADER_OR_FOLLOWER.
import type { Broker } from '../../broker/broker.js';
import { leaderEpochMismatch, ledElsewhere } from '../../broker/metadata/view.js';
import { ErrorCode } from '../../protocol/generated/error-codes.js';
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
      const view = broker.metadata;
      return {
        throttleTimeMs: 0,
        topics: request.topics.map((topic) => ({
          topic: topic.topic,
          partitions: topic.partitions.map((p) => {
            if (ledElsewhere(view, topic.topic, p.partition) !== undefined) {
              return {
                errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
                partition: p.partition,
                leaderEpoch: -1,
                endOffset: -1n,
              };
            }
            const mismatch = leaderEpochMismatch(view.placement(topic.topic, p.partition), p.currentLeaderEpoch);
            if (mismatch !== undefined)
              return { errorCode: mismatch, partition: p.partition, leaderEpoch: -1, endOffset: -1n };
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
