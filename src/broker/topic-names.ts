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

export function isInternalTopic(name: string): boolean {
  return name.startsWith('__');
}
