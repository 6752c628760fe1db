// Group membership against the broker's group coordinator: eager and cooperative rebalances,
// static membership, pattern subscriptions, commits on revoke and close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';
import { Producer } from '../../src/client/producer.js';
import { Consumer, type TopicPartition } from '../../src/client/consumer.js';
import { Admin } from '../../src/client/admin.js';
import { stringSerde } from '../../src/client/serializers.js';
import type { AssignorName } from '../../src/client/assignors.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await delay(10);
  }
}

const groupProperties = { 'group.initial.rebalance.delay.ms': '0', 'group.min.session.timeout.ms': '500' };

function consumerFor(
  broker: TestBroker,
  groupId: string,
  assignors: AssignorName[],
  extra: { groupInstanceId?: string } = {},
) {
  const owned = new Set<string>();
  const revoked: string[] = [];
  const values: string[] = [];
  const consumer = new Consumer<string, string>({
    bootstrap: broker.bootstrap,
    groupId,
    assignors,
    autoOffsetReset: 'earliest',
    maxWaitMs: 50,
    heartbeatIntervalMs: 50,
    sessionTimeoutMs: 3000,
    rebalanceTimeoutMs: 5000,
    autoCommitIntervalMs: 100,
    valueDeserializer: stringSerde.deserialize,
    onAssigned: (partitions: TopicPartition[]) =>
      void partitions.forEach((p) => owned.add(`${p.topic}/${p.partition}`)),
    onRevoked: (partitions: TopicPartition[]) =>
      void partitions.forEach((p) => {
        owned.delete(`${p.topic}/${p.partition}`);
        revoked.push(`${p.topic}/${p.partition}`);
      }),
    ...extra,
  });
  return { consumer, owned, revoked, values };
}

async function produceValues(broker: TestBroker, topic: string, from: number, count: number): Promise<void> {
  const producer = new Producer<string, string>({
    bootstrap: broker.bootstrap,
    keySerializer: stringSerde.serialize,
    valueSerializer: stringSerde.serialize,
  });
  await producer.sendBatch(
    topic,
    Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, value: String(from + i) })),
  );
  await producer.close();
}

for (const assignor of ['range', 'cooperative-sticky'] as AssignorName[]) {
  test(`two members share a topic (${assignor}), every message is consumed`, async () => {
    const broker = await startTestBroker({ properties: groupProperties });
    const admin = new Admin({ bootstrap: broker.bootstrap });
    const a = consumerFor(broker, `g-${assignor}`, [assignor]);
    const b = consumerFor(broker, `g-${assignor}`, [assignor]);
    try {
      await admin.createTopics([{ name: 'shared', partitions: 4 }]);
      await produceValues(broker, 'shared', 0, 100);
      a.consumer.subscribe(['shared']);
      await a.consumer.run(async (m) => void a.values.push(m.value!));
      await until(() => a.owned.size === 4 && a.values.length === 100);
      const aRevokedBefore = a.revoked.length;
      b.consumer.subscribe(['shared']);
      await b.consumer.run(async (m) => void b.values.push(m.value!));
      await until(() => a.owned.size === 2 && b.owned.size === 2);
      if (assignor === 'cooperative-sticky') {
        // Only the two partitions that moved were revoked from a.
        assert.equal(a.revoked.length - aRevokedBefore, 2);
      } else {
        assert.equal(a.revoked.length - aRevokedBefore, 4);
      }
      await produceValues(broker, 'shared', 100, 100);
      await until(() => new Set([...a.values, ...b.values]).size === 200);
      // After the first 100 (all read by a and committed), b re-read nothing a had finished.
      assert.ok(
        b.values.every((v) => Number(v) >= 100),
        `b got only new messages: ${b.values.filter((v) => Number(v) < 100).join(',')}`,
      );
      await b.consumer.close();
      await until(() => a.owned.size === 4);
      const description = await admin.describeGroups([`g-${assignor}`]);
      assert.equal(description[0]!.members.length, 1);
      assert.equal(description[0]!.protocol, assignor);
    } finally {
      await a.consumer.close();
      await b.consumer.close();
      await admin.close();
      await broker.close();
    }
  });
}

test('static members keep their partitions across a quick restart; a pattern subscription finds topics', async () => {
  const broker = await startTestBroker({ properties: groupProperties });
  const admin = new Admin({ bootstrap: broker.bootstrap });
  await admin.createTopics([
    { name: 'events-a', partitions: 2 },
    { name: 'events-b', partitions: 2 },
    { name: 'other', partitions: 1 },
  ]);
  const a = consumerFor(broker, 'g-static', ['range'], { groupInstanceId: 'instance-a' });
  const b = consumerFor(broker, 'g-static', ['range'], { groupInstanceId: 'instance-b' });
  let a2: ReturnType<typeof consumerFor> | undefined;
  try {
    a.consumer.subscribe(/^events-/);
    b.consumer.subscribe(/^events-/);
    await a.consumer.run(async () => undefined);
    await b.consumer.run(async () => undefined);
    await until(() => a.owned.size === 2 && b.owned.size === 2);
    assert.ok(![...a.owned, ...b.owned].some((p) => p.startsWith('other')));
    const aPartitions = [...a.owned].sort();
    const bRevoked = b.revoked.length;
    await a.consumer.close();
    // a left without LeaveGroup: b keeps its partitions, nothing is rebalanced.
    await delay(500);
    assert.equal(b.revoked.length, bRevoked);
    a2 = consumerFor(broker, 'g-static', ['range'], { groupInstanceId: 'instance-a' });
    a2.consumer.subscribe(/^events-/);
    await a2.consumer.run(async () => undefined);
    await until(() => a2!.owned.size === 2);
    assert.deepEqual([...a2.owned].sort(), aPartitions);
    assert.equal(b.revoked.length, bRevoked);
  } finally {
    await a.consumer.close();
    await b.consumer.close();
    await a2?.consumer.close();
    await admin.close();
    await broker.close();
  }
});
