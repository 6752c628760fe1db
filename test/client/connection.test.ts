// Connection and Cluster against the real in-process broker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startTestBroker } from '../support/test-broker.js';
import { Connection } from '../../src/client/connection.js';
import { Cluster } from '../../src/client/cluster.js';
import { ConnectionError, KafkaError, RequestTimeoutError } from '../../src/client/errors.js';
import { ApiKey } from '../../src/protocol/generated/index.js';
import type { MetadataResponse } from '../../src/protocol/generated/metadata.js';

test('connection negotiates versions and pipelines requests', async () => {
  const broker = await startTestBroker();
  try {
    const connection = await Connection.connect({ host: '127.0.0.1', port: broker.port, maxInFlightRequests: 4 });
    // The test broker serves Metadata 0-9 and Fetch 4-12: the highest common versions are used.
    assert.equal(connection.versionFor(ApiKey.Metadata), Math.min(connection.brokerVersions.get(ApiKey.Metadata)!.max, 13));
    assert.equal(connection.versionFor(ApiKey.Fetch), Math.min(connection.brokerVersions.get(ApiKey.Fetch)!.max, 12));
    // 50 requests through 4 slots: all answered, each with its own correlation id.
    const answers = await Promise.all(Array.from({ length: 50 }, () => connection.request<MetadataResponse>(ApiKey.Metadata, { topics: [] })));
    assert.equal(answers.length, 50);
    for (const answer of answers) assert.equal(answer.brokers.length, 1);
    connection.close();
    await assert.rejects(connection.request(ApiKey.Metadata, { topics: [] }), ConnectionError);
  } finally {
    await broker.close();
  }
});

test('connection reports refused connections and request timeouts', async () => {
  await assert.rejects(Connection.connect({ host: '127.0.0.1', port: 1 }), ConnectionError);
  // A server that accepts and never answers: ApiVersions times out.
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as { port: number }).port;
  try {
    await assert.rejects(Connection.connect({ host: '127.0.0.1', port, requestTimeoutMs: 200 }), RequestTimeoutError);
  } finally {
    silent.close();
  }
});

test('cluster bootstraps, finds leaders, auto-creates and reports unknown topics', async () => {
  const broker = await startTestBroker({ properties: { 'num.partitions': '3' } });
  const cluster = new Cluster({ bootstrap: broker.bootstrap, retries: 1, retryBackoffMs: 10, allowAutoTopicCreation: true });
  try {
    await cluster.connect();
    assert.equal(cluster.brokers.size, 1);
    const topic = await cluster.topic('auto-created');
    assert.equal(topic.partitions.length, 3);
    assert.equal(cluster.leaderOf('auto-created', 2), [...cluster.brokers.keys()][0]);
    const strict = new Cluster({ bootstrap: [broker.bootstrap], retries: 1, retryBackoffMs: 10, allowAutoTopicCreation: false });
    await strict.connect();
    await assert.rejects(strict.topic('missing-topic'), (error: unknown) => error instanceof KafkaError && error.type === 'UNKNOWN_TOPIC_OR_PARTITION');
    await strict.close();
  } finally {
    await cluster.close();
    await broker.close();
  }
});
