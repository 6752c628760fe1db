// DeleteGroups (key 42), v0-2: removes Empty groups with their committed offsets (tombstones in
// `__consumer_offsets`); NON_EMPTY_GROUP while members remain, GROUP_ID_NOT_FOUND if unknown.
import type { Broker } from '../../broker/broker.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { DeleteGroupsRequest, DeleteGroupsResponseInput } from '../../protocol/generated/delete-groups.js';
import type { KafkaHandler } from './handler.js';

export function deleteGroupsHandler(broker: Broker): KafkaHandler<DeleteGroupsRequest, DeleteGroupsResponseInput> {
  return {
    apiKey: ApiKey.DeleteGroups,
    name: 'DeleteGroups',
    versions: { min: 0, max: 2 },
    async handle(request) {
      const results = [];
      for (const groupId of request.groupsNames)
        results.push({ groupId, errorCode: await broker.groups.deleteGroup(groupId) });
      return { throttleTimeMs: 0, results };
    },
  };
}
