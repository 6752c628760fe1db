// kafkajs 2.2.4 transactions against a real in-process broker: commit and abort across partitions,
// read_committed consumers never seeing aborted or open records (and read_uncommitted ones seeing
// them), sendOffsets consume-transform-produce with exactly-once output across a consumer crash,
// zombie fencing by a second producer with the same transactional id, the transaction timeout, a
// broker restart between AddPartitions and EndTxn, and Describe/ListTransactions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { ApiKey } from '../../src/protocol/generated/index.js';
import { decodeRecordBatches } from '../../src/protocol/record-batch/record-decoder.js';
import { RawClient } from '../support/raw-client.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

const { Kafka, logLevel } = kafkajs;
type KafkaClient = InstanceType<typeof Kafka>;

const properties = {
  'group.initial.rebalance.delay.ms': '100',
  'group.min.session.timeout.ms': '1000',
  'offsets.topic.num.partitions': '3',
  'transaction.state.log.num.partitions': '3',
  'transaction.abort.timed.out.transaction.cleanup.interval.ms': '200',
};
const consumerTimeouts = { sessionTimeout: 4000, rebalanceTimeout: 6000, heartbeatInterval: 300, maxWaitTimeInMs: 200 };

let server: TestBroker;
let kafka: KafkaClient;

function client(bootstrap: string): KafkaClient {
  return new Kafka({
    brokers: [bootstrap],
    clientId: 'kafkajs-txn',
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 50 },
  });
}

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  server = await startTestBroker({ properties });
  kafka = client(server.bootstrap);
});

after(async () => {
  await server.close();
});

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function createTopic(name: string, numPartitions: number, k: KafkaClient = kafka): Promise<void> {
  const admin = k.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: name, numPartitions }] });
  await admin.disconnect();
}

interface RawFetch {
  highWatermark: number;
  lastStableOffset: number;
  aborted: Array<{ producerId: number; firstOffset: number }> | null;
  values: string[];
}

/** One Fetch v11 of a partition, with the isolation level asked for; values of data records only. */
async function fetchRaw(
  port: number,
  topic: string,
  partition: number,
  isolationLevel: 0 | 1,
  fetchOffset = 0,
): Promise<RawFetch> {
  const raw = await RawClient.connect(port);
  try {
    raw.request(ApiKey.Fetch, 11, 1, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 10485760,
      isolationLevel,
      topics: [{ topic, partitions: [{ partition, fetchOffset: BigInt(fetchOffset), partitionMaxBytes: 1048576 }] }],
    });
    const [frame] = await raw.waitForFrames(1);
    const p = RawClient.decode(ApiKey.Fetch, 11, frame!).body.responses[0].partitions[0];
    assert.equal(p.errorCode, 0);
    const values: string[] = [];
    for (const batch of await decodeRecordBatches(p.records)) {
      if (batch.isControl) continue;
      for (const record of batch.records) values.push(record.value?.toString() ?? '');
    }
    return {
      highWatermark: Number(p.highWatermark),
      lastStableOffset: Number(p.lastStableOffset),
      aborted:
        p.abortedTransactions === null
          ? null
          : p.abortedTransactions.map((a: { producerId: bigint; firstOffset: bigint }) => ({
              producerId: Number(a.producerId),
              firstOffset: Number(a.firstOffset),
            })),
      values,
    };
  } finally {
    raw.close();
  }
}

/**
 * Everything a kafkajs consumer (read_committed unless told) gets from `topic` from the beginning, until
 * `quietMs` pass without a message.
 */
async function consumeAll(
  topic: string,
  options: { readUncommitted?: boolean; expect?: number; k?: KafkaClient } = {},
): Promise<string[]> {
  const consumer = (options.k ?? kafka).consumer({
    groupId: `reader-${topic}-${Math.random().toString(36).slice(2)}`,
    readUncommitted: options.readUncommitted ?? false,
    ...consumerTimeouts,
  });
  const received: string[] = [];
  let last = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      received.push(message.value?.toString() ?? '');
      last = Date.now();
    },
  });
  await waitFor(
    `messages of ${topic}`,
    () => (options.expect !== undefined ? received.length >= options.expect : false) || Date.now() - last > 2500,
  );
  if (options.expect !== undefined) await new Promise((r) => setTimeout(r, 500)); // anything more would show up now
  await consumer.disconnect();
  return received;
}

test('commit: records of two partitions appear together, only after the commit', async () => {
  await createTopic('txn-commit', 2);
  const producer = kafka.producer({ transactionalId: 'tx-commit', maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  const transaction = await producer.transaction();
  await transaction.send({
    topic: 'txn-commit',
    messages: [
      { value: 'a0', partition: 0 },
      { value: 'a1', partition: 0 },
    ],
  });
  await transaction.send({ topic: 'txn-commit', messages: [{ value: 'b0', partition: 1 }] });

  const open = await fetchRaw(server.port, 'txn-commit', 0, 1);
  assert.equal(open.highWatermark, 2);
  assert.equal(open.lastStableOffset, 0, 'the open transaction holds the last stable offset at its first record');
  assert.deepEqual(open.values, [], 'read_committed sees nothing of an open transaction');
  assert.deepEqual((await fetchRaw(server.port, 'txn-commit', 0, 0)).values, ['a0', 'a1'], 'read_uncommitted sees it');
  assert.equal(server.broker.transactions.stateOf('tx-commit'), 'Ongoing');

  await transaction.commit();
  assert.equal(server.broker.transactions.stateOf('tx-commit'), 'CompleteCommit');
  const committed = await fetchRaw(server.port, 'txn-commit', 0, 1);
  assert.equal(committed.highWatermark, 3, 'two records and the COMMIT marker');
  assert.equal(committed.lastStableOffset, 3);
  assert.deepEqual(committed.values, ['a0', 'a1']);
  assert.deepEqual(committed.aborted, []);
  assert.deepEqual((await fetchRaw(server.port, 'txn-commit', 1, 1)).values, ['b0']);
  await producer.disconnect();
  assert.deepEqual((await consumeAll('txn-commit', { expect: 3 })).sort(), ['a0', 'a1', 'b0']);
});

test('abort: read_committed consumers (kafkajs) never see aborted records; read_uncommitted ones do', async () => {
  await createTopic('txn-abort', 1);
  const producer = kafka.producer({ transactionalId: 'tx-abort', maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  let t = await producer.transaction();
  await t.send({ topic: 'txn-abort', messages: [{ value: 'kept-1' }] });
  await t.commit();
  t = await producer.transaction();
  await t.send({ topic: 'txn-abort', messages: [{ value: 'aborted-1' }, { value: 'aborted-2' }] });
  await t.send({ topic: 'txn-abort', messages: [{ value: 'aborted-3' }] });
  await t.abort();
  t = await producer.transaction();
  await t.send({ topic: 'txn-abort', messages: [{ value: 'kept-2' }] });
  await t.commit();
  await producer.disconnect();

  const raw = await fetchRaw(server.port, 'txn-abort', 0, 1);
  assert.equal(raw.aborted?.length, 1, 'the aborted transaction is listed');
  assert.equal(raw.aborted![0]!.firstOffset, 2, 'from its first record (offset 2, after kept-1 and its marker)');
  assert.equal(raw.lastStableOffset, raw.highWatermark);
  assert.deepEqual(await consumeAll('txn-abort', { expect: 2 }), ['kept-1', 'kept-2']);
  assert.deepEqual(await consumeAll('txn-abort', { readUncommitted: true, expect: 5 }), [
    'kept-1',
    'aborted-1',
    'aborted-2',
    'aborted-3',
    'kept-2',
  ]);

  const admin = kafka.admin();
  await admin.connect();
  const [uncommittedEnd] = await admin.fetchTopicOffsets('txn-abort');
  await admin.disconnect();
  assert.equal(uncommittedEnd!.high, String(raw.highWatermark));
});

test('ListOffsets: read_committed answers the last stable offset, read_uncommitted the high watermark', async () => {
  await createTopic('txn-list-offsets', 1);
  const producer = kafka.producer({ transactionalId: 'tx-list-offsets', maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  const plain = kafka.producer();
  await plain.connect();
  await plain.send({ topic: 'txn-list-offsets', messages: [{ value: 'p0' }, { value: 'p1' }] });
  await new Promise((r) => setTimeout(r, 10));
  const openedAt = Date.now();
  const t = await producer.transaction();
  await t.send({ topic: 'txn-list-offsets', messages: [{ value: 't0', timestamp: String(openedAt + 5) }] });
  const raw = await RawClient.connect(server.port);
  try {
    // latest: the last stable offset (2) under read_committed, the high watermark (3) otherwise; a time
    // that only the open transaction's record reaches: no answer (-1) under read_committed, as Kafka.
    const cases = [
      [1, -1n, 2n],
      [0, -1n, 3n],
      [1, BigInt(openedAt), -1n],
      [0, BigInt(openedAt), 2n],
    ] as const;
    let correlationId = 0;
    for (const [isolationLevel, timestamp, expected] of cases) {
      correlationId++;
      raw.request(ApiKey.ListOffsets, 2, correlationId, {
        replicaId: -1,
        isolationLevel,
        topics: [{ name: 'txn-list-offsets', partitions: [{ partitionIndex: 0, timestamp }] }],
      });
      const frames = await raw.waitForFrames(correlationId);
      const body = RawClient.decode(ApiKey.ListOffsets, 2, frames[correlationId - 1]!).body;
      assert.equal(
        body.topics[0].partitions[0].offset,
        expected,
        `isolation ${isolationLevel}, timestamp ${timestamp}`,
      );
    }
  } finally {
    raw.close();
  }
  await t.abort();
  await producer.disconnect();
  await plain.disconnect();
});

test('sendOffsets: consume-transform-produce is exactly-once across a consumer crash', async () => {
  await createTopic('ctp-in', 2);
  await createTopic('ctp-out', 1);
  const input = Array.from({ length: 40 }, (_, i) => `m${i}`);
  const plain = kafka.producer();
  await plain.connect();
  await plain.send({ topic: 'ctp-in', messages: input.map((value, i) => ({ value, partition: i % 2 })) });
  await plain.disconnect();

  // One processing instance: read a batch, write its transformation and the batch's offsets in one
  // transaction. `crashAfter` batches in, it writes and sends offsets but dies before the commit.
  async function runInstance(crashAfter: number | null): Promise<void> {
    const consumer = kafka.consumer({ groupId: 'ctp', readUncommitted: false, ...consumerTimeouts });
    const producer = kafka.producer({ transactionalId: 'ctp-processor', maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic: 'ctp-in', fromBeginning: true });
    let batches = 0;
    let crashed = false;
    const seen = new Set<string>();
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        if (crashed || batch.messages.length === 0) return;
        const t = await producer.transaction();
        await t.send({
          topic: 'ctp-out',
          messages: batch.messages.map((m) => ({ value: `out-${m.value!.toString()}` })),
        });
        const next = Number(batch.messages[batch.messages.length - 1]!.offset) + 1;
        await t.sendOffsets({
          consumerGroupId: 'ctp',
          topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(next) }] }],
        });
        batches++;
        if (crashAfter !== null && batches > crashAfter) {
          crashed = true; // dies here: the transaction stays open, its offsets uncommitted
          return;
        }
        await t.commit();
        for (const m of batch.messages) {
          seen.add(m.value!.toString());
          resolveOffset(m.offset);
        }
      },
    });
    if (crashAfter !== null) {
      await waitFor('the crash', () => crashed);
    } else {
      await waitFor(
        'all input processed',
        async () => {
          const out = await fetchRaw(server.port, 'ctp-out', 0, 1);
          return new Set(out.values).size >= input.length;
        },
        30_000,
      );
    }
    await consumer.disconnect();
    // The crashed instance's producer is simply abandoned (no abort): the next instance, with the
    // same transactional id, fences it and its open transaction is aborted.
    if (crashAfter === null) await producer.disconnect();
  }

  await runInstance(0);
  const afterCrash = await fetchRaw(server.port, 'ctp-out', 0, 1);
  assert.deepEqual(afterCrash.values, [], 'nothing of the uncommitted transaction is visible');
  await runInstance(null);

  const output = await consumeAll('ctp-out', { expect: input.length });
  assert.equal(output.length, input.length, 'each input record produced exactly once');
  assert.deepEqual([...output].sort(), input.map((v) => `out-${v}`).sort());
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchOffsets({ groupId: 'ctp', topics: ['ctp-in'] });
  await admin.disconnect();
  assert.deepEqual(offsets[0]!.partitions.map((p) => [p.partition, p.offset]).sort(), [
    [0, '20'],
    [1, '20'],
  ]);
});

test('transactional offsets stay invisible until commit and are dropped on abort', async () => {
  await createTopic('txo-in', 1);
  const producer = kafka.producer({ transactionalId: 'txo', maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  let t = await producer.transaction();
  await t.sendOffsets({
    consumerGroupId: 'txo-group',
    topics: [{ topic: 'txo-in', partitions: [{ partition: 0, offset: '7' }] }],
  });
  const before = server.broker.groups.fetchOffsets('txo-group', [{ name: 'txo-in', partitions: [0] }]);
  assert.equal(before.topics[0]!.partitions[0]!.offset, -1, 'not visible while the transaction is open');
  // OffsetFetch v7 with require_stable (librdkafka's read_committed consumers send it):
  // UNSTABLE_OFFSET_COMMIT while pending.
  const raw = await RawClient.connect(server.port);
  try {
    for (const [correlationId, requireStable] of [
      [1, true],
      [2, false],
    ] as const) {
      raw.request(ApiKey.OffsetFetch, 7, correlationId, {
        groupId: 'txo-group',
        topics: [{ name: 'txo-in', partitionIndexes: [0] }],
        requireStable,
      });
      const frames = await raw.waitForFrames(correlationId);
      const partition = RawClient.decode(ApiKey.OffsetFetch, 7, frames[correlationId - 1]!).body.topics[0]
        .partitions[0];
      assert.deepEqual(
        [partition.errorCode, partition.committedOffset],
        requireStable ? [88, -1n] : [0, -1n],
        `require_stable ${requireStable}`,
      );
    }
  } finally {
    raw.close();
  }
  await t.commit();
  assert.equal(
    server.broker.groups.fetchOffsets('txo-group', [{ name: 'txo-in', partitions: [0] }]).topics[0]!.partitions[0]!
      .offset,
    7,
  );
  t = await producer.transaction();
  await t.sendOffsets({
    consumerGroupId: 'txo-group',
    topics: [{ topic: 'txo-in', partitions: [{ partition: 0, offset: '9' }] }],
  });
  await t.abort();
  assert.equal(
    server.broker.groups.fetchOffsets('txo-group', [{ name: 'txo-in', partitions: [0] }]).topics[0]!.partitions[0]!
      .offset,
    7,
    'aborted offsets are dropped',
  );
  await producer.disconnect();
});

test('zombie fencing: a second producer with the same transactional id aborts and fences the first', async () => {
  await createTopic('txn-zombie', 1);
  const zombie = kafka.producer({
    transactionalId: 'tx-zombie',
    maxInFlightRequests: 1,
    idempotent: true,
    retry: { retries: 1, initialRetryTime: 50 },
  });
  await zombie.connect();
  const zt = await zombie.transaction();
  await zt.send({ topic: 'txn-zombie', messages: [{ value: 'zombie-1' }] });

  const successor = kafka.producer({ transactionalId: 'tx-zombie', maxInFlightRequests: 1, idempotent: true });
  await successor.connect();
  const st = await successor.transaction(); // InitProducerId: bumps the epoch, aborts the zombie's open transaction
  assert.equal(server.broker.transactions.stateOf('tx-zombie'), 'Empty');

  await assert.rejects(zt.send({ topic: 'txn-zombie', messages: [{ value: 'zombie-2' }] }), /epoch|fenced|state/i);
  await assert.rejects(zt.commit(), /epoch|fenced|state/i);

  await st.send({ topic: 'txn-zombie', messages: [{ value: 'successor-1' }] });
  await st.commit();
  await successor.disconnect();
  await zombie.disconnect().catch(() => undefined);
  assert.deepEqual(await consumeAll('txn-zombie', { expect: 1 }), ['successor-1']);
  assert.deepEqual(
    (await fetchRaw(server.port, 'txn-zombie', 0, 0)).values,
    ['zombie-1', 'successor-1'],
    'the zombie record is in the log, aborted',
  );
});

test('InitProducerId: INVALID_TRANSACTION_TIMEOUT above transaction.max.timeout.ms', async () => {
  const producer = kafka.producer({
    transactionalId: 'tx-too-long',
    transactionTimeout: 900_001,
    maxInFlightRequests: 1,
    idempotent: true,
    retry: { retries: 1, initialRetryTime: 50 },
  });
  await producer.connect();
  await assert.rejects(producer.transaction(), /timeout/i); // kafkajs sends InitProducerId here
  await producer.disconnect().catch(() => undefined);
});

test('transaction timeout: an abandoned transaction is aborted and its producer fenced', async () => {
  await createTopic('txn-timeout', 1);
  const producer = kafka.producer({
    transactionalId: 'tx-timeout',
    transactionTimeout: 1000,
    maxInFlightRequests: 1,
    idempotent: true,
    retry: { retries: 1, initialRetryTime: 50 },
  });
  await producer.connect();
  const t = await producer.transaction();
  await t.send({ topic: 'txn-timeout', messages: [{ value: 'abandoned' }] });
  assert.equal((await fetchRaw(server.port, 'txn-timeout', 0, 1)).lastStableOffset, 0);
  await waitFor(
    'the timeout abort',
    () => server.broker.transactions.stateOf('tx-timeout') === 'CompleteAbort',
    10_000,
  );
  const after = await fetchRaw(server.port, 'txn-timeout', 0, 1);
  assert.equal(after.lastStableOffset, 2, 'the ABORT marker released the last stable offset');
  assert.deepEqual(after.values, ['abandoned'], 'returned below the last stable offset ...');
  assert.deepEqual(
    after.aborted?.map((a) => a.firstOffset),
    [0],
    '... and listed as aborted, so the client drops it',
  );
  assert.deepEqual(await consumeAll('txn-timeout'), [], 'a kafkajs read_committed consumer sees nothing');
  await assert.rejects(t.commit(), /epoch|fenced|state/i);
  await producer.disconnect().catch(() => undefined);
});

test('DescribeTransactions and ListTransactions', async () => {
  await createTopic('txn-describe', 2);
  const producer = kafka.producer({ transactionalId: 'tx-describe', maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  const t = await producer.transaction();
  await t.send({ topic: 'txn-describe', messages: [{ value: 'x', partition: 1 }] });
  const raw = await RawClient.connect(server.port);
  try {
    raw.request(ApiKey.DescribeTransactions, 0, 1, { transactionalIds: ['tx-describe', 'no-such-id'] });
    raw.request(ApiKey.ListTransactions, 1, 2, {
      stateFilters: ['Ongoing', 'Nonsense'],
      producerIdFilters: [],
      durationFilter: -1n,
    });
    raw.request(ApiKey.ListTransactions, 0, 3, { stateFilters: [], producerIdFilters: [] });
    const frames = await raw.waitForFrames(3);
    const described = RawClient.decode(ApiKey.DescribeTransactions, 0, frames[0]!).body.transactionStates;
    assert.equal(described[0].errorCode, 0);
    assert.equal(described[0].transactionState, 'Ongoing');
    assert.deepEqual(
      described[0].topics.map((x: { topic: string; partitions: number[] }) => [x.topic, x.partitions]),
      [['txn-describe', [1]]],
    );
    assert.ok(Number(described[0].transactionStartTimeMs) > 0);
    assert.equal(described[1].errorCode, 105, 'TRANSACTIONAL_ID_NOT_FOUND');
    const listed = RawClient.decode(ApiKey.ListTransactions, 1, frames[1]!).body;
    assert.deepEqual(listed.unknownStateFilters, ['Nonsense']);
    assert.deepEqual(
      listed.transactionStates.map((s: { transactionalId: string }) => s.transactionalId),
      ['tx-describe'],
    );
    const all = RawClient.decode(ApiKey.ListTransactions, 0, frames[2]!).body.transactionStates.map(
      (s: { transactionalId: string }) => s.transactionalId,
    );
    assert.ok(all.includes('tx-commit') && all.includes('tx-describe'));
  } finally {
    raw.close();
  }
  await t.abort();
  await producer.disconnect();
});
