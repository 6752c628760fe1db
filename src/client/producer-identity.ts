// The idempotent producer's identity: the producer id and epoch from InitProducerId, which every
// batch carries with its sequence numbers.
//
// A plain idempotent producer asks any broker (no transactional id); a transactional one asks its
// transaction coordinator (transaction.ts), which also fences older producers with the same id.
// Concurrent callers share one request. A new id or epoch restarts every partition's sequence at 0
// (the broker keeps sequences per producer id and epoch): `onNewEpoch` tells the sender.
import { ApiKey } from '../protocol/generated/index.js';
import type { InitProducerIdResponse } from '../protocol/generated/init-producer-id.js';
import type { Cluster } from './cluster.js';
import { KafkaError } from './errors.js';
import type { TransactionCoordinator } from './transaction.js';

export class ProducerIdentity {
  /** −1 until known, and after `forget`. */
  producerId = -1;
  producerEpoch = -1;
  private initializing: Promise<void> | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly txn: Pick<TransactionCoordinator, 'initProducerId'> | undefined,
    private readonly onNewEpoch: () => void,
  ) {}

  /** Gets a producer id and epoch (a new epoch for a transactional id). */
  init(): Promise<void> {
    const txn = this.txn;
    this.initializing ??= (
      txn
        ? txn.initProducerId()
        : this.cluster.withRetries('InitProducerId', async () => {
            const response = await this.cluster.request<InitProducerIdResponse>(-1, ApiKey.InitProducerId, {
              transactionalId: null,
              transactionTimeoutMs: 60_000,
            });
            if (response.errorCode !== 0) throw new KafkaError(response.errorCode, null, 'InitProducerId');
            return response;
          })
    )
      .then((response) => {
        this.producerId = Number(response.producerId);
        this.producerEpoch = response.producerEpoch;
        this.onNewEpoch();
      })
      .finally(() => {
        this.initializing = undefined;
      });
    return this.initializing;
  }

  /** The id is no longer to be used (an aborted transaction): the next `init` takes a new epoch. */
  forget(): void {
    this.producerId = -1;
  }
}
