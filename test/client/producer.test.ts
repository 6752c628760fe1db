// The producer against the real broker: results, partitioning, batching, compression, buffer bounds,
// idempotent ordering, and delivery across a broker restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../support/test-broker.js';
import { readPartition } from '../support/read-partition.js';
import { Producer, type CompressionName } from '../../src/client/producer.js';
import { jsonSerde, stringSerde } from '../../src/client/serializers.js';
import { keyPartition } from '../../src/client/partitioners.js';
import { BufferFullError, ClientOptionError, KafkaError, RequestTimeoutError } from '../../src/client/errors.js';
import { Admin } from '../../src/client/admin.js';

test('send and sendBatch return partition and offset; keys, headers, timestamps and nulls arrive', async () => {
  const broker = await startTestBroker({ properties: { 'num.partitions': '4' } });
  const producer = new Producer<string, { n: number }>({
    bootstrap: broker.bootstrap,
    keySerializer: stringSerde.serialize,
    valueSerializer: jsonSerde<{ n: number }>().serialize,
  });
  try {
    const first = await producer.send('orders', {
      key: 'customer-1',
      value: { n: 1 },
      headers: { source: 'test', bin: Buffer.from([1, 2]) },
      timestamp: 1_700_000_000_000,
    });
    assert.equal(first.topic, 'orders');
    assert.equal(first.partition, keyPartition(Buffer.from('customer-1'), 4));
    assert.equal(first.offset, 0n);
    assert.equal(first.timestamp, 1_700_000_000_000);
    const many = await producer.sendBatch(
      'orders',
      Array.from({ length: 20 }, (_, n) => ({ key: 'customer-1', value: { n: n + 2 } })),
    );
    assert.deepEqual(
      many.map((r) => r.offset),
      Array.from({ length: 20 }, (_, n) => BigInt(n + 1)),
    );
    const tombstone = await producer.send('orders', { key: 'customer-1', value: null });
    assert.equal(tombstone.offset, 21n);
    const records = await readPartition(broker.port, 'orders', first.partition);
    assert.equal(records.length, 22);
    assert.equal(records[0]!.key, 'customer-1');
    assert.deepEqual(JSON.parse(records[0]!.value!), { n: 1 });
    assert.equal(records[0]!.headers.source, 'test');
    assert.deepEqual(
      records.slice(1, 21).map((r) => JSON.parse(r.value!).n),
      Array.from({ length: 20 }, (_, n) => n + 2),
    );
    assert.equal(records[21]!.value, null);
    const unkeyed = await producer.send('orders', { value: { n: 0 } });
    assert.ok(unkeyed.partition >= 0 && unkeyed.partition < 4);
  } finally {
    await producer.close();
    await broker.close();
  }
});

test('explicit partitions, custom selectors and sticky unkeyed batches', async () => {
  const broker = await startTestBroker({ properties: { 'num.partitions': '6' } });
  // Every message of one order id to one partition, chosen by the application.
  const producer = new Producer<string, string>({
    bootstrap: broker.bootstrap,
    lingerMs: 50,
    keySerializer: stringSerde.serialize,
    valueSerializer: stringSerde.serialize,
  });
  const bySelector = new Producer<string, string>({
    bootstrap: broker.bootstrap,
    keySerializer: stringSerde.serialize,
    valueSerializer: stringSerde.serialize,
    partitioner: (message, partitionCount) => Number(message.value!.split(':')[0]) % partitionCount,
  });
  try {
    const explicit = await producer.send('p', { value: 'x', partition: 5 });
    assert.equal(explicit.partition, 5);
    await assert.rejects(producer.send('p', { value: 'x', partition: 6 }), ClientOptionError);
    const selected = await bySelector.sendBatch(
      'p',
      ['7:a', '8:b', '13:c'].map((value) => ({ key: 'ignored', value })),
    );
    assert.deepEqual(
      selected.map((r) => r.partition),
      [1, 2, 1],
    );
    // Unkeyed messages sent together fill one batch on one partition.
    const sticky = await producer.sendBatch(
      'p',
      Array.from({ length: 50 }, (_, i) => ({ value: `v${i}` })),
    );
    assert.equal(new Set(sticky.map((r) => r.partition)).size, 1);
  } finally {
    await producer.close();
    await bySelector.close();
    await broker.close();
  }
});

test('every compression codec round-trips', async () => {
  const broker = await startTestBroker();
  try {
    for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as CompressionName[]) {
      const producer = new Producer<string, string>({
        bootstrap: broker.bootstrap,
        compression,
        keySerializer: stringSerde.serialize,
        valueSerializer: stringSerde.serialize,
      });
      const values = Array.from({ length: 100 }, (_, i) => `${compression}-${i}-${'x'.repeat(i)}`);
      const results = await producer.sendBatch(
        `c-${compression}`,
        values.map((value) => ({ key: 'k', value, headers: { codec: compression } })),
      );
      await producer.close();
      const records = await readPartition(broker.port, `c-${compression}`, results[0]!.partition);
      assert.deepEqual(
        records.map((r) => r.value),
        values,
        compression,
      );
      assert.equal(records[99]!.headers.codec, compression);
    }
  } finally {
    await broker.close();
  }
});

test('a full buffer fails or waits, by option', async () => {
  const broker = await startTestBroker();
  try {
    const failing = new Producer({
      bootstrap: broker.bootstrap,
      bufferBytesMax: 1000,
      bufferFullAction: 'fail',
      lingerMs: 200,
    });
    await failing.connect();
    const sends = Array.from({ length: 5 }, () => failing.send('buffer', { value: Buffer.alloc(400) }));
    const settled = await Promise.allSettled(sends);
    assert.ok(settled.some((s) => s.status === 'rejected' && s.reason instanceof BufferFullError));
    assert.ok(settled.some((s) => s.status === 'fulfilled'));
    await failing.close();
    const waiting = new Producer({ bootstrap: broker.bootstrap, bufferBytesMax: 1000, lingerMs: 5 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => waiting.send('buffer', { value: Buffer.alloc(400, i), partition: 0 })),
    );
    assert.equal(results.length, 20);
    await waiting.close();
  } finally {
    await broker.close();
  }
});

test('sendBatch calls not awaited land in call order, whether they waited for metadata or not', async () => {
  const broker = await startTestBroker();
  const producer = new Producer<string, string>({
    bootstrap: broker.bootstrap,
    lingerMs: 2,
    batchBytes: 3000,
    valueSerializer: stringSerde.serialize,
  });
  try {
    await producer.connect();
    const calls: Array<Promise<Array<{ offset: bigint }>>> = [];
    const call = (n: number) =>
      calls.push(
        producer.sendBatch(
          'in-order',
          Array.from({ length: 100 }, (_, i) => ({ value: `${n}:${i}`, partition: 0 })),
        ),
      );
    // The first calls wait for the topic's metadata; the later ones, made once it is known, append at once.
    for (let n = 0; n < 10; n++) call(n);
    await calls[0];
    for (let n = 10; n < 20; n++) call(n);
    const results = await Promise.all(calls);
    results.forEach((offsets, n) =>
      assert.deepEqual(
        offsets.map((r) => r.offset),
        Array.from({ length: 100 }, (_, i) => BigInt(n * 100 + i)),
        `call ${n}`,
      ),
    );
    const values = (await readPartition(broker.port, 'in-order', 0)).map((r) => r.value);
    assert.deepEqual(
      values,
      Array.from({ length: 2000 }, (_, k) => `${Math.floor(k / 100)}:${k % 100}`),
    );
  } finally {
    await producer.close();
    await broker.close();
  }
});

test('options are validated with clear messages', () => {
  assert.throws(() => new Producer({ acks: 1 }), /idempotent producer needs acks=-1/);
  assert.throws(() => new Producer({ lingerMs: -1 }), /lingerMs must be an integer/);
  assert.throws(() => new Producer({ compression: 'brotli' as CompressionName }), /compression must be one of/);
  assert.throws(() => new Producer({ bootstrap: 'nohost' }), /host:port/);
});

test('idempotent producer keeps per-partition order with 5 in flight, and survives a broker restart', async () => {
  let broker = await startTestBroker({ properties: { 'num.partitions': '2' } });
  const { port, dataDir } = broker;
  const producer = new Producer<string, string>({
    bootstrap: broker.bootstrap,
    lingerMs: 1,
    batchBytes: 2000,
    retries: 20,
    retryBackoffMs: 50,
    requestTimeoutMs: 2000,
    keySerializer: stringSerde.serialize,
    valueSerializer: stringSerde.serialize,
  });
  try {
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; i < 3000; i++) {
      sends.push(producer.send('ordered', { key: `k${i % 2}`, value: String(i) }));
      if (i === 1500) {
        await broker.stop();
        setTimeout(() => {
          void startTestBroker({ port, dataDir, properties: { 'num.partitions': '2' } }).then((b) => (broker = b));
        }, 300);
      }
      if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(sends);
    for (const key of ['k0', 'k1']) {
      const partition = keyPartition(Buffer.from(key), 2);
      const values = (await readPartition(port, 'ordered', partition))
        .filter((r) => r.key === key)
        .map((r) => Number(r.value));
      const expected = Array.from({ length: 3000 }, (_, i) => i).filter((i) => i % 2 === Number(key[1]));
      assert.deepEqual(values, expected, `order and exactly-once for ${key}`);
    }
  } finally {
    await producer.close();
    await broker.close();
  }
});

test('a message that cannot be delivered fails after deliveryTimeoutMs', async () => {
  const broker = await startTestBroker({ properties: { 'auto.create.topics.enable': 'false' } });
  const producer = new Producer({
    bootstrap: broker.bootstrap,
    deliveryTimeoutMs: 300,
    retries: 1000,
    retryBackoffMs: 20,
  });
  const admin = new Admin({ bootstrap: broker.bootstrap });
  try {
    await admin.createTopics([{ name: 'doomed', partitions: 1 }]);
    await producer.send('doomed', { value: Buffer.from('first') });
    await admin.deleteTopics(['doomed']);
    const started = Date.now();
    await assert.rejects(
      producer.send('doomed', { value: Buffer.from('second'), partition: 0 }),
      (error: unknown) =>
        error instanceof RequestTimeoutError ||
        (error instanceof KafkaError && error.type === 'UNKNOWN_TOPIC_OR_PARTITION'),
    );
    assert.ok(Date.now() - started < 5000);
  } finally {
    await producer.close();
    await admin.close();
    await broker.close();
  }
});
