// The transaction coordinator's answers, called on an in-process broker: InitProducerId (new id,
// epoch bumps, KIP-360 expected id/epoch, fencing), AddPartitionsToTxn checks, which transactional
// produces are accepted, EndTxn in each state, and the PRODUCER_FENCED → INVALID_PRODUCER_EPOCH
// translation for clients older than KIP-588.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../../src/protocol/generated/index.js';
import { encodeRecordBatchSync } from '../../../src/protocol/record-batch/record-encoder.js';
import { RawClient } from '../../support/raw-client.js';
import { startTestBroker, type TestBroker } from '../../support/test-broker.js';

let server: TestBroker;

before(async () => {
  server = await startTestBroker({
    properties: { 'transaction.state.log.num.partitions': '2', 'offsets.topic.num.partitions': '2' },
  });
  await server.broker.createTopic('coord', 2, {});
});
after(async () => {
  await server.close();
});

function batch(producerId: number, producerEpoch: number, baseSequence: number, transactional = true): Buffer {
  return encodeRecordBatchSync({
    producerId,
    producerEpoch,
    baseSequence,
    transactional,
    records: [{ value: Buffer.from('x') }],
  });
}

test('InitProducerId: a new id at epoch 0, then bumps; KIP-360 expected id/epoch; fencing; bad input', async () => {
  const tc = server.broker.transactions;
  const first = await tc.initProducerId('coord-init', 10_000, -1, -1);
  assert.equal(first.errorCode, ErrorCode.NONE);
  assert.equal(first.producerEpoch, 0);
  const second = await tc.initProducerId('coord-init', 10_000, -1, -1);
  assert.deepEqual([second.producerId, second.producerEpoch], [first.producerId, 1]);
  const bumped = await tc.initProducerId('coord-init', 10_000, first.producerId, 1);
  assert.deepEqual(
    [bumped.producerId, bumped.producerEpoch],
    [first.producerId, 2],
    'the current producer bumps its own epoch',
  );
  const retried = await tc.initProducerId('coord-init', 10_000, first.producerId, 1);
  assert.deepEqual(
    [retried.errorCode, retried.producerEpoch],
    [ErrorCode.NONE, 2],
    'a retry with the previous id/epoch gets the current ones',
  );
  const stale = await tc.initProducerId('coord-init', 10_000, first.producerId, 0);
  assert.equal(stale.errorCode, ErrorCode.PRODUCER_FENCED);
  // Another instance: no retry of the old bump any more.
  const fresh = await tc.initProducerId('coord-init', 10_000, -1, -1);
  assert.equal(fresh.producerEpoch, 3);
  assert.equal(
    (await tc.initProducerId('coord-init', 10_000, first.producerId, 2)).errorCode,
    ErrorCode.PRODUCER_FENCED,
  );
  assert.equal(
    (await tc.initProducerId('coord-init', 10_000, first.producerId, -1)).errorCode,
    ErrorCode.INVALID_REQUEST,
    'an id without an epoch',
  );
  assert.equal((await tc.initProducerId('', 10_000, -1, -1)).errorCode, ErrorCode.INVALID_REQUEST);
  assert.equal((await tc.initProducerId('coord-init', 0, -1, -1)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  assert.equal(
    (await tc.initProducerId('coord-init', 900_001, -1, -1)).errorCode,
    ErrorCode.INVALID_TRANSACTION_TIMEOUT,
  );
  const other = await tc.initProducerId('coord-init-2', 10_000, -1, -1);
  assert.notEqual(other.producerId, first.producerId, 'each transactional id has its own producer id');
});

test('transactional produce only into partitions added to the ongoing transaction', async () => {
  const tc = server.broker.transactions;
  const { producerId, producerEpoch } = await tc.initProducerId('coord-produce', 10_000, -1, -1);
  assert.equal(
    (await server.broker.produce('coord', 0, batch(producerId, producerEpoch, 0))).errorCode,
    ErrorCode.INVALID_TXN_STATE,
    'no transaction yet',
  );
  const added = await tc.addPartitions('coord-produce', producerId, producerEpoch, [
    { name: 'coord', partitions: [0] },
  ]);
  assert.deepEqual(added, [{ name: 'coord', partitions: [{ partition: 0, errorCode: ErrorCode.NONE }] }]);
  assert.equal(
    (await server.broker.produce('coord', 0, batch(producerId, producerEpoch, 0))).errorCode,
    ErrorCode.NONE,
  );
  assert.equal(
    (await server.broker.produce('coord', 1, batch(producerId, producerEpoch, 0))).errorCode,
    ErrorCode.INVALID_TXN_STATE,
    'partition 1 was not added',
  );
  assert.equal(
    (await server.broker.produce('coord', 0, batch(producerId, producerEpoch, 1, false))).errorCode,
    ErrorCode.INVALID_TXN_STATE,
    'not outside its open transaction in the same partition (as Kafka)',
  );
  assert.equal(
    (await server.broker.produce('coord', 0, batch(987_654, 0, 0))).errorCode,
    ErrorCode.INVALID_TXN_STATE,
    'a producer id with no transactional id',
  );
  const lso = server.broker.partitions.get('coord', 0)!.lastStableOffset;
  assert.equal(lso, 0);
  const ended = await tc.endTransaction('coord-produce', producerId, producerEpoch, true);
  assert.equal(ended.errorCode, ErrorCode.NONE);
  assert.equal(
    (await server.broker.produce('coord', 0, batch(producerId, producerEpoch, 1))).errorCode,
    ErrorCode.INVALID_TXN_STATE,
    'the transaction is over',
  );
  const partition = server.broker.partitions.get('coord', 0)!;
  assert.equal(partition.lastStableOffset, partition.highWatermark);
});

test('AddPartitionsToTxn and EndTxn: wrong producer id, old epoch, unknown partitions, each state', async () => {
  const tc = server.broker.transactions;
  const { producerId, producerEpoch } = await tc.initProducerId('coord-end', 10_000, -1, -1);
  const wrongId = await tc.addPartitions('coord-end', producerId + 1000, producerEpoch, [
    { name: 'coord', partitions: [0] },
  ]);
  assert.equal(wrongId[0]!.partitions[0]!.errorCode, ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  const unknown = await tc.addPartitions('coord-end', producerId, producerEpoch, [
    { name: 'coord', partitions: [0, 9] },
    { name: 'nope', partitions: [0] },
  ]);
  assert.deepEqual(
    unknown.map((t) => t.partitions.map((p) => p.errorCode)),
    [[ErrorCode.OPERATION_NOT_ATTEMPTED, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
  );
  assert.equal(
    (await tc.endTransaction('coord-end', producerId, producerEpoch, true)).errorCode,
    ErrorCode.INVALID_TXN_STATE,
    'nothing to end (Empty)',
  );
  await tc.addPartitions('coord-end', producerId, producerEpoch, [{ name: 'coord', partitions: [1] }]);
  assert.equal((await tc.endTransaction('coord-end', producerId, producerEpoch, false)).errorCode, ErrorCode.NONE);
  assert.equal(
    (await tc.endTransaction('coord-end', producerId, producerEpoch, false)).errorCode,
    ErrorCode.NONE,
    'a retried abort',
  );
  assert.equal(
    (await tc.endTransaction('coord-end', producerId, producerEpoch, true)).errorCode,
    ErrorCode.INVALID_TXN_STATE,
    'commit after abort',
  );
  const next = await tc.initProducerId('coord-end', 10_000, -1, -1);
  assert.equal(
    (await tc.addPartitions('coord-end', producerId, producerEpoch, [{ name: 'coord', partitions: [1] }]))[0]!
      .partitions[0]!.errorCode,
    ErrorCode.PRODUCER_FENCED,
  );
  assert.equal(
    (await tc.endTransaction('coord-end', producerId, producerEpoch, true)).errorCode,
    ErrorCode.PRODUCER_FENCED,
  );
  assert.equal(next.producerEpoch, producerEpoch + 1);
});

test('PRODUCER_FENCED goes to clients older than KIP-588 as INVALID_PRODUCER_EPOCH', async () => {
  const tc = server.broker.transactions;
  const old = await tc.initProducerId('coord-versions', 10_000, -1, -1);
  await tc.initProducerId('coord-versions', 10_000, -1, -1); // fences `old`
  // And again: `old` is no longer even the previous epoch (a retry).
  await tc.initProducerId('coord-versions', 10_000, -1, -1);
  const raw = await RawClient.connect(server.port);
  try {
    const body = {
      transactionalId: 'coord-versions',
      producerId: BigInt(old.producerId),
      producerEpoch: old.producerEpoch,
      committed: true,
    };
    raw.request(ApiKey.EndTxn, 1, 1, body);
    raw.request(ApiKey.EndTxn, 2, 2, body);
    raw.request(ApiKey.AddOffsetsToTxn, 1, 3, { ...body, groupId: 'g' });
    raw.request(ApiKey.AddOffsetsToTxn, 3, 4, { ...body, groupId: 'g' });
    raw.request(ApiKey.InitProducerId, 3, 5, {
      transactionalId: 'coord-versions',
      transactionTimeoutMs: 10_000,
      producerId: BigInt(old.producerId),
      producerEpoch: old.producerEpoch,
    });
    raw.request(ApiKey.InitProducerId, 4, 6, {
      transactionalId: 'coord-versions',
      transactionTimeoutMs: 10_000,
      producerId: BigInt(old.producerId),
      producerEpoch: old.producerEpoch,
    });
    const frames = await raw.waitForFrames(6);
    assert.equal(RawClient.decode(ApiKey.EndTxn, 1, frames[0]!).body.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(RawClient.decode(ApiKey.EndTxn, 2, frames[1]!).body.errorCode, ErrorCode.PRODUCER_FENCED);
    assert.equal(
      RawClient.decode(ApiKey.AddOffsetsToTxn, 1, frames[2]!).body.errorCode,
      ErrorCode.INVALID_PRODUCER_EPOCH,
    );
    assert.equal(RawClient.decode(ApiKey.AddOffsetsToTxn, 3, frames[3]!).body.errorCode, ErrorCode.PRODUCER_FENCED);
    assert.equal(
      RawClient.decode(ApiKey.InitProducerId, 3, frames[4]!).body.errorCode,
      ErrorCode.INVALID_PRODUCER_EPOCH,
    );
    assert.equal(RawClient.decode(ApiKey.InitProducerId, 4, frames[5]!).body.errorCode, ErrorCode.PRODUCER_FENCED);
  } finally {
    raw.close();
  }
});

test('transactional.id.expiration.ms: an idle id without open transaction is forgotten, also on restart', async () => {
  const properties = {
    'transaction.state.log.num.partitions': '1',
    'transactional.id.expiration.ms': '300',
    'transaction.abort.timed.out.transaction.cleanup.interval.ms': '100',
  };
  let expiring = await startTestBroker({ properties });
  try {
    const first = await expiring.broker.transactions.initProducerId('coord-expire', 10_000, -1, -1);
    assert.equal(expiring.broker.transactions.stateOf('coord-expire'), 'Empty');
    const deadline = Date.now() + 5000;
    while (expiring.broker.transactions.stateOf('coord-expire') !== undefined && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(expiring.broker.transactions.stateOf('coord-expire'), undefined);
    await expiring.stop();
    expiring = await startTestBroker({
      dataDir: expiring.dataDir,
      properties: { ...properties, 'transactional.id.expiration.ms': '600000' },
    });
    assert.equal(
      expiring.broker.transactions.stateOf('coord-expire'),
      undefined,
      'the tombstone holds after a restart',
    );
    const again = await expiring.broker.transactions.initProducerId('coord-expire', 10_000, -1, -1);
    assert.notEqual(again.producerId, first.producerId, 'a fresh producer id');
  } finally {
    await expiring.close();
  }
});

test('epoch exhaustion: past epoch 32766 the transactional id gets a new producer id at epoch 0', async () => {
  const tc = server.broker.transactions;
  const first = await tc.initProducerId('coord-exhausted', 10_000, -1, -1);
  // Reaching 32766 takes 32766 durable InitProducerIds; set it in memory instead.
  const state = (tc as unknown as { transactions: Map<string, { producerEpoch: number }> }).transactions.get(
    'coord-exhausted',
  )!;
  state.producerEpoch = 32766;
  const next = await tc.initProducerId('coord-exhausted', 10_000, -1, -1);
  assert.equal(next.errorCode, ErrorCode.NONE);
  assert.notEqual(next.producerId, first.producerId);
  assert.equal(next.producerEpoch, 0);
  assert.equal(
    (await tc.addPartitions('coord-exhausted', first.producerId, 32766, [{ name: 'coord', partitions: [0] }]))[0]!
      .partitions[0]!.errorCode,
    ErrorCode.INVALID_PRODUCER_ID_MAPPING,
    'the old id is gone',
  );
  assert.equal(
    (await tc.addPartitions('coord-exhausted', next.producerId, 0, [{ name: 'coord', partitions: [0] }]))[0]!
      .partitions[0]!.errorCode,
    ErrorCode.NONE,
  );
  assert.equal((await tc.endTransaction('coord-exhausted', next.producerId, 0, false)).errorCode, ErrorCode.NONE);
});
