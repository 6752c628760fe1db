// AddPartitionsToTxn (key 24), versions 0-3: the client form (one transactional id per request).
// v4+ is the batched broker-to-broker verification form, not advertised (docs/api-versions.md,
// gotcha 11). Before v2 a client does not know PRODUCER_FENCED and gets INVALID_PRODUCER_EPOCH.
import type { Broker } from '../../broker/broker.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type {
  AddPartitionsToTxnRequest,
  AddPartitionsToTxnResponseInput,
} from '../../protocol/generated/add-partitions-to-txn.js';
import type { KafkaHandler } from './handler.js';

export function addPartitionsToTxnHandler(
  broker: Broker,
): KafkaHandler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponseInput> {
  return {
    apiKey: ApiKey.AddPartitionsToTxn,
    name: 'AddPartitionsToTxn',
    versions: { min: 0, max: 3 },
    async handle(request, context) {
      const topics = await broker.transactions.addPartitions(
        request.v3AndBelowTransactionalId,
        Number(request.v3AndBelowProducerId),
        request.v3AndBelowProducerEpoch,
        request.v3AndBelowTopics.map((t) => ({ name: t.name, partitions: t.partitions })),
      );
      const code = (errorCode: number) =>
        errorCode === ErrorCode.PRODUCER_FENCED && context.apiVersion < 2
          ? ErrorCode.INVALID_PRODUCER_EPOCH
          : errorCode;
      return {
        throttleTimeMs: 0,
        resultsByTopicV3AndBelow: topics.map((t) => ({
          name: t.name,
          resultsByPartition: t.partitions.map((p) => ({
            partitionIndex: p.partition,
            partitionErrorCode: code(p.errorCode),
          })),
        })),
      };
    },
  };
}
