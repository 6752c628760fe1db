// The transaction coordinator's periodic check (every
// `transaction.abort.timed.out.transaction.cleanup.interval.ms`), one pass over every transactional id:
//
//   | the id is                                             | action                                  |
//   |-------------------------------------------------------|-----------------------------------------|
//   | Empty or Complete*, idle `transactional.id.expiration.ms` | forgotten (tombstone); starts afresh  |
//   | Ongoing, older than its transaction timeout           | epoch + 1 (fences the producer), abort  |
//   | Prepare* (its markers failed earlier)                 | markers written again, then Complete*   |
//   | anything else                                         | nothing                                 |
//
// Each action runs under the id's lock and checks again inside it: a request may have moved the id on.
import type { Clock, Logger } from '../services.js';
import type { TransactionSettings } from './settings.js';
import { TransactionStatus } from './state-records.js';
import type { TransactionCompletion } from './completion.js';
import type { Transaction, TransactionTable } from './transaction-table.js';

export class TransactionTimeouts {
  constructor(
    private readonly table: TransactionTable,
    private readonly completion: TransactionCompletion,
    private readonly settings: TransactionSettings,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  private isIdle(t: Transaction, at: number): boolean {
    return (
      (t.status === TransactionStatus.Empty ||
        t.status === TransactionStatus.CompleteCommit ||
        t.status === TransactionStatus.CompleteAbort) &&
      at - t.lastUpdateMs >= this.settings.transactionalIdExpirationMs
    );
  }

  /** One pass; resolves with the number of transactions it aborted. */
  async check(): Promise<number> {
    const now = this.clock.now();
    let aborted = 0;
    for (const transaction of [...this.table.values()]) {
      if (this.isIdle(transaction, now)) {
        await this.table.exclusive(transaction.transactionalId, () => this.expire(transaction));
        continue;
      }
      const expired =
        transaction.status === TransactionStatus.Ongoing &&
        transaction.startMs >= 0 &&
        now - transaction.startMs >= transaction.timeoutMs;
      const unfinished =
        transaction.status === TransactionStatus.PrepareCommit || transaction.status === TransactionStatus.PrepareAbort;
      if (!expired && !unfinished) continue;
      await this.table.exclusive(transaction.transactionalId, async () => {
        try {
          if (
            transaction.status === TransactionStatus.Ongoing &&
            this.clock.now() - transaction.startMs >= transaction.timeoutMs
          ) {
            this.logger.warn(
              {
                component: 'transactions',
                transactionalId: transaction.transactionalId,
                producerId: transaction.producerId,
                timeoutMs: transaction.timeoutMs,
              },
              'transaction timed out: aborting',
            );
            await this.completion.abortOngoing(transaction, true);
            aborted++;
          } else if (
            transaction.status === TransactionStatus.PrepareCommit ||
            transaction.status === TransactionStatus.PrepareAbort
          ) {
            await this.completion.complete(transaction);
          }
        } catch (error) {
          this.logger.error(
            { component: 'transactions', transactionalId: transaction.transactionalId, error: String(error) },
            'transaction timeout handling failed; will retry',
          );
        }
      });
    }
    return aborted;
  }

  /** Forgets an idle transactional id (a tombstone in `__transaction_state`). */
  private async expire(transaction: Transaction): Promise<void> {
    if (!this.isIdle(transaction, this.clock.now()) || !this.table.holds(transaction)) return;
    try {
      await this.table.forget(transaction);
      this.logger.info(
        {
          component: 'transactions',
          transactionalId: transaction.transactionalId,
          producerId: transaction.producerId,
        },
        'transactional id expired',
      );
    } catch (error) {
      this.logger.error(
        { component: 'transactions', transactionalId: transaction.transactionalId, error: String(error) },
        'transactional id expiry not stored; will retry',
      );
    }
  }
}
