// EndTxn (key 26), versions 0-4: commit or abort. Answered once the markers are durable in every
// partition of the transaction. v5 (transactions v2, KIP-890) is not advertised. Before v2 a client
// does not know PRODUCER_FENCED and gets INVALID_PRODUCER_EPOCH.
import type { Broker } from '../../broker/broker.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type { EndTxnRequest, EndTxnResponseInput } from '../../protocol/generated/end-txn.js';
import type { KafkaHandler } from './handler.js';

export function endTxnHandler(broker: Broker): KafkaHandler<EndTxnRequest, EndTxnResponseInput> {
  return {
    apiKey: ApiKey.EndTxn,
    name: 'EndTxn',
    versions: { min: 0, max: 4 },
    async handle(request, context) {
      const result = await broker.transactions.endTransaction(
        request.transactionalId,
        Number(request.producerId),
        request.producerEpoch,
        request.committed,
      );
      const errorCode =
        result.errorCode === ErrorCode.PRODUCER_FENCED && context.apiVersion < 2
          ? ErrorCode.INVALID_PRODUCER_EPOCH
          : result.errorCode;
      return {
        throttleTimeMs: 0,
        errorCode,
        producerId: BigInt(result.producerId),
        producerEpoch: result.producerEpoch,
      };
    },
  };
}
