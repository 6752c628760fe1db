// Every topic config Kafka 4.x defines, through two real admin clients against an in-process broker:
// kafkajs (CreateTopics with configEntries, AlterConfigs, DescribeConfigs with synonyms) and
// @platformatic/kafka (CreateTopics, IncrementalAlterConfigs SET/DELETE/APPEND/SUBTRACT,
// DescribeConfigs v4 with types and documentation). Configs Sluice does not act on are stored and
// described like the others; only unknown names and invalid values get INVALID_CONFIG, naming them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { Admin, ConfigResourceTypes, IncrementalAlterConfigOperationTypes } from '@platformatic/kafka';
import { topicSetting } from '../../src/runtime/settings.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

const { Kafka, logLevel, ConfigResourceTypes: KafkaJsResourceTypes } = kafkajs;

/** A valid non-default value for every Kafka 4.x topic config (and the two 3.x ones Sluice keeps). */
const everyConfig: Record<string, string> = {
  'cleanup.policy': 'compact',
  'compression.type': 'zstd',
  'compression.gzip.level': '5',
  'compression.lz4.level': '3',
  'compression.zstd.level': '10',
  'delete.retention.ms': '1000',
  'file.delete.delay.ms': '5000',
  'flush.messages': '100',
  'flush.ms': '1000',
  'follower.replication.throttled.replicas': '0:0',
  'index.interval.bytes': '8192',
  'leader.replication.throttled.replicas': '*',
  'local.retention.bytes': '1000000',
  'local.retention.ms': '60000',
  'max.compaction.lag.ms': '3600000',
  'max.message.bytes': '500000',
  'message.downconversion.enable': 'false',
  'message.format.version': '2.8',
  'message.timestamp.after.max.ms': '60000',
  'message.timestamp.before.max.ms': '60000',
  'message.timestamp.difference.max.ms': '60000',
  'message.timestamp.type': 'LogAppendTime',
  'min.cleanable.dirty.ratio': '0.25',
  'min.compaction.lag.ms': '10',
  'min.insync.replicas': '2',
  preallocate: 'true',
  'remote.log.copy.disable': 'true',
  'remote.log.delete.on.disable': 'true',
  'remote.storage.enable': 'false',
  'retention.bytes': '100000000',
  'retention.ms': '86400000',
  'segment.bytes': '10485760',
  'segment.index.bytes': '1048576',
  'segment.jitter.ms': '10',
  'segment.ms': '3600000',
  'unclean.leader.election.enable': 'true',
};

let server: TestBroker;
let kafka: InstanceType<typeof Kafka>;

before(async () => {
  server = await startTestBroker({ properties: { 'log.roll.hours': '2' } });
  kafka = new Kafka({
    brokers: [server.bootstrap],
    clientId: 'configs',
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  });
});
after(async () => server.close());

test('the table above has a valid, non-default value for every topic config', () => {
  for (const [name, value] of Object.entries(everyConfig)) {
    const definition = topicSetting(name);
    assert.ok(definition, name);
    // remote.storage.enable accepts only its default (Sluice has no tiered storage).
    if (name !== 'remote.storage.enable') assert.notEqual(value, definition.defaultValue, name);
  }
});

test('kafkajs: createTopics with every config, describeConfigs shows each as an override', async () => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [
        {
          topic: 'kj-every',
          numPartitions: 1,
          configEntries: Object.entries(everyConfig).map(([name, value]) => ({ name, value })),
        },
      ],
    });
    const described = await admin.describeConfigs({
      includeSynonyms: true,
      resources: [{ type: KafkaJsResourceTypes.TOPIC, name: 'kj-every' }],
    });
    const entries = new Map(described.resources[0]!.configEntries.map((e) => [e.configName, e]));
    assert.equal(entries.size, Object.keys(everyConfig).length);
    for (const [name, value] of Object.entries(everyConfig)) {
      assert.equal(entries.get(name)?.configValue, value, name);
      assert.equal(entries.get(name)?.isDefault, false, name);
      assert.equal(entries.get(name)?.readOnly, false, name);
    }
    // The acted-on ones reached the partition log.
    const log = server.broker.partitions.get('kj-every', 0)!.log.config;
    assert.equal(log.segmentBytes, 10485760);
    assert.equal(log.maxMessageBytes, 500000);
    assert.deepEqual(log.cleanupPolicy, { compact: true, delete: false });

    await admin.createTopics({ topics: [{ topic: 'kj-defaults', numPartitions: 1 }] });
    const defaults = await admin.describeConfigs({
      includeSynonyms: true,
      resources: [
        { type: KafkaJsResourceTypes.TOPIC, name: 'kj-defaults', configNames: ['segment.ms', 'retention.ms'] },
      ],
    });
    const segmentMs = defaults.resources[0]!.configEntries.find((e) => e.configName === 'segment.ms')!;
    assert.equal(segmentMs.configValue, '7200000', 'the broker’s log.roll.hours=2, in ms');
    assert.deepEqual(
      segmentMs.configSynonyms.map((s) => [s.configName, s.configValue]),
      [
        ['log.roll.hours', '2'],
        ['log.roll.ms', '604800000'],
      ],
    );
  } finally {
    await admin.disconnect();
  }
});

// kafkajs reports the error code but not the broker's error message (librdkafka's and
// @platformatic/kafka's tests check the message names the config).
test('kafkajs: alterConfigs sets ordinary configs; bad values and unknown names are INVALID_CONFIG', async () => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: 'kj-alter', numPartitions: 1 }] });
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: KafkaJsResourceTypes.TOPIC,
          name: 'kj-alter',
          configEntries: [
            { name: 'compression.type', value: 'gzip' },
            { name: 'min.insync.replicas', value: '1' },
            { name: 'retention.ms', value: '-1' },
            { name: 'unclean.leader.election.enable', value: 'false' },
          ],
        },
      ],
    });
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: KafkaJsResourceTypes.TOPIC, name: 'kj-alter', configNames: ['compression.type', 'retention.ms'] },
      ],
    });
    assert.deepEqual(described.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]).sort(), [
      ['compression.type', 'gzip'],
      ['retention.ms', '-1'],
    ]);
    for (const [name, value] of [
      ['retention.ms', 'abc'],
      ['min.cleanable.dirty.ratio', '2'],
      ['compression.type', 'brotli'],
      ['retention.msx', '1'],
    ] as const) {
      await assert.rejects(
        admin.alterConfigs({
          validateOnly: false,
          resources: [{ type: KafkaJsResourceTypes.TOPIC, name: 'kj-alter', configEntries: [{ name, value }] }],
        }),
        (error: Error & { type?: string }) => error.type === 'INVALID_CONFIG',
        `${name}=${value}`,
      );
      await assert.rejects(
        admin.createTopics({ topics: [{ topic: `kj-bad-${name}`, configEntries: [{ name, value }] }] }),
        (error: Error & { errors?: Array<{ type?: string }> }) => error.errors?.[0]?.type === 'INVALID_CONFIG',
        `create with ${name}=${value}`,
      );
    }
    // min.compaction.lag.ms above max.compaction.lag.ms: Kafka's cross-check.
    await assert.rejects(
      admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: KafkaJsResourceTypes.TOPIC,
            name: 'kj-alter',
            configEntries: [
              { name: 'min.compaction.lag.ms', value: '1000' },
              { name: 'max.compaction.lag.ms', value: '10' },
            ],
          },
        ],
      }),
      (error: Error & { type?: string }) => error.type === 'INVALID_CONFIG',
    );
    const conflict = await server.broker.alterTopicConfigs(
      'kj-alter',
      { 'min.compaction.lag.ms': '1000', 'max.compaction.lag.ms': '10' },
      true,
    );
    assert.equal(
      conflict.errorMessage,
      'conflict topic config setting min.compaction.lag.ms (1000) > max.compaction.lag.ms (10)',
    );
  } finally {
    await admin.disconnect();
  }
});

type ClientError = Error & { apiId?: string; serverErrorMessage?: string; errors?: ClientError[] };

/** @platformatic/kafka wraps broker errors in nested errors: an INVALID_CONFIG whose message matches. */
function invalidConfig(message: RegExp): (error: ClientError) => boolean {
  const found = (error: ClientError, depth: number): boolean =>
    (error.apiId === 'INVALID_CONFIG' && message.test(error.serverErrorMessage ?? '')) ||
    (depth < 6 && (error.errors ?? []).some((inner) => found(inner, depth + 1)));
  return (error) => found(error, 0);
}

test('@platformatic/kafka: create, incremental alter (SET, DELETE, APPEND, SUBTRACT), describe v4', async () => {
  const admin = new Admin({ clientId: 'pk-configs', bootstrapBrokers: [server.bootstrap], retries: 0, timeout: 5000 });
  try {
    await admin.createTopics({
      topics: ['pk-every'],
      partitions: 1,
      replicas: 1,
      configs: Object.entries(everyConfig).map(([name, value]) => ({ name, value })),
    });
    type Configs = Parameters<Admin['incrementalAlterConfigs']>[0]['resources'][number]['configs'];
    const incremental = (configs: Configs) =>
      admin.incrementalAlterConfigs({
        resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: 'pk-every', configs }],
      });
    await incremental([
      { name: 'flush.ms', configOperation: IncrementalAlterConfigOperationTypes.SET, value: '2000' },
      { name: 'preallocate', configOperation: IncrementalAlterConfigOperationTypes.DELETE },
      { name: 'cleanup.policy', configOperation: IncrementalAlterConfigOperationTypes.APPEND, value: 'delete' },
      {
        name: 'leader.replication.throttled.replicas',
        configOperation: IncrementalAlterConfigOperationTypes.SET,
        value: '0:0,1:0',
      },
    ]);
    await incremental([
      {
        name: 'leader.replication.throttled.replicas',
        configOperation: IncrementalAlterConfigOperationTypes.SUBTRACT,
        value: '1:0',
      },
    ]);
    const [description] = await admin.describeConfigs({
      resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: 'pk-every' }],
      includeSynonyms: true,
      includeDocumentation: true,
    });
    const configs = new Map(description!.configs.map((c) => [c.name, c]));
    assert.equal(configs.get('flush.ms')!.value, '2000');
    assert.equal(configs.get('preallocate')!.value, 'false', 'deleted: back to the default');
    assert.equal(configs.get('preallocate')!.configSource, 5, 'DEFAULT_CONFIG');
    assert.equal(configs.get('cleanup.policy')!.value, 'compact,delete');
    assert.equal(configs.get('leader.replication.throttled.replicas')!.value, '0:0');
    assert.equal(configs.get('min.cleanable.dirty.ratio')!.configType, 6, 'DOUBLE');
    assert.equal(configs.get('retention.ms')!.configType, 5, 'LONG');
    assert.match(configs.get('flush.ms')!.documentation ?? '', /accepted, not acted on/i);
    assert.equal(server.broker.partitions.get('pk-every', 0)!.log.config.cleanupPolicy.delete, true);

    await assert.rejects(
      incremental([
        { name: 'compression.type', configOperation: IncrementalAlterConfigOperationTypes.SET, value: 'brotli' },
      ]),
      invalidConfig(/compression\.type must be one of/),
    );
    await assert.rejects(
      incremental([{ name: 'no.such', configOperation: IncrementalAlterConfigOperationTypes.SET, value: '1' }]),
      invalidConfig(/Unknown topic config name: no\.such/),
    );
    await assert.rejects(
      admin.createTopics({
        topics: ['pk-bad'],
        partitions: 1,
        replicas: 1,
        configs: [{ name: 'min.cleanable.dirty.ratio', value: '2' }],
      }),
      invalidConfig(/min\.cleanable\.dirty\.ratio/),
    );
  } finally {
    await admin.close();
  }
});

test('@platformatic/kafka: the broker resource lists every broker setting with type, value and source', async () => {
  const admin = new Admin({ clientId: 'pk-broker', bootstrapBrokers: [server.bootstrap], retries: 0, timeout: 5000 });
  try {
    const [description] = await admin.describeConfigs({
      resources: [{ resourceType: ConfigResourceTypes.BROKER, resourceName: '0' }],
      includeSynonyms: true,
      includeDocumentation: false,
    });
    const configs = new Map(description!.configs.map((c) => [c.name, c]));
    const roll = configs.get('log.roll.ms')!;
    assert.deepEqual(
      { value: roll.value, source: roll.configSource, type: roll.configType, readOnly: roll.readOnly },
      { value: '7200000', source: 4, type: 5, readOnly: true },
      'given as log.roll.hours=2: STATIC_BROKER_CONFIG, LONG',
    );
    assert.deepEqual(
      roll.synonyms.map((s) => [s.name, s.value, s.source]),
      [
        ['log.roll.hours', '2', 4],
        ['log.roll.ms', '604800000', 5],
      ],
    );
    assert.equal(configs.get('num.partitions')!.configType, 3, 'INT');
    assert.equal(configs.get('replica.fetch.max.bytes')!.value, '1048576');
    assert.equal(configs.get('log.dirs')!.value, server.dataDir);
    assert.ok(configs.has('message.max.bytes') && configs.has('socket.request.max.bytes'));
  } finally {
    await admin.close();
  }
});
