// Whether a batch with a producer id may enter a partition as far as transactions go, checked before
// the producer's sequence (producer-state.ts) and the append:
//
// | batch          | partition state                                     | answer                        |
// |----------------|-----------------------------------------------------|-------------------------------|
// | transactional  | its transactional id coordinated by another broker  | admitted if the producer     |
// |                |   (a cluster)                                       |   state takes it (epoch)      |
// | transactional  | in the producer's ongoing transaction               | admitted                      |
// | transactional  | not in it, Produce ≤ v11                            | the coordinator's refusal     |
// |                |   (the client must send AddPartitionsToTxn first)   |   (INVALID_TXN_STATE, …)      |
// | transactional  | not in it, Produce v12+ (KIP-890 part 2)            | added to the transaction by   |
// |                |                                                     |   the coordinator, as if by   |
// |                |                                                     |   AddPartitionsToTxn; then    |
// |                |                                                     |   admitted                    |
// | idempotent     | this producer has a transaction open here           | INVALID_TXN_STATE             |
// | idempotent     | otherwise                                           | admitted                      |
//
// A cluster's coordinator for the id may be another broker: as Kafka before KIP-890, the partition does
// not ask it; the producer's epoch (producer-state.ts) fences a zombie, and the coordinator's marker
// ends the transaction here. The implicit add of v12 is made only by a coordinator here; elsewhere the
// client's AddPartitionsToTxn did it (Sluice does not finalize transaction.version 2). A client that
// skips it leaves a hanging transaction, as in Kafka before KIP-890.
//
// The implicit add is the only thing here that waits (the coordinator writes `__transaction_state`).
// A later batch of the same producer for the same partition that arrives meanwhile also finds the
// partition missing and queues its own add behind the first on the coordinator's per-id lock (a
// no-op by then), so the batches reach the sequence check in the order they came.
import { ErrorCode, errorCodeInfo } from '../../protocol/generated/error-codes.js';
import type { RecordBatchHeader } from '../../protocol/record-batch/header.js';
import type { TransactionCoordinator } from '../transactions/coordinator.js';
import type { PartitionTransactions } from '../transactions/partition-transactions.js';

export interface Refusal {
  errorCode: number;
  errorMessage: string;
}

/** The synchronous rows of the table: a refusal, or null when the batch may be appended now. */
export function transactionalRefusal(
  coordinator: TransactionCoordinator,
  transactionalId: string | null,
  transactions: PartitionTransactions | undefined,
  batch: RecordBatchHeader,
  topic: string,
  partition: number,
): Refusal | null {
  if (batch.isTransactional) {
    if (transactionalId !== null && !coordinator.coordinates(transactionalId)) return null;
    const refused = coordinator.checkProduce(batch.producerId, batch.producerEpoch, topic, partition);
    return refused === null ? null : { errorCode: refused.errorCode, errorMessage: refused.message };
  }
  // As Kafka: a producer with a transaction open here may not also write outside it.
  if (transactions?.isOpen(batch.producerId))
    return {
      errorCode: ErrorCode.INVALID_TXN_STATE,
      errorMessage:
        `producer ${batch.producerId} has a transaction open in ${topic}-${partition}; ` +
        'expected a transactional batch',
    };
  return null;
}

/**
 * Produce v12+: adds the partition to the producer's transaction when the batch is transactional and
 * the partition is not in it yet. Resolves to a refusal, or null when the batch may go on (to the
 * synchronous check above, which then admits it or says why not).
 */
export async function addToTransactionImplicitly(
  coordinator: TransactionCoordinator,
  transactionalId: string | null,
  batch: RecordBatchHeader,
  topic: string,
  partition: number,
): Promise<Refusal | null> {
  if (
    !batch.isTransactional ||
    coordinator.checkProduce(batch.producerId, batch.producerEpoch, topic, partition) === null
  )
    return null;
  if (transactionalId === null)
    return {
      errorCode: ErrorCode.INVALID_TXN_STATE,
      errorMessage: 'a transactional batch in Produce v12+ needs the request to carry its transactional id',
    };
  // Another broker's id: that coordinator cannot be asked from here. Under transaction.version 1 (all
  // Sluice finalizes) the client sent AddPartitionsToTxn there first, as it does with v11.
  if (!coordinator.coordinates(transactionalId)) return null;
  const [result] = await coordinator.addPartitions(transactionalId, batch.producerId, batch.producerEpoch, [
    { name: topic, partitions: [partition] },
  ]);
  const errorCode = result?.partitions[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
  if (errorCode === ErrorCode.NONE) return null;
  return { errorCode: produceErrorFor(errorCode), errorMessage: addFailureMessage(errorCode, topic, partition) };
}

/**
 * As Kafka's ReplicaManager: the coordinator's retriable answers become NOT_ENOUGH_REPLICAS for the
 * producer, an error every producer retries without refreshing metadata; the others pass through.
 */
function produceErrorFor(coordinatorError: number): number {
  switch (coordinatorError) {
    case ErrorCode.CONCURRENT_TRANSACTIONS:
    case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
    case ErrorCode.COORDINATOR_NOT_AVAILABLE:
    case ErrorCode.NOT_COORDINATOR:
      return ErrorCode.NOT_ENOUGH_REPLICAS;
    default:
      return coordinatorError;
  }
}

function addFailureMessage(coordinatorError: number, topic: string, partition: number): string {
  const name = errorCodeInfo.get(coordinatorError)?.name ?? String(coordinatorError);
  return `Unable to add ${topic}-${partition} to the transaction. Underlying error: ${name}`;
}
