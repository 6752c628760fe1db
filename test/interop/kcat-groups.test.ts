// kcat's balanced consumer (`kcat -G`, librdkafka's KafkaConsumer: FindCoordinator v2, JoinGroup v5,
// SyncGroup v3, Heartbeat v3, OffsetCommit v7, OffsetFetch v7, LeaveGroup v1) against a real
// in-process broker: two kcat members split a topic, commit, and a second run resumes after the
// committed offsets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readConsumerProtocolAssignment } from '../../src/protocol/generated/consumer-protocol-assignment.js';
import { ByteReader } from '../../src/protocol/primitives/byte-reader.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';
import { runKcat } from '../support/kcat.js';

let server: TestBroker;

before(async () => {
  server = await startTestBroker({
    properties: {
      'group.initial.rebalance.delay.ms': '500',
      'group.min.session.timeout.ms': '1000',
      'offsets.topic.num.partitions': '3',
    },
  });
});
after(async () => {
  await server.close();
});

function kcat(args: string[], input?: string): Promise<string> {
  return runKcat(server.bootstrap, args, input, 40_000);
}

const groupArgs = (group: string, topic: string, count: number) => [
  '-G',
  group,
  '-c',
  String(count),
  '-f',
  '%p:%s\\n',
  '-X',
  'auto.offset.reset=earliest',
  '-X',
  'session.timeout.ms=6000',
  '-X',
  'heartbeat.interval.ms=300',
  '-X',
  'auto.commit.interval.ms=200',
  topic,
];

test('two kcat -G members split a topic; committed offsets let the next run resume', { timeout: 90_000 }, async () => {
  const topic = 'kcat-group';
  const group = 'kcat-balanced';
  await server.broker.createTopic(topic, 4, {});
  const lines = Array.from({ length: 200 }, (_, i) => `m${i}`);
  // -K: with keys spread over the partitions.
  await kcat(['-P', '-t', topic, '-K', ':'], lines.map((l, i) => `k${i}:${l}`).join('\n') + '\n');

  // Two members together read every message; each stops after 100 (`-c`). Whichever stops first
  // leaves, and the other one takes over its partitions from the committed offsets.
  const [a, b] = await Promise.all([kcat(groupArgs(group, topic, 100)), kcat(groupArgs(group, topic, 100))]);
  const seen = [...a.trim().split('\n'), ...b.trim().split('\n')].filter(Boolean);
  const values = new Set(seen.map((l) => l.split(':')[1]));
  // At least once: a member may re-read what the other had not committed before a rebalance.
  for (const l of lines) assert.ok(values.has(l), `missing ${l}`);
  const partitionsOfA = new Set(
    a
      .trim()
      .split('\n')
      .map((l) => l.split(':')[0]),
  );
  const partitionsOfB = new Set(
    b
      .trim()
      .split('\n')
      .map((l) => l.split(':')[0]),
  );
  assert.ok(partitionsOfA.size > 0 && partitionsOfB.size > 0, 'both members got partitions');

  const committed = server.broker.groups.fetchOffsets(group, null).topics.flatMap((t) => t.partitions);
  assert.equal(committed.length, 4);
  assert.equal(
    committed.reduce((sum, p) => sum + p.offset, 0),
    200,
    'every partition committed at its end',
  );

  // A new run of the group only sees what was produced after.
  await kcat(['-P', '-t', topic, '-K', ':'], 'k1:late-1\nk2:late-2\n');
  const resumed = await kcat(groupArgs(group, topic, 2));
  assert.deepEqual(
    resumed
      .trim()
      .split('\n')
      .map((l) => l.split(':')[1])
      .sort(),
    ['late-1', 'late-2'],
  );
  const described = server.broker.groups.describeGroup(group);
  assert.equal(described.state, 'Empty', 'kcat left the group on exit');
});

/** Partitions in a consumer-protocol assignment (int16 version, then ConsumerProtocolAssignment). */
function assignedPartitions(assignment: Buffer): string[] {
  const r = new ByteReader(assignment);
  const version = r.int16('version');
  return readConsumerProtocolAssignment(r, Math.min(version, 3), false).assignedPartitions.flatMap((tp) =>
    tp.partitions.map((p) => `${tp.topic}/${p}`),
  );
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test(
  'kill -9 a kcat member: its partitions move to the survivor after the session timeout',
  { timeout: 90_000 },
  async () => {
    const topic = 'kcat-kill';
    const group = 'kcat-kill-group';
    const sessionTimeoutMs = 3000;
    await server.broker.createTopic(topic, 4, {});
    const args = [
      '-b',
      server.bootstrap,
      '-u',
      '-G',
      group,
      '-f',
      '%s\\n',
      '-X',
      'auto.offset.reset=earliest',
      '-X',
      `session.timeout.ms=${sessionTimeoutMs}`,
      '-X',
      'heartbeat.interval.ms=300',
      topic,
    ];
    const a = spawn('kcat', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const b = spawn('kcat', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let outputOfB = '';
    b.stdout.on('data', (d) => (outputOfB += d));
    const members = () => server.broker.groups.describeGroup(group);
    try {
      await waitFor('two stable members', () => members().state === 'Stable' && members().members.length === 2);
      const before = members().members.map((m) => assignedPartitions(m.assignment));
      assert.deepEqual(
        before.map((p) => p.length),
        [2, 2],
      );
      const killedAt = Date.now();
      a.kill('SIGKILL');
      await waitFor('one stable member', () => members().state === 'Stable' && members().members.length === 1);
      const movedAfterMs = Date.now() - killedAt;
      assert.ok(movedAfterMs >= sessionTimeoutMs - 500, `moved after ${movedAfterMs} ms, before the session timeout`);
      assert.deepEqual(
        assignedPartitions(members().members[0]!.assignment).sort(),
        [0, 1, 2, 3].map((p) => `${topic}/${p}`),
      );
      const values = Array.from({ length: 40 }, (_, i) => `after-kill-${i}`);
      await kcat(['-P', '-t', topic, '-K', ':'], values.map((v, i) => `k${i}:${v}`).join('\n') + '\n');
      await waitFor('the survivor reads every partition', () => values.every((v) => outputOfB.includes(v)));
    } finally {
      a.kill('SIGKILL');
      b.kill('SIGTERM');
    }
  },
);

test(
  "cooperative-sticky (incremental) rebalancing: the broker carries the assignor's metadata; members split the topic",
  { timeout: 90_000 },
  async () => {
    const topic = 'kcat-cooperative';
    const group = 'kcat-cooperative-group';
    await server.broker.createTopic(topic, 4, {});
    const lines = Array.from({ length: 100 }, (_, i) => `c${i}`);
    await kcat(['-P', '-t', topic, '-K', ':'], lines.map((l, i) => `k${i}:${l}`).join('\n') + '\n');
    const args = (count: number) => [
      '-X',
      'partition.assignment.strategy=cooperative-sticky',
      ...groupArgs(group, topic, count),
    ];
    const outputs = await Promise.all([kcat(args(50)), kcat(args(50))]);
    const values = new Set(outputs.flatMap((o) => o.trim().split('\n')).map((l) => l.split(':')[1]));
    for (const l of lines) assert.ok(values.has(l), `missing ${l}`);
    const described = server.broker.groups.describeGroup(group);
    assert.equal(described.state, 'Empty');
    const generations = server.logger.lines.filter(
      (l) => l.fields.groupId === group && l.fields.protocol !== undefined,
    );
    assert.ok(
      generations.length >= 2 && generations.every((l) => l.fields.protocol === 'cooperative-sticky'),
      'every generation chose cooperative-sticky',
    );
    const committed = server.broker.groups.fetchOffsets(group, null).topics.flatMap((t) => t.partitions);
    assert.equal(
      committed.reduce((sum, p) => sum + p.offset, 0),
      100,
    );
  },
);
