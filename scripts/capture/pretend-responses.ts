// The answers of the pretend broker of scripts/capture-fixtures.ts: just enough of a one-node
// broker for each client to get through its first requests — ApiVersions with the ranges of
// docs/api-versions.md Table B, Metadata naming itself as the only broker and leader, Produce with
// offsets, empty Fetches, FindCoordinator pointing at itself, a one-member group. The bodies are
// encoded with our generated codecs, so capturing doubles as a smoke test of the encoders against
// three independent client implementations.
import { ApiKey } from '../../src/protocol/generated/index.js';
import { CAPTURE_TOPIC, HOST } from './names.js';

const NODE_ID = 1;
const CLUSTER_ID = 'sluice-capture-cluster';
const AUTHORIZED_OPERATIONS_NOT_REQUESTED = -2147483648;
const FETCH_WAIT_CAP_MS = 250;

/** docs/api-versions.md, Table B: what Sluice advertises in phase 1. */
const ADVERTISED: ReadonlyArray<readonly [apiKey: number, min: number, max: number]> = [
  [0, 0, 7],
  [1, 4, 12],
  [2, 1, 5],
  [3, 0, 9],
  [8, 2, 8],
  [9, 1, 8],
  [10, 0, 4],
  [11, 0, 6],
  [12, 0, 4],
  [13, 0, 4],
  [14, 0, 4],
  [15, 0, 5],
  [16, 0, 4],
  [17, 0, 1],
  [18, 0, 4],
  [19, 2, 7],
  [20, 1, 6],
  [21, 0, 2],
  [22, 0, 4],
  [23, 2, 4],
  [24, 0, 3],
  [25, 0, 3],
  [26, 0, 4],
  [28, 0, 3],
  [32, 1, 2],
  [33, 0, 2],
  [36, 0, 2],
  [37, 0, 3],
  [42, 0, 2],
  [44, 0, 1],
  [60, 0, 1],
];

/** The ApiVersions entries of what the pretend broker advertises. */
export function advertisedApiKeys(): Array<{ apiKey: number; minVersion: number; maxVersion: number }> {
  return ADVERTISED.map(([apiKey, minVersion, maxVersion]) => ({ apiKey, minVersion, maxVersion }));
}

/** Answers one decoded request; keeps the little state a client notices (offsets, member ids). */
export class PretendResponses {
  private readonly nextOffset = new Map<string, bigint>();
  private memberCounter = 0;

  /** `port` is the listener's, read when a response names this broker. */
  constructor(private readonly port: () => number) {}

  private partitionMetadata(): object {
    return {
      errorCode: 0,
      partitionIndex: 0,
      leaderId: NODE_ID,
      leaderEpoch: 0,
      replicaNodes: [NODE_ID],
      isrNodes: [NODE_ID],
      offlineReplicas: [],
    };
  }

  // The bodies below are typed loosely (`any`): each API has its own generated types, and this
  // pretend broker only fills in what a client needs to carry on.
  /** The response body to `request`, or undefined when it gets none (an acks=0 Produce). */
  async respond(apiKey: number, version: number, request: any, clientId: string): Promise<object | undefined> {
    switch (apiKey) {
      case ApiKey.ApiVersions:
        return { errorCode: 0, apiKeys: advertisedApiKeys(), throttleTimeMs: 0 };
      case ApiKey.Metadata: {
        const names: string[] =
          request.topics === null || request.topics.length === 0
            ? [CAPTURE_TOPIC]
            : request.topics.map((t: { name: string | null }) => t.name ?? CAPTURE_TOPIC);
        return {
          brokers: [{ nodeId: NODE_ID, host: HOST, port: this.port(), rack: null }],
          clusterId: CLUSTER_ID,
          controllerId: NODE_ID,
          topics: names.map((name) => ({
            errorCode: 0,
            name,
            isInternal: false,
            partitions: [this.partitionMetadata()],
            topicAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED,
          })),
          clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED,
        };
      }
      case ApiKey.Produce: {
        if (request.acks === 0) return undefined;
        return {
          responses: request.topicData.map(
            (topic: { name: string; partitionData: Array<{ index: number; records: Buffer | null }> }) => ({
              name: topic.name,
              partitionResponses: topic.partitionData.map((partition) => {
                const key = `${topic.name}/${partition.index}`;
                const baseOffset = this.nextOffset.get(key) ?? 0n;
                // RecordBatch v2: recordCount is the int32 at byte 57.
                const records = partition.records;
                const count = records && records.length >= 61 ? BigInt(records.readInt32BE(57)) : 0n;
                this.nextOffset.set(key, baseOffset + count);
                return { index: partition.index, errorCode: 0, baseOffset, logAppendTimeMs: -1n, logStartOffset: 0n };
              }),
            }),
          ),
        };
      }
      case ApiKey.Fetch: {
        // An empty partition; wait a little like a long poll so clients do not spin.
        await new Promise((resolve) => setTimeout(resolve, Math.min(request.maxWaitMs, FETCH_WAIT_CAP_MS)));
        return {
          errorCode: 0,
          sessionId: 0,
          responses: request.topics.map(
            (topic: { topic: string; topicId: Buffer; partitions: Array<{ partition: number }> }) => ({
              topic: topic.topic,
              topicId: topic.topicId,
              partitions: topic.partitions.map((p) => ({
                partitionIndex: p.partition,
                errorCode: 0,
                highWatermark: 0n,
                lastStableOffset: 0n,
                logStartOffset: 0n,
                abortedTransactions: [],
                preferredReadReplica: -1,
                records: Buffer.alloc(0),
              })),
            }),
          ),
        };
      }
      case ApiKey.ListOffsets:
        return {
          topics: request.topics.map((topic: { name: string; partitions: Array<{ partitionIndex: number }> }) => ({
            name: topic.name,
            partitions: topic.partitions.map((p) => ({
              partitionIndex: p.partitionIndex,
              errorCode: 0,
              timestamp: -1n,
              offset: 0n,
              ...(version >= 4 ? { leaderEpoch: 0 } : {}),
            })),
          })),
        };
      case ApiKey.FindCoordinator:
        if (version >= 4) {
          return {
            coordinators: request.coordinatorKeys.map((key: string) => ({
              key,
              nodeId: NODE_ID,
              host: HOST,
              port: this.port(),
              errorCode: 0,
            })),
          };
        }
        return { errorCode: 0, nodeId: NODE_ID, host: HOST, port: this.port() };
      case ApiKey.JoinGroup: {
        // Assign a member id on the first join instead of the MEMBER_ID_REQUIRED round trip (DESIGN gotcha 9).
        const memberId: string = request.memberId || `${clientId}-${++this.memberCounter}`;
        const protocol = request.protocols[0] as { name: string; metadata: Buffer };
        return {
          errorCode: 0,
          generationId: 1,
          protocolType: request.protocolType,
          protocolName: protocol.name,
          leader: memberId,
          memberId,
          members: [{ memberId, groupInstanceId: request.groupInstanceId, metadata: protocol.metadata }],
        };
      }
      case ApiKey.SyncGroup: {
        const own = (request.assignments as Array<{ memberId: string; assignment: Buffer }>).find(
          (a) => a.memberId === request.memberId,
        );
        return version >= 5
          ? {
              errorCode: 0,
              protocolType: request.protocolType,
              protocolName: request.protocolName,
              assignment: own?.assignment ?? Buffer.alloc(0),
            }
          : { errorCode: 0, assignment: own?.assignment ?? Buffer.alloc(0) };
      }
      case ApiKey.OffsetFetch: {
        const noOffset = (partitionIndex: number) => ({
          partitionIndex,
          committedOffset: -1n,
          committedLeaderEpoch: -1,
          metadata: '',
          errorCode: 0,
        });
        if (version >= 8) {
          return {
            groups: request.groups.map(
              (group: { groupId: string; topics: Array<{ name: string; partitionIndexes: number[] }> | null }) => ({
                groupId: group.groupId,
                errorCode: 0,
                topics: (group.topics ?? []).map((t) => ({
                  name: t.name,
                  partitions: t.partitionIndexes.map(noOffset),
                })),
              }),
            ),
          };
        }
        return {
          errorCode: 0,
          topics: ((request.topics ?? []) as Array<{ name: string; partitionIndexes: number[] }>).map((t) => ({
            name: t.name,
            partitions: t.partitionIndexes.map(noOffset),
          })),
        };
      }
      case ApiKey.InitProducerId:
        return { errorCode: 0, producerId: 1000n, producerEpoch: 0 };
      case ApiKey.CreateTopics:
        return {
          topics: request.topics.map((t: { name: string; numPartitions: number; replicationFactor: number }) =>
            version >= 5
              ? {
                  name: t.name,
                  errorCode: 0,
                  errorMessage: null,
                  numPartitions: Math.max(t.numPartitions, 1),
                  replicationFactor: Math.max(t.replicationFactor, 1),
                  configs: [],
                }
              : { name: t.name, errorCode: 0, errorMessage: null },
          ),
        };
      default:
        // Heartbeat, OffsetCommit, LeaveGroup, …: every field at its default means "no error".
        return {};
    }
  }
}
