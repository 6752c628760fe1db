// @platformatic/kafka 1.35 (what npm installs on Node 20) against a real in-process broker on loopback:
// admin topics and metadata, list offsets (earliest, latest, by time), delete records, and configs.
// Producing and consuming are in platformatic.test.ts. What was stored is read back with our own
// Fetch decoder (readPartition), so a client bug cannot hide a broker bug.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Consumer, ConfigResourceTypes, IncrementalAlterConfigOperationTypes } from '@platformatic/kafka';
import { ApiKey } from '../../src/protocol/generated/index.js';
import { clientOptions, failedWith, newAdmin, newProducer } from '../support/platformatic-clients.js';
import { RawClient } from '../support/raw-client.js';
import { readPartition } from '../support/read-partition.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

let server: TestBroker;

before(async () => {
  // A lone test consumer need not wait Kafka's 3 s for more members to join.
  server = await startTestBroker({ properties: { 'group.initial.rebalance.delay.ms': '0' } });
});

after(async () => {
  await server.close();
});

test('admin: create, list, describe and delete topics; metadata', async () => {
  const admin = newAdmin(server.bootstrap);
  try {
    const created = await admin.createTopics({ topics: ['pk-admin'], partitions: 3, replicas: 1 });
    assert.equal(created.length, 1);
    assert.equal(created[0]!.name, 'pk-admin');
    assert.equal(created[0]!.partitions, 3);
    assert.match(created[0]!.id, /^[0-9a-f-]{36}$/, 'a topic id is returned');
    await assert.rejects(
      admin.createTopics({ topics: ['pk-admin'], partitions: 3, replicas: 1 }),
      failedWith('TOPIC_ALREADY_EXISTS'),
    );
    await assert.rejects(
      admin.createTopics({ topics: ['bad name!'], partitions: 1, replicas: 1 }),
      failedWith('INVALID_TOPIC_EXCEPTION'),
    );

    assert.ok((await admin.listTopics()).includes('pk-admin'));

    const metadata = await admin.metadata({ topics: ['pk-admin'], forceUpdate: true });
    assert.equal(metadata.controllerId, 0);
    assert.deepEqual(
      [...metadata.brokers.entries()].map(([id, b]) => `${id}@${b.host}:${b.port}`),
      [`0@${server.bootstrap}`],
    );
    assert.match(metadata.id, /^[A-Za-z0-9_-]{22}$/, 'cluster id');
    const topic = metadata.topics.get('pk-admin')!;
    assert.equal(topic.partitionsCount, 3);
    assert.ok(topic.partitions.every((p) => p.leader === 0 && p.replicas.length === 1 && p.isr.length === 1));

    await admin.createPartitions({ topics: [{ name: 'pk-admin', count: 5, assignments: [] }] });
    assert.equal(
      (await admin.metadata({ topics: ['pk-admin'], forceUpdate: true })).topics.get('pk-admin')!.partitionsCount,
      5,
    );

    await admin.deleteTopics({ topics: ['pk-admin'] });
    assert.ok(!(await admin.listTopics()).includes('pk-admin'));
  } finally {
    await admin.close();
  }
});

test('list offsets: earliest, latest, by time; delete records moves the start', async () => {
  const admin = newAdmin(server.bootstrap);
  const producer = newProducer(server.bootstrap);
  try {
    await admin.createTopics({ topics: ['pk-timed'], partitions: 1, replicas: 1 });
    const base = BigInt(Date.now() - 100_000);
    for (let i = 0; i < 5; i++) {
      await producer.send({
        messages: [{ topic: 'pk-timed', partition: 0, value: `t${i}`, timestamp: base + BigInt(i * 10_000) }],
      });
    }
    const list = async (timestamp: bigint) =>
      (await admin.listOffsets({ topics: [{ name: 'pk-timed', partitions: [{ partitionIndex: 0, timestamp }] }] }))[0]!
        .partitions[0]!;
    assert.equal((await list(-2n)).offset, 0n, 'earliest');
    assert.equal((await list(-1n)).offset, 5n, 'latest');
    const byTime = await list(base + 25_000n);
    assert.equal(byTime.offset, 3n, 'first record at or after the time');
    assert.equal(byTime.timestamp, base + 30_000n);
    assert.equal((await list(base)).offset, 0n);
    assert.equal(
      (await list(base + 1_000_000n)).offset,
      -1n,
      'a time after the last record: no offset (-1), as in Kafka',
    );

    // The consumer's convenience API takes the same path.
    const consumer = new Consumer({ ...clientOptions(server.bootstrap), groupId: 'pk-unused-group' });
    try {
      const latest = await consumer.listOffsets({ topics: ['pk-timed'] });
      assert.deepEqual(latest.get('pk-timed'), [5n]);
      const at = await consumer.listOffsets({ topics: ['pk-timed'], timestamp: base + 10_000n });
      assert.deepEqual(at.get('pk-timed'), [1n]);
    } finally {
      await consumer.close();
    }

    const deleted = await admin.deleteRecords({
      topics: [{ name: 'pk-timed', partitions: [{ partition: 0, offset: 2n }] }],
    });
    assert.deepEqual(deleted, [{ name: 'pk-timed', partitions: [{ partition: 0, lowWatermark: 2n }] }]);
    assert.equal((await list(-2n)).offset, 2n, 'earliest follows the new log start');
    assert.deepEqual(
      (await readPartition(server.port, 'pk-timed', 0, 2)).map((r) => r.value),
      ['t2', 't3', 't4'],
    );
  } finally {
    await producer.close();
    await admin.close();
  }
});

// Our own DescribeConfigs v2, so the alter tests below do not depend on the client's describe.
async function describeTopicConfigs(
  topic: string,
  keys: string[] | null = null,
): Promise<Map<string, { value: string | null; configSource: number }>> {
  const client = await RawClient.connect(server.port);
  try {
    client.request(ApiKey.DescribeConfigs, 2, 1, {
      resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: keys }],
      includeSynonyms: false,
    });
    const [frame] = await client.waitForFrames(1);
    assert.ok(frame, 'DescribeConfigs answered');
    const result = RawClient.decode(ApiKey.DescribeConfigs, 2, frame).body.results[0];
    assert.equal(result.errorCode, 0);
    return new Map(
      result.configs.map((c: { name: string; value: string | null; configSource: number }) => [c.name, c]),
    );
  } finally {
    client.close();
  }
}

test('configs: create with configs, alter, incremental alter, validation, enforcement', async () => {
  const admin = newAdmin(server.bootstrap);
  try {
    await admin.createTopics({
      topics: ['pk-configs'],
      partitions: 1,
      replicas: 1,
      configs: [{ name: 'retention.ms', value: '3600000' }],
    });
    const all = await describeTopicConfigs('pk-configs');
    assert.equal(all.get('retention.ms')!.value, '3600000');
    assert.equal(all.get('retention.ms')!.configSource, 1, 'TOPIC_CONFIG');
    assert.equal(all.get('cleanup.policy')!.value, 'delete');

    await admin.alterConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: 'pk-configs',
          configs: [{ name: 'max.message.bytes', value: '2000' }],
        },
      ],
    });
    const altered = await describeTopicConfigs('pk-configs', ['max.message.bytes', 'retention.ms']);
    assert.equal(altered.get('max.message.bytes')!.value, '2000');
    assert.equal(
      altered.get('retention.ms')!.value,
      '604800000',
      'AlterConfigs replaces the whole set of overrides, as in Kafka',
    );

    await admin.incrementalAlterConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: 'pk-configs',
          configs: [
            { name: 'retention.ms', configOperation: IncrementalAlterConfigOperationTypes.SET, value: '7200000' },
          ],
        },
      ],
    });
    const incremental = await describeTopicConfigs('pk-configs', ['max.message.bytes', 'retention.ms']);
    assert.equal(incremental.get('retention.ms')!.value, '7200000');
    assert.equal(incremental.get('max.message.bytes')!.value, '2000', 'incremental keeps the other overrides');

    await assert.rejects(
      admin.alterConfigs({
        resources: [
          {
            resourceType: ConfigResourceTypes.TOPIC,
            resourceName: 'pk-configs',
            configs: [{ name: 'retention.ms', value: 'soon' }],
          },
        ],
      }),
      failedWith('INVALID_CONFIG'),
    );

    // The new max.message.bytes is enforced on produce.
    const producer = newProducer(server.bootstrap);
    try {
      await assert.rejects(
        producer.send({ messages: [{ topic: 'pk-configs', partition: 0, value: 'y'.repeat(5000) }] }),
        failedWith('MESSAGE_TOO_LARGE'),
      );
    } finally {
      await producer.close();
    }
  } finally {
    await admin.close();
  }
});

// Table B has the broker advertise DescribeConfigs 1-2, so @platformatic/kafka 1.35 picks v2 — and its
// v2 encoder also writes include_documentation, a v3 field: one byte after the v2 message.
test('configs: describeConfigs through @platformatic/kafka', async () => {
  const admin = newAdmin(server.bootstrap);
  try {
    await admin.createTopics({
      topics: ['pk-describe'],
      partitions: 1,
      replicas: 1,
      configs: [{ name: 'retention.ms', value: '3600000' }],
    });
    const [description] = await admin.describeConfigs({
      resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: 'pk-describe' }],
    });
    const configs = new Map(description!.configs.map((c) => [c.name, c]));
    assert.equal(configs.get('retention.ms')!.value, '3600000');
    assert.equal(configs.get('retention.ms')!.configSource, 1, 'TOPIC_CONFIG');
    assert.equal(configs.get('cleanup.policy')!.value, 'delete');
  } finally {
    await admin.close();
  }
});
