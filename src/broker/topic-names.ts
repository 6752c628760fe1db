// Topic name rules, as Kafka applies them (Topic.validate): 1-249 characters of [a-zA-Z0-9._-],
// not "." or "..". 249 leaves room for "-<partition>" and a suffix in a 255-byte file name.
export const TOPIC_NAME_LENGTH_MAX = 249;
const legal = /^[a-zA-Z0-9._-]+$/;

/** Why `name` is not a legal topic name, or null when it is. */
export function topicNameProblem(name: string | null): string | null {
  if (name === null || name.length === 0) return 'topic name is empty';
  if (name === '.' || name === '..') return `topic name cannot be "${name}"`;
  if (name.length > TOPIC_NAME_LENGTH_MAX) return `topic name is longer than ${TOPIC_NAME_LENGTH_MAX} characters`;
  if (!legal.test(name))
    return `topic name "${name}" contains characters other than ASCII letters, digits, '.', '_' and '-'`;
  return null;
}

/** Kafka forbids two topics whose names differ only by '.' versus '_' (metric names would collide). */
export function collisionKey(name: string): string {
  return name.replace(/\./g, '_');
}

/** Kafka 4.x's internal topics (Topic.INTERNAL_TOPICS). `__cluster_metadata` is never a topic here. */
const KAFKA_INTERNAL_TOPICS: ReadonlySet<string> = new Set([
  '__consumer_offsets',
  '__transaction_state',
  '__share_group_state',
]);
/** An internal topic a cluster replicates like any other, whose partitions' leaders run its coordinator
 *  (Kafka's). Sluice's own `__sluice_*` topics stay with one broker for now (docs/cluster.md). */
export function isReplicatedInternalTopic(name: string): boolean {
  return KAFKA_INTERNAL_TOPICS.has(name);
}

/** Sluice's own topics (`__sluice_half`, `__sluice_half_op`, `__sluice_half_abandoned`, `__sluice_check.<group>`,
 *  src/protocol/half-messages.ts) all start so. */
export const SLUICE_TOPIC_PREFIX = '__sluice_';

/**
 * A topic the broker writes itself: marked `is_internal` in Metadata, never auto-created by a
 * Metadata request, closed to client produce (the half-message channel excepted) and to DeleteTopics.
 * Any other name, `__`-prefixed or not, is an ordinary topic, as in Kafka.
 */
export function isInternalTopic(name: string): boolean {
  return KAFKA_INTERNAL_TOPICS.has(name) || name.startsWith(SLUICE_TOPIC_PREFIX);
}
