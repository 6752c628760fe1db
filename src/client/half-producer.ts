// Half messages with check-back (docs/half-messages.md): one message made atomic with a transaction in
// the application's own database, RocketMQ-style, over ordinary Kafka topics.
//
//   sendHalf      produce the message, with the sluice.half.* headers naming its target, to a
//                 partition p of __sluice_half; the produce offset o gives its half id "<p>:<o>"
//   decide        produce {"op":"commit"} or {"op":"rollback"} keyed by the half id to partition p of
//                 __sluice_half_op; the broker appends a committed message to its target once
//   check-back    a consumer in group __sluice_check.<group> reads the broker's check requests from
//                 topic __sluice_check.<group> and answers each with the checker's decision
//
// The target partition is chosen here, with the producer's rules (explicit partition, custom
// partitioner, murmur2 of the key; unkeyed messages go to a random partition), from the target topic's
// metadata — the broker only checks that it exists.
//
// Built on the public API of Producer, Consumer and Admin: the wire format is the one any Kafka
// client can speak (docs/half-messages.md "The channel").
import { systemClock, type Clock } from '../runtime/clock.js';
import { Admin } from './admin.js';
import type { ClusterOptions } from './cluster.js';
import { Consumer, type ConsumedMessage, type ConsumerOptions } from './consumer.js';
import { ClientClosedError, ClientOptionError, KafkaError } from './errors.js';
import { keyPartition } from './partitioners.js';
import {
  Producer,
  type CompressionName,
  type MessageHeaders,
  type PartitionSelector,
  type ProducerMessage,
} from './producer.js';
import { bufferSerde, type Deserializer, type Serializer } from './serializers.js';
import { ErrorCode } from '../protocol/generated/error-codes.js';
import {
  HALF_HEADER_PREFIX as RESERVED_HEADER_PREFIX,
  HALF_HEADERS,
  HALF_OP_TOPIC,
  HALF_TOPIC,
  PRODUCER_GROUP_PATTERN,
  checkTopicOf,
} from '../protocol/half-messages.js';

export {
  HALF_TOPIC,
  HALF_OP_TOPIC,
  HALF_ABANDONED_TOPIC,
  HALF_HEADERS,
  checkTopicOf,
} from '../protocol/half-messages.js';

export type HalfDecision = 'commit' | 'rollback' | 'unknown';

/** What the checker is asked about: a half message still undecided after `transaction.check.delay.ms`. */
export interface HalfMessageCheck<K = Buffer, V = Buffer> {
  /** The target topic and partition. */
  topic: string;
  partition: number;
  key: K | null;
  value: V | null;
  /** The message's own headers (without the sluice.half.* ones). */
  headers: Record<string, Buffer | null>;
  timestamp: number;
  /** "<p>:<o>": partition and offset of the half message in __sluice_half. */
  halfId: string;
  /** 1 on the first check of this message, 2 on the second, … */
  attempt: number;
}

/** Looks at the local database: did the transaction that went with this message commit? */
export type HalfMessageChecker<K = Buffer, V = Buffer> = (
  message: HalfMessageCheck<K, V>,
) => HalfDecision | Promise<HalfDecision>;

/** Where the producer reports what it does not throw (a checker that failed, an answer not sent). */
export interface HalfMessageLogger {
  warn(message: string, error?: unknown): void;
}

export interface HalfMessageProducerOptions<K = Buffer, V = Buffer> extends ClusterOptions {
  /** Instances of one service share a group: any live one may be asked about a message another sent. */
  producerGroup: string;
  checker: HalfMessageChecker<K, V>;
  keySerializer?: Serializer<K>;
  valueSerializer?: Serializer<V>;
  /** For the messages handed to the checker (default: the raw bytes). */
  keyDeserializer?: Deserializer<K>;
  valueDeserializer?: Deserializer<V>;
  /** Picks the target partition of messages without `partition` (default: murmur2 of the key, else random). */
  partitioner?: PartitionSelector<K, V>;
  compression?: CompressionName;
  /** Time the broker may take to store a half message or a decision durably (default 30 000). */
  ackTimeoutMs?: number;
  /**
   * The consumer of check requests: its group membership and parallelism (default: session 10 s,
   * heartbeat 1 s, 8 checks at once).
   */
  checkConsumer?: Pick<
    ConsumerOptions,
    'sessionTimeoutMs' | 'rebalanceTimeoutMs' | 'heartbeatIntervalMs' | 'concurrency' | 'maxWaitMs'
  >;
  /** Default: console. */
  logger?: HalfMessageLogger;
}

/** A stored, undecided half message. */
export interface HalfMessageInfo {
  /** The half id "<p>:<o>". */
  id: string;
  /** Where the message appears once committed. */
  topic: string;
  partition: number;
}

export interface HalfMessageHandle extends HalfMessageInfo {
  /** The message goes to its topic (once). Resolves when the broker stored the decision. */
  commit(): Promise<void>;
  /** The message is dropped. */
  rollback(): Promise<void>;
}

export interface HalfTransactionResult extends HalfMessageInfo {
  /** What the local transaction returned; 'unknown' leaves the decision to the check-back. */
  decision: HalfDecision;
}

const decisions: readonly HalfDecision[] = ['commit', 'rollback', 'unknown'];

export class HalfMessageProducer<K = Buffer, V = Buffer> {
  readonly producerGroup: string;
  private readonly checker: HalfMessageChecker<K, V>;
  private readonly keySerializer: Serializer<K>;
  private readonly valueSerializer: Serializer<V>;
  private readonly keyDeserializer: Deserializer<K>;
  private readonly valueDeserializer: Deserializer<V>;
  private readonly partitioner: PartitionSelector<K, V> | undefined;
  private readonly clusterOptions: ClusterOptions;
  private readonly logger: HalfMessageLogger;
  private readonly clock: Clock;
  /** Writes half messages and decisions as raw bytes: serialisation happens here, with the target topic. */
  private readonly producer: Producer;
  private readonly consumer: Consumer;
  private connecting: Promise<void> | undefined;
  private closed = false;

  constructor(options: HalfMessageProducerOptions<K, V>) {
    if (typeof options !== 'object' || options === null)
      throw new ClientOptionError('HalfMessageProducer needs options with producerGroup and checker');
    if (typeof options.producerGroup !== 'string' || !PRODUCER_GROUP_PATTERN.test(options.producerGroup)) {
      throw new ClientOptionError(
        'option producerGroup must be 1 to 200 characters of A-Z a-z 0-9 . _ -, ' +
          `got ${JSON.stringify(options.producerGroup)}`,
      );
    }
    if (typeof options.checker !== 'function')
      throw new ClientOptionError('option checker must be a function (message) => "commit" | "rollback" | "unknown"');
    if (options.partitioner !== undefined && typeof options.partitioner !== 'function')
      throw new ClientOptionError('option partitioner must be a function (message, partitionCount, key) => partition');
    this.producerGroup = options.producerGroup;
    this.checker = options.checker;
    this.keySerializer = options.keySerializer ?? (bufferSerde.serialize as unknown as Serializer<K>);
    this.valueSerializer = options.valueSerializer ?? (bufferSerde.serialize as unknown as Serializer<V>);
    this.keyDeserializer = options.keyDeserializer ?? (bufferSerde.deserialize as unknown as Deserializer<K>);
    this.valueDeserializer = options.valueDeserializer ?? (bufferSerde.deserialize as unknown as Deserializer<V>);
    this.partitioner = options.partitioner;
    this.logger = options.logger ?? console;
    this.clock = options.clock ?? systemClock;
    const {
      bootstrap,
      clientId,
      connectTimeoutMs,
      requestTimeoutMs,
      maxInFlightRequests,
      metadataMaxAgeMs,
      allowAutoTopicCreation,
      retries,
      retryBackoffMs,
      clock,
    } = options;
    // A half message for a topic that does not exist would only be abandoned by the broker: looking
    // the target up must not create it.
    this.clusterOptions = {
      bootstrap,
      clientId,
      connectTimeoutMs,
      requestTimeoutMs,
      maxInFlightRequests,
      metadataMaxAgeMs,
      allowAutoTopicCreation: allowAutoTopicCreation ?? false,
      retries,
      retryBackoffMs,
      clock,
    };
    // Idempotent, so acks=all: a half message or decision is durable when its send resolves.
    this.producer = new Producer({
      ...this.clusterOptions,
      lingerMs: 0,
      compression: options.compression,
      ackTimeoutMs: options.ackTimeoutMs,
    });
    const checkGroup = checkTopicOf(this.producerGroup);
    this.consumer = new Consumer({
      ...this.clusterOptions,
      groupId: checkGroup,
      // Checks written while no instance was alive go to the first one that starts.
      autoOffsetReset: 'earliest',
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1000,
      concurrency: 8,
      ...options.checkConsumer,
      onError: (error) => this.logger.warn(`half messages (${this.producerGroup}): the check consumer failed`, error),
    });
  }

  /**
   * Connects the producer, creates the group's check topic when missing and starts answering
   * checks. Optional before sendHalf (which connects the producer), but without it this instance
   * answers no checks.
   */
  async connect(): Promise<void> {
    if (this.closed) throw new ClientClosedError('the half message producer');
    this.connecting ??= this.start();
    try {
      await this.connecting;
    } catch (error) {
      this.connecting = undefined;
      throw error;
    }
  }

  private async start(): Promise<void> {
    await this.producer.connect();
    const checkTopic = checkTopicOf(this.producerGroup);
    const admin = new Admin(this.clusterOptions);
    try {
      await admin.createTopics([{ name: checkTopic, partitions: 1 }], { ignoreExisting: true });
    } finally {
      await admin.close();
    }
    this.consumer.subscribe([checkTopic]);
    await this.consumer.run((message) => this.answer(message));
  }

  /**
   * Stores `message` as a half message for `topic`: durable, invisible in `topic` until committed.
   * The target partition is fixed now; the topic must exist.
   */
  async sendHalf(topic: string, message: ProducerMessage<K, V>): Promise<HalfMessageHandle> {
    if (this.closed) throw new ClientClosedError('the half message producer');
    if (typeof topic !== 'string' || topic.length === 0)
      throw new ClientOptionError('topic must be a non-empty string');
    if (topic.startsWith('__'))
      throw new ClientOptionError(`half messages cannot target the internal topic "${topic}"`);
    if (typeof message !== 'object' || message === null)
      throw new ClientOptionError('sendHalf needs a message { key?, value, headers?, partition?, timestamp? }');
    const key = message.key === undefined || message.key === null ? null : this.keySerializer(message.key, topic);
    const value =
      message.value === undefined || message.value === null ? null : this.valueSerializer(message.value, topic);
    const headers = headerEntries(message.headers);
    for (const [name] of headers) {
      if (name.startsWith(RESERVED_HEADER_PREFIX))
        throw new ClientOptionError(
          `header "${name}" is reserved: headers starting with "${RESERVED_HEADER_PREFIX}" ` +
            'belong to the half message channel',
        );
    }
    const timestamp = message.timestamp ?? this.clock.now();
    if (!Number.isInteger(timestamp) || timestamp < 0)
      throw new ClientOptionError(`message timestamp must be a non-negative integer (ms), got ${timestamp}`);
    await this.producer.connect();
    const partitionCount = await this.partitionCount(topic);
    const partition = this.choosePartition(topic, message, key, partitionCount);
    headers.push(
      [HALF_HEADERS.topic, topic],
      [HALF_HEADERS.partition, String(partition)],
      [HALF_HEADERS.group, this.producerGroup],
    );
    const stored = await this.producer.send(HALF_TOPIC, { key, value, headers, timestamp });
    if (stored.offset < 0n)
      throw new KafkaError(
        ErrorCode.UNKNOWN_SERVER_ERROR,
        'the broker stored the half message without telling its offset; it will be checked back',
        'sendHalf',
      );
    return this.handle({ id: `${stored.partition}:${stored.offset}`, topic, partition });
  }

  /**
   * RocketMQ's sendMessageInTransaction: stores the half message, runs `localTransaction` and sends
   * its decision. If it throws, no decision is sent (the check-back decides) and the error is
   * rethrown; 'unknown' also leaves the decision to the check-back.
   */
  async sendInTransaction(
    topic: string,
    message: ProducerMessage<K, V>,
    localTransaction: (half: HalfMessageInfo) => HalfDecision | Promise<HalfDecision>,
  ): Promise<HalfTransactionResult> {
    if (typeof localTransaction !== 'function')
      throw new ClientOptionError(
        'sendInTransaction needs a local transaction function (half) => "commit" | "rollback" | "unknown"',
      );
    const half = await this.sendHalf(topic, message);
    const info: HalfMessageInfo = { id: half.id, topic: half.topic, partition: half.partition };
    const decision = await localTransaction(info);
    if (!decisions.includes(decision)) {
      throw new ClientOptionError(
        `the local transaction must return "commit", "rollback" or "unknown", got ${JSON.stringify(decision)}; ` +
          `half message ${half.id} is left to the check-back`,
      );
    }
    if (decision === 'commit') await half.commit();
    else if (decision === 'rollback') await half.rollback();
    return { ...info, decision };
  }

  /**
   * Stops answering checks (leaving the check group), then closes the connections. Undecided messages
   * are checked back.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    await this.consumer.close();
    await this.producer.close();
  }

  private async partitionCount(topic: string): Promise<number> {
    try {
      const info = await this.producer.cluster.topic(topic);
      if (info.partitions.length === 0)
        throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${topic}" has no partitions`, 'sendHalf');
      return info.partitions.length;
    } catch (error) {
      if (error instanceof KafkaError && error.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
        throw new KafkaError(
          error.code,
          `topic "${topic}" does not exist; a half message needs its target topic to exist (create it first)`,
          'sendHalf',
        );
      }
      throw error;
    }
  }

  private choosePartition(
    topic: string,
    message: ProducerMessage<K, V>,
    key: Buffer | null,
    partitionCount: number,
  ): number {
    let partition: number;
    if (message.partition !== undefined) partition = message.partition;
    else if (this.partitioner) partition = this.partitioner(message, partitionCount, key);
    else if (key !== null) partition = keyPartition(key, partitionCount);
    else partition = Math.floor(Math.random() * partitionCount);
    if (!Number.isInteger(partition) || partition < 0 || partition >= partitionCount) {
      throw new ClientOptionError(
        `partition ${partition} is not one of the ${partitionCount} partitions of topic "${topic}"`,
      );
    }
    return partition;
  }

  private handle(info: HalfMessageInfo): HalfMessageHandle {
    let decided: { op: 'commit' | 'rollback'; sent: Promise<void> } | undefined;
    const decide = (op: 'commit' | 'rollback'): Promise<void> => {
      if (decided) {
        if (decided.op !== op)
          return Promise.reject(new ClientOptionError(`half message ${info.id} was already decided: ${decided.op}`));
        return decided.sent;
      }
      const sent = this.sendDecision(info.id, op);
      decided = { op, sent };
      // A failed send may be tried again (the broker keeps the first decision it stores).
      sent.catch(() => {
        if (decided?.sent === sent) decided = undefined;
      });
      return sent;
    };
    return { ...info, commit: () => decide('commit'), rollback: () => decide('rollback') };
  }

  /** Produces a decision to the __sluice_half_op partition of the half message. */
  private async sendDecision(halfId: string, op: HalfDecision): Promise<void> {
    if (this.closed) throw new ClientClosedError('the half message producer');
    const partition = Number(halfId.slice(0, halfId.indexOf(':')));
    await this.producer.send(HALF_OP_TOPIC, {
      key: Buffer.from(halfId, 'utf8'),
      value: Buffer.from(JSON.stringify({ op }), 'utf8'),
      partition,
    });
  }

  /** Answers one check request with the checker's decision. Never throws: the broker checks again. */
  private async answer(request: ConsumedMessage): Promise<void> {
    const halfId = request.headers[HALF_HEADERS.id]?.toString('utf8');
    if (!halfId || !/^\d+:\d+$/.test(halfId)) {
      this.logger.warn(
        `half messages (${this.producerGroup}): check request at offset ${request.offset} of ${request.topic} ` +
          `has no valid ${HALF_HEADERS.id} header; skipped`,
      );
      return;
    }
    let decision: HalfDecision = 'unknown';
    try {
      const check = this.checkOf(request, halfId);
      const answer = await this.checker(check);
      if (decisions.includes(answer)) decision = answer;
      else
        this.logger.warn(
          `half messages (${this.producerGroup}): the checker returned ${JSON.stringify(answer)} for ${halfId}, ` +
            'counted as "unknown"',
        );
    } catch (error) {
      this.logger.warn(
        `half messages (${this.producerGroup}): the checker failed for ${halfId}, counted as "unknown"`,
        error,
      );
    }
    try {
      await this.sendDecision(halfId, decision);
    } catch (error) {
      this.logger.warn(
        `half messages (${this.producerGroup}): could not send "${decision}" for ${halfId}; ` +
          'the broker will check again',
        error,
      );
    }
  }

  private checkOf(request: ConsumedMessage, halfId: string): HalfMessageCheck<K, V> {
    const topic = request.headers[HALF_HEADERS.topic]?.toString('utf8') ?? '';
    const partition = Number(request.headers[HALF_HEADERS.partition]?.toString('utf8') ?? -1);
    const attempt = Number(request.headers[HALF_HEADERS.check]?.toString('utf8') ?? 1);
    const headers: Record<string, Buffer | null> = {};
    for (const { key, value } of request.headerList) if (!key.startsWith(RESERVED_HEADER_PREFIX)) headers[key] = value;
    return {
      topic,
      partition,
      key: request.rawKey === null ? null : this.keyDeserializer(request.rawKey, topic),
      value: request.rawValue === null ? null : this.valueDeserializer(request.rawValue, topic),
      headers,
      timestamp: request.timestamp,
      halfId,
      attempt,
    };
  }
}

function headerEntries(headers: MessageHeaders | undefined): Array<[string, string | Buffer | null]> {
  if (!headers) return [];
  const entries = Array.isArray(headers)
    ? (headers as ReadonlyArray<readonly [string, string | Buffer | null]>)
    : Object.entries(headers as Record<string, string | Buffer | null>);
  return entries.map(([key, value]) => [key, value]);
}
