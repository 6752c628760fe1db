// A topic deleted and created again at once, in a tight loop, against a real `sluice start` process:
// with kcat (librdkafka: produce auto-creates the topic through Metadata, then consume it from the
// beginning) and with kafkajs (admin DeleteTopics / CreateTopics, a producer that keeps its cached
// metadata across the deletions, and a consumer group reading each new incarnation). Each round
// deletes the topic and, at once, creates it again (a Metadata request that auto-creates it, or
// CreateTopics), so the creation can land while the deletion is under way. Every round must read
// back exactly the message of that round — never one of an earlier incarnation — and the broker must
// answer both requests and keep the connections (a StorageError used to escape the Metadata handler).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { runKcat } from '../support/kcat.js';
import { RawClient } from '../support/raw-client.js';
import { freePort, killed, spawnSluice, untilConnected } from '../support/sluice-process.js';

const { Kafka, logLevel } = kafkajs;
const ROUNDS = 50;

let dataDir: string;
let port: number;
let broker: ChildProcess;
let stderr = '';

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-recreate-'));
  port = await freePort();
  broker = spawnSluice(port, dataDir, {
    overrides: ['group.initial.rebalance.delay.ms=0', 'log.segment.delete.delay.ms=0'],
  });
  broker.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  (await untilConnected(port)).close();
});

after(async () => {
  await killed(broker);
  rmSync(dataDir, { recursive: true, force: true });
});

/** Sends DeleteTopics on `deleter` and, `lagMs` later and without waiting for its answer, a Metadata
 *  request that may auto-create the topic on `creator` (what a producer sends when its topic is gone):
 *  the second can land while the broker is still deleting. Both must be answered. */
async function deleteAndAutoCreate(
  deleter: RawClient,
  creator: RawClient,
  round: number,
  topic: string,
  lagMs: number,
) {
  deleter.request(ApiKey.DeleteTopics, 4, round, { topicNames: [topic], timeoutMs: 10_000 });
  if (lagMs > 0) await new Promise((resolve) => setTimeout(resolve, lagMs));
  creator.request(ApiKey.Metadata, 9, round, { topics: [{ name: topic }], allowAutoTopicCreation: true });
  const [deleted, created] = await Promise.all([
    deleter.waitForFrames(round, 10_000),
    creator.waitForFrames(round, 10_000),
  ]);
  assert.ok(deleted.length >= round, `round ${round}: DeleteTopics got no answer (connection closed)`);
  assert.ok(created.length >= round, `round ${round}: Metadata got no answer (connection closed)`);
  const deleteBody = RawClient.decode(ApiKey.DeleteTopics, 4, deleted[round - 1]!).body;
  assert.equal(deleteBody.responses[0].errorCode, ErrorCode.NONE, `round ${round}: delete`);
  const metadataBody = RawClient.decode(ApiKey.Metadata, 9, created[round - 1]!).body;
  assert.equal(metadataBody.topics[0].errorCode, ErrorCode.NONE, `round ${round}: metadata`);
}

test(`kcat: delete and auto-create at once, produce, consume, ${ROUNDS} rounds; only the new message`, async () => {
  const bootstrap = `127.0.0.1:${port}`;
  const deleter = await RawClient.connect(port);
  const creator = await RawClient.connect(port);
  try {
    await runKcat(bootstrap, ['-P', '-t', 'kcat-again'], 'initial\n');
    for (let round = 1; round <= ROUNDS; round++) {
      await deleteAndAutoCreate(deleter, creator, round, 'kcat-again', round % 4);
      await runKcat(bootstrap, ['-P', '-t', 'kcat-again', '-K', '\t'], `key-${round}\tround-${round}\n`);
      const out = await runKcat(bootstrap, ['-C', '-t', 'kcat-again', '-o', 'beginning', '-e', '-f', '%k=%s@%o\\n']);
      assert.deepEqual(out.trim().split('\n'), [`key-${round}=round-${round}@0`], `round ${round}`);
    }
    assert.ok(!deleter.closed && !creator.closed, 'both connections were kept');
  } finally {
    deleter.close();
    creator.close();
  }
  assert.doesNotMatch(stderr, /StorageError|Unhandled|uncaught/i);
});

test(`kafkajs: delete and create at once, produce, consume, ${ROUNDS} rounds; only the new message`, async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  const kafka = new Kafka({
    brokers: [`127.0.0.1:${port}`],
    clientId: 'recreate',
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 500 },
  });
  // Three admins: kafkajs refreshes the metadata of every topic an admin has looked up before each
  // CreateTopics, and fails it while that topic is deleted — so the one that creates never looks up.
  const deleter = kafka.admin();
  const creator = kafka.admin();
  const inspector = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await Promise.all([deleter.connect(), creator.connect(), inspector.connect(), producer.connect()]);
  const topic = 'kafkajs-again';
  try {
    assert.equal(await creator.createTopics({ topics: [{ topic, numPartitions: 2 }] }), true);
    await producer.send({ topic, messages: [{ value: 'initial', partition: 0 }] });
    for (let round = 1; round <= ROUNDS; round++) {
      // CreateTopics racing DeleteTopics: it lands before (TOPIC_ALREADY_EXISTS: false), during or
      // after. Landing before, kafkajs's wait for the new topic's metadata then finds it deleted
      // (UNKNOWN_TOPIC_OR_PARTITION); any other error (a closed connection) fails the test.
      await Promise.all([
        deleter.deleteTopics({ topics: [topic], timeout: 10_000 }),
        new Promise((resolve) => setTimeout(resolve, round % 4))
          .then(() => creator.createTopics({ topics: [{ topic, numPartitions: 2 }] }))
          .catch((error: { type?: string }) => {
            if (error.type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw error;
          }),
      ]);
      await creator.createTopics({ topics: [{ topic, numPartitions: 2 }] }); // false if the racing one won
      // The producer's cached metadata names the deleted incarnation: it must find the new one.
      await producer.send({ topic, messages: [{ key: `k${round}`, value: `round-${round}`, partition: 0 }] });
      const offsets = await inspector.fetchTopicOffsets(topic);
      assert.deepEqual(
        offsets.map((o) => [o.partition, o.low, o.high]).sort(),
        [
          [0, '0', '1'],
          [1, '0', '0'],
        ],
        `round ${round}`,
      );
      // A group of its own each round: the committed offsets of the deleted incarnation are gone anyway.
      const consumer = kafka.consumer({ groupId: `recreate-${round}`, maxWaitTimeInMs: 100 });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: true });
        const seen: string[] = [];
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`round ${round}: nothing consumed`)), 20_000);
          void consumer.run({
            eachMessage: async ({ message, partition }) => {
              seen.push(`${partition}:${message.offset}:${message.key}=${message.value}`);
              clearTimeout(timer);
              resolve();
            },
          });
        });
        await new Promise((resolve) => setTimeout(resolve, 100)); // anything else would arrive now
        assert.deepEqual(seen, [`0:0:k${round}=round-${round}`], `round ${round}`);
      } finally {
        await consumer.disconnect();
      }
    }
  } finally {
    await producer.disconnect();
    await Promise.all([deleter.disconnect(), creator.disconnect(), inspector.disconnect()]);
  }
  assert.doesNotMatch(stderr, /StorageError|Unhandled|uncaught/i);
  // The old incarnations' directories go in the background (file.delete.delay.ms=0 here).
  const deadline = Date.now() + 10_000;
  while (readdirSync(dataDir).some((name) => name.endsWith('-delete')) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(
    readdirSync(dataDir).filter((name) => name.endsWith('-delete')),
    [],
  );
});
