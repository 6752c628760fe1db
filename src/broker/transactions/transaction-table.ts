// The transactional ids the coordinator holds, by id and by producer id, and the one way their state
// changes: `transition` writes the next state to `__transaction_state` (state-store.ts) and only then
// makes it the state in memory, so memory never runs ahead of what a restart would read back.
//
// Every operation on one transactional id runs alone (`exclusive`), so markers of one transaction
// never interleave with the next one's AddPartitions or TxnOffsetCommit.
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import type { Clock } from '../services.js';
import { TransactionStatus, type StoredTransaction } from './state-records.js';
import type { TransactionStateStore } from './state-store.js';

export interface Transaction {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  /** The id/epoch handed out before the current one (in memory only): an InitProducerId retried with them
   *  gets the current ones. */
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

export function result(
  errorCode: number,
  errorMessage: string | null,
  producerId = -1,
  producerEpoch = -1,
): ProducerIdAndEpoch {
  return { errorCode, errorMessage, producerId, producerEpoch };
}

export function clonePartitions(partitions: Map<string, Set<number>>): Map<string, Set<number>> {
  return new Map([...partitions].map(([topic, set]) => [topic, new Set(set)]));
}

export function partitionCount(partitions: Map<string, Set<number>>): number {
  let count = 0;
  for (const set of partitions.values()) count += set.size;
  return count;
}

/** Checks the producer id and epoch a client sent for its transactional id. */
export function producerError(
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
      `producer epoch ${producerEpoch} is not the current epoch ${transaction.producerEpoch}: ` +
        'a newer producer (or a timeout) fenced this one',
    );
  }
  return null;
}

function stored(transaction: Transaction): StoredTransaction {
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

export class TransactionTable {
  private readonly transactions = new Map<string, Transaction>();
  private readonly byProducerId = new Map<number, Transaction>();
  private readonly locks = new Map<string, Promise<void>>();

  constructor(
    private readonly store: TransactionStateStore,
    private readonly clock: Clock,
  ) {}

  /** Every id held, by transactional id. */
  get byId(): ReadonlyMap<string, Transaction> {
    return this.transactions;
  }

  get(transactionalId: string): Transaction | undefined {
    return this.transactions.get(transactionalId);
  }

  ofProducer(producerId: number): Transaction | undefined {
    return this.byProducerId.get(producerId);
  }

  /** Still the state held for its transactional id (not expired meanwhile). */
  holds(transaction: Transaction): boolean {
    return this.transactions.get(transaction.transactionalId) === transaction;
  }

  values(): IterableIterator<Transaction> {
    return this.transactions.values();
  }

  get size(): number {
    return this.transactions.size;
  }

  /** Puts back what one partition of `__transaction_state` held (Dead ids left out), if `current()` still
   *  says so once it is read. Returns the ids put back. */
  async load(
    partition: number,
    current: () => boolean,
    onBadRecord: (partition: number, offset: number, error: unknown) => void,
  ): Promise<Transaction[]> {
    const loaded = await this.store.load(partition, onBadRecord);
    const restored: Transaction[] = [];
    if (!current()) return restored;
    for (const [transactionalId, value] of loaded) {
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
      restored.push(transaction);
    }
    return restored;
  }

  /** Forgets, without writing anything, the ids of one partition (it moved to another broker). */
  drop(partition: number): void {
    for (const transaction of [...this.transactions.values()]) {
      if (this.store.partitionOf(transaction.transactionalId) !== partition) continue;
      this.transactions.delete(transaction.transactionalId);
      if (this.byProducerId.get(transaction.producerId) === transaction)
        this.byProducerId.delete(transaction.producerId);
    }
  }

  /** Runs `task` after every earlier task of the same transactional id. */
  async exclusive<T>(transactionalId: string, task: () => Promise<T>): Promise<T> {
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

  /** Writes `next` durably, then makes it the in-memory state of its transactional id. */
  async transition(current: Transaction | undefined, next: Transaction): Promise<void> {
    next.lastUpdateMs = this.clock.now();
    await this.store.write(next.transactionalId, stored(next), next.lastUpdateMs);
    if (current !== undefined) {
      if (this.byProducerId.get(current.producerId) === current) this.byProducerId.delete(current.producerId);
      Object.assign(current, next);
      this.byProducerId.set(current.producerId, current);
    } else {
      this.transactions.set(next.transactionalId, next);
      this.byProducerId.set(next.producerId, next);
    }
  }

  /** Forgets a transactional id: a tombstone first, then memory. */
  async forget(transaction: Transaction): Promise<void> {
    await this.store.write(transaction.transactionalId, null, this.clock.now());
    this.transactions.delete(transaction.transactionalId);
    if (this.byProducerId.get(transaction.producerId) === transaction) this.byProducerId.delete(transaction.producerId);
  }
}
