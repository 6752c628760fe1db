// The coordinators move with their partitions: `__consumer_offsets` is a replicated cluster topic, the
// group coordinator of a group runs on the leader of the group's partition of it, and when that broker
// is killed (-9) the new leader loads the partition before it answers — committed offsets survive, and
// a consumer group keeps consuming through the move.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partitionForKey } from '../../src/broker/internal-topic.js';
import { TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/sluice-process.js';

const OFFSETS_PARTITIONS = 3;

/** The broker leading the `__consumer_offsets` partition of `groupId`, as the cluster's metadata says. */
async function coordinatorOf(cluster: TestCluster, groupId: string): Promise<{ leader: number; isr: number[] }> {
  const partitions = await cluster.partitions('__consumer_offsets');
  const p = partitions[partitionForKey(groupId, OFFSETS_PARTITIONS)]!;
  return { leader: p.leader, isr: p.isr };
}

async function committedTotal(cluster: TestCluster, groupId: string, topic: string): Promise<number> {
  const admin = cluster.kafka().admin();
  await admin.connect();
  try {
    const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return fetched!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

test(
  "a group's coordinator killed -9: its offsets survive on the new leader, a running group keeps consuming",
  { timeout: 240_000 },
  async () => {
    const cluster = await TestCluster.start(3, [`offsets.topic.num.partitions=${OFFSETS_PARTITIONS}`]);
    try {
      await cluster.createTopic('work', 3);
      const producer = cluster.kafka().producer({ idempotent: true });
      await producer.connect();
      const send = async (from: number, count: number) => {
        for (let i = from; i < from + count; i += 50)
          await producer.send({
            topic: 'work',
            acks: -1,
            messages: Array.from({ length: 50 }, (_, j) => ({ key: `k${i + j}`, value: `w-${i + j}` })),
          });
      };
      await send(0, 300);

      // One group consumes everything and commits; it leaves (Empty, offsets stored).
      const parked = cluster.kafka('parked').consumer({ groupId: 'parked', maxWaitTimeInMs: 200 });
      await parked.connect();
      await parked.subscribe({ topic: 'work', fromBeginning: true });
      const parkedSeen: string[] = [];
      await parked.run({ eachMessage: async ({ message }) => void parkedSeen.push(message.value!.toString()) });
      await waitFor('the parked group read 300', () => parkedSeen.length >= 300, 60_000);
      await waitFor(
        'the parked group committed 300',
        async () => (await committedTotal(cluster, 'parked', 'work')) === 300,
        30_000,
      );
      await parked.disconnect();

      // Another one keeps running through the kill.
      const running = cluster.kafka('running').consumer({ groupId: 'running', maxWaitTimeInMs: 200 });
      await running.connect();
      await running.subscribe({ topic: 'work', fromBeginning: true });
      const runningSeen = new Set<string>();
      await running.run({ eachMessage: async ({ message }) => void runningSeen.add(message.value!.toString()) });
      await waitFor('the running group read 300', () => runningSeen.size >= 300, 60_000);

      // Both groups on one coordinator is not needed; kill the parked group's coordinator, and then the
      // running group's if it lives elsewhere.
      const before = await coordinatorOf(cluster, 'parked');
      assert.equal(before.isr.length, 3, `__consumer_offsets is replicated: ISR ${before.isr}`);
      await cluster.kill(before.leader);
      await waitFor(
        "a new leader of the parked group's offsets partition",
        async () => {
          try {
            const now = await coordinatorOf(cluster, 'parked');
            return now.leader >= 0 && now.leader !== before.leader;
          } catch {
            return false;
          }
        },
        30_000,
      );
      // The new coordinator answers with what the old one committed (it loaded the partition).
      await waitFor(
        'offsets on the new coordinator',
        async () => (await committedTotal(cluster, 'parked', 'work')) === 300,
        30_000,
      );

      // The running group: its coordinator may have been the one killed, or lives on — it consumes on.
      await send(300, 300);
      await waitFor('the running group read 600', () => runningSeen.size >= 600, 90_000);
      for (let i = 0; i < 600; i++) assert.ok(runningSeen.has(`w-${i}`), `w-${i} consumed`);

      // The parked group, back: it starts from its committed offsets — only the new 300.
      const back = cluster.kafka('back').consumer({ groupId: 'parked', maxWaitTimeInMs: 200 });
      await back.connect();
      await back.subscribe({ topic: 'work', fromBeginning: true });
      const backSeen: string[] = [];
      await back.run({ eachMessage: async ({ message }) => void backSeen.push(message.value!.toString()) });
      await waitFor('the parked group read the new 300', () => backSeen.length >= 300, 60_000);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(
        [...backSeen].sort(),
        Array.from({ length: 300 }, (_, i) => `w-${300 + i}`).sort(),
        'nothing read again from before the kill',
      );

      // The killed broker comes back as a follower of the partition and catches up.
      cluster.restart(before.leader);
      await waitFor(
        'the old coordinator back in the ISR',
        async () =>
          (await coordinatorOf(cluster, 'parked').catch(() => ({ isr: [] as number[] }))).isr.includes(before.leader),
        60_000,
      );
      await running.disconnect();
      await back.disconnect();
      await producer.disconnect();
    } catch (error) {
      for (const b of cluster.brokers) process.stderr.write(`--- broker ${b.nodeId}\n${b.output.slice(-6000)}\n`);
      throw error;
    } finally {
      await cluster.stop();
    }
  },
);
