// Group coordinator settings (Kafka names; defaults and bounds in the settings registry) and Sluice's
// own bounds on memory held for clients. Every map keyed by client input (group ids, member ids,
// committed partitions) is capped here.
import { ConfigError, readInteger } from '../../runtime/settings.js';

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

/** Longest group id accepted: Kafka has none, but ids live in memory and in every offsets record key. */
export const GROUP_ID_LENGTH_MAX = 4096;
/** Members of one group listed per JoinGroup/DescribeGroups are bounded by group.max.size. */
export const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000;

export function groupSettingsFrom(properties: Record<string, string>): GroupSettings {
  const settings: GroupSettings = {
    offsetsTopicPartitions: readInteger(properties, 'offsets.topic.num.partitions'),
    offsetsRetentionMs: readInteger(properties, 'offsets.retention.minutes') * 60_000,
    offsetsRetentionCheckIntervalMs: readInteger(properties, 'offsets.retention.check.interval.ms'),
    offsetMetadataMaxBytes: readInteger(properties, 'offset.metadata.max.bytes'),
    initialRebalanceDelayMs: readInteger(properties, 'group.initial.rebalance.delay.ms'),
    minSessionTimeoutMs: readInteger(properties, 'group.min.session.timeout.ms'),
    maxSessionTimeoutMs: readInteger(properties, 'group.max.session.timeout.ms'),
    groupMaxSize: readInteger(properties, 'group.max.size'),
    groupsMax: readInteger(properties, 'sluice.groups.max'),
    offsetsMax: readInteger(properties, 'sluice.group.offsets.max'),
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
