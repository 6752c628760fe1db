// The names the fuzzer's frames use, and which of them each API may touch.
//
// Plausible frames name things that exist, or nearly do: the fuzzer's own topics, groups and
// transactional ids (created before the run, so requests reach the code behind the lookup), names that
// do not exist yet (CreateTopics, auto-creation), illegal names, and the internal topics. The data the
// run checks afterwards — the golden topics written before the run and the well-behaved clients'
// topics and group — is *protected*: only the read-only APIs below may name it. A valid DeleteTopics
// of a golden topic would be the fuzzer's fault, not the broker's; a read of it must never change it.
// A frame naming a protected resource is never mutated in its API key or version (a flipped key could
// turn a Fetch into a DeleteTopics of the same bytes), only in its body.
import { ApiKey } from '../../src/protocol/generated/index.js';

/** Written before the run and read back byte for byte after it (golden.ts). */
export const GOLDEN_TOPICS = {
  /** One partition per codec: none, gzip, snappy, lz4, zstd. */
  codecs: 'golden-codecs',
  /** Committed and aborted transactions with plain batches between them. */
  transactions: 'golden-txn',
  /** cleanup.policy=compact, repeated keys and tombstones. */
  compacted: 'golden-compact',
} as const;
export const GOLDEN_TRANSACTIONAL_ID = 'golden-transactional-producer';

/** The well-behaved clients' own topics and group (well-behaved.ts). */
export const WELL_BEHAVED = {
  kcatTopic: 'wb-kcat',
  kafkajsTopic: 'wb-kafkajs',
  kafkajsGroup: 'wb-kafkajs-group',
} as const;

export const PROTECTED_TOPICS: readonly string[] = [
  ...Object.values(GOLDEN_TOPICS),
  WELL_BEHAVED.kcatTopic,
  WELL_BEHAVED.kafkajsTopic,
];
export const PROTECTED_GROUPS: readonly string[] = [WELL_BEHAVED.kafkajsGroup];
export const PROTECTED_TRANSACTIONAL_IDS: readonly string[] = [GOLDEN_TRANSACTIONAL_ID];

/** The fuzzer's topics, created before the run: name → partitions (one compacted, see FUZZ_TOPIC_CONFIGS). */
export const FUZZ_TOPICS: Readonly<Record<string, number>> = {
  'fz-0': 1,
  'fz-1': 2,
  'fz-2': 3,
  'fz-3': 4,
  'fz-compact': 2,
};
export const FUZZ_TOPIC_CONFIGS: Readonly<Record<string, Record<string, string>>> = {
  'fz-compact': { 'cleanup.policy': 'compact' },
};
/** Names the frames may create (CreateTopics, Metadata auto-creation) and delete again. A short list,
 *  so the topics a run can create are bounded by the vocabulary, not by the number of frames. */
export const FUZZ_NEW_TOPICS: readonly string[] = Array.from({ length: 8 }, (_, i) => `fz-new-${i}`);
/** Names no topic may have: empty, "." and "..", too long, illegal characters, '.'/'_' collisions. */
export const ILLEGAL_TOPICS: readonly string[] = [
  '',
  '.',
  '..',
  'x'.repeat(250),
  'bad/name',
  'bad name',
  'caf\u00e9',
  'fz_0.x',
  'fz.0_x',
];
export const INTERNAL_TOPICS: readonly string[] = [
  '__consumer_offsets',
  '__transaction_state',
  '__sluice_half',
  '__sluice_half_op',
];
export const FUZZ_GROUPS: readonly string[] = ['fz-g0', 'fz-g1', 'fz-g2', 'fz-g3', ''];
export const FUZZ_TRANSACTIONAL_IDS: readonly string[] = ['fz-t0', 'fz-t1', 'fz-t2', 'fz-t3'];

/**
 * APIs that only read: they may name protected topics, groups and transactional ids. Everything else
 * (Produce, the admin APIs, the group and transaction APIs) names only the fuzzer's own resources and,
 * except for NO_INTERNAL_TOPIC_APIS, the internal topics.
 */
export const READ_ONLY_APIS: ReadonlySet<number> = new Set([
  ApiKey.Fetch,
  ApiKey.ListOffsets,
  ApiKey.Metadata,
  ApiKey.OffsetFetch,
  ApiKey.FindCoordinator,
  ApiKey.DescribeGroups,
  ApiKey.ListGroups,
  ApiKey.ApiVersions,
  ApiKey.OffsetForLeaderEpoch,
  ApiKey.DescribeConfigs,
  ApiKey.DescribeCluster,
  ApiKey.DescribeTransactions,
  ApiKey.ListTransactions,
]);

/** Topic configs Kafka defines (and a few it does not), for CreateTopics/AlterConfigs/DescribeConfigs. */
export const CONFIG_NAMES: readonly string[] = [
  'cleanup.policy',
  'compression.type',
  'retention.ms',
  'retention.bytes',
  'segment.bytes',
  'segment.ms',
  'max.message.bytes',
  'min.insync.replicas',
  'message.timestamp.type',
  'min.compaction.lag.ms',
  'delete.retention.ms',
  'flush.messages',
  'unclean.leader.election.enable',
  'not.a.config',
  '',
];
/** Plausible values for any config (the handler must refuse the ones that do not fit the name). */
export const CONFIG_VALUES: readonly string[] = [
  'compact',
  'delete',
  'compact,delete',
  'gzip',
  'zstd',
  'producer',
  'uncompressed',
  '-1',
  '0',
  '1',
  '1000',
  '86400000',
  '1048576',
  '99999999999999999999',
  'true',
  'CreateTime',
  'LogAppendTime',
  '',
  'nonsense',
];

/**
 * APIs that Kafka lets an admin point at an internal topic, with effects a broker cannot undo: deleting
 * `__consumer_offsets` forgets every group's offsets, more partitions remap every group to another
 * coordinator partition, `retention.ms=1` expires them. Those are the operator's choice, not a broker bug,
 * so these APIs never name internal topics. The others must refuse them as Kafka does (Produce and
 * DeleteRecords: INVALID_TOPIC_EXCEPTION; AddPartitionsToTxn: TOPIC_AUTHORIZATION_FAILED).
 */
export const NO_INTERNAL_TOPIC_APIS: ReadonlySet<number> = new Set([
  ApiKey.DeleteTopics,
  ApiKey.CreatePartitions,
  ApiKey.AlterConfigs,
  ApiKey.IncrementalAlterConfigs,
]);

/** Where the frames of one API may point: the pools its names come from. */
export interface NamePools {
  topics: readonly string[];
  groups: readonly string[];
  transactionalIds: readonly string[];
  /** Topic ids the frames may name (of existing topics in `topics`), besides zero and random ones. */
  topicIds: readonly Buffer[];
  /** Whether this API may name protected resources (then its key and version are never mutated). */
  readOnly: boolean;
}

/** Builds each API's pools from the topic ids the broker assigned (learned by Metadata before the run). */
export function namePoolsFor(apiKey: number, topicIds: ReadonlyMap<string, Buffer>): NamePools {
  const readOnly = READ_ONLY_APIS.has(apiKey);
  const internal = NO_INTERNAL_TOPIC_APIS.has(apiKey) ? [] : INTERNAL_TOPICS;
  const own = [...Object.keys(FUZZ_TOPICS), ...FUZZ_NEW_TOPICS, ...ILLEGAL_TOPICS, ...internal];
  const topics = readOnly ? [...own, ...PROTECTED_TOPICS] : own;
  const ids: Buffer[] = [];
  for (const name of topics) {
    const id = topicIds.get(name);
    if (id) ids.push(id);
  }
  return {
    topics,
    groups: readOnly ? [...FUZZ_GROUPS, ...PROTECTED_GROUPS] : FUZZ_GROUPS,
    transactionalIds: readOnly ? [...FUZZ_TRANSACTIONAL_IDS, ...PROTECTED_TRANSACTIONAL_IDS] : FUZZ_TRANSACTIONAL_IDS,
    topicIds: ids,
    readOnly,
  };
}
