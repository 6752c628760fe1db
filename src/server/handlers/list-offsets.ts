// ListOffsets (key 2), versions 1-11: per partition, the offset (and timestamp, and from v4 the leader
// epoch) for a time or a special timestamp; what each answers is broker/offset-lookup.ts.
//
// What the version decides, as Kafka's broker (ReplicaManager.isListOffsetsTimestampUnsupported):
//   v2+   isolation_level 1 (read_committed) answers below the last stable offset, not the high watermark
//   v4+   the response carries the leader epoch of the answer (−1 for none)
//   v7+   -3 MAX_TIMESTAMP (KIP-734)            v8+  -4 EARLIEST_LOCAL_TIMESTAMP (KIP-405)
//   v9+   -5 LATEST_TIERED_TIMESTAMP (KIP-1005)  v11+ -6 EARLIEST_PENDING_UPLOAD_TIMESTAMP (KIP-1023)
//   v10+  timeout_ms: how long to wait for tiered storage; Sluice has none, so every answer is at once
// A special timestamp sent below its version, and any other negative timestamp, is UNSUPPORTED_VERSION
// for that partition. A partition named twice in one request gets one answer, INVALID_REQUEST, as
// Kafka. A request with replica_id ≠ −1 (a follower, or −2 debugging) may see up to the log end.
// A partition the metadata view says another broker leads (or none does) is NOT_LEADER_OR_FOLLOWER.
// The leader epoch answered is the log's (the epoch of the offset found, as Kafka), not the view's.
// current_leader_epoch (v4+) is not checked: Metadata and Fetch do not fence by epoch yet either; when
// they do, all of them take the current epoch from the metadata view's placement.
import { READ_COMMITTED, type Broker } from '../../broker/broker.js';
import { leaderEpochMismatch, ledElsewhere } from '../../broker/metadata/view.js';
import { SpecialTimestamp, type FetchableLimit } from '../../broker/offset-lookup.js';
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type {
  ListOffsetsPartitionResponseInput,
  ListOffsetsRequest,
  ListOffsetsResponseInput,
} from '../../protocol/generated/list-offsets.js';
import type { KafkaHandler } from './handler.js';

/** The first version that may ask for each special timestamp (Kafka's timestampMinSupportedVersion). */
export const specialTimestampFirstVersion: ReadonlyMap<number, number> = new Map([
  [SpecialTimestamp.LATEST, 1],
  [SpecialTimestamp.EARLIEST, 1],
  [SpecialTimestamp.MAX_TIMESTAMP, 7],
  [SpecialTimestamp.EARLIEST_LOCAL, 8],
  [SpecialTimestamp.LATEST_TIERED, 9],
  [SpecialTimestamp.EARLIEST_PENDING_UPLOAD, 11],
]);

/** Kafka's CONSUMER_REPLICA_ID: the request comes from a client, not a replica. */
const CONSUMER_REPLICA_ID = -1;

function timestampUnsupported(timestamp: bigint, apiVersion: number): boolean {
  if (timestamp >= 0n) return false;
  const firstVersion = timestamp < -6n ? undefined : specialTimestampFirstVersion.get(Number(timestamp));
  return firstVersion === undefined || apiVersion < firstVersion;
}

export function listOffsetsHandler(broker: Broker): KafkaHandler<ListOffsetsRequest, ListOffsetsResponseInput> {
  return {
    apiKey: ApiKey.ListOffsets,
    name: 'ListOffsets',
    versions: { min: 1, max: 11 },
    async handle(request, context) {
      const version = context.apiVersion;
      const view = broker.metadata;
      const limit: FetchableLimit =
        request.replicaId !== CONSUMER_REPLICA_ID
          ? 'log-end'
          : version >= 2 && request.isolationLevel === READ_COMMITTED
            ? 'last-stable-offset'
            : 'high-watermark';
      const failed = (partitionIndex: number, errorCode: number): ListOffsetsPartitionResponseInput => ({
        partitionIndex,
        errorCode,
        timestamp: -1n,
        offset: -1n,
        leaderEpoch: -1,
      });
      // One answer per partition, topics in the order first named (Kafka keys its answers by partition).
      const named = new Set<string>();
      const duplicates = new Set<string>();
      for (const topic of request.topics)
        for (const p of topic.partitions) {
          const key = `${p.partitionIndex}:${topic.name}`;
          if (named.has(key)) duplicates.add(key);
          named.add(key);
        }
      const topics = new Map<string, Map<number, Promise<ListOffsetsPartitionResponseInput>>>();
      for (const topic of request.topics) {
        let answers = topics.get(topic.name);
        if (answers === undefined) topics.set(topic.name, (answers = new Map()));
        for (const p of topic.partitions) {
          if (answers.has(p.partitionIndex)) continue;
          const errorCode = duplicates.has(`${p.partitionIndex}:${topic.name}`)
            ? ErrorCode.INVALID_REQUEST
            : timestampUnsupported(p.timestamp, version)
              ? ErrorCode.UNSUPPORTED_VERSION
              : ledElsewhere(view, topic.name, p.partitionIndex) !== undefined
                ? ErrorCode.NOT_LEADER_OR_FOLLOWER
                : (leaderEpochMismatch(view.placement(topic.name, p.partitionIndex), p.currentLeaderEpoch) ??
                  ErrorCode.NONE);
          if (errorCode !== ErrorCode.NONE) {
            answers.set(p.partitionIndex, Promise.resolve(failed(p.partitionIndex, errorCode)));
            continue;
          }
          answers.set(
            p.partitionIndex,
            broker.listOffset(topic.name, p.partitionIndex, p.timestamp, limit).then((found) => ({
              partitionIndex: p.partitionIndex,
              errorCode: found.errorCode,
              timestamp: BigInt(found.timestamp),
              offset: BigInt(found.offset),
              leaderEpoch: version >= 4 ? found.leaderEpoch : -1,
            })),
          );
        }
      }
      return {
        throttleTimeMs: 0,
        topics: await Promise.all(
          [...topics].map(async ([name, answers]) => ({ name, partitions: await Promise.all(answers.values()) })),
        ),
      };
    },
  };
}
