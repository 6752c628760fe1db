// DeleteRecords (key 21), versions 0-2: moves each partition's log start offset (-1 = high watermark).
import type { Broker } from '../../broker/broker.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { DeleteRecordsRequest, DeleteRecordsResponseInput } from '../../protocol/generated/delete-records.js';
import type { KafkaHandler } from './handler.js';

export function deleteRecordsHandler(broker: Broker): KafkaHandler<DeleteRecordsRequest, DeleteRecordsResponseInput> {
  return {
    apiKey: ApiKey.DeleteRecords,
    name: 'DeleteRecords',
    versions: { min: 0, max: 2 },
    async handle(request) {
      return {
        throttleTimeMs: 0,
        topics: await Promise.all(
          request.topics.map(async (topic) => ({
            name: topic.name,
            partitions: await Promise.all(
              topic.partitions.map(async (p) => {
                const result = await broker.deleteRecords(topic.name, p.partitionIndex, Number(p.offset));
                return {
                  partitionIndex: p.partitionIndex,
                  errorCode: result.errorCode,
                  lowWatermark: BigInt(result.lowWatermark),
                };
              }),
            ),
          })),
        ),
      };
    },
  };
}
