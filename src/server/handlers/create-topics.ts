// CreateTopics (key 19), versions 2-7. The broker creates a partition on this node only: replication
// factor must be -1 or 1, and a manual assignment may only name this node (the metadata view's local
// node). The replication factor answered is the new topic's placement's. validate_only checks without
// creating.
import type { Broker } from '../../broker/broker.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type {
  CreatableTopicResultInput,
  CreateTopicsRequest,
  CreateTopicsResponseInput,
} from '../../protocol/generated/create-topics.js';
import { configSourceOf } from './admin-common.js';
import type { KafkaHandler } from './handler.js';

import { ZERO_UUID } from '../../protocol/primitives/helpers.js';

export function createTopicsHandler(broker: Broker): KafkaHandler<CreateTopicsRequest, CreateTopicsResponseInput> {
  return {
    apiKey: ApiKey.CreateTopics,
    name: 'CreateTopics',
    versions: { min: 2, max: 7 },
    async handle(request) {
      const seen = new Map<string, number>();
      for (const t of request.topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
      const topics: CreatableTopicResultInput[] = [];
      for (const t of request.topics) {
        const failed = (errorCode: number, errorMessage: string): CreatableTopicResultInput => ({
          name: t.name,
          topicId: ZERO_UUID,
          errorCode,
          errorMessage,
          numPartitions: -1,
          replicationFactor: -1,
          configs: null,
        });
        if (seen.get(t.name)! > 1) {
          topics.push(
            failed(
              ErrorCode.INVALID_REQUEST,
              `Create topics request from client contains multiple entries for the topic ${t.name}`,
            ),
          );
          continue;
        }
        const node = broker.metadata.localNodeId;
        let partitions = t.numPartitions === -1 ? broker.config.numPartitions : t.numPartitions;
        if (t.assignments.length > 0) {
          if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
            topics.push(
              failed(
                ErrorCode.INVALID_REQUEST,
                'Both numPartitions or replicationFactor and replicasAssignments were set. ' +
                  'Both cannot be used at the same time.',
              ),
            );
            continue;
          }
          const bad = t.assignments.find((a) => a.brokerIds.length !== 1 || a.brokerIds[0] !== node);
          if (bad) {
            topics.push(
              failed(
                ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                `partition ${bad.partitionIndex} is assigned to brokers [${bad.brokerIds.join(', ')}]; ` +
                  `this cluster has only broker ${node}`,
              ),
            );
            continue;
          }
          partitions = t.assignments.length;
        }
        const configs: Record<string, string> = {};
        let nullValue: string | undefined;
        for (const c of t.configs) {
          if (c.value === null) nullValue = c.name;
          else configs[c.name] = c.value;
        }
        if (nullValue !== undefined) {
          topics.push(failed(ErrorCode.INVALID_CONFIG, `Null value not supported for topic configs: ${nullValue}`));
          continue;
        }
        const result = await broker.createTopic(t.name, partitions, configs, request.validateOnly, t.replicationFactor);
        if (result.errorCode !== ErrorCode.NONE) {
          topics.push(failed(result.errorCode, result.errorMessage ?? ''));
          continue;
        }
        const described = broker.topicConfigs(t.name) ?? [];
        topics.push({
          name: t.name,
          topicId: result.topic?.id ?? ZERO_UUID,
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          numPartitions: partitions,
          // As the view places the new topic; validate_only placed nothing: one replica, this broker.
          replicationFactor: broker.metadata.placement(t.name, 0)?.replicas.length ?? 1,
          configs: described.map((c) => ({
            name: c.name,
            value: c.value,
            readOnly: false,
            configSource: configSourceOf(c.source),
            isSensitive: false,
          })),
        });
      }
      return { throttleTimeMs: 0, topics };
    },
  };
}
