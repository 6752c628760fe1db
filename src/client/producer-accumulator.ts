// The producer's batches per partition, from the first record appended to the batch being settled.
//
// Each partition has one queue: an open batch that records are encoded into as they are sent, and
// the closed batches ready to go. A batch closes when it reaches `batchBytes` or is `lingerMs` old
// (or on flush); `onClosed` then tells the producer, which has the sender drain. The accumulator
// also counts the messages not yet settled (for flush) and keeps a few full-size batch buffers for
// reuse. What happens to a batch once it leaves `ready` — sequences, requests, retries — is the
// sender's (producer-sender.ts), which reads these queues; the accumulator never calls it.
//
// Fields of a PartitionQueue belong to one side each: open, lingerTimer, nextBatchCapacity and the
// push end of `ready` here; inFlight, nextSequence, recovering, failed, gapAt and retryAtMs to the
// sender. One object per partition, so a lookup per message finds all of it.
import type { Clock } from '../runtime/clock.js';
import { BATCH_HEADER_BYTES } from '../protocol/record-batch/header.js';
import type { BufferMemory } from './producer-memory.js';
import { newRun, type SendGroup, type SendRun } from './producer-results.js';
import { RecordBatchBuilder, type HeaderEntry } from './record-batch-builder.js';

export interface Batch {
  /** The records, encoded as they are appended. */
  builder: RecordBatchBuilder;
  /** Whose records these are and their create times, in record order: runs, not an object per message. */
  runs: SendRun[];
  /** Header plus what the records reserved from the buffer memory (the estimate, not the encoding). */
  bytes: number;
  createdMs: number;
  /** Set when first sent; kept through retries. */
  encoded: Buffer | undefined;
  baseSequence: number;
  attempts: number;
}

export interface PartitionQueue {
  topic: string;
  partition: number;
  open: Batch | undefined;
  lingerTimer: NodeJS.Timeout | undefined;
  ready: Batch[];
  inFlight: Set<Batch>;
  nextSequence: number;
  /** Stop sending until the in-flight batches answered, then requeue the failed ones in order. */
  recovering: boolean;
  failed: Batch[];
  /** Lowest sequence rejected for good during this recovery (batches after it are re-sequenced). */
  gapAt: number | undefined;
  retryAtMs: number;
  /**
   * The first allocation of the partition's next batch: full size after a full batch, else about the
   * last one's size.
   */
  nextBatchCapacity: number;
}

/**
 * A batch was closed. `partitionCount` is the topic's when the closing append knew it; `full`: closed
 * for size (send it now), not by linger or flush (send at the end of the tick, with the others).
 */
export type BatchClosed = (queue: PartitionQueue, partitionCount: number | undefined, full: boolean) => void;

/** The smallest first allocation of a batch; it grows by doubling. */
const BATCH_CAPACITY_MIN_BYTES = 256;
/**
 * Full-size batch buffers kept for reuse once their batch is acknowledged: a new 1 MiB buffer per
 * batch costs an allocation, fresh pages and garbage-collector pressure from the external memory.
 * Memory outside bufferBytesMax, hence few.
 */
const BATCH_BUFFERS_KEPT_MAX = 4;

export class BatchAccumulator {
  /** Every partition's queue, by "topic\0partition" (the sender goes through them in this order). */
  readonly queues = new Map<string, PartitionQueue>();
  /** The same queues by topic, indexed by partition: the lookup per message builds no string. */
  private readonly queuesByTopic = new Map<string, PartitionQueue[]>();
  /** What a full batch takes, header included. */
  private readonly fullBatchCapacity: number;
  /** Buffers of fullBatchCapacity bytes from acknowledged batches (at most BATCH_BUFFERS_KEPT_MAX). */
  private readonly freeBatchBuffers: Buffer[] = [];
  /** Messages appended and not yet settled (acknowledged or failed). */
  outstanding = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly batchBytes: number,
    private readonly lingerMs: number,
    private readonly memory: BufferMemory,
    private readonly onClosed: BatchClosed,
    private readonly clock: Clock,
  ) {
    this.fullBatchCapacity = BATCH_HEADER_BYTES + this.batchBytes;
  }

  queueOf(topic: string, partition: number): PartitionQueue {
    let byPartition = this.queuesByTopic.get(topic);
    if (!byPartition) this.queuesByTopic.set(topic, (byPartition = []));
    let queue = byPartition[partition];
    if (!queue) {
      queue = {
        topic,
        partition,
        open: undefined,
        lingerTimer: undefined,
        ready: [],
        inFlight: new Set(),
        nextSequence: 0,
        recovering: false,
        failed: [],
        gapAt: undefined,
        retryAtMs: 0,
        nextBatchCapacity: BATCH_CAPACITY_MIN_BYTES,
      };
      byPartition[partition] = queue;
      this.queues.set(`${topic}\u0000${partition}`, queue);
    }
    return queue;
  }

  /**
   * Encodes a message into its partition's open batch (closing a batch it would overflow first);
   * `bytes` is what it reserved from the buffer memory, `index` its place in `group`'s call.
   */
  append(
    queue: PartitionQueue,
    key: Buffer | null,
    value: Buffer | null,
    headers: ReadonlyArray<HeaderEntry> | undefined,
    timestamp: number,
    bytes: number,
    partitionCount: number,
    group: SendGroup,
    index: number,
  ): void {
    let batch = queue.open;
    if (batch !== undefined && batch.bytes + bytes > this.batchBytes && batch.builder.count > 0) {
      this.closeBatch(queue, partitionCount, true);
      batch = undefined;
    }
    if (batch === undefined)
      batch = this.openBatch(queue, partitionCount, newRun(group, index, queue.partition, timestamp));
    else {
      const last = batch.runs[batch.runs.length - 1]!;
      if (last.group === group && last.firstIndex + last.count === index && last.timestamp === timestamp) last.count++;
      else batch.runs.push(newRun(group, index, queue.partition, timestamp));
    }
    batch.builder.append(key, value, headers, timestamp);
    batch.bytes += bytes;
    this.outstanding++;
    if (this.lingerMs === 0 || batch.bytes >= this.batchBytes)
      this.closeBatch(queue, partitionCount, batch.bytes >= this.batchBytes);
  }

  /** Opens the partition's batch with the run of its first record (an array that never held anything but runs). */
  private openBatch(queue: PartitionQueue, partitionCount: number, firstRun: SendRun): Batch {
    const capacity = queue.nextBatchCapacity;
    const bytes =
      capacity === this.fullBatchCapacity && this.freeBatchBuffers.length > 0
        ? this.freeBatchBuffers.pop()!
        : Buffer.allocUnsafe(capacity);
    const batch: Batch = {
      builder: new RecordBatchBuilder(bytes, this.fullBatchCapacity),
      runs: [firstRun],
      bytes: BATCH_HEADER_BYTES,
      createdMs: this.clock.now(),
      encoded: undefined,
      baseSequence: -1,
      attempts: 0,
    };
    queue.open = batch;
    if (this.lingerMs > 0) {
      queue.lingerTimer = setTimeout(() => {
        queue.lingerTimer = undefined;
        this.closeBatch(queue, partitionCount);
      }, this.lingerMs);
    }
    return batch;
  }

  /** `full`: closed for size, not by linger or flush. */
  private closeBatch(queue: PartitionQueue, partitionCount?: number, full = false): void {
    if (queue.lingerTimer) clearTimeout(queue.lingerTimer);
    queue.lingerTimer = undefined;
    const batch = queue.open;
    if (!batch) return;
    queue.open = undefined;
    // A partition's batches tend to be alike: the next one starts at about this one's size.
    queue.nextBatchCapacity = full
      ? this.fullBatchCapacity
      : Math.min(this.fullBatchCapacity, Math.max(BATCH_CAPACITY_MIN_BYTES, Math.ceil(batch.builder.size * 1.25)));
    batch.builder.trim();
    queue.ready.push(batch);
    this.onClosed(queue, partitionCount, full);
  }

  /** Closes every open batch (flush, or the buffer memory is full). */
  closeAll(): void {
    for (const queue of this.queues.values()) this.closeBatch(queue);
  }

  /**
   * The batch was answered (or failed for good): its memory goes back to the buffer, and with
   * `reuseBuffer` — its bytes are written and read, so nothing refers to them — its full-size buffer
   * may serve a later batch.
   */
  settled(batch: Batch, reuseBuffer: boolean): void {
    const storage = batch.builder.storage;
    if (
      reuseBuffer &&
      storage.length === this.fullBatchCapacity &&
      this.freeBatchBuffers.length < BATCH_BUFFERS_KEPT_MAX
    )
      this.freeBatchBuffers.push(storage);
    this.memory.release(batch.bytes - BATCH_HEADER_BYTES);
    this.outstanding -= batch.builder.count;
    if (this.outstanding === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Resolves when every appended message is settled. */
  idle(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }
}
