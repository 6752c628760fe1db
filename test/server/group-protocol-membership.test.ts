// The group APIs over the wire with raw frames (our codecs), one connection per member:
// FindCoordinator (v4 batched keys), static membership (KIP-345), LeaveGroup v3+, the errors a join
// can get, and the bound on the number of groups. Rebalances are in group-protocol-rebalance.test.ts,
// offsets in group-protocol-offsets.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { Conn, groupProperties, join, subscription, waitFor } from '../support/group-members.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

let server: TestBroker;

before(async () => {
  server = await startTestBroker({ properties: groupProperties });
  await server.broker.createTopic('orders', 4, {});
});
after(async () => {
  await server.close();
});

test('FindCoordinator: v0 group key, v3 transaction key, unknown key type, v4 batched keys', async () => {
  const conn = await Conn.open(server.port);
  try {
    const v0 = await conn.call(ApiKey.FindCoordinator, 0, { key: 'g' });
    assert.deepEqual([v0.errorCode, v0.nodeId, v0.host, v0.port], [ErrorCode.NONE, 0, '127.0.0.1', server.port]);
    assert.ok(server.broker.topics.get('__consumer_offsets'), 'the first lookup creates the offsets topic');
    assert.equal(server.broker.topics.get('__consumer_offsets')!.partitions, 2);
    const txn = await conn.call(ApiKey.FindCoordinator, 3, { key: 'my-txn', keyType: 1 });
    assert.deepEqual([txn.errorCode, txn.nodeId, txn.errorMessage], [ErrorCode.NONE, 0, null]);
    const bad = await conn.call(ApiKey.FindCoordinator, 3, { key: 'x', keyType: 7 });
    assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST);
    const batched = await conn.call(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['a', 'b'] });
    assert.deepEqual(
      batched.coordinators.map((c: any) => [c.key, c.nodeId, c.port, c.errorCode]),
      [
        ['a', 0, server.port, ErrorCode.NONE],
        ['b', 0, server.port, ErrorCode.NONE],
      ],
    );
  } finally {
    conn.close();
  }
});

test('static membership: a restarted member gets its assignment back, no rebalance; the old id is fenced', async () => {
  const a = await Conn.open(server.port);
  const b = await Conn.open(server.port);
  try {
    // Static members skip MEMBER_ID_REQUIRED.
    const firstA = await a.call(ApiKey.JoinGroup, 5, join('g-static', '', { instance: 'instance-a' }));
    assert.deepEqual([firstA.errorCode, firstA.generationId], [ErrorCode.NONE, 1]);
    await a.call(ApiKey.SyncGroup, 3, {
      groupId: 'g-static',
      generationId: 1,
      memberId: firstA.memberId,
      groupInstanceId: 'instance-a',
      assignments: [],
    });
    const joiningB = b.call(ApiKey.JoinGroup, 5, join('g-static', '', { instance: 'instance-b' }));
    await waitFor('rebalance', () => server.broker.groups.groupState('g-static') === 'PreparingRebalance');
    const joinedA = await a.call(ApiKey.JoinGroup, 5, join('g-static', firstA.memberId, { instance: 'instance-a' }));
    const joinedB = await joiningB;
    assert.equal(joinedA.errorCode, ErrorCode.NONE);
    assert.equal(joinedA.generationId, 2);
    const leader = [joinedA, joinedB].find((j) => j.memberId === j.leader)!;
    assert.equal(leader.members.length, 2);
    assert.deepEqual(leader.members.map((m: any) => m.groupInstanceId).sort(), ['instance-a', 'instance-b']);
    const generation = joinedA.generationId;
    const [syncA] = await Promise.all([
      a.call(ApiKey.SyncGroup, 3, {
        groupId: 'g-static',
        generationId: generation,
        memberId: joinedA.memberId,
        groupInstanceId: 'instance-a',
        assignments:
          leader === joinedA
            ? [
                { memberId: joinedA.memberId, assignment: Buffer.from('pa') },
                { memberId: joinedB.memberId, assignment: Buffer.from('pb') },
              ]
            : [],
      }),
      b.call(ApiKey.SyncGroup, 3, {
        groupId: 'g-static',
        generationId: generation,
        memberId: joinedB.memberId,
        groupInstanceId: 'instance-b',
        assignments:
          leader === joinedB
            ? [
                { memberId: joinedA.memberId, assignment: Buffer.from('pa') },
                { memberId: joinedB.memberId, assignment: Buffer.from('pb') },
              ]
            : [],
      }),
    ]);
    assert.deepEqual(syncA.assignment, Buffer.from('pa'));

    // A restarts: a new connection, no member id, the same instance id.
    a.close();
    const a2 = await Conn.open(server.port);
    try {
      const rejoined = await a2.call(ApiKey.JoinGroup, 5, join('g-static', '', { instance: 'instance-a' }));
      assert.equal(rejoined.errorCode, ErrorCode.NONE);
      assert.notEqual(rejoined.memberId, joinedA.memberId);
      assert.equal(rejoined.generationId, generation, 'no new generation');
      assert.notEqual(rejoined.leader, rejoined.memberId, 'not told to lead (it would reassign for nothing)');
      assert.equal(server.broker.groups.groupState('g-static'), 'Stable');
      const resynced = await a2.call(ApiKey.SyncGroup, 3, {
        groupId: 'g-static',
        generationId: generation,
        memberId: rejoined.memberId,
        groupInstanceId: 'instance-a',
        assignments: [],
      });
      assert.deepEqual(resynced.assignment, Buffer.from('pa'), 'same partitions back');
      // The others see no rebalance.
      assert.equal(
        (
          await b.call(ApiKey.Heartbeat, 3, {
            groupId: 'g-static',
            generationId: generation,
            memberId: joinedB.memberId,
            groupInstanceId: 'instance-b',
          })
        ).errorCode,
        ErrorCode.NONE,
      );
      // The old incarnation is fenced.
      assert.equal(
        (
          await b.call(ApiKey.Heartbeat, 3, {
            groupId: 'g-static',
            generationId: generation,
            memberId: joinedA.memberId,
            groupInstanceId: 'instance-a',
          })
        ).errorCode,
        ErrorCode.FENCED_INSTANCE_ID,
      );
      const fencedCommit = await b.call(ApiKey.OffsetCommit, 7, {
        groupId: 'g-static',
        generationIdOrMemberEpoch: generation,
        memberId: joinedA.memberId,
        groupInstanceId: 'instance-a',
        topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 1n }] }],
      });
      assert.equal(fencedCommit.topics[0].partitions[0].errorCode, ErrorCode.FENCED_INSTANCE_ID);
      // LeaveGroup v3 by instance id: a wrong member id is fenced, the right one leaves.
      const left = await a2.call(ApiKey.LeaveGroup, 3, {
        groupId: 'g-static',
        members: [
          { memberId: joinedA.memberId, groupInstanceId: 'instance-a' },
          { memberId: '', groupInstanceId: 'instance-b' },
        ],
      });
      assert.deepEqual(
        left.members.map((m: any) => m.errorCode),
        [ErrorCode.FENCED_INSTANCE_ID, ErrorCode.NONE],
      );
    } finally {
      a2.close();
    }
  } finally {
    b.close();
  }
});

test('join errors: session timeout bounds, protocol mismatch, group.max.size, unknown member, empty id', async () => {
  const conns = await Promise.all([0, 1, 2, 3].map(() => Conn.open(server.port)));
  try {
    const [c0, c1, c2, c3] = conns as [Conn, Conn, Conn, Conn];
    assert.equal(
      (await c0.call(ApiKey.JoinGroup, 5, join('g-err', '', { sessionTimeoutMs: 100 }))).errorCode,
      ErrorCode.INVALID_SESSION_TIMEOUT,
    );
    assert.equal((await c0.call(ApiKey.JoinGroup, 5, join('', ''))).errorCode, ErrorCode.INVALID_GROUP_ID);
    assert.equal(
      (await c0.call(ApiKey.JoinGroup, 5, join('never-seen', 'some-member'))).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    // JoinGroup v3 (before KIP-394): the id is assigned at once.
    const joined = await c0.call(ApiKey.JoinGroup, 3, join('g-err', ''));
    assert.equal(joined.errorCode, ErrorCode.NONE);
    assert.equal(
      (await c1.call(ApiKey.JoinGroup, 5, join('g-err', '', { protocolType: 'connect' }))).errorCode,
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    assert.equal(
      (
        await c1.call(
          ApiKey.JoinGroup,
          5,
          join('g-err', '', { protocols: [{ name: 'roundrobin', metadata: subscription('orders') }] }),
        )
      ).errorCode,
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    // group.max.size = 3: one member plus two pending ids fill it.
    assert.equal((await c1.call(ApiKey.JoinGroup, 5, join('g-err', ''))).errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    assert.equal((await c2.call(ApiKey.JoinGroup, 5, join('g-err', ''))).errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    assert.equal((await c3.call(ApiKey.JoinGroup, 5, join('g-err', ''))).errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED);
    assert.equal(
      (await c0.call(ApiKey.SyncGroup, 3, { groupId: 'g-err', generationId: 1, memberId: 'ghost', assignments: [] }))
        .errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
  } finally {
    for (const c of conns) c.close();
  }
});

test('memory bound: invented group ids cannot grow the coordinator past sluice.groups.max', async () => {
  const conn = await Conn.open(server.port);
  try {
    // Joins that fail leave nothing behind; reads create nothing.
    for (let i = 0; i < 50; i++) {
      await conn.call(ApiKey.OffsetFetch, 7, { groupId: `invented-${i}`, topics: null, requireStable: false });
      await conn.call(ApiKey.JoinGroup, 3, join(`invented-${i}`, '', { sessionTimeoutMs: 1 }));
    }
    assert.ok(server.broker.groups.counts.groups <= 20);
    const before = server.broker.groups.counts.groups;
    const results: number[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await conn.call(ApiKey.OffsetCommit, 8, {
        groupId: `filler-${i}`,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 1n }] }],
      });
      results.push(r.topics[0].partitions[0].errorCode);
    }
    assert.equal(server.broker.groups.counts.groups, 20);
    // Empty groups without offsets were evicted to make room; after that, new groups are refused.
    const accepted = results.filter((c) => c === ErrorCode.NONE).length;
    assert.ok(accepted >= 20 - before && accepted < 30);
    assert.ok(results.slice(accepted).every((c) => c === ErrorCode.COORDINATOR_NOT_AVAILABLE));
    for (let i = 0; i < 30; i++) await conn.call(ApiKey.DeleteGroups, 2, { groupsNames: [`filler-${i}`] });
  } finally {
    conn.close();
  }
});
