// A topic's life: deleted and created again at once it gets fresh, empty logs (its old directories are
// renamed `<topic>-<partition>.<uuid>-delete` and removed in the background); a deletion a stop
// interrupted is finished at the next start; directories left behind make CreateTopics and
// CreatePartitions answer an error code, never throw; fetches parked on a deleted topic end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { ErrorCode } from '../../src/protocol/generated/index.js';
import { decodeRecordBatches } from '../../src/protocol/record-batch/record-decoder.js';
import { TopicRegistry } from '../../src/broker/topic-registry.js';
import { isDeletedPartitionDirectoryName } from '../../src/storage/deleted-directories.js';
import { makeBatch } from '../storage/helpers.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

const { Kafka, logLevel } = kafkajs;

async function produce(server: TestBroker, topic: string, value: string, partition = 0) {
  const result = await server.broker.produce(topic, partition, makeBatch([{ key: null, value: Buffer.from(value) }]));
  assert.equal(result.errorCode, ErrorCode.NONE, result.errorMessage ?? '');
  return result.baseOffset;
}

async function values(server: TestBroker, topic: string, partition = 0): Promise<string[]> {
  const [result] = await server.broker.fetch([{ topic, partition, fetchOffset: 0, partitionMaxBytes: 1 << 20 }], {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
  });
  assert.equal(result!.errorCode, ErrorCode.NONE, result!.errorMessage ?? '');
  const batches = await decodeRecordBatches(result!.records);
  return batches.flatMap((batch) => batch.records.map((record) => record.value!.toString()));
}

function deleteDirectories(dataDir: string): string[] {
  return readdirSync(dataDir).filter(isDeletedPartitionDirectoryName);
}

test('deleted and created again at once (no await between): the new topic is empty, 50 rounds', async () => {
  const server = await startTestBroker({ properties: { 'num.partitions': '2' } });
  try {
    await server.broker.createTopic('again', 2, {});
    for (let round = 0; round < 50; round++) {
      // Auto-creation by Metadata, or CreateTopics, racing the deletion of the previous incarnation.
      await produce(server, 'again', `round-${round}`, round % 2);
      const deleted = server.broker.deleteTopic('again');
      const created =
        round % 2 === 0 ? server.broker.topicForMetadata('again', true) : server.broker.createTopic('again', 2, {});
      const [deleteResult, createResult] = await Promise.all([deleted, created]);
      assert.equal(deleteResult.errorCode, ErrorCode.NONE, deleteResult.errorMessage ?? '');
      assert.equal(createResult.errorCode, ErrorCode.NONE, `round ${round}: ${createResult.errorMessage}`);
      assert.deepEqual(await values(server, 'again', 0), [], `round ${round}: partition 0 is empty`);
      assert.deepEqual(await values(server, 'again', 1), [], `round ${round}: partition 1 is empty`);
      await produce(server, 'again', `fresh-${round}`);
      assert.deepEqual(await values(server, 'again', 0), [`fresh-${round}`]);
      assert.ok(!existsSync(join(server.dataDir, 'again-2')));
    }
  } finally {
    await server.close();
  }
});

test('a deleted partition directory is renamed <topic>-<p>.<uuid>-delete, removed after the delay', async () => {
  const server = await startTestBroker({ properties: { 'log.segment.delete.delay.ms': '300' } });
  try {
    await server.broker.createTopic('gone', 1, {});
    await produce(server, 'gone', 'old');
    assert.equal((await server.broker.deleteTopic('gone')).errorCode, ErrorCode.NONE);
    assert.ok(!existsSync(join(server.dataDir, 'gone-0')));
    const renamed = deleteDirectories(server.dataDir);
    assert.equal(renamed.length, 1);
    assert.match(renamed[0]!, /^gone-0\.[0-9a-f]{32}-delete$/);
    assert.ok(readdirSync(join(server.dataDir, renamed[0]!)).some((name) => name.endsWith('.log')));
    await server.broker.partitions.deletedDirectoriesRemoved();
    assert.deepEqual(deleteDirectories(server.dataDir), []);
  } finally {
    await server.close();
  }
});

test('a long topic name is cut so the -delete name fits 255 bytes', async () => {
  const server = await startTestBroker({ properties: { 'log.segment.delete.delay.ms': '60000' } });
  try {
    const name = 'n'.repeat(249);
    await server.broker.createTopic(name, 1, {});
    assert.equal((await server.broker.deleteTopic(name)).errorCode, ErrorCode.NONE);
    const [renamed] = deleteDirectories(server.dataDir);
    assert.equal(renamed!.length, 255);
    assert.ok(renamed!.endsWith('-delete') && renamed!.startsWith('nnnn'));
  } finally {
    await server.close();
  }
});

test('at start, -delete directories left behind are removed and never opened as partitions', async () => {
  let server = await startTestBroker({ properties: { 'log.segment.delete.delay.ms': '600000' } });
  const dataDir = server.dataDir;
  try {
    await server.broker.createTopic('left', 1, {});
    await produce(server, 'left', 'old');
    await server.broker.deleteTopic('left');
    // One more, as a kill -9 between the rename and the removal of an older broker could leave it.
    mkdirSync(join(dataDir, 'other-3.0123456789abcdef0123456789abcdef-delete'));
    writeFileSync(join(dataDir, 'other-3.0123456789abcdef0123456789abcdef-delete', '00000000000000000000.log'), 'x');
    await server.stop();
    assert.equal(deleteDirectories(dataDir).length, 2, 'a removal waiting out its delay is not run at close');
    server = await startTestBroker({ dataDir });
    await server.broker.partitions.deletedDirectoriesRemoved();
    assert.deepEqual(deleteDirectories(dataDir), []);
    assert.equal(server.broker.topics.get('left'), undefined);
    assert.equal(server.broker.topics.get('other'), undefined);
    assert.ok(server.logger.lines.some((line) => line.message === 'removing partition directories of deleted topics'));
  } finally {
    await server.close();
  }
});

test('a deletion interrupted before its directories were renamed is finished at the next start', async () => {
  let server = await startTestBroker();
  const dataDir = server.dataDir;
  try {
    await server.broker.createTopic('half-done', 2, {});
    await produce(server, 'half-done', 'old', 0);
    await produce(server, 'half-done', 'old', 1);
    await server.stop();
    // What a kill -9 right after topics.json was written (the deletion's commit point) leaves:
    // the topic listed as deleting, its directories still under their old names.
    await (await TopicRegistry.open(dataDir)).delete('half-done');
    assert.ok(existsSync(join(dataDir, 'half-done-0')));
    server = await startTestBroker({ dataDir });
    assert.ok(!existsSync(join(dataDir, 'half-done-0')) && !existsSync(join(dataDir, 'half-done-1')));
    assert.equal((await TopicRegistry.open(dataDir)).deletions().length, 0, 'the deletion is recorded as finished');
    assert.equal((await server.broker.createTopic('half-done', 2, {})).errorCode, ErrorCode.NONE);
    assert.deepEqual(await values(server, 'half-done', 0), []);
    assert.deepEqual(await values(server, 'half-done', 1), []);
    await server.broker.partitions.deletedDirectoriesRemoved();
    assert.deepEqual(deleteDirectories(dataDir), []);
  } finally {
    await server.close();
  }
});

test("another topic's directory in the way: CreateTopics/CreatePartitions fail, the connection stays", async () => {
  const server = await startTestBroker();
  const kafka = new Kafka({ brokers: [server.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // A stray partition directory, not the broker's (copied in by hand, say), under the names to come.
    await server.broker.createTopic('stray-source', 1, {});
    await produce(server, 'stray-source', 'someone else');
    const { cpSync } = await import('node:fs');
    cpSync(join(server.dataDir, 'stray-source-0'), join(server.dataDir, 'clash-1'), { recursive: true });
    cpSync(join(server.dataDir, 'stray-source-0'), join(server.dataDir, 'grow-2'), { recursive: true });

    await assert.rejects(
      admin.createTopics({ topics: [{ topic: 'clash', numPartitions: 3 }] }),
      (error: Error & { errors?: { type?: string; message: string }[] }) =>
        // INCONSISTENT_TOPIC_ID (103), newer than kafkajs 2.2.4 knows.
        /INCONSISTENT_TOPIC_ID|error code 103/.test(JSON.stringify(error.errors?.map((e) => [e.type, e.message]))),
    );
    assert.equal(server.broker.topics.get('clash'), undefined, 'the topic was not created');
    assert.ok(!existsSync(join(server.dataDir, 'clash-0')), 'what the failed create made is gone');
    assert.ok(existsSync(join(server.dataDir, 'clash-1', '00000000000000000000.log')), 'the stray data is kept');

    assert.equal(await admin.createTopics({ topics: [{ topic: 'grow', numPartitions: 1 }] }), true);
    await assert.rejects(
      admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 4 }] }),
      /INCONSISTENT_TOPIC_ID|error code 103|topic id/i,
    );
    assert.equal(server.broker.topics.get('grow')!.partitions, 1);
    assert.ok(!existsSync(join(server.dataDir, 'grow-1')) && !existsSync(join(server.dataDir, 'grow-3')));
    // Same connection, still served.
    assert.ok((await admin.listTopics()).includes('grow'));
  } finally {
    await admin.disconnect();
    await server.close();
  }
});

test('DeleteTopics refuses the broker’s internal topics', async () => {
  const server = await startTestBroker();
  try {
    for (const name of ['__sluice_half', '__sluice_half_op']) {
      const result = await server.broker.deleteTopic(name);
      assert.equal(result.errorCode, ErrorCode.INVALID_REQUEST, name);
      assert.ok(server.broker.topics.get(name));
    }
  } finally {
    await server.close();
  }
});

test('a fetch parked on a deleted topic ends at once with UNKNOWN_TOPIC_OR_PARTITION', async () => {
  const server = await startTestBroker();
  try {
    await server.broker.createTopic('parked', 1, {});
    const started = Date.now();
    const fetching = server.broker.fetch([{ topic: 'parked', partition: 0, fetchOffset: 0, partitionMaxBytes: 1024 }], {
      maxWaitMs: 20_000,
      minBytes: 1,
      maxBytes: 1024,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await server.broker.deleteTopic('parked');
    const [result] = await fetching;
    assert.equal(result!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.ok(Date.now() - started < 5000);
  } finally {
    await server.close();
  }
});

test('topics.json or producer-ids.properties cannot be written: KAFKA_STORAGE_ERROR, nothing changes', async () => {
  const server = await startTestBroker();
  try {
    await server.broker.createTopic('stays', 1, {});
    // A directory where the temporary file of the atomic rewrite goes makes every write fail (EISDIR).
    const blocker = join(server.dataDir, 'topics.json.tmp');
    mkdirSync(blocker);
    const created = await server.broker.topicForMetadata('refused', true);
    assert.equal(created.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
    assert.equal(server.broker.topics.get('refused'), undefined);
    assert.equal((await server.broker.deleteTopic('stays')).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
    assert.ok(server.broker.topics.get('stays'), 'a deletion that was not recorded did not happen');
    assert.deepEqual(await values(server, 'stays'), []);
    assert.equal((await server.broker.createPartitions('stays', 3, false)).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
    assert.equal(server.broker.topics.get('stays')!.partitions, 1);
    const altered = await server.broker.alterTopicConfigs('stays', { 'retention.ms': '1000' }, false);
    assert.equal(altered.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
    assert.deepEqual(server.broker.topics.get('stays')!.configs, {});
    rmSync(blocker, { recursive: true });
    // Once the disk is back, the same requests work (the partitions opened before are reused).
    assert.equal((await server.broker.createPartitions('stays', 3, false)).errorCode, ErrorCode.NONE);
    assert.equal((await server.broker.deleteTopic('stays')).errorCode, ErrorCode.NONE);

    const idBlocker = join(server.dataDir, 'producer-ids.properties.tmp');
    mkdirSync(idBlocker);
    // No id was handed out yet, so the first one needs a block reserved on disk.
    const refused = await server.broker.initProducerId(null, 60_000, -1, -1);
    assert.equal(refused.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
    assert.equal(refused.producerId, -1);
    rmSync(idBlocker, { recursive: true });
    assert.equal((await server.broker.initProducerId(null, 60_000, -1, -1)).errorCode, ErrorCode.NONE);
  } finally {
    await server.close();
  }
});

test('produces in flight when their topic is deleted each get an answer; none is lost to the new topic', async () => {
  const server = await startTestBroker();
  try {
    await server.broker.createTopic('busy', 1, {});
    const inFlight = Array.from({ length: 200 }, (_, i) =>
      server.broker.produce('busy', 0, makeBatch([{ key: null, value: Buffer.from(`old-${i}`) }])),
    );
    const deleted = server.broker.deleteTopic('busy');
    const late = Array.from({ length: 50 }, (_, i) =>
      server.broker.produce('busy', 0, makeBatch([{ key: null, value: Buffer.from(`late-${i}`) }])),
    );
    const results = await Promise.allSettled([...inFlight, ...late]);
    assert.equal((await deleted).errorCode, ErrorCode.NONE);
    for (const result of results) {
      assert.equal(result.status, 'fulfilled');
      const code = (result as PromiseFulfilledResult<{ errorCode: number }>).value.errorCode;
      assert.ok(([ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION] as number[]).includes(code), `code ${code}`);
    }
    assert.equal((await server.broker.createTopic('busy', 1, {})).errorCode, ErrorCode.NONE);
    assert.deepEqual(await values(server, 'busy'), []);
  } finally {
    await server.close();
  }
});

test('a transaction whose topic is deleted ends cleanly; the topic created again takes new transactions', async () => {
  const server = await startTestBroker();
  const kafka = new Kafka({ brokers: [server.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  const admin = kafka.admin();
  const producer = kafka.producer({ transactionalId: 'deleted-under-me', idempotent: true, maxInFlightRequests: 1 });
  await admin.connect();
  await producer.connect();
  try {
    await admin.createTopics({ topics: [{ topic: 'tx-gone', numPartitions: 1 }] });
    const first = await producer.transaction();
    await first.send({ topic: 'tx-gone', messages: [{ value: 'doomed' }] });
    await admin.deleteTopics({ topics: ['tx-gone'] });
    // The COMMIT marker's partition is gone: it is skipped, the transaction completes.
    await first.commit();
    await admin.createTopics({ topics: [{ topic: 'tx-gone', numPartitions: 1 }] });
    const second = await producer.transaction();
    await second.send({ topic: 'tx-gone', messages: [{ value: 'fresh' }] });
    await second.commit();
    // read_committed (readPartition's isolation) sees the new transaction — no stale open one holds
    // it back — and only its own COMMIT marker follows it (the first transaction's was skipped).
    const { readPartition } = await import('../support/read-partition.js');
    const read = await readPartition(server.port, 'tx-gone', 0);
    assert.equal(read[0]!.value, 'fresh');
    assert.deepEqual(
      read.map((r) => r.offset),
      [0, 1],
      'the record and its marker',
    );
  } finally {
    await producer.disconnect();
    await admin.disconnect();
    await server.close();
  }
});
