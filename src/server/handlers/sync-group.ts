// SyncGroup (key 14): followers park until the leader's assignment is stored; the leader's
// request carries the assignment. v3+ carry group.instance.id.
import type { Broker } from '../../broker/broker.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { SyncGroupRequest, SyncGroupResponseInput } from '../../protocol/generated/sync-group.js';
import type { KafkaHandler } from './handler.js';

export function syncGroupHandler(broker: Broker): KafkaHandler<SyncGroupRequest, SyncGroupResponseInput> {
  return {
    apiKey: ApiKey.SyncGroup,
    name: 'SyncGroup',
    versions: { min: 0, max: 4 },
    async handle(request, context) {
      const result = await broker.groups.sync({
        groupId: request.groupId,
        generationId: request.generationId,
        memberId: request.memberId,
        groupInstanceId: context.apiVersion >= 3 ? request.groupInstanceId : null,
        protocolType: context.apiVersion >= 5 ? request.protocolType : null,
        protocolName: context.apiVersion >= 5 ? request.protocolName : null,
        assignments: request.assignments.map((a) => ({ memberId: a.memberId, assignment: Buffer.from(a.assignment) })),
      });
      return { throttleTimeMs: 0, errorCode: result.errorCode, assignment: result.assignment };
    },
  };
}
