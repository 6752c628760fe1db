// Every storage limit and default in one place, with the reason for its size.
// Names follow Kafka's broker settings (`log.*`) where the concept is the same; the topic-level
// override has Kafka's topic name (`segment.bytes`, `retention.ms`, …), listed in `kafkaConfigNames`.

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

export const defaultLogConfig: Readonly<LogConfig> = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 60 * 60 * 1000,
  indexIntervalBytes: 4096,
  segmentIndexBytes: 10 * 1024 * 1024,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  retentionBytes: -1,
  cleanupPolicy: Object.freeze({ delete: true, compact: false }),
  deleteRetentionMs: 24 * 60 * 60 * 1000,
  minCompactionLagMs: 0,
  maxMessageBytes: 1024 * 1024 + 12,
  flushPolicy: Object.freeze({ kind: 'sync' }) as FlushPolicy,
  recoveryPointCheckpointIntervalMs: 60_000,
  retentionCheckIntervalMs: 5 * 60_000,
  fileDeleteDelayMs: 60_000,
});

/** Kafka's broker-level name (and topic-level name) of each setting. */
export const kafkaConfigNames: Record<keyof LogConfig, readonly string[]> = {
  segmentBytes: ['log.segment.bytes', 'segment.bytes'],
  segmentMs: ['log.roll.ms', 'segment.ms'],
  indexIntervalBytes: ['log.index.interval.bytes', 'index.interval.bytes'],
  segmentIndexBytes: ['log.index.size.max.bytes', 'segment.index.bytes'],
  retentionMs: ['log.retention.ms', 'retention.ms'],
  retentionBytes: ['log.retention.bytes', 'retention.bytes'],
  cleanupPolicy: ['log.cleanup.policy', 'cleanup.policy'],
  deleteRetentionMs: ['log.cleaner.delete.retention.ms', 'delete.retention.ms'],
  minCompactionLagMs: ['log.cleaner.min.compaction.lag.ms', 'min.compaction.lag.ms'],
  maxMessageBytes: ['message.max.bytes', 'max.message.bytes'],
  flushPolicy: ['log.flush.policy'],
  recoveryPointCheckpointIntervalMs: ['log.flush.offset.checkpoint.interval.ms'],
  retentionCheckIntervalMs: ['log.retention.check.interval.ms'],
  fileDeleteDelayMs: ['file.delete.delay.ms', 'log.segment.delete.delay.ms'],
};

/** Hard limits that are not configuration. */
export const storageLimits = {
  /** Largest batch recovery will believe in. Bigger than any `max.message.bytes` one could set
   *  (Kafka's `socket.request.max.bytes` is 100 MiB), so lowering the topic limit later can never
   *  make recovery cut valid data; a length beyond this is garbage. */
  recoveryBatchBytesMax: 100 * 1024 * 1024,
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
  /** Segment files are addressed by int32 positions in the index, so a segment stays below 2 GiB. */
  segmentBytesMax: 2 ** 31 - 1,
  /** Sealed segments per partition whose indexes stay in memory (most recently used); the rest are
   *  read back from their files on the next lookup. Fetches mostly hit the newest segments, so a
   *  few suffice, and a partition with thousands of segments no longer holds all their indexes
   *  (up to 20 MiB each at the default segment.index.bytes). */
  sealedSegmentIndexesLoadedMax: 8,
  /** Smallest segment.bytes accepted: one header's worth, so tests can roll on every batch. */
  segmentBytesMin: 61,
} as const;

function positiveInteger(name: string, value: number, min = 1): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new StorageError('INVALID_CONFIG', `${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/** Fills defaults and checks ranges, so the log never runs with a value that makes no sense. */
export function resolveLogConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  const config: LogConfig = { ...defaultLogConfig, ...overrides };
  positiveInteger('segment.bytes', config.segmentBytes, storageLimits.segmentBytesMin);
  if (config.segmentBytes > storageLimits.segmentBytesMax) {
    throw new StorageError('INVALID_CONFIG', `segment.bytes must be < 2 GiB, got ${config.segmentBytes}`);
  }
  positiveInteger('segment.ms', config.segmentMs);
  positiveInteger('index.interval.bytes', config.indexIntervalBytes, 0);
  positiveInteger('segment.index.bytes', config.segmentIndexBytes, 16);
  if (config.retentionMs !== -1) positiveInteger('retention.ms', config.retentionMs, 0);
  if (config.retentionBytes !== -1) positiveInteger('retention.bytes', config.retentionBytes, 0);
  positiveInteger('delete.retention.ms', config.deleteRetentionMs, 0);
  positiveInteger('max.message.bytes', config.maxMessageBytes, 61);
  positiveInteger('log.flush.offset.checkpoint.interval.ms', config.recoveryPointCheckpointIntervalMs);
  positiveInteger('log.retention.check.interval.ms', config.retentionCheckIntervalMs);
  positiveInteger('file.delete.delay.ms', config.fileDeleteDelayMs, 0);
  return config;
}

/** Reads Kafka-named properties (`segment.bytes`, `log.flush.policy`, …) into a partial config. */
export function logConfigFromProperties(properties: Record<string, string>): Partial<LogConfig> {
  const result: Partial<LogConfig> = {};
  for (const [field, names] of Object.entries(kafkaConfigNames) as [keyof LogConfig, readonly string[]][]) {
    const raw = names.map((name) => properties[name]).find((value) => value !== undefined);
    if (raw === undefined) continue;
    if (field === 'flushPolicy') result.flushPolicy = parseFlushPolicy(raw);
    else if (field === 'cleanupPolicy') {
      const parts = raw.split(',').map((part) => part.trim());
      if (parts.some((part) => part !== 'delete' && part !== 'compact') || parts.length === 0) {
        throw new StorageError('INVALID_CONFIG', `cleanup.policy must be delete, compact or both, got "${raw}"`);
      }
      result.cleanupPolicy = { delete: parts.includes('delete'), compact: parts.includes('compact') };
    } else {
      const value = Number(raw);
      if (!Number.isSafeInteger(value))
        throw new StorageError('INVALID_CONFIG', `${names[0]} must be an integer, got "${raw}"`);
      (result as Record<string, number>)[field] = value;
    }
  }
  return result;
}
