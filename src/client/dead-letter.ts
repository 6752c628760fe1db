// Dead letters: a message whose handler failed `maxAttempts` times is published, unchanged, to a
// dead-letter topic (default `<topic>.DLQ`) with headers that say where it came from and why:
//
//   sluice.dlq.original.topic       the topic it was consumed from
//   sluice.dlq.original.partition   its partition (decimal)
//   sluice.dlq.original.offset      its offset (decimal)
//   sluice.dlq.original.timestamp   its timestamp, ms since the epoch (decimal)
//   sluice.dlq.attempts             how many times the handler ran
//   sluice.dlq.error                the last error's message
//   sluice.dlq.error.name           the last error's name (class)
//
// The original key, value and headers are kept, so the dead-letter topic can be replayed as is.
// The consumer writes them through a DeadLetterPublisher, with a producer of its own made on the first
// dead letter.
import type { ClusterOptions } from './cluster.js';
import type { FetchedBatch, MessageReader } from './consumer-messages.js';
import type { DeadLetterOptions } from './consumer-types.js';
import { Producer } from './producer.js';

export const DLQ_HEADERS = {
  topic: 'sluice.dlq.original.topic',
  partition: 'sluice.dlq.original.partition',
  offset: 'sluice.dlq.original.offset',
  timestamp: 'sluice.dlq.original.timestamp',
  attempts: 'sluice.dlq.attempts',
  error: 'sluice.dlq.error',
  errorName: 'sluice.dlq.error.name',
} as const;

/** The most bytes of an error message copied into a header. */
const ERROR_MESSAGE_BYTES_MAX = 4096;

export function defaultDeadLetterTopic(topic: string): string {
  return `${topic}.DLQ`;
}

export function deadLetterHeaders(
  original: { topic: string; partition: number; offset: bigint; timestamp: number },
  attempts: number,
  error: unknown,
): Array<[string, string]> {
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.name : typeof error;
  return [
    [DLQ_HEADERS.topic, original.topic],
    [DLQ_HEADERS.partition, String(original.partition)],
    [DLQ_HEADERS.offset, original.offset.toString()],
    [DLQ_HEADERS.timestamp, String(original.timestamp)],
    [DLQ_HEADERS.attempts, String(attempts)],
    [DLQ_HEADERS.error, Buffer.from(message, 'utf8').subarray(0, ERROR_MESSAGE_BYTES_MAX).toString('utf8')],
    [DLQ_HEADERS.errorName, name],
  ];
}

/** Publishes a consumer's exhausted messages to their dead-letter topics. */
export class DeadLetterPublisher {
  private producer: Producer | undefined;

  constructor(
    /** The consumer's bootstrap and client id: the producer's defaults. */
    private readonly consumerOptions: Pick<ClusterOptions, 'bootstrap'>,
    private readonly clientId: string,
    private readonly options: DeadLetterOptions,
    private readonly reader: Pick<MessageReader<unknown, unknown>, 'raw'>,
  ) {}

  /** Writes the record at `offset` of `fetched`, which failed `attempts` times (the last with `error`). */
  async publish(fetched: FetchedBatch, offset: number, error: unknown, attempts: number): Promise<void> {
    const options = this.options;
    this.producer ??= new Producer({
      bootstrap: this.consumerOptions.bootstrap,
      clientId: this.clientId,
      ...options.producer,
    });
    const raw = this.reader.raw(fetched, offset);
    const topic = (options.topic ?? defaultDeadLetterTopic)(raw.topic);
    const headers: Array<[string, Buffer | string | null]> = raw.headers.map((h) => [h.key, h.value]);
    headers.push(
      ...deadLetterHeaders(
        { topic: raw.topic, partition: raw.partition, offset: BigInt(raw.offset), timestamp: raw.timestamp },
        attempts,
        error,
      ),
    );
    await this.producer.send(topic, { key: raw.key, value: raw.value, headers, timestamp: raw.timestamp });
  }

  async close(): Promise<void> {
    await this.producer?.close();
  }
}
