// `__transaction_state`: an ordinary partitioned, compacted topic of the log holding the metadata of
// every transactional id (state-records.ts). A transactional id's records all go to one partition,
// Kafka's abs(hashCode(transactionalId)) % partitions, so its history reads back in order; the last
// record per key is the current state. Created on first use with `transaction.state.log.num.partitions`
// partitions; every write is one batch appended and awaited (fsync under the `sync` flush policy)
// before the request that caused it is answered.
import { decodeRecordBatches, encodeRecordBatchSync } from '../../protocol/record-batch/records.js';
import { partitionForGroup } from '../groups/offsets-records.js';
import type { OffsetsTopicHost } from '../groups/offsets-store.js';
import { decodeTransactionKey, decodeTransactionValue, encodeTransactionKey, encodeTransactionValue, type StoredTransaction } from './state-records.js';

export const TRANSACTION_STATE_TOPIC = '__transaction_state';
/** Kafka's `transaction.state.log.segment.bytes` (100 MiB). */
const STATE_SEGMENT_BYTES = 100 * 1024 * 1024;
const LOAD_READ_BYTES = 1024 * 1024;

export class TransactionStateError extends Error {
  override readonly name = 'TransactionStateError';
}

export class TransactionStateStore {
  private creating: Promise<number> | null = null;

  constructor(
    private readonly host: OffsetsTopicHost,
    private readonly partitionsWhenCreated: number,
  ) {}

  get partitionCount(): number | null {
    return this.host.topics.get(TRANSACTION_STATE_TOPIC)?.partitions ?? null;
  }

  ensureTopic(): Promise<number> {
    if (this.creating !== null) return this.creating;
    const existing = this.partitionCount;
    if (existing !== null) return Promise.resolve(existing);
    this.creating = (async () => {
      try {
        const created = await this.host.createTopic(TRANSACTION_STATE_TOPIC, this.partitionsWhenCreated, { 'cleanup.policy': 'compact', 'segment.bytes': String(STATE_SEGMENT_BYTES) });
        const count = this.partitionCount;
        if (count === null) throw new TransactionStateError(`cannot create ${TRANSACTION_STATE_TOPIC}: ${created.errorMessage ?? created.errorCode}`);
        this.host.logger.info({ component: 'transactions', topic: TRANSACTION_STATE_TOPIC, partitions: count }, 'transaction state topic created');
        return count;
      } finally {
        this.creating = null;
      }
    })();
    return this.creating;
  }

  /** Writes the state of one transactional id (null: tombstone); resolves when durable. */
  async write(transactionalId: string, value: StoredTransaction | null, timestamp: number): Promise<void> {
    const partitions = await this.ensureTopic();
    const partition = partitionForGroup(transactionalId, partitions);
    const log = this.host.partitions.get(TRANSACTION_STATE_TOPIC, partition);
    if (!log) throw new TransactionStateError(`${TRANSACTION_STATE_TOPIC}-${partition} is not open`);
    const batch = encodeRecordBatchSync({ records: [{ key: encodeTransactionKey(transactionalId), value: value === null ? null : encodeTransactionValue(value) }], timestamp });
    await log.append(batch);
    this.host.partitions.wake(TRANSACTION_STATE_TOPIC, partition);
  }

  /** The last state of every transactional id (tombstoned ones left out). Unreadable records are reported and skipped. */
  async loadAll(onBadRecord: (partition: number, offset: number, error: unknown) => void): Promise<Map<string, StoredTransaction>> {
    const states = new Map<string, StoredTransaction>();
    const count = this.partitionCount;
    if (count === null) return states;
    for (let partition = 0; partition < count; partition++) {
      const log = this.host.partitions.get(TRANSACTION_STATE_TOPIC, partition);
      if (!log) continue;
      let offset = log.logStartOffset;
      const end = log.highWatermark;
      while (offset < end) {
        const read = await log.read(offset, LOAD_READ_BYTES);
        if (read.records.length === 0) break;
        for (const batch of await decodeRecordBatches(read.records)) {
          if (batch.isControl) continue;
          for (const record of batch.records) {
            if (record.offset < offset || record.key === null) continue;
            try {
              const transactionalId = decodeTransactionKey(Buffer.from(record.key));
              if (record.value === null) states.delete(transactionalId);
              else states.set(transactionalId, decodeTransactionValue(Buffer.from(record.value)));
            } catch (error) {
              onBadRecord(partition, record.offset, error);
            }
          }
        }
        if (read.nextOffset <= offset) break;
        offset = read.nextOffset;
      }
    }
    return states;
  }
}
