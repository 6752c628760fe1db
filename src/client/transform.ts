// Consume-transform-produce, exactly once: each consumed message is handled in a transaction of a
// transactional producer that holds what the handler produced and the message's consumed offset
// (TxnOffsetCommit for the consumer's group). Commit makes both visible at once; a failure aborts
// both, so the message is handled again and its aborted output is never seen by read_committed
// readers. Built on the consumer's public API (run, close) and the producer's transaction().
//
// The consumer's own commits (auto-commit, revoke, close) commit the position of finished messages,
// which is the offset their transactions already committed, so they cannot skip or repeat anything;
// `autoCommit: false` on the consumer saves the redundant requests.
import type { ConsumedMessage, Consumer } from './consumer.js';
import type { Producer } from './producer.js';
import { ProducerFencedError, type Transaction } from './transaction.js';

export { ProducerFencedError, type Transaction, type TransactionOffsets } from './transaction.js';

export interface TransformOptions<K, V, OK, OV> {
  consumer: Consumer<K, V>;
  /** A producer with `transactionalId` (one per consumer instance, stable across its restarts). */
  producer: Producer<OK, OV>;
  /** The consumer's group id: the consumed offsets are committed for it inside each transaction. */
  groupId: string;
  /**
   * Produces the output of one message with `tx.send`/`tx.sendBatch`; throwing aborts and the message
   * is handled again.
   */
  transform(message: ConsumedMessage<K, V>, tx: Transaction<OK, OV>): Promise<void>;
  /**
   * Called once when the producer was fenced (another instance took its transactional id); the
   * consumer is then closed.
   */
  onFenced?(error: ProducerFencedError): void;
}

/**
 * Starts `consumer.run` with a handler that runs `transform` and commits the message's offset in the
 * same transaction. Resolves when the consumer runs; a fenced producer closes the consumer.
 */
export async function consumeTransformProduce<K, V, OK, OV>(options: TransformOptions<K, V, OK, OV>): Promise<void> {
  const { consumer, producer, groupId, transform } = options;
  let fenced = false;
  await consumer.run(async (message) => {
    try {
      await producer.transaction(async (tx) => {
        await transform(message, tx);
        await tx.sendOffsets({
          groupId,
          offsets: [{ topic: message.topic, partition: message.partition, offset: message.offset + 1n }],
        });
      });
    } catch (error) {
      if (error instanceof ProducerFencedError && !fenced) {
        fenced = true;
        options.onFenced?.(error);
        // Not awaited: close() waits for this handler to return.
        void consumer.close().catch(() => undefined);
      }
      throw error;
    }
  });
}
