// The broker's set of open partitions: one log per partition directory whatever the order of the
// opens asking for it, and producer maintenance that never throws for data not yet flushed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '../../src/protocol/generated/index.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { startTestBroker } from '../support/test-broker.js';

async function idempotentBatch(producerId: number, baseSequence: number): Promise<Buffer> {
  return encodeRecordBatch({
    producerId,
    producerEpoch: 0,
    baseSequence,
    records: [{ value: Buffer.from(`v${baseSequence}`) }],
  });
}

test('two CreatePartitions at once open each new partition once; the larger count wins', async () => {
  const server = await startTestBroker();
  try {
    await server.broker.createTopic('grown', 1, {});
    const [three, five] = await Promise.all([
      server.broker.createPartitions('grown', 3, false),
      server.broker.createPartitions('grown', 5, false),
    ]);
    assert.equal(three.errorCode, ErrorCode.NONE);
    assert.equal(five.errorCode, ErrorCode.NONE);
    assert.equal(server.broker.topics.get('grown')!.partitions, 5);
    const opens = server.logger.lines.filter((line) => line.fields['event'] === 'log-opened');
    for (let partition = 0; partition < 5; partition++) {
      const directory = join(server.dataDir, `grown-${partition}`);
      assert.equal(
        opens.filter((line) => line.fields['directory'] === directory).length,
        1,
        `grown-${partition} opened once`,
      );
    }
  } finally {
    await server.close();
  }
});

for (const policy of ['os', 'interval:60000', 'sync']) {
  test(`producer maintenance with unflushed appends (log.flush.policy=${policy}) snapshots, never throws`, async () => {
    let server = await startTestBroker({ properties: { 'log.flush.policy': policy } });
    const dataDir = server.dataDir;
    try {
      await server.broker.createTopic('kept', 1, {});
      const { producerId } = await server.broker.initProducerId(null, 60_000, -1, -1);
      const batches = [];
      for (const sequence of [0, 1, 2]) batches.push(await idempotentBatch(producerId, sequence));
      // Issued together, so the last ones are appended but not yet flushed when maintenance runs.
      const appended = batches.map((batch) => server.broker.produce('kept', 0, batch));
      const results = await Promise.all(appended);
      for (const result of results) assert.equal(result.errorCode, ErrorCode.NONE, result.errorMessage ?? '');
      // The 10-minute timer's work, run now: under os/interval the flushed offset is still 0.
      await server.broker.partitions.maintainProducers(Date.now());
      assert.ok(readdirSync(join(dataDir, 'kept-0')).some((name) => name.endsWith('.snapshot')));
      await server.stop();
      server = await startTestBroker({ dataDir, properties: { 'log.flush.policy': policy } });
      // The producer's state came back: its next sequence is accepted, a repeat is a duplicate.
      const next = await server.broker.produce('kept', 0, await idempotentBatch(producerId, 3));
      assert.equal(next.errorCode, ErrorCode.NONE, next.errorMessage ?? '');
      assert.equal(next.baseOffset, 3);
      const repeat = await server.broker.produce('kept', 0, await idempotentBatch(producerId, 2));
      assert.equal(repeat.errorCode, ErrorCode.NONE);
      assert.equal(repeat.baseOffset, 2, 'a retried batch gets its original offset');
    } finally {
      await server.close();
    }
  });
}

// Found by the fuzzer, seed 3.
test('a delete called while an earlier delete waits renames the logs before the next open runs', async () => {
  const server = await startTestBroker();
  try {
    const partitions = server.broker.partitions;
    const config = server.broker.logConfigOf({ name: 'raced', id: Buffer.alloc(16, 1), partitions: 1, configs: {} });
    const first = Buffer.alloc(16, 1);
    const second = Buffer.alloc(16, 2);
    const opening = partitions.open('raced', first, 0, 1, config); // an open under way …
    const earlierDelete = partitions.delete('raced'); // … a delete that finds nothing open yet …
    const reopening = partitions.open('raced', second, 0, 1, config); // … and a new topic's open behind it
    await opening;
    // The first topic's log is open now; a second delete hides it at once. The earlier delete, which runs
    // before the new open, must rename it — or the new open finds the old directory with the old topic id.
    const laterDelete = partitions.delete('raced');
    await earlierDelete;
    await reopening;
    assert.deepEqual(partitions.get('raced', 0)?.log.topicId, second, 'the new topic opened its own, empty log');
    assert.equal(partitions.get('raced', 0)?.logEndOffset, 0);
    await laterDelete;
    assert.equal(partitions.get('raced', 0), undefined);
    const leftovers = readdirSync(server.dataDir).filter((name) => name.startsWith('raced-0'));
    assert.ok(
      leftovers.every((name) => name.endsWith('-delete')),
      `only renamed directories: ${leftovers.join(', ')}`,
    );
  } finally {
    await server.close();
  }
});

test('AlterConfigs, CreatePartitions, DeleteTopics, CreateTopics at once: no hole, no stale log', async () => {
  // The fuzzer's find: a CreatePartitions that read the topic before a DeleteTopics forgot it opened
  // logs for the deleted topic, leaving a partition list with holes under its name; an AlterConfigs then
  // walked the holes and failed with UNKNOWN_SERVER_ERROR. Changes to one name now run one at a time.
  const server = await startTestBroker();
  try {
    const broker = server.broker;
    for (let round = 0; round < 30; round++) {
      await broker.createTopic('raced', 3, {});
      const answers = await Promise.all([
        broker.alterTopicConfigs('raced', { 'retention.ms': '60000' }, false),
        broker.createPartitions('raced', 5, false),
        broker.deleteTopic('raced'),
        broker.createTopic('raced', 1, {}),
        broker.alterTopicConfigs('raced', { 'retention.ms': '120000' }, false),
      ]);
      for (const answer of answers)
        assert.ok(
          ([ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.TOPIC_ALREADY_EXISTS] as number[]).includes(
            answer.errorCode,
          ),
          `round ${round}: ${answer.errorCode} ${answer.errorMessage ?? ''}`,
        );
      const topic = broker.topics.get('raced');
      const open = broker.partitions.partitionsOf('raced');
      if (topic === undefined) {
        assert.equal(open.length, 0, `round ${round}: no log of a deleted topic is findable`);
      } else {
        assert.equal(open.length, topic.partitions, `round ${round}: one open log per listed partition`);
        for (const partition of open) assert.deepEqual(partition.log.topicId, topic.id, `round ${round}: its own log`);
      }
      if (topic !== undefined) await broker.deleteTopic('raced');
    }
    assert.deepEqual(
      server.logger.lines.filter((line) => line.level === 'error').map((line) => line.message),
      [],
      'no error logged',
    );
  } finally {
    await server.close();
  }
});
