// CreatePartitions (key 37), versions 0-3: raises a topic's partition count.
import type { Broker } from '../../broker/broker.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type {
  CreatePartitionsRequest,
  CreatePartitionsResponseInput,
} from '../../protocol/generated/create-partitions.js';
import type { KafkaHandler } from './handler.js';

export function createPartitionsHandler(
  broker: Broker,
): KafkaHandler<CreatePartitionsRequest, CreatePartitionsResponseInput> {
  return {
    apiKey: ApiKey.CreatePartitions,
    name: 'CreatePartitions',
    versions: { min: 0, max: 3 },
    async handle(request) {
      const results = [];
      for (const t of request.topics) {
        const node = broker.metadata.localNodeId;
        if (t.assignments !== null && t.assignments.some((a) => a.brokerIds.length !== 1 || a.brokerIds[0] !== node)) {
          results.push({
            name: t.name,
            errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            errorMessage: `this cluster has only broker ${node}`,
          });
          continue;
        }
        const result = await broker.createPartitions(t.name, t.count, request.validateOnly);
        results.push({ name: t.name, errorCode: result.errorCode, errorMessage: result.errorMessage });
      }
      return { throttleTimeMs: 0, results };
    },
  };
}
