// kafkajs 2.2.4 (npm) against a real in-process broker on loopback: admin, produce in every
// compression codec with keys and headers, consume by partition and offset, idempotence,
// list offsets by time, delete records, configs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { compressSync, decompressSync } from '../../src/protocol/record-batch/compression.js';
import { Compression } from '../../src/protocol/record-batch/header.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';
import { readPartition as readPartitionOverWire } from '../support/read-partition.js';

const { Kafka, logLevel, CompressionTypes, CompressionCodecs, ConfigResourceTypes } = kafkajs;

// kafkajs ships gzip only; the other codecs are plug-ins. Ours are Kafka-compatible (xerial snappy,
// LZ4 frame, zstd), so they double as an interop check of src/protocol/record-batch/compression.ts.
for (const [type, codec] of [
  [CompressionTypes.Snappy, Compression.Snappy],
  [CompressionTypes.LZ4, Compression.Lz4],
  [CompressionTypes.ZSTD, Compression.Zstd],
] as const) {
  (CompressionCodecs as Record<number, unknown>)[type] = () => ({
    compress: async (encoder: { buffer: Buffer }) => compressSync(codec, encoder.buffer),
    decompress: async (buffer: Buffer) => decompressSync(codec, buffer, 64 * 1024 * 1024),
  });
}

let server: TestBroker;
let kafka: InstanceType<typeof Kafka>;

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  server = await startTestBroker();
  kafka = new Kafka({
    brokers: [server.bootstrap],
    clientId: 'kafkajs-test',
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 50 },
  });
});

after(async () => {
  await server.close();
});

test('admin: create, list, describe and delete topics; metadata', async () => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    assert.equal(await admin.createTopics({ topics: [{ topic: 'admin-a', numPartitions: 4 }] }), true);
    assert.equal(
      await admin.createTopics({ topics: [{ topic: 'admin-a', numPartitions: 4 }] }),
      false,
      'second create reports it existed',
    );
    await assert.rejects(
      admin.createTopics({ topics: [{ topic: 'bad name!', numPartitions: 1 }] }),
      /INVALID_TOPIC|topic/i,
    );
    assert.ok((await admin.listTopics()).includes('admin-a'));
    const metadata = await admin.fetchTopicMetadata({ topics: ['admin-a'] });
    assert.equal(metadata.topics[0]!.partitions.length, 4);
    assert.ok(metadata.topics[0]!.partitions.every((p) => p.leader === 0 && p.replicas.length === 1));
    const cluster = await admin.describeCluster();
    assert.equal(cluster.controller, 0);
    assert.deepEqual(
      cluster.brokers.map((b) => `${b.host}:${b.port}`),
      [server.bootstrap],
    );
    assert.match(cluster.clusterId, /^[A-Za-z0-9_-]{22}$/);
    await admin.createPartitions({ topicPartitions: [{ topic: 'admin-a', count: 6 }] });
    assert.equal((await admin.fetchTopicMetadata({ topics: ['admin-a'] })).topics[0]!.partitions.length, 6);
    await admin.deleteTopics({ topics: ['admin-a'] });
    assert.ok(!(await admin.listTopics()).includes('admin-a'));
  } finally {
    await admin.disconnect();
  }
});

test('produce keyed messages with headers in every codec, then read them back by offset', async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'codecs', numPartitions: 1 }] });
  const producer = kafka.producer();
  await producer.connect();
  const codecs = [
    CompressionTypes.None,
    CompressionTypes.GZIP,
    CompressionTypes.Snappy,
    CompressionTypes.LZ4,
    CompressionTypes.ZSTD,
  ];
  const sent: string[] = [];
  for (const compression of codecs) {
    const messages = Array.from({ length: 50 }, (_, i) => ({
      key: `key-${i % 7}`,
      value: `codec-${compression}-value-${i}-${'x'.repeat(i)}`,
      headers: { codec: String(compression), n: String(i) },
    }));
    const [result] = await producer.send({ topic: 'codecs', compression, messages, acks: -1 });
    assert.equal(result!.errorCode, 0);
    assert.equal(result!.baseOffset, String(sent.length));
    sent.push(...messages.map((m) => m.value));
  }
  await producer.disconnect();

  const offsets = await admin.fetchTopicOffsets('codecs');
  assert.deepEqual(
    offsets.map((o) => [o.partition, o.low, o.high]),
    [[0, '0', String(sent.length)]],
  );
  await admin.disconnect();

  // Read with the broker's own fetch through kafkajs's low-level connection: every value, in order.
  const received = await readPartition('codecs', 0, 0, sent.length);
  assert.deepEqual(
    received.map((m) => m.value),
    sent,
  );
  assert.equal(received[3]!.key, 'key-3');
  assert.deepEqual(received[3]!.headers, { codec: '0', n: '3' });
  const fromMiddle = await readPartition('codecs', 0, 120, 10);
  assert.equal(fromMiddle[0]!.offset, '120');
  assert.equal(fromMiddle[0]!.value, sent[120]);
});

async function readPartition(topic: string, partition: number, offset: number, count: number) {
  return (await readPartitionOverWire(server.port, topic, partition, offset, count)).map((r) => ({
    ...r,
    offset: String(r.offset),
  }));
}

test('idempotent producer: acks=all, sequences accepted, offsets contiguous', async () => {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < 10; i++) {
    const [r] = await producer.send({ topic: 'idempotent', messages: [{ key: 'k', value: `v${i}` }], acks: -1 });
    assert.equal(r!.baseOffset, String(i));
  }
  await producer.disconnect();
  const values = (await readPartition('idempotent', 0, 0, 10)).map((m) => m.value);
  assert.deepEqual(
    values,
    Array.from({ length: 10 }, (_, i) => `v${i}`),
  );
});

test('list offsets by time, delete records, describe and alter configs', async () => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic: 'timed', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
    });
    const producer = kafka.producer();
    await producer.connect();
    const base = Date.now() - 100_000;
    for (let i = 0; i < 5; i++)
      await producer.send({ topic: 'timed', messages: [{ value: `t${i}`, timestamp: String(base + i * 10_000) }] });
    await producer.disconnect();
    const at = await admin.fetchTopicOffsetsByTimestamp('timed', base + 25_000);
    assert.deepEqual(at, [{ partition: 0, offset: '3' }]);
    const after = await admin.fetchTopicOffsetsByTimestamp('timed', Date.now() + 60_000);
    assert.equal(after[0]!.offset, '5', 'a time after the last record gives the end offset');

    await admin.deleteTopicRecords({ topic: 'timed', partitions: [{ partition: 0, offset: '2' }] });
    const offsets = await admin.fetchTopicOffsets('timed');
    assert.equal(offsets[0]!.low, '2');

    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'timed' }],
    });
    const entries = new Map(described.resources[0]!.configEntries.map((e) => [e.configName, e]));
    assert.equal(entries.get('retention.ms')!.configValue, '3600000');
    assert.equal(entries.get('retention.ms')!.isDefault, false);
    assert.equal(entries.get('cleanup.policy')!.configValue, 'delete');

    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'timed',
          configEntries: [{ name: 'max.message.bytes', value: '2000' }],
        },
      ],
    });
    const again = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: 'timed', configNames: ['max.message.bytes', 'retention.ms'] },
      ],
    });
    const map = new Map(again.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
    assert.equal(map.get('max.message.bytes'), '2000');
    assert.equal(map.get('retention.ms'), '604800000', 'AlterConfigs replaces the whole set of overrides, as in Kafka');
    await assert.rejects(
      admin.alterConfigs({
        validateOnly: false,
        resources: [
          { type: ConfigResourceTypes.TOPIC, name: 'timed', configEntries: [{ name: 'retention.ms', value: 'soon' }] },
        ],
      }),
      /invalid/i,
    );

    const producer2 = kafka.producer();
    await producer2.connect();
    await assert.rejects(
      producer2.send({ topic: 'timed', messages: [{ value: 'y'.repeat(5000) }] }),
      /MESSAGE_TOO_LARGE|too large|larger/i,
    );
    await producer2.disconnect();
  } finally {
    await admin.disconnect();
  }
});

test('kafkajs consumer reads every codec back, and seek() starts at a given offset', async () => {
  const topic = 'codecs'; // written by the codec test above: 250 messages in five codecs
  const consume = async (seekTo: string | null, count: number) => {
    const consumer = kafka.consumer({ groupId: `reader-${seekTo ?? 'all'}`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: Array<{ offset: string; value: string; codec: string | undefined }> = [];
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          got.push({
            offset: message.offset,
            value: message.value!.toString(),
            codec: message.headers?.codec?.toString(),
          });
          if (got.length === count) resolve();
        },
      });
    });
    if (seekTo !== null) consumer.seek({ topic, partition: 0, offset: seekTo });
    await Promise.race([
      done,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`only ${got.length} of ${count} messages consumed`)), 20_000),
      ),
    ]);
    await consumer.disconnect();
    return got;
  };
  const all = await consume(null, 250);
  assert.deepEqual(
    all.map((m) => m.offset),
    Array.from({ length: 250 }, (_, i) => String(i)),
  );
  assert.deepEqual([...new Set(all.map((m) => m.codec))], ['0', '1', '2', '3', '4']);
  const fromOffset = await consume('180', 70);
  assert.equal(fromOffset[0]!.offset, '180');
  assert.equal(fromOffset[0]!.value, all[180]!.value);
  assert.equal(fromOffset.at(-1)!.offset, '249');
});
