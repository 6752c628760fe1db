// Admin against the real broker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../support/test-broker.js';
import { Admin } from '../../src/client/admin.js';
import { Producer } from '../../src/client/producer.js';
import { KafkaError } from '../../src/client/errors.js';

test('topics: create, list, describe, grow, configs, delete', async () => {
  const broker = await startTestBroker({ properties: { 'auto.create.topics.enable': 'false' } });
  const admin = new Admin({ bootstrap: broker.bootstrap, retries: 1, retryBackoffMs: 10 });
  try {
    await admin.createTopics([
      { name: 'alpha', partitions: 3, configs: { 'retention.ms': '3600000' } },
      { name: 'beta', partitions: 1 },
    ]);
    await assert.rejects(
      admin.createTopics([{ name: 'alpha', partitions: 1 }]),
      (e: unknown) => e instanceof KafkaError && e.type === 'TOPIC_ALREADY_EXISTS',
    );
    await admin.createTopics([{ name: 'alpha', partitions: 1 }], { ignoreExisting: true });
    assert.deepEqual(await admin.listTopics(), ['alpha', 'beta']);
    const [alpha] = await admin.describeTopics(['alpha']);
    assert.equal(alpha!.partitions.length, 3);
    await admin.createPartitions('alpha', 5);
    assert.equal((await admin.describeTopics(['alpha']))[0]!.partitions.length, 5);
    const configs = await admin.describeConfigs('topic', 'alpha');
    assert.equal(configs['retention.ms']!.value, '3600000');
    assert.equal(configs['retention.ms']!.isDefault, false);
    await admin.alterConfigs('topic', 'alpha', { 'retention.ms': '7200000' });
    assert.equal((await admin.describeConfigs('topic', 'alpha', ['retention.ms']))['retention.ms']!.value, '7200000');
    await admin.deleteTopics(['beta']);
    assert.deepEqual(await admin.listTopics(), ['alpha']);
    await assert.rejects(
      admin.deleteTopics(['nope']),
      (e: unknown) => e instanceof KafkaError && e.type === 'UNKNOWN_TOPIC_OR_PARTITION',
    );
    const cluster = await admin.describeCluster();
    assert.equal(cluster.brokers.length, 1);
    assert.equal(cluster.brokers[0]!.port, broker.port);
  } finally {
    await admin.close();
    await broker.close();
  }
});

test('offsets by time, earliest and latest; delete records', async () => {
  const broker = await startTestBroker();
  const admin = new Admin({ bootstrap: broker.bootstrap });
  const producer = new Producer({ bootstrap: broker.bootstrap });
  try {
    await admin.createTopics([{ name: 'timed', partitions: 1 }]);
    const base = 1_700_000_000_000;
    for (let i = 0; i < 10; i++)
      await producer.send('timed', { value: Buffer.from(String(i)), timestamp: base + i * 1000 });
    assert.deepEqual(
      (await admin.listOffsets('timed', 'earliest')).map((p) => p.offset),
      [0n],
    );
    assert.deepEqual(
      (await admin.listOffsets('timed', 'latest')).map((p) => p.offset),
      [10n],
    );
    const at = await admin.listOffsets('timed', base + 4500);
    assert.equal(at[0]!.offset, 5n);
    assert.equal(at[0]!.timestamp, base + 5000);
    assert.equal((await admin.listOffsets('timed', base + 60_000))[0]!.offset, -1n);
    assert.deepEqual(await admin.deleteRecords('timed', [{ partition: 0, offset: 3n }]), [
      { partition: 0, lowWatermark: 3n },
    ]);
    assert.deepEqual(
      (await admin.listOffsets('timed', 'earliest')).map((p) => p.offset),
      [3n],
    );
  } finally {
    await producer.close();
    await admin.close();
    await broker.close();
  }
});
