// JoinGroup (key 11): parks until the rebalance completes (broker/groups/coordinator.ts).
// v0 has no rebalance timeout (the session timeout serves as both, as in Kafka); v4+ new members
// get MEMBER_ID_REQUIRED with their id first (KIP-394); v5+ carry group.instance.id (KIP-345).
import type { Broker } from '../../broker/broker.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { JoinGroupRequest, JoinGroupResponseInput } from '../../protocol/generated/join-group.js';
import { clientHostOf } from './group-common.js';
import type { KafkaHandler } from './handler.js';

export function joinGroupHandler(broker: Broker): KafkaHandler<JoinGroupRequest, JoinGroupResponseInput> {
  return {
    apiKey: ApiKey.JoinGroup,
    name: 'JoinGroup',
    versions: { min: 0, max: 6 },
    async handle(request, context) {
      const result = await broker.groups.join({
        groupId: request.groupId,
        memberId: request.memberId,
        groupInstanceId: context.apiVersion >= 5 ? request.groupInstanceId : null,
        requireKnownMemberId: context.apiVersion >= 4 && request.groupInstanceId === null,
        clientId: context.clientId ?? '',
        clientHost: clientHostOf(context.peer),
        rebalanceTimeoutMs: context.apiVersion >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
        sessionTimeoutMs: request.sessionTimeoutMs,
        protocolType: request.protocolType,
        protocols: request.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
      });
      return {
        throttleTimeMs: 0,
        errorCode: result.errorCode,
        generationId: result.generationId,
        // protocol_name is not nullable before v7: an error answer carries "".
        protocolName: result.protocolName ?? '',
        leader: result.leaderId,
        memberId: result.memberId,
        members: result.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: context.apiVersion >= 5 ? m.groupInstanceId : null,
          metadata: m.metadata,
        })),
      };
    },
  };
}
