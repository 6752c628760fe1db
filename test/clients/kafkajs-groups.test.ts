// kafkajs 2.2.4 consumer groups against a real in-process broker: rebalancing as members join
// and leave, pub/sub across two groups, committed offsets across a broker restart, offset resets
// through the admin API, and group administration (list, describe, delete).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

const { Kafka, logLevel, AssignerProtocol } = kafkajs;
type Consumer = ReturnType<InstanceType<typeof Kafka>['consumer']>;

/** Fast rebalances for tests: short initial delay, sessions allowed down to 1 s. */
const groupProperties = {
  'group.initial.rebalance.delay.ms': '100',
  'group.min.session.timeout.ms': '1000',
  'offsets.topic.num.partitions': '3',
};
const consumerTimeouts = { sessionTimeout: 4000, rebalanceTimeout: 6000, heartbeatInterval: 300, maxWaitTimeInMs: 200 };

let server: TestBroker;
let kafka: InstanceType<typeof Kafka>;

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  server = await startTestBroker({ properties: groupProperties });
  kafka = new Kafka({
    brokers: [server.bootstrap],
    clientId: 'kafkajs-groups',
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 50 },
  });
});

after(async () => {
  await server.close();
});

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function produce(topic: string, values: string[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: values.map((value, i) => ({ key: `k${i}`, value })) });
  await producer.disconnect();
}

/** The broker's view of who owns what in the group's current (Stable) generation. */
async function assignments(groupId: string): Promise<Map<string, string[]>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const owned = new Map<string, string[]>();
    for (const member of groups[0]!.members) {
      const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
      const list: string[] = [];
      for (const [topic, partitions] of Object.entries(decoded?.assignment ?? {}))
        for (const p of partitions) list.push(`${topic}/${p}`);
      owned.set(member.memberId, list);
    }
    return owned;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Watches the group from the broker's side every few ms: in every Stable generation it sees, no
 * partition is assigned to two members. Returns a stop function that reports the generations seen.
 */
function watchOwnership(groupId: string): () => number[] {
  const generations = new Map<number, Map<string, string>>(); // generation → partition → member
  const violations: string[] = [];
  const timer = setInterval(() => {
    const described = server.broker.groups.describeGroup(groupId);
    if (described.state !== 'Stable') return;
    const owners = generations.get(described.generationId) ?? new Map<string, string>();
    generations.set(described.generationId, owners);
    for (const member of described.members) {
      const decoded = AssignerProtocol.MemberAssignment.decode(member.assignment);
      for (const [topic, partitions] of Object.entries(decoded?.assignment ?? {})) {
        for (const p of partitions) {
          const key = `${topic}/${p}`;
          const owner = owners.get(key);
          if (owner !== undefined && owner !== member.memberId)
            violations.push(`generation ${described.generationId}: ${key} owned by ${owner} and ${member.memberId}`);
          owners.set(key, member.memberId);
        }
      }
    }
  }, 5);
  return () => {
    clearInterval(timer);
    assert.deepEqual(violations, []);
    return [...generations.keys()];
  };
}

function assertBalanced(owned: Map<string, string[]>, members: number, partitions: number): void {
  assert.equal(owned.size, members);
  const all = [...owned.values()].flat();
  assert.equal(
    new Set(all).size,
    all.length,
    `a partition is owned twice in one generation: ${JSON.stringify([...owned])}`,
  );
  assert.equal(all.length, partitions, 'every partition is assigned');
  const sizes = [...owned.values()].map((l) => l.length);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `unbalanced: ${sizes}`);
}

test(
  '3 consumers share 6 partitions; a 4th joins and one leaves; every message is consumed',
  { timeout: 60_000 },
  async () => {
    const topic = 'balanced';
    const groupId = 'balanced-group';
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }] });
    await admin.disconnect();

    const seen = new Map<string, number>();
    const consumers: Consumer[] = [];
    const stopWatching = watchOwnership(groupId);
    const start = async () => {
      const consumer = kafka.consumer({ groupId, ...consumerTimeouts });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const value = message.value!.toString();
          seen.set(value, (seen.get(value) ?? 0) + 1);
        },
      });
      consumers.push(consumer);
      return consumer;
    };
    try {
      await Promise.all([start(), start(), start()]);
      await waitFor(
        '3 members stable',
        () =>
          server.broker.groups.groupState(groupId) === 'Stable' &&
          server.broker.groups.describeGroup(groupId).members.length === 3,
      );
      assertBalanced(await assignments(groupId), 3, 6);

      const first = Array.from({ length: 300 }, (_, i) => `a-${i}`);
      await produce(topic, first);
      await waitFor('first batch consumed', () => first.every((v) => seen.has(v)));

      await start();
      await waitFor(
        '4 members stable',
        () =>
          server.broker.groups.groupState(groupId) === 'Stable' &&
          server.broker.groups.describeGroup(groupId).members.length === 4,
      );
      assertBalanced(await assignments(groupId), 4, 6);
      const second = Array.from({ length: 300 }, (_, i) => `b-${i}`);
      await produce(topic, second);

      const leaving = consumers.shift()!;
      await leaving.disconnect();
      await waitFor(
        '3 members stable again',
        () =>
          server.broker.groups.groupState(groupId) === 'Stable' &&
          server.broker.groups.describeGroup(groupId).members.length === 3,
      );
      assertBalanced(await assignments(groupId), 3, 6);
      const third = Array.from({ length: 300 }, (_, i) => `c-${i}`);
      await produce(topic, third);
      await waitFor('every message consumed', () => [...first, ...second, ...third].every((v) => seen.has(v)));
    } finally {
      await Promise.all(consumers.map((c) => c.disconnect()));
    }
    await waitFor('group empty', () => server.broker.groups.groupState(groupId) === 'Empty');
    const generations = stopWatching();
    assert.ok(generations.length >= 3, `stable generations seen: ${generations}`);
  },
);

test('two groups on one topic each get every message (pub/sub)', { timeout: 60_000 }, async () => {
  const topic = 'pubsub';
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
  await admin.disconnect();
  const values = Array.from({ length: 100 }, (_, i) => `m-${i}`);
  await produce(topic, values);
  const seen: Record<string, Set<string>> = { one: new Set(), two: new Set() };
  const consumers = await Promise.all(
    ['one', 'two'].map(async (name) => {
      const consumer = kafka.consumer({ groupId: `pubsub-${name}`, ...consumerTimeouts });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void seen[name]!.add(message.value!.toString()) });
      return consumer;
    }),
  );
  try {
    await waitFor(
      'both groups consumed everything',
      () => seen.one!.size === values.length && seen.two!.size === values.length,
    );
  } finally {
    await Promise.all(consumers.map((c) => c.disconnect()));
  }
});

test(
  'admin: list, describe, fetch/reset offsets (earliest, timestamp, explicit) of an inactive group, delete it',
  { timeout: 60_000 },
  async () => {
    const topic = 'resettable';
    const groupId = 'reset-group';
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
      const producer = kafka.producer();
      await producer.connect();
      const t0 = Date.now() - 60_000;
      // Ten old messages, then ten at "now": a timestamp reset lands on the 11th.
      await producer.send({
        topic,
        messages: Array.from({ length: 10 }, (_, i) => ({ value: `old-${i}`, timestamp: String(t0 + i) })),
      });
      const tMiddle = Date.now() - 1000;
      await producer.send({
        topic,
        messages: Array.from({ length: 10 }, (_, i) => ({ value: `new-${i}`, timestamp: String(Date.now()) })),
      });
      await producer.disconnect();

      // Consume everything once and commit.
      const consumer = kafka.consumer({ groupId, ...consumerTimeouts });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      let count = 0;
      await consumer.run({ eachMessage: async () => void count++ });
      await waitFor('consumed 20', () => count >= 20);
      await waitFor(
        'committed 20',
        async () => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset === '20',
      );
      const listed = await admin.listGroups();
      assert.ok(listed.groups.some((g) => g.groupId === groupId && g.protocolType === 'consumer'));
      const described = (await admin.describeGroups([groupId])).groups[0]!;
      assert.equal(described.state, 'Stable');
      assert.equal(described.protocol, 'RoundRobinAssigner');
      assert.equal(described.members.length, 1);
      await assert.rejects(admin.deleteGroups([groupId]), /NON_EMPTY_GROUP|not empty|group/i);
      await consumer.disconnect();
      await waitFor('group empty', () => server.broker.groups.groupState(groupId) === 'Empty');

      const committed = async () => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset;
      const rereadFrom = async (): Promise<string[]> => {
        const again = kafka.consumer({ groupId, ...consumerTimeouts });
        const reread: string[] = [];
        await again.connect();
        await again.subscribe({ topic }); // not fromBeginning: only the committed offset can make it re-read
        await again.run({ eachMessage: async ({ message }) => void reread.push(message.value!.toString()) });
        await waitFor('re-read', () => reread.length > 0 && reread[reread.length - 1] === 'new-9');
        await again.disconnect();
        await waitFor('group empty', () => server.broker.groups.groupState(groupId) === 'Empty');
        return reread;
      };

      // kafkajs commits -2 ("earliest") and resolves it to the log start on the next fetchOffsets.
      await admin.resetOffsets({ groupId, topic, earliest: true });
      assert.equal(await committed(), '-2');
      assert.equal(
        (await admin.fetchOffsets({ groupId, topics: [topic], resolveOffsets: true }))[0]!.partitions[0]!.offset,
        '0',
      );
      assert.equal(await committed(), '0');
      assert.equal((await rereadFrom()).length, 20);

      await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '7' }] });
      assert.equal(await committed(), '7');
      assert.equal((await rereadFrom())[0], 'old-7');

      const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, tMiddle);
      await admin.setOffsets({
        groupId,
        topic,
        partitions: byTime.map((p) => ({ partition: p.partition, offset: p.offset })),
      });
      assert.equal(await committed(), '10');
      assert.deepEqual(
        await rereadFrom(),
        Array.from({ length: 10 }, (_, i) => `new-${i}`),
      );

      await admin.deleteGroups([groupId]);
      assert.equal(await committed(), '-1');
      assert.ok(!(await admin.listGroups()).groups.some((g) => g.groupId === groupId));
    } finally {
      await admin.disconnect();
    }
  },
);

test('committed offsets survive a broker restart; the group resumes without loss', { timeout: 60_000 }, async () => {
  const restartable = await startTestBroker({ properties: groupProperties });
  const dataDir = restartable.dataDir;
  let current = restartable;
  try {
    const client = () =>
      new Kafka({
        brokers: [current.bootstrap],
        clientId: 'restart',
        logLevel: logLevel.NOTHING,
        retry: { retries: 5, initialRetryTime: 50 },
      });
    const topic = 'durable';
    const groupId = 'durable-group';
    let k = client();
    const admin = k.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    await admin.disconnect();
    const producer = k.producer();
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `v-${i}` })) });
    await producer.disconnect();

    const seen = new Set<string>();
    let consumer = k.consumer({ groupId, ...consumerTimeouts });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.add(message.value!.toString()) });
    await waitFor('first 50', () => seen.size === 50);
    await consumer.commitOffsets([]); // flush
    await waitFor('offsets committed', () => {
      const fetched = current.broker.groups.fetchOffsets(groupId, null);
      return fetched.topics.flatMap((t) => t.partitions).reduce((sum, p) => sum + p.offset, 0) === 50;
    });
    const before = current.broker.groups.fetchOffsets(groupId, null);
    await consumer.disconnect();
    await current.stop();

    current = await startTestBroker({ dataDir, properties: groupProperties });
    assert.deepEqual(current.broker.groups.fetchOffsets(groupId, null), before, 'exactly the acknowledged offsets');
    k = client();
    const producer2 = k.producer();
    await producer2.connect();
    await producer2.send({
      topic,
      messages: Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `w-${i}` })),
    });
    await producer2.disconnect();
    const afterRestart: string[] = [];
    consumer = k.consumer({ groupId, ...consumerTimeouts });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void afterRestart.push(message.value!.toString()) });
    await waitFor('the next 50', () => afterRestart.length >= 50);
    await consumer.disconnect();
    assert.ok(
      afterRestart.every((v) => v.startsWith('w-')),
      'nothing before the committed offsets is re-read',
    );
    assert.equal(new Set(afterRestart).size, 50);
  } finally {
    await current.close();
  }
});
