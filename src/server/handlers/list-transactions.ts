// ListTransactions (key 66), versions 0-1 (flexible): every transactional id this coordinator knows,
// filtered by state names, producer ids and (v1) how long the transaction has been running.
// State filters that name no state are echoed in unknown_state_filters, as Kafka does.
import type { Broker } from '../../broker/broker.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type {
  ListTransactionsRequest,
  ListTransactionsResponseInput,
} from '../../protocol/generated/list-transactions.js';
import type { KafkaHandler } from './handler.js';

export function listTransactionsHandler(
  broker: Broker,
): KafkaHandler<ListTransactionsRequest, ListTransactionsResponseInput> {
  return {
    apiKey: ApiKey.ListTransactions,
    name: 'ListTransactions',
    versions: { min: 0, max: 1 },
    handle(request, context) {
      const listed = broker.transactions.list(
        request.stateFilters,
        request.producerIdFilters.map(Number),
        context.apiVersion >= 1 ? Number(request.durationFilter) : -1,
      );
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        unknownStateFilters: listed.unknownStateFilters,
        transactionStates: listed.transactions.map((t) => ({
          transactionalId: t.transactionalId,
          producerId: BigInt(t.producerId),
          transactionState: t.state,
        })),
      };
    },
  };
}
