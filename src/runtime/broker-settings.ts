// Every broker-level setting Sluice reads that is not a topic config's broker default (those are in
// topic-settings.ts): the listener, the broker, storage's broker-wide settings, the group, transaction
// and half-message coordinators. Kafka's names where Kafka has the same knob; Sluice's own start with
// `sluice.` (and `log.flush.policy`). A bound that differs from Kafka's says why in its doc line.
import { INT_MAX, TIMER_MS_MAX, type SettingDefinition } from './setting-types.js';

/** `log.flush.policy`'s syntax: `sync`, `os` or `interval:<ms>` (storage/flush-policy.ts says what each does). */
export type FlushPolicyText = { kind: 'sync' } | { kind: 'interval'; intervalMs: number } | { kind: 'os' };

export function parseFlushPolicyText(text: string): FlushPolicyText | null {
  const value = text.trim();
  if (value === 'sync') return { kind: 'sync' };
  if (value === 'os') return { kind: 'os' };
  const match = /^interval:(\d+)$/.exec(value);
  if (match === null) return null;
  const intervalMs = Number(match[1]);
  // The interval is a timer delay.
  return intervalMs >= 1 && intervalMs <= Number(TIMER_MS_MAX) ? { kind: 'interval', intervalMs } : null;
}

const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** A broker setting of type INT with the given bounds (the usual shape); `rest` adds or overrides fields. */
function int(
  name: string,
  defaultValue: number,
  min: bigint,
  max: bigint | undefined,
  doc: string,
  rest: Partial<SettingDefinition> = {},
): SettingDefinition {
  return {
    name,
    scope: 'broker',
    brokerName: name,
    type: 'INT',
    defaultValue: String(defaultValue),
    min,
    ...(max !== undefined ? { max } : {}),
    effect: 'acted',
    doc,
    ...rest,
  };
}

function long(
  name: string,
  defaultValue: number,
  min: bigint,
  max: bigint,
  doc: string,
  rest: Partial<SettingDefinition> = {},
): SettingDefinition {
  return { ...int(name, defaultValue, min, max, doc, rest), type: 'LONG' };
}

export const brokerSettings: readonly SettingDefinition[] = [
  // ── the listener ──────────────────────────────────────────────────────────────────────────────
  {
    name: 'listeners',
    scope: 'broker',
    brokerName: 'listeners',
    type: 'STRING',
    defaultValue: '127.0.0.1:9092',
    validText: '`host:port`, `PLAINTEXT://host:port`, `[::1]:9092`, `:9092`',
    effect: 'acted',
    doc: 'The one PLAINTEXT listener (startBroker() picks a free port when it is not set).',
  },
  {
    name: 'advertised.listeners',
    scope: 'broker',
    brokerName: 'advertised.listeners',
    type: 'STRING',
    defaultValue: null,
    validText: 'as `listeners`, port ≥ 1',
    effect: 'acted',
    doc: 'The address Metadata gives clients (default: the listen address; a wildcard host: this host name).',
  },
  int(
    'socket.request.max.bytes',
    100 * 1024 * 1024,
    10n,
    INT_MAX,
    'Largest request frame; a larger size prefix closes the connection unread.',
    { main: 12 },
  ),
  int(
    'max.connections',
    4096,
    1n,
    INT_MAX,
    'Open client connections; more are closed at accept (Kafka: unbounded; each costs buffers).',
    { main: 14 },
  ),
  long(
    'queued.max.request.bytes',
    512 * 1024 * 1024,
    10n,
    SAFE_MAX,
    'Request bytes all connections together may hold (Kafka: unbounded); at least socket.request.max.bytes.',
    { main: 23 },
  ),
  long(
    'sluice.request.receive.timeout.ms',
    30_000,
    1n,
    TIMER_MS_MAX,
    'Close a connection whose request has not fully arrived this long after its size (clients give up at 30 s).',
  ),
  long(
    'connections.max.idle.ms',
    10 * 60 * 1000,
    1n,
    TIMER_MS_MAX,
    'Close a connection with nothing in flight for this long (at most 2^31−1: a timer).',
    { main: 15 },
  ),
  int(
    'sluice.connection.in.flight.max',
    64,
    1n,
    INT_MAX,
    'Requests read but not yet answered, per connection; reading pauses at the cap.',
    { main: 16 },
  ),
  long(
    'sluice.connection.output.buffer.max.bytes',
    16 * 1024 * 1024,
    1n,
    SAFE_MAX,
    'Unread response bytes before a connection stops being read.',
    { main: 17 },
  ),
  // ── the broker ────────────────────────────────────────────────────────────────────────────────
  int('node.id', 0, 0n, undefined, 'This broker’s id; stored in meta.properties at first start.'),
  {
    name: 'log.dirs',
    scope: 'broker',
    brokerName: 'log.dirs',
    synonyms: [{ name: 'log.dir', scale: 1 }],
    type: 'STRING',
    defaultValue: './data',
    validText: 'one directory',
    effect: 'acted',
    doc: 'The data directory (Kafka: /tmp/kafka-logs; Sluice takes one directory, not a list).',
  },
  int('num.partitions', 1, 1n, undefined, 'Partitions of an auto-created topic, and of CreateTopics without a count.', {
    main: 1,
  }),
  {
    name: 'auto.create.topics.enable',
    scope: 'broker',
    brokerName: 'auto.create.topics.enable',
    type: 'BOOLEAN',
    defaultValue: 'true',
    effect: 'acted',
    doc: 'A Metadata request for an unknown topic creates it (when the request allows it, v4+).',
    main: 2,
  },
  int('transaction.max.timeout.ms', 15 * 60 * 1000, 1n, undefined, 'Largest transaction timeout InitProducerId takes.'),
  int('producer.id.expiration.ms', 24 * 60 * 60 * 1000, 1n, undefined, 'Forget idempotent producers idle this long.', {
    main: 11,
  }),
  int(
    'fetch.max.bytes',
    55 * 1024 * 1024,
    1024n,
    undefined,
    'Most record bytes one Fetch response carries; the first batch is returned whole even if larger (KIP-74).',
    { main: 13 },
  ),
  int(
    'replica.fetch.max.bytes',
    1024 * 1024,
    0n,
    undefined,
    'Record bytes a follower fetches per partition (first batch whole, as Fetch). Accepted, not acted on yet.',
    { effect: 'inert' },
  ),
  // ── the cluster (src/cluster/; without sluice.cluster.etcd the broker is one node and none of these act) ──
  {
    name: 'sluice.cluster.etcd',
    scope: 'broker',
    brokerName: 'sluice.cluster.etcd',
    type: 'STRING',
    defaultValue: '',
    validText: 'comma-separated etcd endpoints (http://host:port), or empty for one node',
    effect: 'acted',
    doc: 'etcd endpoints of the cluster: membership, controller election and cluster metadata live there.',
  },
  {
    name: 'sluice.cluster.name',
    scope: 'broker',
    brokerName: 'sluice.cluster.name',
    type: 'STRING',
    defaultValue: 'sluice',
    validText: 'a name (the etcd key prefix /sluice/<name>/)',
    effect: 'acted',
    doc: 'Brokers with the same etcd and name form one cluster.',
  },
  int(
    'sluice.cluster.session.timeout.ms',
    6000,
    2000n,
    600_000n,
    'A broker whose etcd lease was not renewed this long is gone: its leaderships move; it stops leading itself.',
  ),
  {
    name: 'broker.rack',
    scope: 'broker',
    brokerName: 'broker.rack',
    type: 'STRING',
    defaultValue: '',
    validText: 'a rack name, or empty',
    effect: 'acted',
    doc: 'The rack of this broker: replicas of a partition are spread over racks.',
  },
  int('default.replication.factor', 1, 1n, 32767n, 'Replicas of a topic created without a replication factor.'),
  int(
    'offsets.topic.replication.factor',
    3,
    1n,
    32767n,
    'Replicas of __consumer_offsets in a cluster (fewer while fewer brokers are live when it is created).',
  ),
  int(
    'transaction.state.log.replication.factor',
    3,
    1n,
    32767n,
    'Replicas of __transaction_state in a cluster (fewer while fewer brokers are live when it is created).',
  ),
  int(
    'replica.lag.time.max.ms',
    30_000,
    1n,
    undefined,
    'A follower that has not caught up with the leader for this long leaves the in-sync replicas.',
  ),
  int('transaction.state.log.num.partitions', 50, 1n, undefined, 'Partitions of __transaction_state when created.'),
  int(
    'transaction.abort.timed.out.transaction.cleanup.interval.ms',
    10_000,
    1n,
    undefined,
    'How often transactions past their timeout are looked for and aborted.',
  ),
  int(
    'transactional.id.expiration.ms',
    7 * 24 * 60 * 60 * 1000,
    1n,
    undefined,
    'A transactional id idle this long, with no transaction open, is forgotten.',
  ),
  int(
    'sluice.transactional.ids.max',
    100_000,
    1n,
    undefined,
    'Transactional ids kept (~0.5 KiB each); past it new ids get COORDINATOR_NOT_AVAILABLE.',
  ),
  // ── half messages (docs/half-messages.md) ─────────────────────────────────────────────────────
  int('transaction.check.delay.ms', 6000, 1n, INT_MAX, 'Check back a half message undecided this long (a timer).', {
    main: 18,
  }),
  int(
    'transaction.check.max',
    15,
    1n,
    1000n,
    'Checks before an undecided half message is rolled back and recorded as abandoned.',
    { main: 19 },
  ),
  int(
    'sluice.transaction.check.backoff.max.ms',
    60_000,
    1n,
    INT_MAX,
    'Longest wait between two checks (they double from transaction.check.delay.ms).',
    { main: 20 },
  ),
  int(
    'sluice.half.log.num.partitions',
    4,
    1n,
    1000n,
    'Partitions of __sluice_half and __sluice_half_op when created (the cap keeps a typo from making thousands).',
    { main: 21 },
  ),
  int(
    'sluice.half.pending.max',
    100_000,
    1n,
    10_000_000n,
    'Undecided half messages held; past it a new one is abandoned at once (bounds memory).',
    { main: 22 },
  ),
  // ── storage, broker-wide ──────────────────────────────────────────────────────────────────────
  {
    name: 'log.flush.policy',
    scope: 'broker',
    brokerName: 'log.flush.policy',
    type: 'STRING',
    defaultValue: 'sync',
    check: (value) =>
      parseFlushPolicyText(value) !== null
        ? null
        : `must be sync, os or interval:<ms> (ms >= 1, at most 2^31−1), got "${value}"`,
    validText: '`sync`, `os`, `interval:<ms>`',
    effect: 'acted',
    doc: 'When a write counts as done: sync (after fsync), interval:<ms>, os (see the README).',
    main: 10,
  },
  int(
    'log.flush.offset.checkpoint.interval.ms',
    60_000,
    1n,
    INT_MAX,
    'How often the recovery point is written; a crash rescans at most this much (Kafka allows 0; a timer).',
  ),
  long(
    'log.retention.check.interval.ms',
    5 * 60 * 1000,
    1n,
    TIMER_MS_MAX,
    'How often retention and compaction look for work (at most 2^31−1: a timer).',
  ),
  // ── consumer groups ───────────────────────────────────────────────────────────────────────────
  int(
    'offsets.topic.num.partitions',
    10,
    1n,
    undefined,
    'Partitions of __consumer_offsets when created (Kafka: 50, to spread coordinators; one node gains nothing).',
  ),
  int('offsets.retention.minutes', 7 * 24 * 60, 1n, undefined, 'Committed offsets of an empty group live this long.'),
  long(
    'offsets.retention.check.interval.ms',
    10 * 60 * 1000,
    1n,
    TIMER_MS_MAX,
    'How often expired offsets are looked for (a timer).',
  ),
  int('offset.metadata.max.bytes', 4096, 0n, undefined, 'Longest commit metadata string.'),
  int(
    'group.initial.rebalance.delay.ms',
    3000,
    0n,
    undefined,
    'The first rebalance of an empty group waits this long.',
  ),
  int('group.min.session.timeout.ms', 6000, 1n, undefined, 'Shortest session timeout a member may ask for.'),
  int('group.max.session.timeout.ms', 30 * 60 * 1000, 1n, undefined, 'Longest session timeout a member may ask for.'),
  int(
    'group.max.size',
    1000,
    1n,
    undefined,
    'Members per group (Kafka: unbounded; the bound keeps one group from taking the memory).',
  ),
  int('sluice.groups.max', 10_000, 1n, undefined, 'Groups kept; past it COORDINATOR_NOT_AVAILABLE.'),
  int('sluice.group.offsets.max', 1_000_000, 1n, undefined, 'Committed partitions kept over all groups (~200 B each).'),
];
