// Group coordinator settings (Kafka names) and Sluice's own bounds on memory held for clients.
// Every map keyed by client input (group ids, member ids, committed partitions) is capped here.
import { ConfigError } from '../config.js';

export interface GroupSettings {
  /** `offsets.topic.num.partitions`: partitions of `__consumer_offsets` when Sluice creates it.
   *  Kafka's default is 50, sized to spread coordinators over a cluster. A single node gains nothing
   *  from 50 (every partition has the same leader) and pays 50 open logs and directories, so Sluice
   *  defaults to 10. An existing topic keeps the partition count it was created with. */
  offsetsTopicPartitions: number;
  /** `offsets.retention.minutes` in ms: committed offsets of an Empty group (or of a topic the
   *  group no longer subscribes to) are removed this long after the group emptied / the commit. 7 days as in Kafka. */
  offsetsRetentionMs: number;
  /** `offsets.retention.check.interval.ms`: how often expired offsets are looked for. 10 min as in Kafka. */
  offsetsRetentionCheckIntervalMs: number;
  /** `offset.metadata.max.bytes`: longest commit metadata string. 4096 as in Kafka. */
  offsetMetadataMaxBytes: number;
  /** `group.initial.rebalance.delay.ms`: how long the first rebalance of an Empty group waits for more
   *  members. 3 s as in Kafka. */
  initialRebalanceDelayMs: number;
  /** `group.min.session.timeout.ms` / `group.max.session.timeout.ms`: 6 s and 30 min as in Kafka. */
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** `group.max.size`: members (and pending members) per group. Kafka's default is unbounded
   *  (Int.MaxValue); Sluice bounds it at 1000 so one group cannot take the process's memory. */
  groupMaxSize: number;
  /** `sluice.groups.max`: groups the coordinator keeps (with members or committed offsets). A
   *  client inventing group ids gets COORDINATOR_NOT_AVAILABLE past this. 10 000. */
  groupsMax: number;
  /** `sluice.group.offsets.max`: committed partitions kept across all groups. 1 000 000 entries
   *  of ~200 bytes each ≈ 200 MB worst case. */
  offsetsMax: number;
  /** Kafka's fixed 5 min (GroupCoordinator.NewMemberJoinTimeoutMs): a new member that never
   *  finishes its first join is dropped after this, whatever its session timeout. */
  newMemberJoinTimeoutMs: number;
}

export const groupSettingDefaults = {
  'offsets.topic.num.partitions': '10',
  'offsets.retention.minutes': '10080',
  'offsets.retention.check.interval.ms': '600000',
  'offset.metadata.max.bytes': '4096',
  'group.initial.rebalance.delay.ms': '3000',
  'group.min.session.timeout.ms': '6000',
  'group.max.session.timeout.ms': '1800000',
  'group.max.size': '1000',
  'sluice.groups.max': '10000',
  'sluice.group.offsets.max': '1000000',
} as const;

/** Longest group id accepted: Kafka has none, but ids live in memory and in every offsets record key. */
export const GROUP_ID_LENGTH_MAX = 4096;
/** Members of one group listed per JoinGroup/DescribeGroups are bounded by group.max.size. */
export const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000;

function integer(properties: Record<string, string>, name: keyof typeof groupSettingDefaults, min: number): number {
  const raw = properties[name] ?? groupSettingDefaults[name];
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min)
    throw new ConfigError(`${name} must be an integer >= ${min}, got "${raw}"`);
  return value;
}

export function groupSettingsFrom(properties: Record<string, string>): GroupSettings {
  const settings: GroupSettings = {
    offsetsTopicPartitions: integer(properties, 'offsets.topic.num.partitions', 1),
    offsetsRetentionMs: integer(properties, 'offsets.retention.minutes', 1) * 60_000,
    offsetsRetentionCheckIntervalMs: integer(properties, 'offsets.retention.check.interval.ms', 1),
    offsetMetadataMaxBytes: integer(properties, 'offset.metadata.max.bytes', 0),
    initialRebalanceDelayMs: integer(properties, 'group.initial.rebalance.delay.ms', 0),
    minSessionTimeoutMs: integer(properties, 'group.min.session.timeout.ms', 1),
    maxSessionTimeoutMs: integer(properties, 'group.max.session.timeout.ms', 1),
    groupMaxSize: integer(properties, 'group.max.size', 1),
    groupsMax: integer(properties, 'sluice.groups.max', 1),
    offsetsMax: integer(properties, 'sluice.group.offsets.max', 1),
    newMemberJoinTimeoutMs: NEW_MEMBER_JOIN_TIMEOUT_MS,
  };
  if (settings.minSessionTimeoutMs > settings.maxSessionTimeoutMs) {
    throw new ConfigError(
      `group.min.session.timeout.ms (${settings.minSessionTimeoutMs}) is above ` +
        `group.max.session.timeout.ms (${settings.maxSessionTimeoutMs})`,
    );
  }
  return settings;
}
