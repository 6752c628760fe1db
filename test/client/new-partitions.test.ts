// A group notices partitions added to a subscribed topic (CreatePartitions) and, with a pattern, topics
// created after it joined (group.ts "metadata"): the leader, or the member whose pattern matches a new
// topic, rejoins, and the next assignment covers the new partitions. Messages produced to them before
// any member owned them are read from the start (autoOffsetReset 'earliest'), each exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';
import { Producer } from '../../src/client/producer.js';
import { Consumer, type TopicPartition } from '../../src/client/consumer.js';
import { Admin } from '../../src/client/admin.js';
import { stringSerde } from '../../src/client/serializers.js';
import type { AssignorName } from '../../src/client/assignors.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(condition: () => boolean, what: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`);
    await delay(10);
  }
}

const groupProperties = { 'group.initial.rebalance.delay.ms': '0', 'group.min.session.timeout.ms': '500' };
const METADATA_MAX_AGE_MS = 200;
const MESSAGES_PER_PARTITION = 50;
/**
 * How long the group may take to cover a change: many metadata ages, yet well below a slower fixed
 * check (the old 10 s pattern refresh), so a group that ignores metadataMaxAgeMs fails.
 */
const SETTLE_MS = 5000;

/** Every consumed message by `topic/partition/offset`, with how often it was consumed, across the group. */
type Deliveries = Map<string, number>;

function member(broker: TestBroker, groupId: string, assignor: AssignorName, deliveries: Deliveries) {
  const owned = new Set<string>();
  const revoked: string[] = [];
  const consumer = new Consumer<string, string>({
    bootstrap: broker.bootstrap,
    groupId,
    assignors: [assignor],
    autoOffsetReset: 'earliest',
    metadataMaxAgeMs: METADATA_MAX_AGE_MS,
    maxWaitMs: 50,
    heartbeatIntervalMs: 50,
    sessionTimeoutMs: 3000,
    rebalanceTimeoutMs: 5000,
    autoCommitIntervalMs: 100,
    concurrency: 4,
    valueDeserializer: stringSerde.deserialize,
    onAssigned: (partitions: TopicPartition[]) =>
      void partitions.forEach((p) => owned.add(`${p.topic}/${p.partition}`)),
    onRevoked: (partitions: TopicPartition[]) =>
      void partitions.forEach((p) => {
        owned.delete(`${p.topic}/${p.partition}`);
        revoked.push(`${p.topic}/${p.partition}`);
      }),
  });
  const start = (topics: string[] | RegExp) => {
    consumer.subscribe(topics);
    return consumer.run(async (m) => {
      const id = `${m.topic}/${m.partition}/${m.offset}`;
      deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
    });
  };
  return { consumer, owned, revoked, start };
}

/** Produces `count` messages to each partition; returns their ids (`topic/partition/offset`). */
async function produceToEvery(broker: TestBroker, partitions: TopicPartition[], count: number): Promise<string[]> {
  const producer = new Producer<string, string>({
    bootstrap: broker.bootstrap,
    keySerializer: stringSerde.serialize,
    valueSerializer: stringSerde.serialize,
  });
  try {
    const ids: string[] = [];
    for (const { topic, partition } of partitions) {
      const results = await producer.sendBatch(
        topic,
        Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: `${topic}/${partition}/${i}`, partition })),
      );
      for (const r of results) ids.push(`${topic}/${r.partition}/${r.offset}`);
    }
    return ids;
  } finally {
    await producer.close();
  }
}

function partitionsOf(topics: Array<[string, number]>): TopicPartition[] {
  return topics.flatMap(([topic, count]) => Array.from({ length: count }, (_, partition) => ({ topic, partition })));
}

/** Each of `expected` is owned by exactly one member, and nothing else is owned. */
function assignedExactlyOnce(members: Array<{ owned: Set<string> }>, expected: TopicPartition[]): boolean {
  const all = members.flatMap((m) => [...m.owned]);
  const wanted = expected.map((p) => `${p.topic}/${p.partition}`);
  return all.length === wanted.length && new Set(all).size === all.length && wanted.every((id) => all.includes(id));
}

function describe(members: Array<{ owned: Set<string> }>, produced: string[], deliveries: Deliveries): string {
  const missing = produced.filter((id) => !deliveries.has(id));
  const owned = members.map((m) => `[${[...m.owned].sort().join(' ')}]`).join(' ');
  return (
    `owned ${owned}; ${deliveries.size}/${produced.length} consumed; ` + `missing e.g. ${missing.slice(0, 3).join(' ')}`
  );
}

/**
 * Every produced message consumed exactly once, nothing else consumed; checked again after a pause for
 * late duplicates.
 */
async function assertConsumedExactlyOnce(
  members: Array<{ owned: Set<string> }>,
  expected: TopicPartition[],
  produced: string[],
  deliveries: Deliveries,
): Promise<void> {
  await until(
    () => produced.every((id) => deliveries.has(id)) && assignedExactlyOnce(members, expected),
    () => describe(members, produced, deliveries),
    SETTLE_MS,
  );
  await delay(5 * METADATA_MAX_AGE_MS);
  const twice = [...deliveries].filter(([, times]) => times !== 1).map(([id, times]) => `${id}×${times}`);
  assert.deepEqual(twice, [], 'no message is consumed twice');
  assert.equal(deliveries.size, produced.length, 'nothing but the produced messages is consumed');
  assert.ok(assignedExactlyOnce(members, expected), describe(members, produced, deliveries));
}

for (const assignor of ['range', 'cooperative-sticky'] as AssignorName[]) {
  test(`partitions added to a subscribed topic are assigned and consumed exactly once (${assignor})`, async () => {
    const broker = await startTestBroker({ properties: groupProperties });
    const admin = new Admin({ bootstrap: broker.bootstrap });
    const deliveries: Deliveries = new Map();
    const a = member(broker, `grow-${assignor}`, assignor, deliveries);
    const b = member(broker, `grow-${assignor}`, assignor, deliveries);
    try {
      await admin.createTopics([{ name: 'growing', partitions: 2 }]);
      await a.start(['growing']);
      await b.start(['growing']);
      await until(
        () => a.owned.size === 1 && b.owned.size === 1,
        () => describe([a, b], [], deliveries),
      );
      const before = await produceToEvery(broker, partitionsOf([['growing', 2]]), MESSAGES_PER_PARTITION);
      await until(
        () => before.every((id) => deliveries.has(id)),
        () => describe([a, b], before, deliveries),
      );
      const revokedBefore = a.revoked.length + b.revoked.length;

      await admin.createPartitions('growing', 4);
      // Produced at once, before either member can own partitions 2 and 3: read from their start.
      const after = await produceToEvery(broker, partitionsOf([['growing', 4]]), MESSAGES_PER_PARTITION);
      await assertConsumedExactlyOnce([a, b], partitionsOf([['growing', 4]]), [...before, ...after], deliveries);
      if (assignor === 'cooperative-sticky') {
        // The new partitions went to members with room; no owned partition had to move.
        assert.equal(a.revoked.length + b.revoked.length, revokedBefore);
      }

      // Settled: without a further change nobody rejoins (an eager rejoin would revoke everything).
      const revokedSettled = a.revoked.length + b.revoked.length;
      await delay(5 * METADATA_MAX_AGE_MS);
      assert.equal(a.revoked.length + b.revoked.length, revokedSettled, 'no rebalance without a metadata change');
    } finally {
      await Promise.all([a.consumer.close(), b.consumer.close()]);
      await admin.close();
      await broker.close();
    }
  });

  test(`a new topic matching a pattern subscription is assigned and consumed exactly once (${assignor})`, async () => {
    const broker = await startTestBroker({ properties: groupProperties });
    const admin = new Admin({ bootstrap: broker.bootstrap });
    const deliveries: Deliveries = new Map();
    const a = member(broker, `pattern-${assignor}`, assignor, deliveries);
    const b = member(broker, `pattern-${assignor}`, assignor, deliveries);
    try {
      await admin.createTopics([
        { name: 'events-a', partitions: 2 },
        { name: 'other', partitions: 2 },
      ]);
      await a.start(/^events-/);
      await b.start(/^events-/);
      await until(
        () => a.owned.size === 1 && b.owned.size === 1,
        () => describe([a, b], [], deliveries),
      );
      const before = await produceToEvery(
        broker,
        partitionsOf([
          ['events-a', 2],
          ['other', 2],
        ]),
        MESSAGES_PER_PARTITION,
      );
      const matchingBefore = before.filter((id) => id.startsWith('events-'));
      await until(
        () => matchingBefore.every((id) => deliveries.has(id)),
        () => describe([a, b], matchingBefore, deliveries),
      );

      await admin.createTopics([{ name: 'events-b', partitions: 2 }]);
      const after = await produceToEvery(
        broker,
        partitionsOf([
          ['events-a', 2],
          ['events-b', 2],
        ]),
        MESSAGES_PER_PARTITION,
      );
      await assertConsumedExactlyOnce(
        [a, b],
        partitionsOf([
          ['events-a', 2],
          ['events-b', 2],
        ]),
        [...matchingBefore, ...after],
        deliveries,
      );
    } finally {
      await Promise.all([a.consumer.close(), b.consumer.close()]);
      await admin.close();
      await broker.close();
    }
  });
}

// Also: a member that is not the leader rejoins for partitions added to its own pattern.
test('the leader rejoins for partitions added to a topic only another member subscribes', async () => {
  const broker = await startTestBroker({ properties: groupProperties });
  const admin = new Admin({ bootstrap: broker.bootstrap });
  const deliveries: Deliveries = new Map();
  const leader = member(broker, 'mixed', 'range', deliveries);
  const follower = member(broker, 'mixed', 'range', deliveries);
  try {
    await admin.createTopics([
      { name: 'mine', partitions: 2 },
      { name: 'theirs-1', partitions: 1 },
    ]);
    // The first member to join leads while it stays.
    await leader.start(['mine']);
    await until(
      () => leader.owned.size === 2,
      () => describe([leader], [], deliveries),
    );
    await follower.start(/^theirs-/);
    await until(
      () => follower.owned.size === 1,
      () => describe([leader, follower], [], deliveries),
    );

    // theirs-1 is in the group's subscription through the follower only; the follower never compares counts.
    await admin.createPartitions('theirs-1', 3);
    const grown = await produceToEvery(
      broker,
      partitionsOf([
        ['mine', 2],
        ['theirs-1', 3],
      ]),
      MESSAGES_PER_PARTITION,
    );
    await assertConsumedExactlyOnce(
      [leader, follower],
      partitionsOf([
        ['mine', 2],
        ['theirs-1', 3],
      ]),
      grown,
      deliveries,
    );

    // A new topic matches the follower's pattern only; the leader has no reason to rejoin.
    await admin.createTopics([{ name: 'theirs-2', partitions: 2 }]);
    const created = await produceToEvery(broker, partitionsOf([['theirs-2', 2]]), MESSAGES_PER_PARTITION);
    await assertConsumedExactlyOnce(
      [leader, follower],
      partitionsOf([
        ['mine', 2],
        ['theirs-1', 3],
        ['theirs-2', 2],
      ]),
      [...grown, ...created],
      deliveries,
    );
    assert.deepEqual([...leader.owned].sort(), ['mine/0', 'mine/1']);
  } finally {
    await Promise.all([leader.consumer.close(), follower.consumer.close()]);
    await admin.close();
    await broker.close();
  }
});

test('rebalances for added partitions while compressed answers are decoded consume nothing twice (range)', async () => {
  // An eager rebalance revokes every partition and commits; a fetch answer still being decompressed
  // at that moment must not reach the handler afterwards, or the same messages are consumed again
  // from the committed offset once the partitions come back.
  const broker = await startTestBroker({ properties: groupProperties });
  const admin = new Admin({ bootstrap: broker.bootstrap });
  const deliveries: Deliveries = new Map();
  const a = member(broker, 'busy', 'range', deliveries);
  const producer = new Producer<string, string>({
    bootstrap: broker.bootstrap,
    compression: 'gzip', // gunzip runs on the thread pool: decoding overlaps the rebalance
    // One batch in flight per partition keeps order without sequence numbers: an idempotent producer with
    // gzip can fail with OUT_OF_ORDER_SEQUENCE_NUMBER (batches compressed out of order), not what this tests.
    idempotent: false,
    maxInFlightPerPartition: 1,
    lingerMs: 1,
    keySerializer: stringSerde.serialize,
    valueSerializer: stringSerde.serialize,
  });
  const produced: string[] = [];
  let producing = true;
  try {
    await admin.createTopics([{ name: 'busy', partitions: 1 }]);
    await a.start(['busy']);
    await until(
      () => a.owned.size === 1,
      () => describe([a], [], deliveries),
    );
    const background = (async () => {
      for (let round = 0; producing; round++) {
        const results = await producer.sendBatch(
          'busy',
          Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: `${round}/${i}`.padEnd(200, '.') })),
        );
        for (const r of results) produced.push(`busy/${r.partition}/${r.offset}`);
      }
    })();
    for (let count = 2; count <= 8; count++) {
      await delay(3 * METADATA_MAX_AGE_MS);
      await admin.createPartitions('busy', count);
    }
    producing = false;
    await background;
    await assertConsumedExactlyOnce([a], partitionsOf([['busy', 8]]), produced, deliveries);
  } finally {
    producing = false;
    await producer.close();
    await a.consumer.close();
    await admin.close();
    await broker.close();
  }
});

test('with a metadataMaxAgeMs longer than the test, added partitions stay unassigned', async () => {
  // The control for the tests above: their rejoins come from the metadata check every metadataMaxAgeMs,
  // not from something else that happens to rebalance the group.
  const broker = await startTestBroker({ properties: groupProperties });
  const admin = new Admin({ bootstrap: broker.bootstrap });
  const consumer = new Consumer({
    bootstrap: broker.bootstrap,
    groupId: 'slow',
    metadataMaxAgeMs: 600_000,
    maxWaitMs: 50,
    heartbeatIntervalMs: 50,
    sessionTimeoutMs: 3000,
    autoOffsetReset: 'earliest',
  });
  try {
    await admin.createTopics([{ name: 'slow', partitions: 2 }]);
    consumer.subscribe(['slow']);
    await consumer.run(async () => undefined);
    await until(
      () => consumer.assignment().length === 2,
      () => JSON.stringify(consumer.assignment()),
    );
    await admin.createPartitions('slow', 4);
    await delay(1000);
    assert.equal(consumer.assignment().length, 2);
  } finally {
    await consumer.close();
    await admin.close();
    await broker.close();
  }
});

test('metadataMaxAgeMs must be a positive integer', () => {
  assert.throws(() => new Consumer({ groupId: 'g', metadataMaxAgeMs: 0 }), /metadataMaxAgeMs/);
  assert.throws(() => new Consumer({ groupId: 'g', metadataMaxAgeMs: 1.5 }), /metadataMaxAgeMs/);
});
