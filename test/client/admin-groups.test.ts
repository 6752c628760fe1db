// Admin of consumer groups, manual commit, pause/resume, and producers noticing new partitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../support/test-broker.js';
import { Admin } from '../../src/client/admin.js';
import { Producer } from '../../src/client/producer.js';
import { Consumer } from '../../src/client/consumer.js';
import { KafkaError } from '../../src/client/errors.js';
import { stringSerde } from '../../src/client/serializers.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await delay(10);
  }
}

test('groups: manual commit, list, describe, reset offsets (earliest, latest, time, explicit), delete', async () => {
  const broker = await startTestBroker({ properties: { 'group.initial.rebalance.delay.ms': '0' } });
  const admin = new Admin({ bootstrap: broker.bootstrap });
  try {
    await admin.createTopics([{ name: 'ledger', partitions: 2 }]);
    const producer = new Producer({ bootstrap: broker.bootstrap });
    const base = 1_600_000_000_000;
    for (let i = 0; i < 10; i++)
      await producer.send('ledger', { value: Buffer.from(String(i)), partition: i % 2, timestamp: base + i * 1000 });
    await producer.close();
    const consumer = new Consumer({
      bootstrap: broker.bootstrap,
      groupId: 'ledger-readers',
      autoCommit: false,
      autoOffsetReset: 'earliest',
      maxWaitMs: 50,
    });
    let seen = 0;
    consumer.subscribe(['ledger']);
    await consumer.run(async () => void seen++);
    await until(() => seen === 10);
    assert.ok(
      (await admin.fetchOffsets('ledger-readers', ['ledger'])).every((o) => o.offset === -1n),
      'nothing committed before commit()',
    );
    await consumer.commit();
    assert.deepEqual(
      (await admin.fetchOffsets('ledger-readers', ['ledger'])).map((o) => o.offset),
      [5n, 5n],
    );
    const listed = await admin.listGroups();
    assert.ok(listed.some((g) => g.groupId === 'ledger-readers' && g.protocolType === 'consumer'));
    const [described] = await admin.describeGroups(['ledger-readers']);
    assert.equal(described!.state, 'Stable');
    assert.equal(described!.members.length, 1);
    // A group with members refuses resets and deletion.
    await assert.rejects(admin.resetOffsets('ledger-readers', 'ledger', 'earliest'), KafkaError);
    await consumer.close();
    assert.deepEqual(
      (await admin.resetOffsets('ledger-readers', 'ledger', 'earliest')).map((t) => t.offset),
      [0n, 0n],
    );
    assert.deepEqual(
      (await admin.fetchOffsets('ledger-readers', ['ledger'])).map((o) => o.offset),
      [0n, 0n],
    );
    // Time: messages at base+4000 (offset 2 of partition 0) and base+5000 (offset 2 of partition 1).
    assert.deepEqual(
      (await admin.resetOffsets('ledger-readers', 'ledger', base + 3500)).map((t) => t.offset),
      [2n, 2n],
    );
    assert.deepEqual(
      (await admin.resetOffsets('ledger-readers', 'ledger', 'latest')).map((t) => t.offset),
      [5n, 5n],
    );
    await admin.resetOffsets('ledger-readers', 'ledger', [{ partition: 1, offset: 3n }]);
    assert.deepEqual(
      (await admin.fetchOffsets('ledger-readers', ['ledger'])).map((o) => o.offset),
      [5n, 3n],
    );
    await admin.deleteGroups(['ledger-readers']);
    assert.ok(!(await admin.listGroups()).some((g) => g.groupId === 'ledger-readers'));
  } finally {
    await admin.close();
    await broker.close();
  }
});

test('pause stops a partition, resume continues it', async () => {
  const broker = await startTestBroker();
  try {
    const producer = new Producer<string, string>({
      bootstrap: broker.bootstrap,
      valueSerializer: stringSerde.serialize,
    });
    await producer.sendBatch(
      'pausable',
      ['a', 'b'].map((value) => ({ value, partition: 0 })),
    );
    const consumer = new Consumer<Buffer, string>({
      bootstrap: broker.bootstrap,
      autoOffsetReset: 'earliest',
      maxWaitMs: 20,
      valueDeserializer: stringSerde.deserialize,
    });
    const got: string[] = [];
    consumer.assign([{ topic: 'pausable', partition: 0 }]);
    await consumer.run(async (m) => void got.push(m.value!));
    await until(() => got.length === 2);
    consumer.pause([{ topic: 'pausable', partition: 0 }]);
    await delay(100);
    await producer.send('pausable', { value: 'c', partition: 0 });
    await delay(200);
    assert.deepEqual(got, ['a', 'b']);
    consumer.resume([{ topic: 'pausable', partition: 0 }]);
    await until(() => got.length === 3);
    assert.deepEqual(got, ['a', 'b', 'c']);
    await consumer.close();
    await producer.close();
  } finally {
    await broker.close();
  }
});

test('a producer starts using new partitions after a metadata refresh', async () => {
  const broker = await startTestBroker();
  const admin = new Admin({ bootstrap: broker.bootstrap });
  const producer = new Producer<string, string>({
    bootstrap: broker.bootstrap,
    metadataMaxAgeMs: 100,
    keySerializer: stringSerde.serialize,
    valueSerializer: stringSerde.serialize,
  });
  try {
    await admin.createTopics([{ name: 'growing', partitions: 1 }]);
    assert.equal((await producer.send('growing', { key: 'x', value: 'v' })).partition, 0);
    await admin.createPartitions('growing', 4);
    await delay(1200);
    const partitions = new Set(
      (
        await producer.sendBatch(
          'growing',
          Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: 'v' })),
        )
      ).map((r) => r.partition),
    );
    assert.equal(partitions.size, 4);
  } finally {
    await producer.close();
    await admin.close();
    await broker.close();
  }
});
