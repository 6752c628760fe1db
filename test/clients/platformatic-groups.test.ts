// @platformatic/kafka 1.35 consumer groups (FindCoordinator v4, JoinGroup v6, SyncGroup v4,
// Heartbeat v4, LeaveGroup v4, OffsetCommit v8, OffsetFetch v8 — the flexible versions) against a
// real in-process broker: two static members (group.instance.id) share a topic, commit, and a
// restarted member resumes from the committed offsets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Consumer,
  MessagesStreamModes,
  MessagesStreamFallbackModes,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

let server: TestBroker;

before(async () => {
  server = await startTestBroker({
    properties: {
      'group.initial.rebalance.delay.ms': '100',
      'group.min.session.timeout.ms': '1000',
      'offsets.topic.num.partitions': '3',
    },
  });
});
after(async () => {
  await server.close();
});

const clientOptions = (clientId: string) => ({
  clientId,
  bootstrapBrokers: [server.bootstrap],
  retries: 3,
  retryDelay: 100,
  timeout: 5000,
});

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function produce(topic: string, values: string[]): Promise<void> {
  const producer = new Producer({ ...clientOptions('platformatic-groups-producer'), serializers: stringSerializers });
  try {
    await producer.send({ messages: values.map((value, i) => ({ topic, key: `k${i}`, value })) });
  } finally {
    await producer.close();
  }
}

function consumer(groupId: string, instance: string): Consumer<string, string, string, string> {
  return new Consumer({
    ...clientOptions(`platformatic-${instance}`),
    groupId,
    groupInstanceId: instance,
    deserializers: stringDeserializers,
    sessionTimeout: 6000,
    heartbeatInterval: 300,
    rebalanceTimeout: 8000,
  });
}

test(
  'two static members share a topic, commit, and a restarted member resumes after its commits',
  { timeout: 90_000 },
  async () => {
    const topic = 'platformatic-group';
    const groupId = 'platformatic-group';
    await server.broker.createTopic(topic, 4, {});
    const first = Array.from({ length: 200 }, (_, i) => `a-${i}`);
    await produce(topic, first);

    const seen = new Map<string, string[]>([
      ['one', []],
      ['two', []],
    ]);
    const members = [consumer(groupId, 'one'), consumer(groupId, 'two')];
    const streams = await Promise.all(
      members.map(async (member, i) => {
        const name = i === 0 ? 'one' : 'two';
        const stream = await member.consume({
          topics: [topic],
          mode: MessagesStreamModes.COMMITTED,
          fallbackMode: MessagesStreamFallbackModes.EARLIEST,
          autocommit: 100,
          maxWaitTime: 200,
        });
        stream.on('data', (message) => seen.get(name)!.push(message.value));
        return stream;
      }),
    );
    try {
      await waitFor('every message consumed', () => {
        const all = new Set([...seen.get('one')!, ...seen.get('two')!]);
        return first.every((v) => all.has(v));
      });
      await waitFor(
        'two members stable',
        () =>
          server.broker.groups.groupState(groupId) === 'Stable' &&
          server.broker.groups.describeGroup(groupId).members.length === 2,
      );
      const description = server.broker.groups.describeGroup(groupId);
      assert.deepEqual(description.members.map((m) => m.groupInstanceId).sort(), ['one', 'two']);
      const owned = members.map((m) =>
        (m.assignments ?? []).flatMap((a) => a.partitions.map((p) => `${a.topic}/${p}`)),
      );
      assert.equal(owned[0]!.length + owned[1]!.length, 4);
      assert.equal(new Set([...owned[0]!, ...owned[1]!]).size, 4, 'no partition owned by both');
      await waitFor(
        'offsets committed',
        () =>
          server.broker.groups
            .fetchOffsets(groupId, null)
            .topics.flatMap((t) => t.partitions)
            .reduce((s, p) => s + p.offset, 0) === 200,
      );
    } finally {
      await Promise.all(streams.map((s) => s.close()));
      await Promise.all(members.map((m) => m.close()));
    }

    // New messages; a restarted member reads only those.
    const second = Array.from({ length: 20 }, (_, i) => `b-${i}`);
    await produce(topic, second);
    const restarted = consumer(groupId, 'one');
    const reread: string[] = [];
    const stream = await restarted.consume({
      topics: [topic],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: 100,
      maxWaitTime: 200,
    });
    stream.on('data', (message) => reread.push(message.value));
    try {
      await waitFor('the new messages', () => second.every((v) => reread.includes(v)));
      assert.ok(
        reread.every((v) => v.startsWith('b-')),
        `re-read committed messages: ${reread.filter((v) => !v.startsWith('b-')).slice(0, 5)}`,
      );
      const committed = await restarted.listCommittedOffsets({ topics: [{ topic, partitions: [0, 1, 2, 3] }] });
      assert.equal(committed.get(topic)!.length, 4);
    } finally {
      await stream.close();
      await restarted.close();
    }
  },
);
