// Three brokers and a real etcd: a topic with replication factor 3 and min.insync.replicas=2 is
// written by an idempotent kafkajs producer with acks=all while the leader of its partition is killed
// with -9, cycle after cycle; every acknowledged message is read back exactly once and in order, and
// once the killed brokers are back the three replicas' logs are byte-identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ackedWriter, logBytes, TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/sluice-process.js';

const cycles = Number(process.env.SLUICE_CLUSTER_CYCLES ?? 20);

test(
  'metadata: every broker lists the three, a controller, and a replicated topic with balanced leaders',
  { timeout: 120_000 },
  async () => {
    const cluster = await TestCluster.start(3);
    try {
      const admin = cluster.kafka().admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic: 'placed', numPartitions: 3, replicationFactor: 3 }],
        waitForLeaders: true,
      });
      const refused = await admin
        .createTopics({ topics: [{ topic: 'too-many', numPartitions: 1, replicationFactor: 4 }] })
        .then(
          () => 'created',
          (error: { errors?: { type?: string }[] }) => error.errors?.[0]?.type ?? String(error),
        );
      assert.equal(refused, 'INVALID_REPLICATION_FACTOR');
      await admin.disconnect();
      const partitions = await cluster.partitions('placed');
      assert.equal(partitions.length, 3);
      for (const p of partitions) {
        assert.deepEqual([...p.replicas].sort(), [1, 2, 3]);
        assert.deepEqual([...p.isr].sort(), [1, 2, 3]);
      }
      assert.deepEqual(partitions.map((p) => p.leader).sort(), [1, 2, 3], 'one leader per broker');
    } finally {
      await cluster.stop();
    }
  },
);

test(
  `kill -9 the leader under acks=all, ${cycles} cycles: every acknowledged message once, in order; replicas identical`,
  { timeout: 900_000 },
  async () => {
    const cluster = await TestCluster.start(3, ['min.insync.replicas=2']);
    try {
      const kafka = cluster.kafka('replication');
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic: 'ha', numPartitions: 1, replicationFactor: 3 }],
        waitForLeaders: true,
      });
      await admin.disconnect();
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        retry: { retries: 50, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      await producer.connect();
      const writer = ackedWriter(producer, 'ha', 'm', 10);
      const { acknowledged } = writer;
      const failovers: number[] = [];
      for (let cycle = 0; cycle < cycles; cycle++) {
        const before = acknowledged.length;
        await waitFor('writes before the kill', () => acknowledged.length >= before + 20, 60_000);
        const [partition] = await cluster.partitions('ha');
        const leader = partition!.leader;
        await cluster.kill(leader);
        const killedAt = Date.now();
        const atKill = acknowledged.length;
        await waitFor('a write acknowledged by the new leader', () => acknowledged.length > atKill, 60_000);
        failovers.push(Date.now() - killedAt);
        cluster.restart(leader);
        await cluster.untilBrokers(3, 60_000);
      }
      await writer.stop();
      await producer.disconnect();
      failovers.sort((a, b) => a - b);
      console.log(
        `failover (kill -9 → first acknowledged write), ${cycles} cycles: ` +
          `median ${failovers[failovers.length >> 1]} ms, max ${failovers.at(-1)} ms`,
      );

      const consumer = kafka.consumer({ groupId: 'ha-check', maxWaitTimeInMs: 200 });
      await consumer.connect();
      await consumer.subscribe({ topic: 'ha', fromBeginning: true });
      const seen: string[] = [];
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
      const wanted = new Set(acknowledged);
      await waitFor(
        'every acknowledged message read',
        () => seen.filter((v) => wanted.has(v)).length >= wanted.size,
        60_000,
      );
      await consumer.disconnect();
      const counts = new Map<string, number>();
      for (const v of seen) counts.set(v, (counts.get(v) ?? 0) + 1);
      const duplicated = [...counts].filter(([, n]) => n > 1).map(([v]) => v);
      assert.deepEqual(duplicated, [], 'no message twice');
      const order = seen.map((v) => Number(v.slice(2)));
      for (let i = 1; i < order.length; i++)
        assert.ok(order[i]! > order[i - 1]!, `in order at ${i}: ${order[i - 1]} then ${order[i]}`);
      assert.deepEqual(
        acknowledged.filter((v) => !counts.has(v)),
        [],
        'no acknowledged message lost',
      );

      // Healed: all three in the ISR again, then the same bytes on each.
      await waitFor(
        'the ISR back to three',
        async () => (await cluster.partitions('ha'))[0]!.isr.length === 3,
        60_000,
        200,
      );
      await waitFor(
        'identical logs',
        () => {
          const logs = cluster.brokers.map((b) => logBytes(b.dataDir, 'ha', 0));
          return logs.every((l) => l.equals(logs[0]!));
        },
        30_000,
        200,
      );
    } finally {
      await cluster.stop();
    }
  },
);
