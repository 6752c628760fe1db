// The group APIs over the wire with raw frames (our codecs): committed offsets (OffsetCommit,
// OffsetFetch v8 batched), ListGroups, DeleteGroups, offset retention, what survives a restart, and
// OffsetDelete's semantics in the coordinator. Membership is in group-protocol-membership.test.ts,
// rebalances in group-protocol-rebalance.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { Conn, groupProperties, joinDynamic } from '../support/group-members.js';
import { RawClient } from '../support/raw-client.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

let server: TestBroker;

before(async () => {
  server = await startTestBroker({ properties: groupProperties });
  await server.broker.createTopic('orders', 4, {});
});
after(async () => {
  await server.close();
});

// Also checked here: OffsetFetch v1, v7 and v8, the ListGroups filter, and DeleteGroups.
test('offsets: simple commits keep metadata and leader epoch; unknown partitions are refused', async () => {
  const conn = await Conn.open(server.port);
  try {
    const commit = await conn.call(ApiKey.OffsetCommit, 8, {
      groupId: 'simple',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: 3, committedMetadata: 'hello' },
            { partitionIndex: 9, committedOffset: 1n },
          ],
        },
        { name: 'no-such-topic', partitions: [{ partitionIndex: 0, committedOffset: 1n }] },
        {
          name: 'orders',
          partitions: [{ partitionIndex: 1, committedOffset: 7n, committedMetadata: 'x'.repeat(5000) }],
        },
      ],
    });
    assert.deepEqual(
      commit.topics.map((t: any) => t.partitions.map((p: any) => p.errorCode)),
      [
        [ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        [ErrorCode.OFFSET_METADATA_TOO_LARGE],
      ],
    );
    // A commit with a generation to a group that does not exist comes from a stale member.
    const stale = await conn.call(ApiKey.OffsetCommit, 2, {
      groupId: 'not-a-group',
      generationIdOrMemberEpoch: 4,
      memberId: 'm',
      retentionTimeMs: -1n,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 1n }] }],
    });
    assert.equal(stale.topics[0].partitions[0].errorCode, ErrorCode.ILLEGAL_GENERATION);

    const v1 = await conn.call(ApiKey.OffsetFetch, 1, {
      groupId: 'simple',
      topics: [{ name: 'orders', partitionIndexes: [0, 1] }],
    });
    assert.deepEqual(
      v1.topics[0].partitions.map((p: any) => [p.partitionIndex, p.committedOffset, p.metadata]),
      [
        [0, 42n, 'hello'],
        [1, -1n, ''],
      ],
    );
    const v7 = await conn.call(ApiKey.OffsetFetch, 7, { groupId: 'simple', topics: null, requireStable: true });
    assert.deepEqual(
      v7.topics.map((t: any) => [
        t.name,
        t.partitions.map((p: any) => [p.partitionIndex, p.committedOffset, p.committedLeaderEpoch]),
      ]),
      [['orders', [[0, 42n, 3]]]],
    );
    const v8 = await conn.call(ApiKey.OffsetFetch, 8, {
      groups: [
        { groupId: 'simple', topics: null },
        { groupId: 'nobody', topics: [{ name: 'orders', partitionIndexes: [2] }] },
      ],
      requireStable: false,
    });
    assert.equal(v8.groups.length, 2);
    assert.deepEqual(
      v8.groups[0].topics[0].partitions.map((p: any) => p.committedOffset),
      [42n],
    );
    assert.deepEqual(
      v8.groups[1].topics[0].partitions.map((p: any) => p.committedOffset),
      [-1n],
    );

    const listed = await conn.call(ApiKey.ListGroups, 4, { statesFilter: ['empty'] });
    assert.ok(listed.groups.some((g: any) => g.groupId === 'simple' && g.groupState === 'Empty'));
    assert.ok(!listed.groups.some((g: any) => g.groupState !== 'Empty'));
    const v0 = await conn.call(ApiKey.ListGroups, 0, {});
    assert.ok(v0.groups.some((g: any) => g.groupId === 'simple'));

    const deleted = await conn.call(ApiKey.DeleteGroups, 2, { groupsNames: ['simple', 'nobody'] });
    assert.deepEqual(
      deleted.results.map((r: any) => [r.groupId, r.errorCode]),
      [
        ['simple', ErrorCode.NONE],
        ['nobody', ErrorCode.GROUP_ID_NOT_FOUND],
      ],
    );
    const after = await conn.call(ApiKey.OffsetFetch, 7, { groupId: 'simple', topics: null, requireStable: false });
    assert.deepEqual(after.topics, []);
  } finally {
    conn.close();
  }
});

test('offset retention: an expired commit is removed (tombstone) and stays removed after a restart', async () => {
  const own = await startTestBroker({ properties: groupProperties });
  let current = own;
  try {
    await current.broker.createTopic('t', 1, {});
    const conn = await Conn.open(current.port);
    // OffsetCommit v2 with retention_time_ms: 1 ms (expires at once) and -1 (broker default: 7 days).
    await conn.call(ApiKey.OffsetCommit, 2, {
      groupId: 'short',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      retentionTimeMs: 1n,
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 3n }] }],
    });
    await conn.call(ApiKey.OffsetCommit, 2, {
      groupId: 'long',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      retentionTimeMs: -1n,
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 4n }] }],
    });
    conn.close();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(await current.broker.groups.expireOffsets(), 1);
    assert.equal(current.broker.groups.groupState('short'), undefined, 'an Empty group without offsets is removed');
    await current.stop();
    current = await startTestBroker({ dataDir: own.dataDir, properties: groupProperties });
    assert.equal(current.broker.groups.fetchOffsets('short', null).topics.length, 0);
    assert.equal(current.broker.groups.fetchOffsets('long', null).topics[0]!.partitions[0]!.offset, 4);
  } finally {
    await current.close();
  }
});

test('a group survives a restart: members keep their ids and generation, committed offsets exact', async () => {
  const own = await startTestBroker({ properties: groupProperties });
  let current = own;
  try {
    await current.broker.createTopic('t', 2, {});
    let conn = await Conn.open(current.port);
    const joined = await joinDynamic(conn, 'restarted', { sessionTimeoutMs: 5000 });
    await conn.call(ApiKey.SyncGroup, 3, {
      groupId: 'restarted',
      generationId: 1,
      memberId: joined.memberId,
      assignments: [{ memberId: joined.memberId, assignment: Buffer.from('both') }],
    });
    const acknowledged = await conn.call(ApiKey.OffsetCommit, 7, {
      groupId: 'restarted',
      generationIdOrMemberEpoch: 1,
      memberId: joined.memberId,
      topics: [
        {
          name: 't',
          partitions: [
            { partitionIndex: 0, committedOffset: 11n, committedLeaderEpoch: 0, committedMetadata: 'meta' },
            { partitionIndex: 1, committedOffset: 12n },
          ],
        },
      ],
    });
    assert.ok(acknowledged.topics[0].partitions.every((p: any) => p.errorCode === ErrorCode.NONE));
    conn.close();
    await current.stop();

    current = await startTestBroker({ dataDir: own.dataDir, properties: groupProperties });
    conn = await Conn.open(current.port);
    assert.equal(current.broker.groups.groupState('restarted'), 'Stable');
    assert.equal(
      (await conn.call(ApiKey.Heartbeat, 3, { groupId: 'restarted', generationId: 1, memberId: joined.memberId }))
        .errorCode,
      ErrorCode.NONE,
    );
    const synced = await conn.call(ApiKey.SyncGroup, 3, {
      groupId: 'restarted',
      generationId: 1,
      memberId: joined.memberId,
      assignments: [],
    });
    assert.deepEqual(synced.assignment, Buffer.from('both'));
    const fetched = await conn.call(ApiKey.OffsetFetch, 7, {
      groupId: 'restarted',
      topics: null,
      requireStable: false,
    });
    assert.deepEqual(
      fetched.topics[0].partitions.map((p: any) => [p.partitionIndex, p.committedOffset, p.metadata]),
      [
        [0, 11n, 'meta'],
        [1, 12n, ''],
      ],
    );
    conn.close();
  } finally {
    await current.close();
  }
});

test('commits racing the creation of __consumer_offsets all succeed (they wait for its logs to open)', async () => {
  const own = await startTestBroker({ properties: groupProperties });
  try {
    await own.broker.createTopic('t', 1, {});
    const client = await RawClient.connect(own.port);
    for (let i = 0; i < 20; i++) {
      client.request(ApiKey.OffsetCommit, 7, i, {
        groupId: `race-${i}`,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: BigInt(i) }] }],
      });
    }
    const frames = await client.waitForFrames(20);
    client.close();
    assert.deepEqual(
      frames.map((f) => RawClient.decode(ApiKey.OffsetCommit, 7, f).body.topics[0].partitions[0].errorCode),
      new Array(20).fill(ErrorCode.NONE),
    );
  } finally {
    await own.close();
  }
});

// Not over the wire: src/protocol/schemas has no OffsetDelete schema, so there is no handler yet.
test('OffsetDelete semantics, in the coordinator', async () => {
  const conn = await Conn.open(server.port);
  try {
    await conn.call(ApiKey.OffsetCommit, 8, {
      groupId: 'od',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 5n },
            { partitionIndex: 1, committedOffset: 6n },
          ],
        },
      ],
    });
    const joined = await joinDynamic(conn, 'od');
    await conn.call(ApiKey.SyncGroup, 3, {
      groupId: 'od',
      generationId: joined.generationId,
      memberId: joined.memberId,
      assignments: [],
    });
    const subscribed = await server.broker.groups.deleteOffsets('od', [{ name: 'orders', partitions: [0] }]);
    assert.deepEqual(subscribed.topics[0]!.partitions, [
      { partition: 0, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC },
    ]);
    await conn.call(ApiKey.LeaveGroup, 3, {
      groupId: 'od',
      members: [{ memberId: joined.memberId, groupInstanceId: null }],
    });
    const deleted = await server.broker.groups.deleteOffsets('od', [{ name: 'orders', partitions: [0] }]);
    assert.deepEqual(
      [deleted.errorCode, deleted.topics[0]!.partitions[0]!.errorCode],
      [ErrorCode.NONE, ErrorCode.NONE],
    );
    assert.deepEqual(
      server.broker.groups.fetchOffsets('od', null).topics[0]!.partitions.map((p) => p.partition),
      [1],
    );
    assert.equal((await server.broker.groups.deleteOffsets('nope', [])).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  } finally {
    conn.close();
  }
});
