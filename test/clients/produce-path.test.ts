// The produce path's Kafka behaviour as real clients see it, against the in-process broker on loopback:
// kafkajs 2.2.4 and @platformatic/kafka 1.35 producing to compacted topics (null keys refused with
// INVALID_RECORD and, from Produce v8 on, Kafka's record errors), to topics whose compression.type
// makes the broker recompress (and then reading the batches back with the client), and the Produce
// version each one picks once the broker advertises 0-13. The broker's listener here records the
// version of every Produce it is sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { Consumer, Producer, ProduceAcks, stringSerializers } from '@platformatic/kafka';
import { Compression } from '../../src/protocol/record-batch/header.js';
import { decodeRecordBatches } from '../../src/protocol/record-batch/record-decoder.js';
import { recordProduceVersions, type ProduceVersionRecorder } from '../support/produce-versions.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

const { Kafka, logLevel } = kafkajs;

let server: TestBroker;
let recorder: ProduceVersionRecorder;
let bootstrap: string;

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  server = await startTestBroker();
  recorder = await recordProduceVersions(server);
  bootstrap = recorder.bootstrap;
});

after(async () => {
  await recorder.close();
  await server.close();
});

async function stored(topic: string) {
  const [result] = await server.broker.fetch([{ topic, partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 22 }], {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 22,
  });
  return decodeRecordBatches(result!.records);
}

type ClientError = Error & {
  errors?: ClientError[];
  response?: unknown;
  apiId?: string;
  serverErrorMessage?: string | null;
};

/** @platformatic/kafka nests broker errors in AggregateErrors (whose `errors` JSON does not show). */
function flatten(error: ClientError, depth = 0): ClientError[] {
  return [error, ...(depth < 5 ? (error.errors ?? []).flatMap((inner) => flatten(inner, depth + 1)) : [])];
}

const NO_KEY = /Compacted topic cannot accept message without key in topic partition/;

test('kafkajs (Produce v7): keyless to a compacted topic is INVALID_RECORD, keyed messages are stored', async () => {
  const kafka = new Kafka({ brokers: [bootstrap], clientId: 'kafkajs-produce-path', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'kjs-compacted', numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
    ],
  });
  await admin.disconnect();
  const producer = kafka.producer({ retry: { retries: 0 } });
  await producer.connect();
  try {
    await assert.rejects(
      producer.send({ topic: 'kjs-compacted', messages: [{ key: 'a', value: '1' }, { value: 'no key' }] }),
      (error: Error & { type?: string }) =>
        error.type === 'INVALID_RECORD' || /INVALID_RECORD|invalid/i.test(error.message),
    );
    const [sent] = await producer.send({
      topic: 'kjs-compacted',
      messages: [
        { key: 'a', value: '1' },
        { key: 'b', value: '2' },
      ],
    });
    assert.equal(sent!.errorCode, 0);
    assert.equal(sent!.baseOffset, '0', 'the refused batch took no offsets');
  } finally {
    await producer.disconnect();
  }
  assert.deepEqual([...recorder.versions.get('kafkajs-produce-path')!], [7]);
  assert.deepEqual(
    (await stored('kjs-compacted')).flatMap((b) => b.records.map((r) => r.key!.toString())),
    ['a', 'b'],
  );
});

test('kafkajs: an uncompressed producer to a compression.type=gzip topic; stored as gzip, consumed back', async () => {
  const kafka = new Kafka({ brokers: [bootstrap], clientId: 'kafkajs-recompress', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic: 'kjs-gzip', numPartitions: 1, configEntries: [{ name: 'compression.type', value: 'gzip' }] }],
  });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const values = Array.from({ length: 50 }, (_, i) => `value-${i}-${'y'.repeat(i)}`);
  await producer.send({ topic: 'kjs-gzip', messages: values.map((value, i) => ({ key: `k${i}`, value })) });
  await producer.disconnect();
  const batches = await stored('kjs-gzip');
  assert.ok(batches.length > 0 && batches.every((b) => b.compression === Compression.Gzip));
  const consumer = kafka.consumer({ groupId: 'kjs-gzip-reader', maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'kjs-gzip', fromBeginning: true });
  const got: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${values.length} consumed`)), 20_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        got.push(message.value!.toString());
        if (got.length === values.length) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  assert.deepEqual(got, values);
});

test('@platformatic/kafka (Produce v11): keyless to a compacted topic fails with the record error text', async () => {
  const options = { clientId: 'platformatic-produce-path', bootstrapBrokers: [bootstrap], retries: 0, timeout: 5000 };
  await server.broker.createTopic('pk-compacted', 1, { 'cleanup.policy': 'compact,delete' });
  const producer = new Producer({ ...options, serializers: stringSerializers });
  try {
    const refused = await producer
      .send({ messages: [{ topic: 'pk-compacted', partition: 0, value: 'no key' }], acks: ProduceAcks.ALL })
      .then(
        () => null,
        (error: unknown) => error,
      );
    assert.ok(refused, 'the send failed');
    // The record error's message (KIP-467) reaches the application as a server error message, next
    // to the partition's INVALID_RECORD.
    const found = flatten(refused as ClientError);
    assert.ok(found.some((e) => NO_KEY.test(e.serverErrorMessage ?? '')));
    assert.ok(found.some((e) => e.apiId === 'INVALID_RECORD'));
    const response = found.map((e) => e.response).find((r) => r !== undefined) as any;
    const partition = response.responses[0].partitionResponses[0];
    assert.equal(partition.errorCode, 87, 'INVALID_RECORD');
    assert.equal(partition.recordErrors[0].batchIndex, 0);
    assert.match(partition.errorMessage, /One or more records have been rejected/);
    const sent = await producer.send({
      messages: [{ topic: 'pk-compacted', partition: 0, key: 'k', value: 'keyed' }],
      acks: ProduceAcks.ALL,
    });
    assert.deepEqual(sent.offsets, [{ topic: 'pk-compacted', partition: 0, offset: 0n }]);
  } finally {
    await producer.close();
  }
  assert.deepEqual([...recorder.versions.get('platformatic-produce-path')!], [11]);
});

test('@platformatic/kafka: snappy to a compression.type=lz4 topic is stored as lz4 and fetched back', async () => {
  const options = { clientId: 'platformatic-recompress', bootstrapBrokers: [bootstrap], retries: 1, timeout: 5000 };
  await server.broker.createTopic('pk-lz4', 1, { 'compression.type': 'lz4' });
  const producer = new Producer({ ...options, serializers: stringSerializers });
  const values = Array.from({ length: 30 }, (_, i) => `v${i}-${'q'.repeat(i * 5)}`);
  try {
    await producer.send({
      messages: values.map((value, i) => ({
        topic: 'pk-lz4',
        partition: 0,
        key: `k${i}`,
        value,
        headers: { n: String(i) },
      })),
      compression: 'snappy',
      acks: ProduceAcks.ALL,
    });
  } finally {
    await producer.close();
  }
  const batches = await stored('pk-lz4');
  assert.ok(batches.length > 0 && batches.every((b) => b.compression === Compression.Lz4));
  const consumer = new Consumer({ ...options, groupId: 'pk-unused', maxWaitTime: 100 });
  try {
    const response = await consumer.fetch({
      node: 0,
      maxWaitTime: 100,
      topics: [
        {
          topicId: 'pk-lz4',
          partitions: [
            { partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, lastFetchedEpoch: -1 },
          ],
        },
      ],
    });
    const partition = response.responses[0]!.partitions[0]!;
    const got = (partition.records ?? []).flatMap((batch) => batch.records.map((r) => r.value!.toString()));
    assert.deepEqual(got, values);
  } finally {
    await consumer.close();
  }
});
