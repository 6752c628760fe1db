// Records of `__transaction_state`, in Apache Kafka's own format (TransactionLogKey /
// TransactionLogValue, core's TransactionLog) so an operator's tools read them unchanged. The key
// says which transactional id; the value is the whole transaction metadata after a transition; a
// null value is a tombstone. Compaction keeps the last value per key, which is all a load needs.
//
//   key   version int16 (0) | transactional_id string
//   value version int16 (0) | producer_id int64 | producer_epoch int16 | transaction_timeout_ms int32
//         | transaction_status int8 | transaction_partitions nullable int32 count ×
//           { topic string, partition_ids int32 count × int32 }
//         | last_update_timestamp_ms int64 | start_timestamp_ms int64
//
// Sluice writes value v0 (the v1 flexible form only adds tagged fields Sluice does not need) and
// reads v0 and v1 (tagged fields skipped). Strings are int16-length UTF-8.
import { ByteReader } from '../../protocol/primitives/byte-reader.js';
import { ByteWriter } from '../../protocol/primitives/byte-writer.js';

/** Kafka's TransactionState ids, as stored in transaction_status. */
export const TransactionStatus = {
  Empty: 0,
  Ongoing: 1,
  PrepareCommit: 2,
  PrepareAbort: 3,
  CompleteCommit: 4,
  CompleteAbort: 5,
  Dead: 6,
  PrepareEpochFence: 7,
} as const;
export type TransactionStatus = (typeof TransactionStatus)[keyof typeof TransactionStatus];

/** The names DescribeTransactions/ListTransactions use (Kafka's TransactionState.stateName). */
export const TRANSACTION_STATUS_NAMES: Record<TransactionStatus, string> = {
  0: 'Empty',
  1: 'Ongoing',
  2: 'PrepareCommit',
  3: 'PrepareAbort',
  4: 'CompleteCommit',
  5: 'CompleteAbort',
  6: 'Dead',
  7: 'PrepareEpochFence',
};

export interface StoredTransaction {
  producerId: number;
  producerEpoch: number;
  transactionTimeoutMs: number;
  status: TransactionStatus;
  /** topic → partitions. */
  partitions: Map<string, Set<number>>;
  lastUpdateTimestampMs: number;
  startTimestampMs: number;
}

const KEY_VERSION = 0;
const VALUE_VERSION = 0;

export function encodeTransactionKey(transactionalId: string): Buffer {
  const w = new ByteWriter(64);
  w.int16(KEY_VERSION);
  w.string(transactionalId);
  return w.toBuffer();
}

export function decodeTransactionKey(key: Buffer): string {
  const r = new ByteReader(key, 0, key.length, 'TransactionLogKey');
  const version = r.int16('version');
  if (version !== KEY_VERSION) r.fail('version', `unknown transaction log key version ${version}`);
  return r.string('transactional_id');
}

export function encodeTransactionValue(value: StoredTransaction): Buffer {
  const w = new ByteWriter(128);
  w.int16(VALUE_VERSION);
  w.int64(BigInt(value.producerId));
  w.int16(value.producerEpoch);
  w.int32(value.transactionTimeoutMs);
  w.int8(value.status);
  // Kafka writes an empty list for Empty and Complete* states; null is allowed on read.
  w.int32(value.partitions.size);
  for (const [topic, partitions] of value.partitions) {
    w.string(topic);
    w.int32(partitions.size);
    for (const partition of partitions) w.int32(partition);
  }
  w.int64(BigInt(value.lastUpdateTimestampMs));
  w.int64(BigInt(value.startTimestampMs));
  return w.toBuffer();
}

export function decodeTransactionValue(value: Buffer): StoredTransaction {
  const r = new ByteReader(value, 0, value.length, 'TransactionLogValue');
  const version = r.int16('version');
  if (version !== 0 && version !== 1) r.fail('version', `unknown transaction log value version ${version}`);
  const flexible = version >= 1;
  const producerId = Number(r.int64('producer_id'));
  const producerEpoch = r.int16('producer_epoch');
  const transactionTimeoutMs = r.int32('transaction_timeout_ms');
  const status = r.int8('transaction_status');
  if (!(status in TRANSACTION_STATUS_NAMES)) r.fail('transaction_status', `unknown status ${status}`);
  const partitions = new Map<string, Set<number>>();
  const topics = flexible ? r.uvarint('transaction_partitions') - 1 : r.int32('transaction_partitions');
  for (let i = 0; i < topics; i++) {
    const topic = flexible ? r.compactString('topic') : r.string('topic');
    const count = flexible ? r.uvarint('partition_ids') - 1 : r.int32('partition_ids');
    if (count < 0 || count * 4 > r.remaining) r.fail('partition_ids', `bad count ${count}`);
    const set = new Set<number>();
    for (let j = 0; j < count; j++) set.add(r.int32('partition_id'));
    if (flexible) skipTaggedFields(r);
    partitions.set(topic, set);
  }
  const lastUpdateTimestampMs = Number(r.int64('last_update_timestamp_ms'));
  const startTimestampMs = Number(r.int64('start_timestamp_ms'));
  return {
    producerId,
    producerEpoch,
    transactionTimeoutMs,
    status: status as TransactionStatus,
    partitions,
    lastUpdateTimestampMs,
    startTimestampMs,
  };
}

function skipTaggedFields(r: ByteReader): void {
  const count = r.uvarint('tagged fields');
  for (let i = 0; i < count; i++) {
    r.uvarint('tag');
    r.skip(r.uvarint('tag size'), 'tagged field');
  }
}
