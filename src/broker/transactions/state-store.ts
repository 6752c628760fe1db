// `__transaction_state`: the internal topic (internal-topic.ts) holding the metadata of every
// transactional id (state-records.ts); the last record per transactional id is its current state.
// Created on first use with `transaction.state.log.num.partitions` partitions.
import { InternalTopicStore } from '../internal-topic.js';
import type { InternalPartitions, Logger } from '../services.js';
import {
  decodeTransactionKey,
  decodeTransactionValue,
  encodeTransactionKey,
  encodeTransactionValue,
  type StoredTransaction,
} from './state-records.js';

export const TRANSACTION_STATE_TOPIC = '__transaction_state';

export class TransactionStateStore {
  private readonly topic: InternalTopicStore;

  constructor(partitions: InternalPartitions, logger: Logger, partitionsWhenCreated: number, onCreated?: () => void) {
    this.topic = new InternalTopicStore(
      partitions,
      logger,
      TRANSACTION_STATE_TOPIC,
      partitionsWhenCreated,
      'transactions',
      onCreated,
    );
  }

  /** The partition holding a transactional id, or -1 before the topic exists. */
  partitionOf(transactionalId: string): number {
    return this.topic.partitionOf(transactionalId);
  }

  get partitionCount(): number | null {
    return this.topic.partitionCount;
  }

  ensureTopic(): Promise<number> {
    return this.topic.ensureTopic();
  }

  /** Writes the state of one transactional id (null: tombstone); resolves when durable. */
  write(transactionalId: string, value: StoredTransaction | null, timestamp: number): Promise<void> {
    return this.topic.append(
      transactionalId,
      [{ key: encodeTransactionKey(transactionalId), value: value === null ? null : encodeTransactionValue(value) }],
      timestamp,
    );
  }

  /** The last state of every transactional id of one partition (tombstoned ones left out). Unreadable
   *  records are reported and skipped. */
  async load(
    partition: number,
    onBadRecord: (partition: number, offset: number, error: unknown) => void,
  ): Promise<Map<string, StoredTransaction>> {
    const states = new Map<string, StoredTransaction>();
    for await (const record of this.topic.read(partition)) {
      if (record.marker !== undefined) continue;
      try {
        const transactionalId = decodeTransactionKey(record.key);
        if (record.value === null) states.delete(transactionalId);
        else states.set(transactionalId, decodeTransactionValue(record.value));
      } catch (error) {
        onBadRecord(record.partition, record.offset, error);
      }
    }
    return states;
  }
}
