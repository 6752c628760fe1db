// LeaveGroup (key 13): v0-2 name one member; v3+ a batch of members, by member id or
// group.instance.id (KIP-345), each with its own error. For v0-2 the one member's error is the
// response's error, as Kafka reports it.
import type { Broker } from '../../broker/broker.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type { LeaveGroupRequest, LeaveGroupResponseInput } from '../../protocol/generated/leave-group.js';
import type { KafkaHandler } from './handler.js';

export function leaveGroupHandler(broker: Broker): KafkaHandler<LeaveGroupRequest, LeaveGroupResponseInput> {
  return {
    apiKey: ApiKey.LeaveGroup,
    name: 'LeaveGroup',
    versions: { min: 0, max: 4 },
    handle(request, context) {
      if (context.apiVersion < 3) {
        const result = broker.groups.leave(request.groupId, [{ memberId: request.memberId, groupInstanceId: null }]);
        const errorCode =
          result.errorCode !== ErrorCode.NONE ? result.errorCode : (result.members[0]?.errorCode ?? ErrorCode.NONE);
        return { throttleTimeMs: 0, errorCode };
      }
      const result = broker.groups.leave(
        request.groupId,
        request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId })),
      );
      return {
        throttleTimeMs: 0,
        errorCode: result.errorCode,
        members: result.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          errorCode: m.errorCode,
        })),
      };
    },
  };
}
