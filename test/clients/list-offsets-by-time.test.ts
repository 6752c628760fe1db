// ListOffsets by time and by largest timestamp through real clients — kafkajs 2.2.4
// (admin.fetchTopicOffsetsByTimestamp) and @platformatic/kafka (admin.listOffsets) — against a real
// in-process broker on loopback, on multi-record batches with chosen timestamps, compressed and not,
// spread over several segments; and read_committed with an aborted and an open transaction between.
// The answers are Kafka's: the offset of the first *record* at or after the time, not of its batch.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Admin, Producer, stringSerializers } from '@platformatic/kafka';
import kafkajs, { type Producer as KafkajsProducer, type Transaction } from 'kafkajs';
import { ApiKey } from '../../src/protocol/generated/index.js';
import { compressSync, decompressSync } from '../../src/protocol/record-batch/compression.js';
import { Compression } from '../../src/protocol/record-batch/header.js';
import { RawClient } from '../support/raw-client.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

const { Kafka, logLevel, CompressionTypes, CompressionCodecs } = kafkajs;

// kafkajs ships gzip only; the other codecs are plug-ins (ours, Kafka-compatible), as in kafkajs.test.ts.
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
  server = await startTestBroker({ properties: { 'transaction.state.log.num.partitions': '1' } });
  kafka = new Kafka({
    brokers: [server.bootstrap],
    clientId: 'list-offsets-test',
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 50 },
  });
});
after(async () => {
  await server.close();
});

/** A topic that rolls a segment at (nearly) every batch and keeps its old timestamps. */
async function createTopic(topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: 1,
          configEntries: [
            { name: 'segment.ms', value: '1' },
            { name: 'retention.ms', value: '-1' },
          ],
        },
      ],
    });
  } finally {
    await admin.disconnect();
  }
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 3)); // past segment.ms, so the next batch rolls

function segmentCount(topic: string): number {
  return readdirSync(`${server.dataDir}/${topic}-0`).filter((name) => name.endsWith('.log')).length;
}

async function byTime(topic: string, timestamp: number): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, timestamp);
    assert.equal(offsets.length, 1);
    return offsets[0]!.offset;
  } finally {
    await admin.disconnect();
  }
}

const base = 1_700_000_000_000;
// Four batches, timestamps unsorted within and across them (CreateTime is the producer's).
const batches = [
  [5000, 1000, 3000], // offsets 0-2
  [2000, 2500], // 3-4
  [7000, 7000, 6000, 9000], // 5-8
  [8000, 9000], // 9-10
];
// time → the offset kafkajs reports: the first record at or after it; after the last record kafkajs
// substitutes the high watermark for the broker's -1.
const expectations: Array<[number, string]> = [
  [0, '0'],
  [base + 900, '0'],
  [base + 5000, '0'],
  [base + 5001, '5'],
  [base + 2200, '0'],
  [base + 6500, '5'],
  [base + 7500, '8'],
  [base + 8000, '8'],
  [base + 9000, '8'],
  [base + 9001, '11'],
];

for (const [name, compression] of [
  ['none', CompressionTypes.None],
  ['gzip', CompressionTypes.GZIP],
  ['snappy', CompressionTypes.Snappy],
  ['lz4', CompressionTypes.LZ4],
  ['zstd', CompressionTypes.ZSTD],
] as const) {
  test(`kafkajs fetchTopicOffsetsByTimestamp on multi-record ${name} batches over several segments`, async () => {
    const topic = `by-time-kafkajs-${name}`;
    await createTopic(topic);
    const producer = kafka.producer();
    await producer.connect();
    try {
      for (const timestamps of batches) {
        await producer.send({
          topic,
          compression,
          messages: timestamps.map((t, i) => ({ partition: 0, value: `${t}-${i}`, timestamp: String(base + t) })),
        });
        await pause();
      }
    } finally {
      await producer.disconnect();
    }
    assert.ok(segmentCount(topic) >= 3, `${segmentCount(topic)} segments`);
    for (const [timestamp, offset] of expectations)
      assert.equal(await byTime(topic, timestamp), offset, `time ${timestamp}`);
  });
}

test('kafkajs: two records in one batch, timestamps 1234 and 999999999999 (issue 13)', async () => {
  const topic = 'by-time-issue-13';
  await createTopic(topic);
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    messages: [
      { partition: 0, value: 'early', timestamp: '1234' },
      { partition: 0, value: 'late', timestamp: '999999999999' },
    ],
  });
  await producer.disconnect();
  assert.equal(await byTime(topic, 999_999_999_999), '1', 'not the batch start: that re-delivers "early"');
  assert.equal(await byTime(topic, 1235), '1');
  assert.equal(await byTime(topic, 1234), '0');
});

test('@platformatic/kafka admin.listOffsets: by time, -3 max, -4 earliest local, -5 latest tiered', async () => {
  const topic = 'by-time-platformatic';
  await createTopic(topic);
  const producer = new Producer({
    clientId: 'list-offsets-platformatic',
    bootstrapBrokers: [server.bootstrap],
    serializers: stringSerializers,
    retries: 1,
    timeout: 5000,
  });
  const admin = new Admin({ clientId: 'list-offsets-platformatic', bootstrapBrokers: [server.bootstrap], retries: 1 });
  try {
    for (const [index, timestamps] of batches.entries()) {
      await producer.send({
        compression: index % 2 === 0 ? 'gzip' : 'none',
        messages: timestamps.map((t, i) => ({ topic, partition: 0, value: `${t}-${i}`, timestamp: BigInt(base + t) })),
      });
      await pause();
    }
    assert.ok(segmentCount(topic) >= 3, `${segmentCount(topic)} segments`);
    const list = async (timestamp: bigint) => {
      const [answer] = await admin.listOffsets({
        topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp }] }],
      });
      const partition = answer!.partitions[0]!;
      return [partition.offset, partition.timestamp];
    };
    assert.deepEqual(await list(BigInt(base + 5001)), [5n, BigInt(base + 7000)]);
    assert.deepEqual(await list(BigInt(base + 7500)), [8n, BigInt(base + 9000)]);
    assert.deepEqual(await list(BigInt(base + 9001)), [-1n, -1n], 'after the last record: none, as Kafka');
    assert.deepEqual(await list(-3n), [8n, BigInt(base + 9000)], 'the first record with the largest timestamp');
    assert.deepEqual(await list(-4n), [0n, -1n], 'all of the log is local: the log start');
    assert.deepEqual(await list(-5n), [-1n, -1n], 'nothing is tiered');
  } finally {
    await producer.close();
    await admin.close();
  }
});

test('read_committed around an aborted and an open transaction: answers below the last stable offset', async () => {
  const topic = 'by-time-transactions';
  await createTopic(topic);
  // Record times ahead of the broker's clock, so the transaction markers (stamped now) are older than all.
  const start = Date.now() + 10 * 60_000;
  const send = (producer: KafkajsProducer | Transaction, ...times: number[]) =>
    producer.send({
      topic,
      messages: times.map((t) => ({ partition: 0, value: `v${t}`, timestamp: String(start + t) })),
    });
  const plain = kafka.producer();
  await plain.connect();
  const transactional = kafka.producer({ transactionalId: 'by-time-tx', maxInFlightRequests: 1, idempotent: true });
  await transactional.connect();
  const raw = await RawClient.connect(server.port);
  let correlationId = 0;
  const listOffset = async (timestamp: number, isolationLevel: number, replicaId = -1) => {
    correlationId += 1;
    raw.request(ApiKey.ListOffsets, 7, correlationId, {
      replicaId,
      isolationLevel,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: BigInt(timestamp) }] }],
    });
    const frames = await raw.waitForFrames(correlationId);
    const answer = RawClient.decode(ApiKey.ListOffsets, 7, frames[correlationId - 1]!).body.topics[0].partitions[0];
    assert.equal(answer.errorCode, 0);
    return Number(answer.offset);
  };
  try {
    await send(plain, 100, 200); // 0-1
    const aborted = await transactional.transaction();
    await send(aborted, 300, 400); // 2-3
    await aborted.abort(); // ABORT marker at 4
    await send(plain, 500); // 5
    const open = await transactional.transaction();
    await send(open, 600); // 6, still open: the last stable offset is 6
    const committed = 1;
    const uncommitted = 0;
    assert.equal(await listOffset(start + 250, committed), 2, "the aborted transaction's record, as Kafka");
    assert.equal(await listOffset(start + 450, committed), 5, 'past the aborted records and their marker');
    assert.equal(await listOffset(start + 550, committed), -1, 'the open transaction is past the last stable offset');
    assert.equal(await listOffset(start + 550, uncommitted), 6);
    assert.equal(await listOffset(-1, committed), 6);
    assert.equal(await listOffset(-1, uncommitted), 7);
    assert.equal(await listOffset(-1, committed, 0), 7, 'a replica sees up to the log end, whatever the isolation');
    assert.equal(await byTime(topic, start + 450), '5', 'kafkajs asks read_committed');
    assert.equal(await byTime(topic, start + 550), '6', 'none: kafkajs substitutes the last stable offset');
    await open.commit();
    assert.equal(await listOffset(start + 550, committed), 6, 'committed now');
  } finally {
    raw.close();
    await transactional.disconnect();
    await plain.disconnect();
  }
});
