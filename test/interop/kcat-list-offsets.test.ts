// kcat (Debian's package, librdkafka) consuming from a time, `-o s@<timestamp>`: librdkafka asks
// ListOffsets by timestamp and starts at the offset it gets, so the first record kcat prints is the
// broker's answer. Multi-record batches with chosen, unsorted timestamps, in every codec, over
// several segments; and read_committed after an aborted transaction. Against a real in-process broker.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { ApiKey } from '../../src/protocol/generated/index.js';
import { Compression } from '../../src/protocol/record-batch/header.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { runKcat } from '../support/kcat.js';
import { RawClient } from '../support/raw-client.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

const { Kafka, logLevel } = kafkajs;
let server: TestBroker;

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  // Roll a segment at (nearly) every batch; keep the old timestamps the tests write.
  server = await startTestBroker({
    properties: { 'log.roll.ms': '1', 'log.retention.ms': '-1', 'transaction.state.log.num.partitions': '1' },
  });
});
after(async () => {
  await server.close();
});

/** The offsets and timestamps kcat prints consuming partition 0 from `timestamp` to the end. */
async function consumeFrom(topic: string, timestamp: number, extra: string[] = []): Promise<string[]> {
  const out = await runKcat(server.bootstrap, [
    '-C',
    '-t',
    topic,
    '-p',
    '0',
    '-o',
    `s@${timestamp}`,
    '-e',
    '-f',
    '%o %T %s\n',
    ...extra,
  ]);
  return out.split('\n').filter((line) => line !== '');
}

/** Produces each batch as one RecordBatch with exactly these record timestamps (our encoder, over the wire). */
async function produceBatches(topic: string, batches: number[][], compression: Compression): Promise<void> {
  const client = await RawClient.connect(server.port);
  try {
    client.request(ApiKey.Metadata, 9, 0, { topics: [{ name: topic }], allowAutoTopicCreation: true });
    await client.waitForFrames(1);
    for (const [index, timestamps] of batches.entries()) {
      const records = timestamps.map((timestamp, at) => ({ value: Buffer.from(`${timestamp}/${at}`), timestamp }));
      client.request(ApiKey.Produce, 7, index + 1, {
        acks: -1,
        timeoutMs: 5000,
        topicData: [
          { name: topic, partitionData: [{ index: 0, records: await encodeRecordBatch({ compression, records }) }] },
        ],
      });
      const frames = await client.waitForFrames(index + 2);
      const answer = RawClient.decode(ApiKey.Produce, 7, frames[index + 1]!).body;
      assert.equal(answer.responses[0].partitionResponses[0].errorCode, 0);
      await new Promise((resolve) => setTimeout(resolve, 3)); // past log.roll.ms: the next batch rolls
    }
  } finally {
    client.close();
  }
}

const base = 1_700_000_000_000;
const batches = [
  [5000, 1000, 3000], // offsets 0-2
  [2000, 2500], // 3-4
  [7000, 7000, 6000, 9000], // 5-8
  [8000, 9000], // 9-10
].map((batch) => batch.map((t) => base + t));

for (const codec of [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd]) {
  test(`kcat -o s@<time> starts at the first record at or after it, in ${Compression[codec]} batches`, async () => {
    const topic = `kcat-by-time-${Compression[codec]}`;
    await produceBatches(topic, batches, codec);
    const segments = readdirSync(`${server.dataDir}/${topic}-0`).filter((name) => name.endsWith('.log'));
    assert.ok(segments.length >= 3, `${segments.length} segments`);
    for (const [time, first] of [
      [base, 0],
      [base + 5000, 0],
      [base + 5001, 5],
      [base + 7500, 8],
      [base + 9000, 8],
    ] as const) {
      const lines = await consumeFrom(topic, time);
      assert.equal(lines[0]?.split(' ')[0], String(first), `s@${time}: ${lines.join(' | ')}`);
      assert.equal(lines.length, 11 - first, 'and reads on to the end');
    }
    assert.deepEqual(await consumeFrom(topic, base + 9001), [], 'a time after every record: nothing to read');
  });
}

test('kcat -o s@<time> in one batch of timestamps 1234 and 999999999999 (issue 13)', async () => {
  const topic = 'kcat-by-time-issue-13';
  await produceBatches(topic, [[1234, 999_999_999_999]], Compression.None);
  assert.deepEqual(await consumeFrom(topic, 999_999_999_999), ['1 999999999999 999999999999/1']);
  assert.deepEqual(await consumeFrom(topic, 1234), ['0 1234 1234/0', '1 999999999999 999999999999/1']);
});

test('kcat -o s@<time> -X isolation.level=read_committed after an aborted transaction', async () => {
  const topic = 'kcat-by-time-transactions';
  const kafka = new Kafka({ brokers: [server.bootstrap], clientId: 'kcat-by-time', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();
  // Record times ahead of the broker's clock, so the transaction markers (stamped now) are older than all.
  const start = Date.now() + 10 * 60_000;
  const messages = (...times: number[]) =>
    times.map((t) => ({ partition: 0, value: `v${t}`, timestamp: String(start + t) }));
  const plain = kafka.producer();
  const transactional = kafka.producer({ transactionalId: 'kcat-by-time', maxInFlightRequests: 1, idempotent: true });
  await plain.connect();
  await transactional.connect();
  try {
    await plain.send({ topic, messages: messages(100, 200) }); // 0-1
    const aborted = await transactional.transaction();
    await aborted.send({ topic, messages: messages(300, 400) }); // 2-3
    await aborted.abort(); // marker at 4
    await plain.send({ topic, messages: messages(500, 600) }); // 5-6
  } finally {
    await transactional.disconnect();
    await plain.disconnect();
  }
  const committed = ['-X', 'isolation.level=read_committed'];
  // The answer for 250 is the aborted record at 2 (as Kafka); a read_committed consumer skips it.
  assert.deepEqual(
    (await consumeFrom(topic, start + 250, committed)).map((line) => line.split(' ')[0]),
    ['5', '6'],
  );
  assert.deepEqual(
    (await consumeFrom(topic, start + 250, ['-X', 'isolation.level=read_uncommitted'])).map(
      (line) => line.split(' ')[0],
    ),
    ['2', '3', '5', '6'],
  );
  assert.deepEqual(
    (await consumeFrom(topic, start + 550, committed)).map((line) => line.split(' ')[0]),
    ['6'],
  );
});
