// Heartbeat (key 12): keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin.
import type { Broker } from '../../broker/broker.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { HeartbeatRequest, HeartbeatResponseInput } from '../../protocol/generated/heartbeat.js';
import type { KafkaHandler } from './handler.js';

export function heartbeatHandler(broker: Broker): KafkaHandler<HeartbeatRequest, HeartbeatResponseInput> {
  return {
    apiKey: ApiKey.Heartbeat,
    name: 'Heartbeat',
    versions: { min: 0, max: 4 },
    handle(request, context) {
      const groupInstanceId = context.apiVersion >= 3 ? request.groupInstanceId : null;
      return {
        throttleTimeMs: 0,
        errorCode: broker.groups.heartbeat(request.groupId, request.memberId, groupInstanceId, request.generationId),
      };
    },
  };
}
