// The Sluice producer's transactions against a real in-process broker: commit visible to
// read_committed readers (ours and kafkajs), abort invisible, sendOffsets committed only with the
// transaction, fencing by a second producer with the same transactional id, and the
// consume-transform-produce helper giving exactly-once output across a crashed (fenced) instance.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';
import { Producer } from '../../src/client/producer.js';
import { Consumer } from '../../src/client/consumer.js';
import { Admin } from '../../src/client/admin.js';
import { stringSerde } from '../../src/client/serializers.js';
import { ProducerFencedError } from '../../src/client/transaction.js';
import { consumeTransformProduce } from '../../src/client/transform.js';
import { ClientOptionError } from '../../src/client/errors.js';

const { Kafka, logLevel } = kafkajs;

const properties = {
  'group.initial.rebalance.delay.ms': '100',
  'group.min.session.timeout.ms': '1000',
  'offsets.topic.num.partitions': '3',
  'transaction.state.log.num.partitions': '3',
};

let server: TestBroker;
let admin: Admin;

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  server = await startTestBroker({ properties });
  admin = new Admin({ bootstrap: server.bootstrap });
});

after(async () => {
  await admin.close();
  await server.close();
});

function txProducer(transactionalId: string): Producer<string, string> {
  return new Producer<string, string>({
    bootstrap: server.bootstrap,
    transactionalId,
    transactionTimeoutMs: 30_000,
    lingerMs: 1,
    retryBackoffMs: 20,
    keySerializer: stringSerde.serialize,
    valueSerializer: stringSerde.serialize,
  });
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Values of `topic` as our consumer sees them from the beginning (read_committed unless told). */
async function readAll(
  topic: string,
  partitions: number,
  isolationLevel: 'read_committed' | 'read_uncommitted' = 'read_committed',
  expected = 0,
): Promise<string[]> {
  const consumer = new Consumer<string, string>({
    bootstrap: server.bootstrap,
    isolationLevel,
    maxWaitMs: 50,
    valueDeserializer: stringSerde.deserialize,
  });
  const got: string[] = [];
  try {
    consumer.assign(
      Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 'earliest' as const })),
    );
    await consumer.run(async (m) => void got.push(m.value!));
    const deadline = Date.now() + 3000;
    while (got.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await consumer.close();
  }
  return got.sort();
}

async function kafkajsReadAll(topic: string, expected: number): Promise<string[]> {
  const kafka = new Kafka({ brokers: [server.bootstrap], clientId: 'reader', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: `kjs-${topic}-${Math.random().toString(36).slice(2)}`,
    readUncommitted: false,
    sessionTimeout: 4000,
    rebalanceTimeout: 6000,
    heartbeatInterval: 300,
    maxWaitTimeInMs: 100,
  });
  const got: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void got.push(message.value?.toString() ?? '') });
  await waitFor(`kafkajs reading ${topic}`, () => got.length >= expected);
  await new Promise((r) => setTimeout(r, 300));
  await consumer.disconnect();
  return got.sort();
}

test(
  'commit: the records of two partitions become visible to read_committed readers (ours and kafkajs)',
  { timeout: 60_000 },
  async () => {
    await admin.createTopics([{ name: 'tx-commit', partitions: 2 }]);
    const producer = txProducer('tx-commit-1');
    try {
      await assert.rejects(
        producer.send('tx-commit', { value: 'outside' }),
        ClientOptionError,
        'sends outside a transaction are refused',
      );
      const result = await producer.transaction(async (tx) => {
        void tx.send('tx-commit', { value: 'a', partition: 0 }); // not awaited: still part of the transaction
        await tx.sendBatch('tx-commit', [
          { value: 'b', partition: 1 },
          { value: 'c', partition: 1 },
        ]);
        return 'done';
      });
      assert.equal(result, 'done');
      assert.deepEqual(await readAll('tx-commit', 2, 'read_committed', 3), ['a', 'b', 'c']);
      assert.deepEqual(await kafkajsReadAll('tx-commit', 3), ['a', 'b', 'c']);
      // A second transaction on the same producer.
      await producer.transaction(async (tx) => void (await tx.send('tx-commit', { value: 'd', partition: 0 })));
      assert.deepEqual(await readAll('tx-commit', 2, 'read_committed', 4), ['a', 'b', 'c', 'd']);
    } finally {
      await producer.close();
    }
  },
);

test(
  'abort: a throwing transaction is aborted, its error rethrown, its records never visible',
  { timeout: 60_000 },
  async () => {
    await admin.createTopics([{ name: 'tx-abort', partitions: 1 }]);
    const producer = txProducer('tx-abort-1');
    try {
      await producer.transaction(async (tx) => void (await tx.send('tx-abort', { value: 'c1' })));
      const boom = new Error('boom');
      await assert.rejects(
        producer.transaction(async (tx) => {
          await tx.sendBatch('tx-abort', [{ value: 'x1' }, { value: 'x2' }]);
          throw boom;
        }),
        (error) => error === boom,
      );
      await producer.transaction(async (tx) => void (await tx.send('tx-abort', { value: 'c2' })));
      assert.deepEqual(await readAll('tx-abort', 1, 'read_committed', 2), ['c1', 'c2']);
      assert.deepEqual(
        await readAll('tx-abort', 1, 'read_uncommitted', 4),
        ['c1', 'c2', 'x1', 'x2'],
        'the aborted records are in the log',
      );
      assert.deepEqual(await kafkajsReadAll('tx-abort', 2), ['c1', 'c2']);
    } finally {
      await producer.close();
    }
  },
);

test(
  'sendOffsets: the group offsets are committed with the transaction, not by an aborted one',
  { timeout: 60_000 },
  async () => {
    await admin.createTopics([
      { name: 'tx-offsets-in', partitions: 2 },
      { name: 'tx-offsets-out', partitions: 1 },
    ]);
    const producer = txProducer('tx-offsets-1');
    try {
      await assert.rejects(
        producer.transaction(async (tx) => {
          await tx.send('tx-offsets-out', { value: 'aborted' });
          await tx.sendOffsets({
            groupId: 'g-offsets',
            offsets: [{ topic: 'tx-offsets-in', partition: 0, offset: 5n }],
          });
          throw new Error('abort it');
        }),
        /abort it/,
      );
      const none = await admin.fetchOffsets('g-offsets', ['tx-offsets-in']);
      assert.ok(
        none.every((o) => o.offset === -1n),
        `no offsets after the abort: ${JSON.stringify(none, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`,
      );
      await producer.transaction(async (tx) => {
        await tx.send('tx-offsets-out', { value: 'committed' });
        await tx.sendOffsets({
          groupId: 'g-offsets',
          offsets: [
            { topic: 'tx-offsets-in', partition: 0, offset: 7n },
            { topic: 'tx-offsets-in', partition: 1, offset: 3n },
          ],
        });
      });
      const committed = await admin.fetchOffsets('g-offsets', ['tx-offsets-in']);
      assert.deepEqual(committed.map((o) => [o.partition, o.offset]).sort(), [
        [0, 7n],
        [1, 3n],
      ]);
      assert.deepEqual(await readAll('tx-offsets-out', 1, 'read_committed', 1), ['committed']);
    } finally {
      await producer.close();
    }
  },
);

test(
  'fencing: a second producer with the same transactional id fences the first, which reports ProducerFencedError',
  { timeout: 60_000 },
  async () => {
    await admin.createTopics([{ name: 'tx-fence', partitions: 1 }]);
    const first = txProducer('tx-fence-1');
    const second = txProducer('tx-fence-1');
    try {
      await first.transaction(async (tx) => void (await tx.send('tx-fence', { value: 'first-1' })));
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const open = first.transaction(async (tx) => {
        await tx.send('tx-fence', { value: 'zombie' });
        await held;
        await tx.send('tx-fence', { value: 'zombie-2' });
      });
      open.catch(() => undefined);
      await second.connect(); // InitProducerId: epoch + 1, the open transaction of `first` is aborted
      release();
      await assert.rejects(open, ProducerFencedError);
      await assert.rejects(
        first.transaction(async () => undefined),
        ProducerFencedError,
        'a fenced producer stays unusable',
      );
      await second.transaction(async (tx) => void (await tx.send('tx-fence', { value: 'second-1' })));
      assert.deepEqual(await readAll('tx-fence', 1, 'read_committed', 2), ['first-1', 'second-1']);
    } finally {
      await first.close();
      await second.close();
    }
  },
);

test(
  'consume-transform-produce: exactly-once output although the first instance hangs and is fenced mid-transaction',
  { timeout: 90_000 },
  async () => {
    await admin.createTopics([
      { name: 'ctp-in', partitions: 1 },
      { name: 'ctp-out', partitions: 1 },
    ]);
    const input = new Producer<string, string>({ bootstrap: server.bootstrap, valueSerializer: stringSerde.serialize });
    await input.sendBatch(
      'ctp-in',
      Array.from({ length: 20 }, (_, i) => ({ value: `m${i}` })),
    );
    await input.close();

    const groupId = 'ctp-group';
    const consumerOptions = {
      bootstrap: server.bootstrap,
      groupId,
      autoOffsetReset: 'earliest' as const,
      autoCommit: false,
      maxWaitMs: 50,
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 300,
      valueDeserializer: stringSerde.deserialize,
    };
    const done = new Set<string>();
    let release!: () => void;
    const hang = new Promise<void>((resolve) => (release = resolve));
    let hung = false;
    const fencedErrors: unknown[] = [];

    const consumer1 = new Consumer<Buffer, string>(consumerOptions);
    const producer1 = txProducer('ctp-app');
    consumer1.subscribe(['ctp-in']);
    await consumeTransformProduce({
      consumer: consumer1,
      producer: producer1,
      groupId,
      onFenced: (error) => fencedErrors.push(error),
      transform: async (message, tx) => {
        await tx.send('ctp-out', { value: message.value!.toUpperCase() });
        if (message.offset === 10n) {
          hung = true;
          await hang; // the instance "crashes" here, its transaction open
        }
        done.add(message.value!);
      },
    });
    await waitFor('the first instance to reach m10', () => hung);

    // A replacement instance with the same transactional id fences the stuck one.
    const producer2 = txProducer('ctp-app');
    await producer2.connect();
    release(); // the zombie wakes up: its sendOffsets / commit is refused, and it closes its consumer
    await waitFor('the zombie to notice it is fenced', () => fencedErrors.length > 0);
    assert.ok(fencedErrors[0] instanceof ProducerFencedError);

    const consumer2 = new Consumer<Buffer, string>(consumerOptions);
    consumer2.subscribe(['ctp-in']);
    let last = '';
    await consumeTransformProduce({
      consumer: consumer2,
      producer: producer2,
      groupId,
      transform: async (message, tx) => {
        await tx.send('ctp-out', { value: message.value!.toUpperCase() });
        last = message.value!;
      },
    });
    try {
      await waitFor('the second instance to finish', () => last === 'm19', 30_000);
      const expected = Array.from({ length: 20 }, (_, i) => `M${i}`).sort();
      assert.deepEqual(await readAll('ctp-out', 1, 'read_committed', 20), expected, 'every input exactly once');
      assert.deepEqual(await kafkajsReadAll('ctp-out', 20), expected);
      const uncommitted = await readAll('ctp-out', 1, 'read_uncommitted', 21);
      assert.ok(
        uncommitted.filter((v) => v === 'M10').length >= 2,
        'the zombie wrote M10 too, in its aborted transaction',
      );
      const offsets = await admin.fetchOffsets(groupId, ['ctp-in']);
      assert.deepEqual(
        offsets.map((o) => o.offset),
        [20n],
      );
    } finally {
      await consumer2.close();
      await consumer1.close();
      await producer2.close();
      await producer1.close();
    }
  },
);
