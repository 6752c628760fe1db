// Idempotent produce under load: many sendBatch calls in flight at once over several partitions, in
// every codec. The producer must reach the broker with each partition's sequence numbers in order
// (the broker refuses a gap with OUT_OF_ORDER_SEQUENCE_NUMBER), so every call succeeds and each
// partition holds its messages exactly once, in the order they were sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../support/test-broker.js';
import { readPartition } from '../support/read-partition.js';
import { Producer, type CompressionName } from '../../src/client/producer.js';
import { stringSerde } from '../../src/client/serializers.js';
import { Admin } from '../../src/client/admin.js';
import { keyPartition } from '../../src/client/partitioners.js';

const PARTITIONS = 4;
const CALLS = 200;
const PER_CALL = 50;

/** Odd calls name partitions unevenly, even ones leave it to the key's hash: requests carry different
 *  partition sets and take different times to encode. */
function partitionOf(call: number, i: number): number {
  return call % 2 === 1 ? (call * 7 + i * (call % 3)) % PARTITIONS : keyPartition(Buffer.from(`k${i}`), PARTITIONS);
}

for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as CompressionName[]) {
  // The CALLS calls are spread over PARTITIONS partitions.
  test(`idempotent ${compression}: ${CALLS} concurrent sendBatch calls all succeed, in order, once`, async () => {
    const broker = await startTestBroker();
    const admin = new Admin({ bootstrap: broker.bootstrap });
    const producer = new Producer<string, string>({
      bootstrap: broker.bootstrap,
      compression,
      lingerMs: 1,
      keySerializer: stringSerde.serialize,
      valueSerializer: stringSerde.serialize,
    });
    try {
      await admin.connect();
      await admin.createTopics([{ name: 'ordered', partitions: PARTITIONS }]);
      const calls: Promise<unknown>[] = [];
      for (let call = 0; call < CALLS; call++) {
        const messages = Array.from({ length: PER_CALL }, (_, i) => ({
          key: `k${i}`,
          value: `${call}:${i}`.padEnd(200, '.'),
          ...(call % 2 === 1 ? { partition: partitionOf(call, i) } : {}),
        }));
        calls.push(producer.sendBatch('ordered', messages));
      }
      const results = await Promise.allSettled(calls);
      const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.deepEqual(
        failures.slice(0, 3).map((f) => String(f.reason)),
        [],
        `${failures.length} of ${CALLS} calls failed`,
      );
      let total = 0;
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const values = (await readPartition(broker.port, 'ordered', partition)).map((r) => r.value!);
        total += values.length;
        const expected: string[] = [];
        for (let call = 0; call < CALLS; call++)
          for (let i = 0; i < PER_CALL; i++)
            if (partitionOf(call, i) === partition) expected.push(`${call}:${i}`.padEnd(200, '.'));
        assert.deepEqual(values, expected, `partition ${partition}: the messages in send order, each once`);
      }
      assert.equal(total, CALLS * PER_CALL);
    } finally {
      await producer.close();
      await admin.close();
      await broker.close();
    }
  });
}
