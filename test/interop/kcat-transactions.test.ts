// kcat (librdkafka) as a read_committed consumer of transactional data written by kafkajs:
// `-X isolation.level=read_committed` never shows aborted records, nor records of a transaction that
// is still open; read_uncommitted shows them all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';
import { runKcat } from '../support/kcat.js';

const { Kafka, logLevel } = kafkajs;
let server: TestBroker;

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  server = await startTestBroker({ properties: { 'transaction.state.log.num.partitions': '1' } });
});
after(async () => {
  await server.close();
});

function kcat(args: string[]): Promise<string> {
  return runKcat(server.bootstrap, args, undefined, 30_000);
}

test('kcat -X isolation.level=read_committed sees committed transactions only', async () => {
  const kafka = new Kafka({
    brokers: [server.bootstrap],
    clientId: 'kcat-txn',
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 50 },
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'kcat-txn', numPartitions: 2 }] });
  await admin.disconnect();
  const producer = kafka.producer({ transactionalId: 'kcat-txn', maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  const committed: string[] = [];
  const aborted: string[] = [];
  for (let round = 0; round < 6; round++) {
    const t = await producer.transaction();
    const values = Array.from({ length: 5 }, (_, i) => `round${round}-${i}`);
    await t.send({ topic: 'kcat-txn', messages: values.map((value, i) => ({ value, partition: i % 2 })) });
    if (round % 2 === 0) {
      await t.commit();
      committed.push(...values);
    } else {
      await t.abort();
      aborted.push(...values);
    }
  }
  // A transaction left open: its records are below the high watermark but above the last stable offset.
  const open = await producer.transaction();
  await open.send({
    topic: 'kcat-txn',
    messages: [
      { value: 'open-0', partition: 0 },
      { value: 'open-1', partition: 1 },
    ],
  });

  const readCommitted = (
    await kcat(['-C', '-t', 'kcat-txn', '-o', 'beginning', '-e', '-X', 'isolation.level=read_committed', '-f', '%s\n'])
  )
    .trim()
    .split('\n');
  assert.deepEqual([...readCommitted].sort(), [...committed].sort());
  const readUncommitted = (
    await kcat([
      '-C',
      '-t',
      'kcat-txn',
      '-o',
      'beginning',
      '-e',
      '-X',
      'isolation.level=read_uncommitted',
      '-f',
      '%s\n',
    ])
  )
    .trim()
    .split('\n');
  assert.deepEqual([...readUncommitted].sort(), [...committed, ...aborted, 'open-0', 'open-1'].sort());

  await open.abort();
  const afterAbort = (
    await kcat(['-C', '-t', 'kcat-txn', '-o', 'beginning', '-e', '-X', 'isolation.level=read_committed', '-f', '%s\n'])
  )
    .trim()
    .split('\n');
  assert.deepEqual([...afterAbort].sort(), [...committed].sort());
  await producer.disconnect();
});
