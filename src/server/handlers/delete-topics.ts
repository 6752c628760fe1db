// DeleteTopics (key 20), versions 1-6 (v6 may name a topic by id instead of name).
import type { Broker } from '../../broker/broker.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type {
  DeletableTopicResultInput,
  DeleteTopicsRequest,
  DeleteTopicsResponseInput,
} from '../../protocol/generated/delete-topics.js';
import type { KafkaHandler } from './handler.js';

import { ZERO_UUID } from '../../protocol/primitives/helpers.js';

export function deleteTopicsHandler(broker: Broker): KafkaHandler<DeleteTopicsRequest, DeleteTopicsResponseInput> {
  return {
    apiKey: ApiKey.DeleteTopics,
    name: 'DeleteTopics',
    versions: { min: 1, max: 6 },
    async handle(request, context) {
      const wanted =
        context.apiVersion >= 6
          ? request.topics.map((t) => ({ name: t.name, topicId: t.topicId }))
          : request.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
      const responses: DeletableTopicResultInput[] = [];
      for (const w of wanted) {
        const name = w.name ?? (ZERO_UUID.equals(w.topicId) ? undefined : broker.topics.byId(w.topicId)?.name);
        if (name === undefined) {
          responses.push({
            name: w.name,
            topicId: w.topicId,
            errorCode: w.name === null ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            errorMessage: 'This server does not host this topic.',
          });
          continue;
        }
        const result = await broker.deleteTopic(name);
        responses.push({
          name,
          topicId: result.topicId ?? w.topicId,
          errorCode: result.errorCode,
          errorMessage: result.errorMessage,
        });
      }
      return { throttleTimeMs: 0, responses };
    },
  };
}
