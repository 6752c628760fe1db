// Ending a transaction once its outcome is durable (Prepare* stored): the COMMIT or ABORT marker goes
// to every partition it spans — a single node writes the markers itself; a cluster sends those of
// partitions other brokers lead with WriteTxnMarkers (cluster/marker-writer.ts) — then the state moves
// to Complete*. A marker in the group's offsets partition also decides the group's transactional
// offsets (here when the group's coordinator is this broker; there, by the WriteTxnMarkers handler).
//
// If a marker cannot be written (disk), the decision is already durable in Prepare*; the timeout check
// (timeouts.ts) and the next InitProducerId or EndTxn retry until every partition has its marker.
import type { Logger, TransactionalOffsets, TransactionMarkerWriter } from '../services.js';
import { EPOCH_MAX } from './settings.js';
import { TransactionStatus } from './state-records.js';
import { clonePartitions, type Transaction, type TransactionTable } from './transaction-table.js';

export class TransactionCompletion {
  constructor(
    private readonly table: TransactionTable,
    private readonly markers: TransactionMarkerWriter,
    private readonly offsets: TransactionalOffsets,
    private readonly logger: Logger,
  ) {}

  /**
   * Writes the markers of a Prepare* transaction to every partition it spans, then moves it to
   * Complete*. Throws if a marker or the state cannot be written (the transaction stays Prepare*).
   */
  async complete(transaction: Transaction): Promise<void> {
    const commit = transaction.status === TransactionStatus.PrepareCommit;
    // All partitions at once: each has its own group-commit fsync, so N partitions cost one fsync of
    // latency, not N. If any fails, the transaction stays Prepare* and every marker is written again
    // later (a repeated marker is harmless: it ends nothing that is still open).
    const writes: Promise<void>[] = [];
    for (const [topic, partitions] of transaction.partitions) {
      for (const partition of partitions) {
        writes.push(
          this.markers
            .writeTransactionMarker(topic, partition, transaction.producerId, transaction.producerEpoch, commit, () =>
              this.table.holds(transaction),
            )
            .then(() => {
              if (topic === this.offsets.topic) this.offsets.complete(transaction.producerId, partition, commit);
            }),
        );
      }
    }
    const outcomes = await Promise.allSettled(writes);
    const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    await this.table.transition(transaction, {
      ...transaction,
      status: commit ? TransactionStatus.CompleteCommit : TransactionStatus.CompleteAbort,
      partitions: new Map(),
    });
    this.logger.debug(
      {
        component: 'transactions',
        transactionalId: transaction.transactionalId,
        producerId: transaction.producerId,
        producerEpoch: transaction.producerEpoch,
        outcome: commit ? 'commit' : 'abort',
      },
      'transaction completed',
    );
  }

  /** complete(), a failure logged instead of thrown (it is retried later). */
  async completeQuietly(transaction: Transaction): Promise<boolean> {
    try {
      await this.complete(transaction);
      return true;
    } catch (error) {
      this.logger.error(
        { component: 'transactions', transactionalId: transaction.transactionalId, error: String(error) },
        'transaction markers not written; will retry',
      );
      return false;
    }
  }

  /** Aborts an Ongoing transaction; with `fence`, under a bumped epoch so the old producer is refused everywhere. */
  async abortOngoing(transaction: Transaction, fence: boolean): Promise<void> {
    const epoch =
      fence && transaction.producerEpoch < EPOCH_MAX ? transaction.producerEpoch + 1 : transaction.producerEpoch;
    await this.table.transition(transaction, {
      ...transaction,
      partitions: clonePartitions(transaction.partitions),
      producerEpoch: epoch,
      lastProducerId: transaction.producerId,
      lastProducerEpoch: transaction.producerEpoch,
      status: TransactionStatus.PrepareAbort,
    });
    await this.complete(transaction);
  }
}
