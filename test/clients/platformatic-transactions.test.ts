// @platformatic/kafka 1.35 transactions against a real in-process broker: this client uses the
// flexible versions (InitProducerId v4, AddPartitionsToTxn v3, EndTxn v4), unlike kafkajs and
// librdkafka. Commit and abort, read back with our own read_committed fetch; a kafkajs producer with
// the same transactional id fences the platformatic one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Producer, stringSerializers } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { readCommitted } from '../support/read-committed.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

let server: TestBroker;

before(async () => {
  server = await startTestBroker({
    properties: { 'transaction.state.log.num.partitions': '1', 'offsets.topic.num.partitions': '1' },
  });
  await server.broker.createTopic('plat-txn', 2, {});
});
after(async () => {
  await server.close();
});

function newProducer(transactionalId: string): Producer<string, string, string, string> {
  return new Producer({
    clientId: 'platformatic-txn',
    bootstrapBrokers: [server.bootstrap],
    retries: 1,
    retryDelay: 50,
    timeout: 5000,
    serializers: stringSerializers,
    idempotent: true,
    transactionalId,
  });
}

test('commit and abort across two partitions; read_committed sees only the committed records', async () => {
  const producer = newProducer('plat-commit');
  try {
    let tx = await producer.beginTransaction();
    await tx.send({
      messages: [
        { topic: 'plat-txn', value: 'c0', partition: 0 },
        { topic: 'plat-txn', value: 'c1', partition: 1 },
      ],
    });
    assert.equal(server.broker.transactions.stateOf('plat-commit'), 'Ongoing');
    assert.deepEqual((await readCommitted(server.port, 'plat-txn', 0)).visible, []);
    await tx.commit();
    tx = await producer.beginTransaction();
    await tx.send({
      messages: [
        { topic: 'plat-txn', value: 'a0', partition: 0 },
        { topic: 'plat-txn', value: 'a1', partition: 1 },
      ],
    });
    await tx.abort();
    tx = await producer.beginTransaction();
    await tx.send({ messages: [{ topic: 'plat-txn', value: 'c2', partition: 0 }] });
    await tx.commit();
  } finally {
    await producer.close();
  }
  const p0 = await readCommitted(server.port, 'plat-txn', 0);
  assert.deepEqual(p0.visible, ['c0', 'c2']);
  assert.equal(p0.abortedTransactions.length, 1);
  assert.equal(p0.lastStableOffset, p0.highWatermark);
  assert.deepEqual((await readCommitted(server.port, 'plat-txn', 1)).visible, ['c1']);
});

// A second @platformatic/kafka producer cannot take over a transactional id: it sends InitProducerId v4
// with producer id 0 / epoch 0 instead of -1/-1, which Kafka (and Sluice) answer PRODUCER_FENCED unless
// 0 happens to be the id in use. So the successor here is kafkajs, which sends no id.
// The fenced producer's transaction is aborted.
test('a kafkajs successor with the same transactional id fences the platformatic producer', async () => {
  const zombie = newProducer('plat-zombie');
  const kafka = new kafkajs.Kafka({
    brokers: [server.bootstrap],
    clientId: 'kafkajs-successor',
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 50 },
  });
  const successor = kafka.producer({ transactionalId: 'plat-zombie', maxInFlightRequests: 1, idempotent: true });
  try {
    const zt = await zombie.beginTransaction();
    await zt.send({ messages: [{ topic: 'plat-txn', value: 'zombie', partition: 1 }] });
    await successor.connect();
    const st = await successor.transaction(); // InitProducerId: bumps the epoch, aborts the zombie's transaction
    await assert.rejects(zt.commit(), (error: Error) =>
      /fenced|epoch|90|47/i.test(`${error.message} ${JSON.stringify(error)}`),
    );
    await st.send({ topic: 'plat-txn', messages: [{ value: 'successor', partition: 1 }] });
    await st.commit();
  } finally {
    await zombie.close().catch(() => undefined);
    await successor.disconnect();
  }
  assert.deepEqual(
    (await readCommitted(server.port, 'plat-txn', 1)).visible.filter((v) => v === 'zombie' || v === 'successor'),
    ['successor'],
  );
});
