// read_committed (the default) hides aborted transactions; read_uncommitted shows them. Transactions
// are written by kafkajs's transactional producer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startTestBroker } from '../support/test-broker.js';
import { Consumer } from '../../src/client/consumer.js';
import { stringSerde } from '../../src/client/serializers.js';

const { Kafka, logLevel } = kafkajs;

async function readAll(
  bootstrap: string,
  isolationLevel: 'read_committed' | 'read_uncommitted',
  expected: number,
): Promise<string[]> {
  const consumer = new Consumer<Buffer, string>({
    bootstrap,
    isolationLevel,
    maxWaitMs: 50,
    valueDeserializer: stringSerde.deserialize,
  });
  const got: string[] = [];
  try {
    consumer.assign([{ topic: 'txn', partition: 0, offset: 'earliest' }]);
    await consumer.run(async (m) => void got.push(m.value!));
    const deadline = Date.now() + 5000;
    while (got.length < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 200));
  } finally {
    await consumer.close();
  }
  return got;
}

test(
  'aborted transactions are skipped by read_committed and shown by read_uncommitted',
  { timeout: 60_000 },
  async () => {
    const broker = await startTestBroker({
      properties: {
        'num.partitions': '1',
        'transaction.state.log.replication.factor': '1',
        'transaction.state.log.min.isr': '1',
      },
    });
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, clientId: 'txn-writer' });
    const producer = kafka.producer({ transactionalId: 'writer-1', idempotent: true, maxInFlightRequests: 1 });
    try {
      await producer.connect();
      for (const [outcome, values] of [
        ['commit', ['c1', 'c2']],
        ['abort', ['a1', 'a2', 'a3']],
        ['commit', ['c3']],
      ] as const) {
        const transaction = await producer.transaction();
        await transaction.send({ topic: 'txn', messages: values.map((value) => ({ value, partition: 0 })) });
        if (outcome === 'commit') await transaction.commit();
        else await transaction.abort();
      }
      const committed = await readAll(broker.bootstrap, 'read_committed', 3);
      assert.deepEqual(committed, ['c1', 'c2', 'c3']);
      const uncommitted = await readAll(broker.bootstrap, 'read_uncommitted', 6);
      assert.deepEqual(uncommitted, ['c1', 'c2', 'a1', 'a2', 'a3', 'c3']);
    } finally {
      await producer.disconnect().catch(() => undefined);
      await broker.close();
    }
  },
);
