// GroupCoordinator with an injected clock: offset retention as Kafka applies it (KIP-211), and the
// offsets of a deleted topic going with it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCoordinator } from '../../../src/broker/groups/coordinator.js';
import { encodeMessage as encodeSubscription } from '../../../src/protocol/generated/consumer-protocol-subscription.js';
import { ErrorCode } from '../../../src/protocol/generated/index.js';
import { startTestBroker, type TestBroker } from '../../support/test-broker.js';

const RETENTION_MS = 60_000; // offsets.retention.minutes=1

let server: TestBroker;
before(async () => {
  server = await startTestBroker({
    properties: {
      'group.initial.rebalance.delay.ms': '0',
      'offsets.retention.minutes': '1',
      'offsets.topic.num.partitions': '1',
    },
  });
  for (const topic of ['a', 'b', 'gone']) await server.broker.createTopic(topic, 1, {});
});
after(async () => {
  await server.close();
});

function subscription(...topics: string[]): Buffer {
  const body = encodeSubscription(0, { topics, userData: null }).toBuffer();
  return Buffer.concat([Buffer.alloc(2), body]);
}

const exists = (topic: string, partition: number) => server.broker.topics.get(topic) !== undefined && partition === 0;
const commit = (coordinator: GroupCoordinator, groupId: string, topics: string[], generationId = -1, memberId = '') =>
  coordinator.commitOffsets(
    {
      groupId,
      generationId,
      memberId,
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: topics.map((name) => ({
        name,
        partitions: [{ partition: 0, offset: 5, leaderEpoch: -1, metadata: null }],
      })),
    },
    exists,
  );
const committedTopics = (coordinator: GroupCoordinator, groupId: string) =>
  coordinator
    .fetchOffsets(groupId, null)
    .topics.map((t) => t.name)
    .sort();

// A consumer group keeps the offsets of the topics it subscribes to while it is active.
test('retention: simple groups expire by commit time, consumer groups from when they emptied', async () => {
  let now = 1_000_000;
  const coordinator = await GroupCoordinator.open(server.broker, { clock: { now: () => now } });
  try {
    // A simple (admin) commit expires offsets.retention.minutes after the commit.
    await commit(coordinator, 'simple', ['a']);
    now += RETENTION_MS - 1;
    assert.equal(await coordinator.expireOffsets(), 0);
    now += 1;
    assert.equal(await coordinator.expireOffsets(), 1);
    assert.equal(coordinator.groupState('simple'), undefined, 'Empty and without offsets: removed');

    // A consumer group subscribed to `a` with offsets on `a` and `b`.
    const joined = await coordinator.join({
      groupId: 'consumers',
      memberId: '',
      groupInstanceId: null,
      requireKnownMemberId: false,
      clientId: 'c',
      clientHost: '/127.0.0.1',
      rebalanceTimeoutMs: 10_000,
      sessionTimeoutMs: 10_000,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: subscription('a') }],
    });
    assert.equal(joined.errorCode, ErrorCode.NONE);
    await coordinator.sync({
      groupId: 'consumers',
      generationId: joined.generationId,
      memberId: joined.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    });
    assert.equal(coordinator.groupState('consumers'), 'Stable');
    const results = await commit(coordinator, 'consumers', ['a', 'b'], joined.generationId, joined.memberId);
    assert.ok(results.every((t) => t.partitions.every((p) => p.errorCode === ErrorCode.NONE)));
    now += RETENTION_MS;
    assert.equal(await coordinator.expireOffsets(), 1, 'only the topic the group does not subscribe to');
    assert.deepEqual(committedTopics(coordinator, 'consumers'), ['a']);

    // The member leaves: retention now counts from when the group became Empty.
    now += 5 * RETENTION_MS;
    coordinator.leave('consumers', [{ memberId: joined.memberId, groupInstanceId: null }]);
    assert.equal(coordinator.groupState('consumers'), 'Empty');
    now += RETENTION_MS - 1;
    assert.equal(
      await coordinator.expireOffsets(),
      0,
      'the commit is old, but the group emptied less than the retention ago',
    );
    now += 1;
    assert.equal(await coordinator.expireOffsets(), 1);
    assert.equal(coordinator.groupState('consumers'), undefined);
  } finally {
    coordinator.close();
  }
});

test('deleting a topic removes its committed offsets (and an Empty group left without any)', async () => {
  const groups = server.broker.groups;
  // `__consumer_offsets` was created by the test above's coordinator: this one takes up its partition
  // the way a broker newly elected its leader would (partition-ownership.ts).
  assert.equal(groups.fetchOffsets('has-both', null).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  await groups.settle();
  await commit(groups, 'has-gone', ['gone']);
  await commit(groups, 'has-both', ['gone', 'a']);
  await server.broker.deleteTopic('gone');
  assert.equal(groups.groupState('has-gone'), undefined);
  assert.deepEqual(committedTopics(groups, 'has-both'), ['a']);
  // …and after a restart too (tombstones).
  const reopened = await GroupCoordinator.open(server.broker);
  try {
    assert.deepEqual(committedTopics(reopened, 'has-both'), ['a']);
    assert.deepEqual(committedTopics(reopened, 'has-gone'), []);
  } finally {
    reopened.close();
  }
});

// Found by the fuzzer, seed 3.
test('an offset beyond 2^53 is refused per partition, a retention beyond a timestamp never expires', async () => {
  // The handlers turn INT64 offsets into numbers; Long.MAX_VALUE became 2^63, which the offsets record
  // encoder could not write: the handler threw and the connection closed.
  const groups = server.broker.groups;
  const huge = Number(2n ** 63n - 1n);
  const partitions = [
    { partition: 0, offset: huge, leaderEpoch: -1, metadata: null },
    { partition: 1, offset: 7, leaderEpoch: -1, metadata: null },
  ];
  const twoPartitions = (topic: string, partition: number) => topic === 'a' && (partition === 0 || partition === 1);
  const request = { groupId: 'huge', generationId: -1, memberId: '', groupInstanceId: null };
  const plain = await groups.commitOffsets(
    { ...request, retentionTimeMs: Number(2n ** 63n - 1n), topics: [{ name: 'a', partitions }] },
    twoPartitions,
  );
  assert.deepEqual(
    plain[0]!.partitions.map((p) => p.errorCode),
    [ErrorCode.INVALID_COMMIT_OFFSET_SIZE, ErrorCode.NONE],
  );
  const transactional = await groups.commitTransactionalOffsets(
    { ...request, groupId: 'huge-txn', retentionTimeMs: -1, topics: [{ name: 'a', partitions }] },
    { producerId: 1, producerEpoch: 0 },
    twoPartitions,
  );
  assert.deepEqual(
    transactional[0]!.partitions.map((p) => p.errorCode),
    [ErrorCode.INVALID_COMMIT_OFFSET_SIZE, ErrorCode.NONE],
  );
  const fetched = groups.fetchOffsets('huge', null).topics.find((t) => t.name === 'a')!;
  assert.deepEqual(
    fetched.partitions.map((p) => [p.partition, p.offset]),
    [[1, 7]],
  );
});
