// Metadata (key 3): this broker as the only broker, controller and leader of every partition.
// Unknown topics are created when both the request (v4+ allow_auto_topic_creation) and the broker
// (auto.create.topics.enable) allow it. A null topic list (v1+), or an empty one in v0, means all.
import type { Broker } from '../../broker/broker.js';
import { isInternalTopic } from '../../broker/topic-names.js';
import type { Topic } from '../../broker/topic-registry.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type {
  MetadataRequest,
  MetadataResponseInput,
  MetadataResponseTopicInput,
} from '../../protocol/generated/metadata.js';
import type { KafkaHandler } from './handler.js';

/** "Not requested" for authorized-operations fields. */
const OPERATIONS_NOT_REQUESTED = -2147483648;
import { ZERO_UUID } from '../../protocol/primitives/helpers.js';

function describeTopic(broker: Broker, topic: Topic): MetadataResponseTopicInput {
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.id,
    isInternal: isInternalTopic(topic.name),
    partitions: Array.from({ length: topic.partitions }, (_, partitionIndex) => {
      const placement = broker.metadata.placement(topic.name, partitionIndex);
      // Listed in topics.json but not open (its open is still under way): no leader yet.
      if (placement === undefined)
        return {
          errorCode: ErrorCode.LEADER_NOT_AVAILABLE,
          partitionIndex,
          leaderId: -1,
          leaderEpoch: -1,
          replicaNodes: [],
          isrNodes: [],
          offlineReplicas: [],
        };
      return {
        // Placed, but no broker leads it now (a cluster between leaders): Kafka's answer, with the replicas.
        errorCode: placement.leaderId === -1 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
        partitionIndex,
        leaderId: placement.leaderId,
        leaderEpoch: placement.leaderEpoch,
        replicaNodes: [...placement.replicas],
        isrNodes: [...placement.inSyncReplicas],
        offlineReplicas: [...placement.offlineReplicas],
      };
    }),
    topicAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
  };
}

export function metadataHandler(broker: Broker): KafkaHandler<MetadataRequest, MetadataResponseInput> {
  return {
    apiKey: ApiKey.Metadata,
    name: 'Metadata',
    versions: { min: 0, max: 9 },
    async handle(request, context) {
      const all = request.topics === null || (context.apiVersion === 0 && request.topics.length === 0);
      const allowAutoCreate = context.apiVersion < 4 ? true : request.allowAutoTopicCreation;
      const topics: MetadataResponseTopicInput[] = [];
      if (all) {
        for (const topic of broker.topics.all()) topics.push(describeTopic(broker, topic));
      } else {
        for (const requested of request.topics!) {
          const name = requested.name ?? '';
          const found = await broker.topicForMetadata(name, allowAutoCreate);
          if (found.topic) topics.push(describeTopic(broker, found.topic));
          else
            topics.push({
              errorCode: found.errorCode,
              name,
              topicId: ZERO_UUID,
              isInternal: false,
              partitions: [],
              topicAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
            });
        }
      }
      return {
        throttleTimeMs: 0,
        brokers: broker.metadata.nodes().map(({ nodeId, host, port, rack }) => ({ nodeId, host, port, rack })),
        clusterId: broker.metadata.clusterId,
        controllerId: broker.metadata.controllerId(),
        topics,
        clusterAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
      };
    },
  };
}
