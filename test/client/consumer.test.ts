// The consumer with manually assigned partitions against the real broker: ordered parallel
// processing, commits, seeks, retry + dead letters, de-duplication.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';
import { readPartition } from '../support/read-partition.js';
import { Producer } from '../../src/client/producer.js';
import { Consumer, type ConsumedMessage } from '../../src/client/consumer.js';
import { Admin } from '../../src/client/admin.js';
import { MemoryDedupStore } from '../../src/client/dedup.js';
import { DLQ_HEADERS } from '../../src/client/dead-letter.js';
import { jsonSerde, stringSerde } from '../../src/client/serializers.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await delay(10);
  }
}

async function produce(
  broker: TestBroker,
  topic: string,
  messages: Array<{ key: string | null; value: string; partition?: number }>,
): Promise<void> {
  const producer = new Producer<string, string>({
    bootstrap: broker.bootstrap,
    keySerializer: stringSerde.serialize,
    valueSerializer: stringSerde.serialize,
  });
  await producer.sendBatch(topic, messages);
  await producer.close();
}

test('assigned partitions: per-key order with concurrency, commit of finished offsets', async () => {
  const broker = await startTestBroker({ properties: { 'num.partitions': '2' } });
  const admin = new Admin({ bootstrap: broker.bootstrap });
  try {
    await admin.createTopics([{ name: 'orders', partitions: 2 }]);
    const messages = Array.from({ length: 400 }, (_, i) => ({ key: `customer-${i % 20}`, value: String(i) }));
    await produce(broker, 'orders', messages);
    const seen = new Map<string, number[]>();
    let running = 0;
    let peak = 0;
    const consumer = new Consumer<string, string>({
      bootstrap: broker.bootstrap,
      groupId: 'g-assign',
      concurrency: 8,
      autoOffsetReset: 'earliest',
      keyDeserializer: stringSerde.deserialize,
      valueDeserializer: stringSerde.deserialize,
    });
    consumer.assign([
      { topic: 'orders', partition: 0 },
      { topic: 'orders', partition: 1 },
    ]);
    let count = 0;
    await consumer.run(async (message) => {
      running++;
      peak = Math.max(peak, running);
      await delay(Math.random() * 3);
      running--;
      const list = seen.get(message.key!) ?? [];
      list.push(Number(message.value));
      seen.set(message.key!, list);
      count++;
    });
    await until(() => count === 400);
    await consumer.close();
    for (const [key, values] of seen)
      assert.deepEqual(
        values,
        [...values].sort((a, b) => a - b),
        key,
      );
    assert.equal(seen.size, 20);
    assert.ok(peak > 1, `handlers ran in parallel (peak ${peak})`);
    const committed = await admin.fetchOffsets('g-assign', ['orders']);
    const ends = await admin.listOffsets('orders', 'latest');
    assert.deepEqual(committed.map((c) => c.offset).sort(), ends.map((e) => e.offset).sort());
    // A new consumer of the group starts after the committed offsets: nothing is delivered again.
    await produce(broker, 'orders', [{ key: 'customer-1', value: 'late', partition: 0 }]);
    const second = new Consumer<string, string>({
      bootstrap: broker.bootstrap,
      groupId: 'g-assign',
      autoOffsetReset: 'earliest',
      valueDeserializer: stringSerde.deserialize,
    });
    second.assign([
      { topic: 'orders', partition: 0 },
      { topic: 'orders', partition: 1 },
    ]);
    const again: string[] = [];
    await second.run(async (m) => void again.push(m.value!));
    await until(() => again.length === 1);
    await delay(200);
    await second.close();
    assert.deepEqual(again, ['late']);
  } finally {
    await admin.close();
    await broker.close();
  }
});

test('seek to an offset, the beginning, the end, and a timestamp', async () => {
  const broker = await startTestBroker();
  try {
    const producer = new Producer({ bootstrap: broker.bootstrap });
    for (let i = 0; i < 10; i++)
      await producer.send('seek', { value: Buffer.from(String(i)), partition: 0, timestamp: 1_000_000 + i * 10 });
    await producer.close();
    const consumer = new Consumer<Buffer, string>({
      bootstrap: broker.bootstrap,
      valueDeserializer: stringSerde.deserialize,
    });
    try {
      consumer.assign([{ topic: 'seek', partition: 0, offset: 7n }]);
      const got: string[] = [];
      await consumer.run(async (m) => void got.push(m.value!));
      await until(() => got.length === 3);
      assert.deepEqual(got, ['7', '8', '9']);
      consumer.seek({ topic: 'seek', partition: 0 }, 'earliest');
      await until(() => got.length === 13);
      assert.deepEqual(got.slice(3), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      // The first message at or after 1 000 045 ms is offset 5.
      consumer.seek({ topic: 'seek', partition: 0 }, 1_000_045);
      await until(() => got.length === 18);
      assert.deepEqual(got.slice(13), ['5', '6', '7', '8', '9']);
      consumer.seek({ topic: 'seek', partition: 0 }, 'latest');
      await delay(100);
      assert.equal(got.length, 18);
    } finally {
      await consumer.close();
    }
  } finally {
    await broker.close();
  }
});

test('retry then dead-letter: failing messages land in <topic>.DLQ with headers, others are processed', async () => {
  const broker = await startTestBroker();
  try {
    await produce(
      broker,
      'payments',
      Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 5}`, value: String(i), partition: 0 })),
    );
    const attempts = new Map<string, number>();
    const processed: string[] = [];
    const consumer = new Consumer<string, string>({
      bootstrap: broker.bootstrap,
      groupId: 'g-dlq',
      autoOffsetReset: 'earliest',
      concurrency: 4,
      retry: { maxAttempts: 3, backoff: { initialMs: 5, maxMs: 20, jitter: 0.5 } },
      deadLetter: true,
      keyDeserializer: stringSerde.deserialize,
      valueDeserializer: stringSerde.deserialize,
    });
    consumer.assign([{ topic: 'payments', partition: 0 }]);
    await consumer.run(async (m: ConsumedMessage<string, string>) => {
      attempts.set(m.value!, m.attempt);
      if (Number(m.value) % 10 === 3) throw new Error(`cannot pay ${m.value}`);
      processed.push(m.value!);
    });
    await until(() => processed.length === 27);
    const dead = await (async () => {
      for (;;) {
        const records = await readPartition(broker.port, 'payments.DLQ', 0).catch(() => []);
        if (records.length === 3) return records;
        await delay(20);
      }
    })();
    await consumer.close();
    assert.deepEqual(
      dead.map((r) => r.value),
      ['3', '13', '23'],
    );
    assert.deepEqual(
      dead.map((r) => r.key),
      ['k3', 'k3', 'k3'],
    );
    for (const record of dead) {
      assert.equal(record.headers[DLQ_HEADERS.topic], 'payments');
      assert.equal(record.headers[DLQ_HEADERS.partition], '0');
      assert.equal(record.headers[DLQ_HEADERS.offset], record.value);
      assert.equal(record.headers[DLQ_HEADERS.attempts], '3');
      assert.equal(record.headers[DLQ_HEADERS.error], `cannot pay ${record.value}`);
      assert.ok(Number(record.headers[DLQ_HEADERS.timestamp]) > 0);
      assert.equal(attempts.get(record.value!), 3);
    }
    // Messages of the failing key after a dead-lettered one still ran, in order.
    const k3 = processed.filter((v) => Number(v) % 5 === 3).map(Number);
    assert.deepEqual(k3, [8, 18, 28]);
    const admin = new Admin({ bootstrap: broker.bootstrap });
    assert.deepEqual(
      (await admin.fetchOffsets('g-dlq', ['payments'])).map((c) => c.offset),
      [30n],
    );
    await admin.close();
  } finally {
    await broker.close();
  }
});

test('de-duplication skips ids already processed', async () => {
  const broker = await startTestBroker();
  try {
    const producer = new Producer<string, { paymentId: string; amount: number }>({
      bootstrap: broker.bootstrap,
      keySerializer: stringSerde.serialize,
      valueSerializer: jsonSerde<{ paymentId: string; amount: number }>().serialize,
    });
    const sent = Array.from({ length: 60 }, (_, i) => ({
      key: `c${i % 3}`,
      value: { paymentId: `p${i % 20}`, amount: i },
      partition: 0,
    }));
    await producer.sendBatch('pay', sent);
    await producer.close();
    const store = new MemoryDedupStore();
    const handled: string[] = [];
    const skipped: string[] = [];
    const consumer = new Consumer<string, { paymentId: string; amount: number }>({
      bootstrap: broker.bootstrap,
      concurrency: 8,
      autoOffsetReset: 'earliest',
      valueDeserializer: jsonSerde<{ paymentId: string; amount: number }>().deserialize,
      dedup: { id: (m) => m.value!.paymentId, store, onDuplicate: (_m, id) => void skipped.push(id) },
    });
    consumer.assign([{ topic: 'pay', partition: 0 }]);
    await consumer.run(async (m) => {
      await delay(2);
      handled.push(m.value!.paymentId);
    });
    await until(() => handled.length + skipped.length === 60);
    await consumer.close();
    assert.equal(handled.length, 20);
    assert.equal(new Set(handled).size, 20);
    assert.equal(skipped.length, 40);
  } finally {
    await broker.close();
  }
});

test('close() started from inside a handler completes once the handler returns', async () => {
  const broker = await startTestBroker();
  try {
    await produce(broker, 'self-close', [{ key: null, value: 'only', partition: 0 }]);
    const consumer = new Consumer({ bootstrap: broker.bootstrap, autoOffsetReset: 'earliest' });
    consumer.assign([{ topic: 'self-close', partition: 0 }]);
    let closed!: () => void;
    const done = new Promise<void>((resolve) => (closed = resolve));
    const started = Date.now();
    await consumer.run(async () => {
      void consumer.close().then(closed);
    });
    await done;
    assert.ok(Date.now() - started < 5000, `closed in ${Date.now() - started} ms`);
  } finally {
    await broker.close();
  }
});
