// kill -9 the broker while offsets are being committed: after a restart every acknowledged commit
// is there (OffsetCommit is answered only after its record is fsync'ed to `__consumer_offsets`),
// and a kafkajs consumer group resumes from those offsets without losing a message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { RawClient } from '../support/raw-client.js';
import { freePort, killed, spawnSluice, untilConnected as connected, waitFor } from '../support/sluice-process.js';

const { Kafka, logLevel } = kafkajs;
const overrides = [
  'group.initial.rebalance.delay.ms=100',
  'group.min.session.timeout.ms=1000',
  'offsets.topic.num.partitions=2',
];
const startBroker = (port: number, dataDir: string) => spawnSluice(port, dataDir, { overrides });

test(
  'kill -9 during offset commits: every acknowledged commit survives; the group resumes without loss',
  { timeout: 120_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-groups-kill9-'));
    const port = await freePort();
    let broker = startBroker(port, dataDir);
    try {
      const kafka = new Kafka({
        brokers: [`127.0.0.1:${port}`],
        clientId: 'kill9',
        logLevel: logLevel.NOTHING,
        retry: { retries: 10, initialRetryTime: 100 },
      });
      (await connected(port)).close();
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'k9', numPartitions: 2 }] });
      await admin.disconnect();
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: 'k9',
        messages: Array.from({ length: 100 }, (_, i) => ({ value: `v-${i}`, partition: i % 2 })),
      });
      await producer.disconnect();

      // Simple commits of offsets 1, 2, 3, … on partition 0, pipelined, until the broker dies.
      const client = await RawClient.connect(port);
      const sent = 1000;
      for (let i = 1; i <= sent; i++) {
        client.request(ApiKey.OffsetCommit, 7, i, {
          groupId: 'k9-group',
          generationIdOrMemberEpoch: -1,
          memberId: '',
          topics: [
            {
              name: 'k9',
              partitions: [
                { partitionIndex: 0, committedOffset: BigInt(i), committedLeaderEpoch: -1, committedMetadata: null },
              ],
            },
          ],
        });
      }
      await waitFor('some commits acknowledged', () => client.frames.length >= 20);
      await killed(broker);
      await new Promise((r) => setTimeout(r, 50));
      let acknowledged = 0;
      for (const frame of client.frames) {
        const { correlationId, body } = RawClient.decode(ApiKey.OffsetCommit, 7, frame);
        if (body.topics[0].partitions[0].errorCode === ErrorCode.NONE)
          acknowledged = Math.max(acknowledged, correlationId);
      }
      client.close();
      const firstAnswer = RawClient.decode(ApiKey.OffsetCommit, 7, client.frames[0]!).body;
      const shown = JSON.stringify(firstAnswer, (_, v) => (typeof v === 'bigint' ? String(v) : v));
      assert.ok(acknowledged >= 20, `acknowledged ${acknowledged} of ${client.frames.length} answers: ${shown}`);

      broker = startBroker(port, dataDir);
      const raw = await connected(port);
      raw.request(ApiKey.OffsetFetch, 7, 1, { groupId: 'k9-group', topics: null, requireStable: false });
      const [frame] = await raw.waitForFrames(1, 10_000);
      raw.close();
      const committed = Number(
        RawClient.decode(ApiKey.OffsetFetch, 7, frame!).body.topics[0].partitions[0].committedOffset,
      );
      assert.ok(committed >= acknowledged, `committed ${committed} < acknowledged ${acknowledged}`);
      assert.ok(committed <= sent);

      // A consumer group over both partitions: commit partway, kill -9, restart, resume.
      const seen = new Set<string>();
      const consume = async () => {
        const consumer = kafka.consumer({
          groupId: 'k9-consumers',
          sessionTimeout: 6000,
          heartbeatInterval: 300,
          maxWaitTimeInMs: 200,
        });
        await consumer.connect();
        await consumer.subscribe({ topic: 'k9', fromBeginning: true });
        await consumer.run({
          autoCommitThreshold: 1,
          eachMessage: async ({ message }) => void seen.add(message.value!.toString()),
        });
        return consumer;
      };
      let consumer = await consume();
      await waitFor('first half consumed', () => seen.size >= 50);
      await killed(broker);
      // The old consumer leaves once the broker is back: disconnecting it from a dead broker makes kafkajs
      // retry for a minute and more, and can leave its timers behind.
      broker = startBroker(port, dataDir);
      (await connected(port)).close();
      await consumer.disconnect().catch(() => undefined);
      const producer2 = kafka.producer();
      await producer2.connect();
      await producer2.send({
        topic: 'k9',
        messages: Array.from({ length: 20 }, (_, i) => ({ value: `w-${i}`, partition: i % 2 })),
      });
      await producer2.disconnect();
      consumer = await consume();
      await waitFor(
        'everything consumed after the restart',
        () =>
          Array.from({ length: 100 }, (_, i) => `v-${i}`).every((v) => seen.has(v)) &&
          Array.from({ length: 20 }, (_, i) => `w-${i}`).every((v) => seen.has(v)),
        30_000,
      );
      await consumer.disconnect();
    } finally {
      await killed(broker);
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
