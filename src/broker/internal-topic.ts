// The broker's compacted internal topics (`__consumer_offsets`, `__transaction_state`): ordinary
// partitioned topics of the log whose records are keyed by an id (a group, a transactional id) that
// always maps to one partition, Kafka's abs(hashCode(id)) % partitions, so one id's history reads
// back in order and the last record per key is its current state.
//
// Created on first use with cleanup.policy=compact; each partition is read back when this broker
// becomes its leader (partition-ownership.ts; one node: all of them at open). Every write is one record
// batch appended to one partition and awaited until committed — under the default `sync` flush policy
// fsync'ed, and in a cluster on every in-sync replica — before the request that caused it is answered.
//
// The store sees the broker only through `InternalPartitions` (services.ts): it runs on any
// implementation of it, such as partitions on files without a broker (test/broker/groups/without-broker.test.ts).
import { ControlRecordType, decodeControlRecord } from '../protocol/record-batch/control.js';
import { encodeRecordBatchSync } from '../protocol/record-batch/record-encoder.js';
import { decodeRecordBatches } from '../protocol/record-batch/record-decoder.js';
import type { Logger } from './logger.js';
import type { InternalPartitions } from './services.js';

/** Kafka's `offsets.topic.segment.bytes` and `transaction.state.log.segment.bytes` (100 MiB):
 *  internal topics roll less often than data topics. */
const INTERNAL_SEGMENT_BYTES = 100 * 1024 * 1024;
/** Bytes read per step when loading; a batch larger than this still comes back whole (KIP-74). */
const LOAD_READ_BYTES = 1024 * 1024;

/** Java's String.hashCode (UTF-16 code units, 32-bit overflow), as Kafka uses to place a group. */
export function javaStringHashCode(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

/** The partition of an id (a group, a transactional id): Kafka's `Utils.abs(id.hashCode) % partitions`. */
export function partitionForKey(id: string, partitions: number): number {
  const hash = javaStringHashCode(id);
  const abs = hash === -2147483648 ? 0 : Math.abs(hash);
  return abs % partitions;
}

export interface InternalRecord {
  key: Buffer;
  /** null: tombstone. */
  value: Buffer | null;
}

/** A record read back: where it is, and the producer of its batch when that batch is transactional. */
export interface StoredRecord extends InternalRecord {
  partition: number;
  offset: number;
  /** -1 for a plain batch. */
  transactionalProducerId: number;
  /** A COMMIT or ABORT marker of `transactionalProducerId` (key empty, value null). */
  marker?: 'commit' | 'abort';
}

export class InternalTopicError extends Error {
  override readonly name = 'InternalTopicError';
}

export class InternalTopicStore {
  private creating: Promise<number> | null = null;

  constructor(
    private readonly partitions: InternalPartitions,
    private readonly logger: Logger,
    /** The topic, e.g. `__consumer_offsets`. */
    readonly topic: string,
    private readonly partitionsWhenCreated: number,
    /** The `component` of its log lines, e.g. "groups". */
    private readonly component: string,
    /** Runs once this store created the topic (its owner then holds the empty partitions it leads). */
    private readonly onCreated: () => void = () => {},
  ) {}

  /** The partition of an id, or -1 while the topic does not exist or this store is creating it. */
  partitionOf(id: string): number {
    if (this.creating !== null) return -1;
    const count = this.partitionCount;
    return count === null ? -1 : partitionForKey(id, count);
  }

  /** Partition count of the topic, or null when it does not exist yet. */
  get partitionCount(): number | null {
    return this.partitions.partitionCount(this.topic);
  }

  /** Creates the topic if it does not exist; resolves with its partition count. */
  ensureTopic(): Promise<number> {
    // While the topic is being created it is already registered but its logs are not all open yet:
    // everyone waits for the creation to finish.
    if (this.creating !== null) return this.creating;
    const existing = this.partitionCount;
    if (existing !== null) return Promise.resolve(existing);
    this.creating ??= (async () => {
      try {
        const created = await this.partitions.createTopic(this.topic, this.partitionsWhenCreated, {
          'cleanup.policy': 'compact',
          'segment.bytes': String(INTERNAL_SEGMENT_BYTES),
        });
        const count = this.partitionCount;
        if (count === null)
          throw new InternalTopicError(`cannot create ${this.topic}: ${created.errorMessage ?? created.errorCode}`);
        this.logger.info({ component: this.component, topic: this.topic, partitions: count }, 'internal topic created');
        this.onCreated();
        return count;
      } finally {
        this.creating = null;
      }
    })();
    return this.creating;
  }

  /**
   * Appends `records` as one batch to the partition of `partitionKey` (a group or transactional id);
   * resolves when durable. With `producer`
   * the batch is transactional (TxnOffsetCommit): its offsets count only once a COMMIT marker of that
   * producer follows in the partition, as in Kafka.
   */
  async append(
    partitionKey: string,
    records: InternalRecord[],
    timestamp: number,
    producer?: { producerId: number; producerEpoch: number },
  ): Promise<void> {
    if (records.length === 0) return;
    const partition = partitionForKey(partitionKey, await this.ensureTopic());
    if (!this.partitions.partition(this.topic, partition))
      throw new InternalTopicError(`${this.topic}-${partition} is not open`);
    const transactional = producer
      ? {
          producerId: producer.producerId,
          producerEpoch: producer.producerEpoch,
          baseSequence: -1,
          transactional: true,
        }
      : {};
    const batch = encodeRecordBatchSync({
      records: records.map((r) => ({ key: r.key, value: r.value })),
      timestamp,
      ...transactional,
    });
    await this.partitions.append(this.topic, partition, batch);
  }

  /** The end of what `read` returns for a partition (its high watermark), or null when it is not open. */
  endOffset(partition: number): number | null {
    return this.partitions.partition(this.topic, partition)?.highWatermark ?? null;
  }

  /**
   * Every record of every partition, partition by partition, in log order. Records of transactional
   * batches carry their producer id; transaction markers come as `marker` entries (key empty).
   */
  async *readAll(): AsyncGenerator<StoredRecord> {
    const count = this.partitionCount;
    if (count === null) return;
    for (let partition = 0; partition < count; partition++) yield* this.read(partition);
  }

  /** The records of one partition from `fromOffset` (default: its start) up to its end offset when called. */
  async *read(partition: number, fromOffset = 0): AsyncGenerator<StoredRecord> {
    const log = this.partitions.partition(this.topic, partition);
    if (!log) return;
    let offset = Math.max(fromOffset, log.logStartOffset);
    const end = log.highWatermark;
    while (offset < end) {
      const read = await log.read(offset, LOAD_READ_BYTES);
      if (read.records.length === 0) break;
      for (const batch of await decodeRecordBatches(read.records)) {
        const transactionalProducerId = batch.isTransactional ? batch.producerId : -1;
        if (batch.isControl) {
          const record = batch.records[0];
          if (!batch.isTransactional || record === undefined || record.offset < offset) continue;
          let type: number;
          try {
            type = decodeControlRecord(record.key, record.value).type;
          } catch {
            continue;
          }
          if (type === ControlRecordType.Commit || type === ControlRecordType.Abort) {
            yield {
              partition,
              offset: record.offset,
              key: Buffer.alloc(0),
              value: null,
              transactionalProducerId,
              marker: type === ControlRecordType.Commit ? 'commit' : 'abort',
            };
          }
          continue;
        }
        for (const record of batch.records) {
          if (record.offset < offset || record.key === null) continue;
          yield {
            partition,
            offset: record.offset,
            key: Buffer.from(record.key),
            value: record.value === null ? null : Buffer.from(record.value),
            transactionalProducerId,
          };
        }
      }
      if (read.nextOffset <= offset) break;
      offset = read.nextOffset;
    }
  }
}
