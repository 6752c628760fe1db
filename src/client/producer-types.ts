// The producer's public types: what a caller hands to `send`/`sendBatch`, what it gets back, and the
// options. In a file of their own so the producer's collaborators (transaction.ts, the sender, the
// accumulator) can name them without importing the producer itself: imports go one way, from the
// facade (producer.ts) to its parts, never back.
import type { ClusterOptions } from './cluster.js';
import type { Serializer } from './serializers.js';

export type CompressionName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export type MessageHeaders =
  Record<string, string | Buffer | null> | ReadonlyArray<readonly [string, string | Buffer | null]>;

export interface ProducerMessage<K = Buffer, V = Buffer> {
  key?: K | null;
  value: V | null;
  /** Send to this partition, bypassing the partitioner. */
  partition?: number;
  headers?: MessageHeaders;
  /** Create time in ms since the epoch (default: now). */
  timestamp?: number;
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  /** The message's offset; -1n when acks=0 (the broker does not answer). */
  offset: bigint;
  /** The log append time when the topic uses it, else the message's create time. */
  timestamp: number;
}

/** Picks a partition in [0, partitionCount); `key` is the serialised key (null when none). */
export type PartitionSelector<K = Buffer, V = Buffer> = (
  message: ProducerMessage<K, V>,
  partitionCount: number,
  key: Buffer | null,
) => number;

export interface ProducerOptions<K = Buffer, V = Buffer> extends ClusterOptions {
  /** Default true: acks=all, ≤ 5 batches in flight per partition, sequence numbers. */
  idempotent?: boolean;
  /** -1 (all, default), 1 (leader) or 0 (no answer). Idempotence requires -1. */
  acks?: -1 | 0 | 1;
  /** How long a batch may wait for more messages (default 5). */
  lingerMs?: number;
  /** A batch closes when its records reach this size (default 16 384). */
  batchBytes?: number;
  compression?: CompressionName;
  /** Memory for messages not yet acknowledged (default 32 MiB). */
  bufferBytesMax?: number;
  /** When the buffer is full: wait for room (default) or fail at once with BufferFullError. */
  bufferFullAction?: 'wait' | 'fail';
  /** How long `send` waits for buffer room before failing (default 60 000). */
  bufferWaitMs?: number;
  /** Default 5 (the most idempotence keeps in order). */
  maxInFlightPerPartition?: number;
  /** Time the broker may take to reach `acks` (default 30 000). */
  ackTimeoutMs?: number;
  /** A message not acknowledged this long after `send` fails instead of being retried again (default 120 000). */
  deliveryTimeoutMs?: number;
  partitioner?: PartitionSelector<K, V>;
  keySerializer?: Serializer<K>;
  valueSerializer?: Serializer<V>;
  /** Makes the producer transactional (needs idempotence): sends happen inside `transaction(fn)`. */
  transactionalId?: string;
  /** The coordinator aborts a transaction open longer than this (default 60 000). */
  transactionTimeoutMs?: number;
}
