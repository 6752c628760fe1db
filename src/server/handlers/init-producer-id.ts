// InitProducerId (key 22), versions 0-4: producer ids for idempotent producers.
import type { Broker } from '../../broker/broker.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { InitProducerIdRequest, InitProducerIdResponseInput } from '../../protocol/generated/init-producer-id.js';
import type { KafkaHandler } from './handler.js';

export function initProducerIdHandler(broker: Broker): KafkaHandler<InitProducerIdRequest, InitProducerIdResponseInput> {
  return {
    apiKey: ApiKey.InitProducerId,
    name: 'InitProducerId',
    versions: { min: 0, max: 4 },
    handle(request) {
      const result = broker.initProducerId(request.transactionalId, request.transactionTimeoutMs, Number(request.producerId), request.producerEpoch);
      return { throttleTimeMs: 0, errorCode: result.errorCode, producerId: BigInt(result.producerId), producerEpoch: result.producerEpoch };
    },
  };
}
