// Idempotent produce over the wire: a retried batch gets its original offset, gaps and old epochs
// are refused, and the state survives a broker restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { RawClient } from '../support/raw-client.js';
import { startTestBroker } from '../support/test-broker.js';

async function batch(producerId: number, producerEpoch: number, baseSequence: number, count = 2): Promise<Buffer> {
  return encodeRecordBatch({
    producerId,
    producerEpoch,
    baseSequence,
    records: Array.from({ length: count }, (_, i) => ({ value: Buffer.from(`s${baseSequence + i}`) })),
  });
}

async function produce(
  client: RawClient,
  correlationId: number,
  records: Buffer,
): Promise<{ errorCode: number; baseOffset: bigint }> {
  client.request(ApiKey.Produce, 7, correlationId, {
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: 'idem', partitionData: [{ index: 0, records }] }],
  });
  const frames = await client.waitForFrames(client.frames.length + 1);
  return RawClient.decode(ApiKey.Produce, 7, frames[frames.length - 1]!).body.responses[0].partitionResponses[0];
}

test('duplicates, gaps, fencing, and state across a restart', async () => {
  let server = await startTestBroker();
  const dataDir = server.dataDir;
  try {
    await server.broker.createTopic('idem', 1, {});
    let client = await RawClient.connect(server.port);
    client.request(ApiKey.InitProducerId, 4, 1, { transactionalId: null, transactionTimeoutMs: 60000 });
    const init = RawClient.decode(ApiKey.InitProducerId, 4, (await client.waitForFrames(1))[0]!).body;
    assert.equal(init.errorCode, 0);
    const pid = Number(init.producerId);
    assert.equal(init.producerEpoch, 0);

    const first = await produce(client, 2, await batch(pid, 0, 0));
    assert.deepEqual([first.errorCode, first.baseOffset], [0, 0n]);
    const second = await produce(client, 3, await batch(pid, 0, 2));
    assert.deepEqual([second.errorCode, second.baseOffset], [0, 2n]);
    const duplicate = await produce(client, 4, await batch(pid, 0, 0));
    assert.deepEqual(
      [duplicate.errorCode, duplicate.baseOffset],
      [0, 0n],
      'a duplicate of the first batch gets offset 0',
    );
    const retry = await produce(client, 5, await batch(pid, 0, 2));
    assert.equal(retry.errorCode, 0);
    assert.equal(retry.baseOffset, 2n, 'a retried batch is answered with its original offset');
    const gap = await produce(client, 6, await batch(pid, 0, 10));
    assert.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    const next = await produce(client, 7, await batch(pid, 0, 4));
    assert.equal(next.baseOffset, 4n);
    assert.equal(server.broker.partitions.get('idem', 0)!.logEndOffset, 6, 'duplicates were not appended');

    // A producer that names its id and epoch (v3+) still gets a fresh id: without a transactional id
    // Kafka never reuses one, so two clients can never share a producer id.
    client.request(ApiKey.InitProducerId, 4, 8, {
      transactionalId: null,
      transactionTimeoutMs: 60000,
      producerId: BigInt(pid),
      producerEpoch: 0,
    });
    const again = RawClient.decode(
      ApiKey.InitProducerId,
      4,
      (await client.waitForFrames(client.frames.length + 1)).at(-1)!,
    ).body;
    assert.notEqual(Number(again.producerId), pid);
    assert.equal(again.producerEpoch, 0);
    // A newer epoch of the same id (as a transactional producer would have after a bump) starts at
    // sequence 0 and fences the old epoch.
    assert.equal((await produce(client, 9, await batch(pid, 1, 0))).baseOffset, 6n);
    assert.equal((await produce(client, 10, await batch(pid, 0, 6))).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    client.close();

    // Restart: the state comes back from the snapshot/log, so a retry is still recognised.
    await server.stop();
    server = await startTestBroker({ dataDir });
    client = await RawClient.connect(server.port);
    const afterRestart = await produce(client, 11, await batch(pid, 1, 0));
    assert.equal(afterRestart.errorCode, 0);
    assert.equal(afterRestart.baseOffset, 6n);
    assert.equal((await produce(client, 12, await batch(pid, 1, 2))).baseOffset, 8n);
    client.request(ApiKey.InitProducerId, 4, 13, { transactionalId: null, transactionTimeoutMs: 60000 });
    const fresh = RawClient.decode(
      ApiKey.InitProducerId,
      4,
      (await client.waitForFrames(client.frames.length + 1)).at(-1)!,
    ).body;
    assert.notEqual(Number(fresh.producerId), pid, 'producer ids are never reused across restarts');
    client.close();
  } finally {
    await server.close();
  }
});

test('InitProducerId refuses a transaction timeout above transaction.max.timeout.ms', async () => {
  const server = await startTestBroker({ properties: { 'transaction.max.timeout.ms': '1000' } });
  try {
    const client = await RawClient.connect(server.port);
    client.request(ApiKey.InitProducerId, 1, 1, { transactionalId: 'tx', transactionTimeoutMs: 5000 });
    const body = RawClient.decode(ApiKey.InitProducerId, 1, (await client.waitForFrames(1))[0]!).body;
    assert.equal(body.errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    client.close();
  } finally {
    await server.close();
  }
});
