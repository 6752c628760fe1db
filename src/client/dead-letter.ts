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
