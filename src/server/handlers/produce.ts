// Produce (key 0): one record batch per partition, appended without decoding records. Answered
// after every partition's append resolved — under the default `sync` flush policy, after fsync,
// with concurrent requests sharing one fsync per partition (group commit in storage). acks=0 sends
// no response at all. Versions 0-2 (message format v0/v1) are advertised, as Kafka does, and the
// connection is closed if a client sends them.
import type { Broker } from '../../broker/broker.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type {
  PartitionProduceResponseInput,
  ProduceRequest,
  ProduceResponseInput,
} from '../../protocol/generated/produce.js';
import type { KafkaHandler } from './handler.js';

export function produceHandler(broker: Broker): KafkaHandler<ProduceRequest, ProduceResponseInput> {
  return {
    apiKey: ApiKey.Produce,
    name: 'Produce',
    versions: { min: 3, max: 7 },
    advertised: { min: 0, max: 7 },
    async handle(request) {
      const validAcks = request.acks === 0 || request.acks === 1 || request.acks === -1;
      const responses = await Promise.all(
        request.topicData.map(async (topic) => ({
          name: topic.name,
          partitionResponses: await Promise.all(
            topic.partitionData.map(async (partition): Promise<PartitionProduceResponseInput> => {
              if (!validAcks)
                return {
                  index: partition.index,
                  errorCode: ErrorCode.INVALID_REQUIRED_ACKS,
                  baseOffset: -1n,
                  errorMessage: `acks must be -1, 0 or 1, got ${request.acks}`,
                };
              const result = await broker.produce(topic.name, partition.index, partition.records);
              return {
                index: partition.index,
                errorCode: result.errorCode,
                errorMessage: result.errorMessage,
                baseOffset: BigInt(result.baseOffset),
                logAppendTimeMs: BigInt(result.logAppendTimeMs),
                logStartOffset: BigInt(result.logStartOffset),
              };
            }),
          ),
        })),
      );
      if (request.acks === 0) return null;
      return { responses, throttleTimeMs: 0 };
    },
  };
}
