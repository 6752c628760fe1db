// Fetch over the wire: long-poll woken by an append (not a timer), min_bytes/max_wait, KIP-74
// (at least one whole batch even above max_bytes), partition max bytes, OFFSET_OUT_OF_RANGE,
// and the offsets every response carries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { decodeRecordBatches } from '../../src/protocol/record-batch/record-decoder.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { RawClient } from '../support/raw-client.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

let server: TestBroker;
before(async () => {
  server = await startTestBroker();
  await server.broker.createTopic('f', 2, {});
});
after(async () => server.close());

async function append(partition: number, values: string[]): Promise<void> {
  const result = await server.broker.produce(
    'f',
    partition,
    await encodeRecordBatch({ records: values.map((v) => ({ value: Buffer.from(v) })) }),
  );
  assert.equal(result.errorCode, 0);
}

function fetchRequest(
  partitions: Array<{ partition: number; offset: number; maxBytes?: number }>,
  options: { maxWaitMs?: number; minBytes?: number; maxBytes?: number } = {},
) {
  return {
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 0,
    maxBytes: options.maxBytes ?? 1 << 20,
    isolationLevel: 0,
    topics: [
      {
        topic: 'f',
        partitions: partitions.map((p) => ({
          partition: p.partition,
          fetchOffset: BigInt(p.offset),
          partitionMaxBytes: p.maxBytes ?? 1 << 20,
        })),
      },
    ],
  };
}

test('a parked fetch is answered by the append that gives it data, long before max_wait', async () => {
  const client = await RawClient.connect(server.port);
  const end = server.broker.partitions.get('f', 1)!.logEndOffset;
  const started = Date.now();
  client.request(
    ApiKey.Fetch,
    11,
    1,
    fetchRequest([{ partition: 1, offset: end }], { maxWaitMs: 10_000, minBytes: 1 }),
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(client.frames.length, 0, 'parked while there is no data');
  await append(1, ['wake-up']);
  const [frame] = await client.waitForFrames(1, 5000);
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 2000, `answered after ${elapsed} ms`);
  const partition = RawClient.decode(ApiKey.Fetch, 11, frame!).body.responses[0].partitions[0];
  const [batch] = await decodeRecordBatches(partition.records);
  assert.equal(batch!.records[0]!.value!.toString(), 'wake-up');
  client.close();
});

test('with no data a fetch waits max_wait_ms, then answers empty', async () => {
  const client = await RawClient.connect(server.port);
  const end = server.broker.partitions.get('f', 0)!.logEndOffset;
  const started = Date.now();
  client.request(ApiKey.Fetch, 11, 1, fetchRequest([{ partition: 0, offset: end }], { maxWaitMs: 300, minBytes: 1 }));
  const [frame] = await client.waitForFrames(1, 5000);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 280 && elapsed < 2000, `answered after ${elapsed} ms`);
  const partition = RawClient.decode(ApiKey.Fetch, 11, frame!).body.responses[0].partitions[0];
  assert.equal(partition.errorCode, 0);
  assert.equal(partition.records.length, 0);
  assert.equal(partition.highWatermark, BigInt(end));
  client.close();
});

test('responses on one connection keep request order while a fetch is parked', async () => {
  const client = await RawClient.connect(server.port);
  const end = server.broker.partitions.get('f', 0)!.logEndOffset;
  client.request(ApiKey.Fetch, 11, 1, fetchRequest([{ partition: 0, offset: end }], { maxWaitMs: 400, minBytes: 1 }));
  client.request(ApiKey.Metadata, 4, 2, { topics: [{ name: 'f' }], allowAutoTopicCreation: false });
  const frames = await client.waitForFrames(2, 5000);
  assert.deepEqual(
    [
      RawClient.decode(ApiKey.Fetch, 11, frames[0]!).correlationId,
      RawClient.decode(ApiKey.Metadata, 4, frames[1]!).correlationId,
    ],
    [1, 2],
  );
  client.close();
});

test('KIP-74: a batch larger than max_bytes is still returned whole; partition max bytes bounds the rest', async () => {
  await append(0, ['x'.repeat(5000)]);
  await append(0, ['small-1']);
  await append(0, ['small-2']);
  const end = server.broker.partitions.get('f', 0)!.logEndOffset;
  const client = await RawClient.connect(server.port);
  client.request(
    ApiKey.Fetch,
    11,
    1,
    fetchRequest([{ partition: 0, offset: end - 3, maxBytes: 100 }], { maxBytes: 100 }),
  );
  const [frame] = await client.waitForFrames(1);
  const partition = RawClient.decode(ApiKey.Fetch, 11, frame!).body.responses[0].partitions[0];
  const batches = await decodeRecordBatches(partition.records);
  assert.equal(batches.length, 1, 'one whole batch, nothing more');
  assert.equal(batches[0]!.records[0]!.value!.length, 5000);
  client.close();
});

test('an offset outside [log start, high watermark] is OFFSET_OUT_OF_RANGE with the offsets to reset to', async () => {
  const log = server.broker.partitions.get('f', 0)!;
  const client = await RawClient.connect(server.port);
  client.request(ApiKey.Fetch, 11, 1, fetchRequest([{ partition: 0, offset: log.logEndOffset + 100 }]));
  const [frame] = await client.waitForFrames(1);
  const partition = RawClient.decode(ApiKey.Fetch, 11, frame!).body.responses[0].partitions[0];
  assert.equal(partition.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  assert.equal(partition.highWatermark, BigInt(log.highWatermark));
  assert.equal(partition.logStartOffset, BigInt(log.logStartOffset));
  client.close();
});

test('v12 (flexible) fetch works and declines fetch sessions with session_id 0', async () => {
  await append(0, ['flex']);
  const log = server.broker.partitions.get('f', 0)!;
  const client = await RawClient.connect(server.port);
  client.request(ApiKey.Fetch, 12, 1, {
    ...fetchRequest([{ partition: 0, offset: log.logEndOffset - 1 }]),
    sessionId: 0,
    sessionEpoch: 0,
  });
  client.request(ApiKey.Fetch, 12, 2, {
    ...fetchRequest([{ partition: 0, offset: 0 }]),
    sessionId: 1234,
    sessionEpoch: 1,
  });
  const frames = await client.waitForFrames(2);
  const first = RawClient.decode(ApiKey.Fetch, 12, frames[0]!).body;
  assert.equal(first.sessionId, 0);
  const [batch] = await decodeRecordBatches(first.responses[0].partitions[0].records);
  assert.equal(batch!.records.at(-1)!.value!.toString(), 'flex');
  assert.equal(first.responses[0].partitions[0].lastStableOffset, BigInt(log.highWatermark));
  assert.equal(RawClient.decode(ApiKey.Fetch, 12, frames[1]!).body.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  client.close();
});

test('KIP-74 across partitions: only the first partition with data may exceed its limit', async () => {
  await server.broker.createTopic('wide', 4, {});
  for (let partition = 0; partition < 4; partition++) {
    const result = await server.broker.produce(
      'wide',
      partition,
      await encodeRecordBatch({ records: [{ value: Buffer.alloc(3000, partition) }] }),
    );
    assert.equal(result.errorCode, 0);
  }
  const client = await RawClient.connect(server.port);
  client.request(ApiKey.Fetch, 11, 1, {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    topics: [
      {
        topic: 'wide',
        partitions: [0, 1, 2, 3].map((partition) => ({ partition, fetchOffset: 0n, partitionMaxBytes: 1000 })),
      },
    ],
  });
  const [frame] = await client.waitForFrames(1);
  const partitions = RawClient.decode(ApiKey.Fetch, 11, frame!).body.responses[0].partitions;
  assert.ok(partitions[0].records.length > 3000, 'the first partition returns its whole 3 KB batch');
  assert.deepEqual(
    partitions.slice(1).map((p: { records: Buffer }) => p.records.length),
    [0, 0, 0],
    'the others stay within their 1000-byte limit',
  );
  client.close();
});
