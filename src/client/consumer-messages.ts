// Fetched records as the engine holds them, and the messages made from them when a handler runs.
//
// The engine holds one FetchedBatch for every record of a batch, next to each record's offset; a
// record becomes objects (key, value, headers, the message) only here, when its handler runs (or
// its dead letter is written). Key, value and header values are slices of the fetch answer.
import {
  locatedRecordCount,
  RECORD_SLOTS,
  recordHeadersAt,
  recordKeyAt,
  recordValueAt,
  SLOT_HEADER_COUNT,
  SLOT_OFFSET_DELTA,
  type LocatedRecordBatch,
} from '../protocol/record-batch/record-locator.js';
import { type RecordHeader } from '../protocol/record-batch/record-layout.js';
import { TIMESTAMP_TYPE_LOG_APPEND_TIME } from '../protocol/record-batch/header.js';
import type { ConsumedMessage } from './consumer-types.js';
import type { PartitionState } from './consumer-partitions.js';
import type { Deserializer } from './serializers.js';

/**
 * A fetched batch whose records wait in the engine. The engine holds this one object for every
 * record of the batch, next to each record's offset (an object per record, kept alive while it
 * waits, was a tenth of the consume time in garbage collection); a record becomes objects (key,
 * value, headers, the message) only when its handler runs.
 */
export interface FetchedBatch {
  source: PartitionState;
  batch: LocatedRecordBatch;
  /**
   * True when record i has offset baseOffset + i (as validation guarantees when recordCount =
   * lastOffsetDelta + 1); false when the batch has gaps (compaction, aborted records removed).
   */
  dense: boolean;
}

/** The index in the batch's record table of the record at `offset`. */
function recordIndex(fetched: FetchedBatch, offset: number): number {
  const { batch } = fetched;
  const delta = offset - batch.baseOffset;
  if (fetched.dense) return delta;
  const table = batch.recordTable;
  let low = 0;
  let high = locatedRecordCount(batch) - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (table[middle * RECORD_SLOTS + SLOT_OFFSET_DELTA]! < delta) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** A fetched record's fields, decoded (for the dead-letter topic). */
export interface RawMessage {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export class MessageReader<K, V> {
  constructor(
    private readonly keyDeserializer: Deserializer<K>,
    private readonly valueDeserializer: Deserializer<V>,
  ) {}

  /** The record's fields, from the batch's record table (checked when the response was located). */
  raw(fetched: FetchedBatch, offset: number): RawMessage {
    const { batch } = fetched;
    const index = recordIndex(fetched, offset);
    return {
      topic: fetched.source.topic,
      partition: fetched.source.partition,
      offset,
      timestamp:
        batch.timestampType === TIMESTAMP_TYPE_LOG_APPEND_TIME
          ? batch.maxTimestamp
          : batch.baseTimestamp + batch.timestampDeltas[index]!,
      key: recordKeyAt(batch, index),
      value: recordValueAt(batch, index),
      headers: recordHeadersAt(batch, index),
    };
  }

  /** The message for the handler, built straight from the batch's record table (no RawMessage in between). */
  typed(fetched: FetchedBatch, offset: number, attempt: number): ConsumedMessage<K, V> {
    const { batch } = fetched;
    const { topic, partition } = fetched.source;
    const index = recordIndex(fetched, offset);
    const timestamp =
      batch.timestampType === TIMESTAMP_TYPE_LOG_APPEND_TIME
        ? batch.maxTimestamp
        : batch.baseTimestamp + batch.timestampDeltas[index]!;
    const rawKey = recordKeyAt(batch, index);
    const rawValue = recordValueAt(batch, index);
    const headers: Record<string, Buffer | null> = {};
    const headerList =
      batch.recordTable[index * RECORD_SLOTS + SLOT_HEADER_COUNT]! > 0 ? recordHeadersAt(batch, index) : [];
    for (let h = 0; h < headerList.length; h++) headers[headerList[h]!.key] = headerList[h]!.value;
    return {
      topic,
      partition,
      offset: BigInt(offset),
      timestamp,
      key: rawKey === null ? null : this.keyDeserializer(rawKey, topic),
      value: rawValue === null ? null : this.valueDeserializer(rawValue, topic),
      headers,
      headerList,
      attempt,
      rawKey,
      rawValue,
    };
  }

  /** The message, or undefined when it cannot be made (a deserializer throws): for onError. */
  safeTyped(fetched: FetchedBatch, offset: number, attempt: number): ConsumedMessage<K, V> | undefined {
    try {
      return this.typed(fetched, offset, attempt);
    } catch {
      return undefined;
    }
  }
}
