// What the kill -9 child writes, shared with the parent that checks it.

import type { LogConfig } from '../../src/storage/limits.js';
import { encodeRecordBatchSync } from '../../src/protocol/record-batch/record-encoder.js';
import { makeBatch, makeMarker, makeValueBatch } from '../storage/helpers.js';

/** Small segments so crashes also land in rolls; `sync`, the policy under test. */
export const crashLogConfig: Partial<LogConfig> = {
  segmentBytes: 256 * 1024,
  indexIntervalBytes: 4096,
  flushPolicy: { kind: 'sync' },
};

/** The batch the child appends at `baseOffset`, as it is stored (offset and epoch 0 assigned). */
export function crashBatchFor(baseOffset: number): Buffer {
  const count = 1 + (baseOffset % 5);
  const valueBytes = 50 + ((baseOffset * 13) % 900);
  const batch = makeValueBatch(count, valueBytes, baseOffset, { baseTimestamp: 1_700_000_000_000 + baseOffset });
  batch.writeBigInt64BE(BigInt(baseOffset), 0);
  batch.writeInt32BE(0, 12);
  return batch;
}

/** For the retention crash test: small segments, trimmed to 256 KiB as fast as they roll. */
export const crashRetentionLogConfig: Partial<LogConfig> = {
  ...crashLogConfig,
  segmentBytes: 64 * 1024,
  retentionBytes: 256 * 1024,
  retentionMs: -1,
  fileDeleteDelayMs: 0,
};

/** For the compaction crash test: small segments, compacted, tombstones kept for good. */
export const crashCompactedLogConfig: Partial<LogConfig> = {
  segmentBytes: 16 * 1024,
  indexIntervalBytes: 1024,
  flushPolicy: { kind: 'sync' },
  cleanupPolicy: { compact: true, delete: false },
  deleteRetentionMs: 365 * 24 * 60 * 60 * 1000,
};

/** The key and value written at `offset` in the compaction crash test (13 keys, so most records
 *  are superseded soon; every 11th is a tombstone). */
export function crashRecordAt(offset: number): { key: string; value: string | null } {
  return { key: `key-${offset % 13}`, value: offset % 11 === 0 ? null : `value-${offset}-${'x'.repeat(offset % 200)}` };
}

/**
 * Transactions in the compaction crash test, a pure function of a batch's base offset. In each
 * window of 50 offsets, a batch starting at 30–44 is transactional (producer 1 + window % 3) and a
 * batch starting at 45–49 is that producer's marker — ABORT in even windows, COMMIT in odd ones.
 * Batches hold at most 4 records, so a batch always starts in 45–49 (the first marker ends the
 * transaction; any later one ends nothing), and a kill may land with the transaction open.
 */
export function crashTransactionAt(
  baseOffset: number,
): { kind: 'plain' } | { kind: 'data'; producerId: number } | { kind: 'marker'; producerId: number; abort: boolean } {
  const window = Math.floor(baseOffset / 50);
  const at = baseOffset % 50;
  const producerId = 1 + (window % 3);
  if (at >= 45) return { kind: 'marker', producerId, abort: window % 2 === 0 };
  if (at >= 30) return { kind: 'data', producerId };
  return { kind: 'plain' };
}

/** Is the record at `offset` (written as a data record, see crashTransactionAt) one of an aborted
 *  (or, while its window's marker is not written, to-be-aborted) transaction? */
export function crashRecordAborted(offset: number, transactional: boolean): boolean {
  return transactional && Math.floor(offset / 50) % 2 === 0;
}

/** A keyed batch of 1–4 records whose content is a pure function of its offsets (or a marker). */
export function crashKeyedBatchFor(baseOffset: number): Buffer {
  const transaction = crashTransactionAt(baseOffset);
  if (transaction.kind === 'marker') return makeMarker(transaction.producerId, transaction.abort);
  const records = Array.from({ length: 1 + (baseOffset % 4) }, (_, index) => {
    const record = crashRecordAt(baseOffset + index);
    return { key: Buffer.from(record.key), value: record.value === null ? null : Buffer.from(record.value) };
  });
  if (transaction.kind === 'plain') return makeBatch(records, { baseTimestamp: Date.now() });
  return encodeRecordBatchSync({
    baseOffset: 0,
    producerId: transaction.producerId,
    producerEpoch: 0,
    baseSequence: 0,
    transactional: true,
    timestamp: Date.now(),
    records,
  });
}
