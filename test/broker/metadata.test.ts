// Metadata over the wire: auto-creation honours both the request flag (v4+) and
// auto.create.topics.enable; invalid names; the cluster id and topic ids persist across restarts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { RawClient } from '../support/raw-client.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

async function metadata(server: TestBroker, version: number, body: object) {
  const client = await RawClient.connect(server.port);
  try {
    client.request(ApiKey.Metadata, version, 1, body);
    return RawClient.decode(ApiKey.Metadata, version, (await client.waitForFrames(1))[0]!).body;
  } finally {
    client.close();
  }
}

test('auto-creation needs both allow_auto_topic_creation and auto.create.topics.enable', async () => {
  const on = await startTestBroker({ properties: { 'num.partitions': '3' } });
  const off = await startTestBroker({ properties: { 'auto.create.topics.enable': 'false' } });
  try {
    const created = await metadata(on, 9, { topics: [{ name: 'auto' }], allowAutoTopicCreation: true });
    assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
    assert.equal(created.topics[0].partitions.length, 3);
    assert.equal(created.topics[0].partitions[0].leaderId, 0);
    const notAllowed = await metadata(on, 9, { topics: [{ name: 'not-allowed' }], allowAutoTopicCreation: false });
    assert.equal(notAllowed.topics[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const v1 = await metadata(on, 1, { topics: [{ name: 'old-client' }] });
    assert.equal(v1.topics[0].errorCode, ErrorCode.NONE, 'before v4 a request always allows auto-creation');
    const disabled = await metadata(off, 9, { topics: [{ name: 'auto' }], allowAutoTopicCreation: true });
    assert.equal(disabled.topics[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const invalid = await metadata(on, 9, { topics: [{ name: 'no/slashes' }], allowAutoTopicCreation: true });
    assert.equal(invalid.topics[0].errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
    const all = await metadata(on, 9, { topics: null, allowAutoTopicCreation: false });
    // The broker's own topics (`__sluice_half`, … created at open) are listed too, as Kafka lists `__consumer_offsets`.
    assert.deepEqual(
      all.topics
        .map((t: { name: string }) => t.name)
        .filter((name: string) => !name.startsWith('__'))
        .sort(),
      ['auto', 'old-client'],
    );
    assert.equal(all.controllerId, 0);
    assert.deepEqual(
      all.brokers.map((b: { host: string; port: number }) => `${b.host}:${b.port}`),
      [on.bootstrap],
    );
  } finally {
    await on.close();
    await off.close();
  }
});

test('cluster, node and topic ids are stable across restarts; a second broker on the data dir is refused', async () => {
  let server = await startTestBroker({ properties: { 'node.id': '7' } });
  const dataDir = server.dataDir;
  try {
    await server.broker.createTopic('kept', 2, {});
    const topicId = server.broker.topics.get('kept')!.id;
    const first = await metadata(server, 9, { topics: null, allowAutoTopicCreation: false });
    await assert.rejects(startTestBroker({ dataDir, properties: { 'node.id': '7' } }), /in use/);
    await server.stop();
    await assert.rejects(startTestBroker({ dataDir, properties: { 'node.id': '8' } }), /belongs to node\.id=7/);
    server = await startTestBroker({ dataDir, properties: { 'node.id': '7' } });
    const second = await metadata(server, 9, { topics: null, allowAutoTopicCreation: false });
    assert.equal(second.clusterId, first.clusterId);
    assert.equal(second.controllerId, 7);
    assert.deepEqual(
      second.topics.map((t: { name: string }) => t.name).filter((name: string) => !name.startsWith('__')),
      ['kept'],
    );
    // Metadata carries topic ids only from v10 (not advertised yet); check the broker's record.
    assert.ok(server.broker.topics.get('kept')!.id.equals(topicId));
    assert.ok(!topicId.equals(Buffer.alloc(16)));
  } finally {
    await server.close();
  }
});
