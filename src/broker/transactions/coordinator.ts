// The transaction coordinator (KIP-98; Kafka's TransactionCoordinator and TransactionStateManager).
// This node coordinates every transactional id. The metadata of each one is kept in memory and
// written to `__transaction_state` (state-store.ts) at every transition, awaited before the answer.
//
// States of a transactional id and what moves it (a single node writes the markers itself, so
// there is no WriteTxnMarkers round trip — docs/api-versions.md, gotcha 11):
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
// Every operation on one transactional id runs alone (`exclusive`), so markers of one transaction
// never interleave with the next one's AddPartitions or TxnOffsetCommit.
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import type { CommitRequest, GroupCoordinator, PartitionError } from '../groups/coordinator.js';
import type { OffsetsTopicHost } from '../groups/offsets-store.js';
import { OFFSETS_TOPIC } from '../groups/offsets-store.js';
import { TRANSACTION_STATUS_NAMES, TransactionStatus, type StoredTransaction } from './state-records.js';
import { TransactionStateStore } from './state-store.js';
import { readInteger } from '../../runtime/settings.js';

// Settings (transaction.state.log.num.partitions, sluice.transactional.ids.max, …): the settings registry.
/** Partitions one transaction may span; an AddPartitionsToTxn past it is refused. Kafka has no such limit,
 *  but each partition costs memory here and a marker at the end. */
const PARTITIONS_PER_TRANSACTION_MAX = 10_000;
/** Kafka's RecordBatch.NO_PRODUCER_EPOCH − 1: an epoch this high takes a new producer id instead. */
const EPOCH_MAX = 32766;

export interface TransactionHost extends OffsetsTopicHost {
  readonly config: { properties: Record<string, string>; transactionMaxTimeoutMs: number };
  readonly groups: GroupCoordinator;
  nextProducerId(): number;
  partitionExists(topic: string, partition: number): boolean;
  /** Appends a COMMIT or ABORT marker to a partition and resolves when durable; a partition that no longer exists is skipped. */
  writeTransactionMarker(
    topic: string,
    partition: number,
    producerId: number,
    producerEpoch: number,
    commit: boolean,
  ): Promise<void>;
}

export interface Clock {
  now(): number;
}

interface Transaction {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  /** The id/epoch handed out before the current one (in memory only): an InitProducerId retried with them gets the current ones. */
  lastProducerId: number;
  lastProducerEpoch: number;
  timeoutMs: number;
  status: TransactionStatus;
  partitions: Map<string, Set<number>>;
  startMs: number;
  lastUpdateMs: number;
}

export interface ProducerIdAndEpoch {
  errorCode: number;
  errorMessage: string | null;
  producerId: number;
  producerEpoch: number;
}

export interface TopicPartitionsResult {
  name: string;
  partitions: PartitionError[];
}

export interface TransactionDescription {
  errorCode: number;
  transactionalId: string;
  state: string;
  timeoutMs: number;
  startMs: number;
  producerId: number;
  producerEpoch: number;
  topics: Array<{ topic: string; partitions: number[] }>;
}

export interface TransactionSettings {
  statePartitions: number;
  timeoutCheckIntervalMs: number;
  transactionalIdsMax: number;
  transactionalIdExpirationMs: number;
}

export function transactionSettingsFrom(properties: Record<string, string>): TransactionSettings {
  return {
    statePartitions: readInteger(properties, 'transaction.state.log.num.partitions'),
    timeoutCheckIntervalMs: readInteger(properties, 'transaction.abort.timed.out.transaction.cleanup.interval.ms'),
    transactionalIdsMax: readInteger(properties, 'sluice.transactional.ids.max'),
    transactionalIdExpirationMs: readInteger(properties, 'transactional.id.expiration.ms'),
  };
}

const systemClock: Clock = { now: () => Date.now() };

function result(
  errorCode: number,
  errorMessage: string | null,
  producerId = -1,
  producerEpoch = -1,
): ProducerIdAndEpoch {
  return { errorCode, errorMessage, producerId, producerEpoch };
}

function clonePartitions(partitions: Map<string, Set<number>>): Map<string, Set<number>> {
  return new Map([...partitions].map(([topic, set]) => [topic, new Set(set)]));
}

function partitionCount(partitions: Map<string, Set<number>>): number {
  let count = 0;
  for (const set of partitions.values()) count += set.size;
  return count;
}

export class TransactionCoordinator {
  private readonly transactions = new Map<string, Transaction>();
  private readonly byProducerId = new Map<number, Transaction>();
  private readonly locks = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    private readonly host: TransactionHost,
    private readonly store: TransactionStateStore,
    readonly settings: TransactionSettings,
    private readonly clock: Clock,
  ) {}

  /** Loads every transactional id from `__transaction_state`, completes the transactions a crash left in
   *  Prepare*, and starts the timeout check (Ongoing transactions abort when their timeout passes). */
  static async open(host: TransactionHost, options: { clock?: Clock } = {}): Promise<TransactionCoordinator> {
    const settings = transactionSettingsFrom(host.config.properties);
    const coordinator = new TransactionCoordinator(
      host,
      new TransactionStateStore(host, settings.statePartitions),
      settings,
      options.clock ?? systemClock,
    );
    await coordinator.load();
    coordinator.timer = setInterval(() => void coordinator.checkTimeouts(), settings.timeoutCheckIntervalMs);
    coordinator.timer.unref();
    return coordinator;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
  }

  /** Makes sure `__transaction_state` exists (FindCoordinator for a transactional id does this, as in Kafka). */
  async ensureReady(): Promise<boolean> {
    try {
      await this.store.ensureTopic();
      return true;
    } catch (error) {
      this.host.logger.error(
        { component: 'transactions', error: String(error) },
        'transaction state topic unavailable',
      );
      return false;
    }
  }

  private async load(): Promise<void> {
    const stored = await this.store.loadAll((partition, offset, error) => {
      this.host.logger.warn(
        { component: 'transactions', partition, offset, error: String(error) },
        'unreadable transaction state record skipped',
      );
    });
    for (const [transactionalId, value] of stored) {
      if (value.status === TransactionStatus.Dead) continue;
      const transaction: Transaction = {
        transactionalId,
        producerId: value.producerId,
        producerEpoch: value.producerEpoch,
        lastProducerId: -1,
        lastProducerEpoch: -1,
        timeoutMs: value.transactionTimeoutMs,
        status: value.status,
        partitions: value.partitions,
        startMs: value.startTimestampMs,
        lastUpdateMs: value.lastUpdateTimestampMs,
      };
      this.transactions.set(transactionalId, transaction);
      this.byProducerId.set(transaction.producerId, transaction);
    }
    let completed = 0;
    for (const transaction of this.transactions.values()) {
      if (transaction.status === TransactionStatus.PrepareEpochFence)
        transaction.status = TransactionStatus.PrepareAbort;
      if (
        transaction.status === TransactionStatus.PrepareCommit ||
        transaction.status === TransactionStatus.PrepareAbort
      ) {
        await this.exclusive(transaction.transactionalId, () => this.completeQuietly(transaction));
        completed++;
      }
    }
    if (stored.size > 0)
      this.host.logger.info(
        { component: 'transactions', transactionalIds: this.transactions.size, completed },
        'transactions loaded',
      );
  }

  // ── helpers ─────────────────────────────────────────────────────────────────────────────────

  /** Runs `task` after every earlier task of the same transactional id. */
  private async exclusive<T>(transactionalId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(transactionalId) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => done);
    this.locks.set(transactionalId, tail);
    await previous;
    try {
      return await task();
    } finally {
      release();
      if (this.locks.get(transactionalId) === tail) this.locks.delete(transactionalId);
    }
  }

  private stored(transaction: Transaction): StoredTransaction {
    return {
      producerId: transaction.producerId,
      producerEpoch: transaction.producerEpoch,
      transactionTimeoutMs: transaction.timeoutMs,
      status: transaction.status,
      partitions: transaction.partitions,
      lastUpdateTimestampMs: transaction.lastUpdateMs,
      startTimestampMs: transaction.startMs,
    };
  }

  /** Writes `next` durably, then makes it the in-memory state of its transactional id. */
  private async transition(current: Transaction | undefined, next: Transaction): Promise<void> {
    next.lastUpdateMs = this.clock.now();
    await this.store.write(next.transactionalId, this.stored(next), next.lastUpdateMs);
    if (current !== undefined) {
      if (this.byProducerId.get(current.producerId) === current) this.byProducerId.delete(current.producerId);
      Object.assign(current, next);
      this.byProducerId.set(current.producerId, current);
    } else {
      this.transactions.set(next.transactionalId, next);
      this.byProducerId.set(next.producerId, next);
    }
  }

  /** Checks the producer id and epoch a client sent for its transactional id. */
  private producerError(
    transaction: Transaction | undefined,
    producerId: number,
    producerEpoch: number,
  ): ProducerIdAndEpoch | null {
    if (transaction === undefined || transaction.producerId !== producerId) {
      return result(
        ErrorCode.INVALID_PRODUCER_ID_MAPPING,
        `producer id ${producerId} is not the one of this transactional id`,
      );
    }
    if (transaction.producerEpoch !== producerEpoch) {
      return result(
        ErrorCode.PRODUCER_FENCED,
        `producer epoch ${producerEpoch} is not the current epoch ${transaction.producerEpoch}: a newer producer (or a timeout) fenced this one`,
      );
    }
    return null;
  }

  /**
   * Writes the markers of a Prepare* transaction to every partition it spans, then moves it to
   * Complete*. Throws if a marker or the state cannot be written (the transaction stays Prepare*).
   */
  private async complete(transaction: Transaction): Promise<void> {
    const commit = transaction.status === TransactionStatus.PrepareCommit;
    // All partitions at once: each has its own group-commit fsync, so N partitions cost one fsync of
    // latency, not N. If any fails, the transaction stays Prepare* and every marker is written again
    // later (a repeated marker is harmless: it ends nothing that is still open).
    const writes: Promise<void>[] = [];
    for (const [topic, partitions] of transaction.partitions) {
      for (const partition of partitions) {
        writes.push(
          this.host
            .writeTransactionMarker(topic, partition, transaction.producerId, transaction.producerEpoch, commit)
            .then(() => {
              if (topic === OFFSETS_TOPIC)
                this.host.groups.completeTransactionalOffsets(transaction.producerId, partition, commit);
            }),
        );
      }
    }
    const outcomes = await Promise.allSettled(writes);
    const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    await this.transition(transaction, {
      ...transaction,
      status: commit ? TransactionStatus.CompleteCommit : TransactionStatus.CompleteAbort,
      partitions: new Map(),
    });
    this.host.logger.debug(
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

  private async completeQuietly(transaction: Transaction): Promise<boolean> {
    try {
      await this.complete(transaction);
      return true;
    } catch (error) {
      this.host.logger.error(
        { component: 'transactions', transactionalId: transaction.transactionalId, error: String(error) },
        'transaction markers not written; will retry',
      );
      return false;
    }
  }

  /** Aborts an Ongoing transaction; with `fence`, under a bumped epoch so the old producer is refused everywhere. */
  private async abortOngoing(transaction: Transaction, fence: boolean): Promise<void> {
    const epoch =
      fence && transaction.producerEpoch < EPOCH_MAX ? transaction.producerEpoch + 1 : transaction.producerEpoch;
    await this.transition(transaction, {
      ...transaction,
      partitions: clonePartitions(transaction.partitions),
      producerEpoch: epoch,
      lastProducerId: transaction.producerId,
      lastProducerEpoch: transaction.producerEpoch,
      status: TransactionStatus.PrepareAbort,
    });
    await this.complete(transaction);
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
    const maxTimeoutMs = this.host.config.transactionMaxTimeoutMs;
    if (timeoutMs > maxTimeoutMs || timeoutMs <= 0) {
      return result(
        ErrorCode.INVALID_TRANSACTION_TIMEOUT,
        `transaction timeout ${timeoutMs} ms is outside (0, transaction.max.timeout.ms=${maxTimeoutMs}]`,
      );
    }
    if (this.closed) return result(ErrorCode.NOT_COORDINATOR, 'the broker is shutting down');
    if (!(await this.ensureReady()))
      return result(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the transaction state topic is not available');
    return this.exclusive(transactionalId, async () => {
      try {
        const transaction = this.transactions.get(transactionalId);
        if (transaction === undefined) {
          if (this.transactions.size >= this.settings.transactionalIdsMax) {
            this.host.logger.warn(
              { component: 'transactions', limit: this.settings.transactionalIdsMax },
              'sluice.transactional.ids.max reached: new transactional id refused',
            );
            return result(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'too many transactional ids');
          }
          const now = this.clock.now();
          const created: Transaction = {
            transactionalId,
            producerId: this.host.nextProducerId(),
            producerEpoch: 0,
            lastProducerId: -1,
            lastProducerEpoch: -1,
            timeoutMs,
            status: TransactionStatus.Empty,
            partitions: new Map(),
            startMs: -1,
            lastUpdateMs: now,
          };
          await this.transition(undefined, created);
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
              `producer ${expectedProducerId} epoch ${expectedEpoch} is not the current producer of this transactional id`,
            );
        }
        if (
          transaction.status === TransactionStatus.PrepareCommit ||
          transaction.status === TransactionStatus.PrepareAbort
        )
          await this.complete(transaction);
        if (transaction.status === TransactionStatus.Ongoing) await this.abortOngoing(transaction, true);
        let producerId = transaction.producerId;
        let producerEpoch = transaction.producerEpoch + 1;
        if (producerEpoch > EPOCH_MAX) {
          producerId = this.host.nextProducerId();
          producerEpoch = 0;
        }
        const lastProducerEpoch = expected && producerId === transaction.producerId ? transaction.producerEpoch : -1;
        await this.transition(transaction, {
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
        this.host.logger.debug(
          { component: 'transactions', transactionalId, producerId, producerEpoch },
          'transactional producer initialised',
        );
        return result(ErrorCode.NONE, null, producerId, producerEpoch);
      } catch (error) {
        this.host.logger.error(
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
      t.partitions.some((p) => !this.host.partitionExists(t.name, p) || t.name.startsWith('__')),
    );
    if (unknown) {
      return topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((partition) => ({
          partition,
          errorCode:
            !this.host.partitionExists(t.name, partition) || t.name.startsWith('__')
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
      partition = await this.host.groups.offsetsPartitionFor(groupId);
    } catch {
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    return this.addToTransaction(transactionalId, producerId, producerEpoch, [
      { name: OFFSETS_TOPIC, partitions: [partition] },
    ]);
  }

  private async addToTransaction(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    topics: Array<{ name: string; partitions: number[] }>,
  ): Promise<number> {
    if (this.closed) return ErrorCode.NOT_COORDINATOR;
    return this.exclusive(transactionalId, async () => {
      const transaction = this.transactions.get(transactionalId);
      const problem = this.producerError(transaction, producerId, producerEpoch);
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
        await this.transition(t, {
          ...t,
          status: TransactionStatus.Ongoing,
          partitions,
          startMs: ongoing ? t.startMs : this.clock.now(),
        });
        return ErrorCode.NONE;
      } catch (error) {
        this.host.logger.error(
          { component: 'transactions', transactionalId, error: String(error) },
          'AddPartitionsToTxn not stored',
        );
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
      }
    });
  }

  // ── TxnOffsetCommit ─────────────────────────────────────────────────────────────────────────

  /** TxnOffsetCommit: checked against the transaction (its group's partition must be in it), then stored pending by the group coordinator. */
  async commitOffsets(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    request: CommitRequest,
  ): Promise<TopicPartitionsResult[]> {
    const all = (errorCode: number) =>
      request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode })),
      }));
    if (this.closed) return all(ErrorCode.NOT_COORDINATOR);
    return this.exclusive(transactionalId, async () => {
      const transaction = this.transactions.get(transactionalId);
      const problem = this.producerError(transaction, producerId, producerEpoch);
      if (problem)
        return all(
          problem.errorCode === ErrorCode.PRODUCER_FENCED ? ErrorCode.INVALID_PRODUCER_EPOCH : problem.errorCode,
        );
      let partition: number;
      try {
        partition = await this.host.groups.offsetsPartitionFor(request.groupId);
      } catch {
        return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      }
      if (
        transaction!.status !== TransactionStatus.Ongoing ||
        !transaction!.partitions.get(OFFSETS_TOPIC)?.has(partition)
      ) {
        return all(ErrorCode.INVALID_TXN_STATE);
      }
      return this.host.groups.commitTransactionalOffsets(request, { producerId, producerEpoch }, (topic, p) =>
        this.host.partitionExists(topic, p),
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
    if (this.closed) return result(ErrorCode.NOT_COORDINATOR, 'the broker is shutting down');
    return this.exclusive(transactionalId, async () => {
      const transaction = this.transactions.get(transactionalId);
      const problem = this.producerError(transaction, producerId, producerEpoch);
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
            await this.transition(t, {
              ...t,
              partitions: clonePartitions(t.partitions),
              status: commit ? TransactionStatus.PrepareCommit : TransactionStatus.PrepareAbort,
            });
          } catch (error) {
            this.host.logger.error(
              { component: 'transactions', transactionalId, error: String(error) },
              'EndTxn not stored',
            );
            return result(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the transaction state could not be written');
          }
          await this.completeQuietly(t); // the decision is durable: a failed marker is retried by the timer
          return done();
        case TransactionStatus.CompleteCommit:
          return commit ? done() : wrongState();
        case TransactionStatus.CompleteAbort:
          return commit ? wrongState() : done();
        case TransactionStatus.PrepareCommit:
        case TransactionStatus.PrepareAbort:
          if (commit !== (t.status === TransactionStatus.PrepareCommit)) return wrongState();
          await this.completeQuietly(t);
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
    const transaction = this.byProducerId.get(producerId);
    if (transaction === undefined)
      return { errorCode: ErrorCode.INVALID_TXN_STATE, message: `producer ${producerId} has no transaction` };
    if (producerEpoch < transaction.producerEpoch) {
      return {
        errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
        message: `producer ${producerId} epoch ${producerEpoch} is older than the current epoch ${transaction.producerEpoch}`,
      };
    }
    if (
      producerEpoch !== transaction.producerEpoch ||
      transaction.status !== TransactionStatus.Ongoing ||
      !transaction.partitions.get(topic)?.has(partition)
    ) {
      return {
        errorCode: ErrorCode.INVALID_TXN_STATE,
        message: `${topic}-${partition} is not part of an ongoing transaction of producer ${producerId} epoch ${producerEpoch}`,
      };
    }
    return null;
  }

  /**
   * Aborts Ongoing transactions older than their timeout (fencing their producer), retries unfinished
   * markers, and forgets transactional ids idle for `transactional.id.expiration.ms` with no transaction
   * open (a tombstone in `__transaction_state`; the id starts afresh on its next InitProducerId).
   */
  async checkTimeouts(): Promise<number> {
    if (this.closed) return 0;
    const now = this.clock.now();
    let aborted = 0;
    const idle = (t: Transaction, at: number) =>
      (t.status === TransactionStatus.Empty ||
        t.status === TransactionStatus.CompleteCommit ||
        t.status === TransactionStatus.CompleteAbort) &&
      at - t.lastUpdateMs >= this.settings.transactionalIdExpirationMs;
    for (const transaction of [...this.transactions.values()]) {
      if (idle(transaction, now)) {
        await this.exclusive(transaction.transactionalId, async () => {
          if (
            !idle(transaction, this.clock.now()) ||
            this.transactions.get(transaction.transactionalId) !== transaction
          )
            return;
          try {
            await this.store.write(transaction.transactionalId, null, this.clock.now());
            this.transactions.delete(transaction.transactionalId);
            if (this.byProducerId.get(transaction.producerId) === transaction)
              this.byProducerId.delete(transaction.producerId);
            this.host.logger.info(
              {
                component: 'transactions',
                transactionalId: transaction.transactionalId,
                producerId: transaction.producerId,
              },
              'transactional id expired',
            );
          } catch (error) {
            this.host.logger.error(
              { component: 'transactions', transactionalId: transaction.transactionalId, error: String(error) },
              'transactional id expiry not stored; will retry',
            );
          }
        });
        continue;
      }
      const expired =
        transaction.status === TransactionStatus.Ongoing &&
        transaction.startMs >= 0 &&
        now - transaction.startMs >= transaction.timeoutMs;
      const unfinished =
        transaction.status === TransactionStatus.PrepareCommit || transaction.status === TransactionStatus.PrepareAbort;
      if (!expired && !unfinished) continue;
      await this.exclusive(transaction.transactionalId, async () => {
        try {
          if (
            transaction.status === TransactionStatus.Ongoing &&
            this.clock.now() - transaction.startMs >= transaction.timeoutMs
          ) {
            this.host.logger.warn(
              {
                component: 'transactions',
                transactionalId: transaction.transactionalId,
                producerId: transaction.producerId,
                timeoutMs: transaction.timeoutMs,
              },
              'transaction timed out: aborting',
            );
            await this.abortOngoing(transaction, true);
            aborted++;
          } else if (
            transaction.status === TransactionStatus.PrepareCommit ||
            transaction.status === TransactionStatus.PrepareAbort
          ) {
            await this.complete(transaction);
          }
        } catch (error) {
          this.host.logger.error(
            { component: 'transactions', transactionalId: transaction.transactionalId, error: String(error) },
            'transaction timeout handling failed; will retry',
          );
        }
      });
    }
    return aborted;
  }

  // ── DescribeTransactions / ListTransactions ─────────────────────────────────────────────────

  describe(transactionalId: string): TransactionDescription {
    const t = this.transactions.get(transactionalId);
    if (t === undefined) {
      return {
        errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND,
        transactionalId,
        state: '',
        timeoutMs: 0,
        startMs: -1,
        producerId: -1,
        producerEpoch: -1,
        topics: [],
      };
    }
    return {
      errorCode: ErrorCode.NONE,
      transactionalId,
      state: TRANSACTION_STATUS_NAMES[t.status],
      timeoutMs: t.timeoutMs,
      startMs:
        t.status === TransactionStatus.Ongoing ||
        t.status === TransactionStatus.PrepareCommit ||
        t.status === TransactionStatus.PrepareAbort
          ? t.startMs
          : -1,
      producerId: t.producerId,
      producerEpoch: t.producerEpoch,
      topics: [...t.partitions].map(([topic, partitions]) => ({
        topic,
        partitions: [...partitions].sort((a, b) => a - b),
      })),
    };
  }

  list(
    stateFilters: string[],
    producerIdFilters: number[],
    durationFilterMs: number,
  ): {
    unknownStateFilters: string[];
    transactions: Array<{ transactionalId: string; producerId: number; state: string }>;
  } {
    const known = new Set(Object.values(TRANSACTION_STATUS_NAMES));
    const unknownStateFilters = stateFilters.filter((s) => !known.has(s));
    const states = new Set(stateFilters);
    const producers = new Set(producerIdFilters);
    const now = this.clock.now();
    const transactions = [];
    for (const t of this.transactions.values()) {
      const state = TRANSACTION_STATUS_NAMES[t.status];
      if (states.size > 0 && !states.has(state)) continue;
      if (producers.size > 0 && !producers.has(t.producerId)) continue;
      if (durationFilterMs >= 0 && (t.startMs < 0 || now - t.startMs <= durationFilterMs)) continue;
      transactions.push({ transactionalId: t.transactionalId, producerId: t.producerId, state });
    }
    return { unknownStateFilters, transactions };
  }

  /** The state name of a transactional id (tests, console). */
  stateOf(transactionalId: string): string | undefined {
    const t = this.transactions.get(transactionalId);
    return t === undefined ? undefined : TRANSACTION_STATUS_NAMES[t.status];
  }
}
