// DescribeGroups (key 15), v0-5: state, protocol and members of each group. Member metadata and
// assignments are only filled in for a Stable group (Kafka's summaryNoMetadata otherwise). An
// unknown group is reported Dead without error, as Kafka does before v6. v3+ may ask for the
// authorized operations: without ACLs every group operation is allowed.
import type { Broker } from '../../broker/broker.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { DescribeGroupsRequest, DescribeGroupsResponseInput } from '../../protocol/generated/describe-groups.js';
import type { KafkaHandler } from './handler.js';

/** READ (3), DELETE (6), DESCRIBE (8): the ACL operations that apply to a group, as bits. */
const GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);
const OPERATIONS_NOT_REQUESTED = -2147483648;

export function describeGroupsHandler(
  broker: Broker,
): KafkaHandler<DescribeGroupsRequest, DescribeGroupsResponseInput> {
  return {
    apiKey: ApiKey.DescribeGroups,
    name: 'DescribeGroups',
    versions: { min: 0, max: 5 },
    handle(request, context) {
      const withOperations = context.apiVersion >= 3 && request.includeAuthorizedOperations;
      return {
        throttleTimeMs: 0,
        groups: request.groups.map((groupId) => {
          const g = broker.groups.describeGroup(groupId);
          return {
            errorCode: g.errorCode,
            groupId: g.groupId,
            groupState: g.state,
            protocolType: g.protocolType,
            protocolData: g.protocolData,
            members: g.members.map((m) => ({
              memberId: m.memberId,
              groupInstanceId: context.apiVersion >= 4 ? m.groupInstanceId : null,
              clientId: m.clientId,
              clientHost: m.clientHost,
              memberMetadata: m.metadata,
              memberAssignment: m.assignment,
            })),
            authorizedOperations: withOperations ? GROUP_OPERATIONS : OPERATIONS_NOT_REQUESTED,
          };
        }),
      };
    },
  };
}
