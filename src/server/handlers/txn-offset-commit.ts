// TxnOffsetCommit (key 28), versions 0-3: offsets committed as part of a transaction (sendOffsets).
// They are written to `__consumer_offsets` as a transactional batch and become the group's
// committed offsets only when the transaction commits. v3 adds the member id, generation and
// group instance id, checked against the group like OffsetCommit; v0-2 are not checked against
// members (Kafka does the same). A fenced producer gets INVALID_PRODUCER_EPOCH.
import type { Broker } from '../../broker/broker.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type {
  TxnOffsetCommitRequest,
  TxnOffsetCommitResponseInput,
} from '../../protocol/generated/txn-offset-commit.js';
import type { KafkaHandler } from './handler.js';

export function txnOffsetCommitHandler(
  broker: Broker,
): KafkaHandler<TxnOffsetCommitRequest, TxnOffsetCommitResponseInput> {
  return {
    apiKey: ApiKey.TxnOffsetCommit,
    name: 'TxnOffsetCommit',
    versions: { min: 0, max: 3 },
    async handle(request, context) {
      const v3 = context.apiVersion >= 3;
      const topics = await broker.commitTransactionalOffsets(
        request.transactionalId,
        Number(request.producerId),
        request.producerEpoch,
        {
          groupId: request.groupId,
          generationId: v3 ? request.generationId : -1,
          memberId: v3 ? request.memberId : '',
          groupInstanceId: v3 ? request.groupInstanceId : null,
          retentionTimeMs: -1,
          topics: request.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((p) => ({
              partition: p.partitionIndex,
              offset: Number(p.committedOffset),
              leaderEpoch: context.apiVersion >= 2 ? p.committedLeaderEpoch : -1,
              metadata: p.committedMetadata,
            })),
          })),
        },
      );
      return {
        throttleTimeMs: 0,
        topics: topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, errorCode: p.errorCode })),
        })),
      };
    },
  };
}
