// Interop of the Sluice client with kafkajs and kcat (librdkafka) through the real broker: messages
// produced by one are read by the other, with keys, headers and every compression codec.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';
import { runKcat } from '../support/kcat.js';
import { compressSync, decompressSync } from '../../src/protocol/record-batch/compression.js';
import { Compression } from '../../src/protocol/record-batch/header.js';
import { Producer, type CompressionName } from '../../src/client/producer.js';
import { Consumer, type ConsumedMessage } from '../../src/client/consumer.js';
import { stringSerde } from '../../src/client/serializers.js';

const { Kafka, logLevel, CompressionTypes, CompressionCodecs } = kafkajs;
const codecs: CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
// kafkajs ships gzip only; the other codecs are plug-ins, here built on our own compression module.
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
const kafkajsCodec: Record<CompressionName, number> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

let broker: TestBroker;
before(async () => {
  broker = await startTestBroker({ properties: { 'group.initial.rebalance.delay.ms': '0' } });
});
after(async () => {
  await broker.close();
});

function kcat(args: string[], input?: string): Promise<string> {
  return runKcat(broker.bootstrap, args, input, 30_000);
}

async function consumeWithSluice(topic: string, count: number): Promise<Array<ConsumedMessage<string, string>>> {
  const consumer = new Consumer<string, string>({
    bootstrap: broker.bootstrap,
    autoOffsetReset: 'earliest',
    maxWaitMs: 50,
    keyDeserializer: stringSerde.deserialize,
    valueDeserializer: stringSerde.deserialize,
  });
  const got: Array<ConsumedMessage<string, string>> = [];
  try {
    consumer.assign([{ topic, partition: 0 }]);
    await consumer.run(async (m) => void got.push(m));
    const deadline = Date.now() + 10_000;
    while (got.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    await consumer.close();
  }
  return got.sort((a, b) => Number(a.offset - b.offset));
}

const values = (codec: string) => Array.from({ length: 30 }, (_, i) => `${codec}-value-${i}-${'y'.repeat(i * 3)}`);

test('Sluice producer → kcat consumer, every codec, keys and headers', async () => {
  for (const compression of codecs) {
    const producer = new Producer<string, string>({
      bootstrap: broker.bootstrap,
      compression,
      keySerializer: stringSerde.serialize,
      valueSerializer: stringSerde.serialize,
    });
    const topic = `to-kcat-${compression}`;
    await producer.sendBatch(
      topic,
      values(compression).map((value, i) => ({
        key: `key-${i % 4}`,
        value,
        partition: 0,
        headers: { codec: compression, n: String(i) },
      })),
    );
    await producer.close();
    const out = await kcat(['-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-f', '%k\t%s\t%h\n']);
    const lines = out
      .trim()
      .split('\n')
      .map((line) => line.split('\t'));
    assert.deepEqual(
      lines.map((l) => l[1]),
      values(compression),
      compression,
    );
    assert.deepEqual(
      lines.map((l) => l[0]),
      values(compression).map((_, i) => `key-${i % 4}`),
    );
    assert.equal(lines[5]![2], `codec=${compression},n=5`);
  }
});

test('kcat producer → Sluice consumer, every codec, keys and headers', async () => {
  for (const compression of codecs) {
    const topic = `from-kcat-${compression}`;
    const lines = values(compression).map((value, i) => `key-${i % 4}\t${value}`);
    await kcat(
      ['-P', '-t', topic, '-p', '0', '-K', '\t', '-z', compression, '-H', `codec=${compression}`],
      lines.join('\n') + '\n',
    );
    const got = await consumeWithSluice(topic, 30);
    assert.deepEqual(
      got.map((m) => m.value),
      values(compression),
      compression,
    );
    assert.deepEqual(
      got.map((m) => m.key),
      values(compression).map((_, i) => `key-${i % 4}`),
    );
    assert.equal(got[3]!.headers.codec!.toString(), compression);
  }
});

test('Sluice producer → kafkajs consumer and kafkajs producer → Sluice consumer, every codec', async () => {
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, clientId: 'interop' });
  for (const compression of codecs) {
    // Ours → kafkajs.
    const toKafkajs = `to-kafkajs-${compression}`;
    const producer = new Producer<string, string>({
      bootstrap: broker.bootstrap,
      compression,
      keySerializer: stringSerde.serialize,
      valueSerializer: stringSerde.serialize,
    });
    await producer.sendBatch(
      toKafkajs,
      values(compression).map((value, i) => ({
        key: `key-${i % 4}`,
        value,
        partition: 0,
        headers: { codec: compression },
      })),
    );
    await producer.close();
    const consumer = kafka.consumer({ groupId: `kafkajs-${compression}`, maxWaitTimeInMs: 50 });
    await consumer.connect();
    await consumer.subscribe({ topic: toKafkajs, fromBeginning: true });
    const got: Array<{ key: string; value: string; codec: string }> = [];
    await consumer.run({
      eachMessage: async ({ message }) =>
        void got.push({
          key: message.key!.toString(),
          value: message.value!.toString(),
          codec: String(message.headers!.codec),
        }),
    });
    const deadline = Date.now() + 15_000;
    while (got.length < 30 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await consumer.disconnect();
    assert.deepEqual(
      got.map((m) => m.value),
      values(compression),
      `kafkajs read ${compression}`,
    );
    assert.equal(got[7]!.key, 'key-3');
    assert.equal(got[7]!.codec, compression);
    // kafkajs → ours.
    const fromKafkajs = `from-kafkajs-${compression}`;
    const theirs = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await theirs.connect();
    await theirs.send({
      topic: fromKafkajs,
      compression: kafkajsCodec[compression],
      acks: -1,
      messages: values(compression).map((value, i) => ({
        key: `key-${i % 4}`,
        value,
        partition: 0,
        headers: { codec: compression },
      })),
    });
    await theirs.disconnect();
    const ours = await consumeWithSluice(fromKafkajs, 30);
    assert.deepEqual(
      ours.map((m) => m.value),
      values(compression),
      `Sluice read kafkajs ${compression}`,
    );
    assert.equal(ours[2]!.key, 'key-2');
    assert.equal(ours[2]!.headers.codec!.toString(), compression);
  }
});
