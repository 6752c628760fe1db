// Fetch (key 1), versions 4-12. Full fetches only: every request is answered with session_id 0,
// which declines incremental fetch sessions (KIP-227) — clients then send full fetches. Long-poll
// (max_wait_ms/min_bytes) is woken by appends (Broker.fetch). Records are the stored batches as
// read from the segment, handed to the socket without a copy (ByteWriter references large buffers).
// isolation_level 1 (read_committed) stops at each partition's last stable offset and lists the
// aborted transactions overlapping the records returned, so the client drops their records.
// A partition the metadata view says another broker leads (or none does) is NOT_LEADER_OR_FOLLOWER,
// with the leader and epoch the view knows in v12's current_leader, and is not read. (Fetching from a
// follower, KIP-392, is for the cluster to add: preferred_read_replica stays -1.)
import { READ_COMMITTED, type Broker } from '../../broker/broker.js';
import { leaderEpochMismatch, ledElsewhere, type PartitionPlacement } from '../../broker/metadata/view.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type { FetchRequest, FetchResponseInput, PartitionDataInput } from '../../protocol/generated/fetch.js';
import type { KafkaHandler } from './handler.js';
import type { ClusterNode } from '../../cluster/cluster-node.js';

/** What a partition that is not read carries, as Kafka sends (empty, not null). */
const NO_RECORDS = Buffer.alloc(0);

interface WantedPartition {
  fetchOffset: number;
  partitionMaxBytes: number;
  /** Set when another broker leads the partition: answered NOT_LEADER_OR_FOLLOWER, not read. */
  elsewhere: PartitionPlacement | undefined;
  /** FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH when the fetcher's leader epoch is not the leader's
   *  (KIP-320): not read, answered with the leader and epoch the view knows. */
  epochError: { errorCode: number; placement: PartitionPlacement } | undefined;
}

/** KIP-320: a fetcher that names a leader epoch (v9+, ≥ 0) other than the partition's current one. */
function epochErrorOf(placement: PartitionPlacement | undefined, currentLeaderEpoch: number) {
  const errorCode = leaderEpochMismatch(placement, currentLeaderEpoch);
  return errorCode === undefined ? undefined : { errorCode, placement: placement! };
}

export function fetchHandler(
  broker: Broker,
  cluster: ClusterNode | null = null,
): KafkaHandler<FetchRequest, FetchResponseInput> {
  return {
    apiKey: ApiKey.Fetch,
    name: 'Fetch',
    versions: { min: 4, max: 12 },
    async handle(request, context) {
      if (request.sessionId !== 0) {
        return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] };
      }
      // A follower of a cluster (replica_id ≥ 0) reads past the high watermark: the cluster serves it.
      if (request.replicaId >= 0 && cluster !== null) return cluster.replicaFetch(request, context.signal);
      // Each topic-partition is read once, however often the request names it (as in Kafka, where
      // the request is a map): a small request cannot ask for the same data hundreds of times.
      const view = broker.metadata;
      const topics = new Map<string, Map<number, WantedPartition>>();
      for (const topic of request.topics) {
        const partitions = topics.get(topic.topic) ?? new Map<number, WantedPartition>();
        for (const p of topic.partitions)
          if (!partitions.has(p.partition)) {
            const elsewhere = ledElsewhere(view, topic.topic, p.partition);
            partitions.set(p.partition, {
              fetchOffset: Number(p.fetchOffset),
              partitionMaxBytes: p.partitionMaxBytes,
              elsewhere,
              epochError:
                elsewhere === undefined
                  ? epochErrorOf(view.placement(topic.topic, p.partition), p.currentLeaderEpoch)
                  : undefined,
            });
          }
        topics.set(topic.topic, partitions);
      }
      const wanted = [];
      for (const [topic, partitions] of topics)
        for (const [partition, p] of partitions)
          if (p.elsewhere === undefined && p.epochError === undefined)
            wanted.push({ topic, partition, fetchOffset: p.fetchOffset, partitionMaxBytes: p.partitionMaxBytes });
      const results = await broker.fetch(
        wanted,
        {
          maxWaitMs: request.maxWaitMs,
          minBytes: request.minBytes,
          maxBytes: request.maxBytes,
          isolationLevel: request.isolationLevel === READ_COMMITTED ? READ_COMMITTED : 0,
        },
        context.signal,
      );
      let index = 0;
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        sessionId: 0,
        responses: [...topics].map(([topic, partitions]) => ({
          topic,
          partitions: [...partitions].map(([partition, p]): PartitionDataInput => {
            if (p.elsewhere !== undefined) return notLeader(partition, p.elsewhere);
            if (p.epochError !== undefined) return notLeader(partition, p.epochError.placement, p.epochError.errorCode);
            const r = results[index++]!;
            return {
              partitionIndex: r.partition,
              errorCode: r.errorCode,
              highWatermark: BigInt(r.highWatermark),
              lastStableOffset: BigInt(r.lastStableOffset),
              logStartOffset: BigInt(r.logStartOffset),
              abortedTransactions:
                r.abortedTransactions === null
                  ? null
                  : r.abortedTransactions.map((a) => ({
                      producerId: BigInt(a.producerId),
                      firstOffset: BigInt(a.firstOffset),
                    })),
              preferredReadReplica: -1,
              records: r.records,
            };
          }),
        })),
      };
    },
  };
}

function notLeader(
  partitionIndex: number,
  placement: PartitionPlacement,
  errorCode: number = ErrorCode.NOT_LEADER_OR_FOLLOWER,
): PartitionDataInput {
  return {
    partitionIndex,
    errorCode,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    currentLeader: { leaderId: placement.leaderId, leaderEpoch: placement.leaderEpoch },
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: NO_RECORDS,
  };
}
