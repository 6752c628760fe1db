// Every storage limit in one place, with the reason for its size, and the typed LogConfig a partition
// log runs with. The settings behind LogConfig (names, defaults, bounds) are declared once in the
// settings registry (src/runtime/settings.ts); `logConfigSettings` says which field reads which.

import { brokerValue, integerOf, listOf, settingNamed, valueProblem } from '../runtime/settings.js';
import { StorageError } from './errors.js';
import { parseFlushPolicy, type FlushPolicy } from './flush-policy.js';

export interface LogConfig {
  /** `log.segment.bytes` / `segment.bytes`: roll when the active segment would pass this size.
   *  1 GiB as in Kafka: few files per partition, yet retention can still free space in steps. */
  segmentBytes: number;
  /** `log.roll.ms` / `segment.ms`: roll a non-empty segment this old, so time-based retention can
   *  delete data from a partition that receives little. 7 days as in Kafka. */
  segmentMs: number;
  /** `log.index.interval.bytes` / `index.interval.bytes`: one offset-index entry per this many bytes
   *  of batches. 4 KiB as in Kafka: a fetch scans at most ~4 KiB of headers past the entry it finds. */
  indexIntervalBytes: number;
  /** `log.index.size.max.bytes` / `segment.index.bytes`: an index may not grow past this; the segment
   *  rolls when its index is full. 10 MiB as in Kafka (1.3 M entries, ~5 GiB of 4 KiB intervals). */
  segmentIndexBytes: number;
  /** `log.retention.ms` / `retention.ms`: delete a segment whose newest timestamp is older. −1 keeps
   *  forever. 7 days as in Kafka. */
  retentionMs: number;
  /** `log.retention.bytes` / `retention.bytes`: delete the oldest segments while the partition is
   *  larger. −1 (no limit) as in Kafka. */
  retentionBytes: number;
  /** `log.cleanup.policy` / `cleanup.policy`: `delete`, `compact`, or both. */
  cleanupPolicy: { delete: boolean; compact: boolean };
  /** `log.cleaner.delete.retention.ms` / `delete.retention.ms`: how long a tombstone survives a
   *  compaction, so a slow consumer still sees the delete. 1 day as in Kafka. */
  deleteRetentionMs: number;
  /** `log.cleaner.min.compaction.lag.ms` / `min.compaction.lag.ms`: records younger than this are
   *  never compacted. 0 as in Kafka. */
  minCompactionLagMs: number;
  /** `message.max.bytes` / `max.message.bytes`: the largest batch an append accepts. 1 MiB + 12 as
   *  in Kafka, so a 1 MiB batch with its length prefix fits. */
  maxMessageBytes: number;
  /** `log.flush.policy` (Sluice's own): `sync` (default), `interval:<ms>` or `os`. See flush-policy.ts. */
  flushPolicy: FlushPolicy;
  /** `log.flush.offset.checkpoint.interval.ms`: how often the recovery point is written. 60 s as in
   *  Kafka; a crash rescans at most this much of the tail. */
  recoveryPointCheckpointIntervalMs: number;
  /** `log.retention.check.interval.ms`: how often retention and compaction look for work. 5 min as in Kafka. */
  retentionCheckIntervalMs: number;
  /** `file.delete.delay.ms`: a deleted segment is renamed `.deleted` and unlinked this much later,
   *  so reads already holding it finish. 60 s as in Kafka. */
  fileDeleteDelayMs: number;
}

/** The registry setting behind each field (src/runtime/settings.ts): its topic-level name, or the
 *  broker name of a broker-wide one. Defaults, bounds and Kafka's broker-level names come from there. */
export const logConfigSettings: Readonly<Record<keyof LogConfig, string>> = {
  segmentBytes: 'segment.bytes',
  segmentMs: 'segment.ms',
  indexIntervalBytes: 'index.interval.bytes',
  segmentIndexBytes: 'segment.index.bytes',
  retentionMs: 'retention.ms',
  retentionBytes: 'retention.bytes',
  cleanupPolicy: 'cleanup.policy',
  deleteRetentionMs: 'delete.retention.ms',
  minCompactionLagMs: 'min.compaction.lag.ms',
  maxMessageBytes: 'max.message.bytes',
  flushPolicy: 'log.flush.policy',
  recoveryPointCheckpointIntervalMs: 'log.flush.offset.checkpoint.interval.ms',
  retentionCheckIntervalMs: 'log.retention.check.interval.ms',
  fileDeleteDelayMs: 'file.delete.delay.ms',
};

const fields = Object.keys(logConfigSettings) as (keyof LogConfig)[];

/** A checked setting value as the field's type. */
function fieldValue<K extends keyof LogConfig>(field: K, value: string): LogConfig[K] {
  if (field === 'flushPolicy') return parseFlushPolicy(value) as LogConfig[K];
  if (field === 'cleanupPolicy') {
    const items = listOf(value);
    return { delete: items.includes('delete'), compact: items.includes('compact') } as LogConfig[K];
  }
  return integerOf(value) as LogConfig[K];
}

function checked(name: string, raw: string, givenAs = name): string {
  const problem = valueProblem(settingNamed(name), raw, givenAs);
  if (problem !== null) throw new StorageError('INVALID_CONFIG', problem);
  return raw;
}

/** A LogConfig from setting values by the names of `logConfigSettings`; a name `valueOf` does not
 *  know takes the registry's default. Throws StorageError INVALID_CONFIG naming the setting. */
export function logConfigFromSettings(valueOf: (name: string) => string | undefined): LogConfig {
  const config: Partial<Record<keyof LogConfig, unknown>> = {};
  for (const field of fields) {
    const name = logConfigSettings[field];
    config[field] = fieldValue(field, checked(name, valueOf(name) ?? settingNamed(name).defaultValue!));
  }
  return config as LogConfig;
}

export const defaultLogConfig: Readonly<LogConfig> = (() => {
  const config = logConfigFromSettings(() => undefined);
  return Object.freeze({
    ...config,
    cleanupPolicy: Object.freeze(config.cleanupPolicy),
    flushPolicy: Object.freeze(config.flushPolicy),
  });
})();

/** Hard limits that are not configuration. */
export const storageLimits = {
  /** Largest batch recovery believes: the hard ceiling of every batch any configuration could ever
   *  have let in, not today's setting. Why the ceiling:
   *  - Recovery must keep every batch that was acknowledged, under whatever settings were in force
   *    then. A bound taken from today's `message.max.bytes`/`max.message.bytes` would cut, as
   *    `bad-length`, a batch accepted before an operator lowered them; a fixed bound below what the
   *    settings allow (it was 100 MiB) cuts what they let in — issue 13: a 101 MiB batch,
   *    acknowledged with both limits raised, lost at the next unclean open.
   *  - Nothing can be larger: `max.message.bytes` and `message.max.bytes` are int32 (their registry
   *    bound is 2^31 − 1, as Kafka's type), and a segment addresses batches by int32 positions (below).
   *    broker/size-limits.ts holds the rule that ties the two, with a test.
   *  - Believing large lengths costs no safety: a length past the file's end is a torn tail, one that
   *    fits is CRC-checked before anything is kept. Its only cost is reading that many bytes to check
   *    them, and only when the file holds them — as it does when the broker once accepted such a batch. */
  recoveryBatchBytesMax: 2 ** 31 - 1,
  /** Bytes read at a time when recovery or an index rebuild walks a segment: large enough that the
   *  read syscall cost vanishes, small enough to allocate per walk. */
  scanChunkBytes: 1024 * 1024,
  /** Bytes read at a time when a fetch looks for the batch holding an offset; about two index
   *  intervals, so one read usually finds it. */
  lookupChunkBytes: 16 * 1024,
  /** Linux IOV_MAX: the most buffers one writev may take. */
  buffersPerWriteMax: 1024,
  /** Offsets inside a segment are stored as int32 relative offsets in the index, so a segment may
   *  span at most this many offsets before it must roll (Kafka does the same). */
  relativeOffsetMax: 2 ** 31 - 1,
  /** Segment files are addressed by int32 positions in the index, so a segment stays below 2 GiB:
   *  `segment.bytes` is an int32, and a batch larger than it goes into a segment of its own. */
  segmentBytesMax: 2 ** 31 - 1,
  /** Sealed segments per partition whose indexes stay in memory (most recently used); the rest are
   *  read back from their files on the next lookup. Fetches mostly hit the newest segments, so a
   *  few suffice, and a partition with thousands of segments no longer holds all their indexes
   *  (up to 20 MiB each at the default segment.index.bytes). */
  sealedSegmentIndexesLoadedMax: 8,
} as const;

/** Fills defaults and checks each value against the registry's bounds, so the log never runs with a
 *  value that makes no sense. */
export function resolveLogConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  const config: LogConfig = { ...defaultLogConfig, ...overrides };
  for (const field of fields) {
    const value = config[field];
    if (typeof value === 'number') checked(logConfigSettings[field], String(value));
  }
  return config;
}

/** Reads Kafka-named properties into a partial config: a field's broker name (or synonym) first, then
 *  its topic-level name (`log.retention.ms` over `retention.ms`). */
export function logConfigFromProperties(properties: Record<string, string>): Partial<LogConfig> {
  const result: Partial<Record<keyof LogConfig, unknown>> = {};
  for (const field of fields) {
    const definition = settingNamed(logConfigSettings[field]);
    let atBroker;
    try {
      atBroker = brokerValue(properties, definition);
    } catch (error) {
      throw new StorageError('INVALID_CONFIG', (error as Error).message);
    }
    const raw =
      atBroker.givenAs !== null
        ? atBroker.value!
        : definition.scope === 'topic' && properties[definition.name] !== undefined
          ? checked(definition.name, properties[definition.name]!)
          : undefined;
    if (raw !== undefined) result[field] = fieldValue(field, raw);
  }
  return result as Partial<LogConfig>;
}
