// Topic-level configuration: Kafka's names, types, defaults and validation. A topic stores only its
// overrides (strings, as on the wire); the effective value is override ?? broker setting ?? default.
import { defaultLogConfig, logConfigFromProperties, resolveLogConfig, type LogConfig } from '../storage/limits.js';

export type ConfigType = 'BOOLEAN' | 'STRING' | 'INT' | 'SHORT' | 'LONG' | 'DOUBLE' | 'LIST' | 'CLASS' | 'PASSWORD';
/** DescribeConfigs v3+ config_type codes. */
export const configTypeCode: Record<ConfigType, number> = {
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9,
};

export interface TopicConfigDefinition {
  name: string;
  /** The broker setting that supplies the default. */
  brokerName: string;
  type: ConfigType;
  defaultValue: string;
  documentation: string;
  /** Why `value` is invalid, or null. */
  validate(value: string): string | null;
}

function integer(min: number, max = Number.MAX_SAFE_INTEGER, allowMinusOne = false) {
  return (value: string): string | null => {
    if (!/^-?\d+$/.test(value.trim())) return `"${value}" is not an integer`;
    const n = Number(value);
    if (allowMinusOne && n === -1) return null;
    if (n < min || n > max) return `${value} is outside [${min}, ${max}]${allowMinusOne ? ' (or -1)' : ''}`;
    return null;
  };
}

function oneOf(...allowed: string[]) {
  return (value: string): string | null =>
    allowed.includes(value) ? null : `"${value}" is not one of ${allowed.join(', ')}`;
}

const INT_MAX = 2 ** 31 - 1;

export const topicConfigDefinitions: readonly TopicConfigDefinition[] = [
  {
    name: 'cleanup.policy',
    brokerName: 'log.cleanup.policy',
    type: 'LIST',
    defaultValue: 'delete',
    documentation:
      'delete: drop old segments by retention.ms/retention.bytes; compact: keep the last record per key; or both.',
    validate: (v) => {
      const parts = v.split(',').map((p) => p.trim());
      return parts.length > 0 && parts.every((p) => p === 'delete' || p === 'compact')
        ? null
        : `"${v}" must be delete, compact or "compact,delete"`;
    },
  },
  {
    name: 'retention.ms',
    brokerName: 'log.retention.ms',
    type: 'LONG',
    defaultValue: String(defaultLogConfig.retentionMs),
    documentation: 'Delete segments older than this; -1 keeps them forever.',
    validate: integer(0, Number.MAX_SAFE_INTEGER, true),
  },
  {
    name: 'retention.bytes',
    brokerName: 'log.retention.bytes',
    type: 'LONG',
    defaultValue: String(defaultLogConfig.retentionBytes),
    documentation: 'Delete the oldest segments while the partition is larger; -1 for no limit.',
    validate: integer(0, Number.MAX_SAFE_INTEGER, true),
  },
  {
    name: 'segment.bytes',
    brokerName: 'log.segment.bytes',
    type: 'INT',
    defaultValue: String(defaultLogConfig.segmentBytes),
    documentation: 'Roll a new segment file at this size.',
    validate: integer(61, INT_MAX),
  },
  {
    name: 'segment.ms',
    brokerName: 'log.roll.ms',
    type: 'LONG',
    defaultValue: String(defaultLogConfig.segmentMs),
    documentation: 'Roll a new segment after this time even if it is not full.',
    validate: integer(1),
  },
  {
    name: 'segment.index.bytes',
    brokerName: 'log.index.size.max.bytes',
    type: 'INT',
    defaultValue: String(defaultLogConfig.segmentIndexBytes),
    documentation: 'Maximum size of a segment offset index.',
    validate: integer(16, INT_MAX),
  },
  {
    name: 'index.interval.bytes',
    brokerName: 'log.index.interval.bytes',
    type: 'INT',
    defaultValue: String(defaultLogConfig.indexIntervalBytes),
    documentation: 'Bytes of batches between two offset-index entries.',
    validate: integer(0, INT_MAX),
  },
  {
    name: 'delete.retention.ms',
    brokerName: 'log.cleaner.delete.retention.ms',
    type: 'LONG',
    defaultValue: String(defaultLogConfig.deleteRetentionMs),
    documentation: 'How long a tombstone survives compaction.',
    validate: integer(0),
  },
  {
    name: 'min.compaction.lag.ms',
    brokerName: 'log.cleaner.min.compaction.lag.ms',
    type: 'LONG',
    defaultValue: String(defaultLogConfig.minCompactionLagMs),
    documentation: 'Records younger than this are never compacted.',
    validate: integer(0),
  },
  {
    name: 'max.message.bytes',
    brokerName: 'message.max.bytes',
    type: 'INT',
    defaultValue: String(defaultLogConfig.maxMessageBytes),
    documentation: 'Largest record batch the topic accepts.',
    validate: integer(0, INT_MAX),
  },
  {
    name: 'message.timestamp.type',
    brokerName: 'log.message.timestamp.type',
    type: 'STRING',
    defaultValue: 'CreateTime',
    documentation: 'CreateTime keeps the producer timestamp; LogAppendTime stamps the broker time at append.',
    validate: oneOf('CreateTime', 'LogAppendTime'),
  },
  {
    name: 'min.insync.replicas',
    brokerName: 'min.insync.replicas',
    type: 'INT',
    defaultValue: '1',
    documentation: 'Replicas that must have a write for acks=all (one on a single node).',
    validate: integer(1, INT_MAX),
  },
  {
    name: 'compression.type',
    brokerName: 'compression.type',
    type: 'STRING',
    defaultValue: 'producer',
    documentation: 'The codec batches are stored in: uncompressed, gzip, snappy, lz4, zstd, or producer (as sent).',
    validate: oneOf('uncompressed', 'gzip', 'snappy', 'lz4', 'zstd', 'producer'),
  },
];

export const topicConfigByName: ReadonlyMap<string, TopicConfigDefinition> = new Map(
  topicConfigDefinitions.map((d) => [d.name, d]),
);

/** Checks a set of topic overrides; returns the first problem or null. */
export function topicConfigProblem(overrides: Record<string, string | null>): string | null {
  for (const [name, value] of Object.entries(overrides)) {
    const definition = topicConfigByName.get(name);
    if (!definition) return `unknown topic config "${name}"`;
    if (value === null) continue;
    const problem = definition.validate(value);
    if (problem) return `invalid value for ${name}: ${problem}`;
  }
  return null;
}

export interface EffectiveConfig {
  name: string;
  value: string;
  source: 'topic' | 'broker' | 'default';
  definition: TopicConfigDefinition;
}

/** Every topic config with its effective value and where the value comes from. */
export function effectiveTopicConfigs(
  overrides: Record<string, string>,
  brokerProperties: Record<string, string>,
): EffectiveConfig[] {
  return topicConfigDefinitions.map((definition) => {
    if (overrides[definition.name] !== undefined)
      return { name: definition.name, value: overrides[definition.name]!, source: 'topic', definition };
    if (brokerProperties[definition.brokerName] !== undefined)
      return { name: definition.name, value: brokerProperties[definition.brokerName]!, source: 'broker', definition };
    return { name: definition.name, value: definition.defaultValue, source: 'default', definition };
  });
}

/** The storage LogConfig of a topic: broker `log.*` settings, then the topic's overrides. */
export function logConfigFor(overrides: Record<string, string>, brokerProperties: Record<string, string>): LogConfig {
  const properties: Record<string, string> = {};
  for (const config of effectiveTopicConfigs(overrides, brokerProperties)) properties[config.name] = config.value;
  for (const [name, value] of Object.entries(brokerProperties))
    if (name.startsWith('log.') && properties[name] === undefined) properties[name] = value;
  // Topic names win over the broker names inside logConfigFromProperties only if listed first; pass the topic view.
  const fromTopic = logConfigFromProperties(
    Object.fromEntries(Object.entries(properties).filter(([n]) => topicConfigByName.has(n))),
  );
  const fromBroker = logConfigFromProperties(
    Object.fromEntries(Object.entries(properties).filter(([n]) => !topicConfigByName.has(n))),
  );
  return resolveLogConfig({ ...fromBroker, ...fromTopic });
}
