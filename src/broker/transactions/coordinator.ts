// The transaction coordinator (KIP-98; Kafka's TransactionCoordinator and TransactionStateManager).
// This broker coordinates the transactional ids whose partition of `__transaction_state` it leads
// (partition-ownership.ts: loaded when it becomes the leader — Prepare* transactions completed — and
// dropped when it stops; other ids answer NOT_COORDINATOR, a partition loading
// COORDINATOR_LOAD_IN_PROGRESS; one node leads them all). The metadata of each id is kept in memory and
// written to `__transaction_state` (state-store.ts) at every transition, awaited before the answer.
//
// States of a transactional id and what moves it (a single node writes the markers itself; a cluster
// sends the markers of partitions other brokers lead with WriteTxnMarkers, cluster/marker-writer.ts):
//
//   | from                      | event                                  | to                         |
//   |---------------------------|----------------------------------------|----------------------------|
//   | (none)                    | InitProducerId                         | Empty, new producer id, e0 |
//   | Empty / Complete*         | InitProducerId                         | Empty, epoch + 1           |
//   | Ongoing                   | InitProducerId (a new instance)        | epoch + 1, PrepareAbort →  |
//   |                           |                                        | markers → CompleteAbort →  |
//   |                           |                                        | Empty, epoch + 2           |
//   | Empty / Ongoing / Complete| AddPartitionsToTxn / AddOffsetsToTxn   | Ongoing (start time set    |
//   |                           |                                        | when it was not Ongoing)   |
//   | Ongoing                   | EndTxn(commit / abort)                 | PrepareCommit/PrepareAbort |
//   | Prepare*                  | markers written to every partition     | CompleteCommit/CompleteAbort|
//   | Ongoing, older than its   | timeout check                          | epoch + 1 (fences the      |
//   | transaction timeout       |                                        | producer), PrepareAbort …  |
//   | Prepare* at load          | broker restart                         | markers, then Complete*    |
//
// The epoch goes up past 32766 by taking a new producer id at epoch 0 (Kafka's epoch exhaustion).
// EndTxn is answered after the markers are durable, not only after Prepare* as Kafka does: then a
// read_committed consumer sees a committed transaction as soon as the producer's commit returns.
// If a marker cannot be written (disk), the decision is already durable in Prepare*; the timer
// retries until every partition has its marker.
//
// This file is the facade: the API entry points. Its collaborators, each importing only those below it:
//
//   timeouts.ts           the periodic check: timed-out transactions, unfinished markers, idle ids
//   completion.ts         markers to every partition, then Complete*
//   listing.ts            DescribeTransactions, ListTransactions
//   transaction-table.ts  the ids held, their lock, and `transition` (durable first, then memory)
//   state-store.ts, state-records.ts   `__transaction_state` and its records
//   settings.ts, dependencies.ts       what it reads, and what it is given
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import { PartitionOwnership } from '../partition-ownership.js';
import { systemClock, systemTimers, type Clock, type ServiceTime, type Timer } from '../services.js';
import type { OffsetCommitRequest, PartitionErrors } from '../services.js';
import { TransactionCompletion } from './completion.js';
import type { TransactionDependencies } from './dependencies.js';
import { describeTransaction, listTransactions, type TransactionDescription } from './listing.js';
import { EPOCH_MAX, PARTITIONS_PER_TRANSACTION_MAX, type TransactionSettings } from './settings.js';
import { TRANSACTION_STATUS_NAMES, TransactionStatus } from './state-records.js';
import { TRANSACTION_STATE_TOPIC, TransactionStateStore } from './state-store.js';
import { TransactionTimeouts } from './timeouts.js';
import {
  clonePartitions,
  partitionCount,
  producerError,
  result,
  TransactionTable,
  type ProducerIdAndEpoch,
  type Transaction,
} from './transaction-table.js';

export type { TransactionDependencies } from './dependencies.js';
export type { TransactionDescription } from './listing.js';
export { transactionSettingsFrom, type TransactionSettings } from './settings.js';
export type { ProducerIdAndEpoch } from './transaction-table.js';
export type TopicPartitionsResult = PartitionErrors;

export class TransactionCoordinator {
  private readonly table: TransactionTable;
  /** The table's ids, by transactional id (read only: every change is a table transition). */
  private readonly transactions: ReadonlyMap<string, Transaction>;
  private readonly completion: TransactionCompletion;
  private readonly timeouts: TransactionTimeouts;
  private timer: Timer | null = null;
  private closed = false;
  private readonly store: TransactionStateStore;
  /** Which partitions of `__transaction_state` this broker coordinates now. */
  private readonly ownership: PartitionOwnership;

  private constructor(
    private readonly dependencies: TransactionDependencies,
    readonly settings: TransactionSettings,
    private readonly clock: Clock,
  ) {
    const { logger, internalTopics } = dependencies;
    const store = new TransactionStateStore(internalTopics, logger, settings.statePartitions, () =>
      this.ownership.adoptCreated(),
    );
    this.store = store;
    this.ownership = new PartitionOwnership(
      TRANSACTION_STATE_TOPIC,
      {
        partitionCount: () => store.partitionCount,
        leaderEpoch: (partition) => internalTopics.leaderEpoch(TRANSACTION_STATE_TOPIC, partition),
        leaderPending: (partition) => internalTopics.leaderPending(TRANSACTION_STATE_TOPIC, partition),
        isEmpty: (partition) => (internalTopics.partition(TRANSACTION_STATE_TOPIC, partition)?.logEndOffset ?? 0) === 0,
      },
      {
        load: (partition, current) => this.loadPartition(partition, current),
        unload: (partition) => this.table.drop(partition),
      },
      logger,
      'transactions',
    );
    this.table = new TransactionTable(store, clock);
    this.transactions = this.table.byId;
    this.completion = new TransactionCompletion(this.table, dependencies.markers, dependencies.offsets, logger);
    this.timeouts = new TransactionTimeouts(this.table, this.completion, settings, logger, clock);
  }

  /** Loads the transactional ids of every partition of `__transaction_state` this broker leads (one node:
   *  all), completes the transactions a crash left in Prepare*, and starts the timeout check (Ongoing
   *  transactions abort when their timeout passes). */
  static async open(dependencies: TransactionDependencies, time: ServiceTime = {}): Promise<TransactionCoordinator> {
    const settings = dependencies.transactionSettings;
    const coordinator = new TransactionCoordinator(dependencies, settings, time.clock ?? systemClock);
    await coordinator.ownership.settle();
    coordinator.timer = (time.timers ?? systemTimers).every(
      settings.timeoutCheckIntervalMs,
      () => void coordinator.checkTimeouts(),
    );
    return coordinator;
  }

  close(): void {
    this.closed = true;
    this.ownership.close();
    this.timer?.cancel();
  }

  /** Leadership of `__transaction_state` partitions may have moved: load what is led here, drop the rest. */
  leadershipChanged(): void {
    if (!this.closed) this.ownership.refresh();
  }

  /** Loads what is led here and waits for those loads. */
  settle(): Promise<void> {
    return this.ownership.settle();
  }

  /** NONE when this broker coordinates the transactional id now; NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS. */
  private refusal(transactionalId: string): number {
    if (this.closed) return ErrorCode.NOT_COORDINATOR;
    const partition = this.store.partitionOf(transactionalId);
    return partition < 0 ? ErrorCode.NONE : this.ownership.check(partition);
  }

  /** True when the transactional id is coordinated here (the produce check asks only such ids). */
  coordinates(transactionalId: string): boolean {
    const partition = this.store.partitionOf(transactionalId);
    return !this.closed && (partition < 0 || this.ownership.owns(partition));
  }

  private get logger() {
    return this.dependencies.logger;
  }

  /** Makes sure `__transaction_state` exists (FindCoordinator for a transactional id does this, as in Kafka). */
  async ensureReady(): Promise<boolean> {
    try {
      await this.store.ensureTopic();
      return true;
    } catch (error) {
      this.logger.error({ component: 'transactions', error: String(error) }, 'transaction state topic unavailable');
      return false;
    }
  }

  private async loadPartition(partition: number, current: () => boolean): Promise<void> {
    await this.dependencies.internalTopics.settled(TRANSACTION_STATE_TOPIC, partition);
    const loaded = await this.table.load(partition, current, (where, offset, error) => {
      this.logger.warn(
        { component: 'transactions', partition: where, offset, error: String(error) },
        'unreadable transaction state record skipped',
      );
    });
    let completed = 0;
    for (const transaction of loaded) {
      if (transaction.status === TransactionStatus.PrepareEpochFence)
        transaction.status = TransactionStatus.PrepareAbort;
      if (
        transaction.status === TransactionStatus.PrepareCommit ||
        transaction.status === TransactionStatus.PrepareAbort
      ) {
        await this.table.exclusive(transaction.transactionalId, () => this.completion.completeQuietly(transaction));
        completed++;
      }
    }
    if (loaded.length > 0)
      this.logger.info(
        { component: 'transactions', partition, transactionalIds: loaded.length, completed },
        'transactions loaded',
      );
  }

  private partitionExists(topic: string, partition: number): boolean {
    return this.dependencies.partitions.partition(topic, partition) !== undefined;
  }

  // ── InitProducerId ──────────────────────────────────────────────────────────────────────────

  /**
   * InitProducerId with a transactional id. `expected` is the producer id and epoch a v3+ client sends
   * to bump its own epoch (KIP-360), −1/−1 otherwise.
   */
  async initProducerId(
    transactionalId: string,
    timeoutMs: number,
    expectedProducerId: number,
    expectedEpoch: number,
  ): Promise<ProducerIdAndEpoch> {
    if (transactionalId.length === 0) return result(ErrorCode.INVALID_REQUEST, 'the transactional id is empty');
    if (expectedProducerId < 0 !== expectedEpoch < 0)
      return result(ErrorCode.INVALID_REQUEST, 'producer id and epoch must both be given (v3+) or both be -1');
    const maxTimeoutMs = this.settings.maxTimeoutMs;
    if (timeoutMs > maxTimeoutMs || timeoutMs <= 0) {
      return result(
        ErrorCode.INVALID_TRANSACTION_TIMEOUT,
        `transaction timeout ${timeoutMs} ms is outside (0, transaction.max.timeout.ms=${maxTimeoutMs}]`,
      );
    }
    if (this.closed) return result(ErrorCode.NOT_COORDINATOR, 'the broker is shutting down');
    if (!(await this.ensureReady()))
      return result(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the transaction state topic is not available');
    const refused = this.refusal(transactionalId);
    if (refused !== ErrorCode.NONE) return result(refused, 'this broker does not coordinate the transactional id now');
    return this.table.exclusive(transactionalId, async () => {
      try {
        const transaction = this.transactions.get(transactionalId);
        if (transaction === undefined) {
          if (this.transactions.size >= this.settings.transactionalIdsMax) {
            this.logger.warn(
              { component: 'transactions', limit: this.settings.transactionalIdsMax },
              'sluice.transactional.ids.max reached: new transactional id refused',
            );
            return result(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'too many transactional ids');
          }
          const producerId = await this.dependencies.producerIds.nextProducerId();
          const now = this.clock.now();
          const created: Transaction = {
            transactionalId,
            producerId,
            producerEpoch: 0,
            lastProducerId: -1,
            lastProducerEpoch: -1,
            timeoutMs,
            status: TransactionStatus.Empty,
            partitions: new Map(),
            startMs: -1,
            lastUpdateMs: now,
          };
          await this.table.transition(undefined, created);
          return result(ErrorCode.NONE, null, created.producerId, created.producerEpoch);
        }
        const expected = expectedProducerId >= 0;
        if (expected) {
          // Kafka's rules (TransactionMetadata.prepareIncrementProducerEpoch): the current id and epoch
          // bump; the previous epoch of the current id is a retry of a bump whose answer was lost and
          // gets the current epoch unchanged (only until another instance initialises: that resets the
          // previous epoch to −1); anything else is a fenced producer.
          const isRetry =
            expectedProducerId === transaction.producerId &&
            expectedEpoch === transaction.lastProducerEpoch &&
            expectedEpoch >= 0;
          const isCurrent =
            expectedProducerId === transaction.producerId && expectedEpoch === transaction.producerEpoch;
          if (isRetry && transaction.status === TransactionStatus.Empty)
            return result(ErrorCode.NONE, null, transaction.producerId, transaction.producerEpoch);
          if (!isCurrent)
            return result(
              ErrorCode.PRODUCER_FENCED,
              `producer ${expectedProducerId} epoch ${expectedEpoch} ` +
                'is not the current producer of this transactional id',
            );
        }
        if (
          transaction.status === TransactionStatus.PrepareCommit ||
          transaction.status === TransactionStatus.PrepareAbort
        )
          await this.completion.complete(transaction);
        if (transaction.status === TransactionStatus.Ongoing) await this.completion.abortOngoing(transaction, true);
        let producerId = transaction.producerId;
        let producerEpoch = transaction.producerEpoch + 1;
        if (producerEpoch > EPOCH_MAX) {
          producerId = await this.dependencies.producerIds.nextProducerId();
          producerEpoch = 0;
        }
        const lastProducerEpoch = expected && producerId === transaction.producerId ? transaction.producerEpoch : -1;
        await this.table.transition(transaction, {
          ...transaction,
          producerId,
          producerEpoch,
          lastProducerId: transaction.producerId,
          lastProducerEpoch,
          timeoutMs,
          status: TransactionStatus.Empty,
          partitions: new Map(),
          startMs: -1,
        });
        this.logger.debug(
          { component: 'transactions', transactionalId, producerId, producerEpoch },
          'transactional producer initialised',
        );
        return result(ErrorCode.NONE, null, producerId, producerEpoch);
      } catch (error) {
        this.logger.error(
          { component: 'transactions', transactionalId, error: String(error) },
          'InitProducerId failed',
        );
        return result(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the transaction state could not be written');
      }
    });
  }

  // ── AddPartitionsToTxn / AddOffsetsToTxn ────────────────────────────────────────────────────

  async addPartitions(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    topics: Array<{ name: string; partitions: number[] }>,
  ): Promise<TopicPartitionsResult[]> {
    const all = (errorCode: number) =>
      topics.map((t) => ({ name: t.name, partitions: t.partitions.map((partition) => ({ partition, errorCode })) }));
    const unknown = topics.some((t) =>
      t.partitions.some((p) => !this.partitionExists(t.name, p) || t.name.startsWith('__')),
    );
    if (unknown) {
      return topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((partition) => ({
          partition,
          errorCode:
            !this.partitionExists(t.name, partition) || t.name.startsWith('__')
              ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
              : ErrorCode.OPERATION_NOT_ATTEMPTED,
        })),
      }));
    }
    const errorCode = await this.addToTransaction(transactionalId, producerId, producerEpoch, topics);
    return all(errorCode);
  }

  async addOffsets(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    groupId: string,
  ): Promise<number> {
    let partition: number;
    try {
      partition = await this.dependencies.offsets.partitionOf(groupId);
    } catch {
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    return this.addToTransaction(transactionalId, producerId, producerEpoch, [
      { name: this.dependencies.offsets.topic, partitions: [partition] },
    ]);
  }

  private async addToTransaction(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    topics: Array<{ name: string; partitions: number[] }>,
  ): Promise<number> {
    const refused = this.refusal(transactionalId);
    if (refused !== ErrorCode.NONE) return refused;
    return this.table.exclusive(transactionalId, async () => {
      const transaction = this.transactions.get(transactionalId);
      const problem = producerError(transaction, producerId, producerEpoch);
      if (problem) return problem.errorCode;
      const t = transaction!;
      if (
        t.status === TransactionStatus.PrepareCommit ||
        t.status === TransactionStatus.PrepareAbort ||
        t.status === TransactionStatus.PrepareEpochFence
      ) {
        return ErrorCode.CONCURRENT_TRANSACTIONS;
      }
      const ongoing = t.status === TransactionStatus.Ongoing;
      const partitions = ongoing ? clonePartitions(t.partitions) : new Map<string, Set<number>>();
      let added = false;
      for (const topic of topics) {
        let set = partitions.get(topic.name);
        if (!set) partitions.set(topic.name, (set = new Set()));
        for (const partition of topic.partitions) {
          if (!set.has(partition)) {
            set.add(partition);
            added = true;
          }
        }
      }
      if (ongoing && !added) return ErrorCode.NONE;
      if (partitionCount(partitions) > PARTITIONS_PER_TRANSACTION_MAX) return ErrorCode.INVALID_REQUEST;
      try {
        await this.table.transition(t, {
          ...t,
          status: TransactionStatus.Ongoing,
          partitions,
          startMs: ongoing ? t.startMs : this.clock.now(),
        });
        return ErrorCode.NONE;
      } catch (error) {
        this.logger.error(
          { component: 'transactions', transactionalId, error: String(error) },
          'AddPartitionsToTxn not stored',
        );
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
      }
    });
  }

  // ── TxnOffsetCommit ─────────────────────────────────────────────────────────────────────────

  /** TxnOffsetCommit: checked against the transaction (its group's partition must be in it), then stored
   *  pending by the group coordinator. */
  async commitOffsets(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    request: OffsetCommitRequest,
  ): Promise<TopicPartitionsResult[]> {
    const all = (errorCode: number) =>
      request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode })),
      }));
    if (this.closed) return all(ErrorCode.NOT_COORDINATOR);
    return this.table.exclusive(transactionalId, async () => {
      const transaction = this.transactions.get(transactionalId);
      const problem = producerError(transaction, producerId, producerEpoch);
      if (problem)
        return all(
          problem.errorCode === ErrorCode.PRODUCER_FENCED ? ErrorCode.INVALID_PRODUCER_EPOCH : problem.errorCode,
        );
      let partition: number;
      try {
        partition = await this.dependencies.offsets.partitionOf(request.groupId);
      } catch {
        return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      }
      if (
        transaction!.status !== TransactionStatus.Ongoing ||
        !transaction!.partitions.get(this.dependencies.offsets.topic)?.has(partition)
      ) {
        return all(ErrorCode.INVALID_TXN_STATE);
      }
      return this.dependencies.offsets.prepare(request, { producerId, producerEpoch }, (topic, p) =>
        this.partitionExists(topic, p),
      );
    });
  }

  // ── EndTxn ──────────────────────────────────────────────────────────────────────────────────

  async endTransaction(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    commit: boolean,
  ): Promise<ProducerIdAndEpoch> {
    const refused = this.refusal(transactionalId);
    if (refused !== ErrorCode.NONE) return result(refused, 'this broker does not coordinate the transactional id now');
    return this.table.exclusive(transactionalId, async () => {
      const transaction = this.transactions.get(transactionalId);
      const problem = producerError(transaction, producerId, producerEpoch);
      if (problem) return problem;
      const t = transaction!;
      const done = () => result(ErrorCode.NONE, null, t.producerId, t.producerEpoch);
      const wrongState = () =>
        result(
          ErrorCode.INVALID_TXN_STATE,
          `cannot ${commit ? 'commit' : 'abort'} a transaction in state ${TRANSACTION_STATUS_NAMES[t.status]}`,
        );
      switch (t.status) {
        case TransactionStatus.Ongoing:
          try {
            await this.table.transition(t, {
              ...t,
              partitions: clonePartitions(t.partitions),
              status: commit ? TransactionStatus.PrepareCommit : TransactionStatus.PrepareAbort,
            });
          } catch (error) {
            this.logger.error(
              { component: 'transactions', transactionalId, error: String(error) },
              'EndTxn not stored',
            );
            return result(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the transaction state could not be written');
          }
          await this.completion.completeQuietly(t); // the decision is durable: a failed marker is retried by the timer
          return done();
        case TransactionStatus.CompleteCommit:
          return commit ? done() : wrongState();
        case TransactionStatus.CompleteAbort:
          return commit ? wrongState() : done();
        case TransactionStatus.PrepareCommit:
        case TransactionStatus.PrepareAbort:
          if (commit !== (t.status === TransactionStatus.PrepareCommit)) return wrongState();
          await this.completion.completeQuietly(t);
          return done();
        default:
          return wrongState();
      }
    });
  }

  // ── produce check, timeouts ─────────────────────────────────────────────────────────────────

  /** May producer `producerId` at `producerEpoch` append a transactional batch to this partition? */
  checkProduce(
    producerId: number,
    producerEpoch: number,
    topic: string,
    partition: number,
  ): { errorCode: number; message: string } | null {
    const transaction = this.table.ofProducer(producerId);
    if (transaction === undefined)
      return { errorCode: ErrorCode.INVALID_TXN_STATE, message: `producer ${producerId} has no transaction` };
    if (producerEpoch < transaction.producerEpoch) {
      return {
        errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
        message:
          `producer ${producerId} epoch ${producerEpoch} ` +
          `is older than the current epoch ${transaction.producerEpoch}`,
      };
    }
    if (
      producerEpoch !== transaction.producerEpoch ||
      transaction.status !== TransactionStatus.Ongoing ||
      !transaction.partitions.get(topic)?.has(partition)
    ) {
      return {
        errorCode: ErrorCode.INVALID_TXN_STATE,
        message:
          `${topic}-${partition} is not part of an ongoing transaction ` +
          `of producer ${producerId} epoch ${producerEpoch}`,
      };
    }
    return null;
  }

  /**
   * Aborts Ongoing transactions older than their timeout (fencing their producer), retries unfinished
   * markers, and forgets transactional ids idle for `transactional.id.expiration.ms` with no transaction
   * open (timeouts.ts). Resolves with the number aborted.
   */
  async checkTimeouts(): Promise<number> {
    if (this.closed) return 0;
    return this.timeouts.check();
  }

  // ── DescribeTransactions / ListTransactions ─────────────────────────────────────────────────

  describe(transactionalId: string): TransactionDescription {
    const described = describeTransaction(this.table, transactionalId);
    const refused = this.refusal(transactionalId);
    return refused === ErrorCode.NONE ? described : { ...described, errorCode: refused };
  }

  list(
    stateFilters: string[],
    producerIdFilters: number[],
    durationFilterMs: number,
  ): {
    unknownStateFilters: string[];
    transactions: Array<{ transactionalId: string; producerId: number; state: string }>;
  } {
    return listTransactions(this.table, this.clock.now(), stateFilters, producerIdFilters, durationFilterMs);
  }

  /** The state name of a transactional id (tests, console). */
  stateOf(transactionalId: string): string | undefined {
    const t = this.transactions.get(transactionalId);
    return t === undefined ? undefined : TRANSACTION_STATUS_NAMES[t.status];
  }
}
