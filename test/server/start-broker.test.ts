// startBroker(), the in-process broker other projects use in their tests, with a real kafkajs client
// on loopback; and the server settings it reads (listener address, limits).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { ConfigError, DataDirError, ListenError, startBroker } from '../../src/server/start-broker.js';
import { listenerLimitsFrom, parseListenerAddress, serverConfigFrom } from '../../src/server/server-config.js';
import { defaultListenerLimits } from '../../src/server/limits.js';
import { MemoryLogger } from '../../src/server/logger.js';

const { Kafka, logLevel } = kafkajs;

function client(bootstrapServers: string) {
  return new Kafka({
    clientId: 'start-broker-test',
    brokers: [bootstrapServers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 2 },
  });
}

function temporaryDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'sluice-start-broker-test-'));
}

test('startBroker() listens on a random port, kafkajs produces to it, close() removes the temp data dir', async () => {
  const logger = new MemoryLogger();
  const sluice = await startBroker({ logger });
  try {
    assert.equal(sluice.host, '127.0.0.1');
    assert.ok(sluice.port > 0);
    assert.equal(sluice.bootstrapServers, `127.0.0.1:${sluice.port}`);
    assert.ok(existsSync(sluice.dataDir));

    const kafka = client(sluice.bootstrapServers);
    const admin = kafka.admin();
    await admin.connect();
    const cluster = await admin.describeCluster();
    assert.deepEqual(cluster.brokers, [{ nodeId: 0, host: '127.0.0.1', port: sluice.port }]);
    assert.equal(cluster.clusterId, sluice.broker.identity.clusterId);
    await admin.createTopics({ topics: [{ topic: 'embedded', numPartitions: 2 }] });

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: 'embedded',
      messages: [
        { key: 'a', value: 'one', partition: 0 },
        { key: 'b', value: 'two', partition: 0 },
      ],
    });
    await producer.disconnect();
    const offsets = await admin.fetchTopicOffsets('embedded');
    assert.deepEqual(offsets.map((o) => [o.partition, o.high]).sort(), [
      [0, '2'],
      [1, '0'],
    ]);
    await admin.disconnect();
  } finally {
    await sluice.close();
  }
  assert.equal(existsSync(sluice.dataDir), false, 'the temporary data dir is removed');
  await sluice.close(); // a second close is harmless
  assert.ok(logger.lines.some((line) => line.message === 'broker closed'));
});

test('startBroker() with a given data dir keeps it, and a second start finds the same cluster and data', async () => {
  const dataDir = temporaryDirectory();
  try {
    const first = await startBroker({ dataDir, properties: { 'node.id': '7' } });
    const clusterId = first.broker.identity.clusterId;
    const kafka = client(first.bootstrapServers);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'kept', messages: [{ value: 'x' }, { value: 'y' }, { value: 'z' }] });
    await producer.disconnect();
    await first.close();
    assert.ok(existsSync(join(dataDir, 'meta.properties')), 'a given data dir is not removed');

    const second = await startBroker({ dataDir, properties: { 'node.id': '7' } });
    try {
      assert.equal(second.broker.identity.clusterId, clusterId);
      const admin = client(second.bootstrapServers).admin();
      await admin.connect();
      const cluster = await admin.describeCluster();
      assert.equal(cluster.brokers[0]!.nodeId, 7);
      const offsets = await admin.fetchTopicOffsets('kept');
      assert.equal(
        offsets.reduce((sum, o) => sum + Number(o.high), 0),
        3,
      );
      await admin.disconnect();
    } finally {
      await second.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('startBroker() refuses a data dir that another broker holds', async () => {
  const dataDir = temporaryDirectory();
  try {
    const first = await startBroker({ dataDir });
    try {
      await assert.rejects(
        startBroker({ dataDir }),
        (error: Error) => error instanceof DataDirError && /in use/.test(error.message),
      );
    } finally {
      await first.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a port in use is a ListenError, and the data dir is released for the next try', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  const dataDir = temporaryDirectory();
  try {
    await assert.rejects(
      startBroker({ port, dataDir }),
      (error: Error) =>
        error instanceof ListenError && error.message.includes(`127.0.0.1:${port}`) && /in use/.test(error.message),
    );
    const retry = await startBroker({ dataDir });
    await retry.close();
  } finally {
    blocker.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('properties choose the listener, the advertised address and the limits', async () => {
  const sluice = await startBroker({
    properties: {
      listeners: 'PLAINTEXT://127.0.0.1:0',
      'advertised.listeners': 'broker.example:19092',
      'num.partitions': '3',
    },
  });
  try {
    assert.ok(sluice.port > 0);
    assert.equal(sluice.bootstrapServers, 'broker.example:19092');
    assert.equal(sluice.broker.config.numPartitions, 3);
  } finally {
    await sluice.close();
  }
});

test('bad settings are ConfigErrors naming the setting', async () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ 'num.partitions': 'many' }, /num\.partitions/],
    [{ 'node.id': '-1' }, /node\.id/],
    [{ listeners: 'localhost' }, /listeners must look like host:port/],
    [{ 'max.connections': '0' }, /max\.connections/],
    [{ 'log.flush.policy': 'sometimes' }, /log\.flush\.policy/],
    [{ 'log.retention.ms': 'soon' }, /log\.retention\.ms/],
    [{ 'log.message.timestamp.type': 'Whenever' }, /log\.message\.timestamp\.type/],
  ];
  for (const [properties, pattern] of cases) {
    await assert.rejects(
      startBroker({ properties }),
      (error: Error) => error instanceof ConfigError && pattern.test(error.message),
      JSON.stringify(properties),
    );
  }
  await assert.rejects(startBroker({ port: 70000 }), ConfigError);
});

test('listener addresses are read as Kafka writes them', () => {
  const listen = { allowPortZero: true };
  assert.deepEqual(parseListenerAddress('listeners', '127.0.0.1:9092', listen), { host: '127.0.0.1', port: 9092 });
  assert.deepEqual(parseListenerAddress('listeners', 'PLAINTEXT://localhost:0', listen), {
    host: 'localhost',
    port: 0,
  });
  assert.deepEqual(parseListenerAddress('listeners', 'plaintext://[::1]:9093', listen), { host: '::1', port: 9093 });
  assert.deepEqual(parseListenerAddress('listeners', ':9092', listen), { host: '0.0.0.0', port: 9092 });
  const refused: Array<[string, RegExp]> = [
    ['127.0.0.1', /no port/],
    ['127.0.0.1:http', /not a number/],
    ['127.0.0.1:65536', /\[0, 65535\]/],
    ['::1:9092', /brackets/],
    ['SSL://127.0.0.1:9093', /PLAINTEXT only/],
    ['PLAINTEXT://a:1,PLAINTEXT://b:2', /single listener/],
  ];
  for (const [value, pattern] of refused)
    assert.throws(() => parseListenerAddress('listeners', value, listen), pattern, value);
  assert.throws(
    () => parseListenerAddress('advertised.listeners', 'example.com:0', { allowPortZero: false }),
    /advertised\.listeners.*\[1, 65535\]/,
  );
});

test('listener limits come from their Kafka names, with the defaults of limits.ts', () => {
  assert.deepEqual(listenerLimitsFrom({}), defaultListenerLimits);
  assert.deepEqual(
    listenerLimitsFrom({
      'socket.request.max.bytes': '1048576',
      'max.connections': '10',
      'sluice.connection.in.flight.max': '5',
      'sluice.connection.output.buffer.max.bytes': '65536',
      'connections.max.idle.ms': '1000',
      'queued.max.request.bytes': '2097152',
    }),
    {
      requestBytesMax: 1048576,
      connectionsMax: 10,
      inFlightRequestsMax: 5,
      outputBufferBytesMax: 65536,
      queuedRequestBytesMax: 2097152,
      requestReceiveTimeoutMs: 30000,
      idleTimeoutMs: 1000,
    },
  );
  assert.throws(
    () => listenerLimitsFrom({ 'socket.request.max.bytes': '1048576', 'queued.max.request.bytes': '1048575' }),
    /queued\.max\.request\.bytes \(1048575\) must be at least socket\.request\.max\.bytes/,
  );
  assert.throws(
    () => listenerLimitsFrom({ 'socket.request.max.bytes': '5' }),
    /socket\.request\.max\.bytes must be an integer in \[10, /,
  );
  assert.throws(() => listenerLimitsFrom({ 'connections.max.idle.ms': '1.5' }), /connections\.max\.idle\.ms/);
  assert.throws(() => serverConfigFrom({ 'log.dirs': '/a,/b' }), /one data directory/);
});
