// What a topic's configuration asks of a produced batch beyond the header checks, and the choice,
// made once per batch from that and the 61-byte header, between the header-only hot path and the
// record pass (record-pass.ts). A plain topic's batch with a believable header never leaves the hot
// path: the choice reads three topic settings and two header fields, and allocates nothing.
//
// | the record pass runs when                                  | because (as Kafka's LogValidator)      |
// |------------------------------------------------------------|----------------------------------------|
// | cleanup.policy contains compact                            | a record without a key is refused      |
// | compression.type is a codec and the batch has another one  | the batch is recompressed to the codec |
// | CreateTime, and maxTimestamp < 0 or < baseTimestamp        | the header's maximum is wrong: derived |
//
// The timestamp row is the cheap test of a header that cannot be right: baseTimestamp is the first
// record's timestamp, so the maximum is at least that, and Kafka's producers refuse negative
// timestamps (-1 means "none": sarama 1.22 sends it for every batch). A header whose maxTimestamp is
// at least baseTimestamp but still not the records' maximum is NOT detected, deliberately: finding
// out needs every record's timestamp — for a compressed batch, inflating it — which is exactly the
// per-record work the hot path exists to avoid (Kafka pays it because its validator walks every
// record anyway). What such a header costs is bounded and local to the batch that lies: the time
// index and retention see its maxTimestamp as the records' maximum, so retention may delete that
// segment earlier, or keep it longer, by the size of the lie, and a ListOffsets by time may land on
// the batch before or after. When the record pass runs for another reason, the maximum is derived
// from the records whatever the header says.
// LogAppendTime topics never need the timestamp row: the broker's clock overwrites maxTimestamp.
import {
  ATTRIBUTE_COMPRESSION_MASK,
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  Compression,
  MAX_TIMESTAMP_OFFSET,
  readInt64AsNumber,
} from '../../protocol/record-batch/header.js';

export interface ProducePolicy {
  /** cleanup.policy contains compact: every record needs a key. */
  readonly compacted: boolean;
  /** The codec the topic stores its batches in, or null for `producer` (as the producer sent them). */
  readonly compression: Compression | null;
  /** The level for `compression` (compression.gzip.level, compression.zstd.level), or null for the default. */
  readonly compressionLevel: number | null;
  /** message.timestamp.type is LogAppendTime: the broker stamps its clock into maxTimestamp. */
  readonly logAppendTime: boolean;
}

/** Kafka's compression.type values (topic and broker), as the codec they store. */
export const topicCompressionCodecs: ReadonlyMap<string, Compression | null> = new Map([
  ['producer', null],
  ['uncompressed', Compression.None],
  ['gzip', Compression.Gzip],
  ['snappy', Compression.Snappy],
  ['lz4', Compression.Lz4],
  ['zstd', Compression.Zstd],
]);

/** The level setting of each codec that has one (KIP-390), with the range a level must be in to be used. */
const compressionLevelSettings: ReadonlyMap<Compression, { name: string; min: number; max: number }> = new Map([
  [Compression.Gzip, { name: 'compression.gzip.level', min: -1, max: 9 }],
  [Compression.Zstd, { name: 'compression.zstd.level', min: -131072, max: 22 }],
]);

const PLAIN: ProducePolicy = Object.freeze({
  compacted: false,
  compression: null,
  compressionLevel: null,
  logAppendTime: false,
});

/**
 * The policy of a topic from its overrides and the broker's settings (override ?? broker setting ??
 * Kafka's default). Read per produce rather than cached: it is a handful of property reads, and a
 * cache would have to learn of every AlterConfigs.
 */
export function producePolicyOf(overrides: Record<string, string>, broker: Record<string, string>): ProducePolicy {
  const cleanup = overrides['cleanup.policy'] ?? broker['log.cleanup.policy'];
  const compressionType = overrides['compression.type'] ?? broker['compression.type'];
  const timestampType = overrides['message.timestamp.type'] ?? broker['log.message.timestamp.type'];
  if (cleanup === undefined && compressionType === undefined && timestampType === undefined) return PLAIN;
  const compression = compressionType === undefined ? null : (topicCompressionCodecs.get(compressionType) ?? null);
  return {
    compacted: cleanup !== undefined && cleanup.includes('compact'),
    compression,
    compressionLevel: compression === null ? null : levelOf(compression, overrides, broker),
    logAppendTime: timestampType === 'LogAppendTime',
  };
}

function levelOf(codec: Compression, overrides: Record<string, string>, broker: Record<string, string>): number | null {
  const setting = compressionLevelSettings.get(codec);
  if (setting === undefined) return null;
  const raw = overrides[setting.name] ?? broker[setting.name];
  if (raw === undefined) return null;
  // Validation is the settings registry's; a value that got past it anyway falls back to the default.
  const level = Number(raw);
  return Number.isInteger(level) && level >= setting.min && level <= setting.max ? level : null;
}

/** True when the batch must go through the record pass (the table above); false keeps it header-only. */
export function needsRecordPass(policy: ProducePolicy, batch: Buffer): boolean {
  if (policy === PLAIN) return maxTimestampCannotBeRight(batch);
  if (policy.compacted) return true;
  if (
    policy.compression !== null &&
    policy.compression !== (batch[ATTRIBUTES_OFFSET + 1]! & ATTRIBUTE_COMPRESSION_MASK)
  )
    return true;
  return !policy.logAppendTime && maxTimestampCannotBeRight(batch);
}

/** The header-only timestamp test of the table above (CreateTime batches; LogAppendTime ones are stamped). */
export function maxTimestampCannotBeRight(batch: Buffer): boolean {
  const maxTimestamp = readInt64AsNumber(batch, MAX_TIMESTAMP_OFFSET);
  return maxTimestamp < 0 || maxTimestamp < readInt64AsNumber(batch, BASE_TIMESTAMP_OFFSET);
}
