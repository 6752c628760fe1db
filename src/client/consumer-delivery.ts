// Hands one fetch answer's records to the ordered executor, a batch at a time, as the fetcher locates
// them: the records at or after the position the fetch asked from, without control batches and —
// read_committed — without the batches of aborted transactions.
//
// The ordering key is the message key within its partition (`orderBy: 'key'`), or the partition
// (`orderBy: 'partition'`); a null key is ordered with its partition (`nullKeyOrder: 'partition'`,
// default) or not at all ('none'). Records of one key at consecutive offsets go to the engine as one
// run (one push for a batch of null keys, or ordered by partition); the records stay in the fetch
// answer until their handlers run (consumer-messages.ts). A push can run a handler at once, and that
// handler may seek: the partition's epoch then moved, and the rest of the answer is dropped.
import {
  locatedRecordCount,
  RECORD_SLOTS,
  SLOT_KEY_AT,
  SLOT_KEY_LENGTH,
  SLOT_OFFSET_DELTA,
  type LocatedRecordBatch,
} from '../protocol/record-batch/record-locator.js';
import type { FetchedBatch } from './consumer-messages.js';
import { partitionId, type PartitionState } from './consumer-partitions.js';
import type { OrderedExecutor } from './ordered-executor.js';

/** One fetch response's records on their way to the engine, a batch at a time (see deliverBatch). */
export interface Delivery {
  state: PartitionState;
  /** The partition's epoch when the fetch was made: a seek or revoke since drops the rest. */
  epoch: number;
  id: string;
  nullKeyOrdering: string;
  /** The first offset not yet handed over (or skipped: control batches, aborted transactions). */
  next: number;
  /** Aborted transactions of the response not yet reached, by first offset (read_committed). */
  abortedList: Array<{ producerId: number; firstOffset: number }> | undefined;
  /** Producers whose aborted transaction is open at the current batch. */
  abortedNow: Set<number>;
}

export class EngineDelivery {
  constructor(
    private readonly engine: OrderedExecutor<FetchedBatch>,
    private readonly orderBy: 'key' | 'partition',
    private readonly nullKeyOrder: 'partition' | 'none',
    private readonly isolationLevel: number,
  ) {}

  /** The delivery of one answer's records for `state`, from `position`, the fetch made at `epoch`. */
  start(
    state: PartitionState,
    epoch: number,
    position: number,
    aborted: Array<{ producerId: bigint; firstOffset: bigint }> | null,
  ): Delivery {
    const id = partitionId(state.topic, state.partition);
    return {
      state,
      epoch,
      id,
      // One string for every null-key message of this partition (built once, hashed once per lookup).
      nullKeyOrdering: `${id}\u0000null`,
      next: position,
      // Usually there are none: then no list at all (an empty array of another shape than a full one
      // would send the delivery code back to the interpreter when the first aborted transaction shows up).
      abortedList:
        aborted !== null && aborted.length > 0
          ? aborted
              .map((a) => ({ producerId: Number(a.producerId), firstOffset: Number(a.firstOffset) }))
              .sort((a, b) => a.firstOffset - b.firstOffset)
          : undefined,
      abortedNow: new Set<number>(),
    };
  }

  /**
   * Hands the batch's records at/after `delivery.next` to the engine. A push can run a handler at
   * once (up to its first await), and that handler may seek: the partition's epoch then moved, the
   * rest is dropped and this returns false.
   */
  deliverBatch(delivery: Delivery, batch: LocatedRecordBatch): boolean {
    const { state, epoch, id, abortedList, abortedNow } = delivery;
    const batchEnd = batch.baseOffset + batch.lastOffsetDelta + 1;
    while (
      abortedList !== undefined &&
      abortedList.length > 0 &&
      abortedList[0]!.firstOffset <= batch.baseOffset + batch.lastOffsetDelta
    )
      abortedNow.add(abortedList.shift()!.producerId);
    if (batch.isControl) {
      // An abort (or commit) marker ends the producer's transaction.
      abortedNow.delete(batch.producerId);
      delivery.next = Math.max(delivery.next, batchEnd);
      return true;
    }
    if (batch.isTransactional && this.isolationLevel === 1 && abortedNow.has(batch.producerId)) {
      delivery.next = Math.max(delivery.next, batchEnd);
      return true;
    }
    // The records stay in the fetch response (or the decompressed block) until their handlers run:
    // no copy per message. A response stays in memory until its last message is finished, which
    // the engine bound (maxBufferedMessages) and the fetch sizes limit.
    const next = delivery.next;
    const table = batch.recordTable;
    const count = locatedRecordCount(batch);
    const engine = this.engine;
    const byKey = this.orderBy === 'key';
    const fetched: FetchedBatch = { source: state, batch, dense: count === batch.lastOffsetDelta + 1 };
    // Records of one key at consecutive offsets go to the engine as one run (one push for a batch
    // of null keys, or ordered by partition).
    let runKey = '';
    let runStart = 0;
    let runCount = 0;
    for (let index = fetched.dense ? Math.max(0, next - batch.baseOffset) : 0; index < count; index++) {
      const offset = batch.baseOffset + table[index * RECORD_SLOTS + SLOT_OFFSET_DELTA]!;
      if (offset < next) continue;
      const key = byKey ? this.orderingKey(id, delivery.nullKeyOrdering, batch, index, offset) : id;
      if (runCount > 0 && key === runKey && offset === runStart + runCount) {
        runCount++;
        continue;
      }
      if (runCount > 0) {
        engine.push(id, runStart, runKey, fetched, runCount);
        if (state.epoch !== epoch) return false;
      }
      runKey = key;
      runStart = offset;
      runCount = 1;
    }
    if (runCount > 0) engine.push(id, runStart, runKey, fetched, runCount);
    if (state.epoch !== epoch) return false;
    delivery.next = Math.max(next, batchEnd);
    return true;
  }

  private orderingKey(
    id: string,
    nullKeyOrdering: string,
    batch: LocatedRecordBatch,
    index: number,
    offset: number,
  ): string {
    const keyLength = batch.recordTable[index * RECORD_SLOTS + SLOT_KEY_LENGTH]!;
    if (keyLength < 0) return this.nullKeyOrder === 'partition' ? nullKeyOrdering : `${id}\u0000offset\u0000${offset}`;
    const keyAt = batch.recordTable[index * RECORD_SLOTS + SLOT_KEY_AT]!;
    return `${id}\u0000key\u0000${batch.recordBytes.toString('latin1', keyAt, keyAt + keyLength)}`;
  }
}
