// Record batches for the fuzzer's Produce frames (the `records` fields of every schema): built with
// our own RecordBatch v2 encoder so they are valid, then — for some — damaged in one of the ways a
// broken or hostile producer damages them. Each damage names a check the produce path must make
// before a byte reaches the log (DESIGN.md, "The hot path"): length, magic, CRC, record count,
// offsets, compression, control and transactional bits, and the records inside a compressed batch
// whose CRC is repaired after the damage (only decoding the records can find that one).
import { crc32c } from '../../src/protocol/record-batch/crc32c.js';
import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  Compression,
  CRC_OFFSET,
  CRC_START_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
} from '../../src/protocol/record-batch/header.js';
import { encodeRecordBatchSync, type RecordToEncode } from '../../src/protocol/record-batch/record-encoder.js';
import type { Random } from '../support/random.js';

/** Record timestamps: fixed, so a seed's frames do not depend on when it runs. */
export const TIMESTAMP_BASE_MS = 1_700_000_000_000;

export const BATCH_DAMAGES = [
  'crc',
  'length-short',
  'length-long',
  'magic',
  'record-count',
  'last-offset-delta',
  'codec',
  'control',
  'truncated',
  'records-repaired-crc',
] as const;
export type BatchDamage = (typeof BATCH_DAMAGES)[number];

export interface RecordsValue {
  bytes: Buffer | null;
  /** The damages applied, empty for valid batches. */
  damages: BatchDamage[];
}

const CODECS = [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd];

function randomRecord(random: Random, index: number): RecordToEncode {
  const keyed = random.chance(0.85);
  return {
    key: keyed ? Buffer.from(`k${random.int(0, 9)}`) : null,
    value: random.chance(0.05) ? null : random.bytes(random.pick([0, 1, 8, 40, 200])),
    headers: random.chance(0.2) ? [{ key: 'h', value: random.chance(0.5) ? null : random.bytes(3) }] : [],
    timestamp: TIMESTAMP_BASE_MS + random.int(0, 3_600_000),
    offsetDelta: index,
  };
}

function validBatch(random: Random): Buffer {
  const count = random.pick([1, 1, 1, 2, 3, 5]);
  const records = Array.from({ length: count }, (_, i) => randomRecord(random, i));
  const idempotent = random.chance(0.2);
  return encodeRecordBatchSync({
    records,
    compression: random.pick(CODECS),
    timestamp: TIMESTAMP_BASE_MS,
    timestampType: random.chance(0.1) ? 1 : 0,
    ...(idempotent
      ? {
          producerId: random.int(0, 12),
          producerEpoch: random.int(0, 2),
          baseSequence: random.int(0, 40),
          transactional: random.chance(0.3),
        }
      : {}),
  });
}

function repairCrc(batch: Buffer): void {
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START_OFFSET)), CRC_OFFSET);
}

/** Applies one damage to `batch` (a fresh copy is returned when the size changes). */
function damage(random: Random, batch: Buffer, kind: BatchDamage): Buffer {
  switch (kind) {
    case 'crc':
      batch.writeUInt32BE((batch.readUInt32BE(CRC_OFFSET) ^ (1 << random.int(0, 31))) >>> 0, CRC_OFFSET);
      return batch;
    case 'length-short':
      batch.writeInt32BE(Math.max(-1, batch.readInt32BE(BATCH_LENGTH_OFFSET) - random.int(1, 60)), BATCH_LENGTH_OFFSET);
      return batch;
    case 'length-long':
      batch.writeInt32BE(
        batch.readInt32BE(BATCH_LENGTH_OFFSET) + random.pick([1, 7, 1000, 2 ** 30]),
        BATCH_LENGTH_OFFSET,
      );
      return batch;
    case 'magic':
      batch.writeInt8(random.pick([0, 1, 3, -1]), MAGIC_OFFSET);
      return batch;
    case 'record-count':
      batch.writeInt32BE(random.pick([0, -1, 2, 1000, 2 ** 31 - 1]), RECORD_COUNT_OFFSET);
      repairCrc(batch);
      return batch;
    case 'last-offset-delta':
      batch.writeInt32BE(random.pick([-1, 0, 7, 2 ** 31 - 1]), LAST_OFFSET_DELTA_OFFSET);
      repairCrc(batch);
      return batch;
    case 'codec':
      batch.writeUInt16BE((batch.readUInt16BE(ATTRIBUTES_OFFSET) & ~0x07) | random.int(5, 7), ATTRIBUTES_OFFSET);
      repairCrc(batch);
      return batch;
    case 'control':
      batch.writeUInt16BE(batch.readUInt16BE(ATTRIBUTES_OFFSET) | 0x20, ATTRIBUTES_OFFSET);
      repairCrc(batch);
      return batch;
    case 'truncated':
      return batch.subarray(0, random.int(0, batch.length - 1));
    case 'records-repaired-crc': {
      if (batch.length <= RECORDS_OFFSET) return batch;
      const at = random.int(RECORDS_OFFSET, batch.length - 1);
      batch[at] = batch[at]! ^ (1 << random.int(0, 7));
      repairCrc(batch);
      return batch;
    }
  }
}

/** A `records` field: null, empty, or one to three batches, a fifth of them damaged. */
export function randomRecords(random: Random): RecordsValue {
  if (random.chance(0.03)) return { bytes: null, damages: [] };
  if (random.chance(0.03)) return { bytes: Buffer.alloc(0), damages: [] };
  const count = random.pick([1, 1, 1, 1, 2, 3]);
  const parts: Buffer[] = [];
  const damages: BatchDamage[] = [];
  for (let i = 0; i < count; i++) {
    let batch = validBatch(random);
    if (random.chance(0.2)) {
      const kind = random.pick(BATCH_DAMAGES);
      batch = damage(random, batch, kind);
      damages.push(kind);
    }
    parts.push(batch);
  }
  return { bytes: Buffer.concat(parts), damages };
}
