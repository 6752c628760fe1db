// kcat 1.7.1 (Debian, librdkafka 2.0.2) and the produce path: the Produce version it picks from the
// advertised 0-13, compacted topics refusing keyless messages, the broker recompressing into a topic's
// compression.type, and consuming by time (-o s@…) over batches whose header maxTimestamp is -1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { crc32c } from '../../src/protocol/record-batch/crc32c.js';
import { Compression, MAX_TIMESTAMP_OFFSET, writeInt64FromNumber } from '../../src/protocol/record-batch/header.js';
import { decodeRecordBatches } from '../../src/protocol/record-batch/record-decoder.js';
import { encodeRecordBatchSync } from '../../src/protocol/record-batch/record-encoder.js';
import { runKcat } from '../support/kcat.js';
import { recordProduceVersions, type ProduceVersionRecorder } from '../support/produce-versions.js';
import { RawClient } from '../support/raw-client.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

let server: TestBroker;
let recorder: ProduceVersionRecorder;

before(async () => {
  server = await startTestBroker();
  recorder = await recordProduceVersions(server);
});
after(async () => {
  await recorder.close();
  await server.close();
});

function kcat(args: string[], input?: string): Promise<string> {
  return runKcat(recorder.bootstrap, ['-X', 'client.id=kcat-produce-path', ...args], input, 30_000);
}

async function stored(topic: string) {
  const [result] = await server.broker.fetch([{ topic, partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 22 }], {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 22,
  });
  return decodeRecordBatches(result!.records);
}

test('kcat: keyless to a compacted topic fails delivery, keyed messages are stored; it sends Produce v7', async () => {
  await server.broker.createTopic('kcat-compacted', 1, { 'cleanup.policy': 'compact' });
  await assert.rejects(
    kcat(['-P', '-t', 'kcat-compacted', '-p', '0'], 'no key 1\nno key 2\n'),
    /Delivery failed for message: Broker: Broker failed to validate record/,
  );
  assert.equal(server.broker.partitions.get('kcat-compacted', 0)!.logEndOffset, 0);
  await kcat(['-P', '-t', 'kcat-compacted', '-p', '0', '-K', ':'], 'a:1\nb:2\na:3\n');
  const out = await kcat(['-C', '-t', 'kcat-compacted', '-p', '0', '-o', 'beginning', '-e', '-f', '%k=%s@%o\n']);
  assert.deepEqual(out.trim().split('\n'), ['a=1@0', 'b=2@1', 'a=3@2']);
  assert.deepEqual([...recorder.versions.get('kcat-produce-path')!], [7]);
});

for (const [from, to, codec] of [
  ['snappy', 'zstd', Compression.Zstd],
  ['none', 'gzip', Compression.Gzip],
  ['lz4', 'uncompressed', Compression.None],
  ['gzip', 'lz4', Compression.Lz4],
] as const) {
  test(`kcat -z ${from} to a compression.type=${to} topic: stored as ${to}, read back in order`, async () => {
    const topic = `kcat-${from}-to-${to}`;
    await server.broker.createTopic(topic, 1, { 'compression.type': to });
    const lines = Array.from({ length: 300 }, (_, i) => `key${i % 11}\tmessage-${i}-${'w'.repeat(i % 40)}`);
    await kcat(['-P', '-t', topic, '-p', '0', '-K', '\t', '-z', from], lines.join('\n') + '\n');
    const batches = await stored(topic);
    assert.ok(batches.length > 0);
    assert.ok(
      batches.every((b) => b.compression === codec),
      `codecs ${batches.map((b) => b.compression)}`,
    );
    const out = await kcat(['-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-f', '%k\t%s\n']);
    assert.deepEqual(out.trim().split('\n'), lines);
  });
}

test('kcat -o s@<time> over batches whose header maxTimestamp is -1 starts at the right message', async () => {
  await server.broker.createTopic('kcat-minus-one', 1, {});
  const client = await RawClient.connect(server.port);
  const base = Date.now() - 60_000;
  for (const [index, offsets] of [[0], [1, 2], [3]].entries()) {
    const batch = encodeRecordBatchSync({
      records: offsets.map((offset) => ({ value: Buffer.from(`m${offset}`), timestamp: base + offset * 1000 })),
      compression: index === 1 ? Compression.Snappy : Compression.None,
    });
    writeInt64FromNumber(batch, -1, MAX_TIMESTAMP_OFFSET); // as sarama 1.22 writes it
    batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
    client.request(ApiKey.Produce, 7, index, {
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: 'kcat-minus-one', partitionData: [{ index: 0, records: batch }] }],
    });
    const frames = await client.waitForFrames(index + 1);
    const answer = RawClient.decode(ApiKey.Produce, 7, frames[index]!).body.responses[0].partitionResponses[0];
    assert.equal(answer.errorCode, ErrorCode.NONE);
  }
  client.close();
  const from = async (timestamp: number) =>
    (await kcat(['-C', '-t', 'kcat-minus-one', '-p', '0', '-o', `s@${timestamp}`, '-e', '-f', '%s\n'])).trim();
  assert.equal(await from(base - 1), 'm0\nm1\nm2\nm3');
  assert.equal(await from(base + 500), 'm1\nm2\nm3');
  assert.equal(await from(base + 2500), 'm3');
});
