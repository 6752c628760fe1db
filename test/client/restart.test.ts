// A consumer in a group keeps going when the broker restarts under it: it reconnects, finds the
// coordinator again, and every message is delivered (at least once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';
import { Producer } from '../../src/client/producer.js';
import { Consumer } from '../../src/client/consumer.js';
import { stringSerde } from '../../src/client/serializers.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const properties = {
  'group.initial.rebalance.delay.ms': '0',
  'group.min.session.timeout.ms': '500',
  'num.partitions': '2',
};

test('a group consumer survives a broker restart', { timeout: 60_000 }, async () => {
  let broker: TestBroker = await startTestBroker({ properties });
  const { port, dataDir } = broker;
  const seen = new Set<string>();
  const consumer = new Consumer<Buffer, string>({
    bootstrap: broker.bootstrap,
    groupId: 'survivors',
    autoOffsetReset: 'earliest',
    maxWaitMs: 50,
    heartbeatIntervalMs: 100,
    sessionTimeoutMs: 5000,
    autoCommitIntervalMs: 100,
    retryBackoffMs: 50,
    requestTimeoutMs: 3000,
    valueDeserializer: stringSerde.deserialize,
  });
  try {
    const send = async (from: number) => {
      const producer = new Producer<string, string>({
        bootstrap: broker.bootstrap,
        keySerializer: stringSerde.serialize,
        valueSerializer: stringSerde.serialize,
      });
      await producer.sendBatch(
        'restarts',
        Array.from({ length: 100 }, (_, i) => ({ key: `k${i % 10}`, value: String(from + i) })),
      );
      await producer.close();
    };
    await send(0);
    consumer.subscribe(['restarts']);
    await consumer.run(async (m) => void seen.add(m.value!));
    const until = async (n: number) => {
      const deadline = Date.now() + 30_000;
      while (seen.size < n && Date.now() < deadline) await delay(20);
      assert.equal(seen.size, n);
    };
    await until(100);
    await broker.stop();
    await delay(500);
    broker = await startTestBroker({ port, dataDir, properties });
    await send(100);
    await until(200);
  } finally {
    await consumer.close({ timeoutMs: 2000 });
    await broker.close();
  }
});
