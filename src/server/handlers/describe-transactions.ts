// DescribeTransactions (key 65), version 0 (flexible): the state of each transactional id asked for;
// TRANSACTIONAL_ID_NOT_FOUND for ids this coordinator does not know.
import type { Broker } from '../../broker/broker.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type {
  DescribeTransactionsRequest,
  DescribeTransactionsResponseInput,
} from '../../protocol/generated/describe-transactions.js';
import type { KafkaHandler } from './handler.js';

export function describeTransactionsHandler(
  broker: Broker,
): KafkaHandler<DescribeTransactionsRequest, DescribeTransactionsResponseInput> {
  return {
    apiKey: ApiKey.DescribeTransactions,
    name: 'DescribeTransactions',
    versions: { min: 0, max: 0 },
    handle(request) {
      return {
        throttleTimeMs: 0,
        transactionStates: request.transactionalIds.map((id) => {
          const d = broker.transactions.describe(id);
          return {
            errorCode: d.errorCode,
            transactionalId: d.transactionalId,
            transactionState: d.state,
            transactionTimeoutMs: d.timeoutMs,
            transactionStartTimeMs: BigInt(d.startMs),
            producerId: BigInt(d.producerId),
            producerEpoch: d.producerEpoch,
            topics: d.topics,
          };
        }),
      };
    },
  };
}
