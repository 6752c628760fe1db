// Choosing a partition for a message.
//
//   explicit partition      message.partition, when given, always wins
//   custom selector         (message, partitionCount) => partition — e.g. every message of one
//                           order id to one partition (RocketMQ's MessageQueueSelector)
//   keyed (default)         toPositive(murmur2(keyBytes)) % partitionCount, the Java client's
//                           BuiltInPartitioner and kafkajs's DefaultPartitioner, so the same key lands
//                           on the same partition whichever of these clients produced it
//   unkeyed (default)       sticky: one partition until its batch is sent, then another (KIP-480),
//                           which fills batches instead of spreading single records

/** Kafka's murmur2 (Utils.murmur2 in the Java client): seed 0x9747b28c, m 0x5bd1e995, r 24. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = length & 3;
  if (tail === 3) h ^= data[whole + 2]! << 16;
  if (tail >= 2) h ^= data[whole + 1]! << 8;
  if (tail >= 1) {
    h ^= data[whole]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The Java client's partition for a serialised key. */
export function keyPartition(key: Uint8Array, partitionCount: number): number {
  return (murmur2(key) & 0x7fffffff) % partitionCount;
}

/** Per topic, the partition unkeyed messages go to until its current batch is sent. */
export class StickyPartitions {
  private readonly current = new Map<string, number>();

  constructor(private readonly random: () => number = Math.random) {}

  partition(topic: string, partitionCount: number): number {
    let chosen = this.current.get(topic);
    if (chosen === undefined || chosen >= partitionCount) {
      chosen = Math.floor(this.random() * partitionCount);
      this.current.set(topic, chosen);
    }
    return chosen;
  }

  /** The batch of `partition` was closed: the next unkeyed message picks another partition. */
  batchClosed(topic: string, partition: number, partitionCount: number): void {
    if (this.current.get(topic) !== partition) return;
    if (partitionCount <= 1) return;
    const offset = 1 + Math.floor(this.random() * (partitionCount - 1));
    this.current.set(topic, (partition + offset) % partitionCount);
  }
}
