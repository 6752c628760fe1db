// ListGroups (key 16): every group this node coordinates; v4+ filter by state (case-insensitive,
// as Kafka) and report each group's state.
import type { Broker } from '../../broker/broker.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type { ListGroupsRequest, ListGroupsResponseInput } from '../../protocol/generated/list-groups.js';
import type { KafkaHandler } from './handler.js';

export function listGroupsHandler(broker: Broker): KafkaHandler<ListGroupsRequest, ListGroupsResponseInput> {
  return {
    apiKey: ApiKey.ListGroups,
    name: 'ListGroups',
    versions: { min: 0, max: 4 },
    handle(request, context) {
      const filter = context.apiVersion >= 4 ? request.statesFilter : [];
      const groups = broker.groups.listGroups(filter).map((g) => ({
        groupId: g.groupId,
        protocolType: g.protocolType,
        ...(context.apiVersion >= 4 ? { groupState: g.state } : {}),
      }));
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups };
    },
  };
}
