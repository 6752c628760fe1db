// Transactions across brokers: the transaction coordinator of a transactional id runs on the leader of
// its `__transaction_state` partition and sends COMMIT/ABORT markers to the leaders of the partitions
// the transaction spans (WriteTxnMarkers); TxnOffsetCommit goes to the group's coordinator, which may
// be a third broker. Killed (-9), the coordinator's partition moves: the new leader loads it, finishes
// what was decided, times out what was left open — and a read_committed reader never sees an aborted
// record, nor half of a committed transaction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partitionForKey } from '../../src/broker/internal-topic.js';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { RawClient } from '../support/raw-client.js';
import { logBytes, TestCluster } from '../support/cluster.js';
import { readCommitted } from '../support/read-committed.js';
import { waitFor } from '../support/sluice-process.js';

const STATE_PARTITIONS = 3;
const OFFSETS_PARTITIONS = 3;
const SETTINGS = [
  `transaction.state.log.num.partitions=${STATE_PARTITIONS}`,
  `offsets.topic.num.partitions=${OFFSETS_PARTITIONS}`,
];

/** The leader of the internal partition `key` hashes to, as a live broker's metadata says. */
async function leaderFor(cluster: TestCluster, topic: string, key: string, partitions: number): Promise<number> {
  const all = await cluster.partitions(topic);
  return all[partitionForKey(key, partitions)]!.leader;
}

/** A key whose internal partition `choose` accepts (by its leader), e.g. "led by broker 2". */
async function keyLedBy(
  cluster: TestCluster,
  topic: string,
  prefix: string,
  partitions: number,
  choose: (leader: number) => boolean,
): Promise<string> {
  const all = await cluster.partitions(topic);
  for (let i = 0; i < 1000; i++) {
    const key = `${prefix}-${i}`;
    if (choose(all[partitionForKey(key, partitions)]!.leader)) return key;
  }
  throw new Error(`no ${prefix} key fits`);
}

/** The read_committed view of every partition of `topic`, each read from its leader once stable (no
 *  transaction open: the last stable offset is the high watermark). */
async function committedValues(cluster: TestCluster, topic: string, timeoutMs = 30_000): Promise<string[][]> {
  const count = (await cluster.partitions(topic)).length;
  const views: string[][] = [];
  for (let partition = 0; partition < count; partition++) {
    let visible: string[] = [];
    await waitFor(
      `${topic}-${partition} stable`,
      async () => {
        try {
          const leader = (await cluster.partitions(topic))[partition]!.leader;
          const read = await readCommitted(cluster.broker(leader).port, topic, partition);
          visible = read.visible;
          return read.lastStableOffset === read.highWatermark;
        } catch {
          return false; // the leader is moving
        }
      },
      timeoutMs,
      200,
    );
    views.push(visible);
  }
  return views;
}

/** The transactional internal topics exist, replicated and led, once a group and a transactional id
 *  were asked about. (`__consumer_offsets` first, and led before the first TxnOffsetCommit: kafkajs
 *  gives a TxnOffsetCommit up at COORDINATOR_LOAD_IN_PROGRESS, a code it knows under another name.) */
async function warmUp(cluster: TestCluster): Promise<void> {
  const admin = cluster.kafka('warm-up').admin();
  await admin.connect();
  await waitFor(
    'the group coordinator answers',
    () =>
      admin.fetchOffsets({ groupId: 'warm-up', topics: ['orders'] }).then(
        () => true,
        () => false,
      ),
    30_000,
    200,
  );
  await admin.disconnect();
  await waitFor(
    '__consumer_offsets replicated on every broker',
    async () => (await cluster.partitions('__consumer_offsets')).every((p) => p.isr.length === 3 && p.leader > 0),
    30_000,
  );
  const producer = cluster
    .kafka('warm-up')
    .producer({ transactionalId: 'warm-up', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const transaction = await producer.transaction();
  await transaction.send({ topic: 'orders', acks: -1, messages: [{ partition: 0, value: 'warm-up' }] });
  await transaction.sendOffsets({
    consumerGroupId: 'warm-up',
    topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: '0' }] }],
  });
  await transaction.commit();
  await producer.disconnect();
  await waitFor(
    'the internal topics replicated on every broker',
    async () => {
      for (const topic of ['__transaction_state', '__consumer_offsets']) {
        const partitions = await cluster.partitions(topic);
        if (partitions.length === 0 || partitions.some((p) => p.isr.length !== 3)) return false;
      }
      return true;
    },
    30_000,
  );
}

test(
  'a transaction spans partitions led by three brokers: commits are seen whole, aborts never, offsets with them',
  { timeout: 180_000 },
  async () => {
    const cluster = await TestCluster.start(3, SETTINGS);
    try {
      await cluster.createTopic('orders', 3);
      const leaders = new Set((await cluster.partitions('orders')).map((p) => p.leader));
      assert.equal(leaders.size, 3, 'the three partitions are led by three brokers: two markers go to others');
      await warmUp(cluster);
      // The transactional id on one broker, the group on another: TxnOffsetCommit and the offsets marker
      // meet at the group's coordinator.
      const transactionalId = await keyLedBy(cluster, '__transaction_state', 'tx', STATE_PARTITIONS, () => true);
      const coordinator = await leaderFor(cluster, '__transaction_state', transactionalId, STATE_PARTITIONS);
      const groupId = await keyLedBy(
        cluster,
        '__consumer_offsets',
        'group',
        OFFSETS_PARTITIONS,
        (l) => l !== coordinator,
      );

      const producer = cluster.kafka('tx').producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const run = async (name: string, offset: number, commit: boolean) => {
        const transaction = await producer.transaction();
        for (let partition = 0; partition < 3; partition++)
          await transaction.send({
            topic: 'orders',
            acks: -1,
            messages: [0, 1].map((i) => ({ partition, value: `${name}-${partition}-${i}` })),
          });
        await transaction.sendOffsets({
          consumerGroupId: groupId,
          topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: String(offset) }] }],
        });
        await (commit ? transaction.commit() : transaction.abort());
      };
      await run('a', 5, true);
      await run('b', 9, false);
      await run('c', 7, true);
      await producer.disconnect();

      const views = await committedValues(cluster, 'orders');
      for (let partition = 0; partition < 3; partition++) {
        const expected = ['a', 'c'].flatMap((name) => [0, 1].map((i) => `${name}-${partition}-${i}`));
        if (partition === 0) expected.unshift('warm-up');
        assert.deepEqual(views[partition], expected, `orders-${partition}: committed transactions only, in order`);
      }
      // The followers hold the markers too: the three copies of each partition become byte-identical.
      for (let partition = 0; partition < 3; partition++)
        await waitFor(
          `orders-${partition} identical on the three brokers`,
          () => {
            const [first, ...others] = cluster.brokers.map((b) => logBytes(b.dataDir, 'orders', partition));
            return others.every((copy) => copy.equals(first!));
          },
          30_000,
        );

      // WriteTxnMarkers is a broker's request; a wrong one ends nothing and says why, per partition.
      const placement = await cluster.partitions('orders');
      const led = placement[1]!;
      const raw = await RawClient.connect(cluster.broker(led.leader).port);
      try {
        const marker = (producerId: bigint, name: string, partition: number) => ({
          producerId,
          producerEpoch: 0,
          transactionResult: false,
          coordinatorEpoch: 0,
          topics: [{ name, partitionIndexes: [partition] }],
        });
        raw.request(ApiKey.WriteTxnMarkers, 1, 7, {
          markers: [
            marker(424242n, 'no-such-topic', 0),
            marker(424242n, 'orders', placement.find((p) => p.leader !== led.leader)!.partitionId),
            marker(-1n, 'orders', 1),
          ],
        });
        const [frame] = await raw.waitForFrames(1);
        const answered = RawClient.decode(ApiKey.WriteTxnMarkers, 1, frame!).body.markers.map(
          (m: { topics: Array<{ partitions: Array<{ errorCode: number }> }> }) => m.topics[0]!.partitions[0]!.errorCode,
        );
        assert.deepEqual(answered, [
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          ErrorCode.NOT_LEADER_OR_FOLLOWER,
          ErrorCode.INVALID_REQUEST,
        ]);
      } finally {
        raw.close();
      }
      assert.deepEqual((await committedValues(cluster, 'orders'))[1], views[1], 'nothing changed');

      const admin = cluster.kafka('check').admin();
      await admin.connect();
      const [offsets] = await admin.fetchOffsets({ groupId, topics: ['orders'] });
      await admin.disconnect();
      assert.equal(
        offsets!.partitions.find((p) => p.partition === 0)?.offset,
        '7',
        'the committed transactions set the offsets, the aborted one did not',
      );
    } finally {
      await cluster.stop();
    }
  },
);

test(
  'the transaction coordinator killed -9: an abandoned transaction is aborted by the new one, a live producer commits',
  { timeout: 240_000 },
  async () => {
    const cluster = await TestCluster.start(3, [
      ...SETTINGS,
      'transaction.abort.timed.out.transaction.cleanup.interval.ms=500',
    ]);
    try {
      await cluster.createTopic('orders', 3);
      await warmUp(cluster);
      // Two transactional ids on the same coordinator, which is killed.
      const abandonedId = await keyLedBy(cluster, '__transaction_state', 'abandoned', STATE_PARTITIONS, () => true);
      const coordinator = await leaderFor(cluster, '__transaction_state', abandonedId, STATE_PARTITIONS);
      const liveId = await keyLedBy(cluster, '__transaction_state', 'live', STATE_PARTITIONS, (l) => l === coordinator);

      const abandoned = cluster
        .kafka('abandoned')
        .producer({ transactionalId: abandonedId, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 4000 });
      await abandoned.connect();
      const open = await abandoned.transaction();
      for (let partition = 0; partition < 3; partition++)
        await open.send({ topic: 'orders', acks: -1, messages: [{ partition, value: `abandoned-${partition}` }] });

      const live = cluster
        .kafka('live')
        .producer({ transactionalId: liveId, idempotent: true, maxInFlightRequests: 1 });
      await live.connect();
      const transaction = await live.transaction();
      for (let partition = 0; partition < 3; partition++)
        await transaction.send({ topic: 'orders', acks: -1, messages: [{ partition, value: `live-${partition}` }] });

      await cluster.kill(coordinator);
      // The producer follows the coordinator to the new leader of its partition (NOT_COORDINATOR, then
      // FindCoordinator) and commits there.
      await transaction.commit();
      await live.disconnect();
      await abandoned.disconnect().catch(() => undefined); // never ends its transaction: the timeout does

      // Stable once the new coordinator timed the abandoned transaction out and aborted it.
      const views = await committedValues(cluster, 'orders', 60_000);
      for (let partition = 0; partition < 3; partition++) {
        const visible = views[partition]!.filter((v) => v !== 'warm-up');
        assert.deepEqual(visible, [`live-${partition}`], `orders-${partition}: the commit is seen, the abort never`);
      }

      // The killed broker comes back as a follower and reads the same.
      cluster.restart(coordinator);
      await waitFor(
        'the restarted broker back in every ISR of orders',
        async () => (await cluster.partitions('orders')).every((p) => p.isr.length === 3),
        60_000,
      );
      const again = await committedValues(cluster, 'orders');
      assert.deepEqual(again, views, 'the same committed view after the old coordinator re-joined');
    } finally {
      await cluster.stop();
    }
  },
);
