// OffsetFetch (key 9), v1-8: committed offsets of a group (-1 and "" where none). v2+ accept a
// null topic list (every committed partition) and have a top-level error; v8 batches groups.
// require_stable (v7+): a partition with a transactional offset commit still pending answers
// UNSTABLE_OFFSET_COMMIT, which clients retry (KIP-447).
import type { Broker } from '../../broker/broker.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { OffsetFetchRequest, OffsetFetchResponseInput } from '../../protocol/generated/offset-fetch.js';
import type { KafkaHandler } from './handler.js';

export function offsetFetchHandler(broker: Broker): KafkaHandler<OffsetFetchRequest, OffsetFetchResponseInput> {
  const fetch = (
    groupId: string,
    topics: Array<{ name: string; partitionIndexes: number[] }> | null,
    requireStable: boolean,
  ) => {
    const result = broker.groups.fetchOffsets(
      groupId,
      topics === null ? null : topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes })),
      requireStable,
    );
    return {
      errorCode: result.errorCode,
      topics: result.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partition,
          committedOffset: BigInt(p.offset),
          committedLeaderEpoch: p.leaderEpoch,
          metadata: p.metadata,
          errorCode: p.errorCode,
        })),
      })),
    };
  };
  return {
    apiKey: ApiKey.OffsetFetch,
    name: 'OffsetFetch',
    versions: { min: 1, max: 8 },
    handle(request, context) {
      if (context.apiVersion >= 8) {
        return {
          throttleTimeMs: 0,
          groups: request.groups.map((g) => ({
            groupId: g.groupId,
            ...fetch(g.groupId, g.topics, request.requireStable),
          })),
        };
      }
      const result = fetch(
        request.groupId,
        context.apiVersion >= 2 ? request.topics : (request.topics ?? []),
        context.apiVersion >= 7 && request.requireStable,
      );
      return { throttleTimeMs: 0, errorCode: result.errorCode, topics: result.topics };
    },
  };
}
