// How to answer each API when its handler failed: the API's own response shape with one error code
// in every place the client looks for one (each topic-partition, each resource, each group), as
// Kafka's `AbstractRequest.getErrorResponse` does. The router uses these when a handler throws or
// returns a response that cannot be encoded: the client gets UNKNOWN_SERVER_ERROR for that request,
// its connection stays open, and the requests pipelined behind it are answered as usual.
//
// Fields a builder leaves out take their schema defaults in the generated encoders, so each builder
// names only what identifies an entry (topic, partition index, resource, group) and the error code.
// `null` means "send nothing": Produce with acks=0 expects no response, so a failure there closes
// the connection instead (what Kafka does; the client notices and retries).
import { ApiKey } from '../../protocol/generated/index.js';

export interface ErrorContext {
  apiVersion: number;
  /** A short description of the failure for the fields that carry a message. */
  message: string;
}

/** Builds the response body that reports `errorCode` for every part of `request`. */
export type ErrorResponseBuilder = (request: any, errorCode: number, context: ErrorContext) => object | null;

type Entry = Record<string, unknown>;

/** Maps a list that may be missing (null in versions without it) to entries. */
function each<T = any>(list: readonly T[] | null | undefined, build: (item: T) => Entry): Entry[] {
  return (list ?? []).map(build);
}

/** Topic → partitions, the most common shape: `topicKey` names the topic's field in the response. */
function perPartition(
  topics: readonly any[] | null | undefined,
  partitionsOf: (topic: any) => readonly any[] | null | undefined,
  topic: (topic: any) => Entry,
  partition: (partition: any) => Entry,
  partitionsField = 'partitions',
): Entry[] {
  return each(topics, (t) => ({ ...topic(t), [partitionsField]: each(partitionsOf(t), partition) }));
}

const topLevel = (errorCode: number): Entry => ({ throttleTimeMs: 0, errorCode });

/** Every API the broker serves, by key. The router refuses a handler whose API has no entry here. */
export const errorResponseBuilders: ReadonlyMap<number, ErrorResponseBuilder> = new Map<number, ErrorResponseBuilder>([
  [
    ApiKey.Produce,
    (request, errorCode, { message }) => {
      if (request.acks === 0) return null;
      return {
        throttleTimeMs: 0,
        responses: perPartition(
          request.topicData,
          (t) => t.partitionData,
          (t) => ({ name: t.name, topicId: t.topicId }),
          (p) => ({ index: p.index, errorCode, baseOffset: -1n, errorMessage: message }),
          'partitionResponses',
        ),
      };
    },
  ],
  [
    ApiKey.Fetch,
    (request, errorCode) => ({
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: perPartition(
        request.topics,
        (t) => t.partitions,
        (t) => ({ topic: t.topic, topicId: t.topicId }),
        (p) => ({ partitionIndex: p.partition, errorCode, highWatermark: -1n, records: null }),
      ),
    }),
  ],
  [
    ApiKey.ListOffsets,
    (request, errorCode) => ({
      throttleTimeMs: 0,
      topics: perPartition(
        request.topics,
        (t) => t.partitions,
        (t) => ({ name: t.name }),
        (p) => ({ partitionIndex: p.partitionIndex, errorCode, timestamp: -1n, offset: -1n }),
      ),
    }),
  ],
  [
    ApiKey.Metadata,
    (request, errorCode) => ({
      throttleTimeMs: 0,
      brokers: [],
      controllerId: -1,
      topics: each(request.topics, (t) => ({ errorCode, name: t.name ?? '', topicId: t.topicId, partitions: [] })),
    }),
  ],
  [
    ApiKey.OffsetCommit,
    (request, errorCode) => ({
      throttleTimeMs: 0,
      topics: perPartition(
        request.topics,
        (t) => t.partitions,
        (t) => ({ name: t.name, topicId: t.topicId }),
        (p) => ({ partitionIndex: p.partitionIndex, errorCode }),
      ),
    }),
  ],
  [
    ApiKey.OffsetFetch,
    (request, errorCode, { apiVersion }) => {
      if (apiVersion >= 8) {
        return {
          throttleTimeMs: 0,
          groups: each(request.groups, (g) => ({ groupId: g.groupId, topics: [], errorCode })),
        };
      }
      // v0-1 have no top-level error code: each partition carries it.
      return {
        ...topLevel(errorCode),
        topics: perPartition(
          request.topics,
          (t) => t.partitionIndexes,
          (t) => ({ name: t.name }),
          (partitionIndex) => ({ partitionIndex, committedOffset: -1n, metadata: '', errorCode }),
        ),
      };
    },
  ],
  [
    ApiKey.FindCoordinator,
    (request, errorCode, { apiVersion, message }) => {
      if (apiVersion < 4) return { ...topLevel(errorCode), errorMessage: message, nodeId: -1, host: '', port: -1 };
      return {
        throttleTimeMs: 0,
        coordinators: each(request.coordinatorKeys, (key) => ({ key, nodeId: -1, host: '', port: -1, errorCode })),
      };
    },
  ],
  [ApiKey.JoinGroup, (_request, errorCode) => ({ ...topLevel(errorCode), generationId: -1, members: [] })],
  [ApiKey.Heartbeat, (_request, errorCode) => topLevel(errorCode)],
  [ApiKey.LeaveGroup, (_request, errorCode) => ({ ...topLevel(errorCode), members: [] })],
  [ApiKey.SyncGroup, (_request, errorCode) => ({ ...topLevel(errorCode), assignment: Buffer.alloc(0) })],
  [
    ApiKey.DescribeGroups,
    (request, errorCode) => ({
      throttleTimeMs: 0,
      groups: each(request.groups, (groupId) => ({ errorCode, groupId, groupState: '', members: [] })),
    }),
  ],
  [ApiKey.ListGroups, (_request, errorCode) => ({ ...topLevel(errorCode), groups: [] })],
  [ApiKey.ApiVersions, (_request, errorCode) => ({ ...topLevel(errorCode), apiKeys: [] })],
  [
    ApiKey.CreateTopics,
    (request, errorCode, { message }) => ({
      throttleTimeMs: 0,
      topics: each(request.topics, (t) => ({ name: t.name, errorCode, errorMessage: message, configs: null })),
    }),
  ],
  [
    ApiKey.DeleteTopics,
    (request, errorCode, { apiVersion, message }) => ({
      throttleTimeMs: 0,
      responses:
        apiVersion >= 6
          ? each(request.topics, (t) => ({ name: t.name, topicId: t.topicId, errorCode, errorMessage: message }))
          : each(request.topicNames, (name) => ({ name, errorCode, errorMessage: message })),
    }),
  ],
  [
    ApiKey.DeleteRecords,
    (request, errorCode) => ({
      throttleTimeMs: 0,
      topics: perPartition(
        request.topics,
        (t) => t.partitions,
        (t) => ({ name: t.name }),
        (p) => ({ partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode }),
      ),
    }),
  ],
  [ApiKey.InitProducerId, (_request, errorCode) => ({ ...topLevel(errorCode), producerId: -1n, producerEpoch: -1 })],
  [
    ApiKey.OffsetForLeaderEpoch,
    (request, errorCode) => ({
      throttleTimeMs: 0,
      topics: perPartition(
        request.topics,
        (t) => t.partitions,
        (t) => ({ topic: t.topic }),
        (p) => ({ errorCode, partition: p.partition, leaderEpoch: -1, endOffset: -1n }),
      ),
    }),
  ],
  [
    ApiKey.AddPartitionsToTxn,
    (request, errorCode, { apiVersion }) => {
      const topicResults = (topics: readonly any[]) =>
        each(topics, (t) => ({
          name: t.name,
          resultsByPartition: each(t.partitions, (partitionIndex) => ({
            partitionIndex,
            partitionErrorCode: errorCode,
          })),
        }));
      if (apiVersion < 4)
        return { throttleTimeMs: 0, resultsByTopicV3AndBelow: topicResults(request.v3AndBelowTopics) };
      return {
        throttleTimeMs: 0,
        errorCode,
        resultsByTransaction: each(request.transactions, (transaction) => ({
          transactionalId: transaction.transactionalId,
          topicResults: topicResults(transaction.topics),
        })),
      };
    },
  ],
  [ApiKey.AddOffsetsToTxn, (_request, errorCode) => topLevel(errorCode)],
  [ApiKey.EndTxn, (_request, errorCode) => topLevel(errorCode)],
  [
    ApiKey.TxnOffsetCommit,
    (request, errorCode) => ({
      throttleTimeMs: 0,
      topics: perPartition(
        request.topics,
        (t) => t.partitions,
        (t) => ({ name: t.name }),
        (p) => ({ partitionIndex: p.partitionIndex, errorCode }),
      ),
    }),
  ],
  [
    ApiKey.DescribeConfigs,
    (request, errorCode, { message }) => ({
      throttleTimeMs: 0,
      results: each(request.resources, (r) => ({
        errorCode,
        errorMessage: message,
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        configs: [],
      })),
    }),
  ],
  [ApiKey.AlterConfigs, alterConfigsError],
  [
    ApiKey.CreatePartitions,
    (request, errorCode, { message }) => ({
      throttleTimeMs: 0,
      results: each(request.topics, (t) => ({ name: t.name, errorCode, errorMessage: message })),
    }),
  ],
  [
    ApiKey.DeleteGroups,
    (request, errorCode) => ({
      throttleTimeMs: 0,
      results: each(request.groupsNames, (groupId) => ({ groupId, errorCode })),
    }),
  ],
  [ApiKey.IncrementalAlterConfigs, alterConfigsError],
  [ApiKey.OffsetDelete, (_request, errorCode) => ({ ...topLevel(errorCode), topics: [] })],
  [
    ApiKey.DescribeCluster,
    (_request, errorCode, { message }) => ({
      ...topLevel(errorCode),
      errorMessage: message,
      clusterId: '',
      controllerId: -1,
      brokers: [],
    }),
  ],
  [
    ApiKey.DescribeTransactions,
    (request, errorCode) => ({
      throttleTimeMs: 0,
      transactionStates: each(request.transactionalIds, (transactionalId) => ({
        errorCode,
        transactionalId,
        transactionState: '',
        transactionTimeoutMs: 0,
        transactionStartTimeMs: -1n,
        producerId: -1n,
        producerEpoch: -1,
        topics: [],
      })),
    }),
  ],
  [ApiKey.SaslHandshake, (_request, errorCode) => ({ errorCode, mechanisms: [] })],
  [
    ApiKey.SaslAuthenticate,
    (_request, errorCode, { message }) => ({ errorCode, errorMessage: message, authBytes: Buffer.alloc(0) }),
  ],
  [
    ApiKey.WriteTxnMarkers,
    (request, errorCode) => ({
      markers: each(request.markers, (marker) => ({
        producerId: marker.producerId,
        topics: perPartition(
          marker.topics,
          (t) => t.partitionIndexes,
          (t) => ({ name: t.name }),
          (partitionIndex) => ({ partitionIndex, errorCode }),
        ),
      })),
    }),
  ],
  [ApiKey.ListTransactions, (_request, errorCode) => ({ ...topLevel(errorCode), transactionStates: [] })],
]);

function alterConfigsError(request: any, errorCode: number, { message }: ErrorContext): object {
  return {
    throttleTimeMs: 0,
    responses: each(request.resources, (r) => ({
      errorCode,
      errorMessage: message,
      resourceType: r.resourceType,
      resourceName: r.resourceName,
    })),
  };
}
