// AddOffsetsToTxn (key 25), versions 0-3: adds the group's `__consumer_offsets` partition to the
// transaction, so TxnOffsetCommit may follow and the end marker reaches that partition too.
// Before v2 a client does not know PRODUCER_FENCED and gets INVALID_PRODUCER_EPOCH.
import type { Broker } from '../../broker/broker.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type {
  AddOffsetsToTxnRequest,
  AddOffsetsToTxnResponseInput,
} from '../../protocol/generated/add-offsets-to-txn.js';
import type { KafkaHandler } from './handler.js';

export function addOffsetsToTxnHandler(
  broker: Broker,
): KafkaHandler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponseInput> {
  return {
    apiKey: ApiKey.AddOffsetsToTxn,
    name: 'AddOffsetsToTxn',
    versions: { min: 0, max: 3 },
    async handle(request, context) {
      const errorCode = await broker.transactions.addOffsets(
        request.transactionalId,
        Number(request.producerId),
        request.producerEpoch,
        request.groupId,
      );
      return {
        throttleTimeMs: 0,
        errorCode:
          errorCode === ErrorCode.PRODUCER_FENCED && context.apiVersion < 2
            ? ErrorCode.INVALID_PRODUCER_EPOCH
            : errorCode,
      };
    },
  };
}
