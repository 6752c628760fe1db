// What the kill -9 child writes, shared with the parent that checks it.

import type { LogConfig } from '../../src/storage/limits.js';
import { makeValueBatch } from '../storage/helpers.js';

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
