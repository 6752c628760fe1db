// A leader cut off from etcd — but not from its clients or the other brokers — cannot know it still
// leads: within the session timeout it must stop acknowledging acks=all writes, while the controller
// elects a new leader from the ISR. Nothing it acknowledged before is lost, and once the link heals it
// rejoins as a follower.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { TestCluster } from '../support/cluster.js';
import { RawClient } from '../support/raw-client.js';
import { waitFor } from '../support/sluice-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const { Kafka, logLevel } = kafkajs;
/** The cluster's session timeout in these tests (test/support/cluster.ts). */
const SESSION_TIMEOUT_MS = 3000;
/** How late after it an isolated leader may still answer an acknowledgement: its lease check runs every
 *  250 ms; the rest is slack for a busy machine. */
const RESIGN_SLACK_MS = 1000;

test(
  'a leader cut off from etcd stops acknowledging acks=all within the session timeout; nothing acknowledged is lost',
  { timeout: 180_000 },
  async () => {
    let proxy: TcpProxy | undefined;
    const cluster = await TestCluster.start(3, ['min.insync.replicas=2'], async (etcd, nodeId) => {
      if (nodeId !== 1) return etcd.endpoint;
      proxy = await TcpProxy.start(etcd.clientPort);
      return `http://127.0.0.1:${proxy.port}`;
    });
    try {
      const admin = cluster.kafka().admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic: 'iso', numPartitions: 3, replicationFactor: 3 }],
        waitForLeaders: true,
      });
      await admin.disconnect();
      const led = (await cluster.partitions('iso')).find((p) => p.leader === 1);
      assert.ok(led, 'broker 1 leads one of the three partitions (leaders are balanced)');
      const partition = led.partitionId;

      const client = await RawClient.connect(cluster.broker(1).port);
      let correlationId = 0;
      const produce = async (value: string) => {
        correlationId += 1;
        const records = await encodeRecordBatch({ records: [{ value: Buffer.from(value) }] });
        client.request(ApiKey.Produce, 9, correlationId, {
          acks: -1,
          timeoutMs: 15_000,
          topicData: [{ name: 'iso', partitionData: [{ index: partition, records }] }],
        });
        const frames = await client.waitForFrames(correlationId, 20_000);
        assert.equal(frames.length, correlationId, 'answered');
        const answer = RawClient.decode(ApiKey.Produce, 9, frames[correlationId - 1]!).body;
        return answer.responses[0].partitionResponses[0].errorCode as number;
      };
      const acknowledged: string[] = [];
      for (let i = 0; i < 5; i++) {
        assert.equal(await produce(`before-${i}`), ErrorCode.NONE);
        acknowledged.push(`before-${i}`);
      }

      proxy!.cut();
      const cutAt = Date.now();
      const lateAcks: string[] = [];
      const refusals = new Set<number>();
      for (let i = 0; Date.now() - cutAt < SESSION_TIMEOUT_MS + 3000; i++) {
        const value = `isolated-${i}`;
        const errorCode = await produce(value);
        const answeredAfter = Date.now() - cutAt;
        if (errorCode === ErrorCode.NONE) {
          acknowledged.push(value);
          if (answeredAfter > SESSION_TIMEOUT_MS + RESIGN_SLACK_MS) lateAcks.push(`${value} at +${answeredAfter} ms`);
        } else refusals.add(errorCode);
        await new Promise((r) => setTimeout(r, 100));
      }
      client.close();
      assert.deepEqual(lateAcks, [], 'no acknowledgement from the isolated leader past the session timeout');
      assert.ok(refusals.has(ErrorCode.NOT_LEADER_OR_FOLLOWER), `refused with ${[...refusals]}`);

      // The others elected a new leader from the ISR, and it takes writes.
      const others = new Kafka({
        brokers: cluster.brokers.filter((b) => b.nodeId !== 1).map((b) => `127.0.0.1:${b.port}`),
        logLevel: logLevel.NOTHING,
        retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      const producer = others.producer({ idempotent: true });
      await producer.connect();
      await producer.send({ topic: 'iso', acks: -1, messages: [{ value: 'after', partition }] });
      acknowledged.push('after');
      await producer.disconnect();

      // Healed: broker 1 comes back as a follower and everything acknowledged is in the partition.
      proxy!.heal();
      await waitFor(
        'broker 1 back in the ISR',
        async () => (await cluster.partitions('iso'))[partition]!.isr.includes(1),
        60_000,
        200,
      );
      const consumer = cluster.kafka().consumer({ groupId: 'iso-check', maxWaitTimeInMs: 200 });
      await consumer.connect();
      await consumer.subscribe({ topic: 'iso', fromBeginning: true });
      const seen = new Set<string>();
      await consumer.run({ eachMessage: async ({ message }) => void seen.add(message.value!.toString()) });
      await waitFor('every acknowledged value', () => acknowledged.every((v) => seen.has(v)), 60_000);
      await consumer.disconnect();
    } finally {
      await cluster.stop();
      await proxy?.close();
    }
  },
);
