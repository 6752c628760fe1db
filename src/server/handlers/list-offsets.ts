// ListOffsets (key 2), versions 1-5: -2 earliest, -1 latest (the high watermark; from v2, with
// isolation_level 1 = read_committed, the last stable offset), a timestamp → the first offset at or after it.
// -3 (max timestamp) is answered too, although Kafka only accepts it from v7.
import { READ_COMMITTED, type Broker } from '../../broker/broker.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { ListOffsetsRequest, ListOffsetsResponseInput } from '../../protocol/generated/list-offsets.js';
import type { KafkaHandler } from './handler.js';

export function listOffsetsHandler(broker: Broker): KafkaHandler<ListOffsetsRequest, ListOffsetsResponseInput> {
  return {
    apiKey: ApiKey.ListOffsets,
    name: 'ListOffsets',
    versions: { min: 1, max: 5 },
    async handle(request, context) {
      return {
        throttleTimeMs: 0,
        topics: await Promise.all(
          request.topics.map(async (topic) => ({
            name: topic.name,
            partitions: await Promise.all(
              topic.partitions.map(async (p) => {
                const isolation =
                  context.apiVersion >= 2 && request.isolationLevel === READ_COMMITTED ? READ_COMMITTED : 0;
                const found = await broker.listOffset(topic.name, p.partitionIndex, Number(p.timestamp), isolation);
                return {
                  partitionIndex: p.partitionIndex,
                  errorCode: found.errorCode,
                  timestamp: BigInt(found.timestamp),
                  offset: BigInt(found.offset),
                  ...(context.apiVersion >= 4 ? { leaderEpoch: found.offset >= 0 ? 0 : -1 } : {}),
                };
              }),
            ),
          })),
        ),
      };
    },
  };
}
