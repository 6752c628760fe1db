// Broker.createPartitions under concurrency (found by the fuzzer, seed 2: two CreatePartitions of one
// topic in flight at once both passed the count check, then both opened the same new partitions —
// EEXIST on the second segment file, or two logs over one directory). Requests for one topic now run
// one after the other, each checking the count the one before it left, as Kafka's controller does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/generated/index.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { readPartition } from '../support/read-partition.js';
import { startTestBroker } from '../support/test-broker.js';

test('two CreatePartitions of one topic at once: the first grows it, the second sees the new count', async () => {
  const server = await startTestBroker();
  try {
    await server.broker.createTopic('grown', 1, {});
    const [first, second] = await Promise.all([
      server.broker.createPartitions('grown', 3, false),
      server.broker.createPartitions('grown', 3, false),
    ]);
    assert.equal(first.errorCode, ErrorCode.NONE, first.errorMessage ?? '');
    assert.equal(second.errorCode, ErrorCode.INVALID_PARTITIONS);
    assert.match(second.errorMessage ?? '', /currently has 3 partitions/);
    assert.equal(server.broker.topics.get('grown')!.partitions, 3);
    const logs = server.broker.partitions.partitionsOf('grown');
    assert.equal(logs.length, 3);
    assert.equal(new Set(logs).size, 3);

    // Growing twice at once to different counts does both, in call order.
    const [to5, to7] = await Promise.all([
      server.broker.createPartitions('grown', 5, false),
      server.broker.createPartitions('grown', 7, false),
    ]);
    assert.deepEqual([to5.errorCode, to7.errorCode], [ErrorCode.NONE, ErrorCode.NONE]);
    assert.equal(server.broker.partitions.partitionsOf('grown').length, 7);

    // Every new partition takes writes and serves them back.
    for (let partition = 1; partition < 7; partition++) {
      const batch = await encodeRecordBatch({ records: [{ value: Buffer.from(`p${partition}`) }] });
      assert.equal((await server.broker.produce('grown', partition, batch)).errorCode, ErrorCode.NONE);
      const read = await readPartition(server.port, 'grown', partition);
      assert.deepEqual(
        read.map((r) => r.value),
        [`p${partition}`],
      );
    }
  } finally {
    await server.close();
  }
});
