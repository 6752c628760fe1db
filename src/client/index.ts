// The Sluice client: Producer, Consumer, Admin. Speaks only the Kafka protocol, so it works against
// Apache Kafka too.
//
// Integers: offsets are `bigint` at the API edge (they are int64 on the wire); timestamps are
// `number`s of milliseconds since the epoch (safe integers for another 285 000 years). Inside the
// client both are plain numbers.
export {
  Producer,
  type ProducerOptions,
  type ProducerMessage,
  type RecordMetadata,
  type PartitionSelector,
  type CompressionName,
  type MessageHeaders,
} from './producer.js';
export {
  Consumer,
  type ConsumerOptions,
  type ConsumedMessage,
  type MessageHandler,
  type TopicPartition,
  type DeadLetterOptions,
} from './consumer.js';
export {
  Admin,
  type AdminOptions,
  type NewTopic,
  type ConfigEntry,
  type ConfigResourceType,
  type GroupDescription,
} from './admin.js';
export type { ClusterOptions, TopicInfo, PartitionInfo, BrokerInfo } from './cluster.js';
export type { OffsetSpec, PartitionOffset } from './offsets.js';
export type { AssignorName } from './assignors.js';
export type { RetryPolicy } from './ordered-executor.js';
export type { BackoffPolicy } from './backoff.js';
export { deduplicate, MemoryDedupStore, type DedupStore, type DedupOptions, type ClaimResult } from './dedup.js';
export { RedisDedupStore, RedisReplyError, type RedisDedupStoreOptions } from './redis-dedup-store.js';
export { DLQ_HEADERS, defaultDeadLetterTopic } from './dead-letter.js';
export { murmur2, keyPartition } from './partitioners.js';
export { bufferSerde, stringSerde, jsonSerde, type Serde, type Serializer, type Deserializer } from './serializers.js';
export {
  SluiceClientError,
  KafkaError,
  ConnectionError,
  RequestTimeoutError,
  ClientOptionError,
  ClientClosedError,
  BufferFullError,
} from './errors.js';
export {
  consumeTransformProduce,
  ProducerFencedError,
  type TransformOptions,
  type Transaction,
  type TransactionOffsets,
} from './transform.js';
export {
  HalfMessageProducer,
  checkTopicOf,
  HALF_TOPIC,
  HALF_OP_TOPIC,
  HALF_ABANDONED_TOPIC,
  HALF_HEADERS,
  type HalfMessageProducerOptions,
  type HalfMessageHandle,
  type HalfMessageInfo,
  type HalfMessageCheck,
  type HalfMessageChecker,
  type HalfDecision,
  type HalfTransactionResult,
  type HalfMessageLogger,
} from './half-producer.js';
