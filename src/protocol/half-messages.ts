// The names of the half-message channel (docs/half-messages.md, "The channel"), shared by the broker's
// service (broker/half-messages/) and the client (client/half-producer.ts), which may not import each
// other: topics, the `sluice.half.*` headers, and what a producer group may be called.

export const HALF_TOPIC = '__sluice_half';
export const HALF_OP_TOPIC = '__sluice_half_op';
export const HALF_ABANDONED_TOPIC = '__sluice_half_abandoned';
export const CHECK_TOPIC_PREFIX = '__sluice_check.';

export const HALF_HEADERS = {
  topic: 'sluice.half.topic',
  partition: 'sluice.half.partition',
  group: 'sluice.half.group',
  id: 'sluice.half.id',
  check: 'sluice.half.check',
  checks: 'sluice.half.checks',
  reason: 'sluice.half.reason',
} as const;
/** Every channel header starts so; a producer's own headers may not. */
export const HALF_HEADER_PREFIX = 'sluice.half.';

/** A producer group name: usable inside a topic name (`__sluice_check.<group>`). */
export const PRODUCER_GROUP_PATTERN = /^[A-Za-z0-9._-]{1,200}$/;

/** The check topic, and the consumer group reading it, of a producer group. */
export function checkTopicOf(producerGroup: string): string {
  return CHECK_TOPIC_PREFIX + producerGroup;
}
