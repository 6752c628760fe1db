// The consumer's public types: the options, the message a handler gets, and the partition names. In
// a file of their own so the consumer's collaborators (fetcher, delivery, commits, dead letters) can
// name them without importing the consumer itself: imports go one way, from the facade
// (consumer.ts) to its parts, never back.
import type { AssignorName } from './assignors.js';
import type { ClusterOptions } from './cluster.js';
import type { DedupOptions } from './dedup.js';
import type { RetryPolicy } from './ordered-executor.js';
import type { ProducerOptions } from './producer-types.js';
import type { Deserializer } from './serializers.js';

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface ConsumedMessage<K = Buffer, V = Buffer> {
  topic: string;
  partition: number;
  offset: bigint;
  /** Create time or log append time, ms since the epoch. */
  timestamp: number;
  key: K | null;
  value: V | null;
  /** Header values by key (the last one wins when a key repeats; all of them in `headerList`). */
  headers: Record<string, Buffer | null>;
  headerList: Array<{ key: string; value: Buffer | null }>;
  /** 1 on the first run of the handler for this message, 2 on the first retry, … */
  attempt: number;
  /** The raw key and value bytes. */
  rawKey: Buffer | null;
  rawValue: Buffer | null;
}

export type MessageHandler<K, V> = (message: ConsumedMessage<K, V>) => Promise<void>;

export interface DeadLetterOptions {
  /** Dead-letter topic for a source topic (default `<topic>.DLQ`). */
  topic?: (topic: string) => string;
  /** Options of the producer that writes dead letters (bootstrap and clientId default to the consumer's). */
  producer?: ProducerOptions;
}

export interface ConsumerOptions<K = Buffer, V = Buffer> extends ClusterOptions {
  /** Consumer group: needed for `subscribe` and for committing offsets. */
  groupId?: string;
  /** Handlers running at once (default 1). */
  concurrency?: number;
  /** What must stay in order: messages of one key (default) or all messages of a partition. */
  orderBy?: 'key' | 'partition';
  /** Null-key messages: in partition order (default) or in parallel with no order. */
  nullKeyOrder?: 'partition' | 'none';
  retry?: RetryPolicy;
  /** Send messages that failed `retry.maxAttempts` times to a dead-letter topic (default off). */
  deadLetter?: boolean | DeadLetterOptions;
  /** Skip messages whose id was already processed (see dedup.ts). */
  dedup?: DedupOptions<ConsumedMessage<K, V>>;
  /** Default read_committed. */
  isolationLevel?: 'read_committed' | 'read_uncommitted';
  /** Where to start without a committed offset (default 'latest'). */
  autoOffsetReset?: 'earliest' | 'latest';
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
  partitionMaxBytes?: number;
  /** Fetching pauses while this many messages wait in the engine (default 10 000). */
  maxBufferedMessages?: number;
  /** Commit finished offsets every `autoCommitIntervalMs` (default true, 5 000). */
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
  /** Group membership (see group.ts). */
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /**
   * Static membership (KIP-345): a stable id per instance, so a restart within the session timeout
   * does not rebalance.
   */
  groupInstanceId?: string;
  /** Assignment strategies in order of preference (default ['cooperative-sticky', 'range']). */
  assignors?: AssignorName[];
  /** Called with newly assigned partitions (after the rebalance). */
  onAssigned?(partitions: TopicPartition[]): void | Promise<void>;
  /** Called with partitions about to be taken away, after their finished offsets were committed. */
  onRevoked?(partitions: TopicPartition[]): void | Promise<void>;
  /** After each successful commit, with the offsets committed (the next offset to consume per partition). */
  onCommit?(offsets: Array<TopicPartition & { offset: bigint }>): void;
  /** Every handler failure (the message will be retried or dead-lettered). */
  onError?(error: unknown, message: ConsumedMessage<K, V> | undefined): void;
  keyDeserializer?: Deserializer<K>;
  valueDeserializer?: Deserializer<V>;
}
