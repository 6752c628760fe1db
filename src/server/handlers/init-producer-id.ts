// InitProducerId (key 22), versions 0-4: producer ids for idempotent producers, and for
// transactional ones through the transaction coordinator (epoch bump, fencing). Before v4 a client
// does not know PRODUCER_FENCED: it gets INVALID_PRODUCER_EPOCH instead, as Kafka answers.
import type { Broker } from '../../broker/broker.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type { InitProducerIdRequest, InitProducerIdResponseInput } from '../../protocol/generated/init-producer-id.js';
import type { KafkaHandler } from './handler.js';

export function initProducerIdHandler(
  broker: Broker,
): KafkaHandler<InitProducerIdRequest, InitProducerIdResponseInput> {
  return {
    apiKey: ApiKey.InitProducerId,
    name: 'InitProducerId',
    versions: { min: 0, max: 4 },
    async handle(request, context) {
      const result = await broker.initProducerId(
        request.transactionalId,
        request.transactionTimeoutMs,
        Number(request.producerId),
        request.producerEpoch,
      );
      const errorCode =
        result.errorCode === ErrorCode.PRODUCER_FENCED && context.apiVersion < 4
          ? ErrorCode.INVALID_PRODUCER_EPOCH
          : result.errorCode;
      return {
        throttleTimeMs: 0,
        errorCode,
        producerId: BigInt(result.producerId),
        producerEpoch: result.producerEpoch,
      };
    },
  };
}
