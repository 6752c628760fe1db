// Transactions across an in-process broker restart (stop, then open the same data directory on the
// same port): a transaction open between AddPartitions and EndTxn is still open afterwards (its
// records hidden from read_committed, the last stable offset held) and can then be committed, or is
// aborted by its timeout; a transaction whose commit decision was stored (PrepareCommit) but whose
// markers were not all written is completed when the broker opens, its sendOffsets included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { readCommitted } from '../../support/read-committed.js';
import { startTestBroker, type TestBroker } from '../../support/test-broker.js';

const { Kafka, logLevel } = kafkajs;

const properties = {
  'offsets.topic.num.partitions': '2',
  'transaction.state.log.num.partitions': '2',
  'transaction.abort.timed.out.transaction.cleanup.interval.ms': '200',
};

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function restart(server: TestBroker): Promise<TestBroker> {
  await server.stop();
  return startTestBroker({ dataDir: server.dataDir, port: server.port, properties });
}

function kafkaFor(server: TestBroker) {
  return new Kafka({
    brokers: [server.bootstrap],
    clientId: 'txn-restart',
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100 },
  });
}

// Open: its records stay hidden and the last stable offset held.
test('a transaction open across a restart stays open and commits afterwards, offsets included', async () => {
  let server = await startTestBroker({ properties });
  try {
    const kafka = kafkaFor(server);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: 'restart-commit', numPartitions: 1 },
        { topic: 'restart-source', numPartitions: 1 },
      ],
    });
    await admin.disconnect();
    const producer = kafka.producer({ transactionalId: 'restart-commit', maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
    const t = await producer.transaction();
    await t.send({ topic: 'restart-commit', messages: [{ value: 'r1' }, { value: 'r2' }] });
    await t.sendOffsets({
      consumerGroupId: 'restart-group',
      topics: [{ topic: 'restart-source', partitions: [{ partition: 0, offset: '5' }] }],
    });

    server = await restart(server);
    assert.equal(server.broker.transactions.stateOf('restart-commit'), 'Ongoing');
    const during = await readCommitted(server.port, 'restart-commit');
    assert.equal(during.lastStableOffset, 0, 'the open transaction still holds the last stable offset');
    assert.equal(during.highWatermark, 2);
    assert.deepEqual(during.visible, []);
    assert.equal(
      server.broker.groups.fetchOffsets('restart-group', [{ name: 'restart-source', partitions: [0] }]).topics[0]!
        .partitions[0]!.offset,
      -1,
      'pending offsets invisible after the restart too',
    );

    await t.commit(); // kafkajs reconnects to the same address
    assert.equal(server.broker.transactions.stateOf('restart-commit'), 'CompleteCommit');
    const after = await readCommitted(server.port, 'restart-commit');
    assert.deepEqual(after.visible, ['r1', 'r2']);
    assert.equal(after.lastStableOffset, 3);
    assert.equal(
      server.broker.groups.fetchOffsets('restart-group', [{ name: 'restart-source', partitions: [0] }]).topics[0]!
        .partitions[0]!.offset,
      5,
    );
    await producer.disconnect();

    // And once more: everything survives a further restart (markers rebuilt from the log).
    server = await restart(server);
    assert.equal(server.broker.transactions.stateOf('restart-commit'), 'CompleteCommit');
    assert.deepEqual((await readCommitted(server.port, 'restart-commit')).visible, ['r1', 'r2']);
    assert.equal(
      server.broker.groups.fetchOffsets('restart-group', [{ name: 'restart-source', partitions: [0] }]).topics[0]!
        .partitions[0]!.offset,
      5,
    );
  } finally {
    await server.close();
  }
});

// Its records stay hidden.
test('a transaction open across a restart and abandoned is aborted by its timeout', async () => {
  let server = await startTestBroker({ properties });
  try {
    const kafka = kafkaFor(server);
    const producer = kafka.producer({
      transactionalId: 'restart-timeout',
      transactionTimeout: 1500,
      maxInFlightRequests: 1,
      idempotent: true,
    });
    await producer.connect();
    const t = await producer.transaction();
    await t.send({ topic: 'restart-timeout', messages: [{ value: 'lost' }] });
    await producer.disconnect().catch(() => undefined);

    server = await restart(server);
    assert.equal((await readCommitted(server.port, 'restart-timeout')).lastStableOffset, 0);
    await waitFor('the timeout abort', () => server.broker.transactions.stateOf('restart-timeout') === 'CompleteAbort');
    const after = await readCommitted(server.port, 'restart-timeout');
    assert.equal(after.lastStableOffset, 2);
    assert.deepEqual(after.visible, []);

    server = await restart(server);
    const again = await readCommitted(server.port, 'restart-timeout');
    assert.deepEqual(again.visible, [], 'the aborted transaction is rebuilt from the log at open');
    assert.equal(again.lastStableOffset, 2);
  } finally {
    await server.close();
  }
});

test('a commit decided (PrepareCommit stored) whose markers failed is completed when the broker opens', async () => {
  let server = await startTestBroker({ properties });
  try {
    const kafka = kafkaFor(server);
    const producer = kafka.producer({ transactionalId: 'restart-prepare', maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
    const t = await producer.transaction();
    await t.send({ topic: 'restart-prepare', messages: [{ value: 'p1' }] });
    await t.sendOffsets({
      consumerGroupId: 'prepare-group',
      topics: [{ topic: 'restart-prepare', partitions: [{ partition: 0, offset: '1' }] }],
    });
    // The disk refuses markers from now on: the decision is durable, the markers are not.
    const broker = server.broker as unknown as { writeTransactionMarker: () => Promise<void> };
    broker.writeTransactionMarker = async () => {
      throw new Error('simulated disk failure');
    };
    await t.commit();
    assert.equal(server.broker.transactions.stateOf('restart-prepare'), 'PrepareCommit');
    assert.deepEqual((await readCommitted(server.port, 'restart-prepare')).visible, []);
    await producer.disconnect();

    server = await restart(server);
    assert.equal(server.broker.transactions.stateOf('restart-prepare'), 'CompleteCommit');
    assert.deepEqual((await readCommitted(server.port, 'restart-prepare')).visible, ['p1']);
    assert.equal(
      server.broker.groups.fetchOffsets('prepare-group', [{ name: 'restart-prepare', partitions: [0] }]).topics[0]!
        .partitions[0]!.offset,
      1,
    );
  } finally {
    await server.close();
  }
});
